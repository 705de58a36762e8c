//! `p1run doctor`: is each configured environment ready for a run, and which bundled recipes
//! may its worker run?
//!
//! Checks, in order, each only when the one before passed (a token request without a secret
//! says nothing new): the config (defaults applied, placeholders filled, hosts valid), the
//! secret source, the token request (the auth host is reachable and takes the secret), the
//! management API host (`GET /roles`), the acting worker's own role assignments, and then a
//! plan of every bundled recipe.
//!
//! The recipe check is each recipe's real plan pass (`run::run` in [`Mode::Plan`], reads only,
//! the environment's own vars applied), because that is exactly what `apply` checks before its
//! first write: the pre-flight judges the grants the recipe would make with the worker's real
//! assignments, and a static list of the roles each recipe grants would drift from the scripts
//! (their grants depend on params and on what already exists). A recipe the worker may not run
//! is a warning, not a failure: a worker kept to least privilege is meant to be refused some.
//! A recipe that cannot plan for another reason (`rotate-worker-secret` with no worker to
//! rotate) is shown as such, also without failing.
//!
//! Nothing here prints a secret: the secret stays a [`crate::secret::Secret`], and the
//! messages are the client's, which never carry it.

use crate::client::{Credentials, RetryPolicy};
use crate::config::{Config, Resolved, SecretSource, Target, others_can_read};
use crate::error::Error;
use crate::host::Mode;
use crate::recipes;
use crate::run::{self, Destination, RunRequest, Script, Shared};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Passed.
    Ok,
    /// Passed, with something to look at.
    Warn,
    /// Failed: the environment is not ready; `doctor` exits 1.
    Fail,
    /// Not run, because an earlier check failed.
    Skipped,
}

impl CheckStatus {
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
            Self::Skipped => "skipped",
        }
    }
}

/// One check of one environment.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `config`, `secret`, `token`, `api`, `roles` or `recipes`.
    pub check: &'static str,
    /// How it came out.
    pub status: CheckStatus,
    /// What was found, or what failed and what to do.
    pub detail: String,
}

/// What a bundled recipe's plan said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipeStatus {
    /// Its plan passed the pre-flight: `apply` would be accepted.
    Ready,
    /// The pre-flight refused its grants: the worker lacks a role.
    Refused,
    /// It failed to plan for another reason (e.g. nothing to rotate).
    CannotPlan,
}

/// One bundled recipe in one environment.
#[derive(Debug, Clone, Serialize)]
pub struct RecipeCheck {
    /// The recipe name.
    pub recipe: &'static str,
    /// What its plan said.
    pub status: RecipeStatus,
    /// Changes pending, or why it was refused or could not plan.
    pub detail: String,
}

/// Every check of one environment.
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentReport {
    /// Its config name.
    pub environment: String,
    /// `passed` or `failed`.
    pub status: &'static str,
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// The bundled recipes (empty when the checks before them failed).
    pub recipes: Vec<RecipeCheck>,
}

/// The whole `doctor` document (`--output json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `passed` or `failed`.
    pub status: &'static str,
    /// The config file checked.
    pub config: String,
    /// One per environment, in name order.
    pub environments: Vec<EnvironmentReport>,
}

impl Report {
    /// True when any check failed.
    pub fn failed(&self) -> bool {
        self.status == "failed"
    }

    /// The report as a table, for a terminal or a log.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for env in &self.environments {
            text.push_str(&format!("{}\n", env.environment));
            for check in &env.checks {
                let mut lines = check.detail.lines();
                text.push_str(&format!(
                    "  {:<7}  {:<7}  {}\n",
                    check.status.label(),
                    check.check,
                    lines.next().unwrap_or_default()
                ));
                for line in lines {
                    text.push_str(&format!("{:20}{line}\n", ""));
                }
            }
            for recipe in &env.recipes {
                let status = match recipe.status {
                    RecipeStatus::Ready => "ready",
                    RecipeStatus::Refused => "refused",
                    RecipeStatus::CannotPlan => "n/a",
                };
                let mut lines = recipe.detail.lines();
                text.push_str(&format!(
                    "{:20}{status:<8} {:<30} {}\n",
                    "",
                    recipe.recipe,
                    lines.next().unwrap_or_default()
                ));
                for line in lines {
                    text.push_str(&format!("{:59}{line}\n", ""));
                }
            }
        }
        let failed: Vec<String> = self
            .environments
            .iter()
            .filter(|env| env.status == "failed")
            .map(|env| {
                let checks: Vec<&str> = env
                    .checks
                    .iter()
                    .filter(|c| c.status == CheckStatus::Fail)
                    .map(|c| c.check)
                    .collect();
                format!("{} ({})", env.environment, checks.join(", "))
            })
            .collect();
        let count = self.environments.len();
        let plural = if count == 1 { "" } else { "s" };
        if failed.is_empty() {
            text.push_str(&format!(
                "doctor: {count} environment{plural} checked, all ready\n"
            ));
        } else {
            text.push_str(&format!(
                "doctor: {count} environment{plural} checked, {} not ready: {}\n",
                failed.len(),
                failed.join(", ")
            ));
        }
        text
    }
}

