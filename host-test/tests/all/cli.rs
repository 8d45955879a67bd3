//! The `dema-host` binary as a person uses it: bad input gives one clear line and a non-zero
//! exit, never a panic or a backtrace.

use std::path::PathBuf;
use std::process::{Command, Output};

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dema-cli-{}-{name}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Runs `dema-host` with a private HOME, config, cache and no key in the environment.
fn dema_host(args: &[&str]) -> Output {
    let home = scratch_dir("home");
    Command::new(env!("CARGO_BIN_EXE_dema-host"))
        .args(args)
        .env_remove("INGRID_API_KEY")
        .env_remove("DEMA_SIM_API_KEY")
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env(
            "DEMA_CACHE_DIR",
            std::env::temp_dir().join(format!("dema-cli-cache-{}", std::process::id())),
        )
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap_or_else(|e| panic!("running dema-host: {e}"))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A failure a person can read: non-zero, one `error:` line, no panic or backtrace.
fn assert_one_clear_line(output: &Output, needle: &str) {
    let err = stderr(output);
    assert!(!output.status.success(), "should fail: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "{needle:?} in {err:?}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn a_call_lists_returns_from_the_embedded_simulator() {
    let output = dema_host(&[
        "call",
        "list_returns",
        r#"{"status":"AWAITING_REFUND","limit":2}"#,
    ]);
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(out.matches("- return ").count(), 2, "{out}");
    assert!(out.contains("AWAITING_REFUND"), "{out}");
    assert!(out.contains("cursor \"returns."), "{out}");
}

#[test]
fn bad_input_gives_one_clear_line() {
    let missing = dema_host(&["--plugin", "/nonexistent/plugin.wasm", "tools"]);
    assert_one_clear_line(&missing, "cannot read the plugin file");

    let not_a_component = scratch_dir("plugin").join("not-a-plugin.wasm");
    let _ = std::fs::write(&not_a_component, b"hello, I am text");
    let path = not_a_component.to_string_lossy().into_owned();
    let garbage = dema_host(&["--plugin", &path, "tools"]);
    assert_one_clear_line(&garbage, "not a WebAssembly component");

    let unknown = dema_host(&["call", "refund_everything", "{}"]);
    assert_one_clear_line(&unknown, "unknown tool `refund_everything`");

    let not_json = dema_host(&["call", "list_returns", "{status:"]);
    assert_one_clear_line(&not_json, "not JSON");

    let schema = dema_host(&["call", "list_returns", r#"{"limit":1000}"#]);
    assert_one_clear_line(&schema, "limit");

    let no_key = dema_host(&["--live", "tools"]);
    assert_one_clear_line(
        &no_key,
        "no key for the plugin's credential slot `ingrid-api-key`",
    );
    assert_one_clear_line(&no_key, "INGRID_API_KEY");
    assert_one_clear_line(&no_key, "Settings → API Keys");

    let foreign_sim = dema_host(&["--sim", "http://192.0.2.1:8080", "tools"]);
    assert_one_clear_line(&foreign_sim, "--sim must be");
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["tools", "--help"],
        vec!["call", "--help"],
        vec!["connect", "--help"],
        vec!["sim", "--help"],
        vec!["demo", "--help"],
        vec!["mcp", "--help"],
        vec!["probe", "--help"],
    ] {
        let output = dema_host(&args);
        assert!(output.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}

#[test]
fn a_new_plugin_needs_the_operators_consent_once() {
    let plugin = scratch_dir("consent").join("ingrid.wasm");
    let _ = std::fs::write(&plugin, host_test::EMBEDDED_PLUGIN);
    let path = plugin.to_string_lossy().into_owned();
    // A private config directory, so this test's install record is its own.
    let config = scratch_dir("consent-config");
    let run = |extra: &[&str]| {
        let mut args = vec!["--plugin", path.as_str()];
        args.extend_from_slice(extra);
        args.push("tools");
        Command::new(env!("CARGO_BIN_EXE_dema-host"))
            .args(&args)
            .env("HOME", scratch_dir("home"))
            .env("XDG_CONFIG_HOME", &config)
            .env(
                "DEMA_CACHE_DIR",
                std::env::temp_dir().join(format!("dema-cli-cache-{}", std::process::id())),
            )
            .output()
            .unwrap_or_else(|e| panic!("running dema-host: {e}"))
    };
    let refused = run(&[]);
    assert_one_clear_line(&refused, "needs the operator's consent");
    assert!(stderr(&refused).contains("list_returns") || stderr(&refused).contains("reach"));
    let accepted = run(&["--accept-plugin"]);
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    let again = run(&[]);
    assert!(again.status.success(), "installed: {}", stderr(&again));

    // Another build declaring the same id (here: the same component with one more custom
    // section, so another digest) is not an update it can claim: the operator is asked.
    let mut other_build = host_test::EMBEDDED_PLUGIN.to_vec();
    other_build.extend_from_slice(&[0x00, 0x06, 0x04, b'n', b'o', b't', b'e', b'!']);
    let _ = std::fs::write(&plugin, &other_build);
    let claimed = run(&[]);
    assert_one_clear_line(&claimed, "replace the installed build");
    let record =
        std::fs::read_to_string(config.join("dema-host").join("installs.json")).unwrap_or_default();
    assert!(record.contains("ingrid-returns"), "{record}");
}

#[test]
fn a_new_key_is_stored_only_after_it_works() {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Stdio;
    let config = scratch_dir("rotate-config");
    let file = config.join("dema-host").join("credentials.json");
    let rotate = |key: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dema-host"))
            .args(["connect", "--new-key"])
            .env_remove("INGRID_API_KEY")
            .env("HOME", scratch_dir("home"))
            .env("XDG_CONFIG_HOME", &config)
            .env(
                "DEMA_CACHE_DIR",
                std::env::temp_dir().join(format!("dema-cli-cache-{}", std::process::id())),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            let _ = writeln!(stdin, "{key}");
        }
        child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("wait: {e}"))
    };
    let stage = rotate(host_test::dev::simulator::STAGE_KEY);
    assert!(!stage.status.success());
    assert!(stderr(&stage).contains("not stored"), "{}", stderr(&stage));
    assert!(
        !stderr(&stage).contains(host_test::dev::simulator::STAGE_KEY),
        "never echoed"
    );
    assert!(!file.exists(), "a failing key stores nothing");

    let good = rotate(host_test::dev::simulator::PRODUCTION_KEY);
    assert!(good.status.success(), "{}", stderr(&good));
    let stored = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(stored.contains(host_test::dev::simulator::PRODUCTION_KEY));
    let mode = std::fs::metadata(&file)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    assert_eq!(mode, 0o600);

    let bad_again = rotate(host_test::dev::simulator::MERCHANT_PLATFORM_KEY);
    assert!(!bad_again.status.success());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap_or_default(),
        stored,
        "the old key stays"
    );
}

#[test]
fn the_probe_finds_every_path_as_modelled_against_the_simulator() {
    let output = dema_host(&["probe"]);
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}{}", stderr(&output));
    for path in [
        "GET /merchant/order ",
        "GET /merchant/order/{id}",
        "GET /merchant/return ",
        "GET /merchant/return/{id}",
        "GET /merchant/refund-transaction ",
        "GET /merchant/refund-transaction/{id}",
    ] {
        let line = out.lines().find(|l| l.contains(path)).unwrap_or_default();
        assert!(
            line.contains("200") && line.contains("as modelled"),
            "{path}: {out}"
        );
    }
    assert!(!out.contains("DM-2"), "no data values: {out}");
    assert!(!out.contains(host_test::dev::simulator::PRODUCTION_KEY));
}

#[test]
fn plugin_text_reaches_the_terminal_only_through_the_output_layer() {
    let plugin = scratch_dir("terminal").join("rogue.wasm");
    let _ = std::fs::write(&plugin, &crate::support::fixtures().rogue);
    let path = plugin.to_string_lossy().into_owned();
    let output = Command::new(env!("CARGO_BIN_EXE_dema-host"))
        .args([
            "--plugin",
            &path,
            "--accept-plugin",
            "call",
            "terminal_attack",
        ])
        .env("HOME", scratch_dir("home"))
        .env("XDG_CONFIG_HOME", scratch_dir("terminal-config"))
        .env("XDG_STATE_HOME", scratch_dir("terminal-state"))
        .env(
            "DEMA_CACHE_DIR",
            std::env::temp_dir().join(format!("dema-cli-cache-{}", std::process::id())),
        )
        .output()
        .unwrap_or_else(|e| panic!("running dema-host: {e}"));
    assert!(output.status.success(), "{}", stderr(&output));
    let out = String::from_utf8_lossy(&output.stdout);
    for unsafe_char in [
        '\u{1b}',
        '\u{7}',
        '\u{9b}',
        '\u{202E}',
        '\u{E0041}',
        '\u{2028}',
        '\r',
    ] {
        assert!(
            !out.contains(unsafe_char),
            "{unsafe_char:?} reached the terminal"
        );
    }
    assert!(out.contains("cleared") && out.contains("row 0"), "{out}");
    let lines = out.lines().count();
    assert!(lines <= 2_001, "{lines} lines of plugin text");
    assert!(out.contains("more lines cut"), "the cut is marked");
}
