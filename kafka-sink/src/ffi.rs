//! The one call into librdkafka that rdkafka's safe API makes differently from what this
//! crate needs, and the crate's only `unsafe`.

use std::time::Duration;

use rdkafka::bindings::{rd_kafka_flush, rd_kafka_resp_err_t};
use rdkafka::client::{Client, ClientContext};

/// Waits up to `timeout` for every queued and in-flight record of `client`'s producer
/// with one `rd_kafka_flush`, which sends batches still lingering at once (linger.ms
/// is ignored while it waits, librdkafka 1.8 and later). Returns whether everything
/// was delivered or failed in time.
///
/// rdkafka 0.39's `Producer::flush` calls `rd_kafka_flush` with a zero timeout in a
/// loop and polls in between, so linger.ms is overridden only for an instant: whether
/// a lingering record goes out then is a race, and a record could wait out all of
/// linger.ms (the sink's tests hold records with a 600 s linger and lost that race on
/// an idle machine).
pub(crate) fn flush<C: ClientContext>(client: &Client<C>, timeout: Duration) -> bool {
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: `native_ptr` is the live `rd_kafka_t` `client` owns; rdkafka destroys it
    // only when the client drops, which the borrow rules out while this call runs.
    // `rd_kafka_flush` is thread-safe: librdkafka allows it while another thread (the
    // threaded producer's poller) calls `rd_kafka_poll` on the same handle.
    let error = unsafe { rd_kafka_flush(client.native_ptr(), millis) };
    error == rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
}
