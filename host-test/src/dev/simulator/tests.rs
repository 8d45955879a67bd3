//! Seed checks run directly; API checks start the real server on 127.0.0.1:0 and talk to it
//! with a small blocking HTTP client on a blocking thread.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::macros::datetime;

use super::model::{ItemStatus, RefundStatus, Resolution, ReturnStatus};
use super::routes::{
    ReportedItem, ReturnedItemsReport, mark_externally_refunded, report_returned_items,
};
use super::*;

pub(super) fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

// ---------- seed ----------

#[test]
fn seed_is_deterministic_and_has_the_promised_spread() {
    let data = seed::seed();
    assert_eq!(data, seed::seed(), "two seeds must be equal");

    assert!(data.orders.len() >= 500);
    assert_eq!(data.returns.len(), 150);
    let currencies: BTreeSet<_> = data
        .orders
        .values()
        .map(|o| o.currency_code.as_str())
        .collect();
    assert_eq!(currencies, BTreeSet::from(["EUR", "GBP", "SEK"]));

    for status in ReturnStatus::ALL {
        let in_status: Vec<_> = data
            .returns
            .values()
            .filter(|r| r.status == *status)
            .collect();
        assert!(in_status.len() >= 15, "{status}: {}", in_status.len());
        let resolutions: BTreeSet<_> = in_status.iter().map(|r| r.resolution.as_str()).collect();
        let expected = match status {
            ReturnStatus::AwaitingRefund => BTreeSet::from(["REFUND"]),
            ReturnStatus::AwaitingExchange => BTreeSet::from(["EXCHANGE"]),
            _ => BTreeSet::from(["EXCHANGE", "REFUND"]),
        };
        assert_eq!(resolutions, expected, "{status}");
    }

    let distinct_orders: BTreeSet<_> = data.returns.values().map(|r| r.order_id).collect();
    assert_eq!(distinct_orders.len(), data.returns.len());
    for ret in data.returns.values() {
        let order = &data.orders[&ret.order_id];
        assert!(ret.created_at > order.created_at, "return {}", ret.id);
        assert!(ret.updated_at >= ret.created_at, "return {}", ret.id);
        assert_eq!(ret.currency_code, order.currency_code);
        assert!((2..=4).contains(&ret.items.len()), "return {}", ret.id);
        let uninspected = matches!(
            ret.status,
            ReturnStatus::AwaitingReturn | ReturnStatus::InTransit
        );
        assert_eq!(
            ret.tracking_number.is_none(),
            ret.status == ReturnStatus::AwaitingReturn
        );
        for item in &ret.items {
            let line = order.line_items.iter().find(|l| l.id == item.line_item_id);
            let line = line.expect("return item tied to a line item of its order");
            assert!(item.quantity >= 1 && item.quantity <= line.quantity);
            assert_eq!(item.unit_refund_amount, line.unit_price);
            assert_eq!(
                item.status == ItemStatus::Pending,
                uninspected,
                "item {}",
                item.id
            );
        }
        if ret
            .items
            .iter()
            .any(|item| item.status == ItemStatus::Rejected)
        {
            assert!(
                ret.remark.is_some(),
                "rejected items leave a remark on {}",
                ret.id
            );
        }
    }

    for ret in data
        .returns
        .values()
        .filter(|r| r.status == ReturnStatus::AwaitingRefund)
    {
        let pending: Vec<_> = data
            .refunds
            .values()
            .filter(|f| f.return_id == ret.id && f.status == RefundStatus::Pending)
            .collect();
        assert_eq!(pending.len(), 1, "return {}", ret.id);
        assert_eq!(pending[0].amount, ret.approved_refund_total());
    }
    for refund in data.refunds.values() {
        let ret = &data.returns[&refund.return_id];
        assert_eq!(ret.resolution, Resolution::Refund);
        if refund.status == RefundStatus::ExternallyRefunded {
            assert!(refund.external_reference.is_some());
        }
    }
    let failed = data
        .refunds
        .values()
        .filter(|f| f.status == RefundStatus::Failed)
        .count();
    assert!(failed >= 3);

    let injected: Vec<_> = data
        .returns
        .values()
        .filter(|r| {
            r.items.iter().any(|i| {
                i.comment
                    .as_deref()
                    .is_some_and(|c| seed::INJECTION_COMMENTS.contains(&c))
            })
        })
        .collect();
    assert!(injected.len() >= 5);
    let in_flight = injected
        .iter()
        .filter(|r| {
            matches!(
                r.status,
                ReturnStatus::AwaitingReturn | ReturnStatus::InTransit
            )
        })
        .count();
    assert!(in_flight >= 2);
}

