//! 网上公开 (issue 7): the public search shows only replied cases whose petitioner agreed to
//! publication, never a 检举控告, never notes, every text masked; a withdrawn consent takes the
//! case out at once. Runs on SQLite, or PostgreSQL with HUIYIN_TEST_DATABASE_URL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use huiyin_app::search::SortOrder;
use huiyin_app::{App, AppError, Config, NewPetition};
use huiyin_domain::case::{Actor, Command, Decision, HandlingOpinion, Rejection, Role, RouteKind};
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_domain::petition::{AppealRoute, Channel, Person, Petition, Petitioner, StatutoryClass};
use huiyin_domain::values::{
    DocumentText, PersonName, PetitionText, PhoneNumber, RegionCode, Title,
};
use huiyin_store::UnitRecord;
use huiyin_store::testing::fresh;

const BUREAU: &str = "4406-xfj";
const DEPT: &str = "4406-zj";

fn staff(unit: &str, roles: &[Role]) -> Actor {
    Actor {
        id: ActorId::new(format!("staff:{unit}:{roles:?}")),
        roles: roles.to_vec(),
        unit: Some(UnitId::new(unit)),
        oversees_case: false,
        is_case_petitioner: false,
    }
}

fn petitioner() -> Actor {
    Actor {
        id: ActorId::new("petitioner:test"),
        roles: vec![Role::Petitioner],
        unit: None,
        oversees_case: false,
        is_case_petitioner: true,
    }
}

fn doc(s: &str) -> DocumentText {
    DocumentText::parse(s).unwrap()
}

/// Submits, registers (as `class`), forwards, accepts and — when `reply` — replies.
async fn case(app: &App, i: u32, consent: bool, class: StatutoryClass, reply: bool) -> CaseId {
    let petition = Petition {
        channel: Channel::OnlineWeb,
        petitioner: Petitioner::Named(Person {
            name: PersonName::parse("张伟").unwrap(),
            phone: Some(PhoneNumber::parse(&format!("1390000{i:04}")).unwrap()),
            id_card: None,
            address: None,
        }),
        group: None,
        title: Title::parse(&format!("小区路灯损坏第{i}号")).unwrap(),
        text: PetitionText::parse(&format!(
            "南海区小区第{i}栋门前路灯损坏已经一个月，请联系我13812345678，请求尽快维修。"
        ))
        .unwrap(),
        region: RegionCode::parse("440604").unwrap(),
        category: Some("城乡建设/市政".into()),
        class: None,
        attachments: Vec::new(),
        also_sent_to: Vec::new(),
        publish_consent: consent,
        proxy: None,
    };
    let receipt = app
        .submit(
            petitioner(),
            NewPetition {
                petition,
                idempotency_key: None,
                received_at: None,
            },
        )
        .await
        .unwrap();
    let id = CaseId::new(receipt.case_id);
    let registrar = staff(BUREAU, &[Role::Registrar]);
    let handler = staff(DEPT, &[Role::Handler]);
    let head = staff(DEPT, &[Role::UnitHead, Role::Handler]);
    let mut steps = vec![
        (
            registrar.clone(),
            Command::Register {
                class,
                category: None,
                accused: Vec::new(),
            },
        ),
        (
            registrar,
            Command::Route {
                kind: RouteKind::Forward,
                unit: UnitId::new(DEPT),
            },
        ),
        (handler.clone(), Command::Accept),
        (
            handler,
            Command::AddNote {
                text: doc("内部备注：保密词青龙"),
            },
        ),
    ];
    if reply {
        steps.push((
            head,
            Command::Reply {
                opinion: HandlingOpinion {
                    request: doc("请求维修路灯"),
                    facts: doc("经查，路灯线路老化。已电话联系信访人13812345678"),
                    reasons: doc("属于市政设施维护范围"),
                    legal_basis: doc("《城市道路照明设施管理规定》"),
                    decision: Decision::Support,
                },
            },
        ));
    }
    for (actor, command) in steps {
        app.execute(actor, id.clone(), command, None).await.unwrap();
    }
    id
}

