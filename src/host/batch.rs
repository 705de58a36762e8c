//! Writes the apply pass holds back so that they cost fewer round trips: role grants and
//! revokes go out concurrently, and consecutive updates of one application fold into one
//! full-body PUT. The documented order keeps its meaning: a flush sends every grant and
//! revoke first, and the PUTs (which may enable an application) only once they all succeeded.
//!
//! A flush happens before any write that is not batched, before anything that reads a
//! secret, and at the end of the script (also when the script failed, so that what it asked
//! for before the failing line is done, and can be rolled back, as if sent at once).

use super::session::{AppHandle, Change, JournalEntry, Undo, elapsed_ms, lock};
use crate::client::write_once;
use crate::client::{Application, Client, ClientError, RoleAssignment, ScopeRef};
use futures_util::future::join_all;
use std::sync::Mutex;
use std::time::Instant;

/// Where in a script a batched write was asked for, so that its failure names that line.
#[derive(Debug, Clone, Default)]
pub struct CallSite {
    /// The script or module (`None`: the main script).
    pub source: Option<String>,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl CallSite {
    /// The call site of a primitive, from its native call context.
    pub fn of(context: &rhai::NativeCallContext<'_>) -> Self {
        let position = context.call_position();
        Self {
            source: context.call_source().map(str::to_owned),
            line: position.line().unwrap_or(0),
            column: position.position().unwrap_or(0),
        }
    }
}

/// What a batched write does.
#[derive(Debug, Clone)]
pub enum Operation {
    /// `POST …/roleAssignments`.
    Grant {
        /// The application's environment.
        environment_id: String,
        /// The application.
        application_id: String,
        /// The role.
        role_id: String,
        /// The scope.
        scope: ScopeRef,
    },
    /// `DELETE …/roleAssignments/{id}`.
    Revoke {
        /// The application's environment.
        environment_id: String,
        /// The application.
        application_id: String,
        /// The assignment.
        assignment_id: String,
        /// Its role, to re-grant on rollback.
        role_id: String,
        /// Its scope, to re-grant on rollback.
        scope: ScopeRef,
    },
    /// A full-body PUT of the application's state as this run now knows it.
    Update {
        /// The application (its state already holds the change).
        app: AppHandle,
        /// Its state before this change, to restore on rollback.
        previous: Box<Application>,
    },
}

/// One queued write.
#[derive(Debug, Clone)]
pub struct Queued {
    /// The primitive that asked for it.
    pub primitive: &'static str,
    /// The change it makes.
    pub change: Change,
    /// `METHOD /path`.
    pub request: String,
    /// Where it was asked for.
    pub site: CallSite,
    /// What to send.
    pub operation: Operation,
}

/// A batched write that failed, with where it was asked for.
#[derive(Debug)]
pub struct BatchFailure {
    /// The primitive.
    pub primitive: &'static str,
    /// Where.
    pub site: CallSite,
    /// PingOne's answer.
    pub error: Box<ClientError>,
}

/// The queue of one apply pass.
#[derive(Debug, Default)]
pub struct Batch {
    queue: Mutex<Vec<Queued>>,
}

/// What a flush did, in queue order.
pub struct Flushed {
    /// Journal entries of what was sent.
    pub journal: Vec<JournalEntry>,
    /// The changes that were made, with their real ids.
    pub changes: Vec<Change>,
    /// Grants made: (application id, assignment as PingOne returned it).
    pub granted: Vec<(String, RoleAssignment)>,
    /// The first failure, if any.
    pub failure: Option<BatchFailure>,
}

impl Batch {
    /// Queues a write.
    pub fn push(&self, queued: Queued) {
        lock(&self.queue).push(queued);
    }

    /// Drops everything queued, unsent.
    pub fn discard(&self) {
        lock(&self.queue).clear();
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        lock(&self.queue).is_empty()
    }

