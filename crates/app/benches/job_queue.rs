//! Claiming a job from a queue of 100,000 (issue 6, "Speed": under 1 ms), on SQLite and, when
//! `HUIYIN_BENCH_DATABASE_URL` is set, PostgreSQL — the `Store::claim_jobs` that every worker
//! runs (`UPDATE … WHERE id IN (SELECT … ORDER BY due_at LIMIT n [FOR UPDATE SKIP LOCKED])`).
//!
//! The queue is filled with `HUIYIN_BENCH_JOBS` (default 100,000) due jobs in batches of
//! 1,000, as `enqueue_jobs` writes them. Then, in single calls: 2,000 claims of one job, each
//! followed (untimed) by `complete_job`, and 200 claims of a worker's batch of 32; the queue
//! stays above 90 % full throughout. Prints median / p99 / max and the floor verdict, and as a
//! diagnostic the cost of a durable one-row insert (the commit every claim pays).
//!
//! ```text
//! cargo bench -p huiyin-app --bench job_queue
//! HUIYIN_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyin_bench cargo bench -p huiyin-app --bench job_queue
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use huiyin_store::{NewJob, Store};

fn jobs(from: usize, n: usize, now_ms: i64) -> Vec<NewJob> {
    (from..from + n)
        .map(|i| NewJob {
            kind: "bench".into(),
            payload: format!(r#"{{"n":{i},"text":"登记通知：您的信访事项已登记。"}}"#),
            idempotency_key: format!("bench:{i}"),
            case_id: Some(format!("case-{:06}", i % 20_000)),
            // Spread over the last hour, so the claim's ORDER BY due_at has work to do.
            run_at_ms: now_ms - 3_600_000 + (i as i64 * 37) % 3_600_000,
            max_attempts: 8,
            created_at_ms: now_ms - 3_600_000,
        })
        .collect()
}

async fn run(backend: &str, store: &Store, total: usize) {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let t = Instant::now();
    for from in (0..total).step_by(1_000) {
        let n = store
            .enqueue_jobs(&jobs(from, 1_000.min(total - from), now_ms))
            .await
            .unwrap();
        assert_eq!(n as usize, 1_000.min(total - from));
    }
    let counts = store.job_counts().await.unwrap();
    println!(
        "job_queue/{backend}: enqueued {total} jobs in {:.1}s; counts {counts:?}",
        t.elapsed().as_secs_f64()
    );
    let lease_ms = 60_000;
    let mut one = Vec::with_capacity(2_000);
    for i in 0..2_000 {
        let at = now_ms + i;
        let t = Instant::now();
        let claimed = store.claim_jobs("bench", at, lease_ms, 1).await.unwrap();
        one.push(t.elapsed());
        assert_eq!(claimed.len(), 1);
        let job = &claimed[0];
        assert!(store.complete_job(&job.id, job.attempt, at).await.unwrap());
    }
    let mut batch = Vec::with_capacity(200);
    for i in 0..200 {
        let t = Instant::now();
        let claimed = store
            .claim_jobs("bench", now_ms + 2_000 + i, lease_ms, 32)
            .await
            .unwrap();
        batch.push(t.elapsed());
        assert_eq!(claimed.len(), 32);
    }
    // Diagnostic: one durable commit of a one-row insert — what the disk costs any write.
    sqlx::raw_sql("CREATE TABLE bench_commit (x BIGINT)")
        .execute(store.pool())
        .await
        .unwrap();
    let mut commit = Vec::with_capacity(500);
    for i in 0..500i64 {
        let t = Instant::now();
        sqlx::query("INSERT INTO bench_commit (x) VALUES ($1)")
            .bind(i)
            .execute(store.pool())
            .await
            .unwrap();
        commit.push(t.elapsed());
    }
    let left = store.job_counts().await.unwrap();
    for (name, samples, per_call, floor) in [
        ("claim 1", &mut one, 1, true),
        ("claim 32 (a worker's batch)", &mut batch, 32, false),
        (
            "a one-row insert (diagnostic: the durable commit alone)",
            &mut commit,
            1,
            false,
        ),
    ] {
        let s = common::summarize(samples);
        let verdict = if !floor {
            String::new()
        } else if s.median < Duration::from_millis(1) {
            " floor<1ms (median): PASS".into()
        } else {
            " floor<1ms (median): FAIL".into()
        };
        println!(
            "job_queue/{backend}: {name}: {} single calls, median={:.3}ms ({:.3}ms a job) p99={:.3}ms max={:.3}ms{verdict}",
            s.n,
            common::ms(s.median),
            common::ms(s.median) / per_call as f64,
            common::ms(s.p99),
            common::ms(s.max),
        );
    }
    println!("job_queue/{backend}: afterwards {left:?}");
}

fn main() {
    // `cargo test --benches` runs bench targets without `--bench`: skip the setup there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("job_queue: skipped (run with `cargo bench`)");
        return;
    }
    let total = common::env_u64("HUIYIN_BENCH_JOBS", 100_000) as usize;
    assert!(total >= 10_000, "HUIYIN_BENCH_JOBS: at least 10,000");
    let rt = common::runtime();
    rt.block_on(async {
        let (store, _dir) = common::sqlite_fresh().await.unwrap();
        run("sqlite", &store, total).await;
        store.close().await;
        if let Some(base) = common::pg_base() {
            let store = common::pg_store(&base, "bench_job_queue", true)
                .await
                .unwrap();
            run("postgres", &store, total).await;
            store.close().await;
            common::pg_drop_schema(&base, "bench_job_queue")
                .await
                .unwrap();
        }
    });
}
