//! HTTP face of the simulator: the router (behind the gatekeeper of `gatekeeper.rs`), the
//! handlers, the error type, and the lifecycle rules of the model.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::faults::FaultBook;
use super::gatekeeper;
use super::model::{
    Dataset, ItemStatus, Order, RefundMethod, RefundStatus, RefundTransaction, Resolution, Return,
    ReturnStatus, compose_remark,
};
use super::problem::{self, ErrorShape, FieldError};
use super::{InjectedFailure, RecordedRequest};

const MAX_LIMIT: usize = 100;
const DEFAULT_LIMIT: usize = 50;
const MAX_REMARK_CHARS: usize = 1000;
const MAX_EXTERNAL_REFERENCE_CHARS: usize = 200;

pub(crate) struct SimState {
    pub data: Dataset,
    pub requests: Vec<RecordedRequest>,
    pub failures: VecDeque<InjectedFailure>,
    pub faults: FaultBook,
    pub error_shape: ErrorShape,
    pub trace_counter: u64,
}

impl SimState {
    pub fn new(data: Dataset) -> Self {
        Self {
            data,
            requests: Vec::new(),
            failures: VecDeque::new(),
            faults: FaultBook::default(),
            error_shape: ErrorShape::default(),
            trace_counter: 0,
        }
    }

    /// Queues a failure; a count of zero would never fire, so it is dropped.
    pub fn queue_failure(&mut self, failure: InjectedFailure) {
        if failure.count > 0 {
            self.failures.push_back(failure);
        }
    }

    pub(crate) fn take_failure(&mut self) -> Option<InjectedFailure> {
        let front = self.failures.front_mut()?;
        front.count -= 1;
        let taken = front.clone();
        if front.count == 0 {
            self.failures.pop_front();
        }
        Some(taken)
    }
}

pub(crate) type Shared = Arc<Mutex<SimState>>;

/// A panicking handler must not take the simulator down with a poisoned lock.
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, SimState> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/merchant/order", get(list_orders))
        .route("/merchant/order/{id}", get(get_order))
        .route("/merchant/return", get(list_returns))
        .route("/merchant/return/{id}", get(get_return))
        .route(
            "/merchant/return/{id}/returned-items",
            post(report_returned_items_route),
        )
        .route("/merchant/refund-transaction", get(list_refunds))
        .route("/merchant/refund-transaction/{id}", get(get_refund))
        .route(
            "/merchant/refund-transaction/{id}/externally-refunded",
            post(mark_externally_refunded_route),
        )
        .route("/_sim/failures", post(queue_failure_route))
        .fallback(no_route)
        .method_not_allowed_fallback(no_route)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            gatekeeper::gatekeeper,
        ))
        .with_state(shared)
}

/// An error the API answers with: status, code, message and any errors per field, in the
/// simulator's error shape (`problem.rs`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", message)
    }

    fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNPROCESSABLE_ENTITY",
            message,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = problem::message_code_body(&self);
        let mut response = (self.status, Json(body)).into_response();
        // Kept for the gatekeeper, which may answer it in the other shape.
        response.extensions_mut().insert(self);
        response
    }
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {method} {}", uri.path()))
}

/// Untrusted text echoed in messages is cut short.
fn shorten(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    if text.chars().count() > MAX_CHARS {
        format!("{}...", text.chars().take(MAX_CHARS).collect::<String>())
    } else {
        text.to_string()
    }
}

fn path_id(path: Result<Path<String>, PathRejection>, what: &str) -> Result<u64, ApiError> {
    let Path(raw) = path.map_err(|_| ApiError::bad_request(format!("{what} id is not valid")))?;
    raw.parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!(
            "{what} id must be a positive integer, got '{}'",
            shorten(&raw)
        ))
    })
}