#[test]
fn the_bulk_seed_extends_the_standard_one_deterministically() {
    let bulk = seed::bulk_seed(10_000);
    assert_eq!(bulk, seed::bulk_seed(10_000));
    assert_eq!(bulk.returns.len(), 10_000);
    let ids: Vec<u64> = bulk.returns.keys().copied().collect();
    assert_eq!((ids[0], ids[9_999]), (50_001, 60_000));
    let items: BTreeSet<u64> = bulk
        .returns
        .values()
        .flat_map(|r| r.items.iter().map(|item| item.id))
        .collect();
    let item_count: usize = bulk.returns.values().map(|r| r.items.len()).sum();
    assert_eq!(items.len(), item_count, "item ids are unique");
    let standard = seed::seed();
    assert_eq!(bulk.orders, standard.orders);
    assert_eq!(bulk.refunds, standard.refunds);
    assert_eq!(seed::bulk_seed(10), standard);
}

/// Pins the facts the module doc promises, so a seed change has to update the doc too.
#[test]
fn seed_matches_documented_facts() {
    let data = seed::seed();
    let ids = |keys: Vec<u64>| (keys.first().copied(), keys.last().copied());
    assert_eq!(
        ids(data.orders.keys().copied().collect()),
        (Some(10_001), Some(10_520))
    );
    assert_eq!(
        ids(data.returns.keys().copied().collect()),
        (Some(50_001), Some(50_150))
    );
    assert_eq!(
        ids(data.refunds.keys().copied().collect()),
        (Some(90_001), Some(90_060))
    );
    assert_eq!(data.next_refund_id, 90_061);
    assert_eq!(data.orders[&10_001].order_number, "DM-200001");
    assert_eq!(data.orders[&10_520].order_number, "DM-200520");
    assert!(data.orders.values().all(|o| {
        o.created_at >= datetime!(2026-01-05 00:00 UTC)
            && o.created_at <= datetime!(2026-11-20 23:59 UTC)
    }));

    let mut per_status = BTreeMap::new();
    for ret in data.returns.values() {
        *per_status.entry(ret.status.as_str()).or_insert(0) += 1;
    }
    let expected = [
        ("AWAITING_EXCHANGE", 20),
        ("AWAITING_REFUND", 25),
        ("AWAITING_RETURN", 30),
        ("COMPLETED", 45),
        ("IN_TRANSIT", 30),
    ];
    assert_eq!(per_status, BTreeMap::from(expected));

    let mut per_resolution = BTreeMap::new();
    for ret in data.returns.values() {
        *per_resolution
            .entry((ret.status.as_str(), ret.resolution.as_str()))
            .or_insert(0) += 1;
    }
    let expected = [
        (("AWAITING_EXCHANGE", "EXCHANGE"), 20),
        (("AWAITING_REFUND", "REFUND"), 25),
        (("AWAITING_RETURN", "EXCHANGE"), 8),
        (("AWAITING_RETURN", "REFUND"), 22),
        (("COMPLETED", "EXCHANGE"), 11),
        (("COMPLETED", "REFUND"), 34),
        (("IN_TRANSIT", "EXCHANGE"), 8),
        (("IN_TRANSIT", "REFUND"), 22),
    ];
    assert_eq!(per_resolution, BTreeMap::from(expected));
    let all_rejected = data
        .returns
        .values()
        .filter(|r| r.items.iter().all(|i| i.status == ItemStatus::Rejected))
        .count();
    assert_eq!(all_rejected, 5);

    let mut per_currency = BTreeMap::new();
    for order in data.orders.values() {
        *per_currency
            .entry(order.currency_code.as_str())
            .or_insert(0) += 1;
    }
    assert_eq!(
        per_currency,
        BTreeMap::from([("EUR", 161), ("GBP", 110), ("SEK", 249)])
    );

    let mut per_refund_status = BTreeMap::new();
    for refund in data.refunds.values() {
        *per_refund_status.entry(refund.status.as_str()).or_insert(0) += 1;
    }
    let expected = [
        ("EXTERNALLY_REFUNDED", 10),
        ("FAILED", 5),
        ("PENDING", 25),
        ("REFUNDED", 20),
    ];
    assert_eq!(per_refund_status, BTreeMap::from(expected));

    let line_ids: Vec<u64> = data
        .orders
        .values()
        .flat_map(|o| o.line_items.iter().map(|l| l.id))
        .collect();
    assert_eq!(ids(line_ids), (Some(30_001), Some(31_490)));
    let item_ids: Vec<u64> = data
        .returns
        .values()
        .flat_map(|r| r.items.iter().map(|i| i.id))
        .collect();
    assert_eq!(ids(item_ids), (Some(70_001), Some(70_372)));

    let comment_of_first_item = |id: u64| data.returns[&id].items[0].comment.clone();
    let planted = [
        (ReturnStatus::AwaitingReturn, 0, 0),
        (ReturnStatus::InTransit, 0, 1),
        (ReturnStatus::InTransit, 1, 2),
        (ReturnStatus::AwaitingReturn, 1, 3),
        (ReturnStatus::AwaitingRefund, 0, 4),
        (ReturnStatus::Completed, 0, 5),
    ];
    let documented_ids = [50_107, 50_075, 50_081, 50_117, 50_043, 50_001];
    for ((status, nth, comment), documented_id) in planted.into_iter().zip(documented_ids) {
        let ret = data
            .returns
            .values()
            .filter(|r| r.status == status)
            .nth(nth);
        let ret = ret.expect("return with that status");
        assert_eq!(ret.id, documented_id);
        assert_eq!(
            comment_of_first_item(ret.id).as_deref(),
            Some(seed::INJECTION_COMMENTS[comment])
        );
    }
}

