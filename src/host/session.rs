//! The per-run context every primitive captures: the client, the target environment, the
//! `--var` values, what the run has read, and the journal of what it wrote.
//!
//! It lives in an `Arc` captured by the registered closures rather than in Rhai's `Scope`,
//! because script-defined functions cannot see `Scope` variables (RHAI-HOST-NOTES §A7).
//!
//! # Plan, then apply
//!
//! Every run first executes the script in [`Mode::Plan`]: reads are live, writes are recorded
//! as [`Change`]s and answered with placeholders (an app a plan creates has the id
//! `(known after apply)`), so the whole script runs, branches included. `plan` stops there.
//! `apply` then checks the plan (pre-flight, and against a saved plan file when given) and
//! runs the script again in [`Mode::Apply`], where every write must be the next planned change
//! before it is sent. That gives one mechanism for plan, pre-flight, `apply --plan`, the
//! rollback journal and the report, while the apply pass still hands scripts real results
//! (an app's id) after the write that makes them. The reads of the plan pass are kept in a
//! [`Reads`] cache that the apply pass reuses, so planning first costs no extra requests.

use crate::client::{
    Application, Client, ClientError, Environment, Role, RoleAssignment, ScopeRef,
};
use rhai::{Dynamic, EvalAltResult, Map};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::batch::{Batch, BatchFailure, CallSite, Operation, Queued};

/// What a run does with the writes its primitives decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Send them (each must match the next planned change).
    Apply,
    /// Record them without sending (reads stay live).
    Plan,
}

/// One write, made or planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// `create`, `update`, `delete`, `grant`, `revoke`, `rotate` or `write`.
    pub action: String,
    /// `application`, `role_assignment`, `application_secret` or `secret_file`.
    pub resource: String,
    /// The resource's id (`(known after apply)` for one a plan would create).
    pub id: String,
    /// What changes, for people: `create application "X" (WORKER)`.
    pub detail: String,
}

impl Change {
    /// A change whose id is not known yet.
    pub fn new(
        action: &str,
        resource: &str,
        id: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            id: id.into(),
            detail: detail.into(),
        }
    }

    /// `+`, `~` or `-`, as plans show it.
    pub fn symbol(&self) -> char {
        match self.action.as_str() {
            "create" | "grant" | "write" => '+',
            "delete" | "revoke" => '-',
            _ => '~',
        }
    }

    /// True when `actual`, about to be made, is what this planned change announced. Values the
    /// plan could not know (`(known after apply)`) match anything.
    pub fn admits(&self, actual: &Change) -> bool {
        if self.action != actual.action || self.resource != actual.resource {
            return false;
        }
        let parts: Vec<&str> = self.detail.split(KNOWN_AFTER_APPLY).collect();
        let [first, middle @ .., last] = parts.as_slice() else {
            return self.detail == actual.detail;
        };
        let Some(rest) = actual
            .detail
            .strip_prefix(first)
            .and_then(|rest| rest.strip_suffix(last))
        else {
            return false;
        };
        let mut rest = rest;
        for part in middle {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        true
    }
}

/// The id a plan gives to a resource it would create.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// The id of a grant the apply pass has queued but not sent yet.
pub const PENDING: &str = "(pending)";

/// How to undo a write, for `--rollback-on-failure`.
#[derive(Debug, Clone)]
pub enum Undo {
    /// Delete the application this run created.
    DeleteApplication {
        /// Its environment.
        environment_id: String,
        /// Its id.
        id: String,
        /// Its name, for the report.
        name: String,
    },
    /// Revoke the role this run granted.
    Revoke {
        /// The application's environment.
        environment_id: String,
        /// The application.
        application_id: String,
        /// The assignment to delete.
        assignment_id: String,
        /// What it was, for the report.
        detail: String,
    },
    /// Re-grant the role this run revoked.
    Regrant {
        /// The application's environment.
        environment_id: String,
        /// The application.
        application_id: String,
        /// The role.
        role_id: String,
        /// The scope.
        scope: ScopeRef,
        /// What it was, for the report.
        detail: String,
    },
    /// PUT back the application as it was before this run's update.
    Restore {
        /// The application's environment.
        environment_id: String,
        /// The state before the update.
        previous: Box<Application>,
        /// What changed, for the report.
        detail: String,
    },
    /// Remove the secret file this run wrote.
    RemoveFile(std::path::PathBuf),
    /// Some writes cannot be undone (a deleted application, a rotated secret).
    Impossible(String),
}

