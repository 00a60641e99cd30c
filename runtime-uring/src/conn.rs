//! One connection on io_uring: bytes between the socket and an
//! [`http_conn::ServerConnection`], requests and replies through an
//! [`ingest::Dispatcher`], and a sleep until the connection's next deadline. Every
//! decision (framing, keep-alive, `100 Continue`, ordering, timeouts) is the core's.
//!
//! io_uring reads into memory the kernel owns until the read completes, so a read is
//! never abandoned while the connection still wants bytes: it stays pinned across
//! deadlines and the shutdown signal, and the bytes it brings are handed to
//! [`ServerConnection::handle_read`] (one copy; the buffer is reused). Steady state
//! allocates nothing per request here.

use std::time::Instant;

use http_conn::ServerConnection;
use ingest::Dispatcher;
use runtime_common::{sleep_until, Shared, Shutdown};
use tokio_uring::buf::BoundedBuf;
use tokio_uring::net::TcpStream;

/// Bytes one read may bring (the core grows its own buffer as a request needs).
const READ_BYTES: usize = 4 * 1024;

pub(crate) async fn serve(stream: TcpStream, shared: &Shared, mut shutdown: Shutdown) {
    let gateway = &*shared.gateway;
    let mut conn = ServerConnection::new(shared.connection, Instant::now());
    let mut dispatcher = Dispatcher::default();
    let mut read_buf: Vec<u8> = Vec::with_capacity(READ_BYTES);
    let mut out: Vec<u8> = Vec::new();
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

        if let Some(bytes) = conn.poll_transmit() {
            // tokio-uring writes from memory it owns until the write completes.
            out.clear();
            out.extend_from_slice(bytes);
            let deadline = conn.poll_timeout();
            tokio::select! {
                (result, returned) = stream.write_all(out) => {
                    out = returned;
                    if result.is_err() {
                        break;
                    }
                    conn.transmitted(out.len());
                }
                // A client that does not read its responses is cut at its deadline. How
                // much of the abandoned write went out is unknown, so nothing more can
                // follow it on this connection.
                () = sleep_until(deadline) => break,
            }
            continue;
        }
        if conn.is_closed() {
            break;
        }
        if !conn.wants_read() {
            // Nothing to submit, await, write or read: only a deadline can move it (and
            // without one, nothing will).
            let Some(deadline) = conn.poll_timeout() else {
                break;
            };
            sleep_until(Some(deadline)).await;
            conn.handle_timeout(Instant::now());
            continue;
        }

        if read_buf.capacity() == 0 {
            read_buf.reserve(READ_BYTES);
        }
        read_buf.clear();
        let read = stream.read(read_buf.slice(..));
        tokio::pin!(read);
        let completed = loop {
            if !conn.wants_read() {
                // Closed, or a timeout to answer: the read is abandoned.
                break None;
            }
            let deadline = conn.poll_timeout();
            tokio::select! {
                completed = &mut read => break Some(completed),
                () = sleep_until(deadline) => {
                    conn.handle_timeout(Instant::now());
                }
                () = shutdown.requested(), if !shutting_down => {
                    shutting_down = true;
                    conn.begin_shutdown();
                }
            }
        };
        let Some((result, slice)) = completed else {
            read_buf = Vec::new();
            continue;
        };
        read_buf = slice.into_inner();
        match result {
            Ok(0) => conn.handle_eof(),
            Ok(_) => conn.handle_read(Instant::now(), &read_buf),
            Err(_) => break,
        }
    }
    // Dropping a read does not cancel it, and tokio-uring defers the close until every
    // op on the fd completes: shutdown(2) completes a pending read so the socket closes.
    let _ = stream.shutdown(std::net::Shutdown::Both);
}
