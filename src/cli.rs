//! The command line (clap derive; the doc comments are the help), and what each command does.
//!
//! House rules, after xh: long flags for everything, `short` only for the common ones, an
//! uppercase value name on every flag that takes a value.

use crate::config::{Config, LOCAL};
use crate::error::Error;
use crate::fleet::{self, EnvironmentResult, FleetOutcome, Shard};
use crate::host::Mode;
use crate::recipes;
pub use crate::report::OutputFormat;
use crate::report::print_stdout;
use crate::report::{FleetReport, Report};
use crate::run::{self, RunRequest, SavedPlan, Script, Shared};
use crate::style::ColorWhen;
use clap::{Args, CommandFactory as _, Parser, Subcommand};
use std::collections::BTreeMap;
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

    /// Hide the recipe's own print() and debug() lines (shown on stderr by default).
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// When to use colours; `auto`: only on a terminal, and not when NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN", global = true)]
    pub color: ColorWhen,

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
    /// Check recipes offline, without a config or any request: syntax, unknown functions and
    /// wrong argument counts, imports, `--var` names. Exit 0: all fine; 1: problems (each at
    /// file:line:col). Fast enough for a pre-commit hook.
    Check(CheckArgs),
    /// List the bundled recipes and their params.
    Recipes(RecipesArgs),
    /// List the primitives scripts can call, with their signatures.
    Primitives,
    /// Write Rhai definition files (`.d.rhai`: every primitive and type, with its doc) for the
    /// Rhai language server and editor extensions.
    Definitions(DefinitionsArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) to stdout.
    Man,
    /// Serve a local PingOne emulator (prints one JSON line with its URLs and credentials).
    Emulator(crate::emulator::cli::EmulatorArgs),
    /// Run the `fn test_...()` functions of `*.test.rhai` files, each against a fresh emulator.
    /// Exit 0: all passed; 1: a test failed (or none was found).
    Test(crate::testing::TestArgs),
    /// Write a recipe that makes an environment's worker applications as they are: roles,
    /// token auth method, enabled state (never secrets).
    Export(crate::export::ExportArgs),
    /// Write a commented p1run.toml to start from (never a secret: each environment names
    /// the variable its worker's secret is read from).
    Init(InitArgs),
    /// Check each configured environment: config, secret, token, hosts, the worker's roles,
    /// and which bundled recipes would pass pre-flight. Exit 1 if any check fails.
    Doctor(DoctorArgs),
    /// Work with run reports (`--report FILE`), e.g. merge the reports of CI shards.
    #[command(subcommand)]
    Report(ReportCommand),
}

/// `p1run report ...`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge shard reports of one recipe and mode into one fleet report: environments in
    /// natural order, totals recomputed. Refuses reports of different recipes or modes, and an
    /// environment in two reports.
    Merge(crate::ci::MergeArgs),
}

/// `p1run check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Bundled recipe names or paths to .rhai scripts.
    #[arg(value_name = "RECIPE", required = true)]
    pub recipes: Vec<String>,

    /// A param the recipes will be given, `name=value`: checked to be one of their params.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

/// `p1run recipes`.
#[derive(Debug, Args)]
pub struct RecipesArgs {
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, value_name = "FORMAT")]
    pub output: OutputFormat,
}

/// `p1run definitions`.
#[derive(Debug, Args)]
pub struct DefinitionsArgs {
    /// Directory to write the definition files into (created if missing).
    #[arg(value_name = "DIR", default_value = ".rhai/definitions")]
    pub dir: PathBuf,
}

/// `p1run completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
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

    /// Output format on stdout; `ndjson`: one line per environment as it finishes.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, value_name = "FORMAT")]
    pub output: OutputFormat,

    /// Also write the JSON run report (every change with its request and outcome) to FILE,
    /// for failed and rolled-back runs too.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Also write the results as JUnit XML to FILE: one test case per environment, failures
    /// with their error. With $GITHUB_STEP_SUMMARY set, a Markdown summary is appended to it.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
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

fn parse_var(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected NAME=VALUE, got {raw:?}")),
    }
}

