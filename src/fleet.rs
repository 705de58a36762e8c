//! Fleet runs: one recipe across many environments, `-j` at a time. Each environment runs its
//! own script instance on its own thread (the Rhai engine blocks on the shared runtime per API
//! call), so one failing environment never stops or corrupts the others.

use crate::config::{Config, FleetSettings, ShardBudget};
use crate::error::Error;
use crate::report::{Report, RunOutcome, Status, natural_cmp};
use crate::run::{self, Destination, RunRequest, RunResult, Shared};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `--shard I/N`: this CI job's share of a fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based index of this shard.
    pub index: usize,
    /// How many shards there are.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("expected I/N with 1 <= I <= N, e.g. 2/4; got {text:?}");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = index.trim().parse().map_err(|_| bad())?;
        let count: usize = count.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl Shard {
    /// The names this shard takes from a sorted list: every N-th, starting at the I-th, so that
    /// shards stay balanced and every name lands in exactly one.
    pub fn take(self, names: Vec<String>) -> Vec<String> {
        names
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index - 1)
            .map(|(_, n)| n)
            .collect()
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Serialize for Shard {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// How much of each license's request budget this process may send: the license's
/// `requests_per_second`, times `1/N` for shard I/N under `shard_budget = "split"`, capped at
/// `address_share` of it when the target is PingOne (one machine is one IP address to
/// PingOne). Stated at `-v` and in the fleet report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetPolicy {
    /// `[fleet] requests_per_second`: what every process together may send per license.
    pub requests_per_second: u32,
    /// This process's `--shard`, if any.
    pub shard: Option<Shard>,
    /// `[fleet] shard_budget`.
    pub shard_budget: ShardBudget,
    /// `[fleet] address_share`.
    pub address_share: f64,
}

impl BudgetPolicy {
    /// The policy of `[fleet]` for this process's shard.
    pub fn new(settings: &FleetSettings, shard: Option<Shard>) -> Self {
        Self {
            requests_per_second: settings.requests_per_second,
            shard,
            shard_budget: settings.shard_budget,
            address_share: settings.address_share,
        }
    }

    /// This process's share of the license budget before the per-address cap.
    fn shard_share(&self) -> f64 {
        match (self.shard, self.shard_budget) {
            (Some(shard), ShardBudget::Split) => 1.0 / shard.count as f64,
            _ => 1.0,
        }
    }

    /// This process's fraction of one license's budget. `pingone` is false for an API on
    /// loopback (an emulator): PingOne's per-address limit is PingOne's, and lifting it there
    /// keeps test and bench runs as fast as they were; the license budget and the shard split
    /// still apply, so an emulator's `--rate-limit` still sees what PingOne would.
    pub fn share(&self, pingone: bool) -> f64 {
        let shard = self.shard_share();
        if pingone {
            shard.min(self.address_share)
        } else {
            shard
        }
    }

    /// Requests a second this process may send on one license.
    pub fn per_second(&self, pingone: bool) -> f64 {
        f64::from(self.requests_per_second) * self.share(pingone)
    }

    /// One line saying what this process may send on `license`, and why.
    pub fn describe(&self, license: &str, pingone: bool) -> String {
        let mut why = Vec::new();
        match (self.shard, self.shard_budget) {
            (Some(shard), ShardBudget::Split) => why.push(format!(
                "1/{} for shard {shard} ([fleet] shard_budget = \"split\")",
                shard.count
            )),
            (Some(shard), ShardBudget::Full) => why.push(format!(
                "the whole budget for shard {shard} ([fleet] shard_budget = \"full\")"
            )),
            (None, _) => {}
        }
        if pingone && self.address_share < self.shard_share() {
            why.push(format!(
                "capped at {}% per address ([fleet] address_share = {})",
                self.address_share * 100.0,
                self.address_share
            ));
        } else if !pingone && self.address_share < self.shard_share() {
            why.push("no per-address cap: the API is on loopback (an emulator)".to_owned());
        }
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(": {}", why.join(", "))
        };
        format!(
            "request budget of license {}: {:.2} requests/s of [fleet] requests_per_second = {}{why}",
            license_label(license),
            self.per_second(pingone),
            self.requests_per_second
        )
    }
}

/// How reports and logs name a license: environments without `license` share one, `default`.
pub fn license_label(license: &str) -> &str {
    if license.is_empty() {
        "default"
    } else {
        license
    }
}

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
    results.sort_by(|a, b| natural_cmp(&a.name, &b.name));
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

    fn policy(shard: Option<&str>, shard_budget: ShardBudget) -> BudgetPolicy {
        BudgetPolicy::new(
            &FleetSettings {
                shard_budget,
                ..FleetSettings::default()
            },
            shard.map(|s| s.parse().unwrap()),
        )
    }

    #[test]
    fn shards_split_the_license_budget_and_one_address_never_exceeds_its_share() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // One process against PingOne: 35% of 8/s, under PingOne's 35% of 10/s per address.
        let alone = policy(None, ShardBudget::Split);
        assert!(close(alone.per_second(true), 2.8));
        // Against an emulator on loopback: the whole budget, as before.
        assert!(close(alone.per_second(false), 8.0));
        // Three shards: a third each, everywhere; together the license budget.
        let third = policy(Some("2/3"), ShardBudget::Split);
        assert!(close(third.per_second(false), 8.0 / 3.0));
        assert!(close(third.per_second(true), 8.0 / 3.0));
        // Two shards: half would break the per-address share against PingOne.
        let half = policy(Some("1/2"), ShardBudget::Split);
        assert!(close(half.per_second(false), 4.0));
        assert!(close(half.per_second(true), 2.8));
        // "full": every shard the whole budget, still capped per address.
        let full = policy(Some("1/3"), ShardBudget::Full);
        assert!(close(full.per_second(false), 8.0));
        assert!(close(full.per_second(true), 2.8));
        let said = third.describe("", false);
        assert!(
            said.contains("license default: 2.67 requests/s")
                && said.contains("1/3 for shard 2/3")
                && said.contains("shard_budget = \"split\""),
            "{said}"
        );
        assert!(
            alone
                .describe("prod", true)
                .contains("capped at 35% per address")
        );
    }
}
