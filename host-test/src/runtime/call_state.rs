//! What one call's store holds, and the host side of the plugin's imports: `http` (through
//! [`crate::outbound`]) and `log`. Dropped with the store at the end of the call.
//!
//! A face may watch a call's requests through a [`CallObserver`]: told after each request,
//! asked before each, so it can report progress and stop a cancelled call before its next
//! request (C6).

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::{http, log, types};
use crate::outbound::{Outbound, RequestRecord};

/// Everything a single call's store holds. Dropped with the store at the end of the call.
pub struct CallState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) memory: MemoryCap,
    pub(super) outbound: Outbound,
    pub(super) deadline: Instant,
    /// Guest log lines (capped, secrets redacted).
    pub logs: Vec<(log::Level, String)>,
    /// Requests the guest sent in this call.
    pub requests: Vec<RequestRecord>,
    /// The caller's per-request hook, if it watches this call.
    pub(super) observer: Option<Arc<dyn CallObserver>>,
    /// Time spent in the host's side of the `http` import (benchmarks' breakdown).
    pub(super) import_time: std::time::Duration,
}

/// Whether a call goes on to its next request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// End the call before its next request: the request is not sent, and the guest is stopped
    /// with this reason.
    Stop(String),
}

/// The caller's per-request hook into a running call: asked before each request the guest
/// asks to send, told after each one (sent, refused or failed). It runs inside the `http`
/// import, so it must answer at once.
pub trait CallObserver: Send + Sync {
    /// [`Flow::Stop`] ends the call here, with nothing more sent.
    fn before_request(&self) -> Flow;
    /// `made` counts this call's requests so far, this one included.
    fn after_request(&self, record: &RequestRecord, made: usize);
}

/// The error a stopped call's guest is trapped with (see [`Flow::Stop`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CallStopped(pub String);

const MAX_LOG_LINES: usize = 100;
/// Sent plus refused requests in one call.
const MAX_REQUEST_ATTEMPTS: usize = 128;
const MAX_LOG_LINE_CHARS: usize = 1_000;

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_io::IoView for CallState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl types::Host for CallState {}

impl http::Host for CallState {
    async fn send(
        &mut self,
        request: http::Request,
    ) -> wasmtime::Result<Result<http::Response, http::HttpError>> {
        // A call its caller stopped (a cancelled MCP call) sends nothing more.
        if let Some(observer) = &self.observer
            && let Flow::Stop(reason) = observer.before_request()
        {
            return Err(wasmtime::Error::new(CallStopped(reason)));
        }
        // Refused attempts are not sent, but each costs a record: a guest that keeps trying is
        // stopped rather than allowed to grow the host's memory.
        if self.requests.len() >= MAX_REQUEST_ATTEMPTS {
            return Err(wasmtime::format_err!(
                "the plugin attempted more than {MAX_REQUEST_ATTEMPTS} requests in one call"
            ));
        }
        // Recorded before it is sent: if the call is stopped while it is in flight (deadline,
        // trap), the record stays, marked in flight, and reaches the audit log.
        let started = Instant::now();
        let index = self.requests.len();
        self.requests.push(RequestRecord::started(&request));
        let (outcome, record) = self.outbound.send(request, self.deadline).await;
        self.import_time += started.elapsed();
        self.requests[index] = record;
        if let Some(observer) = &self.observer {
            observer.after_request(&self.requests[index], index + 1);
        }
        Ok(outcome)
    }
}

impl log::Host for CallState {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        if self.logs.len() < MAX_LOG_LINES {
            let line: String = message.chars().take(MAX_LOG_LINE_CHARS).collect();
            self.logs.push((level, self.outbound.redact_text(&line)));
        }
        Ok(())
    }
}

/// Caps the sum of the guest's linear memories (a per-memory cap would not).
pub(super) struct MemoryCap {
    pub(super) limit: usize,
    pub(super) used: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("memory limit exceeded")]
pub(super) struct MemoryLimitExceeded;

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current);
        if self.used.saturating_add(growth) > self.limit {
            return Err(wasmtime::Error::new(MemoryLimitExceeded));
        }
        self.used += growth;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= super::MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        super::MAX_CORE_INSTANCES_PER_CALL as usize
    }

    fn tables(&self) -> usize {
        super::MAX_TABLES_PER_CALL as usize
    }

    fn memories(&self) -> usize {
        super::MAX_MEMORIES_PER_CALL as usize
    }
}
