//! The end-to-end checks every server runs ([`e2e::suite_tests!`]) and those of the
//! servers on `http-conn`'s driver ([`e2e::raw_tcp_tests!`]), against this crate's binary
//! on the epoll engine (`GATEWAY_ENGINE=epoll`, the environment form of `--engine epoll`).

e2e::suite_tests!(env!("CARGO_BIN_EXE_runtime-loop"), env: ["GATEWAY_ENGINE" = "epoll"]);
e2e::raw_tcp_tests!(env!("CARGO_BIN_EXE_runtime-loop"), env: ["GATEWAY_ENGINE" = "epoll"]);
