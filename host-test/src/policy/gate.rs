//! The confirmation gate (contract C1). A write reaches Ingrid only when the person approved
//! exactly that write: the host mints a single-use approval bound to the plugin digest, the
//! tool, the arguments digest and an expiry, and the `http` import lets through each approved
//! write (method, URL string, credential slot, body bytes) at most once. Since an approval binds
//! only those four, a write may carry no header beyond a short allow-list, and a JSON body may
//! not name a key twice: either could make the applied write differ from the one shown (P4).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};

use crate::bindings::http::HttpError;
use crate::bindings::types::{self, Header, Method};
use crate::policy::display;

/// How long an approval stays valid.
pub const APPROVAL_TTL: Duration = Duration::from_secs(5 * 60);

/// The only headers a write may carry besides the host's credential header, each at most once,
/// with exactly this value (name and value compared case-insensitively). The person approves a
/// method, a URL and a body (C1, P4); a header outside this list could change what the write
/// means to the server (a method override, a conditional, a content type that reads the body
/// differently), and approvals do not bind headers, so none is let through. The person is
/// shown this list as what the write may carry.
pub const WRITE_HEADERS: &[(&str, &str)] = &[
    ("accept", "application/json"),
    ("content-type", "application/json"),
];

/// The allow-list of [`WRITE_HEADERS`], checked on every write at send time.
pub fn check_write_headers(headers: &[Header]) -> Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    for header in headers {
        let allowed = WRITE_HEADERS.iter().find(|(name, value)| {
            header.name.eq_ignore_ascii_case(name) && header.value.eq_ignore_ascii_case(value)
        });
        match allowed {
            Some((name, _)) if seen.contains(name) => {
                return Err(format!("a write may carry the `{name}` header only once"));
            }
            Some((name, _)) => seen.push(name),
            None => {
                let list = WRITE_HEADERS
                    .iter()
                    .map(|(name, value)| format!("`{name}: {value}`"))
                    .collect::<Vec<_>>()
                    .join(" and ");
                return Err(format!(
                    "a write may carry only {list} (the person approves the method, URL and \
                     body, nothing else); not `{}`",
                    display::line(&header.name, 64)
                ));
            }
        }
    }
    Ok(())
}

