//! Sending one write: the request, and for a POST whose answer leaves it unknown whether
//! PingOne acted, the check before sending it again (`client::write_once`).

use super::{FieldChange, Write, apply_fields};
use crate::client::{
    Application, ApplicationSecret, Client, ClientError, CustomRole, Population, RoleAssignment,
    TokenAuthMethod, write_once,
};
use serde_json::{Value, json};
use std::fmt;

/// What a write made.
#[derive(Debug, Clone)]
pub enum Applied {
    /// The application as PingOne holds it after a create or an update.
    Application {
        /// Its state.
        application: Application,
        /// For a create: another run made the same application at the same time, and this run
        /// carried on with that one (see [`keep_one`]); it is not this run's to undo.
        adopted: bool,
    },
    /// The application is gone.
    Deleted,
    /// The role assignment PingOne holds.
    Granted {
        /// As PingOne returned it.
        assignment: RoleAssignment,
        /// Another run had made this very grant first; it is not this run's to undo.
        converged: bool,
    },
    /// The assignment is gone.
    Revoked,
    /// The new secret.
    Rotated(ApplicationSecret),
    /// The population PingOne holds after a create.
    Population(Population),
    /// The custom role PingOne holds after a create or an update.
    CustomRole(CustomRole),
    /// The file is written.
    FileWritten {
        /// It replaced a file (whose content is gone).
        replaced: bool,
    },
}

impl Applied {
    /// The id of what the write made, when it made something new.
    pub fn id(&self) -> Option<String> {
        match self {
            Self::Application { application, .. } => Some(application.id().to_owned()),
            Self::Granted { assignment, .. } => Some(assignment.id.clone()),
            Self::Population(population) => Some(population.id.clone()),
            Self::CustomRole(role) => Some(role.id.clone()),
            _ => None,
        }
    }
}

/// Why a write was not made (or not known to be).
#[derive(Debug)]
pub enum WriteError {
    /// PingOne's answer, or no answer.
    Client(Box<ClientError>),
    /// The local file could not be written.
    File(String),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Client(error) => error.fmt(f),
            Self::File(message) => f.write_str(message),
        }
    }
}

impl From<ClientError> for WriteError {
    fn from(error: ClientError) -> Self {
        Self::Client(Box::new(error))
    }
}

