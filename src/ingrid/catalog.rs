//! The endpoint catalog: the single place that names Ingrid's paths, query parameters, headers
//! and the fields this plugin expects.
//!
//! Known from Ingrid's public documentation: the `x-api-key` header, the host
//! `https://api.turnr.se`, paths under `/merchant/`, `GET /merchant/return` with an `afterId`
//! parameter, and the return lifecycle (docs/ARCHITECTURE.md, K1, K4-K6). Everything else here
//! is MODELLED (docs/ARCHITECTURE.md, M1-M16): correcting it against Ingrid's full reference is
//! a change to this file, the models and the simulator.

use crate::prelude::*;

use crate::api::Method;

/// Documented production host (`turnr.se` is the legacy domain of the same service; K4).
pub const DEFAULT_BASE_URL: &str = "https://api.turnr.se";
/// The setting that overrides the base URL (the operator's choice; the host's egress grant
/// follows it; M1).
pub const BASE_URL_SETTING: &str = "base-url";
/// The credential slot for the Returns API key; the host injects it as [`API_KEY_HEADER`].
pub const CREDENTIAL_SLOT: &str = "ingrid-api-key";
/// Known: every request carries the key in this header (K1).
pub const API_KEY_HEADER: &str = "x-api-key";
/// Modelled: Ingrid's trace id on responses (M5); an RFC 9457 body may carry it instead, as
/// `trace_id` or `instance` (see `error::ErrorBody`).
pub const TRACE_ID_HEADER: &str = "x-trace-id";
/// Modelled: the wait after a 429, in seconds or as an HTTP date (M5).
pub const RETRY_AFTER_HEADER: &str = "retry-after";

/// Modelled page size bounds of list endpoints (M2).
pub const LIST_LIMIT_DEFAULT: u32 = 50;
pub const LIST_LIMIT_MAX: u32 = 100;

/// Query parameter names. `afterId` is known (K5); the filters are modelled (M3, M15).
pub mod query {
    pub const AFTER_ID: &str = "afterId";
    pub const LIMIT: &str = "limit";
    pub const STATUS: &str = "status";
    pub const ORDER_ID: &str = "orderId";
    pub const ORDER_NUMBER: &str = "orderNumber";
    pub const RETURN_ID: &str = "returnId";
    pub const CREATED_FROM: &str = "createdFrom";
    pub const CREATED_TO: &str = "createdTo";
    /// Modelled (M15): returns by last update, RFC 3339, both inclusive.
    pub const UPDATED_FROM: &str = "updatedFrom";
    pub const UPDATED_TO: &str = "updatedTo";
    /// Modelled (M15): on returns and orders, a case-insensitive substring of the order number
    /// or of the order's customer email.
    pub const QUERY: &str = "query";
}

/// Modelled (M15): `status` takes several values, comma-separated, matching any of them.
pub const STATUS_SEPARATOR: &str = ",";

/// Return statuses of the known lifecycle (K6).
pub mod return_status {
    pub const AWAITING_RETURN: &str = "AWAITING_RETURN";
    pub const IN_TRANSIT: &str = "IN_TRANSIT";
    pub const AWAITING_REFUND: &str = "AWAITING_REFUND";
    pub const AWAITING_EXCHANGE: &str = "AWAITING_EXCHANGE";
    pub const COMPLETED: &str = "COMPLETED";
}
pub const RETURN_STATUSES: [&str; 5] = [
    return_status::AWAITING_RETURN,
    return_status::IN_TRANSIT,
    return_status::AWAITING_REFUND,
    return_status::AWAITING_EXCHANGE,
    return_status::COMPLETED,
];
/// Modelled (M11): the statuses in which items may be reported. Public material describes the
/// inspection step of the lifecycle (K6) but does not state which statuses allow a report.
pub const REPORTABLE_RETURN_STATUSES: [&str; 2] =
    [return_status::AWAITING_RETURN, return_status::IN_TRANSIT];

/// Modelled (M7): the `resolution` field and its values. Public material describes returns
/// ending in a refund or an exchange (K6) but names no such field.
pub mod resolution {
    pub const REFUND: &str = "REFUND";
    pub const EXCHANGE: &str = "EXCHANGE";
}

/// Modelled statuses of a return item (M11).
pub mod item_status {
    pub const PENDING: &str = "PENDING";
    pub const APPROVED: &str = "APPROVED";
    pub const REJECTED: &str = "REJECTED";
}

/// Modelled refund transaction statuses (M8).
pub mod refund_status {
    pub const PENDING: &str = "PENDING";
    pub const REFUNDED: &str = "REFUNDED";
    pub const EXTERNALLY_REFUNDED: &str = "EXTERNALLY_REFUNDED";
    pub const FAILED: &str = "FAILED";
}
pub const REFUND_STATUSES: [&str; 4] = [
    refund_status::PENDING,
    refund_status::REFUNDED,
    refund_status::EXTERNALLY_REFUNDED,
    refund_status::FAILED,
];

