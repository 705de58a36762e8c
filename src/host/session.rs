//! The per-run context every primitive captures: the client, the target environment, the
//! `--var` values, what the run has read, and the writes it decided on.
//!
//! It lives in an `Arc` captured by the registered closures rather than in Rhai's `Scope`,
//! because script-defined functions cannot see `Scope` variables (a Rhai rule:
//! <https://rhai.rs/book/language/functions.html>, "No Access to External Scope").
//!
//! # Plan, then apply
//!
//! Every run first executes the script in [`Mode::Plan`]: reads are live, writes are recorded
//! as typed [`Write`]s and answered with placeholders (an app a plan creates has the id
//! `(known after apply)`), so the whole script runs, branches included. `plan` stops there.
//! `apply` then checks the plan (pre-flight, and against a saved plan file when given) and
//! runs the script again in [`Mode::Apply`], where every write must be the next planned one
//! before it is sent. That gives one mechanism for plan, pre-flight, `apply --plan`, the
//! rollback journal and the report, while the apply pass still hands scripts real results
//! (an app's id) after the write that makes them. The reads of the plan pass are kept in a
//! [`Reads`] cache that the apply pass reuses, so planning first costs no extra requests.

use crate::client::{
    Application, Client, ClientError, CustomRole, Environment, Population, Role, RoleAssignment,
};
use crate::writes::batch::{Batch, BatchFailure, CallSite, Failure, Queued};
use crate::writes::{
    AppRef, Applied, Change, FieldChange, JournalEntry, KNOWN_AFTER_APPLY, Write, WriteError,
    elapsed_ms, send,
};
use rhai::{Dynamic, EvalAltResult, Map};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Shows a script line (already prefixed) instead of writing it to stderr.
pub type PrintSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Where a script's `print()` and `debug()` lines go: stderr (stdout carries only results),
/// prefixed with the environment in a fleet, nowhere with `--quiet`.
#[derive(Clone, Default)]
pub struct Printer {
    /// `--quiet`: show nothing.
    pub quiet: bool,
    /// The environment name to prefix each line with (fleets).
    pub label: Option<String>,
    /// Where the lines go instead of stderr (a fleet's progress display draws them above
    /// its bar).
    pub sink: Option<PrintSink>,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer")
            .field("quiet", &self.quiet)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Printer {
    /// Shows one script line.
    pub fn show(&self, text: &str) {
        if self.quiet {
            return;
        }
        let line = match &self.label {
            Some(label) => format!("[{label}] {text}"),
            None => text.to_owned(),
        };
        match &self.sink {
            Some(sink) => sink(&line),
            None => eprintln!("{line}"),
        }
    }
}

/// What a run does with the writes its primitives decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Send them (each must match the next planned write).
    Apply,
    /// Record them without sending (reads stay live).
    Plan,
}

/// The id of a grant the apply pass has queued but not sent yet.
pub const PENDING: &str = "(pending)";

/// A live application handle: every copy a script holds sees the latest state this run
/// knows, so `enable(app); app.enabled` is `true` without reassigning `app`.
#[derive(Debug, Clone)]
pub struct AppHandle {
    /// The environment it lives in.
    pub environment_id: String,
    /// Its state as last read or written in this run.
    pub state: Arc<Mutex<Application>>,
    /// For an application this run creates (or plans to): the position of the creating
    /// write among the run's writes (see [`AppRef::created_by`]).
    created_by: Option<usize>,
}

impl AppHandle {
    /// A handle on an application as read.
    pub fn new(environment_id: &str, application: Application) -> Self {
        Self {
            environment_id: environment_id.to_owned(),
            state: Arc::new(Mutex::new(application)),
            created_by: None,
        }
    }

    /// A handle on an application this run creates, by its `index`-th write.
    pub fn created(environment_id: &str, application: Application, index: usize) -> Self {
        Self {
            created_by: Some(index),
            ..Self::new(environment_id, application)
        }
    }

    /// What this run's view of the environment knows the application by: its id, or for a
    /// planned application a key unique among them.
    pub fn key(&self) -> String {
        match self.created_by {
            Some(index) if self.is_planned() => format!("{KNOWN_AFTER_APPLY}#{index}"),
            _ => self.id(),
        }
    }

