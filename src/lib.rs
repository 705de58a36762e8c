//! p1run: provision PingOne from Rhai scripts.
//!
//! `main.rs` only calls [`run`]; everything else lives here, by domain: the PingOne API
//! [`client`], the PingOne [`emulator`], the Rhai [`host`] and its primitives, the bundled
//! [`recipes`], the [`config`] file, the run [`report`] and the [`cli`].

pub mod budget;
pub mod check;
pub mod ci;
pub mod cli;
pub mod client;
pub mod config;
pub mod doctor;
pub mod emulator;
pub mod error;
pub mod export;
pub mod fleet;
pub mod host;
pub mod init;
pub mod interrupt;
pub mod recipes;
pub mod report;
pub mod run;
pub mod secret;
pub mod style;
pub mod suggest;
pub mod testing;
pub mod writes;

use clap::{CommandFactory as _, FromArgMatches as _};
use std::ffi::OsString;

/// Runs `p1run` with these arguments; `Err` carries the exit code after the error was printed.
pub fn run(args: impl IntoIterator<Item = OsString>) -> Result<(), i32> {
    let args: Vec<OsString> = args.into_iter().collect();
    // `--color` and `--output` matter before the arguments parse: clap's own errors are
    // coloured (or not) and, with `--output json`, reported as a JSON document too.
    let early = EarlyFlags::scan(&args);
    style::init(early.color);
    let parsed = cli::Arguments::command()
        .color(early.color.clap())
        .try_get_matches_from(&args)
        .and_then(|matches| cli::Arguments::from_arg_matches(&matches));
    let arguments = match parsed {
        Ok(arguments) => arguments,
        Err(error) => {
            let _ = error.print();
            if !error.use_stderr() {
                return Ok(());
            }
            if early.json {
                print_failure(&error.render().to_string(), "usage");
            }
            // 1, not clap's usual 2: `plan` exits 2 for "changes pending", and a CI gate must not
            // mistake a mistyped flag for drift.
            return Err(1);
        }
    };
    init_logging(arguments.verbose);
    let json = arguments.output().is_json();
    match arguments.execute() {
        Ok(0) => Ok(()),
        Ok(code) => Err(code),
        Err(error) => {
            eprintln!("{} {error}", style::error_label());
            if json {
                print_failure(&error.to_string(), error.kind());
            }
            // Every error exits 1: 2 is `plan`'s "changes pending".
            Err(1)
        }
    }
}

/// `--color` and whether `--output` asks for JSON, read from the raw arguments.
struct EarlyFlags {
    color: style::ColorWhen,
    json: bool,
}

impl EarlyFlags {
    fn scan(args: &[OsString]) -> Self {
        use clap::ValueEnum as _;
        let mut flags = Self {
            color: style::ColorWhen::Auto,
            json: false,
        };
        let words: Vec<String> = args
            .iter()
            .skip(1)
            .map(|arg| arg.to_string_lossy().into_owned())
            .take_while(|arg| arg != "--")
            .collect();
        for (index, word) in words.iter().enumerate() {
            let value = |flag: &str| {
                word.strip_prefix(&format!("{flag}="))
                    .map(str::to_owned)
                    .or_else(|| {
                        (word == flag)
                            .then(|| words.get(index + 1).cloned())
                            .flatten()
                    })
            };
            if let Some(color) =
                value("--color").and_then(|value| style::ColorWhen::from_str(&value, true).ok())
            {
                flags.color = color;
            }
            if let Some(output) = value("--output") {
                flags.json = matches!(output.as_str(), "json" | "ndjson");
            }
        }
        flags
    }
}

/// The one JSON document a failed command prints on stdout under `--output json`.
fn print_failure(message: &str, kind: &str) {
    let document = serde_json::json!({
        "status": "failed",
        "error": message.trim_end().trim_start_matches("error: "),
        "error_kind": kind,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&document).unwrap_or_default()
    );
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
    // Colours only on a terminal and without NO_COLOR (or as `--color` says): CI logs get
    // plain lines.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(style::stderr())
        .try_init();
}
