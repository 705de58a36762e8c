//! Reading a JSON request body the way PingOne answers for it: 415 for another media type, 400
//! for what is not a JSON object.

use super::errors::{ApiError, ApiResult};
use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};

fn is_json_media_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|media_type| media_type.trim().to_ascii_lowercase())
        .is_some_and(|media_type| {
            media_type == "application/json"
                || (media_type.starts_with("application/") && media_type.ends_with("+json"))
        })
}

/// The body as a JSON object.
pub(crate) fn json_object(headers: &HeaderMap, body: &Bytes) -> ApiResult<Map<String, Value>> {
    if !is_json_media_type(headers) {
        return Err(ApiError::unsupported_media_type());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::malformed(
            "The request body must be a JSON object.",
        )),
        Err(error) => Err(ApiError::malformed(format!(
            "The request body is not valid JSON: {error}"
        ))),
    }
}

/// The body as a JSON object, or `None` when there is no body at all.
pub(crate) fn optional_json_object(
    headers: &HeaderMap,
    body: &Bytes,
) -> ApiResult<Option<Map<String, Value>>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(None)
    } else {
        json_object(headers, body).map(Some)
    }
}
