//! The per-run context every primitive captures: the client, the target environment, the
//! `--var` values, what this run has read, and the journal of what it changed.
//!
//! It lives in an `Arc` captured by the registered closures rather than in Rhai's `Scope`,
//! because script-defined functions cannot see `Scope` variables (RHAI-HOST-NOTES §A7).

use crate::client::{Application, Client, ClientError, Environment, Role, RoleAssignment};
use rhai::{Dynamic, EvalAltResult, Map};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

/// What a run does with the writes its primitives decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Send them.
    Apply,
    /// Record them without sending (reads stay live).
    Plan,
}

/// One write, made or planned.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// `create`, `update`, `delete`, `grant` or `revoke`.
    pub action: &'static str,
    /// `application` or `role_assignment`.
    pub resource: &'static str,
    /// The resource's id (`(known after apply)` for one a plan would create).
    pub id: String,
    /// What changes, for people.
    pub detail: String,
}

impl Change {
    /// `+`, `~` or `-`, as plans show it.
    pub fn symbol(&self) -> char {
        match self.action {
            "create" | "grant" => '+',
            "delete" | "revoke" => '-',
            _ => '~',
        }
    }
}

/// The id a plan gives to a resource it would create.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// A live application handle: every copy a script holds sees the latest state this run
/// knows, so `enable(app); app.enabled` is `true` without reassigning `app`.
#[derive(Debug, Clone)]
pub struct AppHandle {
    /// The environment it lives in.
    pub environment_id: String,
    /// Its state as last read or written in this run.
    pub state: Arc<Mutex<Application>>,
}

impl AppHandle {
    /// A snapshot of the state.
    pub fn snapshot(&self) -> Application {
        lock(&self.state).clone()
    }

    /// Replaces the state after a write or read.
    pub fn replace(&self, application: Application) {
        *lock(&self.state) = application;
    }

    /// The id (or [`KNOWN_AFTER_APPLY`]).
    pub fn id(&self) -> String {
        lock(&self.state).id().to_owned()
    }

    /// The name.
    pub fn name(&self) -> String {
        lock(&self.state).name().to_owned()
    }

