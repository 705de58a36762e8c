//! The built-in admin roles: their API names, what they may do, where they may be assigned and
//! which roles each may hand out, plus the scope containment rule that every permission check
//! rests on.

use serde::{Deserialize, Serialize};

/// The kind of resource a role assignment is scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ScopeType {
    Organization,
    Environment,
    Population,
    Application,
}

impl ScopeType {
    /// Every value, in the order the spec's enum lists them.
    pub(crate) const ALL: [ScopeType; 4] = [
        ScopeType::Organization,
        ScopeType::Environment,
        ScopeType::Population,
        ScopeType::Application,
    ];

    /// The wire name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ScopeType::Organization => "ORGANIZATION",
            ScopeType::Environment => "ENVIRONMENT",
            ScopeType::Population => "POPULATION",
            ScopeType::Application => "APPLICATION",
        }
    }

    /// Parses the wire name.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == value)
    }
}

/// A resource a role is held over or a request is aimed at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Scope {
    /// What kind of resource.
    #[serde(rename = "type")]
    pub(crate) kind: ScopeType,
    /// Its id.
    pub(crate) id: String,
}

impl Scope {
    pub(crate) fn organization(id: &str) -> Self {
        Self {
            kind: ScopeType::Organization,
            id: id.to_owned(),
        }
    }

    pub(crate) fn environment(id: &str) -> Self {
        Self {
            kind: ScopeType::Environment,
            id: id.to_owned(),
        }
    }

    pub(crate) fn application(id: &str) -> Self {
        Self {
            kind: ScopeType::Application,
            id: id.to_owned(),
        }
    }

    pub(crate) fn population(id: &str) -> Self {
        Self {
            kind: ScopeType::Population,
            id: id.to_owned(),
        }
    }
}

/// Where things live, so that containment can be decided without the whole state.
pub(crate) trait Topology {
    /// The organization every environment of this emulator belongs to.
    fn organization_id(&self) -> &str;
    /// The environment an application lives in, if the application exists.
    fn environment_of_application(&self, application_id: &str) -> Option<&str>;
    /// The environment a population belongs to, if the population exists.
    fn environment_of_population(&self, population_id: &str) -> Option<&str>;
}

/// Whether a role held over `outer` also applies to `inner`:
/// ORGANIZATION ⊃ ENVIRONMENT ⊃ POPULATION / APPLICATION of that environment.
pub(crate) fn scope_covers(topology: &impl Topology, outer: &Scope, inner: &Scope) -> bool {
    match outer.kind {
        ScopeType::Organization => outer.id == topology.organization_id(),
        ScopeType::Environment => match inner.kind {
            ScopeType::Organization => false,
            ScopeType::Environment => inner.id == outer.id,
            ScopeType::Application => {
                topology.environment_of_application(&inner.id) == Some(outer.id.as_str())
            }
            ScopeType::Population => {
                topology.environment_of_population(&inner.id) == Some(outer.id.as_str())
            }
        },
        ScopeType::Population | ScopeType::Application => outer == inner,
    }
}

/// Whether two scopes overlap: one contains the other.
pub(crate) fn scopes_overlap(topology: &impl Topology, a: &Scope, b: &Scope) -> bool {
    scope_covers(topology, a, b) || scope_covers(topology, b, a)
}

