//! Faults and hostile input ([`e2e::reliability`]) against this crate's binary on the
//! epoll engine. Each test prints a `TALLY` line (`--nocapture`).

e2e::reliability_tests!(env!("CARGO_BIN_EXE_runtime-loop"), env: ["GATEWAY_ENGINE" = "epoll"]);
