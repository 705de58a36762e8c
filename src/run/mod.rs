//! Running a recipe against one environment: resolve the target, start the embedded emulator
//! when the target is `local`, then plan, check (pre-flight, saved plan), apply (see
//! [`crate::host::session`] for why every apply is a plan first), and roll back on request.
//!
//! By concern: [`script`] (the script and the saved plan), [`target`] (where a run goes),
//! [`shared`] (what a fleet's runs share), [`preflight`] (would PingOne accept the plan).

pub mod preflight;
pub mod script;
pub mod shared;
pub mod target;

pub use script::{SavedPlan, Script};
pub use shared::{PrintListener, Shared, StepListener, runtime};
pub use target::{Destination, destination};

use crate::client::{Client, ClientError, RetryPolicy, ScopeRef, ScopeType, paths};
use crate::config::{Limits, Target};
use crate::emulator::{Emulator, EmulatorOptions};
use crate::error::{Error, ScriptError};
use crate::host::session::{Printer, Reads, lock};
use crate::host::{Mode, Session};
use crate::report::{RunOutcome, Status};
use crate::writes::{Change, JournalEntry, Write, elapsed_ms, roll_back};
use shared::{ActorCell, RolesCell};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Everything one run needs besides its destination.
pub struct RunRequest<'a> {
    /// The script.
    pub script: &'a Script,
    /// `--var-file` and `--var` values; they go over the target's config vars
    /// ([`Target::vars`]), except for a saved plan, which carries all it ran with.
    pub vars: BTreeMap<String, String>,
    /// Apply or plan.
    pub mode: Mode,
    /// Script limits.
    pub limits: &'a Limits,
    /// Retry timing.
    pub retry: RetryPolicy,
    /// `apply --plan`: the writes the run must make, exactly.
    pub saved_plan: Option<&'a SavedPlan>,
    /// `apply --rollback-on-failure`.
    pub rollback_on_failure: bool,
    /// `--quiet`: no script `print()`/`debug()` output.
    pub quiet: bool,
    /// Prefix script output with the environment's name (fleets).
    pub label_prints: bool,
}

/// What one run did: the outcome, the script error if any, the journal for the report.
pub struct RunResult {
    /// Summary for stdout and the report.
    pub outcome: RunOutcome,
    /// The script's error, rendered.
    pub error: Option<ScriptError>,
    /// Every write the apply pass sent, with its request and result.
    pub journal: Vec<JournalEntry>,
    /// The planned writes (a plan), for `plan --out`.
    pub planned: Vec<Write>,
    /// The target environment id.
    pub environment_id: String,
    /// The files the script imported from beside it, by import path (saved with a plan).
    pub imports: BTreeMap<String, String>,
    /// The params the run saw: the target's config vars under the request's (saved with a
    /// plan, so that `apply --plan` runs with exactly these).
    pub vars: BTreeMap<String, String>,
}

/// Runs the script against the destination. An `Err` means the run could not start; a
/// failure of the script itself is an `Ok` result with status `failed` and its error, so
/// that what was changed before the failure is still reported.
pub fn run(
    request: &RunRequest<'_>,
    destination: Destination,
    shared: &Shared,
) -> Result<RunResult, Error> {
    let started = Instant::now();
    // Kept alive for the whole run when the target is local.
    let mut embedded = None;
    let target = match destination {
        Destination::Remote(target) => *target,
        Destination::Local => {
            // P1RUN_LOCAL_STATE keeps the embedded emulator's state in a file, so that what a
            // local run did can be inspected afterwards (the tests serve it again over HTTP).
            let options = EmulatorOptions {
                state_file: std::env::var_os("P1RUN_LOCAL_STATE").map(PathBuf::from),
                ..EmulatorOptions::default()
            };
            let emulator = Emulator::start(options).map_err(|source| Error::Io {
                context: "starting the embedded emulator".into(),
                source,
            })?;
            let target = target::local_target(&emulator)?;
            embedded = Some(emulator);
            target
        }
    };
    if let Some(plan) = request.saved_plan
        && plan.environment_id != target.environment_id
    {
        return Err(Error::Usage(format!(
            "the plan was made for {} ({}), not {} ({})",
            plan.environment, plan.environment_id, target.name, target.environment_id
        )));
    }
    let client = shared.client_for(&target, request.retry.clone(), embedded.is_none())?;
    // Each environment's own config vars, under the command's: in a fleet every environment
    // gets its own. A saved plan carries every var it was made with, config ones included.
    let mut vars = if request.saved_plan.is_some() {
        BTreeMap::new()
    } else {
        target.vars.clone()
    };
    vars.extend(request.vars.clone());
    let runner = Runner {
        vars,
        request,
        runtime: &shared.runtime,
        client: client.clone(),
        target: &target,
        reads: Arc::new(Reads::default()),
        roles: shared.roles_cell(&target),
        actor: shared.actor_cell(&target),
        on_step: lock(&shared.on_step).clone(),
        on_print: lock(&shared.on_print).clone(),
        imports: Mutex::default(),
    };

    let mut result = runner.run_all();
    result.outcome.requests = client.requests_sent();
    result.outcome.duration_ms = elapsed_ms(started);
    Ok(result)
}