// ---------- lifecycle rules, without HTTP ----------

fn first_return(
    data: &model::Dataset,
    status: ReturnStatus,
    resolution: Resolution,
) -> model::Return {
    data.returns
        .values()
        .find(|r| r.status == status && r.resolution == resolution)
        .cloned()
        .expect("seeded return")
}

fn report(ret: &model::Return, verdict: impl Fn(usize) -> (bool, u32)) -> ReturnedItemsReport {
    ReturnedItemsReport {
        items: ret
            .items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let (approved, quantity) = verdict(index);
                ReportedItem {
                    return_item_id: item.id,
                    quantity: quantity.min(item.quantity),
                    approved,
                    remark: (!approved).then(|| "Tags removed".to_string()),
                }
            })
            .collect(),
    }
}

#[test]
fn all_rejected_completes_the_return_with_a_remark_and_no_refund() {
    let mut data = seed::seed();
    let ret = first_return(&data, ReturnStatus::AwaitingReturn, Resolution::Refund);
    let refunds_before = data.refunds.len();
    let now = datetime!(2026-11-27 12:00 UTC);
    let updated = report_returned_items(&mut data, ret.id, &report(&ret, |_| (false, 1)), now)
        .expect("report accepted");
    assert_eq!(updated.status, ReturnStatus::Completed);
    let remark = updated.remark.expect("remark");
    assert!(remark.starts_with("All items rejected"), "{remark}");
    assert!(
        updated
            .items
            .iter()
            .all(|i| i.status == ItemStatus::Rejected)
    );
    assert_eq!(data.refunds.len(), refunds_before);
}

#[test]
fn exchange_goes_to_awaiting_exchange_without_a_refund() {
    let mut data = seed::seed();
    let ret = first_return(&data, ReturnStatus::InTransit, Resolution::Exchange);
    let refunds_before = data.refunds.len();
    let now = datetime!(2026-11-27 12:00 UTC);
    let updated = report_returned_items(&mut data, ret.id, &report(&ret, |_| (true, 99)), now)
        .expect("report accepted");
    assert_eq!(updated.status, ReturnStatus::AwaitingExchange);
    assert_eq!(data.refunds.len(), refunds_before);
}

