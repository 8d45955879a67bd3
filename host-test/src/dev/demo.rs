//! The scripted demo: the whole return lifecycle against the embedded Ingrid simulator, every
//! write shown and answered by a scripted person. Knows Ingrid's tools, so it lives with the
//! development aids.

use std::process::ExitCode;

use crate::cli::call::call;
use crate::cli::{CliError, connect, tools};
use crate::policy::confirm::{Answer, ConfirmationRequest, Confirmer, NoHuman, Pending};
use crate::policy::display::{self, MESSAGE};
use crate::session::{Session, ToolCall};

/// What a person sees in a short session: connect, list the tools, page through returns, and
/// a mistake explained.
pub async fn run(session: &Session, verbose: bool) -> Result<ExitCode, CliError> {
    println!(
        "== Ingrid Returns plugin in the Dema host, against {}",
        session.base_url()
    );
    println!(
        "   plugin {} {} (sha256 {}…)\n",
        session.plugin().manifest().id,
        session.plugin().manifest().version,
        &session.plugin().digest()[..12]
    );
    println!("$ dema-host connect");
    match session.connect().await? {
        Ok(info) => println!("{}\n", display::block(&info.message, MESSAGE)),
        Err(error) => println!("error: {}\n", connect::error_text(&error)),
    }
    println!("$ dema-host tools");
    tools::print(session);
    println!();
    // The story: a return arrives, the warehouse inspects it, the person approves what the
    // agent reports, the refund is paid outside Ingrid and marked so; every write is asked.
    show_call(
        session,
        "list_returns",
        r#"{"status":"IN_TRANSIT","limit":3}"#,
        verbose,
        &NoHuman,
    )
    .await?;
    let in_transit = structured(
        session,
        "list_returns",
        r#"{"status":"IN_TRANSIT","limit":100}"#,
    )
    .await;
    let return_id = in_transit
        .as_ref()
        .and_then(|page| page["returns"].as_array())
        .and_then(|rows| rows.iter().find(|row| row["resolution"] == "REFUND"))
        .and_then(|row| row["id"].as_u64())
        .ok_or_else(|| CliError::Demo("the simulator has no IN_TRANSIT REFUND return".into()))?;
    let get_return = format!(r#"{{"returnId":{return_id}}}"#);
    show_call(session, "get_return", &get_return, verbose, &NoHuman).await?;
    let items = structured(session, "get_return", &get_return)
        .await
        .and_then(|r| r["items"].as_array().cloned())
        .unwrap_or_default();
    let report: Vec<serde_json::Value> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let quantity = item["quantity"].as_u64().unwrap_or(1);
            if i == 0 {
                serde_json::json!({"returnItemId": item["id"], "quantity": quantity, "approved": true, "remark": "Unworn, tags on"})
            } else {
                serde_json::json!({"returnItemId": item["id"], "quantity": quantity, "approved": false, "remark": "Worn"})
            }
        })
        .collect();
    let report = serde_json::json!({"returnId": return_id, "items": report}).to_string();
    show_call(
        session,
        "report_returned_items",
        &report,
        verbose,
        &DemoPerson,
    )
    .await?;
    let pending = format!(r#"{{"returnId":{return_id},"status":"PENDING"}}"#);
    show_call(
        session,
        "list_refund_transactions",
        &pending,
        verbose,
        &NoHuman,
    )
    .await?;
    let refund_id = structured(session, "list_refund_transactions", &pending)
        .await
        .and_then(|page| page["refundTransactions"][0]["id"].as_u64());
    if let Some(refund_id) = refund_id {
        let mark =
            format!(r#"{{"refundTransactionId":{refund_id},"externalReference":"PSP-2026-1187"}}"#);
        show_call(
            session,
            "mark_refund_externally_refunded",
            &mark,
            verbose,
            &DemoPerson,
        )
        .await?;
    }
    show_call(session, "get_return", &get_return, verbose, &NoHuman).await?;
    println!("-- and a mistake, explained:");
    show_call(
        session,
        "list_returns",
        r#"{"status":"SHIPPED"}"#,
        verbose,
        &NoHuman,
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// The demo's person: shows what the host shows, and answers yes for you.
struct DemoPerson;

impl Confirmer for DemoPerson {
    fn confirm<'a>(&'a self, request: &'a ConfirmationRequest) -> Pending<'a> {
        // The host's rendering ends with its one-line summary; the question comes right below.
        println!("{request}");
        println!(
            "Apply this change? [y = yes, v = view everything first, N = no] y   (the demo answers)"
        );
        Box::pin(std::future::ready(Answer::Approved))
    }
}

async fn structured(session: &Session, tool: &str, arguments: &str) -> Option<serde_json::Value> {
    let (outcome, _) = session.call(tool, arguments, &NoHuman).await.ok()?;
    let ToolCall::Result(result) = outcome else {
        return None;
    };
    serde_json::from_str(result.structured.as_deref()?).ok()
}

async fn show_call(
    session: &Session,
    tool: &str,
    arguments: &str,
    verbose: bool,
    confirmer: &dyn Confirmer,
) -> Result<(), CliError> {
    println!("$ dema-host call {tool} '{arguments}'");
    let code = call(session, tool, arguments, false, verbose, confirmer).await?;
    if code != ExitCode::SUCCESS {
        println!("(exit status non-zero)");
    }
    println!();
    Ok(())
}
