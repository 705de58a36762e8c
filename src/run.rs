//! Running a recipe against one environment: resolve the script and the target, start the
//! embedded emulator when the target is `local`, then plan, check, apply (see
//! [`crate::host::session`] for why every apply is a plan first), and roll back on request.

use crate::client::{
    Client, ClientError, ClientOptions, Connections, Credentials, Endpoints, RateBudget,
    RetryPolicy, Role, RoleAssignment, TokenAuthMethod, TokenCache,
};
use crate::config::{Config, LOCAL, Limits, Target};
use crate::emulator::{Emulator, EmulatorOptions};
use crate::error::{Error, Location, ScriptError};
use crate::host::batch::BatchFailure;
use crate::host::engine::{self, Sources};
use crate::host::session::lock;
use crate::host::session::{Change, JournalEntry, PlannedGrant, Reads, Undo};
use crate::host::{Mode, Session, primitives, render};
use crate::recipes;
use crate::report::{Compensation, RunOutcome, Status};
use crate::secret::Secret;
use rhai::Scope;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

/// A script to run: bundled or from a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Script {
    /// The name errors and reports use: the recipe name or the file path.
    pub name: String,
    /// Its text.
    pub source: String,
    /// The directory `import "x"` resolves in (files only).
    pub dir: Option<PathBuf>,
    /// For a script from a saved plan: the files it imported when planned, by import path,
    /// used instead of the files on disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imports: Option<BTreeMap<String, String>>,
}

