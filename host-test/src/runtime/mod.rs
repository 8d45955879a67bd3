//! The wasmtime runtime: one engine per process, a component compiled once (and cached), and a
//! fresh store per call with a wall deadline, fuel and a cap on the guest's total memory (P6).
//!
//! - [`wasi`]: WASI linked interface by interface (io, clocks, random, stdio-style cli with an
//!   empty context; no filesystem, sockets or `wasi:http`);
//! - [`call_state`]: what one call's store holds, and the host side of the `http` and `log`
//!   imports;
//! - [`plugin`]: a loaded plugin, and running one export in a fresh store.

mod call_state;
mod plugin;
mod wasi;

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

use crate::bindings::{Integration, IntegrationPre};
use crate::cache::CompileCache;
use crate::keys::KeyError;
use crate::manifest::{Manifest, ManifestError};
use crate::outbound::{HttpLimits, OutboundConfig};
use crate::policy::imports;
use crate::policy::schema::SchemaError;
use crate::policy::world::{ComponentWorld, WorldError};

pub use call_state::{CallObserver, CallState, Flow};
pub use plugin::{CallReport, HostTool, INLINE_CHECK_BYTES, Plugin};

/// Per-call limits, with safe defaults.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall time for a whole call, time blocked in host calls included.
    pub deadline: Duration,
    /// Instructions-ish budget per call.
    pub fuel: u64,
    /// Sum of all the guest's linear memories.
    pub memory_bytes: usize,
    /// Largest tool output (text plus structured JSON) accepted from the guest.
    pub max_output_bytes: usize,
    /// Largest arguments (JSON text) checked against a tool's input schema: with the schema
    /// subset (`policy::schema`), this bounds the time the check takes.
    pub max_argument_bytes: usize,
    /// Largest number of tools and size of a schema accepted from `list-tools`.
    pub max_tools: usize,
    pub max_schema_bytes: usize,
    /// Caps of the `http` import (requests per call, body sizes, per-request timeout).
    pub http: HttpLimits,
    /// Plugin calls running at once in this process; more wait (within their deadline) for a
    /// place. With `memory_bytes` this bounds the guests' memory: 8 x 64 MiB by default. The
    /// instance pool is sized to it.
    pub max_concurrent_calls: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(10),
            fuel: 5_000_000_000,
            memory_bytes: 64 << 20,
            max_output_bytes: 1 << 20,
            max_argument_bytes: 1 << 20,
            http: HttpLimits::default(),
            max_tools: 128,
            max_schema_bytes: 64 << 10,
            max_concurrent_calls: 8,
        }
    }
}

/// Epoch ticks every 10 ms drive both the yield to the executor and the deadline check.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// A guest answer, or why there is none.
pub type Outcome<T> = Result<T, CallFailure>;

/// Why a call produced no answer from the guest.
#[derive(Debug, thiserror::Error)]
pub enum CallFailure {
    #[error("the plugin did not finish within its {0:?} deadline")]
    DeadlineExceeded(Duration),
    /// Every place for a running call stayed taken until the call's deadline.
    #[error(
        "the host was already running its limit of {0} plugin calls until this call's \
         deadline; nothing was run: try again"
    )]
    Busy(u32),
    #[error("the plugin used up its compute budget ({0} fuel)")]
    OutOfFuel(u64),
    #[error("the plugin exceeded its memory limit of {0} MiB")]
    MemoryLimit(usize),
    #[error("the plugin's output is larger than the host's limit of {0} bytes")]
    OutputTooLarge(usize),
    #[error("the plugin crashed: {0}")]
    Trap(String),
    /// The host could not record the call; it does not go on unrecorded.
    #[error("{0}")]
    Audit(String),
    /// A credential slot's key could not be found for this call.
    #[error("{0}")]
    Key(#[from] KeyError),
    /// Its caller stopped the call before the guest's next request (a cancelled MCP call).
    #[error("{0}")]
    Stopped(String),
}

/// Errors loading a plugin: each is one line a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    #[error("the file is not a valid WebAssembly component: {0}")]
    NotAComponent(String),
    #[error("the plugin imports `{0}`, which this host does not provide")]
    ForbiddenImport(String),
    #[error("{0}")]
    World(WorldError),
    #[error("the plugin could not be prepared: {0}")]
    Link(String),
    #[error("the plugin's tool list disagrees with its manifest: {0}")]
    ManifestMismatch(String),
    #[error("{0}")]
    BadSchema(#[from] SchemaError),
    #[error("listing the plugin's tools failed: {0}")]
    ListTools(#[from] CallFailure),
}

/// One per process: the engine, its epoch ticker and the linker.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    limits: Limits,
    /// One permit per running call; the instance pool holds exactly that many instances.
    running: tokio::sync::Semaphore,
}

