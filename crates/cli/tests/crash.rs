//! Crash safety of the real `huiyin` binary: no acknowledged submission is ever lost.
//!
//! - `kill_during_a_burst_loses_no_acknowledged_submission`: several client threads submit
//!   letters through the staff API; the server gets SIGKILL in the middle of the burst (after
//!   300 201s, while the threads keep sending) and restarts on the same database, three
//!   times over; every acknowledged receipt must then resolve (over HTTP and in the store, with
//!   its secret), `huiyin verify --projections` must pass, and the statistics counters must
//!   equal a recomputation (`huiyin stats check`).
//! - `sigterm_finishes_in_flight_requests_and_exits_cleanly`: the same burst, ended by SIGTERM:
//!   the server drains, exits 0, and again loses nothing.
//!
//! Submissions go through `POST /api/v1/cases` with a registrar token (staff endpoints are not
//! rate-limited, unlike the public ones). The HTTP client is a few lines over `TcpStream`.
//!
//! Like the rest of the suite, this runs on the embedded SQLite database (`--data DIR`) by
//! default, and on a fresh schema of the PostgreSQL server named by `HUIYIN_TEST_DATABASE_URL`
//! (`--database URL`) when that is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use huiyin_domain::values::ReceiptCode;
use huiyin_store::Store;
use huiyin_store::testing::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_huiyin");

const LETTER: &str = r#"{"channel":"letter","petitioner":{"name":"张三","phone":"13912345678"},"title":"小区路灯不亮","text":"小区路灯已经坏了一个月，晚上出行不便。","region":"440604"}"#;

/// Client threads in a burst.
const CLIENTS: usize = 8;

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 client
// ---------------------------------------------------------------------------------------------

/// What came back from one request.
#[derive(Debug)]
enum Reply {
    /// A complete response: status and body (Content-Length honoured).
    Full(u16, String),
    /// The connection failed before any response byte (refused, reset, closed).
    Nothing,
    /// Some bytes arrived, but not a whole response.
    Partial,
}

fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: &str) -> Reply {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return Reply::Nothing;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if stream.write_all(head.as_bytes()).is_err() || stream.write_all(body.as_bytes()).is_err() {
        return Reply::Nothing;
    }
    let mut raw = Vec::new();
    // An error (a reset) after the whole response arrived still leaves a whole response.
    let _ = stream.read_to_end(&mut raw);
    if raw.is_empty() {
        return Reply::Nothing;
    }
    parse_response(&raw).unwrap_or(Reply::Partial)
}

fn parse_response(raw: &[u8]) -> Option<Reply> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))?
        .1
        .trim()
        .parse()
        .ok()?;
    if body.len() != length {
        return None;
    }
    Some(Reply::Full(status, String::from_utf8(body.to_vec()).ok()?))
}

// ---------------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------------

struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        // A failed test must not leave a server behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Server {
    /// Starts `huiyin serve` on a free port and waits until `/healthz` answers.
    fn start(db: &Db, name: &str) -> Server {
        for attempt in 0..3 {
            let port = free_port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let log = db.tmp.path().join(format!("{name}-{attempt}.log"));
            let out = std::fs::File::create(&log).unwrap();
            let child = Command::new(BIN)
                .arg("serve")
                .args(db.args())
                .args(["--listen", &addr.to_string()])
                .env("RUST_LOG", "info,sqlx=warn")
                .env_remove("HUIYIN_DATABASE_URL")
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap();
            let mut server = Server { child, addr, log };
            if server.wait_ready() {
                return server;
            }
            // Most likely someone else took the port between probing and binding: retry.
            eprintln!(
                "server did not come up on {addr}; log:\n{}",
                server.log_text()
            );
        }
        panic!("the server did not start in 3 attempts");
    }

    /// Polls `/healthz` (bounded: about 20 s); false if the process exited or never answered.
    fn wait_ready(&mut self) -> bool {
        for _ in 0..400 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return false;
            }
            if let Reply::Full(200, body) = request(self.addr, "GET", "/healthz", None, "") {
                assert!(body.contains("\"ok\""), "{body}");
                return true;
            }
            thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) for the process to exit.
    fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let until = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < until,
                "the server did not exit within {within:?}; log:\n{}",
                self.log_text()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Runs `huiyin ARGS…` to completion, bounded by its own work (no server).
