//! What a run tells its user: a readable summary on a terminal, or one JSON document
//! `{recipe, environment, status, changes, outputs, requests, duration_ms}`.

pub use crate::writes::Compensation;
use crate::writes::{Change, JournalEntry};
use serde::Serialize;
use std::fmt::Write as _;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