#[test]
fn partial_approval_refunds_only_approved_quantities() {
    let mut data = seed::seed();
    let ret = first_return(&data, ReturnStatus::AwaitingReturn, Resolution::Refund);
    // First item approved for one unit, the rest rejected.
    let verdicts = report(&ret, |index| (index == 0, 1));
    let now = datetime!(2026-11-27 12:00 UTC);
    report_returned_items(&mut data, ret.id, &verdicts, now).expect("report accepted");
    let refund = data
        .refunds
        .values()
        .last()
        .cloned()
        .expect("refund created");
    assert_eq!(refund.return_id, ret.id);
    assert_eq!(refund.status, RefundStatus::Pending);
    assert_eq!(refund.amount, ret.items[0].unit_refund_amount);
    assert_eq!(refund.created_at, now);

    // Duplicate and missing items are refused on a fresh return.
    let other = data
        .returns
        .values()
        .find(|r| r.status == ReturnStatus::AwaitingReturn && r.id != ret.id)
        .cloned()
        .expect("another open return");
    let mut duplicated = report(&other, |_| (true, 1));
    duplicated.items[1].return_item_id = duplicated.items[0].return_item_id;
    let error = report_returned_items(&mut data, other.id, &duplicated, now).expect_err("dup");
    assert_eq!(error.status.as_u16(), 422);
    let mut partial = report(&other, |_| (true, 1));
    let left_out = partial.items.pop().expect("an item").return_item_id;
    let error = report_returned_items(&mut data, other.id, &partial, now).expect_err("missing");
    assert_eq!(error.status.as_u16(), 422);
    assert!(
        error.message.contains(&left_out.to_string()),
        "{}",
        error.message
    );

    // Marking the refund: completedAt defaults to now, the return completes.
    let marked = mark_externally_refunded(&mut data, refund.id, None, None, now).expect("marked");
    assert_eq!(marked.completed_at, Some(now));
    assert_eq!(data.returns[&ret.id].status, ReturnStatus::Completed);
}

// ---------- over HTTP ----------

pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Reply {
    pub(super) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub(super) fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub(super) struct Client {
    pub(super) agent: ureq::Agent,
    pub(super) base: String,
}

impl Client {
    pub(super) fn new(base: String) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .build()
            .into();
        Self { agent, base }
    }

    pub(super) fn finish(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut response = response.expect("HTTP exchange with the simulator");
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        Reply {
            status: response.status().as_u16(),
            headers,
            body: response.body_mut().read_to_vec().expect("body"),
        }
    }

    pub(super) fn get_with(&self, path: &str, key: Option<&str>) -> Reply {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        Self::finish(request.call())
    }

    pub(super) fn get(&self, path: &str) -> Reply {
        self.get_with(path, Some(PRODUCTION_KEY))
    }

    pub(super) fn post(&self, path: &str, body: &str) -> Reply {
        let request = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("x-api-key", PRODUCTION_KEY)
            .header("content-type", "application/json");
        Self::finish(request.send(body))
    }
}

/// Runs blocking client code against a fresh simulator and shuts it down afterwards.
async fn with_simulator<T: Send + 'static>(
    body: impl FnOnce(Client) -> T + Send + 'static,
) -> (T, Vec<RecordedRequest>) {
    let simulator = start(loopback()).await.expect("simulator starts");
    let client = Client::new(simulator.base_url());
    let result = tokio::task::spawn_blocking(move || body(client))
        .await
        .expect("client thread");
    let requests = simulator.requests();
    simulator.shutdown().await;
    (result, requests)
}

fn ids(list: &Value) -> Vec<u64> {
    list.as_array()
        .expect("JSON array")
        .iter()
        .filter_map(|item| item["id"].as_u64())
        .collect()
}