fn huiyin(args: &[&str], db: &Db) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .args(db.args())
        .env("RUST_LOG", "warn")
        .env_remove("HUIYIN_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn registrar_token(db: &Db) -> String {
    let out = huiyin(
        &[
            "token",
            "create",
            "--name",
            "crash",
            "--unit",
            "0-xfj",
            "--role",
            "registrar",
        ],
        db,
    );
    assert!(
        out.status.success(),
        "token create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("hy_"), "{token}");
    token
}

/// Where the server keeps its data: a fresh SQLite directory, or a fresh PostgreSQL schema when
/// `HUIYIN_TEST_DATABASE_URL` is set. Also holds the temporary directory for server logs and the
/// runtime for the test's own database work.
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
                // The servers under test open their own connections.
                db.store.close().await;
                db
            })
        });
        Db { rt, tmp, pg }
    }

    fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    /// The `--data` / `--database` options every `huiyin` command takes.
    fn args(&self) -> Vec<OsString> {
        match &self.pg {
            // --data still names where the key files live, so the test never writes into
            // the working directory.
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
        match &self.pg {
            Some(pg) => Store::connect(&pg.url).await.unwrap(),
            None => Store::open_dir(&self.data_dir()).await.unwrap(),
        }
    }

    fn cleanup(self) {
        if let Some(pg) = self.pg {
            self.rt.block_on(pg.cleanup()).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The burst
// ---------------------------------------------------------------------------------------------

/// An acknowledged submission: a 201 with a complete body.
#[derive(Debug, Clone)]
struct Ack {
    case_id: String,
    receipt_code: String,
    secret: String,
}

#[derive(Default)]
struct Tally {
    acks: Mutex<Vec<Ack>>,
    acked: AtomicUsize,
    sent: AtomicUsize,
    nothing: AtomicUsize,
    partial: AtomicUsize,
    other_status: AtomicUsize,
}

struct Burst {
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Burst {
    /// Starts `CLIENTS` threads that submit letters until told to stop (or a bound is reached).
    fn start(addr: SocketAddr, token: &str) -> Burst {
        let tally = Arc::new(Tally::default());
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_secs(40);
        let threads = (0..CLIENTS)
            .map(|_| {
                let (tally, stop, token) = (tally.clone(), stop.clone(), token.to_string());
                thread::spawn(move || {
                    for _ in 0..5_000 {
                        if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                            break;
                        }
                        tally.sent.fetch_add(1, Ordering::SeqCst);
                        match request(addr, "POST", "/api/v1/cases", Some(&token), LETTER) {
                            Reply::Full(201, body) => {
                                let v: serde_json::Value = serde_json::from_str(&body)
                                    .unwrap_or_else(|e| {
                                        panic!("201 with a bad body ({e}): {body}")
                                    });
                                let field = |k: &str| {
                                    v[k].as_str()
                                        .unwrap_or_else(|| panic!("201 without {k}: {body}"))
                                        .to_string()
                                };
                                let ack = Ack {
                                    case_id: field("case_id"),
                                    receipt_code: field("receipt_code"),
                                    secret: field("secret"),
                                };
                                tally.acks.lock().unwrap().push(ack);
                                tally.acked.fetch_add(1, Ordering::SeqCst);
                            }
                            Reply::Full(_, _) => {
                                tally.other_status.fetch_add(1, Ordering::SeqCst);
                            }
                            Reply::Nothing => {
                                tally.nothing.fetch_add(1, Ordering::SeqCst);
                                // The server is gone: don't spin on refused connections.
                                thread::sleep(Duration::from_millis(5));
                            }
                            Reply::Partial => {
                                tally.partial.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                })
            })
            .collect();
        Burst {
            tally,
            stop,
            threads,
        }
    }

    /// Waits (bounded) until at least `n` submissions are acknowledged.
    fn wait_for_acks(&self, n: usize, server: &mut Server) {
        let until = Instant::now() + Duration::from_secs(30);
        while self.tally.acked.load(Ordering::SeqCst) < n {
            assert!(
                matches!(server.child.try_wait(), Ok(None)),
                "the server died on its own; log:\n{}",
                server.log_text()
            );
            assert!(
                Instant::now() < until,
                "only {} of {n} submissions acknowledged in 30 s (other statuses: {}); log:\n{}",
                self.tally.acked.load(Ordering::SeqCst),
                self.tally.other_status.load(Ordering::SeqCst),
                server.log_text()
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Lets the threads see a dead server for a moment, then stops and joins them.
    fn finish(self) -> Arc<Tally> {
        let after = self.tally.nothing.load(Ordering::SeqCst);
        let until = Instant::now() + Duration::from_secs(5);
        // Keep sending until every client has bounced off the stopped server at least once.
        while self.tally.nothing.load(Ordering::SeqCst) < after + CLIENTS && Instant::now() < until
        {
            thread::sleep(Duration::from_millis(5));
        }
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            t.join().expect("a client thread panicked");
        }
        self.tally
    }
}

/// Every acknowledged submission is in the store with the secret it was given, the chain and
/// the projections verify, and a sample resolves through the public lookup.
fn check_acks(db: &Db, token: &str, acks: &[Ack]) {
    // 1. Over HTTP, after a restart: every case by id (staff API), a sample by receipt code and
    //    secret (public lookup, rate-limited per address to a burst of 30).
    let mut server = Server::start(db, "recheck");
    for ack in acks {
        match request(
            server.addr,
            "GET",
            &format!("/api/v1/cases/{}", ack.case_id),
            Some(token),
            "",
        ) {
            Reply::Full(200, body) => {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                let stored = v["state"]["receipt"].as_str().unwrap();
                assert_eq!(stored, ack.receipt_code.replace('-', ""), "{body}");
            }
            other => panic!("acknowledged case {} is missing: {other:?}", ack.case_id),
        }
    }
    for ack in acks.iter().step_by((acks.len() / 20).max(1)).take(20) {
        let body = serde_json::json!({"receipt_code": ack.receipt_code, "secret": ack.secret});
        match request(
            server.addr,
            "POST",
            "/api/v1/public/lookup",
            None,
            &body.to_string(),
        ) {
            Reply::Full(200, body) => {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["title"], "小区路灯不亮", "{body}");
            }
            other => panic!("receipt {} does not resolve: {other:?}", ack.receipt_code),
        }
    }
    // Stopping it gracefully is part of the contract too.
    stop_gracefully(&mut server);

    // 2. In the store itself: every receipt code resolves to its case and the secret matches.
    db.rt.block_on(async {
        let store = db.open().await;
        for ack in acks {
            let code = ReceiptCode::parse(&ack.receipt_code).unwrap();
            let (case_id, secret_hash) = store
                .case_by_receipt(code.as_str())
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("acknowledged receipt {} is lost", ack.receipt_code));
            assert_eq!(case_id.as_str(), ack.case_id);
            assert!(
                huiyin_app::secrets::verify_secret(&code, &ack.secret, &secret_hash),
                "the secret of {} does not verify",
                ack.receipt_code
            );
            // A submission is one `submitted` event; the burst sends the same letter from the
            // same phone again and again, so the intake check may add `linked` events (Art. 19
            // repeats), written by the system actor after the submission.
            let events = store.events_of(&case_id).await.unwrap();
            assert_eq!(events[0].event.kind.name(), "submitted");
            assert!(
                events[1..].iter().all(|e| e.event.kind.name() == "linked"),
                "a submission is one event plus any repeat links"
            );
        }
        let stored = store.count_cases().await.unwrap();
        eprintln!(
            "{stored} cases stored for {} acknowledged submissions (any more were committed, \
             but their answer was lost with the connection)",
            acks.len()
        );
        assert!(stored >= acks.len() as i64);
        store.close().await;
    });

    // 3. The chain and every projection verify.
    let out = huiyin(&["verify", "--projections"], db);
    assert!(
        out.status.success(),
        "huiyin verify failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The statistics counters (issue 8) after the kills: the server's feeder was counting while
/// the burst ran, so a kill could land in the middle of a round; the counters must stand at a
/// checkpoint the kill did not tear, and after catching up equal a recomputation from the cases.
fn check_counters_after_crashes(db: &Db) {
    let status = huiyin(&["stats", "status"], db);
    assert!(
        status.status.success(),
        "stats status failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let fed = status["fed_seq"].as_i64().unwrap();
    let head = status["head_seq"].as_i64().unwrap();
    // The feeder ran in the killed servers (it counts every second), and never past the log.
    assert!(fed > 0 && fed <= head, "{status}");
    let check = huiyin(&["stats", "check"], db);
    assert!(
        check.status.success(),
        "counters differ from the recomputation after the kills: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let after: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(after["behind_events"].as_i64(), Some(0), "{after}");
}

fn stop_gracefully(server: &mut Server) {
    let sent = Command::new("kill")
        .arg("-TERM")
        .arg(server.pid())
        .status()
        .unwrap();
    assert!(sent.success());
    let status = server.wait_exit(Duration::from_secs(15));
    assert!(
        status.success(),
        "SIGTERM should end the server cleanly, got {status}; log:\n{}",
        server.log_text()
    );
}

fn report(what: &str, tally: &Tally, started: Instant) {
    eprintln!(
        "{what}: sent {}, acknowledged {}, no response {}, partial {}, other status {} ({:.1} s)",
        tally.sent.load(Ordering::SeqCst),
        tally.acked.load(Ordering::SeqCst),
        tally.nothing.load(Ordering::SeqCst),
        tally.partial.load(Ordering::SeqCst),
        tally.other_status.load(Ordering::SeqCst),
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

#[test]
fn kill_during_a_burst_loses_no_acknowledged_submission() {
    let started = Instant::now();
    let db = Db::new();
    let token = registrar_token(&db);
    let mut acks = Vec::new();
    // Three crashes in a row: each restart recovers the previous crash and takes new writes.
    for round in 0..3 {
        let mut server = Server::start(&db, &format!("serve-{round}"));
        let burst = Burst::start(server.addr, &token);
        burst.wait_for_acks(300, &mut server);
        // SIGKILL in the middle of the burst: the threads are still sending.
        server.child.kill().unwrap();
        let status = server.child.wait().unwrap();
        assert!(!status.success(), "killed, not exited: {status}");
        let tally = burst.finish();
        report(&format!("SIGKILL round {round}"), &tally, started);
        assert_eq!(tally.other_status.load(Ordering::SeqCst), 0);
        acks.extend(tally.acks.lock().unwrap().iter().cloned());
    }
    assert!(acks.len() >= 900);
    check_acks(&db, &token, &acks);
    check_counters_after_crashes(&db);
    db.cleanup();
    eprintln!(
        "SIGKILL test done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn sigterm_finishes_in_flight_requests_and_exits_cleanly() {
    let started = Instant::now();
    let db = Db::new();
    let token = registrar_token(&db);
    let mut server = Server::start(&db, "serve");

    let burst = Burst::start(server.addr, &token);
    burst.wait_for_acks(150, &mut server);
    stop_gracefully(&mut server);
    let tally = burst.finish();
    report("SIGTERM", &tally, started);
    assert!(
        server.log_text().contains("in-flight requests finished"),
        "{}",
        server.log_text()
    );

    // A graceful stop answers every request it took in: no half-written response.
    assert_eq!(tally.partial.load(Ordering::SeqCst), 0);
    assert_eq!(tally.other_status.load(Ordering::SeqCst), 0);
    let acks = tally.acks.lock().unwrap().clone();
    assert!(acks.len() >= 150);
    check_acks(&db, &token, &acks);
    db.cleanup();
    eprintln!(
        "SIGTERM test done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
