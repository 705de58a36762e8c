//! PingOne's error body (`{id, code, message, details[{code, target, message, innerError}]}`)
//! and its status ↔ code pairs (docs/pingone.md, "Errors"), plus the last-resort layer that
//! turns any non-JSON error (an axum rejection, a panic) into that format.

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::Value;

/// Request bodies above this many bytes answer 400 `SIZE_LIMIT_EXCEEDED`.
pub(crate) const BODY_LIMIT: usize = 256 * 1024;

/// The top message of every 400 `INVALID_DATA`.
pub(crate) const INVALID_DATA_MESSAGE: &str =
    "The request could not be completed. One or more validation errors were in the request.";
/// The top message of every 403 (the Go SDK's `error_test.go` fixture; docs/pingone.md,
/// "Errors").
pub(crate) const FORBIDDEN_MESSAGE: &str =
    "The request could not be completed. You do not have access to this resource.";
/// The detail message of a generic 403; the Terraform provider retries on it while permissions
/// propagate.
pub(crate) const NOT_AUTHORIZED_DETAIL: &str =
    "The actor attempting to perform the request is not authorized.";
/// The detail message of a role assignment the caller may not make (the Terraform provider's
/// regex; docs/pingone.md, "Role assignments").
pub(crate) const BROADER_SCOPE_DETAIL: &str = "Must have role at the same or broader scope";
/// The detail message of a duplicate role assignment
/// (<https://github.com/pingidentity/terraform-provider-pingone/issues/401>).
pub(crate) const DUPLICATE_ROLE_DETAIL: &str = "May not assign duplicate Role";
const NOT_FOUND_MESSAGE: &str =
    "The request could not be completed. The requested resource was not found.";
const INVALID_TOKEN_DETAIL: &str =
    "The authorization token is either missing or invalid, or it has expired.";

/// One entry of `details`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ErrorDetail {
    pub(crate) code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) target: Option<String>,
    pub(crate) message: String,
    #[serde(rename = "innerError", skip_serializing_if = "Option::is_none")]
    pub(crate) inner_error: Option<Value>,
}

impl ErrorDetail {
    /// A required field is missing (or null).
    pub(crate) fn required(target: &str) -> Self {
        Self {
            code: "REQUIRED_VALUE",
            target: Some(target.to_owned()),
            message: format!("{target} is required"),
            inner_error: None,
        }
    }

    /// A field has the wrong type or value.
    pub(crate) fn invalid(target: &str, message: impl Into<String>) -> Self {
        Self {
            code: "INVALID_VALUE",
            target: Some(target.to_owned()),
            message: message.into(),
            inner_error: None,
        }
    }

    /// A field is not one of an enum's values; `innerError.allowedValues` lists them.
    pub(crate) fn not_one_of(target: &str, allowed: &[&str]) -> Self {
        Self {
            inner_error: Some(serde_json::json!({ "allowedValues": allowed })),
            ..Self::invalid(
                target,
                format!("{target} must be one of {}", allowed.join(", ")),
            )
        }
    }
}

/// An error answer in PingOne's format.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) details: Vec<ErrorDetail>,
    /// Seconds for `Retry-After` (429, 503).
    pub(crate) retry_after: Option<u64>,
}