#[tokio::test]
async fn only_the_production_key_is_accepted() {
    let (bodies, requests) = with_simulator(|client| {
        let mut bodies = Vec::new();
        for key in [None, Some(STAGE_KEY), Some(MERCHANT_PLATFORM_KEY), Some("")] {
            let reply = client.get_with("/merchant/return?limit=1", key);
            assert_eq!(reply.status, 401, "{key:?}");
            assert_eq!(reply.json()["code"], "UNAUTHORIZED");
            assert!(
                reply
                    .header("x-trace-id")
                    .is_some_and(|t| t.starts_with("sim-"))
            );
            bodies.push(reply.body);
        }
        let ok = client.get("/merchant/return?limit=1");
        assert_eq!(ok.status, 200, "{}", ok.text());
        assert_eq!(ids(&ok.json()), vec![50_001]);
        let missing = client.get("/merchant/nothing-here");
        assert_eq!(missing.status, 404);
        assert_eq!(missing.json()["code"], "NOT_FOUND");
        let wrong_method = client.post("/merchant/order", "{}");
        assert_eq!(wrong_method.status, 404);
        bodies
    })
    .await;
    // The wrong kind of key is not revealed.
    assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]));
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![401, 401, 401, 401, 200, 404, 404]);
    assert_eq!(requests[1].api_key.as_deref(), Some(STAGE_KEY));
    assert_eq!(requests[4].query.as_deref(), Some("limit=1"));
}

#[tokio::test]
async fn lists_page_by_after_id_and_validate_parameters() {
    with_simulator(|client| {
        let first = client.get("/merchant/order?limit=3").json();
        assert_eq!(ids(&first), vec![10_001, 10_002, 10_003]);
        let next = client.get("/merchant/order?limit=3&afterId=10003").json();
        assert_eq!(ids(&next), vec![10_004, 10_005, 10_006]);
        let default_page = client.get("/merchant/order").json();
        assert_eq!(ids(&default_page).len(), 50);
        let last = client.get("/merchant/order?afterId=10500&limit=100").json();
        assert_eq!(ids(&last).len(), 20, "a short page is the last");

        let by_number = client.get("/merchant/order?orderNumber=DM-200007&unknown=1").json();
        assert_eq!(ids(&by_number), vec![10_007]);
        let in_transit = client.get("/merchant/return?status=IN_TRANSIT&limit=100").json();
        assert_eq!(ids(&in_transit).len(), 30);
        let rows = in_transit.as_array().expect("array");
        assert!(rows.iter().all(|r| r["status"] == "IN_TRANSIT"));
        let window = client
            .get("/merchant/order?createdFrom=2026-03-01T00:00:00Z&createdTo=2026-03-31T23:59:59Z&limit=100")
            .json();
        let rows = window.as_array().expect("array");
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|o| o["createdAt"].as_str().is_some_and(|t| t.starts_with("2026-03-"))));
        let pending = client.get("/merchant/refund-transaction?status=PENDING&limit=100").json();
        assert_eq!(ids(&pending).len(), 25);

        for (path, parameter) in [
            ("/merchant/order?limit=0", "limit"),
            ("/merchant/order?limit=101", "limit"),
            ("/merchant/order?limit=ten", "limit"),
            ("/merchant/order?afterId=-1", "afterId"),
            ("/merchant/return?createdFrom=yesterday", "createdFrom"),
            ("/merchant/return?status=LOST", "status"),
            ("/merchant/refund-transaction?returnId=x", "returnId"),
        ] {
            let reply = client.get(path);
            assert_eq!(reply.status, 400, "{path}");
            assert!(reply.message().contains(parameter), "{path}: {}", reply.message());
        }

        let bad_id = client.get("/merchant/return/abc");
        assert_eq!(bad_id.status, 400);
        let unknown = client.get("/merchant/return/123");
        assert_eq!(unknown.status, 404);
        assert_eq!(unknown.message(), "return 123 not found");
        let unknown_refund = client.get("/merchant/refund-transaction/1");
        assert_eq!(unknown_refund.message(), "refund transaction 1 not found");
        assert_eq!(client.get("/merchant/order/10001").json()["orderNumber"], "DM-200001");
    })
    .await;
}