#[tokio::test]
async fn only_consenting_replied_non_accusation_cases_are_public_and_masked() {
    let db = fresh().await.unwrap();
    for (id, kind, parent) in [
        (BUREAU, "petition_bureau", None),
        (DEPT, "department", Some(BUREAU)),
    ] {
        db.store
            .insert_unit(&UnitRecord {
                id: id.into(),
                name: format!("{id}单位"),
                kind: kind.into(),
                region_code: "4406".into(),
                parent_id: parent.map(str::to_string),
            })
            .await
            .unwrap();
    }
    let app = App::new(db.store.clone(), Config::default());
    let appeal = StatutoryClass::Appeal(AppealRoute::PetitionProcedure);
    let public = case(&app, 1, true, appeal, true).await;
    let _no_consent = case(&app, 2, false, appeal, true).await;
    let _accusation = case(&app, 3, true, StatutoryClass::Accusation, true).await;
    let _not_replied = case(&app, 4, true, appeal, false).await;

    let answer = app
        .public_search("路灯", SortOrder::Relevance, 0, 10)
        .await
        .unwrap();
    assert_eq!(answer.total, 1, "{answer:?}");
    assert_eq!(answer.items.len(), 1);
    let item = &answer.items[0];
    // The masking is conservative: "第1号" reads like a house number and is hidden too.
    assert!(item.title.starts_with("小区路灯损坏"), "{}", item.title);
    assert_eq!(item.unit_name, "4406-zj单位");
    let shown = serde_json::to_string(&answer).unwrap();
    assert!(!shown.contains("13812345678"), "phone masked: {shown}");
    assert!(shown.contains("138****5678"), "{shown}");
    assert!(
        !shown.contains("13900000001"),
        "no petitioner contact: {shown}"
    );
    assert!(!shown.contains("张伟"), "no petitioner name: {shown}");
    assert!(!shown.contains("青龙"), "no note: {shown}");
    // Part of a longer word finds it: `南海` is inside the one token `南海区` (search mode).
    let part = app
        .public_search("南海", SortOrder::Relevance, 0, 10)
        .await
        .unwrap();
    assert_eq!(part.total, 1, "{part:?}");
    // Words that occur only in notes, and an empty query, show nothing more.
    let notes = app
        .public_search("青龙", SortOrder::Relevance, 0, 10)
        .await
        .unwrap();
    assert_eq!(notes.total, 0);
    let all = app
        .public_search("", SortOrder::Relevance, 0, 10)
        .await
        .unwrap();
    assert_eq!(all.total, 1);
    // Bad input is refused with the search codes; paging is bounded.
    for (q, offset, limit) in [("\"路灯", 0, 10), ("路灯", 0, 21), ("路灯", 195, 10)] {
        match app
            .public_search(q, SortOrder::Relevance, offset, limit)
            .await
        {
            Err(AppError::Invalid(errors)) => assert_eq!(errors[0].0, "q"),
            other => panic!("{q} {offset} {limit}: {other:?}"),
        }
    }

    // Only the petitioner withdraws the consent, once; then the case is gone at once.
    let staff_try = app
        .execute(
            staff(BUREAU, &[Role::Registrar]),
            public.clone(),
            Command::WithdrawPublicationConsent,
            None,
        )
        .await;
    assert!(
        matches!(
            staff_try,
            Err(AppError::Rejected(Rejection::Forbidden { .. }))
        ),
        "{staff_try:?}"
    );
    app.execute(
        petitioner(),
        public.clone(),
        Command::WithdrawPublicationConsent,
        None,
    )
    .await
    .unwrap();
    let again = app
        .execute(
            petitioner(),
            public.clone(),
            Command::WithdrawPublicationConsent,
            None,
        )
        .await;
    assert!(
        matches!(again, Err(AppError::Rejected(Rejection::NotAllowed(_)))),
        "{again:?}"
    );
    let after = app
        .public_search("路灯", SortOrder::Relevance, 0, 10)
        .await
        .unwrap();
    assert_eq!(after.total, 0, "{after:?}");
    assert!(after.items.is_empty());
    // The log replays to the stored state and the chain still verifies.
    assert!(db.store.verify(true).await.unwrap().ok());
    db.cleanup().await.unwrap();
}
