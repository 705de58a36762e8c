//! A write: one change p1run makes in PingOne (or, for a secret file, on disk), as a typed
//! value. This module is its one home: what it is ([`Write`]), how it is shown ([`Change`]),
//! the request it makes ([`Write::request`]), how a plan matches it ([`Write::admits`]), how it
//! is sent ([`send`]), batched ([`batch`]) and undone ([`journal`]). Apply, batching, rollback
//! and saved plans all go through it, so the never-twice checks, the propagation waits, Ctrl-C
//! and the journal hold for every write, compensations included.

pub mod batch;
pub mod journal;
mod send;

pub use journal::{Compensation, JournalEntry, Undo, roll_back};
pub use send::{Applied, WriteError, send};

use crate::client::{Application, CustomRoleDefinition, ScopeRef, paths};
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;

/// Milliseconds since `started`, for journals and reports.
pub fn elapsed_ms(started: std::time::Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The id a plan gives to a resource it would create.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// An application a write targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRef {
    /// Its id; [`KNOWN_AFTER_APPLY`] for one the plan creates.
    pub id: String,
    /// Its name, for people.
    pub name: String,
    /// For an application this run creates: the position, among the run's writes, of the
    /// write that creates it. That tells apart the applications a plan creates, which all
    /// share the id [`KNOWN_AFTER_APPLY`], and lets their later updates fold into the create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<usize>,
}

/// A role, by id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRef {
    /// Role id.
    pub id: String,
    /// Its name, for people.
    pub name: String,
}

/// One field an update sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The application field, e.g. `tokenEndpointAuthMethod`.
    pub field: String,
    /// Its value before.
    pub from: Value,
    /// Its value after.
    pub to: Value,
}

/// One write.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "write", rename_all = "snake_case")]
pub enum Write {
    /// `POST /environments/{env}/applications`: a new application, disabled, with
    /// `assignActorRoles: false` so that it inherits no roles.
    CreateApplication {
        /// Where.
        environment_id: String,
        /// Its name.
        name: String,
        /// Its description.
        description: String,
        /// `WORKER`.
        app_type: String,
        /// Later updates of this run folded into the create's body (set by the apply pass
        /// from the plan; never part of a plan).
        #[serde(skip)]
        folded: Vec<FieldChange>,
        /// The applications of that name the run already saw, so that a create whose answer
        /// was lost is told apart from them.
        #[serde(skip)]
        known: Vec<String>,
    },
    /// `PUT /environments/{env}/applications/{app}`: PingOne's current state with these
    /// fields set (a PUT clears what it omits, so the body is read just before).
    UpdateApplication {
        /// Where.
        environment_id: String,
        /// Which.
        application: AppRef,
        /// What changes.
        fields: Vec<FieldChange>,
    },
    /// `DELETE /environments/{env}/applications/{app}` (PingOne drops its role assignments).
    DeleteApplication {
        /// Where.
        environment_id: String,
        /// Which.
        application: AppRef,
    },
    /// `POST …/roleAssignments`.
    Grant {
        /// The application's environment.
        environment_id: String,
        /// To whom.
        application: AppRef,
        /// Which role.
        role: RoleRef,
        /// Where it applies.
        scope: ScopeRef,
    },
    /// `DELETE …/roleAssignments/{id}`.
    Revoke {
        /// The application's environment.
        environment_id: String,
        /// From whom.
        application: AppRef,
        /// The assignment.
        assignment_id: String,
        /// Its role (to re-grant on rollback).
        role: RoleRef,
        /// Its scope.
        scope: ScopeRef,
    },
    /// `POST …/secret`: a new client secret; the previous one stays valid that long.
    RotateSecret {
        /// The application's environment.
        environment_id: String,
        /// Whose.
        application: AppRef,
        /// 0: the previous secret ends at once.
        previous_expires_minutes: u32,
    },
    /// `POST /environments/{env}/populations`.
    CreatePopulation {
        /// Where.
        environment_id: String,
        /// Its name, unique in the environment.
        name: String,
        /// Its description.
        description: Option<String>,
    },
    /// `DELETE /environments/{env}/populations/{population}` (the undo of a create).
    DeletePopulation {
        /// Where.
        environment_id: String,
        /// Which (id and name).
        population: RoleRef,
    },
    /// `POST /environments/{env}/roles`: a custom admin role.
    CreateCustomRole {
        /// Where.
        environment_id: String,
        /// What it is (permission and assigner ids).
        definition: CustomRoleDefinition,
    },
    /// `PUT /environments/{env}/roles/{role}`: the role becomes `after` whole; `before` is
    /// what it was, so that an undo restores it.
    UpdateCustomRole {
        /// Where.
        environment_id: String,
        /// Which.
        role: RoleRef,
        /// Its definition before.
        before: CustomRoleDefinition,
        /// Its definition after.
        after: CustomRoleDefinition,
    },
    /// `DELETE /environments/{env}/roles/{role}` (PingOne refuses while it is assigned).
    DeleteCustomRole {
        /// Where.
        environment_id: String,
        /// Which.
        role: RoleRef,
    },
    /// A new 0600 file holding a secret.
    WriteSecretFile {
        /// The file.
        path: PathBuf,
        /// Whose secret, for people.
        application: String,
        /// Whether an existing file is replaced.
        overwrite: bool,
        /// The value (never serialised; `None` in a plan, which never reads secrets).
        #[serde(skip)]
        secret: Option<Secret>,
    },
}

