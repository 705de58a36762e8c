//! The client's one error type.
//!
//! Every message says what failed, where (method and path, never the host's secrets), what
//! PingOne said (code, message, details, error id) and what to do about it. Secrets and access
//! tokens never appear: they are [`crate::secret::Secret`]s and no variant carries one.

use std::fmt;
use std::time::Duration;

/// One entry of a PingOne error's `details`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErrorDetail {
    /// e.g. `INVALID_VALUE`, `UNIQUENESS_VIOLATION`.
    pub code: Option<String>,
    /// The field at fault, e.g. `scope`.
    pub target: Option<String>,
    /// PingOne's text.
    pub message: Option<String>,
    /// Extra data such as `allowedValues`.
    #[serde(rename = "innerError")]
    pub inner_error: Option<serde_json::Value>,
}

/// An error answer from PingOne, with the call that got it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApiError {
    /// HTTP method of the call.
    pub method: String,
    /// Path of the call (no host, no query secrets).
    pub path: String,
    /// HTTP status.
    pub status: u16,
    /// PingOne's error id (for support cases).
    pub id: Option<String>,
    /// PingOne's top-level code, e.g. `INVALID_DATA`.
    pub code: Option<String>,
    /// PingOne's message.
    pub message: String,
    /// PingOne's details.
    pub details: Vec<ErrorDetail>,
}

impl ApiError {
    /// True when any detail carries `code` (e.g. `INVALID_TOKEN`, `UNIQUENESS_VIOLATION`).
    pub fn has_detail_code(&self, code: &str) -> bool {
        self.details.iter().any(|d| d.code.as_deref() == Some(code))
    }

    /// The message of the first detail, which is where PingOne puts the specific reason
    /// ("Must have role at the same or broader scope" lives there; docs/pingone.md, "Role
    /// assignments").
    pub fn first_detail_message(&self) -> Option<&str> {
        self.details.first().and_then(|d| d.message.as_deref())
    }

    /// What a person can do about this status, for the end of [`ClientError`]'s message.
    fn hint(&self) -> &'static str {
        match self.status {
            400 => "fix the request: the details name the offending field",
            401 => {
                "the access token was refused: check that the worker application is enabled and \
                 that its secret has not been rotated"
            }
            403 => {
                "the worker lacks a role for this call: check its role assignments and their \
                 scope (or the environment does not exist)"
            }
            404 => "check the ids and the environment: PingOne does not know this resource",
            409 => "the resource changed or already exists: read it again and retry",
            429 => "PingOne is rate limiting this license: slow down or retry later",
            500..=599 => "PingOne failed to answer: retry later and quote the error id to support",
            _ => "see PingOne's message above",
        }
    }
}

impl fmt::Display for ApiError {
    /// One block: `METHOD PATH → STATUS CODE: message`, one line per detail, then the error id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} → {}", self.method, self.path, self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        write!(f, ": {}", self.message)?;
        for detail in &self.details {
            f.write_str("\n  - ")?;
            let mut wrote = false;
            if let Some(code) = &detail.code {
                f.write_str(code)?;
                wrote = true;
            }
            if let Some(target) = &detail.target {
                if wrote {
                    f.write_str(" ")?;
                }
                write!(f, "(target {target})")?;
                wrote = true;
            }
            if let Some(message) = &detail.message {
                if wrote {
                    f.write_str(": ")?;
                }
                f.write_str(message)?;
            }
            if let Some(inner) = &detail.inner_error {
                write!(f, " {inner}")?;
            }
        }
        if let Some(id) = &self.id {
            write!(f, "\n  PingOne error id: {id}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// Everything that can go wrong talking to PingOne.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// PingOne answered with an error.
    #[error("{0}\n  hint: {hint}", hint = .0.hint())]
    Api(ApiError),

    /// The auth server refused to issue a worker token (docs/pingone.md, "Tokens").
    #[error(
        "the token request to {method} {path} was refused: {error}: {description} — {hint}",
        hint = token_hint(.error)
    )]
    Token {
        /// Always `POST`.
        method: String,
        /// `/{environment_id}/as/token`.
        path: String,
        /// HTTP status of the refusal.
        status: u16,
        /// The OAuth `error` (e.g. `invalid_client`), or PingOne's `code`, or the status text.
        error: String,
        /// The OAuth `error_description`, or PingOne's message, or a piece of the body.
        description: String,
    },

