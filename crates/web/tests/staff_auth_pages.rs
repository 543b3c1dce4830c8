//! The workbench's second-factor and password pages through the real router (SQLite, or
//! PostgreSQL when HUIYIN_TEST_DATABASE_URL is set): an administrator enrols a TOTP secret
//! at sign-in, a wrong code and a replayed code are refused, the right code lets them in; the
//! password-change page refuses a mismatch, a wrong current password and a weak password,
//! and takes a good one. Also: English pages show the domain's rejections in English, and the
//! unit picker's kind filter works with and without htmx.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use chrono::Duration;
use common::{PASSWORD, Page, T, enc, hidden};
use huiyin_app::auth::totp;

/// Signs in with the password only; returns the answer (a redirect) and the session cookie.
async fn password_step(t: &T, username: &str, password: &str) -> (Page, String) {
    let page = t.get("/staff/login", "").await;
    let pair = page.cookies[0].clone();
    let token = hidden(&page.body, "_csrf");
    let res = t
        .post(
            "/staff/login",
            &pair,
            &[
                ("_csrf", &token),
                ("next", "/staff"),
                ("username", username),
                ("password", password),
            ],
        )
        .await;
    let session = res
        .cookies
        .iter()
        .find(|c| c.starts_with("huiyin_session="))
        .cloned()
        .unwrap_or_default();
    (res, session)
}

fn code_now(t: &T, key: &[u8]) -> String {
    totp::code_at(key, totp::step_of(t.app.now().timestamp()))
}

