//! What a run tells its user: a readable summary on a terminal, or one JSON document
//! `{recipe, environment, status, changes, outputs, requests, duration_ms}`.

use crate::host::Change;
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

    /// For a failed run: what it had changed already, and that a rerun continues from there.
    pub fn partial_changes_note(&self) -> Option<String> {
        if self.status != Status::Failed || self.changes.is_empty() {
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