/// Permission ids, named the way PingOne names them (`service:action:resource`).
pub(crate) mod permission {
    pub(crate) const READ_ORGANIZATION: &str = "orgmgt:read:organization";
    pub(crate) const UPDATE_ORGANIZATION: &str = "orgmgt:update:organization";
    pub(crate) const READ_ENVIRONMENT: &str = "orgmgt:read:environment";
    pub(crate) const CREATE_ENVIRONMENT: &str = "orgmgt:create:environment";
    pub(crate) const UPDATE_ENVIRONMENT: &str = "orgmgt:update:environment";
    pub(crate) const DELETE_ENVIRONMENT: &str = "orgmgt:delete:environment";
    pub(crate) const READ_LICENSE: &str = "licensing:read:license";
    pub(crate) const CREATE_APPLICATION: &str = "applications:create:application";
    pub(crate) const READ_APPLICATION: &str = "applications:read:application";
    pub(crate) const UPDATE_APPLICATION: &str = "applications:update:application";
    pub(crate) const DELETE_APPLICATION: &str = "applications:delete:application";
    pub(crate) const READ_SECRET: &str = "applications:read:secret";
    pub(crate) const UPDATE_SECRET: &str = "applications:update:secret";
    pub(crate) const DELETE_SECRET: &str = "applications:delete:secret";
    pub(crate) const READ_APPLICATION_ROLE_ASSIGNMENTS: &str =
        "permissions:read:applicationRoleAssignments";
    pub(crate) const CREATE_APPLICATION_ROLE_ASSIGNMENTS: &str =
        "permissions:create:applicationRoleAssignments";
    pub(crate) const DELETE_APPLICATION_ROLE_ASSIGNMENTS: &str =
        "permissions:delete:applicationRoleAssignments";
    pub(crate) const READ_USER_ROLE_ASSIGNMENTS: &str = "permissions:read:userRoleAssignments";
    pub(crate) const CREATE_USER_ROLE_ASSIGNMENTS: &str = "permissions:create:userRoleAssignments";
    pub(crate) const DELETE_USER_ROLE_ASSIGNMENTS: &str = "permissions:delete:userRoleAssignments";
    pub(crate) const READ_CUSTOM_ROLES: &str = "permissions:read:customRoles";
    pub(crate) const CREATE_CUSTOM_ROLES: &str = "permissions:create:customRoles";
    pub(crate) const UPDATE_CUSTOM_ROLES: &str = "permissions:update:customRoles";
    pub(crate) const DELETE_CUSTOM_ROLES: &str = "permissions:delete:customRoles";
    pub(crate) const READ_USER: &str = "directory:read:user";
    pub(crate) const CREATE_USER: &str = "directory:create:user";
    pub(crate) const UPDATE_USER: &str = "directory:update:user";
    pub(crate) const DELETE_USER: &str = "directory:delete:user";
    pub(crate) const READ_POPULATION: &str = "directory:read:population";
    pub(crate) const CREATE_POPULATION: &str = "directory:create:population";
    pub(crate) const UPDATE_POPULATION: &str = "directory:update:population";
    pub(crate) const DELETE_POPULATION: &str = "directory:delete:population";
    pub(crate) const READ_GROUP: &str = "directory:read:group";
    pub(crate) const UPDATE_GROUP: &str = "directory:update:group";
    pub(crate) const RESET_PASSWORD: &str = "directory:reset:userPassword";
    pub(crate) const READ_DAVINCI: &str = "davinci:read:flows";
    pub(crate) const UPDATE_DAVINCI: &str = "davinci:update:flows";
    pub(crate) const EVALUATE_POLICY: &str = "authorize:evaluate:decisionEndpoints";
    pub(crate) const READ_PINGFEDERATE: &str = "pingfederate:read:configuration";
    pub(crate) const UPDATE_PINGFEDERATE: &str = "pingfederate:update:configuration";
    pub(crate) const UPDATE_PINGFEDERATE_CRYPTO: &str = "pingfederate:update:crypto";
    pub(crate) const UPDATE_PINGFEDERATE_EXPRESSIONS: &str = "pingfederate:update:expressions";
    pub(crate) const UPDATE_PINGFEDERATE_USERS: &str = "pingfederate:update:administrativeAccounts";
    pub(crate) const MANAGE_ADVANCED_IDENTITY_CLOUD: &str = "aic:update:tenant";
    pub(crate) const MANAGE_ADVANCED_IDENTITY_CLOUD_SETTINGS: &str = "aic:update:tenantSettings";

    /// The human description `GET /roles` shows for a permission.
    pub(crate) fn describe(id: &str) -> String {
        let mut parts = id.split(':');
        let (Some(_service), Some(action), Some(resource)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return id.to_owned();
        };
        let mut action = action.to_owned();
        if let Some(first) = action.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        format!("{action} {resource}")
    }
}

use permission as p;

/// One built-in role as PingOne ships it; its id is minted per emulator instance.
#[derive(Debug)]
pub(crate) struct RoleDefinition {
    /// The exact API name (`EnumRoleName`).
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    /// The scope types it may be assigned at.
    pub(crate) applicable_to: &'static [ScopeType],
    pub(crate) permissions: &'static [&'static str],
    /// Roles a holder may assign to others ("Can assign" of the built-in roles page).
    pub(crate) can_assign: CanAssign,
}

