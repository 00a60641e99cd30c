//! One connection on epoll: bytes between the socket and an
//! [`http_conn::ServerConnection`], requests and replies through an
//! [`ingest::Dispatcher`], and a sleep until the connection's next deadline. Every
//! decision (framing, keep-alive, `100 Continue`, ordering, timeouts) is the core's.
//!
//! Readiness-based I/O lets the socket read straight into the connection's buffer
//! ([`ServerConnection::read_buf`]) and write straight from its transmit buffer: no
//! copy, and nothing allocated per request here. Waiting for readiness is cancel-safe,
//! so a read can race deadlines and the shutdown signal freely.

use std::io::ErrorKind;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use http_conn::ServerConnection;
use ingest::Dispatcher;
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
    std::future::poll_fn(|cx| match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
        Poll::Pending => Poll::Ready(None),
        Poll::Ready(result) => Poll::Ready(Some(result)),
    })
    .await
    .map(|result| result.map(|()| buf.filled().len()))
}

pub(crate) async fn serve(mut stream: TcpStream, shared: &Shared, mut shutdown: Shutdown) {
    let gateway = &*shared.gateway;
    let mut conn = ServerConnection::new(shared.connection, Instant::now());
    let mut dispatcher = Dispatcher::default();
    let mut shutting_down = false;
    loop {
        // Every request already received goes to the gateway before any delivery is
        // awaited; the replies then come back in one batch, written with one write.
        dispatcher.submit(&mut conn, gateway, Instant::now());
        if dispatcher.is_waiting() {
            tokio::select! {
                () = dispatcher.replies(&mut conn, gateway) => {}
                () = shutdown.requested(), if !shutting_down => {
                    shutting_down = true;
                    conn.begin_shutdown();
                }
            }
            continue;
        }

        if conn.poll_transmit().is_some() {
            let deadline = conn.poll_timeout();
            tokio::select! {
                ready = stream.writable() => {
                    if ready.is_err() {
                        break;
                    }
                    let bytes = conn.poll_transmit().unwrap_or_default();
                    match stream.try_write(bytes) {
                        Ok(n) => conn.transmitted(n),
                        Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                        Err(_) => break,
                    }
                }
                // A client that does not read its responses is cut at its deadline.
                () = sleep_until(deadline) => break,
            }
            continue;
        }
        if conn.is_closed() || !conn.wants_read() && conn.poll_timeout().is_none() {
            break;
        }

        let deadline = conn.poll_timeout();
        tokio::select! {
            ready = stream.readable(), if conn.wants_read() => {
                if ready.is_err() {
                    break;
                }
                let Some(buf) = conn.read_buf() else {
                    continue;
                };
                match read_once(&mut stream, buf).await {
                    Some(Ok(0)) => conn.handle_eof(),
                    Some(Ok(n)) => conn.commit_read(Instant::now(), n),
                    None => {}
                    Some(Err(_)) => break,
                }
            }
            () = sleep_until(deadline) => conn.handle_timeout(Instant::now()),
            () = shutdown.requested(), if !shutting_down => {
                shutting_down = true;
                conn.begin_shutdown();
            }
        }
    }
    // Both directions, as the io_uring server does, before the descriptor is closed.
    let _ = socket2::SockRef::from(&stream).shutdown(std::net::Shutdown::Both);
}
