//! The command line (clap derive; the doc comments are the help), and what each command does.
//!
//! House rules, after xh: long flags for everything, `short` only for the common ones, an
//! uppercase value name on every flag that takes a value.

use crate::config::{Config, DEFAULT_REQUESTS_PER_SECOND};
use crate::error::Error;
use crate::fleet::{self, EnvironmentResult, FleetOutcome, Shard};
use crate::host::Mode;
use crate::recipes;
use crate::report::Report;
use crate::run::{self, RunRequest, SavedPlan, Script, Shared};
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
    /// Run a recipe (a bundled name or a path to a .rhai file) against an environment. Every
    /// apply plans first and checks the plan (pre-flight) before its first write.
    Apply(ApplyArgs),
    /// Show what a recipe would change, writing nothing. Exit 0: nothing to change; 2: changes
    /// pending; 1: error (a drift check CI can gate on).
    Plan(PlanArgs),
    /// List the bundled recipes and their params.
    Recipes,
    /// List the primitives scripts can call, with their signatures.
    Primitives,
    /// Serve a local PingOne emulator (prints one JSON line with its URLs and credentials).
    Emulator(crate::emulator::cli::EmulatorArgs),
    /// Write a commented p1run.toml to start from (never a secret: each environment names
    /// the variable its worker's secret is read from).
    Init(InitArgs),
    /// Check each configured environment: config, secret, token, hosts, the worker's roles,
    /// and which bundled recipes would pass pre-flight. Exit 1 if any check fails.
    Doctor(DoctorArgs),
}

/// `p1run init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// An environment to configure (repeatable) [default: staging].
    #[arg(long, value_name = "NAME")]
    pub env: Vec<String>,

    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,

    /// The file to write [default: $P1RUN_CONFIG, else ./p1run.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `p1run doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// An environment to check (repeatable) [default: every environment].
    #[arg(long, value_name = "NAME")]
    pub env: Vec<String>,

    /// Every environment of the config file.
    #[arg(long)]
    pub all: bool,

    /// The environments of a `[groups]` entry (repeatable).
    #[arg(long, value_name = "NAME")]
    pub group: Vec<String>,

    /// Config file [default: $P1RUN_CONFIG, else ./p1run.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, value_name = "FORMAT")]
    pub output: OutputFormat,
}

/// Flags shared by the commands that run a recipe.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Bundled recipe name (see `p1run recipes`) or path to a .rhai script.
    #[arg(value_name = "RECIPE")]
    pub recipe: Option<String>,

    /// Environment name from the config file (repeatable: a fleet run); `local` is the
    /// embedded emulator.
    #[arg(long, value_name = "NAME")]
    pub env: Vec<String>,

    /// Every environment of the config file.
    #[arg(long)]
    pub all: bool,

    /// The environments of a `[groups]` entry of the config file (repeatable).
    #[arg(long, value_name = "NAME")]
    pub group: Vec<String>,

    /// How many environments run at once.
    #[arg(short, long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,

    /// Run only shard I of N of the selected environments (names sorted, every N-th from the
    /// I-th), to split a fleet over CI jobs.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,

    /// Config file [default: $P1RUN_CONFIG, else ./p1run.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// A recipe param, `name=value`; repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    /// Recipe params from FILE: TOML `name = value` lines or a JSON object; `--var` overrides
    /// them, and they override the environment's `[environments.NAME.vars]`.
    #[arg(long, value_name = "FILE")]
    pub var_file: Option<PathBuf>,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, value_name = "FORMAT")]
    pub output: OutputFormat,

    /// Also write the JSON run report (every change with its request and outcome) to FILE,
    /// for failed and rolled-back runs too.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// `p1run apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Recipe, target and output.
    #[command(flatten)]
    pub run: RunArgs,

    /// Apply exactly this saved plan (from `p1run plan --out`); refused when the live state
    /// no longer matches what the plan read.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["recipe", "vars", "var_file"])]
    pub plan: Option<PathBuf>,

    /// When a step fails, undo what this run wrote, newest first.
    #[arg(long)]
    pub rollback_on_failure: bool,
}

