//! Faults and hostile input ([`e2e::reliability`]) against this crate's binary on its
//! default engine, io_uring. Each test prints a `TALLY` line (`--nocapture`).

e2e::reliability_tests!(env!("CARGO_BIN_EXE_runtime-loop"));
