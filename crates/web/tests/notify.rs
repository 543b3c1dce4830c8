//! Petitioner notices through the outbox, end to end: the real router and application on a
//! fresh database (SQLite, or PostgreSQL with HUIYIN_TEST_DATABASE_URL), the real job worker,
//! a real HTTP webhook receiver on loopback that checks every HMAC-SM3 signature, and an SMS
//! gateway that records what it was asked to send.
//!
//! - every statutory step of a journey reaches the webhook, the SMS gateway and the in-app
//!   inbox, once per idempotency key, and shows in the case's delivery log;
//! - a receiver that answers 500 gets retries with backoff, then the notice is a dead letter
//!   that an administrator lists and retries; a 4xx is a dead letter at once;
//! - a slow receiver does not hold up other notices;
//! - a malformed template is refused when saved, with a stable code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::{Duration, TimeZone, Utc};
use http_body_util::BodyExt;
use huiyin_app::jobs::{Backoff, WorkerOptions, run_worker};
use huiyin_app::notify::{NotifyConfig, WebhookTarget, verify_webhook};
use huiyin_app::sms::{SendFuture, SmsGateway};
use huiyin_app::{App, Clock, Config};
use huiyin_domain::case::Role;
use huiyin_store::UnitRecord;
use huiyin_store::testing::{TestDb, fresh};
use huiyin_web::ratelimit::Limit;
use huiyin_web::{WebConfig, router};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tower::ServiceExt;

const SECRET: &[u8] = b"webhook-secret-0123456789";

#[derive(Default)]
struct Receiver {
    /// Idempotency key → how often it arrived, with the body of the first.
    got: Mutex<BTreeMap<String, (u32, Value)>>,
    bad_signatures: AtomicU64,
    /// The status to answer with.
    status: AtomicU16,
    /// Requests whose step is this are answered after 3 s.
    slow_step: Mutex<Option<String>>,
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    if !verify_webhook(
        SECRET,
        &h("x-huiyin-timestamp"),
        &h("x-huiyin-signature"),
        &body,
        Utc::now().timestamp_millis(),
    ) {
        r.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    let value: Value = serde_json::from_slice(&body).unwrap();
    let slow = r.slow_step.lock().unwrap().clone();
    if slow.as_deref() == value["step"].as_str() {
        tokio::time::sleep(StdDuration::from_secs(3)).await;
    }
    let status = StatusCode::from_u16(r.status.load(Ordering::SeqCst)).unwrap();
    if status.is_success() {
        let key = h("idempotency-key");
        assert_eq!(value["id"].as_str(), Some(key.as_str()));
        let mut got = r.got.lock().unwrap();
        got.entry(key).or_insert((0, value)).0 += 1;
    }
    status
}

async fn start_receiver() -> (Arc<Receiver>, String) {
    let r = Arc::new(Receiver::default());
    r.status.store(200, Ordering::SeqCst);
    let app = Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (r, format!("http://{addr}/hook"))
}

/// An SMS gateway that records (phone, text, key).
#[derive(Default)]
struct RecordingSms {
    sent: Mutex<Vec<(String, String, String)>>,
}

impl SmsGateway for RecordingSms {
    fn send<'a>(&'a self, phone: &'a str, text: &'a str) -> SendFuture<'a> {
        self.send_keyed(phone, text, "")
    }
    fn send_keyed<'a>(&'a self, phone: &'a str, text: &'a str, key: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            self.sent
                .lock()
                .unwrap()
                .push((phone.into(), text.into(), key.into()));
            Ok(())
        })
    }
}

struct T {
    router: Router,
    app: App,
    db: Option<TestDb>,
    receiver: Arc<Receiver>,
    sms: Arc<RecordingSms>,
    registrar: String,
    handler: String,
    unit_head: String,
    admin: String,
    stop: Arc<Notify>,
    worker: Option<tokio::task::JoinHandle<huiyin_app::jobs::WorkerReport>>,
}

