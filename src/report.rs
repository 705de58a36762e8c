//! What a run tells its user: a readable summary on a terminal, or one JSON document
//! `{recipe, environment, status, changes, outputs, requests, duration_ms}`.

use crate::error::Error;
pub use crate::writes::Compensation;
use crate::writes::{Change, JournalEntry};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A readable summary.
    Text,
    /// One JSON document.
    Json,
    /// One JSON document per line: one per environment as it finishes, then the summary.
    Ndjson,
}

impl OutputFormat {
    /// JSON of either kind: failures are reported as a JSON document too.
    pub fn is_json(self) -> bool {
        matches!(self, Self::Json | Self::Ndjson)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The script ran to its end.
    Succeeded,
    /// The script or an API call failed.
    Failed,
    /// It failed, and `--rollback-on-failure` undid every write it had made.
    RolledBack,
    /// A plan: nothing was written.
    Planned,
    /// Ctrl-C stopped it before a write it was to make; what it made is in `changes`, and
    /// undone in `compensations` with `--rollback-on-failure`.
    Interrupted,
}

/// The result of running one recipe against one environment.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// Recipe name or script path.
    pub recipe: String,
    /// Target name (`local` for the embedded emulator).
    pub environment: String,
    /// How it ended.
    pub status: Status,
    /// Writes made (or, in a plan, that would be made), in order. Empty on an idempotent rerun.
    pub changes: Vec<Change>,
    /// The script's return value.
    pub outputs: serde_json::Value,
    /// HTTP requests sent to PingOne (token requests included).
    pub requests: u64,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// Writes undone by `--rollback-on-failure`, newest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub compensations: Vec<Compensation>,
    /// What went wrong, when `status` is `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RunOutcome {
    /// The readable summary for stdout.
    pub fn to_text(&self) -> String {
        let mut text = format!("{} on {}\n", self.recipe, self.environment);
        if self.changes.is_empty() {
            text.push_str("  no changes: already up to date\n");
        }
        for change in &self.changes {
            let _ = writeln!(
                text,
                "  {} {}  [{}]",
                change.symbol(),
                change.detail,
                change.id
            );
        }
        if !self.outputs.is_null() {
            let pretty = serde_json::to_string_pretty(&self.outputs).unwrap_or_default();
            let _ = writeln!(text, "result: {pretty}");
        }
        let changes = match self.changes.len() {
            1 => "1 change".to_owned(),
            n => format!("{n} changes"),
        };
        let _ = writeln!(
            text,
            "{changes}, {} requests, {} ms",
            self.requests, self.duration_ms
        );
        text
    }

    /// The plan as people read it: `+ create application "X" (WORKER)`, one line a change.
    pub fn to_plan_text(&self) -> String {
        let mut text = format!("plan for {} on {}\n", self.recipe, self.environment);
        for change in &self.changes {
            let _ = writeln!(text, "  {} {}", change.symbol(), change.detail);
        }
        match self.changes.len() {
            0 => text.push_str("no changes: the environment already matches the recipe\n"),
            1 => text.push_str("1 change pending\n"),
            n => {
                let _ = writeln!(text, "{n} changes pending");
            }
        }
        text
    }

    /// For a failed run: what it had changed already, and that a rerun continues from there.
    pub fn partial_changes_note(&self) -> Option<String> {
        if !self.compensations.is_empty() {
            let mut note = format!(
                "rolled back {} write(s), newest first:\n",
                self.compensations.len()
            );
            for compensation in &self.compensations {
                match &compensation.error {
                    None => {
                        let _ = writeln!(note, "  undone: {}", compensation.of);
                    }
                    Some(error) => {
                        let _ = writeln!(note, "  NOT undone: {} ({error})", compensation.of);
                    }
                }
            }
            return Some(note.trim_end().to_owned());
        }
        if !matches!(self.status, Status::Failed | Status::Interrupted) || self.changes.is_empty() {
            return None;
        }
        let mut note = format!(
            "before failing, this run made {} change(s):\n",
            self.changes.len()
        );
        for change in &self.changes {
            let _ = writeln!(
                note,
                "  {} {}  [{}]",
                change.symbol(),
                change.detail,
                change.id
            );
        }
        note.push_str(
            "the primitives are idempotent: fix the cause and rerun to continue from there",
        );
        Some(note)
    }
}

