//! Fleet runs: one recipe across many environments, `-j` at a time. Each environment runs its
//! own script instance on its own thread (the Rhai engine blocks on the shared runtime per API
//! call), so one failing environment never stops or corrupts the others.

pub use crate::budget::{BudgetPolicy, Shard, license_label};
use crate::config::Config;
use crate::error::Error;
use crate::report::{Report, RunOutcome, Status};
use crate::run::{self, Destination, RunRequest, RunResult, Shared};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One environment's result.
pub struct EnvironmentResult {
    /// Its config name.
    pub name: String,
    /// The run, or why it could not start.
    pub result: Result<RunResult, Error>,
}

impl EnvironmentResult {
    /// The outcome, also for a run that could not start.
    pub fn outcome(&self, recipe: &str) -> RunOutcome {
        match &self.result {
            Ok(result) => result.outcome.clone(),
            Err(error) => RunOutcome {
                recipe: recipe.to_owned(),
                environment: self.name.clone(),
                status: Status::Failed,
                changes: Vec::new(),
                outputs: serde_json::Value::Null,
                requests: 0,
                duration_ms: 0,
                compensations: Vec::new(),
                error: Some(error.to_string()),
            },
        }
    }

    /// Its entry in the fleet report: a [`Report`], also for a run that could not start.
    pub fn report(&self, recipe: &str, planning: bool) -> serde_json::Value {
        match &self.result {
            Ok(result) => serde_json::to_value(Report::new(
                &result.outcome,
                &result.journal,
                &result.environment_id,
                planning,
            ))
            .unwrap_or_default(),
            Err(error) => serde_json::json!({
                "p1run_report": 1, "mode": if planning { "plan" } else { "apply" },
                "recipe": recipe, "environment": self.name, "status": "failed",
                "duration_ms": 0, "requests": 0, "changes": [], "compensations": [],
                "error": error.to_string(),
            }),
        }
    }

    /// True when the environment failed.
    pub fn failed(&self) -> bool {
        self.result.as_ref().map_or(true, |r| r.error.is_some())
    }
}

/// Runs the request in every named environment, `jobs` at a time; results in natural name
/// order (`env-2` before `env-10`), the order of merged shard reports too.
pub fn run(
    request: &RunRequest<'_>,
    names: &[String],
    config: &Config,
    shared: &Shared,
    jobs: usize,
) -> Vec<EnvironmentResult> {
    run_streaming(request, names, config, shared, jobs, &|_| {})
}

/// [`run`], telling `finished` about each environment as soon as it ends (`--output ndjson`).
pub fn run_streaming(
    request: &RunRequest<'_>,
    names: &[String],
    config: &Config,
    shared: &Shared,
    jobs: usize,
    finished: &(dyn Fn(&EnvironmentResult) + Sync),
) -> Vec<EnvironmentResult> {
    let progress = std::sync::Arc::new(Progress::new(names.len()));
    let listener = progress.clone();
    shared.on_step(std::sync::Arc::new(move |name: &str, step: &str| {
        listener.step(name, step)
    }));
    // Script prints go above the progress bar, not through it.
    let printer = progress.clone();
    shared.on_print(std::sync::Arc::new(move |line: &str| printer.print(line)));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<EnvironmentResult>>> =
        Mutex::new((0..names.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, names.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(name) = names.get(index) else { break };
                    progress.started(name);
                    let result = if crate::interrupt::requested() {
                        Err(Error::Usage(
                            "not started: the fleet was interrupted (Ctrl-C)".into(),
                        ))
                    } else {
                        // A bug in one environment's run must not take the others down.
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            config.target(name).and_then(|target| {
                                run::run(request, Destination::Remote(Box::new(target)), shared)
                            })
                        }))
                        .unwrap_or_else(|_| {
                            Err(Error::Usage(format!(
                                "internal error while running {name}; please report it"
                            )))
                        })
                    };
                    let environment = EnvironmentResult {
                        name: name.clone(),
                        result,
                    };
                    progress.finished(&environment);
                    finished(&environment);
                    crate::host::session::lock(&results)[index] = Some(environment);
                }
            });
        }
    });
    progress.done();
    let mut results: Vec<EnvironmentResult> = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect();
    results.sort_by(|a, b| crate::suggest::natural_cmp(&a.name, &b.name));
    results
}