/// Which roles a holder of a role may hand out.
#[derive(Debug)]
pub(crate) enum CanAssign {
    Nothing,
    Only(&'static [&'static str]),
    AllExcept(&'static [&'static str]),
}

impl CanAssign {
    pub(crate) fn allows(&self, role_name: &str) -> bool {
        match self {
            CanAssign::Nothing => false,
            CanAssign::Only(names) => names.contains(&role_name),
            CanAssign::AllExcept(names) => !names.contains(&role_name),
        }
    }
}

pub(crate) const ORGANIZATION_ADMIN: &str = "Organization Admin";
pub(crate) const ENVIRONMENT_ADMIN: &str = "Environment Admin";
pub(crate) const IDENTITY_DATA_ADMIN: &str = "Identity Data Admin";
pub(crate) const IDENTITY_DATA_READ_ONLY: &str = "Identity Data Read Only";
pub(crate) const CLIENT_APPLICATION_DEVELOPER: &str = "Client Application Developer";
pub(crate) const CONFIGURATION_READ_ONLY: &str = "Configuration Read Only";
pub(crate) const APPLICATION_OWNER: &str = "Application Owner";
pub(crate) const HELP_DESK_ADMIN: &str = "Help Desk Admin";
pub(crate) const DAVINCI_ADMIN: &str = "DaVinci Admin";
pub(crate) const DAVINCI_ADMIN_READ_ONLY: &str = "DaVinci Admin Read Only";
pub(crate) const CUSTOM_ROLES_ADMIN: &str = "Custom Roles Admin";

use ScopeType::{Application as App, Environment as Env, Organization as Org, Population as Pop};