/// Decoded query parameters; the first occurrence of a name wins, unknown names are ignored.
struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    fn parse(raw: Option<&str>) -> Self {
        let pairs = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        Self(pairs)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn limit(&self) -> Result<usize, ApiError> {
        let Some(raw) = self.get("limit") else {
            return Ok(DEFAULT_LIMIT);
        };
        match raw.parse::<usize>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
            _ => Err(ApiError::bad_request(format!(
                "limit must be an integer from 1 to {MAX_LIMIT}, got '{}'",
                shorten(raw)
            ))),
        }
    }

    fn id(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name)
            .map(|raw| {
                raw.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "{name} must be a non-negative integer, got '{}'",
                        shorten(raw)
                    ))
                })
            })
            .transpose()
    }

    fn timestamp(&self, name: &str) -> Result<Option<OffsetDateTime>, ApiError> {
        self.get(name)
            .map(|raw| parse_timestamp(raw, name))
            .transpose()
    }

    /// A comma-separated list of values (M15); any of them matches. Absent: `None`.
    fn enum_values<T>(
        &self,
        name: &str,
        parse: fn(&str) -> Option<T>,
        accepted: fn() -> String,
    ) -> Result<Option<Vec<T>>, ApiError> {
        self.get(name)
            .map(|raw| {
                raw.split(',')
                    .map(|part| {
                        parse(part).ok_or_else(|| {
                            ApiError::bad_request(format!(
                                "{name} '{}' is not one of {}",
                                shorten(part),
                                accepted()
                            ))
                        })
                    })
                    .collect()
            })
            .transpose()
    }

    /// `query` (M15), lower-cased; matched as a substring, ignoring case.
    fn search(&self) -> Option<String> {
        self.get("query").map(str::to_lowercase)
    }

    fn common(&self) -> Result<ListWindow, ApiError> {
        let window = ListWindow {
            after_id: self.id("afterId")?.unwrap_or(0),
            limit: self.limit()?,
            created_from: self.timestamp("createdFrom")?,
            created_to: self.timestamp("createdTo")?,
        };
        if let (Some(from), Some(to)) = (window.created_from, window.created_to)
            && from > to
        {
            return Err(ApiError::bad_request(
                "createdFrom must not be later than createdTo",
            ));
        }
        Ok(window)
    }
}

fn parse_timestamp(raw: &str, name: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| {
        ApiError::bad_request(format!(
            "{name} must be an RFC 3339 timestamp such as 2026-03-04T10:15:00Z, got '{}'",
            shorten(raw)
        ))
    })
}

/// Keyset page and creation window shared by every list; both date bounds are inclusive.
struct ListWindow {
    after_id: u64,
    limit: usize,
    created_from: Option<OffsetDateTime>,
    created_to: Option<OffsetDateTime>,
}

impl ListWindow {
    fn admits(&self, created_at: OffsetDateTime) -> bool {
        self.created_from.is_none_or(|from| created_at >= from)
            && self.created_to.is_none_or(|to| created_at <= to)
    }

    /// Items with id > afterId, ascending, that pass `keep`, at most `limit`.
    fn page<T: Clone>(
        &self,
        items: &BTreeMap<u64, T>,
        created_at: impl Fn(&T) -> OffsetDateTime,
        keep: impl Fn(&T) -> bool,
    ) -> Vec<T> {
        items
            .range((Bound::Excluded(self.after_id), Bound::Unbounded))
            .map(|(_, item)| item)
            .filter(|item| self.admits(created_at(item)) && keep(item))
            .take(self.limit)
            .cloned()
            .collect()
    }
}

async fn list_orders(
    State(shared): State<Shared>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = QueryParams::parse(raw.as_deref());
    let window = params.common()?;
    let order_number = params.get("orderNumber");
    let search = params.search();
    let page = window.page(
        &lock(&shared).data.orders,
        |order| order.created_at,
        |order| {
            order_number.is_none_or(|wanted| order.order_number == wanted)
                && search
                    .as_deref()
                    .is_none_or(|text| matches_search(order, text))
        },
    );
    Ok(Json(page).into_response())
}

/// `query` (M15): a substring of the order number or of the customer's email, ignoring case;
/// `text` is already lower case.
fn matches_search(order: &Order, text: &str) -> bool {
    order.order_number.to_lowercase().contains(text)
        || order.customer.email.to_lowercase().contains(text)
}

async fn get_order(
    State(shared): State<Shared>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path, "order")?;
    let order = lock(&shared).data.orders.get(&id).cloned();
    let order = order.ok_or_else(|| ApiError::not_found(format!("order {id} not found")))?;
    Ok(Json(order).into_response())
}