/// Sends `write`.
pub async fn send(write: &Write, client: &Client) -> Result<Applied, WriteError> {
    match write {
        Write::CreateApplication {
            environment_id,
            name,
            description,
            app_type,
            folded,
            known,
        } => {
            let mut body = json!({
                "name": name,
                "description": description,
                "enabled": false,
                "type": app_type,
                "protocol": "OPENID_CONNECT",
                "grantTypes": ["CLIENT_CREDENTIALS"],
                "tokenEndpointAuthMethod": TokenAuthMethod::ClientSecretBasic.as_str(),
                // Without this PingOne gives the new worker every role of the actor (see
                // docs/pingone.md, "Applications").
                "assignActorRoles": false,
            });
            for change in folded {
                body[change.field.as_str()] = change.to.clone();
            }
            // Application names are not unique: after an answer that leaves it unknown whether
            // PingOne created it, look for it before creating it again.
            let landed = || async {
                let listed = client.applications(environment_id).await?;
                Ok(listed.into_iter().find(|app| {
                    app.name() == name
                        && app.kind() == app_type
                        && !known.iter().any(|id| id == app.id())
                }))
            };
            let created =
                write_once(|| client.create_application(environment_id, &body), landed).await?;
            // Found after a lost answer or answered: either way this client's own write, which
            // the propagation waits must cover.
            client.note_own_write(Some(created.id()));
            keep_one(client, environment_id, created, folded).await
        }
        Write::UpdateApplication {
            environment_id,
            application,
            fields,
        } => {
            let updated = update(client, environment_id, &application.id, fields).await?;
            Ok(Applied::Application {
                application: updated,
                adopted: false,
            })
        }
        Write::DeleteApplication {
            environment_id,
            application,
        } => {
            client
                .delete_application(environment_id, &application.id)
                .await?;
            Ok(Applied::Deleted)
        }
        Write::Grant {
            environment_id,
            application,
            role,
            scope,
        } => {
            let held = || async {
                let held = client
                    .role_assignments(environment_id, &application.id)
                    .await?;
                Ok(held
                    .into_iter()
                    .find(|a| a.role.id == role.id && a.scope == *scope))
            };
            let sent = write_once(
                || client.create_role_assignment(environment_id, &application.id, &role.id, scope),
                held,
            )
            .await;
            match sent {
                Ok(assignment) => {
                    client.note_own_write(None);
                    Ok(Applied::Granted {
                        assignment,
                        converged: false,
                    })
                }
                // Two runs granting the same role at once (after both adopted one
                // application): the second is told it is a duplicate. If the very grant is
                // there, the run's goal is met.
                Err(ClientError::Api(error)) if is_duplicate(&error) => match held().await? {
                    Some(assignment) => Ok(Applied::Granted {
                        assignment,
                        converged: true,
                    }),
                    None => Err(ClientError::Api(error).into()),
                },
                Err(error) => Err(error.into()),
            }
        }
        Write::Revoke {
            environment_id,
            application,
            assignment_id,
            ..
        } => {
            client
                .delete_role_assignment(environment_id, &application.id, assignment_id)
                .await?;
            Ok(Applied::Revoked)
        }
        Write::RotateSecret {
            environment_id,
            application,
            previous_expires_minutes,
        } => {
            let id = &application.id;
            let keep = (*previous_expires_minutes > 0)
                .then(|| std::time::Duration::from_secs(u64::from(*previous_expires_minutes) * 60));
            // Rotating twice would end the old secret at once, breaking the services
            // `previous_expires_minutes` promised to spare: after an answer that leaves the
            // outcome unknown, compare with the secret from before.
            let before = client.application_secret(environment_id, id).await.ok();
            let landed = || async {
                let Some(before) = &before else {
                    return Err(ClientError::InvalidArgument(
                        "PingOne's answer leaves it unknown whether the secret was rotated, and the \
                         secret before could not be read to tell; read it before rotating again"
                            .into(),
                    ));
                };
                let now = client.application_secret(environment_id, id).await?;
                Ok((now.secret != before.secret).then_some(now))
            };
            let rotated = write_once(
                || client.rotate_application_secret(environment_id, id, keep),
                landed,
            )
            .await?;
            Ok(Applied::Rotated(rotated))
        }
        Write::CreatePopulation {
            environment_id,
            name,
            description,
        } => {
            // Names are unique in an environment: after an answer that leaves it unknown
            // whether PingOne created it, the name tells.
            let created = write_once(
                || client.create_population(environment_id, name, description.as_deref()),
                || client.population_named(environment_id, name),
            )
            .await?;
            client.note_own_write(None);
            Ok(Applied::Population(created))
        }
        Write::DeletePopulation {
            environment_id,
            population,
        } => {
            client
                .delete_population(environment_id, &population.id)
                .await?;
            Ok(Applied::Deleted)
        }
        Write::CreateCustomRole {
            environment_id,
            definition,
        } => {
            let created = write_once(
                || client.create_custom_role(environment_id, definition),
                || client.custom_role_named(environment_id, &definition.name),
            )
            .await?;
            client.note_own_write(None);
            Ok(Applied::CustomRole(created))
        }
        Write::UpdateCustomRole {
            environment_id,
            role,
            after,
            ..
        } => {
            // A PUT of the whole definition: sending it twice lands on the same state.
            let updated = client
                .update_custom_role(environment_id, &role.id, after)
                .await?;
            Ok(Applied::CustomRole(updated))
        }
        Write::DeleteCustomRole {
            environment_id,
            role,
        } => {
            client.delete_custom_role(environment_id, &role.id).await?;
            Ok(Applied::Deleted)
        }
        Write::WriteSecretFile {
            path,
            overwrite,
            secret,
            ..
        } => {
            let Some(secret) = secret else {
                return Err(WriteError::File(
                    "this secret was never read (it came from a plan)".into(),
                ));
            };
            let replaced = path.exists();
            write_private_file(path, secret.expose(), *overwrite).map_err(|error| {
                WriteError::File(format!("cannot write {}: {error}", path.display()))
            })?;
            Ok(Applied::FileWritten { replaced })
        }
    }
}