impl Script {
    /// A bundled recipe by name, or a `.rhai` file by path.
    pub fn resolve(recipe: &str) -> Result<Self, Error> {
        if let Some(bundled) = recipes::find(recipe) {
            return Ok(Self {
                name: recipe.to_owned(),
                source: bundled.source.to_owned(),
                dir: None,
                imports: None,
            });
        }
        let path = Path::new(recipe);
        match engine::read_source(path) {
            Ok(source) => Ok(Self {
                name: recipe.to_owned(),
                source,
                dir: Some(path.parent().map(Path::to_path_buf).unwrap_or_default()),
                imports: None,
            }),
            Err(invalid @ engine::SourceError::NotUtf8 { .. }) => {
                Err(Error::Usage(format!("{recipe}: {invalid}")))
            }
            Err(engine::SourceError::Unreadable(_)) => Err(Error::UnknownRecipe {
                name: recipe.to_owned(),
                known: recipes::RECIPES
                    .iter()
                    .map(|r| r.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Rejects `--var`s the script never reads, before anything runs.
    pub fn check_vars(&self, vars: &BTreeMap<String, String>) -> Result<(), Error> {
        let params = recipes::params(&self.source);
        for name in vars.keys() {
            if !params.iter().any(|param| &param.name == name) {
                let known: Vec<_> = params.iter().map(|param| param.name.as_str()).collect();
                return Err(Error::Usage(format!(
                    "--var {name}: {} has no param {name:?}; its params are: {}",
                    self.name,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
        Ok(())
    }
}

/// `plan --out FILE`: what `apply --plan FILE` will do, exactly. The script travels with the
/// plan so that the apply runs the code that was reviewed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    /// Format version.
    pub version: u32,
    /// The script.
    pub script: Script,
    /// `--var` values.
    pub vars: BTreeMap<String, String>,
    /// Target name.
    pub environment: String,
    /// Target environment id.
    pub environment_id: String,
    /// The planned writes, in order.
    pub changes: Vec<Change>,
}

impl SavedPlan {
    /// Reads a plan file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            context: format!("reading plan {}", path.display()),
            source,
        })?;
        serde_json::from_str(&text).map_err(|error| {
            Error::Usage(format!("{} is not a p1run plan: {error}", path.display()))
        })
    }

    /// Writes a plan file.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(path, text + "\n").map_err(|source| Error::Io {
            context: format!("writing plan {}", path.display()),
            source,
        })
    }
}

/// Where a run goes.
pub enum Destination {
    /// A configured PingOne environment.
    Remote(Box<Target>),
    /// A fresh in-process emulator.
    Local,
}

/// Picks the target: `--env NAME` from the config; with neither `--env` nor a config file,
/// the embedded emulator (`local`).
pub fn destination(env: Option<&str>, config: Option<&Config>) -> Result<Destination, Error> {
    match (env, config) {
        (Some(LOCAL), _) | (None, None) => Ok(Destination::Local),
        (Some(name), Some(config)) => config
            .target(name)
            .map(|t| Destination::Remote(Box::new(t))),
        (Some(name), None) => Err(Error::Usage(format!(
            "--env {name} needs a config file: none was given with --config or $P1RUN_CONFIG, \
             and ./p1run.toml does not exist"
        ))),
        (None, Some(config)) => match config.environment_names().as_slice() {
            [only] => config
                .target(only)
                .map(|t| Destination::Remote(Box::new(t))),
            names => Err(Error::Usage(format!(
                "{} configures {} environments; pick one with --env ({})",
                config.path.display(),
                names.len(),
                names.join(", ")
            ))),
        },
    }
}

/// What every run of one command shares, so that a fleet of runs costs little more than its
/// requests: one runtime, one token per worker credential, one connection pool, one request
/// budget per license, and the built-in roles read once per organization.
pub struct Shared {
    runtime: tokio::runtime::Runtime,
    tokens: TokenCache,
    connections: Connections,
    transaction_id: String,
    requests_per_second: Option<NonZeroU32>,
    budgets: Mutex<HashMap<String, RateBudget>>,
    roles: Mutex<HashMap<(String, String, String), RolesCell>>,
    actors: Mutex<HashMap<(String, String, String), ActorCell>>,
    on_step: Mutex<Option<StepListener>>,
}

/// Told `(environment, step)` as a run moves on: reading, planning, applying, rolling back.
pub type StepListener = Arc<dyn Fn(&str, &str) + Send + Sync>;

type RolesCell = Arc<tokio::sync::OnceCell<Arc<Vec<Role>>>>;
type ActorCell = Arc<tokio::sync::OnceCell<Vec<RoleAssignment>>>;

impl Shared {
    /// Shared state for one command; `requests_per_second` is the budget of each license
    /// (`None`: unlimited).
    pub fn new(requests_per_second: Option<u32>) -> Result<Self, Error> {
        let runtime = runtime()?;
        crate::interrupt::install(&runtime);
        Ok(Self {
            runtime,
            tokens: TokenCache::default(),
            connections: Connections::new()?,
            // One id for every request of the command, so PingOne support can find them all.
            transaction_id: uuid::Uuid::new_v4().to_string(),
            requests_per_second: requests_per_second.and_then(NonZeroU32::new),
            budgets: Mutex::default(),
            roles: Mutex::default(),
            actors: Mutex::default(),
            on_step: Mutex::default(),
        })
    }

    /// Reports every run's steps to `listener` (the fleet's progress display).
    pub fn on_step(&self, listener: StepListener) {
        *lock(&self.on_step) = Some(listener);
    }

    /// The runtime all API calls run on.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    fn budget(&self, license: &str) -> Option<RateBudget> {
        let rate = self.requests_per_second?;
        Some(
            lock(&self.budgets)
                .entry(license.to_owned())
                .or_insert_with(|| RateBudget::per_second(rate))
                .clone(),
        )
    }

    /// The built-in roles are read once per organization: role ids are not known to be the
    /// same across organizations (API-REFERENCE §3), and a worker belongs to exactly one, so
    /// the worker stands for its organization.
    fn roles_cell(&self, target: &Target) -> RolesCell {
        lock(&self.roles)
            .entry(worker_key(target))
            .or_default()
            .clone()
    }

    /// The acting worker's own assignments are the same for every environment it acts on
    /// (and for a bootstrap admin of many environments, a long list), so a fleet reads them
    /// once per worker.
    fn actor_cell(&self, target: &Target) -> ActorCell {
        lock(&self.actors)
            .entry(worker_key(target))
            .or_default()
            .clone()
    }
}

/// (API host, worker environment, worker client id): one acting worker.
fn worker_key(target: &Target) -> (String, String, String) {
    (
        target.endpoints.api_url.to_string(),
        target.credentials.environment_id.clone(),
        target.credentials.client_id.clone(),
    )
}

/// Everything one run needs besides its destination.
pub struct RunRequest<'a> {
    /// The script.
    pub script: &'a Script,
    /// `--var` values.
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
}

/// What one run did: the outcome, the script error if any, the journal for the report.
pub struct RunResult {
    /// Summary for stdout and the report.
    pub outcome: RunOutcome,
    /// The script's error, rendered.
    pub error: Option<ScriptError>,
    /// Every write the apply pass sent, with its request and result.
    pub journal: Vec<JournalEntry>,
    /// The target environment id.
    pub environment_id: String,
    /// The files the script imported from beside it, by import path (saved with a plan).
    pub imports: BTreeMap<String, String>,
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
            let target = local_target(&emulator)?;
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
    let mut options = ClientOptions::new(target.endpoints.clone(), target.credentials.clone());
    options.retry = request.retry.clone();
    options.tokens = shared.tokens.clone();
    options.transaction_id.clone_from(&shared.transaction_id);
    options.connections = Some(shared.connections.clone());
    // The embedded emulator is ours alone: PingOne's limits do not apply to it.
    if embedded.is_none() {
        options.rate_budget = shared.budget(&target.license);
    }
    let client = Client::new(options)?;
    let runner = Runner {
        request,
        runtime: &shared.runtime,
        client: client.clone(),
        target: &target,
        reads: Arc::new(Reads::default()),
        roles: shared.roles_cell(&target),
        actor: shared.actor_cell(&target),
        on_step: lock(&shared.on_step).clone(),
        imports: Mutex::default(),
    };

