//! Host policy: what a guest may do at the `http` choke point, decided by the host alone.
//!
//! - [`gate`]: the confirmation gate of contract C1 (approvals bound to the exact change);
//! - [`confirm`]: what the person is shown, and who answers;
//! - [`egress`]: which resolved addresses a request may reach;
//! - [`audit`]: the JSON Lines audit log;
//! - [`install`]: the operator's install record (what the host trusts).

pub mod audit;
pub mod confirm;
pub mod egress;
pub mod gate;
pub mod install;