async fn list_returns(
    State(shared): State<Shared>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = QueryParams::parse(raw.as_deref());
    let window = params.common()?;
    let status = params.enum_values("status", ReturnStatus::parse, ReturnStatus::accepted)?;
    let order_id = params.id("orderId")?;
    let updated_from = params.timestamp("updatedFrom")?;
    let updated_to = params.timestamp("updatedTo")?;
    if let (Some(from), Some(to)) = (updated_from, updated_to)
        && from > to
    {
        return Err(ApiError::bad_request(
            "updatedFrom must not be later than updatedTo",
        ));
    }
    let search = params.search();
    let state = lock(&shared);
    let orders = &state.data.orders;
    let page = window.page(
        &state.data.returns,
        |ret| ret.created_at,
        |ret| {
            status
                .as_ref()
                .is_none_or(|wanted| wanted.contains(&ret.status))
                && order_id.is_none_or(|wanted| ret.order_id == wanted)
                && updated_from.is_none_or(|from| ret.updated_at >= from)
                && updated_to.is_none_or(|to| ret.updated_at <= to)
                && search.as_deref().is_none_or(|text| {
                    ret.order_number.to_lowercase().contains(text)
                        || orders
                            .get(&ret.order_id)
                            .is_some_and(|order| matches_search(order, text))
                })
        },
    );
    drop(state);
    Ok(Json(page).into_response())
}

async fn get_return(
    State(shared): State<Shared>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path, "return")?;
    let ret = lock(&shared).data.returns.get(&id).cloned();
    let ret = ret.ok_or_else(|| return_not_found(id))?;
    Ok(Json(ret).into_response())
}

async fn list_refunds(
    State(shared): State<Shared>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = QueryParams::parse(raw.as_deref());
    let window = params.common()?;
    let status = params.enum_values("status", RefundStatus::parse, RefundStatus::accepted)?;
    let return_id = params.id("returnId")?;
    let order_id = params.id("orderId")?;
    let page = window.page(
        &lock(&shared).data.refunds,
        |refund| refund.created_at,
        |refund| {
            status
                .as_ref()
                .is_none_or(|wanted| wanted.contains(&refund.status))
                && return_id.is_none_or(|wanted| refund.return_id == wanted)
                && order_id.is_none_or(|wanted| refund.order_id == wanted)
        },
    );
    Ok(Json(page).into_response())
}

async fn get_refund(
    State(shared): State<Shared>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path, "refund transaction")?;
    let refund = lock(&shared).data.refunds.get(&id).cloned();
    let refund = refund.ok_or_else(|| refund_not_found(id))?;
    Ok(Json(refund).into_response())
}

fn return_not_found(id: u64) -> ApiError {
    ApiError::not_found(format!("return {id} not found"))
}

fn refund_not_found(id: u64) -> ApiError {
    ApiError::not_found(format!("refund transaction {id} not found"))
}

