//! Custom admin roles: `/environments/{env}/roles[/{customRoleID}]`
//! (<https://developer.pingidentity.com/pingone-api/platform/roles/custom-roles.html>), and the
//! built-in roles as that list and `GET /roles/{id}` show them.
//!
//! Role names are unique in an environment, so a create whose answer was lost can be checked
//! exactly with [`Client::custom_role_named`]; pass both to [`super::write_once`] rather than
//! sending the POST again blindly.

use super::model::{IdRef, Permission, Role, ScopeType};
use super::{Client, ClientError, decode, decode_error};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Whether a role of an environment's list is built in or custom (`EnumCustomAdminRoleType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoleType {
    /// A built-in role.
    Platform,
    /// A custom admin role.
    Custom,
    /// A value this client does not know yet.
    #[serde(other)]
    Unknown,
}

/// A role of `GET /environments/{env}/roles`: a custom admin role, or a built-in one
/// (`kind == Some(Platform)`), which that list returns too.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct CustomRole {
    /// Role id.
    pub id: String,
    /// Its name, unique in its environment.
    pub name: String,
    /// Human text.
    #[serde(default)]
    pub description: Option<String>,
    /// The scope types it may be assigned at.
    #[serde(rename = "applicableTo", default)]
    pub applicable_to: Vec<ScopeType>,
    /// What it allows.
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// Roles whose holders may assign this one.
    #[serde(rename = "canBeAssignedBy", default)]
    pub can_be_assigned_by: Vec<IdRef>,
    /// Roles the holders of this one may assign (PingOne derives it from the others'
    /// `canBeAssignedBy`).
    #[serde(rename = "canAssign", default)]
    pub can_assign: Vec<IdRef>,
    /// Built-in or custom; `None` when PingOne leaves it out.
    #[serde(rename = "type", default)]
    pub kind: Option<RoleType>,
    /// The environment a custom role belongs to.
    #[serde(default)]
    pub environment: Option<IdRef>,
}

impl CustomRole {
    /// Whether this is a custom role (not a built-in one).
    pub fn is_custom(&self) -> bool {
        self.kind == Some(RoleType::Custom)
    }

    /// Its permission ids, in PingOne's order.
    pub fn permission_ids(&self) -> Vec<&str> {
        self.permissions.iter().map(|p| p.id.as_str()).collect()
    }

    /// What it is now, as a definition that a PUT would send back unchanged.
    pub fn definition(&self) -> CustomRoleDefinition {
        CustomRoleDefinition {
            name: self.name.clone(),
            description: self.description.clone(),
            applicable_to: self.applicable_to.clone(),
            permissions: self.permissions.iter().map(|p| p.id.clone()).collect(),
            can_be_assigned_by: self
                .can_be_assigned_by
                .iter()
                .map(|r| r.id.clone())
                .collect(),
        }
    }
}

/// What a custom role should be: the writable fields of `CustomAdminRole`, by id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CustomRoleDefinition {
    /// Unique in the environment.
    pub name: String,
    /// Human text; `None` sends none.
    pub description: Option<String>,
    /// Scope types it may be assigned at (PingOne needs at least one to assign it anywhere).
    pub applicable_to: Vec<ScopeType>,
    /// Permission ids, at least one (e.g. `orgmgt:read:environment`).
    pub permissions: Vec<String>,
    /// Ids of the roles whose holders may assign it; may be empty (then only its own holders
    /// may).
    pub can_be_assigned_by: Vec<String>,
}

impl CustomRoleDefinition {
    /// The POST/PUT body: `{name, description?, applicableTo, permissions:[{id}],
    /// canBeAssignedBy:[{id}]}`.
    pub fn body(&self) -> Value {
        let ids =
            |ids: &[String]| -> Vec<Value> { ids.iter().map(|id| json!({ "id": id })).collect() };
        let mut body = json!({
            "name": self.name,
            "applicableTo": self.applicable_to,
            "permissions": ids(&self.permissions),
            "canBeAssignedBy": ids(&self.can_be_assigned_by),
        });
        if let Some(description) = &self.description {
            body["description"] = json!(description);
        }
        body
    }

    /// Whether `role` already is this definition: same name and description, and the same
    /// sets of scope types, permissions and assigners (order and repeats do not matter; an
    /// absent description equals an empty one). A rerun uses it to skip needless updates.
    pub fn matches(&self, role: &CustomRole) -> bool {
        fn set<T: Ord + Clone>(items: &[T]) -> BTreeSet<T> {
            items.iter().cloned().collect()
        }
        let description = |text: &Option<String>| text.clone().unwrap_or_default();
        let current = role.definition();
        self.name == current.name
            && description(&self.description) == description(&current.description)
            && set(&self.applicable_to) == set(&current.applicable_to)
            && set(&self.permissions) == set(&current.permissions)
            && set(&self.can_be_assigned_by) == set(&current.can_be_assigned_by)
    }
}

impl Role {
    /// Its permission ids, in PingOne's order.
    pub fn permission_ids(&self) -> Vec<&str> {
        self.permissions.iter().map(|p| p.id.as_str()).collect()
    }
}

