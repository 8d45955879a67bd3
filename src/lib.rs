//! The Ingrid Returns integration for Dema's agent, as a `dema:integration` component.
//!
//! Layout (matching the architecture):
//! - [`api`]: plain Rust mirrors of the WIT types, so all logic compiles and is tested natively;
//! - [`transport`]: the [`transport::Transport`] trait, the only way this crate reaches the host;
//! - [`ingrid`]: the Ingrid client: endpoint catalog (every modelled path and field), models,
//!   error mapping;
//! - [`tools`]: the tool registry and one module per tool;
//! - [`connector`]: the four exported functions, written against `Transport`;
//! - `glue` (wasm only): the wit-bindgen bindings and the conversions to and from them;
//! - `runtime` (wasm only): panic handler, allocator and `cabi_realloc`, which std gave.
//!
//! The component is `no_std` (alloc only): std's panic, I/O and backtrace machinery was a
//! sizeable share of it. Native builds (tests) keep std.

#![cfg_attr(target_family = "wasm", no_std)]

extern crate alloc;

pub mod api;
pub mod connector;
pub mod ingrid;
pub mod manifest;
pub mod money;
pub mod tools;
pub mod transport;

#[cfg(target_family = "wasm")]
mod glue;
#[cfg(target_family = "wasm")]
mod runtime;

/// What std's prelude gives and `no_std` does not.
mod prelude {
    pub use alloc::boxed::Box;
    pub use alloc::format;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod testing;
