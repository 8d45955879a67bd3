//! Plugin-supplied schemas against the host (the `hostile-schemas` fixture). Its schemas are
//! inside the host's subset (`policy::schema`, which refuses the rest at load; those rules
//! are unit tests there) but crafted to ruin a naive validator, and each tool answers with an
//! instance crafted against its schema, about 1 MB. Every call ends within its deadline plus
//! 10%, its output is handled (kept when it matches, dropped with a note when it does not or
//! could not be checked in time), and the host's memory stays bounded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use host_test::policy::confirm::NoHuman;
use host_test::policy::schema::OutputCheck;
use host_test::runtime::{CallReport, Limits, Runtime};
use host_test::session::{Session, Target, ToolCall};

use crate::support::{SHORT_DEADLINE, fixtures, runtime, short_runtime};

async fn hostile(runtime: Arc<Runtime>) -> Session {
    Session::builder(&fixtures().hostile_schemas)
        .runtime(runtime)
        .target(Target::EmbeddedSimulator)
        .cache(Some(&fixtures().cache))
        .start()
        .await
        .unwrap_or_else(|e| panic!("loading the hostile-schemas fixture: {e}"))
}

/// Calls `tool` and checks that the call, as timed here and as reported, ended within
/// `deadline` plus 10%.
async fn call_within(
    session: &Session,
    tool: &str,
    arguments: &str,
    deadline: Duration,
) -> (ToolCall, CallReport) {
    let started = Instant::now();
    let (outcome, report) = session
        .call(tool, arguments, &NoHuman)
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let elapsed = started.elapsed();
    let allowed = deadline + deadline / 10;
    assert!(
        elapsed <= allowed,
        "{tool}: {elapsed:?}, deadline {deadline:?}"
    );
    assert!(
        report.duration <= allowed,
        "{tool}: reported {:?}",
        report.duration
    );
    (outcome, report)
}

