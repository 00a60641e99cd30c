//! One connection on epoll: a `match` over the [`http_conn::Driver`]'s next action.
//! Every decision (framing, keep-alive, `100 Continue`, ordering, timeouts, lingering
//! close) is the driver's; this moves bytes.
//!
//! Readiness-based I/O lets the socket read straight into the connection's buffer
//! ([`http_conn::Driver::read_buf`]) and write straight from the buffer the driver
//! hands over: no copy, and nothing allocated per request here. Waiting for readiness is
//! cancel-safe, so a read can race responses, deadlines and the shutdown signal freely.

use std::future::poll_fn;
use std::io::ErrorKind;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use http_conn::Action;
use runtime_common::{sleep_until, Shared, Shutdown};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;

/// One read through tokio's `poll_read`, or `None` when the socket had nothing after all.
///
/// Not `try_read`: that clears tokio's cached readiness only when a read fails with
/// `EAGAIN`, so every request would cost one more `recvfrom` that can only fail.
/// `poll_read` clears it after a short read (edge-triggered epoll will report new
/// data), as hyper's reads do, so the control makes no system call the others skip.
async fn read_once(stream: &mut TcpStream, buf: &mut [u8]) -> Option<std::io::Result<usize>> {
    let mut buf = ReadBuf::new(buf);
    poll_fn(|cx| match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
        Poll::Pending => Poll::Ready(None),
        Poll::Ready(result) => Poll::Ready(Some(result)),
    })
    .await
    .map(|result| result.map(|()| buf.filled().len()))
}

pub(crate) async fn serve(mut stream: TcpStream, shared: &Shared, mut shutdown: Shutdown) {
    let mut driver = shared.driver(Instant::now());
    let mut shutting_down = false;
    loop {
        let action = poll_fn(|cx| Poll::Ready(driver.poll_action(cx, Instant::now()))).await;
        match action {
            Action::Transmit(transmit) => {
                // A client that does not read its responses is cut at its deadline.
                let deadline = driver.poll_timeout();
                let written = tokio::select! {
                    ready = stream.writable() => match ready.map(|()| stream.try_write(transmit.bytes())) {
                        Ok(Ok(n)) => n,
                        Ok(Err(error)) if error.kind() == ErrorKind::WouldBlock => 0,
                        _ => break,
                    },
                    () = sleep_until(deadline) => {
                        driver.transmitted(Instant::now(), transmit, 0);
                        driver.handle_timeout(Instant::now());
                        continue;
                    }
                };
                driver.transmitted(Instant::now(), transmit, written);
            }
            Action::ShutdownWrite => {
                let _ = socket2::SockRef::from(&stream).shutdown(std::net::Shutdown::Write);
            }
            Action::Wait { read, deadline } => tokio::select! {
                ready = stream.readable(), if read => {
                    if ready.is_err() {
                        break;
                    }
                    let Some(buf) = driver.read_buf() else {
                        continue;
                    };
                    match read_once(&mut stream, buf).await {
                        Some(Ok(0)) => driver.handle_eof(),
                        Some(Ok(n)) => driver.commit_read(Instant::now(), n),
                        None => {}
                        Some(Err(_)) => break,
                    }
                }
                () = poll_fn(|cx| driver.poll_responses(cx, Instant::now())) => {}
                () = sleep_until(deadline) => driver.handle_timeout(Instant::now()),
                () = shutdown.requested(), if !shutting_down => {
                    shutting_down = true;
                    driver.begin_shutdown();
                }
            },
            Action::Close => break,
        }
    }
    // Both directions, as the io_uring server does, before the descriptor is closed.
    let _ = socket2::SockRef::from(&stream).shutdown(std::net::Shutdown::Both);
}
