//! Host bindings for the `dema:integration` world (generated; kept in their own module).

wasmtime::component::bindgen!({
    world: "integration",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use dema::integration::http;
pub use dema::integration::log;
pub use dema::integration::types;
pub use exports::dema::integration::connector;
