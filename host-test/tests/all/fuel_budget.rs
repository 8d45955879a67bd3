//! The performance guard of `make test` (issue 11), deterministic and free of timing: the fuel
//! (wasmtime's count of guest instructions) that fixed tool calls use on fixed input, the
//! embedded simulator's standard seed, stays under a budget of [`HEADROOM_PERCENT`] of the
//! figure recorded in [`RECORDED`]. A slower guest, or a host that makes the guest do more
//! (more or larger answers, start-up work per call), then fails on any machine.
//!
//! **Re-recording** (after a deliberate change to the guest, e.g. a rewrite that makes it
//! smaller or faster): run
//!
//! ```sh
//! DEMA_FUEL_RECORD=1 cargo test --locked -p host-test --test all fuel_budget -- --nocapture
//! ```
//!
//! and replace the lines of [`RECORDED`] with the ones it prints (one line per call). A figure
//! that fell below half its record is reported, so a speed-up can be locked in.

use host_test::policy::confirm::NoHuman;
use host_test::session::{Session, ToolCall};
use serde_json::Value;

use crate::support::shared;

/// A call may use this much of its recorded fuel.
const HEADROOM_PERCENT: u64 = 110;

/// Fuel per call as recorded: (label, fuel). Printed by a run with `DEMA_FUEL_RECORD=1`.
const RECORDED: &[(&str, u64)] = &[
    ("list_returns IN_TRANSIT limit 5", 402_350),
    ("get_return 50001", 167_768),
    ("list_orders maxItems 200", 11_901_500),
    ("list_refund_transactions PENDING limit 1", 74_908),
    ("mark_refund_externally_refunded proposal", 112_542),
];

/// Runs one call and returns its fuel.
async fn fuel_of(session: &Session, tool: &str, arguments: &str) -> u64 {
    let (outcome, report) = session
        .call(tool, arguments, &NoHuman)
        .await
        .unwrap_or_else(|e| panic!("{tool} {arguments}: {e}"));
    match outcome {
        ToolCall::Result(result) if !result.is_error => {}
        // A write's proposal, put to nobody: nothing is written.
        ToolCall::NotConfirmed { .. } => {}
        other => panic!("{tool} {arguments}: {other:?}"),
    }
    report.fuel_used
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_calls_stay_within_their_recorded_fuel() {
    let session = crate::support::ingrid_session(shared().0).await;
    let mut measured = Vec::new();
    let fuel = fuel_of(
        &session,
        "list_returns",
        r#"{"status":"IN_TRANSIT","limit":5}"#,
    )
    .await;
    measured.push(fuel);
    let fuel = fuel_of(&session, "get_return", r#"{"returnId":50001}"#).await;
    measured.push(fuel);
    let fuel = fuel_of(&session, "list_orders", r#"{"maxItems":200}"#).await;
    measured.push(fuel);
    let fuel = fuel_of(
        &session,
        "list_refund_transactions",
        r#"{"status":"PENDING","limit":1}"#,
    )
    .await;
    measured.push(fuel);
    let refund = first_pending_refund(&session).await;
    let fuel = fuel_of(
        &session,
        "mark_refund_externally_refunded",
        &format!(r#"{{"refundTransactionId":{refund}}}"#),
    )
    .await;
    measured.push(fuel);
    session.shutdown().await;

    assert_eq!(RECORDED.len(), measured.len(), "one recorded line per call");
    if std::env::var_os("DEMA_FUEL_RECORD").is_some() {
        for ((label, _), fuel) in RECORDED.iter().zip(&measured) {
            println!("    ({label:?}, {}),", grouped(*fuel));
        }
        return;
    }
    let mut over = Vec::new();
    for ((label, recorded), fuel) in RECORDED.iter().zip(&measured) {
        let budget = recorded * HEADROOM_PERCENT / 100;
        if *fuel > budget {
            over.push(format!(
                "{label}: {fuel} fuel, over its budget {budget} ({HEADROOM_PERCENT}% of {recorded})"
            ));
        } else if *fuel < recorded / 2 {
            eprintln!(
                "{label}: {fuel} fuel, under half its record {recorded}: re-record to keep the gain"
            );
        }
    }
    assert!(
        over.is_empty(),
        "slower than recorded (see this module's doc to re-record a deliberate change):\n{}",
        over.join("\n")
    );
}

/// The seed's first PENDING refund, asked of the simulator itself (not of the plugin, whose
/// output may change shape).
async fn first_pending_refund(session: &Session) -> u64 {
    let base = session
        .simulator()
        .map(|sim| sim.base_url())
        .unwrap_or_else(|| panic!("no embedded simulator"));
    let url = format!("{base}/merchant/refund-transaction?status=PENDING&limit=1");
    let body = tokio::task::spawn_blocking(move || {
        ureq::get(&url)
            .header("x-api-key", host_test::dev::simulator::PRODUCTION_KEY)
            .call()
            .and_then(|mut response| response.body_mut().read_to_string())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|e| panic!("GET {base}: {e}"));
    let list: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    list.get(0)
        .and_then(|refund| refund.get("id"))
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no PENDING refund in {body}"))
}

/// `1234567` as `1_234_567`, as the table is written.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(c);
    }
    out
}