/// The structured output is kept exactly when it was found to match; otherwise the text says
/// why it was dropped.
fn assert_output_handled(outcome: &ToolCall, report: &CallReport) {
    let ToolCall::Result(result) = outcome else {
        panic!("{outcome:?}");
    };
    match report.output_check {
        OutputCheck::Matches => assert!(result.structured.is_some()),
        OutputCheck::DoesNotMatch => {
            assert!(result.structured.is_none());
            assert!(
                result.text.contains("did not match its output schema"),
                "{}",
                result.text
            );
        }
        OutputCheck::OutOfTime => {
            assert!(result.structured.is_none());
            assert!(
                result.text.contains("could not be checked"),
                "{}",
                result.text
            );
        }
        OutputCheck::NotChecked => panic!("the output was not checked"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catastrophically_backtracking_pattern_is_checked_in_linear_time() {
    let session = hostile(runtime()).await;
    let deadline = Limits::default().deadline;
    let (outcome, report) = call_within(&session, "backtrack", "{}", deadline).await;
    // `^(a+)+$` against `aaa…ab`: 2^n steps for a backtracking engine, one pass here.
    assert_eq!(report.output_check, OutputCheck::DoesNotMatch);
    assert_output_handled(&outcome, &report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_any_of_that_doubles_over_references_is_checked_within_the_deadline() {
    let session = hostile(runtime()).await;
    let deadline = Limits::default().deadline;
    let (outcome, report) = call_within(&session, "fan_out", "{}", deadline).await;
    assert_ne!(report.output_check, OutputCheck::DoesNotMatch);
    assert_output_handled(&outcome, &report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_returned_just_before_the_deadline_gets_only_the_time_left() {
    let session = hostile(short_runtime()).await;
    let (outcome, report) = call_within(&session, "late", "{}", SHORT_DEADLINE).await;
    assert_ne!(report.output_check, OutputCheck::DoesNotMatch);
    assert_output_handled(&outcome, &report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_get_a_tenth_of_the_deadline_to_be_checked() {
    let session = hostile(short_runtime()).await;
    let (outcome, _) = call_within(
        &session,
        "wide_input",
        r#"{"values":[1,2]}"#,
        SHORT_DEADLINE,
    )
    .await;
    assert!(matches!(outcome, ToolCall::Result(_)), "{outcome:?}");
    let (outcome, _) = call_within(
        &session,
        "wide_input",
        r#"{"values":[1,"x"]}"#,
        SHORT_DEADLINE,
    )
    .await;
    assert!(
        matches!(&outcome, ToolCall::InvalidArguments(m) if m.starts_with("/values/1")),
        "{outcome:?}"
    );
    // 1 MB of values, each checked along every path of the fan-out: accepted if the check
    // fits in its 150 ms, refused before the plugin runs if not.
    let values = format!(r#"{{"values":[{}0]}}"#, "0,".repeat(499_990));
    let started = Instant::now();
    let (outcome, report) = call_within(&session, "wide_input", &values, SHORT_DEADLINE).await;
    match outcome {
        ToolCall::Result(_) => {}
        ToolCall::InvalidArguments(message) => {
            assert!(message.contains("could not be checked within"), "{message}");
            assert_eq!(report.duration, Duration::ZERO, "the plugin did not run");
            let budget = SHORT_DEADLINE / 10;
            assert!(
                started.elapsed() < budget + SHORT_DEADLINE / 10,
                "{:?}",
                started.elapsed()
            );
        }
        other => panic!("{other:?}"),
    }
    let too_large = format!(r#"{{"values":[{}0]}}"#, "0,".repeat(600_000));
    let (outcome, _) = call_within(&session, "wide_input", &too_large, SHORT_DEADLINE).await;
    assert!(
        matches!(&outcome, ToolCall::InvalidArguments(m) if m.contains("larger than")),
        "{outcome:?}"
    );
}

/// Set in the child process that runs [`memory_scenario`] alone.
const MEMORY_SCENARIO: &str = "DEMA_HOSTILE_SCHEMAS_MEMORY_SCENARIO";
/// What the host may use above its idle figure while a hostile plugin runs.
const MEMORY_ALLOWANCE_KIB: u64 = 256 << 10;

/// The host's memory under the fixture, measured in a process of its own (the other tests
/// of this binary would blur the figure): it runs [`memory_scenario`] and reports its peak.
#[cfg(target_os = "linux")]
#[test]
fn the_hosts_memory_stays_within_its_allowance_under_the_fixture() {
    fixtures();
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let output = std::process::Command::new(exe)
        .args([
            "--exact",
            "schemas::memory_scenario",
            "--ignored",
            "--nocapture",
        ])
        .env(MEMORY_SCENARIO, "1")
        .output()
        .unwrap_or_else(|e| panic!("running the memory scenario: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the scenario did not run:\n{stdout}\n{stderr}"
    );
    if let Some(figures) = stdout.lines().find(|line| line.starts_with("idle ")) {
        println!("{figures}");
    }
}

#[cfg(target_os = "linux")]
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// Loads the fixture and runs each of its attacks (each output parsed, checked and handed
/// back, the arguments of 1 MB checked); the peak resident size may exceed the idle one by at
/// most the allowance.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "run by the_hosts_memory_stays_within_its_allowance_under_the_fixture"]
fn memory_scenario() {
    if std::env::var_os(MEMORY_SCENARIO).is_none() {
        return;
    }
    let wasm = &fixtures().hostile_schemas;
    let runtime = runtime();
    let idle = status_kib("VmRSS:");
    // Resets the peak (VmHWM) to now: building the fixtures compiled other plugins here.
    std::fs::write("/proc/self/clear_refs", "5").unwrap_or_else(|e| panic!("clear_refs: {e}"));
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    tokio.block_on(async {
        let session = Session::builder(wasm)
            .runtime(runtime)
            .target(Target::EmbeddedSimulator)
            .cache(Some(&fixtures().cache))
            .start()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let values = format!(r#"{{"values":[{}0]}}"#, "0,".repeat(499_990));
        for _round in 0..2 {
            for (tool, arguments) in [
                ("backtrack", "{}"),
                ("fan_out", "{}"),
                ("wide_input", values.as_str()),
            ] {
                let deadline = Limits::default().deadline;
                let (outcome, report) = call_within(&session, tool, arguments, deadline).await;
                if tool != "wide_input" {
                    assert_output_handled(&outcome, &report);
                }
            }
        }
        session.shutdown().await;
    });
    let peak = status_kib("VmHWM:");
    let above = peak.saturating_sub(idle);
    println!("idle {idle} KiB, peak {peak} KiB, {above} KiB above idle");
    assert!(
        above < MEMORY_ALLOWANCE_KIB,
        "{above} KiB above the idle {idle} KiB"
    );
}
