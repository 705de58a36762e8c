//! PingOne resources as the client sees them.
//!
//! Applications stay raw JSON objects: PUT is a full replace, so every field PingOne returned
//! (including ones this crate does not model) must go back unchanged.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// `GET /environments/{id}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Environment {
    /// Environment id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Region code (`NA`, `EU`, …).
    #[serde(default)]
    pub region: Option<String>,
    /// `PRODUCTION` or `SANDBOX`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The owning organization.
    pub organization: IdRef,
}

/// `{"id": "…"}` as PingOne nests references.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct IdRef {
    /// The referenced id.
    pub id: String,
}

/// Where a role assignment applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScopeType {
    /// The whole organization.
    Organization,
    /// One environment.
    Environment,
    /// One population.
    Population,
    /// One application.
    Application,
    /// A scope type this client does not know yet: PingOne may add some, and one unknown
    /// value in `GET /roles` must not make every run fail.
    #[serde(other)]
    Unknown,
}

impl ScopeType {
    /// The API spelling, e.g. `ENVIRONMENT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organization => "ORGANIZATION",
            Self::Environment => "ENVIRONMENT",
            Self::Population => "POPULATION",
            Self::Application => "APPLICATION",
            Self::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for ScopeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role assignment's scope: `{"id", "type"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub struct ScopeRef {
    /// Organization, environment, population or application id.
    pub id: String,
    /// What kind of thing `id` is.
    #[serde(rename = "type")]
    pub kind: ScopeType,
}

/// A permission carried by a role.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Permission {
    /// e.g. `orgmgt:read:environment`.
    pub id: String,
    /// Usually the same as `id`.
    #[serde(default)]
    pub classifier: Option<String>,
    /// Human text.
    #[serde(default)]
    pub description: Option<String>,
}

/// A built-in admin role (`GET /roles`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Role {
    /// Role id; random per organization as far as clients may assume, so look roles up by name.
    pub id: String,
    /// Exact API name, e.g. `Identity Data Admin`.
    pub name: String,
    /// Human text.
    #[serde(default)]
    pub description: Option<String>,
    /// Scope types the role may be assigned at.
    #[serde(rename = "applicableTo", default)]
    pub applicable_to: Vec<ScopeType>,
    /// What the role allows.
    #[serde(default)]
    pub permissions: Vec<Permission>,
}

/// An application's role assignment.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RoleAssignment {
    /// Assignment id.
    pub id: String,
    /// The role.
    pub role: IdRef,
    /// Where it applies.
    pub scope: ScopeRef,
    /// True when the calling actor may not delete it.
    #[serde(rename = "readOnly", default)]
    pub read_only: bool,
}

/// `tokenEndpointAuthMethod` values (spec `EnumApplicationOIDCTokenAuthMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenAuthMethod {
    /// Public client.
    None,
    /// HTTP Basic header (the worker default).
    ClientSecretBasic,
    /// `client_id`/`client_secret` form fields.
    ClientSecretPost,
    /// Signed JWT with a private key.
    PrivateKeyJwt,
    /// Signed JWT with the client secret.
    ClientSecretJwt,
}

impl TokenAuthMethod {
    /// All five, in the spec's order.
    pub const ALL: [Self; 5] = [
        Self::None,
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
        Self::ClientSecretJwt,
    ];

    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::ClientSecretBasic => "CLIENT_SECRET_BASIC",
            Self::ClientSecretPost => "CLIENT_SECRET_POST",
            Self::PrivateKeyJwt => "PRIVATE_KEY_JWT",
            Self::ClientSecretJwt => "CLIENT_SECRET_JWT",
        }
    }
}

