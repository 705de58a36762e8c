//! The emulator's data: one organization, its environments, the built-in role ids of this
//! instance, the custom admin roles and populations, and the applications with their secrets
//! and role assignments. Everything here is what `--state` saves; tokens are not (see
//! `token.rs`).

use super::clock;
pub(crate) use super::roles::CustomRole;
use super::roles::{self, AnyRole, BUILT_IN_ROLES, Scope, ScopeType, Topology};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Length of generated client secrets; the docs give 64 as the minimum.
const SECRET_LENGTH: usize = 64;

/// A random v4 uuid as a string.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A random alphanumeric string (secrets, tokens).
pub(crate) fn random_string(length: usize) -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(length)
        .map(char::from)
        .collect()
}

/// A new client secret.
pub(crate) fn new_secret() -> String {
    random_string(SECRET_LENGTH)
}

/// Everything the emulator knows, apart from issued tokens.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    pub(crate) organization: Organization,
    pub(crate) environments: Vec<Environment>,
    /// The id of each built-in role, index for index with [`BUILT_IN_ROLES`].
    pub(crate) role_ids: Vec<String>,
    pub(crate) applications: HashMap<String, Application>,
    /// Custom admin roles by id (absent from state files written before they existed).
    #[serde(default)]
    pub(crate) custom_roles: HashMap<String, CustomRole>,
    /// Populations by id.
    #[serde(default)]
    pub(crate) populations: HashMap<String, Population>,
    /// Whether every environment got its default population; false in state files written
    /// before populations existed, which get them on load.
    #[serde(default)]
    pub(crate) populations_seeded: bool,
    pub(crate) bootstrap_client_id: String,
    /// Orders applications and role assignments for stable pages.
    pub(crate) next_sequence: u64,
    /// Role id → index in [`BUILT_IN_ROLES`]; rebuilt on load.
    #[serde(skip)]
    role_index: HashMap<String, usize>,
    /// Environment id → index in `environments`; every request looks one up.
    #[serde(skip)]
    environment_index: HashMap<String, usize>,
}

/// The one organization.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Organization {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created_ms: u64,
}

/// A seeded environment.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Environment {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) license_id: String,
    pub(crate) created_ms: u64,
}

/// An application: its writable fields as the last POST/PUT gave them, plus what PingOne owns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Application {
    pub(crate) id: String,
    pub(crate) environment_id: String,
    pub(crate) sequence: u64,
    pub(crate) created_ms: u64,
    pub(crate) updated_ms: u64,
    /// The writable fields (`name`, `enabled`, `type`, `tokenEndpointAuthMethod`, …).
    pub(crate) fields: Map<String, Value>,
    pub(crate) secret: String,
    pub(crate) previous_secret: Option<PreviousSecret>,
    pub(crate) role_assignments: Vec<RoleAssignment>,
    /// Until then (`--propagation-delay` after creation) the application answers 404 by id.
    pub(crate) visible_from_ms: u64,
}

/// A population: its writable fields as the last POST/PUT gave them, plus what PingOne owns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Population {
    pub(crate) id: String,
    pub(crate) environment_id: String,
    pub(crate) sequence: u64,
    pub(crate) created_ms: u64,
    pub(crate) updated_ms: u64,
    /// `name`, `description`, `default`, … as written.
    pub(crate) fields: Map<String, Value>,
}

