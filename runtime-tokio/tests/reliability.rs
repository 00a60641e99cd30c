//! Faults and hostile input ([`e2e::reliability`]) against this crate's binary. Each
//! test prints a `TALLY` line (run with `--nocapture` to see them).

e2e::reliability_tests!(env!("CARGO_BIN_EXE_runtime-tokio"));
