//! The leader's view and 包案 through the real router (SQLite, or PostgreSQL when
//! HUIYIN_TEST_DATABASE_URL is set): the awaiting, in-charge and instructed lists within the
//! leader's scope, instructing and taking charge by form, the case page's 包案领导, who may and
//! may not take charge, releasing and handing over.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{T, section};
use huiyin_domain::case::{Actor, Command, Role};
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_domain::values::Reason;

async fn setup() -> T {
    let t = T::start().await;
    t.unit(
        "45-xfj",
        "广西壮族自治区信访局",
        "petition_bureau",
        "45",
        "0-xfj",
    )
    .await;
    t.user("dengji", "4406-xfj", "registrar").await;
    t
}

#[tokio::test]
async fn the_leader_view_lists_awaiting_in_charge_and_instructed_cases_in_scope() {
    let t = setup().await;
    let sheng = t.named_user("lingdao", "王省长", "44-xfj", "leader").await;
    t.named_user("rs.lingdao", "李局长", "4406-rs", "leader")
        .await;
    t.named_user("gx.lingdao", "赵主任", "45-xfj", "leader")
        .await;
    let (reg, reg_csrf) = t.login("dengji").await;
    let a = t.intake(&reg, &reg_csrf, "路灯损坏待修").await;
    let b = t.intake(&reg, &reg_csrf, "小区积水严重").await;
    t.register_and_route(&reg, &reg_csrf, &a, "4406-zj").await;

    let (lead, csrf) = t.login("lingdao").await;
    let page = t.get("/staff/leader", &lead).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let awaiting = section(&page.body, "awaiting");
    assert!(awaiting.contains("路灯损坏待修") && awaiting.contains("小区积水严重"));
    assert!(awaiting.contains(&format!("/staff/cases/{a}#act-instruct")));
    assert!(!section(&page.body, "in-charge").contains("/staff/cases/"));
    assert!(!section(&page.body, "instructed").contains("/staff/cases/"));

    // 阅批 on A: it moves from awaiting to instructed.
    let res = t
        .act(
            &lead,
            &csrf,
            &a,
            "instruct",
            &[("text", "请依法依规尽快处理")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // 包案 on B (the leader's unit is above the receiving bureau).
    let case_b = t.get(&format!("/staff/cases/{b}"), &lead).await;
    assert!(
        case_b.body.contains("id=\"act-take_charge\""),
        "{}",
        case_b.body
    );
    assert!(case_b.body.contains("尚无领导包案"));
    let res = t.act(&lead, &csrf, &b, "take_charge", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);

    let page = t.get("/staff/leader", &lead).await;
    let awaiting = section(&page.body, "awaiting");
    assert!(!awaiting.contains("路灯损坏待修") && awaiting.contains("小区积水严重"));
    assert!(section(&page.body, "instructed").contains("路灯损坏待修"));
    let in_charge = section(&page.body, "in-charge");
    assert!(in_charge.contains("小区积水严重") && !in_charge.contains("路灯损坏待修"));

    // The case page names the leader in charge (包案领导).
    let case_b = t.get(&format!("/staff/cases/{b}"), &lead).await;
    let side = section(&case_b.body, "in-charge");
    assert!(
        side.contains("王省长") && side.contains("广东省信访局"),
        "{side}"
    );
    assert!(!case_b.body.contains("id=\"act-take_charge\""));
    assert!(case_b.body.contains("id=\"act-release_charge\""));
    let stored = t.app.store().charges_of(&b).await.unwrap();
    assert_eq!(stored, vec![(sheng.clone(), Some("44-xfj".to_string()))]);

    // A leader of a sibling department sees the region's cases but may not take charge.
    let (rs, rs_csrf) = t.login("rs.lingdao").await;
    let page = t.get("/staff/leader", &rs).await;
    assert!(section(&page.body, "awaiting").contains("小区积水严重"));
    assert!(!section(&page.body, "in-charge").contains("/staff/cases/"));
    let case_b = t.get(&format!("/staff/cases/{b}"), &rs).await;
    assert_eq!(case_b.status, StatusCode::OK);
    assert!(!case_b.body.contains("id=\"act-take_charge\""));
    // The page offers it no form; a forged post is refused with the reason.
    let version = t
        .app
        .store()
        .case(&CaseId::new(b.clone()))
        .await
        .unwrap()
        .unwrap()
        .state
        .version
        .to_string();
    let res = t
        .post(
            &format!("/staff/cases/{b}/act"),
            &rs,
            &[
                ("_csrf", &rs_csrf),
                ("_action", "take_charge"),
                ("_version", &version),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert!(res.body.contains("只有办理单位或其上级单位的领导可以包案"));
    assert_eq!(t.app.store().charges_of(&b).await.unwrap().len(), 1);

    // Another province's leader sees none of them.
    let (gx, _) = t.login("gx.lingdao").await;
    let page = t.get("/staff/leader", &gx).await;
    assert!(!page.body.contains("小区积水严重") && !page.body.contains("路灯损坏待修"));

    // Releasing the charge empties the list and the case page's 包案领导.
    let res = t
        .act(
            &lead,
            &csrf,
            &b,
            "release_charge",
            &[("reason", "已协调解决")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = t.get("/staff/leader", &lead).await;
    assert!(!section(&page.body, "in-charge").contains("/staff/cases/"));
    assert!(t.app.store().charges_of(&b).await.unwrap().is_empty());
    let case_b = t.get(&format!("/staff/cases/{b}"), &lead).await;
    assert!(case_b.body.contains("尚无领导包案"));
    assert!(
        case_b.body.contains("解除包案"),
        "the timeline shows the release"
    );
    t.finish().await;
}

#[tokio::test]
async fn charge_is_handed_over_only_to_a_leader_who_could_take_it() {
    let t = setup().await;
    let sheng = t.named_user("lingdao", "王省长", "44-xfj", "leader").await;
    let zj = t
        .named_user("zj.lingdao", "陈局长", "4406-zj", "leader")
        .await;
    let rs = t
        .named_user("rs.lingdao", "李局长", "4406-rs", "leader")
        .await;
    let handler = t
        .named_user("zj.banli", "刘办理", "4406-zj", "handler")
        .await;
    let (reg, reg_csrf) = t.login("dengji").await;
    let a = t.intake(&reg, &reg_csrf, "路灯损坏待修").await;
    t.register_and_route(&reg, &reg_csrf, &a, "4406-zj").await;
    let case = CaseId::new(a.clone());
    let leader = Actor {
        id: ActorId::new(sheng.clone()),
        roles: vec![Role::Leader],
        unit: Some(UnitId::new("44-xfj")),
        oversees_case: false,
        is_case_petitioner: false,
    };
    t.app
        .execute(leader.clone(), case.clone(), Command::TakeCharge, None)
        .await
        .unwrap();
    let hand = |to: &str, unit: &str| Command::HandOverCharge {
        to: ActorId::new(to),
        to_unit: UnitId::new(unit),
        reason: Reason::parse("工作调整").unwrap(),
    };
    let code = |e: huiyin_app::AppError| match e {
        huiyin_app::AppError::Invalid(errors) => errors[0].1.code.to_string(),
        other => panic!("expected a field error, got {other:?}"),
    };
    // Not a leader, a leader of another unit than named, a leader out of reach.
    let err = t
        .app
        .execute(
            leader.clone(),
            case.clone(),
            hand(&handler, "4406-zj"),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(code(err), "charge_target_not_leader");
    let err = t
        .app
        .execute(leader.clone(), case.clone(), hand(&zj, "4406-rs"), None)
        .await
        .unwrap_err();
    assert_eq!(code(err), "charge_target_not_leader");
    let err = t
        .app
        .execute(leader.clone(), case.clone(), hand(&rs, "4406-rs"), None)
        .await
        .unwrap_err();
    assert_eq!(code(err), "charge_target_out_of_reach");
    assert_eq!(t.app.store().charges_of(&a).await.unwrap().len(), 1);
    // The handling unit's leader takes it over.
    t.app
        .execute(leader.clone(), case.clone(), hand(&zj, "4406-zj"), None)
        .await
        .unwrap();
    assert_eq!(
        t.app.store().charges_of(&a).await.unwrap(),
        vec![(zj.clone(), Some("4406-zj".to_string()))]
    );
    let (zj_session, _) = t.login("zj.lingdao").await;
    let page = t.get("/staff/leader", &zj_session).await;
    assert!(section(&page.body, "in-charge").contains("路灯损坏待修"));
    let case_page = t.get(&format!("/staff/cases/{a}"), &zj_session).await;
    assert!(case_page.body.contains("陈局长"));
    assert!(
        case_page.body.contains("移交包案"),
        "the timeline shows the hand-over"
    );
    t.finish().await;
}

/// The case ids linked from one list section, in page order.
fn linked_cases(section: &str) -> Vec<String> {
    section
        .split("href=\"/staff/cases/")
        .skip(1)
        .map(|s| s.split(['#', '"']).next().unwrap().to_string())
        .collect()
}

/// The `href` of the link whose text is `label` inside `html`.
fn link_to(html: &str, label: &str) -> Option<String> {
    let end = html.find(&format!(">{label}</a>"))?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(
        html[start..end]
            .split('"')
            .next()?
            .replace("&amp;", "&")
            .replace("&#38;", "&"),
    )
}

#[tokio::test]
async fn a_long_list_shows_its_first_rows_and_pages_through_the_rest_without_gaps() {
    let t = setup().await;
    t.named_user("lingdao", "王省长", "44-xfj", "leader").await;
    let (reg, reg_csrf) = t.login("dengji").await;
    let mut made = Vec::new();
    for i in 0..62 {
        let title = format!("第{i}号反映：路灯损坏");
        let text = format!("第{i}号：小区东门第{i}根路灯已经坏了，晚上出行不便，请尽快维修。");
        made.push(t.intake_text(&reg, &reg_csrf, &title, &text).await);
    }
    let (lead, _) = t.login("lingdao").await;

    // The overview: ten rows, the size, and a link to the whole list.
    let page = t.get("/staff/leader", &lead).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let awaiting = section(&page.body, "awaiting");
    assert_eq!(linked_cases(awaiting).len(), 10, "{awaiting}");
    assert!(awaiting.contains("共 62 件"), "{awaiting}");
    let all = link_to(awaiting, "查看全部 62 件").expect("a link to the whole list");
    assert_eq!(all, "/staff/leader?list=awaiting");
    // The empty lists have no such link.
    assert!(link_to(section(&page.body, "instructed"), "查看全部 0 件").is_none());

    // The whole list, 50 to a page, then the rest; every case once, most urgent first.
    let first = t.get(&all, &lead).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let one = section(&first.body, "awaiting");
    let mut seen = linked_cases(one);
    assert_eq!(seen.len(), 50);
    assert!(!first.body.contains("id=\"in-charge\""), "one list only");
    let next = link_to(one, "下一页").expect("a next page");
    let second = t.get(&next, &lead).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let two = section(&second.body, "awaiting");
    seen.extend(linked_cases(two));
    assert_eq!(linked_cases(two).len(), 12, "{next}");
    assert!(link_to(two, "下一页").is_none(), "no third page");
    assert_eq!(
        link_to(two, "第一页").as_deref(),
        Some("/staff/leader?list=awaiting")
    );
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 62, "no case twice, none missing");
    let mut expected = made.clone();
    expected.sort();
    assert_eq!(sorted, expected);

    // A cursor that is not a number is refused, not a server error.
    let bad = t
        .get("/staff/leader?list=awaiting&after_due=x&after_id=y", &lead)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // An unknown list is the overview.
    let other = t.get("/staff/leader?list=nope", &lead).await;
    assert!(other.body.contains("id=\"in-charge\""));
    t.finish().await;
}

#[tokio::test]
async fn the_in_charge_list_pages_open_cases_first_then_closed_ones() {
    let t = setup().await;
    let sheng = t.named_user("lingdao", "王省长", "44-xfj", "leader").await;
    let (reg, reg_csrf) = t.login("dengji").await;
    let leader = Actor {
        id: ActorId::new(sheng.clone()),
        roles: vec![Role::Leader],
        unit: Some(UnitId::new("44-xfj")),
        oversees_case: false,
        is_case_petitioner: false,
    };
    let petitioner = Actor {
        id: ActorId::new("petitioner:test"),
        roles: vec![Role::Petitioner],
        unit: None,
        oversees_case: false,
        is_case_petitioner: true,
    };
    let mut closed = Vec::new();
    for i in 0..7 {
        let text = format!("第{i}号：小区东门第{i}根路灯已经坏了，晚上出行不便。");
        let id = t
            .intake_text(&reg, &reg_csrf, &format!("包案第{i}件"), &text)
            .await;
        let case = CaseId::new(id.clone());
        t.app
            .execute(leader.clone(), case.clone(), Command::TakeCharge, None)
            .await
            .unwrap();
        if i % 3 == 0 {
            t.app
                .execute(
                    petitioner.clone(),
                    case,
                    Command::Withdraw {
                        reason: Reason::parse("问题已解决").unwrap(),
                    },
                    None,
                )
                .await
                .unwrap();
            closed.push(id);
        }
    }
    let scope = huiyin_domain::access::Scope::All;
    assert_eq!(
        t.app.store().count_in_charge(&sheng, &scope).await.unwrap(),
        (7, 4)
    );
    // Pages of three: every case once, the four open ones before the three closed ones.
    let mut seen: Vec<(bool, String)> = Vec::new();
    let mut after = None;
    loop {
        let page = t
            .app
            .store()
            .cases_in_charge(&sheng, &scope, 3, after.as_ref())
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(huiyin_store::LeaderCursor::after);
        seen.extend(page.into_iter().map(|c| (c.is_open, c.id)));
        assert!(seen.len() <= 7, "the cursor moves on");
    }
    assert_eq!(seen.len(), 7);
    assert!(seen[..4].iter().all(|(open, _)| *open), "{seen:?}");
    let mut tail: Vec<String> = seen[4..].iter().map(|(_, id)| id.clone()).collect();
    tail.sort();
    closed.sort();
    assert_eq!(tail, closed);
    // The page says how many are open.
    let (lead, _) = t.login("lingdao").await;
    let page = t.get("/staff/leader", &lead).await;
    assert!(section(&page.body, "in-charge").contains("共 7 件，未办结 4 件"));
    t.finish().await;
}