/// Parses a JSON body into `T`, naming what was wrong in a 400.
fn json_body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|error| ApiError::bad_request(format!("request body is not valid: {error}")))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReturnedItemsReport {
    pub items: Vec<ReportedItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReportedItem {
    pub return_item_id: u64,
    pub quantity: u32,
    pub approved: bool,
    #[serde(default)]
    pub remark: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExternallyRefundedBody {
    #[serde(default)]
    external_reference: Option<String>,
    #[serde(default)]
    refunded_at: Option<String>,
}

async fn report_returned_items_route(
    State(shared): State<Shared>,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = path_id(path, "return")?;
    let mut state = lock(&shared);
    if !state.data.returns.contains_key(&id) {
        return Err(return_not_found(id));
    }
    let report: ReturnedItemsReport = json_body(&body)?;
    let updated = report_returned_items(&mut state.data, id, &report, OffsetDateTime::now_utc())?;
    drop(state);
    Ok(Json(updated).into_response())
}

async fn mark_externally_refunded_route(
    State(shared): State<Shared>,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = path_id(path, "refund transaction")?;
    let mut state = lock(&shared);
    if !state.data.refunds.contains_key(&id) {
        return Err(refund_not_found(id));
    }
    // The body is optional: empty or `null` means "no reference, refunded now".
    let body: ExternallyRefundedBody = if body.iter().all(u8::is_ascii_whitespace) {
        ExternallyRefundedBody::default()
    } else {
        json_body::<Option<ExternallyRefundedBody>>(&body)?.unwrap_or_default()
    };
    let refunded_at = body
        .refunded_at
        .as_deref()
        .map(|raw| parse_timestamp(raw, "refundedAt"))
        .transpose()?;
    let updated = mark_externally_refunded(
        &mut state.data,
        id,
        body.external_reference,
        refunded_at,
        OffsetDateTime::now_utc(),
    )?;
    drop(state);
    Ok(Json(updated).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FailureRequest {
    status: u16,
    count: u32,
    #[serde(default)]
    retry_after_secs: Option<u32>,
}

async fn queue_failure_route(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: FailureRequest = json_body(&body)?;
    if !(200..=599).contains(&request.status) {
        return Err(ApiError::bad_request(format!(
            "status must be from 200 to 599, got {}",
            request.status
        )));
    }
    lock(&shared).queue_failure(InjectedFailure {
        status: request.status,
        count: request.count,
        retry_after_secs: request.retry_after_secs,
    });
    let echo = serde_json::json!({
        "status": request.status,
        "count": request.count,
        "retryAfterSecs": request.retry_after_secs,
    });
    Ok(Json(echo).into_response())
}

/// The simulator's clock never runs backwards relative to a record (the seed is dated in
/// 2026, the machine clock may be anywhere), and keeps whole seconds like the seed.
fn not_before(now: OffsetDateTime, earliest: OffsetDateTime) -> OffsetDateTime {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.max(earliest)
}

/// Applies a warehouse report to a return, following the model's lifecycle rules.
pub(crate) fn report_returned_items(
    data: &mut Dataset,
    return_id: u64,
    report: &ReturnedItemsReport,
    now: OffsetDateTime,
) -> Result<Return, ApiError> {
    let ret = data
        .returns
        .get(&return_id)
        .ok_or_else(|| return_not_found(return_id))?;
    let open = matches!(
        ret.status,
        ReturnStatus::AwaitingReturn | ReturnStatus::InTransit
    );
    let already_reported = ret
        .items
        .iter()
        .any(|item| item.status != ItemStatus::Pending);
    if !open || already_reported {
        return Err(ApiError::conflict(format!(
            "return {return_id} is {}; items can be reported once, while the return is \
             AWAITING_RETURN or IN_TRANSIT",
            ret.status
        )));
    }

    // Every bad item is named (one error each, in the order reported); the message is the
    // first, as when the first error ended the check.
    let mut seen = HashSet::new();
    let mut errors: Vec<FieldError> = report
        .items
        .iter()
        .enumerate()
        .filter_map(|(index, reported)| check_item(ret, index, reported, &mut seen))
        .collect();
    let missing: Vec<String> = ret
        .items
        .iter()
        .filter(|item| !seen.contains(&item.id))
        .map(|item| item.id.to_string())
        .collect();
    if !missing.is_empty() {
        errors.push(FieldError::new(
            "MISSING_ITEMS",
            format!(
                "every item of return {return_id} must be reported; missing return item(s) {}",
                missing.join(", ")
            ),
            "items".to_string(),
        ));
    }
    if let Some(first) = errors.first() {
        return Err(ApiError::unprocessable(first.detail.clone()).with_errors(errors));
    }

    let ret = data
        .returns
        .get_mut(&return_id)
        .ok_or_else(|| return_not_found(return_id))?;
    let now = not_before(now, ret.updated_at);
    let mut item_remarks = Vec::new();
    for item in &mut ret.items {
        let Some(reported) = report
            .items
            .iter()
            .find(|reported| reported.return_item_id == item.id)
        else {
            continue;
        };
        item.status = if reported.approved {
            ItemStatus::Approved
        } else {
            ItemStatus::Rejected
        };
        item.approved_quantity = if reported.approved {
            reported.quantity
        } else {
            0
        };
        if let Some(remark) = reported.remark.as_deref().map(str::trim)
            && !remark.is_empty()
        {
            item_remarks.push((item.id, reported.approved, remark.to_string()));
        }
    }
    let any_approved = ret
        .items
        .iter()
        .any(|item| item.status == ItemStatus::Approved);
    ret.remark = compose_remark(&item_remarks, !any_approved);
    ret.updated_at = now;
    ret.status = match (any_approved, ret.resolution) {
        (false, _) => ReturnStatus::Completed,
        (true, Resolution::Exchange) => ReturnStatus::AwaitingExchange,
        (true, Resolution::Refund) => ReturnStatus::AwaitingRefund,
    };
    if ret.status == ReturnStatus::Completed {
        ret.completed_at = Some(now);
    }
    let updated = ret.clone();

    if updated.status == ReturnStatus::AwaitingRefund {
        let id = data.next_refund_id;
        data.next_refund_id += 1;
        data.refunds.insert(
            id,
            RefundTransaction {
                id,
                return_id,
                order_id: updated.order_id,
                amount: updated.approved_refund_total(),
                currency_code: updated.currency_code,
                status: RefundStatus::Pending,
                method: RefundMethod::OriginalPayment,
                created_at: now,
                completed_at: None,
                external_reference: None,
            },
        );
    }
    Ok(updated)
}

/// What is wrong with the `index`-th reported item, if anything (M11, M14).
fn check_item(
    ret: &Return,
    index: usize,
    reported: &ReportedItem,
    seen: &mut HashSet<u64>,
) -> Option<FieldError> {
    let id = reported.return_item_id;
    let param = |field: &str| format!("items[{index}].{field}");
    let Some(item) = ret.items.iter().find(|item| item.id == id) else {
        let detail = format!("return item {id} is not an item of return {}", ret.id);
        return Some(FieldError::new(
            "UNKNOWN_ITEM",
            detail,
            param("returnItemId"),
        ));
    };
    if !seen.insert(id) {
        let detail = format!("return item {id} is reported more than once");
        return Some(FieldError::new(
            "DUPLICATE_ITEM",
            detail,
            param("returnItemId"),
        ));
    }
    if reported.quantity == 0 {
        let detail = format!("quantity for return item {id} must be at least 1");
        return Some(FieldError::new(
            "QUANTITY_TOO_LOW",
            detail,
            param("quantity"),
        ));
    }
    if reported.quantity > item.quantity {
        let detail = format!(
            "quantity {} for return item {id} exceeds its returned quantity {}",
            reported.quantity, item.quantity
        );
        return Some(FieldError::new(
            "QUANTITY_TOO_HIGH",
            detail,
            param("quantity"),
        ));
    }
    if let Some(remark) = &reported.remark
        && remark.chars().count() > MAX_REMARK_CHARS
    {
        let detail =
            format!("remark for return item {id} is longer than {MAX_REMARK_CHARS} characters");
        return Some(FieldError::new("TOO_LONG", detail, param("remark")));
    }
    None
}

/// Confirms a PENDING refund as paid outside Ingrid; completes the return when it has no
/// PENDING refund left.
pub(crate) fn mark_externally_refunded(
    data: &mut Dataset,
    refund_id: u64,
    external_reference: Option<String>,
    refunded_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<RefundTransaction, ApiError> {
    let external_reference = external_reference
        .map(|reference| reference.trim().to_string())
        .filter(|reference| !reference.is_empty());
    if let Some(reference) = &external_reference
        && reference.chars().count() > MAX_EXTERNAL_REFERENCE_CHARS
    {
        let detail =
            format!("externalReference is longer than {MAX_EXTERNAL_REFERENCE_CHARS} characters");
        let field = FieldError::new("TOO_LONG", detail.clone(), "externalReference".to_string());
        return Err(ApiError::unprocessable(detail).with_errors(vec![field]));
    }
    let refund = data
        .refunds
        .get_mut(&refund_id)
        .ok_or_else(|| refund_not_found(refund_id))?;
    if refund.status != RefundStatus::Pending {
        return Err(ApiError::conflict(format!(
            "refund transaction {refund_id} is {}; only a PENDING refund can be marked \
             externally refunded",
            refund.status
        )));
    }
    let now = not_before(now, refund.created_at);
    refund.status = RefundStatus::ExternallyRefunded;
    refund.completed_at = Some(refunded_at.unwrap_or(now));
    refund.external_reference = external_reference;
    let updated = refund.clone();

    let still_pending = data
        .refunds
        .values()
        .any(|other| other.return_id == updated.return_id && other.status == RefundStatus::Pending);
    if !still_pending && let Some(ret) = data.returns.get_mut(&updated.return_id) {
        ret.status = ReturnStatus::Completed;
        ret.updated_at = not_before(now, ret.updated_at);
        ret.completed_at = Some(ret.updated_at);
    }
    Ok(updated)
}