/// What handlers return.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    fn with_detail(mut self, detail: ErrorDetail) -> Self {
        self.details.push(detail);
        self
    }

    /// 400 `INVALID_DATA` with the given details.
    pub(crate) fn invalid_data(details: Vec<ErrorDetail>) -> Self {
        Self {
            details,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "INVALID_DATA",
                INVALID_DATA_MESSAGE,
            )
        }
    }

    /// 400 `INVALID_DATA` with one detail.
    pub(crate) fn invalid(detail: ErrorDetail) -> Self {
        Self::invalid_data(vec![detail])
    }

    /// 400 `INVALID_REQUEST`: a body that is not JSON at all.
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "The request could not be completed. The request was malformed or invalid.",
        )
        .with_detail(ErrorDetail {
            code: "INVALID_VALUE",
            target: Some("body".to_owned()),
            message: message.into(),
            inner_error: None,
        })
    }

    /// 400 `INVALID_DATA` / `SIZE_LIMIT_EXCEEDED`: a body over the cap.
    pub(crate) fn body_too_large(limit: usize) -> Self {
        Self::invalid(ErrorDetail {
            code: "SIZE_LIMIT_EXCEEDED",
            target: Some("body".to_owned()),
            message: format!("The request body must not exceed {limit} bytes."),
            inner_error: Some(serde_json::json!({ "maximumValue": limit })),
        })
    }

    /// 401 `ACCESS_FAILED` / `INVALID_TOKEN` (the observed body).
    pub(crate) fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "ACCESS_FAILED",
            "You do not have access to this resource.",
        )
        .with_detail(ErrorDetail {
            code: "INVALID_TOKEN",
            target: Some("Authentication Credentials".to_owned()),
            message: INVALID_TOKEN_DETAIL.to_owned(),
            inner_error: None,
        })
    }

    /// 403 `ACCESS_FAILED` / `INSUFFICIENT_PERMISSIONS` with the generic detail.
    pub(crate) fn forbidden() -> Self {
        Self::forbidden_because(NOT_AUTHORIZED_DETAIL)
    }

    /// 403 `ACCESS_FAILED` / `INSUFFICIENT_PERMISSIONS` with a specific detail message.
    pub(crate) fn forbidden_because(detail: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "ACCESS_FAILED", FORBIDDEN_MESSAGE).with_detail(
            ErrorDetail {
                code: "INSUFFICIENT_PERMISSIONS",
                target: None,
                message: detail.to_owned(),
                inner_error: None,
            },
        )
    }

    /// A role assignment the caller could not have made, so may not remove (the Go SDK
    /// retries on this message while roles propagate). Status unverified.
    pub(crate) fn read_only_assignment(assignment_id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "REQUEST_FAILED",
            format!("Role assignment {assignment_id} cannot be deleted as it is read only"),
        )
    }

    /// 400 `REQUEST_FAILED`: a well-formed request the resource's state refuses (a role still
    /// assigned, a default population, a built-in role).
    pub(crate) fn request_failed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "REQUEST_FAILED", message)
    }

    /// 400 `INVALID_DATA` / `UNIQUENESS_VIOLATION` on `target`.
    pub(crate) fn not_unique(target: &str, message: impl Into<String>) -> Self {
        Self::invalid(ErrorDetail {
            code: "UNIQUENESS_VIOLATION",
            target: Some(target.to_owned()),
            message: message.into(),
            inner_error: None,
        })
    }

    /// 404 `NOT_FOUND`.
    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", NOT_FOUND_MESSAGE)
    }

    /// 405: the spec declares the status without a body schema; `INVALID_REQUEST` is the 4xx
    /// code closest in meaning (unverified).
    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "INVALID_REQUEST",
            "The request could not be completed. The HTTP method is not supported by this resource.",
        )
    }

    /// 415 `INVALID_REQUEST`.
    pub(crate) fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "INVALID_REQUEST",
            "The request could not be completed. The Content-Type must be application/json.",
        )
    }

    /// 429 `REQUEST_LIMITED` with `Retry-After`.
    pub(crate) fn rate_limited(retry_after_seconds: u64) -> Self {
        let retry_at = time::OffsetDateTime::now_utc()
            + time::Duration::seconds(i64::try_from(retry_after_seconds).unwrap_or(i64::MAX / 2));
        Self {
            retry_after: Some(retry_after_seconds),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "REQUEST_LIMITED",
                "The request could not be completed. The request rate limit has been exceeded.",
            )
            .with_detail(ErrorDetail {
                code: "LIMIT_EXCEEDED",
                target: None,
                message: "Too many requests. Retry after the delay in the Retry-After header."
                    .to_owned(),
                inner_error: Some(
                    serde_json::json!({ "retryAfter": super::clock::format_rfc3339(retry_at) }),
                ),
            })
        }
    }

    /// 500 `UNEXPECTED_ERROR`.
    pub(crate) fn unexpected() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNEXPECTED_ERROR",
            "An unexpected error occurred. Please try again.",
        )
    }

    /// An injected 500/502/503. The spec gives 502 and 503 no body schema; PingOne's gateway
    /// answers them with the generic error shape, and the SDKs retry on `UNEXPECTED_ERROR`
    /// whatever the status, so all three carry that code (unverified for 502/503).
    pub(crate) fn injected_fault(status: StatusCode) -> Self {
        let mut error = Self {
            status,
            ..Self::unexpected()
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            error.message = "The service is temporarily unavailable. Please try again.".to_owned();
            error.retry_after = Some(1);
        } else if status == StatusCode::BAD_GATEWAY {
            error.message =
                "The gateway received an invalid response. Please try again.".to_owned();
        }
        error
    }

    /// The error for a status some layer below answered without a PingOne body.
    pub(crate) fn for_bare_status(status: StatusCode) -> Self {
        match status {
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                Self::malformed("The request body is not valid JSON for this resource.")
            }
            StatusCode::UNAUTHORIZED => Self::invalid_token(),
            StatusCode::FORBIDDEN => Self::forbidden(),
            StatusCode::NOT_FOUND => Self::not_found(),
            StatusCode::METHOD_NOT_ALLOWED => Self::method_not_allowed(),
            StatusCode::PAYLOAD_TOO_LARGE => Self::body_too_large(BODY_LIMIT),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::unsupported_media_type(),
            StatusCode::TOO_MANY_REQUESTS => Self::rate_limited(1),
            _ if status.is_server_error() => Self {
                status,
                ..Self::unexpected()
            },
            _ => Self::new(
                status,
                "INVALID_REQUEST",
                "The request could not be completed.",
            ),
        }
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Value {
        let mut body = serde_json::json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "code": self.code,
            "message": self.message,
        });
        if !self.details.is_empty() {
            body["details"] = serde_json::to_value(&self.details).unwrap_or_default();
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// `CatchPanicLayer`'s handler: a panicking handler answers 500 `UNEXPECTED_ERROR`.
pub(crate) fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    ApiError::unexpected().into_response()
}

/// Whether an error response already carries a JSON body (ours or the OAuth one).
pub(crate) fn is_json(response: &axum::response::Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}
