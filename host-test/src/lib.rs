//! The Dema plugin host for the `dema:integration` world. Layers, from the guest outwards:
//!
//! - [`runtime`]: the engine, a fresh store per call, limits and the compile cache;
//! - [`outbound`]: the mechanism behind the `http` import (send, caps, redaction, failures);
//! - [`policy`]: every rule about what a guest may do and what the person is asked;
//! - [`keys`]: where each credential slot's key comes from, looked up per call;
//! - [`session`]: one loaded plugin on one target, the call flow every face uses;
//! - [`cli`]: the command-line face (`dema-host`);
//! - [`mcp`]: the MCP face (`dema-host mcp`), the same session served to agents;
//! - [`package`]: marketplace packages: signing (publisher) and verifying (operator);
//! - [`dev`]: development aids that know Ingrid: the simulator and the demo.
//!
//! docs/ARCHITECTURE.md describes the layers, a call's flow and the contracts (C1-C12) that
//! comments cite.

pub mod bindings;
pub mod cache;
pub mod cli;
pub mod dev;
pub mod keys;
pub mod manifest;
pub mod mcp;
pub mod outbound;
pub mod package;
pub mod policy;
pub mod private_file;
pub mod runtime;
pub mod session;

/// The Ingrid plugin built from this workspace, embedded as the default plugin.
pub const EMBEDDED_PLUGIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ingrid_plugin.wasm"));
/// The `rustc --version` that built [`EMBEDDED_PLUGIN`] (release profile, `wasm32-wasip2`).
pub const EMBEDDED_PLUGIN_RUSTC: &str =
    include_str!(concat!(env!("OUT_DIR"), "/ingrid_plugin.rustc"));
/// The post-link optimiser that shrank [`EMBEDDED_PLUGIN`] (`wasm-opt version N -Oz`, or `none`).
pub const EMBEDDED_PLUGIN_OPTIMISER: &str =
    include_str!(concat!(env!("OUT_DIR"), "/ingrid_plugin.optimiser"));
