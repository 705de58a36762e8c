//! What every run of one command shares (a fleet's runs especially): the runtime, tokens,
//! connections, request budgets, and the reads that are the same for every environment of one
//! acting worker.

use crate::budget::BudgetPolicy;
use crate::client::{Connections, RateBudget, Role, RoleAssignment, TokenCache};
use crate::config::Target;
use crate::error::Error;
use crate::host::session::lock;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// What every run of one command shares, so that a fleet of runs costs little more than its
/// requests: one runtime, one token per worker credential, one connection pool, one request
/// budget per license, and the built-in roles read once per organization.
pub struct Shared {
    pub(super) runtime: tokio::runtime::Runtime,
    pub(super) tokens: TokenCache,
    pub(super) connections: Connections,
    pub(super) transaction_id: String,
    pub(super) budget_policy: Option<BudgetPolicy>,
    /// Per license; `None` where the policy leaves it unlimited.
    pub(super) budgets: Mutex<BTreeMap<String, Option<RateBudget>>>,
    pub(super) roles: Mutex<HashMap<(String, String, String), RolesCell>>,
    pub(super) actors: Mutex<HashMap<(String, String, String), ActorCell>>,
    pub(super) on_step: Mutex<Option<StepListener>>,
    pub(super) on_print: Mutex<Option<PrintListener>>,
}

/// Shows a script's `print()` line (already prefixed) instead of writing it to stderr.
pub use crate::host::session::PrintSink as PrintListener;

/// Told `(environment, step)` as a run moves on: reading, planning, applying, rolling back.
pub type StepListener = Arc<dyn Fn(&str, &str) + Send + Sync>;

pub(super) type RolesCell = Arc<tokio::sync::OnceCell<Arc<Vec<Role>>>>;
pub(super) type ActorCell = Arc<tokio::sync::OnceCell<Vec<RoleAssignment>>>;

impl Shared {
    /// Shared state for one command; `budget` says what this process may send on each
    /// license (`None`: unlimited).
    pub fn new(budget: Option<BudgetPolicy>) -> Result<Self, Error> {
        let runtime = runtime()?;
        crate::interrupt::install(&runtime);
        Ok(Self {
            runtime,
            tokens: TokenCache::default(),
            connections: Connections::new()?,
            // One id for every request of the command, so PingOne support can find them all.
            transaction_id: uuid::Uuid::new_v4().to_string(),
            budget_policy: budget,
            budgets: Mutex::default(),
            roles: Mutex::default(),
            actors: Mutex::default(),
            on_step: Mutex::default(),
            on_print: Mutex::default(),
        })
    }

    /// Reports every run's steps to `listener` (the fleet's progress display).
    pub fn on_step(&self, listener: StepListener) {
        *lock(&self.on_step) = Some(listener);
    }

    /// Shows every run's script prints through `listener` (the fleet's progress display).
    pub fn on_print(&self, listener: PrintListener) {
        *lock(&self.on_print) = Some(listener);
    }

    /// The runtime all API calls run on.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// A client for `target` that shares this command's tokens, connections, transaction id
    /// and request budget with its runs (e.g. `doctor`'s own checks before its plans).
    pub fn client(
        &self,
        target: &Target,
        retry: crate::client::RetryPolicy,
    ) -> Result<crate::client::Client, Error> {
        self.client_for(target, retry, true)
    }

    /// [`Shared::client`], with the request budget only when `budgeted` (the embedded emulator
    /// is this process's alone: PingOne's limits do not apply to it).
    pub(super) fn client_for(
        &self,
        target: &Target,
        retry: crate::client::RetryPolicy,
        budgeted: bool,
    ) -> Result<crate::client::Client, Error> {
        let mut options =
            crate::client::ClientOptions::new(target.endpoints.clone(), target.credentials.clone());
        options.retry = retry;
        options.tokens = self.tokens.clone();
        options.transaction_id.clone_from(&self.transaction_id);
        options.connections = Some(self.connections.clone());
        if budgeted {
            options.rate_budget = self.budget(target);
        }
        Ok(crate::client::Client::new(options)?)
    }

    /// The request budget of `target`'s license, made (and stated at `-v`) on first use.
    fn budget(&self, target: &Target) -> Option<RateBudget> {
        let policy = self.budget_policy.as_ref()?;
        lock(&self.budgets)
            .entry(target.license.clone())
            .or_insert_with(|| {
                // One license is one PingOne tenant's, so its first target says whether it is
                // PingOne or an emulator on loopback for all of them.
                let pingone = !target.endpoints.on_loopback();
                tracing::info!("{}", policy.describe(&target.license, pingone));
                RateBudget::per_second(policy.per_second(pingone))
            })
            .clone()
    }

    /// The policy the budgets follow, if any.
    pub fn budget_policy(&self) -> Option<&BudgetPolicy> {
        self.budget_policy.as_ref()
    }

    /// Requests a second each license used so far was given (unlimited ones left out).
    pub fn budget_rates(&self) -> BTreeMap<String, f64> {
        lock(&self.budgets)
            .iter()
            .filter_map(|(license, budget)| Some((license.clone(), budget.as_ref()?.rate())))
            .collect()
    }

    /// The built-in roles are read once per organization: role ids are not known to be the
    /// same across organizations (docs/pingone.md, "Roles"), and a worker belongs to exactly
    /// one, so the worker stands for its organization.
    pub(super) fn roles_cell(&self, target: &Target) -> RolesCell {
        lock(&self.roles)
            .entry(worker_key(target))
            .or_default()
            .clone()
    }

    /// The acting worker's own assignments are the same for every environment it acts on
    /// (and for a bootstrap admin of many environments, a long list), so a fleet reads them
    /// once per worker.
    pub(super) fn actor_cell(&self, target: &Target) -> ActorCell {
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

/// The multi-thread runtime all API calls run on. The Rhai engine itself runs on the calling
/// thread, outside the runtime, and blocks on it per call (see `crate::host::session`).
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