/// `p1run plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Recipe, target and output.
    #[command(flatten)]
    pub run: RunArgs,

    /// Save the plan to FILE for `p1run apply --plan FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
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
            Self::Apply(args) => execute_run(
                &args.run,
                Mode::Apply,
                args.plan.as_deref(),
                args.rollback_on_failure,
                None,
            ),
            Self::Plan(args) => {
                execute_run(&args.run, Mode::Plan, None, false, args.out.as_deref())
            }
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
            Self::Init(args) => {
                let path = args
                    .config
                    .or_else(|| std::env::var_os("P1RUN_CONFIG").map(PathBuf::from))
                    .unwrap_or_else(|| PathBuf::from("p1run.toml"));
                print_stdout(&crate::init::write(&path, &args.env, args.force)?)?;
                Ok(0)
            }
            Self::Doctor(args) => {
                let config = Config::discover(args.config.as_deref())?.ok_or_else(|| {
                    Error::Usage(
                        "no config file found (no --config, no $P1RUN_CONFIG, no ./p1run.toml); \
                         write one with `p1run init`"
                            .into(),
                    )
                })?;
                let report = crate::doctor::run(&config, &args.env, &args.group, args.all)?;
                print_stdout(&match args.output {
                    OutputFormat::Json => {
                        json_text(&serde_json::to_value(&report).unwrap_or_default())
                    }
                    OutputFormat::Text => report.to_text(),
                })?;
                Ok(i32::from(report.failed()))
            }
        }
    }
}

fn execute_run(
    args: &RunArgs,
    mode: Mode,
    saved_plan: Option<&std::path::Path>,
    rollback_on_failure: bool,
    plan_out: Option<&std::path::Path>,
) -> Result<i32, Error> {
    let saved_plan = saved_plan.map(SavedPlan::load).transpose()?;
    let (script, vars) = match &saved_plan {
        Some(plan) => (plan.script.clone(), plan.vars.clone()),
        None => {
            let recipe = args.recipe.as_deref().ok_or_else(|| {
                Error::Usage("name a recipe (see `p1run recipes`) or a .rhai file; `apply` also takes --plan FILE".into())
            })?;
            let script = Script::resolve(recipe)?;
            let cli_vars: BTreeMap<String, String> = args.vars.iter().cloned().collect();
            script.check_vars(&cli_vars)?;
            let mut vars = BTreeMap::new();
            if let Some(file) = &args.var_file {
                vars = crate::config::load_var_file(file)?;
                script.check_var_names(vars.keys(), |name| {
                    format!("--var-file {}: {name}", file.display())
                })?;
            }
            vars.extend(cli_vars);
            (script, vars)
        }
    };
    let config = Config::discover(args.config.as_deref())?;
    let limits = config
        .as_ref()
        .map(|c| c.limits.clone())
        .unwrap_or_default();
    let request = RunRequest {
        script: &script,
        vars,
        mode,
        limits: &limits,
        retry: config
            .as_ref()
            .map(|c| c.retry.policy())
            .unwrap_or_default(),
        saved_plan: saved_plan.as_ref(),
        rollback_on_failure,
    };
    let budget = config
        .as_ref()
        .map_or(DEFAULT_REQUESTS_PER_SECOND, |c| c.fleet.requests_per_second);
    let shared = Shared::new(Some(budget))?;
    let fleet = args.all || !args.group.is_empty() || args.env.len() > 1 || args.shard.is_some();
    if fleet {
        let config = config.as_ref().ok_or_else(|| {
            Error::Usage(
                "a fleet run (--all, --group, several --env, --shard) needs a config file".into(),
            )
        })?;
        if saved_plan.is_some() || plan_out.is_some() {
            return Err(Error::Usage(
                "saved plans are per environment: use --plan/--out with one --env".into(),
            ));
        }
        let mut names = config.select(&args.env, &args.group, args.all)?;
        if let Some(shard) = args.shard {
            names = shard.take(names);
        }
        let started = std::time::Instant::now();
        let results = fleet::run(&request, &names, config, &shared, usize::from(args.jobs));
        return finish_fleet(
            args,
            &script.name,
            &results,
            mode == Mode::Plan,
            started.elapsed(),
        );
    }

    let env = args
        .env
        .first()
        .cloned()
        .or_else(|| saved_plan.as_ref().map(|plan| plan.environment.clone()));
    let destination = run::destination(env.as_deref(), config.as_ref())?;
    let target = match destination {
        run::Destination::Local => {
            // A CI job started in the wrong folder would otherwise be green having changed
            // nothing: say so where people and logs look.
            let why = if config.is_none() {
                "no config file found (no --config, no $P1RUN_CONFIG, no ./p1run.toml)"
            } else {
                "--env local"
            };
            eprintln!(
                "note: {why}: running against an in-process PingOne emulator started for this \
                 run; nothing in PingOne is changed. To target PingOne, configure an environment \
                 in p1run.toml (or --config FILE)."
            );
            TARGET_EMULATOR
        }
        run::Destination::Remote(_) => TARGET_PINGONE,
    };
    let result = run::run(&request, destination, &shared)?;
    let planning = mode == Mode::Plan;
    if let Some(path) = &args.report {
        write_json(
            path,
            &Report::new(
                &result.outcome,
                &result.journal,
                &result.environment_id,
                planning,
            ),
        )?;
    }
    if let (Some(path), None) = (plan_out, &result.error) {
        SavedPlan {
            version: SavedPlan::VERSION,
            script: Script {
                imports: Some(result.imports.clone()),
                ..script.clone()
            },
            vars: result.vars.clone(),
            environment: result.outcome.environment.clone(),
            environment_id: result.environment_id.clone(),
            writes: result.planned.clone(),
        }
        .save(path)?;
    }
    let outcome = &result.outcome;
    let text = match (args.output, &result.error) {
        (OutputFormat::Json, _) => json_text(&with_target(outcome, target)),
        (OutputFormat::Text, None) if planning => outcome.to_plan_text(),
        (OutputFormat::Text, None) => outcome.to_text(),
        (OutputFormat::Text, Some(_)) => String::new(),
    };
    print_stdout(&text)?;
    if let Some(error) = &result.error {
        eprintln!("error: {error}");
        if let Some(note) = outcome.partial_changes_note() {
            eprintln!("{note}");
        }
        return Ok(1);
    }
    Ok(if planning && !outcome.changes.is_empty() {
        2
    } else {
        0
    })
}

