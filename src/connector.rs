//! The four exported functions of the `connector` interface, written against [`Transport`] so
//! they run the same natively (tests) and in the component (glue).

use crate::prelude::*;

use crate::api::{
    CallContext, CallError, ConnectError, ConnectInfo, ProbeCheck, ToolDescriptor, ToolOutcome,
};
use crate::ingrid::IngridClient;
use crate::ingrid::catalog::{self, Endpoint, query};
use crate::ingrid::client::{check_status, trace_id};
use crate::ingrid::error::{KEY_TROUBLESHOOTING, Subject};
use crate::ingrid::json::{self, Json};
use crate::tools;
use crate::transport::{HttpError, Transport};

/// Validates the key with one cheap read (`GET /merchant/return?limit=1`) and explains failures.
pub fn connect(transport: &dyn Transport, ctx: &CallContext) -> Result<ConnectInfo, ConnectError> {
    let client = IngridClient::new(transport, ctx);
    let request = client.request(
        Endpoint::ListReturns,
        &[(query::LIMIT, "1".to_string())],
        Vec::new(),
    );
    let response = transport.send(&request).map_err(|error| match error {
        HttpError::Denied(reason) => ConnectError::Denied(format!(
            "The host did not allow the request to {}: {reason}",
            client.base_url()
        )),
        other => ConnectError::Unreachable(format!(
            "Could not reach Ingrid at {}: {other}. Check the network and the base URL setting.",
            client.base_url()
        )),
    })?;
    let trace = trace_id(&response)
        .map(|id| format!(" (Ingrid trace id {id})"))
        .unwrap_or_default();
    match response.status {
        200..=299 => Ok(ConnectInfo {
            message: format!(
                "Connected to Ingrid Returns at {}: the API key works.",
                client.base_url()
            ),
        }),
        401 | 403 => Err(ConnectError::Unauthorized(format!(
            "Ingrid refused the API key (HTTP {}). {KEY_TROUBLESHOOTING}{trace}",
            response.status
        ))),
        status => Err(ConnectError::Unexpected(format!(
            "Ingrid at {} answered the connection check with an unexpected HTTP {status}{trace}. \
             Check the base URL setting; if it is right, Ingrid may be having problems.",
            client.base_url()
        ))),
    }
}

pub fn list_tools() -> Vec<ToolDescriptor> {
    tools::TOOLS.iter().map(tools::Tool::descriptor).collect()
}

pub fn call_tool(
    transport: &dyn Transport,
    name: &str,
    arguments_json: &str,
    ctx: &CallContext,
) -> Result<ToolOutcome, CallError> {
    let tool = tools::find(name).ok_or_else(|| CallError::UnknownTool(name.to_string()))?;
    let arguments = json::parse(arguments_json)
        .map_err(|error| CallError::InvalidArguments(format!("not JSON: {error}")))?;
    if !matches!(arguments, Json::Object(_)) {
        return Err(CallError::InvalidArguments(
            tools::args::NOT_AN_OBJECT.to_string(),
        ));
    }
    let client = IngridClient::new(transport, ctx);
    (tool.run)(&client, ctx, arguments)
}

/// A list endpoint, how to get one of its items, and the fields both must carry.
type ProbePair = (Endpoint, fn(u64) -> Endpoint, &'static [&'static str]);

/// The live probe: each read path once (`limit=1`, then a get of the first id), reporting
/// whether it answered as modelled. Field names only; never values.
pub fn diagnostics(transport: &dyn Transport, ctx: &CallContext) -> Vec<ProbeCheck> {
    let client = IngridClient::new(transport, ctx);
    let pairs: [ProbePair; 3] = [
        (
            Endpoint::ListOrders,
            Endpoint::GetOrder,
            catalog::ORDER_FIELDS,
        ),
        (
            Endpoint::ListReturns,
            Endpoint::GetReturn,
            catalog::RETURN_FIELDS,
        ),
        (
            Endpoint::ListRefundTransactions,
            Endpoint::GetRefundTransaction,
            catalog::REFUND_TRANSACTION_FIELDS,
        ),
    ];
    let mut checks = Vec::new();
    for (list, get, fields) in pairs {
        let (check, first_id) = probe(
            &client,
            list,
            &[(query::LIMIT, "1".to_string())],
            fields,
            true,
        );
        checks.push(check);
        match first_id {
            Some(id) => checks.push(probe(&client, get(id), &[], fields, false).0),
            None => checks.push(ProbeCheck {
                endpoint: get(0).template().to_string(),
                status: None,
                as_modelled: false,
                missing_fields: Vec::new(),
                note: "not checked: the list gave no id to fetch".to_string(),
            }),
        }
    }
    checks
}