/// What one running call's component may hold, as the store's limiter also counts it
/// (`call_state::MemoryCap`): the pool reserves this much per call.
const MAX_CORE_INSTANCES_PER_CALL: u32 = 16;
const MAX_MEMORIES_PER_CALL: u32 = 8;
const MAX_TABLES_PER_CALL: u32 = 16;
/// Largest table the limiter lets a guest grow to.
pub(crate) const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The pooling allocator: instances, memories, tables and fiber stacks are reserved once for
/// `calls` running calls and reused, so a call's instantiation maps nothing (the on-demand
/// allocator mapped and unmapped each call's memory and stack). Slots return decommitted.
fn pooling(calls: u32, limits: &Limits) -> wasmtime::PoolingAllocationConfig {
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_component_instances(calls)
        .total_core_instances(calls.saturating_mul(MAX_CORE_INSTANCES_PER_CALL))
        .total_memories(calls.saturating_mul(MAX_MEMORIES_PER_CALL))
        .total_tables(calls.saturating_mul(MAX_TABLES_PER_CALL))
        .total_stacks(calls)
        .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_CALL)
        .max_memories_per_component(MAX_MEMORIES_PER_CALL)
        .max_tables_per_component(MAX_TABLES_PER_CALL)
        .max_memory_size(limits.memory_bytes)
        .table_elements(MAX_TABLE_ELEMENTS)
        .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
        .table_keep_resident(KEEP_RESIDENT_TABLE);
    pool
}

/// How much of a slot's memory and table a finished call leaves mapped, reset in place: on
/// Linux with `PAGEMAP_SCAN` only the pages the call wrote are reset (to zero, or to the
/// component's data), so a small call's slot is reused with no `madvise`, no TLB shootdown on
/// the other cores and no page faults the next time. A call that wrote more has the rest
/// decommitted as before. At most 8 slots x 4 MiB stay resident.
const KEEP_RESIDENT_MEMORY: usize = 4 << 20;
const KEEP_RESIDENT_TABLE: usize = 1 << 20;

impl Runtime {
    pub fn new(limits: Limits) -> anyhow::Result<Arc<Runtime>> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.consume_fuel(true);
        config.max_wasm_stack(512 << 10);
        let calls = limits.max_concurrent_calls.max(1);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling(
            calls, &limits,
        )));
        let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut linker = Linker::new(&engine);
        wasi::link(&mut linker).map_err(|e| anyhow::anyhow!("{e}"))?;
        Integration::add_to_linker::<_, wasmtime::component::HasSelf<CallState>>(
            &mut linker,
            |state| state,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        Ok(Arc::new(Runtime {
            engine,
            linker,
            limits,
            running: tokio::sync::Semaphore::new(calls as usize),
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Takes every place for a running call, as that many long calls would, until the guard
    /// is dropped: how the tests reach the limit without racing real calls.
    #[doc(hidden)]
    pub async fn occupy_every_call_place(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        let places = self.limits.max_concurrent_calls.max(1);
        self.running.acquire_many(places).await.ok()
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Compiles (or loads from the cache) and links a plugin, then checks its tool list against
    /// `manifest`, which the caller read from these bytes ([`Manifest::from_component`]) before
    /// any of the plugin's code runs.
    pub async fn load(
        self: &Arc<Self>,
        wasm: &[u8],
        manifest: Manifest,
        cache: Option<&CompileCache>,
        outbound: Arc<OutboundConfig>,
    ) -> Result<Plugin, LoadError> {
        // The world's version and imports by name first: nothing is compiled for a component
        // this host cannot run.
        let built = ComponentWorld::read(wasm)
            .and_then(|world| world.check())
            .map_err(|error| match error {
                WorldError::ForbiddenImport(name) => LoadError::ForbiddenImport(name),
                other => LoadError::World(other),
            })?;
        if manifest.wit_version != built.to_string() {
            return Err(LoadError::World(WorldError::ManifestDisagrees {
                manifest: manifest.wit_version.clone(),
                built: built.to_string(),
            }));
        }
        let digest = hex::encode(Sha256::digest(wasm));
        let component = match cache {
            Some(cache) => cache
                .load_or_compile(&self.engine, wasm, &digest)
                .map_err(|e| e.to_string()),
            None => Component::new(&self.engine, wasm).map_err(|e| e.to_string()),
        }
        .map_err(LoadError::NotAComponent)?;
        if let Some(name) = imports::forbidden_import(&component, &self.engine) {
            return Err(LoadError::ForbiddenImport(name));
        }
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link(e.to_string()))?;
        let pre = IntegrationPre::new(pre).map_err(|e| LoadError::Link(e.to_string()))?;
        Plugin::check(self.clone(), pre, manifest, digest, outbound).await
    }
}
