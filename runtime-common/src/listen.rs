//! `SO_REUSEPORT` listeners: one per worker, all on the same port.

use std::net::SocketAddr;

use anyhow::Context;

/// A listening socket on `address` with `SO_REUSEPORT` (and `SO_REUSEADDR`), so each
/// worker thread has its own and the kernel spreads connections between them. Blocking
/// mode; an engine switches it as it needs.
///
/// # Errors
///
/// If the socket cannot be created or bound (the message names `address`).
pub fn bind_reuse_port(address: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket
        .bind(&address.into())
        .with_context(|| format!("cannot listen on {address}"))?;
    socket.listen(4096)?;
    Ok(socket.into())
}
