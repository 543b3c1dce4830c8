//! The JSON API end to end: the real router, the real application and a fresh database per test
//! (SQLite, or PostgreSQL when HUIYIN_TEST_DATABASE_URL is set). No sockets, no sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, TimeZone, Utc};
use http_body_util::BodyExt;
use huiyin_app::{App, Clock, Config};
use huiyin_domain::case::Role;
use huiyin_store::UnitRecord;
use huiyin_store::testing::{TestDb, fresh};
use huiyin_web::ratelimit::Limit;
use huiyin_web::{WebConfig, router};
use serde_json::{Value, json};
use tower::ServiceExt;

struct TestApp {
    router: Router,
    app: App,
    db: Option<TestDb>,
    registrar: String,
    bureau_head: String,
    handler: String,
    unit_head: String,
    other_handler: String,
    reviewer: String,
    rereviewer: String,
    leader: String,
}

impl TestApp {
    async fn start() -> TestApp {
        Self::start_with(Limit {
            burst: 1000.0,
            per_second: 1000.0,
        })
        .await
    }

    async fn start_with(limit: Limit) -> TestApp {
        let db = fresh().await.expect("test database");
        let store = db.store.clone();
        let units = [
            (
                "44-xfj",
                "广东省信访局",
                "petition_bureau",
                "44",
                Some("0-xfj"),
            ),
            (
                "4406-xfj",
                "佛山市信访局",
                "petition_bureau",
                "4406",
                Some("44-xfj"),
            ),
            (
                "4406-zj",
                "佛山市住建局",
                "department",
                "4406",
                Some("4406-xfj"),
            ),
            (
                "4406-rs",
                "佛山市人社局",
                "department",
                "4406",
                Some("4406-xfj"),
            ),
        ];
        for (id, name, kind, region, parent) in units {
            store
                .insert_unit(&UnitRecord {
                    id: id.into(),
                    name: name.into(),
                    kind: kind.into(),
                    region_code: region.into(),
                    parent_id: parent.map(str::to_string),
                })
                .await
                .unwrap();
        }
        // A Wednesday in 2025, 10:00 China time.
        let start = Utc.with_ymd_and_hms(2025, 3, 12, 2, 0, 0).unwrap();
        let app = App::new(
            store,
            Config {
                clock: Clock::manual(start),
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
        let bureau_head = token("4406-xfj", &[Role::UnitHead, Role::Registrar]).await;
        let handler = token("4406-zj", &[Role::Handler]).await;
        let unit_head = token("4406-zj", &[Role::UnitHead]).await;
        let other_handler = token("4406-rs", &[Role::Handler, Role::UnitHead]).await;
        let reviewer = token("4406-xfj", &[Role::UnitHead]).await;
        let rereviewer = token("44-xfj", &[Role::UnitHead, Role::Handler]).await;
        let leader = token("44-xfj", &[Role::Leader]).await;
        let router = router(
            app.clone(),
            WebConfig {
                public_limit: limit,
            },
        );
        TestApp {
            router,
            app,
            db: Some(db),
            registrar,
            bureau_head,
            handler,
            unit_head,
            other_handler,
            reviewer,
            rereviewer,
            leader,
        }
    }

    async fn finish(mut self) {
        let report = self.app.store().verify(true).await.unwrap();
        assert!(report.ok(), "hash chain or projections broken: {report:?}");
        if let Some(db) = self.db.take() {
            db.cleanup().await.unwrap();
        }
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
        self.call_raw(method, uri, token, body.map(|b| b.to_string()), &[])
            .await
    }

    async fn call_raw(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b))
                .unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    async fn action(&self, token: &str, case: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            "POST",
            &format!("/api/v1/cases/{case}/actions"),
            Some(token),
            Some(body),
        )
        .await
    }

    async fn ok_action(&self, token: &str, case: &str, body: Value) -> Value {
        let (status, value) = self.action(token, case, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "action {body} failed: {value}");
        value
    }

    async fn submit(&self) -> Value {
        let (status, value) = self
            .call("POST", "/api/v1/petitions", None, Some(petition()))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{value}");
        value
    }
}