/// The 19 built-in roles of `EnumRoleName`.
///
/// `applicableTo` of Organization Admin, Environment Admin, Identity Data Admin and Application
/// Owner was observed against the live API (provider acceptance tests); DaVinci Admin (and its
/// read-only variant) were observed for ORGANIZATION and ENVIRONMENT. Every other row's
/// applicability, and every permission list, is inferred from the role descriptions in the docs.
pub(crate) static BUILT_IN_ROLES: [RoleDefinition; 19] = [
    RoleDefinition {
        name: ORGANIZATION_ADMIN,
        description: "Manages the organization: its environments, licenses and administrators.",
        applicable_to: &[Org],
        permissions: &[
            p::READ_ORGANIZATION,
            p::UPDATE_ORGANIZATION,
            p::READ_ENVIRONMENT,
            p::CREATE_ENVIRONMENT,
            p::UPDATE_ENVIRONMENT,
            p::DELETE_ENVIRONMENT,
            p::READ_LICENSE,
            p::READ_APPLICATION_ROLE_ASSIGNMENTS,
            p::CREATE_APPLICATION_ROLE_ASSIGNMENTS,
            p::DELETE_APPLICATION_ROLE_ASSIGNMENTS,
            p::READ_USER_ROLE_ASSIGNMENTS,
            p::CREATE_USER_ROLE_ASSIGNMENTS,
            p::DELETE_USER_ROLE_ASSIGNMENTS,
            // "Administrators must have the Custom Role Admin permissions to create, update,
            // and delete custom roles. The Org Admin and the Custom Role Admin roles include
            // these permissions." (custom-roles.html)
            p::READ_CUSTOM_ROLES,
            p::CREATE_CUSTOM_ROLES,
            p::UPDATE_CUSTOM_ROLES,
            p::DELETE_CUSTOM_ROLES,
        ],
        can_assign: CanAssign::Only(&[ENVIRONMENT_ADMIN]),
    },
    RoleDefinition {
        name: ENVIRONMENT_ADMIN,
        description: "Manages environments: their configuration, applications and administrators.",
        applicable_to: &[Org, Env],
        permissions: &[
            p::READ_ORGANIZATION,
            p::READ_ENVIRONMENT,
            p::CREATE_ENVIRONMENT,
            p::UPDATE_ENVIRONMENT,
            p::DELETE_ENVIRONMENT,
            p::READ_LICENSE,
            p::CREATE_APPLICATION,
            p::READ_APPLICATION,
            p::UPDATE_APPLICATION,
            p::DELETE_APPLICATION,
            p::READ_SECRET,
            p::UPDATE_SECRET,
            p::DELETE_SECRET,
            p::READ_APPLICATION_ROLE_ASSIGNMENTS,
            p::CREATE_APPLICATION_ROLE_ASSIGNMENTS,
            p::DELETE_APPLICATION_ROLE_ASSIGNMENTS,
            p::READ_USER_ROLE_ASSIGNMENTS,
            p::CREATE_USER_ROLE_ASSIGNMENTS,
            p::DELETE_USER_ROLE_ASSIGNMENTS,
            // Reading only: the docs name Org Admin and Custom Roles Admin as the roles that
            // create, update and delete custom roles.
            p::READ_CUSTOM_ROLES,
            p::READ_POPULATION,
        ],
        can_assign: CanAssign::AllExcept(&[ORGANIZATION_ADMIN]),
    },
    RoleDefinition {
        name: IDENTITY_DATA_ADMIN,
        description: "Manages the identities of an environment: users, groups and populations.",
        applicable_to: &[Env, Pop],
        permissions: &[
            p::READ_ORGANIZATION,
            p::READ_ENVIRONMENT,
            p::READ_USER,
            p::CREATE_USER,
            p::UPDATE_USER,
            p::DELETE_USER,
            p::RESET_PASSWORD,
            p::READ_POPULATION,
            p::CREATE_POPULATION,
            p::UPDATE_POPULATION,
            p::DELETE_POPULATION,
            p::READ_GROUP,
            p::UPDATE_GROUP,
            p::READ_APPLICATION_ROLE_ASSIGNMENTS,
            p::CREATE_APPLICATION_ROLE_ASSIGNMENTS,
            p::DELETE_APPLICATION_ROLE_ASSIGNMENTS,
            p::READ_USER_ROLE_ASSIGNMENTS,
            p::CREATE_USER_ROLE_ASSIGNMENTS,
            p::DELETE_USER_ROLE_ASSIGNMENTS,
        ],
        can_assign: CanAssign::Only(&[
            IDENTITY_DATA_ADMIN,
            IDENTITY_DATA_READ_ONLY,
            HELP_DESK_ADMIN,
        ]),
    },
    RoleDefinition {
        name: IDENTITY_DATA_READ_ONLY,
        description: "Reads the identities of an environment without changing them.",
        applicable_to: &[Env, Pop],
        permissions: &[
            p::READ_ORGANIZATION,
            p::READ_ENVIRONMENT,
            p::READ_USER,
            p::READ_POPULATION,
            p::READ_GROUP,
            p::READ_USER_ROLE_ASSIGNMENTS,
        ],
        can_assign: CanAssign::Nothing,
    },
    RoleDefinition {
        name: CLIENT_APPLICATION_DEVELOPER,
        description: "Creates and manages the applications of an environment.",
        applicable_to: &[Env],
        permissions: &[
            p::READ_ORGANIZATION,
            p::READ_ENVIRONMENT,
            p::CREATE_APPLICATION,
            p::READ_APPLICATION,
            p::UPDATE_APPLICATION,
            p::DELETE_APPLICATION,
            p::READ_SECRET,
            p::UPDATE_SECRET,
            p::DELETE_SECRET,
            p::READ_APPLICATION_ROLE_ASSIGNMENTS,
        ],
        can_assign: CanAssign::Nothing,
    },
    RoleDefinition {
        name: CONFIGURATION_READ_ONLY,
        description: "Reads the configuration of an environment, its applications included.",
        applicable_to: &[Org, Env],
        permissions: &[
            p::READ_ORGANIZATION,
            p::READ_ENVIRONMENT,
            p::READ_LICENSE,
            p::READ_APPLICATION,
            p::READ_APPLICATION_ROLE_ASSIGNMENTS,
            p::READ_CUSTOM_ROLES,
            p::READ_POPULATION,
        ],
        can_assign: CanAssign::Nothing,
    },
    RoleDefinition {
        name: APPLICATION_OWNER,
        description: "Manages the applications it is assigned over.",
        applicable_to: &[Env, App],
        permissions: &[
            p::READ_APPLICATION,
            p::UPDATE_APPLICATION,
            p::READ_SECRET,
            p::UPDATE_SECRET,
            p::READ_APPLICATION_ROLE_ASSIGNMENTS,
        ],
        can_assign: CanAssign::Nothing,
    },
    RoleDefinition {
        name: HELP_DESK_ADMIN,
        description: "Helps users: reads them, unlocks them and resets their passwords.",
        applicable_to: &[Env, Pop],
        permissions: &[
            p::READ_ENVIRONMENT,
            p::READ_USER,
            p::UPDATE_USER,
            p::RESET_PASSWORD,
        ],
        can_assign: CanAssign::Nothing,
    },
    RoleDefinition {
        name: CUSTOM_ROLES_ADMIN,
        description: "Creates and manages custom admin roles.",
        applicable_to: &[Org, Env],
        permissions: &[
            p::READ_ORGANIZATION,
            p::READ_ENVIRONMENT,
            p::READ_CUSTOM_ROLES,
            p::CREATE_CUSTOM_ROLES,
            p::UPDATE_CUSTOM_ROLES,
            p::DELETE_CUSTOM_ROLES,
        ],
        can_assign: CanAssign::Nothing,
    },
    RoleDefinition {
        name: DAVINCI_ADMIN,
        description: "Manages DaVinci flows, connectors and variables.",
        applicable_to: &[Org, Env],
        permissions: &[p::READ_ENVIRONMENT, p::READ_DAVINCI, p::UPDATE_DAVINCI],
        can_assign: CanAssign::Only(&[DAVINCI_ADMIN, DAVINCI_ADMIN_READ_ONLY]),
    },
    RoleDefinition {
        name: DAVINCI_ADMIN_READ_ONLY,
        description: "Reads DaVinci flows, connectors and variables.",
        applicable_to: &[Org, Env],
        permissions: &[p::READ_ENVIRONMENT, p::READ_DAVINCI],
        can_assign: CanAssign::Nothing,
    },
    RoleDefinition {
        name: "Authorize Gateway Policy Evaluator",
        description: "Lets an authorize gateway evaluate policies of an environment.",
        applicable_to: &[Env],
        permissions: &[p::EVALUATE_POLICY],
        can_assign: CanAssign::Nothing,
    },
    RoleDefinition {
        name: "Advanced Identity Cloud Super Admin",
        description: "Manages every Advanced Identity Cloud tenant of the organization.",
        applicable_to: &[Org],
        permissions: &[
            p::READ_ORGANIZATION,
            p::MANAGE_ADVANCED_IDENTITY_CLOUD,
            p::MANAGE_ADVANCED_IDENTITY_CLOUD_SETTINGS,
        ],
        can_assign: CanAssign::Nothing,
    },
    RoleDefinition {
        name: "Advanced Identity Cloud Tenant Admin",
        description: "Manages the Advanced Identity Cloud tenant of an environment.",
        applicable_to: &[Env],
        permissions: &[
            p::READ_ENVIRONMENT,
            p::MANAGE_ADVANCED_IDENTITY_CLOUD_SETTINGS,
        ],
        can_assign: CanAssign::Nothing,
    },
    RoleDefinition {
        name: "PingFederate Administrator",
        description: "Administers the PingFederate server linked to an environment.",
        applicable_to: &[Env],
        permissions: &[p::READ_PINGFEDERATE, p::UPDATE_PINGFEDERATE],
        can_assign: CanAssign::Nothing,
    },
    RoleDefinition {
        name: "PingFederate Auditor",
        description: "Reads the configuration of the PingFederate server linked to an environment.",
        applicable_to: &[Env],
        permissions: &[p::READ_PINGFEDERATE],
        can_assign: CanAssign::Nothing,
    },
    RoleDefinition {
        name: "PingFederate Crypto Administrator",
        description: "Manages keys and certificates of the PingFederate server linked to an environment.",
        applicable_to: &[Env],
        permissions: &[p::READ_PINGFEDERATE, p::UPDATE_PINGFEDERATE_CRYPTO],
        can_assign: CanAssign::Nothing,
    },
    RoleDefinition {
        name: "PingFederate Expression Administrator",
        description: "Manages OGNL expressions of the PingFederate server linked to an environment.",
        applicable_to: &[Env],
        permissions: &[p::READ_PINGFEDERATE, p::UPDATE_PINGFEDERATE_EXPRESSIONS],
        can_assign: CanAssign::Nothing,
    },
    RoleDefinition {
        name: "PingFederate User Administrator",
        description: "Manages administrative accounts of the PingFederate server linked to an environment.",
        applicable_to: &[Env],
        permissions: &[p::READ_PINGFEDERATE, p::UPDATE_PINGFEDERATE_USERS],
        can_assign: CanAssign::Nothing,
    },
];

