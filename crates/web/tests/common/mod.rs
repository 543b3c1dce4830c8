//! The harness the web tests share: the real router on a fresh database (SQLite, or
//! PostgreSQL when HUIYIN_TEST_DATABASE_URL is set) with a manual clock, a few units of 佛山
//! and helpers that drive the pages as a browser would (forms, cookies, CSRF tokens).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use huiyin_app::{App, Clock, Config};
use huiyin_store::UnitRecord;
use huiyin_store::testing::{TestDb, fresh};
use huiyin_web::{WebConfig, router};
use tower::ServiceExt;

pub const PASSWORD: &str = "Correct-Horse-7";
/// The authenticator key of administrators made by [`T::admin`].
pub const TOTP_SECRET: &[u8] = b"web-tests-totp-key!!";

pub struct T {
    pub router: Router,
    pub app: App,
    pub db: Option<TestDb>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub cookies: Vec<String>,
    pub body: String,
}

pub fn enc(s: &str) -> String {
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

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The part of a page holding one list (`<section id="…">` up to its end).
pub fn section<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no list {id} in page"));
    let rest = &page[start..];
    &rest[..rest.find("</section>").unwrap()]
}

/// The value of the first hidden input `name` in a page.
pub fn hidden(body: &str, name: &str) -> String {
    let pat = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&pat)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + pat.len();
    body[start..].split('"').next().unwrap().to_string()
}

impl T {
    pub async fn start() -> T {
        T::start_with(|_| {}).await
    }

    /// [`T::start`] with changed settings.
    pub async fn start_with(change: impl FnOnce(&mut Config)) -> T {
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
        let mut config = Config {
            clock: Clock::manual(start),
            ..Config::default()
        };
        change(&mut config);
        let app = App::new(store, config);
        let router = router(app.clone(), WebConfig::default());
        T {
            router,
            app,
            db: Some(db),
        }
    }

    pub async fn finish(mut self) {
        if let Some(db) = self.db.take() {
            db.cleanup().await.unwrap();
        }
    }

    pub async fn user(&self, username: &str, unit: &str, roles: &str) {
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

    /// Adds a unit to the organisation tree.
    pub async fn unit(&self, id: &str, name: &str, kind: &str, region: &str, parent: &str) {
        self.app
            .store()
            .insert_unit(&UnitRecord {
                id: id.into(),
                name: name.into(),
                kind: kind.into(),
                region_code: region.into(),
                parent_id: Some(parent.to_string()),
            })
            .await
            .unwrap();
    }

    /// Adds a user with a display name; returns the actor id (`user:…`).
    pub async fn named_user(&self, username: &str, name: &str, unit: &str, roles: &str) -> String {
        let created = self
            .app
            .add_user(username, name, unit, &[roles.to_string()], Some(PASSWORD))
            .await
            .unwrap();
        format!("user:{}", created.user.id)
    }

    pub async fn send(&self, method: &str, uri: &str, cookie: &str, body: Option<String>) -> Page {
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

    pub async fn get(&self, uri: &str, cookie: &str) -> Page {
        self.send("GET", uri, cookie, None).await
    }

    pub async fn post(&self, uri: &str, cookie: &str, pairs: &[(&str, &str)]) -> Page {
        self.send("POST", uri, cookie, Some(form(pairs))).await
    }

    /// Signs in through the form; returns the session cookie and the CSRF token.
    pub async fn login(&self, username: &str) -> (String, String) {
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
        // The second factor, for those who have one (administrators must).
        let totp_page = self.get("/staff/login/totp", &session).await;
        if totp_page.status == StatusCode::OK && totp_page.body.contains("name=\"code\"") {
            use huiyin_app::auth::totp;
            let csrf = hidden(&totp_page.body, "_csrf");
            let code = totp::code_at(TOTP_SECRET, totp::step_of(self.app.now().timestamp()));
            let res = self
                .post(
                    "/staff/login/totp",
                    &session,
                    &[("_csrf", &csrf), ("code", &code)],
                )
                .await;
            assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        }
        // An administrator without case roles has no inbox: the administration has the token.
        let mut inbox = self.get("/staff", &session).await;
        if inbox.status == StatusCode::FORBIDDEN {
            inbox = self.get("/staff/admin", &session).await;
        }
        // An analyst starts on the overview.
        if inbox.status == StatusCode::SEE_OTHER {
            inbox = self.get("/staff/dashboard", &session).await;
        }
        assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.body);
        let csrf = hidden(&inbox.body, "_csrf");
        (session, csrf)
    }

    /// An administrator of `unit` with a confirmed authenticator ([`TOTP_SECRET`]).
    pub async fn admin(&self, username: &str, unit: &str) {
        self.user(username, unit, "administrator").await;
        let u = self
            .app
            .store()
            .user_by_username(username)
            .await
            .unwrap()
            .unwrap();
        let secret = huiyin_app::auth::totp::base32_encode(TOTP_SECRET);
        self.app
            .store()
            .set_totp_pending(&u.id, Some(&secret))
            .await
            .unwrap();
        assert!(self.app.store().confirm_totp(&u.id, &secret).await.unwrap());
    }

    /// Enters a visit at the desk; returns the case id.
    pub async fn intake(&self, cookie: &str, csrf: &str, title: &str) -> String {
        self.intake_text(
            cookie,
            csrf,
            title,
            "小区路灯已经坏了一个月，晚上出行不便。",
        )
        .await
    }

    /// Enters a visit at the desk with this text; returns the case id.
    pub async fn intake_text(&self, cookie: &str, csrf: &str, title: &str, text: &str) -> String {
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
    pub async fn raw_get(&self, uri: &str, cookie: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
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
    pub async fn register_and_route(&self, cookie: &str, csrf: &str, case: &str, unit: &str) {
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

    pub async fn act(
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
