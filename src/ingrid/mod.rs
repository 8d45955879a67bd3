//! The Ingrid Returns client: the endpoint catalog (every path, parameter and field this plugin
//! assumes), the models, and the mapping of HTTP outcomes to errors an agent can act on.

pub mod catalog;
pub mod client;
pub mod error;
pub mod http_date;
pub mod json;
pub mod models;

pub use client::IngridClient;
pub use error::IngridError;
