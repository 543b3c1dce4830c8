//! Notifications delivered per second to a loopback webhook sink (issue 6, "Speed": at least
//! 1,000 a second), on SQLite and, when `HUIYIN_BENCH_DATABASE_URL` is set, PostgreSQL.
//!
//! `HUIYIN_BENCH_N` (default 5,000) petitions are submitted and registered through the app
//! with the worker stopped, so each registration leaves its `registered` notices in the
//! outbox. Then the worker starts (`run_worker`, 64 in flight, as `huiyin serve` runs it) and
//! the clock runs until the sink has every notice: each one a signed HTTP POST (HMAC-SM3 over
//! the timestamp and body, checked by the sink), a delivery-log row and the job's completion.
//! Two configurations: webhook only, and webhook + SMS (log sender) + in-app inbox, where the
//! worker also opens the sealed phone number and writes the inbox. The sink is a plain
//! HTTP/1.1 keep-alive server on tokio; it counts distinct idempotency keys.
//!
//! ```text
//! cargo bench -p huiyin-app --bench notify_throughput
//! HUIYIN_BENCH_N=20000 HUIYIN_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyin_bench cargo bench -p huiyin-app --bench notify_throughput
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use huiyin_app::jobs::{WorkerOptions, run_worker};
use huiyin_app::notify::{NotifyConfig, WebhookTarget, verify_webhook};
use huiyin_app::{App, Config};
use huiyin_domain::case::Role;
use huiyin_store::Store;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const BUREAU: &str = "4406-xfj";
const REGION: &str = "440604";
const SECRET: &[u8] = b"bench-webhook-secret";

#[derive(Default)]
struct Sink {
    keys: Mutex<HashSet<String>>,
    requests: std::sync::atomic::AtomicU64,
    bad_signatures: std::sync::atomic::AtomicU64,
}

/// One keep-alive connection: requests with a `Content-Length` body, answered `200`.
async fn serve(sink: Arc<Sink>, stream: tokio::net::TcpStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut length = 0usize;
        let (mut key, mut ts, mut sig) = (String::new(), String::new(), String::new());
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        loop {
            line.clear();
            read.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':') {
                let value = value.trim().to_string();
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.parse().unwrap_or(0),
                    "idempotency-key" => key = value,
                    "x-huiyin-timestamp" => ts = value,
                    "x-huiyin-signature" => sig = value,
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        read.read_exact(&mut body).await?;
        let now = chrono::Utc::now().timestamp_millis();
        if !verify_webhook(SECRET, &ts, &sig, &body, now) {
            sink.bad_signatures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        sink.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut keys) = sink.keys.lock() {
            keys.insert(key);
        }
        write
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await?;
    }
}

async fn start_sink() -> (Arc<Sink>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let sink = Arc::new(Sink::default());
    let s = sink.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(s.clone(), stream));
        }
    });
    (sink, url)
}

async fn run(backend: &str, store: Store, n: u64, all_channels: bool) {
    store
        .insert_unit(&common::bureau(BUREAU, "4406"))
        .await
        .unwrap();
    let (sink, url) = start_sink().await;
    let app = App::new(
        store,
        Config {
            notify: NotifyConfig {
                sms: all_channels,
                inbox: all_channels,
                webhooks: vec![WebhookTarget::new(&url, SECRET).unwrap()],
                ..NotifyConfig::default()
            },
            ..Config::default()
        },
    );
    let registrar = common::staff("registrar", BUREAU, &[Role::Registrar]);
    let t = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut writers = Vec::new();
    for _ in 0..64 {
        let (app, registrar, next) = (app.clone(), registrar.clone(), next.clone());
        writers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                common::submit_and_register(&app, &registrar, REGION, i)
                    .await
                    .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let queued = app.store().job_counts().await.unwrap();
    let per_case = if all_channels { 3 } else { 1 };
    assert_eq!(queued.ready, n as i64 * per_case, "{queued:?}");
    let channels = if all_channels {
        "webhook+sms+inbox"
    } else {
        "webhook"
    };
    println!(
        "notify_throughput/{backend}/{channels}: {n} petitions submitted and registered in {:.1}s; {} notices queued",
        t.elapsed().as_secs_f64(),
        queued.ready
    );

    let stop = Arc::new(tokio::sync::Notify::new());
    let handler = huiyin_app::notify::handler(app.notify_config()).unwrap();
    let options = WorkerOptions {
        name: "bench-worker".into(),
        idle_poll: Duration::from_millis(20),
        ..WorkerOptions::default()
    };
    let started = Instant::now();
    let (w_app, w_stop) = (app.clone(), stop.clone());
    let worker = tokio::spawn(async move {
        run_worker(
            w_app,
            handler,
            options,
            async move { w_stop.notified().await },
        )
        .await
    });
    let total = queued.ready as u64;
    let mut webhook_done_at = None;
    loop {
        let keys = sink.keys.lock().map(|k| k.len() as u64).unwrap_or(0);
        if keys >= n && webhook_done_at.is_none() {
            webhook_done_at = Some(started.elapsed());
        }
        let c = app.store().job_counts().await.unwrap();
        if c.ready == 0 && c.running == 0 && webhook_done_at.is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "not drained: {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all_done = started.elapsed();
    stop.notify_one();
    let report = worker.await.unwrap();
    let webhook = webhook_done_at.unwrap_or(all_done);
    let requests = sink.requests.load(std::sync::atomic::Ordering::Relaxed);
    let bad = sink
        .bad_signatures
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(bad, 0, "every request is signed");
    let rate = n as f64 / webhook.as_secs_f64();
    let all_rate = total as f64 / all_done.as_secs_f64();
    // With the other channels the worker's rate is shared: judge all the notices then.
    let (judged, judged_rate) = if all_channels {
        ("all notices", all_rate)
    } else {
        ("webhook", rate)
    };
    println!(
        "notify_throughput/{backend}/{channels}: {n} webhook notices in {:.2}s = {rate:.0}/s \
         ({requests} requests, {} distinct keys); all {total} notices done in {:.2}s = {:.0}/s; \
         worker {report:?}; floor>=1000/s ({judged}): {}",
        webhook.as_secs_f64(),
        sink.keys.lock().map(|k| k.len()).unwrap_or(0),
        all_done.as_secs_f64(),
        all_rate,
        if judged_rate >= 1000.0 {
            "PASS"
        } else {
            "FAIL"
        },
    );
    app.store().close().await;
}

fn main() {
    // `cargo test --benches` runs bench targets without `--bench`: skip the setup there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("notify_throughput: skipped (run with `cargo bench`)");
        return;
    }
    let n = common::env_u64("HUIYIN_BENCH_N", 5_000);
    let rt = common::runtime();
    rt.block_on(async {
        for all in [false, true] {
            let (store, _dir) = common::sqlite_fresh().await.unwrap();
            run("sqlite", store, n, all).await;
            if let Some(base) = common::pg_base() {
                let store = common::pg_store(&base, "bench_notify", true).await.unwrap();
                run("postgres", store, n, all).await;
                common::pg_drop_schema(&base, "bench_notify").await.unwrap();
            }
        }
    });
}
