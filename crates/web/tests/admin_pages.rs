//! The administrators' pages through the real router on a fresh database (SQLite, or
//! PostgreSQL when HUIYIN_TEST_DATABASE_URL is set): the staff list, grants and revocations,
//! disabling and password resets with the last-administrator guard; categories and their use
//! on the case page; deadline-policy overrides and the holiday calendar in force at once. Each
//! form: success, refusal for a non-administrator, bad input re-displayed, the audit entry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{NaiveDate, TimeZone, Utc};
use http_body_util::BodyExt;
use huiyin_app::auth::totp;
use huiyin_app::{App, Clock, Config};
use huiyin_domain::ids::CaseId;
use huiyin_domain::policy::ClockKind;
use huiyin_store::UnitRecord;
use huiyin_store::testing::{TestDb, fresh};
use huiyin_web::{WebConfig, router};
use tower::ServiceExt;

const PASSWORD: &str = "Correct-Horse-7";
const SECRET: &[u8] = b"admin-pages-totp-key";

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

fn hidden(body: &str, name: &str) -> String {
    let pat = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&pat)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + pat.len();
    body[start..].split('"').next().unwrap().to_string()
}

/// A signed-in browser: its session cookie and CSRF token.
struct S {
    cookie: String,
    csrf: String,
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
        app.load_rules().await.unwrap();
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

    async fn user(&self, username: &str, unit: &str, role: &str) {
        self.app
            .add_user(
                username,
                "测试用户",
                unit,
                &[role.to_string()],
                Some(PASSWORD),
            )
            .await
            .unwrap();
    }

    /// An administrator with a confirmed authenticator.
    async fn admin(&self, username: &str) {
        self.user(username, "4406-xfj", "administrator").await;
        let u = self
            .app
            .store()
            .user_by_username(username)
            .await
            .unwrap()
            .unwrap();
        let secret = totp::base32_encode(SECRET);
        self.app
            .store()
            .set_totp_pending(&u.id, Some(&secret))
            .await
            .unwrap();
        assert!(self.app.store().confirm_totp(&u.id, &secret).await.unwrap());
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

    async fn get(&self, uri: &str, s: &S) -> Page {
        self.send("GET", uri, &s.cookie, None).await
    }

    async fn post(&self, uri: &str, s: &S, pairs: &[(&str, &str)]) -> Page {
        let mut all = vec![("_csrf", s.csrf.as_str())];
        all.extend_from_slice(pairs);
        self.send("POST", uri, &s.cookie, Some(form(&all))).await
    }

    /// Signs in through the forms (with the TOTP step for administrators).
    async fn login(&self, username: &str) -> S {
        let page = self.send("GET", "/staff/login", "", None).await;
        let pair = page.cookies[0].clone();
        let token = hidden(&page.body, "_csrf");
        let res = self
            .send(
                "POST",
                "/staff/login",
                &pair,
                Some(form(&[
                    ("_csrf", &token),
                    ("next", "/staff"),
                    ("username", username),
                    ("password", PASSWORD),
                ])),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let cookie = res
            .cookies
            .iter()
            .find(|c| c.starts_with("huiyin_session="))
            .unwrap()
            .clone();
        let totp_page = self.send("GET", "/staff/login/totp", &cookie, None).await;
        if totp_page.status == StatusCode::OK && totp_page.body.contains("name=\"code\"") {
            let csrf = hidden(&totp_page.body, "_csrf");
            let code = totp::code_at(SECRET, totp::step_of(self.app.now().timestamp()));
            let res = self
                .send(
                    "POST",
                    "/staff/login/totp",
                    &cookie,
                    Some(form(&[("_csrf", &csrf), ("code", &code)])),
                )
                .await;
            assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
            if username.starts_with("admin") {
                // Their desk is the administration, not an inbox they may not open.
                assert_eq!(res.location.as_deref(), Some("/staff/admin"));
            }
        }
        // An administrator without case roles has no inbox: the administration has the token.
        let mut inbox = self.send("GET", "/staff", &cookie, None).await;
        if inbox.status == StatusCode::FORBIDDEN {
            inbox = self.send("GET", "/staff/admin", &cookie, None).await;
        }
        assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.body);
        let csrf = hidden(&inbox.body, "_csrf");
        S { cookie, csrf }
    }

    async fn audit_actions(&self) -> Vec<(String, String)> {
        self.app
            .store()
            .audit_entries(None, None, 500)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.entry.action, r.entry.detail))
            .collect()
    }

    async fn audited(&self, action: &str, detail_has: &str) -> bool {
        self.audit_actions()
            .await
            .iter()
            .any(|(a, d)| a == action && d.contains(detail_has))
    }

    async fn roles_of(&self, username: &str, unit: &str) -> Vec<String> {
        let u = self
            .app
            .store()
            .user_by_username(username)
            .await
            .unwrap()
            .unwrap();
        self.app
            .store()
            .memberships(&u.id)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.unit_id == unit)
            .map(|m| m.roles)
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn the_staff_list_searches_pages_and_shows_the_last_sign_in() {
    let t = T::start().await;
    t.admin("admin").await;
    for i in 0..23 {
        t.user(&format!("clerk{i:02}"), "4406-rs", "handler").await;
    }
    t.user("handler", "4406-rs", "handler").await;
    let admin = t.login("admin").await;

    let page = t.get("/staff/admin/users", &admin).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("共 25 位用户"), "{}", page.body);
    assert_eq!(page.body.matches("href=\"/staff/admin/users/").count(), 20);
    assert!(page.body.contains("page=2"), "a next page link");
    // The administrator signed in: the list says when.
    assert!(page.body.contains("2025-03-12 10:00"), "{}", page.body);
    assert!(page.body.contains("佛山市人社局：经办人") || page.body.contains("佛山市人社局："));

    let second = t.get("/staff/admin/users?page=2", &admin).await;
    assert_eq!(
        second.body.matches("href=\"/staff/admin/users/").count(),
        5,
        "{}",
        second.body
    );

    let found = t.get("/staff/admin/users?q=clerk1", &admin).await;
    assert!(found.body.contains("共 10 位用户"), "{}", found.body);
    assert!(!found.body.contains("/staff/admin/users/clerk20\""));
    // LIKE wildcards typed by a person match themselves.
    let none = t.get("/staff/admin/users?q=%25", &admin).await;
    assert!(none.body.contains("共 0 位用户"), "{}", none.body);

    // Not for a non-administrator.
    let handler = t.login("handler").await;
    for uri in [
        "/staff/admin/users",
        "/staff/admin/users/clerk01",
        "/staff/admin/categories",
        "/staff/admin/policies",
        "/staff/admin/calendar",
    ] {
        let res = t.get(uri, &handler).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{uri}");
    }
    t.finish().await;
}

