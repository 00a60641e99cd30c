//! End-to-end test support for the gateway binaries: start one as a child process
//! against a test broker ([`GatewayProcess`]), talk raw HTTP/1.1 to it ([`Client`]),
//! the checks every server must pass ([`suite`], [`timeouts`], [`rest_proxy`]), those of
//! the servers on `http-conn`'s connection driver ([`raw_tcp`]), and the fault and
//! hostile-input scenarios ([`reliability`]) with the corpus in `e2e/corpus/hostile/`.
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
pub mod raw_tcp;
pub mod reliability;
pub mod rest_proxy;
pub mod shutdown;
pub mod suite;
pub mod timeouts;
pub mod tls;

pub use client::{post, Client, Response};
pub use process::GatewayProcess;

/// Defines one `#[test]` per [`suite`], [`timeouts`] and [`rest_proxy`] check against
/// `$binary`, for a gateway crate's `tests/e2e.rs`:
/// `e2e::suite_tests!(env!("CARGO_BIN_EXE_runtime-uring"));`.
///
/// Two optional arguments, in this order:
/// - `env: ["NAME" = "value", ...]` is given to every gateway process the tests start
///   (one test binary per setting, e.g. `GATEWAY_ENGINE`); the test process's own
///   environment is left alone.
/// - `ignore: [check = "reason", ...]` marks checks this binary is known to fail
///   `#[ignore = "reason"]`: a bug found by a check stays visible (`cargo test --
///   --ignored` runs it) without failing every run until it is fixed.
#[macro_export]
macro_rules! suite_tests {
    ($binary:expr
        $(, env: [$($key:literal = $value:literal),* $(,)?])?
        $(, ignore: [$($ignored:ident = $reason:literal),* $(,)?])? $(,)?) => {
        $crate::test_for_each_check!(($) __e2e_suite_test, [$($($ignored = $reason),*)?]);
        $crate::tests_calling!(__e2e_suite_test, $binary, [$($(($key, $value)),*)?], suite:
            mixed_load_produces_every_200_once_and_nothing_rejected,
            pipelined_split_chunked_continue_and_closing_requests_are_served,
            smuggling_corpus_is_rejected, sigterm_under_load_loses_nothing,
            unknown_topic_fails_at_startup, probes_and_metrics_answer_while_a_stalled_head_is_cut,
            connections_past_the_limit_get_503_and_are_counted,
            one_client_past_its_connection_bound_gets_503_and_others_are_served,
            record_over_kafka_limit_is_413,
            deep_json_is_400_with_line_and_column, cross_site_writes_are_refused);
        $crate::tests_calling!(__e2e_suite_test, $binary, [$($(($key, $value)),*)?], timeouts:
            stalled_body_gets_408_and_close, body_after_the_header_and_idle_timeouts_is_served,
            stalled_head_is_closed_without_response,
            connection_idle_past_the_header_timeout_is_served, idle_connection_is_closed_silently);
        $crate::tests_calling!(__e2e_suite_test, $binary, [$($(($key, $value)),*)?], rest_proxy:
            rest_proxy_v2_documented_example_lands_where_answered,
            rest_proxy_v2_binary_records_land_decoded_in_the_path_partition,
            rest_proxy_v3_records_and_batches_land_where_answered,
            rest_proxy_unlisted_and_missing_topics_are_404_and_new_ones_appear,
            rest_proxy_timestamps_are_kept_or_refused);
        $crate::tests_calling!(__e2e_suite_test, $binary, [$($(($key, $value)),*)?], tls:
            https_requests_are_served_and_produced,
            broken_handshakes_are_closed_counted_and_others_served,
            a_handshake_that_never_finishes_is_closed,
            client_certificates_are_required_and_checked,
            sighup_reloads_the_certificate_and_keeps_open_connections,
            the_self_signed_demo_serves_https);
    };
}

/// Defines the checks of the servers that run `http-conn`'s connection driver (every
/// server but hyper): [`suite::stricter_than_hyper_where_the_rfcs_allow`] and every
/// [`raw_tcp`] check. Takes the same optional `env: [...]` and `ignore: [...]` as
/// [`suite_tests!`].
#[macro_export]
macro_rules! raw_tcp_tests {
    ($binary:expr
        $(, env: [$($key:literal = $value:literal),* $(,)?])?
        $(, ignore: [$($ignored:ident = $reason:literal),* $(,)?])? $(,)?) => {
        $crate::test_for_each_check!(($) __e2e_raw_tcp_test, [$($($ignored = $reason),*)?]);
        $crate::tests_calling!(__e2e_raw_tcp_test, $binary, [$($(($key, $value)),*)?], suite:
            stricter_than_hyper_where_the_rfcs_allow);
        $crate::tests_calling!(__e2e_raw_tcp_test, $binary, [$($(($key, $value)),*)?], raw_tcp:
            an_error_answer_survives_a_body_still_arriving, a_408_survives_bytes_sent_after_it,
            a_request_over_the_buffer_budget_gets_503_and_others_are_served,
            a_connection_cannot_hold_more_than_its_share_of_records_in_flight,
            clients_that_never_read_do_not_stop_others_and_get_every_answer,
            idle_connections_after_large_bodies_keep_serving);
    };
}