/// PingOne's answer to a role assignment it already holds: 400 `INVALID_DATA` with a
/// `UNIQUENESS_VIOLATION` detail.
fn is_duplicate(error: &crate::client::ApiError) -> bool {
    error.status == 400
        && error
            .details
            .iter()
            .any(|detail| detail.code.as_deref() == Some("UNIQUENESS_VIOLATION"))
}

/// A PUT of PingOne's current state with `fields` set: the body is read just before, since a
/// PUT clears whatever it omits and a list item may not carry every field.
async fn update(
    client: &Client,
    environment_id: &str,
    application_id: &str,
    fields: &[FieldChange],
) -> Result<Application, ClientError> {
    let mut body = client.application(environment_id, application_id).await?;
    apply_fields(&mut body, fields);
    client.update_application(environment_id, &body).await
}

/// Names are not unique in PingOne, so runs racing to create one application can make one
/// each. After its create, a run reads the environment's applications once; when several have
/// the name, every racer keeps the same one (the earliest `createdAt`, then the lowest id),
/// deletes its own if that is not it, and carries on with the kept one, whose fields it
/// brings to what this create would have set.
async fn keep_one(
    client: &Client,
    environment_id: &str,
    created: Application,
    folded: &[FieldChange],
) -> Result<Applied, WriteError> {
    let own = || Applied::Application {
        application: created.clone(),
        adopted: false,
    };
    // The create has happened: whatever fails from here on must not lose it, or the run would
    // report a failed create while a worker it made stays behind, unknown to its rollback.
    let listed = match client.applications(environment_id).await {
        Ok(listed) => listed,
        Err(error) => {
            tracing::warn!(
                "could not check for applications named {:?} made at the same time ({error}); \
                 carrying on with {}",
                created.name(),
                created.id()
            );
            return Ok(own());
        }
    };
    let mut namesakes: Vec<Application> = listed
        .into_iter()
        .filter(|app| app.name() == created.name() && app.kind() == created.kind())
        .collect();
    if !namesakes.iter().any(|app| app.id() == created.id()) {
        namesakes.push(created.clone());
    }
    namesakes.sort_by(|a, b| (created_at(a), a.id()).cmp(&(created_at(b), b.id())));
    let kept = namesakes.swap_remove(0);
    if kept.id() == created.id() {
        return Ok(own());
    }
    if let Err(error) = client
        .delete_application(environment_id, created.id())
        .await
    {
        tracing::warn!(
            "another run created {:?} at the same time ({}), but deleting this run's {} failed \
             ({error}); carrying on with it: delete one of the two by hand",
            created.name(),
            kept.id(),
            created.id()
        );
        return Ok(own());
    }
    tracing::info!(
        "another run created {:?} at the same time ({}); kept that one and deleted {}",
        created.name(),
        kept.id(),
        created.id()
    );
    let differs: Vec<FieldChange> = folded
        .iter()
        .filter(|change| kept.0.get(&change.field) != Some(&change.to))
        .cloned()
        .collect();
    let application = if differs.is_empty() {
        kept
    } else {
        update(client, environment_id, kept.id(), &differs).await?
    };
    Ok(Applied::Application {
        application,
        adopted: true,
    })
}

fn created_at(app: &Application) -> String {
    app.0
        .get("createdAt")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Writes through a temp file in the same directory: `tempfile` creates it with mode 0600,
/// and the rename makes the new file appear whole, never half-written or briefly readable.
fn write_private_file(path: &std::path::Path, value: &str, overwrite: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(value.as_bytes())?;
    file.as_file().sync_all()?;
    if overwrite {
        file.persist(path).map(drop).map_err(|error| error.error)
    } else {
        file.persist_noclobber(path)
            .map(drop)
            .map_err(|error| error.error)
    }
}
