//! The event store against a real database: SQLite in a temporary directory by default, or a
//! fresh PostgreSQL schema when `HUIYIN_TEST_DATABASE_URL` is set (see `testing::fresh`).
//!
//! Covered: events read back equal to what was appended; the SM3 chain verifies and reports the
//! first broken link after tampering (payload, envelope, hash, a rehashed forgery, a deleted or
//! truncated event); a stale writer gets a conflict and leaves nothing behind, also when two
//! writers really overlap; an uncommitted transaction leaves nothing; migrations are
//! idempotent; receipt codes are unique; `events_after` pages in sequence order; a tampered
//! projection is reported by `verify(true)`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use huiyin_domain::calendar::Calendar;
use huiyin_domain::case::{Actor, CaseState, Command, Ctx, Event, Role, apply, decide};
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_domain::petition::{AppealRoute, Channel, MaskedPerson, PetitionRecord, StatutoryClass};
use huiyin_domain::policy::DeadlinePolicy;
use huiyin_domain::values::{DocumentText, PetitionText, ReceiptCode, RegionCode, Title};
use huiyin_domain::{CHINA_OFFSET, Instant};
use huiyin_store::testing::{self, TestDb};
use huiyin_store::{Projection, Store, StoreError};

/// The national petition bureau, created by the first migration.
const BUREAU: &str = "0-xfj";

