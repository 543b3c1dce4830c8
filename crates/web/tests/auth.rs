//! Authentication end to end through the real router on a fresh database per test (SQLite, or
//! PostgreSQL when HUIYIN_TEST_DATABASE_URL is set): login, session fixation, CSRF, lockout,
//! timeouts, password policy, TOTP, the unit switcher, token scopes, petitioner phone
//! verification and the signed HTTP SMS adapter. Time moves with the manual clock; no sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::{Duration, TimeZone, Utc};
use http_body_util::BodyExt;
use huiyin_app::auth::totp;
use huiyin_app::sms::{SendFuture, SmsError, SmsGateway};
use huiyin_app::{App, Clock, Config};
use huiyin_domain::case::Role;
use huiyin_store::UnitRecord;
use huiyin_store::testing::{TestDb, fresh};
use huiyin_web::ratelimit::Limit;
use huiyin_web::{WebConfig, router};
use serde_json::{Value, json};
use tower::ServiceExt;

const PASSWORD: &str = "Correct-Horse-7";

/// Captures SMS instead of sending them.
#[derive(Default, Clone)]
struct CapturedSms(Arc<Mutex<Vec<(String, String)>>>);

impl SmsGateway for CapturedSms {
    fn send<'a>(&'a self, phone: &'a str, text: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            self.0
                .lock()
                .unwrap()
                .push((phone.to_string(), text.to_string()));
            Ok::<(), SmsError>(())
        })
    }
}

impl CapturedSms {
    /// The 6-digit code of the last message to `phone`.
    fn last_code(&self, phone: &str) -> String {
        let sent = self.0.lock().unwrap();
        let (_, text) = sent.iter().rev().find(|(p, _)| p == phone).expect("an SMS");
        let digits: String = text
            .split("验证码是")
            .nth(1)
            .unwrap()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        assert_eq!(digits.len(), 6, "{text}");
        digits
    }
}

struct TestApp {
    router: Router,
    app: App,
    sms: CapturedSms,
    db: Option<TestDb>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    /// `name=value` of the Set-Cookie for `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookie(name)
            .map(|c| c.split(';').next().unwrap().to_string())
    }

    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// How a request authenticates.
#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Cookie(&'a str),
    CookieCsrf(&'a str, &'a str),
    Bearer(&'a str),
}

impl TestApp {
    async fn start() -> TestApp {
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
        let sms = CapturedSms::default();
        let start = Utc.with_ymd_and_hms(2025, 3, 12, 2, 0, 0).unwrap();
        let app = App::new(
            store,
            Config {
                clock: Clock::manual(start),
                sms: Arc::new(sms.clone()),
                ..Config::default()
            },
        );
        let router = router(
            app.clone(),
            WebConfig {
                public_limit: Limit {
                    burst: 1000.0,
                    per_second: 1000.0,
                },
            },
        );
        TestApp {
            router,
            app,
            sms,
            db: Some(db),
        }
    }

    async fn finish(mut self) {
        if let Some(db) = self.db.take() {
            db.cleanup().await.unwrap();
        }
    }

    fn advance(&self, d: Duration) {
        let now = self.app.now();
        self.app.clock().set(now + d);
    }

    async fn user(&self, username: &str, unit: &str, roles: &str) -> String {
        self.app
            .add_user(
                username,
                "测试用户",
                unit,
                &[roles.to_string()],
                Some(PASSWORD),
            )
            .await
            .unwrap()
            .user
            .id
    }