/// One write the apply pass sent, with its request and outcome, for rollback and the report.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    /// The change.
    pub change: Change,
    /// `METHOD /path` of the request.
    pub request: String,
    /// `None` on success, else the error.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
    /// How to undo it (successful writes only).
    pub undo: Option<Undo>,
}

impl JournalEntry {
    /// A write PingOne carried out; logged as it is journaled.
    pub fn made(change: Change, request: String, duration_ms: u64, undo: Option<Undo>) -> Self {
        tracing::info!(target: "p1run::change", "{} {} [{}]", change.symbol(), change.detail, change.id);
        Self {
            change,
            request,
            error: None,
            duration_ms,
            undo,
        }
    }

    /// A write that failed, or was not sent (`error` says which).
    pub fn failed(change: Change, request: String, duration_ms: u64, error: String) -> Self {
        Self {
            change,
            request,
            error: Some(error),
            duration_ms,
            undo: None,
        }
    }
}

/// Milliseconds since `started`, for journals and reports.
pub fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A live application handle: every copy a script holds sees the latest state this run
/// knows, so `enable(app); app.enabled` is `true` without reassigning `app`.
#[derive(Debug, Clone)]
pub struct AppHandle {
    /// The environment it lives in.
    pub environment_id: String,
    /// Its state as last read or written in this run.
    pub state: Arc<Mutex<Application>>,
    /// For an application only a plan has created: a key of its own, since every such app
    /// shares the id `(known after apply)`.
    planned: Option<Arc<str>>,
    /// Created by this run's apply pass, so its state is PingOne's own answer of moments ago.
    created_here: bool,
}

impl AppHandle {
    /// A handle on a state.
    pub fn new(environment_id: &str, application: Application) -> Self {
        static PLANNED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let planned = (application.id() == KNOWN_AFTER_APPLY).then(|| {
            let n = PLANNED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Arc::from(format!("{KNOWN_AFTER_APPLY}#{n}"))
        });
        Self {
            environment_id: environment_id.to_owned(),
            state: Arc::new(Mutex::new(application)),
            planned,
            created_here: false,
        }
    }

    /// A handle on an application this run just created.
    pub fn created(environment_id: &str, application: Application) -> Self {
        Self {
            created_here: true,
            ..Self::new(environment_id, application)
        }
    }

    /// True for an application this run's apply pass created.
    pub fn created_here(&self) -> bool {
        self.created_here
    }

    /// What this run's view of the environment knows the application by: its id, or for a
    /// planned application a key unique among them.
    pub fn key(&self) -> String {
        match &self.planned {
            Some(key) => key.to_string(),
            None => self.id(),
        }
    }

    /// A snapshot of the state.
    pub fn snapshot(&self) -> Application {
        lock(&self.state).clone()
    }