struct Runner<'a> {
    request: &'a RunRequest<'a>,
    vars: BTreeMap<String, String>,
    runtime: &'a tokio::runtime::Runtime,
    client: Client,
    target: &'a Target,
    reads: Arc<Reads>,
    roles: RolesCell,
    actor: ActorCell,
    on_step: Option<StepListener>,
    on_print: Option<PrintListener>,
    imports: Mutex<BTreeMap<String, String>>,
}

impl Runner<'_> {
    fn outcome(
        &self,
        status: Status,
        changes: Vec<Change>,
        outputs: serde_json::Value,
        error: Option<&ScriptError>,
    ) -> RunOutcome {
        RunOutcome {
            recipe: self.request.script.name.clone(),
            environment: self.target.name.clone(),
            status,
            changes,
            outputs,
            requests: 0,
            duration_ms: 0,
            compensations: Vec::new(),
            error: error.map(ToString::to_string),
        }
    }

    fn result(
        &self,
        outcome: RunOutcome,
        error: Option<ScriptError>,
        journal: Vec<JournalEntry>,
        planned: Vec<Write>,
    ) -> RunResult {
        RunResult {
            outcome,
            error,
            journal,
            planned,
            environment_id: self.target.environment_id.clone(),
            imports: lock(&self.imports).clone(),
            vars: self.vars.clone(),
        }
    }

    fn failed(
        &self,
        changes: Vec<Change>,
        error: ScriptError,
        journal: Vec<JournalEntry>,
    ) -> RunResult {
        let outcome = self.outcome(
            Status::Failed,
            changes,
            serde_json::Value::Null,
            Some(&error),
        );
        self.result(outcome, Some(error), journal, Vec::new())
    }

    fn session(&self, mode: Mode, expected: Option<Vec<Write>>) -> Arc<Session> {
        let session = Session::new(
            self.runtime.handle().clone(),
            self.client.clone(),
            self.target.environment_id.clone(),
            mode,
            self.vars.clone(),
            self.reads.clone(),
            expected,
        );
        let plan_pass_of_apply = mode == Mode::Plan && self.request.mode == Mode::Apply;
        let session = session.with_printer(Printer {
            quiet: self.request.quiet,
            label: self.request.label_prints.then(|| self.target.name.clone()),
            sink: self.on_print.clone(),
        });
        Arc::new(if plan_pass_of_apply {
            session.with_quiet_prints()
        } else {
            session
        })
    }

    /// Runs the script once in the session; the script's value or its rendered error.
    fn execute(&self, session: &Arc<Session>) -> Result<serde_json::Value, Box<ScriptError>> {
        let script = self.request.script;
        let executed = crate::host::execute(
            session,
            &crate::host::ScriptText {
                name: &script.name,
                source: &script.source,
                dir: script.dir.as_deref(),
                frozen_imports: script.imports.as_ref(),
            },
            self.request.limits,
        );
        lock(&self.imports).extend(executed.imports);
        executed.value.map_err(|mut error| {
            error.notes = script::var_origins(&error.message, &self.request.vars);
            Box::new(error)
        })
    }

    /// Reads what nearly every recipe needs in one round trip after the token: the roles, the
    /// target's applications and the acting worker's own assignments (for the pre-flight and
    /// the organization id). A failure here is left for the primitive that needs the data to
    /// report, with its script line.
    fn prefetch(&self) {
        let actor = &self.target.credentials;
        let client = &self.client;
        let (roles, applications, held) = self.runtime.block_on(async {
            // Once per region and command: every environment of a fleet sees the same roles.
            let roles = async {
                let roles = self
                    .roles
                    .get_or_try_init(|| async { client.roles().await.map(Arc::new) })
                    .await;
                roles.ok().cloned()
            };
            let held = async {
                let held = self
                    .actor
                    .get_or_try_init(|| {
                        client.role_assignments(&actor.environment_id, &actor.client_id)
                    })
                    .await;
                held.ok().cloned()
            };
            tokio::join!(
                roles,
                client.applications(&self.target.environment_id),
                held
            )
        });
        self.reads.prefetched(roles, applications.ok(), held);
    }

    fn step(&self, what: &str) {
        if let Some(listener) = &self.on_step {
            listener(&self.target.name, what);
        }
    }

    fn run_all(&self) -> RunResult {
        self.step("reading");
        self.prefetch();
        self.step("planning");
        let plan = self.session(Mode::Plan, None);
        let result = self.plan_then_apply(&plan);
        // The plan pass's prints show unless an apply pass printed them again.
        plan.release_prints();
        result
    }

    fn plan_then_apply(&self, plan: &Arc<Session>) -> RunResult {
        let outputs = match self.execute(plan) {
            Ok(outputs) => outputs,
            Err(error) => return self.failed(Vec::new(), *error, Vec::new()),
        };
        let planned = plan.writes();
        if let Some(saved) = self.request.saved_plan
            && let Some(stale) = script::stale_plan(&saved.writes, &planned)
        {
            return self.failed(Vec::new(), ScriptError::plain(stale), Vec::new());
        }
        // In `plan` too: a plan that exits 2 must mean that apply's writes will be accepted.
        if let Err(message) = self.preflight(&planned, plan) {
            return self.failed(Vec::new(), ScriptError::plain(message), Vec::new());
        }
        if self.request.mode == Mode::Plan {
            let outcome = self.outcome(Status::Planned, plan.changes(), outputs, None);
            return self.result(outcome, None, Vec::new(), planned);
        }
        if planned.is_empty() {
            let outcome = self.outcome(Status::Succeeded, Vec::new(), outputs, None);
            return self.result(outcome, None, Vec::new(), planned);
        }
        plan.discard_prints();
        self.step("applying");
        let apply = self.session(Mode::Apply, Some(planned));
        match self.execute(&apply) {
            Ok(outputs) => {
                let outcome = self.outcome(Status::Succeeded, apply.changes(), outputs, None);
                self.result(outcome, None, apply.journal(), Vec::new())
            }
            Err(error) => {
                let journal = apply.journal();
                let mut result = self.failed(apply.changes(), *error, journal.clone());
                let interrupted = crate::interrupt::requested();
                if interrupted {
                    result.outcome.status = Status::Interrupted;
                }
                if self.request.rollback_on_failure {
                    self.step("rolling back");
                    result.outcome.compensations =
                        roll_back(&journal, &self.client, self.runtime.handle());
                    let undone = result
                        .outcome
                        .compensations
                        .iter()
                        .all(|c| c.error.is_none());
                    if undone && !interrupted {
                        result.outcome.status = Status::RolledBack;
                    }
                }
                result
            }
        }
    }

    /// The [`preflight`] of the planned writes: every grant would be accepted, and every
    /// scope it names exists.
    fn preflight(&self, planned: &[Write], plan: &Session) -> Result<(), String> {
        let grants = preflight::grants(planned);
        let role_writes: Vec<&Write> = planned
            .iter()
            .filter(|write| preflight::custom_role_permission(write).is_some())
            .collect();
        if grants.is_empty() && role_writes.is_empty() {
            return Ok(());
        }
        let actor = &self.target.credentials;
        let target_env = &self.target.environment_id;
        let mut problems = Vec::new();
        match self.actor_assignments() {
            Ok(Some(held)) => {
                let roles = plan
                    .roles("pre-flight")
                    .map_err(|error| crate::host::session::error_message(&error))?;
                if !role_writes.is_empty() {
                    // The actor's roles may be custom ones too: judge them by the
                    // environment's role list, which carries every role's permissions.
                    let mut all: Vec<crate::client::Role> = roles.to_vec();
                    let listed = plan
                        .custom_roles("pre-flight")
                        .map_err(|error| crate::host::session::error_message(&error))?;
                    all.extend(listed.iter().filter(|r| r.is_custom()).map(|r| {
                        crate::client::Role {
                            id: r.id.clone(),
                            name: r.name.clone(),
                            description: None,
                            applicable_to: r.applicable_to.clone(),
                            permissions: r.permissions.clone(),
                        }
                    }));
                    for write in &role_writes {
                        let Some(permission) = preflight::custom_role_permission(write) else {
                            continue;
                        };
                        if !preflight::holds_permission(&held, &all, permission, target_env) {
                            problems.push(format!(
                                "  {}: the acting worker lacks {permission} over the environment \
                                 (Organization Admin or Custom Roles Admin hold it)",
                                write.detail()
                            ));
                        }
                    }
                }
                for grant in &grants {
                    // A role that is not built in is one of the environment's custom roles
                    // (or one this plan creates), which PingOne judges by its own rule. Read
                    // only then, so that runs without custom roles pay nothing for it.
                    let custom = if roles.iter().any(|role| role.name == grant.role.name) {
                        None
                    } else {
                        plan.custom_roles("pre-flight")
                            .map_err(|error| crate::host::session::error_message(&error))?
                            .into_iter()
                            .find(|role| role.is_custom() && role.name == grant.role.name)
                    };
                    let refused = match &custom {
                        Some(custom) => preflight::custom_refusal(grant, &held, custom, target_env),
                        None => preflight::refusal(grant, &held, &roles, target_env),
                    };
                    if let Some(why) = refused {
                        problems.push(format!(
                            "  {:?} at {} {}: the acting worker {why}",
                            grant.role.name, grant.scope.kind, grant.scope.id
                        ));
                    }
                }
            }
            // An actor that may not read its own assignments can still be allowed to grant;
            // PingOne enforces the rule at write time anyway.
            Ok(None) => {}
            Err(error) => {
                return Err(format!(
                    "pre-flight: reading the acting worker's role assignments failed: {error}"
                ));
            }
        }
        let mut scopes: Vec<&ScopeRef> = grants.iter().map(|grant| &grant.scope).collect();
        scopes.dedup();
        for scope in scopes {
            if let Some(problem) = self.missing_scope(scope, plan)? {
                problems.push(problem);
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(format!(
            "pre-flight: PingOne would refuse these writes of the acting worker {}, so nothing was \
             changed:\n{}\nhint: grant the acting worker what it lacks (or run with a worker that \
             holds it), and check that every scope names something that exists",
            actor.client_id,
            problems.join("\n")
        ))
    }

    /// The acting worker's own assignments; `None` when it may not read them.
    fn actor_assignments(&self) -> Result<Option<Vec<crate::client::RoleAssignment>>, String> {
        if let Some(held) = self.reads.actor_assignments() {
            return Ok(Some(held));
        }
        let actor = &self.target.credentials;
        match self.runtime.block_on(
            self.client
                .role_assignments(&actor.environment_id, &actor.client_id),
        ) {
            Ok(held) => Ok(Some(held)),
            Err(ClientError::Api(error)) if matches!(error.status, 403 | 404) => {
                tracing::warn!(
                    "pre-flight: the acting worker cannot read its own role assignments ({}); \
                     PingOne will judge the grants as they are sent",
                    error.status
                );
                Ok(None)
            }
            Err(error) => Err(error.to_string()),
        }
    }

    /// Why a grant's scope would be refused as naming nothing, if it would.
    fn missing_scope(&self, scope: &ScopeRef, plan: &Session) -> Result<Option<String>, String> {
        let target_env = &self.target.environment_id;
        if scope.kind == ScopeType::Organization {
            let organization = plan
                .organization_id("pre-flight")
                .map_err(|error| crate::host::session::error_message(&error))?;
            return Ok((scope.id != organization).then(|| {
                format!(
                    "  scope ORGANIZATION {}: not the organization of {} ({organization})",
                    scope.id, self.target.name
                )
            }));
        }
        if !preflight::needs_lookup(scope, target_env) {
            return Ok(None);
        }
        let path = match scope.kind {
            ScopeType::Environment => paths::environment(&scope.id),
            ScopeType::Population => paths::population(target_env, &scope.id),
            ScopeType::Application => paths::application(target_env, &scope.id),
            _ => {
                return Ok(Some(format!(
                    "  scope {} {}: p1run does not know this scope type",
                    scope.kind, scope.id
                )));
            }
        };
        match self.runtime.block_on(self.client.exists(&path)) {
            Ok(true) => Ok(None),
            Ok(false) => Ok(Some(format!(
                "  scope {} {}: does not exist (GET {path} answered 404)",
                scope.kind, scope.id
            ))),
            Err(error) => Err(format!("pre-flight: GET {path} failed: {error}")),
        }
    }
}
