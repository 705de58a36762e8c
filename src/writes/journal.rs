//! What an apply pass wrote, for the report and for `--rollback-on-failure`, which undoes it
//! newest first by sending each write's undo: itself a [`Write`], sent like any other (so a
//! re-grant is never made twice either).

use super::send::{Applied, WriteError, send};
use super::{Change, FieldChange, Write};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// How to undo a write.
#[derive(Debug, Clone)]
pub enum Undo {
    /// The write that undoes it.
    Write(Box<Write>),
    /// Remove the secret file this run wrote.
    RemoveFile(PathBuf),
    /// It cannot be undone (a deleted application, a rotated secret), and why.
    Impossible(String),
}

impl Undo {
    /// How to undo `write`, which made `applied`; `None` when nothing of it is this run's to
    /// undo (another run made the same thing first).
    pub fn of(write: &Write, applied: &Applied) -> Option<Self> {
        let undo = match (write, applied) {
            (Write::CreateApplication { .. }, Applied::Application { adopted: true, .. }) => {
                return None;
            }
            (
                Write::CreateApplication { environment_id, .. },
                Applied::Application { application, .. },
            ) => Write::DeleteApplication {
                environment_id: environment_id.clone(),
                application: super::AppRef {
                    id: application.id().to_owned(),
                    name: application.name().to_owned(),
                    created_by: None,
                },
            },
            (
                Write::UpdateApplication {
                    environment_id,
                    application,
                    fields,
                },
                _,
            ) => Write::UpdateApplication {
                environment_id: environment_id.clone(),
                application: application.clone(),
                fields: fields
                    .iter()
                    .rev()
                    .map(|change| FieldChange {
                        field: change.field.clone(),
                        from: change.to.clone(),
                        to: change.from.clone(),
                    })
                    .collect(),
            },
            (
                Write::Grant { .. },
                Applied::Granted {
                    converged: true, ..
                },
            ) => {
                return None;
            }
            (
                Write::Grant {
                    environment_id,
                    application,
                    role,
                    scope,
                },
                Applied::Granted { assignment, .. },
            ) => Write::Revoke {
                environment_id: environment_id.clone(),
                application: application.clone(),
                assignment_id: assignment.id.clone(),
                role: role.clone(),
                scope: scope.clone(),
            },
            (
                Write::Revoke {
                    environment_id,
                    application,
                    role,
                    scope,
                    ..
                },
                _,
            ) => Write::Grant {
                environment_id: environment_id.clone(),
                application: application.clone(),
                role: role.clone(),
                scope: scope.clone(),
            },
            (Write::DeleteApplication { application, .. }, _) => {
                return Some(Self::Impossible(format!(
                    "application {:?} ({}) was deleted; it cannot be restored",
                    application.name, application.id
                )));
            }
            (Write::CreatePopulation { environment_id, .. }, Applied::Population(population)) => {
                Write::DeletePopulation {
                    environment_id: environment_id.clone(),
                    population: super::RoleRef {
                        id: population.id.clone(),
                        name: population.name.clone(),
                    },
                }
            }
            (Write::CreateCustomRole { environment_id, .. }, Applied::CustomRole(role)) => {
                Write::DeleteCustomRole {
                    environment_id: environment_id.clone(),
                    role: super::RoleRef {
                        id: role.id.clone(),
                        name: role.name.clone(),
                    },
                }
            }
            (
                Write::UpdateCustomRole {
                    environment_id,
                    role,
                    before,
                    after,
                },
                _,
            ) => Write::UpdateCustomRole {
                environment_id: environment_id.clone(),
                role: role.clone(),
                before: after.clone(),
                after: before.clone(),
            },
            (Write::DeletePopulation { population, .. }, _) => {
                return Some(Self::Impossible(format!(
                    "population {:?} ({}) was deleted; it cannot be restored",
                    population.name, population.id
                )));
            }
            (Write::DeleteCustomRole { role, .. }, _) => {
                return Some(Self::Impossible(format!(
                    "custom role {:?} ({}) was deleted; it cannot be restored",
                    role.name, role.id
                )));
            }
            (Write::RotateSecret { .. }, _) => {
                return Some(Self::Impossible(
                    "a rotated secret cannot be restored; the previous one stays valid as configured"
                        .into(),
                ));
            }
            (Write::WriteSecretFile { path, .. }, Applied::FileWritten { replaced: true }) => {
                return Some(Self::Impossible(format!(
                    "{} was overwritten; its old content is gone",
                    path.display()
                )));
            }
            (Write::WriteSecretFile { path, .. }, _) => {
                return Some(Self::RemoveFile(path.clone()));
            }
            (_, _) => return None,
        };
        Some(Self::Write(Box::new(undo)))
    }
}