    /// Replaces the state after a write.
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

/// What the run read from PingOne, as PingOne answered, shared by the plan and apply passes.
#[derive(Debug, Default)]
pub struct Reads {
    environment: Mutex<Option<Environment>>,
    roles: Mutex<Option<Arc<Vec<Role>>>>,
    applications: Mutex<Option<Vec<Application>>>,
    assignments: Mutex<HashMap<String, Vec<RoleAssignment>>>,
    actor_assignments: Mutex<Option<Vec<RoleAssignment>>>,
}

impl Reads {
    /// Stores what a prefetch read (see [`crate::run`]): the roles, the target's applications
    /// and the acting worker's own role assignments.
    pub fn prefetched(
        &self,
        roles: Option<Arc<Vec<Role>>>,
        applications: Option<Vec<Application>>,
        actor_assignments: Option<Vec<RoleAssignment>>,
    ) {
        if let Some(roles) = roles {
            lock(&self.roles).get_or_insert(roles);
        }
        if let Some(applications) = applications {
            lock(&self.applications).get_or_insert(applications);
        }
        if let Some(held) = actor_assignments {
            lock(&self.actor_assignments).get_or_insert(held);
        }
    }

    /// The acting worker's role assignments, when already read.
    pub fn actor_assignments(&self) -> Option<Vec<RoleAssignment>> {
        lock(&self.actor_assignments).clone()
    }
}

/// The pass's own view: the reads plus this pass's writes.
#[derive(Default)]
struct View {
    applications: Option<Vec<AppHandle>>,
    assignments: HashMap<String, Vec<RoleAssignment>>,
}

/// A grant a plan would make, for the pre-flight check.
#[derive(Debug, Clone)]
pub struct PlannedGrant {
    /// The role.
    pub role: Role,
    /// Where.
    pub scope: ScopeRef,
}

/// The per-run context.
pub struct Session {
    runtime: tokio::runtime::Handle,
    client: Client,
    environment_id: String,
    mode: Mode,
    vars: BTreeMap<String, String>,
    used_vars: Mutex<BTreeSet<String>>,
    reads: Arc<Reads>,
    view: Mutex<View>,
    changes: Mutex<Vec<Change>>,
    expected: Mutex<Option<VecDeque<Change>>>,
    journal: Mutex<Vec<JournalEntry>>,
    grants: Mutex<Vec<PlannedGrant>>,
    batch: Batch,
    quiet_prints: bool,
    held_prints: Mutex<Vec<String>>,
    failed_write: Mutex<Option<String>>,
}

/// A failure inside a primitive, as scripts see it (`catch (e)` gets the map).
pub type PrimitiveResult<T> = Result<T, Box<EvalAltResult>>;

impl Session {
    /// A session for one pass of a run against one environment. `expected` (apply passes
    /// only) lists the planned changes every write must match, in order.
    pub fn new(
        runtime: tokio::runtime::Handle,
        client: Client,
        environment_id: String,
        mode: Mode,
        vars: BTreeMap<String, String>,
        reads: Arc<Reads>,
        expected: Option<Vec<Change>>,
    ) -> Self {
        Self {
            runtime,
            client,
            environment_id,
            mode,
            vars,
            used_vars: Mutex::default(),
            reads,
            view: Mutex::default(),
            changes: Mutex::default(),
            expected: Mutex::new(expected.map(VecDeque::from)),
            journal: Mutex::default(),
            grants: Mutex::default(),
            batch: Batch::default(),
            quiet_prints: false,
            held_prints: Mutex::default(),
            failed_write: Mutex::default(),
        }
    }

    /// The first write of this pass that failed, even if the script caught its error: the
    /// run then did not make every planned change, and must not report success.
    pub fn failed_write(&self) -> Option<String> {
        lock(&self.failed_write).clone()
    }

    fn note_failed_write(&self, message: String) {
        lock(&self.failed_write).get_or_insert(message);
    }

    /// Keeps a script print of the plan pass of an apply.
    pub fn hold_print(&self, text: &str) {
        lock(&self.held_prints).push(text.to_owned());
    }

    /// Forgets the prints held back: the apply pass about to run prints them again.
    pub fn discard_prints(&self) {
        lock(&self.held_prints).clear();
    }

    /// Shows the prints held back, for a plan pass that no apply pass follows.
    pub fn release_prints(&self) {
        for text in lock(&self.held_prints).drain(..) {
            tracing::info!(target: "script", "{text}");
        }
    }

