//! The client's one error type.

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

/// Everything that can go wrong talking to PingOne.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// PingOne answered with an error.
    #[error("{0:?}")]
    Api(ApiError),
}
