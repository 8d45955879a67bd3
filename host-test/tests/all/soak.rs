//! Soak: many mixed calls in one host process (reads, proposals, approved writes on fresh
//! refunds, refusals, traps). Resident memory must level off, no store, task or file handle may
//! leak, and the audit log must hold one line per decision.
//!
//! The measured run is `soak::run`, ignored in the normal run: `soak::in_its_own_process`
//! starts this test binary again with only it, so the memory figures are its own.
//! `DEMA_SOAK_CALLS` sets the number of calls (default 1,500, within `DEMA_SOAK_SECS`, default
//! 25 s); `make soak` runs 10,000 on a release build.

use std::process::Command;
use std::time::{Duration, Instant};

use host_test::EMBEDDED_PLUGIN;
use host_test::policy::audit::AuditLog;
use host_test::policy::confirm::{NoHuman, PersonApprovedInAdvance};
use host_test::session::{Session, Target, ToolCall};

use crate::support::{fixtures, shared};

#[test]
fn in_its_own_process() {
    let output = Command::new(std::env::current_exe().unwrap_or_default())
        .args([
            "soak::run",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap_or_else(|e| panic!("running the soak: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the soak ran: {stdout}");
    for line in stderr.lines().filter(|line| line.starts_with("soak:")) {
        println!("{line}");
    }
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| dir.count())
        .unwrap_or(0)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// One kind of call, as the soak mixes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Read,
    Proposal,
    ApprovedWrite,
    Refusal,
    Trap,
}

const MIX: [Kind; 10] = [
    Kind::Read,
    Kind::Read,
    Kind::Read,
    Kind::Proposal,
    Kind::Read,
    Kind::ApprovedWrite,
    Kind::Read,
    Kind::Refusal,
    Kind::Read,
    Kind::Trap,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by soak::in_its_own_process, alone in a child process"]
async fn run() {
    let calls = env_number("DEMA_SOAK_CALLS", 1_500);
    let budget = Duration::from_secs(env_number("DEMA_SOAK_SECS", 25));
    let audit_path =
        std::env::temp_dir().join(format!("dema-soak-audit-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&audit_path);
    let open_audit = || AuditLog::open(&audit_path, false).unwrap_or_else(|e| panic!("{e}"));
    let (runtime, cache) = shared();
    let ingrid = Session::builder(EMBEDDED_PLUGIN)
        .runtime(runtime.clone())
        .target(Target::EmbeddedSimulator)
        .cache(Some(cache))
        .audit(open_audit())
        .start()
        .await
        .unwrap_or_else(|e| panic!("session: {e}"));
    let rogue = Session::builder(&fixtures().rogue)
        .runtime(runtime.clone())
        .target(Target::EmbeddedSimulator)
        .cache(Some(&fixtures().cache))
        .audit(open_audit())
        .start()
        .await
        .unwrap_or_else(|e| panic!("rogue: {e}"));
    let simulator = ingrid.simulator().unwrap_or_else(|| panic!("simulator"));
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let mut audit = AuditTail::open(&audit_path);
    let mut per_kind: std::collections::HashMap<Kind, usize> = Default::default();

    let started = Instant::now();
    let warm_up = (calls / 10).max(20);
    let mut baseline = None;
    let mut done = 0u64;
    let mut decisions = 0usize;
    while done < calls && started.elapsed() < budget {
        let i = done;
        let kind = MIX[(i % MIX.len() as u64) as usize];
        match kind {
            Kind::Read => {
                let (tool, arguments) = match i % 4 {
                    0 => ("list_returns", r#"{"limit":5}"#.to_string()),
                    1 => (
                        "get_return",
                        format!(r#"{{"returnId":{}}}"#, 50001 + i % 150),
                    ),
                    2 => ("get_order", format!(r#"{{"orderId":{}}}"#, 10001 + i % 500)),
                    _ => ("list_refund_transactions", r#"{"limit":5}"#.to_string()),
                };
                let outcome = ingrid.call(tool, &arguments, &NoHuman).await;
                assert!(
                    matches!(&outcome, Ok((ToolCall::Result(r), _)) if !r.is_error),
                    "{tool} {arguments}: {outcome:?}"
                );
            }
            Kind::Proposal | Kind::ApprovedWrite => {
                let id = simulator
                    .add_pending_refund()
                    .unwrap_or_else(|| panic!("a fresh refund"));
                let arguments = format!(r#"{{"refundTransactionId":{id}}}"#);
                let outcome = if kind == Kind::Proposal {
                    ingrid
                        .call("mark_refund_externally_refunded", &arguments, &NoHuman)
                        .await
                } else {
                    ingrid
                        .call(
                            "mark_refund_externally_refunded",
                            &arguments,
                            &PersonApprovedInAdvance,
                        )
                        .await
                };
                match (kind, &outcome) {
                    (Kind::Proposal, Ok((ToolCall::NotConfirmed { .. }, _))) => {}
                    (Kind::ApprovedWrite, Ok((ToolCall::Result(r), _))) if !r.is_error => {}
                    _ => panic!("{kind:?} on refund {id}: {outcome:?}"),
                }
                let expected = u32::from(kind == Kind::ApprovedWrite);
                assert_eq!(
                    simulator.writes_applied(host_test::dev::simulator::Route::MarkRefund, id),
                    expected
                );
            }
            Kind::Refusal => {
                let outcome = ingrid
                    .call("get_return", r#"{"returnId":"fifty"}"#, &NoHuman)
                    .await;
                assert!(
                    matches!(&outcome, Ok((ToolCall::InvalidArguments(_), _))),
                    "{outcome:?}"
                );
            }
            Kind::Trap => {
                let outcome = rogue.call("panic", "{}", &NoHuman).await;
                assert!(outcome.is_err(), "the rogue's panic is a trap: {outcome:?}");
            }
        }
        // One line per decision: each kind of call always leaves the same number of lines.
        let added = audit.new_lines();
        assert!(added >= 1, "{kind:?} left no audit line");
        let expected = *per_kind.entry(kind).or_insert(added);
        assert_eq!(added, expected, "{kind:?} call {done}: audit lines");
        decisions += added;
        done += 1;
        if done == warm_up {
            baseline = Some((resident_kib(), tasks(), open_files()));
        }
    }
    let elapsed = started.elapsed();
    let (rss_warm, tasks_warm, files_warm) =
        baseline.unwrap_or_else(|| panic!("only {done} calls in {elapsed:?}: no warm-up"));
    let (rss_end, tasks_end, files_end) = (resident_kib(), tasks(), open_files());
    let growth = (rss_end as f64 - rss_warm as f64) / rss_warm as f64 * 100.0;
    eprintln!(
        "soak: {done} calls in {:.1} s ({:.0}/s); RSS after warm-up {rss_warm} KiB, at the end \
         {rss_end} KiB ({growth:+.1}%); tasks {tasks_warm} -> {tasks_end}; open files \
         {files_warm} -> {files_end}; audit lines {decisions} ({per_kind:?})",
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
    );
    assert!(done >= warm_up * 2, "too few calls to judge: {done}");
    assert!(
        growth < 10.0,
        "resident memory grew {growth:.1}% after warm-up"
    );
    assert!(tasks_end <= tasks_warm, "tasks {tasks_warm} -> {tasks_end}");
    assert!(
        files_end <= files_warm,
        "open files {files_warm} -> {files_end}"
    );
    // Nothing written between calls, and every line is one JSON record.
    assert_eq!(audit.new_lines(), 0);
    let text = std::fs::read_to_string(&audit_path).unwrap_or_default();
    assert_eq!(text.lines().count(), decisions);
    assert!(
        text.lines()
            .all(|line| serde_json::from_str::<serde_json::Value>(line).is_ok())
    );
    let _ = std::fs::remove_file(&audit_path);
}

/// The audit file, read as it grows.
struct AuditTail {
    file: std::fs::File,
}

impl AuditTail {
    fn open(path: &std::path::Path) -> AuditTail {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        AuditTail { file }
    }

    /// Lines appended since the last look.
    fn new_lines(&mut self) -> usize {
        use std::io::Read;
        let mut appended = Vec::new();
        let _ = self.file.read_to_end(&mut appended);
        appended.iter().filter(|byte| **byte == b'\n').count()
    }
}
