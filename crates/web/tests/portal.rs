//! The petitioner portal through the real router on a fresh database (SQLite, or PostgreSQL
//! when HUIYIN_TEST_DATABASE_URL is set): every submission step, validation re-display,
//! uploads checked by content, a double submit, escaping, tracking, rating and review, and
//! filing by a proxy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use huiyin_app::{App, Clock, Config};
use huiyin_domain::case::{Actor, Command, Decision, HandlingOpinion, Role, RouteKind};
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_domain::petition::{AppealRoute, StatutoryClass};
use huiyin_domain::values::DocumentText;
use huiyin_store::UnitRecord;
use huiyin_store::testing::{TestDb, fresh};
use huiyin_web::ratelimit::Limit;
use huiyin_web::{WebConfig, router};
use tower::ServiceExt;

struct T {
    router: Router,
    app: App,
    db: TestDb,
}

async fn start_with(limit: Limit) -> T {
    let db = fresh().await.expect("test database");
    let store = db.store.clone();
    for (id, name, kind, region, parent) in [
        ("44-xfj", "广东省信访局", "petition_bureau", "44", None),
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
    let app = App::new(
        store,
        Config {
            clock: Clock::manual(Utc.with_ymd_and_hms(2025, 3, 12, 2, 0, 0).unwrap()),
            ..Config::default()
        },
    );
    let router = router(
        app.clone(),
        WebConfig {
            public_limit: limit,
        },
    );
    T { router, app, db }
}

async fn start() -> T {
    start_with(Limit {
        burst: 1000.0,
        per_second: 1000.0,
    })
    .await
}

async fn send(router: &Router, req: Request<Body>) -> (StatusCode, String) {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                k,
                v.bytes()
                    .map(|b| if b.is_ascii_alphanumeric() {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    })
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn post(
    router: &Router,
    path: &str,
    fields: &[(&str, &str)],
    cookie: Option<&str>,
) -> (StatusCode, String) {
    let mut req =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    send(router, req.body(Body::from(encode(fields))).unwrap()).await
}

async fn get(router: &Router, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    send(router, req.body(Body::empty()).unwrap()).await
}

fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----huiyinTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: image/jpeg\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        + marker.len();
    body[start..].split('"').next().unwrap().to_string()
}

fn receipt_of(body: &str) -> (String, String) {
    let code = body
        .split("id=\"receipt-code\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let secret = body
        .split("id=\"receipt-secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    (code, secret)
}

/// The whole public draft as the steps carry it.
fn draft<'a>(id: &'a str, step: &'a str, go: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("draft", id),
        ("step", step),
        ("go", go),
        ("identity", "named"),
        ("name", "张三"),
        ("phone", "13912345678"),
        ("title", "<script>alert(1)</script>小区路灯不亮"),
        ("text", "小区路灯已经坏了一个月，晚上出行不便。<b>粗体</b>"),
        ("region", "440604"),
        ("ask", "请尽快修复路灯"),
    ]
}

#[tokio::test]
async fn a_petitioner_submits_in_steps_and_gets_one_receipt() {
    let t = start().await;
    let (status, body) = get(&t.router, "/submit", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("您是谁"), "{body}");
    assert!(body.contains("匿名信访无法告知您是否受理"));
    let id = hidden(&body, "draft");
    assert_eq!(id.len(), 32);

    // Step 1 with mistakes: each field gets its own message, the entered values stay.
    let (status, body) = post(
        &t.router,
        "/submit",
        &[
            ("draft", &id),
            ("step", "who"),
            ("go", "next"),
            ("identity", "named"),
            ("name", ""),
            ("phone", "12345"),
            ("id_card", "11010519491231002Y"),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("class=\"form-errors\""), "{body}");
    assert!(body.contains("id=\"e-name\""));
    assert!(body.contains("id=\"e-phone\""));
    assert!(body.contains("id=\"e-id_card\""));
    assert!(body.contains("value=\"12345\""), "entered phone kept");
    assert!(body.contains("value=\"11010519491231002Y\""));
    // A wrong check digit (GB 11643) is named as such.
    let (_, body2) = post(
        &t.router,
        "/submit",
        &[
            ("draft", &id),
            ("step", "who"),
            ("go", "next"),
            ("name", "张三"),
            ("phone", "13912345678"),
            ("id_card", "110105194912310020"),
        ],
        None,
    )
    .await;
    assert!(body2.contains("校验"), "{body2}");

    // Corrected: on to "what happened"; the petitioner's fields travel as hidden inputs.
    let (status, body) = post(
        &t.router,
        "/submit",
        &[
            ("draft", &id),
            ("step", "who"),
            ("go", "next"),
            ("identity", "named"),
            ("name", "张三"),
            ("phone", "13912345678"),
            ("id_card", "11010519491231002X"),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("发生了什么"));
    assert_eq!(hidden(&body, "name"), "张三");

    // What: a too-short text is refused with the parser's message.
    let mut f = draft(&id, "what", "next");
    f.retain(|(k, _)| *k != "text");
    f.push(("text", "短"));
    let (status, body) = post(&t.router, "/submit", &f, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("id=\"e-text\""), "{body}");
    assert!(
        body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "title escaped"
    );
    assert!(!body.contains("<script>alert(1)"), "no raw script");

    // Where: without JavaScript — search, pick, step down, go up.
    let mut f = draft(&id, "where", "search");
    f.retain(|(k, _)| *k != "region");
    f.push(("region_q", "佛山 禅城"));
    let (status, body) = post(&t.router, "/submit", &f, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("value=\"440604\""), "{body}");
    let mut f = draft(&id, "where", "");
    f.retain(|(k, _)| *k != "region");
    f.push(("pickr", "440604"));
    let (_, body) = post(&t.router, "/submit", &f, None).await;
    assert!(body.contains("广东省 › 佛山市 › 禅城区"), "{body}");
    let (_, body) = post(&t.router, "/submit", &draft(&id, "where", "up"), None).await;
    assert!(body.contains("<strong>广东省 › 佛山市</strong>"), "{body}");
    // A code that is no division is refused next to the field.
    let mut f = draft(&id, "where", "next");
    f.retain(|(k, _)| *k != "region");
    f.push(("region", "449999"));
    let (status, body) = post(&t.router, "/submit", &f, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("没有这个地区"), "{body}");
    let (status, body) = post(&t.router, "/submit", &draft(&id, "where", "next"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("您的请求"), "{body}");

    // Ask → files.
    let (status, body) = post(&t.router, "/submit", &draft(&id, "ask", "next"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("enctype=\"multipart/form-data\""), "{body}");

    // Files: a JPEG is taken; an .exe renamed .jpg and an oversize file are refused by content
    // and size, with the draft kept.
    let jpeg: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00photo";
    let exe: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00 this program cannot be run in DOS mode";
    let big = vec![0xFFu8; huiyin_app::attachments::MAX_ATTACHMENT_BYTES + 10];
    let fields = draft(&id, "files", "upload");
    let (ct, body) = multipart(
        &fields,
        &[("路灯.jpg", jpeg), ("photo.jpg", exe), ("big.jpg", &big)],
    );
    let (status, page) = send(
        &t.router,
        Request::post("/submit")
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("路灯.jpg"));
    assert!(page.contains("photo.jpg」不是图片"), "{page}");
    assert!(page.contains("big.jpg」超过5 MB"), "{page}");
    assert_eq!(hidden(&page, "name"), "张三");
    let stored = t.app.draft_attachments(&id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].media_type, "image/jpeg");
    // Stored sealed, opened intact.
    let (_, plain) = t.app.attachment_content(&stored[0].id).await.unwrap();
    assert_eq!(plain, jpeg);

    // Review shows everything as text.
    let (status, body) = post(&t.router, "/submit", &draft(&id, "files", "next"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("核对并提交"));
    assert!(body.contains("&#60;b&#62;粗体&#60;/b&#62;"), "{body}");
    assert!(!body.contains("<b>粗体"));

    // Submit twice (a double tap): one petition, the same receipt.
    let (status, first) = post(&t.router, "/submit", &draft(&id, "review", "submit"), None).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(first.contains("受理凭证"));
    assert!(first.contains("前登记"), "the register deadline is shown");
    let (code, secret) = receipt_of(&first);
    let (_, second) = post(&t.router, "/submit", &draft(&id, "review", "submit"), None).await;
    assert_eq!(receipt_of(&second), (code.clone(), secret.clone()));
    assert_eq!(t.app.store().count_cases().await.unwrap(), 1);
    let case = t
        .app
        .store()
        .case_by_receipt(&code.replace('-', ""))
        .await
        .unwrap()
        .unwrap()
        .0;
    let linked = t.app.store().case_attachments(&case).await.unwrap();
    assert_eq!(linked.len(), 1);
    let state = t.app.store().case(&case).await.unwrap().unwrap().state;
    assert_eq!(state.petition.attachments.len(), 1);
    assert!(
        state
            .petition
            .text
            .as_str()
            .contains("【信访请求】请尽快修复路灯")
    );

    // Tracking with the code and the secret (POST, never in the URL).
    let (status, body) = post(
        &t.router,
        "/track",
        &[("receipt_code", &code), ("secret", &secret)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("&#60;script&#62;alert(1)&#60;/script&#62;小区路灯不亮"));
    assert!(body.contains("您的信访事项已收到"));
    assert!(body.contains("还剩"), "the deadline with days left");
    t.db.cleanup().await.unwrap();
}

#[tokio::test]
async fn anonymous_and_english_and_bad_steps_never_fail() {
    let t = start().await;
    let (_, body) = get(&t.router, "/submit", Some("hy_prefs=en.1")).await;
    assert!(body.contains("Who you are"));
    assert!(body.contains("class=\"large\""));
    let id = hidden(&body, "draft");
    let (status, body) = post(
        &t.router,
        "/submit",
        &[
            ("draft", &id),
            ("step", "who"),
            ("go", "next"),
            ("phone", "abc"),
        ],
        Some("hy_prefs=en.0"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Enter your name"), "{body}");
    assert!(body.contains("Not a phone number"), "{body}");
    // Anonymous needs no name; the review step warns again.
    let mut f = draft(&id, "review", "submit");
    f.retain(|(k, _)| !["identity", "name", "phone"].contains(k));
    f.push(("identity", "anonymous"));
    let (status, body) = post(&t.router, "/submit", &f, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("匿名信访不会收到受理告知"));
    // Garbage: unknown step, forged draft id, nonsense region picks — a page, not a 500.
    for fields in [
        vec![("step", "nope"), ("go", "next")],
        vec![("draft", "../../etc"), ("step", "where"), ("pickr", "zzz")],
        vec![("step", "review"), ("go", "edit:nowhere")],
        vec![("step", "files"), ("remove", "not-an-id")],
    ] {
        let (status, body) = post(&t.router, "/submit", &fields, None).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{status} {body}"
        );
    }
    // A submit with nothing shows the first step with every message.
    let (status, body) = post(
        &t.router,
        "/submit",
        &[("step", "review"), ("go", "submit")],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("您是谁") && body.contains("请选择事情发生的地区"),
        "{body}"
    );
    // The htmx region suggestions.
    let (status, body) = get(
        &t.router,
        "/submit/regions?region_q=%E7%A6%85%E5%9F%8E",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("440604"), "{body}");
    t.db.cleanup().await.unwrap();
}

fn staff(id: &str, unit: &str, roles: &[Role]) -> Actor {
    Actor {
        id: ActorId::new(id),
        roles: roles.to_vec(),
        unit: Some(UnitId::new(unit)),
        oversees_case: false,
        is_case_petitioner: false,
    }
}

fn doc(s: &str) -> DocumentText {
    DocumentText::parse(s).unwrap()
}

#[tokio::test]
async fn the_petitioner_tracks_rates_and_asks_for_review() {
    let t = start().await;
    let (_, body) = get(&t.router, "/submit", None).await;
    let id = hidden(&body, "draft");
    let (_, body) = post(&t.router, "/submit", &draft(&id, "review", "submit"), None).await;
    let (code, secret) = receipt_of(&body);

    // Wrong secret, malformed code, empty fields: specific messages, the code kept.
    let (status, body) = post(
        &t.router,
        "/track",
        &[("receipt_code", &code), ("secret", "wrong")],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("受理凭证编号或查询密码不正确"));
    assert!(body.contains(&code));
    let (_, body) = post(
        &t.router,
        "/track",
        &[("receipt_code", "12"), ("secret", "")],
        None,
    )
    .await;
    assert!(
        body.contains("id=\"e-receipt_code\"") && body.contains("请填写查询密码"),
        "{body}"
    );

    // Staff register, forward, accept and reply.
    let case = CaseId::new(
        t.app
            .store()
            .case_by_receipt(&code.replace('-', ""))
            .await
            .unwrap()
            .unwrap()
            .0
            .as_str(),
    );
    let reg = staff("user:reg", "4406-xfj", &[Role::Registrar]);
    let handler = staff("user:h", "4406-zj", &[Role::Handler, Role::UnitHead]);
    for (actor, command) in [
        (
            reg.clone(),
            Command::Register {
                class: StatutoryClass::Appeal(AppealRoute::PetitionProcedure),
                category: None,
                accused: vec![],
            },
        ),
        (
            reg,
            Command::Route {
                kind: RouteKind::Forward,
                unit: UnitId::new("4406-zj"),
            },
        ),
        (handler.clone(), Command::Accept),
        (
            handler,
            Command::Reply {
                opinion: HandlingOpinion {
                    request: doc("请求修复路灯"),
                    facts: doc("经查，路灯线路老化<i>属实</i>"),
                    reasons: doc("属于市政维护范围"),
                    legal_basis: doc("《城市道路管理条例》"),
                    decision: Decision::Support,
                },
            },
        ),
    ] {
        t.app
            .execute(actor, case.clone(), command, None)
            .await
            .unwrap();
    }
    let creds = [("receipt_code", code.as_str()), ("secret", secret.as_str())];
    let (status, body) = post(&t.router, "/track", &creds, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("信访处理意见书"), "{body}");
    assert!(body.contains("路灯线路老化&#60;i&#62;属实&#60;/i&#62;"));
    assert!(body.contains("action=\"/track/rate\""));
    assert!(body.contains("action=\"/track/review\""));

    // Rating: both parts are required; then recorded.
    let mut f = creds.to_vec();
    f.push(("bureau", "satisfied"));
    f.push(("comment", "很好"));
    let (status, body) = post(&t.router, "/track/rate", &f, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("请选择对办理单位的评价"), "{body}");
    assert!(
        body.contains("value=\"satisfied\" checked"),
        "the choice is kept"
    );
    f.push(("unit", "unsatisfied"));
    let (status, body) = post(&t.router, "/track/rate", &f, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("您的评价已记录"));
    assert!(
        !body.contains("action=\"/track/rate\""),
        "rating closes once done"
    );
    let state = t.app.store().case(&case).await.unwrap().unwrap().state;
    assert!(state.rating.is_some());

    // Review: a reason is needed; then it goes to the next-higher organ.
    let mut f = creds.to_vec();
    f.push(("reason", "x"));
    let (status, body) = post(&t.router, "/track/review", &f, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("id=\"e-reason\""), "{body}");
    let mut f = creds.to_vec();
    f.push(("reason", "答复没有解决路灯问题，请求复查"));
    let (status, body) = post(&t.router, "/track/review", &f, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("已提交复查申请"));
    let state = t.app.store().case(&case).await.unwrap().unwrap().state;
    assert_eq!(state.review_unit, Some(UnitId::new("4406-xfj")));
    // Asking again is refused in words.
    let (status, body) = post(&t.router, "/track/review", &f, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("现在不能进行这项操作"), "{body}");
    t.db.cleanup().await.unwrap();
}

#[tokio::test]
async fn tracking_is_rate_limited_like_the_json_lookup() {
    let t = start_with(Limit {
        burst: 2.0,
        per_second: 0.0001,
    })
    .await;
    let f = [("receipt_code", "ABCD-EFGH-JKMN"), ("secret", "x")];
    post(&t.router, "/track", &f, None).await;
    post(&t.router, "/track", &f, None).await;
    let (status, body) = post(&t.router, "/track", &f, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("查询过于频繁"));
    t.db.cleanup().await.unwrap();
}

#[tokio::test]
async fn a_proxy_files_for_a_villager_with_consent() {
    let t = start().await;
    // Without a staff session: a page that says to sign in.
    let (status, body) = get(&t.router, "/proxy/submit", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("代理员身份登录"));
    let password = "Proxy-Pass-2026!";
    t.app
        .add_user(
            "li.proxy",
            "李代理",
            "4406-xfj",
            &["proxy".into()],
            Some(password),
        )
        .await
        .unwrap();
    let login = t
        .app
        .login("li.proxy", password, None, "127.0.0.1", None)
        .await
        .unwrap();
    let cookie = format!("huiyin_session={}", login.id);
    let csrf = login.session.csrf_token.clone();
    let (status, body) = get(&t.router, "/proxy/submit", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("信访人的同意方式"));
    assert!(
        !body.contains("value=\"anonymous\""),
        "a proxy files for a named villager"
    );
    let id = hidden(&body, "draft");

    // A forged or missing CSRF token is refused.
    let mut f = draft(&id, "review", "submit");
    f.push(("consent", "本人签字委托书"));
    let (status, _) = post(&t.router, "/proxy/submit", &f, Some(&cookie)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Consent is required.
    let mut f = draft(&id, "review", "submit");
    f.push(("_csrf", &csrf));
    let (status, body) = post(&t.router, "/proxy/submit", &f, Some(&cookie)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("id=\"e-consent\""), "{body}");
    f.push(("consent", "本人签字委托书，2025年3月12日"));
    let (status, body) = post(&t.router, "/proxy/submit", &f, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (code, secret) = receipt_of(&body);
    let case = t
        .app
        .store()
        .case_by_receipt(&code.replace('-', ""))
        .await
        .unwrap()
        .unwrap()
        .0;
    let state = t.app.store().case(&case).await.unwrap().unwrap().state;
    assert_eq!(
        state.petition.channel,
        huiyin_domain::petition::Channel::Proxy
    );
    let proxy = state.petition.proxy.unwrap();
    assert_eq!(proxy.consent, "本人签字委托书，2025年3月12日");
    assert!(proxy.proxy.starts_with("user:"));
    // The villager tracks it with the receipt, no sign-in.
    let (status, body) = post(
        &t.router,
        "/track",
        &[("receipt_code", &code), ("secret", &secret)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("小区路灯不亮"));
    t.db.cleanup().await.unwrap();
}

#[tokio::test]
async fn home_explains_rights_channels_and_courts() {
    let t = start().await;
    let (status, body) = get(&t.router, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    for needle in [
        "我要信访",
        "查询进度",
        "诉访分离",
        "第二十六条",
        "仲裁",
        "代理员",
    ] {
        assert!(body.contains(needle), "{needle}");
    }
    let (_, body) = get(&t.router, "/track", Some("hy_prefs=en.0")).await;
    assert!(body.contains("Track my petition"));
    assert!(body.contains("method=\"post\""));
    t.db.cleanup().await.unwrap();
}

/// 网上公开 through the portal: the consent ticked at the "ask" step travels through the
/// remaining steps; the replied case then appears, masked, on `/replies` and in
/// `GET /api/v1/public/search`, a case without consent never does, and withdrawing the consent
/// on the tracking page takes it out.
#[tokio::test]
async fn a_reply_is_published_only_with_consent_and_until_withdrawn() {
    let t = start().await;
    let reg = staff("user:reg", "4406-xfj", &[Role::Registrar]);
    let handler = staff("user:h", "4406-zj", &[Role::Handler, Role::UnitHead]);
    let mut creds = Vec::new();
    for publish in [true, false] {
        let (_, body) = get(&t.router, "/submit", None).await;
        let id = hidden(&body, "draft");
        let mut f = draft(&id, "ask", "next");
        if publish {
            f.push(("publish", "1"));
        }
        let (status, body) = post(&t.router, "/submit", &f, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if publish {
            assert_eq!(hidden(&body, "publish"), "1");
        } else {
            assert!(!body.contains("name=\"publish\""), "{body}");
        }
        let mut f = draft(&id, "review", "submit");
        if publish {
            f.push(("publish", "1"));
        }
        let (_, body) = post(&t.router, "/submit", &f, None).await;
        let (code, secret) = receipt_of(&body);
        let case = t
            .app
            .store()
            .case_by_receipt(&code.replace('-', ""))
            .await
            .unwrap()
            .unwrap()
            .0;
        for (actor, command) in [
            (
                reg.clone(),
                Command::Register {
                    class: StatutoryClass::Appeal(AppealRoute::PetitionProcedure),
                    category: None,
                    accused: vec![],
                },
            ),
            (
                reg.clone(),
                Command::Route {
                    kind: RouteKind::Forward,
                    unit: UnitId::new("4406-zj"),
                },
            ),
            (handler.clone(), Command::Accept),
            (
                handler.clone(),
                Command::Reply {
                    opinion: HandlingOpinion {
                        request: doc("请求修复路灯"),
                        facts: doc("经查，路灯线路老化，已电话告知13912345678"),
                        reasons: doc("属于市政维护范围"),
                        legal_basis: doc("《城市道路管理条例》"),
                        decision: Decision::Support,
                    },
                },
            ),
        ] {
            t.app
                .execute(actor, case.clone(), command, None)
                .await
                .unwrap();
        }
        creds.push((code, secret));
    }
    let (status, body) = get(&t.router, "/replies?q=%E8%B7%AF%E7%81%AF", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("共 1 件"), "{body}");
    assert!(body.contains("小区路灯不亮"), "{body}");
    assert!(body.contains("佛山市住建局"), "{body}");
    assert!(body.contains("139****5678"), "{body}");
    assert!(
        !body.contains("13912345678") && !body.contains("张三"),
        "{body}"
    );
    let (status, json) = get(
        &t.router,
        "/api/v1/public/search?q=%E8%B7%AF%E7%81%AF",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["total"], 1, "{json}");
    assert!(
        !json.contains("13912345678") && !json.contains("张三"),
        "{json}"
    );
    assert!(v["items"][0].get("receipt_code").is_none());
    // A bad query: a message next to the field, a stable code in the API.
    let (status, body) = get(&t.router, "/replies?q=%22", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("id=\"e-q\""), "{body}");
    let (status, json) = get(&t.router, "/api/v1/public/search?q=a&limit=50", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    assert!(json.contains("search_page_too_deep"), "{json}");

    // The petitioner without consent sees no withdraw form; the one with it withdraws.
    let no = [
        ("receipt_code", creds[1].0.as_str()),
        ("secret", creds[1].1.as_str()),
    ];
    let (_, body) = post(&t.router, "/track", &no, None).await;
    assert!(!body.contains("action=\"/track/unpublish\""), "{body}");
    let yes = [
        ("receipt_code", creds[0].0.as_str()),
        ("secret", creds[0].1.as_str()),
    ];
    let (_, body) = post(&t.router, "/track", &yes, None).await;
    assert!(body.contains("action=\"/track/unpublish\""), "{body}");
    let (status, body) = post(&t.router, "/track/unpublish", &yes, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("已撤回公开同意"), "{body}");
    assert!(!body.contains("action=\"/track/unpublish\""), "{body}");
    let (_, body) = get(&t.router, "/replies?q=%E8%B7%AF%E7%81%AF", None).await;
    assert!(body.contains("共 0 件"), "{body}");
    t.db.cleanup().await.unwrap();
}