#[test]
fn the_seed_has_what_the_analysis_filters_need() {
    let data = seed::seed();
    let completed: Vec<_> = data
        .returns
        .values()
        .filter(|r| r.completed_at.is_some())
        .collect();
    assert_eq!(completed.len(), 45);
    assert!(completed.iter().all(|r| r.status == ReturnStatus::Completed
        && r.completed_at.is_some_and(|at| at > r.created_at)));
    for (_, _, email, return_ids) in seed::REPEAT_CUSTOMERS {
        let with_email: Vec<u64> = data
            .returns
            .values()
            .filter(|r| data.orders[&r.order_id].customer.email == email)
            .map(|r| r.id)
            .collect();
        assert_eq!(with_email, return_ids, "{email}");
    }
    let mut returns_per_sku: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for ret in data.returns.values() {
        for item in &ret.items {
            returns_per_sku
                .entry(item.sku.as_str())
                .or_default()
                .insert(ret.id);
        }
    }
    assert!(
        returns_per_sku
            .values()
            .filter(|ids| ids.len() >= 3)
            .count()
            >= 5
    );
    let months: BTreeSet<_> = data
        .returns
        .values()
        .map(|r| r.updated_at.month())
        .collect();
    assert!(months.len() >= 10, "{months:?}");
}

#[tokio::test]
async fn lists_filter_by_several_statuses_query_and_update_time() {
    with_simulator(|client| {
        let two = client
            .get("/merchant/return?status=IN_TRANSIT,AWAITING_REFUND&limit=100")
            .json();
        assert_eq!(ids(&two).len(), 55);
        let anna = client.get("/merchant/return?query=ANNA.Lindqvist@").json();
        assert_eq!(ids(&anna), vec![50_003, 50_033, 50_063, 50_093]);
        let by_number = client.get("/merchant/return?query=dm-2000").json();
        let rows = by_number.as_array().expect("array");
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|r| r["orderNumber"].as_str().is_some_and(|n| n.starts_with("DM-2000"))));
        // The four orders of the planted returns, and one the seed drew for him without a return.
        let orders = client.get("/merchant/order?query=lars.nilsen@example.com").json();
        assert_eq!(ids(&orders).len(), 5);
        let updated = client
            .get("/merchant/return?updatedFrom=2026-06-01T00:00:00Z&updatedTo=2026-06-30T23:59:59Z&limit=100")
            .json();
        let rows = updated.as_array().expect("array");
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|r| r["updatedAt"].as_str().is_some_and(|t| t.starts_with("2026-06-"))));
        let refunds = client
            .get("/merchant/refund-transaction?status=PENDING,FAILED&limit=100")
            .json();
        assert_eq!(ids(&refunds).len(), 30);
        for (path, parameter) in [
            ("/merchant/return?status=IN_TRANSIT,LOST", "status"),
            ("/merchant/return?updatedTo=soon", "updatedTo"),
            ("/merchant/refund-transaction?status=PENDING,", "status"),
        ] {
            let reply = client.get(path);
            assert_eq!(reply.status, 400, "{path}");
            assert!(reply.message().contains(parameter), "{path}: {}", reply.message());
        }
    })
    .await;
}

