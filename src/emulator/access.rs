//! Who is calling and what they may do: the role assignments a token carries, which of them
//! have propagated, and the checks PingOne's built-in and custom roles imply.

use super::errors::{ApiError, ApiResult, BROADER_SCOPE_DETAIL};
use super::roles::{AnyRole, Scope, ScopeType, Topology as _};
use super::state::{RoleAssignment, State};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The authenticated client of a management request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) client_id: String,
    /// The role assignments its token was issued with; later grants count from the next token.
    pub(crate) grants: Arc<[RoleAssignment]>,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(ApiError::invalid_token)
    }
}

/// A caller's grants as they stand now: those still propagating are left out.
///
/// They are grouped by role, with each role's scopes indexed, so that a check costs per
/// distinct role rather than per grant: the bootstrap admin of a 500-environment organization
/// holds over a thousand assignments, and listing them checks every one against all of them.
pub(crate) struct Effective<'a> {
    by_role: HashMap<&'a str, Scopes<'a>>,
}

/// The scopes one role is held over.
#[derive(Default)]
struct Scopes<'a> {
    organizations: HashSet<&'a str>,
    environments: HashSet<&'a str>,
    /// Populations and applications held directly: each covers only itself.
    others: Vec<&'a Scope>,
}

impl Scopes<'_> {
    /// The same answer as any held scope `scope_covers` the target, without the scan.
    fn cover(&self, state: &State, target: &Scope) -> bool {
        if self.organizations.contains(state.organization_id()) {
            return true;
        }
        let covered_by_environment = match target.kind {
            ScopeType::Environment => self.environments.contains(target.id.as_str()),
            ScopeType::Application => state
                .environment_of_application(&target.id)
                .is_some_and(|environment| self.environments.contains(environment)),
            ScopeType::Population => state
                .environment_of_population(&target.id)
                .is_some_and(|environment| self.environments.contains(environment)),
            ScopeType::Organization => false,
        };
        covered_by_environment || self.others.contains(&target)
    }
}

impl Caller {
    /// The grants that have propagated by `now_ms` given the propagation delay.
    pub(crate) fn effective(&self, now_ms: u64, delay_ms: u64) -> Effective<'_> {
        let mut by_role: HashMap<&str, Scopes<'_>> = HashMap::new();
        for grant in self
            .grants
            .iter()
            .filter(|grant| grant.granted_ms.saturating_add(delay_ms) <= now_ms)
        {
            let scopes = by_role.entry(grant.role_id.as_str()).or_default();
            match grant.scope.kind {
                ScopeType::Organization => scopes.organizations.insert(grant.scope.id.as_str()),
                ScopeType::Environment => scopes.environments.insert(grant.scope.id.as_str()),
                ScopeType::Population | ScopeType::Application => {
                    scopes.others.push(&grant.scope);
                    true
                }
            };
        }
        Effective { by_role }
    }
}

impl Effective<'_> {
    /// Whether any role is in force at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_role.is_empty()
    }

    /// Whether a role in force, built-in or custom, grants `permission` over `target`.
    pub(crate) fn allows(&self, state: &State, permission: &str, target: &Scope) -> bool {
        self.by_role.iter().any(|(role_id, scopes)| {
            state
                .any_role(role_id)
                .is_some_and(|role| role.has_permission(permission))
                && scopes.cover(state, target)
        })
    }

    /// 403 unless [`Effective::allows`].
    pub(crate) fn require(&self, state: &State, permission: &str, target: &Scope) -> ApiResult<()> {
        if self.allows(state, permission, target) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// Whether the caller holds `role_id` over `scope` or something broader, or there holds a
    /// role whose permissions include all of that role's. The second half is inferred: it is
    /// what makes the documented exceptions hold together ("You can assign the read-only
    /// variants of built-in roles that are assigned to you"; an Identity Data Admin can assign
    /// Help Desk Admin; an Environment Admin can assign Application Owner).
    ///
    /// Custom roles count by their permissions like built-in ones, so a worker holding a
    /// custom role with Environment Admin's permissions holds what Environment Admin would.
    pub(crate) fn holds(&self, state: &State, role_id: &str, scope: &Scope) -> bool {
        let Some(wanted) = state.any_role(role_id) else {
            return false;
        };
        self.by_role.iter().any(|(held_id, scopes)| {
            let held_is_as_strong = *held_id == role_id
                || state
                    .any_role(held_id)
                    .is_some_and(|held| held.includes_all_of(wanted));
            held_is_as_strong && scopes.cover(state, scope)
        })
    }

    /// PingOne's rule for assigning a custom role over `scope`: "The actor already has the
    /// same role for the jurisdiction or parent jurisdiction", or "has a role that is
    /// specified in the canBeAssignedBy property of the custom role for the jurisdiction or
    /// parent jurisdiction" (custom-roles.html). Holding equivalent permissions is not enough.
    fn may_assign_custom(&self, state: &State, role_id: &str, scope: &Scope) -> bool {
        let Some(AnyRole::Custom(custom)) = state.any_role(role_id) else {
            return false;
        };
        self.by_role.iter().any(|(held_id, scopes)| {
            let entitled =
                *held_id == role_id || custom.can_be_assigned_by.iter().any(|id| id == held_id);
            entitled && scopes.cover(state, scope)
        })
    }

    /// Whether a role the caller holds over `scope` may hand out `role_id`.
    pub(crate) fn can_assign(&self, state: &State, role_id: &str, scope: &Scope) -> bool {
        let Some(target_role) = state.role(role_id) else {
            return false;
        };
        self.by_role.iter().any(|(held_id, scopes)| {
            state
                .role(held_id)
                .is_some_and(|role| role.can_assign.allows(target_role.name))
                && scopes.cover(state, scope)
        })
    }

    /// The privilege-escalation rule for granting (or removing) `role_id` over `scope`.
    ///
    /// PingOne does not document the status of "Must have role at the same or broader scope";
    /// 403 `ACCESS_FAILED`/`INSUFFICIENT_PERMISSIONS` is the likeliest (unverified;
    /// docs/pingone.md, "Where the reference is silent").
    pub(crate) fn check_may_grant(
        &self,
        state: &State,
        role_id: &str,
        scope: &Scope,
    ) -> ApiResult<()> {
        if let Some(AnyRole::Custom(_)) = state.any_role(role_id) {
            return if self.may_assign_custom(state, role_id, scope) {
                Ok(())
            } else {
                Err(ApiError::forbidden_because(BROADER_SCOPE_DETAIL))
            };
        }
        if !self.holds(state, role_id, scope) {
            return Err(ApiError::forbidden_because(BROADER_SCOPE_DETAIL));
        }
        if !self.can_assign(state, role_id, scope) {
            return Err(ApiError::forbidden());
        }
        Ok(())
    }

    /// Whether the caller may delete this assignment (the `readOnly` flag is its negation).
    pub(crate) fn may_manage(&self, state: &State, assignment: &RoleAssignment) -> bool {
        self.check_may_grant(state, &assignment.role_id, &assignment.scope)
            .is_ok()
    }

    /// "The requesting user or application must have the same (or broader) role assignments
    /// as the target actor's role assignments."
    pub(crate) fn holds_superset_of(&self, state: &State, assignments: &[RoleAssignment]) -> bool {
        assignments
            .iter()
            .all(|assignment| self.holds(state, &assignment.role_id, &assignment.scope))
    }
}