/// The longest a `doctor` request retries: a host that is down should be reported in seconds,
/// not after a run's full retry deadline.
const DEADLINE: Duration = Duration::from_secs(10);

/// `p1run doctor`: the environments `--env`, `--group` and `--all` pick (every one when none
/// is given), checked.
pub fn run(
    config: &Config,
    envs: &[String],
    groups: &[String],
    all: bool,
) -> Result<Report, Error> {
    let every = envs.is_empty() && groups.is_empty();
    let names = config.select(envs, groups, all || every)?;
    if names.is_empty() {
        return Err(Error::Config {
            path: config.path.clone(),
            message: "configures no environment; add an [environments.NAME] table, or write \
                      a new file with `p1run init`"
                .into(),
        });
    }
    diagnose(config, &names)
}

/// Checks the named environments of `config`, one after another.
pub fn diagnose(config: &Config, names: &[String]) -> Result<Report, Error> {
    let shared = Shared::new(Some(crate::fleet::BudgetPolicy::new(&config.fleet, None)))?;
    let mut retry = config.retry.policy();
    retry.deadline = retry.deadline.min(DEADLINE);
    let environments: Vec<EnvironmentReport> = names
        .iter()
        .map(|name| {
            Doctor {
                config,
                shared: &shared,
                retry: &retry,
            }
            .environment(name)
        })
        .collect();
    let failed = environments.iter().any(|env| env.status == "failed");
    Ok(Report {
        status: if failed { "failed" } else { "passed" },
        config: config.path.display().to_string(),
        environments,
    })
}

struct Doctor<'a> {
    config: &'a Config,
    shared: &'a Shared,
    retry: &'a RetryPolicy,
}

/// The checks of one environment so far.
#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn push(&mut self, check: &'static str, status: CheckStatus, detail: impl Into<String>) {
        self.0.push(Check {
            check,
            status,
            detail: detail.into(),
        });
    }

    /// Records a failure and marks every later check skipped.
    fn fail(mut self, name: &str, check: &'static str, detail: String) -> EnvironmentReport {
        self.push(check, CheckStatus::Fail, detail);
        let later = ["config", "secret", "token", "api", "roles", "recipes"]
            .into_iter()
            .skip_while(|c| *c != check)
            .skip(1);
        for later in later {
            self.push(later, CheckStatus::Skipped, format!("needs `{check}`"));
        }
        EnvironmentReport {
            environment: name.to_owned(),
            status: "failed",
            checks: self.0,
            recipes: Vec::new(),
        }
    }
}

