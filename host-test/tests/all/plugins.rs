//! A plugin that is not Ingrid (the `acme` fixture: slot `acme-token`, header `X-Acme-Token`,
//! host `api.acme.test`): the host derives its slot, header, origin and key source from its
//! manifest alone, and looks its key up for every call. Every packet goes to a loopback echo
//! server standing in for its host (C10).

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use host_test::keys::{OperatorKeys, Secret};
use host_test::policy::confirm::NoHuman;
use host_test::policy::grant::BASE_URL_SETTING;
use host_test::session::{Session, Target, ToolCall};

use crate::support::{fixtures, runtime, start_echo_server};

fn scratch_credentials(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dema-plugins-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("credentials.json")
}

fn write_key(path: &std::path::Path, key: &str) {
    let stored = OperatorKeys::file_only(path).store("acme-token", &Secret::new(key));
    assert!(stored.is_ok(), "{stored:?}");
    let mode = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
}

async fn whoami(session: &Session) -> String {
    match session.call("whoami", "{}", &NoHuman).await {
        Ok((ToolCall::Result(result), _)) => result.text,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_plugins_key_goes_under_its_own_header_to_its_own_origin_and_rotates_per_call() {
    let (echo_url, seen) = start_echo_server("x-acme-token").await;
    let credentials = scratch_credentials("rotate");
    write_key(&credentials, "acme-first-7c1d");
    let session = Session::builder(&fixtures().acme)
        .runtime(runtime())
        .target(Target::Development(echo_url.clone()))
        .cache(Some(&fixtures().cache))
        .keys(Arc::new(OperatorKeys::file_only(&credentials)))
        .start()
        .await
        .unwrap_or_else(|e| panic!("loading the acme fixture: {e}"));
    assert_eq!(session.base_url(), echo_url);
    assert_eq!(
        session.grant().settings(),
        vec![(BASE_URL_SETTING.to_string(), echo_url.clone())]
    );

    let first = whoami(&session).await;
    // The echo server saw the key under the plugin's own header, and nothing under Ingrid's.
    assert!(first.starts_with("status 200"), "{first}");
    assert!(first.contains("x-acme-token=[REDACTED]"), "{first}");
    assert!(!first.contains("x-api-key"), "{first}");
    assert!(
        !first.contains("acme-first"),
        "redacted from the guest: {first}"
    );

    // Rotated while the session runs: the next call uses the new key.
    write_key(&credentials, "acme-second-9e4b");
    let second = whoami(&session).await;
    assert!(second.starts_with("status 200"), "{second}");
    assert_eq!(
        *seen.lock().unwrap_or_else(|p| p.into_inner()),
        vec![
            "acme-first-7c1d".to_string(),
            "acme-second-9e4b".to_string()
        ]
    );

    // A key removed while the session runs: the next call stops before sending anything.
    let _ = std::fs::remove_file(&credentials);
    match session.call("whoami", "{}", &NoHuman).await {
        Err(failure) => {
            let message = failure.to_string();
            assert!(
                message.contains("`acme-token`") && message.contains("ACME_TOKEN"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(seen.lock().unwrap_or_else(|p| p.into_inner()).len(), 2);
    session.shutdown().await;
    let _ = std::fs::remove_dir_all(credentials.parent().unwrap_or(&credentials));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_base_url_the_manifest_does_not_grant_is_refused_before_any_request() {
    for base_url in ["https://api.turnr.se", "https://api.acme.test.evil.test"] {
        let started = Session::builder(&fixtures().acme)
            .runtime(runtime())
            .target(Target::Live {
                base_url: Some(base_url.to_string()),
            })
            .cache(Some(&fixtures().cache))
            .keys(Arc::new(OperatorKeys::file_only(scratch_credentials(
                "live",
            ))))
            .start()
            .await;
        match started {
            Err(error) => assert!(
                error.to_string().contains("does not grant"),
                "{base_url}: {error}"
            ),
            Ok(_) => panic!("{base_url} was accepted"),
        }
    }
}
