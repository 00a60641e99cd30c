//! End-to-end test support for the gateway binaries: start one as a child process
//! against a test broker ([`GatewayProcess`]), talk raw HTTP/1.1 to it ([`Client`]),
//! the checks every server must pass ([`suite`], [`timeouts`], [`rest_proxy`]), and the
//! fault and hostile-input scenarios ([`reliability`]) with the corpus in
//! `e2e/corpus/hostile/`.
//!
//! A crate of its own because cargo gives `CARGO_BIN_EXE_*` only to a package's own
//! tests: each server's `tests/e2e.rs` passes its binary here, so every server and
//! engine faces the same checks.
//!
//! ```
//! let request = e2e::post(br#"{"a":1}"#, &[]);
//! assert!(request.starts_with(b"POST / HTTP/1.1\r\n"));
//! ```
#![forbid(unsafe_code)]

mod client;
mod process;
pub mod reliability;
pub mod rest_proxy;
pub mod suite;
pub mod timeouts;

pub use client::{post, Client, Response};
pub use process::GatewayProcess;

/// Defines one `#[test]` per [`suite`], [`timeouts`] and [`rest_proxy`] check against
/// `$binary`, for a gateway crate's `tests/e2e.rs`:
/// `e2e::suite_tests!(env!("CARGO_BIN_EXE_runtime-uring"));`.
/// An optional `env: ["NAME" = "value", ...]` is given to every gateway process the
/// tests start (one test binary per setting, e.g. `GATEWAY_ENGINE`); the test process's
/// own environment is left alone.
#[macro_export]
macro_rules! suite_tests {
    ($binary:expr $(, env: [$($key:literal = $value:literal),* $(,)?])?) => {
        $crate::tests_calling!($binary, [$($(($key, $value)),*)?], suite:
            mixed_load_produces_every_200_once_and_nothing_rejected,
            pipelined_split_chunked_continue_and_closing_requests_are_served,
            smuggling_corpus_is_rejected, sigterm_under_load_loses_nothing,
            unknown_topic_fails_at_startup, probes_and_metrics_answer_while_a_stalled_head_is_cut,
            connections_past_the_limit_get_503_and_are_counted,
            record_over_kafka_limit_is_413, deep_json_is_400_with_line_and_column,
            cross_site_writes_are_refused);
        $crate::tests_calling!($binary, [$($(($key, $value)),*)?], timeouts:
            stalled_body_gets_408_and_close, body_after_the_header_and_idle_timeouts_is_served,
            stalled_head_is_closed_without_response,
            connection_idle_past_the_header_timeout_is_served, idle_connection_is_closed_silently);
        $crate::tests_calling!($binary, [$($(($key, $value)),*)?], rest_proxy:
            rest_proxy_v2_documented_example_lands_where_answered,
            rest_proxy_v2_binary_records_land_decoded_in_the_path_partition,
            rest_proxy_v3_records_and_batches_land_where_answered,
            rest_proxy_unlisted_and_missing_topics_are_404_and_new_ones_appear,
            rest_proxy_timestamps_are_kept_or_refused);
    };
}

/// Defines the checks of the servers that frame HTTP with `http-parse` (every server
/// but hyper): [`suite::stricter_than_hyper_where_the_rfcs_allow`]. Takes the same
/// optional `env: [...]` as [`suite_tests!`].
#[macro_export]
macro_rules! raw_tcp_tests {
    ($binary:expr $(, env: [$($key:literal = $value:literal),* $(,)?])?) => {
        $crate::tests_calling!($binary, [$($(($key, $value)),*)?], suite:
            stricter_than_hyper_where_the_rfcs_allow);
    };
}

/// Defines one `#[test]` per [`reliability`] scenario against `$binary`, for a gateway
/// crate's `tests/reliability.rs`. Each prints a `TALLY` line (see `--nocapture`).
/// Takes the same optional `env: [...]` as [`suite_tests!`].
#[macro_export]
macro_rules! reliability_tests {
    ($binary:expr $(, env: [$($key:literal = $value:literal),* $(,)?])?) => {
        $crate::tests_calling!($binary, [$($(($key, $value)),*)?], reliability:
            broker_restart_under_load_loses_nothing, readiness_recovers_after_broker_pause,
            sigkill_under_load_loses_nothing, overload_sheds_with_503,
            slowloris_connections_are_cut_while_others_are_served,
            ten_thousand_idle_connections_are_answered_and_held);
        #[test]
        fn hostile_input_is_refused_and_the_gateway_keeps_serving() {
            $crate::set_gateway_env(&[$($(($key, $value)),*)?]);
            $crate::reliability::hostile_input_is_refused_and_the_gateway_keeps_serving(
                $binary,
                &$crate::hostile_corpus(),
            );
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! tests_calling {
    ($binary:expr, $env:tt, $module:ident: $($check:ident),+ $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::set_gateway_env(&$env);
                $crate::$module::$check($binary);
            }
        )+
    };
}

/// The environment variables every gateway process of this test binary gets.
static GATEWAY_ENV: std::sync::OnceLock<Vec<(&'static str, &'static str)>> =
    std::sync::OnceLock::new();

/// Gives `vars` to every gateway process this test binary starts from now on. Each
/// test of a binary calls it first with the same list, so it is set before any process
/// starts; the first call wins. It does not touch this process's environment, which
/// the tests' threads read concurrently.
#[doc(hidden)]
pub fn set_gateway_env(vars: &[(&'static str, &'static str)]) {
    GATEWAY_ENV.get_or_init(|| vars.to_vec());
}

/// What [`set_gateway_env`] set, for the processes [`GatewayProcess`] starts.
fn gateway_env() -> impl Iterator<Item = (&'static str, &'static str)> {
    GATEWAY_ENV.get().into_iter().flatten().copied()
}

/// The hostile-input corpus directory (`e2e/corpus/hostile`).
pub fn hostile_corpus() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/hostile")
}
