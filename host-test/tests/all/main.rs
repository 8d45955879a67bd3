//! The integration tests, one binary (one link of wasmtime): the CLI as a person runs it, the
//! embedded plugin end to end against the simulator, adversarial fixture plugins, and plugins
//! that are not Ingrid.

#[path = "../../build/wasm_env.rs"]
mod wasm_env;

mod adversarial;
mod analysis;
mod cli;
mod confirmation;
mod end_to_end;
mod faults;
mod fuel_budget;
mod mcp;
mod packaging;
mod plugins;
mod schemas;
mod soak;
mod support;
