//! The early-warning page and API (预警): scope, nav, figures in words and case links,
//! acknowledgement and sending to a group through CSRF-checked forms, zh and en. Both databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::*;
use huiyin_app::NewPetition;
use huiyin_app::staff_notify::GroupSpec;
use huiyin_domain::case::{Actor, Role};
use huiyin_domain::ids::{ActorId, UnitId};
use huiyin_domain::petition::{Channel, Person, Petition, Petitioner};
use huiyin_domain::values::{PersonName, PetitionText, PhoneNumber, RegionCode, Title};

const COPY: &str = "我们是幸福小区的业主，开发商拖延交房已经两年，小区配套的学校和道路至今没有建设，多次反映无人处理，请求政府督促开发商履行合同、尽快交房。";

fn petition(phone: u32) -> Petition {
    Petition {
        channel: Channel::OnlineWeb,
        petitioner: Petitioner::Named(Person {
            name: PersonName::parse("李明").unwrap(),
            phone: Some(PhoneNumber::parse(&format!("1380000{phone:04}")).unwrap()),
            id_card: None,
            address: None,
        }),
        group: None,
        title: Title::parse("要求交房").unwrap(),
        text: PetitionText::parse(COPY).unwrap(),
        region: RegionCode::parse("440604").unwrap(),
        category: Some("城乡建设/房地产".into()),
        class: None,
        attachments: Vec::new(),
        also_sent_to: Vec::new(),
        publish_consent: false,
        proxy: None,
    }
}