/// `--report FILE`: the whole story of a run, written also for failed and rolled-back runs.
/// Schema in the README.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Schema version.
    pub p1run_report: u32,
    /// `apply` or `plan`.
    pub mode: &'static str,
    /// Recipe name or script path.
    pub recipe: String,
    /// Target name.
    pub environment: String,
    /// Target environment id.
    pub environment_id: String,
    /// How it ended.
    pub status: Status,
    /// Wall time.
    pub duration_ms: u64,
    /// HTTP requests sent.
    pub requests: u64,
    /// Every write, made, failed or planned, with its request.
    pub changes: Vec<ReportedChange>,
    /// Writes undone by `--rollback-on-failure`, newest first.
    pub compensations: Vec<Compensation>,
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One write in a [`Report`].
#[derive(Debug, Serialize)]
pub struct ReportedChange {
    /// The change.
    #[serde(flatten)]
    pub change: Change,
    /// `METHOD /path` (none for a planned change).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// `succeeded`, `failed` or `planned`.
    pub outcome: &'static str,
    /// PingOne's answer when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long the request took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

impl Report {
    /// The report of one run.
    pub fn new(
        outcome: &RunOutcome,
        journal: &[JournalEntry],
        environment_id: &str,
        plan: bool,
    ) -> Self {
        let changes = if plan || journal.is_empty() {
            outcome
                .changes
                .iter()
                .map(|change| ReportedChange {
                    change: change.clone(),
                    request: None,
                    outcome: if plan { "planned" } else { "succeeded" },
                    error: None,
                    duration_ms: None,
                })
                .collect()
        } else {
            journal
                .iter()
                .map(|entry| ReportedChange {
                    change: entry.change.clone(),
                    request: Some(entry.request.clone()),
                    outcome: if entry.error.is_none() {
                        "succeeded"
                    } else {
                        "failed"
                    },
                    error: entry.error.clone(),
                    duration_ms: Some(entry.duration_ms),
                })
                .collect()
        };
        Self {
            p1run_report: 1,
            mode: if plan { "plan" } else { "apply" },
            recipe: outcome.recipe.clone(),
            environment: outcome.environment.clone(),
            environment_id: environment_id.to_owned(),
            status: outcome.status,
            duration_ms: outcome.duration_ms,
            requests: outcome.requests,
            changes,
            compensations: outcome.compensations.clone(),
            error: outcome.error.clone(),
        }
    }
}

impl Status {
    /// True for the endings that fail a run: `failed`, `rolled_back`, `interrupted`.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::RolledBack | Self::Interrupted)
    }
}

/// `--report FILE` of a fleet run, and what `p1run report merge` writes: every environment's
/// [`Report`], naturally sorted by name (`env-2` before `env-10`), with the totals.
#[derive(Debug, Serialize)]
pub struct FleetReport {
    /// Schema version.
    pub p1run_report: u32,
    /// `apply` or `plan`.
    pub mode: String,
    /// Recipe name or script path.
    pub recipe: String,
    /// `failed` when any environment failed, else `planned` for plans, `succeeded` for applies.
    pub status: Status,
    /// Environments, and how many of them failed.
    pub environment_count: usize,
    /// Environments that failed, were rolled back or interrupted.
    pub failed: usize,
    /// Writes made (or, in a plan, pending), all environments together.
    pub changes: u64,
    /// HTTP requests sent, all environments together.
    pub requests: u64,
    /// Wall time; for a merged report, the longest shard's (shards run at once).
    pub duration_ms: u64,
    /// The request budget this process ran under (`--shard`, `[fleet]`): see
    /// [`crate::fleet::BudgetPolicy`]. Absent in a merged report, which lists each shard's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Value>,
    /// For a merged report: each input file with its environments and budget.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedInput>,
    /// One [`Report`] per environment.
    pub environments: Vec<Value>,
}

/// One input of `p1run report merge`, as the merged report remembers it.
#[derive(Debug, Serialize)]
pub struct MergedInput {
    /// The file as named on the command line.
    pub file: String,
    /// Its environments.
    pub environments: usize,
    /// The budget it ran under, when it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Value>,
}

impl FleetReport {
    /// A fleet report of these environment reports (any order), totals computed from them.
    pub fn new(
        mode: &str,
        recipe: &str,
        mut environments: Vec<Value>,
        duration_ms: u64,
        budget: Option<Value>,
    ) -> Self {
        environments
            .sort_by(|a, b| crate::suggest::natural_cmp(environment_name(a), environment_name(b)));
        let failed = environments
            .iter()
            .filter(|e| environment_status(e).is_none_or(Status::is_failure))
            .count();
        Self {
            p1run_report: 1,
            mode: mode.to_owned(),
            recipe: recipe.to_owned(),
            status: if failed > 0 {
                Status::Failed
            } else if mode == "plan" {
                Status::Planned
            } else {
                Status::Succeeded
            },
            environment_count: environments.len(),
            failed,
            changes: environments.iter().map(changes_of).sum(),
            requests: environments
                .iter()
                .map(|e| e["requests"].as_u64().unwrap_or(0))
                .sum(),
            duration_ms,
            budget,
            merged_from: Vec::new(),
            environments,
        }
    }
}

