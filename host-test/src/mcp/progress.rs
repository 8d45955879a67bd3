//! A `tools/call`'s requests as the client sees them (contract C6): a progress notification
//! after each request the plugin makes, when the client sent a progress token, and a call the
//! client cancelled stopped before its next request.
//!
//! The hook runs inside the `http` import ([`CallObserver`]) and must not wait on the client,
//! so it only queues; one task per call sends the notifications, in order, and is drained
//! before the call's answer goes out (no notification follows the answer).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rmcp::Peer;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RoleServer;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::outbound::RequestRecord;
use crate::policy::display;
use crate::runtime::{CallObserver, Flow};

/// How long the last notifications may take to go out once the call is done.
const DRAIN: Duration = Duration::from_secs(5);

/// What one `tools/call` reports and how it stops.
pub struct CallProgress {
    cancelled: CancellationToken,
    /// Requests made so far, over every run of the call (a replay goes on counting), so the
    /// progress only ever increases.
    made: AtomicU64,
    queue: Option<mpsc::UnboundedSender<(u64, String)>>,
}

/// Sends the queued notifications; [`Notifier::finish`] waits for the last one.
pub struct Notifier(Option<JoinHandle<()>>);

impl CallProgress {
    /// A call's observer, and the task that sends its progress to `peer` (none without a
    /// progress token).
    pub fn start(
        peer: Peer<RoleServer>,
        token: Option<ProgressToken>,
        cancelled: CancellationToken,
    ) -> (Arc<CallProgress>, Notifier) {
        let (queue, notifier) = match token {
            Some(token) => {
                let (sender, mut receiver) = mpsc::unbounded_channel::<(u64, String)>();
                let task = tokio::spawn(async move {
                    while let Some((progress, message)) = receiver.recv().await {
                        let mut params =
                            ProgressNotificationParam::new(token.clone(), progress as f64);
                        params.message = Some(message);
                        // A client gone takes its notifications with it.
                        if peer.notify_progress(params).await.is_err() {
                            break;
                        }
                    }
                });
                (Some(sender), Notifier(Some(task)))
            }
            None => (None, Notifier(None)),
        };
        let progress = CallProgress {
            cancelled,
            made: AtomicU64::new(0),
            queue,
        };
        (Arc::new(progress), notifier)
    }
}

impl CallObserver for CallProgress {
    fn before_request(&self) -> Flow {
        if self.cancelled.is_cancelled() {
            Flow::Stop("the client cancelled the call before the plugin's next request".into())
        } else {
            Flow::Continue
        }
    }

    fn after_request(&self, record: &RequestRecord, _made: usize) {
        let made = self.made.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(queue) = &self.queue {
            let answer = match (record.status, record.error) {
                (Some(status), _) => status.to_string(),
                (None, Some(error)) => error.to_string(),
                (None, None) => "no answer".to_string(),
            };
            let message = format!(
                "request {made}: {} {}: {answer}",
                record.method,
                display::line(&record.path, 120)
            );
            // The receiver is gone only once the call is over.
            let _ = queue.send((made, message));
        }
    }
}

impl Notifier {
    /// Waits until every queued notification was sent (at most a few seconds), once the
    /// call's observer is dropped.
    pub async fn finish(self, progress: Arc<CallProgress>) {
        drop(progress);
        if let Some(task) = self.0 {
            let abort = task.abort_handle();
            if tokio::time::timeout(DRAIN, task).await.is_err() {
                abort.abort();
            }
        }
    }
}
