//! The Ingrid Returns simulator: the *modelled* Ingrid Returns Public API
//! (docs/ARCHITECTURE.md, M1-M16) as a real HTTP server on loopback, with deterministic seed data
//! and the model's lifecycle rules.
//!
//! Start it with [`start`]; it runs on the current tokio runtime until [`SimulatorHandle::shutdown`]
//! (or until the handle is dropped). State (seed plus every change) lives as long as the server.
//!
//! # Behaviour
//! - Everything under `/merchant/` needs `x-api-key: `[`PRODUCTION_KEY`]; any other or missing
//!   key gets the same generic `401 {"message", "code": "UNAUTHORIZED"}`.
//! - Every response carries `X-Trace-Id: sim-NNNNNN` (a per-server counter).
//! - Lists: `afterId` keyset cursor (ids > afterId, ascending), `limit` 1..=100 (default 50),
//!   `createdFrom`/`createdTo` RFC 3339, both inclusive. Unknown parameters are ignored.
//!   M15: `status` takes comma-separated values (any matches); returns filter on
//!   `updatedFrom`/`updatedTo` (inclusive); `query` on returns and orders matches a substring of
//!   the order number or the order's customer email, ignoring case.
//! - Injected failures ([`SimulatorHandle::inject_failures`] or `POST /_sim/failures` with
//!   `{"status", "count", "retryAfterSecs"?}`) are queued and answer the next `/merchant/*`
//!   requests before auth; a 429 always carries `Retry-After` (1 s unless given).
//! - Faults per route and call number ([`SimulatorHandle::inject`], or a faults file, see
//!   [`fault_file`]): latency, 429 with `Retry-After` in seconds or as an HTTP date, 5xx,
//!   resets before the request is read or after a write is applied, truncated, malformed,
//!   oversized or trickled bodies, a missing or changed field, a proxy's HTML page. A fault
//!   that answers instead of the API does so before auth and before queued failures.
//! - Counters ([`SimulatorHandle::counters`]): requests per route, writes applied per resource.
//! - Errors are `{"message", "code"}` (M5), or RFC 9457 problem details
//!   ([`SimulatorHandle::set_error_shape`]); a 422 of a report then names each bad item in
//!   `errors[]` (`param` like `items[0].quantity`).
//! - Request bodies above 64 KiB get 413.
//!
//! # Seed facts tests can rely on (checked by `seed_matches_documented_facts`)
//! - 520 orders, ids 10001..=10520, order numbers `DM-200001`..=`DM-200520`, created
//!   2026-01-05..2026-11-20; line item ids 30001..=31490. Currencies: SEK 249, EUR 161,
//!   GBP 110 orders.
//! - 150 returns, ids 50001..=50150, each on a distinct order; return item ids 70001..=70372.
//! - Return statuses (REFUND/EXCHANGE): AWAITING_RETURN 30 (22/8), IN_TRANSIT 30 (22/8),
//!   AWAITING_REFUND 25 (REFUND only), AWAITING_EXCHANGE 20 (EXCHANGE only), COMPLETED 45
//!   (34/11, of which 5 had every item rejected).
//! - Refund transactions 90001..=90060: PENDING 25 (one per AWAITING_REFUND return), REFUNDED
//!   20, EXTERNALLY_REFUNDED 10 (with externalReference), FAILED 5 (earlier attempts). Refunds
//!   created over the API continue at 90061.
//! - Returns carry `completedAt` (M16): set on the 45 COMPLETED ones, null on the others.
//! - Repeat customers (`seed::REPEAT_CUSTOMERS`): anna.lindqvist@example.com on the orders of
//!   returns 50003, 50033, 50063, 50093; lars.nilsen@example.com on those of 50012, 50062,
//!   50112, 50142. SKUs (product, colour, size) repeat across returns.
//! - Six shopper comments try to instruct an AI agent (`seed::INJECTION_COMMENTS`), each on the
//!   first item of a return: 50107 and 50117 (AWAITING_RETURN), 50075 and 50081 (IN_TRANSIT),
//!   50043 (AWAITING_REFUND), 50001 (COMPLETED).
//!
//! Find a return for a scenario by query rather than by id, e.g. the first REFUND return of
//! `GET /merchant/return?status=IN_TRANSIT`.

mod conn;
pub mod fault_file;
#[cfg(test)]
mod fault_tests;
pub mod faults;
mod gatekeeper;
mod model;
mod problem;
mod routes;
mod seed;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{CallMatch, Counters, Fault, FaultKind, RetryAfter, Route};
pub use problem::ErrorShape;
use routes::{Shared, SimState, lock};

/// The only key the simulator accepts.
pub const PRODUCTION_KEY: &str = "sim-prod-4f1c2a9e7b3d";
/// A stage key: rejected with 401, like any wrong key.
pub const STAGE_KEY: &str = "sim-stage-8a2b6c0d1e5f";
/// A Merchant Platform key (the wrong product): rejected with 401.
pub const MERCHANT_PLATFORM_KEY: &str = "mp-live-3c9e1f7a5b2d";

/// Overrides the key development sessions send to a simulator (a real key is never sent to
/// one).
pub const KEY_ENV: &str = "DEMA_SIM_API_KEY";