#[tokio::test]
async fn totp_sign_in_refuses_wrong_and_replayed_codes() {
    let t = T::start().await;
    t.user("admin.wang", "44-xfj", "administrator").await;
    let (res, session) = password_step(&t, "admin.wang", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location.as_deref(), Some("/staff/login/totp"));
    // Without the second factor the workbench sends them back to it.
    let inbox = t.get("/staff", &session).await;
    assert!(inbox.status.is_redirection(), "{}", inbox.status);
    assert!(inbox.location.unwrap().contains("/staff/login/totp"));

    // Enrolment: the page shows the secret to add to an authenticator.
    let page = t.get("/staff/login/totp", &session).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("otpauth://totp/"), "{}", page.body);
    let secret_of = |body: &str| {
        let secret = body
            .split("<dd class=\"mono\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_string();
        totp::base32_decode(&secret).unwrap()
    };
    let key = secret_of(&page.body);
    let csrf = hidden(&page.body, "_csrf");
    let now_step = totp::step_of(t.app.now().timestamp());
    let wrong = (0..10)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|c| (now_step - 1..=now_step + 1).all(|s| totp::code_at(&key, s) != *c))
        .unwrap();
    let res = t
        .post(
            "/staff/login/totp",
            &session,
            &[("_csrf", &csrf), ("code", &wrong)],
        )
        .await;
    assert!(res.status.is_client_error(), "{}", res.status);
    assert!(res.body.contains("role=\"alert\"") || res.body.contains("class=\"error\""));
    assert!(t.get("/staff", &session).await.status.is_redirection());
    // The enrolment form shown again carries the same secret: the one already added to the
    // authenticator stays good after a mistyped code (and after reloading the page).
    assert_eq!(
        secret_of(&res.body),
        key,
        "a wrong code must not change the secret"
    );
    let again = t.get("/staff/login/totp", &session).await;
    assert_eq!(secret_of(&again.body), key);
    // A form without the session's CSRF token is refused before the code is looked at.
    let code = code_now(&t, &key);
    let res = t
        .post(
            "/staff/login/totp",
            &session,
            &[("_csrf", "forged"), ("code", &code)],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = t
        .post(
            "/staff/login/totp",
            &session,
            &[("_csrf", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // An administrator reads no cases: they land on the administration page, which is theirs.
    assert_eq!(res.location.as_deref(), Some("/staff/admin"));
    assert_eq!(t.get("/staff/admin", &session).await.status, StatusCode::OK);

    // A new sign-in: the code already used is refused (no replay), the next one passes.
    let (res, second) = password_step(&t, "admin.wang", PASSWORD).await;
    assert_eq!(res.location.as_deref(), Some("/staff/login/totp"));
    let page = t.get("/staff/login/totp", &second).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("otpauth://"), "enrolled: no new secret");
    let csrf2 = hidden(&page.body, "_csrf");
    let res = t
        .post(
            "/staff/login/totp",
            &second,
            &[("_csrf", &csrf2), ("code", &code)],
        )
        .await;
    assert!(
        res.status.is_client_error(),
        "replayed code: {}",
        res.status
    );
    assert!(t.get("/staff", &second).await.status.is_redirection());
    t.app.clock().set(t.app.now() + Duration::seconds(30));
    let next = code_now(&t, &key);
    assert_ne!(next, code);
    let res = t
        .post(
            "/staff/login/totp",
            &second,
            &[("_csrf", &csrf2), ("code", &next)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(t.get("/staff/admin", &second).await.status, StatusCode::OK);
    t.finish().await;
}

#[tokio::test]
async fn the_password_page_checks_and_changes_the_password() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    let (session, _) = t.login("dengji").await;
    let page = t.get("/staff/password", &session).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = hidden(&page.body, "_csrf");
    let change = |current: &'static str, new: &'static str, repeat: &'static str| {
        let session = session.clone();
        let csrf = csrf.clone();
        let t = &t;
        async move {
            t.post(
                "/staff/password",
                &session,
                &[
                    ("_csrf", csrf.as_str()),
                    ("current_password", current),
                    ("new_password", new),
                    ("repeat_password", repeat),
                ],
            )
            .await
        }
    };
    let res = change(PASSWORD, "Another-Horse-8", "Another-Horse-9").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("两次输入的新密码不一致"), "{}", res.body);
    let res = change("Wrong-Password-1", "Another-Horse-8", "Another-Horse-8").await;
    assert!(res.status.is_client_error(), "{}", res.status);
    assert!(res.body.contains("当前密码不正确"), "{}", res.body);
    let res = change(PASSWORD, "short1", "short1").await;
    assert!(res.status.is_client_error(), "{}", res.status);
    assert!(res.body.contains("aria-invalid=\"true\""), "{}", res.body);
    // Nothing changed so far: the old password still signs in.
    let (res, _) = password_step(&t, "dengji", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = change(PASSWORD, "Another-Horse-8", "Another-Horse-8").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/staff"));
    let (old, _) = password_step(&t, "dengji", PASSWORD).await;
    assert_ne!(
        old.status,
        StatusCode::SEE_OTHER,
        "the old password no longer works"
    );
    let (new, session) = password_step(&t, "dengji", "Another-Horse-8").await;
    assert_eq!(new.status, StatusCode::SEE_OTHER);
    assert_eq!(t.get("/staff", &session).await.status, StatusCode::OK);
    t.finish().await;
}

#[tokio::test]
async fn english_pages_show_domain_rejections_in_english() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    let (session, csrf) = t.login("dengji").await;
    let case = t.intake(&session, &csrf, "路灯损坏待修").await;
    let english = format!("{session}; hy_prefs=en.0");
    // A registrar may not instruct: the lifecycle's reason, in English on an English page.
    let version = hidden(
        &t.get(&format!("/staff/cases/{case}"), &session).await.body,
        "_version",
    );
    let post = |cookie: String| {
        let t = &t;
        let case = case.clone();
        let csrf = csrf.clone();
        let version = version.clone();
        async move {
            t.post(
                &format!("/staff/cases/{case}/act"),
                &cookie,
                &[
                    ("_csrf", csrf.as_str()),
                    ("_action", "instruct"),
                    ("_version", version.as_str()),
                    ("text", "请依法处理"),
                ],
            )
            .await
        }
    };
    let zh = post(session.clone()).await;
    assert_eq!(zh.status, StatusCode::FORBIDDEN);
    assert!(
        zh.body.contains("只有本级或上级领导可以阅批"),
        "{}",
        zh.body
    );
    let en = post(english).await;
    assert_eq!(en.status, StatusCode::FORBIDDEN);
    assert!(
        en.body
            .contains("Only a leader of a unit on the case, or above it, may instruct"),
        "{}",
        en.body
    );
    assert!(!en.body.contains("只有本级或上级领导可以阅批"));
    t.finish().await;
}

#[tokio::test]
async fn the_unit_picker_filters_by_kind_with_and_without_htmx() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    let (session, csrf) = t.login("dengji").await;
    let case = t.intake(&session, &csrf, "路灯损坏待修").await;
    let res = t
        .act(
            &session,
            &csrf,
            &case,
            "register",
            &[
                ("class.class", "appeal"),
                ("class.route", "petition_procedure"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // The case page offers the kinds of the organisation catalogue.
    let q = enc("佛山市");
    let page = t.get(&format!("/staff/cases/{case}"), &session).await;
    assert!(page.body.contains("id=\"unit-kind\""), "{}", page.body);
    for kind in huiyin_org::UnitKind::ALL {
        assert!(
            page.body
                .contains(&format!("<option value=\"{}\"", kind.as_str())),
            "{kind:?}"
        );
    }
    // Without htmx: the page searches itself; `佛山市` matches the bureau and two departments.
    let all = t
        .get(&format!("/staff/cases/{case}?unit_q={q}"), &session)
        .await;
    assert!(all.body.contains("value=\"4406-zj\"") && all.body.contains("value=\"4406-xfj\""));
    let depts = t
        .get(
            &format!("/staff/cases/{case}?unit_q={q}&kind=department"),
            &session,
        )
        .await;
    assert!(depts.body.contains("value=\"4406-zj\"") && depts.body.contains("value=\"4406-rs\""));
    assert!(!depts.body.contains("value=\"4406-xfj\""));
    assert!(
        depts
            .body
            .contains("<option value=\"department\" selected>")
    );
    // With htmx: the fragment takes the same filter.
    let fragment = t
        .get(
            &format!("/staff/units?unit_q={q}&kind=petition_bureau"),
            &session,
        )
        .await;
    assert_eq!(fragment.status, StatusCode::OK);
    assert!(fragment.body.contains("value=\"4406-xfj\""));
    assert!(!fragment.body.contains("value=\"4406-zj\""));
    // An unknown kind is no filter on the page (and finds nothing in the fragment).
    let unknown = t
        .get(
            &format!("/staff/cases/{case}?unit_q={q}&kind=nonsense"),
            &session,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert!(unknown.body.contains("value=\"4406-zj\""));
    t.finish().await;
}