/// Index of a role in [`BUILT_IN_ROLES`] by its API name.
pub(crate) fn index_of(name: &str) -> Option<usize> {
    BUILT_IN_ROLES.iter().position(|role| role.name == name)
}

/// Whether `id` is a permission some built-in role carries: the permissions a custom role may
/// be made of. PingOne's catalog is larger; the emulator knows the ones its roles use.
pub(crate) fn is_known_permission(id: &str) -> bool {
    BUILT_IN_ROLES
        .iter()
        .any(|role| role.permissions.contains(&id))
}

/// A custom admin role: an environment-level set of permissions (custom-roles.html).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CustomRole {
    pub(crate) id: String,
    /// The environment it was made in; outside the administrators' environment it applies
    /// only there.
    pub(crate) environment_id: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) applicable_to: Vec<ScopeType>,
    /// Permission ids, each one some built-in role carries.
    pub(crate) permissions: Vec<String>,
    /// Ids of the roles (built-in or custom) whose holders may assign this one.
    pub(crate) can_be_assigned_by: Vec<String>,
    /// Orders the environment's roles for stable pages.
    pub(crate) sequence: u64,
}

/// A built-in role or a custom one: what the permission checks need of either.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AnyRole<'a> {
    BuiltIn(&'static RoleDefinition),
    Custom(&'a CustomRole),
}

impl<'a> AnyRole<'a> {
    pub(crate) fn name(self) -> &'a str {
        match self {
            AnyRole::BuiltIn(role) => role.name,
            AnyRole::Custom(role) => &role.name,
        }
    }

    /// The scope types it may be assigned at.
    pub(crate) fn applicable_to(self) -> &'a [ScopeType] {
        match self {
            AnyRole::BuiltIn(role) => role.applicable_to,
            AnyRole::Custom(role) => &role.applicable_to,
        }
    }

    pub(crate) fn has_permission(self, permission: &str) -> bool {
        match self {
            AnyRole::BuiltIn(role) => role.permissions.contains(&permission),
            AnyRole::Custom(role) => role.permissions.iter().any(|held| held == permission),
        }
    }

    /// Its permission ids, in the order the role lists them.
    pub(crate) fn permissions(self) -> Vec<&'a str> {
        match self {
            AnyRole::BuiltIn(role) => role.permissions.to_vec(),
            AnyRole::Custom(role) => role.permissions.iter().map(String::as_str).collect(),
        }
    }

    /// Whether every permission of `other` is one of this role's.
    pub(crate) fn includes_all_of(self, other: AnyRole<'_>) -> bool {
        other
            .permissions()
            .into_iter()
            .all(|permission| self.has_permission(permission))
    }
}

