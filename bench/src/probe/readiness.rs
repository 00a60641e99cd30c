//! Readiness after a paused broker: a broker of the probe's own (tansu with sqlite
//! storage when tansu is on PATH, else librdkafka's mock), paused until `/readyz` says
//! 503, then resumed; how long `/readyz` takes to say 200 again with no other traffic.
//! A load balancer that took the gateway out of rotation sends nothing that could bring
//! it back, so "never" is the finding this probe exists for.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use test_broker::{BrokerKind, TestBroker};

use super::{get, Settings, Target};
use crate::Error;

/// How often `/readyz` is asked.
const POLL: Duration = Duration::from_millis(50);

/// `/readyz`'s status now; 0 when it did not answer.
fn readyz(address: SocketAddr) -> u16 {
    get(address, "/readyz").map_or(0, |answer| answer.status)
}

/// How long until `/readyz` says `status`, or `None` past `cap`.
fn until_readyz(address: SocketAddr, status: u16, cap: Duration) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if readyz(address) == status {
            return Some(start.elapsed());
        }
        if start.elapsed() >= cap {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// "1.23 s", or "never (> 60 s)".
pub(super) fn seconds_or_never(elapsed: Option<Duration>, cap: Duration) -> String {
    match elapsed {
        Some(elapsed) => format!("{:.2} s", elapsed.as_secs_f64()),
        None => format!("never (> {} s)", cap.as_secs()),
    }
}

/// Runs the probe on a fresh broker and gateway; both are stopped (the broker resumed
/// first) whatever happened.
pub(super) fn run(target: &Target, settings: &Settings) -> Result<(String, String), Error> {
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    let scratch = std::env::temp_dir().join(format!(
        "probe-readiness-{}-{}",
        std::process::id(),
        STARTED.fetch_add(1, Ordering::Relaxed)
    ));
    let mut broker = TestBroker::start_restartable(&scratch);
    let topic = TestBroker::unique_topic("probe-readiness");
    broker.create_topic(&topic, 1);
    let refresh = settings.topic_refresh_ms.to_string();
    let outcome = target
        .start(&[
            "--brokers",
            broker.brokers(),
            "--topic",
            &topic,
            "--topic-refresh-ms",
            &refresh,
        ])
        .map(|gateway| pause_and_resume(gateway.address, &mut broker, settings));
    drop(broker);
    let _ = std::fs::remove_dir_all(&scratch);
    outcome
}

fn pause_and_resume(
    address: SocketAddr,
    broker: &mut TestBroker,
    settings: &Settings,
) -> (String, String) {
    let pause = match broker.kind() {
        BrokerKind::Tansu => "tansu (sqlite storage) paused with SIGSTOP",
        BrokerKind::Mock => "librdkafka's MOCK cluster, its broker down (no tansu on PATH)",
        BrokerKind::External => "an external broker",
    };
    let refresh = format!("--topic-refresh-ms {}", settings.topic_refresh_ms);
    let cap = settings.recovery_cap;
    if until_readyz(address, 200, cap).is_none() {
        let never = seconds_or_never(None, cap);
        return (
            "not ready before the pause".to_owned(),
            format!("/readyz did not say 200 with the broker up: {never}; {pause}; {refresh}"),
        );
    }
    broker.pause();
    let noticed = until_readyz(address, 503, settings.unready_cap);
    broker.resume();
    let Some(noticed) = noticed else {
        let never = seconds_or_never(None, settings.unready_cap);
        return (
            "not unready during the pause".to_owned(),
            format!("/readyz did not say 503 with the broker paused: {never}; {pause}; {refresh}"),
        );
    };
    let recovered = until_readyz(address, 200, cap);
    (
        seconds_or_never(recovered, cap),
        format!(
            "{pause}; /readyz said 503 {:.1} s into the pause; resumed; the result is the time \
             from the resume to /readyz 200 with no request but /readyz; {refresh}",
            noticed.as_secs_f64()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovery_past_the_cap_is_never() {
        let cap = Duration::from_secs(60);
        assert_eq!(
            seconds_or_never(Some(Duration::from_millis(1234)), cap),
            "1.23 s"
        );
        assert_eq!(seconds_or_never(None, cap), "never (> 60 s)");
    }
}
