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

/// `count` listeners on `address`, one per worker. With port 0 the first listener gets
/// a port from the kernel and the others join it, so a server (or a test) can ask for
/// "any free port" without picking one and racing another process to bind it.
///
/// # Errors
///
/// As [`bind_reuse_port`].
pub fn bind_workers(
    address: SocketAddr,
    count: usize,
) -> anyhow::Result<(SocketAddr, Vec<std::net::TcpListener>)> {
    let first = bind_reuse_port(address)?;
    let bound = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..count {
        listeners.push(bind_reuse_port(bound)?);
    }
    Ok((bound, listeners))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_on_port_zero_share_the_port_the_kernel_chose() {
        let (bound, listeners) = bind_workers("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        assert_ne!(bound.port(), 0);
        for listener in &listeners {
            assert_eq!(listener.local_addr().unwrap(), bound);
        }
    }
}