    /// Sends everything queued: role changes concurrently, then one PUT per application.
    pub async fn flush(&self, client: &Client) -> Flushed {
        let queued = std::mem::take(&mut *lock(&self.queue));
        let mut flushed = Flushed {
            journal: Vec::new(),
            changes: Vec::new(),
            granted: Vec::new(),
            failure: None,
        };
        let (updates, role_ops): (Vec<_>, Vec<_>) = queued
            .into_iter()
            .partition(|q| matches!(q.operation, Operation::Update { .. }));
        // Revokes before grants: swapping a role's scope (revoke at the organization, grant at
        // the environment) must not race into PingOne's duplicate check.
        let (revokes, grants): (Vec<_>, Vec<_>) = role_ops
            .into_iter()
            .partition(|q| matches!(q.operation, Operation::Revoke { .. }));
        for wave in [revokes, grants] {
            if flushed.failure.is_some() {
                flushed.not_sent(wave);
                continue;
            }
            let results =
                join_all(wave.iter().map(|queued| send_role_change(client, queued))).await;
            for (queued, (result, duration_ms)) in wave.into_iter().zip(results) {
                flushed.record(queued, result, duration_ms);
            }
        }
        if flushed.failure.is_some() {
            // The documented order: an application is enabled only after its roles are granted.
            flushed.not_sent(updates);
            return flushed;
        }

        let mut groups: Vec<(String, Vec<Queued>)> = Vec::new();
        for queued in updates {
            let Operation::Update { app, .. } = &queued.operation else {
                continue;
            };
            let id = app.id();
            match groups.iter_mut().find(|(group, _)| *group == id) {
                Some((_, members)) => members.push(queued),
                None => groups.push((id, vec![queued])),
            }
        }
        let results = join_all(
            groups
                .iter()
                .map(|(_, members)| send_update(client, members)),
        )
        .await;
        for ((_, members), (result, duration_ms)) in groups.into_iter().zip(results) {
            flushed.record_update(members, result, duration_ms);
        }
        flushed
    }
}

enum Sent {
    Granted(RoleAssignment),
    Revoked,
}

async fn send_role_change(client: &Client, queued: &Queued) -> (Result<Sent, ClientError>, u64) {
    let started = Instant::now();
    let result = match &queued.operation {
        Operation::Grant {
            environment_id,
            application_id,
            role_id,
            scope,
        } => {
            // A grant PingOne may have made despite its answer is looked for before it is
            // sent again (see `client::write_once`).
            let landed = || async {
                let held = client
                    .role_assignments(environment_id, application_id)
                    .await?;
                Ok(held
                    .into_iter()
                    .find(|a| a.role.id == *role_id && a.scope == *scope))
            };
            write_once(
                || client.create_role_assignment(environment_id, application_id, role_id, scope),
                landed,
            )
            .await
            .map(Sent::Granted)
        }
        Operation::Revoke {
            environment_id,
            application_id,
            assignment_id,
            ..
        } => client
            .delete_role_assignment(environment_id, application_id, assignment_id)
            .await
            .map(|()| Sent::Revoked),
        Operation::Update { .. } => unreachable!("updates are sent by send_update"),
    };
    (result, elapsed_ms(started))
}

async fn send_update(
    client: &Client,
    members: &[Queued],
) -> (Result<Application, ClientError>, u64) {
    let started = Instant::now();
    let (Some(Operation::Update { app, .. }), Some(Operation::Update { previous, .. })) = (
        members.last().map(|q| &q.operation),
        members.first().map(|q| &q.operation),
    ) else {
        unreachable!("update groups hold updates and are never empty");
    };
    let wanted = app.snapshot();
    // PUT replaces the whole application and clears what it omits (API-REFERENCE §2.2), so
    // its body is what PingOne holds now, read just before, with this run's changes on top;
    // for an application this run created, the create's answer is that state already.
    let result = async {
        let mut body = if app.created_here() {
            wanted.clone()
        } else {
            client.application(&app.environment_id, wanted.id()).await?
        };
        for (field, value) in &wanted.0 {
            if !Application::READ_ONLY_FIELDS.contains(&field.as_str())
                && previous.0.get(field) != Some(value)
            {
                body.set(field, value.clone());
            }
        }
        client.update_application(&app.environment_id, &body).await
    }
    .await;
    (result, elapsed_ms(started))
}

impl Flushed {
    /// Journals writes left unsent because an earlier one failed, and puts the applications
    /// they would have updated back to the state PingOne still holds.
    fn not_sent(&mut self, queued: Vec<Queued>) {
        // Newest first, so that an application updated twice ends at its first `previous`.
        for queued in queued.iter().rev() {
            if let Operation::Update { app, previous } = &queued.operation {
                app.replace((**previous).clone());
            }
        }
        for queued in queued {
            let why = "not sent: an earlier write of the same step failed".to_owned();
            self.journal
                .push(JournalEntry::failed(queued.change, queued.request, 0, why));
        }
    }

