//! The integration tests: one binary, one module per feature, all over real HTTP against the
//! PingOne emulator.

mod client;
