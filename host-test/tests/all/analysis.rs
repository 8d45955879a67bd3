//! The analysis filters and `summarize_returns` end to end: the component in the host against
//! the simulator over loopback. Every expected figure is computed here, independently, from the
//! simulator's own data (`SimulatorHandle::snapshot`), never by the plugin's code. Windows in
//! days count back from the host's real clock: the tests read the bound the plugin sent and
//! check it against the clock around the call, then compute the expectation with that bound.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use host_test::policy::confirm::NoHuman;
use host_test::session::{Session, ToolCall};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::shared;

async fn session() -> Session {
    crate::support::ingrid_session(shared().0).await
}

async fn call(session: &Session, tool: &str, arguments: &str) -> ToolCall {
    session
        .call(tool, arguments, &NoHuman)
        .await
        .unwrap_or_else(|e| panic!("{tool} {arguments}: {e}"))
        .0
}

/// The structured output and text of a successful call.
async fn call_ok(session: &Session, tool: &str, arguments: &str) -> (Value, String) {
    match call(session, tool, arguments).await {
        ToolCall::Result(result) if !result.is_error => (
            serde_json::from_str(result.structured.as_deref().unwrap_or("null"))
                .unwrap_or_else(|e| panic!("structured output is not JSON: {e}")),
            result.text,
        ),
        other => panic!("{tool} {arguments}: {other:?}"),
    }
}

fn snapshot(session: &Session) -> Value {
    session
        .simulator()
        .unwrap_or_else(|| panic!("embedded simulator"))
        .snapshot()
}

fn rows<'a>(data: &'a Value, what: &str) -> Vec<&'a Value> {
    data[what]
        .as_array()
        .map(|rows| rows.iter().collect())
        .unwrap_or_default()
}

fn at(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().unwrap_or_default(), &Rfc3339)
        .unwrap_or_else(|e| panic!("{value}: {e}"))
}

fn decimal(value: &Value) -> Decimal {
    Decimal::from_str(&value.to_string()).unwrap_or_else(|e| panic!("{value}: {e}"))
}

fn ids(list: &Value, field: &str) -> Vec<u64> {
    list[field]
        .as_array()
        .map(|rows| rows.iter().filter_map(|row| row["id"].as_u64()).collect())
        .unwrap_or_default()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default()
}

