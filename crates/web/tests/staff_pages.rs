//! The staff workbench through the real router on a fresh database (SQLite, or PostgreSQL
//! when HUIYIN_TEST_DATABASE_URL is set): sign-in with its CSRF pairing, the inbox with its
//! filters and counts, desk intake with errors re-displayed, the case page's action forms
//! (happy paths, a field error, a stale version), scope, masked personal data, documents.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use huiyin_app::{App, Clock, Config};
use huiyin_domain::ids::CaseId;
use huiyin_store::UnitRecord;
use huiyin_store::testing::{TestDb, fresh};
use huiyin_web::{WebConfig, router};
use tower::ServiceExt;

const PASSWORD: &str = "Correct-Horse-7";

struct T {
    router: Router,
    app: App,
    db: Option<TestDb>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    cookies: Vec<String>,
    body: String,
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of the first hidden input `name` in a page.
fn hidden(body: &str, name: &str) -> String {
    let pat = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&pat)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + pat.len();
    body[start..].split('"').next().unwrap().to_string()
}

impl T {
    async fn start() -> T {
        let db = fresh().await.expect("test database");
        let store = db.store.clone();
        for (id, name, kind, region, parent) in [
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
        ] {
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
        let start = Utc.with_ymd_and_hms(2025, 3, 12, 2, 0, 0).unwrap();
        let app = App::new(
            store,
            Config {
                clock: Clock::manual(start),
                ..Config::default()
            },
        );
        let router = router(app.clone(), WebConfig::default());
        T {
            router,
            app,
            db: Some(db),
        }
    }

    async fn finish(mut self) {
        if let Some(db) = self.db.take() {
            db.cleanup().await.unwrap();
        }
    }

    async fn user(&self, username: &str, unit: &str, roles: &str) {
        self.app
            .add_user(
                username,
                "测试用户",
                unit,
                &[roles.to_string()],
                Some(PASSWORD),
            )
            .await
            .unwrap();
    }

    async fn send(&self, method: &str, uri: &str, cookie: &str, body: Option<String>) -> Page {
        let mut req = Request::builder().method(method).uri(uri);
        if !cookie.is_empty() {
            req = req.header("cookie", cookie);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(b))
                .unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let location = res
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let cookies = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .collect();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            location,
            cookies,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, uri: &str, cookie: &str) -> Page {
        self.send("GET", uri, cookie, None).await
    }

    async fn post(&self, uri: &str, cookie: &str, pairs: &[(&str, &str)]) -> Page {
        self.send("POST", uri, cookie, Some(form(pairs))).await
    }

    /// Signs in through the form; returns the session cookie and the CSRF token.
    async fn login(&self, username: &str) -> (String, String) {
        let page = self.get("/staff/login", "").await;
        assert_eq!(page.status, StatusCode::OK);
        let pair = page.cookies[0].clone();
        let token = hidden(&page.body, "_csrf");
        let res = self
            .post(
                "/staff/login",
                &pair,
                &[
                    ("_csrf", &token),
                    ("next", "/staff"),
                    ("username", username),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let session = res
            .cookies
            .iter()
            .find(|c| c.starts_with("huiyin_session="))
            .unwrap()
            .clone();
        let inbox = self.get("/staff", &session).await;
        assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.body);
        let csrf = hidden(&inbox.body, "_csrf");
        (session, csrf)
    }

    /// Enters a visit at the desk; returns the case id.
    async fn intake(&self, cookie: &str, csrf: &str, title: &str) -> String {
        self.intake_text(
            cookie,
            csrf,
            title,
            "小区路灯已经坏了一个月，晚上出行不便。",
        )
        .await
    }

    /// Enters a visit at the desk with this text; returns the case id.
    async fn intake_text(&self, cookie: &str, csrf: &str, title: &str, text: &str) -> String {
        let res = self
            .post(
                "/staff/intake",
                cookie,
                &[
                    ("_csrf", csrf),
                    ("_key", title),
                    ("channel", "visit"),
                    ("petitioner.name", "张三"),
                    ("petitioner.phone", "13912345678"),
                    ("title", title),
                    ("text", text),
                    ("region", "440604"),
                    ("category", "城乡建设"),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert!(res.body.contains("受理凭证编号"), "{}", res.body);
        let start = res.body.find("/staff/cases/").unwrap() + "/staff/cases/".len();
        res.body[start..].split('"').next().unwrap().to_string()
    }

    /// A GET answered with its headers and raw bytes.
    async fn raw_get(&self, uri: &str, cookie: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        let req = Request::builder()
            .uri(uri)
            .header("cookie", cookie)
            .body(Body::empty())
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, headers, bytes.to_vec())
    }

    /// Registers a case and forwards it to `unit`, as the registrar.
    async fn register_and_route(&self, cookie: &str, csrf: &str, case: &str, unit: &str) {
        for (action, fields) in [
            (
                "register",
                vec![
                    ("class.class", "appeal"),
                    ("class.route", "petition_procedure"),
                ],
            ),
            ("route", vec![("kind.kind", "forward"), ("unit", unit)]),
        ] {
            let res = self.act(cookie, csrf, case, action, &fields).await;
            assert_eq!(res.status, StatusCode::SEE_OTHER, "{action}: {}", res.body);
        }
    }

    async fn receipt(&self, case: &str) -> String {
        self.app
            .store()
            .case(&CaseId::new(case))
            .await
            .unwrap()
            .unwrap()
            .state
            .receipt
            .display()
    }

    /// A petitioner files through the portal's steps with one uploaded file; returns the case id.
    async fn portal_with_file(
        &self,
        name: &str,
        phone: &str,
        title: &str,
        text: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> String {
        let page = self.get("/submit", "").await;
        let draft = hidden(&page.body, "draft");
        let fields: Vec<(&str, &str)> = vec![
            ("draft", &draft),
            ("step", "files"),
            ("go", "upload"),
            ("identity", "named"),
            ("name", name),
            ("phone", phone),
            ("title", title),
            ("text", text),
            ("region", "440604"),
            ("ask", "请尽快修复路灯"),
        ];
        let boundary = "----huiyinStaffBoundary";
        let mut body = Vec::new();
        for (k, v) in &fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{file_name}\"\r\nContent-Type: text/html\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = Request::post("/submit")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        assert_eq!(self.app.draft_attachments(&draft).await.unwrap().len(), 1);
        let mut submit = fields.clone();
        submit.retain(|(k, _)| !matches!(*k, "step" | "go"));
        submit.extend_from_slice(&[("step", "review"), ("go", "submit")]);
        let res = self.post("/submit", "", &submit).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let code = res
            .body
            .split("id=\"receipt-code\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .replace('-', "");
        self.app
            .store()
            .case_by_receipt(&code)
            .await
            .unwrap()
            .unwrap()
            .0
            .to_string()
    }

    async fn act(
        &self,
        cookie: &str,
        csrf: &str,
        case: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Page {
        let page = self.get(&format!("/staff/cases/{case}"), cookie).await;
        let version = hidden(&page.body, "_version");
        let mut pairs = vec![
            ("_csrf", csrf),
            ("_action", action),
            ("_version", version.as_str()),
        ];
        pairs.extend_from_slice(fields);
        self.post(&format!("/staff/cases/{case}/act"), cookie, &pairs)
            .await
    }
}

#[tokio::test]
async fn sign_in_refuses_a_wrong_password_and_a_foreign_form() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    // Not signed in: the workbench sends to the sign-in form.
    let res = t.get("/staff", "").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(res.location.unwrap().starts_with("/staff/login?next="));
    let page = t.get("/staff/login", "").await;
    assert!(page.body.contains("工作人员登录"));
    assert!(page.body.contains("<label for=\"login-username\""));
    let pair = page.cookies[0].clone();
    let token = hidden(&page.body, "_csrf");
    // Wrong password: the form again, the username kept, a plain message.
    let res = t
        .post(
            "/staff/login",
            &pair,
            &[
                ("_csrf", &token),
                ("username", "dengji"),
                ("password", "wrong-password-1"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.body.contains("用户名、密码或动态口令不正确"));
    assert!(res.body.contains("value=\"dengji\""));
    // A form posted without the paired cookie (from another site) is refused.
    let res = t
        .post(
            "/staff/login",
            "",
            &[
                ("_csrf", &token),
                ("username", "dengji"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // Right: the session works, and a staff form without the session's token is refused.
    let (cookie, csrf) = t.login("dengji").await;
    let res = t.post("/staff/logout", &cookie, &[("_csrf", "nope")]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = t.post("/staff/logout", &cookie, &[("_csrf", &csrf)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(t.get("/staff", &cookie).await.status, StatusCode::SEE_OTHER);
    t.finish().await;
}

#[tokio::test]
async fn intake_redisplays_errors_and_the_inbox_filters_and_counts() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    let (cookie, csrf) = t.login("dengji").await;
    // Errors: next to the field, with what was entered.
    let res = t
        .post(
            "/staff/intake",
            &cookie,
            &[
                ("_csrf", &csrf),
                ("channel", "visit"),
                ("petitioner.name", "李四"),
                ("petitioner.phone", "12345"),
                ("title", "路灯不亮"),
                ("text", "短"),
                ("region", "440604"),
                ("is_group", "1"),
                ("group.headcount", "8"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains("value=\"李四\""));
    assert!(
        res.body.contains("id=\"in-petitioner-phone-error\""),
        "{}",
        res.body
    );
    assert!(res.body.contains("id=\"in-text-error\""));
    // Group visits: more than five representatives is impossible in the form; a headcount
    // that is not a number is refused next to the field.
    let res = t
        .post(
            "/staff/intake",
            &cookie,
            &[
                ("_csrf", &csrf),
                ("channel", "visit"),
                ("petitioner.anonymous", "1"),
                ("title", "集体反映拖欠工资"),
                ("text", "工厂已三个月未发工资，涉及工人四十余名。"),
                ("region", "440604"),
                ("is_group", "1"),
                ("group.headcount", "很多"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("id=\"in-group-headcount-error\""));
    let a = t.intake(&cookie, &csrf, "小区路灯不亮").await;
    let b = t.intake(&cookie, &csrf, "工地夜间施工噪音").await;
    // The same form key twice creates one petition.
    assert_eq!(t.intake(&cookie, &csrf, "小区路灯不亮").await, a);
    let inbox = t.get("/staff", &cookie).await;
    assert!(inbox.body.contains("小区路灯不亮") && inbox.body.contains("工地夜间施工噪音"));
    assert!(inbox.body.contains("绿灯·正常"), "a light with a word");
    assert!(inbox.body.contains("待登记 <b>2</b>"), "{}", inbox.body);
    assert!(inbox.body.contains("来访 <b>2</b>"));
    assert!(
        !inbox.body.contains("13912345678"),
        "phones are masked in lists"
    );
    assert!(inbox.body.contains("张*"), "masked names in lists");
    // Filters: by channel (none are letters), by light, and a bad value explained.
    let letters = t.get("/staff?channel=letter", &cookie).await;
    assert!(!letters.body.contains("小区路灯不亮"));
    let red = t.get("/staff?light=red", &cookie).await;
    assert!(!red.body.contains("小区路灯不亮"));
    let bad = t.get("/staff?light=purple&from=2025-13-01", &cookie).await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(bad.body.contains("purple") && bad.body.contains("2025-13-01"));
    // 16 days later the registration limit (15 days) has passed: red, and overdue.
    t.app.clock().set(t.app.now() + chrono::Duration::days(16));
    let (cookie, _) = t.login("dengji").await;
    let overdue = t.get("/staff?overdue=1", &cookie).await;
    assert!(overdue.body.contains("小区路灯不亮") && overdue.body.contains("红灯·超期"));
    let _ = b;
    t.finish().await;
}

#[tokio::test]
async fn a_case_goes_through_its_actions_by_form() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    t.user("zj-chengban", "4406-zj", "handler").await;
    t.user("rs-chengban", "4406-rs", "handler").await;
    t.user("zj-fuze", "4406-zj", "unit_head,handler").await;
    let (reg, reg_csrf) = t.login("dengji").await;
    let case = t.intake(&reg, &reg_csrf, "小区路灯不亮").await;
    let page = t.get(&format!("/staff/cases/{case}"), &reg).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("登记并分类"));
    assert!(
        !page.body.contains("name=\"_action\" value=\"accept\""),
        "the registrar cannot accept"
    );
    assert!(page.body.contains("张*"), "{}", page.body);
    assert!(!page.body.contains("13912345678"));
    // Register and classify.
    let res = t
        .act(
            &reg,
            &reg_csrf,
            &case,
            "register",
            &[
                ("class.class", "appeal"),
                ("class.route", "petition_procedure"),
                ("category", "城乡建设"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // Route without a unit: the form again with the message next to the field.
    let res = t
        .act(&reg, &reg_csrf, &case, "route", &[("kind.kind", "assign")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("id=\"act-unit-error\""), "{}", res.body);
    assert!(res.body.contains("id=\"act-route\" open"));
    // The unit picker finds the department by name.
    let found = t.get("/staff/units?unit_q=住建", &reg).await;
    assert!(found.body.contains("value=\"4406-zj\""), "{}", found.body);
    // 交办 with a deadline.
    let res = t
        .act(
            &reg,
            &reg_csrf,
            &case,
            "route",
            &[
                ("kind.kind", "assign"),
                ("kind.due_at", "2025-04-20"),
                ("unit_pick", "4406-zj"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // A stale version is a clear conflict.
    let res = t
        .post(
            &format!("/staff/cases/{case}/act"),
            &reg,
            &[
                ("_csrf", &reg_csrf),
                ("_action", "add_note"),
                ("_version", "1"),
                ("text", "已电话联系信访人"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.body.contains("刚被他人更新过"));
    // Another unit's handler does not even see the case.
    let (rs, _) = t.login("rs-chengban").await;
    assert_eq!(
        t.get(&format!("/staff/cases/{case}"), &rs).await.status,
        StatusCode::NOT_FOUND
    );
    // The unit's handler accepts and replies.
    let (zj, zj_csrf) = t.login("zj-chengban").await;
    let inbox = t.get("/staff", &zj).await;
    assert!(inbox.body.contains("小区路灯不亮"));
    let page = t.get(&format!("/staff/cases/{case}"), &zj).await;
    assert!(page.body.contains("name=\"_action\" value=\"accept\""));
    assert!(!page.body.contains("name=\"_action\" value=\"register\""));
    let res = t.act(&zj, &zj_csrf, &case, "accept", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // The opinion is signed by the unit head (the lifecycle says so; the page only asks).
    let page = t.get(&format!("/staff/cases/{case}"), &zj).await;
    assert!(!page.body.contains("name=\"_action\" value=\"reply\""));
    let (zj, zj_csrf) = t.login("zj-fuze").await;
    let opinion = [
        ("opinion.request", "请求修复小区路灯"),
        ("opinion.facts", "经现场核查，路灯线路老化导致不亮。"),
        ("opinion.reasons", "属于市政设施维护范围，应予修复。"),
        ("opinion.legal_basis", "《城市道路照明设施管理规定》"),
        ("opinion.decision", "support"),
    ];
    // Missing facts: refused next to the field, the rest kept.
    let mut partial = opinion.to_vec();
    partial.retain(|(k, _)| *k != "opinion.facts");
    let res = t.act(&zj, &zj_csrf, &case, "reply", &partial).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains("id=\"act-opinion-facts-error\""),
        "{}",
        &res.body[res.body.find("act-reply").unwrap_or(0)..]
    );
    assert!(res.body.contains("请求修复小区路灯"));
    let res = t.act(&zj, &zj_csrf, &case, "reply", &opinion).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = t.get(&format!("/staff/cases/{case}"), &zj).await;
    assert!(page.body.contains("出具处理意见书"));
    assert!(page.body.contains("/documents/opinion"));
    // The reply check stored with the opinion, on the page without anyone asking for it.
    assert!(page.body.contains("id=\"reply-checks\""), "{}", page.body);
    assert!(page.body.contains("class=\"reply-score\""));
    // The documents in the official layout.
    let doc = t
        .get(&format!("/staff/cases/{case}/documents/opinion"), &zj)
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body.contains("class=\"doc\"") && doc.body.contains("信访处理意见书"));
    assert!(doc.body.contains("佛山市住建局") && doc.body.contains("class=\"seal\""));
    assert!(doc.body.contains("print.css"));
    let doc = t
        .get(&format!("/staff/cases/{case}/documents/acceptance"), &zj)
        .await;
    assert!(doc.body.contains("受理告知书"));
    let none = t
        .get(&format!("/staff/cases/{case}/documents/rereview"), &zj)
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    // The completion report of a 交办, and the assigner checks it.
    let res = t
        .act(
            &zj,
            &zj_csrf,
            &case,
            "submit_completion_report",
            &[("report", "已修复路灯并书面答复信访人。")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let res = t.get(&format!("/staff/cases/{case}"), &reg).await;
    // the assigner sees the same stored check before approving the completion report
    assert!(res.body.contains("id=\"reply-checks\""), "{}", res.body);
    assert!(res.body.contains("信访处理意见书"));
    let res = t
        .act(
            &reg,
            &reg_csrf,
            &case,
            "check_completion_report",
            &[("approve", "true"), ("reason", "办结报告符合要求")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // A rating recorded for the visiting petitioner.
    let res = t
        .act(
            &reg,
            &reg_csrf,
            &case,
            "rate",
            &[("bureau", "satisfied"), ("unit", "basically_satisfied")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // The unmasked read, behind its button; audited.
    let res = t
        .post(
            &format!("/staff/cases/{case}/personal"),
            &reg,
            &[("_csrf", &reg_csrf)],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("13912345678"));
    // English works on the same page.
    let en = t
        .get(
            &format!("/staff/cases/{case}"),
            &format!("{reg}; hy_prefs=en.0"),
        )
        .await;
    assert!(en.body.contains("<html lang=\"en\""));
    assert!(en.body.contains("What you can do now"));
    t.finish().await;
}

#[tokio::test]
async fn extension_objection_and_notes_by_form() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    t.user("zj-fuze", "4406-zj", "handler,unit_head").await;
    let (reg, reg_csrf) = t.login("dengji").await;
    let case = t.intake(&reg, &reg_csrf, "工地夜间施工噪音").await;
    for (action, fields) in [
        (
            "register",
            vec![
                ("class.class", "appeal"),
                ("class.route", "petition_procedure"),
            ],
        ),
        ("route", vec![("kind.kind", "forward"), ("unit", "4406-zj")]),
    ] {
        let res = t.act(&reg, &reg_csrf, &case, action, &fields).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{action}: {}", res.body);
    }
    let (zj, zj_csrf) = t.login("zj-fuze").await;
    assert_eq!(
        t.act(&zj, &zj_csrf, &case, "accept", &[]).await.status,
        StatusCode::SEE_OTHER
    );
    // A number that is not a number.
    let res = t
        .act(
            &zj,
            &zj_csrf,
            &case,
            "request_extension",
            &[("days", "三十"), ("reason", "需要委托检测")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("id=\"act-days-error\""));
    let res = t
        .act(
            &zj,
            &zj_csrf,
            &case,
            "request_extension",
            &[("days", "30"), ("reason", "需要委托第三方检测")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let res = t
        .act(
            &zj,
            &zj_csrf,
            &case,
            "decide_extension",
            &[("approve", "true"), ("reason", "同意延期")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let res = t
        .act(
            &zj,
            &zj_csrf,
            &case,
            "add_note",
            &[("text", "已约谈施工单位")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = t.get(&format!("/staff/cases/{case}"), &zj).await;
    assert!(page.body.contains("已约谈施工单位") && page.body.contains("批准延期"));
    // A second extension is not offered.
    assert!(
        !page
            .body
            .contains("name=\"_action\" value=\"request_extension\"")
    );
    t.finish().await;
}

const LETTER: &str = "我家住在祖庙街道幸福小区3栋，小区路灯已经坏了一个多月，晚上出行非常不便，老人孩子多次摔倒，业主多次向物业公司和街道反映无人处理，请有关部门尽快督促修复。";

#[tokio::test]
async fn the_case_page_shows_related_cases_within_scope() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    t.user("zj-chengban", "4406-zj", "handler").await;
    let (reg, reg_csrf) = t.login("dengji").await;
    // The same petitioner three times with the same letter; the first two go to 住建, the
    // third to 人社.
    let a = t.intake_text(&reg, &reg_csrf, "小区路灯不亮", LETTER).await;
    let b = t
        .intake_text(&reg, &reg_csrf, "小区路灯不亮（再次反映）", LETTER)
        .await;
    let c = t
        .intake_text(&reg, &reg_csrf, "小区路灯不亮（第三次）", LETTER)
        .await;
    t.register_and_route(&reg, &reg_csrf, &a, "4406-zj").await;
    t.register_and_route(&reg, &reg_csrf, &b, "4406-zj").await;
    t.register_and_route(&reg, &reg_csrf, &c, "4406-rs").await;
    let (b_receipt, c_receipt) = (t.receipt(&b).await, t.receipt(&c).await);

    // The registrar sees both repeats, each with its receipt, stage, unit and a link.
    let page = t.get(&format!("/staff/cases/{a}"), &reg).await;
    assert_eq!(page.status, StatusCode::OK);
    let panel = page.body.split("id=\"h-related\"").nth(1).unwrap();
    let panel = panel.split("</section>").next().unwrap();
    assert!(panel.contains("相关案件"));
    assert!(panel.contains("重复信访"), "{panel}");
    assert!(
        panel.contains(&b_receipt) && panel.contains(&c_receipt),
        "{panel}"
    );
    assert!(
        panel.contains(&format!("href=\"/staff/cases/{b}\"")),
        "{panel}"
    );
    assert!(
        panel.contains("待受理") && panel.contains("佛山市信访局"),
        "{panel}"
    );

    // 住建's handler sees the repeat sent to it, and nothing of the one sent to 人社.
    let (zj, zj_csrf) = t.login("zj-chengban").await;
    let page = t.get(&format!("/staff/cases/{a}"), &zj).await;
    assert_eq!(page.status, StatusCode::OK);
    let panel = page.body.split("id=\"h-related\"").nth(1).unwrap();
    let panel = panel.split("</section>").next().unwrap();
    assert!(panel.contains(&b_receipt), "{panel}");
    assert!(panel.contains("重复信访"), "{panel}");
    assert!(!page.body.contains(&c_receipt), "out of scope: {panel}");
    assert!(!page.body.contains(&c), "out of scope: {panel}");
    assert!(!page.body.contains("第三次"), "out of scope: {panel}");
    // The link is offered prefilled for the related case; recorded, the panel says so.
    assert!(
        panel.contains(&format!("name=\"to\" value=\"{b}\"")),
        "{panel}"
    );
    assert!(
        panel.contains("<option value=\"repeat\" selected>"),
        "{panel}"
    );
    let version = hidden(&page.body, "_version");
    let res = t
        .post(
            &format!("/staff/cases/{a}/act"),
            &zj,
            &[
                ("_csrf", &zj_csrf),
                ("_action", "link"),
                ("_version", &version),
                ("to", &b),
                ("relation", "repeat"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = t.get(&format!("/staff/cases/{a}"), &zj).await;
    let panel = page.body.split("id=\"h-related\"").nth(1).unwrap();
    let panel = panel.split("</section>").next().unwrap();
    assert!(
        panel.contains("已关联") && panel.contains(&b_receipt),
        "{panel}"
    );
    assert!(
        !panel.contains(&format!("name=\"to\" value=\"{b}\"")),
        "{panel}"
    );
    assert!(!page.body.contains(&c_receipt));
    // English labels come from the catalogue too.
    let en = t
        .get(
            &format!("/staff/cases/{a}"),
            &format!("{zj}; hy_prefs=en.0"),
        )
        .await;
    assert!(en.body.contains("Related cases"), "{}", en.body);
    t.finish().await;
}

#[tokio::test]
async fn attachments_are_listed_and_downloaded_in_scope_and_audited() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    t.user("zj-chengban", "4406-zj", "handler").await;
    t.user("rs-chengban", "4406-rs", "handler").await;
    // A petitioner uploads a photo through the portal's steps and submits.
    let jpeg: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00photo of the lamp";
    let case = t
        .portal_with_file(
            "张三",
            "13912345678",
            "小区路灯不亮",
            "小区路灯已经坏了一个月，晚上出行不便。",
            "路灯 照片.jpg",
            jpeg,
        )
        .await;
    let (reg, reg_csrf) = t.login("dengji").await;
    t.register_and_route(&reg, &reg_csrf, &case, "4406-zj")
        .await;

    // The handling unit's user sees it listed and downloads the same bytes, never inline.
    let (zj, _) = t.login("zj-chengban").await;
    let page = t.get(&format!("/staff/cases/{case}"), &zj).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("路灯 照片.jpg"), "{}", page.body);
    assert!(page.body.contains("image/jpeg"));
    let href = format!("/staff/cases/{case}/attachments/1");
    assert!(page.body.contains(&format!("href=\"{href}\"")));
    let (status, headers, bytes) = t.raw_get(&href, &zj).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, jpeg);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename*=UTF-8''%E8%B7%AF%E7%81%AF%20%E7%85%A7%E7%89%87.jpg"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    // No such attachment, and a malformed number.
    let (status, _, _) = t
        .raw_get(&format!("/staff/cases/{case}/attachments/2"), &zj)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = t
        .raw_get(&format!("/staff/cases/{case}/attachments/x"), &zj)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Another unit's user gets nothing, and neither does someone not signed in.
    let (rs, _) = t.login("rs-chengban").await;
    let (status, _, bytes) = t.raw_get(&href, &rs).await;
    assert!(
        matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
        "{status}"
    );
    assert!(!bytes.windows(5).any(|w| w == b"photo"));
    let (status, _, bytes) = t.raw_get(&href, "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(bytes.is_empty() || !bytes.windows(5).any(|w| w == b"photo"));

    // A 检举控告 against 住建 handled by 住建 itself: its attachments may identify the person
    // reporting, so 住建 gets neither the list nor the file; the bureau's registrar does.
    let pdf: &[u8] = b"%PDF-1.4\n evidence of the accused";
    let acc = t
        .portal_with_file(
            "李四",
            "13800002222",
            "检举住建局工作人员索要好处费",
            "住建局某工作人员在办理审批时多次索要好处费，附上转账记录，请依法查处。",
            "转账记录.pdf",
            pdf,
        )
        .await;
    for (action, fields) in [
        (
            "register",
            vec![("class.class", "accusation"), ("accused", "4406-zj")],
        ),
        ("route", vec![("kind.kind", "forward"), ("unit", "4406-zj")]),
    ] {
        let res = t.act(&reg, &reg_csrf, &acc, action, &fields).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{action}: {}", res.body);
    }
    let acc_href = format!("/staff/cases/{acc}/attachments/1");
    let page = t.get(&format!("/staff/cases/{acc}"), &zj).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("转账记录.pdf"), "{}", page.body);
    assert!(!page.body.contains(&acc_href));
    assert!(page.body.contains("附件可能暴露检举控告人的身份"));
    let (status, _, bytes) = t.raw_get(&acc_href, &zj).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!bytes.windows(8).any(|w| w == b"evidence"));
    let page = t.get(&format!("/staff/cases/{acc}"), &reg).await;
    assert!(page.body.contains("转账记录.pdf"), "{}", page.body);
    let (status, headers, bytes) = t.raw_get(&acc_href, &reg).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, pdf);
    assert_eq!(headers["content-type"], "application/pdf");
    let audit = t
        .app
        .store()
        .audit_entries(Some(&acc), None, 100)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.entry.action == "read_attachment_refused"
                && r.entry.detail.contains("personal_data_protected")),
        "{audit:?}"
    );
    assert!(
        audit.iter().any(|r| r.entry.action == "read_attachment"
            && r.entry.actor_unit.as_deref() == Some("4406-xfj")
            && r.entry.detail.contains("\"protected\":true")),
        "{audit:?}"
    );

    // The read and the refused attempt are in the audit trail.
    let audit = t
        .app
        .store()
        .audit_entries(Some(&case), None, 100)
        .await
        .unwrap();
    assert!(
        audit.iter().any(|r| r.entry.action == "read_attachment"
            && r.entry.actor_unit.as_deref() == Some("4406-zj")),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|r| r.entry.action == "read_attachment_refused"
                && r.entry.actor_unit.as_deref() == Some("4406-rs")),
        "{audit:?}"
    );
    t.finish().await;
}
