//! One connection on io_uring: a `match` over the [`http_conn::Driver`]'s next action.
//! Every decision (framing, keep-alive, `100 Continue`, ordering, timeouts, lingering
//! close) is the driver's; this moves bytes.
//!
//! io_uring reads into memory the kernel owns until the read completes, so a read, once
//! submitted, is never abandoned: it stays in a pinned slot across actions, deadlines and
//! the shutdown signal, and the bytes it brings are handed to the driver
//! ([`http_conn::Driver::handle_read`], one copy; the buffer is reused). Writes send the
//! buffer the driver hands over, without a copy. Steady state allocates nothing per
//! request here.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Instant;

use http_conn::{Action, Transmit};
use runtime_common::{sleep_until, Shared, Shutdown};
use tokio_uring::buf::BoundedBuf;
use tokio_uring::net::TcpStream;

/// Bytes one read may bring (the driver grows its own buffer as a request needs).
const READ_BYTES: usize = 4 * 1024;

pub(crate) async fn serve(stream: TcpStream, shared: &Shared, mut shutdown: Shutdown) {
    let mut driver = shared.driver(Instant::now());
    let mut shutting_down = false;
    let read = |buf: Vec<u8>| stream.read(buf);
    // The read in flight, if any: kept across iterations until it completes.
    let mut reading = pin!(None);
    let mut spare_buf = Some(Vec::with_capacity(READ_BYTES));
    loop {
        let action = poll_fn(|cx| Poll::Ready(driver.poll_action(cx, Instant::now()))).await;
        match action {
            Action::Transmit(transmit) => {
                let (buf, start) = transmit.into_parts();
                // A client that does not read its responses is cut at its deadline. How
                // much of the abandoned write went out is unknown, so nothing more can
                // follow it on this connection.
                let deadline = driver.poll_timeout();
                tokio::select! {
                    (result, slice) = stream.write(buf.slice(start..)).submit() => {
                        let transmit = Transmit::from_parts(slice.into_inner(), start);
                        match result {
                            Ok(n) => driver.transmitted(Instant::now(), transmit, n),
                            Err(_) => break,
                        }
                    }
                    () = sleep_until(deadline) => break,
                }
            }
            Action::ShutdownWrite => {
                let _ = stream.shutdown(std::net::Shutdown::Write);
            }
            Action::Wait {
                read: wants_bytes,
                deadline,
            } => {
                if wants_bytes && reading.is_none() {
                    let mut buf = spare_buf.take().unwrap_or_default();
                    buf.clear();
                    buf.reserve(READ_BYTES);
                    reading.set(Some(read(buf)));
                }
                let completed = poll_fn(|cx| match reading.as_mut().as_pin_mut() {
                    Some(read) => read.poll(cx),
                    None => Poll::Pending,
                });
                tokio::select! {
                    (result, buf) = completed => {
                        reading.set(None);
                        match result {
                            Ok(0) => driver.handle_eof(),
                            Ok(n) => driver.handle_read(Instant::now(), &buf[..n]),
                            Err(_) => break,
                        }
                        spare_buf = Some(buf);
                    }
                    () = poll_fn(|cx| driver.poll_responses(cx, Instant::now())) => {}
                    () = sleep_until(deadline) => driver.handle_timeout(Instant::now()),
                    () = shutdown.requested(), if !shutting_down => {
                        shutting_down = true;
                        driver.begin_shutdown();
                    }
                }
            }
            Action::Close => break,
        }
    }
    // Dropping a read does not cancel it, and tokio-uring defers the close until every
    // op on the fd completes: shutdown(2) completes a pending read so the socket closes.
    let _ = stream.shutdown(std::net::Shutdown::Both);
}