    /// Marks the plan pass of an apply, whose script prints the apply pass repeats.
    #[must_use]
    pub fn with_quiet_prints(mut self) -> Self {
        self.quiet_prints = true;
        self
    }

    /// True for the plan pass of an apply.
    pub fn quiet_prints(&self) -> bool {
        self.quiet_prints
    }

    /// The target environment id.
    pub fn environment_id(&self) -> &str {
        &self.environment_id
    }

    /// Apply or plan.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The client.
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

    /// Blocks on any future from the script thread (e.g. a read a write depends on).
    pub fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        self.runtime.block_on(future)
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

    /// The apply pass's journal, oldest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        lock(&self.journal).clone()
    }

    /// Grants the plan pass would make.
    pub fn planned_grants(&self) -> Vec<PlannedGrant> {
        lock(&self.grants).clone()
    }

    /// Makes one write. In a plan, records `change` and returns `None`. In an apply, checks
    /// that `change` is the next planned one, sends it with `send` (which returns the result,
    /// the created resource's id when `change` had none, and how to undo it), and journals it.
    pub fn write<T>(
        &self,
        primitive: &str,
        mut change: Change,
        request: String,
        send: impl FnOnce() -> PrimitiveResult<(T, Option<String>, Undo)>,
    ) -> PrimitiveResult<Option<T>> {
        if self.mode == Mode::Plan {
            self.record_planned(change);
            return Ok(None);
        }
        self.check_planned(primitive, &change)?;
        self.flush_for_script()?;
        let started = Instant::now();
        let result = send();
        let duration_ms = elapsed_ms(started);
        match result {
            Ok((value, id, undo)) => {
                if let Some(id) = id {
                    change.id = id;
                }
                lock(&self.journal).push(JournalEntry::made(
                    change.clone(),
                    request,
                    duration_ms,
                    Some(undo),
                ));
                lock(&self.changes).push(change);
                Ok(Some(value))
            }
            Err(error) => {
                self.note_failed_write(error_message(&error));
                lock(&self.journal).push(JournalEntry::failed(
                    change,
                    request,
                    duration_ms,
                    error_message(&error),
                ));
                Err(error)
            }
        }
    }

    /// In a plan, a write is only recorded.
    fn record_planned(&self, change: Change) {
        tracing::debug!(target: "p1run::plan", "{} {}", change.symbol(), change.detail);
        lock(&self.changes).push(change);
    }

