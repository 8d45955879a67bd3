//! The gatekeeper: the middleware in front of every route (and the fallback). It counts and
//! records each request, stamps `X-Trace-Id`, applies faults and queued failures, caps the
//! body, checks the key on `/merchant/*`, counts applied writes and answers errors in the
//! simulator's shape; the handlers in `routes.rs` only do the API.

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::conn::ConnControl;
use super::faults::{self, FaultKind, Route};
use super::problem;
use super::routes::{ApiError, Shared, lock};
use super::{PRODUCTION_KEY, RecordedRequest};

/// Request bodies above this are refused with 413 (the API's bodies are small).
const MAX_BODY_BYTES: usize = 64 * 1024;
const TRACE_ID: HeaderName = HeaderName::from_static("x-trace-id");

fn is_merchant_path(path: &str) -> bool {
    path == "/merchant" || path.starts_with("/merchant/")
}

/// Runs before every route (and the fallback): counts and records the request, stamps
/// `X-Trace-Id`, applies faults and injected failures, caps the body, checks the key on
/// `/merchant/*`, counts applied writes and answers errors in the simulator's shape.
pub(crate) async fn gatekeeper(
    State(shared): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let route =
        Route::classify(&parts.method, &path).map(|(route, id)| (route, id.map(str::to_string)));
    let conn = parts
        .extensions
        .get::<ConnectInfo<ConnControl>>()
        .map(|ConnectInfo(conn)| conn.clone());
    let api_key = parts
        .headers
        .get("x-api-key")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let merchant = is_merchant_path(&path);
    let record = |body: &[u8]| RecordedRequest {
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_string),
        api_key: api_key.clone(),
        body: body.to_vec(),
        status: 0,
    };

    let (trace_id, shape, fault) = {
        let mut state = lock(&shared);
        state.trace_counter += 1;
        let fault = route
            .as_ref()
            .and_then(|(route, _)| state.faults.arrive(*route));
        (
            format!("sim-{:06}", state.trace_counter),
            state.error_shape,
            fault,
        )
    };
    if fault == Some(FaultKind::ResetBeforeRead) {
        // Recorded with status 0: no answer was sent.
        lock(&shared).requests.push(record(&[]));
        return faults::reset(conn.as_ref());
    }

    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await;
    let (index, injected) = {
        let mut state = lock(&shared);
        state.requests.push(record(
            body.as_ref().map(|bytes| &bytes[..]).unwrap_or_default(),
        ));
        let instead = fault
            .as_ref()
            .is_some_and(|fault| faults::answer_instead(fault).is_some());
        let injected = if merchant && !instead {
            state.take_failure()
        } else {
            None
        };
        (state.requests.len() - 1, injected)
    };

    let mut response = match (
        fault.as_ref().and_then(faults::answer_instead),
        injected,
        body,
    ) {
        (Some(answer), _, _) => answer,
        (None, Some(failure), _) => faults::status_response(&failure),
        (None, None, Err(_)) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("request body could not be read or is larger than {MAX_BODY_BYTES} bytes"),
        )
        .into_response(),
        // Every wrong key gets the same answer: the real API does not say which kind it saw.
        (None, None, Ok(_)) if merchant && api_key.as_deref() != Some(PRODUCTION_KEY) => {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "missing or invalid API key in the x-api-key header",
            )
            .into_response()
        }
        (None, None, Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    };

    if let Some((route, Some(id))) = &route
        && route.is_write()
        && response.status().is_success()
        && let Ok(id) = id.parse::<u64>()
    {
        lock(&shared).faults.applied(*route, id);
    }
    response = problem::reshape(response, shape, &trace_id, &path);
    // A proxy's page carries no trace id of the API's.
    if fault != Some(FaultKind::ProxyHtml)
        && let Ok(value) = HeaderValue::from_str(&trace_id)
    {
        response.headers_mut().insert(TRACE_ID, value);
    }
    let (response, answered) = faults::around(fault.as_ref(), response, conn.as_ref()).await;
    if answered && let Some(recorded) = lock(&shared).requests.get_mut(index) {
        recorded.status = response.status().as_u16();
    }
    response
}
