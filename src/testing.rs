//! Test doubles for native tests: a scripted [`Transport`] that records what the plugin sent.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use crate::api::CallContext;
use crate::transport::{HttpError, HttpRequest, HttpResponse, LogLevel, Transport};

/// Answers requests from a queue, in order, and records each request. A fake clock advances by
/// each sleep.
#[derive(Default)]
pub struct ScriptedTransport {
    answers: RefCell<VecDeque<Result<HttpResponse, HttpError>>>,
    pub sent: RefCell<Vec<HttpRequest>>,
    pub slept_ms: Cell<u64>,
}

impl ScriptedTransport {
    pub fn new(answers: Vec<Result<HttpResponse, HttpError>>) -> Self {
        ScriptedTransport {
            answers: RefCell::new(answers.into()),
            ..Default::default()
        }
    }
}

pub fn json(status: u16, body: &str) -> Result<HttpResponse, HttpError> {
    Ok(HttpResponse {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("X-Trace-Id".into(), "trace-42".into()),
        ],
        body: body.as_bytes().to_vec(),
    })
}

pub fn context() -> CallContext {
    CallContext {
        call_id: "call-1".into(),
        settings: vec![("base-url".into(), "https://ingrid.test".into())],
        deadline_ms: 10_000,
        approval: None,
    }
}

impl Transport for ScriptedTransport {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        self.sent.borrow_mut().push(request.clone());
        self.answers
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| Err(HttpError::NotSent("no scripted answer left".into())))
    }

    fn log(&self, _level: LogLevel, _message: &str) {}

    fn monotonic_ms(&self) -> u64 {
        self.slept_ms.get()
    }

    fn sleep_ms(&self, ms: u64) {
        self.slept_ms.set(self.slept_ms.get() + ms);
    }
}
