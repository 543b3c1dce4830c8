//! The HTML page shell through the real router on a fresh database (SQLite, or PostgreSQL when
//! HUIYIN_TEST_DATABASE_URL is set): security headers, preferences, static files, 404 pages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use huiyin_app::{App, Config};
use huiyin_store::testing::{TestDb, fresh};
use huiyin_web::{WebConfig, router};
use tower::ServiceExt;

async fn start() -> (Router, TestDb) {
    let db = fresh().await.expect("test database");
    let app = App::new(db.store.clone(), Config::default());
    (router(app, WebConfig::default()), db)
}

async fn get(
    router: &Router,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, header::HeaderMap, String) {
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn home_is_chinese_html_with_a_strict_policy() {
    let (router, db) = start().await;
    let (status, headers, body) = get(&router, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(body.contains("<html lang=\"zh-CN\">"), "{body}");
    assert!(body.contains("我要信访"));
    // Every asset the page links is versioned and served.
    for part in body.split("/static/").skip(1) {
        let url = format!("/static/{}", part.split('"').next().unwrap());
        assert!(url.contains("?v="), "{url} is not versioned");
        let (s, h, _) = get(&router, &url, None).await;
        assert_eq!(s, StatusCode::OK, "{url}");
        assert!(
            h[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable"),
            "{url}"
        );
    }
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn preferences_stick_in_a_cookie_and_go_back_only_to_this_site() {
    let (router, db) = start().await;
    let req = Request::post("/prefs")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, "hy_prefs=zh.0")
        .body(Body::from("large=1&back=%2Ftrack"))
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/track");
    let set = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(set.starts_with("hy_prefs=zh.1;"), "{set}");
    let (_, _, body) = get(&router, "/", Some("hy_prefs=en.1")).await;
    assert!(
        body.contains("<html lang=\"en\" class=\"large\">"),
        "{body}"
    );
    assert!(body.contains("Submit a petition"));

    let req = Request::post("/prefs")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("lang=en&back=https%3A%2F%2Fevil.example%2F"))
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.headers()[header::LOCATION], "/");
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn unknown_paths_get_html_pages_and_api_paths_json() {
    let (router, db) = start().await;
    let (status, headers, body) = get(&router, "/no/such/page", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(body.contains("页面不存在"));
    let (status, headers, body) = get(&router, "/api/v1/nothing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(body.contains("\"code\""));
    let (status, _, _) = get(&router, "/static/nothing.js", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    db.cleanup().await.unwrap();
}
