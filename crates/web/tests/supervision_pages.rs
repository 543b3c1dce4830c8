//! 督办 through the real router (SQLite, or PostgreSQL when HUIYIN_TEST_DATABASE_URL is set):
//! a supervisor of the bureau urges and issues a 督办单 by form, the case page shows the order
//! and its named supervision, only the supervised unit answers it in writing, a bad reply limit
//! is refused with the reason, and the supervisors' view lists the case as named, awaiting its
//! answer, stalled and overdue as each becomes true.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{T, section};

#[tokio::test]
async fn a_supervisor_issues_an_order_and_the_unit_answers_it_in_writing() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    t.user("duban", "4406-xfj", "supervisor").await;
    t.user("zj.cb", "4406-zj", "handler").await;
    t.user("rs.cb", "4406-rs", "handler").await;
    let (reg, reg_csrf) = t.login("dengji").await;
    let case = t.intake(&reg, &reg_csrf, "小区电梯长期停运").await;
    t.register_and_route(&reg, &reg_csrf, &case, "4406-zj")
        .await;
    let (zj, zj_csrf) = t.login("zj.cb").await;
    let res = t.act(&zj, &zj_csrf, &case, "accept", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);

    // The supervisor is offered 催办 and 督办; the handler is not.
    let (sup, sup_csrf) = t.login("duban").await;
    let page = t.get(&format!("/staff/cases/{case}"), &sup).await;
    assert!(page.body.contains("id=\"act-urge\""), "{}", page.body);
    assert!(page.body.contains("id=\"act-supervise\""));
    assert!(!page.body.contains("id=\"act-answer_supervision\""));
    let page = t.get(&format!("/staff/cases/{case}"), &zj).await;
    assert!(!page.body.contains("id=\"act-supervise\""));

    let res = t
        .act(
            &sup,
            &sup_csrf,
            &case,
            "urge",
            &[("text", "请加快办理进度")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // A reply limit of 0 working days is refused with the reason, nothing written.
    let bad = t
        .act(
            &sup,
            &sup_csrf,
            &case,
            "supervise",
            &[
                ("form", "on_site"),
                ("text", "请书面反馈办理情况"),
                ("reply_working_days", "0"),
                ("named", "true"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(
        bad.body.contains("督办单的答复期限应为1到60个工作日"),
        "{}",
        bad.body
    );
    let res = t
        .act(
            &sup,
            &sup_csrf,
            &case,
            "supervise",
            &[
                ("form", "on_site"),
                ("text", "请书面反馈办理情况"),
                ("reply_working_days", "3"),
                ("named", "true"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // The supervisors' view lists it as named and awaiting its answer.
    let desk = t.get("/staff/supervision", &sup).await;
    assert_eq!(desk.status, StatusCode::OK);
    assert!(section(&desk.body, "named").contains("小区电梯长期停运"));
    assert!(section(&desk.body, "open-orders").contains("小区电梯长期停运"));
    assert!(!section(&desk.body, "overdue").contains("小区电梯长期停运"));
    let one = t.get("/staff/supervision?list=named", &sup).await;
    assert!(one.body.contains("小区电梯长期停运") && one.body.contains("返回督办首页"));
    let page = t.get(&format!("/staff/cases/{case}"), &zj).await;
    assert!(page.body.contains("id=\"supervision\""));
    assert!(page.body.contains("上门督办") && page.body.contains("挂牌督办"));
    assert!(page.body.contains("待答复") && page.body.contains("佛山市信访局"));
    // Wednesday 12 March 2025 + 3 working days.
    assert!(page.body.contains("2025-03-17"), "{}", page.body);
    assert!(page.body.contains("id=\"act-answer_supervision\""));

    // Another department (which may not even open the case) cannot answer by a forged post.
    let (rs, rs_csrf) = t.login("rs.cb").await;
    let version = hidden_version(&t, &case).await;
    let forged = t
        .post(
            &format!("/staff/cases/{case}/act"),
            &rs,
            &[
                ("_csrf", &rs_csrf),
                ("_action", "answer_supervision"),
                ("_version", &version),
                ("number", "1"),
                ("text", "已核实"),
            ],
        )
        .await;
    assert!(forged.status.is_client_error(), "{}", forged.body);
    let res = t
        .act(
            &zj,
            &zj_csrf,
            &case,
            "answer_supervision",
            &[
                ("number", "1"),
                ("text", "已现场核查，电梯维修方案本周确定"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = t.get(&format!("/staff/cases/{case}"), &sup).await;
    assert!(page.body.contains("已答复"));
    assert!(page.body.contains("电梯维修方案本周确定"));
    assert!(!page.body.contains("id=\"act-answer_supervision\""));
    let desk = t.get("/staff/supervision", &sup).await;
    assert!(!section(&desk.body, "open-orders").contains("小区电梯长期停运"));
    assert!(section(&desk.body, "named").contains("小区电梯长期停运"));
    // Eleven days without an event: stalled; past the 60-day limit: overdue too.
    t.app.clock().set(t.app.now() + chrono::TimeDelta::days(11));
    // (The session has expired meanwhile.)
    let (sup, _) = t.login("duban").await;
    let desk = t.get("/staff/supervision", &sup).await;
    assert!(section(&desk.body, "stalled").contains("小区电梯长期停运"));
    assert!(!section(&desk.body, "overdue").contains("小区电梯长期停运"));
    t.app.clock().set(t.app.now() + chrono::TimeDelta::days(60));
    let (sup, _) = t.login("duban").await;
    let desk = t.get("/staff/supervision", &sup).await;
    assert!(section(&desk.body, "overdue").contains("小区电梯长期停运"));
    // A handler is not offered the view.
    let (zj, _) = t.login("zj.cb").await;
    let handler_home = t.get("/staff", &zj).await;
    assert!(
        handler_home.body.contains("href=\"/staff/search\""),
        "{}",
        handler_home.body
    );
    assert!(!handler_home.body.contains("href=\"/staff/supervision\""));
    let state = t
        .app
        .store()
        .case(&huiyin_domain::ids::CaseId::new(case.clone()))
        .await
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(state.urges, 1);
    assert!(state.supervision[0].answered_at.is_some());
    t.finish().await;
}

async fn hidden_version(t: &T, case: &str) -> String {
    t.app
        .store()
        .case(&huiyin_domain::ids::CaseId::new(case))
        .await
        .unwrap()
        .unwrap()
        .state
        .version
        .to_string()
}

#[tokio::test]
async fn the_circulars_list_prints_the_period_within_the_supervisors_scope() {
    let t = T::start().await;
    t.unit(
        "4407-xfj",
        "江门市信访局",
        "petition_bureau",
        "4407",
        "44-xfj",
    )
    .await;
    t.user("dengji", "4406-xfj", "registrar").await;
    t.user("duban", "44-xfj", "supervisor").await;
    t.user("jm.duban", "4407-xfj", "supervisor").await;
    t.user("zj.cb", "4406-zj", "handler").await;
    let (reg, reg_csrf) = t.login("dengji").await;
    let case = t.intake(&reg, &reg_csrf, "小区电梯长期停运").await;
    t.register_and_route(&reg, &reg_csrf, &case, "4406-zj")
        .await;
    let (sup, sup_csrf) = t.login("duban").await;
    let res = t
        .act(
            &sup,
            &sup_csrf,
            &case,
            "circulate",
            &[("text", "逾期未办结，予以通报")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);

    // The supervision view links to it; this month by default, the circular listed.
    let desk = t.get("/staff/supervision", &sup).await;
    assert!(desk.body.contains("href=\"/staff/supervision/circulars\""));
    let page = t.get("/staff/supervision/circulars", &sup).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let list = section(&page.body, "circulars");
    assert!(list.contains("佛山市住建局"), "{list}");
    assert!(list.contains("逾期未办结，予以通报"));
    assert!(list.contains("小区电梯长期停运"));
    assert!(list.contains("广东省信访局"));
    assert!(
        list.contains("通报期间：2025-03-01 至 2025-03-12"),
        "{list}"
    );
    assert!(list.contains("共 1 件。"));
    assert!(page.body.contains("data-print"));
    // Another period: none.
    let page = t
        .get(
            "/staff/supervision/circulars?from=2025-01-01&to=2025-02-28",
            &sup,
        )
        .await;
    assert!(section(&page.body, "circulars").contains("本期间没有通报"));
    // Another city's supervisor does not see it.
    let (jm, _) = t.login("jm.duban").await;
    let page = t.get("/staff/supervision/circulars", &jm).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("逾期未办结"), "{}", page.body);
    // Bad periods are refused with the reason; handlers have no circulars list.
    let bad = t
        .get("/staff/supervision/circulars?from=2025-13-01", &sup)
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("日期无效"));
    let bad = t
        .get(
            "/staff/supervision/circulars?from=2023-01-01&to=2025-03-01",
            &sup,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("通报列表一次最多 366 天"), "{}", bad.body);
    let (zj, _) = t.login("zj.cb").await;
    assert_eq!(
        t.get("/staff/supervision/circulars", &zj).await.status,
        StatusCode::FORBIDDEN
    );
    t.finish().await;
}

#[tokio::test]
async fn a_case_rated_unsatisfied_is_followed_up_and_leaves_the_list() {
    use huiyin_domain::case::{Actor, Command, Decision, HandlingOpinion, Role, Satisfaction};
    use huiyin_domain::ids::{ActorId, CaseId, UnitId};
    use huiyin_domain::values::DocumentText;
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    t.user("duban", "4406-xfj", "supervisor").await;
    let (reg, reg_csrf) = t.login("dengji").await;
    let case = t.intake(&reg, &reg_csrf, "小区路灯长期不亮").await;
    t.register_and_route(&reg, &reg_csrf, &case, "4406-zj")
        .await;
    let actor = |unit: &str, role: Role| Actor {
        id: ActorId::new(format!("test:{unit}:{}", role.as_str())),
        roles: vec![role],
        unit: Some(UnitId::new(unit)),
        oversees_case: false,
        is_case_petitioner: false,
    };
    let doc = |s: &str| DocumentText::parse(s).unwrap();
    let id = CaseId::new(case.clone());
    for (who, command) in [
        (actor("4406-zj", Role::Handler), Command::Accept),
        (
            actor("4406-zj", Role::UnitHead),
            Command::Reply {
                opinion: HandlingOpinion {
                    request: doc("请求修复路灯"),
                    facts: doc("经查，路灯线路老化"),
                    reasons: doc("属于市政设施维护范围"),
                    legal_basis: doc("《城市道路照明设施管理规定》"),
                    decision: Decision::Support,
                },
            },
        ),
        // The bureau records the rating the petitioner gave by phone.
        (
            actor("4406-xfj", Role::Registrar),
            Command::Rate {
                bureau: Satisfaction::Satisfied,
                unit: Satisfaction::Unsatisfied,
                comment: None,
            },
        ),
    ] {
        t.app.execute(who, id.clone(), command, None).await.unwrap();
    }

    // The bureau's registrar hears of the 回访 to make.
    huiyin_app::jobs::run_until_idle(&t.app).await.unwrap();
    let dengji = t
        .app
        .store()
        .user_by_username("dengji")
        .await
        .unwrap()
        .unwrap();
    let notices = t.app.my_notices(&dengji.id, false, None, 20).await.unwrap();
    let n = notices.iter().find(|n| n.kind == "follow_up").unwrap();
    assert!(n.body.contains("电话回访"), "{}", n.body);

    // The supervisors' view lists it as due for 回访; the case page shows it and the form.
    let (sup, _) = t.login("duban").await;
    let desk = t.get("/staff/supervision", &sup).await;
    let list = section(&desk.body, "follow-ups");
    assert!(list.contains("小区路灯长期不亮"), "{list}");
    // Its deadline there is the 回访's: ten working days from Wednesday 12 March 2025.
    assert!(list.contains("2025-03-26"), "{list}");
    let page = t.get(&format!("/staff/cases/{case}"), &reg).await;
    let follow = section(&page.body, "follow-up");
    assert!(
        follow.contains("电话回访") && follow.contains("评价不满意"),
        "{follow}"
    );
    assert!(follow.contains("待回访"));
    assert!(page.body.contains("id=\"act-record_follow_up\""));
    // A note is required; then the result is recorded.
    let bad = t
        .act(
            &reg,
            &reg_csrf,
            &case,
            "record_follow_up",
            &[
                ("method", "phone"),
                ("outcome", "basically_satisfied"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    let res = t
        .act(
            &reg,
            &reg_csrf,
            &case,
            "record_follow_up",
            &[
                ("method", "visit"),
                ("outcome", "basically_satisfied"),
                ("note", "上门回访，信访人表示路灯已修好，希望加快维修速度"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = t.get(&format!("/staff/cases/{case}"), &reg).await;
    let follow = section(&page.body, "follow-up");
    assert!(
        follow.contains("已回访") && follow.contains("基本满意"),
        "{follow}"
    );
    assert!(follow.contains("上门回访，信访人表示路灯已修好"));
    assert!(!page.body.contains("id=\"act-record_follow_up\""));
    let desk = t.get("/staff/supervision", &sup).await;
    assert!(!section(&desk.body, "follow-ups").contains("小区路灯长期不亮"));
    t.finish().await;
}