/// A request as plans, reports and errors show it: `POST /environments/…/applications`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// HTTP method, or `write`/`remove` for a local file.
    pub method: &'static str,
    /// API path below `…/v1`, or the file.
    pub target: String,
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.target)
    }
}

impl Request {
    fn api(method: &'static str, path: &paths::ApiPath) -> Self {
        Self {
            method,
            target: path.to_string(),
        }
    }
}

/// A write as people and reports see it: `{action, resource, id, detail}`.
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
    /// `+`, `~` or `-`, as plans show it.
    pub fn symbol(&self) -> char {
        match self.action.as_str() {
            "create" | "grant" | "write" => '+',
            "delete" | "revoke" => '-',
            _ => '~',
        }
    }
}

impl Write {
    /// `create`, `update`, … (see [`Change::action`]).
    pub fn action(&self) -> &'static str {
        match self {
            Self::CreateApplication { .. } => "create",
            Self::UpdateApplication { .. } => "update",
            Self::DeleteApplication { .. } => "delete",
            Self::Grant { .. } => "grant",
            Self::Revoke { .. } => "revoke",
            Self::RotateSecret { .. } => "rotate",
            Self::WriteSecretFile { .. } => "write",
            Self::CreatePopulation { .. } | Self::CreateCustomRole { .. } => "create",
            Self::UpdateCustomRole { .. } => "update",
            Self::DeletePopulation { .. } | Self::DeleteCustomRole { .. } => "delete",
        }
    }

    /// `application`, … (see [`Change::resource`]).
    pub fn resource(&self) -> &'static str {
        match self {
            Self::CreateApplication { .. }
            | Self::UpdateApplication { .. }
            | Self::DeleteApplication { .. } => "application",
            Self::Grant { .. } | Self::Revoke { .. } => "role_assignment",
            Self::RotateSecret { .. } => "application_secret",
            Self::WriteSecretFile { .. } => "secret_file",
            Self::CreatePopulation { .. } | Self::DeletePopulation { .. } => "population",
            Self::CreateCustomRole { .. }
            | Self::UpdateCustomRole { .. }
            | Self::DeleteCustomRole { .. } => "custom_role",
        }
    }

    /// The id of the resource it changes, as far as known before it is made.
    pub fn target_id(&self) -> String {
        match self {
            Self::CreateApplication { .. }
            | Self::Grant { .. }
            | Self::CreatePopulation { .. }
            | Self::CreateCustomRole { .. } => KNOWN_AFTER_APPLY.to_owned(),
            Self::DeletePopulation { population, .. } => population.id.clone(),
            Self::UpdateCustomRole { role, .. } | Self::DeleteCustomRole { role, .. } => {
                role.id.clone()
            }
            Self::UpdateApplication { application, .. }
            | Self::DeleteApplication { application, .. }
            | Self::RotateSecret { application, .. } => application.id.clone(),
            Self::Revoke { assignment_id, .. } => assignment_id.clone(),
            Self::WriteSecretFile { path, .. } => path.display().to_string(),
        }
    }

    /// What it does, for people.
    pub fn detail(&self) -> String {
        match self {
            Self::CreateApplication { name, app_type, .. } => {
                format!("create application {name:?} ({app_type})")
            }
            Self::UpdateApplication {
                application,
                fields,
                ..
            } => fields
                .iter()
                .map(|change| describe_field(change, &application.name))
                .collect::<Vec<_>>()
                .join(", "),
            Self::DeleteApplication { application, .. } => {
                format!("delete application {:?}", application.name)
            }
            Self::Grant {
                application,
                role,
                scope,
                ..
            } => format!(
                "grant {:?} on {} {} to {:?}",
                role.name, scope.kind, scope.id, application.name
            ),
            Self::Revoke {
                application,
                role,
                scope,
                ..
            } => format!(
                "revoke {:?} on {} {} from {:?}",
                role.name, scope.kind, scope.id, application.name
            ),
            Self::RotateSecret {
                application,
                previous_expires_minutes: 0,
                ..
            } => format!(
                "rotate secret of {:?} (previous secret invalid at once)",
                application.name
            ),
            Self::RotateSecret {
                application,
                previous_expires_minutes,
                ..
            } => format!(
                "rotate secret of {:?} (previous secret valid {previous_expires_minutes} more minutes)",
                application.name
            ),
            Self::WriteSecretFile {
                path, application, ..
            } => format!("write secret of {application:?} to {}", path.display()),
            Self::CreatePopulation { name, .. } => format!("create population {name:?}"),
            Self::DeletePopulation { population, .. } => {
                format!("delete population {:?}", population.name)
            }
            Self::CreateCustomRole { definition, .. } => format!(
                "create custom role {:?} ({} permissions, applicable to {})",
                definition.name,
                definition.permissions.len(),
                scope_types(definition)
            ),
            Self::UpdateCustomRole {
                role,
                before,
                after,
                ..
            } => format!(
                "update custom role {:?}: {}",
                role.name,
                describe_role_change(before, after)
            ),
            Self::DeleteCustomRole { role, .. } => format!("delete custom role {:?}", role.name),
        }
    }

    /// How people and reports see it.
    pub fn change(&self) -> Change {
        Change {
            action: self.action().into(),
            resource: self.resource().into(),
            id: self.target_id(),
            detail: self.detail(),
        }
    }

    /// The request it makes, from the client's own path builder.
    pub fn request(&self) -> Request {
        match self {
            Self::CreateApplication { environment_id, .. } => {
                Request::api("POST", &paths::applications(environment_id))
            }
            Self::UpdateApplication {
                environment_id,
                application,
                ..
            } => Request::api("PUT", &paths::application(environment_id, &application.id)),
            Self::DeleteApplication {
                environment_id,
                application,
            } => Request::api(
                "DELETE",
                &paths::application(environment_id, &application.id),
            ),
            Self::Grant {
                environment_id,
                application,
                ..
            } => Request::api(
                "POST",
                &paths::role_assignments(environment_id, &application.id),
            ),
            Self::Revoke {
                environment_id,
                application,
                assignment_id,
                ..
            } => Request::api(
                "DELETE",
                &paths::role_assignment(environment_id, &application.id, assignment_id),
            ),
            Self::RotateSecret {
                environment_id,
                application,
                ..
            } => Request::api("POST", &paths::secret(environment_id, &application.id)),
            Self::WriteSecretFile { path, .. } => Request {
                method: "write",
                target: path.display().to_string(),
            },
            Self::CreatePopulation { environment_id, .. } => {
                Request::api("POST", &paths::populations(environment_id))
            }
            Self::DeletePopulation {
                environment_id,
                population,
            } => Request::api("DELETE", &paths::population(environment_id, &population.id)),
            Self::CreateCustomRole { environment_id, .. } => {
                Request::api("POST", &paths::custom_roles(environment_id))
            }
            Self::UpdateCustomRole {
                environment_id,
                role,
                ..
            } => Request::api("PUT", &paths::custom_role(environment_id, &role.id)),
            Self::DeleteCustomRole {
                environment_id,
                role,
            } => Request::api("DELETE", &paths::custom_role(environment_id, &role.id)),
        }
    }

    /// The application it targets, if any.
    pub fn application(&self) -> Option<&AppRef> {
        match self {
            Self::UpdateApplication { application, .. }
            | Self::DeleteApplication { application, .. }
            | Self::Grant { application, .. }
            | Self::Revoke { application, .. }
            | Self::RotateSecret { application, .. } => Some(application),
            Self::CreateApplication { .. }
            | Self::WriteSecretFile { .. }
            | Self::CreatePopulation { .. }
            | Self::DeletePopulation { .. }
            | Self::CreateCustomRole { .. }
            | Self::UpdateCustomRole { .. }
            | Self::DeleteCustomRole { .. } => None,
        }
    }

    /// True when `actual`, about to be made, is the write this planned one announced: the
    /// same kind, target and fields, compared as data. Ids the plan could not know
    /// ([`KNOWN_AFTER_APPLY`]) match any id.
    pub fn admits(&self, actual: &Write) -> bool {
        let (Ok(planned), Ok(actual)) = (serde_json::to_value(self), serde_json::to_value(actual))
        else {
            return false;
        };
        same_data(&planned, &actual)
    }
}

