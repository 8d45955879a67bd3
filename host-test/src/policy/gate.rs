//! The confirmation gate (contract C1). A write reaches Ingrid only when the person approved
//! exactly that write: the host mints a single-use approval bound to the plugin digest, the
//! tool, the arguments digest and an expiry, and the `http` import lets through each approved
//! write (method, URL string, credential slot, body bytes) at most once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::bindings::http::HttpError;
use crate::bindings::types::{self, Method};

/// How long an approval stays valid.
pub const APPROVAL_TTL: Duration = Duration::from_secs(5 * 60);

/// One write, compared on all four parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WriteKey {
    pub method: &'static str,
    pub url: String,
    pub credential: Option<String>,
    pub body: Vec<u8>,
}

impl WriteKey {
    pub fn of_planned(write: &types::PlannedWrite) -> WriteKey {
        WriteKey {
            method: method_name(write.method),
            url: write.url.clone(),
            credential: write.credential.clone(),
            body: write.body.clone(),
        }
    }
}

pub fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    }
}

pub fn is_write(method: Method) -> bool {
    !matches!(method, Method::Get | Method::Head)
}

/// What one call may write.
#[derive(Debug, Clone)]
pub enum WriteGate {
    /// `list-tools`: no request at all (it only describes the plugin).
    Offline,
    /// A read tool (or `connect`, `list-tools`, `diagnostics`): every write is denied.
    ReadOnly,
    /// A write tool without approval: it may read and propose, not write.
    Unapproved,
    /// An approved call: each approved write may be sent once.
    Approved {
        remaining: Vec<WriteKey>,
        sent: usize,
    },
}

impl WriteGate {
    pub fn approved(writes: &[types::PlannedWrite]) -> WriteGate {
        WriteGate::Approved {
            remaining: writes.iter().map(WriteKey::of_planned).collect(),
            sent: 0,
        }
    }

    /// Admits or refuses one write; an admitted write is consumed.
    pub fn admit(&mut self, write: &WriteKey) -> Result<(), HttpError> {
        match self {
            WriteGate::Offline => Err(HttpError::Denied(
                "listing tools may not make requests".to_string(),
            )),
            WriteGate::ReadOnly => Err(HttpError::Denied(
                "this tool only reads; it cannot change anything".to_string(),
            )),
            WriteGate::Unapproved => Err(HttpError::ConfirmationRequired(
                "this change needs the person's approval; return a proposal".to_string(),
            )),
            WriteGate::Approved { remaining, sent } => {
                match remaining.iter().position(|approved| approved == write) {
                    Some(index) => {
                        remaining.swap_remove(index);
                        *sent += 1;
                        Ok(())
                    }
                    None => Err(HttpError::Denied(
                        "this write is not the one the person approved".to_string(),
                    )),
                }
            }
        }
    }

    /// Approved writes that were not sent (a "partly applied" change when some were).
    pub fn unsent(&self) -> usize {
        match self {
            WriteGate::Approved { remaining, .. } => remaining.len(),
            _ => 0,
        }
    }

    pub fn sent(&self) -> usize {
        match self {
            WriteGate::Approved { sent, .. } => *sent,
            _ => 0,
        }
    }
}

/// sha256 of the arguments as compact JSON with sorted keys.
pub fn arguments_digest(arguments: &serde_json::Value) -> String {
    let mut canonical = String::new();
    write_canonical(arguments, &mut canonical);
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// What an approval is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub plugin_digest: String,
    pub tool: String,
    pub arguments_digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    #[error("the approval is unknown or was already used")]
    UnknownOrUsed,
    #[error("the approval expired")]
    Expired,
    #[error("the approval was given for another plugin, tool or arguments")]
    WrongBinding,
}

struct Issued {
    binding: Binding,
    writes: Vec<types::PlannedWrite>,
    expires_at: Instant,
}

/// Approvals minted by this host and not used yet.
#[derive(Default)]
pub struct ApprovalLedger {
    issued: Mutex<HashMap<String, Issued>>,
}

impl ApprovalLedger {
    /// Mints a single-use approval for exactly these writes.
    pub fn mint(&self, binding: Binding, proposal: types::Proposal) -> types::Approval {
        let id = new_approval_id();
        let writes = proposal.writes;
        let approval = types::Approval {
            id: id.clone(),
            writes: writes.clone(),
            summary: proposal.summary,
            details: proposal.details,
        };
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        issued.retain(|_, entry| entry.expires_at > Instant::now());
        issued.insert(
            id,
            Issued {
                binding,
                writes,
                expires_at: Instant::now() + APPROVAL_TTL,
            },
        );
        approval
    }

