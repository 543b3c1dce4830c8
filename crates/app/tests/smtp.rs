//! E-mail of staff notices through a real SMTP server on loopback (aiosmtpd from PyPI, started
//! by the test, writing a Maildir), on SQLite or on PostgreSQL with HUIYIN_TEST_DATABASE_URL.
//!
//! These tests need `python3 -m aiosmtpd`, which is not part of the repository, so the README's
//! test command leaves them out (`#[ignore]`); `.ci/run` installs aiosmtpd and runs them with
//! `--ignored` on both databases. Run them by hand with
//! `pip install aiosmtpd==1.4.6 && cargo test -p huiyin-app --test smtp -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

use chrono::TimeDelta;
use common::*;
use huiyin_app::App;
use huiyin_app::jobs::{Backoff, WorkerOptions, run_worker};
use huiyin_app::staff_notify::{STAFF_NOTICE_KIND, SmtpConfig, UnitNotice, message_id};
use huiyin_domain::case::Role;
use huiyin_store::NewJob;

/// aiosmtpd on a loopback port, killed when dropped.
struct MailSink {
    child: Child,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for MailSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn mail_sink(port: u16) -> MailSink {
    let dir = tempfile::tempdir().unwrap();
    // aiosmtpd's Mailbox handler creates the Maildir when it does not exist yet.
    let maildir = dir.path().join("maildir");
    let python = std::env::var("HUIYIN_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let child = Process::new(python)
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 with aiosmtpd (pip install aiosmtpd==1.4.6)");
    let sink = MailSink {
        child,
        maildir,
        _dir: dir,
    };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return sink;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("aiosmtpd did not start on port {port} (pip install aiosmtpd==1.4.6)");
}

/// One received message: its header lines (unfolded) and the raw file.
struct Mail {
    path: PathBuf,
    headers: Vec<(String, String)>,
}

impl Mail {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn received(maildir: &Path) -> Vec<Mail> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            if line.is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push_str(line.trim_start());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        out.push(Mail {
            path: e.path(),
            headers,
        });
    }
    out
}

fn smtp(port: u16) -> SmtpConfig {
    let mut c = SmtpConfig::parse(
        &format!("smtp://127.0.0.1:{port}"),
        "回音信访系统 <huiyin@xfj.example.gov.cn>",
    )
    .unwrap();
    c.timeout = Duration::from_secs(5);
    c
}

fn options(name: &str, lease: Duration) -> WorkerOptions {
    WorkerOptions {
        name: name.into(),
        concurrency: 4,
        lease,
        idle_poll: Duration::from_millis(20),
        backoff: Backoff {
            base: Duration::from_secs(60),
            max: Duration::from_secs(600),
        },
        grace: Duration::from_secs(5),
    }
}

async fn enqueue_unit_notice(app: &App, key: &str) {
    let notice = UnitNotice {
        case_id: "case-mail".into(),
        unit: DEPT.into(),
        kind: huiyin_app::staff_notify::NoticeKind::Supervision,
        title: "督办单：4406-TEST".into(),
        body: "第 1 号督办单，请于 2024-03-11 前书面答复。".into(),
        user: None,
    };
    let now = app.now().timestamp_millis();
    app.store()
        .enqueue_jobs(&[NewJob {
            kind: STAFF_NOTICE_KIND.into(),
            payload: serde_json::to_string(&notice).unwrap(),
            idempotency_key: key.into(),
            case_id: None,
            run_at_ms: now,
            max_attempts: 3,
            created_at_ms: now,
        }])
        .await
        .unwrap();
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
#[ignore = "needs aiosmtpd from PyPI; .ci/run installs it and runs this"]
async fn every_email_arrives_when_the_worker_is_killed_in_the_middle_of_a_burst() {
    let port = free_port();
    let sink = mail_sink(port).await;
    let (app, db) = start_with(|c| c.notify.smtp = Some(smtp(port))).await;
    let admin = staff("44-xfj", &[Role::Administrator]);
    let mut users = Vec::new();
    for i in 0..40 {
        let name = format!("handler{i:02}");
        let id = user(&app, &name, DEPT, &[Role::Handler]).await;
        app.admin_set_email(&admin, &name, &format!("{name}@zj.example.gov.cn"))
            .await
            .unwrap();
        users.push(id);
    }
    // One with no address gets the in-app notice only.
    let no_mail = user(&app, "no-mail", DEPT, &[Role::Handler]).await;
    enqueue_unit_notice(&app, "staff:burst:1").await;

    // The first worker is killed (its task and every job in flight dropped) after a few sends.
    let lease = Duration::from_secs(2);
    let handler = huiyin_app::notify::handler(app.notify_config()).unwrap();
    let first = tokio::spawn(run_worker(
        app.clone(),
        handler,
        options("first", lease),
        std::future::pending::<()>(),
    ));
    let maildir = sink.maildir.clone();
    until("the first e-mails", async || received(&maildir).len() >= 8).await;
    first.abort();
    let _ = first.await;
    let sent_before = received(&sink.maildir).len();
    assert!(sent_before < 40, "the burst finished before the kill");

    // The leases of the killed worker's jobs run out; a second worker finishes the burst.
    app.clock().set(app.now() + TimeDelta::seconds(5));
    let report = run_jobs(&app).await;
    assert_eq!(report.dead, 0, "{report:?}");

    let mails = received(&sink.maildir);
    let mut ids: Vec<&str> = mails
        .iter()
        .filter_map(|m| m.header("Message-ID"))
        .collect();
    ids.sort();
    let total = ids.len();
    ids.dedup();
    // Every person got theirs; a repeat (at-least-once) carries the same Message-ID.
    assert_eq!(ids.len(), 40, "{total} messages, {} distinct", ids.len());
    for u in &users {
        let key = format!("staff:burst:1:{u}");
        let expected = message_id(&format!("{key}:email"));
        assert!(ids.contains(&expected.as_str()), "no e-mail for {u}");
        let n = &app.my_notices(u, false, None, 10).await.unwrap()[0];
        assert!(n.emailed_at_ms.is_some(), "{n:?}");
        assert!(n.email_error.is_none());
    }
    let mut to: Vec<&str> = mails.iter().filter_map(|m| m.header("X-RcptTo")).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 40);
    assert!(to.iter().all(|t| t.ends_with("@zj.example.gov.cn")));
    assert_eq!(
        app.my_notices(&no_mail, false, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // The message itself, read by Python's e-mail parser: Chinese subject and both parts.
    let parsed = Process::new(std::env::var("HUIYIN_TEST_PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg("-c")
        .arg(
            "import sys, email, email.policy\n\
             m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)\n\
             print(m['subject'])\n\
             print(m.get_body(('plain',)).get_content().strip())\n\
             print(m.get_body(('html',)).get_content_type())\n\
             print(m['from'])",
        )
        .arg(&mails[0].path)
        .output()
        .unwrap();
    let text = String::from_utf8(parsed.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "督办单：4406-TEST", "{text}");
    assert_eq!(lines[1], "第 1 号督办单，请于 2024-03-11 前书面答复。");
    assert_eq!(lines[2], "text/html");
    assert!(lines[3].contains("huiyin@xfj.example.gov.cn"), "{text}");
    drop(sink);
    db.cleanup().await.unwrap();
}

#[tokio::test]
#[ignore = "needs aiosmtpd from PyPI; .ci/run installs it and runs this"]
async fn a_mail_server_that_is_down_means_retries_then_a_dead_letter_that_can_be_retried() {
    let port = free_port();
    let (app, db) = start_with(|c| c.notify.smtp = Some(smtp(port))).await;
    let admin = staff("44-xfj", &[Role::Administrator]);
    let u = user(&app, "handler", DEPT, &[Role::Handler]).await;
    app.admin_set_email(&admin, "handler", "handler@zj.example.gov.cn")
        .await
        .unwrap();
    enqueue_unit_notice(&app, "staff:down:1").await;
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let handler = huiyin_app::notify::handler(app.notify_config()).unwrap();
    let s = stop.clone();
    let worker = tokio::spawn(run_worker(
        app.clone(),
        handler,
        options("w", Duration::from_secs(30)),
        async move { s.notified().await },
    ));
    // Nothing listens on the port: each attempt fails at once and is retried with backoff;
    // an hour of test clock later the e-mail is a dead letter, and the queue is empty.
    let store = app.store().clone();
    let a = app.clone();
    until("the dead letter", async || {
        a.clock().set(a.now() + TimeDelta::minutes(10));
        store.job_counts().await.unwrap().dead == 1
    })
    .await;
    let counts = app.store().job_counts().await.unwrap();
    assert_eq!((counts.ready, counts.running), (0, 0));
    let n = &app.my_notices(&u, false, None, 10).await.unwrap()[0];
    assert!(n.emailed_at_ms.is_none());
    assert!(
        n.email_error
            .as_deref()
            .is_some_and(|e| e.contains("mail server")),
        "{n:?}"
    );
    let dead = app.dead_jobs(&admin, None, 10).await.unwrap();
    assert_eq!(dead[0].kind, "email");
    assert_eq!(dead[0].attempts, 3);

    // The server comes up; an administrator retries the dead letter and it is delivered.
    let sink = mail_sink(port).await;
    app.retry_dead_job(&admin, &dead[0].id).await.unwrap();
    let maildir = sink.maildir.clone();
    until("the retried e-mail", async || received(&maildir).len() == 1).await;
    let store = app.store().clone();
    until("the e-mail recorded", async || {
        store.staff_notices_for(&u, false, None, 1).await.unwrap()[0]
            .emailed_at_ms
            .is_some()
    })
    .await;
    let n = &app.my_notices(&u, false, None, 10).await.unwrap()[0];
    assert!(n.email_error.is_none());
    stop.notify_one();
    worker.await.unwrap();
    db.cleanup().await.unwrap();
}