/// Every money value must be a JSON number with exactly two decimals.
fn assert_money_has_two_decimals(body: &str, field: &str) -> usize {
    let key = format!("\"{field}\":");
    let mut seen = 0;
    for (position, _) in body.match_indices(&key) {
        let number: String = body[position + key.len()..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let (whole, decimals) = number.split_once('.').unwrap_or((&number, ""));
        assert!(
            !whole.is_empty() && decimals.len() == 2,
            "{field}: {number}"
        );
        seen += 1;
    }
    seen
}

#[tokio::test]
async fn money_is_serialised_with_two_decimals() {
    with_simulator(|client| {
        let orders = client.get("/merchant/order?limit=100").text();
        assert!(assert_money_has_two_decimals(&orders, "unitPrice") >= 100);
        assert_eq!(assert_money_has_two_decimals(&orders, "totalAmount"), 100);
        let returns = client.get("/merchant/return?limit=20").text();
        assert!(assert_money_has_two_decimals(&returns, "unitRefundAmount") >= 40);
        let refunds = client.get("/merchant/refund-transaction?limit=100").text();
        assert_eq!(assert_money_has_two_decimals(&refunds, "amount"), 60);
        // Round prices keep their zeros ("499.00", not "499").
        assert!(orders.contains(".00,") || orders.contains(".00}"));
        assert!(orders.contains("\"createdAt\":\"2026-01-05T"));
    })
    .await;
}

fn decimal(value: &Value) -> Decimal {
    Decimal::from_str(&value.to_string()).expect("decimal")
}

#[tokio::test]
async fn full_refund_lifecycle_over_http() {
    let ((return_id, refund_id, report_body), requests) = with_simulator(|client| {
        let in_transit = client
            .get("/merchant/return?status=IN_TRANSIT&limit=100")
            .json();
        let ret = in_transit
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["resolution"] == "REFUND"))
            .cloned()
            .expect("an IN_TRANSIT REFUND return");
        let return_id = ret["id"].as_u64().expect("id");
        let items = ret["items"].as_array().expect("items");
        // Approve everything except the last item, which is rejected with a remark.
        let mut expected = Decimal::ZERO;
        let reported: Vec<Value> = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let approved = index + 1 < items.len();
                let quantity = item["quantity"].as_u64().expect("quantity");
                if approved {
                    expected += decimal(&item["unitRefundAmount"]) * Decimal::from(quantity);
                }
                json!({
                    "returnItemId": item["id"],
                    "quantity": quantity,
                    "approved": approved,
                    "remark": if approved { Value::Null } else { json!("Signs of wear") },
                })
            })
            .collect();
        let report_body = json!({ "items": reported }).to_string();
        let path = format!("/merchant/return/{return_id}/returned-items");

        let reported = client.post(&path, &report_body);
        assert_eq!(reported.status, 200, "{}", reported.text());
        let updated = reported.json();
        assert_eq!(updated["status"], "AWAITING_REFUND");
        assert_eq!(updated["items"][0]["status"], "APPROVED");
        assert_eq!(updated["items"][items.len() - 1]["status"], "REJECTED");
        assert!(
            updated["remark"]
                .as_str()
                .is_some_and(|r| r.contains("Signs of wear"))
        );

        let pending = client
            .get(&format!(
                "/merchant/refund-transaction?returnId={return_id}&status=PENDING"
            ))
            .json();
        let pending = pending.as_array().expect("array");
        assert_eq!(pending.len(), 1);
        let refund = &pending[0];
        assert_eq!(decimal(&refund["amount"]), expected);
        assert_eq!(refund["amount"].to_string(), format!("{:.2}", expected));
        assert_eq!(refund["currencyCode"], ret["currencyCode"]);
        let refund_id = refund["id"].as_u64().expect("id");
        assert_eq!(refund_id, 90_061);

        let again = client.post(&path, &report_body);
        assert_eq!(again.status, 409);
        assert!(
            again.message().contains("AWAITING_REFUND"),
            "{}",
            again.message()
        );

        let mark_path = format!("/merchant/refund-transaction/{refund_id}/externally-refunded");
        let mark_body = r#"{"externalReference":"ERP-TEST-1","refundedAt":"2026-11-27T10:00:00Z"}"#;
        let marked = client.post(&mark_path, mark_body);
        assert_eq!(marked.status, 200, "{}", marked.text());
        let marked = marked.json();
        assert_eq!(marked["status"], "EXTERNALLY_REFUNDED");
        assert_eq!(marked["externalReference"], "ERP-TEST-1");
        assert_eq!(marked["completedAt"], "2026-11-27T10:00:00Z");
        assert_eq!(
            client.get(&format!("/merchant/return/{return_id}")).json()["status"],
            "COMPLETED"
        );

        let twice = client.post(&mark_path, "");
        assert_eq!(twice.status, 409);
        assert!(
            twice.message().contains("EXTERNALLY_REFUNDED"),
            "{}",
            twice.message()
        );
        (return_id, refund_id, report_body)
    })
    .await;
    let posted = requests
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/returned-items"))
        .expect("recorded report");
    assert_eq!(posted.body, report_body.as_bytes());
    assert_eq!(
        posted.path,
        format!("/merchant/return/{return_id}/returned-items")
    );
    assert!(
        requests
            .iter()
            .any(|r| r.path.contains(&refund_id.to_string()) && r.status == 409)
    );
}