/// The key a development session sends: `$DEMA_SIM_API_KEY`, else [`PRODUCTION_KEY`].
pub fn simulator_keys() -> crate::keys::FixedKey {
    let key = std::env::var(KEY_ENV).unwrap_or_else(|_| PRODUCTION_KEY.to_string());
    crate::keys::FixedKey(crate::keys::Secret::new(key))
}

/// One request as the simulator received it, with the status it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub api_key: Option<String>,
    pub body: Vec<u8>,
    /// 0 while the request is still being answered.
    pub status: u16,
}

/// Makes the next `count` requests to `/merchant/*` answer `status` with an error body.
/// A status outside 200..=999 is sent as 500; a 3xx carries `Location: /_sim/redirected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedFailure {
    pub status: u16,
    pub count: u32,
    pub retry_after_secs: Option<u32>,
}

/// A running simulator. Dropping it stops the server too.
pub struct SimulatorHandle {
    addr: SocketAddr,
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimulatorHandle {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in the order received.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared).requests.clone()
    }

    /// Queues a failure after any already queued ones.
    pub fn inject_failures(&self, failure: InjectedFailure) {
        lock(&self.shared).queue_failure(failure);
    }

    /// Adds a fault after those already injected; for each call the first that matches
    /// applies (see [`faults`]). Calls are counted from the simulator's start, so
    /// `CallMatch::Nth(1)` injected after a first call never fires.
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared).faults.inject(fault);
    }

    /// Removes every injected fault (the counters go on).
    pub fn clear_faults(&self) {
        lock(&self.shared).faults.clear();
    }

    /// Requests received per route and writes applied per resource, so far.
    pub fn counters(&self) -> Counters {
        lock(&self.shared).faults.counters.clone()
    }

    /// Requests received on `route` so far, faults and refusals included.
    pub fn requests_received(&self, route: Route) -> u64 {
        lock(&self.shared).faults.counters.requests_to(route)
    }

    /// How many times a write on `route` was applied to the resource `id` (the id in its path).
    pub fn writes_applied(&self, route: Route, id: u64) -> u32 {
        lock(&self.shared).faults.counters.writes_to(route, id)
    }

    /// A fresh PENDING refund transaction, a copy of a seeded one under a new id: long runs
    /// (the soak test) apply a write on a new refund each time.
    pub fn add_pending_refund(&self) -> Option<u64> {
        let mut state = lock(&self.shared);
        let data = &mut state.data;
        let mut refund = data.refunds.values().next()?.clone();
        let id = data.next_refund_id;
        data.next_refund_id += 1;
        refund.id = id;
        refund.status = model::RefundStatus::Pending;
        refund.completed_at = None;
        refund.external_reference = None;
        data.refunds.insert(id, refund);
        Some(id)
    }

    /// The data as it stands, in the API's shapes (`orders`, `returns`, `refundTransactions`,
    /// each ascending by id): tests compute expected answers from it on their own, read-only.
    pub fn snapshot(&self) -> serde_json::Value {
        let state = lock(&self.shared);
        let data = &state.data;
        serde_json::json!({
            "orders": data.orders.values().collect::<Vec<_>>(),
            "returns": data.returns.values().collect::<Vec<_>>(),
            "refundTransactions": data.refunds.values().collect::<Vec<_>>(),
        })
    }

    /// Answers errors from now on in `shape`.
    pub fn set_error_shape(&self, shape: ErrorShape) {
        lock(&self.shared).error_shape = shape;
    }

    /// Stops accepting requests and waits (up to 5 s) for open ones to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            // The server may already be gone; nothing to do then.
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The data a simulator starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Seed {
    /// The documented seed (the module doc's facts).
    #[default]
    Standard,
    /// The standard seed with its returns repeated under new ids up to this many returns in
    /// all (benchmarks: 10,000); orders and refunds as in the standard seed.
    Bulk { returns: usize },
}

/// Starts the simulator on `addr` (must be a loopback address, else Err) on the current tokio
/// runtime. Port 0 picks a free port; see [`SimulatorHandle::addr`].
pub async fn start(addr: SocketAddr) -> anyhow::Result<SimulatorHandle> {
    start_seeded(addr, Seed::Standard).await
}

/// [`start`] with the data `seed` describes.
pub async fn start_seeded(addr: SocketAddr, seed: Seed) -> anyhow::Result<SimulatorHandle> {
    if !addr.ip().is_loopback() {
        bail!("the simulator only listens on a loopback address (127.0.0.1 or ::1), not {addr}");
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("could not listen on {addr}"))?;
    let addr = listener
        .local_addr()
        .context("could not read the simulator's listening address")?;
    let data = match seed {
        Seed::Standard => seed::seed(),
        Seed::Bulk { returns } => seed::bulk_seed(returns),
    };
    let shared: Shared = Arc::new(Mutex::new(SimState::new(data)));
    // Each connection carries a switch a reset fault can trip (`conn.rs`).
    let app =
        routes::router(shared.clone()).into_make_service_with_connect_info::<conn::ConnControl>();
    let listener = conn::FaultListener(listener);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                // A dropped sender also means stop.
                let _ = stopped.await;
            })
            .await;
        if let Err(error) = served {
            // stderr only: stdout may carry a protocol (MCP).
            eprintln!("ingrid simulator on {addr} stopped: {error}");
        }
    });
    Ok(SimulatorHandle {
        addr,
        shared,
        stop: Some(stop),
        task: Some(task),
    })
}