impl T {
    async fn start() -> T {
        let db = fresh().await.expect("test database");
        let store = db.store.clone();
        for (id, name, kind, region, parent) in [
            ("44-xfj", "广东省信访局", "petition_bureau", "44", "0-xfj"),
            (
                "4406-xfj",
                "佛山市信访局",
                "petition_bureau",
                "4406",
                "44-xfj",
            ),
            ("4406-zj", "佛山市住建局", "department", "4406", "4406-xfj"),
        ] {
            store
                .insert_unit(&UnitRecord {
                    id: id.into(),
                    name: name.into(),
                    kind: kind.into(),
                    region_code: region.into(),
                    parent_id: Some(parent.into()),
                })
                .await
                .unwrap();
        }
        let (receiver, url) = start_receiver().await;
        let sms = Arc::new(RecordingSms::default());
        let start = Utc.with_ymd_and_hms(2025, 3, 12, 2, 0, 0).unwrap();
        let app = App::new(
            store,
            Config {
                clock: Clock::manual(start),
                sms: sms.clone(),
                notify: NotifyConfig {
                    webhooks: vec![WebhookTarget::new(&url, SECRET).unwrap()],
                    max_attempts: 3,
                    webhook_timeout: StdDuration::from_secs(5),
                    ..NotifyConfig::default()
                },
                ..Config::default()
            },
        );
        let token = |unit: &'static str, roles: &'static [Role]| {
            let app = app.clone();
            async move {
                app.create_token("test", Some(unit), roles, None)
                    .await
                    .unwrap()
            }
        };
        let registrar = token("4406-xfj", &[Role::Registrar]).await;
        let handler = token("4406-zj", &[Role::Handler]).await;
        let unit_head = token("4406-zj", &[Role::UnitHead]).await;
        let admin = token("4406-xfj", &[Role::Administrator]).await;
        let router = router(
            app.clone(),
            WebConfig {
                public_limit: Limit {
                    burst: 1000.0,
                    per_second: 1000.0,
                },
            },
        );
        let stop = Arc::new(Notify::new());
        let handler_set = huiyin_app::notify::handler(app.notify_config()).unwrap();
        let options = WorkerOptions {
            name: "test-worker".into(),
            concurrency: 8,
            lease: StdDuration::from_secs(4),
            idle_poll: StdDuration::from_millis(50),
            backoff: Backoff {
                base: StdDuration::from_secs(60),
                max: StdDuration::from_secs(600),
            },
            grace: StdDuration::from_secs(5),
        };
        let (w_app, w_stop) = (app.clone(), stop.clone());
        let worker = tokio::spawn(async move {
            run_worker(w_app, handler_set, options, async move {
                w_stop.notified().await
            })
            .await
        });
        T {
            router,
            app,
            db: Some(db),
            receiver,
            sms,
            registrar,
            handler,
            unit_head,
            admin,
            stop,
            worker: Some(worker),
        }
    }

    async fn finish(mut self) -> huiyin_app::jobs::WorkerReport {
        self.stop.notify_one();
        let report = self.worker.take().unwrap().await.unwrap();
        if let Some(db) = self.db.take() {
            db.cleanup().await.unwrap();
        }
        report
    }

    /// Waits until no job is due or running (so moving the test clock expires no lease).
    async fn drain(&self) {
        let store = self.app.store().clone();
        until("an empty queue", async || {
            let c = store.job_counts().await.unwrap();
            c.ready == 0 && c.running == 0
        })
        .await;
    }

