//! The end-to-end checks every server runs ([`e2e::suite_tests!`]) and those of the
//! servers on `http-conn`'s driver ([`e2e::raw_tcp_tests!`]), against this crate's binary
//! with its default engine, io_uring (`e2e_epoll.rs` runs them on epoll).

const BINARY: &str = env!("CARGO_BIN_EXE_runtime-loop");

e2e::suite_tests!(BINARY);

e2e::raw_tcp_tests!(BINARY);

/// A ring the kernel refuses stops start-up with a message that also names the epoll
/// engine, before "listening".
#[test]
fn a_ring_the_kernel_refuses_fails_start_up_and_names_epoll() {
    e2e::suite::refused_ring_fails_start_up(BINARY, &["--engine epoll"]);
}

/// Each ablation arm serves: every io_uring feature off at once (single-shot accept
/// and receive into per-connection buffers, no deferred task work, no registered ring
/// fd), and single features off (single-shot receive from the buffer ring, whole
/// provided buffers, task work without DEFER_TASKRUN).
#[test]
fn every_ablation_arm_serves() {
    let every_feature = <runtime_loop::UringFeature as clap::ValueEnum>::value_variants()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    for disabled in [
        every_feature.as_str(),
        "multishot-recv",
        "incremental",
        "owned-send",
        "defer-taskrun,registered-fd",
    ] {
        let setup = e2e::suite::setup(BINARY, &["--uring-disable", disabled]);
        let mut client = e2e::Client::connect(setup.gateway.address).unwrap();
        for n in 0..20 {
            let body = format!("{{\"n\":{n}}}");
            let response = client
                .request(&e2e::post(body.as_bytes(), &[]))
                .unwrap()
                .expect("response");
            assert_eq!(response.status, 200, "--uring-disable {disabled}");
        }
        assert_eq!(
            setup.payloads_in_kafka(20).len(),
            20,
            "--uring-disable {disabled}"
        );
    }
}
