//! Notices (工作通知) and broadcasts (定向发送) through the real router (SQLite, or PostgreSQL
//! when HUIYIN_TEST_DATABASE_URL is set): the handler of the unit a case was forwarded to sees
//! the notice and its count in the frame and marks it read; an administrator defines a group
//! by form, a leader sends to it, the delivery page lists each person; bad forms are refused
//! next to the field, and people without the role are turned away.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{T, hidden, section};

#[tokio::test]
async fn the_unit_hears_of_its_case_and_a_leader_broadcasts_to_a_group() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    t.named_user("zj.cb", "王承办", "4406-zj", "handler").await;
    t.named_user("rs.fzr", "李负责", "4406-rs", "unit_head")
        .await;
    t.admin("guanli", "44-xfj").await;
    t.user("lingdao", "44-xfj", "leader").await;
    let (reg, reg_csrf) = t.login("dengji").await;
    let case = t.intake(&reg, &reg_csrf, "小区电梯长期停运").await;
    t.register_and_route(&reg, &reg_csrf, &case, "4406-zj")
        .await;
    huiyin_app::jobs::run_until_idle(&t.app).await.unwrap();

    // The handler sees the count in the frame and the notice, linked to the case.
    let (zj, zj_csrf) = t.login("zj.cb").await;
    let inbox = t.get("/staff", &zj).await;
    assert!(
        inbox
            .body
            .contains("class=\"count-badge\" aria-label=\"1 条未读\">1</span>"),
        "{}",
        inbox.body
    );
    let page = t.get("/staff/notices", &zj).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("转送件："), "{}", page.body);
    assert!(page.body.contains("小区电梯长期停运"));
    assert!(page.body.contains(&format!("href=\"/staff/cases/{case}\"")));
    let id = hidden(&page.body, "id");
    let res = t
        .post(
            "/staff/notices/read",
            &zj,
            &[
                ("_csrf", &zj_csrf),
                ("id", &id),
                ("back", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    // Back to the list only, never elsewhere.
    let page = t.get("/staff/notices?unread=1", &zj).await;
    assert!(page.body.contains("没有未读通知"), "{}", page.body);
    assert!(!t.get("/staff", &zj).await.body.contains("count-badge\""));
    // A form without the session's token changes nothing.
    let res = t
        .post("/staff/notices/read", &zj, &[("_csrf", "forged")])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // The handler has no broadcasts page.
    assert!(!page.body.contains("href=\"/staff/broadcasts\""));
    assert_eq!(
        t.get("/staff/broadcasts", &zj).await.status,
        StatusCode::FORBIDDEN
    );

    // An administrator defines a group: handlers and unit heads of 佛山 departments.
    let (adm, adm_csrf) = t.login("guanli").await;
    let bad = t
        .post(
            "/staff/broadcasts/groups",
            &adm,
            &[
                ("_csrf", &adm_csrf),
                ("name", "佛山市职能部门"),
                ("region_code", "9999"),
                ("kinds", "department"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("没有行政区划代码 9999"), "{}", bad.body);
    // What was typed and ticked is shown again.
    assert!(bad.body.contains("value=\"佛山市职能部门\""));
    assert!(bad.body.contains("value=\"department\" checked"));
    let res = t
        .post(
            "/staff/broadcasts/groups",
            &adm,
            &[
                ("_csrf", &adm_csrf),
                ("name", "佛山市职能部门"),
                ("region_code", "4406"),
                ("kinds", "department"),
                ("roles", "handler"),
                ("roles", "unit_head"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = t.get("/staff/broadcasts", &adm).await;
    let groups = section(&page.body, "groups");
    assert!(groups.contains("佛山市职能部门"), "{groups}");
    assert!(groups.contains("职能部门"));
    let group_id = page
        .body
        .split("<option value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    assert!(
        page.body.contains("佛山市职能部门（2 人）"),
        "{}",
        page.body
    );

    // A leader sends to it; an empty title is refused next to the field, nothing sent.
    let (ld, ld_csrf) = t.login("lingdao").await;
    let bad = t
        .post(
            "/staff/broadcasts",
            &ld,
            &[
                ("_csrf", &ld_csrf),
                ("group_id", &group_id),
                ("kind", "instruction"),
                ("title", ""),
                ("body", "请各单位落实领导接访制度。"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("id=\"send-title-error\""), "{}", bad.body);
    assert!(bad.body.contains("请各单位落实领导接访制度。"));
    let res = t
        .post(
            "/staff/broadcasts",
            &ld,
            &[
                ("_csrf", &ld_csrf),
                ("group_id", &group_id),
                ("kind", "instruction"),
                ("title", "关于做好节前信访工作的通知"),
                ("body", "请各单位落实领导接访制度。\n节日期间保持值班。"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let location = res.location.clone().unwrap();
    assert!(location.starts_with("/staff/broadcasts/"));
    huiyin_app::jobs::run_until_idle(&t.app).await.unwrap();

    // Both people have it; the delivery page lists them, with who has read it.
    let page = t.get("/staff/notices", &zj).await;
    assert!(
        page.body.contains("关于做好节前信访工作的通知"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<p>节日期间保持值班。</p>"));
    let id = hidden(&page.body, "id");
    t.post(
        "/staff/notices/read",
        &zj,
        &[("_csrf", &zj_csrf), ("id", &id)],
    )
    .await;
    let detail = t.get(&location, &ld).await;
    assert_eq!(detail.status, StatusCode::OK);
    let delivery = section(&detail.body, "delivery");
    assert!(
        delivery.contains("送达 2 人 · 已读 1 人 · 邮件 0 封"),
        "{delivery}"
    );
    assert!(delivery.contains("王承办") && delivery.contains("李负责"));
    assert!(delivery.contains("佛山市住建局") && delivery.contains("佛山市人社局"));
    // The registrar of the bureau is not in the group.
    assert!(!delivery.contains("测试用户"));

    t.finish().await;
}

#[tokio::test]
async fn an_administrator_sets_an_email_address_checked_when_saved() {
    let t = T::start().await;
    t.admin("guanli", "44-xfj").await;
    t.user("zj.cb", "4406-zj", "handler").await;
    let (adm, csrf) = t.login("guanli").await;
    let bad = t
        .post(
            "/staff/admin/users/zj.cb/email",
            &adm,
            &[("_csrf", &csrf), ("email", "wang at zj")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("电子邮箱格式不对"), "{}", bad.body);
    let ok = t
        .post(
            "/staff/admin/users/zj.cb/email",
            &adm,
            &[("_csrf", &csrf), ("email", "wang@zj.example.gov.cn")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.body.contains("电子邮箱已保存"));
    assert!(ok.body.contains("value=\"wang@zj.example.gov.cn\""));
    // Only administrators.
    let (zj, zj_csrf) = t.login("zj.cb").await;
    let res = t
        .post(
            "/staff/admin/users/zj.cb/email",
            &zj,
            &[("_csrf", &zj_csrf), ("email", "x@y.cn")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    t.finish().await;
}