    /// The application as writes name it.
    pub fn app_ref(&self) -> AppRef {
        AppRef {
            id: self.id(),
            name: self.name(),
            created_by: self.created_by,
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
    custom_roles: Mutex<Option<Vec<CustomRole>>>,
    populations: Mutex<Option<Vec<Population>>>,
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
    populations: Option<Vec<Population>>,
    custom_roles: Option<Vec<CustomRole>>,
    assignments: HashMap<String, Vec<RoleAssignment>>,
}

/// The per-run context.
pub struct Session {
    runtime: tokio::runtime::Handle,
    client: Client,
    environment_id: String,
    mode: Mode,
    vars: BTreeMap<String, String>,
    reads: Arc<Reads>,
    view: Mutex<View>,
    /// Every write decided on (plan) or made (apply), in order.
    writes: Mutex<Vec<Write>>,
    /// Apply passes: the planned writes still to come, with their position in the plan.
    expected: Mutex<Option<VecDeque<(usize, Write)>>>,
    journal: Mutex<Vec<JournalEntry>>,
    batch: Batch,
    quiet_prints: bool,
    held_prints: Mutex<Vec<String>>,
    printer: Printer,
    failed_write: Mutex<Option<String>>,
}

/// A failure inside a primitive, as scripts see it (`catch (e)` gets the map).
pub type PrimitiveResult<T> = Result<T, Box<EvalAltResult>>;

impl Session {
    /// A session for one pass of a run against one environment. `expected` (apply passes
    /// only) lists the planned writes every write must match, in order.
    pub fn new(
        runtime: tokio::runtime::Handle,
        client: Client,
        environment_id: String,
        mode: Mode,
        vars: BTreeMap<String, String>,
        reads: Arc<Reads>,
        expected: Option<Vec<Write>>,
    ) -> Self {
        Self {
            runtime,
            client,
            environment_id,
            mode,
            vars,
            reads,
            view: Mutex::default(),
            writes: Mutex::default(),
            expected: Mutex::new(expected.map(|writes| writes.into_iter().enumerate().collect())),
            journal: Mutex::default(),
            batch: Batch::default(),
            quiet_prints: false,
            held_prints: Mutex::default(),
            printer: Printer::default(),
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
        let held: Vec<String> = lock(&self.held_prints).drain(..).collect();
        for text in held {
            self.printer.show(&text);
        }
    }

    /// A script line from `print()` or `debug()`: held back in the plan pass of an apply,
    /// shown at once otherwise.
    pub fn script_print(&self, text: &str) {
        if self.quiet_prints {
            self.hold_print(text);
        } else {
            self.printer.show(text);
        }
    }

    /// Sends script prints to `printer`.
    #[must_use]
    pub fn with_printer(mut self, printer: Printer) -> Self {
        self.printer = printer;
        self
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
    /// thread, never on a runtime worker, so `block_on` cannot panic.
    pub fn call<T>(
        &self,
        primitive: &str,
        future: impl Future<Output = Result<T, ClientError>>,
    ) -> PrimitiveResult<T> {
        self.runtime
            .block_on(future)
            .map_err(|error| api_failure(primitive, &error))
    }

    /// A `--var` value.
    pub fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    /// The writes decided on (plan) or made (apply) so far, oldest first.
    pub fn writes(&self) -> Vec<Write> {
        lock(&self.writes).clone()
    }

    /// How people see [`Session::writes`] (apply: with the ids PingOne gave).
    pub fn changes(&self) -> Vec<Change> {
        match self.mode {
            Mode::Plan => lock(&self.writes).iter().map(Write::change).collect(),
            Mode::Apply => lock(&self.journal)
                .iter()
                .filter(|entry| entry.error.is_none())
                .map(|entry| entry.change.clone())
                .collect(),
        }
    }

    /// The apply pass's journal, oldest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        lock(&self.journal).clone()
    }

    /// The position the next write gets among the run's writes.
    pub fn next_index(&self) -> usize {
        match lock(&self.expected)
            .as_ref()
            .and_then(|queue| queue.front())
        {
            Some((index, _)) if self.mode == Mode::Apply => *index,
            _ => lock(&self.writes).len(),
        }
    }

    /// Makes one write now. In a plan, records it and returns `None`. In an apply, checks
    /// that it is the next planned one, sends what is queued before it, sends it and
    /// journals it. A create takes with it the planned updates of the application it
    /// creates (they fold into its body, saving a PUT each).
    pub fn write(&self, primitive: &str, mut write: Write) -> PrimitiveResult<Option<Applied>> {
        if self.mode == Mode::Plan {
            self.record_planned(write);
            return Ok(None);
        }
        let index = self.check_planned(primitive, &write)?;
        self.flush_for_script()?;
        // The flush may have taken a while (its writes in flight completed): Ctrl-C during it
        // still stops this write.
        self.stop_if_interrupted(primitive, &write)?;
        let folded = self.fold_into_create(index, &mut write);
        let started = Instant::now();
        let result = self.runtime.block_on(send(&write, &self.client));
        let duration_ms = elapsed_ms(started);
        let request = write.request().to_string();
        match result {
            Ok(applied) => {
                let id = applied.id().unwrap_or_default();
                lock(&self.journal).push(JournalEntry::made(
                    write.clone(),
                    &applied,
                    request.clone(),
                    duration_ms,
                ));
                for update in folded {
                    lock(&self.journal).push(JournalEntry::folded(update, &id, &request));
                }
                lock(&self.writes).push(write);
                Ok(Some(applied))
            }
            Err(error) => {
                let message = format!("{primitive}: {error}");
                self.note_failed_write(message.clone());
                lock(&self.journal).push(JournalEntry::failed(
                    write,
                    duration_ms,
                    error.to_string(),
                ));
                Err(write_failure(primitive, &error))
            }
        }
    }

    /// For a create in an apply pass: takes the planned updates of the application it
    /// creates out of the queue and sets their fields in its body.
    fn fold_into_create(&self, index: usize, write: &mut Write) -> Vec<Write> {
        let Write::CreateApplication { folded, .. } = write else {
            return Vec::new();
        };
        let mut expected = lock(&self.expected);
        let Some(queue) = expected.as_mut() else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        queue.retain(|(_, planned)| match planned {
            Write::UpdateApplication {
                application,
                fields,
                ..
            } if application.created_by == Some(index) => {
                folded.extend(fields.iter().cloned());
                taken.push(planned.clone());
                false
            }
            _ => true,
        });
        taken
    }

    /// In a plan, a write is only recorded.
    fn record_planned(&self, write: Write) {
        let change = write.change();
        tracing::debug!(target: "p1run::plan", "{} {}", change.symbol(), change.detail);
        lock(&self.writes).push(write);
    }

    /// After Ctrl-C, refuses `write` and drops what is queued, unsent.
    fn stop_if_interrupted(&self, primitive: &str, write: &Write) -> PrimitiveResult<()> {
        if !crate::interrupt::requested() {
            return Ok(());
        }
        self.batch.discard();
        Err(usage_failure(
            primitive,
            format!("interrupted (Ctrl-C) before `{}`", write.detail()),
        ))
    }

    /// In an apply pass, refuses a write after Ctrl-C or one that is not the next planned
    /// write; returns its position in the plan.
    fn check_planned(&self, primitive: &str, write: &Write) -> PrimitiveResult<usize> {
        self.stop_if_interrupted(primitive, write)?;
        let mut expected = lock(&self.expected);
        let Some(queue) = expected.as_mut() else {
            return Ok(lock(&self.writes).len());
        };
        match queue.pop_front() {
            Some((index, planned)) if planned.admits(write) => Ok(index),
            planned => {
                // The queue holds writes planned before this one; past a divergence none of
                // them is sent either, so the message below stays true.
                self.batch.discard();
                let planned = planned.map_or("no further change".to_owned(), |(_, p)| {
                    let change = p.change();
                    format!("{} {}", change.symbol(), change.detail)
                });
                let actual = write.change();
                Err(usage_failure(
                    primitive,
                    format!(
                        "refusing to write: the plan says `{planned}` next, but the live state now \
                         leads to `{} {}`; nothing further was sent — plan again",
                        actual.symbol(),
                        actual.detail
                    ),
                ))
            }
        }
    }

    /// Makes one write that may be batched (see [`crate::writes::batch`]). In a plan,
    /// records it and returns false. In an apply, checks it against the plan and queues it;
    /// the next flush sends it.
    pub fn defer(
        &self,
        primitive: &'static str,
        site: CallSite,
        write: Write,
    ) -> PrimitiveResult<bool> {
        if self.mode == Mode::Plan {
            self.record_planned(write);
            return Ok(false);
        }
        self.check_planned(primitive, &write)?;
        self.batch.push(Queued {
            primitive,
            write,
            site,
        });
        Ok(true)
    }

    /// Sends every queued write; the first failure, if any.
    pub fn flush(&self) -> Result<(), BatchFailure> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let flushed = self
            .runtime
            .block_on(self.batch.flush(&self.client, crate::interrupt::requested));
        for entry in &flushed.journal {
            if entry.error.is_none() {
                lock(&self.writes).push(entry.write.clone());
            }
        }
        lock(&self.journal).extend(flushed.journal);
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
        let handle = |view: &View, id: &str| {
            view.applications
                .iter()
                .flatten()
                .find(|app| app.id() == id)
                .cloned()
        };
        for updated in flushed.updated {
            if let Some(app) = handle(&view, updated.id()) {
                app.replace(updated);
            }
        }
        // PingOne still holds what these updates would have changed.
        for (id, fields) in flushed.not_updated {
            if let Some(app) = handle(&view, &id) {
                let mut state = app.snapshot();
                for change in fields.iter().rev() {
                    state.set(&change.field, change.from.clone());
                }
                app.replace(state);
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
            let primitive = format!("{}{site}", failure.primitive);
            match &failure.error {
                Failure::Write(error) => write_failure(&primitive, error),
                Failure::Interrupted => usage_failure(&primitive, &failure.error),
            }
        })
    }

    /// The target environment, read once per run.
    pub fn environment(&self, primitive: &str) -> PrimitiveResult<Environment> {
        self.read_once(
            &self.reads.environment,
            primitive,
            self.client.environment(&self.environment_id),
        )
    }

    /// What `cell` holds, else `read`'s answer, kept there for the rest of the run (both
    /// passes): the apply pass asks PingOne nothing the plan pass already asked.
    fn read_once<T: Clone>(
        &self,
        cell: &Mutex<Option<T>>,
        primitive: &str,
        read: impl Future<Output = Result<T, ClientError>>,
    ) -> PrimitiveResult<T> {
        if let Some(known) = lock(cell).as_ref() {
            return Ok(known.clone());
        }
        let value = self.call(primitive, read)?;
        Ok(lock(cell).get_or_insert(value).clone())
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
        self.read_once(&self.reads.roles, primitive, async {
            self.client.roles().await.map(Arc::new)
        })
    }

    /// The target environment's applications, read once per run and kept current by this
    /// pass's own creates and deletes.
    pub fn applications(&self, primitive: &str) -> PrimitiveResult<Vec<AppHandle>> {
        if let Some(apps) = &lock(&self.view).applications {
            return Ok(apps.clone());
        }
        let listed = self.read_once(
            &self.reads.applications,
            primitive,
            self.client.applications(&self.environment_id),
        )?;
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

    /// The target environment's populations, read once per run and kept current by this
    /// pass's own creates.
    pub fn populations(&self, primitive: &str) -> PrimitiveResult<Vec<Population>> {
        if let Some(known) = &lock(&self.view).populations {
            return Ok(known.clone());
        }
        let listed = self.read_once(
            &self.reads.populations,
            primitive,
            self.client.populations(&self.environment_id),
        )?;
        Ok(lock(&self.view).populations.get_or_insert(listed).clone())
    }

    /// Adds a population this pass created (or planned).
    pub fn remember_population(&self, population: Population) {
        lock(&self.view)
            .populations
            .get_or_insert_with(Vec::new)
            .push(population);
    }

    /// The roles of the target environment's role list (`GET /environments/{env}/roles`):
    /// its custom roles and the built-in ones with their permissions. Read once per run and
    /// kept current by this pass's own creates and updates.
    pub fn custom_roles(&self, primitive: &str) -> PrimitiveResult<Vec<CustomRole>> {
        if let Some(known) = &lock(&self.view).custom_roles {
            return Ok(known.clone());
        }
        let listed = self.read_once(
            &self.reads.custom_roles,
            primitive,
            self.client.custom_roles(&self.environment_id),
        )?;
        Ok(lock(&self.view).custom_roles.get_or_insert(listed).clone())
    }

    /// Records a custom role this pass created, updated (replacing the one with its name) or
    /// planned.
    pub fn remember_custom_role(&self, role: CustomRole) {
        let mut view = lock(&self.view);
        let roles = view.custom_roles.get_or_insert_with(Vec::new);
        roles.retain(|known| !(known.is_custom() && known.name == role.name));
        roles.push(role);
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

/// The error a primitive raises for a write that failed: an API failure when PingOne
/// answered, else a usage failure with the local cause.
pub fn write_failure(primitive: &str, error: &WriteError) -> Box<EvalAltResult> {
    match error {
        WriteError::Client(error) => api_failure(primitive, error),
        WriteError::File(message) => usage_failure(primitive, message),
    }
}

/// Field changes that bring `current` to `wanted` (for [`Write::UpdateApplication`]).
pub fn field_change(
    current: &Application,
    field: &str,
    to: serde_json::Value,
) -> Option<FieldChange> {
    let from = current
        .0
        .get(field)
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    (from != to).then(|| FieldChange {
        field: field.to_owned(),
        from,
        to,
    })
}
