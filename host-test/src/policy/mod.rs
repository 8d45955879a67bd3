//! Host policy: every decision about what a guest may do, and what the person is asked, decided
//! by the host alone. One concept per file; a new rule goes in the file of its concept.
//!
//! - [`grant`]: what a loaded plugin may reach and with which credential slots (manifest,
//!   install record and target);
//! - [`request`]: the rules one guest request must pass (origin, scheme, IP literals, headers,
//!   methods, credential placement, body size; redirects are never followed);
//! - [`egress`]: which resolved addresses a request may connect to;
//! - [`world`]: the `dema:integration` versions this host runs and the imports it provides,
//!   read from a component's WIT names;
//! - [`imports`]: the same import allow-list, on the compiled component's types;
//! - [`schema`]: the rules for tools' input and output schemas;
//! - [`gate`]: the write gate of contract C1 (approvals bound to the exact change);
//! - [`confirm`]: what the person is shown, and the answers a confirmer may give;
//! - [`display`]: the one output layer every plugin-written string passes to reach a person;
//! - [`audit`]: the JSON Lines audit log (C7);
//! - [`install`]: the operator's install record (C8, what the host trusts).

pub mod audit;
pub mod confirm;
pub mod display;
pub mod egress;
pub mod gate;
pub mod grant;
pub mod imports;
pub mod install;
pub mod request;
pub mod schema;
pub mod world;

#[cfg(test)]
mod fuzz;