/// Five petitioners, one text, at 440604: one group warning. Returns its id and the cases.
async fn group_warning(t: &T) -> (String, Vec<String>) {
    let petitioner = Actor {
        id: ActorId::new("petitioner:test"),
        roles: vec![Role::Petitioner],
        unit: None,
        oversees_case: false,
        is_case_petitioner: true,
    };
    let mut cases = Vec::new();
    for phone in 0..5 {
        let r = t
            .app
            .submit(
                petitioner.clone(),
                NewPetition {
                    petition: petition(phone),
                    idempotency_key: None,
                    received_at: None,
                },
            )
            .await
            .unwrap();
        cases.push(r.case_id);
    }
    let scan = t.app.scan_warnings(t.app.now()).await.unwrap();
    assert_eq!(scan.new.get("group"), Some(&1));
    let system = Actor {
        id: ActorId::new("system"),
        roles: vec![Role::System],
        unit: None,
        oversees_case: false,
        is_case_petitioner: false,
    };
    let list = t
        .app
        .warnings(
            &system,
            &huiyin_app::warnings::WarningQuery {
                kind: Some("group".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    (list[0].id.clone(), cases)
}

#[tokio::test]
async fn the_warning_page_is_scoped_and_its_forms_are_csrf_checked() {
    let t = T::start().await;
    let (id, cases) = group_warning(&t).await;
    t.user("sup44", "44-xfj", "supervisor").await;
    t.unit("45-xfj", "广西信访局", "petition_bureau", "45", "0-xfj")
        .await;
    t.user("sup45", "45-xfj", "supervisor").await;
    t.user("zjhandler", "4406-zj", "handler").await;

    // The supervisor of the province: the nav link, the warning in words, links to its cases.
    let (cookie, csrf) = t.login("sup44").await;
    let page = t.get("/staff/warnings", &cookie).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("href=\"/staff/warnings\""));
    assert!(page.body.contains("疑似集体访"));
    assert!(
        page.body.contains("5名信访人提交内容高度相似的信访5件"),
        "{}",
        page.body
    );
    for case in &cases {
        assert!(page.body.contains(&format!("/staff/cases/{case}")));
    }
    assert!(
        page.body
            .contains(&format!("/staff/warnings/{id}/acknowledge"))
    );
    assert!(!page.body.contains("style="));
    // English with large type (适老化).
    let en = t
        .get("/staff/warnings", &format!("{cookie}; hy_prefs=en.1"))
        .await;
    assert_eq!(en.status, StatusCode::OK);
    assert!(en.body.contains("Possible group petition"));
    assert!(
        en.body
            .contains("5 petitioners sent 5 near-identical petitions"),
        "{}",
        en.body
    );
    // Filters: another kind shows none; a bad region is explained.
    let other = t.get("/staff/warnings?kind=falling_unit", &cookie).await;
    assert!(!other.body.contains(&format!("w-{id}")));
    assert!(other.body.contains("当前没有预警"));
    let bad = t.get("/staff/warnings?region=44x", &cookie).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("行政区划代码应为2、4、6或9位数字"));

    // The API: the same warning, as JSON.
    let api = t.get("/api/v1/warnings?kind=group", &cookie).await;
    assert_eq!(api.status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(json["items"][0]["id"], id.as_str());
    assert_eq!(json["items"][0]["figures"]["petitioners"], 5);
    let bad = t.get("/api/v1/warnings?kind=rumour", &cookie).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);

    // Another province's supervisor: nothing at all, not even in the API.
    let (gx, _) = t.login("sup45").await;
    let page = t.get("/staff/warnings", &gx).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("当前没有预警"));
    assert!(!page.body.contains(&id));
    assert!(!cases.iter().any(|c| page.body.contains(c.as_str())));
    let api = t.get("/api/v1/warnings", &gx).await;
    let json: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(json["items"].as_array().unwrap().len(), 0);
    // A department's handler: no link, and the page is refused.
    let (zj, _) = t.login("zjhandler").await;
    let inbox = t.get("/staff", &zj).await;
    assert!(!inbox.body.contains("href=\"/staff/warnings\""));
    assert_eq!(
        t.get("/staff/warnings", &zj).await.status,
        StatusCode::FORBIDDEN
    );

    // Acknowledge: refused without the CSRF token, explained without a note, then done.
    let url = format!("/staff/warnings/{id}/acknowledge");
    let forged = t.post(&url, &cookie, &[("note", "已阅")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let empty = t
        .post(&url, &cookie, &[("_csrf", &csrf), ("note", " ")])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("请填写处理意见"));
    let open = t.get("/staff/warnings?status=open", &cookie).await;
    assert!(open.body.contains(&format!("w-{id}")), "still open");
    let done = t
        .post(
            &url,
            &cookie,
            &[
                ("_csrf", &csrf),
                ("note", "已安排属地核实"),
                ("back", "/staff/warnings?kind=group"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/staff/warnings?kind=group#w-{id}").as_str())
    );
    let page = t.get("/staff/warnings", &cookie).await;
    assert!(page.body.contains("已确认"));
    assert!(page.body.contains("已安排属地核实"));
    assert!(!page.body.contains(&url), "no second acknowledge form");
    // An off-site `back` is not followed.
    let again = t
        .post(
            &url,
            &cookie,
            &[("_csrf", &csrf), ("note", "x"), ("back", "//evil.example")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // Send to a broadcast group: refused without the token, recorded with it.
    let admin = Actor {
        id: ActorId::new("admin"),
        roles: vec![Role::Administrator],
        unit: Some(UnitId::new("0-xfj")),
        oversees_case: false,
        is_case_petitioner: false,
    };
    let group = t
        .app
        .create_broadcast_group(
            &admin,
            &GroupSpec {
                name: "全省信访部门".into(),
                region_code: "44".into(),
                ..GroupSpec::default()
            },
        )
        .await
        .unwrap();
    let page = t.get("/staff/warnings", &cookie).await;
    assert!(page.body.contains("全省信访部门"));
    let url = format!("/staff/warnings/{id}/send");
    let forged = t.post(&url, &cookie, &[("group_id", &group.id)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let sent = t
        .post(
            &url,
            &cookie,
            &[
                ("_csrf", &csrf),
                ("group_id", &group.id),
                ("note", "请关注"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let broadcasts = t.app.store().warning_broadcasts(&id).await.unwrap();
    assert_eq!(broadcasts.len(), 1);
    let b = t
        .app
        .store()
        .broadcast(&broadcasts[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.warning_id.as_deref(), Some(id.as_str()));
    assert!(b.body.contains("请关注"));
    let page = t.get("/staff/warnings", &cookie).await;
    assert!(page.body.contains(&format!("/staff/broadcasts/{}", b.id)));
    t.finish().await;
}
