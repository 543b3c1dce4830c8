//! Helpers shared by the application's integration tests: a fresh database (SQLite, or
//! PostgreSQL with HUIYIN_TEST_DATABASE_URL) with a small unit tree, staff and petitioner
//! actors, petitions and documents.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use huiyin_app::{App, Clock, Config, NewPetition};
use huiyin_domain::case::{Actor, Decision, HandlingOpinion, Role};
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_domain::petition::{Channel, Person, Petition, Petitioner};
use huiyin_domain::values::{
    DocumentText, PersonName, PetitionText, PhoneNumber, Reason, RegionCode, Title,
};
use huiyin_store::UnitRecord;
use huiyin_store::testing::{TestDb, fresh};

pub const BUREAU: &str = "4406-xfj";
pub const DEPT: &str = "4406-zj";

/// A fresh database with a provincial bureau, a city bureau and one department, and an app
/// on a manual clock at Monday 4 March 2024, 10:00 China time.
pub async fn start() -> (App, TestDb) {
    start_with(|_| {}).await
}

/// [`start`] with changed settings.
pub async fn start_with(change: impl FnOnce(&mut Config)) -> (App, TestDb) {
    let db = fresh().await.expect("test database");
    for (id, kind, region, parent) in [
        ("44-xfj", "petition_bureau", "44", None),
        (BUREAU, "petition_bureau", "4406", Some("44-xfj")),
        (DEPT, "department", "4406", Some(BUREAU)),
    ] {
        db.store
            .insert_unit(&UnitRecord {
                id: id.into(),
                name: format!("{id}单位"),
                kind: kind.into(),
                region_code: region.into(),
                parent_id: parent.map(str::to_string),
            })
            .await
            .unwrap();
    }
    // Monday 4 March 2024, 10:00 China time.
    let start = Utc.with_ymd_and_hms(2024, 3, 4, 2, 0, 0).unwrap();
    let mut config = Config {
        clock: Clock::manual(start),
        ..Config::default()
    };
    change(&mut config);
    let app = App::new(db.store.clone(), config);
    (app, db)
}

pub fn staff(unit: &str, roles: &[Role]) -> Actor {
    Actor {
        id: ActorId::new(format!("staff:{unit}:{roles:?}")),
        roles: roles.to_vec(),
        unit: Some(UnitId::new(unit)),
        oversees_case: false,
        is_case_petitioner: false,
    }
}

pub fn petitioner() -> Actor {
    Actor {
        id: ActorId::new("petitioner:test"),
        roles: vec![Role::Petitioner],
        unit: None,
        oversees_case: false,
        is_case_petitioner: true,
    }
}

pub fn petition(i: u64, region: &str) -> Petition {
    Petition {
        channel: [Channel::MobileWeb, Channel::OnlineWeb, Channel::Letter][(i % 3) as usize],
        petitioner: Petitioner::Named(Person {
            name: PersonName::parse("张伟").unwrap(),
            phone: Some(PhoneNumber::parse(&format!("1390000{:04}", i % 10_000)).unwrap()),
            id_card: None,
            address: None,
        }),
        group: None,
        title: Title::parse(&format!("小区路灯损坏第{i}号")).unwrap(),
        text: PetitionText::parse(&format!(
            "小区第{i}栋门前路灯损坏已经一个月，晚上出行不便，请求尽快维修。"
        ))
        .unwrap(),
        region: RegionCode::parse(region).unwrap(),
        category: Some(["城乡建设/市政", "劳动和社会保障/工资"][(i % 2) as usize].into()),
        class: None,
        attachments: Vec::new(),
        also_sent_to: Vec::new(),
        publish_consent: false,
        proxy: None,
    }
}

pub fn doc(s: &str) -> DocumentText {
    DocumentText::parse(s).unwrap()
}

pub fn reason(s: &str) -> Reason {
    Reason::parse(s).unwrap()
}

pub fn opinion(decision: Decision) -> HandlingOpinion {
    HandlingOpinion {
        request: doc("请求维修路灯"),
        facts: doc("经查，路灯线路老化"),
        reasons: doc("属于市政设施维护范围"),
        legal_basis: doc("《城市道路照明设施管理规定》"),
        decision,
    }
}

pub async fn submit(app: &App, i: u64, region: &str) -> CaseId {
    let petition = petition(i, region);
    // Letters are entered by the bureau's staff; online petitions by the petitioner.
    let actor = if petition.channel.is_online() {
        petitioner()
    } else {
        staff(BUREAU, &[Role::Registrar])
    };
    let receipt = app
        .submit(
            actor,
            NewPetition {
                petition,
                idempotency_key: None,
                received_at: None,
            },
        )
        .await
        .unwrap();
    CaseId::new(receipt.case_id)
}

/// Runs the job worker until no job is ready or running, then stops it.
pub async fn run_jobs(app: &App) -> huiyin_app::jobs::WorkerReport {
    huiyin_app::jobs::run_until_idle(app).await.unwrap()
}

/// Adds a staff user with `roles` in `unit`; returns their user id.
pub async fn user(app: &App, username: &str, unit: &str, roles: &[Role]) -> String {
    let roles: Vec<String> = roles.iter().map(|r| r.as_str().to_string()).collect();
    app.add_user(
        username,
        username,
        unit,
        &roles,
        Some("correct-horse-battery-9"),
    )
    .await
    .unwrap()
    .user
    .id
}
