//! Faults and hostile input ([`e2e::reliability`]) against this crate's binary. Each
//! test prints a `TALLY` line (run with `--nocapture` to see them).

const BINARY: &str = env!("CARGO_BIN_EXE_runtime-hyper");

#[test]
fn broker_restart_under_load() {
    e2e::reliability::broker_restart_under_load(BINARY);
}

#[test]
fn sigkill_under_load_loses_nothing() {
    e2e::reliability::sigkill_under_load_loses_nothing(BINARY);
}

#[test]
fn overload_sheds_with_503() {
    e2e::reliability::overload_sheds_with_503(BINARY);
}

#[test]
fn slowloris() {
    e2e::reliability::slowloris(BINARY);
}

#[test]
fn hostile_input() {
    e2e::reliability::hostile_input(BINARY, &e2e::hostile_corpus());
}

#[test]
fn ten_thousand_idle_connections() {
    e2e::reliability::ten_thousand_idle_connections(BINARY);
}
