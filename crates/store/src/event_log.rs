//! The events of each case as a few rows of text (`event_chunks`), for reading a whole case
//! fast.
//!
//! `events` holds one row per event and is the record: hash-chained, what `huiyin verify`
//! proves. Reading a case's 1,000 events from it costs one row visit and a driver hand-over
//! per event (5–16 µs each through the pool), or, aggregated in SQL, 1.2–1.4 ms on the 2-core
//! machine just to visit and concatenate the columns. So each case's events are also kept,
//! written in the same transaction, as chunks of [`CHUNK_EVENTS`] events: a chunk's `body` is
//! the events' wire records (`[seq,version,at_ms,actor,actor_unit,hash,payload]`, the payload
//! copied as stored) separated by spaces. `Store::events_of` reads the chunks (16 rows for
//! 1,000 events) and decodes them in one pass.
//!
//! The chunks are a derived copy: `events_of` checks that it got exactly the versions
//! 1..=the highest stored version and reads `events` row by row otherwise, and `huiyin verify`
//! compares every chunk with the events it must hold ([`expected_bodies`]). Costs: the events'
//! bytes are stored twice, and appending to a case rewrites its last chunk (at most
//! 63 records, ~20 KB).

use std::collections::BTreeMap;

use sqlx::AnyConnection;

use crate::Result;
use crate::db::Backend;
use crate::write::{Val, exec_rows};

/// Events per chunk: reading a case stays a handful of rows, and appending rewrites at most
/// this many records.
pub(crate) const CHUNK_EVENTS: i64 = 64;

/// The chunk an event version belongs to.
pub(crate) fn chunk_of(version: i64) -> i64 {
    (version - 1).div_euclid(CHUNK_EVENTS)
}

/// One event as a wire record: a JSON array, the payload copied as it is stored.
pub(crate) fn wire_record(
    seq: i64,
    version: i64,
    at_ms: i64,
    actor: &str,
    actor_unit: Option<&str>,
    hash: &str,
    payload: &str,
) -> String {
    // Serialising a `&str` or an `Option<&str>` cannot fail.
    let quote = |s: Option<&str>| serde_json::to_string(&s).unwrap_or_else(|_| "null".into());
    format!(
        "[{seq},{version},{at_ms},{},{},{},{payload}]",
        quote(Some(actor)),
        quote(actor_unit),
        quote(Some(hash)),
    )
}

/// Appends wire records `(case_id, version, record)` — in version order per case — to their
/// chunks, in the writer's transaction.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    backend: Backend,
    records: Vec<(String, i64, String)>,
) -> Result<()> {
    // One row per chunk (PostgreSQL refuses an upsert that touches a row twice).
    let values = chunk_bodies(records)
        .into_iter()
        .flat_map(|((case_id, chunk), body)| [Val::S(case_id), Val::I(chunk), Val::S(body)])
        .collect();
    exec_rows(
        conn,
        backend,
        3,
        values,
        |values| {
            format!(
                "INSERT INTO event_chunks (case_id, chunk, body) VALUES {values}
                 ON CONFLICT (case_id, chunk)
                 DO UPDATE SET body = event_chunks.body || ' ' || excluded.body"
            )
        },
        "event chunk",
    )
    .await?;
    Ok(())
}

/// The rows of `events` a chunk is built from, in the column order of [`wire_record`].
pub(crate) type EventColumns = (
    i64,
    String,
    i64,
    i64,
    String,
    Option<String>,
    String,
    String,
);

/// The chunk bodies the given events (any order) make, by (case, chunk).
pub(crate) fn expected_bodies(rows: &[EventColumns]) -> BTreeMap<(String, i64), String> {
    let mut sorted: Vec<&EventColumns> = rows.iter().collect();
    sorted.sort_by(|a, b| (&a.1, a.2).cmp(&(&b.1, b.2)));
    chunk_bodies(sorted.into_iter().map(
        |(seq, case_id, version, at_ms, actor, unit, hash, payload)| {
            let record = wire_record(
                *seq,
                *version,
                *at_ms,
                actor,
                unit.as_deref(),
                hash,
                payload,
            );
            (case_id.clone(), *version, record)
        },
    ))
}

/// Wire records `(case_id, version, record)`, in version order per case, joined into the
/// bodies of their chunks — what `append` adds and what `verify` expects.
fn chunk_bodies(
    records: impl IntoIterator<Item = (String, i64, String)>,
) -> BTreeMap<(String, i64), String> {
    let mut bodies: BTreeMap<(String, i64), String> = BTreeMap::new();
    for (case_id, version, record) in records {
        let body = bodies.entry((case_id, chunk_of(version))).or_default();
        if !body.is_empty() {
            body.push(' ');
        }
        body.push_str(&record);
    }
    bodies
}

/// Builds the chunks of every case already stored (run once, by the migration that adds
/// them), in pages of cases.
pub(crate) async fn backfill(conn: &mut AnyConnection, backend: Backend) -> Result<()> {
    let mut after = String::new();
    loop {
        let cases: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT case_id FROM events WHERE case_id > $1 ORDER BY case_id LIMIT 500",
        )
        .bind(&after)
        .fetch_all(&mut *conn)
        .await?;
        let Some((last,)) = cases.last() else {
            return Ok(());
        };
        let rows: Vec<EventColumns> = sqlx::query_as(
            "SELECT seq, case_id, version, at_ms, actor, actor_unit, hash, payload FROM events
             WHERE case_id > $1 AND case_id <= $2",
        )
        .bind(&after)
        .bind(last)
        .fetch_all(&mut *conn)
        .await?;
        let values = expected_bodies(&rows)
            .into_iter()
            .flat_map(|((case_id, chunk), body)| [Val::S(case_id), Val::I(chunk), Val::S(body)])
            .collect();
        exec_rows(
            conn,
            backend,
            3,
            values,
            |values| format!("INSERT INTO event_chunks (case_id, chunk, body) VALUES {values}"),
            "event chunk",
        )
        .await?;
        after = last.clone();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn versions_fill_chunks_of_sixty_four() {
        assert_eq!(chunk_of(1), 0);
        assert_eq!(chunk_of(64), 0);
        assert_eq!(chunk_of(65), 1);
        assert_eq!(chunk_of(1_000), 15);
    }

    #[test]
    fn a_record_quotes_ids_and_copies_the_payload() {
        let r = wire_record(7, 2, 99, "u:\"x\"", None, "ab", "{\"type\":\"accepted\"}");
        assert_eq!(
            r,
            "[7,2,99,\"u:\\\"x\\\"\",null,\"ab\",{\"type\":\"accepted\"}]"
        );
        let v: serde_json::Value = serde_json::from_str(&r).unwrap();
        assert_eq!(v[3], "u:\"x\"");
    }

    #[test]
    fn expected_bodies_order_records_by_version_within_a_chunk() {
        let row = |seq, version| -> EventColumns {
            (
                seq,
                "c".into(),
                version,
                0,
                "a".into(),
                Some("u".into()),
                "h".into(),
                "{}".into(),
            )
        };
        let bodies = expected_bodies(&[row(3, 2), row(1, 1), row(9, 65)]);
        assert_eq!(bodies.len(), 2);
        assert!(bodies[&("c".into(), 0)].starts_with("[1,1,"));
        assert!(bodies[&("c".into(), 1)].starts_with("[9,65,"));
    }
}