    let mut result = runner.run_all();
    result.outcome.requests = client.requests_sent();
    result.outcome.duration_ms = crate::host::session::elapsed_ms(started);
    Ok(result)
}

struct Runner<'a> {
    request: &'a RunRequest<'a>,
    runtime: &'a tokio::runtime::Runtime,
    client: Client,
    target: &'a Target,
    reads: Arc<Reads>,
    roles: RolesCell,
    actor: ActorCell,
    on_step: Option<StepListener>,
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
    ) -> RunResult {
        RunResult {
            outcome,
            error,
            journal,
            environment_id: self.target.environment_id.clone(),
            imports: lock(&self.imports).clone(),
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
        self.result(outcome, Some(error), journal)
    }

    fn session(&self, mode: Mode, expected: Option<Vec<Change>>) -> Arc<Session> {
        let session = Session::new(
            self.runtime.handle().clone(),
            self.client.clone(),
            self.target.environment_id.clone(),
            mode,
            self.request.vars.clone(),
            self.reads.clone(),
            expected,
        );
        let plan_pass_of_apply = mode == Mode::Plan && self.request.mode == Mode::Apply;
        Arc::new(if plan_pass_of_apply {
            session.with_quiet_prints()
        } else {
            session
        })
    }

    /// Runs the script once in the session; the script's value or its rendered error.
    fn execute(&self, session: &Arc<Session>) -> Result<serde_json::Value, Box<ScriptError>> {
        let script = self.request.script;
        let sources = Sources::default();
        sources.insert(&script.name, &script.source);
        let (engine, _) = engine::build(
            session,
            self.request.limits,
            script.dir.clone(),
            script.imports.clone(),
            &sources,
        );
        let result = engine
            .compile(&script.source)
            .map_err(|error| Box::new(error.into()))
            .and_then(|mut ast| {
                ast.set_source(script.name.as_str());
                engine.eval_ast_with_scope::<rhai::Dynamic>(&mut Scope::new(), &ast)
            });
        lock(&self.imports).extend(sources.imported());
        // Batched writes go out now: after a success, or after a failure so that everything
        // asked for before the failing line is made (and can be rolled back) as if sent at once.
        let flushed = session.flush();
        match (result, flushed) {
            (Ok(_), Ok(())) if session.failed_write().is_some() => {
                Err(Box::new(plain_error(format!(
                    "a write failed and the script caught its error, so not every planned change was \
                 made: {}",
                    session.failed_write().unwrap_or_default()
                ))))
            }
            (Ok(value), Ok(())) => Ok(primitives::to_json(&value)),
            (Ok(_), Err(failure)) => Err(Box::new(batch_error(&failure, &script.name, &sources))),
            (Err(error), _) => Err(Box::new(render::render(
                *error,
                &script.name,
                &sources,
                self.request.limits.max_operations,
            ))),
        }
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
        let planned = plan.changes();
        if self.request.mode == Mode::Plan {
            let outcome = self.outcome(Status::Planned, planned, outputs, None);
            return self.result(outcome, None, Vec::new());
        }
        if let Some(saved) = self.request.saved_plan
            && let Some(stale) = stale_plan(&saved.changes, &planned)
        {
            return self.failed(Vec::new(), plain_error(stale), Vec::new());
        }
        if planned.is_empty() {
            let outcome = self.outcome(Status::Succeeded, Vec::new(), outputs, None);
            return self.result(outcome, None, Vec::new());
        }
        let roles = plan.roles("pre-flight").unwrap_or_default();
        if let Err(message) = self.preflight(&plan.planned_grants(), &roles) {
            return self.failed(Vec::new(), plain_error(message), Vec::new());
        }
        plan.discard_prints();
        self.step("applying");
        let apply = self.session(Mode::Apply, Some(planned));
        match self.execute(&apply) {
            Ok(outputs) => {
                let outcome = self.outcome(Status::Succeeded, apply.changes(), outputs, None);
                self.result(outcome, None, apply.journal())
            }
            Err(error) => {
                let journal = apply.journal();
                let mut result = self.failed(apply.changes(), *error, journal.clone());
                if self.request.rollback_on_failure {
                    self.step("rolling back");
                    result.outcome.compensations = self.roll_back(&journal);
                    result.outcome.status = if result
                        .outcome
                        .compensations
                        .iter()
                        .all(|c| c.error.is_none())
                    {
                        Status::RolledBack
                    } else {
                        Status::Failed
                    };
                }
                result
            }
        }
    }

    /// Before the first write: the acting worker must hold every role the plan grants, at the
    /// same or a broader scope, since PingOne refuses anything else (API-REFERENCE §4.1). A run
    /// that would fail halfway fails here instead, having written nothing.
    ///
    /// A held role also counts when its permissions include all of the wanted role's: that is
    /// how PingOne's documented exceptions read ("you can assign the read-only variants of
    /// built-in roles that are assigned to you"); inferred, not verified. Being more lenient
    /// than PingOne only costs a clear error at write time, never a blocked legitimate run.
    fn preflight(
        &self,
        grants: &[PlannedGrant],
        roles: &[crate::client::Role],
    ) -> Result<(), String> {
        if grants.is_empty() {
            return Ok(());
        }
        let actor = &self.target.credentials;
        let held = match self.reads.actor_assignments() {
            Some(held) => held,
            None => match self.runtime.block_on(
                self.client
                    .role_assignments(&actor.environment_id, &actor.client_id),
            ) {
                Ok(held) => held,
                // An actor that may not read its own assignments can still be allowed to grant;
                // PingOne enforces the rule at write time anyway.
                Err(ClientError::Api(error)) if matches!(error.status, 403 | 404) => {
                    tracing::warn!(
                        "pre-flight skipped: the acting worker cannot read its own role assignments ({})",
                        error.status
                    );
                    return Ok(());
                }
                Err(error) => {
                    return Err(format!(
                        "pre-flight: reading the acting worker's role assignments failed: {error}"
                    ));
                }
            },
        };
        let target_env = &self.target.environment_id;
        let missing: Vec<String> = grants
            .iter()
            .filter(|grant| {
                !held.iter().any(|a| {
                    at_least_as_strong(&a.role.id, &grant.role, roles)
                        && actor_covers(&a.scope, &grant.scope, target_env)
                })
            })
            .map(|grant| {
                format!(
                    "  {:?} at {} {}",
                    grant.role.name, grant.scope.kind, grant.scope.id
                )
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "pre-flight: the acting worker {} does not hold these roles at the same or a broader scope, \
             so PingOne would refuse to grant them; nothing was changed:\n{}\nhint: grant them to the \
             acting worker, or run with a worker that holds them",
            actor.client_id,
            missing.join("\n")
        ))
    }

    /// Undoes, newest first, what the apply pass wrote.
    fn roll_back(&self, journal: &[JournalEntry]) -> Vec<Compensation> {
        let client = &self.client;
        journal
            .iter()
            .rev()
            .filter(|entry| entry.error.is_none())
            .filter_map(|entry| entry.undo.clone().map(|undo| (entry, undo)))
            .map(|(entry, undo)| {
                let (undo_text, request, result): (String, String, Result<(), String>) = match undo {
                    Undo::DeleteApplication { environment_id, id, name } => (
                        format!("delete application {name:?} created by this run"),
                        format!("DELETE /environments/{environment_id}/applications/{id}"),
                        self.runtime.block_on(client.delete_application(&environment_id, &id)).map_err(|e| e.to_string()),
                    ),
                    Undo::Revoke { environment_id, application_id, assignment_id, detail } => (
                        format!("undo: {detail}"),
                        format!("DELETE /environments/{environment_id}/applications/{application_id}/roleAssignments/{assignment_id}"),
                        self.runtime
                            .block_on(client.delete_role_assignment(&environment_id, &application_id, &assignment_id))
                            .map_err(|e| e.to_string()),
                    ),
                    Undo::Regrant { environment_id, application_id, role_id, scope, detail } => (
                        format!("undo: {detail}"),
                        format!("POST /environments/{environment_id}/applications/{application_id}/roleAssignments"),
                        self.runtime
                            .block_on(client.create_role_assignment(&environment_id, &application_id, &role_id, &scope))
                            .map(drop)
                            .map_err(|e| e.to_string()),
                    ),
                    Undo::Restore { environment_id, previous, detail } => (
                        format!("undo: {detail}"),
                        format!("PUT /environments/{environment_id}/applications/{}", previous.id()),
                        self.runtime
                            .block_on(async {
                                // As for every PUT: PingOne's current state, with the fields
                                // this run changed set back.
                                let mut body = client.application(&environment_id, previous.id()).await?;
                                let read_only = crate::client::Application::READ_ONLY_FIELDS;
                                for (field, value) in &previous.0 {
                                    if !read_only.contains(&field.as_str()) && body.0.get(field) != Some(value) {
                                        body.set(field, value.clone());
                                    }
                                }
                                client.update_application(&environment_id, &body).await
                            })
                            .map(drop)
                            .map_err(|e| e.to_string()),
                    ),
                    Undo::RemoveFile(path) => (
                        format!("remove {}", path.display()),
                        format!("rm {}", path.display()),
                        std::fs::remove_file(&path).map_err(|e| e.to_string()),
                    ),
                    Undo::Impossible(why) => (format!("cannot undo: {}", entry.change.detail), String::new(), Err(why)),
                };
                Compensation { undo: undo_text, of: entry.change.detail.clone(), request, error: result.err() }
            })
            .collect()
    }
}