impl Arguments {
    /// Runs the command; the `Ok` value is the exit code.
    pub fn execute(self) -> Result<i32, Error> {
        let quiet = self.quiet;
        match self.command {
            Command::Apply(args) => execute_run(
                &args.run,
                Mode::Apply,
                args.plan.as_deref(),
                args.rollback_on_failure,
                None,
                quiet,
            ),
            Command::Plan(args) => execute_run(
                &args.run,
                Mode::Plan,
                None,
                false,
                args.out.as_deref(),
                quiet,
            ),
            Command::Check(args) => execute_check(&args),
            Command::Recipes(args) => {
                let text = match args.output {
                    OutputFormat::Text => recipes_listing(),
                    OutputFormat::Json => {
                        serde_json::to_string_pretty(&recipes_json()).unwrap_or_default() + "\n"
                    }
                    OutputFormat::Ndjson => {
                        let lines: Vec<String> = recipes_json()
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(ToString::to_string)
                            .collect();
                        lines.join("\n") + "\n"
                    }
                };
                print_stdout(&text)?;
                Ok(0)
            }
            Command::Primitives => {
                print!("{}", primitives_listing()?);
                Ok(0)
            }
            Command::Definitions(args) => execute_definitions(&args.dir),
            Command::Completions(args) => {
                let mut command = Self::command();
                let mut out = Vec::new();
                clap_complete::generate(args.shell, &mut command, "p1run", &mut out);
                print_stdout(&String::from_utf8_lossy(&out))?;
                Ok(0)
            }
            Command::Man => {
                let mut out = Vec::new();
                clap_mangen::Man::new(Self::command())
                    .render(&mut out)
                    .map_err(|source| Error::Io {
                        context: "rendering the manual page".into(),
                        source,
                    })?;
                print_stdout(&String::from_utf8_lossy(&out))?;
                Ok(0)
            }
            Command::Report(ReportCommand::Merge(args)) => crate::ci::merge(&args),
            Command::Emulator(args) => {
                let options = args.options().map_err(Error::Usage)?;
                crate::emulator::serve_until_interrupted(options).map_err(|source| Error::Io {
                    context: "serving the emulator".into(),
                    source,
                })?;
                Ok(0)
            }
            Command::Test(args) => crate::testing::execute(&args),
            Command::Export(args) => crate::export::execute(&args),
            Command::Init(args) => {
                let path = args
                    .config
                    .or_else(|| std::env::var_os("P1RUN_CONFIG").map(PathBuf::from))
                    .unwrap_or_else(|| PathBuf::from("p1run.toml"));
                print_stdout(&crate::init::write(&path, &args.env, args.force)?)?;
                Ok(0)
            }
            Command::Doctor(args) => {
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
                    OutputFormat::Text | OutputFormat::Ndjson => report.to_text(),
                })?;
                Ok(i32::from(report.failed()))
            }
        }
    }

    /// The output format the command asked for (text for commands without `--output`).
    pub fn output(&self) -> OutputFormat {
        match &self.command {
            Command::Apply(args) => args.run.output,
            Command::Plan(args) => args.run.output,
            Command::Recipes(args) => args.output,
            _ => OutputFormat::Text,
        }
    }
}

fn execute_check(args: &CheckArgs) -> Result<i32, Error> {
    let started = std::time::Instant::now();
    let (engine, docs) = crate::host::primitives::offline_engine()?;
    let functions = crate::check::engine_functions(&engine);
    let signatures: std::collections::HashMap<&str, &str> = docs
        .iter()
        .map(|doc| {
            let name = doc.signature.split('(').next().unwrap_or_default();
            (name, doc.signature)
        })
        .collect();
    let vars: BTreeMap<String, String> = args.vars.iter().cloned().collect();
    let mut problems = 0;
    let mut stderr = String::new();
    let mut stdout = String::new();
    for recipe in &args.recipes {
        match crate::check::check(&engine, &functions, &signatures, recipe, &vars) {
            Ok(checked) if checked.problems.is_empty() => {
                let params: Vec<&str> = checked.params.iter().map(|p| p.name.as_str()).collect();
                stdout.push_str(&format!(
                    "{}: ok{}\n",
                    checked.name,
                    if params.is_empty() {
                        String::new()
                    } else {
                        format!(" (params: {})", params.join(", "))
                    }
                ));
            }
            Ok(checked) => {
                problems += checked.problems.len();
                for problem in &checked.problems {
                    stderr.push_str(&format!("{} {problem}\n", crate::style::error_label()));
                }
            }
            Err(error) => {
                problems += 1;
                stderr.push_str(&format!("{} {error}\n", crate::style::error_label()));
            }
        }
    }
    print_stdout(&stdout)?;
    eprint!("{stderr}");
    tracing::info!(
        "checked {} recipe(s) in {:?}",
        args.recipes.len(),
        started.elapsed()
    );
    if problems > 0 {
        eprintln!("{problems} problem(s) in {} recipe(s)", args.recipes.len());
        return Ok(1);
    }
    Ok(0)
}