/// An environment report's name (`""` when it has none).
pub fn environment_name(report: &Value) -> &str {
    report["environment"].as_str().unwrap_or_default()
}

/// An environment report's status; `None` when missing or unknown (counted as failed).
pub fn environment_status(report: &Value) -> Option<Status> {
    Status::deserialize(&report["status"]).ok()
}

/// Writes an environment report made or (in a plan) would make: its changes less the failed.
pub fn changes_of(report: &Value) -> u64 {
    report["changes"].as_array().map_or(0, |changes| {
        changes.iter().filter(|c| c["outcome"] != "failed").count() as u64
    })
}

/// One parsed input of a merge: its file, recipe, mode and environment reports.
#[derive(Debug)]
struct MergeInput {
    file: String,
    recipe: String,
    mode: String,
    duration_ms: u64,
    budget: Option<Value>,
    environments: Vec<Value>,
}

/// `p1run report merge`: reads shard reports (fleet reports, or single-environment reports
/// that count as one environment each) of one recipe and mode into one fleet report.
pub fn merge_files(paths: &[PathBuf]) -> Result<FleetReport, Error> {
    let mut inputs = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            context: format!("reading report {}", path.display()),
            source,
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|error| {
            Error::Usage(format!(
                "{} is not a JSON report ({error}); pass the files p1run wrote with --report",
                path.display()
            ))
        })?;
        inputs.push(parse_input(path, value)?);
    }
    merge(inputs)
}

fn parse_input(path: &Path, value: Value) -> Result<MergeInput, Error> {
    let file = path.display().to_string();
    let refuse = |why: &str| {
        Error::Usage(format!(
            "{file} is not a p1run report ({why}); pass the files p1run wrote with --report"
        ))
    };
    match value["p1run_report"].as_u64() {
        Some(1) => {}
        Some(version) => {
            return Err(Error::Usage(format!(
                "{file} is a p1run report of version {version}; this p1run reads version 1: \
                 merge it with the p1run that wrote it"
            )));
        }
        None => return Err(refuse("no \"p1run_report\": 1")),
    }
    let environments = match value.get("environments") {
        Some(Value::Array(environments)) => environments.clone(),
        Some(_) => return Err(refuse("\"environments\" is not a list")),
        // A single-environment report is one environment.
        None if value["environment"].is_string() => vec![value.clone()],
        None => return Err(refuse("neither \"environments\" nor \"environment\"")),
    };
    if let Some(index) = environments
        .iter()
        .position(|e| environment_name(e).is_empty())
    {
        return Err(refuse(&format!(
            "entry {} has no \"environment\"",
            index + 1
        )));
    }
    let text_of = |key: &str| -> Option<String> {
        value[key]
            .as_str()
            .or_else(|| environments.iter().find_map(|e| e[key].as_str()))
            .map(str::to_owned)
    };
    let recipe = text_of("recipe").ok_or_else(|| refuse("no \"recipe\""))?;
    let mode = text_of("mode").ok_or_else(|| refuse("no \"mode\""))?;
    // Every entry must agree with its file: a hand-edited mix would merge into a lie.
    for entry in &environments {
        for (key, expected) in [("recipe", &recipe), ("mode", &mode)] {
            if let Some(found) = entry[key].as_str()
                && found != expected
            {
                return Err(Error::Usage(format!(
                    "{file}: environment {} has {key} {found:?} but the report {expected:?}",
                    environment_name(entry)
                )));
            }
        }
    }
    Ok(MergeInput {
        file,
        recipe,
        mode,
        duration_ms: value["duration_ms"].as_u64().unwrap_or(0),
        budget: value.get("budget").cloned(),
        environments,
    })
}

