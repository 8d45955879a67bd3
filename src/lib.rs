//! The Ingrid Returns integration for Dema's agent, as a `dema:integration` component.
//!
//! Layout (matching the architecture):
//! - [`api`]: plain Rust mirrors of the WIT types, so all logic compiles and is tested natively;
//! - [`transport`]: the [`transport::Transport`] trait, the only way this crate reaches the host;
//! - [`ingrid`]: the Ingrid client: endpoint catalog (every modelled path and field), models,
//!   error mapping;
//! - [`tools`]: the tool registry and one module per tool;
//! - [`connector`]: the four exported functions, written against `Transport`;
//! - `glue` (wasm only): the wit-bindgen bindings and the conversions to and from them.

pub mod api;
pub mod connector;
pub mod ingrid;
pub mod manifest;
pub mod tools;
pub mod transport;

#[cfg(target_family = "wasm")]
mod glue;

#[cfg(test)]
mod testing;