    fn advance(&self, d: Duration) {
        let now = self.app.now();
        self.app.clock().set(now + d);
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string()))
                .unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    async fn act(&self, token: &str, case: &str, body: Value) {
        let (status, value) = self
            .call(
                "POST",
                &format!("/api/v1/cases/{case}/actions"),
                Some(token),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body} failed: {value}");
    }

    async fn submit(&self) -> String {
        let (status, value) = self
            .call(
                "POST",
                "/api/v1/petitions",
                None,
                Some(json!({
                    "channel": "mobile_web",
                    "petitioner": {"name": "张三", "phone": "13912345678"},
                    "title": "小区物业违规收费",
                    "text": "小区物业公司今年起每月多收公摊电费，业主多次询问未获解释，请求核查。",
                    "region": "440604",
                    "category": "城乡建设"
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{value}");
        value["case_id"].as_str().unwrap().to_string()
    }

    async fn register_and_route(&self, case: &str) {
        self.act(&self.registrar, case, json!({"command": "register", "class": {"class": "appeal", "route": "petition_procedure"}, "category": "城乡建设"})).await;
        self.act(
            &self.registrar,
            case,
            json!({"command": "route", "kind": {"kind": "forward"}, "unit": "4406-zj"}),
        )
        .await;
    }

    fn steps_received(&self, case: &str) -> Vec<String> {
        self.receiver
            .got
            .lock()
            .unwrap()
            .values()
            .filter(|(_, v)| v["case_id"] == case)
            .map(|(_, v)| v["step"].as_str().unwrap().to_string())
            .collect()
    }
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + StdDuration::from_secs(20);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_statutory_step_reaches_webhook_sms_and_inbox_once() {
    let t = T::start().await;
    let case = t.submit().await;
    t.register_and_route(&case).await;
    t.drain().await;
    t.advance(Duration::days(1));
    t.act(&t.handler, &case, json!({"command": "accept"})).await;
    t.act(
        &t.handler,
        &case,
        json!({"command": "request_extension", "days": 30, "reason": "需要委托第三方审计收费账目"}),
    )
    .await;
    t.act(
        &t.unit_head,
        &case,
        json!({"command": "decide_extension", "approve": true, "reason": "同意延期"}),
    )
    .await;
    t.drain().await;
    t.advance(Duration::days(20));
    t.act(
        &t.unit_head,
        &case,
        json!({"command": "reply", "opinion": {
            "request": "请求核查物业收费依据并退还多收费用",
            "facts": "经查，物业公司自一月起按新标准收取公摊电费，未经业主大会表决",
            "reasons": "收费标准调整未履行法定程序",
            "legal_basis": "《物业管理条例》第四十一条",
            "decision": "support"
        }}),
    )
    .await;
    let expected = [
        "accepted",
        "extended",
        "rate_invite",
        "registered",
        "replied",
        "review_right",
    ];
    until("all webhook notices", async || {
        let mut got = t.steps_received(&case);
        got.sort();
        got == expected
    })
    .await;
    until("all SMS", async || t.sms.sent.lock().unwrap().len() == 6).await;
    t.drain().await;
    // once per key, every signature good
    assert!(
        t.receiver
            .got
            .lock()
            .unwrap()
            .values()
            .all(|(n, _)| *n == 1)
    );
    assert_eq!(t.receiver.bad_signatures.load(Ordering::SeqCst), 0);
    // the texts carry the variables: the extension's days and reason, a deadline date
    let got = t.receiver.got.lock().unwrap().clone();
    let extended = got.values().find(|(_, v)| v["step"] == "extended").unwrap();
    let text = extended.1["text"].as_str().unwrap();
    // the reason is the one recorded with the approval (the approver states the grounds)
    assert!(
        text.contains("延长30日") && text.contains("理由：同意延期"),
        "{text}"
    );
    assert!(text.contains("2025-"), "{text}");
    let review = got
        .values()
        .find(|(_, v)| v["step"] == "review_right")
        .unwrap();
    assert!(review.1["text"].as_str().unwrap().contains("复查"));
    let sms = t.sms.sent.lock().unwrap().clone();
    assert!(
        sms.iter()
            .all(|(phone, _, key)| phone == "13912345678" && key.starts_with(&case))
    );
    // the inbox holds one message per step
    let inbox = t
        .app
        .store()
        .inbox_messages(
            &huiyin_app::auth::phone_hash(
                &huiyin_domain::values::PhoneNumber::parse("13912345678").unwrap(),
            ),
            50,
        )
        .await
        .unwrap();
    assert_eq!(inbox.len(), 6);
    // the delivery log, for staff who may read the case
    let (status, log) = t
        .call(
            "GET",
            &format!("/api/v1/cases/{case}/deliveries"),
            Some(&t.handler),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let items = log["items"].as_array().unwrap();
    // 18 to the petitioner, and the notice to the unit the case was forwarded to (which has
    // no staff accounts in this test: the log says so).
    let petitioner: Vec<_> = items.iter().filter(|d| d["channel"] != "staff").collect();
    assert_eq!(petitioner.len(), 18, "{log}");
    let staff: Vec<_> = items.iter().filter(|d| d["channel"] == "staff").collect();
    assert_eq!(staff.len(), 1, "{log}");
    assert_eq!(staff[0]["step"], "forwarded");
    assert!(staff[0]["detail"].as_str().unwrap().starts_with("0 people"));
    assert!(items.iter().all(|d| d["ok"] == true));
    let report = t.finish().await;
    assert_eq!(report.done, 19);
    assert_eq!(report.dead, 0);
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_then_a_dead_letter_an_admin_retries() {
    let t = T::start().await;
    t.receiver.status.store(500, Ordering::SeqCst);
    let case = t.submit().await;
    t.register_and_route(&case).await;
    let store = t.app.store().clone();
    // first attempt fails; the retry waits for its backoff (30..60 s on the test clock)
    until("first failure", async || {
        store.jobs_for_case(&case).await.unwrap().iter().any(|j| {
            j.kind == "notice"
                && j.attempts == 1
                && j.state == "ready"
                && j.last_error.as_deref().is_some_and(|e| e.contains("500"))
        })
    })
    .await;
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let webhook_job = |jobs: &[huiyin_store::JobRecord]| {
        jobs.iter()
            .find(|j| j.idempotency_key.ends_with("webhook0"))
            .cloned()
            .unwrap()
    };
    assert_eq!(
        webhook_job(&store.jobs_for_case(&case).await.unwrap()).attempts,
        1
    );
    for attempt in 2..=3 {
        t.advance(Duration::minutes(11));
        t.app.job_signal().notify();
        until("next attempt", async || {
            let j = webhook_job(&store.jobs_for_case(&case).await.unwrap());
            j.attempts == attempt && j.state != "running"
        })
        .await;
    }
    let dead_job = webhook_job(&store.jobs_for_case(&case).await.unwrap());
    assert_eq!(dead_job.state, "dead");
    // administrators see it; others may not
    let (status, _) = t
        .call("GET", "/api/v1/admin/jobs/dead", Some(&t.handler), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, dead) = t
        .call("GET", "/api/v1/admin/jobs/dead", Some(&t.admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let items = dead["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{dead}");
    assert_eq!(items[0]["id"], dead_job.id.as_str());
    assert!(items[0]["last_error"].as_str().unwrap().contains("500"));
    // the receiver is fixed; the administrator retries; it arrives
    t.receiver.status.store(200, Ordering::SeqCst);
    let (status, _) = t
        .call(
            "POST",
            &format!("/api/v1/admin/jobs/{}/retry", dead_job.id),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, err) = t
        .call(
            "POST",
            &format!("/api/v1/admin/jobs/{}/retry", dead_job.id),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    until("delivery after retry", async || {
        t.steps_received(&case) == ["registered"]
    })
    .await;
    t.drain().await;
    let (_, counts) = t
        .call("GET", "/api/v1/admin/jobs", Some(&t.admin), None)
        .await;
    assert_eq!(counts["dead"], 0, "{counts}");
    // the log shows the three failures and the success
    let log = store.deliveries_for_case(&case).await.unwrap();
    let hook: Vec<bool> = log
        .iter()
        .filter(|d| d.channel == "webhook")
        .map(|d| d.ok)
        .collect();
    assert_eq!(hook, [false, false, false, true]);
    t.finish().await;
}

#[tokio::test]
async fn a_receiver_that_refuses_with_4xx_is_a_dead_letter_at_once() {
    let t = T::start().await;
    t.receiver.status.store(410, Ordering::SeqCst);
    let case = t.submit().await;
    t.register_and_route(&case).await;
    let store = t.app.store().clone();
    until("dead letter", async || {
        store.dead_jobs(None, 10).await.unwrap().len() == 1
    })
    .await;
    let dead = store.dead_jobs(None, 10).await.unwrap();
    assert_eq!(dead[0].attempts, 1);
    assert!(dead[0].last_error.as_deref().unwrap().contains("410"));
    t.finish().await;
}

#[tokio::test]
async fn a_slow_receiver_does_not_hold_up_other_notices() {
    let t = T::start().await;
    *t.receiver.slow_step.lock().unwrap() = Some("registered".into());
    let slow_case = t.submit().await;
    t.register_and_route(&slow_case).await;
    tokio::time::sleep(StdDuration::from_millis(200)).await;
    // while the slow request hangs, other cases' notices arrive
    let started = std::time::Instant::now();
    let case = t.submit().await;
    t.register_and_route(&case).await;
    t.act(&t.handler, &case, json!({"command": "accept"})).await;
    until("the fast notices", async || {
        t.steps_received(&case).len() == 1
    })
    .await;
    assert!(
        started.elapsed() < StdDuration::from_secs(2),
        "held up by the slow receiver"
    );
    assert!(t.steps_received(&slow_case).is_empty());
    until("the slow notice", async || {
        t.steps_received(&slow_case).len() == 1
    })
    .await;
    t.finish().await;
}

#[tokio::test]
async fn malformed_templates_are_refused_when_saved() {
    let t = T::start().await;
    let put = async |token: &str, path: &str, body: &str| {
        t.call(
            "PUT",
            &format!("/api/v1/admin/notice-templates/{path}"),
            Some(token),
            Some(json!({"body": body})),
        )
        .await
    };
    let (status, err) = put(&t.admin, "accepted/zh/text", "已受理，期限{deadlin}").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(
        err["error"]["fields"][0]["code"], "template_unknown_placeholder",
        "{err}"
    );
    let (status, err) = put(&t.admin, "accepted/zh/text", "已受理 {receipt").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["fields"][0]["code"], "template_brace", "{err}");
    let (status, err) = put(&t.admin, "nosuch/zh/text", "x").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["fields"][0]["code"], "unknown_step", "{err}");
    let (status, _) = put(&t.handler, "registered/zh/text", "登记{receipt}").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // a good one is used for the next notice
    let (status, _) = put(&t.admin, "registered/zh/text", "【测试】已登记：{receipt}").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let case = t.submit().await;
    t.register_and_route(&case).await;
    until("registered notice", async || {
        t.steps_received(&case).len() == 1
    })
    .await;
    let got = t.receiver.got.lock().unwrap().clone();
    let text = got.values().next().unwrap().1["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.starts_with("【测试】已登记："), "{text}");
    t.finish().await;
}