/// An instant on a China wall clock, plus `ms` milliseconds (the store keeps milliseconds).
fn at(day: u32, hour: u32, ms: i64) -> Instant {
    CHINA_OFFSET
        .with_ymd_and_hms(2024, 3, day, hour, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
        + chrono::TimeDelta::milliseconds(ms)
}

fn registrar() -> Actor {
    Actor {
        id: ActorId::new("reg-1"),
        roles: vec![Role::Registrar],
        unit: Some(UnitId::new(BUREAU)),
        oversees_case: false,
        is_case_petitioner: false,
    }
}

fn petition() -> PetitionRecord {
    PetitionRecord {
        channel: Channel::Letter,
        anonymous: false,
        petitioner_masked: Some(MaskedPerson {
            name: "张*".into(),
            phone: Some("139****5678".into()),
        }),
        personal_digest: None,
        group_headcount: None,
        group_representatives: 0,
        title: Title::parse("小区路灯不亮").unwrap(),
        text: PetitionText::parse("小区路灯已经坏了一个月，晚上出行不便。").unwrap(),
        region: RegionCode::parse("440604").unwrap(),
        category: Some("城乡建设/市政设施".into()),
        class: None,
        attachments: Vec::new(),
        also_sent_to: Vec::new(),
        publish_consent: false,
        proxy: None,
    }
}

fn receipt(seed: u64) -> ReceiptCode {
    ReceiptCode::from_random(seed.to_le_bytes())
}

fn no_deadline() -> Projection {
    Projection {
        next_due_kind: None,
        next_due_at_ms: None,
        yellow_at_ms: None,
        watch: None,
    }
}

/// The events a command yields on a case, and the state they lead to.
fn decide_at(
    state: Option<&CaseState>,
    id: &CaseId,
    command: Command,
    now: Instant,
) -> (Vec<Event>, CaseState) {
    let policy = DeadlinePolicy::default();
    let actor = registrar();
    let ctx = Ctx {
        now,
        actor: &actor,
        policy: &policy,
        calendar: Calendar::china(),
    };
    let events = decide(state, id, command, &ctx).unwrap();
    let mut folded = state.cloned();
    for e in &events {
        folded = Some(apply(folded, e).unwrap());
    }
    (events, folded.unwrap())
}

fn submit_command(code: &ReceiptCode, now: Instant) -> Command {
    Command::Submit {
        petition: Box::new(petition()),
        receipt: code.clone(),
        bureau: UnitId::new(BUREAU),
        received_at: now,
    }
}

/// 登记, built from its wire form so optional fields added later keep their defaults.
fn register(class: StatutoryClass, category: Option<&str>) -> Command {
    serde_json::from_value(serde_json::json!({
        "command": "register",
        "class": class,
        "category": category,
    }))
    .unwrap()
}

fn note(text: &str) -> Command {
    Command::AddNote {
        text: DocumentText::parse(text).unwrap(),
    }
}

/// Submits a new case in one write transaction.
async fn submit(store: &Store, id: &str, code: &ReceiptCode, now: Instant) -> CaseState {
    let id = CaseId::new(id);
    let (events, state) = decide_at(None, &id, submit_command(code, now), now);
    let mut tx = store.begin_write().await.unwrap();
    tx.insert_case(&state, &no_deadline(), "secret-hash")
        .await
        .unwrap();
    tx.append(&events).await.unwrap();
    tx.commit().await.unwrap();
    state
}

/// Runs a command on an existing case in one write transaction.
async fn run(store: &Store, state: &CaseState, command: Command, now: Instant) -> CaseState {
    let (events, next) = decide_at(Some(state), &state.id, command, now);
    let mut tx = store.begin_write().await.unwrap();
    tx.update_case(&next, &no_deadline(), state.version)
        .await
        .unwrap();
    tx.append(&events).await.unwrap();
    tx.commit().await.unwrap();
    next
}

/// Two cases with five events between them (seq 1..=5), all through the write path:
/// seq 1 A submitted, 2 A registered, 3 B submitted, 4 A note, 5 B note.
async fn two_cases(store: &Store) -> (CaseState, CaseState) {
    let a = submit(store, "case-a", &receipt(1), at(4, 9, 1)).await;
    let a = run(
        store,
        &a,
        register(StatutoryClass::Appeal(AppealRoute::PetitionProcedure), None),
        at(4, 10, 2),
    )
    .await;
    let b = submit(store, "case-b", &receipt(2), at(4, 11, 3)).await;
    let a = run(store, &a, note("已电话联系信访人"), at(4, 12, 4)).await;
    let b = run(store, &b, note("来信附件齐全"), at(4, 13, 5)).await;
    (a, b)
}

async fn fresh() -> TestDb {
    testing::fresh().await.unwrap()
}

#[tokio::test]
async fn appended_events_read_back_equal() {
    let db = fresh().await;
    let store = &db.store;
    let id = CaseId::new("case-1");
    let now = at(4, 9, 123);
    let (submitted, state) = decide_at(None, &id, submit_command(&receipt(7), now), now);
    let (registered, state2) = decide_at(
        Some(&state),
        &id,
        register(StatutoryClass::Accusation, Some("城乡建设")),
        at(4, 10, 456),
    );

    let mut tx = store.begin_write().await.unwrap();
    tx.insert_case(&state, &no_deadline(), "h").await.unwrap();
    let seqs = tx.append(&submitted).await.unwrap();
    assert_eq!(seqs, vec![1]);
    tx.commit().await.unwrap();

    let mut tx = store.begin_write().await.unwrap();
    assert_eq!(tx.load_case(&id).await.unwrap().as_ref(), Some(&state));
    tx.update_case(&state2, &no_deadline(), 1).await.unwrap();
    let seqs = tx.append(&registered).await.unwrap();
    assert_eq!(seqs, vec![2]);
    tx.commit().await.unwrap();

    let stored = store.events_of(&id).await.unwrap();
    let read: Vec<Event> = stored.iter().map(|s| s.event.clone()).collect();
    let mut written = submitted.clone();
    written.extend(registered.clone());
    assert_eq!(read, written);
    assert_eq!(stored.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![1, 2]);

    // The stored hashes are the chain over exactly these events.
    let mut prev = huiyin_store::GENESIS_HASH.to_string();
    for s in &stored {
        let canonical = huiyin_store::canonical_event(s.seq, &s.event).unwrap();
        prev = huiyin_store::chain_hash(&prev, &canonical).unwrap();
        assert_eq!(s.hash, prev);
    }
    assert_eq!(store.head().await.unwrap(), (2, prev));

    let record = store.case(&id).await.unwrap().unwrap();
    assert_eq!(record.state, state2);
    assert_eq!(record.secret_hash, "h");
    assert_eq!(
        store.case_by_receipt(receipt(7).as_str()).await.unwrap(),
        Some((id.clone(), "h".to_string()))
    );
    assert!(
        store
            .events_of(&CaseId::new("nope"))
            .await
            .unwrap()
            .is_empty()
    );
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn intact_chain_verifies() {
    let db = fresh().await;
    let empty = db.store.verify(true).await.unwrap();
    assert!(empty.ok(), "{empty:?}");
    assert_eq!(empty.events, 0);
    assert_eq!(empty.head, huiyin_store::GENESIS_HASH);

    two_cases(&db.store).await;
    let report = db.store.verify(true).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events, 5);
    assert_eq!(report.last_seq, 5);
    assert_eq!(report.head, db.store.head().await.unwrap().1);
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn tampered_payload_breaks_the_chain_at_that_event() {
    let db = fresh().await;
    let store = &db.store;
    two_cases(store).await;
    // Seq 3 is case B's submission: change the title inside the payload, keeping valid JSON.
    let (payload,): (String,) = sqlx::query_as("SELECT payload FROM events WHERE seq = 3")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(payload.contains("小区路灯不亮"));
    let forged = payload.replace("小区路灯不亮", "小区路灯已修");
    sqlx::query("UPDATE events SET payload = $1 WHERE seq = 3")
        .bind(forged)
        .execute(store.pool())
        .await
        .unwrap();
    let report = store.verify(false).await.unwrap();
    assert!(!report.ok());
    let (seq, why) = report.first_broken.unwrap();
    assert_eq!(seq, 3, "{why}");
    assert_eq!(report.events, 2, "the links before the forgery are intact");
    assert_eq!(report.last_seq, 2);

    // A payload that no longer parses is reported at the same place, not as an error.
    sqlx::query("UPDATE events SET payload = $1 WHERE seq = 3")
        .bind("{\"type\":\"nonsense\"}")
        .execute(store.pool())
        .await
        .unwrap();
    let report = store.verify(false).await.unwrap();
    assert_eq!(report.first_broken.map(|b| b.0), Some(3));
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn tampered_envelope_breaks_the_chain_at_that_event() {
    let db = fresh().await;
    let store = &db.store;
    two_cases(store).await;
    // The envelope is hashed too: moving an event in time is evident.
    sqlx::query("UPDATE events SET at_ms = at_ms + 1 WHERE seq = 4")
        .execute(store.pool())
        .await
        .unwrap();
    let report = store.verify(false).await.unwrap();
    assert_eq!(report.first_broken.map(|b| b.0), Some(4));
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn tampered_hash_breaks_the_chain_at_that_event() {
    let db = fresh().await;
    let store = &db.store;
    two_cases(store).await;
    sqlx::query("UPDATE events SET hash = $1 WHERE seq = 3")
        .bind("ab".repeat(32))
        .execute(store.pool())
        .await
        .unwrap();
    let report = store.verify(true).await.unwrap();
    assert!(!report.ok());
    assert_eq!(report.first_broken.as_ref().map(|b| b.0), Some(3));
    assert_eq!(report.last_seq, 2);

    // Recomputing the hash of a forged event does not help: the next link no longer matches.
    let db2 = fresh().await;
    let store = &db2.store;
    two_cases(store).await;
    let rows: Vec<(String,)> = sqlx::query_as("SELECT payload FROM events WHERE seq = 3")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let forged_payload = rows[0].0.replace("小区路灯不亮", "小区路灯已修");
    sqlx::query("UPDATE events SET payload = $1 WHERE seq = 3")
        .bind(forged_payload)
        .execute(store.pool())
        .await
        .unwrap();
    let forged = store.events_after(2, 1).await.unwrap().remove(0);
    let (prev,): (String,) = sqlx::query_as("SELECT prev_hash FROM events WHERE seq = 3")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let rehashed = huiyin_store::chain_hash(
        &prev,
        &huiyin_store::canonical_event(3, &forged.event).unwrap(),
    )
    .unwrap();
    sqlx::query("UPDATE events SET hash = $1 WHERE seq = 3")
        .bind(rehashed)
        .execute(store.pool())
        .await
        .unwrap();
    let report = store.verify(false).await.unwrap();
    assert_eq!(
        report.first_broken.as_ref().map(|b| b.0),
        Some(4),
        "{report:?}"
    );
    db.cleanup().await.unwrap();
    db2.cleanup().await.unwrap();
}

#[tokio::test]
async fn deleted_event_is_reported_as_a_gap() {
    let db = fresh().await;
    let store = &db.store;
    two_cases(store).await;
    sqlx::query("DELETE FROM events WHERE seq = 3")
        .execute(store.pool())
        .await
        .unwrap();
    let report = store.verify(false).await.unwrap();
    let (seq, why) = report.first_broken.clone().unwrap();
    assert_eq!(seq, 4, "the first event after the hole: {why}");
    assert!(why.contains("gap"), "{why}");
    assert!(
        why.contains('3'),
        "names the missing sequence number: {why}"
    );
    assert_eq!(report.last_seq, 2);
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn truncated_log_is_reported_against_the_head() {
    let db = fresh().await;
    let store = &db.store;
    two_cases(store).await;
    // Dropping the newest event leaves no gap, but the chain head still remembers it.
    sqlx::query("DELETE FROM events WHERE seq = 5")
        .execute(store.pool())
        .await
        .unwrap();
    let report = store.verify(false).await.unwrap();
    assert!(!report.ok());
    assert_eq!(report.first_broken.map(|b| b.0), Some(5));
    assert_eq!(report.last_seq, 4);
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn stale_writer_gets_a_conflict_and_leaves_nothing() {
    let db = fresh().await;
    let store = &db.store;
    let v1 = submit(store, "case-c", &receipt(3), at(5, 9, 0)).await;
    let head_before = store.head().await.unwrap();

    // Two writers both read version 1 and decide version 2.
    let (events1, state1) = decide_at(Some(&v1), &v1.id, note("第一位办理人的备注"), at(5, 10, 0));
    let (events2, state2) = decide_at(Some(&v1), &v1.id, note("第二位办理人的备注"), at(5, 10, 1));
    assert_eq!(events1[0].version, 2);
    assert_eq!(events2[0].version, 2);

    // The first commits.
    let mut tx1 = store.begin_write().await.unwrap();
    tx1.update_case(&state1, &no_deadline(), 1).await.unwrap();
    let seqs1 = tx1.append(&events1).await.unwrap();
    tx1.commit().await.unwrap();
    assert_eq!(seqs1, vec![head_before.0 + 1]);
    let head_after_first = store.head().await.unwrap();

    // The second, working from the old state: the projection guard refuses it…
    let mut tx2 = store.begin_write().await.unwrap();
    match tx2.update_case(&state2, &no_deadline(), 1).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    drop(tx2); // rolled back

    // …and so does the unique (case, version) of the log, should a writer skip the guard.
    let mut tx2 = store.begin_write().await.unwrap();
    match tx2.append(&events2).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    drop(tx2);

    // Nothing of the second writer is visible; the first writer's change is intact.
    let events = store.events_of(&v1.id).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].event, events1[0]);
    assert_eq!(store.case(&v1.id).await.unwrap().unwrap().state, state1);
    assert_eq!(store.head().await.unwrap(), head_after_first);
    let report = store.verify(true).await.unwrap();
    assert!(report.ok(), "{report:?}");

    // The store still takes the next honest write after the refused ones.
    let v3 = run(store, &state1, note("第三条备注"), at(5, 11, 0)).await;
    assert_eq!(v3.version, 3);
    assert!(store.verify(true).await.unwrap().ok());
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn concurrent_writers_serialise_and_the_stale_one_conflicts() {
    let db = fresh().await;
    let store = &db.store;
    let v1 = submit(store, "case-g", &receipt(5), at(5, 9, 0)).await;
    let (events1, state1) = decide_at(Some(&v1), &v1.id, note("甲的备注"), at(5, 10, 0));
    let (events2, state2) = decide_at(Some(&v1), &v1.id, note("乙的备注"), at(5, 10, 1));

    // Writer 1 holds the chain head…
    let mut tx1 = store.begin_write().await.unwrap();
    tx1.update_case(&state1, &no_deadline(), 1).await.unwrap();
    tx1.append(&events1).await.unwrap();

    // …while writer 2, which also saw version 1, starts and must wait for it.
    let other = store.clone();
    let second = tokio::spawn(async move {
        let mut tx2 = other.begin_write().await?;
        tx2.update_case(&state2, &no_deadline(), 1).await?;
        tx2.append(&events2).await?;
        tx2.commit().await
    });
    // Give writer 2 a moment to queue on the lock (the outcome must not depend on it).
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!second.is_finished(), "writer 2 did not wait for writer 1");
    tx1.commit().await.unwrap();

    match tokio::time::timeout(std::time::Duration::from_secs(20), second)
        .await
        .expect("writer 2 still blocked after writer 1 committed")
        .unwrap()
    {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    let events = store.events_of(&v1.id).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].event, events1[0]);
    assert_eq!(store.case(&v1.id).await.unwrap().unwrap().state, state1);
    assert!(store.verify(true).await.unwrap().ok());
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn a_transaction_dropped_before_commit_leaves_nothing() {
    let db = fresh().await;
    let store = &db.store;
    let v1 = submit(store, "case-d", &receipt(4), at(5, 9, 0)).await;
    let head = store.head().await.unwrap();
    let (events, state) = decide_at(Some(&v1), &v1.id, note("未提交的备注"), at(5, 10, 0));
    let mut tx = store.begin_write().await.unwrap();
    tx.update_case(&state, &no_deadline(), 1).await.unwrap();
    tx.append(&events).await.unwrap();
    drop(tx);
    assert_eq!(store.head().await.unwrap(), head);
    assert_eq!(store.events_of(&v1.id).await.unwrap().len(), 1);
    assert_eq!(store.case(&v1.id).await.unwrap().unwrap().state, v1);
    assert!(store.verify(true).await.unwrap().ok());
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn migrate_twice_is_a_no_op() {
    let db = fresh().await;
    let store = &db.store;
    two_cases(store).await;
    let head = store.head().await.unwrap();
    let count = || async {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM schema_migrations")
            .fetch_one(store.pool())
            .await
            .unwrap();
        n
    };
    let before = count().await;
    assert!(store.migrate().await.unwrap().is_empty());
    assert!(store.migrate().await.unwrap().is_empty());
    // Every migration ran once, and running again added nothing.
    assert!(before >= 1);
    assert_eq!(count().await, before);
    assert_eq!(store.head().await.unwrap(), head);
    assert_eq!(store.count_cases().await.unwrap(), 2);
    assert_eq!(
        store.units().await.unwrap().len(),
        1,
        "seed unit not duplicated"
    );
    assert!(store.verify(true).await.unwrap().ok());

    // A second connection (another process starting up) sees the same: nothing to do.
    let other = Store::connect(&db.url).await.unwrap();
    assert!(other.migrate().await.unwrap().is_empty());
    other.close().await;
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn receipt_codes_are_unique() {
    let db = fresh().await;
    let store = &db.store;
    submit(store, "case-e", &receipt(42), at(6, 9, 0)).await;
    let head = store.head().await.unwrap();

    let id = CaseId::new("case-f");
    let now = at(6, 10, 0);
    let (_events, state) = decide_at(None, &id, submit_command(&receipt(42), now), now);
    let mut tx = store.begin_write().await.unwrap();
    match tx.insert_case(&state, &no_deadline(), "other").await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    drop(tx);
    assert!(store.case(&id).await.unwrap().is_none());
    assert_eq!(store.head().await.unwrap(), head);

    // A different code goes through.
    submit(store, "case-f", &receipt(43), at(6, 10, 0)).await;
    assert_eq!(store.count_cases().await.unwrap(), 2);
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn events_after_pages_in_sequence_order() {
    let db = fresh().await;
    let store = &db.store;
    // 3 cases interleaved, 12 events in all.
    let mut cases = Vec::new();
    for i in 0..3u32 {
        cases.push(
            submit(
                store,
                &format!("case-p{i}"),
                &receipt(100 + u64::from(i)),
                at(7, 9, i64::from(i)),
            )
            .await,
        );
    }
    for round in 0..3u32 {
        for c in &mut cases {
            *c = run(
                store,
                c,
                note(&format!("第{round}轮备注")),
                at(7, 10 + round, 0),
            )
            .await;
        }
    }
    let mut seen = Vec::new();
    let mut after = 0;
    let mut pages = 0;
    loop {
        let page = store.events_after(after, 5).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 5);
        pages += 1;
        assert!(pages <= 10, "paging does not terminate");
        after = page.last().unwrap().seq;
        seen.extend(page);
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<i64>>()
    );
    // Each case's events appear in version order within the global order.
    for c in &cases {
        let versions: Vec<u64> = seen
            .iter()
            .filter(|e| e.event.case_id == c.id)
            .map(|e| e.event.version)
            .collect();
        assert_eq!(versions, vec![1, 2, 3, 4]);
    }
    assert!(store.events_after(12, 5).await.unwrap().is_empty());
    assert_eq!(store.events_after(10, 100).await.unwrap().len(), 2);
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn projection_mismatch_is_reported() {
    let db = fresh().await;
    let store = &db.store;
    let (a, b) = two_cases(store).await;
    assert!(store.verify(true).await.unwrap().ok());

    // Edit case B's stored state behind the log's back (still a readable state).
    let mut forged = b.clone();
    forged.notes += 5;
    sqlx::query("UPDATE cases SET state = $1 WHERE id = $2")
        .bind(serde_json::to_string(&forged).unwrap())
        .bind(b.id.as_str())
        .execute(store.pool())
        .await
        .unwrap();
    let report = store.verify(true).await.unwrap();
    assert!(!report.ok());
    assert!(report.first_broken.is_none(), "the log itself is intact");
    assert_eq!(report.projection_mismatches, vec![b.id.to_string()]);
    // Without projections only the chain is checked.
    assert!(store.verify(false).await.unwrap().ok());
    assert_ne!(a.id, b.id);
    db.cleanup().await.unwrap();
}

/// A batch transaction (the writer's group commit) keeps its writes until commit: reads in the
/// transaction see them, a second command on the same case builds on the first, and everything
/// lands at once — cases, events, chain — as if written one by one.
#[tokio::test]
async fn a_batch_reads_its_own_writes_and_commits_them_together() {
    let db = fresh().await;
    let store = &db.store;
    let old = submit(store, "case-old", &receipt(20), at(7, 9, 0)).await;
    let head = store.head().await.unwrap();

    let now = at(7, 10, 0);
    let id = CaseId::new("case-new");
    let (submitted, v1) = decide_at(None, &id, submit_command(&receipt(21), now), now);
    let (registered, v2) = decide_at(
        Some(&v1),
        &id,
        register(StatutoryClass::Appeal(AppealRoute::PetitionProcedure), None),
        at(7, 10, 1),
    );
    let (noted, old2) = decide_at(Some(&old), &old.id, note("批量中的备注"), at(7, 10, 2));

    let mut tx = store.begin_batch().await.unwrap();
    tx.prefetch(&[&old.id, &id], &["no-such-key"])
        .await
        .unwrap();
    assert_eq!(tx.load_case(&old.id).await.unwrap().as_ref(), Some(&old));
    assert_eq!(tx.load_case(&id).await.unwrap(), None);
    assert_eq!(tx.find_submission("no-such-key").await.unwrap(), None);
    tx.insert_case(&v1, &no_deadline(), "h").await.unwrap();
    tx.append(&submitted).await.unwrap();
    tx.put_submission("key-1", &id, "sealed", 1).await.unwrap();
    assert_eq!(tx.load_case(&id).await.unwrap().as_ref(), Some(&v1));
    assert_eq!(
        tx.find_submission("key-1").await.unwrap(),
        Some((id.clone(), "sealed".to_string()))
    );
    tx.update_case(&v2, &no_deadline(), 1).await.unwrap();
    tx.append(&registered).await.unwrap();
    tx.update_case(&old2, &no_deadline(), 1).await.unwrap();
    tx.append(&noted).await.unwrap();
    assert_eq!(tx.load_case(&old.id).await.unwrap().as_ref(), Some(&old2));
    // A stale update of a case written in this batch is refused at once.
    match tx.update_case(&v2, &no_deadline(), 1).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Nothing is visible outside before the commit.
    assert!(store.case(&id).await.unwrap().is_none());
    tx.commit().await.unwrap();

    assert_eq!(store.case(&id).await.unwrap().unwrap().state, v2);
    assert_eq!(store.case(&old.id).await.unwrap().unwrap().state, old2);
    let events: Vec<Event> = store
        .events_of(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(events, [submitted, registered].concat());
    assert_eq!(store.head().await.unwrap().0, head.0 + 3);
    assert!(store.verify(true).await.unwrap().ok());
    db.cleanup().await.unwrap();
}

/// In a batch a conflict surfaces at commit, and the whole batch is rolled back.
#[tokio::test]
async fn a_stale_batch_fails_at_commit_and_leaves_nothing() {
    let db = fresh().await;
    let store = &db.store;
    let v1 = submit(store, "case-s", &receipt(30), at(8, 9, 0)).await;
    let (events2, state2) = decide_at(Some(&v1), &v1.id, note("过时的备注"), at(8, 10, 1));
    run(store, &v1, note("先到的备注"), at(8, 10, 0)).await;
    let head = store.head().await.unwrap();

    let id = CaseId::new("case-t");
    let now = at(8, 11, 0);
    let (submitted, fresh_case) = decide_at(None, &id, submit_command(&receipt(31), now), now);
    let mut tx = store.begin_batch().await.unwrap();
    tx.insert_case(&fresh_case, &no_deadline(), "h")
        .await
        .unwrap();
    tx.append(&submitted).await.unwrap();
    // Accepted for now: the batch does not read the case, it trusts the caller's version.
    tx.update_case(&state2, &no_deadline(), 1).await.unwrap();
    tx.append(&events2).await.unwrap();
    match tx.commit().await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(store.case(&id).await.unwrap().is_none());
    assert_eq!(store.events_of(&v1.id).await.unwrap().len(), 2);
    assert_eq!(store.head().await.unwrap(), head);
    assert!(store.verify(true).await.unwrap().ok());
    db.cleanup().await.unwrap();
}

/// `events_of` decodes payloads tag first without buffering (`type` is the first key as
/// written); a payload with its keys in another order — the same JSON object, so the chain
/// still verifies — is decoded the ordinary way, to the same events.
#[tokio::test]
async fn events_read_back_equal_whatever_the_payload_key_order() {
    let db = fresh().await;
    let store = &db.store;
    let (a, _) = two_cases(store).await;
    let before = store.events_of(&a.id).await.unwrap();
    assert!(before.len() >= 2);
    let (seq, payload): (i64, String) =
        sqlx::query_as("SELECT seq, payload FROM events WHERE case_id = $1 AND version = 2")
            .bind(a.id.as_str())
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(payload.starts_with("{\"type\":"), "{payload}");
    // The same object with `type` moved to the end.
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&payload).unwrap();
    let tag = object.remove("type").unwrap();
    let mut reordered = serde_json::to_string(&object).unwrap();
    reordered.pop();
    reordered.push_str(&format!(",\"type\":{tag}}}"));
    assert_ne!(reordered, payload);
    sqlx::query("UPDATE events SET payload = $1 WHERE seq = $2")
        .bind(&reordered)
        .bind(seq)
        .execute(store.pool())
        .await
        .unwrap();
    // `events_of` reads the case's event chunks: the same change there.
    let changed =
        sqlx::query("UPDATE event_chunks SET body = replace(body, $1, $2) WHERE case_id = $3")
            .bind(&payload)
            .bind(&reordered)
            .bind(a.id.as_str())
            .execute(store.pool())
            .await
            .unwrap();
    assert_eq!(changed.rows_affected(), 1);
    let after = store.events_of(&a.id).await.unwrap();
    let events = |v: &[huiyin_store::StoredEvent]| -> Vec<(i64, Event, String)> {
        v.iter()
            .map(|s| (s.seq, s.event.clone(), s.hash.clone()))
            .collect()
    };
    assert_eq!(events(&after), events(&before));
    assert!(store.verify(true).await.unwrap().ok());
    db.cleanup().await.unwrap();
}

fn staff_user(id: &str, username: &str) -> huiyin_store::UserRecord {
    huiyin_store::UserRecord {
        id: id.into(),
        username: username.into(),
        display_name: "测试".into(),
        password_hash: "x".into(),
        totp_secret: None,
        totp_pending: None,
        totp_last_step: None,
        must_change_password: false,
        failed_logins: 0,
        locked_until_ms: None,
        disabled: false,
        created_at_ms: 1,
        password_changed_at_ms: 1,
    }
}

#[tokio::test]
async fn a_user_change_and_its_audit_entry_are_written_together_or_not_at_all() {
    use huiyin_store::{AuditEntry, UnitRecord, UserChange};
    let db = fresh().await;
    let s = &db.store;
    s.insert_unit(&UnitRecord {
        id: "4406-xfj".into(),
        name: "佛山市信访局".into(),
        kind: "petition_bureau".into(),
        region_code: "4406".into(),
        parent_id: None,
    })
    .await
    .unwrap();
    let entry = |action: &str| AuditEntry {
        at_ms: 5,
        actor: "user:admin".into(),
        actor_unit: None,
        action: action.into(),
        case_id: None,
        detail: "{}".into(),
    };
    let roles = vec!["handler".to_string()];
    let first = staff_user("u1", "zhang");
    s.change_user(
        &[
            UserChange::Insert(&first),
            UserChange::Membership {
                user_id: "u1",
                unit_id: "4406-xfj",
                roles: &roles,
            },
        ],
        Some(&entry("admin_add_user")),
    )
    .await
    .unwrap();
    assert_eq!(s.memberships("u1").await.unwrap()[0].roles, roles);
    // A second account with the same login fails at its insert: the role granted in the same
    // change to the first account is not written, nor is the audit entry.
    let more = vec!["handler".to_string(), "registrar".to_string()];
    let twin = staff_user("u2", "zhang");
    let err = s
        .change_user(
            &[
                UserChange::Membership {
                    user_id: "u1",
                    unit_id: "4406-xfj",
                    roles: &more,
                },
                UserChange::Insert(&twin),
            ],
            Some(&entry("admin_grant_role")),
        )
        .await;
    assert!(err.is_err());
    assert_eq!(s.memberships("u1").await.unwrap()[0].roles, roles);
    assert!(s.user_by_id("u2").await.unwrap().is_none());
    let actions: Vec<String> = s
        .audit_entries(None, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.entry.action)
        .collect();
    assert_eq!(actions, vec!["admin_add_user".to_string()]);
    // The only administrator cannot lose the role: the check refuses the whole change.
    let admin = vec!["administrator".to_string()];
    s.change_user(
        &[UserChange::Membership {
            user_id: "u1",
            unit_id: "4406-xfj",
            roles: &admin,
        }],
        Some(&entry("admin_grant_role")),
    )
    .await
    .unwrap();
    let none: Vec<String> = Vec::new();
    let refused = s
        .change_user(
            &[
                UserChange::Membership {
                    user_id: "u1",
                    unit_id: "4406-xfj",
                    roles: &none,
                },
                UserChange::AdministratorRemains,
            ],
            Some(&entry("admin_revoke_role")),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(
        s.active_administrators().await.unwrap(),
        vec!["u1".to_string()]
    );
    let actions = s.audit_entries(None, None, 100).await.unwrap();
    assert_eq!(actions.len(), 2, "the refused change left no entry");
    assert!(
        s.verify_audit().await.unwrap().ok(),
        "the audit chain stays intact"
    );
    db.cleanup().await.unwrap();
}

/// A case with `notes` notes after its submission and registration, each in its own
/// transaction except the last ten, written in one.
async fn long_case(store: &Store, notes: u32) -> CaseState {
    let mut state = submit(store, "case-long", &receipt(9), at(4, 9, 0)).await;
    state = run(
        store,
        &state,
        register(StatutoryClass::Appeal(AppealRoute::PetitionProcedure), None),
        at(4, 9, 1),
    )
    .await;
    for i in 0..notes.saturating_sub(10) {
        state = run(
            store,
            &state,
            note(&format!("第{i}次备注")),
            at(4, 10, i64::from(i)),
        )
        .await;
    }
    let before = state.version;
    let mut events = Vec::new();
    for i in notes.saturating_sub(10)..notes {
        let (mut e, next) = decide_at(
            Some(&state),
            &state.id,
            note(&format!("第{i}次备注")),
            at(4, 11, i64::from(i)),
        );
        events.append(&mut e);
        state = next;
    }
    let mut tx = store.begin_write().await.unwrap();
    tx.update_case(&state, &no_deadline(), before)
        .await
        .unwrap();
    tx.append(&events).await.unwrap();
    tx.commit().await.unwrap();
    state
}

/// The events of one case read row by row (`events_after`, not the chunks).
async fn rows_of(store: &Store, id: &CaseId) -> Vec<(i64, Event, String)> {
    store
        .events_after(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|s| &s.event.case_id == id)
        .map(|s| (s.seq, s.event, s.hash))
        .collect()
}

fn triples(v: &[huiyin_store::StoredEvent]) -> Vec<(i64, Event, String)> {
    v.iter()
        .map(|s| (s.seq, s.event.clone(), s.hash.clone()))
        .collect()
}

/// `events_of` reads the event chunks (64 events a row); across chunk boundaries, with a
/// batch that crosses one, it returns exactly the rows of `events`.
#[tokio::test]
async fn events_read_from_chunks_equal_the_rows_across_chunk_boundaries() {
    let db = fresh().await;
    let store = &db.store;
    two_cases(store).await;
    // 2 + 136 events: chunks 0 (1..=64), 1 (65..=128), 2 (129..=138); the batch of the last
    // ten (129..=138) and the single writes before it.
    let state = long_case(store, 136).await;
    assert_eq!(state.version, 138);
    let read = store.events_of(&state.id).await.unwrap();
    assert_eq!(read.len(), 138);
    assert_eq!(triples(&read), rows_of(store, &state.id).await);
    let (chunks,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM event_chunks WHERE case_id = $1")
        .bind(state.id.as_str())
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(chunks, 3);
    let report = store.verify(true).await.unwrap();
    assert!(report.ok(), "{report:?}");
    db.cleanup().await.unwrap();
}

/// A chunk that lost a record, or a missing chunk, is read around (the rows of `events`) and
/// reported by `verify`.
#[tokio::test]
async fn a_damaged_or_missing_chunk_is_read_around_and_reported() {
    let db = fresh().await;
    let store = &db.store;
    let (a, b) = two_cases(store).await;
    let state = long_case(store, 70).await;
    assert!(store.verify(true).await.unwrap().ok());
    let good = triples(&store.events_of(&state.id).await.unwrap());
    // Chunk 1 (versions 65..=72) loses its last record.
    let (body,): (String,) =
        sqlx::query_as("SELECT body FROM event_chunks WHERE case_id = $1 AND chunk = 1")
            .bind(state.id.as_str())
            .fetch_one(store.pool())
            .await
            .unwrap();
    let cut = body.rfind(" [").unwrap();
    sqlx::query("UPDATE event_chunks SET body = $1 WHERE case_id = $2 AND chunk = 1")
        .bind(&body[..cut])
        .bind(state.id.as_str())
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(triples(&store.events_of(&state.id).await.unwrap()), good);
    // Case B's only chunk is gone.
    sqlx::query("DELETE FROM event_chunks WHERE case_id = $1")
        .bind(b.id.as_str())
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(
        triples(&store.events_of(&b.id).await.unwrap()),
        rows_of(store, &b.id).await
    );
    // Case A's chunk is not JSON any more.
    sqlx::query("UPDATE event_chunks SET body = '[1,garbage' WHERE case_id = $1")
        .bind(a.id.as_str())
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(
        triples(&store.events_of(&a.id).await.unwrap()),
        rows_of(store, &a.id).await
    );
    let report = store.verify(true).await.unwrap();
    assert!(!report.ok());
    assert!(report.first_broken.is_none(), "the chain itself is intact");
    assert!(report.projection_mismatches.is_empty());
    assert_eq!(
        report.chunk_mismatches,
        vec![a.id.to_string(), b.id.to_string(), state.id.to_string()]
    );
    db.cleanup().await.unwrap();
}

/// The migration that adds the chunks builds them for the events already stored.
#[tokio::test]
async fn the_chunk_migration_backfills_stored_events() {
    let db = fresh().await;
    let store = &db.store;
    let (a, b) = two_cases(store).await;
    let long = long_case(store, 100).await;
    let before: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT case_id, chunk, body FROM event_chunks ORDER BY case_id, chunk")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(before.len(), 4);
    // Back to the schema before migration 13, with the same events.
    sqlx::query("DROP TABLE event_chunks")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM schema_migrations WHERE version = 13")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(store.migrate().await.unwrap(), vec![13]);
    let after: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT case_id, chunk, body FROM event_chunks ORDER BY case_id, chunk")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(after, before);
    for id in [&a.id, &b.id, &long.id] {
        assert_eq!(
            triples(&store.events_of(id).await.unwrap()),
            rows_of(store, id).await
        );
    }
    assert!(store.verify(true).await.unwrap().ok());
    db.cleanup().await.unwrap();
}
