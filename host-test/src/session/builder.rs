//! Starting a session: one builder for every face and test.

use std::net::SocketAddr;
use std::sync::Arc;

use super::Session;
use crate::cache::CompileCache;
use crate::dev::simulator;
use crate::keys::{CallKeys, KeyError, KeySource, OperatorKeys, Secret, TryKey};
use crate::manifest::Manifest;
use crate::outbound::{OutboundConfig, Responder};
use crate::policy::audit::AuditLog;
use crate::policy::egress::StubLookup;
use crate::policy::gate::ApprovalLedger;
use crate::policy::grant::{Grant, GrantError, Reach};
use crate::policy::install::InstallRecord;
use crate::policy::request::RequestRules;
use crate::runtime::{LoadError, Runtime};

/// Where the plugin's requests go.
#[derive(Debug, Clone)]
pub enum Target {
    /// The Ingrid simulator, started in this process on 127.0.0.1 (the default).
    EmbeddedSimulator,
    /// A server on loopback (a simulator already running, a test's echo server) standing in for
    /// the plugin's hosts.
    Development(String),
    /// The plugin's service over TLS: this base URL if the manifest grants it, else the
    /// manifest's default.
    Live { base_url: Option<String> },
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("{0}")]
    Grant(#[from] GrantError),
    #[error("could not start the simulator: {0}")]
    Simulator(String),
    #[error("could not start the runtime: {0}")]
    Runtime(String),
    #[error("{0}")]
    Load(#[from] LoadError),
}

/// Collects what a session needs; [`SessionBuilder::start`] checks and loads the plugin.
pub struct SessionBuilder<'a> {
    wasm: &'a [u8],
    target: Target,
    runtime: Option<Arc<Runtime>>,
    cache: Option<&'a CompileCache>,
    keys: Option<Arc<dyn KeySource>>,
    audit: Option<AuditLog>,
    installed: Option<InstallRecord>,
    stub_lookup: Option<StubLookup>,
    trying: Option<(String, Secret)>,
    responder: Option<Arc<dyn Responder>>,
}

impl<'a> SessionBuilder<'a> {
    pub(super) fn new(wasm: &'a [u8]) -> Self {
        SessionBuilder {
            wasm,
            target: Target::EmbeddedSimulator,
            runtime: None,
            cache: None,
            keys: None,
            audit: None,
            installed: None,
            stub_lookup: None,
            trying: None,
            responder: None,
        }
    }

    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// Shares a runtime (its engine, limits and epoch ticker); by default a new one with the
    /// default limits.
    pub fn runtime(mut self, runtime: Arc<Runtime>) -> Self {
        self.runtime = Some(runtime);
        self
    }

    pub fn cache(mut self, cache: Option<&'a CompileCache>) -> Self {
        self.cache = cache;
        self
    }

    /// Where keys come from. By default: the operator's keys live, the simulator's key in
    /// development.
    pub fn keys(mut self, keys: Arc<dyn KeySource>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Uses `key` for `slot` instead of its usual key (a key being validated before it is
    /// stored); the other slots keep theirs.
    pub fn try_key(mut self, slot: &str, key: Secret) -> Self {
        self.trying = Some((slot.to_string(), key));
        self
    }

    /// Every invocation of the session is recorded here.
    pub fn audit(mut self, audit: AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The operator's install record for this plugin; live origins and slots must be in it.
    pub fn installed(mut self, record: Option<InstallRecord>) -> Self {
        self.installed = record;
        self
    }

    /// Replaces DNS for the plugin's requests (tests, contract C10).
    pub fn stub_lookup(mut self, lookup: StubLookup) -> Self {
        self.stub_lookup = Some(lookup);
        self
    }

    /// Answers the plugin's requests in this process instead of sending them (benchmarks; see
    /// [`Responder`]). Every policy check still runs.
    pub fn responder(mut self, responder: Arc<dyn Responder>) -> Self {
        self.responder = Some(responder);
        self
    }

    pub async fn start(self) -> Result<Session, SessionError> {
        let runtime = match self.runtime {
            Some(runtime) => runtime,
            None => Runtime::new(Default::default())
                .map_err(|e| SessionError::Runtime(e.to_string()))?,
        };
        let manifest = Manifest::from_component(self.wasm).map_err(LoadError::from)?;
        let (simulator, reach) = match self.target {
            Target::EmbeddedSimulator => {
                let handle = simulator::start(SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                    .map_err(|e| SessionError::Simulator(e.to_string()))?;
                let base_url = handle.base_url();
                (Some(handle), Reach::Development { base_url })
            }
            Target::Development(base_url) => (None, Reach::Development { base_url }),
            Target::Live { base_url } => (None, Reach::Live { base_url }),
        };
        let live = matches!(reach, Reach::Live { .. });
        let grant = Grant::derive(&manifest, self.installed.as_ref(), &reach)?;
        let keys: Arc<dyn KeySource> = match (self.keys, live) {
            (Some(keys), _) => keys,
            (None, true) => Arc::new(OperatorKeys::default_location()),
            (None, false) => Arc::new(simulator::simulator_keys()),
        };
        let keys: Arc<dyn KeySource> = match self.trying {
            Some((slot, key)) => Arc::new(TryKey {
                slot,
                key,
                others: keys,
            }),
            None => keys,
        };
        // Fail at start rather than at the first call when a key is missing; each call still
        // looks its keys up again (C9).
        CallKeys::resolve(&grant.slots, keys.as_ref())?;
        let limits = runtime.limits().http.clone();
        let rules = RequestRules::of(&grant, limits.max_request_body_bytes);
        let mut outbound = OutboundConfig::new(rules, limits, self.stub_lookup);
        if let Some(responder) = self.responder {
            outbound = outbound.with_responder(responder);
        }
        let outbound = Arc::new(outbound);
        let plugin = runtime
            .load(self.wasm, manifest, self.cache, outbound)
            .await?;
        Ok(Session {
            plugin,
            grant,
            keys,
            approvals: ApprovalLedger::default(),
            audit: self.audit,
            simulator,
            last_keys: Default::default(),
        })
    }
}
