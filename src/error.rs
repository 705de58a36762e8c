//! The one error type of the crate, and how each error is told to the user.
//!
//! Every message says what failed, where (`file:line:col` for scripts, method + path for API
//! calls, the config file for config), PingOne's own code, message and details, and what to do.

use crate::client::ClientError;
use std::fmt;
use std::path::PathBuf;

/// Everything that ends a `p1run` command with a non-zero exit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file is missing, unreadable or wrong.
    #[error("config {}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The command line asks for something impossible.
    #[error("{0}")]
    Usage(String),
    /// A recipe name that is neither bundled nor a readable file.
    #[error(
        "no recipe {name:?}: it is not a bundled recipe ({known}) and not a readable .rhai file"
    )]
    UnknownRecipe {
        /// What was asked for.
        name: String,
        /// The bundled names.
        known: String,
    },
    /// A script failed to compile or run.
    #[error("{0}")]
    Script(Box<ScriptError>),
    /// A call to PingOne outside any script line (e.g. the first token).
    #[error("{0}")]
    Client(Box<ClientError>),
    /// The emulator or another local resource could not start.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl From<ClientError> for Error {
    fn from(error: ClientError) -> Self {
        Self::Client(Box::new(error))
    }
}

/// A script error located in its source, rendered like Rhai's own `rhai-run`: the message, the
/// `file:line:col`, the source line with a caret, and the call chain.
#[derive(Debug)]
pub struct ScriptError {
    /// What failed, including the primitive and PingOne's answer when there is one.
    pub message: String,
    /// `file:line:col` and the source line, when the position is known.
    pub location: Option<Location>,
    /// Where the failing function was called from, innermost first.
    pub called_from: Vec<String>,
    /// A hint on what to do, when there is one.
    pub hint: Option<String>,
}

/// A position in a script.
#[derive(Debug)]
pub struct Location {
    /// The script's name or path.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The text of that line.
    pub source_line: Option<String>,
}

impl ScriptError {
    /// An error that belongs to no script line (a pre-flight refusal, a stale plan).
    pub fn plain(message: String) -> Self {
        Self {
            message,
            location: None,
            called_from: Vec::new(),
            hint: None,
        }
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(at) => {
                writeln!(f, "{}:{}:{}: {}", at.file, at.line, at.column, self.message)?;
                if let Some(line) = &at.source_line {
                    let gutter = at.line.to_string();
                    writeln!(f, "{} |", " ".repeat(gutter.len()))?;
                    writeln!(f, "{gutter} | {line}")?;
                    write!(
                        f,
                        "{} | {}^",
                        " ".repeat(gutter.len()),
                        " ".repeat(at.column.saturating_sub(1))
                    )?;
                }
            }
            None => write!(f, "{}", self.message)?,
        }
        for caller in &self.called_from {
            write!(f, "\n  called from {caller}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}
