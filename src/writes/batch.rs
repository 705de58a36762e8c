//! Writes the apply pass holds back so that they cost fewer round trips: role grants and
//! revokes go out concurrently, and consecutive updates of one application fold into one
//! full-body PUT. The documented order keeps its meaning: a flush sends every revoke, then
//! every grant, and the PUTs (which may enable an application) only once they all succeeded.
//!
//! Ctrl-C stops a flush before each wave: a wave already sent completes, nothing after it is
//! sent.

use super::journal::JournalEntry;
use super::send::{Applied, WriteError, send};
use super::{FieldChange, Write, elapsed_ms};
use crate::client::{Application, Client, RoleAssignment};
use futures_util::future::join_all;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// Where in a script a write was asked for, so that its failure names that line.
#[derive(Debug, Clone, Default)]
pub struct CallSite {
    /// The script or module (`None`: the main script).
    pub source: Option<String>,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// One queued write.
#[derive(Debug, Clone)]
pub struct Queued {
    /// The primitive that asked for it.
    pub primitive: &'static str,
    /// The write.
    pub write: Write,
    /// Where it was asked for.
    pub site: CallSite,
}

/// A batched write that failed (or was stopped), with where it was asked for.
#[derive(Debug)]
pub struct BatchFailure {
    /// The primitive.
    pub primitive: &'static str,
    /// Where.
    pub site: CallSite,
    /// Why.
    pub error: Failure,
}

/// Why a batched write was not made.
#[derive(Debug)]
pub enum Failure {
    /// PingOne refused it, or did not answer.
    Write(WriteError),
    /// Ctrl-C came before it was sent.
    Interrupted,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Write(error) => error.fmt(f),
            Self::Interrupted => f.write_str("interrupted (Ctrl-C) before it was sent"),
        }
    }
}

/// The queue of one apply pass.
#[derive(Debug, Default)]
pub struct Batch {
    queue: Mutex<Vec<Queued>>,
}

/// What a flush did.
#[derive(Default)]
pub struct Flushed {
    /// Journal entries, in the order the writes were sent.
    pub journal: Vec<JournalEntry>,
    /// Grants made: (application id, assignment as PingOne holds it).
    pub granted: Vec<(String, RoleAssignment)>,
    /// Applications as PingOne holds them after their PUT.
    pub updated: Vec<Application>,
    /// Updates not made (failed or not sent): PingOne still holds their `from` values.
    pub not_updated: Vec<(String, Vec<FieldChange>)>,
    /// The first failure, if any.
    pub failure: Option<BatchFailure>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// Sends everything queued: revokes, then grants, concurrently within each wave; then one
    /// PUT per application.
    pub async fn flush(&self, client: &Client, interrupted: impl Fn() -> bool) -> Flushed {
        let queued = std::mem::take(&mut *lock(&self.queue));
        let mut flushed = Flushed::default();
        let (updates, role_ops): (Vec<_>, Vec<_>) = queued
            .into_iter()
            .partition(|q| matches!(q.write, Write::UpdateApplication { .. }));
        // Revokes before grants: swapping a role's scope (revoke at the organization, grant at
        // the environment) must not race into PingOne's duplicate check.
        let (revokes, grants): (Vec<_>, Vec<_>) = role_ops
            .into_iter()
            .partition(|q| matches!(q.write, Write::Revoke { .. }));
        for wave in [revokes, grants] {
            if flushed.failure.is_none() && !wave.is_empty() && interrupted() {
                flushed.stop(&wave[0], Failure::Interrupted);
            }
            if flushed.failure.is_some() {
                flushed.not_sent(wave);
                continue;
            }
            let results = join_all(wave.iter().map(|queued| timed(client, &queued.write))).await;
            for (queued, (result, duration_ms)) in wave.into_iter().zip(results) {
                flushed.record(queued, result, duration_ms);
            }
        }
        if flushed.failure.is_none() && !updates.is_empty() && interrupted() {
            flushed.stop(&updates[0], Failure::Interrupted);
        }
        if flushed.failure.is_some() {
            // The documented order: an application is enabled only after its roles are granted.
            flushed.not_sent(updates);
            return flushed;
        }
        let groups = fold_updates(updates);
        let results = join_all(groups.iter().map(|(write, _)| timed(client, write))).await;
        for ((write, members), (result, duration_ms)) in groups.into_iter().zip(results) {
            flushed.record_update(write, members, result, duration_ms);
        }
        flushed
    }
}