#[tokio::test]
async fn an_administrator_grants_revokes_disables_and_resets_with_audit() {
    let t = T::start().await;
    t.admin("admin").await;
    t.user("wang", "4406-rs", "handler").await;
    t.user("handler", "4406-rs", "handler").await;
    let admin = t.login("admin").await;

    // The unit picker finds the unit on the user page.
    let page = t
        .get("/staff/admin/users/wang?unit_q=%E4%BF%A1%E8%AE%BF", &admin)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("value=\"4406-xfj\""), "{}", page.body);

    // Grant: picked from the search results.
    let res = t
        .post(
            "/staff/admin/users/wang/grant",
            &admin,
            &[("unit_pick", "4406-xfj"), ("role", "registrar")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("已授予"), "{}", res.body);
    assert_eq!(t.roles_of("wang", "4406-xfj").await, vec!["registrar"]);
    assert!(t.audited("admin_grant_role", "\"registrar\"").await);

    // Bad input: an unknown unit, with the value kept and the message next to the field.
    let res = t
        .post(
            "/staff/admin/users/wang/grant",
            &admin,
            &[("unit", "no-such-unit"), ("role", "handler")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains("id=\"grant-unit-error\""), "{}", res.body);
    assert!(res.body.contains("value=\"no-such-unit\""));
    // A missing role.
    let res = t
        .post(
            "/staff/admin/users/wang/grant",
            &admin,
            &[("unit", "4406-rs"), ("role", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("id=\"grant-role-error\""), "{}", res.body);

    // Revoke.
    let res = t
        .post(
            "/staff/admin/users/wang/revoke",
            &admin,
            &[("unit", "4406-xfj"), ("role", "registrar")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(t.roles_of("wang", "4406-xfj").await.is_empty());
    assert!(t.audited("admin_revoke_role", "\"wang\"").await);

    // Disable: the user is signed out and cannot sign in; enable again.
    let wang = t.login("wang").await;
    let res = t
        .post(
            "/staff/admin/users/wang/disable",
            &admin,
            &[("disabled", "1")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        t.get("/staff", &wang).await.status,
        StatusCode::SEE_OTHER,
        "the session ended"
    );
    assert!(t.audited("admin_disable_user", "\"wang\"").await);
    let list = t.get("/staff/admin/users?q=wang", &admin).await;
    assert!(list.body.contains("已停用"), "{}", list.body);
    let res = t
        .post(
            "/staff/admin/users/wang/disable",
            &admin,
            &[("disabled", "0")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(t.audited("admin_enable_user", "\"wang\"").await);

    // Reset: a password shown once, to be changed at the next sign-in.
    let res = t
        .post("/staff/admin/users/wang/password", &admin, &[])
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let start = res.body.find("class=\"mono secret-once\">").unwrap() + 25;
    let password: String = res.body[start..].split('<').next().unwrap().to_string();
    assert_eq!(password.len(), 16, "{password}");
    let user = t
        .app
        .store()
        .user_by_username("wang")
        .await
        .unwrap()
        .unwrap();
    assert!(user.must_change_password);
    let audit = t.audit_actions().await;
    let reset = audit
        .iter()
        .find(|(a, _)| a == "admin_reset_password")
        .unwrap();
    assert!(
        !reset.1.contains(&password),
        "the password is never audited"
    );
    let again = t.get("/staff/admin/users/wang", &admin).await;
    assert!(!again.body.contains(&password), "shown once only");

    // A form without the session's token is refused and changes nothing.
    let res = t
        .send(
            "POST",
            "/staff/admin/users/wang/grant",
            &admin.cookie,
            Some(form(&[("unit", "4406-rs"), ("role", "leader")])),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // A non-administrator is refused and changes nothing.
    let handler = t.login("handler").await;
    for (uri, pairs) in [
        (
            "/staff/admin/users/wang/grant",
            vec![("unit", "4406-rs"), ("role", "leader")],
        ),
        (
            "/staff/admin/users/wang/revoke",
            vec![("unit", "4406-rs"), ("role", "handler")],
        ),
        ("/staff/admin/users/wang/disable", vec![("disabled", "1")]),
        ("/staff/admin/users/wang/password", vec![]),
    ] {
        let res = t.post(uri, &handler, &pairs).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{uri}");
    }
    assert_eq!(t.roles_of("wang", "4406-rs").await, vec!["handler"]);
    let user = t
        .app
        .store()
        .user_by_username("wang")
        .await
        .unwrap()
        .unwrap();
    assert!(!user.disabled);
    t.finish().await;
}

#[tokio::test]
async fn the_last_administrator_cannot_be_removed() {
    let t = T::start().await;
    t.admin("admin").await;
    let admin = t.login("admin").await;
    let res = t
        .post(
            "/staff/admin/users/admin/revoke",
            &admin,
            &[("unit", "4406-xfj"), ("role", "administrator")],
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(res.body.contains("唯一可用的系统管理员"), "{}", res.body);
    assert_eq!(t.roles_of("admin", "4406-xfj").await, vec!["administrator"]);
    let res = t
        .post(
            "/staff/admin/users/admin/disable",
            &admin,
            &[("disabled", "1")],
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);

    // With a second administrator the first may give the role up; the second, now the last
    // one, may not be disabled.
    t.admin("admin2").await;
    let res = t
        .post(
            "/staff/admin/users/admin2/disable",
            &admin,
            &[("disabled", "1")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = t
        .post(
            "/staff/admin/users/admin2/disable",
            &admin,
            &[("disabled", "0")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = t
        .post(
            "/staff/admin/users/admin/revoke",
            &admin,
            &[("unit", "4406-xfj"), ("role", "administrator")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let admin2 = t.login("admin2").await;
    let res = t
        .post(
            "/staff/admin/users/admin2/disable",
            &admin2,
            &[("disabled", "1")],
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    t.finish().await;
}

#[tokio::test]
async fn categories_are_added_renamed_retired_and_offered_on_the_case_page() {
    let t = T::start().await;
    t.admin("admin").await;
    t.user("reg", "4406-xfj", "registrar").await;
    let admin = t.login("admin").await;

    let page = t.get("/staff/admin/categories", &admin).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for seeded in ["城乡建设", "劳动和社会保障", "卫生计生", "物业管理"] {
        assert!(page.body.contains(seeded), "{seeded}");
    }
    let cx = t
        .app
        .rules()
        .categories
        .iter()
        .find(|c| c.path == "城乡建设")
        .unwrap()
        .id
        .clone();

    let res = t
        .post(
            "/staff/admin/categories",
            &admin,
            &[("parent", &cx), ("name", "路灯照明")],
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert!(t.audited("admin_add_category", "城乡建设/路灯照明").await);
    let lamp = t
        .app
        .rules()
        .categories
        .iter()
        .find(|c| c.path == "城乡建设/路灯照明")
        .unwrap()
        .clone();
    assert_eq!(lamp.level, 2);

    // Bad input: a duplicate, a name with '/', a fourth level; the value stays.
    let res = t
        .post(
            "/staff/admin/categories",
            &admin,
            &[("parent", &cx), ("name", "路灯照明")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains("id=\"cat-name-error\""), "{}", res.body);
    assert!(res.body.contains("value=\"路灯照明\""));
    let res = t
        .post(
            "/staff/admin/categories",
            &admin,
            &[("parent", ""), ("name", "a/b")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = t
        .post(
            "/staff/admin/categories",
            &admin,
            &[("parent", &lamp.id), ("name", "主干道")],
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let third = t
        .app
        .rules()
        .categories
        .iter()
        .find(|c| c.level == 3)
        .unwrap()
        .clone();
    let res = t
        .post(
            "/staff/admin/categories",
            &admin,
            &[("parent", &third.id), ("name", "第四级")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);

    // Rename: the subcategory moves with it; a bad name is shown next to that row's field.
    let res = t
        .post(
            &format!("/staff/admin/categories/{}/rename", lamp.id),
            &admin,
            &[("name", "路灯")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(
        t.app
            .rules()
            .categories
            .iter()
            .any(|c| c.path == "城乡建设/路灯/主干道")
    );
    assert!(
        t.audited("admin_rename_category", "城乡建设/路灯照明")
            .await
    );
    let res = t
        .post(
            &format!("/staff/admin/categories/{}/rename", lamp.id),
            &admin,
            &[("name", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body
            .contains(&format!("id=\"rename-{}-error\"", lamp.id)),
        "{}",
        res.body
    );

    // The registrar's 登记 form offers the categories in force.
    let reg = t.login("reg").await;
    let case = intake(&t, &reg).await;
    let page = t.get(&format!("/staff/cases/{case}"), &reg).await;
    assert!(
        page.body.contains("<option value=\"城乡建设/路灯\">"),
        "{}",
        page.body
    );
    // An unknown category is refused next to the field.
    let res = act(&t, &reg, &case, "register", &[("category", "不存在的分类")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(
        res.body.contains("id=\"act-category-error\""),
        "{}",
        res.body
    );

    // Retired: no longer offered, and a case may not be classified under it; never deleted.
    let res = t
        .post(
            &format!("/staff/admin/categories/{}/retire", lamp.id),
            &admin,
            &[("retired", "1")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("已停用 2 个分类"), "{}", res.body);
    assert!(t.audited("admin_retire_category", "城乡建设/路灯").await);
    let page = t.get(&format!("/staff/cases/{case}"), &reg).await;
    assert!(!page.body.contains("<option value=\"城乡建设/路灯\">"));
    let res = act(
        &t,
        &reg,
        &case,
        "register",
        &[("category", "城乡建设/路灯")],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(t.app.store().categories().await.unwrap().len(), 19);

    // A category in force classifies the case.
    let res = act(
        &t,
        &reg,
        &case,
        "register",
        &[("category", "城乡建设/物业管理")],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let state = t
        .app
        .store()
        .case(&CaseId::new(case.clone()))
        .await
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(state.category.as_deref(), Some("城乡建设/物业管理"));

    // Not for a non-administrator.
    let res = t
        .post(
            "/staff/admin/categories",
            &reg,
            &[("parent", ""), ("name", "越权")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = t
        .post(
            &format!("/staff/admin/categories/{}/retire", lamp.id),
            &reg,
            &[("retired", "0")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    t.finish().await;
}

async fn intake(t: &T, s: &S) -> String {
    let res = t
        .post(
            "/staff/intake",
            s,
            &[
                ("_key", "admin-pages-intake"),
                ("channel", "visit"),
                ("petitioner.name", "张三"),
                ("petitioner.phone", "13912345678"),
                ("title", "路灯不亮"),
                ("text", "小区路灯已经坏了一个月，晚上出行不便。"),
                ("region", "440604"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let start = res.body.find("/staff/cases/").unwrap() + "/staff/cases/".len();
    res.body[start..].split('"').next().unwrap().to_string()
}

async fn act(t: &T, s: &S, case: &str, action: &str, fields: &[(&str, &str)]) -> Page {
    let page = t.get(&format!("/staff/cases/{case}"), s).await;
    let version = hidden(&page.body, "_version");
    let mut pairs = vec![
        ("_action", action),
        ("_version", version.as_str()),
        ("class.class", "appeal"),
        ("class.route", "petition_procedure"),
    ];
    pairs.extend_from_slice(fields);
    t.post(&format!("/staff/cases/{case}/act"), s, &pairs).await
}

#[tokio::test]
async fn a_local_policy_is_validated_and_used_for_new_deadlines_at_once() {
    let t = T::start().await;
    t.admin("admin").await;
    t.user("reg", "4406-xfj", "registrar").await;
    let admin = t.login("admin").await;

    // Bad input: looser than the statute, a bad prefix, a shorter petitioner's period.
    let res = t
        .post(
            "/staff/admin/policies",
            &admin,
            &[
                ("region_prefix", "44a"),
                ("category", ""),
                ("amount.handling", "61"),
                ("unit.handling", "days"),
                ("amount.review_request", "10"),
                ("unit.review_request", "days"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(
        res.body.contains("id=\"pol-region_prefix-error\""),
        "{}",
        res.body
    );
    assert!(res.body.contains("id=\"pol-amount-handling-error\""));
    assert!(res.body.contains("id=\"pol-amount-review_request-error\""));
    assert!(res.body.contains("value=\"61\""), "values kept");
    assert!(res.body.contains("value=\"44a\""));
    let res = t
        .post(
            "/staff/admin/policies",
            &admin,
            &[("region_prefix", "4406"), ("amount.rating", "x")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("id=\"pol-amount-rating-error\""));
    assert!(t.app.rules().overrides.is_empty(), "nothing written");

    // Foshan registers and routes within 24 hours (日清日结).
    let res = t
        .post(
            "/staff/admin/policies",
            &admin,
            &[
                ("region_prefix", "4406"),
                ("category", ""),
                ("amount.register_route", "24"),
                ("unit.register_route", "hours"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(t.audited("admin_set_policy", "\"4406\"").await);
    let page = t.get("/staff/admin/policies?region=440604", &admin).await;
    assert!(page.body.contains("24小时"), "{}", page.body);
    assert!(page.body.contains("地方规定"));

    // A new petition in Foshan gets the 24-hour deadline, stored in its projection.
    let reg = t.login("reg").await;
    let case = intake(&t, &reg).await;
    let view = t.app.case_view(&CaseId::new(case.clone())).await.unwrap();
    let d = view
        .deadlines
        .iter()
        .find(|d| d.kind == ClockKind::RegisterRoute)
        .unwrap();
    assert_eq!(d.due_at - d.started_at, chrono::Duration::hours(24));
    let listed = t
        .app
        .list(&huiyin_store::ListFilter::default())
        .await
        .unwrap();
    let row = listed.iter().find(|c| c.id == case).unwrap();
    assert_eq!(row.next_due_at_ms, Some(d.due_at.timestamp_millis()));

    // The rule persists: a restarted application loads it.
    let again = App::new(t.app.store().clone(), Config::default());
    again.load_rules().await.unwrap();
    assert_eq!(again.rules().overrides.len(), 1);

    // Removing it restores the national 15 days.
    let res = t
        .post(
            "/staff/admin/policies/delete",
            &admin,
            &[("region_prefix", "4406"), ("category", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(t.audited("admin_delete_policy", "\"4406\"").await);
    let p = t.app.rules().resolve("440604", None);
    assert_eq!(p.limit(ClockKind::RegisterRoute).amount, 15);
    // Another server process on the same database still has the rule until it looks: its
    // watch (every few seconds in `huiyin serve`) reloads because the audit head moved.
    assert_eq!(again.rules().overrides.len(), 1);
    assert!(again.refresh_rules().await.unwrap());
    assert!(again.rules().overrides.is_empty());
    assert!(
        !again.refresh_rules().await.unwrap(),
        "nothing new: no reload"
    );

    // Not for a non-administrator.
    let res = t
        .post(
            "/staff/admin/policies",
            &reg,
            &[("region_prefix", "4406"), ("amount.register_route", "1")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(t.app.rules().overrides.is_empty());
    t.finish().await;
}

#[tokio::test]
async fn a_calendar_year_is_entered_validated_and_used_by_the_clock() {
    let t = T::start().await;
    t.admin("admin").await;
    t.user("reg", "4406-xfj", "registrar").await;
    let admin = t.login("admin").await;

    // The shipped year is shown and offered for editing.
    let page = t.get("/staff/admin/calendar?year=2025", &admin).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("2025-01-01 off 元旦"), "{}", page.body);
    let page = t.get("/staff/admin/calendar?year=2027", &admin).await;
    assert!(
        page.body.contains("本年度还没有节假日安排"),
        "{}",
        page.body
    );

    // Bad input: a make-up day on a Monday; the text stays, the line is named.
    let bad = "2027-01-01 off 元旦\n2027-02-08 work 春节";
    let res = t
        .post(
            "/staff/admin/calendar",
            &admin,
            &[("year", "2027"), ("days", bad)],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains("id=\"cal-days-error\""), "{}", res.body);
    assert!(res.body.contains("第2行"), "{}", res.body);
    assert!(res.body.contains("2027-02-08 work 春节"), "kept");
    let res = t
        .post(
            "/staff/admin/calendar",
            &admin,
            &[
                ("year", "2027"),
                ("days", "2027-01-01 off 元旦\n2027-01-01 off 元旦"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!t.app.calendar().covers(2027));

    // 2027 as published: used at once.
    let days =
        "2027-01-01 off 元旦\n2027-02-06 off 春节\n2027-02-07 work 春节\n2027-02-10 off 春节";
    let res = t
        .post(
            "/staff/admin/calendar",
            &admin,
            &[("year", "2027"), ("days", days)],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(t.audited("admin_set_calendar_year", "\"year\":2027").await);
    let cal = t.app.calendar();
    assert!(cal.covers(2027));
    let d = |m, day| NaiveDate::from_ymd_opt(2027, m, day).unwrap();
    assert!(!cal.is_working_day(d(1, 1)));
    assert!(cal.is_working_day(d(2, 7)), "a Sunday worked");
    assert!(!cal.is_working_day(d(2, 10)), "a Wednesday off");
    // The other years stay as shipped.
    assert!(!cal.is_working_day(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()));
    let page = t.get("/staff/admin/calendar?year=2027", &admin).await;
    assert!(page.body.contains("由管理员录入"), "{}", page.body);

    // A correction of a shipped year replaces its whole list.
    let res = t
        .post(
            "/staff/admin/calendar",
            &admin,
            &[("year", "2026"), ("days", "2026-01-01 off 元旦")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(
        t.app
            .calendar()
            .is_working_day(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap())
    );

    // Persisted: a restarted application has both years.
    let again = App::new(t.app.store().clone(), Config::default());
    again.load_rules().await.unwrap();
    assert!(again.calendar().is_working_day(d(2, 7)));
    assert_eq!(again.rules().edited_years, vec![2026, 2027]);

    // Not for a non-administrator.
    let reg = t.login("reg").await;
    let res = t
        .post(
            "/staff/admin/calendar",
            &reg,
            &[("year", "2028"), ("days", "2028-01-01 off 元旦")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(!t.app.calendar().covers(2028));
    t.finish().await;
}

/// A generated taxonomy in the JSON Lines form a deployment loads.
fn generated_taxonomy() -> String {
    let mut out = String::new();
    for l1 in ["城乡建设", "农村农业"] {
        for l2 in ["甲类", "乙类"] {
            for l3 in ["一", "二", "三"] {
                out.push_str(&format!(
                    "{{\"l1\": \"{l1}\", \"l2\": \"{l1}{l2}\", \"l3\": \"{l2}{l3}\"}}\n"
                ));
            }
        }
    }
    out
}

#[tokio::test]
async fn a_taxonomy_is_imported_once_and_a_bad_line_refuses_the_file() {
    let t = T::start().await;
    let before = t.app.store().categories().await.unwrap().len();
    let report = t
        .app
        .import_categories(&generated_taxonomy(), "test")
        .await
        .unwrap();
    assert_eq!(report.lines, 12);
    // 农村农业 is new at the first level; 城乡建设 exists: 1 + 4 second + 12 third.
    assert_eq!(report.added, 17);
    assert_eq!(report.existing, 1);
    assert_eq!(t.app.store().categories().await.unwrap().len(), before + 17);
    assert!(
        t.app
            .rules()
            .categories
            .iter()
            .any(|c| c.path == "农村农业/农村农业乙类/乙类三" && c.level == 3)
    );
    assert!(t.audited("import_categories", "\"added\":17").await);
    // Again: nothing new.
    let again = t
        .app
        .import_categories(&generated_taxonomy(), "test")
        .await
        .unwrap();
    assert_eq!(again.added, 0);
    // A bad line names itself and nothing is written.
    let err = t
        .app
        .import_categories("{\"l1\": \"新类\"}\n{\"l2\": \"缺一级\"}\n", "test")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid"), "{err}");
    match err {
        huiyin_app::AppError::Invalid(f) => assert!(f[0].1.message.contains("第2行")),
        other => panic!("{other}"),
    }
    assert!(!t.app.rules().categories.iter().any(|c| c.path == "新类"));
    t.finish().await;
}

/// The real taxonomy of the shared data (read where it is, never copied), when present.
#[tokio::test]
async fn the_shared_taxonomy_imports_when_present() {
    let candidates = [
        std::env::var("HUIYIN_TAXONOMY").unwrap_or_default(),
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/corpus/taxonomy.jsonl"
        )
        .to_string(),
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../../shared/data/corpus/taxonomy.jsonl"
        )
        .to_string(),
    ];
    let Some(text) = candidates
        .iter()
        .filter(|p| !p.is_empty())
        .find_map(|p| std::fs::read_to_string(p).ok())
    else {
        eprintln!("shared taxonomy not present: nothing to import");
        return;
    };
    let t = T::start().await;
    let report = t.app.import_categories(&text, "test").await.unwrap();
    assert_eq!(
        report.lines,
        text.lines().filter(|l| !l.trim().is_empty()).count()
    );
    let rules = t.app.rules();
    let l1 = rules.categories.iter().filter(|c| c.level == 1).count();
    assert!(l1 >= 15, "{l1} first-level categories");
    assert!(rules.categories.iter().all(|c| c.level <= 3));
    t.finish().await;
}

/// The regions the unit tests add units in (adding checks the region is known).
async fn regions(t: &T) {
    for (code, name, level, parent) in [
        ("44", "广东省", "province", None),
        ("4406", "佛山市", "city", Some("44")),
        ("440604", "禅城区", "county", Some("4406")),
        ("4401", "广州市", "city", Some("44")),
    ] {
        sqlx::query(
            "INSERT INTO regions (code, name, level, parent_code, updated_at) VALUES ($1, $2, $3, $4, 0)",
        )
        .bind(code)
        .bind(name)
        .bind(level)
        .bind(parent)
        .execute(t.app.store().pool())
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn units_are_added_renamed_merged_and_retired_with_history_and_audit() {
    let t = T::start().await;
    regions(&t).await;
    t.admin("admin").await;
    t.user("reg", "4406-xfj", "registrar").await;
    let admin = t.login("admin").await;

    // The list finds units, retired ones too, and offers the add form.
    let page = t.get("/staff/admin/units?q=佛山", &admin).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("佛山市人社局") && page.body.contains("id=\"unit-id\""));
    assert!(
        !page.body.contains("广东省信访局"),
        "the name filter applies"
    );

    // Bad input comes back next to its field with what was entered; nothing is written.
    let res = t
        .post(
            "/staff/admin/units",
            &admin,
            &[
                ("parent_id", "4406-xfj"),
                ("id", "bad id!"),
                ("name", "佛山市禅城区信访局"),
                ("kind", "petition_bureau"),
                ("region_code", "44060"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains("id=\"unit-id-error\""), "{}", res.body);
    assert!(res.body.contains("id=\"unit-region_code-error\""));
    assert!(res.body.contains("value=\"佛山市禅城区信访局\""));
    assert!(t.app.store().org_unit("bad id!").await.unwrap().is_none());
    // In English the same refusal is in English.
    let mut all = vec![("_csrf", admin.csrf.as_str())];
    all.extend_from_slice(&[
        ("parent_id", "4406-xfj"),
        ("id", "bad id!"),
        ("name", "x"),
        ("kind", "petition_bureau"),
        ("region_code", "440604"),
    ]);
    let res = t
        .send(
            "POST",
            "/staff/admin/units",
            &format!("{}; hy_prefs=en.0", admin.cookie),
            Some(form(&all)),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(
        res.body.contains("A unit id has 1 to 64 letters"),
        "{}",
        res.body
    );
    // A region outside the administrator's (佛山) is refused.
    let res = t
        .post(
            "/staff/admin/units",
            &admin,
            &[
                ("parent_id", "4406-xfj"),
                ("id", "4401-x"),
                ("name", "广州某局"),
                ("kind", "department"),
                ("region_code", "4401"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains("不在本单位所辖区域内"), "{}", res.body);

    // A good unit: redirect to its page, with history and the audit entry.
    let res = t
        .post(
            "/staff/admin/units",
            &admin,
            &[
                ("parent_id", "4406-xfj"),
                ("id", "440604-xfj"),
                ("name", "佛山市禅城区信访局"),
                ("kind", "petition_bureau"),
                ("region_code", "440604"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        res.location.as_deref(),
        Some("/staff/admin/units/440604-xfj?done=added")
    );
    let unit = t.app.store().org_unit("440604-xfj").await.unwrap().unwrap();
    assert_eq!(unit.level, "county");
    assert_eq!(unit.parent_id.as_deref(), Some("4406-xfj"));
    assert!(t.audited("admin_add_unit", "440604-xfj").await);
    let page = t
        .get("/staff/admin/units/440604-xfj?done=added", &admin)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("单位已设立"));
    assert!(page.body.contains("县级") && page.body.contains("佛山市信访局"));
    // The same id again is refused.
    let res = t
        .post(
            "/staff/admin/units",
            &admin,
            &[
                ("parent_id", "4406-xfj"),
                ("id", "440604-xfj"),
                ("name", "又一个"),
                ("kind", "petition_bureau"),
                ("region_code", "440604"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("已被使用"));

    // Rename: an empty name is refused next to the field, a good one is kept with history.
    let res = t
        .post(
            "/staff/admin/units/440604-xfj/rename",
            &admin,
            &[("name", " ")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(
        res.body.contains("id=\"rename-name-error\""),
        "{}",
        res.body
    );
    let res = t
        .post(
            "/staff/admin/units/440604-xfj/rename",
            &admin,
            &[("name", "佛山市禅城区人民来访接待中心")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(
        t.audited("admin_rename_unit", "佛山市禅城区人民来访接待中心")
            .await
    );
    let page = t.get("/staff/admin/units/440604-xfj", &admin).await;
    assert!(
        page.body
            .contains("更名：佛山市禅城区信访局 → 佛山市禅城区人民来访接待中心"),
        "{}",
        page.body
    );

    // A unit with an active sub-unit cannot be retired; merging it moves the sub-unit.
    let res = t
        .post(
            "/staff/admin/units",
            &admin,
            &[
                ("parent_id", "440604-xfj"),
                ("id", "440604-zx"),
                ("name", "禅城区来访分中心"),
                ("kind", "township_office"),
                ("region_code", "440604"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let res = t
        .post("/staff/admin/units/440604-xfj/retire", &admin, &[])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains("下级单位"), "{}", res.body);
    assert!(
        t.app
            .store()
            .org_unit("440604-xfj")
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );
    // Merging into its own sub-unit would make a cycle.
    let res = t
        .post(
            "/staff/admin/units/440604-xfj/merge",
            &admin,
            &[("into", "440604-zx")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains("id=\"merge-into-error\""), "{}", res.body);
    let res = t
        .post(
            "/staff/admin/units/440604-xfj/merge",
            &admin,
            &[("into", "4406-xfj")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let merged = t.app.store().org_unit("440604-xfj").await.unwrap().unwrap();
    assert!(!merged.is_active());
    assert_eq!(merged.successor_id.as_deref(), Some("4406-xfj"));
    let child = t.app.store().org_unit("440604-zx").await.unwrap().unwrap();
    assert_eq!(child.parent_id.as_deref(), Some("4406-xfj"));
    assert!(t.audited("admin_merge_unit", "4406-xfj").await);
    let page = t.get("/staff/admin/units/440604-xfj", &admin).await;
    assert!(page.body.contains("已并入 4406-xfj") && page.body.contains("现由此单位承接"));
    assert!(!page.body.contains("/merge\""), "no forms on a merged unit");
    // The list still shows it, marked.
    let page = t.get("/staff/admin/units?q=人民来访", &admin).await;
    assert!(page.body.contains("class=\"retired\"") && page.body.contains("已并入"));
    // The sub-unit has none below it now: it can be retired.
    let res = t
        .post("/staff/admin/units/440604-zx/retire", &admin, &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(t.audited("admin_retire_unit", "440604-zx").await);
    assert!(
        !t.app
            .store()
            .org_unit("440604-zx")
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );

    // A unit above the administrator's region is shown without forms; a forged post is refused.
    let page = t.get("/staff/admin/units/44-xfj", &admin).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("不在本单位所辖区域内") && !page.body.contains("/rename\""));
    let res = t
        .post(
            "/staff/admin/units/44-xfj/rename",
            &admin,
            &[("name", "改名")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert!(
        res.body.contains("不在本单位所辖区域内"),
        "the reason is shown"
    );
    assert_eq!(
        t.app
            .store()
            .org_unit("44-xfj")
            .await
            .unwrap()
            .unwrap()
            .name,
        "广东省信访局"
    );
    // An unknown unit is a 404 page.
    let res = t.get("/staff/admin/units/nope", &admin).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // Not an administrator: refused, nothing changed; no CSRF token: refused.
    let reg = t.login("reg").await;
    let res = t.get("/staff/admin/units", &reg).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = t
        .post(
            "/staff/admin/units/4406-rs/rename",
            &reg,
            &[("name", "改名")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = t
        .send(
            "POST",
            "/staff/admin/units/4406-rs/rename",
            &admin.cookie,
            Some(form(&[("name", "改名")])),
        )
        .await;
    assert_ne!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        t.app
            .store()
            .org_unit("4406-rs")
            .await
            .unwrap()
            .unwrap()
            .name,
        "佛山市人社局"
    );
    t.finish().await;
}

/// The text of the statistics table's row of one indicator.
fn indicator_row<'a>(body: &'a str, name: &str) -> &'a str {
    let at = body
        .find(&format!("<summary>{name}</summary>"))
        .unwrap_or_else(|| panic!("no row {name}"));
    let end = body[at..].find("</tr>").unwrap() + at;
    &body[at..end]
}

/// 满意率 of 佛山 in March 2025 from the API.
async fn satisfaction_from_api(t: &T, s: &S) -> f64 {
    let api = t
        .get(
            "/api/v1/stats/indicators?region=4406&from=2025-03-01&to=2025-03-31",
            s,
        )
        .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    let v: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    v["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "satisfaction_rate")
        .unwrap()["current"]["value"]
        .as_f64()
        .unwrap()
}

const STATS_MARCH: &str = "/staff/stats?region=4406&from=2025-03-01&to=2025-03-31";

/// `pairs` with each of `changes` replacing the field of its name.
fn with_changes<'a>(
    mut pairs: Vec<(&'a str, &'a str)>,
    changes: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    for (k, v) in changes {
        pairs.retain(|(name, _)| name != k);
        pairs.push((k, v));
    }
    pairs
}

/// The indicator form with every field, `changes` replacing the defaults.
fn indicator_form<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let pairs = vec![
        ("basically_satisfied_weight", "0.9"),
        ("hotline.response", "0.1"),
        ("hotline.resolve", "0.5"),
        ("hotline.satisfy", "0.4"),
        ("resolved.support", "1"),
    ];
    with_changes(pairs, changes)
}

/// The warning form with every field, `changes` replacing the defaults.
fn warning_form<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let pairs = vec![
        ("spike_days", "7"),
        ("baseline_days", "28"),
        ("spike_ratio", "3"),
        ("spike_min_cases", "5"),
        ("place_code_len", "6"),
        ("group_days", "7"),
        ("group_min_petitioners", "5"),
        ("repeat_days", "90"),
        ("repeat_min_cases", "3"),
        ("falling_points", "15"),
        ("falling_min_denominator", "10"),
    ];
    with_changes(pairs, changes)
}

#[tokio::test]
async fn the_indicator_settings_change_the_figures_at_once_and_are_kept() {
    let t = T::start().await;
    t.admin("admin").await;
    t.user("reg", "4406-xfj", "registrar").await;
    // Ten ratings of the responsible units in 佛山 this month: 4 满意, 5 基本满意, 1 不满意.
    let rows: Vec<huiyin_store::CounterRow> = [
        ("rating.rated", 10),
        ("rating.unit.satisfied", 4),
        ("rating.unit.basically_satisfied", 5),
        ("rating.unit.unsatisfied", 1),
    ]
    .iter()
    .map(|(key, value)| huiyin_store::CounterRow {
        target: "r:4406".into(),
        day: 20250310,
        key: key.to_string(),
        value: *value,
    })
    .collect();
    let store = t.app.store();
    let seq = store.stats_feed().await.unwrap().seq;
    assert!(
        store
            .stats_apply(seq, seq, &rows, &[], &Default::default())
            .await
            .unwrap()
    );
    let admin = t.login("admin").await;
    let reg = t.login("reg").await;

    // The default weight 0.9: (4 + 0.9 × 5) / 10 = 85 %.
    let page = t.get(STATS_MARCH, &reg).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        indicator_row(&page.body, "满意率").contains("85.0%"),
        "{}",
        indicator_row(&page.body, "满意率")
    );
    assert!((satisfaction_from_api(&t, &reg).await - 0.85).abs() < 1e-9);

    // The page shows the values in force with the defaults beside them.
    let page = t.get("/staff/admin/indicators", &admin).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("正在使用默认值"), "{}", page.body);
    assert!(page.body.contains("默认：0.9"), "{}", page.body);
    assert!(page.body.contains("name=\"spike_min_cases\" value=\"5\""));
    assert!(!page.body.contains("/staff/admin/indicators/restore"));

    // Not for a non-administrator, and not without the form's token.
    assert_eq!(
        t.get("/staff/admin/indicators", &reg).await.status,
        StatusCode::FORBIDDEN
    );
    let half = indicator_form(&[("basically_satisfied_weight", "0.5")]);
    let res = t.post("/staff/admin/indicators", &reg, &half).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = t
        .post(
            "/staff/admin/indicators/restore",
            &reg,
            &[("which", "indicators")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let forged = S {
        cookie: admin.cookie.clone(),
        csrf: "forged".into(),
    };
    let res = t.post("/staff/admin/indicators", &forged, &half).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(store.rule_settings().await.unwrap().is_empty());

    // Bad input: the message by the field or the domain's, what was entered kept, nothing
    // stored.
    let res = t
        .post(
            "/staff/admin/indicators",
            &admin,
            &indicator_form(&[("basically_satisfied_weight", "很多")]),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(
        res.body
            .contains("id=\"ind-basically_satisfied_weight-error\""),
        "{}",
        res.body
    );
    assert!(res.body.contains("请填写数字"), "{}", res.body);
    assert!(res.body.contains("value=\"很多\""), "kept");
    for (changes, message) in [
        (
            vec![("basically_satisfied_weight", "1.5")],
            "基本满意的权重应在0到1之间（现为1.5）",
        ),
        (
            vec![("hotline.satisfy", "0.5")],
            "响应率、解决率、满意率的权重之和应为1",
        ),
        (
            vec![("resolved.support", "")],
            "至少要有一种处理意见算作已解决",
        ),
        (vec![("basically_satisfied_weight", "NaN")], "请填写数字"),
    ] {
        let mut pairs = indicator_form(&changes);
        pairs.retain(|(_, v)| !v.is_empty());
        let res = t.post("/staff/admin/indicators", &admin, &pairs).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{changes:?}");
        assert!(res.body.contains(message), "{message}: {}", res.body);
    }
    let res = t
        .post(
            "/staff/admin/indicators/warnings",
            &admin,
            &warning_form(&[("spike_days", "0")]),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(
        res.body.contains("激增的统计天数应为1至90天"),
        "{}",
        res.body
    );
    assert!(res.body.contains("name=\"spike_days\" value=\"0\""), "kept");
    let res = t
        .post(
            "/staff/admin/indicators/warnings",
            &admin,
            &warning_form(&[("repeat_min_cases", "-1")]),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("请填写整数"), "{}", res.body);
    assert!(store.rule_settings().await.unwrap().is_empty());
    assert!(
        !t.audit_actions()
            .await
            .iter()
            .any(|(a, _)| a == "admin_set_indicator_config")
    );

    // 基本满意 at half weight: (4 + 0.5 × 5) / 10 = 65 %, at once on the page and the API.
    let res = t.post("/staff/admin/indicators", &admin, &half).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("已保存，立即生效"), "{}", res.body);
    assert!(res.body.contains("value=\"0.5\""), "{}", res.body);
    assert!(res.body.contains("/staff/admin/indicators/restore"));
    assert!(
        t.audited(
            "admin_set_indicator_config",
            "\"basically_satisfied_weight\":0.5"
        )
        .await
    );
    assert!(t.audited("admin_set_indicator_config", "\"from\"").await);
    let page = t.get(STATS_MARCH, &reg).await;
    assert!(
        indicator_row(&page.body, "满意率").contains("65.0%"),
        "{}",
        indicator_row(&page.body, "满意率")
    );
    assert!((satisfaction_from_api(&t, &reg).await - 0.65).abs() < 1e-9);

    // The warning thresholds from their form.
    let res = t
        .post(
            "/staff/admin/indicators/warnings",
            &admin,
            &warning_form(&[("spike_min_cases", "8"), ("spike_ratio", "2.5")]),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let policy = t.app.warning_policy();
    assert_eq!((policy.spike_min_cases, policy.spike_ratio), (8, 2.5));
    assert!(
        t.audited("admin_set_indicator_config", "\"spike_min_cases\":8")
            .await
    );

    // Kept: a restarted application on the same store has both.
    let again = App::new(t.app.store().clone(), Config::default());
    again.load_rules().await.unwrap();
    assert_eq!(again.indicator_config().basically_satisfied_weight, 0.5);
    assert_eq!(again.warning_policy().spike_min_cases, 8);

    // Restore the defaults of the indicators: 85 % again; the thresholds stay.
    let res = t
        .post(
            "/staff/admin/indicators/restore",
            &admin,
            &[("which", "indicators")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("已恢复默认值"), "{}", res.body);
    assert!(
        t.audited("admin_restore_indicator_defaults", "indicator_config")
            .await
    );
    let page = t.get(STATS_MARCH, &reg).await;
    assert!(indicator_row(&page.body, "满意率").contains("85.0%"));
    assert_eq!(t.app.warning_policy().spike_min_cases, 8);
    let res = t
        .post(
            "/staff/admin/indicators/restore",
            &admin,
            &[("which", "indicators")],
        )
        .await;
    assert!(res.body.contains("已经在使用默认值"), "{}", res.body);

    // In English too.
    let en = S {
        cookie: format!("{}; hy_prefs=en.0", admin.cookie),
        csrf: admin.csrf.clone(),
    };
    let page = t.get("/staff/admin/indicators", &en).await;
    assert!(
        page.body.contains("Early-warning thresholds"),
        "{}",
        page.body
    );
    t.finish().await;
}

impl T {
    /// A JSON request with the session's CSRF header.
    async fn json(&self, method: &str, uri: &str, s: &S, body: Option<&str>) -> Page {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf)
            .header("content-type", "application/json")
            .body(Body::from(body.unwrap_or("").to_string()))
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            location: None,
            cookies: Vec::new(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}

#[tokio::test]
async fn the_indicator_settings_api_merges_names_what_it_refuses_and_restores() {
    const API: &str = "/api/v1/admin/indicator-settings";
    let t = T::start().await;
    t.admin("admin").await;
    t.user("reg", "4406-xfj", "registrar").await;
    let admin = t.login("admin").await;
    let reg = t.login("reg").await;
    let store = t.app.store();

    let res = t.json("GET", API, &admin, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let v: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(v["indicators"]["basically_satisfied_weight"], 0.9);
    assert_eq!(v["default_warnings"]["spike_min_cases"], 5);
    assert!(v["indicators_changed"].is_null());

    // Administrators only; a state change needs the CSRF header.
    for (method, body) in [("GET", None), ("PATCH", Some("{\"indicators\":{}}"))] {
        let res = t.json(method, API, &reg, body).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{method}: {}", res.body);
    }
    let forged = S {
        cookie: admin.cookie.clone(),
        csrf: "forged".into(),
    };
    let res = t
        .json(
            "PATCH",
            API,
            &forged,
            Some("{\"indicators\":{\"basically_satisfied_weight\":0.5}}"),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);

    // Refusals name the field; nothing is stored or audited.
    for (body, field, code) in [
        (
            "{\"indicators\":{\"basically_satisfied_weigh\":0.5}}",
            "indicators.basically_satisfied_weigh",
            "unknown_field",
        ),
        (
            "{\"warnings\":{\"spike_days\":\"seven\"}}",
            "warnings.spike_days",
            "invalid_value",
        ),
        ("{\"indicators\":[0.5]}", "indicators", "object_expected"),
        (
            "{\"indicators\":{\"basically_satisfied_weight\":1.5}}",
            "indicators",
            "indicator_config_invalid",
        ),
        (
            "{\"warnings\":{\"spike_days\":0}}",
            "warnings",
            "warning_policy_invalid",
        ),
        ("{}", "indicators", "settings_empty"),
        ("{\"thresholds\":{}}", "thresholds", "invalid_value"),
    ] {
        let res = t.json("PATCH", API, &admin, Some(body)).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.body
        );
        let v: serde_json::Value = serde_json::from_str(&res.body).unwrap();
        let fields = v["error"]["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}: {}", res.body));
        assert!(
            fields
                .iter()
                .any(|f| f["field"] == field && f["code"] == code),
            "{body}: {}",
            res.body
        );
    }
    let res = t.json("PATCH", API, &admin, Some("{\"indicators\":")).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(store.rule_settings().await.unwrap().is_empty());
    assert!(
        !t.audit_actions()
            .await
            .iter()
            .any(|(a, _)| a == "admin_set_indicator_config")
    );

    // A change merges into what is in force: the other fields keep their values.
    let res = t
        .json(
            "PATCH",
            API,
            &admin,
            Some("{\"indicators\":{\"basically_satisfied_weight\":0.5},\"warnings\":{\"spike_min_cases\":8}}"),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let v: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(v["indicators"]["basically_satisfied_weight"], 0.5);
    assert_eq!(
        v["indicators"]["hotline_weights"],
        serde_json::json!([0.1, 0.5, 0.4])
    );
    assert_eq!(v["warnings"]["spike_min_cases"], 8);
    assert_eq!(v["warnings"]["spike_days"], 7);
    assert_eq!(v["indicators_changed"]["by_name"], "测试用户");
    assert_eq!(t.app.indicator_config().basically_satisfied_weight, 0.5);
    assert_eq!(t.app.warning_policy().spike_min_cases, 8);
    assert!(
        t.audited("admin_set_indicator_config", "\"spike_min_cases\":8")
            .await
    );
    let res = t
        .json(
            "PATCH",
            API,
            &admin,
            Some("{\"warnings\":{\"spike_ratio\":2.5}}"),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let policy = t.app.warning_policy();
    assert_eq!((policy.spike_min_cases, policy.spike_ratio), (8, 2.5));

    // The page names who changed it.
    let page = t.get("/staff/admin/indicators", &admin).await;
    assert!(page.body.contains("由 测试用户 于"), "{}", page.body);

    // Restore: a bad `which` is refused; the indicators only; then nothing left to restore.
    let res = t
        .json("DELETE", &format!("{API}?which=some"), &admin, None)
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let res = t
        .json("DELETE", &format!("{API}?which=indicators"), &admin, None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let v: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(v["changed"], true);
    assert_eq!(
        v["settings"]["indicators"]["basically_satisfied_weight"],
        0.9
    );
    assert_eq!(v["settings"]["warnings"]["spike_min_cases"], 8);
    let res = t
        .json("DELETE", &format!("{API}?which=all"), &admin, None)
        .await;
    let v: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(v["changed"], true);
    let res = t
        .json("DELETE", &format!("{API}?which=all"), &admin, None)
        .await;
    let v: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(v["changed"], false);
    assert!(store.rule_settings().await.unwrap().is_empty());
    t.finish().await;
}
