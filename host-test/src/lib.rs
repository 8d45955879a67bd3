//! The Dema plugin host for the `dema:integration` world: the wasmtime runtime, the outbound
//! `http` import, the Ingrid simulator and the pieces the CLI is made of.

pub mod bindings;
pub mod cache;
pub mod credentials;
pub mod manifest;
pub mod outbound;
pub mod policy;
pub mod private_file;
pub mod runtime;
pub mod session;
pub mod simulator;

/// The Ingrid plugin built from this workspace, embedded as the default plugin.
pub const EMBEDDED_PLUGIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ingrid_plugin.wasm"));