/// The value of `name` in the query of the last request the simulator received.
fn last_query_value(session: &Session, name: &str) -> Option<String> {
    let requests = session.simulator()?.requests();
    let query = requests.last()?.query.clone()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn money(amount: Decimal) -> String {
    let mut amount = amount;
    amount.rescale(2);
    amount.to_string()
}

/// What `summarize_returns` should say of `returns` and the seed's `refunds`, but coverage.
fn expected_summary(returns: &[&Value], refunds: &[&Value]) -> Value {
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_resolution: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_item_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut value: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut skus: BTreeMap<String, (u64, BTreeSet<u64>)> = BTreeMap::new();
    let mut durations: Vec<i64> = Vec::new();
    for ret in returns {
        let text = |field: &str| ret[field].as_str().unwrap_or_default().to_string();
        *by_status.entry(text("status")).or_default() += 1;
        *by_resolution.entry(text("resolution")).or_default() += 1;
        for item in ret["items"].as_array().into_iter().flatten() {
            let units = item["quantity"].as_u64().unwrap_or_default();
            let field = |name: &str| item[name].as_str().unwrap_or_default().to_string();
            *by_reason.entry(field("reason")).or_default() += units;
            *by_item_status.entry(field("status")).or_default() += units;
            *value.entry(text("currencyCode")).or_default() +=
                decimal(&item["unitRefundAmount"]) * Decimal::from(units);
            let sku = skus.entry(field("sku")).or_default();
            sku.0 += units;
            sku.1.insert(ret["id"].as_u64().unwrap_or_default());
        }
        if !ret["completedAt"].is_null() {
            durations.push((at(&ret["completedAt"]) - at(&ret["createdAt"])).whole_seconds());
        }
    }
    let mut top: Vec<(String, u64, usize)> = skus
        .into_iter()
        .map(|(sku, (units, returns))| (sku, units, returns.len()))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(10);

    let ids: BTreeSet<u64> = returns.iter().filter_map(|r| r["id"].as_u64()).collect();
    let mut refund_counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut refund_totals: BTreeMap<String, BTreeMap<String, Decimal>> = BTreeMap::new();
    let mut refund_count = 0;
    for refund in refunds
        .iter()
        .filter(|refund| ids.contains(&refund["returnId"].as_u64().unwrap_or_default()))
    {
        let status = refund["status"].as_str().unwrap_or_default().to_string();
        let currency = refund["currencyCode"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        refund_count += 1;
        *refund_counts.entry(status.clone()).or_default() += 1;
        *refund_totals
            .entry(status)
            .or_default()
            .entry(currency)
            .or_default() += decimal(&refund["amount"]);
    }

    durations.sort_unstable();
    let nearest_rank = |percent: usize| {
        let rank = (percent * durations.len()).div_ceil(100).max(1);
        durations[rank - 1]
    };
    let days = |seconds: i64| {
        let tenths = (seconds * 10 + 43_200) / 86_400;
        format!("{}.{}", tenths / 10, tenths % 10)
    };
    let days_to_complete = if durations.is_empty() {
        Value::Null
    } else {
        json!({
            "completed": durations.len(),
            "medianDays": days(nearest_rank(50)),
            "p90Days": days(nearest_rank(90)),
        })
    };
    json!({
        "returns": returns.len(),
        "countsByStatus": by_status,
        "countsByResolution": by_resolution,
        "unitsByReason": by_reason,
        "topSkus": top.iter().map(|(sku, units, returns)| json!({"sku": sku, "units": units, "returns": returns})).collect::<Vec<_>>(),
        "returnedValueByCurrency": value.into_iter().map(|(c, v)| (c, money(v))).collect::<BTreeMap<_, _>>(),
        "itemUnitsByStatus": by_item_status,
        "refundTransactions": {
            "count": refund_count,
            "countsByStatus": refund_counts,
            "totalsByStatus": refund_totals.into_iter().map(|(status, totals)| {
                (status, totals.into_iter().map(|(c, v)| (c, money(v))).collect::<BTreeMap<_, _>>())
            }).collect::<BTreeMap<_, _>>(),
        },
        "daysToComplete": days_to_complete,
    })
}

fn without_coverage(mut output: Value) -> Value {
    if let Some(object) = output.as_object_mut() {
        object.remove("coverage");
    }
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summarize_returns_matches_the_seed_and_calls_add_up() {
    let session = session().await;
    let data = snapshot(&session);
    let returns = rows(&data, "returns");
    let refunds = rows(&data, "refundTransactions");
    let from =
        OffsetDateTime::parse("2026-04-01T00:00:00Z", &Rfc3339).unwrap_or_else(|e| panic!("{e}"));
    let to =
        OffsetDateTime::parse("2026-10-31T23:59:59Z", &Rfc3339).unwrap_or_else(|e| panic!("{e}"));
    let statuses = ["COMPLETED", "AWAITING_REFUND", "AWAITING_EXCHANGE"];
    let window: Vec<&Value> = returns
        .iter()
        .copied()
        .filter(|r| (from..=to).contains(&at(&r["createdAt"])))
        .filter(|r| statuses.contains(&r["status"].as_str().unwrap_or_default()))
        .collect();
    let expected = expected_summary(&window, &refunds);
    // The window mixes currencies, reasons, refund statuses and completed returns.
    assert!(
        expected["returnedValueByCurrency"]
            .as_object()
            .is_some_and(|m| m.len() == 3)
    );
    assert!(
        expected["refundTransactions"]["countsByStatus"]
            .as_object()
            .is_some_and(|m| m.len() >= 3)
    );
    assert!(
        expected["daysToComplete"]["completed"]
            .as_u64()
            .is_some_and(|n| n >= 10)
    );

    let arguments = r#"{"status":["COMPLETED","AWAITING_REFUND","AWAITING_EXCHANGE"],
        "createdFrom":"2026-04-01T00:00:00Z","createdTo":"2026-10-31T23:59:59Z"}"#;
    let (output, text) = call_ok(&session, "summarize_returns", arguments).await;
    assert_eq!(without_coverage(output.clone()), expected, "{text}");
    assert_eq!(output["coverage"]["complete"], true);
    assert_eq!(output["coverage"]["returnsRead"], window.len());
    assert!(text.contains("read, all that match."), "{text}");
    assert!(text.contains("never summed across currencies"), "{text}");

    // In parts of 10 returns: the cursor continues, and counts and sums add up to the whole.
    let mut cursor: Option<String> = None;
    let mut calls = 0;
    let mut returns_total = 0;
    let mut status_total: BTreeMap<String, u64> = BTreeMap::new();
    let mut sek_total = Decimal::ZERO;
    loop {
        let arguments = match &cursor {
            None => r#"{"createdFrom":"2026-04-01T00:00:00Z","createdTo":"2026-10-31T23:59:59Z","status":["COMPLETED","AWAITING_REFUND","AWAITING_EXCHANGE"],"maxItems":10}"#.to_string(),
            Some(cursor) => format!(
                r#"{{"createdFrom":"2026-04-01T00:00:00Z","createdTo":"2026-10-31T23:59:59Z","status":["COMPLETED","AWAITING_REFUND","AWAITING_EXCHANGE"],"maxItems":10,"cursor":"{cursor}"}}"#
            ),
        };
        let (part, text) = call_ok(&session, "summarize_returns", &arguments).await;
        calls += 1;
        returns_total += part["returns"].as_u64().unwrap_or_default();
        for (status, count) in part["countsByStatus"].as_object().into_iter().flatten() {
            *status_total.entry(status.clone()).or_default() += count.as_u64().unwrap_or_default();
        }
        if let Some(sek) = part["returnedValueByCurrency"].get("SEK") {
            sek_total += Decimal::from_str(sek.as_str().unwrap_or("0")).unwrap_or_default();
        }
        if part["coverage"]["complete"] == true {
            break;
        }
        assert!(text.contains("NOT all that match"), "{text}");
        cursor = part["coverage"]["nextCursor"].as_str().map(str::to_string);
        assert!(cursor.is_some() && calls < 100, "{part}");
    }
    assert!(calls > 1);
    assert_eq!(returns_total, window.len() as u64);
    assert_eq!(json!(status_total), expected["countsByStatus"]);
    assert_eq!(money(sek_total), expected["returnedValueByCurrency"]["SEK"]);

    // An empty window.
    let (empty, text) = call_ok(
        &session,
        "summarize_returns",
        r#"{"createdFrom":"2030-01-01T00:00:00Z"}"#,
    )
    .await;
    assert_eq!(empty["returns"], 0);
    assert_eq!(empty["coverage"]["complete"], true);
    assert_eq!(empty["daysToComplete"], Value::Null);
    assert!(
        text.starts_with("0 returns matching createdFrom=2030-01-01T00:00:00Z read"),
        "{text}"
    );
    session.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_in_days_count_back_from_the_host_clock() {
    let session = session().await;
    let data = snapshot(&session);
    let returns = rows(&data, "returns");
    // Days back to about 2026-08-01, whenever this runs.
    let august =
        OffsetDateTime::parse("2026-08-01T00:00:00Z", &Rfc3339).unwrap_or_else(|e| panic!("{e}"));
    let days = ((unix_now() - august.unix_timestamp()) / 86_400 + 1).clamp(1, 3650);

    let before = unix_now();
    let arguments = format!(
        r#"{{"updatedWithinDays":{days},"status":["COMPLETED","AWAITING_REFUND"],"maxItems":1000}}"#
    );
    let (listed, text) = call_ok(&session, "list_returns", &arguments).await;
    let after = unix_now();
    let sent =
        last_query_value(&session, "updatedFrom").unwrap_or_else(|| panic!("updatedFrom sent"));
    let sent = OffsetDateTime::parse(&sent, &Rfc3339).unwrap_or_else(|e| panic!("{e}"));
    let span = (before - days * 86_400)..=(after - days * 86_400);
    assert!(
        span.contains(&sent.unix_timestamp()),
        "{sent} not in {span:?}"
    );
    let expected: Vec<u64> = returns
        .iter()
        .filter(|r| at(&r["updatedAt"]) >= sent)
        .filter(|r| matches!(r["status"].as_str(), Some("COMPLETED" | "AWAITING_REFUND")))
        .filter_map(|r| r["id"].as_u64())
        .collect();
    assert_eq!(ids(&listed, "returns"), expected, "{text}");

    let before = unix_now();
    let arguments = format!(r#"{{"createdWithinDays":{days}}}"#);
    let (summary, _) = call_ok(&session, "summarize_returns", &arguments).await;
    let after = unix_now();
    let sent = last_query_value(&session, "createdFrom").unwrap_or_default();
    let returns_query = session
        .simulator()
        .and_then(|simulator| {
            simulator
                .requests()
                .into_iter()
                .rev()
                .find(|request| request.path == "/merchant/return")
        })
        .and_then(|request| request.query)
        .unwrap_or_default();
    let sent_returns_from = url::form_urlencoded::parse(returns_query.as_bytes())
        .find(|(key, _)| key == "createdFrom")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let from = OffsetDateTime::parse(&sent_returns_from, &Rfc3339)
        .unwrap_or_else(|e| panic!("{sent_returns_from}: {e}"));
    assert!(((before - days * 86_400)..=(after - days * 86_400)).contains(&from.unix_timestamp()));
    let window: Vec<&Value> = returns
        .iter()
        .copied()
        .filter(|r| at(&r["createdAt"]) >= from)
        .collect();
    assert!(!sent.is_empty());
    assert_eq!(
        without_coverage(summary),
        expected_summary(&window, &rows(&data, "refundTransactions"))
    );
    session.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_status_lists_and_sorting_match_the_seed() {
    let session = session().await;
    let data = snapshot(&session);
    let returns = rows(&data, "returns");
    let orders = rows(&data, "orders");
    let email_of: BTreeMap<u64, String> = orders
        .iter()
        .filter_map(|o| {
            Some((
                o["id"].as_u64()?,
                o["customer"]["email"].as_str()?.to_lowercase(),
            ))
        })
        .collect();

    for query in ["ANNA.Lindqvist@example.COM", "dm-20012", "nilsen"] {
        let needle = query.to_lowercase();
        let expected: Vec<u64> = returns
            .iter()
            .filter(|r| {
                r["orderNumber"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains(&needle)
                    || r["orderId"]
                        .as_u64()
                        .and_then(|id| email_of.get(&id))
                        .is_some_and(|e| e.contains(&needle))
            })
            .filter_map(|r| r["id"].as_u64())
            .collect();
        assert!(!expected.is_empty(), "{query}");
        let (listed, _) = call_ok(
            &session,
            "list_returns",
            &format!(r#"{{"query":"{query}","maxItems":1000}}"#),
        )
        .await;
        assert_eq!(ids(&listed, "returns"), expected, "{query}");
    }
    let (anna, _) = call_ok(
        &session,
        "list_returns",
        r#"{"query":"anna.lindqvist@example.com"}"#,
    )
    .await;
    assert_eq!(ids(&anna, "returns"), [50_003, 50_033, 50_063, 50_093]);
    let expected_orders: Vec<u64> = orders
        .iter()
        .filter(|o| {
            o["customer"]["email"]
                .as_str()
                .is_some_and(|e| e.contains("lars.nilsen@"))
        })
        .filter_map(|o| o["id"].as_u64())
        .collect();
    let (listed, _) = call_ok(
        &session,
        "list_orders",
        r#"{"query":"Lars.Nilsen@","maxItems":1000}"#,
    )
    .await;
    assert_eq!(ids(&listed, "orders"), expected_orders);

    let refunds = rows(&data, "refundTransactions");
    let expected: Vec<u64> = refunds
        .iter()
        .filter(|r| matches!(r["status"].as_str(), Some("PENDING" | "FAILED")))
        .filter_map(|r| r["id"].as_u64())
        .collect();
    let (listed, _) = call_ok(
        &session,
        "list_refund_transactions",
        r#"{"status":["PENDING","FAILED"],"maxItems":1000}"#,
    )
    .await;
    assert_eq!(ids(&listed, "refundTransactions"), expected);

    // Sorted by value, largest first, over every COMPLETED return; ties keep ascending id.
    let mut expected: Vec<(Decimal, u64)> = returns
        .iter()
        .filter(|r| r["status"] == "COMPLETED")
        .map(|r| {
            let value = r["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|item| {
                    decimal(&item["unitRefundAmount"])
                        * Decimal::from(item["quantity"].as_u64().unwrap_or_default())
                })
                .sum();
            (value, r["id"].as_u64().unwrap_or_default())
        })
        .collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let expected: Vec<u64> = expected.into_iter().map(|(_, id)| id).collect();
    let (sorted, text) = call_ok(
        &session,
        "list_returns",
        r#"{"status":"COMPLETED","sortBy":"itemsValue","maxItems":1000}"#,
    )
    .await;
    assert_eq!(ids(&sorted, "returns"), expected);
    assert!(text.contains("among all 45 returns that match"), "{text}");
    let (sorted, text) = call_ok(
        &session,
        "list_returns",
        r#"{"sortBy":"updatedAt","sortDirection":"asc","limit":5}"#,
    )
    .await;
    let updated: Vec<OffsetDateTime> = sorted["returns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| at(&r["updatedAt"]))
        .collect();
    assert!(
        updated.windows(2).all(|pair| pair[0] <= pair[1]),
        "{updated:?}"
    );
    assert!(
        text.contains("among the 5 returns read; more exist"),
        "{text}"
    );
    session.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_analysis_arguments_name_the_argument_and_send_nothing() {
    let session = session().await;
    for (tool, arguments, needle) in [
        (
            "list_returns",
            r#"{"status":["COMPLETED","LOST"]}"#,
            "status",
        ),
        (
            "list_returns",
            r#"{"createdWithinDays":-2}"#,
            "createdWithinDays",
        ),
        (
            "summarize_returns",
            r#"{"createdWithinDays":7,"createdFrom":"2026-01-01T00:00:00Z"}"#,
            "createdWithinDays",
        ),
        (
            "summarize_returns",
            r#"{"updatedTo":"next week"}"#,
            "updatedTo",
        ),
        ("list_refund_transactions", r#"{"status":[]}"#, "status"),
    ] {
        match call(&session, tool, arguments).await {
            ToolCall::InvalidArguments(message) => {
                assert!(message.contains(needle), "{tool} {arguments}: {message}")
            }
            other => panic!("{tool} {arguments}: {other:?}"),
        }
    }
    let simulator = session
        .simulator()
        .unwrap_or_else(|| panic!("embedded simulator"));
    assert!(simulator.requests().is_empty(), "nothing was sent");
    session.shutdown().await;
}