    /// The request never got an HTTP answer: DNS, connection refused/reset, TLS, timeout.
    #[error(
        "could not reach {origin} for {method} {path}: {message} — check api_url/auth_url and \
         the network"
    )]
    Transport {
        /// HTTP method of the call.
        method: String,
        /// Path of the call.
        path: String,
        /// Scheme, host and port that could not be reached.
        origin: String,
        /// What went wrong, e.g. `connection refused`.
        message: String,
    },

    /// The server's TLS certificate was refused, so nothing was sent. Never retried: a
    /// certificate that is not trusted now is not trusted a second later.
    #[error(
        "the TLS certificate of {origin} is not trusted, so {method} {path} was not sent: \
         {message} — if this is the right host, {hint}",
        hint = super::connect::TRUST_HINT
    )]
    Certificate {
        /// HTTP method of the call.
        method: String,
        /// Path of the call.
        path: String,
        /// Scheme, host and port whose certificate was refused.
        origin: String,
        /// What rustls said, e.g. `invalid peer certificate: UnknownIssuer`.
        message: String,
    },

    /// No trusted CA certificates could be loaded, so no https target can be checked.
    #[error(
        "cannot check the TLS certificate of {origin}: no usable CA certificates ({message}) — \
         {hint}",
        hint = super::connect::TRUST_HINT
    )]
    TrustStore {
        /// The https target that needed them.
        origin: String,
        /// Why loading them failed.
        message: String,
    },

    /// Retrying transient failures (docs/pingone.md, "Retries and rate limits") used up
    /// [`super::RetryPolicy::deadline`].
    #[error(
        "gave up on {method} {path} after {attempts} attempts in {elapsed:.1?} (the retry \
         deadline): PingOne kept failing; retry later or raise the deadline. Last error:\n{last}"
    )]
    DeadlineExceeded {
        /// HTTP method of the call.
        method: String,
        /// Path of the call.
        path: String,
        /// How many requests were sent for it.
        attempts: u32,
        /// Time spent, waits included.
        elapsed: Duration,
        /// The last failure (usually [`ClientError::Api`] with a 5xx or 429).
        last: Box<ClientError>,
    },

    /// An `api_url`/`auth_url` that cannot be used.
    #[error("invalid endpoint: {0}")]
    InvalidEndpoint(String),

    /// A region code that is not one of PingOne's.
    #[error("unknown PingOne region {0:?}; expected one of NA, EU, CA, AU, SG, AP")]
    InvalidRegion(String),

    /// A caller-supplied value the client refuses to send (empty id, bad transaction id…).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// PingOne answered success but the body was not what the API reference describes.
    #[error(
        "could not read PingOne's answer to {method} {path}: {message} — the API may have \
         changed; please report it"
    )]
    Decode {
        /// HTTP method of the call.
        method: String,
        /// Path of the call.
        path: String,
        /// What did not fit (never the body of a secret).
        message: String,
    },
}

impl ClientError {
    /// The PingOne error behind this one, also when it is the last error of a
    /// [`ClientError::DeadlineExceeded`].
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(error) => Some(error),
            Self::DeadlineExceeded { last, .. } => last.api(),
            _ => None,
        }
    }

    /// The HTTP status PingOne answered, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Token { status, .. } => Some(*status),
            _ => self.api().map(|e| e.status),
        }
    }
}

/// What to do about a refused token request.
fn token_hint(error: &str) -> &'static str {
    match error {
        "invalid_client" => {
            "check client_id, the secret and the app's token endpoint auth method \
             (CLIENT_SECRET_BASIC or CLIENT_SECRET_POST), and that the app is enabled"
        }
        "unauthorized_client" => "the application may not use the client_credentials grant",
        _ => "check the worker application's settings and the environment id",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duplicate() -> ApiError {
        ApiError {
            method: "POST".into(),
            path: "/v1/environments/e/applications/a/roleAssignments".into(),
            status: 400,
            id: Some("f21b1537".into()),
            code: Some("INVALID_DATA".into()),
            message: "The request could not be completed. One or more validation errors were in \
                      the request."
                .into(),
            details: vec![ErrorDetail {
                code: Some("UNIQUENESS_VIOLATION".into()),
                target: Some("role".into()),
                message: Some("May not assign duplicate Role".into()),
                inner_error: None,
            }],
        }
    }

    #[test]
    fn api_error_is_one_block() {
        assert_eq!(
            duplicate().to_string(),
            "POST /v1/environments/e/applications/a/roleAssignments → 400 INVALID_DATA: The \
             request could not be completed. One or more validation errors were in the request.\n  \
             - UNIQUENESS_VIOLATION (target role): May not assign duplicate Role\n  PingOne error \
             id: f21b1537"
        );
    }

    #[test]
    fn client_error_adds_a_hint_and_finds_the_api_error_under_a_deadline() {
        let error = ClientError::DeadlineExceeded {
            method: "POST".into(),
            path: "/p".into(),
            attempts: 3,
            elapsed: Duration::from_millis(1500),
            last: Box::new(ClientError::Api(duplicate())),
        };
        assert_eq!(error.api(), Some(&duplicate()));
        assert_eq!(error.status(), Some(400));
        let text = error.to_string();
        assert!(text.contains("after 3 attempts"), "{text}");
        assert!(text.contains("hint: fix the request"), "{text}");
    }

    #[test]
    fn token_error_names_the_endpoint_and_what_to_check() {
        let error = ClientError::Token {
            method: "POST".into(),
            path: "/env/as/token".into(),
            status: 401,
            error: "invalid_client".into(),
            description: "Request denied: Unsupported authentication method".into(),
        };
        assert_eq!(
            error.to_string(),
            "the token request to POST /env/as/token was refused: invalid_client: Request denied: \
             Unsupported authentication method — check client_id, the secret and the app's token \
             endpoint auth method (CLIENT_SECRET_BASIC or CLIENT_SECRET_POST), and that the app \
             is enabled"
        );
    }
}
