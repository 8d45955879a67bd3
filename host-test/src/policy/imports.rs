//! The import allow-list (P6): the interfaces a plugin may import. Anything else (filesystem,
//! sockets, `wasi:http`, unknown packages) is refused at load time, by name, before any of the
//! plugin's code runs.

use wasmtime::Engine;
use wasmtime::component::{Component, types::ComponentItem};

const ALLOWED_IMPORT_PREFIXES: &[&str] = &[
    "dema:integration/http@0.1.",
    "dema:integration/log@0.1.",
    "dema:integration/types@0.1.",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/environment@",
    "wasi:cli/exit@",
    "wasi:cli/stdin@",
    "wasi:cli/stdout@",
    "wasi:cli/stderr@",
    "wasi:cli/terminal-",
];

/// The first import the host does not provide, if any.
pub fn forbidden_import(component: &Component, engine: &Engine) -> Option<String> {
    component
        .component_type()
        .imports(engine)
        .find(|(name, item)| {
            let allowed = ALLOWED_IMPORT_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix));
            !allowed || !matches!(item.ty, ComponentItem::ComponentInstance(_))
        })
        .map(|(name, _)| name.to_string())
}