/// Defines the checks of the Kafka path (the ones whose outcome depends on how records
/// reach Kafka: SIGTERM and SIGKILL under load, overload, probes, the record limit, the
/// REST Proxy paths, the shutdown order, a refused login) against `$binary`, for a
/// crate's `tests/e2e_kafka_tls.rs`, whose gateways produce to the secured broker
/// (`test_broker::secure_every_broker`): the one list every secured test binary runs.
#[macro_export]
macro_rules! kafka_path_tests {
    ($binary:expr) => {
        $crate::test_for_each_check!(($) __e2e_kafka_path_test, []);
        $crate::tests_calling!(__e2e_kafka_path_test, $binary, [], suite:
            sigterm_under_load_loses_nothing, probes_and_metrics_answer_while_a_stalled_head_is_cut,
            record_over_kafka_limit_is_413, a_wrong_kafka_password_stops_start_up_naming_the_broker);
        $crate::tests_calling!(__e2e_kafka_path_test, $binary, [], rest_proxy:
            rest_proxy_v2_documented_example_lands_where_answered,
            rest_proxy_v2_binary_records_land_decoded_in_the_path_partition,
            rest_proxy_v3_records_and_batches_land_where_answered,
            rest_proxy_unlisted_and_missing_topics_are_404_and_new_ones_appear,
            rest_proxy_timestamps_are_kept_or_refused);
        $crate::tests_calling!(__e2e_kafka_path_test, $binary, [], reliability:
            sigkill_under_load_loses_nothing, overload_sheds_with_503);
        $crate::tests_calling!(__e2e_kafka_path_test, $binary, [], shutdown:
            records_queued_past_the_grace_period_are_refused_not_dropped);
    };
}

/// Defines one `#[test]` per [`reliability`] scenario against `$binary`, for a gateway
/// crate's `tests/reliability.rs`. Each prints a `TALLY` line (see `--nocapture`).
/// Takes the same optional `env: [...]` and `ignore: [...]` as [`suite_tests!`].
#[macro_export]
macro_rules! reliability_tests {
    ($binary:expr
        $(, env: [$($key:literal = $value:literal),* $(,)?])?
        $(, ignore: [$($ignored:ident = $reason:literal),* $(,)?])? $(,)?) => {
        $crate::test_for_each_check!(($) __e2e_reliability_test, [$($($ignored = $reason),*)?]);
        $crate::tests_calling!(__e2e_reliability_test, $binary, [$($(($key, $value)),*)?], reliability:
            broker_restart_under_load_loses_nothing, readiness_recovers_after_broker_pause,
            sigkill_under_load_loses_nothing, overload_sheds_with_503,
            slowloris_connections_are_cut_while_others_are_served,
            hostile_input_is_refused_and_the_gateway_keeps_serving,
            ten_thousand_idle_connections_are_answered_and_held);
        $crate::tests_calling!(__e2e_reliability_test, $binary, [$($(($key, $value)),*)?], shutdown:
            records_queued_past_the_grace_period_are_refused_not_dropped);
    };
}

/// Defines `$name!(binary, env, module, check)`, which defines the `#[test]` calling
/// `module::check(binary)` with `env` for the gateways, `#[ignore]`d with its reason if
/// `check` is one of the `ignored`. Comparing a check against the list takes a macro
/// whose arms are the list, so each suite macro defines one (`$d` is a `$` passed in,
/// for the inner macro's own metavariables), under its own name: a macro-expanded
/// macro may not shadow another.
#[doc(hidden)]
#[macro_export]
macro_rules! test_for_each_check {
    (($d:tt) $name:ident, [$($ignored:ident = $reason:literal),*]) => {
        macro_rules! $name {
            $(
                ($d binary:expr, $d env:tt, $d module:ident, $ignored) => {
                    #[test]
                    #[ignore = $reason]
                    fn $ignored() {
                        $crate::set_gateway_env(&$d env);
                        $crate::$d module::$ignored($d binary);
                    }
                };
            )*
            ($d binary:expr, $d env:tt, $d module:ident, $d check:ident) => {
                #[test]
                fn $d check() {
                    $crate::set_gateway_env(&$d env);
                    $crate::$d module::$d check($d binary);
                }
            };
        }
    };
}

/// Calls `$test!` (a macro from [`test_for_each_check!`]) for each check of `$module`.
#[doc(hidden)]
#[macro_export]
macro_rules! tests_calling {
    ($test:ident, $binary:expr, $env:tt, $module:ident: $($check:ident),+ $(,)?) => {
        $( $test!($binary, $env, $module, $check); )+
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