/// Structural equality in which a planned [`KNOWN_AFTER_APPLY`] stands for any string.
fn same_data(planned: &Value, actual: &Value) -> bool {
    match (planned, actual) {
        (Value::String(p), Value::String(_)) if p == KNOWN_AFTER_APPLY => true,
        (Value::Object(p), Value::Object(a)) => {
            p.len() == a.len()
                && p.iter()
                    .all(|(key, value)| a.get(key).is_some_and(|other| same_data(value, other)))
        }
        (Value::Array(p), Value::Array(a)) => {
            p.len() == a.len() && p.iter().zip(a).all(|(p, a)| same_data(p, a))
        }
        (p, a) => p == a,
    }
}

/// `enable "X"`, `tokenEndpointAuthMethod A -> B on "X"`, `description "a" -> "b" on "X"`.
fn describe_field(change: &FieldChange, app: &str) -> String {
    match (change.field.as_str(), &change.to) {
        ("enabled", Value::Bool(true)) => format!("enable {app:?}"),
        ("enabled", Value::Bool(false)) => format!("disable {app:?}"),
        ("description", _) => format!("description {} -> {} on {app:?}", change.from, change.to),
        (field, _) => format!(
            "{field} {} -> {} on {app:?}",
            plain(&change.from),
            plain(&change.to)
        ),
    }
}