    /// Takes an approval out of the ledger (single use) if it is bound to `binding` and fresh.
    pub fn redeem(
        &self,
        id: &str,
        binding: &Binding,
    ) -> Result<Vec<types::PlannedWrite>, ApprovalError> {
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        let entry = issued.remove(id).ok_or(ApprovalError::UnknownOrUsed)?;
        if entry.expires_at <= Instant::now() {
            return Err(ApprovalError::Expired);
        }
        if &entry.binding != binding {
            return Err(ApprovalError::WrongBinding);
        }
        Ok(entry.writes)
    }
}

fn new_approval_id() -> String {
    let mut bytes = [0u8; 16];
    // The id is a capability only inside this process, but it must not be guessable.
    if getrandom(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = Sha256::digest(format!("{nanos}-{}", std::process::id()).as_bytes())[..16]
            .try_into()
            .unwrap_or([0u8; 16]);
    }
    format!("apv-{}", hex::encode(bytes))
}

fn getrandom(bytes: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(body: &str) -> types::PlannedWrite {
        types::PlannedWrite {
            method: Method::Post,
            url: "https://api.turnr.se/merchant/refund-transaction/9/externally-refunded".into(),
            credential: Some("ingrid-api-key".into()),
            body: body.as_bytes().to_vec(),
        }
    }

    fn proposal(writes: Vec<types::PlannedWrite>) -> types::Proposal {
        types::Proposal {
            summary: "Mark refund 9 as externally refunded".into(),
            details: String::new(),
            writes,
        }
    }

    fn binding() -> Binding {
        Binding {
            plugin_digest: "d".into(),
            tool: "mark_refund_externally_refunded".into(),
            arguments_digest: arguments_digest(
                &serde_json::json!({"b": 1, "a": [2, {"d": 3, "c": 4}]}),
            ),
        }
    }

    #[test]
    fn arguments_digest_ignores_key_order() {
        let a = serde_json::json!({"b": 1, "a": [2, {"d": 3, "c": 4}]});
        let b: serde_json::Value =
            serde_json::from_str(r#"{"a":[2,{"c":4,"d":3}],"b":1}"#).unwrap_or_default();
        assert_eq!(arguments_digest(&a), arguments_digest(&b));
        assert_ne!(
            arguments_digest(&a),
            arguments_digest(&serde_json::json!({"b": 2}))
        );
    }

    #[test]
    fn approved_writes_pass_once_each_and_nothing_else_passes() {
        let mut gate = WriteGate::approved(&[write("{}"), write("{}")]);
        let key = WriteKey::of_planned(&write("{}"));
        assert!(gate.admit(&key).is_ok());
        assert!(gate.admit(&key).is_ok(), "the multiset holds two");
        assert!(
            matches!(gate.admit(&key), Err(HttpError::Denied(_))),
            "consumed"
        );
        let mut gate = WriteGate::approved(&[write("{}")]);
        let other = WriteKey::of_planned(&write(r#"{"externalReference":"x"}"#));
        assert!(matches!(gate.admit(&other), Err(HttpError::Denied(_))));
        assert_eq!((gate.sent(), gate.unsent()), (0, 1));
        assert!(matches!(
            WriteGate::ReadOnly.admit(&key),
            Err(HttpError::Denied(_))
        ));
        assert!(matches!(
            WriteGate::Unapproved.admit(&key),
            Err(HttpError::ConfirmationRequired(_))
        ));
    }

    #[test]
    fn approvals_are_single_use_and_bound() {
        let ledger = ApprovalLedger::default();
        let approval = ledger.mint(binding(), proposal(vec![write("{}")]));
        let mut other = binding();
        other.tool = "report_returned_items".into();
        assert_eq!(
            ledger.redeem(&approval.id, &other).err(),
            Some(ApprovalError::WrongBinding)
        );
        let approval = ledger.mint(binding(), proposal(vec![write("{}")]));
        assert!(ledger.redeem(&approval.id, &binding()).is_ok());
        assert_eq!(
            ledger.redeem(&approval.id, &binding()).err(),
            Some(ApprovalError::UnknownOrUsed)
        );
        assert_eq!(
            ledger.redeem("apv-forged", &binding()).err(),
            Some(ApprovalError::UnknownOrUsed)
        );
    }
}