impl fmt::Display for TokenAuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenAuthMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|m| m.as_str()).collect();
                format!(
                    "unknown token endpoint auth method {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// An application as PingOne returned it: the whole JSON object, kept so that a PUT sends
/// back every field it does not mean to change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Application(pub Map<String, Value>);

impl Application {
    /// Fields PingOne computes (and `assignActorRoles`, which a PUT ignores); they are
    /// stripped from PUT bodies.
    pub const READ_ONLY_FIELDS: [&str; 6] = [
        "_links",
        "id",
        "environment",
        "createdAt",
        "updatedAt",
        "assignActorRoles",
    ];

    fn str_field(&self, key: &str) -> &str {
        self.0.get(key).and_then(Value::as_str).unwrap_or_default()
    }

    /// Application id (also its OAuth client id).
    pub fn id(&self) -> &str {
        self.str_field("id")
    }

    /// Display name.
    pub fn name(&self) -> &str {
        self.str_field("name")
    }

    /// `type`, e.g. `WORKER`.
    pub fn kind(&self) -> &str {
        self.str_field("type")
    }

    /// `description`, empty when absent.
    pub fn description(&self) -> &str {
        self.str_field("description")
    }

    /// `enabled`.
    pub fn enabled(&self) -> bool {
        self.0
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// `tokenEndpointAuthMethod`, empty when absent.
    pub fn token_endpoint_auth_method(&self) -> &str {
        self.str_field("tokenEndpointAuthMethod")
    }

    /// Sets a field for the next PUT.
    pub fn set(&mut self, key: &str, value: Value) {
        self.0.insert(key.to_owned(), value);
    }

    /// The body of a full-replace PUT: everything but the read-only fields.
    pub fn update_body(&self) -> Value {
        let mut body = self.0.clone();
        for key in Self::READ_ONLY_FIELDS {
            body.remove(key);
        }
        Value::Object(body)
    }
}

/// `GET …/secret`.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicationSecret {
    /// The current secret.
    pub secret: Secret,
    /// When the previous secret (still valid) expires, if one exists.
    pub previous_expires_at: Option<String>,
}

impl<'de> Deserialize<'de> for ApplicationSecret {
    /// Reads `{"secret": "…", "previous": {"secret": "…", "expiresAt": "…"}}` (docs/pingone.md,
    /// "Application secrets"). Written by hand so that a malformed answer never puts a secret in
    /// an error message (serde's own messages quote the offending value).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = Value::deserialize(deserializer)?;
        let secret = value
            .get("secret")
            .and_then(Value::as_str)
            .ok_or_else(|| D::Error::custom("`secret` is missing or not a string"))?;
        let previous_expires_at = match value.get("previous") {
            None | Some(Value::Null) => None,
            Some(previous) => Some(
                previous
                    .get("expiresAt")
                    .and_then(Value::as_str)
                    .ok_or_else(|| D::Error::custom("`previous.expiresAt` is not a string"))?
                    .to_owned(),
            ),
        };
        Ok(Self {
            secret: Secret::new(secret),
            previous_expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_secret_reads_previous_expiry_and_never_quotes_the_secret() {
        let current: ApplicationSecret = serde_json::from_str(
            r#"{"secret":"s3cr3t","previous":{"secret":"old","expiresAt":"2026-01-31T00:00:00Z"}}"#,
        )
        .unwrap();
        assert_eq!(current.secret.expose(), "s3cr3t");
        assert_eq!(
            current.previous_expires_at.as_deref(),
            Some("2026-01-31T00:00:00Z")
        );
        let only: ApplicationSecret = serde_json::from_str(r#"{"secret":"s"}"#).unwrap();
        assert_eq!(only.previous_expires_at, None);
        let error =
            serde_json::from_str::<ApplicationSecret>(r#"{"secret":{"v":"s3cr3t"}}"#).unwrap_err();
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
    }

    #[test]
    fn update_body_strips_read_only_fields_and_keeps_the_rest() {
        let app: Application = serde_json::from_str(
            r#"{"id":"a","_links":{},"environment":{"id":"e"},"createdAt":"t","updatedAt":"t",
                "name":"w","pkceEnforcement":"OPTIONAL","assignActorRoles":false}"#,
        )
        .unwrap();
        assert_eq!(
            app.update_body(),
            serde_json::json!({"name": "w", "pkceEnforcement": "OPTIONAL"})
        );
    }
}