    /// True for an application that only a plan has created.
    pub fn is_planned(&self) -> bool {
        self.id() == KNOWN_AFTER_APPLY
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: the state here is
/// plain data that stays consistent between statements.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Default)]
struct Cache {
    environment: Option<Environment>,
    roles: Option<Arc<Vec<Role>>>,
    applications: Option<Vec<AppHandle>>,
    assignments: HashMap<String, Vec<RoleAssignment>>,
}

/// The per-run context.
pub struct Session {
    runtime: tokio::runtime::Handle,
    client: Client,
    environment_id: String,
    mode: Mode,
    vars: BTreeMap<String, String>,
    used_vars: Mutex<BTreeSet<String>>,
    cache: Mutex<Cache>,
    changes: Mutex<Vec<Change>>,
}

/// A failure inside a primitive, as scripts see it (`catch (e)` gets the map).
pub type PrimitiveResult<T> = Result<T, Box<EvalAltResult>>;

impl Session {
    /// A session for one run against one environment.
    pub fn new(
        runtime: tokio::runtime::Handle,
        client: Client,
        environment_id: String,
        mode: Mode,
        vars: BTreeMap<String, String>,
    ) -> Self {
        Self {
            runtime,
            client,
            environment_id,
            mode,
            vars,
            used_vars: Mutex::default(),
            cache: Mutex::default(),
            changes: Mutex::default(),
        }
    }

    /// The target environment id.
    pub fn environment_id(&self) -> &str {
        &self.environment_id
    }

    /// Apply or plan.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The client (for request counts).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs an API call to completion from the script thread. The engine runs on a plain
    /// thread, never on a runtime worker, so `block_on` cannot panic (RHAI-HOST-NOTES §A1).
    pub fn call<T>(
        &self,
        primitive: &str,
        future: impl Future<Output = Result<T, ClientError>>,
    ) -> PrimitiveResult<T> {
        self.runtime
            .block_on(future)
            .map_err(|error| api_failure(primitive, &error))
    }

    /// A `--var` value, remembering that the script asked for it.
    pub fn var(&self, name: &str) -> Option<String> {
        lock(&self.used_vars).insert(name.to_owned());
        self.vars.get(name).cloned()
    }

    /// Changes made (or planned) so far, oldest first.
    pub fn changes(&self) -> Vec<Change> {
        lock(&self.changes).clone()
    }

    /// Records a change.
    pub fn record(&self, change: Change) {
        tracing::info!(target: "p1run::change", "{} {} {}", change.symbol(), change.action, change.detail);
        lock(&self.changes).push(change);
    }

    /// The target environment, read once per run.
    pub fn environment(&self, primitive: &str) -> PrimitiveResult<Environment> {
        if let Some(env) = &lock(&self.cache).environment {
            return Ok(env.clone());
        }
        let env = self.call(primitive, self.client.environment(&self.environment_id))?;
        lock(&self.cache).environment = Some(env.clone());
        Ok(env)
    }

    /// The built-in roles, read once per run.
    pub fn roles(&self, primitive: &str) -> PrimitiveResult<Arc<Vec<Role>>> {
        if let Some(roles) = &lock(&self.cache).roles {
            return Ok(roles.clone());
        }
        let roles = Arc::new(self.call(primitive, self.client.roles())?);
        lock(&self.cache).roles = Some(roles.clone());
        Ok(roles)
    }

    /// The target environment's applications, read once per run and kept current by this
    /// run's own creates and deletes.
    pub fn applications(&self, primitive: &str) -> PrimitiveResult<Vec<AppHandle>> {
        if let Some(apps) = &lock(&self.cache).applications {
            return Ok(apps.clone());
        }
        let listed = self.call(primitive, self.client.applications(&self.environment_id))?;
        let handles: Vec<AppHandle> = listed
            .into_iter()
            .map(|application| AppHandle {
                environment_id: self.environment_id.clone(),
                state: Arc::new(Mutex::new(application)),
            })
            .collect();
        lock(&self.cache).applications = Some(handles.clone());
        Ok(handles)
    }

    /// Adds an application this run created (or planned) to the cached list.
    pub fn remember_application(&self, handle: AppHandle, known_empty_assignments: bool) {
        let mut cache = lock(&self.cache);
        if known_empty_assignments {
            cache.assignments.insert(handle.id(), Vec::new());
        }
        cache.applications.get_or_insert_with(Vec::new).push(handle);
    }

    /// Drops an application this run deleted from the cached list.
    pub fn forget_application(&self, id: &str) {
        let mut cache = lock(&self.cache);
        if let Some(apps) = cache.applications.as_mut() {
            apps.retain(|app| app.id() != id);
        }
        cache.assignments.remove(id);
    }

    /// An application's role assignments, read once per run and kept current by this run's
    /// grants and revokes. A planned application has none.
    pub fn assignments(
        &self,
        primitive: &str,
        app: &AppHandle,
    ) -> PrimitiveResult<Vec<RoleAssignment>> {
        let id = app.id();
        if app.is_planned() {
            return Ok(lock(&self.cache)
                .assignments
                .get(&id)
                .cloned()
                .unwrap_or_default());
        }
        if let Some(known) = lock(&self.cache).assignments.get(&id) {
            return Ok(known.clone());
        }
        let listed = self.call(
            primitive,
            self.client.role_assignments(&app.environment_id, &id),
        )?;
        lock(&self.cache).assignments.insert(id, listed.clone());
        Ok(listed)
    }

    /// Updates the cached assignments of an application after a grant or revoke.
    pub fn set_assignments(&self, app_id: &str, assignments: Vec<RoleAssignment>) {
        lock(&self.cache)
            .assignments
            .insert(app_id.to_owned(), assignments);
    }

    /// `--var` names given but never asked for by the script.
    pub fn unused_vars(&self) -> Vec<String> {
        let used = lock(&self.used_vars);
        self.vars
            .keys()
            .filter(|name| !used.contains(*name))
            .cloned()
            .collect()
    }
}

/// The error a primitive raises for a failed API call: a map scripts can `catch` and inspect
/// (`e.status`, `e.code`, `e.details`), carrying the full human message for when nobody does.
pub fn api_failure(primitive: &str, error: &ClientError) -> Box<EvalAltResult> {
    let mut map = Map::new();
    map.insert("primitive".into(), primitive.into());
    map.insert("message".into(), format!("{primitive}: {error}").into());
    if let Some(api) = error.api() {
        map.insert("status".into(), Dynamic::from_int(i64::from(api.status)));
        map.insert("code".into(), api.code.clone().unwrap_or_default().into());
        map.insert("api_message".into(), api.message.clone().into());
        map.insert("method".into(), api.method.clone().into());
        map.insert("path".into(), api.path.clone().into());
        let details = rhai::serde::to_dynamic(&api.details).unwrap_or(Dynamic::UNIT);
        map.insert("details".into(), details);
    }
    EvalAltResult::ErrorRuntime(map.into(), rhai::Position::NONE).into()
}

/// The error a primitive raises for bad arguments: same shape as [`api_failure`].
pub fn usage_failure(primitive: &str, message: impl std::fmt::Display) -> Box<EvalAltResult> {
    let mut map = Map::new();
    map.insert("primitive".into(), primitive.into());
    map.insert("message".into(), format!("{primitive}: {message}").into());
    EvalAltResult::ErrorRuntime(map.into(), rhai::Position::NONE).into()
}
