//! Colours: `--color auto|always|never`, `NO_COLOR` honoured, and never a colour off a terminal
//! with `auto`. One decision per stream, made once per command; everything that colours (the
//! log lines, plans on stdout, `error:` on stderr, clap's own help and errors) asks here.

use std::io::IsTerminal as _;
use std::sync::OnceLock;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorWhen {
    /// Colours on a terminal, unless NO_COLOR is set.
    #[default]
    Auto,
    /// Colours even into a pipe or file (and despite NO_COLOR).
    Always,
    /// No colours.
    Never,
}

impl ColorWhen {
    /// clap's own setting for its help and error messages.
    pub fn clap(self) -> clap::ColorChoice {
        match self {
            Self::Auto => clap::ColorChoice::Auto,
            Self::Always => clap::ColorChoice::Always,
            Self::Never => clap::ColorChoice::Never,
        }
    }
}

static CHOICE: OnceLock<ColorWhen> = OnceLock::new();

/// Records `--color` for the rest of the command (the first call wins).
pub fn init(when: ColorWhen) {
    let _ = CHOICE.set(when);
}

/// The policy: an explicit `always`/`never` wins; `auto` colours a terminal unless `NO_COLOR`
/// is set to anything non-empty (<https://no-color.org>).
pub fn decide(when: ColorWhen, is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => is_terminal && no_color.is_none_or(std::ffi::OsStr::is_empty),
    }
}

fn enabled(is_terminal: bool) -> bool {
    decide(
        CHOICE.get().copied().unwrap_or_default(),
        is_terminal,
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// Whether stdout gets colours.
pub fn stdout() -> bool {
    enabled(std::io::stdout().is_terminal())
}

/// Whether stderr gets colours.
pub fn stderr() -> bool {
    enabled(std::io::stderr().is_terminal())
}

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const BOLD_RED: &str = "\x1b[1;31m";
const RESET: &str = "\x1b[0m";

/// Colours the change lines of a plan or run summary (`  + …` green, `  ~ …` yellow, `  - …`
/// red) when `on`; the text unchanged otherwise.
pub fn paint_changes(text: &str, on: bool) -> String {
    if !on {
        return text.to_owned();
    }
    text.split_inclusive('\n')
        .map(|line| {
            let colour = match line.trim_start().chars().next() {
                Some('+') if line.starts_with("  ") => GREEN,
                Some('~') if line.starts_with("  ") => YELLOW,
                Some('-') if line.starts_with("  ") => RED,
                _ => return line.to_owned(),
            };
            let (body, newline) = line
                .strip_suffix('\n')
                .map_or((line, ""), |body| (body, "\n"));
            format!("{colour}{body}{RESET}{newline}")
        })
        .collect()
}

/// `error:` for stderr, red when stderr gets colours.
pub fn error_label() -> String {
    if stderr() {
        format!("{BOLD_RED}error:{RESET}")
    } else {
        "error:".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn auto_colours_only_a_terminal_without_no_color() {
        assert!(decide(ColorWhen::Auto, true, None));
        assert!(!decide(ColorWhen::Auto, false, None));
        assert!(!decide(ColorWhen::Auto, true, Some(OsStr::new("1"))));
        assert!(decide(ColorWhen::Auto, true, Some(OsStr::new(""))));
        assert!(decide(ColorWhen::Always, false, Some(OsStr::new("1"))));
        assert!(!decide(ColorWhen::Never, true, None));
    }

    #[test]
    fn paints_change_lines_only() {
        let text = "plan for x on y\n  + create a\n  - delete b\n1 change pending\n";
        assert_eq!(paint_changes(text, false), text);
        let painted = paint_changes(text, true);
        assert!(painted.contains("\x1b[32m  + create a\x1b[0m\n"));
        assert!(painted.contains("\x1b[31m  - delete b\x1b[0m\n"));
        assert!(painted.starts_with("plan for x on y\n"));
    }
}