fn merge(inputs: Vec<MergeInput>) -> Result<FleetReport, Error> {
    let Some(first) = inputs.first() else {
        return Err(Error::Usage(
            "report merge needs at least one report file".into(),
        ));
    };
    for input in &inputs[1..] {
        for (what, mine, theirs) in [
            ("recipe", &input.recipe, &first.recipe),
            ("mode", &input.mode, &first.mode),
        ] {
            if mine != theirs {
                return Err(Error::Usage(format!(
                    "{} is a report of {what} {theirs:?} but {} of {what} {mine:?}: merge \
                     only the shard reports of one run (one recipe, all apply or all plan)",
                    first.file, input.file
                )));
            }
        }
    }
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for input in &inputs {
        for entry in &input.environments {
            let name = environment_name(entry);
            if let Some(earlier) = seen.insert(name.to_owned(), &input.file) {
                let place = if earlier == input.file {
                    format!("twice in {earlier}")
                } else {
                    format!("in both {earlier} and {}", input.file)
                };
                return Err(Error::Usage(format!(
                    "environment {name} is {place}: each environment must come from exactly \
                     one shard report (was a shard run twice, or a file named twice?)"
                )));
            }
        }
    }
    let (recipe, mode) = (first.recipe.clone(), first.mode.clone());
    let duration_ms = inputs.iter().map(|i| i.duration_ms).max().unwrap_or(0);
    let merged_from = inputs
        .iter()
        .map(|input| MergedInput {
            file: input.file.clone(),
            environments: input.environments.len(),
            budget: input.budget.clone(),
        })
        .collect();
    let environments = inputs.into_iter().flat_map(|i| i.environments).collect();
    let mut report = FleetReport::new(&mode, &recipe, environments, duration_ms, None);
    report.merged_from = merged_from;
    Ok(report)
}

/// Writes `text` to stdout, flushed: a closed pipe or a full disk is an error, not a panic.
pub fn print_stdout(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|source| Error::Io {
            context: "writing to stdout".into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(name: &str, status: &str, requests: u64) -> Value {
        json!({"p1run_report": 1, "mode": "apply", "recipe": "authorize-worker",
               "environment": name, "status": status, "requests": requests,
               "changes": [{"outcome": "succeeded"}, {"outcome": "failed"}]})
    }

    fn input(file: &str, recipe: &str, mode: &str, names: &[&str]) -> MergeInput {
        MergeInput {
            file: file.into(),
            recipe: recipe.into(),
            mode: mode.into(),
            duration_ms: 10,
            budget: None,
            environments: names.iter().map(|n| env(n, "succeeded", 5)).collect(),
        }
    }

    #[test]
    fn merge_sorts_and_recomputes_totals() {
        let merged = merge(vec![
            input("a.json", "r", "apply", &["env-10", "env-1"]),
            input("b.json", "r", "apply", &["env-2"]),
        ])
        .unwrap();
        let names: Vec<&str> = merged.environments.iter().map(environment_name).collect();
        assert_eq!(names, ["env-1", "env-2", "env-10"]);
        assert_eq!(merged.requests, 15);
        assert_eq!(merged.changes, 3, "failed writes are not changes made");
        assert_eq!(merged.status, Status::Succeeded);
        assert_eq!(merged.merged_from.len(), 2);
    }

    #[test]
    fn a_failed_environment_fails_the_merged_report() {
        let mut b = input("b.json", "r", "plan", &[]);
        b.environments.push(env("env-3", "failed", 0));
        let merged = merge(vec![input("a.json", "r", "plan", &["env-1"]), b]).unwrap();
        assert_eq!((merged.status, merged.failed), (Status::Failed, 1));
    }

    #[test]
    fn merge_refuses_mixed_recipes_modes_and_repeats_naming_the_files() {
        let error = merge(vec![
            input("a.json", "one", "apply", &["env-1"]),
            input("b.json", "two", "apply", &["env-2"]),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("a.json") && error.contains("b.json") && error.contains("recipe"));
        let error = merge(vec![
            input("a.json", "r", "apply", &["env-1"]),
            input("b.json", "r", "plan", &["env-2"]),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("mode") && error.contains("b.json"),
            "{error}"
        );
        let error = merge(vec![
            input("a.json", "r", "apply", &["env-1", "env-2"]),
            input("b.json", "r", "apply", &["env-2"]),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("env-2 is in both a.json and b.json"),
            "{error}"
        );
        assert!(merge(Vec::new()).is_err());
    }

    #[test]
    fn single_environment_reports_count_as_one_environment() {
        let parsed = parse_input(Path::new("one.json"), env("env-4", "succeeded", 8)).unwrap();
        assert_eq!(parsed.environments.len(), 1);
        assert_eq!(
            (parsed.recipe.as_str(), parsed.mode.as_str()),
            ("authorize-worker", "apply")
        );
        let error = parse_input(Path::new("x.json"), json!({"hello": 1}))
            .unwrap_err()
            .to_string();
        assert!(error.contains("x.json is not a p1run report"), "{error}");
    }
}