/// Roles that cannot be assigned to worker applications ("Currently, you're not able to assign
/// the DaVinci Admin and DaVinci Read-Only Admin roles to a Worker app").
pub(crate) fn assignable_to_applications(name: &str) -> bool {
    name != DAVINCI_ADMIN && name != DAVINCI_ADMIN_READ_ONLY
}

/// Whether a holder of the built-in role `holder` may hand out the built-in role `wanted`
/// ("Can assign" of PingOne's built-in roles page,
/// <https://docs.pingidentity.com/pingone/directory/p1_built_in_roles.html>). This table is the
/// one home of that rule: the emulator enforces it, and the pre-flight predicts it.
pub fn built_in_can_assign(holder: &str, wanted: &str) -> bool {
    BUILT_IN_ROLES
        .iter()
        .find(|role| role.name == holder)
        .is_some_and(|role| role.can_assign.allows(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct OneOrg;

    impl Topology for OneOrg {
        fn organization_id(&self) -> &str {
            "org"
        }

        fn environment_of_application(&self, application_id: &str) -> Option<&str> {
            match application_id {
                "app-in-env-1" => Some("env-1"),
                _ => None,
            }
        }

        fn environment_of_population(&self, population_id: &str) -> Option<&str> {
            match population_id {
                "pop-in-env-1" => Some("env-1"),
                _ => None,
            }
        }
    }

    fn scope(kind: ScopeType, id: &str) -> Scope {
        Scope {
            kind,
            id: id.to_owned(),
        }
    }

    #[test]
    fn organization_contains_everything_of_its_own() {
        let org = scope(Org, "org");
        for inner in [
            scope(Org, "org"),
            scope(Env, "env-1"),
            scope(App, "app-in-env-1"),
            scope(Pop, "p"),
        ] {
            assert!(scope_covers(&OneOrg, &org, &inner), "{inner:?}");
        }
        assert!(!scope_covers(
            &OneOrg,
            &scope(Org, "other-org"),
            &scope(Env, "env-1")
        ));
    }

    #[test]
    fn environment_contains_itself_and_its_applications_only() {
        let env = scope(Env, "env-1");
        assert!(scope_covers(&OneOrg, &env, &scope(Env, "env-1")));
        assert!(scope_covers(&OneOrg, &env, &scope(App, "app-in-env-1")));
        assert!(!scope_covers(&OneOrg, &env, &scope(Env, "env-2")));
        assert!(!scope_covers(&OneOrg, &env, &scope(App, "unknown-app")));
        assert!(!scope_covers(&OneOrg, &env, &scope(Org, "org")));
    }

    #[test]
    fn an_environment_contains_its_own_populations_only() {
        let env = scope(Env, "env-1");
        assert!(scope_covers(&OneOrg, &env, &scope(Pop, "pop-in-env-1")));
        assert!(!scope_covers(
            &OneOrg,
            &scope(Env, "env-2"),
            &scope(Pop, "pop-in-env-1")
        ));
        assert!(!scope_covers(&OneOrg, &env, &scope(Pop, "unknown-pop")));
        assert!(!scope_covers(&OneOrg, &scope(Pop, "pop-in-env-1"), &env));
    }

    #[test]
    fn narrow_scopes_contain_only_themselves() {
        let app = scope(App, "app-in-env-1");
        assert!(scope_covers(&OneOrg, &app, &app));
        assert!(!scope_covers(&OneOrg, &app, &scope(Env, "env-1")));
        assert!(scopes_overlap(&OneOrg, &app, &scope(Env, "env-1")));
        assert!(!scopes_overlap(
            &OneOrg,
            &scope(Env, "env-2"),
            &scope(Env, "env-1")
        ));
    }

    #[test]
    fn the_catalog_has_every_enum_name_once_with_a_non_empty_description() {
        let mut names: Vec<_> = BUILT_IN_ROLES.iter().map(|role| role.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 19);
        assert!(
            BUILT_IN_ROLES
                .iter()
                .all(|role| !role.description.is_empty()
                    && !role.applicable_to.is_empty()
                    && !role.permissions.is_empty())
        );
    }

    #[test]
    fn can_assign_follows_the_built_in_roles_page() {
        let of = |name| &BUILT_IN_ROLES[index_of(name).unwrap()].can_assign;
        assert!(of(ORGANIZATION_ADMIN).allows(ENVIRONMENT_ADMIN));
        assert!(!of(ORGANIZATION_ADMIN).allows(IDENTITY_DATA_ADMIN));
        assert!(of(ENVIRONMENT_ADMIN).allows(IDENTITY_DATA_ADMIN));
        assert!(!of(ENVIRONMENT_ADMIN).allows(ORGANIZATION_ADMIN));
        assert!(of(IDENTITY_DATA_ADMIN).allows(HELP_DESK_ADMIN));
        assert!(!of(CLIENT_APPLICATION_DEVELOPER).allows(CLIENT_APPLICATION_DEVELOPER));
    }

    #[test]
    fn permission_descriptions_are_readable() {
        assert_eq!(
            permission::describe("orgmgt:read:environment"),
            "Read environment"
        );
    }
}
