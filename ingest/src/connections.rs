//! [`ConnectionLimit`]: the one place that decides whether a new connection is admitted
//! and when its slot is free again, with the metrics that show both.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::{Metrics, Rejection};

/// The process-wide bound on open client connections (`--max-connections`), shared
/// by every worker of every server, and the bound on the connections of one client
/// address (`--max-connections-per-client`), so that one host cannot hold every slot.
///
/// A slot is taken by [`ConnectionLimit::try_admit`] when a connection is accepted
/// and freed when its [`ConnectionSlot`] drops, which a server does once it has
/// closed the socket. `gateway_connections_open` shows the slots in use and
/// `gateway_connections_refused_total{reason}` the connections turned away, by which
/// bound refused them (`limit` or `per_client`).
///
/// A client is its IPv4 address, or the /64 network of its IPv6 address (one host
/// commonly holds a whole /64); an IPv4-mapped IPv6 address counts as the IPv4 one.
///
/// ```
/// use ingest::{ConnectionLimit, Metrics, Refused};
///
/// let metrics = Metrics::default();
/// let limit = ConnectionLimit::new(3, Some(1), &metrics);
/// let alice = "192.0.2.1".parse().ok();
/// let bob = "192.0.2.2".parse().ok();
/// let slot = limit.try_admit(alice).expect("the first fits");
/// assert_eq!(limit.try_admit(alice).unwrap_err(), Refused::PerClient);
/// let _bob = limit.try_admit(bob).expect("another client still fits");
/// drop(slot);
/// assert_eq!(limit.open(), 1);
/// assert!(limit.try_admit(alice).is_ok());
/// ```
#[derive(Debug)]
pub struct ConnectionLimit {
    max: usize,
    per_client: Option<usize>,
    open: AtomicUsize,
    /// Open connections by client, holding only clients with at least one open (empty
    /// when there is no per-client bound).
    clients: Mutex<HashMap<ClientKey, usize>>,
    open_gauge: Gauge,
    refused_limit: Counter,
    refused_per_client: Counter,
}

/// Which bound refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// `--max-connections` connections are open.
    #[error("the connection limit is reached")]
    Limit,
    /// The client's address already holds `--max-connections-per-client`.
    #[error("the client's connection limit is reached")]
    PerClient,
}

impl Refused {
    /// The answer the refused connection gets before it is closed: `limit` is the
    /// bound that refused it (for the logs).
    pub fn rejection(self, limit: usize) -> Rejection {
        match self {
            Self::Limit => Rejection::TooManyConnections { limit },
            Self::PerClient => Rejection::TooManyClientConnections { limit },
        }
    }
}

/// One admitted connection's slot; dropping it frees the slot.
#[derive(Debug)]
#[must_use = "the slot is freed when dropped"]
pub struct ConnectionSlot {
    limit: Arc<ConnectionLimit>,
    /// The client whose count this slot holds, when the per-client bound counted it.
    client: Option<ClientKey>,
}

/// The address a per-client bound counts by: an IPv4 address or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClientKey {
    V4([u8; 4]),
    V6Net([u8; 8]),
}

impl From<IpAddr> for ClientKey {
    fn from(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.octets()),
                None => Self::V6Net(network_64(v6)),
            },
        }
    }
}

fn network_64(address: Ipv6Addr) -> [u8; 8] {
    let octets = address.octets();
    let mut network = [0; 8];
    network.copy_from_slice(&octets[..8]);
    network
}

impl ConnectionLimit {
    /// A limit of `max` connections in all and, when `per_client` is given, of that
    /// many per client address, reported through `metrics`.
    pub fn new(max: usize, per_client: Option<usize>, metrics: &Metrics) -> Arc<Self> {
        let handles = metrics.connection_handles();
        Arc::new(Self {
            max,
            per_client,
            open: AtomicUsize::new(0),
            clients: Mutex::new(HashMap::new()),
            open_gauge: handles.open,
            refused_limit: handles.refused_limit,
            refused_per_client: handles.refused_per_client,
        })
    }

