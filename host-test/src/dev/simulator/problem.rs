//! The two shapes an error can be answered in.
//!
//! Handlers only build an `ApiError`; its response carries the error itself as an extension,
//! and the gatekeeper re-renders it here when the simulator is set to problem details, so no
//! handler knows which shape is on.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::routes::ApiError;

/// How the simulator answers errors. Either way the trace id is also in `X-Trace-Id`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorShape {
    /// The modelled shape (M5): `{"message", "code"}` as `application/json`.
    #[default]
    MessageCode,
    /// RFC 9457 problem details as `application/problem+json`: `type`, `title`, `status`,
    /// `detail`, `errors[{code, detail, param}]` (only when there are field errors),
    /// `trace_id`, and `instance` (the request's path).
    ProblemDetails,
}

/// One problem with one part of a request, e.g. `items[0].quantity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub code: &'static str,
    pub detail: String,
    pub param: String,
}

impl FieldError {
    pub(crate) fn new(code: &'static str, detail: impl Into<String>, param: String) -> Self {
        Self {
            code,
            detail: detail.into(),
            param,
        }
    }
}

/// `{"message","code"}` (M5). Field errors have no place in it: a report's 422 says only its
/// first problem, as the model's API does.
pub(crate) fn message_code_body(error: &ApiError) -> Value {
    json!({ "message": error.message, "code": error.code })
}

/// Answers an `ApiError` response in `shape`; any other response is left as it is. Status and
/// headers (`Retry-After` among them) are kept.
pub(crate) fn reshape(
    response: Response,
    shape: ErrorShape,
    trace_id: &str,
    instance: &str,
) -> Response {
    if shape == ErrorShape::MessageCode {
        return response;
    }
    let Some(error) = response.extensions().get::<ApiError>().cloned() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    let body = problem_body(&error, trace_id, instance);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body.to_string()))
}

fn problem_body(error: &ApiError, trace_id: &str, instance: &str) -> Value {
    let mut body = Map::new();
    // A relative reference per code: stable, and points nowhere a client would fetch.
    let kind = error.code.to_ascii_lowercase().replace('_', "-");
    body.insert("type".into(), json!(format!("/problems/{kind}")));
    let title = error.status.canonical_reason().unwrap_or("Error");
    body.insert("title".into(), json!(title));
    body.insert("status".into(), json!(error.status.as_u16()));
    body.insert("detail".into(), json!(error.message));
    if !error.errors.is_empty() {
        let errors: Vec<Value> = error
            .errors
            .iter()
            .map(
                |field| json!({ "code": field.code, "detail": field.detail, "param": field.param }),
            )
            .collect();
        body.insert("errors".into(), Value::Array(errors));
    }
    body.insert("trace_id".into(), json!(trace_id));
    body.insert("instance".into(), json!(instance));
    Value::Object(body)
}