fn petition() -> Value {
    json!({
        "channel": "mobile_web",
        "petitioner": {"name": "张三", "phone": "13912345678", "id_card": "11010519491231002X"},
        "title": "小区物业违规收费",
        "text": "小区物业公司今年起每月多收公摊电费，业主多次询问未获解释，请求核查。",
        "region": "440604",
        "category": "城乡建设"
    })
}

fn opinion() -> Value {
    json!({
        "request": "请求核查物业收费依据并退还多收费用",
        "facts": "经查，物业公司自一月起按新标准收取公摊电费，未经业主大会表决",
        "reasons": "收费标准调整未履行法定程序",
        "legal_basis": "《物业管理条例》第四十一条",
        "decision": "support"
    })
}

#[tokio::test]
async fn the_whole_statutory_journey_over_http() {
    let t = TestApp::start().await;
    let receipt = t.submit().await;
    let case = receipt["case_id"].as_str().unwrap().to_string();
    let code = receipt["receipt_code"].as_str().unwrap().to_string();
    let secret = receipt["secret"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 14, "XXXX-XXXX-XXXX: {code}");
    // The nearest bureau: no county bureau exists for 440604, so the city bureau receives it.
    assert_eq!(receipt["bureau_id"], "4406-xfj");
    assert!(receipt["register_due_at"].is_string());

    t.ok_action(&t.registrar, &case, json!({"command": "register", "class": {"class": "appeal", "route": "petition_procedure"}, "category": "城乡建设"})).await;
    let due = (t.app.now() + Duration::days(40)).to_rfc3339();
    let view = t.ok_action(&t.registrar, &case, json!({"command": "route", "kind": {"kind": "assign", "due_at": due}, "unit": "4406-zj"})).await;
    assert_eq!(view["state"]["stage"], "routed");
    assert_eq!(view["state"]["report"], "pending");

    // The handling unit now has it in its work list, with a light.
    let (status, list) = t.call("GET", "/api/v1/cases", Some(&t.handler), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], case.as_str());
    assert_eq!(list["items"][0]["petitioner_masked"], "张*");

    t.advance(Duration::days(1));
    t.ok_action(&t.handler, &case, json!({"command": "accept"}))
        .await;
    t.ok_action(
        &t.handler,
        &case,
        json!({"command": "request_extension", "days": 30, "reason": "需要委托第三方审计收费账目"}),
    )
    .await;
    // A handler may not approve; the unit head does.
    let (status, err) = t
        .action(
            &t.handler,
            &case,
            json!({"command": "decide_extension", "approve": true, "reason": "同意"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    assert_eq!(err["error"]["code"], "forbidden");
    let view = t
        .ok_action(
            &t.unit_head,
            &case,
            json!({"command": "decide_extension", "approve": true, "reason": "同意延期"}),
        )
        .await;
    let handling = view["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "handling")
        .unwrap()
        .clone();
    assert_eq!(view["state"]["extension_days"], 30);
    assert_eq!(handling["light"], "green");

    // A second extension is refused (Art. 34: once).
    t.ok_action(
        &t.handler,
        &case,
        json!({"command": "add_note", "text": "已约谈物业公司负责人"}),
    )
    .await;
    let (status, err) = t
        .action(
            &t.handler,
            &case,
            json!({"command": "request_extension", "days": 10, "reason": "再延期"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"]["code"], "not_allowed");

    t.advance(Duration::days(20));
    t.ok_action(
        &t.unit_head,
        &case,
        json!({"command": "reply", "opinion": opinion()}),
    )
    .await;
    t.ok_action(&t.handler, &case, json!({"command": "submit_completion_report", "report": "已书面答复信访人并督促物业公司退费"})).await;
    let view = t.ok_action(&t.registrar, &case, json!({"command": "check_completion_report", "approve": true, "reason": "办结报告符合要求"})).await;
    assert_eq!(view["state"]["report"], "approved");

    // The petitioner looks it up: plain words, the opinion, no internal notes.
    let (status, public) = t
        .call(
            "POST",
            "/api/v1/public/lookup",
            None,
            Some(json!({"receipt_code": code, "secret": secret})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{public}");
    assert_eq!(public["stage"], "replied");
    assert_eq!(public["opinion"]["decision"], "support");
    let text = public.to_string();
    assert!(
        !text.contains("约谈物业公司负责人"),
        "internal note leaked: {text}"
    );
    assert!(!text.contains("13912345678") && !text.contains("11010519491231002X"));
    assert!(public["can_rate_until"].is_string());
    assert!(public["can_request_review_until"].is_string());

    let (status, public) = t
        .call("POST", "/api/v1/public/actions", None, Some(json!({"receipt_code": code, "secret": secret, "command": "rate", "bureau": "satisfied", "unit": "unsatisfied"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{public}");
    let (status, public) = t
        .call("POST", "/api/v1/public/actions", None, Some(json!({"receipt_code": code, "secret": secret, "command": "request_review", "reason": "退费金额计算有误", "review_unit": "4406-xfj"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{public}");
    assert_eq!(public["stage"], "under_review");
    // A petitioner cannot run staff commands with the secret.
    let (status, err) = t
        .call(
            "POST",
            "/api/v1/public/actions",
            None,
            Some(json!({"receipt_code": code, "secret": secret, "command": "accept"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");

    t.advance(Duration::days(10));
    t.ok_action(
        &t.reviewer,
        &case,
        json!({"command": "decide_review", "outcome": "change", "opinion": opinion()}),
    )
    .await;
    let (status, public) = t
        .call("POST", "/api/v1/public/actions", None, Some(json!({"receipt_code": code, "secret": secret, "command": "request_rereview", "reason": "仍不服复查意见", "rereview_unit": "44-xfj"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{public}");
    let before = t
        .ok_action(
            &t.rereviewer,
            &case,
            json!({"command": "start_hearing", "note": "组织听证"}),
        )
        .await;
    // The re-review cannot be decided during the hearing.
    let (status, _) = t
        .action(
            &t.rereviewer,
            &case,
            json!({"command": "decide_rereview", "outcome": "uphold", "opinion": opinion()}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    t.advance(Duration::days(7));
    let after = t
        .ok_action(
            &t.rereviewer,
            &case,
            json!({"command": "end_hearing", "note": "听证结束"}),
        )
        .await;
    let due_of = |v: &Value| {
        v["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == "rereview_decision")
            .unwrap()["due_at"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (due_before, due_after) = (due_of(&before), due_of(&after));
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    assert!(
        parse(&due_after) - parse(&due_before) >= Duration::days(7),
        "hearing must pause the clock: {due_before} -> {due_after}"
    );
    // A leader above may instruct.
    t.ok_action(
        &t.leader,
        &case,
        json!({"command": "instruct", "text": "请依法依规做好解释工作"}),
    )
    .await;
    // 包案 through the same endpoint: the leader above takes personal charge, once.
    let view = t
        .ok_action(&t.leader, &case, json!({"command": "take_charge"}))
        .await;
    assert_eq!(view["state"]["in_charge"][0]["unit"], "44-xfj");
    let (status, err) = t
        .action(&t.leader, &case, json!({"command": "take_charge"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["code"], "not_allowed");
    let view = t
        .ok_action(
            &t.rereviewer,
            &case,
            json!({"command": "decide_rereview", "outcome": "uphold", "opinion": opinion()}),
        )
        .await;
    assert_eq!(view["state"]["stage"], "concluded");
    // 终结: nothing more but notes.
    let (status, err) = t
        .call("POST", "/api/v1/public/actions", None, Some(json!({"receipt_code": code, "secret": secret, "command": "withdraw", "reason": "撤回"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["code"], "wrong_stage");

    let (status, events) = t
        .call(
            "GET",
            &format!("/api/v1/cases/{case}/events"),
            Some(&t.registrar),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = events.as_array().unwrap();
    // submit … decide_rereview with one 包案, and the 回访 that the unit's 不满意 rating
    // scheduled with it: 20 events, each with its chain hash.
    assert_eq!(events.len(), 20);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "follow_up_scheduled" && e["version"] == 12),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| e["hash"].as_str().is_some_and(|h| h.len() == 64))
    );
    assert!(
        events
            .windows(2)
            .all(|w| w[1]["version"].as_u64() == w[0]["version"].as_u64().map(|v| v + 1))
    );
    t.finish().await;
}

#[tokio::test]
async fn every_bad_field_is_named() {
    let t = TestApp::start().await;
    let mut p = petition();
    p["petitioner"]["phone"] = json!("12345");
    p["petitioner"]["id_card"] = json!("110105194912310021");
    p["title"] = json!("a");
    p["region"] = json!("44060");
    let (status, body) = t.call("POST", "/api/v1/petitions", None, Some(p)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "validation_failed");
    let fields: Vec<(&str, &str)> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap(), f["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("petitioner.phone", "phone_invalid"),
            ("petitioner.id_card", "id_card_checksum"),
            ("title", "title_too_short"),
            ("region", "region_code_invalid"),
        ]
    );
    // Nothing was written.
    assert_eq!(t.app.store().count_cases().await.unwrap(), 0);

    // Group petitions: at most five representatives (Art. 20).
    let mut p = petition();
    let rep = json!({"name": "李四", "phone": "13900000001"});
    p["group"] = json!({"headcount": 30, "representatives": [rep, rep, rep, rep, rep, rep]});
    let (status, body) = t.call("POST", "/api/v1/petitions", None, Some(p)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["code"], "group_representatives");

    // A named petitioner must leave a way to be answered.
    let mut p = petition();
    p["petitioner"] = json!({"name": "张三"});
    let (status, body) = t.call("POST", "/api/v1/petitions", None, Some(p)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["code"], "contact_required");

    // Online submission cannot claim to be a visit.
    let mut p = petition();
    p["channel"] = json!("visit");
    let (status, body) = t.call("POST", "/api/v1/petitions", None, Some(p)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["field"], "channel");
    t.finish().await;
}

#[tokio::test]
async fn malformed_bodies_and_error_shape() {
    let t = TestApp::start().await;
    let (status, body) = t
        .call_raw(
            "POST",
            "/api/v1/petitions",
            None,
            Some("{not json".into()),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "malformed_request");
    // The exact public shape of an error (pinned: clients depend on it).
    let (status, body) = t.call("GET", "/api/v1/cases", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": {"code": "unauthorized", "message": "需要登录：请先登录，或在 Authorization 头中提供 Bearer 令牌"}})
    );
    let (status, body) = t
        .call("GET", "/api/v1/cases", Some("hy_notarealtoken"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, body) = t.call("GET", "/api/v1/nothing-here", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    // An unknown command names the problem.
    let receipt = t.submit().await;
    let case = receipt["case_id"].as_str().unwrap();
    let (status, body) = t
        .action(&t.registrar, case, json!({"command": "teleport"}))
        .await;
    assert!(
        status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
        "{status} {body}"
    );
    // A bad value inside a command is a field error, not a 500.
    let (status, body) = t
        .action(&t.handler, case, json!({"command": "object", "reason": ""}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["code"], "reason_too_short");
    // Too large a body is refused before parsing.
    let huge = format!(
        "{{\"x\": \"{}\"}}",
        "a".repeat(huiyin_web::MAX_BODY_BYTES + 10)
    );
    let (status, _) = t
        .call_raw("POST", "/api/v1/petitions", None, Some(huge), &[])
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    t.finish().await;
}

#[tokio::test]
async fn roles_stages_and_scope_are_enforced() {
    let t = TestApp::start().await;
    let receipt = t.submit().await;
    let case = receipt["case_id"].as_str().unwrap().to_string();
    // A handler cannot register; a registrar can.
    let register =
        json!({"command": "register", "class": {"class": "appeal", "route": "petition_procedure"}});
    let (status, _) = t
        .action(&t.bureau_head, &case, json!({"command": "accept"}))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "accept before routing is the wrong stage"
    );
    // Another unit cannot even see the case (404, not 403: existence is not revealed).
    let (status, body) = t
        .call(
            "GET",
            &format!("/api/v1/cases/{case}"),
            Some(&t.other_handler),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = t.action(&t.other_handler, &case, register.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    t.ok_action(&t.registrar, &case, register).await;
    t.ok_action(
        &t.registrar,
        &case,
        json!({"command": "route", "kind": {"kind": "forward"}, "unit": "4406-zj"}),
    )
    .await;
    // The wrong unit's handler: the case is not in its scope.
    let (status, _) = t
        .action(&t.other_handler, &case, json!({"command": "accept"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The right unit, but the registrar of the bureau cannot accept for it.
    let (status, body) = t
        .action(&t.registrar, &case, json!({"command": "accept"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // A work list of another unit is refused.
    let (status, _) = t
        .call("GET", "/api/v1/cases?unit=4406-rs", Some(&t.handler), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Optimistic concurrency: a stale version is a conflict and changes nothing.
    let (status, view) = t
        .call(
            "GET",
            &format!("/api/v1/cases/{case}"),
            Some(&t.handler),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let version = view["state"]["version"].as_u64().unwrap();
    let (status, body) = t
        .action(
            &t.handler,
            &case,
            json!({"command": "accept", "expected_version": version - 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "conflict");
    let (status, _) = t
        .call_raw(
            "POST",
            &format!("/api/v1/cases/{case}/actions"),
            Some(&t.handler),
            Some(json!({"command": "accept"}).to_string()),
            &[("if-match", &format!("\"{version}\""))],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    t.finish().await;
}

#[tokio::test]
async fn objection_window_counts_working_days_across_national_day() {
    let t = TestApp::start().await;
    // Friday 2024-09-27 10:00 China time; 09-29 (Sunday) is a make-up working day, 10-01..07
    // are off: five working days end on 2024-10-09... counted from the next day: 09-29, 09-30,
    // 10-08, 10-09, 10-10 → due at the end of Thursday 2024-10-10.
    t.app
        .clock()
        .set(Utc.with_ymd_and_hms(2024, 9, 27, 2, 0, 0).unwrap());
    let receipt = t.submit().await;
    let case = receipt["case_id"].as_str().unwrap().to_string();
    t.ok_action(
        &t.registrar,
        &case,
        json!({"command": "register", "class": {"class": "suggestion"}}),
    )
    .await;
    let view = t
        .ok_action(
            &t.registrar,
            &case,
            json!({"command": "route", "kind": {"kind": "forward"}, "unit": "4406-zj"}),
        )
        .await;
    let objection = view["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "objection")
        .unwrap()
        .clone();
    assert_eq!(
        objection["due_at"], "2024-10-10T15:59:59.999Z",
        "{objection}"
    );
    t.app
        .clock()
        .set(Utc.with_ymd_and_hms(2024, 10, 10, 16, 0, 1).unwrap());
    let (status, body) = t
        .action(
            &t.handler,
            &case,
            json!({"command": "object", "reason": "该事项不属于本单位职责"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "deadline_passed");
    // The list shows the acceptance notice overdue? Not yet (15 days), but the light turns as time passes.
    t.app
        .clock()
        .set(Utc.with_ymd_and_hms(2024, 10, 20, 2, 0, 0).unwrap());
    let (status, list) = t
        .call("GET", "/api/v1/cases?overdue=true", Some(&t.handler), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    t.finish().await;
}

#[tokio::test]
async fn a_double_submit_creates_one_petition() {
    let t = TestApp::start().await;
    let headers = [("idempotency-key", "client-7f3a")];
    let (s1, r1) = t
        .call_raw(
            "POST",
            "/api/v1/petitions",
            None,
            Some(petition().to_string()),
            &headers,
        )
        .await;
    let (s2, r2) = t
        .call_raw(
            "POST",
            "/api/v1/petitions",
            None,
            Some(petition().to_string()),
            &headers,
        )
        .await;
    assert_eq!(s1, StatusCode::CREATED);
    assert_eq!(s2, StatusCode::OK);
    assert_eq!(r1["receipt_code"], r2["receipt_code"]);
    assert_eq!(r1["secret"], r2["secret"]);
    assert_eq!(r2["replayed"], true);
    assert_eq!(t.app.store().count_cases().await.unwrap(), 1);
    t.finish().await;
}

#[tokio::test]
async fn lookups_need_the_secret_and_are_rate_limited() {
    let t = TestApp::start_with(Limit {
        burst: 5.0,
        per_second: 0.0,
    })
    .await;
    let receipt = t.submit().await;
    let code = receipt["receipt_code"].as_str().unwrap();
    let (status, body) = t
        .call(
            "POST",
            "/api/v1/public/lookup",
            None,
            Some(json!({"receipt_code": code, "secret": "WRONG123"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    // A typo in the code is caught by its check character.
    let mut typo: Vec<char> = code.chars().collect();
    typo[0] = if typo[0] == '7' { '8' } else { '7' };
    let typo: String = typo.into_iter().collect();
    let (status, body) = t
        .call(
            "POST",
            "/api/v1/public/lookup",
            None,
            Some(json!({"receipt_code": typo, "secret": "X"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["code"], "receipt_code_checksum");
    let mut limited = false;
    for _ in 0..6 {
        let (status, body) = t
            .call(
                "POST",
                "/api/v1/public/lookup",
                None,
                Some(json!({"receipt_code": code, "secret": "WRONG123"})),
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["error"]["code"], "rate_limited");
            limited = true;
        }
    }
    assert!(
        limited,
        "the sixth public request from one address must be limited"
    );
    t.finish().await;
}

#[tokio::test]
async fn staff_entry_of_letters_visits_and_merging() {
    let t = TestApp::start().await;
    let mut letter = petition();
    letter["channel"] = json!("letter");
    letter["received_at"] = json!((t.app.now() - Duration::days(3)).to_rfc3339());
    let (status, a) = t
        .call(
            "POST",
            "/api/v1/cases",
            Some(&t.registrar),
            Some(letter.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let mut visit = petition();
    visit["channel"] = json!("visit");
    visit["group"] =
        json!({"headcount": 12, "representatives": [{"name": "王五", "phone": "13800000005"}]});
    let (status, b) = t
        .call("POST", "/api/v1/cases", Some(&t.registrar), Some(visit))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    // A handler may not enter petitions.
    let (status, _) = t
        .call("POST", "/api/v1/cases", Some(&t.handler), Some(letter))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // 并单: the visit is a copy of the letter; both histories stay.
    let (a, b) = (
        a["case_id"].as_str().unwrap(),
        b["case_id"].as_str().unwrap(),
    );
    // The surviving side cannot be written on its own.
    let (status, body) = t
        .action(
            &t.registrar,
            a,
            json!({"command": "absorb", "source": b, "reason": "duplicate"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["code"], "command_internal");
    let merged = t
        .ok_action(
            &t.registrar,
            b,
            json!({"command": "merge_into", "into": a, "reason": "duplicate"}),
        )
        .await;
    assert_eq!(merged["state"]["stage"], "merged");
    let (_, target) = t
        .call(
            "GET",
            &format!("/api/v1/cases/{a}"),
            Some(&t.registrar),
            None,
        )
        .await;
    assert_eq!(target["state"]["absorbed"][0], b);
    // The letter's registration clock started when it was received, not when it was typed in.
    let register = target["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "register_route")
        .unwrap()
        .clone();
    assert_eq!(
        register["started_at"].as_str().unwrap()[..10],
        (t.app.now() - Duration::days(3)).to_rfc3339()[..10]
    );
    t.finish().await;
}

#[tokio::test]
async fn openapi_lists_every_route_and_error_code() {
    let t = TestApp::start().await;
    let (status, doc) = t.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/healthz",
        "/api/v1/petitions",
        "/api/v1/public/lookup",
        "/api/v1/public/actions",
        "/api/v1/me",
        "/api/v1/cases",
        "/api/v1/cases/{id}",
        "/api/v1/cases/{id}/events",
        "/api/v1/cases/{id}/actions",
        "/api/v1/units",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    let codes: Vec<&str> = doc["x-error-catalogue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    for code in [
        "validation_failed",
        "wrong_stage",
        "deadline_passed",
        "conflict",
        "forbidden",
        "unauthorized",
        "rate_limited",
        "internal",
    ] {
        assert!(codes.contains(&code), "{code} missing from the catalogue");
    }
    // Every command the domain knows is documented.
    let documented: Vec<&str> = doc["components"]["schemas"]["Command"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    for name in [
        "register",
        "route",
        "accept",
        "decline",
        "object",
        "resolve_objection",
        "request_extension",
        "decide_extension",
        "reply",
        "submit_completion_report",
        "check_completion_report",
        "rate",
        "request_review",
        "decide_review",
        "request_rereview",
        "start_hearing",
        "end_hearing",
        "decide_rereview",
        "withdraw",
        "merge_into",
        "add_note",
        "instruct",
        "take_charge",
        "release_charge",
        "hand_over_charge",
        "urge",
        "supervise",
        "answer_supervision",
        "circulate",
        "end_named_supervision",
    ] {
        assert!(
            documented.contains(&name),
            "command {name} missing from OpenAPI"
        );
    }
    let (status, health) = t.call("GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    t.finish().await;
}

/// 形势网上判 over HTTP: the indicators of a region after the counters catch up, scoped to the
/// caller, with bad periods and targets named.
#[tokio::test]
async fn indicators_are_served_scoped_and_checked() {
    let t = TestApp::start().await;
    for _ in 0..3 {
        t.submit().await;
    }
    t.app.stats_catch_up().await.unwrap();
    // 12 March 2025 (the test clock) falls in the period.
    let uri = "/api/v1/stats/indicators?region=4406&from=2025-03-01&to=2025-03-31";
    let (status, body) = t.call("GET", uri, Some(&t.registrar), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let volume = body["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "volume")
        .unwrap();
    assert_eq!(volume["current"]["value"], 3.0);
    assert_eq!(volume["previous"]["value"], 0.0);
    assert_eq!(body["previous_from"], "2025-01-29");
    assert_eq!(body["status"]["behind_events"], 0);
    let online = body["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "online_share")
        .unwrap();
    assert_eq!(online["current"]["value"], 1.0);
    assert_eq!(online["name_zh"], "网信占比");

    // A department's handler sees its own unit's figures, not the city's; the city bureau
    // does not see the province's.
    let (status, _) = t.call("GET", uri, Some(&t.handler), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let own = "/api/v1/stats/indicators?unit=4406-zj&from=2025-03-01&to=2025-03-31";
    let (status, body) = t.call("GET", own, Some(&t.handler), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let province = "/api/v1/stats/indicators?region=44&from=2025-03-01&to=2025-03-31";
    let (status, _) = t.call("GET", province, Some(&t.registrar), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = t.call("GET", province, Some(&t.leader), None).await;
    assert_eq!(status, StatusCode::OK);

    // Bad input names the field.
    let bad = "/api/v1/stats/indicators?region=4406&from=2025-3-1x&to=2025-03-31";
    let (status, body) = t.call("GET", bad, Some(&t.registrar), None).await;
    assert_eq!(status.as_u16() / 100, 4, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "from", "{body}");
    let reversed = "/api/v1/stats/indicators?region=4406&from=2025-03-31&to=2025-03-01";
    let (status, body) = t.call("GET", reversed, Some(&t.registrar), None).await;
    assert_eq!(status.as_u16() / 100, 4, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "to", "{body}");
    let none = "/api/v1/stats/indicators?from=2025-03-01&to=2025-03-31";
    let (status, body) = t.call("GET", none, Some(&t.registrar), None).await;
    assert_eq!(status.as_u16() / 100, 4, "{body}");
    assert_eq!(body["error"]["fields"][0]["code"], "stats_target_required");
    let (status, _) = t.call("GET", uri, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, doc) = t.call("GET", "/api/v1/openapi.json", None, None).await;
    assert!(doc["paths"]["/api/v1/stats/indicators"].is_object());
    t.finish().await;
}
