//! The SM3 hash chain over the event log: `h_n = SM3(h_{n-1} || canonical(event_n))`.
//!
//! The canonical form is the JSON of the event's envelope and payload with object keys sorted
//! (serde_json's default map is ordered), times as integer milliseconds, so it is the same on
//! every platform and database.

use huiyin_domain::case::Event;
use serde_json::{Value, json};
use sm3::{Digest, Sm3};

use crate::{Result, StoreError, to_ms};

/// The hash before the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The canonical bytes of an event at a sequence number.
pub fn canonical_event(seq: i64, event: &Event) -> Result<String> {
    let payload = serde_json::to_value(&event.kind)
        .map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?;
    let doc = json!({
        "seq": seq,
        "case_id": event.case_id.as_str(),
        "version": event.version,
        "at_ms": to_ms(event.at),
        "actor": event.actor.as_str(),
        "actor_unit": event.actor_unit.as_ref().map(|u| u.as_str()),
        "payload": payload,
    });
    Ok(sorted(doc).to_string())
}

/// Re-sorts every object (serde_json without `preserve_order` already uses a BTreeMap; this
/// keeps the guarantee explicit should that feature ever be switched on by another crate).
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// One link of the chain.
pub fn chain_hash(prev_hex: &str, canonical: &str) -> Result<String> {
    let prev = hex::decode(prev_hex)
        .map_err(|e| StoreError::Corrupt(format!("previous hash is not hex: {e}")))?;
    let mut h = Sm3::new();
    h.update(&prev);
    h.update(canonical.as_bytes());
    Ok(hex::encode(h.finalize()))
}

/// What `huiyin verify` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Events checked.
    pub events: u64,
    /// The last sequence number checked.
    pub last_seq: i64,
    /// The head hash, if the chain is intact.
    pub head: String,
    /// The first broken link, if any: its sequence number and what is wrong.
    pub first_broken: Option<(i64, String)>,
    /// Cases whose stored projection differs from the replay of their events.
    pub projection_mismatches: Vec<String>,
    /// Cases whose event chunks (the copy `events_of` reads) differ from their events.
    pub chunk_mismatches: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.first_broken.is_none()
            && self.projection_mismatches.is_empty()
            && self.chunk_mismatches.is_empty()
    }
}
