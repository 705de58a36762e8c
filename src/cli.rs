//! The command line (clap derive; the doc comments are the help), and what each command does.
//!
//! House rules, after xh: long flags for everything, `short` only for the common ones, an
//! uppercase value name on every flag that takes a value.

use crate::config::Config;
use crate::error::Error;
use crate::host::Mode;
use crate::recipes;
use crate::run::{self, RunRequest, Script};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

/// Provision PingOne from Rhai scripts.
///
/// With no config file and no --env, recipes run against an in-process PingOne emulator seeded
/// for the run, so `p1run apply authorize-worker` works with no setup.
#[derive(Debug, Parser)]
#[command(name = "p1run", version, about, long_about = None)]
pub struct Arguments {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a recipe (a bundled name or a path to a .rhai file) against an environment.
    Apply(RunArgs),
    /// List the bundled recipes and their params.
    Recipes,
    /// List the primitives scripts can call, with their signatures.
    Primitives,
    /// Serve a local PingOne emulator (prints one JSON line with its URLs and credentials).
    Emulator(crate::emulator::cli::EmulatorArgs),
}

/// Flags shared by the commands that run a recipe.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Bundled recipe name (see `p1run recipes`) or path to a .rhai script.
    #[arg(value_name = "RECIPE")]
    pub recipe: String,

    /// Environment name from the config file; `local` is the embedded emulator.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,

    /// Config file [default: $P1RUN_CONFIG, else ./p1run.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// A recipe param, `name=value`; repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, value_name = "FORMAT")]
    pub output: OutputFormat,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A readable summary.
    Text,
    /// One JSON document.
    Json,
}

fn parse_var(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected NAME=VALUE, got {raw:?}")),
    }
}

impl Command {
    /// Runs the command; the `Ok` value is the exit code.
    pub fn execute(self) -> Result<i32, Error> {
        match self {
            Self::Apply(args) => apply(&args, Mode::Apply),
            Self::Recipes => {
                print!("{}", recipes_listing());
                Ok(0)
            }
            Self::Primitives => {
                print!("{}", primitives_listing()?);
                Ok(0)
            }
            Self::Emulator(args) => {
                let options = args.options().map_err(Error::Usage)?;
                crate::emulator::serve_until_interrupted(options).map_err(|source| Error::Io {
                    context: "serving the emulator".into(),
                    source,
                })?;
                Ok(0)
            }
        }
    }
}

fn apply(args: &RunArgs, mode: Mode) -> Result<i32, Error> {
    let script = Script::resolve(&args.recipe)?;
    let vars: BTreeMap<String, String> = args.vars.iter().cloned().collect();
    script.check_vars(&vars)?;
    let config = Config::discover(args.config.as_deref())?;
    let destination = run::destination(args.env.as_deref(), config.as_ref())?;
    let limits = config
        .as_ref()
        .map(|c| c.limits.clone())
        .unwrap_or_default();
    let runtime = run::runtime()?;
    let request = RunRequest {
        script: &script,
        vars,
        mode,
        limits: &limits,
        retry: config
            .as_ref()
            .map(|c| c.retry.policy())
            .unwrap_or_default(),
    };
    let (outcome, error) = run::run(&request, destination, &runtime)?;
    let mut stdout = std::io::stdout().lock();
    let printed = match args.output {
        OutputFormat::Json => writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&outcome).unwrap_or_default()
        ),
        OutputFormat::Text if error.is_none() => write!(stdout, "{}", outcome.to_text()),
        OutputFormat::Text => Ok(()),
    };
    drop(stdout);
    if let Err(source) = printed {
        return Err(Error::Io {
            context: "writing to stdout".into(),
            source,
        });
    }
    match error {
        None => Ok(0),
        Some(error) => {
            eprintln!("error: {error}");
            if let Some(note) = outcome.partial_changes_note() {
                eprintln!("{note}");
            }
            Ok(1)
        }
    }
}

fn recipes_listing() -> String {
    let mut text = String::new();
    for recipe in recipes::RECIPES {
        text.push_str(&format!(
            "{}\n    {}\n",
            recipe.name,
            recipes::description(recipe.source)
        ));
        for param in recipes::params(recipe.source) {
            text.push_str(&format!(
                "    --var {}=…  (default {})\n",
                param.name, param.default
            ));
        }
    }
    text
}

fn primitives_listing() -> Result<String, Error> {
    let docs = crate::host::primitives::docs()?;
    let mut text = String::new();
    for doc in docs {
        text.push_str(&format!("{}\n", doc.signature));
        for line in doc.doc.lines() {
            text.push_str(&format!("    {line}\n"));
        }
    }
    Ok(text)
}
