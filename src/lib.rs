//! p1run: provision PingOne from Rhai scripts.

pub mod client;
pub mod emulator;
pub mod secret;