fn execute_definitions(dir: &std::path::Path) -> Result<i32, Error> {
    let (engine, _) = crate::host::primitives::offline_engine()?;
    let io = |source| Error::Io {
        context: format!("writing definitions to {}", dir.display()),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    engine
        .definitions()
        .with_headers(true)
        .include_standard_packages(true)
        .write_to_dir(dir)
        .map_err(io)?;
    eprintln!(
        "wrote Rhai definitions to {} (point your editor's Rhai language server at it)",
        dir.display()
    );
    Ok(0)
}

fn execute_run(
    args: &RunArgs,
    mode: Mode,
    saved_plan: Option<&std::path::Path>,
    rollback_on_failure: bool,
    plan_out: Option<&std::path::Path>,
    quiet: bool,
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
    if let Some(config) = &config {
        known_environments(&args.env, config)?;
    }
    let limits = config
        .as_ref()
        .map(|c| c.limits.clone())
        .unwrap_or_default();
    let fleet = args.all || !args.group.is_empty() || args.env.len() > 1 || args.shard.is_some();
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
        quiet,
        label_prints: fleet,
    };
    let budget = fleet::BudgetPolicy::new(
        &config.as_ref().map(|c| c.fleet.clone()).unwrap_or_default(),
        args.shard,
    );
    let shared = Shared::new(Some(budget))?;
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
        // Natural order everywhere a fleet is listed or split: env-2 before env-10.
        crate::suggest::natural_sort(&mut names);
        if let Some(shard) = args.shard {
            names = shard.take(names);
        }
        let started = std::time::Instant::now();
        let stream = |environment: &EnvironmentResult| {
            if args.output == OutputFormat::Ndjson {
                let line =
                    serde_json::to_string(&environment.outcome(&script.name)).unwrap_or_default();
                // A closed stdout surfaces when the summary is printed.
                let _ = print_stdout(&(line + "\n"));
            }
        };
        let results = fleet::run_streaming(
            &request,
            &names,
            config,
            &shared,
            usize::from(args.jobs),
            &stream,
        );
        return finish_fleet(
            args,
            &script.name,
            &results,
            mode == Mode::Plan,
            started.elapsed(),
            fleet::budget_report(&shared),
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
    let report = Report::new(
        &result.outcome,
        &result.journal,
        &result.environment_id,
        planning,
    );
    if let Some(path) = &args.report {
        write_json(path, &report)?;
    }
    crate::ci::publish(
        args.junit.as_deref(),
        &FleetReport::new(
            report.mode,
            &report.recipe,
            vec![serde_json::to_value(&report).unwrap_or_default()],
            report.duration_ms,
            None,
        ),
    )?;
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
        (OutputFormat::Ndjson, _) => {
            serde_json::to_string(&with_target(outcome, target)).unwrap_or_default() + "\n"
        }
        (OutputFormat::Text, None) if planning => outcome.to_plan_text(),
        (OutputFormat::Text, None) => outcome.to_text(),
        (OutputFormat::Text, Some(_)) => String::new(),
    };
    print_stdout(&crate::style::paint_changes(&text, crate::style::stdout()))?;
    if let Some(error) = &result.error {
        eprintln!("{} {error}", crate::style::error_label());
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
    budget: Option<serde_json::Value>,
) -> Result<i32, Error> {
    let summary = FleetOutcome::new(recipe, results, planning, duration);
    let reports = results
        .iter()
        .map(|env| env.report(recipe, planning))
        .collect();
    let mode = if planning { "plan" } else { "apply" };
    let report = FleetReport::new(mode, recipe, reports, summary.duration_ms, budget);
    if let Some(path) = &args.report {
        write_json(path, &report)?;
    }
    crate::ci::publish(args.junit.as_deref(), &report)?;
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
        // The environments went out as they finished; the last line sums them up.
        OutputFormat::Ndjson => {
            let line = serde_json::json!({
                "recipe": summary.recipe,
                "status": summary.status,
                "environment_count": summary.environments.len(),
                "requests": summary.requests,
                "duration_ms": summary.duration_ms,
            });
            line.to_string() + "\n"
        }
        OutputFormat::Text => {
            crate::style::paint_changes(&summary.to_text(), crate::style::stdout())
        }
    };
    print_stdout(&text)?;
    let mut failed = false;
    for env in results.iter().filter(|env| env.failed()) {
        failed = true;
        match &env.result {
            Ok(result) => {
                if let Some(error) = &result.error {
                    eprintln!("{} {}: {error}", crate::style::error_label(), env.name);
                }
                if let Some(note) = result.outcome.partial_changes_note() {
                    eprintln!("{note}");
                }
            }
            Err(error) => eprintln!("{} {}: {error}", crate::style::error_label(), env.name),
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

/// Refuses an `--env` the config does not name before anything runs, with the name meant.
fn known_environments(names: &[String], config: &Config) -> Result<(), Error> {
    let known = config.environment_names();
    match names
        .iter()
        .find(|name| *name != LOCAL && !known.contains(name))
    {
        Some(unknown) => Err(config.unknown_environment(unknown)),
        None => Ok(()),
    }
}

fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    std::fs::write(path, text + "\n").map_err(|source| Error::Io {
        context: format!("writing report {}", path.display()),
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

fn recipes_json() -> serde_json::Value {
    recipes::RECIPES
        .iter()
        .map(|recipe| {
            serde_json::json!({
                "name": recipe.name,
                "description": recipes::description(recipe.source),
                "params": recipes::params(recipe.source),
            })
        })
        .collect()
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
