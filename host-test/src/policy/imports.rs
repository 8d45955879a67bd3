//! The import allow-list (P6), checked a second time on the compiled component's types: the
//! names come from [`super::world`]'s one list (our package's interfaces, WASI on its 0.2
//! track); anything else (filesystem, sockets, `wasi:http`, unknown packages) is refused at
//! load time, by name, before any of the plugin's code runs.

use wasmtime::Engine;
use wasmtime::component::{Component, types::ComponentItem};

use super::world::{Item, import_allowed};

/// The first import the host does not provide, if any.
pub fn forbidden_import(component: &Component, engine: &Engine) -> Option<String> {
    component
        .component_type()
        .imports(engine)
        .find(|(name, item)| {
            let kind = match item.ty {
                ComponentItem::ComponentInstance(_) => "instance",
                _ => "other",
            };
            !import_allowed(&Item {
                name: name.to_string(),
                kind,
            })
        })
        .map(|(name, _)| name.to_string())
}
