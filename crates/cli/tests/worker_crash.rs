//! At-least-once delivery by the real `huiyin worker` process: a burst of webhook notices is
//! queued; the worker is killed (SIGKILL) in the middle of the deliveries, twice, and started
//! again each time; in the end every notice has reached the real HTTP receiver (which checks
//! every HMAC-SM3 signature), none is lost, the only duplicates are the deliveries in flight at
//! a kill (bounded by the worker's concurrency) and they carry the same idempotency key; the
//! queue holds only finished jobs; the last worker stops cleanly on SIGTERM.
//!
//! Runs on the embedded SQLite database by default and on a fresh PostgreSQL schema when
//! `HUIYIN_TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use huiyin_app::notify::{Channel, Locale, NOTICE_KIND, Notice, Step, verify_webhook};
use huiyin_store::testing::TestDb;
use huiyin_store::{NewJob, Store};

const BIN: &str = env!("CARGO_BIN_EXE_huiyin");
const SECRET: &str = "crash-webhook-secret-0123456789";
const NOTICES: usize = 1200;
const CONCURRENCY: usize = 16;

struct Db {
    rt: tokio::runtime::Runtime,
    tmp: tempfile::TempDir,
    pg: Option<TestDb>,
}

impl Db {
    fn new() -> Db {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let pg = huiyin_store::testing::postgres_url().map(|_| {
            rt.block_on(async {
                let db = huiyin_store::testing::fresh().await.unwrap();
                db.store.close().await;
                db
            })
        });
        Db { rt, tmp, pg }
    }

    fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn args(&self) -> Vec<OsString> {
        match &self.pg {
            Some(pg) => vec![
                "--database".into(),
                pg.url.clone().into(),
                "--data".into(),
                self.data_dir().into(),
            ],
            None => vec!["--data".into(), self.data_dir().into()],
        }
    }

    async fn open(&self) -> Store {
        let store = match &self.pg {
            Some(pg) => Store::connect(&pg.url).await.unwrap(),
            None => Store::open_dir(&self.data_dir()).await.unwrap(),
        };
        store.migrate().await.unwrap();
        store
    }

    fn cleanup(self) {
        if let Some(pg) = self.pg {
            self.rt.block_on(pg.cleanup()).unwrap();
        }
    }
}

/// A webhook receiver over plain `TcpListener`: one thread per connection, `Connection: close`.
#[derive(Default)]
struct Receiver {
    got: Mutex<BTreeMap<String, u32>>,
    total: AtomicU64,
    bad: AtomicU64,
}

fn serve_one(stream: TcpStream, r: &Receiver) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let h = |k: &str| headers.get(k).cloned().unwrap_or_default();
    let now = chrono::Utc::now().timestamp_millis();
    let status = if verify_webhook(
        SECRET.as_bytes(),
        &h("x-huiyin-timestamp"),
        &h("x-huiyin-signature"),
        &body,
        now,
    ) {
        // a little work per request, so the burst lasts long enough to be interrupted
        thread::sleep(Duration::from_millis(3));
        *r.got
            .lock()
            .unwrap()
            .entry(h("idempotency-key"))
            .or_insert(0) += 1;
        r.total.fetch_add(1, Ordering::SeqCst);
        "200 OK"
    } else {
        r.bad.fetch_add(1, Ordering::SeqCst);
        "401 Unauthorized"
    };
    let mut stream = stream;
    let _ = stream.write_all(
        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
    );
}

fn start_receiver() -> (Arc<Receiver>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let r = Arc::new(Receiver::default());
    let r2 = r.clone();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let r = r2.clone();
            thread::spawn(move || serve_one(stream, &r));
        }
    });
    (r, url)
}

fn start_worker(db: &Db, url: &str, log: &str) -> Child {
    let out = std::fs::File::create(db.tmp.path().join(log)).unwrap();
    Command::new(BIN)
        .arg("worker")
        .args(db.args())
        .args([
            "--job-lease-secs",
            "2",
            "--worker-concurrency",
            &CONCURRENCY.to_string(),
            "--retry-base-ms",
            "200",
        ])
        .env("HUIYIN_WEBHOOK_URL", url)
        .env("HUIYIN_WEBHOOK_SECRET", SECRET)
        .env("RUST_LOG", "info,sqlx=warn")
        .env_remove("HUIYIN_DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap()
}

fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_worker_killed_mid_burst_loses_no_notification() {
    let db = Db::new();
    let store = db.rt.block_on(db.open());
    let now = chrono::Utc::now().timestamp_millis();
    let jobs: Vec<NewJob> = (0..NOTICES)
        .map(|i| {
            let notice = Notice {
                case_id: format!("case-{}", i % 40),
                step: Step::Registered,
                channel: Channel::Webhook { target: 0 },
                locale: Locale::Zh,
                vars: [("receipt".to_string(), format!("R{i:05}"))].into(),
            };
            NewJob {
                kind: NOTICE_KIND.into(),
                payload: serde_json::to_string(&notice).unwrap(),
                idempotency_key: format!("burst-{i}"),
                case_id: Some(notice.case_id.clone()),
                run_at_ms: now,
                max_attempts: 20,
                created_at_ms: now,
            }
        })
        .collect();
    assert_eq!(
        db.rt.block_on(store.enqueue_jobs(&jobs)).unwrap(),
        NOTICES as u64
    );
    let (receiver, url) = start_receiver();
    let mut kills = 0;
    for (n, stop_at) in [250u64, 700].into_iter().enumerate() {
        let mut worker = start_worker(&db, &url, &format!("worker-{n}.log"));
        wait_for(
            "deliveries before the kill",
            Duration::from_secs(60),
            || receiver.total.load(Ordering::SeqCst) >= stop_at,
        );
        worker.kill().unwrap(); // SIGKILL: no chance to finish or record anything
        worker.wait().unwrap();
        kills += 1;
        assert!(
            (receiver.got.lock().unwrap().len()) < NOTICES,
            "the burst ended before the kill"
        );
    }
    let mut last = start_worker(&db, &url, "worker-last.log");
    wait_for("every notice", Duration::from_secs(90), || {
        receiver.got.lock().unwrap().len() == NOTICES
    });
    wait_for("a finished queue", Duration::from_secs(30), || {
        let c = db.rt.block_on(store.job_counts()).unwrap();
        c.done == NOTICES as i64
    });
    let sent = Command::new("kill")
        .arg("-TERM")
        .arg(last.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success());
    let status = last.wait().unwrap();
    assert!(status.success(), "worker exit after SIGTERM: {status:?}");

    let got = receiver.got.lock().unwrap().clone();
    let expected: BTreeSet<String> = (0..NOTICES).map(|i| format!("burst-{i}")).collect();
    assert_eq!(got.keys().cloned().collect::<BTreeSet<_>>(), expected);
    let duplicates: u32 = got.values().map(|n| n - 1).sum();
    assert!(
        duplicates as usize <= kills * CONCURRENCY,
        "{duplicates} duplicates after {kills} kills"
    );
    assert_eq!(receiver.bad.load(Ordering::SeqCst), 0);
    let counts = db.rt.block_on(store.job_counts()).unwrap();
    assert_eq!((counts.ready, counts.running, counts.dead), (0, 0, 0));
    db.rt.block_on(store.close());
    db.cleanup();
}
