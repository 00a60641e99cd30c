//! Idle buffers: keep-alive connections that each sent one large `POST /`, read its
//! answer, and went idle. Whatever the gateway still holds for them afterwards is
//! memory an idle connection costs.

use e2e::Client;

use super::{rss_kib, rss_row, rss_until_settled, Settings, Target};
use crate::Error;

/// A `POST /` whose body is a JSON object of `body_bytes` bytes (exactly, from a few
/// dozen bytes up).
pub(super) fn request(body_bytes: usize) -> Vec<u8> {
    e2e::post(&crate::corpus::json_payload(body_bytes), &[])
}

/// Runs the probe: RSS before; then the connections, one after the other, each sends
/// its request and reads the answer, and stays open; RSS once it stops growing.
/// One after the other, so what is measured is what each idle connection keeps, not
/// the peak of many bodies at once.
pub(super) fn run(target: &Target, settings: &Settings) -> Result<(String, String), Error> {
    let gateway = target.start(&["--sink", "null", "--topic", "probe"])?;
    let before = rss_kib(&gateway)?;
    let request = request(settings.idle_body_bytes);
    let address = gateway.address;
    let mut idle = Vec::with_capacity(settings.idle_connections);
    let mut refused = 0;
    for _ in 0..settings.idle_connections {
        let mut client =
            Client::connect(address).map_err(Error::connection("connect to", address))?;
        let answer = client
            .request(&request)
            .map_err(Error::connection("send to", address))?;
        match answer {
            Some(answer) if answer.status == 200 => {}
            Some(answer) => {
                refused += 1;
                eprintln!(
                    "idle buffers: {} answered {}: {}",
                    target.label(),
                    answer.status,
                    answer.text()
                );
            }
            None => refused += 1,
        }
        idle.push(client);
    }
    let after = rss_until_settled(&gateway, settings, || false)?;
    let what = format!(
        "{} keep-alive connections, each after one {:.0} kB POST / and its answer, idle \
         ({refused} not answered 200)",
        settings.idle_connections,
        settings.idle_body_bytes as f64 / 1000.0,
    );
    drop(idle);
    Ok(rss_row(before, after, settings.idle_connections, &what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_a_900_kb_json_post_the_gateway_takes() {
        let request = request(900_000);
        let body_at = request
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("head")
            + 4;
        let body = &request[body_at..];
        assert_eq!(body.len(), 900_000);
        serde_json::from_slice::<serde_json::Value>(body).expect("valid JSON");
        let (status, answer) = crate::probe::null_sink_answer("probe", &request);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    }
}