    async fn request(
        &self,
        method: &str,
        uri: &str,
        auth: Auth<'_>,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        match auth {
            Auth::None => {}
            Auth::Cookie(c) => req = req.header("cookie", c),
            Auth::CookieCsrf(c, t) => req = req.header("cookie", c).header("x-csrf-token", t),
            Auth::Bearer(t) => req = req.header("authorization", format!("Bearer {t}")),
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
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
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn login_with(&self, username: &str, password: &str, prior: Option<&str>) -> Reply {
        let auth = prior.map_or(Auth::None, Auth::Cookie);
        self.request(
            "POST",
            "/api/v1/auth/login",
            auth,
            Some(json!({"username": username, "password": password})),
            &[],
        )
        .await
    }

    /// Logs in and returns (cookie, csrf token).
    async fn login(&self, username: &str) -> (String, String) {
        let r = self.login_with(username, PASSWORD, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        (
            r.cookie("huiyin_session").unwrap(),
            r.body["csrf_token"].as_str().unwrap().to_string(),
        )
    }

    async fn me(&self, cookie: &str) -> Reply {
        self.request("GET", "/api/v1/me", Auth::Cookie(cookie), None, &[])
            .await
    }
}

fn letter() -> Value {
    json!({
        "channel": "letter",
        "petitioner": {"name": "李四", "phone": "13700001111"},
        "title": "拖欠工资问题",
        "text": "某公司拖欠工人工资三个月，多次讨要未果，请求督促支付。",
        "region": "440604",
        "category": "劳动社保"
    })
}

fn online(phone: &str, title: &str) -> Value {
    json!({
        "channel": "mobile_web",
        "petitioner": {"name": "张三", "phone": phone},
        "title": title,
        "text": "小区物业公司今年起每月多收公摊电费，业主多次询问未获解释，请求核查。",
        "region": "440604",
        "category": "城乡建设"
    })
}

#[tokio::test]
async fn login_sets_a_session_cookie_and_failures_say_nothing_more() {
    let t = TestApp::start().await;
    let id = t.user("zhang.san", "4406-zj", "handler").await;

    let r = t.login_with("Zhang.San", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let set = r.set_cookie("huiyin_session").unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"));
    assert!(!set.contains("Secure"), "plain http in development: {set}");
    assert_eq!(r.body["user"]["username"], "zhang.san");
    assert_eq!(r.body["active_unit"], "4406-zj");
    assert_eq!(r.body["mfa_required"], false);
    assert_eq!(r.body["csrf_token"].as_str().unwrap().len(), 64);
    let cookie = r.cookie("huiyin_session").unwrap();
    assert_eq!(cookie.len(), "huiyin_session=".len() + 64, "256-bit id");

    let me = t.me(&cookie).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["id"], format!("user:{id}"));
    assert_eq!(me.body["unit"], "4406-zj");
    assert_eq!(me.body["roles"], json!(["handler"]));
    let session = t
        .request(
            "GET",
            "/api/v1/auth/session",
            Auth::Cookie(&cookie),
            None,
            &[],
        )
        .await;
    assert_eq!(session.status, StatusCode::OK);
    assert_eq!(session.body["csrf_token"], r.body["csrf_token"]);

    let wrong = t.login_with("zhang.san", "Wrong-Horse-77", None).await;
    let unknown = t.login_with("nobody", PASSWORD, None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.code(), "login_failed");
    assert_eq!(
        wrong.body, unknown.body,
        "unknown users look like wrong passwords"
    );
    assert!(wrong.set_cookie("huiyin_session").is_none());
    // Every outcome is in the audit trail.
    let audit = t.app.store().audit_entries(None, None, 100).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.entry.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["login_failed", "login_failed", "login_success"]
    );
    assert_eq!(audit[1].entry.actor, "login:zhang.san");

    // The API document lists the endpoints and the new error codes.
    let doc = t
        .request("GET", "/api/v1/openapi.json", Auth::None, None, &[])
        .await
        .body;
    assert!(doc["paths"]["/api/v1/auth/login"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/public/my-petitions"]["get"].is_object());
    let codes: Vec<&str> = doc["x-error-catalogue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    for code in [
        "csrf_failed",
        "locked",
        "mfa_required",
        "password_policy",
        "scope_missing",
    ] {
        assert!(codes.contains(&code), "{code}");
    }

    // Behind TLS: the __Host- name with Secure.
    let r = t
        .request(
            "POST",
            "/api/v1/auth/login",
            Auth::None,
            Some(json!({"username": "zhang.san", "password": PASSWORD})),
            &[("x-forwarded-proto", "https")],
        )
        .await;
    let set = r.set_cookie("__Host-huiyin_session").unwrap();
    assert!(set.contains("; Secure") && set.contains("Path=/") && !set.contains("Domain"));
    // A form post (not JSON) cannot log anyone in.
    let form = t
        .router
        .clone()
        .oneshot(
            Request::builder()
                .method("POST")
                .uri("/api/v1/auth/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "{{\"username\":\"zhang.san\",\"password\":\"{PASSWORD}\"}}"
                )))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::BAD_REQUEST);
    t.finish().await;
}

#[tokio::test]
async fn session_ids_are_never_promoted_and_change_at_login_and_unit_switch() {
    let t = TestApp::start().await;
    t.user("wang.wu", "4406-xfj", "registrar").await;
    t.app
        .grant("wang.wu", "4406-zj", &["handler".into()])
        .await
        .unwrap();

    // A cookie planted before login is not what the login answers with, and stays invalid.
    let planted = format!("huiyin_session={}", "a".repeat(64));
    let r = t.login_with("wang.wu", PASSWORD, Some(&planted)).await;
    let first = r.cookie("huiyin_session").unwrap();
    assert_ne!(first, planted);
    assert_eq!(t.me(&planted).await.status, StatusCode::UNAUTHORIZED);

    // Logging in again with a valid session: a new id, and the old one ends.
    let r = t.login_with("wang.wu", PASSWORD, Some(&first)).await;
    let second = r.cookie("huiyin_session").unwrap();
    let csrf = r.body["csrf_token"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(t.me(&first).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.me(&second).await.status, StatusCode::OK);

    // Switching the unit: a new id and CSRF token; the old id ends.
    let r = t
        .request(
            "POST",
            "/api/v1/auth/unit",
            Auth::CookieCsrf(&second, &csrf),
            Some(json!({"unit_id": "4406-zj"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let third = r.cookie("huiyin_session").unwrap();
    assert_ne!(third, second);
    assert_ne!(r.body["csrf_token"].as_str().unwrap(), csrf);
    assert_eq!(t.me(&second).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.me(&third).await.body["unit"], "4406-zj");
    t.finish().await;
}

#[tokio::test]
async fn cookie_requests_that_change_state_need_the_csrf_token() {
    let t = TestApp::start().await;
    t.user("li.reg", "4406-xfj", "registrar").await;
    let (cookie, csrf) = t.login("li.reg").await;

    let none = t
        .request(
            "POST",
            "/api/v1/cases",
            Auth::Cookie(&cookie),
            Some(letter()),
            &[],
        )
        .await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);
    assert_eq!(none.code(), "csrf_failed");
    let wrong = t
        .request(
            "POST",
            "/api/v1/cases",
            Auth::CookieCsrf(&cookie, &"0".repeat(64)),
            Some(letter()),
            &[],
        )
        .await;
    assert_eq!(wrong.code(), "csrf_failed");
    let ok = t
        .request(
            "POST",
            "/api/v1/cases",
            Auth::CookieCsrf(&cookie, &csrf),
            Some(letter()),
            &[],
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    // Reads need no token.
    let list = t
        .request(
            "GET",
            "/api/v1/cases?unit=4406-xfj",
            Auth::Cookie(&cookie),
            None,
            &[],
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);

    // Bearer tokens carry no ambient authority: exempt.
    let token = t
        .app
        .create_token("intake", Some("4406-xfj"), &[Role::Registrar], None)
        .await
        .unwrap();
    let bearer = t
        .request(
            "POST",
            "/api/v1/cases",
            Auth::Bearer(&token),
            Some(letter()),
            &[],
        )
        .await;
    assert_eq!(bearer.status, StatusCode::CREATED, "{}", bearer.body);

    // Logout is a change too.
    let r = t
        .request(
            "POST",
            "/api/v1/auth/logout",
            Auth::Cookie(&cookie),
            None,
            &[],
        )
        .await;
    assert_eq!(r.code(), "csrf_failed");
    let r = t
        .request(
            "POST",
            "/api/v1/auth/logout",
            Auth::CookieCsrf(&cookie, &csrf),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(
        r.set_cookie("huiyin_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(t.me(&cookie).await.status, StatusCode::UNAUTHORIZED);
    t.finish().await;
}

#[tokio::test]
async fn five_failures_lock_the_user_even_against_the_right_password() {
    let t = TestApp::start().await;
    t.user("zhao.liu", "4406-zj", "handler").await;
    for i in 0..4 {
        let r = t.login_with("zhao.liu", "Wrong-Horse-77", None).await;
        assert_eq!(r.code(), "login_failed", "attempt {i}");
    }
    let r = t.login_with("zhao.liu", "Wrong-Horse-77", None).await;
    assert_eq!(r.status, StatusCode::LOCKED);
    assert_eq!(r.code(), "locked");
    let r = t.login_with("zhao.liu", PASSWORD, None).await;
    assert_eq!(r.code(), "locked", "locked even with the right password");
    t.advance(Duration::minutes(14));
    assert_eq!(
        t.login_with("zhao.liu", PASSWORD, None).await.code(),
        "locked"
    );
    t.advance(Duration::minutes(2));
    let r = t.login_with("zhao.liu", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // An unknown username locks the same way, so a lock reveals nothing.
    for _ in 0..4 {
        assert_eq!(
            t.login_with("ghost", PASSWORD, None).await.code(),
            "login_failed"
        );
    }
    assert_eq!(t.login_with("ghost", PASSWORD, None).await.code(), "locked");
    t.finish().await;
}

#[tokio::test]
async fn sessions_end_when_idle_and_at_the_absolute_limit() {
    let t = TestApp::start().await;
    t.user("qian.qi", "4406-zj", "handler").await;
    let (cookie, _) = t.login("qian.qi").await;
    t.advance(Duration::minutes(29));
    assert_eq!(t.me(&cookie).await.status, StatusCode::OK);
    t.advance(Duration::minutes(29));
    assert_eq!(
        t.me(&cookie).await.status,
        StatusCode::OK,
        "use keeps it alive"
    );
    t.advance(Duration::minutes(31));
    assert_eq!(t.me(&cookie).await.status, StatusCode::UNAUTHORIZED, "idle");

    let (cookie, _) = t.login("qian.qi").await;
    // Busy all day: 11 h 50 min of use every 25 minutes, then past 12 h.
    for _ in 0..(11 * 60 + 50) / 25 {
        t.advance(Duration::minutes(25));
        assert_eq!(t.me(&cookie).await.status, StatusCode::OK);
    }
    t.advance(Duration::minutes(25));
    let r = t.me(&cookie).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "absolute limit");
    t.finish().await;
}

#[tokio::test]
async fn initial_passwords_must_be_changed_under_the_policy() {
    let t = TestApp::start().await;
    let created = t
        .app
        .add_user("sun.ba", "孙八", "4406-zj", &["handler".into()], None)
        .await
        .unwrap();
    let initial = created.generated_password.unwrap();
    assert!(created.user.must_change_password);
    let r = t.login_with("sun.ba", &initial, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["user"]["must_change_password"], true);
    let cookie = r.cookie("huiyin_session").unwrap();
    let csrf = r.body["csrf_token"].as_str().unwrap().to_string();
    let me = t.me(&cookie).await;
    assert_eq!(me.code(), "password_change_required");

    let change = |new: &'static str| {
        let (t, cookie, csrf, initial) = (&t, cookie.clone(), csrf.clone(), initial.clone());
        async move {
            t.request(
                "POST",
                "/api/v1/auth/password",
                Auth::CookieCsrf(&cookie, &csrf),
                Some(json!({"current_password": initial, "new_password": new})),
                &[],
            )
            .await
        }
    };
    let codes = |r: &Reply| -> Vec<String> {
        r.body["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    };
    let r = change("short1A").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "password_policy");
    assert_eq!(codes(&r), vec!["password_too_short"]);
    assert_eq!(
        codes(&change("alllowercaseletters").await),
        vec!["password_one_class"]
    );
    assert_eq!(
        codes(&change("sun.ba-2025-xyz").await),
        vec!["password_contains_username"]
    );
    assert_eq!(
        codes(&change("qwerty123456").await),
        vec!["password_common"]
    );
    let r = change("Spring-Rain-42").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(t.me(&cookie).await.status, StatusCode::OK);
    assert_eq!(
        t.login_with("sun.ba", &initial, None).await.code(),
        "login_failed"
    );
    assert_eq!(
        t.login_with("sun.ba", "Spring-Rain-42", None).await.status,
        StatusCode::OK
    );

    // A wrong current password is a field error (and counts as a failure).
    let (cookie, csrf) = t
        .login_with("sun.ba", "Spring-Rain-42", None)
        .await
        .body_pair();
    let r = t
        .request(
            "POST",
            "/api/v1/auth/password",
            Auth::CookieCsrf(&cookie, &csrf),
            Some(json!({"current_password": "Not-The-One-1", "new_password": "Autumn-Leaf-99"})),
            &[],
        )
        .await;
    assert_eq!(
        r.body["error"]["fields"][0]["code"],
        "current_password_wrong"
    );
    t.finish().await;
}

impl Reply {
    fn body_pair(&self) -> (String, String) {
        (
            self.cookie("huiyin_session").unwrap(),
            self.body["csrf_token"].as_str().unwrap().to_string(),
        )
    }
}

#[tokio::test]
async fn administrators_need_a_second_factor_and_codes_cannot_be_replayed() {
    let t = TestApp::start().await;
    t.user("admin.zhou", "4406-xfj", "administrator").await;
    let r = t.login_with("admin.zhou", PASSWORD, None).await;
    assert_eq!(r.body["mfa_required"], true);
    let (cookie, csrf) = r.body_pair();
    // Nothing but enrolment and verification.
    assert_eq!(t.me(&cookie).await.code(), "mfa_required");
    let units = t
        .request("GET", "/api/v1/units", Auth::Cookie(&cookie), None, &[])
        .await;
    assert_eq!(units.code(), "mfa_required");

    let enrol = t
        .request(
            "POST",
            "/api/v1/auth/totp/enrol",
            Auth::CookieCsrf(&cookie, &csrf),
            None,
            &[],
        )
        .await;
    assert_eq!(enrol.status, StatusCode::OK, "{}", enrol.body);
    let uri = enrol.body["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Huiyin:admin.zhou?secret="),
        "{uri}"
    );
    assert!(uri.contains("digits=6") && uri.contains("period=30") && uri.contains("SHA1"));
    let key = totp::base32_decode(enrol.body["secret"].as_str().unwrap()).unwrap();
    let code_now = || totp::code_at(&key, totp::step_of(t.app.now().timestamp()));

    let verify = |cookie: String, csrf: String, code: String| {
        let t = &t;
        async move {
            t.request(
                "POST",
                "/api/v1/auth/totp/verify",
                Auth::CookieCsrf(&cookie, &csrf),
                Some(json!({"code": code})),
                &[],
            )
            .await
        }
    };
    // A code that matches no step of the drift window.
    let now_step = totp::step_of(t.app.now().timestamp());
    let wrong = (0..10)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|c| (now_step - 1..=now_step + 1).all(|s| totp::code_at(&key, s) != *c))
        .unwrap();
    let bad = verify(cookie.clone(), csrf.clone(), wrong).await;
    assert_eq!(bad.code(), "totp_invalid");
    let code = code_now();
    let ok = verify(cookie.clone(), csrf.clone(), code.clone()).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["mfa_required"], false);
    assert_eq!(ok.body["user"]["totp_enrolled"], true);
    assert_eq!(t.me(&cookie).await.status, StatusCode::OK);

    // A new session: the same code again (still within its window) is refused.
    let (cookie2, csrf2) = t.login_with("admin.zhou", PASSWORD, None).await.body_pair();
    assert_eq!(t.me(&cookie2).await.code(), "mfa_required");
    let replay = verify(cookie2.clone(), csrf2.clone(), code.clone()).await;
    assert_eq!(
        replay.code(),
        "totp_invalid",
        "replayed code: {}",
        replay.body
    );
    // A session that has not passed the factor cannot swap in a new authenticator.
    let re_enrol = t
        .request(
            "POST",
            "/api/v1/auth/totp/enrol",
            Auth::CookieCsrf(&cookie2, &csrf2),
            None,
            &[],
        )
        .await;
    assert_eq!(re_enrol.code(), "mfa_required");
    t.advance(Duration::seconds(30));
    let next = verify(cookie2.clone(), csrf2, code_now()).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    assert_eq!(t.me(&cookie2).await.status, StatusCode::OK);

    // The code can also come with the login.
    t.advance(Duration::seconds(30));
    let r = t
        .request(
            "POST",
            "/api/v1/auth/login",
            Auth::None,
            Some(json!({"username": "admin.zhou", "password": PASSWORD, "totp": code_now()})),
            &[],
        )
        .await;
    assert_eq!(r.body["mfa_required"], false, "{}", r.body);
    // …but not the same code twice.
    let r = t
        .request(
            "POST",
            "/api/v1/auth/login",
            Auth::None,
            Some(json!({"username": "admin.zhou", "password": PASSWORD, "totp": code_now()})),
            &[],
        )
        .await;
    assert_eq!(r.code(), "login_failed");

    // Others need no second factor.
    t.user("hu.handler", "4406-zj", "handler").await;
    let r = t.login_with("hu.handler", PASSWORD, None).await;
    assert_eq!(r.body["mfa_required"], false);
    t.finish().await;
}

#[tokio::test]
async fn the_unit_switcher_changes_what_the_actor_may_do() {
    let t = TestApp::start().await;
    t.user("chen.two", "4406-xfj", "registrar").await;
    t.app
        .grant("chen.two", "4406-zj", &["handler".into()])
        .await
        .unwrap();
    let r = t.login_with("chen.two", PASSWORD, None).await;
    assert_eq!(r.body["units"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["active_unit"], "4406-xfj");
    let (cookie, csrf) = r.body_pair();
    let as_registrar = t
        .request(
            "POST",
            "/api/v1/cases",
            Auth::CookieCsrf(&cookie, &csrf),
            Some(letter()),
            &[],
        )
        .await;
    assert_eq!(
        as_registrar.status,
        StatusCode::CREATED,
        "{}",
        as_registrar.body
    );

    let r = t
        .request(
            "POST",
            "/api/v1/auth/unit",
            Auth::CookieCsrf(&cookie, &csrf),
            Some(json!({"unit_id": "4406-zj"})),
            &[],
        )
        .await;
    let (cookie, csrf) = r.body_pair();
    let me = t.me(&cookie).await;
    assert_eq!(me.body["unit"], "4406-zj");
    assert_eq!(me.body["roles"], json!(["handler"]));
    let as_handler = t
        .request(
            "POST",
            "/api/v1/cases",
            Auth::CookieCsrf(&cookie, &csrf),
            Some(letter()),
            &[],
        )
        .await;
    assert_eq!(
        as_handler.status,
        StatusCode::FORBIDDEN,
        "{}",
        as_handler.body
    );

    let r = t
        .request(
            "POST",
            "/api/v1/auth/unit",
            Auth::CookieCsrf(&cookie, &csrf),
            Some(json!({"unit_id": "4406-rs"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "not a member");
    // Revoking the membership takes effect on the next request.
    t.app.revoke("chen.two", "4406-zj", &[]).await.unwrap();
    let me = t.me(&cookie).await;
    assert_eq!(me.body["roles"], json!([]), "{}", me.body);
    assert_eq!(me.body["unit"], Value::Null);
    t.finish().await;
}

#[tokio::test]
async fn scoped_tokens_reach_only_their_scopes() {
    let t = TestApp::start().await;
    let reader = t
        .app
        .create_scoped_token(
            "dashboard",
            Some("4406-xfj"),
            &[Role::Registrar],
            None,
            &["cases:read".into()],
        )
        .await
        .unwrap();
    let r = t
        .request("GET", "/api/v1/cases", Auth::Bearer(&reader), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = t
        .request(
            "POST",
            "/api/v1/cases",
            Auth::Bearer(&reader),
            Some(letter()),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "scope_missing");
    let r = t
        .request("GET", "/api/v1/units", Auth::Bearer(&reader), None, &[])
        .await;
    assert_eq!(r.code(), "scope_missing");
    // Tokens without scopes keep working as before.
    let full = t
        .app
        .create_token("intake", Some("4406-xfj"), &[Role::Registrar], None)
        .await
        .unwrap();
    let r = t
        .request(
            "POST",
            "/api/v1/cases",
            Auth::Bearer(&full),
            Some(letter()),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(
        t.app
            .create_scoped_token("x", None, &[Role::Analyst], None, &["everything".into()])
            .await
            .is_err()
    );
    t.finish().await;
}

#[tokio::test]
async fn a_verified_phone_lists_only_its_own_petitions() {
    let t = TestApp::start().await;
    let mut mine = Vec::new();
    for title in ["物业收费问题", "噪音扰民问题"] {
        let r = t
            .request(
                "POST",
                "/api/v1/petitions",
                Auth::None,
                Some(online("13912345678", title)),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        mine.push(r.body["receipt_code"].as_str().unwrap().to_string());
    }
    let other = t
        .request(
            "POST",
            "/api/v1/petitions",
            Auth::None,
            Some(online("13800001234", "道路破损问题")),
            &[],
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED);

    let start = t
        .request(
            "POST",
            "/api/v1/public/phone/start",
            Auth::None,
            Some(json!({"phone": "139 1234 5678"})),
            &[],
        )
        .await;
    assert_eq!(start.status, StatusCode::ACCEPTED, "{}", start.body);
    assert_eq!(start.body["phone_masked"], "139****5678");
    let code = t.sms.last_code("13912345678");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = t
        .request(
            "POST",
            "/api/v1/public/phone/verify",
            Auth::None,
            Some(json!({"phone": "13912345678", "code": wrong})),
            &[],
        )
        .await;
    assert_eq!(r.code(), "code_invalid");
    let r = t
        .request(
            "POST",
            "/api/v1/public/phone/verify",
            Auth::None,
            Some(json!({"phone": "13912345678", "code": code})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let cookie = r.cookie("huiyin_petitioner").unwrap();
    // The code is single-use.
    let again = t
        .request(
            "POST",
            "/api/v1/public/phone/verify",
            Auth::None,
            Some(json!({"phone": "13912345678", "code": code})),
            &[],
        )
        .await;
    assert_eq!(again.code(), "code_invalid");

    let list = t
        .request(
            "GET",
            "/api/v1/public/my-petitions",
            Auth::Cookie(&cookie),
            None,
            &[],
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let mut got: Vec<String> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["receipt"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    mine.sort();
    assert_eq!(got, mine);
    // A petitioner cookie is not a staff session, and no cookie lists nothing.
    let staff_try = t
        .me(&cookie.replace("huiyin_petitioner", "huiyin_session"))
        .await;
    assert_eq!(staff_try.status, StatusCode::UNAUTHORIZED);
    let none = t
        .request("GET", "/api/v1/public/my-petitions", Auth::None, None, &[])
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);

    // Five wrong codes void the code; expired codes fail.
    t.request(
        "POST",
        "/api/v1/public/phone/start",
        Auth::None,
        Some(json!({"phone": "13800001234"})),
        &[],
    )
    .await;
    let code = t.sms.last_code("13800001234");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for i in 0..4 {
        let r = t
            .request(
                "POST",
                "/api/v1/public/phone/verify",
                Auth::None,
                Some(json!({"phone": "13800001234", "code": wrong})),
                &[],
            )
            .await;
        assert_eq!(r.code(), "code_invalid", "attempt {i}");
    }
    let r = t
        .request(
            "POST",
            "/api/v1/public/phone/verify",
            Auth::None,
            Some(json!({"phone": "13800001234", "code": wrong})),
            &[],
        )
        .await;
    assert_eq!(r.code(), "code_attempts_exceeded");
    let r = t
        .request(
            "POST",
            "/api/v1/public/phone/verify",
            Auth::None,
            Some(json!({"phone": "13800001234", "code": code})),
            &[],
        )
        .await;
    assert_eq!(r.code(), "code_invalid", "void after too many attempts");
    t.request(
        "POST",
        "/api/v1/public/phone/start",
        Auth::None,
        Some(json!({"phone": "13800001234"})),
        &[],
    )
    .await;
    let code = t.sms.last_code("13800001234");
    t.advance(Duration::minutes(6));
    let r = t
        .request(
            "POST",
            "/api/v1/public/phone/verify",
            Auth::None,
            Some(json!({"phone": "13800001234", "code": code})),
            &[],
        )
        .await;
    assert_eq!(r.code(), "code_invalid", "expired");

    // Landlines cannot receive codes; too many codes per phone are refused.
    let r = t
        .request(
            "POST",
            "/api/v1/public/phone/start",
            Auth::None,
            Some(json!({"phone": "0571-88888888"})),
            &[],
        )
        .await;
    assert_eq!(r.body["error"]["fields"][0]["code"], "phone_not_mobile");
    let mut last = StatusCode::ACCEPTED;
    for _ in 0..5 {
        last = t
            .request(
                "POST",
                "/api/v1/public/phone/start",
                Auth::None,
                Some(json!({"phone": "13700009999"})),
                &[],
            )
            .await
            .status;
    }
    assert_eq!(last, StatusCode::ACCEPTED);
    let r = t
        .request(
            "POST",
            "/api/v1/public/phone/start",
            Auth::None,
            Some(json!({"phone": "13700009999"})),
            &[],
        )
        .await;
    assert_eq!(r.code(), "rate_limited");
    t.finish().await;
}

#[tokio::test]
async fn the_http_sms_adapter_signs_its_requests() {
    use axum::extract::State;
    use axum::routing::post;
    type Seen = Arc<Mutex<Vec<(bool, Value)>>>;
    const SECRET: &[u8] = b"gateway-shared-secret-0123";

    async fn receive(
        State(seen): State<Seen>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> StatusCode {
        let ts: i64 = headers[huiyin_app::sms::TIMESTAMP_HEADER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let sig = headers[huiyin_app::sms::SIGNATURE_HEADER].to_str().unwrap();
        let valid = huiyin_app::sms::verify_signature(SECRET, ts, &body, sig);
        let json: Value = serde_json::from_slice(&body).unwrap();
        let refuse = json["phone"] == "13000000000";
        seen.lock().unwrap().push((valid, json));
        if !valid {
            StatusCode::UNAUTHORIZED
        } else if refuse {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        }
    }

    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/sms", post(receive))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let url = format!("http://{addr}/sms");
    let sender = huiyin_app::sms::HttpSms::new(&url, SECRET).unwrap();
    sender
        .send("13912345678", "【回音】您的验证码是123456")
        .await
        .unwrap();
    let refused = sender.send("13000000000", "x").await;
    assert!(matches!(refused, Err(SmsError::Refused(_))), "{refused:?}");
    let forged = huiyin_app::sms::HttpSms::new(&url, b"not-the-shared-secret").unwrap();
    assert!(forged.send("13912345678", "x").await.is_err());

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(seen[0].0, "signature verifies with the shared secret");
    assert_eq!(seen[0].1["phone"], "13912345678");
    assert_eq!(seen[0].1["text"], "【回音】您的验证码是123456");
    assert!(!seen[2].0, "a different secret does not verify");
    server.abort();
}

#[tokio::test]
async fn administrators_can_disable_users_and_lift_a_lockout() {
    let t = TestApp::start().await;
    t.user("ma.jiu", "4406-zj", "handler").await;
    let (cookie, _) = t.login("ma.jiu").await;
    t.app.set_user_disabled("ma.jiu", true).await.unwrap();
    assert_eq!(
        t.me(&cookie).await.status,
        StatusCode::UNAUTHORIZED,
        "sessions end"
    );
    let r = t.login_with("ma.jiu", PASSWORD, None).await;
    assert_eq!(
        r.code(),
        "login_failed",
        "a disabled user looks like a wrong password"
    );
    t.app.set_user_disabled("ma.jiu", false).await.unwrap();
    let (cookie, _) = t.login("ma.jiu").await;

    for _ in 0..5 {
        t.login_with("ma.jiu", "Wrong-Horse-77", None).await;
    }
    assert_eq!(
        t.login_with("ma.jiu", PASSWORD, None).await.code(),
        "locked"
    );
    assert_eq!(
        t.me(&cookie).await.status,
        StatusCode::UNAUTHORIZED,
        "a lock ends sessions"
    );
    let generated = t
        .app
        .reset_password("ma.jiu", None, false)
        .await
        .unwrap()
        .unwrap();
    let r = t.login_with("ma.jiu", &generated, None).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a reset lifts the lock: {}",
        r.body
    );
    assert_eq!(r.body["user"]["must_change_password"], true);
    assert!(t.app.reset_password("nobody", None, false).await.is_err());
    t.finish().await;
}