/// One write the apply pass sent (or held back), with its request and outcome.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    /// The write, with the ids it got.
    pub write: Write,
    /// How people see it, with the id PingOne gave it.
    pub change: Change,
    /// `METHOD /path` of the request (or how it was made without one).
    pub request: String,
    /// `None` on success, else the error.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
    /// How to undo it (successful writes only).
    pub undo: Option<Undo>,
}

impl JournalEntry {
    /// A write made; logged as it is journaled.
    pub fn made(write: Write, applied: &Applied, request: String, duration_ms: u64) -> Self {
        let mut change = write.change();
        if let Some(id) = applied.id() {
            change.id = id;
        }
        // Said plainly when another run had made it: the report must not claim it.
        match applied {
            Applied::Application { adopted: true, .. } => {
                change
                    .detail
                    .push_str(" (another run made it at the same time; kept that one)");
            }
            Applied::Granted {
                converged: true, ..
            } => change.detail.push_str(" (another run had made it)"),
            _ => {}
        }
        tracing::info!(target: "p1run::change", "{} {} [{}]", change.symbol(), change.detail, change.id);
        Self {
            undo: Undo::of(&write, applied),
            write,
            change,
            request,
            error: None,
            duration_ms,
        }
    }

    /// A write PingOne made as part of another one's request (an update folded into the
    /// create of its application): nothing of its own to undo.
    pub fn folded(write: Write, id: &str, into: &str) -> Self {
        let mut change = write.change();
        change.id = id.to_owned();
        tracing::info!(target: "p1run::change", "{} {} [{}]", change.symbol(), change.detail, change.id);
        Self {
            write,
            change,
            request: format!("(in {into})"),
            error: None,
            duration_ms: 0,
            undo: None,
        }
    }

    /// A write that failed, or was not sent (`error` says which).
    pub fn failed(write: Write, duration_ms: u64, error: String) -> Self {
        Self {
            change: write.change(),
            request: write.request().to_string(),
            write,
            error: Some(error),
            duration_ms,
            undo: None,
        }
    }
}

/// One write undone by `--rollback-on-failure`.
#[derive(Debug, Clone, Serialize)]
pub struct Compensation {
    /// What the compensation did.
    pub undo: String,
    /// The change it undid.
    pub of: String,
    /// `METHOD /path` sent for it.
    pub request: String,
    /// `None` when it worked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Undoes, newest first, what `journal` made. Ctrl-C does not stop it: it is what a stopped
/// run is left with.
pub fn roll_back(
    journal: &[JournalEntry],
    client: &crate::client::Client,
    runtime: &tokio::runtime::Handle,
) -> Vec<Compensation> {
    journal
        .iter()
        .rev()
        .filter(|entry| entry.error.is_none())
        .filter_map(|entry| entry.undo.as_ref().map(|undo| (entry, undo)))
        .map(|(entry, undo)| {
            let of = entry.change.detail.clone();
            match undo {
                Undo::Write(write) => {
                    let started = Instant::now();
                    let result = runtime.block_on(send(write, client));
                    tracing::debug!("compensation took {} ms", super::elapsed_ms(started));
                    let undo = match **write {
                        Write::DeleteApplication {
                            ref application, ..
                        } => {
                            format!(
                                "delete application {:?} created by this run",
                                application.name
                            )
                        }
                        _ => format!("undo: {of}"),
                    };
                    Compensation {
                        undo,
                        of,
                        request: write.request().to_string(),
                        error: result.err().as_ref().map(WriteError::to_string),
                    }
                }
                Undo::RemoveFile(path) => Compensation {
                    undo: format!("remove {}", path.display()),
                    of,
                    request: format!("rm {}", path.display()),
                    error: std::fs::remove_file(path).err().map(|e| e.to_string()),
                },
                Undo::Impossible(why) => Compensation {
                    undo: format!("cannot undo: {of}"),
                    of,
                    request: String::new(),
                    error: Some(why.clone()),
                },
            }
        })
        .collect()
}