impl Population {
    pub(crate) fn name(&self) -> &str {
        self.fields
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Whether it is its environment's default population.
    pub(crate) fn is_default(&self) -> bool {
        self.fields
            .get("default")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// The name of the population every environment is seeded with. PingOne creates a default
/// population with a new environment; its exact name is unverified ("Default" is what the
/// admin console shows for new environments as far as the docs' screenshots go).
pub(crate) const DEFAULT_POPULATION_NAME: &str = "Default";

/// The secret a rotation kept valid for a while.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PreviousSecret {
    pub(crate) secret: String,
    pub(crate) expires_ms: u64,
    pub(crate) last_used_ms: Option<u64>,
}

/// A role held by an application over a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RoleAssignment {
    pub(crate) id: String,
    pub(crate) role_id: String,
    pub(crate) scope: Scope,
    /// When it was granted; with `--propagation-delay` it counts only from `granted_ms + delay`.
    pub(crate) granted_ms: u64,
    /// Orders the assignments of one application for stable pages.
    pub(crate) sequence: u64,
}

impl Application {
    /// A string field.
    pub(crate) fn field_str(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    pub(crate) fn enabled(&self) -> bool {
        self.fields
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub(crate) fn has_grant_type(&self, grant_type: &str) -> bool {
        self.fields
            .get("grantTypes")
            .and_then(Value::as_array)
            .is_some_and(|grants| {
                grants
                    .iter()
                    .any(|grant| grant.as_str() == Some(grant_type))
            })
    }

    /// The previous secret while it is still valid.
    pub(crate) fn live_previous_secret(&self, now_ms: u64) -> Option<&PreviousSecret> {
        self.previous_secret
            .as_ref()
            .filter(|previous| previous.expires_ms > now_ms)
    }
}

impl Environment {
    pub(crate) fn scope(&self) -> Scope {
        Scope::environment(&self.id)
    }
}

impl Topology for State {
    fn organization_id(&self) -> &str {
        &self.organization.id
    }

    fn environment_of_application(&self, application_id: &str) -> Option<&str> {
        self.applications
            .get(application_id)
            .map(|app| app.environment_id.as_str())
    }

    fn environment_of_population(&self, population_id: &str) -> Option<&str> {
        self.populations
            .get(population_id)
            .map(|population| population.environment_id.as_str())
    }
}

impl State {
    /// A fresh organization with `environments` environments and the bootstrap admin worker.
    pub(crate) fn seed(environments: usize) -> Self {
        let now = clock::now_ms();
        let organization = Organization {
            id: new_id(),
            name: "p1run Emulator Organization".to_owned(),
            created_ms: now,
        };
        let license_id = new_id();
        let environments: Vec<Environment> = (1..=environments.max(1))
            .map(|n| Environment {
                id: new_id(),
                name: format!("env-{n}"),
                license_id: license_id.clone(),
                created_ms: now,
            })
            .collect();
        let mut state = Self {
            role_ids: BUILT_IN_ROLES.iter().map(|_| new_id()).collect(),
            organization,
            environments,
            applications: HashMap::new(),
            custom_roles: HashMap::new(),
            populations: HashMap::new(),
            populations_seeded: false,
            bootstrap_client_id: String::new(),
            next_sequence: 0,
            role_index: HashMap::new(),
            environment_index: HashMap::new(),
        };
        state.reindex();
        state.seed_bootstrap_worker(now);
        state.seed_default_populations(now);
        state
    }

    /// Gives every environment its default population, once (also for state files saved
    /// before populations were modelled).
    pub(crate) fn seed_default_populations(&mut self, now: u64) {
        if self.populations_seeded {
            return;
        }
        let environment_ids: Vec<String> = self
            .environments
            .iter()
            .map(|environment| environment.id.clone())
            .collect();
        for environment_id in environment_ids {
            let has_default = self.populations.values().any(|population| {
                population.environment_id == environment_id && population.is_default()
            });
            if has_default {
                continue;
            }
            let mut fields = Map::new();
            fields.insert("name".to_owned(), json!(DEFAULT_POPULATION_NAME));
            fields.insert("default".to_owned(), json!(true));
            let population = Population {
                id: new_id(),
                environment_id,
                sequence: self.next_sequence(),
                created_ms: now,
                updated_ms: now,
                fields,
            };
            self.populations.insert(population.id.clone(), population);
        }
        self.populations_seeded = true;
    }

    /// The worker whose credentials the info line prints. Its grants are dated at the epoch so
    /// that `--propagation-delay` never holds them back.
    fn seed_bootstrap_worker(&mut self, now: u64) {
        let organization = Scope::organization(&self.organization.id);
        let mut grants = vec![
            (roles::ORGANIZATION_ADMIN, organization.clone()),
            (roles::ENVIRONMENT_ADMIN, organization),
        ];
        for environment in &self.environments {
            grants.push((roles::IDENTITY_DATA_ADMIN, environment.scope()));
            grants.push((roles::CLIENT_APPLICATION_DEVELOPER, environment.scope()));
        }
        let mut role_assignments = Vec::new();
        for (name, scope) in grants {
            if let Some(role_id) = self.role_id_by_name(name).map(str::to_owned) {
                let sequence = self.next_sequence();
                role_assignments.push(RoleAssignment {
                    id: new_id(),
                    role_id,
                    scope,
                    granted_ms: 0,
                    sequence,
                });
            }
        }
        let fields = json!({
            "name": "Bootstrap Admin Worker",
            "description": "Seeded by the p1run emulator: holds the admin roles that provision the rest.",
            "enabled": true,
            "type": "WORKER",
            "protocol": "OPENID_CONNECT",
            "grantTypes": ["CLIENT_CREDENTIALS"],
            "tokenEndpointAuthMethod": "CLIENT_SECRET_BASIC",
        });
        let Value::Object(fields) = fields else {
            unreachable!("a json object literal")
        };
        let id = new_id();
        let app = Application {
            id: id.clone(),
            environment_id: self.environments[0].id.clone(),
            sequence: self.next_sequence(),
            created_ms: now,
            updated_ms: now,
            fields,
            secret: new_secret(),
            previous_secret: None,
            role_assignments,
            visible_from_ms: 0,
        };
        self.applications.insert(id.clone(), app);
        self.bootstrap_client_id = id;
    }

    /// Rebuilds the lookup indexes after loading.
    pub(crate) fn reindex(&mut self) {
        self.role_index = self
            .role_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        self.environment_index = self
            .environments
            .iter()
            .enumerate()
            .map(|(i, environment)| (environment.id.clone(), i))
            .collect();
    }

    /// Checks that a loaded state is usable: every reference in it resolves. A state whose
    /// assignments name unknown role ids would load and then answer 403 to everything, far
    /// from the cause. Call after [`Self::reindex`]. `Err` says what does not resolve.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.role_ids.len() != BUILT_IN_ROLES.len() {
            return Err(format!(
                "it lists {} built-in role ids, where there are {}",
                self.role_ids.len(),
                BUILT_IN_ROLES.len()
            ));
        }
        if self.role_index.len() != self.role_ids.len() {
            return Err("its built-in role ids are not unique".to_owned());
        }
        if self.environments.is_empty() {
            return Err("it has no environments".to_owned());
        }
        if !self.applications.contains_key(&self.bootstrap_client_id) {
            return Err(format!(
                "its bootstrap worker {} is not among its applications",
                self.bootstrap_client_id
            ));
        }
        let mut ids: Vec<&String> = self.applications.keys().collect();
        ids.sort();
        for id in ids {
            let app = &self.applications[id];
            if app.id != *id {
                return Err(format!(
                    "application {id} is stored under another id ({})",
                    app.id
                ));
            }
            if self.environment(&app.environment_id).is_none() {
                return Err(format!(
                    "application {id} is in environment {}, which it does not have",
                    app.environment_id
                ));
            }
            for assignment in &app.role_assignments {
                if self.any_role(&assignment.role_id).is_none() {
                    return Err(format!(
                        "role assignment {} of application {id} names role id {}, which is not \
                         one of its built-in or custom roles",
                        assignment.id, assignment.role_id
                    ));
                }
                let scope = &assignment.scope;
                let resolves = match scope.kind {
                    ScopeType::Organization => scope.id == self.organization.id,
                    ScopeType::Environment => self.environment(&scope.id).is_some(),
                    ScopeType::Application => self.applications.contains_key(&scope.id),
                    ScopeType::Population => self.populations.contains_key(&scope.id),
                };
                if !resolves {
                    return Err(format!(
                        "role assignment {} of application {id} is scoped to {} {}, which it \
                         does not have",
                        assignment.id,
                        format!("{:?}", scope.kind).to_ascii_uppercase(),
                        scope.id
                    ));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn next_sequence(&mut self) -> u64 {
        self.next_sequence += 1;
        self.next_sequence
    }

    pub(crate) fn environment(&self, id: &str) -> Option<&Environment> {
        self.environment_index
            .get(id)
            .and_then(|&index| self.environments.get(index))
    }

    /// The built-in role with this id.
    pub(crate) fn role(&self, id: &str) -> Option<&'static roles::RoleDefinition> {
        self.role_index.get(id).map(|&index| &BUILT_IN_ROLES[index])
    }

    /// The built-in or custom role with this id.
    pub(crate) fn any_role(&self, id: &str) -> Option<AnyRole<'_>> {
        match self.role(id) {
            Some(role) => Some(AnyRole::BuiltIn(role)),
            None => self.custom_roles.get(id).map(AnyRole::Custom),
        }
    }

    /// The environment whose custom roles apply across the organization: PingOne's
    /// "Administrators" environment, here the first one (where the bootstrap admin lives).
    pub(crate) fn administrators_environment_id(&self) -> &str {
        &self.environments[0].id
    }

    /// A population of that environment.
    pub(crate) fn population(&self, environment_id: &str, id: &str) -> Option<&Population> {
        self.populations
            .get(id)
            .filter(|population| population.environment_id == environment_id)
    }

    pub(crate) fn role_id_by_name(&self, name: &str) -> Option<&str> {
        roles::index_of(name)
            .and_then(|index| self.role_ids.get(index))
            .map(String::as_str)
    }

    /// An application of that environment.
    pub(crate) fn application(&self, environment_id: &str, id: &str) -> Option<&Application> {
        self.applications
            .get(id)
            .filter(|app| app.environment_id == environment_id)
    }

    pub(crate) fn application_mut(
        &mut self,
        environment_id: &str,
        id: &str,
    ) -> Option<&mut Application> {
        self.applications
            .get_mut(id)
            .filter(|app| app.environment_id == environment_id)
    }
}
