//! The integration tests: one binary, one module per feature, all over real HTTP against the
//! PingOne emulator.

mod harness;

// `p1run apply` with the bundled recipes.
mod apply;
// Bad input: one clear message, exit 1, no panic.
mod errors;
// The same final state under latency, faults, propagation delay and rate limits.
mod faults;
// Secrets never reach output or logs.
mod secrets;
// The PingOne API client against the emulator.
mod client;