/// `ENVIRONMENT, POPULATION`.
fn scope_types(definition: &CustomRoleDefinition) -> String {
    definition
        .applicable_to
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What an update of a custom role changes, field by field (sets compared as sets).
fn describe_role_change(before: &CustomRoleDefinition, after: &CustomRoleDefinition) -> String {
    use std::collections::BTreeSet;
    fn diff(what: &str, before: &[String], after: &[String], out: &mut Vec<String>) {
        let before: BTreeSet<&String> = before.iter().collect();
        let after: BTreeSet<&String> = after.iter().collect();
        let added: Vec<&str> = after.difference(&before).map(|s| s.as_str()).collect();
        let removed: Vec<&str> = before.difference(&after).map(|s| s.as_str()).collect();
        if !added.is_empty() {
            out.push(format!("+{what} {}", added.join(" ")));
        }
        if !removed.is_empty() {
            out.push(format!("-{what} {}", removed.join(" ")));
        }
    }
    let mut changes = Vec::new();
    if before.description.clone().unwrap_or_default()
        != after.description.clone().unwrap_or_default()
    {
        changes.push(format!(
            "description {:?} -> {:?}",
            before.description.clone().unwrap_or_default(),
            after.description.clone().unwrap_or_default()
        ));
    }
    let kinds = |d: &CustomRoleDefinition| -> Vec<String> {
        d.applicable_to
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect()
    };
    diff("applicableTo", &kinds(before), &kinds(after), &mut changes);
    diff(
        "permissions",
        &before.permissions,
        &after.permissions,
        &mut changes,
    );
    diff(
        "canBeAssignedBy",
        &before.can_be_assigned_by,
        &after.can_be_assigned_by,
        &mut changes,
    );
    if changes.is_empty() {
        "no field changes".into()
    } else {
        changes.join(", ")
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Sets `fields` on `application` (their `to` values).
pub fn apply_fields(application: &mut Application, fields: &[FieldChange]) {
    for change in fields {
        application.set(&change.field, change.to.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ScopeType;

    fn app(id: &str, created_by: Option<usize>) -> AppRef {
        AppRef {
            id: id.into(),
            name: "x".into(),
            created_by,
        }
    }

    fn grant(application: AppRef, role: &str, scope: &str) -> Write {
        Write::Grant {
            environment_id: "e".into(),
            application,
            role: RoleRef {
                id: role.into(),
                name: role.into(),
            },
            scope: ScopeRef {
                id: scope.into(),
                kind: ScopeType::Environment,
            },
        }
    }

    #[test]
    fn a_planned_write_admits_itself_with_unknown_ids_filled_in() {
        let planned = grant(app(KNOWN_AFTER_APPLY, Some(0)), "A", "e");
        assert!(planned.admits(&grant(app("1234", Some(0)), "A", "e")));
        assert!(!planned.admits(&grant(app("1234", Some(1)), "A", "e")));
        assert!(!planned.admits(&grant(app("1234", Some(0)), "B", "e")));
        assert!(!planned.admits(&grant(app("1234", Some(0)), "A", "f")));
        let exact = grant(app("9", None), "A", "e");
        assert!(exact.admits(&exact.clone()));
        assert!(!exact.admits(&grant(app("8", None), "A", "e")));
    }

    #[test]
    fn plans_compare_data_not_wording() {
        // Same description, different write: a revoke never stands in for a grant.
        let granted = grant(app("9", None), "A", "e");
        let revoked = Write::Revoke {
            environment_id: "e".into(),
            application: app("9", None),
            assignment_id: "r".into(),
            role: RoleRef {
                id: "A".into(),
                name: "A".into(),
            },
            scope: ScopeRef {
                id: "e".into(),
                kind: ScopeType::Environment,
            },
        };
        assert!(!granted.admits(&revoked));
        let update = |to: bool| Write::UpdateApplication {
            environment_id: "e".into(),
            application: app("9", None),
            fields: vec![FieldChange {
                field: "enabled".into(),
                from: Value::Bool(!to),
                to: Value::Bool(to),
            }],
        };
        assert!(update(true).admits(&update(true)));
        assert!(!update(true).admits(&update(false)));
    }

    #[test]
    fn details_and_requests_come_from_the_data() {
        let write = grant(app("a1", None), "Identity Data Admin", "e1");
        assert_eq!(
            write.detail(),
            "grant \"Identity Data Admin\" on ENVIRONMENT e1 to \"x\""
        );
        assert_eq!(
            write.request().to_string(),
            "POST /environments/e/applications/a1/roleAssignments"
        );
        assert_eq!(write.change().symbol(), '+');
        let update = Write::UpdateApplication {
            environment_id: "e".into(),
            application: app("a1", None),
            fields: vec![FieldChange {
                field: "tokenEndpointAuthMethod".into(),
                from: "CLIENT_SECRET_BASIC".into(),
                to: "CLIENT_SECRET_POST".into(),
            }],
        };
        assert_eq!(
            update.detail(),
            "tokenEndpointAuthMethod CLIENT_SECRET_BASIC -> CLIENT_SECRET_POST on \"x\""
        );
        assert_eq!(update.change().symbol(), '~');
    }

    #[test]
    fn custom_role_updates_say_what_differs_and_undo_to_before() {
        let definition = |description: &str, permissions: &[&str]| CustomRoleDefinition {
            name: "R".into(),
            description: Some(description.into()),
            applicable_to: vec![ScopeType::Environment],
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            can_be_assigned_by: vec![],
        };
        let update = Write::UpdateCustomRole {
            environment_id: "e".into(),
            role: RoleRef {
                id: "r1".into(),
                name: "R".into(),
            },
            before: definition("a", &["x", "y"]),
            after: definition("b", &["y", "z"]),
        };
        assert_eq!(
            update.detail(),
            "update custom role \"R\": description \"a\" -> \"b\", +permissions z, -permissions x"
        );
        assert_eq!(update.request().to_string(), "PUT /environments/e/roles/r1");
        assert_eq!(update.change().resource, "custom_role");
        let undo = Undo::of(&update, &Applied::Deleted);
        let Some(Undo::Write(undo)) = undo else {
            panic!("an update is undone by a write")
        };
        let Write::UpdateCustomRole { after, .. } = *undo else {
            panic!("by the reverse update")
        };
        assert_eq!(after, definition("a", &["x", "y"]));
        let create = Write::CreatePopulation {
            environment_id: "e".into(),
            name: "P".into(),
            description: None,
        };
        assert_eq!(
            create.request().to_string(),
            "POST /environments/e/populations"
        );
        assert_eq!(create.change().symbol(), '+');
    }
}