    /// In an apply pass, refuses a write that is not the next planned change.
    fn check_planned(&self, primitive: &str, change: &Change) -> PrimitiveResult<()> {
        if crate::interrupt::requested() {
            return Err(usage_failure(
                primitive,
                format!("interrupted (Ctrl-C) before `{}`", change.detail),
            ));
        }
        if let Some(expected) = lock(&self.expected).as_mut() {
            match expected.pop_front() {
                Some(planned) if planned.admits(change) => {}
                planned => {
                    // The queue holds writes planned before this one; past a divergence none
                    // of them is sent either, so the message below stays true.
                    self.batch.discard();
                    let planned = planned.map_or("no further change".to_owned(), |p| {
                        format!("{} {}", p.symbol(), p.detail)
                    });
                    return Err(usage_failure(
                        primitive,
                        format!(
                            "refusing to write: the plan says `{planned}` next, but the live state now \
                             leads to `{} {}`; nothing further was sent — plan again",
                            change.symbol(),
                            change.detail
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Makes one write that may be batched (see [`super::batch`]). In a plan, records `change`
    /// and returns false. In an apply, checks it against the plan and queues it; it is sent
    /// by the next flush.
    pub fn defer(
        &self,
        primitive: &'static str,
        change: Change,
        request: String,
        site: CallSite,
        operation: Operation,
    ) -> PrimitiveResult<bool> {
        if self.mode == Mode::Plan {
            self.record_planned(change);
            return Ok(false);
        }
        self.check_planned(primitive, &change)?;
        self.batch.push(Queued {
            primitive,
            change,
            request,
            site,
            operation,
        });
        Ok(true)
    }

    /// Sends every queued write; the first failure, if any.
    pub fn flush(&self) -> Result<(), BatchFailure> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let flushed = self.runtime.block_on(self.batch.flush(&self.client));
        lock(&self.journal).extend(flushed.journal);
        lock(&self.changes).extend(flushed.changes);
        let mut view = lock(&self.view);
        for (app_id, granted) in flushed.granted {
            if let Some(assignments) = view.assignments.get_mut(&app_id)
                && let Some(pending) = assignments.iter_mut().find(|a| {
                    a.id == PENDING && a.role.id == granted.role.id && a.scope == granted.scope
                })
            {
                *pending = granted;
            }
        }
        drop(view);
        if let Some(failure) = &flushed.failure {
            self.note_failed_write(format!("{}: {}", failure.primitive, failure.error));
        }
        flushed.failure.map_or(Ok(()), Err)
    }

    /// [`Session::flush`] for a primitive: the failure as a script error naming where the
    /// failed write was asked for.
    pub fn flush_for_script(&self) -> PrimitiveResult<()> {
        self.flush().map_err(|failure| {
            let site = match (&failure.site.source, failure.site.line) {
                (_, 0) => String::new(),
                (Some(source), line) => {
                    format!(" (asked for at {source}:{line}:{})", failure.site.column)
                }
                (None, line) => format!(" (asked for at line {line}:{})", failure.site.column),
            };
            api_failure(&format!("{}{site}", failure.primitive), &failure.error)
        })
    }

    /// Notes a grant for the pre-flight check (plan pass only).
    pub fn note_grant(&self, grant: PlannedGrant) {
        if self.mode == Mode::Plan {
            lock(&self.grants).push(grant);
        }
    }

    /// The target environment, read once per run.
    pub fn environment(&self, primitive: &str) -> PrimitiveResult<Environment> {
        if let Some(env) = lock(&self.reads.environment).as_ref() {
            return Ok(env.clone());
        }
        let env = self.call(primitive, self.client.environment(&self.environment_id))?;
        *lock(&self.reads.environment) = Some(env.clone());
        Ok(env)
    }

    /// The id of the organization that owns the target environment. An organization-scoped
    /// role assignment of the acting worker names it (a worker acts only inside its own
    /// organization), which saves reading the environment; otherwise the environment says.
    pub fn organization_id(&self, primitive: &str) -> PrimitiveResult<String> {
        if let Some(env) = lock(&self.reads.environment).as_ref() {
            return Ok(env.organization.id.clone());
        }
        let from_actor = lock(&self.reads.actor_assignments)
            .as_ref()
            .and_then(|held| {
                held.iter()
                    .find(|a| a.scope.kind == crate::client::ScopeType::Organization)
                    .map(|a| a.scope.id.clone())
            });
        match from_actor {
            Some(id) => Ok(id),
            None => Ok(self.environment(primitive)?.organization.id),
        }
    }

    /// The built-in roles, read once per run (or fleet).
    pub fn roles(&self, primitive: &str) -> PrimitiveResult<Arc<Vec<Role>>> {
        if let Some(roles) = lock(&self.reads.roles).as_ref() {
            return Ok(roles.clone());
        }
        let roles = Arc::new(self.call(primitive, self.client.roles())?);
        *lock(&self.reads.roles) = Some(roles.clone());
        Ok(roles)
    }

    /// The target environment's applications, read once per run and kept current by this
    /// pass's own creates and deletes.
    pub fn applications(&self, primitive: &str) -> PrimitiveResult<Vec<AppHandle>> {
        if let Some(apps) = &lock(&self.view).applications {
            return Ok(apps.clone());
        }
        let known = lock(&self.reads.applications).clone();
        let listed = match known {
            Some(listed) => listed,
            None => {
                let listed =
                    self.call(primitive, self.client.applications(&self.environment_id))?;
                *lock(&self.reads.applications) = Some(listed.clone());
                listed
            }
        };
        let handles: Vec<AppHandle> = listed
            .into_iter()
            .map(|app| AppHandle::new(&self.environment_id, app))
            .collect();
        let mut view = lock(&self.view);
        Ok(view.applications.get_or_insert(handles).clone())
    }

    /// Adds an application this pass created (or planned); it has no role assignments, since
    /// it was created with `assignActorRoles: false`.
    pub fn remember_application(&self, handle: AppHandle) {
        let mut view = lock(&self.view);
        view.assignments.insert(handle.key(), Vec::new());
        view.applications.get_or_insert_with(Vec::new).push(handle);
    }

    /// Drops an application this pass deleted.
    pub fn forget_application(&self, key: &str) {
        let mut view = lock(&self.view);
        if let Some(apps) = view.applications.as_mut() {
            apps.retain(|app| app.key() != key);
        }
        view.assignments.remove(key);
    }

    /// An application's role assignments, read once per run and kept current by this pass's
    /// grants and revokes.
    pub fn assignments(
        &self,
        primitive: &str,
        app: &AppHandle,
    ) -> PrimitiveResult<Vec<RoleAssignment>> {
        if let Some(known) = lock(&self.view).assignments.get(&app.key()) {
            return Ok(known.clone());
        }
        if app.is_planned() {
            return Ok(Vec::new());
        }
        let id = app.id();
        let read = lock(&self.reads.assignments).get(&id).cloned();
        let listed = match read {
            Some(listed) => listed,
            None => {
                let listed = self.call(
                    primitive,
                    self.client.role_assignments(&app.environment_id, &id),
                )?;
                lock(&self.reads.assignments).insert(id.clone(), listed.clone());
                listed
            }
        };
        lock(&self.view).assignments.insert(id, listed.clone());
        Ok(listed)
    }

    /// Updates this pass's view of an application's assignments after a grant or revoke.
    pub fn set_assignments(&self, app: &AppHandle, assignments: Vec<RoleAssignment>) {
        lock(&self.view).assignments.insert(app.key(), assignments);
    }
}

/// The human message carried by a primitive's error.
pub fn error_message(error: &EvalAltResult) -> String {
    if let EvalAltResult::ErrorRuntime(value, _) = error
        && let Some(map) = value.read_lock::<Map>()
        && let Some(message) = map.get("message")
    {
        return message.to_string();
    }
    error.to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(detail: &str) -> Change {
        Change::new("grant", "role_assignment", KNOWN_AFTER_APPLY, detail)
    }

    #[test]
    fn a_planned_change_admits_only_itself_with_unknowns_filled_in() {
        let planned = grant("grant \"A\" on APPLICATION (known after apply) to \"x\"");
        assert!(planned.admits(&grant("grant \"A\" on APPLICATION 1234 to \"x\"")));
        assert!(!planned.admits(&grant("grant \"A\" on APPLICATION 1234 to \"y\"")));
        assert!(!planned.admits(&grant("grant \"B\" on APPLICATION 1234 to \"x\"")));
        let exact = grant("grant \"A\" on ENVIRONMENT e to \"x\"");
        assert!(exact.admits(&exact.clone()));
        assert!(!exact.admits(&Change::new(
            "revoke",
            "role_assignment",
            "1",
            exact.detail.clone()
        )));
        assert!(!exact.admits(&grant("grant \"A\" on ENVIRONMENT f to \"x\"")));
    }

    #[test]
    fn symbols_follow_the_plan_notation() {
        assert_eq!(Change::new("create", "application", "1", "").symbol(), '+');
        assert_eq!(Change::new("update", "application", "1", "").symbol(), '~');
        assert_eq!(
            Change::new("revoke", "role_assignment", "1", "").symbol(),
            '-'
        );
    }
}