    fn record(&mut self, queued: Queued, result: Result<Sent, ClientError>, duration_ms: u64) {
        let mut change = queued.change;
        match result {
            Ok(sent) => {
                let undo = match (&queued.operation, sent) {
                    (
                        Operation::Grant {
                            environment_id,
                            application_id,
                            ..
                        },
                        Sent::Granted(assignment),
                    ) => {
                        change.id.clone_from(&assignment.id);
                        self.granted
                            .push((application_id.clone(), assignment.clone()));
                        Undo::Revoke {
                            environment_id: environment_id.clone(),
                            application_id: application_id.clone(),
                            assignment_id: assignment.id,
                            detail: change.detail.clone(),
                        }
                    }
                    (
                        Operation::Revoke {
                            environment_id,
                            application_id,
                            role_id,
                            scope,
                            ..
                        },
                        _,
                    ) => Undo::Regrant {
                        environment_id: environment_id.clone(),
                        application_id: application_id.clone(),
                        role_id: role_id.clone(),
                        scope: scope.clone(),
                        detail: change.detail.clone(),
                    },
                    _ => unreachable!("role operations answer with grants or revokes"),
                };
                self.journal.push(JournalEntry::made(
                    change.clone(),
                    queued.request,
                    duration_ms,
                    Some(undo),
                ));
                self.changes.push(change);
            }
            Err(error) => {
                self.journal.push(JournalEntry::failed(
                    change,
                    queued.request,
                    duration_ms,
                    error.to_string(),
                ));
                if self.failure.is_none() {
                    self.failure = Some(BatchFailure {
                        primitive: queued.primitive,
                        site: queued.site,
                        error: Box::new(error),
                    });
                }
            }
        }
    }

    fn record_update(
        &mut self,
        members: Vec<Queued>,
        result: Result<Application, ClientError>,
        duration_ms: u64,
    ) {
        let Some(Operation::Update { app, previous }) =
            members.first().map(|q| q.operation.clone())
        else {
            return;
        };
        let last = members.len() - 1;
        match result {
            Ok(updated) => {
                app.replace(updated);
                for (index, queued) in members.into_iter().enumerate() {
                    // One PUT made every folded change; undoing it once restores the state
                    // from before the first of them.
                    let undo = (index == last).then(|| Undo::Restore {
                        environment_id: app.environment_id.clone(),
                        previous: previous.clone(),
                        detail: queued.change.detail.clone(),
                    });
                    self.journal.push(JournalEntry::made(
                        queued.change.clone(),
                        queued.request,
                        duration_ms,
                        undo,
                    ));
                    self.changes.push(queued.change);
                }
            }
            Err(error) => {
                // PingOne still holds the state from before these changes.
                app.replace(*previous);
                let first = &members[0];
                for queued in &members {
                    let (change, request) = (queued.change.clone(), queued.request.clone());
                    self.journal.push(JournalEntry::failed(
                        change,
                        request,
                        duration_ms,
                        error.to_string(),
                    ));
                }
                if self.failure.is_none() {
                    self.failure = Some(BatchFailure {
                        primitive: first.primitive,
                        site: first.site.clone(),
                        error: Box::new(error),
                    });
                }
            }
        }
    }
}
