//! The audit log (contract C7): JSON Lines, one versioned record per plugin invocation and per
//! decision, in a file only its owner can read (0600). Arguments appear only as a digest unless
//! the operator turns on personal data; paths carry no query values; the key never appears
//! (the outbound layer never records headers, and every text is redacted before it is written).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::outbound::RequestRecord;
use crate::policy::confirm::Answer;
use crate::runtime::CallReport;

/// The record schema's version; bump it when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// A read: no change possible.
    Read,
    /// A write tool returned a proposal (nothing written).
    Proposed,
    /// The person approved; the record of the approved call carries the writes sent.
    Approved,
    /// The person declined; nothing written.
    Declined,
    /// The person closed the question without answering; nothing written.
    Dismissed,
    /// No answer came in time; nothing written.
    TimedOut,
    /// No person could be asked; nothing written.
    NoPerson,
    /// The host refused: a write outside the approval, a proposal it would not send, an
    /// unknown tool, or arguments that break the tool's input schema (nothing of the plugin ran).
    Refused,
    /// A read tool (or `connect`, `diagnostics`) tried to write.
    Denied,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord<'a> {
    pub v: u32,
    pub time: String,
    pub plugin_id: &'a str,
    pub plugin_digest: &'a str,
    pub call_id: &'a str,
    /// `call-tool`, `connect` or `diagnostics`.
    pub export: &'a str,
    pub tool: Option<&'a str>,
    pub arguments_digest: Option<&'a str>,
    /// Only when the operator turned on personal data.
    pub arguments: Option<&'a serde_json::Value>,
    pub decision: Decision,
    pub requests: Vec<AuditedRequest<'a>>,
    pub writes_sent: usize,
    pub writes_unsent: usize,
    pub fuel_used: u64,
    pub duration_ms: u64,
    /// A trap or limit that ended the call, or a host refusal, in the host's words.
    pub failure: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditedRequest<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub status: Option<u16>,
    pub error: Option<&'a str>,
    pub request_bytes: usize,
    pub response_bytes: usize,
    pub duration_ms: u64,
    pub trace_id: Option<&'a str>,
}

impl<'a> AuditedRequest<'a> {
    pub fn of(record: &'a RequestRecord) -> Self {
        AuditedRequest {
            method: record.method,
            host: &record.host,
            path: &record.path,
            status: record.status,
            error: record.error,
            request_bytes: record.request_bytes,
            response_bytes: record.response_bytes,
            duration_ms: record.duration.as_millis() as u64,
            trace_id: record.trace_id.as_deref(),
        }
    }
}

impl From<Answer> for Decision {
    fn from(answer: Answer) -> Decision {
        match answer {
            Answer::Approved => Decision::Approved,
            Answer::Declined => Decision::Declined,
            Answer::Dismissed => Decision::Dismissed,
            Answer::TimedOut => Decision::TimedOut,
            Answer::NoPerson => Decision::NoPerson,
        }
    }
}

/// The decision a finished invocation stands for.
pub fn decision_for(
    report: &CallReport,
    writes_allowed: bool,
    approved: bool,
    proposed: bool,
) -> Decision {
    let refused = report.requests.iter().any(RequestRecord::refused_by_host);
    match (writes_allowed, refused) {
        (false, true) => Decision::Denied,
        (true, true) => Decision::Refused,
        (false, false) => Decision::Read,
        (true, false) if approved => Decision::Approved,
        (true, false) if proposed => Decision::Proposed,
        (true, false) => Decision::Read,
    }
}

pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
    include_personal_data: bool,
}

impl AuditLog {
    /// `$DEMA_AUDIT_LOG`, else `$XDG_STATE_HOME/dema-host/audit.jsonl`, else
    /// `~/.local/state/dema-host/audit.jsonl`.
    pub fn default_path() -> Option<PathBuf> {
        std::env::var_os("DEMA_AUDIT_LOG")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_STATE_HOME")
                    .map(|dir| PathBuf::from(dir).join("dema-host").join("audit.jsonl"))
            })
            .or_else(|| {
                std::env::home_dir().map(|home| home.join(".local/state/dema-host/audit.jsonl"))
            })
    }

    /// Opens (creating 0600, in a 0700 directory) for appending.
    pub fn open(path: &Path, include_personal_data: bool) -> std::io::Result<AuditLog> {
        crate::private_file::create_parent_dir(path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        // An existing file keeps its mode on open: make it private too.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            include_personal_data,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn include_personal_data(&self) -> bool {
        self.include_personal_data
    }

    /// Appends one record as one line. A failing audit write is reported to the caller, who
    /// must not go on as if it had been recorded.
    pub fn write(
        &self,
        record: &AuditRecord<'_>,
        redact: impl Fn(&str) -> String,
    ) -> std::io::Result<()> {
        let line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        let mut line = redact(&line);
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(line.as_bytes())?;
        file.flush()
    }
}

pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_answer_has_its_own_decision_in_the_log() {
        let answers = [
            (Answer::Approved, "\"approved\""),
            (Answer::Declined, "\"declined\""),
            (Answer::Dismissed, "\"dismissed\""),
            (Answer::TimedOut, "\"timed-out\""),
            (Answer::NoPerson, "\"no-person\""),
        ];
        for (answer, logged) in answers {
            let decision = Decision::from(answer);
            assert_eq!(
                serde_json::to_string(&decision).ok().as_deref(),
                Some(logged)
            );
        }
        assert_eq!(SCHEMA_VERSION, 2, "the decision values changed in v2");
    }
}