/// Consecutive updates of one application, folded into one write each.
fn fold_updates(updates: Vec<Queued>) -> Vec<(Write, Vec<Queued>)> {
    let mut groups: Vec<(Write, Vec<Queued>)> = Vec::new();
    for queued in updates {
        let Write::UpdateApplication {
            application,
            fields,
            ..
        } = &queued.write
        else {
            continue;
        };
        let group = groups.iter_mut().find(|(write, _)| {
            write
                .application()
                .is_some_and(|app| app.id == application.id)
        });
        match group {
            Some((Write::UpdateApplication { fields: folded, .. }, members)) => {
                folded.extend(fields.iter().cloned());
                members.push(queued);
            }
            _ => groups.push((queued.write.clone(), vec![queued])),
        }
    }
    groups
}

async fn timed(client: &Client, write: &Write) -> (Result<Applied, WriteError>, u64) {
    let started = Instant::now();
    let result = send(write, client).await;
    (result, elapsed_ms(started))
}

impl Flushed {
    fn stop(&mut self, first: &Queued, error: Failure) {
        self.failure = Some(BatchFailure {
            primitive: first.primitive,
            site: first.site.clone(),
            error,
        });
    }

    /// Journals writes left unsent because an earlier one failed or Ctrl-C came.
    fn not_sent(&mut self, queued: Vec<Queued>) {
        let why = match self.failure.as_ref().map(|f| &f.error) {
            Some(Failure::Interrupted) => "not sent: interrupted (Ctrl-C)",
            _ => "not sent: an earlier write of the same step failed",
        };
        for queued in queued {
            if let Write::UpdateApplication {
                application,
                fields,
                ..
            } = &queued.write
            {
                self.not_updated
                    .push((application.id.clone(), fields.clone()));
            }
            self.journal
                .push(JournalEntry::failed(queued.write, 0, why.to_owned()));
        }
    }

    fn record(&mut self, queued: Queued, result: Result<Applied, WriteError>, duration_ms: u64) {
        match result {
            Ok(applied) => {
                if let (Write::Grant { application, .. }, Applied::Granted { assignment, .. }) =
                    (&queued.write, &applied)
                {
                    self.granted
                        .push((application.id.clone(), assignment.clone()));
                }
                let request = queued.write.request().to_string();
                self.journal.push(JournalEntry::made(
                    queued.write,
                    &applied,
                    request,
                    duration_ms,
                ));
            }
            Err(error) => {
                self.journal.push(JournalEntry::failed(
                    queued.write.clone(),
                    duration_ms,
                    error.to_string(),
                ));
                if self.failure.is_none() {
                    self.stop(&queued, Failure::Write(error));
                }
            }
        }
    }

    fn record_update(
        &mut self,
        folded: Write,
        members: Vec<Queued>,
        result: Result<Applied, WriteError>,
        duration_ms: u64,
    ) {
        match result {
            Ok(applied) => {
                if let Applied::Application { application, .. } = &applied {
                    self.updated.push(application.clone());
                }
                // One PUT made every folded change: each is journaled, and undoing the last
                // undoes them all at once.
                let request = folded.request().to_string();
                let last = members.len().saturating_sub(1);
                for (index, queued) in members.into_iter().enumerate() {
                    let mut entry =
                        JournalEntry::made(queued.write, &applied, request.clone(), duration_ms);
                    entry.undo = (index == last)
                        .then(|| super::journal::Undo::of(&folded, &applied))
                        .flatten();
                    self.journal.push(entry);
                }
            }
            Err(error) => {
                if let Write::UpdateApplication {
                    application,
                    fields,
                    ..
                } = &folded
                {
                    self.not_updated
                        .push((application.id.clone(), fields.clone()));
                }
                for queued in &members {
                    self.journal.push(JournalEntry::failed(
                        queued.write.clone(),
                        duration_ms,
                        error.to_string(),
                    ));
                }
                if self.failure.is_none()
                    && let Some(first) = members.first()
                {
                    self.stop(first, Failure::Write(error));
                }
            }
        }
    }
}