impl Client {
    /// `GET /roles/{id}`: one built-in role with its permissions.
    pub async fn role(&self, role_id: &str) -> Result<Role, ClientError> {
        let url = self.inner.api(&["roles", role_id])?;
        self.get(url).await
    }

    /// `GET /environments/{env}/roles`, all pages: the built-in roles and the environment's
    /// custom roles, each with its permissions.
    pub async fn custom_roles(&self, environment_id: &str) -> Result<Vec<CustomRole>, ClientError> {
        let url = self.inner.api(&["environments", environment_id, "roles"])?;
        self.list(url, "roles").await
    }

    /// The custom role of that name in the environment, if there is one (built-in roles are
    /// never returned). Also the check of [`super::write_once`] after a lost create.
    pub async fn custom_role_named(
        &self,
        environment_id: &str,
        name: &str,
    ) -> Result<Option<CustomRole>, ClientError> {
        Ok(self
            .custom_roles(environment_id)
            .await?
            .into_iter()
            .find(|role| role.is_custom() && role.name == name))
    }

    /// `GET /environments/{env}/roles/{id}`.
    pub async fn custom_role(
        &self,
        environment_id: &str,
        role_id: &str,
    ) -> Result<CustomRole, ClientError> {
        let url = self
            .inner
            .api(&["environments", environment_id, "roles", role_id])?;
        self.get(url).await
    }

    /// `POST /environments/{env}/roles`. Sent once: after an answer that leaves the outcome
    /// unknown (see [`super::outcome_unknown`]) check with [`Client::custom_role_named`].
    pub async fn create_custom_role(
        &self,
        environment_id: &str,
        definition: &CustomRoleDefinition,
    ) -> Result<CustomRole, ClientError> {
        let url = self.inner.api(&["environments", environment_id, "roles"])?;
        let path = url.path().to_owned();
        let answer = self
            .inner
            .send(Method::POST, url, Some(&definition.body()))
            .await?;
        let role: CustomRole = decode("POST", &path, answer)?;
        if role.id.is_empty() {
            return Err(decode_error("POST", &path, "the new role has no id".into()));
        }
        Ok(role)
    }

    /// `PUT /environments/{env}/roles/{id}`: the role becomes `definition` whole. What its
    /// holders may do changes with it, so PingOne's propagation denials right after are
    /// waited out like those after a grant.
    pub async fn update_custom_role(
        &self,
        environment_id: &str,
        role_id: &str,
        definition: &CustomRoleDefinition,
    ) -> Result<CustomRole, ClientError> {
        let url = self
            .inner
            .api(&["environments", environment_id, "roles", role_id])?;
        let path = url.path().to_owned();
        let answer = self
            .inner
            .send(Method::PUT, url, Some(&definition.body()))
            .await?;
        let role = decode("PUT", &path, answer)?;
        self.inner.record_write(None);
        Ok(role)
    }

    /// `DELETE /environments/{env}/roles/{id}`. PingOne refuses (400) while the role is still
    /// assigned: revoke its assignments first.
    pub async fn delete_custom_role(
        &self,
        environment_id: &str,
        role_id: &str,
    ) -> Result<(), ClientError> {
        let url = self
            .inner
            .api(&["environments", environment_id, "roles", role_id])?;
        self.inner.send(Method::DELETE, url, None).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(json: Value) -> CustomRole {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_definition_matches_a_role_whatever_the_order_of_its_sets() {
        let current = role(json!({
            "id": "r", "name": "Worker Role", "type": "CUSTOM",
            "applicableTo": ["ENVIRONMENT", "POPULATION"],
            "permissions": [{"id": "b", "classifier": "b"}, {"id": "a"}],
            "canBeAssignedBy": [{"id": "x"}],
        }));
        let mut wanted = CustomRoleDefinition {
            name: "Worker Role".into(),
            description: Some(String::new()),
            applicable_to: vec![ScopeType::Population, ScopeType::Environment],
            permissions: vec!["a".into(), "b".into(), "a".into()],
            can_be_assigned_by: vec!["x".into()],
        };
        assert!(wanted.matches(&current));
        assert!(current.is_custom());
        assert_eq!(current.permission_ids(), ["b", "a"]);
        wanted.permissions.push("c".into());
        assert!(!wanted.matches(&current));
        assert!(current.definition().matches(&current));
    }

    #[test]
    fn the_body_carries_ids_as_objects_and_no_empty_description() {
        let definition = CustomRoleDefinition {
            name: "R".into(),
            description: None,
            applicable_to: vec![ScopeType::Environment],
            permissions: vec!["orgmgt:read:environment".into()],
            can_be_assigned_by: vec![],
        };
        assert_eq!(
            definition.body(),
            json!({
                "name": "R",
                "applicableTo": ["ENVIRONMENT"],
                "permissions": [{"id": "orgmgt:read:environment"}],
                "canBeAssignedBy": [],
            })
        );
    }

    #[test]
    fn an_unknown_role_type_does_not_fail_a_list() {
        let built_in =
            role(json!({"id": "r", "name": "Environment Admin", "type": "SOMETHING_NEW"}));
        assert_eq!(built_in.kind, Some(RoleType::Unknown));
        assert!(!built_in.is_custom());
    }
}