/// The fleet report's `budget`: the policy, and the requests a second each license used got.
pub fn budget_report(shared: &Shared) -> Option<serde_json::Value> {
    let mut value = serde_json::to_value(shared.budget_policy()?).ok()?;
    let per_second: serde_json::Map<String, serde_json::Value> = shared
        .budget_rates()
        .into_iter()
        // Two decimals say it; more would be noise from 1/N.
        .map(|(license, rate)| {
            (
                license_label(&license).to_owned(),
                ((rate * 100.0).round() / 100.0).into(),
            )
        })
        .collect();
    value["per_second"] = per_second.into();
    Some(value)
}

/// Live progress on a terminal (done/failed/running and what is running); plain log lines on
/// stderr otherwise, as CI logs want.
struct Progress {
    bar: Option<ProgressBar>,
    /// (failed so far, running environments with their current step)
    state: Mutex<(usize, Vec<(String, String)>)>,
    started: Instant,
}

impl Progress {
    fn new(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} done, {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            state: Mutex::new((0, Vec::new())),
            started: Instant::now(),
        }
    }

    fn started(&self, name: &str) {
        let mut state = crate::host::session::lock(&self.state);
        state.1.push((name.to_owned(), "starting".to_owned()));
        self.redraw(&state);
    }

    fn step(&self, name: &str, step: &str) {
        let mut state = crate::host::session::lock(&self.state);
        if let Some(running) = state.1.iter_mut().find(|(running, _)| running == name) {
            step.clone_into(&mut running.1);
        }
        self.redraw(&state);
    }

    fn finished(&self, environment: &EnvironmentResult) {
        let mut state = crate::host::session::lock(&self.state);
        state.1.retain(|(name, _)| name != &environment.name);
        if environment.failed() {
            state.0 += 1;
        }
        let line = match &environment.result {
            Ok(result) if result.error.is_none() => {
                format!(
                    "{}: {} ({} changes, {} requests)",
                    environment.name,
                    status_word(result.outcome.status),
                    result.outcome.changes.len(),
                    result.outcome.requests
                )
            }
            Ok(result) => format!(
                "{}: failed: {}",
                environment.name,
                first_line(result.outcome.error.as_deref().unwrap_or_default())
            ),
            Err(error) => format!(
                "{}: failed: {}",
                environment.name,
                first_line(&error.to_string())
            ),
        };
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                if environment.failed() {
                    bar.println(line);
                }
                self.redraw(&state);
            }
            None => eprintln!("[{:>6.1}s] {line}", self.started.elapsed().as_secs_f64()),
        }
    }

    fn print(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn redraw(&self, state: &(usize, Vec<(String, String)>)) {
        if let Some(bar) = &self.bar {
            let running = state
                .1
                .iter()
                .take(3)
                .map(|(name, step)| format!("{name} {step}"))
                .collect::<Vec<_>>()
                .join(", ");
            let more = state.1.len().saturating_sub(3);
            let more = if more > 0 {
                format!(" +{more}")
            } else {
                String::new()
            };
            bar.set_message(format!(
                "{} failed, {} running: {running}{more}",
                state.0,
                state.1.len()
            ));
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Succeeded => "done",
        Status::Planned => "planned",
        Status::Failed => "failed",
        Status::RolledBack => "rolled back",
        Status::Interrupted => "interrupted",
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The JSON document of a fleet run: one entry per environment.
#[derive(Debug, Serialize)]
pub struct FleetOutcome {
    /// Recipe name or script path.
    pub recipe: String,
    /// `succeeded` when every environment did, else `failed`; `planned` for plans.
    pub status: Status,
    /// One entry per environment, in name order.
    pub environments: Vec<RunOutcome>,
    /// Requests sent, all environments together.
    pub requests: u64,
    /// Wall time.
    pub duration_ms: u64,
}

impl FleetOutcome {
    /// The summary of a fleet run.
    pub fn new(
        recipe: &str,
        results: &[EnvironmentResult],
        planning: bool,
        duration: Duration,
    ) -> Self {
        let environments: Vec<RunOutcome> = results.iter().map(|r| r.outcome(recipe)).collect();
        let failed = results.iter().any(EnvironmentResult::failed);
        Self {
            recipe: recipe.to_owned(),
            status: match (failed, planning) {
                (true, _) => Status::Failed,
                (false, true) => Status::Planned,
                (false, false) => Status::Succeeded,
            },
            requests: environments.iter().map(|o| o.requests).sum(),
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            environments,
        }
    }

    /// The readable summary: each environment with its changes (deletions first, marked), then
    /// the totals.
    pub fn to_text(&self) -> String {
        let width = self
            .environments
            .iter()
            .map(|o| o.environment.len())
            .max()
            .unwrap_or(0);
        let mut text = format!(
            "{} on {} environments\n",
            self.recipe,
            self.environments.len()
        );
        for outcome in &self.environments {
            let what = match outcome.status {
                Status::Failed | Status::RolledBack | Status::Interrupted => {
                    first_line(outcome.error.as_deref().unwrap_or_default()).to_owned()
                }
                _ if outcome.changes.is_empty() => "no changes".to_owned(),
                _ => {
                    let count = |symbol| {
                        outcome
                            .changes
                            .iter()
                            .filter(|c| c.symbol() == symbol)
                            .count()
                    };
                    let (add, change, remove) = (count('+'), count('~'), count('-'));
                    format!(
                        "{} changes (+{add} ~{change} -{remove})",
                        outcome.changes.len()
                    )
                }
            };
            text.push_str(&format!(
                "{:<width$}  {:<11}  {what}\n",
                outcome.environment,
                status_word(outcome.status)
            ));
            text.push_str(&change_lines(outcome));
        }
        let failed = self
            .environments
            .iter()
            .filter(|o| {
                matches!(
                    o.status,
                    Status::Failed | Status::RolledBack | Status::Interrupted
                )
            })
            .count();
        let changes: usize = self.environments.iter().map(|o| o.changes.len()).sum();
        text.push_str(&format!(
            "{} ok, {failed} failed; {changes} changes, {} requests, {} ms\n",
            self.environments.len() - failed,
            self.requests,
            self.duration_ms
        ));
        text
    }
}

/// One environment's changes, one a line: deletions (and revocations) first, marked, since
/// they are what a reviewer must not miss in a long fleet plan; then the rest in order.
fn change_lines(outcome: &RunOutcome) -> String {
    let planned = outcome.status == Status::Planned;
    let (removals, others): (Vec<_>, Vec<_>) = outcome
        .changes
        .iter()
        .partition(|change| change.symbol() == '-');
    let mut text = String::new();
    for change in removals.into_iter().chain(others) {
        let marker = if change.symbol() == '-' {
            "  (deletion)"
        } else {
            ""
        };
        let id = if planned {
            String::new()
        } else {
            format!("  [{}]", change.id)
        };
        text.push_str(&format!(
            "  {} {}{id}{marker}\n",
            change.symbol(),
            change.detail
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_a_sorted_fleet() {
        let names: Vec<String> = (1..=7).map(|i| format!("env-{i}")).collect();
        let shards: Vec<Vec<String>> = (1..=3)
            .map(|i| Shard { index: i, count: 3 }.take(names.clone()))
            .collect();
        assert_eq!(shards[0], ["env-1", "env-4", "env-7"]);
        assert_eq!(shards.iter().map(Vec::len).sum::<usize>(), 7);
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
    }
}