    /// Takes a slot for a new connection from `client` (its peer address, `None` when
    /// unknown: then only the process-wide bound applies), or counts a refusal and
    /// says which bound refused it.
    pub fn try_admit(self: &Arc<Self>, client: Option<IpAddr>) -> Result<ConnectionSlot, Refused> {
        let counted = match (self.per_client, client) {
            (Some(bound), Some(address)) => {
                let key = ClientKey::from(address);
                let mut clients = self.lock_clients();
                let count = clients.entry(key).or_insert(0);
                if *count >= bound {
                    drop(clients);
                    self.refused_per_client.inc();
                    return Err(Refused::PerClient);
                }
                *count += 1;
                Some(key)
            }
            _ => None,
        };
        let admitted = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            })
            .is_ok();
        if admitted {
            self.open_gauge.inc();
            Ok(ConnectionSlot {
                limit: Arc::clone(self),
                client: counted,
            })
        } else {
            if let Some(key) = counted {
                self.release_client(key);
            }
            self.refused_limit.inc();
            Err(Refused::Limit)
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// The process-wide bound.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The bound per client address, if there is one.
    pub fn per_client(&self) -> Option<usize> {
        self.per_client
    }

    /// The bound that `why` names.
    pub fn bound(&self, why: Refused) -> usize {
        match why {
            Refused::Limit => self.max,
            Refused::PerClient => self.per_client.unwrap_or(self.max),
        }
    }

    fn lock_clients(&self) -> std::sync::MutexGuard<'_, HashMap<ClientKey, usize>> {
        // The map is consistent after every statement that changes it: a panic
        // elsewhere while it was held leaves nothing half-done.
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn release_client(&self, key: ClientKey) {
        let mut clients = self.lock_clients();
        if let Some(count) = clients.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                clients.remove(&key);
            }
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Some(key) = self.client {
            self.limit.release_client(key);
        }
        self.limit.open.fetch_sub(1, Ordering::AcqRel);
        self.limit.open_gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn refusals_and_open_slots_show_in_the_metrics() {
        let metrics = Metrics::default();
        let limit = ConnectionLimit::new(2, Some(1), &metrics);
        let first = limit.try_admit(ip("10.0.0.1")).unwrap();
        assert_eq!(
            limit.try_admit(ip("10.0.0.1")).unwrap_err(),
            Refused::PerClient
        );
        let _second = limit.try_admit(ip("10.0.0.2")).unwrap();
        assert_eq!(limit.try_admit(ip("10.0.0.3")).unwrap_err(), Refused::Limit);
        assert_eq!(limit.try_admit(None).unwrap_err(), Refused::Limit);
        let text = metrics.render(&Default::default());
        assert!(text.contains("gateway_connections_open 2\n"), "{text}");
        assert!(
            text.contains("gateway_connections_refused_total{reason=\"limit\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("gateway_connections_refused_total{reason=\"per_client\"} 1\n"),
            "{text}"
        );
        drop(first);
        assert_eq!(limit.open(), 1);
        let text = metrics.render(&Default::default());
        assert!(text.contains("gateway_connections_open 1\n"), "{text}");
    }

    #[test]
    fn a_client_gets_its_slots_back_when_its_connections_close() {
        let limit = ConnectionLimit::new(10, Some(2), &Metrics::default());
        let a = limit.try_admit(ip("10.0.0.1")).unwrap();
        let b = limit.try_admit(ip("10.0.0.1")).unwrap();
        assert_eq!(
            limit.try_admit(ip("10.0.0.1")).unwrap_err(),
            Refused::PerClient
        );
        drop(a);
        let _c = limit.try_admit(ip("10.0.0.1")).expect("a slot came back");
        drop(b);
        assert_eq!(limit.open(), 1);
        assert_eq!(
            limit.lock_clients().get(&ClientKey::V4([10, 0, 0, 1])),
            Some(&1)
        );
    }

    #[test]
    fn a_client_refused_by_the_process_wide_limit_keeps_no_per_client_count() {
        let limit = ConnectionLimit::new(1, Some(5), &Metrics::default());
        let _held = limit.try_admit(ip("10.0.0.1")).unwrap();
        assert_eq!(limit.try_admit(ip("10.0.0.2")).unwrap_err(), Refused::Limit);
        assert!(
            !limit
                .lock_clients()
                .contains_key(&ClientKey::V4([10, 0, 0, 2])),
            "a refused client holds nothing"
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let limit = ConnectionLimit::new(10, Some(1), &Metrics::default());
        let _a = limit.try_admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            limit.try_admit(ip("2001:db8:1:2:ffff::9")).unwrap_err(),
            Refused::PerClient,
            "same /64"
        );
        let _b = limit.try_admit(ip("2001:db8:1:3::1")).expect("another /64");
        let _c = limit.try_admit(ip("192.0.2.7")).unwrap();
        assert_eq!(
            limit.try_admit(ip("::ffff:192.0.2.7")).unwrap_err(),
            Refused::PerClient,
            "the mapped form is the same client"
        );
    }

    #[test]
    fn without_a_per_client_bound_one_address_may_take_every_slot() {
        let limit = ConnectionLimit::new(3, None, &Metrics::default());
        let slots: Vec<_> = (0..3)
            .map(|_| limit.try_admit(ip("10.0.0.1")).unwrap())
            .collect();
        assert_eq!(limit.try_admit(ip("10.0.0.1")).unwrap_err(), Refused::Limit);
        assert!(limit.lock_clients().is_empty());
        drop(slots);
        assert_eq!(limit.open(), 0);
    }
}
