//! Property tests of what the host makes of a plugin's proposal and of a call's record: the
//! confirmation renderer and the audit writer take arbitrary plugin words, URLs, slots and body
//! bytes without panicking, and what they produce keeps its promises (C7, C11). `make test`
//! runs proptest's default case count; `make fuzz` sets `PROPTEST_CASES` much higher.

use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::audit::{AuditLog, AuditRecord, AuditedRequest, Decision};
use super::confirm::{ConfirmationRequest, HOST_SUMMARY_PREFIX};
use super::display;
use crate::bindings::types;
use crate::keys::{CallKeys, FixedKey, Secret};
use crate::manifest::CredentialSlot;

const KEY: &str = "fuzz-canary-key-2f7c9b";

fn method() -> impl Strategy<Value = types::Method> {
    prop_oneof![
        Just(types::Method::Get),
        Just(types::Method::Head),
        Just(types::Method::Post),
        Just(types::Method::Put),
        Just(types::Method::Patch),
        Just(types::Method::Delete),
    ]
}

/// Plugin text: any Unicode, with the characters attacks use made likely.
fn words() -> impl Strategy<Value = String> {
    let tricky = prop_oneof![
        any::<char>().prop_map(String::from),
        Just("\u{1b}[2J".to_string()),
        Just("\u{202e}".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just("\u{200b}".to_string()),
        Just("\u{0301}".to_string()),
        Just("Host summary: 0 writes".to_string()),
        Just("```".to_string()),
    ];
    prop::collection::vec(tricky, 0..64).prop_map(|parts| parts.concat())
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        words().prop_map(|w| format!(r#"{{"note":{w:?},"amount":179.000001}}"#).into_bytes()),
        Just(br#"{"a":1,"a":2}"#.to_vec()),
    ]
}

fn write() -> impl Strategy<Value = types::PlannedWrite> {
    (method(), words(), prop::option::of(words()), body()).prop_map(
        |(method, path, credential, body)| types::PlannedWrite {
            method,
            url: format!("https://api.turnr.se/merchant/{path}"),
            credential,
            body,
        },
    )
}

fn keys() -> CallKeys {
    let slot = CredentialSlot {
        name: "ingrid-api-key".into(),
        header: "x-api-key".into(),
        hosts: Vec::new(),
        description: String::new(),
    };
    CallKeys::resolve(&[slot], &FixedKey(Secret::new(KEY))).unwrap_or_default()
}

proptest! {
    #[test]
    fn any_proposal_renders_safely_with_the_host_summary_last(
        summary in words(),
        details in words(),
        service in words(),
        writes in prop::collection::vec(write(), 0..6),
    ) {
        let proposal = types::Proposal { summary, details, writes: writes.clone() };
        let slots = vec![("ingrid-api-key".to_string(), "x-api-key".to_string())];
        let request = ConfirmationRequest::render(&service, "tool", &proposal, &slots);
        for shown in [request.to_string(), request.full()] {
            prop_assert!(!shown.chars().any(|c| display::is_unsafe(c) && c != '\n'));
            let last = shown.lines().last().unwrap_or_default();
            prop_assert!(last.starts_with(HOST_SUMMARY_PREFIX), "{last}");
            // Only the host writes that prefix at the start of a line: the last line.
            prop_assert_eq!(shown.lines().filter(|l| l.starts_with(HOST_SUMMARY_PREFIX)).count(), 1);
        }
        // The short rendering is bounded: the plugin's words (3 + 16 lines and headings), then
        // per write its URL (4), headers and at most 40 body lines with the cut note.
        prop_assert!(request.to_string().lines().count() <= 30 + 56 * writes.len());
        for (rendered, planned) in request.writes.iter().zip(&writes) {
            prop_assert_eq!(rendered.body_bytes, planned.body.len());
            prop_assert_eq!(&rendered.body_sha256, &hex::encode(Sha256::digest(&planned.body)));
        }
    }

    #[test]
    fn any_record_is_one_json_line_without_the_key(
        tool in words(),
        failure in prop::option::of(words()),
        path in words(),
        trace in prop::option::of(words()),
        status in prop::option::of(any::<u16>()),
        fuel in any::<u64>(),
    ) {
        let dir = std::env::temp_dir().join(format!("dema-fuzz-audit-{}", std::process::id()));
        let path_on_disk = dir.join("audit.jsonl");
        let _ = std::fs::remove_file(&path_on_disk);
        let log = AuditLog::open(&path_on_disk, false).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let with_key = |text: &str| format!("{text}{KEY}");
        let (tool, path, failure) = (with_key(&tool), with_key(&path), failure.map(|f| with_key(&f)));
        let record = AuditRecord {
            v: 2,
            time: "2026-12-02T00:00:00Z".into(),
            plugin_id: "p",
            plugin_digest: "d",
            call_id: "c",
            export: "call-tool",
            tool: Some(&tool),
            arguments_digest: None,
            arguments: None,
            decision: Decision::Refused,
            requests: vec![AuditedRequest {
                method: "POST",
                host: "api.turnr.se",
                path: &path,
                status,
                error: None,
                request_bytes: 0,
                response_bytes: 0,
                duration_ms: 0,
                trace_id: trace.as_deref(),
            }],
            writes_sent: 0,
            writes_unsent: 1,
            fuel_used: fuel,
            duration_ms: 0,
            failure,
        };
        let keys = keys();
        log.write(&record, |line| keys.redact_text(line)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let written = std::fs::read_to_string(&path_on_disk).unwrap_or_default();
        prop_assert_eq!(written.matches('\n').count(), 1);
        prop_assert!(written.ends_with('\n'));
        prop_assert!(!written.contains(KEY));
        let parsed: serde_json::Value = serde_json::from_str(&written).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&parsed["v"], 2);
        prop_assert_eq!(&parsed["decision"], "refused");
        prop_assert_eq!(&parsed["fuelUsed"], fuel);
    }
}