/// The key a JSON body names twice in one object, if it does. `serde_json::Value` keeps the
/// last of repeated keys while other parsers keep the first, so the person could be shown one
/// value and the server store another (C1): such a body is refused before anyone is asked.
/// A body that is not JSON at all gives `None` (it is shown escaped, byte for byte).
pub fn repeated_json_key(body: &[u8]) -> Option<String> {
    let repeated = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    // serde_json bounds the nesting depth, so a hostile body cannot exhaust the stack.
    let _ = RepeatedKey {
        repeated: &repeated,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    repeated.into_inner()
}

/// Walks a JSON document through serde's data model, failing at the first object that names a
/// key twice (keys compared after unescaping, so `"a"` and `"\u0061"` are the same key).
#[derive(Clone, Copy)]
struct RepeatedKey<'a> {
    repeated: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for RepeatedKey<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RepeatedKey<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    // With serde_json's `arbitrary_precision` a number also arrives here, as a map of one
    // private key: one key is never a repeat.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                *self.repeated.borrow_mut() = Some(key);
                return Err(de::Error::custom("a key is repeated"));
            }
            map.next_value_seed(self)?;
            seen.insert(key);
        }
        Ok(())
    }
}

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
    use crate::bindings::http::Request;
    use crate::keys::CallKeys;
    use crate::policy::egress::NetworkPolicy;
    use crate::policy::grant::Origin;
    use crate::policy::request::RequestRules;

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

    fn header(name: &str, value: &str) -> Header {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn writes_carry_only_the_allowed_headers_once_each() {
        assert_eq!(check_write_headers(&[]), Ok(()));
        // What the Ingrid plugin's writes carry (src/ingrid/client.rs, `json_headers`).
        let ingrid = [
            header("accept", "application/json"),
            header("Content-Type", "Application/JSON"),
        ];
        assert_eq!(check_write_headers(&ingrid), Ok(()));
        for refused in [
            vec![header("X-HTTP-Method-Override", "DELETE")],
            vec![header("x-original-method", "DELETE")],
            vec![header("if-match", "*")],
            vec![header("content-type", "application/x-www-form-urlencoded")],
            vec![
                header("accept", "application/json"),
                header("accept", "application/json"),
            ],
        ] {
            assert!(check_write_headers(&refused).is_err(), "{refused:?}");
        }
        let named = check_write_headers(&[header("X-Original-Method\u{1b}[2J", "DELETE")]);
        assert!(
            matches!(&named, Err(m) if m.contains("X-Original-Method[2J") && !m.contains('\u{1b}')),
            "{named:?}"
        );
    }

    #[test]
    fn a_json_body_naming_a_key_twice_is_found_at_any_depth() {
        for (body, repeated) in [
            (r#"{"a":1,"a":2}"#, Some("a")),
            (r#"{"a":1,"\u0061":2}"#, Some("a")),
            (r#"[{"x":{"b":[1,{"c":1,"c":1}]}}]"#, Some("c")),
            (r#"{"a":{"a":1},"b":{"a":1}}"#, None),
            (r#"{"n":123456789012345678901234567890.5,"m":-1e400}"#, None),
            (r#"{"a":1} {"a":2}"#, None),
            ("not json at all", None),
            ("", None),
        ] {
            assert_eq!(
                repeated_json_key(body.as_bytes()).as_deref(),
                repeated,
                "{body}"
            );
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            repeated_json_key(deep.as_bytes()),
            None,
            "no stack overflow"
        );
    }

    fn rules() -> RequestRules {
        RequestRules {
            origin: Origin {
                scheme: "https".into(),
                host: "api.turnr.se".into(),
                port: 443,
            },
            network: NetworkPolicy::Live,
            methods: ["GET", "POST"].iter().map(|m| m.to_string()).collect(),
            slots: vec![("ingrid-api-key".into(), "x-api-key".into())],
            path_prefixes: None,
            max_body_bytes: 1 << 20,
        }
    }

    #[test]
    fn the_request_rules_deny_a_write_with_another_header_and_a_body_with_a_repeated_key() {
        let rules = rules();
        let request = |method: Method, headers: Vec<Header>| Request {
            method,
            url: "https://api.turnr.se/merchant/refund-transaction/9/externally-refunded".into(),
            headers,
            body: if is_write(method) {
                b"{}".to_vec()
            } else {
                Vec::new()
            },
            credential: None,
            timeout_ms: None,
        };
        let keys = CallKeys::default();
        let json = vec![
            header("accept", "application/json"),
            header("content-type", "application/json"),
        ];
        assert!(rules.check(&request(Method::Post, json), &keys).is_ok());
        for extra in [
            header("X-HTTP-Method-Override", "DELETE"),
            header("x-original-method", "DELETE"),
            header("x-note", "n"),
        ] {
            let denied = rules.check(&request(Method::Post, vec![extra.clone()]), &keys);
            assert!(
                matches!(denied, Err(HttpError::Denied(ref m)) if m.contains(&extra.name)),
                "{extra:?}"
            );
        }
        // The allow-list is for writes; reads keep the general header rules.
        let read = request(Method::Get, vec![header("x-note", "n")]);
        assert!(rules.check(&read, &keys).is_ok());

        let mut proposed = write(r#"{"externalReference":"A","externalReference":"B"}"#);
        assert!(
            matches!(rules.check_proposed(&proposed), Err(m) if m.contains("externalReference")),
        );
        proposed.body = br#"{"externalReference":"A"}"#.to_vec();
        assert_eq!(rules.check_proposed(&proposed), Ok(()));
        proposed.body = b"not JSON \x1b[2J".to_vec();
        assert_eq!(
            rules.check_proposed(&proposed),
            Ok(()),
            "shown escaped, not refused"
        );
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