impl Doctor<'_> {
    fn environment(&self, name: &str) -> EnvironmentReport {
        let mut checks = Checks::default();
        let resolved = match self.config.resolve(name) {
            Ok(resolved) => resolved,
            Err(error) => return checks.fail(name, "config", error.to_string()),
        };
        checks.push(
            "config",
            CheckStatus::Ok,
            format!(
                "environment {}, worker {} (in environment {}), {}",
                resolved.environment_id,
                resolved.client_id,
                resolved.worker_environment_id,
                resolved.auth_method
            ),
        );
        let secret = match self.config.secret_value(name, &resolved.secret_source) {
            Ok(secret) => secret,
            Err(error) => return checks.fail(name, "secret", error.to_string()),
        };
        match &resolved.secret_source {
            SecretSource::Env(var) => {
                checks.push("secret", CheckStatus::Ok, format!("${var} is set"));
            }
            SecretSource::File(file) => match others_can_read(name, file) {
                Some(warning) => checks.push("secret", CheckStatus::Warn, warning),
                None => checks.push(
                    "secret",
                    CheckStatus::Ok,
                    format!("{} is readable by its owner only", file.display()),
                ),
            },
        }
        let target = target(&resolved, secret);
        let client = match self.shared.client(&target, self.retry.clone()) {
            Ok(client) => client,
            Err(error) => return checks.fail(name, "token", error.to_string()),
        };
        let runtime = self.shared.runtime();
        let auth = target.endpoints.auth_url.as_str().trim_end_matches('/');
        match runtime.block_on(client.check_token()) {
            Ok(()) => checks.push(
                "token",
                CheckStatus::Ok,
                format!(
                    "{auth}/{}/as/token issued a token to worker {}",
                    target.credentials.environment_id, target.credentials.client_id
                ),
            ),
            Err(error) => return checks.fail(name, "token", error.to_string()),
        }
        let roles = match runtime.block_on(client.roles()) {
            Ok(roles) => roles,
            Err(error) => return checks.fail(name, "api", error.to_string()),
        };
        checks.push(
            "api",
            CheckStatus::Ok,
            format!(
                "{}/roles answered ({} roles)",
                target.endpoints.api_url.as_str().trim_end_matches('/'),
                roles.len()
            ),
        );
        let names: BTreeMap<&str, &str> = roles
            .iter()
            .map(|role| (role.id.as_str(), role.name.as_str()))
            .collect();
        let held = runtime.block_on(client.role_assignments(
            &target.credentials.environment_id,
            &target.credentials.client_id,
        ));
        match held {
            Ok(held) if held.is_empty() => checks.push(
                "roles",
                CheckStatus::Warn,
                "the worker holds no roles: it can read and change nothing; grant it a role \
                 (e.g. Environment Admin) in the PingOne console",
            ),
            Ok(held) => {
                let list: Vec<String> = held
                    .iter()
                    .map(|a| {
                        let role = names.get(a.role.id.as_str()).copied().unwrap_or(&a.role.id);
                        format!("{role} at {} {}", a.scope.kind, a.scope.id)
                    })
                    .collect();
                checks.push(
                    "roles",
                    CheckStatus::Ok,
                    format!("the worker holds: {}", list.join("; ")),
                );
            }
            // PingOne lets a worker grant what it may not read about itself; the pre-flight
            // then leaves the judgement to PingOne, so this is worth knowing, not fatal.
            Err(error) if matches!(error.status(), Some(403 | 404)) => checks.push(
                "roles",
                CheckStatus::Warn,
                format!(
                    "the worker may not read its own role assignments ({}); runs cannot check \
                     grants before sending them",
                    error.status().unwrap_or_default()
                ),
            ),
            Err(error) => return checks.fail(name, "roles", error.to_string()),
        }
        let recipes = self.recipes(&target);
        let ready = recipes
            .iter()
            .filter(|r| r.status == RecipeStatus::Ready)
            .count();
        let refused = recipes
            .iter()
            .filter(|r| r.status == RecipeStatus::Refused)
            .count();
        checks.push(
            "recipes",
            if refused == 0 {
                CheckStatus::Ok
            } else {
                CheckStatus::Warn
            },
            format!(
                "{ready} of {} bundled recipes would pass pre-flight{}{}",
                recipes.len(),
                if refused == 0 {
                    String::new()
                } else {
                    format!("; {refused} refused (the worker lacks a role they grant)")
                },
                match recipes.len() - ready - refused {
                    0 => String::new(),
                    other => format!("; {other} cannot plan here (see why below)"),
                }
            ),
        );
        EnvironmentReport {
            environment: name.to_owned(),
            status: "passed",
            checks: checks.0,
            recipes,
        }
    }

    /// Plans every bundled recipe (reads only) and reads the pre-flight's verdict.
    fn recipes(&self, target: &Target) -> Vec<RecipeCheck> {
        let limits = self.config.limits.clone();
        recipes::RECIPES
            .iter()
            .map(|recipe| {
                let (status, detail) = match Script::resolve(recipe.name) {
                    Ok(script) => {
                        let request = RunRequest {
                            script: &script,
                            vars: BTreeMap::new(),
                            mode: Mode::Plan,
                            limits: &limits,
                            retry: self.retry.clone(),
                            saved_plan: None,
                            rollback_on_failure: false,
                            // The recipes' own prints are not doctor's output.
                            quiet: true,
                            label_prints: false,
                        };
                        let destination = Destination::Remote(Box::new(target.clone()));
                        match run::run(&request, destination, self.shared) {
                            Ok(result) => match &result.error {
                                None => (
                                    RecipeStatus::Ready,
                                    match result.outcome.changes.len() {
                                        0 => "nothing to change".to_owned(),
                                        1 => "1 change to make".to_owned(),
                                        n => format!("{n} changes to make"),
                                    },
                                ),
                                Some(error) if error.message.starts_with("pre-flight:") => {
                                    (RecipeStatus::Refused, error.message.clone())
                                }
                                Some(error) => (RecipeStatus::CannotPlan, error.message.clone()),
                            },
                            Err(error) => (RecipeStatus::CannotPlan, error.to_string()),
                        }
                    }
                    Err(error) => (RecipeStatus::CannotPlan, error.to_string()),
                };
                RecipeCheck {
                    recipe: recipe.name,
                    status,
                    detail,
                }
            })
            .collect()
    }
}

fn target(resolved: &Resolved, secret: crate::secret::Secret) -> Target {
    Target {
        name: resolved.name.clone(),
        environment_id: resolved.environment_id.clone(),
        endpoints: resolved.endpoints.clone(),
        credentials: Credentials {
            client_id: resolved.client_id.clone(),
            client_secret: secret,
            environment_id: resolved.worker_environment_id.clone(),
            auth_method: resolved.auth_method,
        },
        license: resolved.license.clone(),
        vars: resolved.vars.clone(),
    }
}