fn probe(
    client: &IngridClient,
    endpoint: Endpoint,
    query: &[(&str, String)],
    fields: &[&str],
    is_list: bool,
) -> (ProbeCheck, Option<u64>) {
    let mut check = ProbeCheck {
        endpoint: endpoint.template().to_string(),
        status: None,
        as_modelled: false,
        missing_fields: Vec::new(),
        note: String::new(),
    };
    let request = client.request(endpoint, query, Vec::new());
    let response = match client.transport().send(&request) {
        Ok(response) => response,
        Err(error) => {
            check.note = format!("no response: {error}");
            return (check, None);
        }
    };
    check.status = Some(response.status);
    let response = match check_status(response, &Subject::Returns) {
        Ok(response) => response,
        Err(_) => {
            check.note = "unexpected status".to_string();
            return (check, None);
        }
    };
    let body = match core::str::from_utf8(&response.body)
        .map_err(|_| String::new())
        .and_then(json::parse)
    {
        Ok(body) => body,
        Err(_) => {
            check.note = "the body is not JSON".to_string();
            return (check, None);
        }
    };
    let item = if is_list {
        match body {
            Json::Array(items) => items.into_iter().next(),
            _ => {
                check.note = "expected a JSON array".to_string();
                return (check, None);
            }
        }
    } else {
        Some(body)
    };
    let Some(item) = item else {
        check.as_modelled = true;
        check.note = "answered with an empty list; fields not checked".to_string();
        return (check, None);
    };
    check.missing_fields = fields
        .iter()
        .filter(|field| item.get(field).is_none())
        .map(|field| field.to_string())
        .collect();
    check.as_modelled = check.missing_fields.is_empty();
    check.note = if check.as_modelled {
        "as modelled".to_string()
    } else {
        "some expected fields are missing".to_string()
    };
    (check, item.get("id").and_then(Json::as_u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ScriptedTransport, context, json};

    #[test]
    fn connect_reads_one_return_and_explains_each_failure() {
        let ok = ScriptedTransport::new(vec![json(200, "[]")]);
        assert!(connect(&ok, &context()).is_ok());
        assert_eq!(
            ok.sent.borrow()[0].url,
            "https://ingrid.test/merchant/return?limit=1"
        );

        let refused = ScriptedTransport::new(vec![json(401, "{}")]);
        match connect(&refused, &context()) {
            Err(ConnectError::Unauthorized(m)) => {
                assert!(
                    m.contains("not a stage key") && m.contains("support@ingrid.com"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        let down = ScriptedTransport::new(vec![Err(HttpError::NotSent("dns".into()))]);
        assert!(matches!(
            connect(&down, &context()),
            Err(ConnectError::Unreachable(_))
        ));
        let odd = ScriptedTransport::new(vec![json(418, "{}")]);
        assert!(
            matches!(connect(&odd, &context()), Err(ConnectError::Unexpected(m)) if m.contains("418"))
        );
    }

    #[test]
    fn unknown_tools_are_call_errors() {
        let transport = ScriptedTransport::new(vec![]);
        assert_eq!(
            call_tool(&transport, "delete_everything", "{}", &context()),
            Err(CallError::UnknownTool("delete_everything".into()))
        );
    }

    #[test]
    fn diagnostics_report_field_names_never_values() {
        let transport = ScriptedTransport::new(vec![
            json(200, r#"[{"id":10001,"orderNumber":"DM-1"}]"#),
            json(200, r#"{"id":10001,"orderNumber":"DM-1"}"#),
            json(200, "[]"),
            json(401, "{}"),
            json(404, "{}"),
        ]);
        let checks = diagnostics(&transport, &context());
        assert_eq!(checks.len(), 6);
        assert!(!checks[0].as_modelled);
        assert!(
            checks[0]
                .missing_fields
                .contains(&"totalAmount".to_string())
        );
        assert_eq!(
            transport.sent.borrow()[1].url,
            "https://ingrid.test/merchant/order/10001"
        );
        assert!(checks[2].as_modelled, "an empty list is fine");
        assert_eq!(checks[4].status, Some(401));
        let all_text = format!("{checks:?}");
        assert!(
            !all_text.contains("DM-1"),
            "values never appear: {all_text}"
        );
    }
}
