//! What the integration tests share: the fixture plugins (built once per run), runtimes, the
//! compiled embedded plugin, and a loopback echo server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use host_test::EMBEDDED_PLUGIN;
use host_test::cache::CompileCache;
use host_test::runtime::{Limits, Runtime};
use sha2::{Digest, Sha256};

/// The deadline of the runtime used for the time attacks (the default is 10 s).
pub const SHORT_DEADLINE: Duration = Duration::from_millis(1_500);

pub struct Fixtures {
    pub rogue: Vec<u8>,
    pub mismatch: Vec<u8>,
    pub net_importer: Vec<u8>,
    pub external_ref: Vec<u8>,
    /// A plugin that is not Ingrid: its own slot, header and host.
    pub acme: Vec<u8>,
    /// Schemas that attack the host's validator.
    pub hostile_schemas: Vec<u8>,
    /// Proposals that try to make the person approve something else than what is applied.
    pub deceiver: Vec<u8>,
    /// Built against `dema:integration@0.2.0`, a version this host does not implement.
    pub future_world: Vec<u8>,
    pub cache: CompileCache,
}

pub fn target_dir() -> PathBuf {
    // `<target>/tmp`, for integration tests.
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("CARGO_TARGET_TMPDIR has no parent"))
}

/// Builds the fixture workspace (once per test binary) and compiles the rogue once.
pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let build_dir = target_dir().join("fixtures-build");
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/Cargo.toml");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        let mut command = Command::new(cargo);
        command
            .args([
                "build",
                "--locked",
                "--release",
                "--target",
                "wasm32-wasip2",
            ])
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&build_dir);
        for var in crate::wasm_env::HOST_ONLY_ENV {
            command.env_remove(var);
        }
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("running cargo to build the fixtures: {e}"));
        assert!(
            output.status.success(),
            "building the fixture plugins failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let read = |name: &str| {
            let path = build_dir.join("wasm32-wasip2/release").join(name);
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        let fixtures = Fixtures {
            rogue: read("rogue.wasm"),
            mismatch: read("mismatch.wasm"),
            net_importer: read("net_importer.wasm"),
            external_ref: read("external_ref.wasm"),
            acme: read("acme.wasm"),
            hostile_schemas: read("hostile_schemas.wasm"),
            deceiver: read("deceiver.wasm"),
            future_world: read("future_world.wasm"),
            cache: CompileCache::at(build_dir.join("compiled")),
        };
        // Compile the rogue once, before the tests race to load it.
        let digest = hex::encode(Sha256::digest(&fixtures.rogue));
        if let Err(error) =
            fixtures
                .cache
                .load_or_compile(runtime().engine(), &fixtures.rogue, &digest)
        {
            panic!("compiling the rogue fixture: {error}");
        }
        fixtures
    })
}

pub fn runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| Runtime::new(Limits::default()).unwrap_or_else(|e| panic!("runtime: {e}")))
        .clone()
}

/// Same engine configuration (so the same compiled artifacts), a 1.5 s deadline per call.
pub fn short_runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let limits = Limits {
                deadline: SHORT_DEADLINE,
                ..Limits::default()
            };
            Runtime::new(limits).unwrap_or_else(|e| panic!("runtime: {e}"))
        })
        .clone()
}

/// One runtime and one compile cache per test binary: the component is compiled once.
pub fn shared() -> (Arc<Runtime>, &'static CompileCache) {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    static CACHE: OnceLock<CompileCache> = OnceLock::new();
    let runtime = RUNTIME
        .get_or_init(|| Runtime::new(Limits::default()).unwrap_or_else(|e| panic!("runtime: {e}")))
        .clone();
    let cache = CACHE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("dema-e2e-cache-{}", std::process::id()));
        let cache = CompileCache::at(dir);
        // Compile once, before the tests race to load it.
        let digest = hex::encode(Sha256::digest(EMBEDDED_PLUGIN));
        if let Err(error) = cache.load_or_compile(runtime.engine(), EMBEDDED_PLUGIN, &digest) {
            panic!("compiling the embedded plugin: {error}");
        }
        cache
    });
    (runtime, cache)
}

/// The embedded plugin on a fresh embedded simulator, compiled once per test binary.
pub async fn ingrid_session(runtime: Arc<Runtime>) -> host_test::session::Session {
    let (_, cache) = shared();
    host_test::session::Session::builder(EMBEDDED_PLUGIN)
        .runtime(runtime)
        .target(host_test::session::Target::EmbeddedSimulator)
        .cache(Some(cache))
        .start()
        .await
        .unwrap_or_else(|e| panic!("session: {e}"))
}

/// A loopback server that reflects the request's headers, the injected key included, in its
/// body and in a response header. Records the values of `key_header` it received.
pub async fn start_echo_server(key_header: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("echo server: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("echo server: {e}"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let recorder = recorder.clone();
        async move {
            let key = headers
                .get(key_header)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            recorder
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(key.clone());
            let mut listing: String = headers
                .iter()
                .map(|(name, value)| {
                    format!("{name}={}; ", String::from_utf8_lossy(value.as_bytes()))
                })
                .collect();
            // The key again, in the encodings a server might echo it in.
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD.encode(format!("k:{key}"));
            let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key);
            let hex = hex::encode(&key);
            let percent: String = key.bytes().map(|b| format!("%{b:02X}")).collect();
            let json: String = key
                .chars()
                .map(|c| format!("\\u{:04x}", c as u32))
                .collect();
            listing.push_str(&format!(
                "b64={b64}; b64url={url_safe}; hex={hex}; pct={percent}; json={json}; "
            ));
            ([("x-echoed-key", key)], listing)
        }
    });
    tokio::spawn(async move {
        // Ends with the test's runtime.
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}
