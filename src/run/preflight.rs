//! The pre-flight: before the first write, and in `plan` too, would PingOne accept every
//! grant the plan makes? A run that would fail halfway fails here instead, having written
//! nothing, and a `plan` that exits 2 means `apply`'s writes will be accepted unless the live
//! state moves.
//!
//! PingOne accepts a grant when the actor holds the role (or one whose permissions include
//! all of its) at the same or a broader scope, a role it holds there may hand that role out
//! (the "Can assign" column of the built-in roles page), and the scope exists. See
//! docs/pingone.md, "Role assignments".

use crate::client::{CustomRole, Role, RoleAssignment, ScopeRef, ScopeType};
use crate::writes::{KNOWN_AFTER_APPLY, RoleRef, Write};

/// One grant the plan makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The role.
    pub role: RoleRef,
    /// Where.
    pub scope: ScopeRef,
}

/// The grants among `writes`.
pub fn grants(writes: &[Write]) -> Vec<Grant> {
    writes
        .iter()
        .filter_map(|write| match write {
            Write::Grant { role, scope, .. } => Some(Grant {
                role: role.clone(),
                scope: scope.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// Why PingOne would refuse `grant` from an actor holding `held`, or `None` when it would
/// accept it.
pub fn refusal(
    grant: &Grant,
    held: &[RoleAssignment],
    roles: &[Role],
    target_environment: &str,
) -> Option<&'static str> {
    let covering: Vec<&RoleAssignment> = held
        .iter()
        .filter(|a| actor_covers(&a.scope, &grant.scope, target_environment))
        .collect();
    if !covering
        .iter()
        .any(|a| at_least_as_strong(&a.role.id, &grant.role.id, roles))
    {
        return Some(
            "does not hold it (or a role that includes it) at the same or a broader scope",
        );
    }
    let name = |id: &str| roles.iter().find(|r| r.id == id).map(|r| r.name.as_str());
    let may_hand_out = covering.iter().any(|a| {
        name(&a.role.id)
            .is_some_and(|holder| crate::emulator::built_in_can_assign(holder, &grant.role.name))
    });
    if !may_hand_out {
        return Some("holds no role there that may assign it");
    }
    None
}

/// Why PingOne would refuse `grant` of the custom role `custom` from an actor holding `held`.
/// PingOne's rule for custom roles (custom-roles.html): the actor holds the same role, or a
/// role named in its `canBeAssignedBy`, at the same or a broader scope; equivalent
/// permissions are not enough. For a role this plan creates or updates, `custom` is the
/// definition the plan sends (its id is then [`KNOWN_AFTER_APPLY`], which no held assignment
/// names, so only `canBeAssignedBy` can let the actor assign it — as PingOne will judge it).
pub fn custom_refusal(
    grant: &Grant,
    held: &[RoleAssignment],
    custom: &CustomRole,
    target_environment: &str,
) -> Option<&'static str> {
    let entitled = held.iter().any(|a| {
        (a.role.id == custom.id || custom.can_be_assigned_by.iter().any(|r| r.id == a.role.id))
            && actor_covers(&a.scope, &grant.scope, target_environment)
    });
    (!entitled).then_some(
        "holds neither this custom role nor a role named in its canBeAssignedBy at the same or \
         a broader scope",
    )
}

/// The permission a custom role write needs: `permissions:create:customRoles` for a create,
/// `permissions:update:customRoles` for an update (what PingOne's Custom Roles Admin and
/// Organization Admin hold).
pub fn custom_role_permission(write: &Write) -> Option<&'static str> {
    match write {
        Write::CreateCustomRole { .. } => Some("permissions:create:customRoles"),
        Write::UpdateCustomRole { .. } => Some("permissions:update:customRoles"),
        Write::DeleteCustomRole { .. } => Some("permissions:delete:customRoles"),
        _ => None,
    }
}

/// Whether an actor holding `held` holds `permission` over the target environment, by the
/// permissions of its roles (`roles`: every role it may hold, built-in and custom).
pub fn holds_permission(
    held: &[RoleAssignment],
    roles: &[Role],
    permission: &str,
    target_environment: &str,
) -> bool {
    let environment = ScopeRef {
        id: target_environment.to_owned(),
        kind: ScopeType::Environment,
    };
    held.iter()
        .filter(|a| actor_covers(&a.scope, &environment, target_environment))
        .any(|a| {
            roles
                .iter()
                .find(|role| role.id == a.role.id)
                .is_some_and(|role| role.permissions.iter().any(|p| p.id == permission))
        })
}

/// Is the role `held_id` the wanted role, or one whose permissions include all of its? That
/// is how PingOne's documented exceptions read ("you can assign the read-only variants of
/// built-in roles that are assigned to you"); inferred, not verified.
pub fn at_least_as_strong(held_id: &str, wanted_id: &str, roles: &[Role]) -> bool {
    if held_id == wanted_id {
        return true;
    }
    let find = |id: &str| roles.iter().find(|role| role.id == id);
    match (find(held_id), find(wanted_id)) {
        (Some(held), Some(wanted)) => wanted
            .permissions
            .iter()
            .all(|permission| held.permissions.iter().any(|p| p.id == permission.id)),
        _ => false,
    }
}

/// Does the actor's assignment at `held` reach `wanted`? Organization covers all; an
/// environment covers itself and the populations and applications in it (taken to be the
/// target environment, where recipes create them).
pub fn actor_covers(held: &ScopeRef, wanted: &ScopeRef, target_environment: &str) -> bool {
    use ScopeType::{Application, Environment, Organization, Population};
    match (held.kind, wanted.kind) {
        (Organization, _) => true,
        (Environment, Environment) => held.id == wanted.id,
        (Environment, Population | Application) => held.id == target_environment,
        _ => held == wanted,
    }
}

/// A scope whose target a pre-flight must look up: not the target environment, and not an
/// application this run creates.
pub fn needs_lookup(scope: &ScopeRef, target_environment: &str) -> bool {
    match scope.kind {
        ScopeType::Environment => scope.id != target_environment,
        ScopeType::Application => scope.id != KNOWN_AFTER_APPLY,
        ScopeType::Organization => false,
        // A population this run creates exists once its create is sent, before any grant.
        ScopeType::Population => scope.id != KNOWN_AFTER_APPLY,
        ScopeType::Unknown => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{IdRef, Permission};

    fn role(id: &str, name: &str, permissions: &[&str]) -> Role {
        Role {
            id: id.into(),
            name: name.into(),
            description: None,
            applicable_to: vec![ScopeType::Environment, ScopeType::Organization],
            permissions: permissions
                .iter()
                .map(|p| Permission {
                    id: (*p).into(),
                    classifier: None,
                    description: None,
                })
                .collect(),
        }
    }

    fn scope(kind: ScopeType, id: &str) -> ScopeRef {
        ScopeRef {
            id: id.into(),
            kind,
        }
    }

    fn held(role: &str, scope: ScopeRef) -> RoleAssignment {
        RoleAssignment {
            id: "a".into(),
            role: IdRef { id: role.into() },
            scope,
            read_only: false,
        }
    }

    fn grant(id: &str, name: &str, scope: ScopeRef) -> Grant {
        Grant {
            role: RoleRef {
                id: id.into(),
                name: name.into(),
            },
            scope,
        }
    }

    fn catalog() -> Vec<Role> {
        vec![
            role("oa", "Organization Admin", &["org", "env"]),
            role("ea", "Environment Admin", &["env", "app"]),
            role("ida", "Identity Data Admin", &["users:read", "users:write"]),
            role("idro", "Identity Data Read Only", &["users:read"]),
        ]
    }

    #[test]
    fn organization_scope_covers_everything_environment_scope_its_own() {
        let org = scope(ScopeType::Organization, "o");
        let env = scope(ScopeType::Environment, "e");
        assert!(actor_covers(&org, &env, "e"));
        assert!(actor_covers(&env, &env, "e"));
        assert!(!actor_covers(
            &env,
            &scope(ScopeType::Environment, "f"),
            "e"
        ));
        assert!(actor_covers(&env, &scope(ScopeType::Population, "p"), "e"));
        assert!(!actor_covers(&env, &org, "e"));
    }

    #[test]
    fn can_assign_follows_the_built_in_roles_page() {
        let roles = catalog();
        let org = scope(ScopeType::Organization, "o");
        let env = scope(ScopeType::Environment, "e");
        let actor = [held("ea", org.clone()), held("ida", env.clone())];
        // Environment Admin hands out all but Organization Admin.
        assert_eq!(
            refusal(
                &grant("ea", "Environment Admin", org.clone()),
                &actor,
                &roles,
                "e"
            ),
            None
        );
        assert!(
            refusal(
                &grant("oa", "Organization Admin", org.clone()),
                &actor,
                &roles,
                "e"
            )
            .is_some()
        );
        // Identity Data Admin hands out its read-only variant, whose permissions it includes.
        assert_eq!(
            refusal(
                &grant("idro", "Identity Data Read Only", env.clone()),
                &actor,
                &roles,
                "e"
            ),
            None
        );
        // Held at the environment only: not at the organization.
        let only_env = [held("ida", env)];
        assert_eq!(
            refusal(
                &grant("ida", "Identity Data Admin", org),
                &only_env,
                &roles,
                "e"
            ),
            Some("does not hold it (or a role that includes it) at the same or a broader scope")
        );
    }

    #[test]
    fn custom_role_writes_need_the_custom_roles_permissions_over_the_environment() {
        let roles = vec![role(
            "cra",
            "Custom Roles Admin",
            &["permissions:create:customRoles"],
        )];
        let write = Write::CreateCustomRole {
            environment_id: "e".into(),
            definition: Default::default(),
        };
        let permission = custom_role_permission(&write).unwrap();
        let at_org = [held("cra", scope(ScopeType::Organization, "o"))];
        let elsewhere = [held("cra", scope(ScopeType::Environment, "f"))];
        assert!(holds_permission(&at_org, &roles, permission, "e"));
        assert!(!holds_permission(&elsewhere, &roles, permission, "e"));
        assert!(!holds_permission(&[], &roles, permission, "e"));
    }

    #[test]
    fn only_scopes_outside_the_run_are_looked_up() {
        assert!(!needs_lookup(&scope(ScopeType::Environment, "e"), "e"));
        assert!(needs_lookup(&scope(ScopeType::Environment, "f"), "e"));
        assert!(needs_lookup(&scope(ScopeType::Population, "p"), "e"));
        assert!(!needs_lookup(
            &scope(ScopeType::Application, KNOWN_AFTER_APPLY),
            "e"
        ));
        assert!(!needs_lookup(&scope(ScopeType::Organization, "o"), "e"));
    }
}