/// Modelled length caps of the write bodies' free text (M14).
pub const RETURN_ITEM_REMARK_MAX_CHARS: usize = 1000;
pub const EXTERNAL_REFERENCE_MAX_CHARS: usize = 200;

/// Fields the plugin reads from each resource (M6-M8; the live probe reports any that are
/// missing).
pub const ORDER_FIELDS: &[&str] = &[
    "id",
    "orderNumber",
    "createdAt",
    "currencyCode",
    "customer",
    "lineItems",
    "totalAmount",
];
pub const RETURN_FIELDS: &[&str] = &[
    "id",
    "orderId",
    "orderNumber",
    "status",
    "resolution",
    "createdAt",
    "updatedAt",
    "currencyCode",
    "items",
];
pub const REFUND_TRANSACTION_FIELDS: &[&str] = &[
    "id",
    "returnId",
    "orderId",
    "amount",
    "currencyCode",
    "status",
    "createdAt",
];

/// Every request this plugin can make (paths: K5, M6-M10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ListOrders,
    GetOrder(u64),
    ListReturns,
    GetReturn(u64),
    ListRefundTransactions,
    GetRefundTransaction(u64),
    ReportReturnedItems(u64),
    MarkExternallyRefunded(u64),
}

impl Endpoint {
    pub fn method(self) -> Method {
        match self {
            Endpoint::ReportReturnedItems(_) | Endpoint::MarkExternallyRefunded(_) => Method::Post,
            _ => Method::Get,
        }
    }

    pub fn path(self) -> String {
        match self {
            Endpoint::ListOrders => "/merchant/order".to_string(),
            Endpoint::GetOrder(id) => format!("/merchant/order/{id}"),
            Endpoint::ListReturns => "/merchant/return".to_string(),
            Endpoint::GetReturn(id) => format!("/merchant/return/{id}"),
            Endpoint::ListRefundTransactions => "/merchant/refund-transaction".to_string(),
            Endpoint::GetRefundTransaction(id) => format!("/merchant/refund-transaction/{id}"),
            Endpoint::ReportReturnedItems(id) => format!("/merchant/return/{id}/returned-items"),
            Endpoint::MarkExternallyRefunded(id) => {
                format!("/merchant/refund-transaction/{id}/externally-refunded")
            }
        }
    }

    /// The path with placeholders, for diagnostics and logs (never carries ids).
    pub fn template(self) -> &'static str {
        match self {
            Endpoint::ListOrders => "GET /merchant/order",
            Endpoint::GetOrder(_) => "GET /merchant/order/{id}",
            Endpoint::ListReturns => "GET /merchant/return",
            Endpoint::GetReturn(_) => "GET /merchant/return/{id}",
            Endpoint::ListRefundTransactions => "GET /merchant/refund-transaction",
            Endpoint::GetRefundTransaction(_) => "GET /merchant/refund-transaction/{id}",
            Endpoint::ReportReturnedItems(_) => "POST /merchant/return/{id}/returned-items",
            Endpoint::MarkExternallyRefunded(_) => {
                "POST /merchant/refund-transaction/{id}/externally-refunded"
            }
        }
    }

    /// The full URL string for `base` (no trailing slash needed) and query pairs, encoded as
    /// `application/x-www-form-urlencoded` in the given order.
    pub fn url(self, base: &str, query: &[(&str, String)]) -> String {
        let mut url = format!("{}{}", base.trim_end_matches('/'), self.path());
        if !query.is_empty() {
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter().map(|(key, value)| (*key, value.as_str())))
                .finish();
            url.push('?');
            url.push_str(&encoded);
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_built_from_base_path_and_encoded_query() {
        let url = Endpoint::ListReturns.url(
            "https://api.turnr.se/",
            &[
                (query::CREATED_FROM, "2026-01-01T00:00:00+01:00".to_string()),
                (query::LIMIT, "10".to_string()),
            ],
        );
        assert_eq!(
            url,
            "https://api.turnr.se/merchant/return?createdFrom=2026-01-01T00%3A00%3A00%2B01%3A00&limit=10"
        );
        assert_eq!(
            Endpoint::GetReturn(7).url("http://127.0.0.1:9", &[]),
            "http://127.0.0.1:9/merchant/return/7"
        );
    }

    #[test]
    fn only_the_two_write_endpoints_are_writes() {
        let writes: Vec<_> = [
            Endpoint::ListOrders,
            Endpoint::GetOrder(1),
            Endpoint::ListReturns,
            Endpoint::GetReturn(1),
            Endpoint::ListRefundTransactions,
            Endpoint::GetRefundTransaction(1),
            Endpoint::ReportReturnedItems(1),
            Endpoint::MarkExternallyRefunded(1),
        ]
        .into_iter()
        .filter(|endpoint| endpoint.method().is_write())
        .collect();
        assert_eq!(
            writes,
            [
                Endpoint::ReportReturnedItems(1),
                Endpoint::MarkExternallyRefunded(1)
            ]
        );
    }
}
