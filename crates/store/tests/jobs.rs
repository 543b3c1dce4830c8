//! The job queue against a real database (SQLite, or PostgreSQL with
//! `HUIYIN_TEST_DATABASE_URL`): a job enqueued in a write transaction exists exactly when it
//! commits; idempotency keys de-duplicate; claiming leases; an expired lease makes a job due
//! again and fences the old holder out; failures retry until they become dead letters, which
//! an administrator can put back; concurrent claimers never get the same job.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use huiyin_store::testing::{self, TestDb};
use huiyin_store::{NewJob, Store};

fn job(key: &str, run_at_ms: i64) -> NewJob {
    NewJob {
        kind: "test".into(),
        payload: format!("{{\"key\":\"{key}\"}}"),
        idempotency_key: key.into(),
        case_id: Some("case-1".into()),
        run_at_ms,
        max_attempts: 3,
        created_at_ms: 1_000,
    }
}

async fn fresh() -> TestDb {
    testing::fresh().await.expect("test database")
}

async fn claim(store: &Store, now: i64, n: i64) -> Vec<huiyin_store::ClaimedJob> {
    store.claim_jobs("w1", now, 30_000, n).await.unwrap()
}

#[tokio::test]
async fn jobs_enqueued_in_a_write_exist_only_if_it_commits() {
    let db = fresh().await;
    let store = &db.store;
    // rolled back: nothing
    let mut tx = store.begin_batch().await.unwrap();
    tx.enqueue(vec![job("a", 0)]).await.unwrap();
    drop(tx);
    assert!(claim(store, 10_000, 10).await.is_empty());
    // committed: there, and a repeated key is skipped
    let mut tx = store.begin_batch().await.unwrap();
    tx.enqueue(vec![job("a", 0), job("b", 0)]).await.unwrap();
    tx.enqueue(vec![job("a", 0)]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .enqueue_jobs(&[job("b", 0), job("c", 0)])
            .await
            .unwrap(),
        1
    );
    let counts = store.job_counts().await.unwrap();
    assert_eq!(counts.ready, 3);
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn claims_only_due_jobs_in_due_order_and_leases_them() {
    let db = fresh().await;
    let store = &db.store;
    store
        .enqueue_jobs(&[
            job("late", 5_000),
            job("early", 1_000),
            job("future", 99_000),
        ])
        .await
        .unwrap();
    let got = claim(store, 6_000, 10).await;
    let keys: Vec<&str> = got.iter().map(|j| j.idempotency_key.as_str()).collect();
    assert_eq!(keys.len(), 2);
    assert!(keys.contains(&"early") && keys.contains(&"late"));
    assert!(got.iter().all(|j| j.attempt == 1));
    // leased: not claimable again before the lease ends
    assert!(claim(store, 7_000, 10).await.is_empty());
    let early = got.iter().find(|j| j.idempotency_key == "early").unwrap();
    assert!(store.complete_job(&early.id, 1, 7_000).await.unwrap());
    // the other one's lease expires (worker died): due again, as attempt 2
    let again = claim(store, 6_000 + 30_001, 10).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].idempotency_key, "late");
    assert_eq!(again[0].attempt, 2);
    // the old holder is fenced out
    assert!(!store.complete_job(&again[0].id, 1, 40_000).await.unwrap());
    assert!(
        !store
            .fail_job(&again[0].id, 1, 40_000, "x", None)
            .await
            .unwrap()
    );
    assert!(store.complete_job(&again[0].id, 2, 40_000).await.unwrap());
    let counts = store.job_counts().await.unwrap();
    assert_eq!((counts.done, counts.ready, counts.running), (2, 1, 0));
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn failures_retry_then_dead_letter_and_an_admin_retries() {
    let db = fresh().await;
    let store = &db.store;
    store.enqueue_jobs(&[job("x", 0)]).await.unwrap();
    let mut now = 1_000;
    for attempt in 1..=3 {
        let got = claim(store, now, 1).await;
        assert_eq!(got.len(), 1, "attempt {attempt}");
        assert_eq!(got[0].attempt, attempt);
        let retry = (attempt < got[0].max_attempts).then_some(now + 5_000);
        assert!(
            store
                .fail_job(&got[0].id, attempt, now, "HTTP 500", retry)
                .await
                .unwrap()
        );
        // not due before its backoff
        assert!(claim(store, now + 4_999, 1).await.is_empty());
        now += 5_000;
    }
    assert!(claim(store, now + 1_000_000, 1).await.is_empty());
    let dead = store.dead_jobs(None, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 500"));
    assert!(store.retry_dead_job(&dead[0].id, now).await.unwrap());
    assert!(!store.retry_dead_job(&dead[0].id, now).await.unwrap());
    let got = claim(store, now, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].attempt, 1);
    assert!(store.dead_jobs(None, 10).await.unwrap().is_empty());
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn concurrent_claimers_never_share_a_job() {
    let db = fresh().await;
    let store = db.store.clone();
    let jobs: Vec<NewJob> = (0..400).map(|i| job(&format!("k{i}"), 0)).collect();
    store.enqueue_jobs(&jobs).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_jobs(&format!("w{w}"), 1_000, 60_000, 7)
                    .await
                    .unwrap();
                if got.is_empty() {
                    break;
                }
                for j in got {
                    assert!(store.complete_job(&j.id, j.attempt, 1_000).await.unwrap());
                    mine.push(j.idempotency_key);
                }
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for key in t.await.unwrap() {
            assert!(seen.insert(key.clone()), "{key} claimed twice");
        }
    }
    assert_eq!(seen.len(), 400);
    assert_eq!(store.job_counts().await.unwrap().done, 400);
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn delivery_log_and_inbox_are_kept_per_case_and_key() {
    let db = fresh().await;
    let store = &db.store;
    let d = huiyin_store::DeliveryRecord {
        job_id: "j1".into(),
        case_id: Some("case-1".into()),
        channel: "sms".into(),
        step: "accepted".into(),
        attempt: 1,
        at_ms: 5,
        ok: false,
        detail: "timeout".into(),
    };
    store.log_delivery(&d).await.unwrap();
    store
        .log_delivery(&huiyin_store::DeliveryRecord {
            attempt: 2,
            at_ms: 9,
            ok: true,
            detail: "sent".into(),
            ..d.clone()
        })
        .await
        .unwrap();
    let log = store.deliveries_for_case("case-1").await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(!log[0].ok && log[1].ok);
    assert!(
        store
            .deliveries_for_case("case-2")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .put_inbox_message("key-1", "ph", "case-1", "accepted", "已受理", 1)
            .await
            .unwrap()
    );
    assert!(
        !store
            .put_inbox_message("key-1", "ph", "case-1", "accepted", "已受理", 2)
            .await
            .unwrap()
    );
    assert_eq!(store.inbox_messages("ph", 10).await.unwrap().len(), 1);
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn outcomes_written_together_each_say_whether_they_took() {
    use huiyin_store::{DeliveryRecord, JobOutcome};
    let db = fresh().await;
    let store = &db.store;
    store
        .enqueue_jobs(&[job("p", 0), job("q", 0), job("r", 0)])
        .await
        .unwrap();
    let got = claim(store, 1_000, 3).await;
    assert_eq!(got.len(), 3);
    let delivery = DeliveryRecord {
        job_id: got[0].id.clone(),
        case_id: Some("case-1".into()),
        channel: "webhook".into(),
        step: "registered".into(),
        attempt: 1,
        at_ms: 1_500,
        ok: true,
        detail: "HTTP 200".into(),
    };
    let took = store
        .write_job_outcomes(&[
            JobOutcome::Delivery(delivery),
            JobOutcome::Done {
                id: got[0].id.clone(),
                attempt: 1,
                now_ms: 1_500,
            },
            // A stale attempt (the holder of attempt 2 would be someone else): refused.
            JobOutcome::Done {
                id: got[1].id.clone(),
                attempt: 2,
                now_ms: 1_500,
            },
            JobOutcome::Failed {
                id: got[2].id.clone(),
                attempt: 1,
                now_ms: 1_500,
                error: "HTTP 500".into(),
                retry_at_ms: Some(9_000),
            },
        ])
        .await
        .unwrap();
    assert_eq!(took, vec![true, true, false, true]);
    let counts = store.job_counts().await.unwrap();
    assert_eq!((counts.done, counts.running, counts.ready), (1, 1, 1));
    let log = store.deliveries_for_case("case-1").await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].detail, "HTTP 200");
    // The failed one is due again at its retry time, not before.
    assert!(claim(store, 8_999, 3).await.is_empty());
    assert_eq!(claim(store, 9_000, 3).await.len(), 1);
    db.cleanup().await.unwrap();
}