/// Is the role `held_id` the wanted role, or one whose permissions include all of its?
fn at_least_as_strong(
    held_id: &str,
    wanted: &crate::client::Role,
    roles: &[crate::client::Role],
) -> bool {
    held_id == wanted.id
        || roles
            .iter()
            .find(|role| role.id == held_id)
            .is_some_and(|held| {
                wanted
                    .permissions
                    .iter()
                    .all(|permission| held.permissions.iter().any(|p| p.id == permission.id))
            })
}

/// Does the actor's assignment at `held` let it grant at `wanted`? Organization covers all;
/// an environment covers itself and the populations and applications in it (taken to be
/// the target environment, where recipes create them).
fn actor_covers(
    held: &crate::client::ScopeRef,
    wanted: &crate::client::ScopeRef,
    target_env: &str,
) -> bool {
    use crate::client::ScopeType::{Application, Environment, Organization, Population};
    match (held.kind, wanted.kind) {
        (Organization, _) => true,
        (Environment, Environment) => held.id == wanted.id,
        (Environment, Population | Application) => held.id == target_env,
        _ => held == wanted,
    }
}

/// Compares a saved plan with the one the live state gives now.
fn stale_plan(saved: &[Change], now: &[Change]) -> Option<String> {
    let same = saved.len() == now.len()
        && saved
            .iter()
            .zip(now)
            .all(|(a, b)| a.admits(b) || b.admits(a));
    if same {
        return None;
    }
    let list = |changes: &[Change]| {
        if changes.is_empty() {
            "  (no changes)".to_owned()
        } else {
            changes
                .iter()
                .map(|c| format!("  {} {}", c.symbol(), c.detail))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    Some(format!(
        "the plan is stale: the live state changed since it was made, so applying it is refused \
         and nothing was changed.\nplanned:\n{}\nwhat the live state needs now:\n{}\nhint: run \
         `p1run plan` again and review the new plan",
        list(saved),
        list(now)
    ))
}

/// A batched write that failed at the end of the script, shown at the line that asked for it.
fn batch_error(failure: &BatchFailure, main: &str, sources: &Sources) -> ScriptError {
    let file = failure
        .site
        .source
        .clone()
        .unwrap_or_else(|| main.to_owned());
    let location = (failure.site.line > 0).then(|| Location {
        source_line: sources.line(&file, failure.site.line),
        file,
        line: failure.site.line,
        column: failure.site.column,
    });
    ScriptError {
        message: format!("{}: {}", failure.primitive, failure.error),
        location,
        called_from: Vec::new(),
        hint: None,
    }
}

fn plain_error(message: String) -> ScriptError {
    ScriptError {
        message,
        location: None,
        called_from: Vec::new(),
        hint: None,
    }
}

fn local_target(emulator: &Emulator) -> Result<Target, Error> {
    let info = emulator.info();
    Ok(Target {
        name: LOCAL.to_owned(),
        environment_id: info.environment_id.clone(),
        endpoints: Endpoints::new(&info.api_url, &info.auth_url)?,
        credentials: Credentials {
            client_id: info.client_id.clone(),
            client_secret: Secret::new(info.client_secret.clone()),
            environment_id: info.environment_id.clone(),
            auth_method: TokenAuthMethod::ClientSecretBasic,
        },
        license: String::new(),
    })
}

/// The multi-thread runtime all API calls run on. The Rhai engine itself runs on the calling
/// thread, outside the runtime, and blocks on it per call (RHAI-HOST-NOTES §A1).
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            context: "starting the async runtime".into(),
            source,
        })
}
