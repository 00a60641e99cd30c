//! The shared end-to-end suite ([`e2e::suite`]) against this crate's binary with its
//! default engine, io_uring (`e2e_epoll.rs` runs it on epoll).

const BINARY: &str = env!("CARGO_BIN_EXE_runtime-loop");

e2e::suite_tests!(BINARY);

/// A ring the kernel refuses (more than its 32768 entries) stops start-up with a
/// message naming io_uring, the flag and the epoll engine, and a non-zero exit, before
/// "listening".
#[test]
fn a_ring_the_kernel_refuses_fails_start_up_and_names_epoll() {
    let (status, stderr) = e2e::GatewayProcess::run_to_exit(
        BINARY,
        &[
            "--sink",
            "null",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--ring-entries",
            "65536",
        ],
        std::time::Duration::from_secs(60),
    );
    let status = status.expect("exits on its own instead of serving nothing");
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot set up io_uring")
            && stderr.contains("--ring-entries")
            && stderr.contains("--engine epoll"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
}

/// Every io_uring feature switched off at once still serves (the far end of the
/// ablation): single-shot accept and receive into per-connection buffers, no
/// deferred task work, no registered ring fd.
#[test]
fn serves_with_every_uring_feature_disabled() {
    let setup = e2e::suite::setup(
        BINARY,
        &[
            "--uring-disable",
            "multishot-accept,multishot-recv,buf-ring,incremental,defer-taskrun,coop-taskrun,single-issuer,registered-fd",
        ],
    );
    let mut client = e2e::Client::connect(setup.gateway.address).unwrap();
    for n in 0..20 {
        let body = format!("{{\"n\":{n}}}");
        let response = client
            .request(&e2e::post(body.as_bytes(), &[]))
            .unwrap()
            .expect("response");
        assert_eq!(response.status, 200);
    }
    assert_eq!(setup.payloads_in_kafka(20).len(), 20);
}
