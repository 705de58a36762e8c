//! p1run: provision PingOne from Rhai scripts.
//!
//! `main.rs` only calls [`run`]; everything else lives here, by domain: the PingOne API
//! [`client`], the PingOne [`emulator`], the Rhai [`host`] and its primitives, the bundled
//! [`recipes`], the [`config`] file, the run [`report`] and the [`cli`].

pub mod cli;
pub mod client;
pub mod config;
pub mod doctor;
pub mod emulator;
pub mod error;
pub mod fleet;
pub mod host;
pub mod init;
pub mod interrupt;
pub mod recipes;
pub mod report;
pub mod run;
pub mod secret;
pub mod writes;

use clap::Parser;
use std::ffi::OsString;

/// Runs `p1run` with these arguments; `Err` carries the exit code after the error was printed.
pub fn run(args: impl IntoIterator<Item = OsString>) -> Result<(), i32> {
    let arguments = match cli::Arguments::try_parse_from(args) {
        Ok(arguments) => arguments,
        Err(error) => {
            let _ = error.print();
            // 1, not clap's usual 2: `plan` exits 2 for "changes pending", and a CI gate must not
            // mistake a mistyped flag for drift.
            return if error.use_stderr() { Err(1) } else { Ok(()) };
        }
    };
    init_logging(arguments.verbose);
    match arguments.command.execute() {
        Ok(0) => Ok(()),
        Ok(code) => Err(code),
        Err(error) => {
            eprintln!("error: {error}");
            // Every error exits 1: 2 is `plan`'s "changes pending".
            Err(1)
        }
    }
}

fn init_logging(verbosity: u8) {
    use tracing_subscriber::EnvFilter;
    let level = match verbosity {
        // The TLS libraries log certificate and CA-store failures as ERROR/WARN lines of their
        // own; p1run reports each in its error, with what to do, so they show only from -v on.
        0 => "warn,rustls=off,rustls_platform_verifier=off",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // try_init: a second call (tests calling `run` twice) keeps the first subscriber.
    // Colours only on a terminal: CI logs get plain lines.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .try_init();
}