#[tokio::test]
async fn invalid_reports_are_refused_without_changing_the_return() {
    with_simulator(|client| {
        let open = client
            .get("/merchant/return?status=AWAITING_RETURN&limit=1")
            .json();
        let ret = open[0].clone();
        let return_id = ret["id"].as_u64().expect("id");
        let path = format!("/merchant/return/{return_id}/returned-items");
        let all_items = |quantity_of_first: u64, first_id: Value| {
            let items: Vec<Value> = ret["items"]
                .as_array()
                .expect("items")
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    let (id, quantity) = if index == 0 {
                        (first_id.clone(), quantity_of_first)
                    } else {
                        (item["id"].clone(), 1)
                    };
                    json!({ "returnItemId": id, "quantity": quantity, "approved": true })
                })
                .collect();
            json!({ "items": items }).to_string()
        };
        let first_id = ret["items"][0]["id"].clone();
        let first_quantity = ret["items"][0]["quantity"].as_u64().expect("quantity");

        let unknown = client.post(&path, &all_items(1, json!(424_242)));
        assert_eq!(unknown.status, 422);
        assert!(
            unknown.message().contains("424242"),
            "{}",
            unknown.message()
        );

        let too_many = client.post(&path, &all_items(first_quantity + 1, first_id.clone()));
        assert_eq!(too_many.status, 422);
        assert!(
            too_many.message().contains(&first_id.to_string()),
            "{}",
            too_many.message()
        );
        assert!(too_many.message().contains("quantity"));

        let malformed = client.post(&path, "{\"items\": [");
        assert_eq!(malformed.status, 400);
        assert_eq!(malformed.json()["code"], "BAD_REQUEST");
        let wrong_type = client.post(&path, r#"{"items":[{"returnItemId":"one"}]}"#);
        assert_eq!(wrong_type.status, 400);
        assert_eq!(
            client
                .post("/merchant/return/99999/returned-items", "{}")
                .status,
            404
        );
        let bad_date = client.post(
            "/merchant/refund-transaction/90001/externally-refunded",
            r#"{"refundedAt":"soon"}"#,
        );
        assert_eq!(bad_date.status, 400);
        assert!(bad_date.message().contains("refundedAt"));

        assert_eq!(
            client.get(&format!("/merchant/return/{return_id}")).json(),
            ret
        );
    })
    .await;
}

#[tokio::test]
async fn injected_failures_answer_first_and_then_stop() {
    let simulator = start(loopback()).await.expect("simulator starts");
    simulator.inject_failures(InjectedFailure {
        status: 429,
        count: 2,
        retry_after_secs: Some(7),
    });
    let client = Client::new(simulator.base_url());
    tokio::task::spawn_blocking(move || {
        for _ in 0..2 {
            let limited = client.get("/merchant/order?limit=1");
            assert_eq!(limited.status, 429);
            assert_eq!(limited.header("retry-after"), Some("7"));
            assert!(limited.header("x-trace-id").is_some());
            assert!(!limited.message().is_empty());
        }
        assert_eq!(client.get("/merchant/order?limit=1").status, 200);

        // The same through the control endpoint (no key needed there).
        let queued = client
            .agent
            .post(format!("{}/_sim/failures", client.base))
            .send(r#"{"status":503,"count":1}"#);
        assert_eq!(Client::finish(queued).status, 200);
        assert_eq!(client.get("/merchant/order?limit=1").status, 503);
        assert_eq!(client.get("/merchant/order?limit=1").status, 200);
        let refused = client.post("/_sim/failures", r#"{"status":42,"count":1}"#);
        assert_eq!(refused.status, 400);
    })
    .await
    .expect("client thread");
    simulator.shutdown().await;
}

#[tokio::test]
async fn refuses_a_non_loopback_address() {
    for addr in ["0.0.0.0:0", "192.0.2.10:8080", "[::]:0"] {
        let addr: SocketAddr = addr.parse().expect("address");
        assert!(start(addr).await.is_err(), "{addr}");
    }
}