fn finish_fleet(
    args: &RunArgs,
    recipe: &str,
    results: &[EnvironmentResult],
    planning: bool,
    duration: std::time::Duration,
) -> Result<i32, Error> {
    let summary = FleetOutcome::new(recipe, results, planning, duration);
    if let Some(path) = &args.report {
        let reports: Vec<serde_json::Value> = results
            .iter()
            .map(|env| match &env.result {
                Ok(result) => serde_json::to_value(Report::new(&result.outcome, &result.journal, &result.environment_id, planning)).unwrap_or_default(),
                Err(error) => serde_json::json!({
                    "p1run_report": 1, "environment": env.name, "status": "failed", "error": error.to_string(),
                    "changes": [], "compensations": []
                }),
            })
            .collect();
        write_json(
            path,
            &serde_json::json!({ "p1run_report": 1, "recipe": recipe, "environments": reports }),
        )?;
    }
    let text = match args.output {
        OutputFormat::Json => {
            // A fleet runs configured environments only.
            let mut document = with_target(&summary, TARGET_PINGONE);
            if let Some(environments) = document
                .get_mut("environments")
                .and_then(serde_json::Value::as_array_mut)
            {
                for environment in environments {
                    environment["target"] = TARGET_PINGONE.into();
                }
            }
            json_text(&document)
        }
        OutputFormat::Text => summary.to_text(),
    };
    print_stdout(&text)?;
    let mut failed = false;
    for env in results.iter().filter(|env| env.failed()) {
        failed = true;
        match &env.result {
            Ok(result) => {
                if let Some(error) = &result.error {
                    eprintln!("error: {}: {error}", env.name);
                }
                if let Some(note) = result.outcome.partial_changes_note() {
                    eprintln!("{note}");
                }
            }
            Err(error) => eprintln!("error: {}: {error}", env.name),
        }
    }
    let pending = summary.environments.iter().any(|o| !o.changes.is_empty());
    Ok(if failed {
        1
    } else if planning && pending {
        2
    } else {
        0
    })
}

/// `"target"` of a run that went to the emulator `p1run` started in-process for it.
const TARGET_EMULATOR: &str = "emulator";
/// `"target"` of a run that went to a configured environment (its `api_url`/`auth_url`).
const TARGET_PINGONE: &str = "pingone";

/// A JSON output document with `"target"` added, so that a pipeline can tell a run against
/// the throwaway emulator from one against PingOne.
fn with_target(document: &impl serde::Serialize, target: &str) -> serde_json::Value {
    let mut value = serde_json::to_value(document).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("target".into(), target.into());
    }
    value
}

fn json_text(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    std::fs::write(path, text + "\n").map_err(|source| Error::Io {
        context: format!("writing report {}", path.display()),
        source,
    })
}

fn print_stdout(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|source| Error::Io {
            context: "writing to stdout".into(),
            source,
        })
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
