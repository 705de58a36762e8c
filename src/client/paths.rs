//! The management API paths p1run writes to, in one place: the client sends to them, and a
//! write shows them in plans, reports and errors (`POST /environments/…/applications`), so what
//! is shown is always what is sent.

use std::fmt;

/// A management API path below `{api_url}` (`…/v1`), as its segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPath(Vec<String>);

impl ApiPath {
    fn of(segments: &[&str]) -> Self {
        Self(segments.iter().map(|s| (*s).to_owned()).collect())
    }

    /// The segments, for building the URL.
    pub fn segments(&self) -> Vec<&str> {
        self.0.iter().map(String::as_str).collect()
    }
}

impl fmt::Display for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in &self.0 {
            write!(f, "/{segment}")?;
        }
        Ok(())
    }
}

/// `/environments/{env}`.
pub fn environment(environment_id: &str) -> ApiPath {
    ApiPath::of(&["environments", environment_id])
}

/// `/environments/{env}/populations/{population}`.
pub fn population(environment_id: &str, population_id: &str) -> ApiPath {
    ApiPath::of(&["environments", environment_id, "populations", population_id])
}

/// `/environments/{env}/populations`.
pub fn populations(environment_id: &str) -> ApiPath {
    ApiPath::of(&["environments", environment_id, "populations"])
}

/// `/environments/{env}/roles` (custom admin roles).
pub fn custom_roles(environment_id: &str) -> ApiPath {
    ApiPath::of(&["environments", environment_id, "roles"])
}

/// `/environments/{env}/roles/{role}`.
pub fn custom_role(environment_id: &str, role_id: &str) -> ApiPath {
    ApiPath::of(&["environments", environment_id, "roles", role_id])
}

/// `/environments/{env}/applications`.
pub fn applications(environment_id: &str) -> ApiPath {
    ApiPath::of(&["environments", environment_id, "applications"])
}

/// `/environments/{env}/applications/{app}`.
pub fn application(environment_id: &str, application_id: &str) -> ApiPath {
    ApiPath::of(&[
        "environments",
        environment_id,
        "applications",
        application_id,
    ])
}

/// `/environments/{env}/applications/{app}/roleAssignments`.
pub fn role_assignments(environment_id: &str, application_id: &str) -> ApiPath {
    ApiPath::of(&[
        "environments",
        environment_id,
        "applications",
        application_id,
        "roleAssignments",
    ])
}

/// `/environments/{env}/applications/{app}/roleAssignments/{assignment}`.
pub fn role_assignment(environment_id: &str, application_id: &str, assignment_id: &str) -> ApiPath {
    ApiPath::of(&[
        "environments",
        environment_id,
        "applications",
        application_id,
        "roleAssignments",
        assignment_id,
    ])
}

/// `/environments/{env}/applications/{app}/secret`.
pub fn secret(environment_id: &str, application_id: &str) -> ApiPath {
    ApiPath::of(&[
        "environments",
        environment_id,
        "applications",
        application_id,
        "secret",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_show_as_the_request_line_shows_them() {
        assert_eq!(
            role_assignment("e", "a", "r").to_string(),
            "/environments/e/applications/a/roleAssignments/r"
        );
        assert_eq!(
            applications("e").segments(),
            ["environments", "e", "applications"]
        );
    }
}
