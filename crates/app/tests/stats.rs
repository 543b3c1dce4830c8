//! Statistics counters (issue 8) through the real application on a fresh database (SQLite, or
//! PostgreSQL with HUIYIN_TEST_DATABASE_URL): the feeder's counters equal a recomputation from
//! every case after random lifecycles with catch-ups at random moments, after two feeders race,
//! and after a rebuild; indicators are scoped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{BUREAU, DEPT, doc, opinion, petitioner, reason, staff, start, submit};

use chrono::{NaiveDate, TimeDelta};
use huiyin_app::{App, Config};
use huiyin_domain::access::{Principal, RoleSet, UnitKind};
use huiyin_domain::case::{
    Actor, Command, Decision, DeclineGround, MergeReason, Role, RouteKind, Satisfaction,
};
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_domain::petition::{AppealRoute, StatutoryClass};
use huiyin_domain::stats::{IndicatorConfig, Target};
use huiyin_domain::values::RegionCode;

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// The next step of a case's lifecycle, chosen by `pick`; `None` when the case is done.
fn next_step(stage: &str, pick: u64, other: &CaseId) -> Option<(Actor, Command)> {
    let registrar = || staff(BUREAU, &[Role::Registrar]);
    let handler = || staff(DEPT, &[Role::Handler]);
    let head = || staff(DEPT, &[Role::UnitHead, Role::Handler]);
    Some(match stage {
        "submitted" => (
            registrar(),
            Command::Register {
                class: StatutoryClass::Appeal(if pick.is_multiple_of(7) {
                    AppealRoute::LawAndLitigation
                } else {
                    AppealRoute::PetitionProcedure
                }),
                category: None,
                accused: Vec::new(),
            },
        ),
        "registered" if pick.is_multiple_of(9) => (
            registrar(),
            Command::MergeInto {
                into: other.clone(),
                reason: MergeReason::Duplicate,
            },
        ),
        "registered" => (
            registrar(),
            Command::Route {
                kind: RouteKind::Forward,
                unit: UnitId::new(DEPT),
            },
        ),
        "routed" if pick.is_multiple_of(5) => (
            handler(),
            Command::Decline {
                ground: DeclineGround::OtherProcedure,
                reason: reason("属于诉讼程序"),
                guidance: reason("请向人民法院起诉"),
            },
        ),
        "routed" => (handler(), Command::Accept),
        "handling" if pick.is_multiple_of(4) => (
            handler(),
            Command::AddNote {
                text: doc("已联系信访人了解情况"),
            },
        ),
        "handling" => (
            head(),
            Command::Reply {
                opinion: opinion([Decision::Support, Decision::Explain][(pick % 2) as usize]),
            },
        ),
        "replied" if pick.is_multiple_of(3) => (
            petitioner(),
            Command::Rate {
                bureau: Satisfaction::Satisfied,
                unit: [
                    Satisfaction::Satisfied,
                    Satisfaction::BasicallySatisfied,
                    Satisfaction::Unsatisfied,
                ][(pick % 3) as usize],
                comment: None,
            },
        ),
        _ => return None,
    })
}

/// Random lifecycles on 24 cases over three months, the feeder catching up at random moments:
/// the counters always equal a recomputation from the cases, month roll-ups included.
#[tokio::test]
async fn counters_equal_a_recomputation_after_random_lifecycles() {
    let (app, _db) = start().await;
    let mut rng = Rng(42);
    let mut cases = Vec::new();
    for i in 0..24 {
        let region = ["440604", "440605", "4406"][(i % 3) as usize];
        cases.push(submit(&app, i, region).await);
        if rng.below(4) == 0 {
            app.stats_catch_up().await.unwrap();
        }
    }
    for round in 0..160 {
        let now = app.now() + TimeDelta::hours(2 + rng.below(60) as i64);
        app.clock().set(now);
        let i = rng.below(cases.len() as u64) as usize;
        let id = cases[i].clone();
        let other = cases[(i + 1) % cases.len()].clone();
        let state = app.store().case(&id).await.unwrap().unwrap().state;
        if let Some((actor, command)) = next_step(state.stage.as_str(), rng.below(1000), &other) {
            // Some steps are refused (a merge into a case that moved on): that is fine here.
            let _ = app.execute(actor, id, command, None).await;
        }
        if round % 11 == 3 {
            app.stats_catch_up().await.unwrap();
        }
    }
    let problems = app.stats_check().await.unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
    let status = app.stats_status().await.unwrap();
    assert_eq!(status.behind_events, 0);
    assert_eq!(status.fed_seq, status.head_seq);

    // A rebuild from the log gives the same counters.
    let region = Target::Region("4406".into());
    let (from, to) = (
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
    );
    let system = Principal::system();
    let config = IndicatorConfig::default();
    let before = app
        .indicators(&system, &region, from, to, &config)
        .await
        .unwrap();
    app.stats_rebuild().await.unwrap();
    assert!(app.stats_check().await.unwrap().is_empty());
    let after = app
        .indicators(&system, &region, from, to, &config)
        .await
        .unwrap();
    for (a, b) in before.indicators.iter().zip(&after.indicators) {
        assert_eq!(a.current, b.current, "{}", a.id);
    }
    let volume = after.indicators.iter().find(|i| i.id == "volume").unwrap();
    assert_eq!(volume.current.value, Some(24.0));
    // The runs went deep enough to count replies, ratings and declines.
    let figure = |id: &str| {
        after
            .indicators
            .iter()
            .find(|i| i.id == id)
            .unwrap()
            .current
            .clone()
    };
    assert!(figure("on_time_completion_rate").denominator > 0.0);
    assert!(figure("timely_acceptance_rate").denominator > 0.0);
    assert!(figure("satisfaction_rate").denominator > 0.0);
    // Nothing was received in the previous period or a year before.
    assert_eq!(volume.previous.value, Some(0.0));
    assert_eq!(volume.last_year.value, Some(0.0));
    // The county 440604 got every third petition.
    let county = app
        .indicators(&system, &Target::Region("440604".into()), from, to, &config)
        .await
        .unwrap();
    let volume = county.indicators.iter().find(|i| i.id == "volume").unwrap();
    assert_eq!(volume.current.value, Some(8.0));
}

/// Two feeders on one database (two servers, or a server and `huiyin stats rebuild`) never
/// count an event twice: the checkpoint moves only once per page.
#[tokio::test]
async fn racing_feeders_count_every_event_once() {
    let (app, db) = start().await;
    for i in 0..30 {
        let id = submit(&app, i, "440604").await;
        app.execute(
            staff(BUREAU, &[Role::Registrar]),
            id,
            Command::Register {
                class: StatutoryClass::Suggestion,
                category: None,
                accused: Vec::new(),
            },
            None,
        )
        .await
        .unwrap();
    }
    let second = App::new(db.store.clone(), Config::default());
    let (a, b) = tokio::join!(app.stats_catch_up(), second.stats_catch_up());
    a.unwrap();
    b.unwrap();
    let problems = app.stats_check().await.unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
    let day = NaiveDate::from_ymd_opt(2024, 3, 4).unwrap();
    let sums = app.store().stats_sum("r:0", day, day).await.unwrap();
    assert_eq!(sums.get("received"), Some(&30));
    assert_eq!(sums.get("received.class.suggestion"), Some(&30));
}

/// Statistics are scoped: a county department sees its own unit, not the city; a city bureau
/// sees its city and counties, not the province; a bad period is refused with its field.
#[tokio::test]
async fn indicators_are_scoped_and_periods_checked() {
    let (app, _db) = start().await;
    submit(&app, 1, "440604").await;
    app.stats_catch_up().await.unwrap();
    let principal = |unit: &str, region: &str, kind: UnitKind, roles: &[Role]| Principal {
        id: ActorId::new("p"),
        roles: RoleSet::of(roles),
        unit: Some(UnitId::new(unit)),
        region: Some(RegionCode::parse(region).unwrap()),
        unit_kind: kind,
    };
    let config = IndicatorConfig::default();
    let day = NaiveDate::from_ymd_opt(2024, 3, 4).unwrap();
    let dept = principal(DEPT, "4406", UnitKind::Other, &[Role::Handler]);
    let bureau = principal(BUREAU, "4406", UnitKind::PetitionBureau, &[Role::Registrar]);
    let city = Target::Region("4406".into());
    let county = Target::Region("440604".into());
    let province = Target::Region("44".into());
    let own = Target::Unit(UnitId::new(DEPT));
    assert!(app.indicators(&dept, &own, day, day, &config).await.is_ok());
    assert!(
        app.indicators(&dept, &city, day, day, &config)
            .await
            .is_err()
    );
    let report = app
        .indicators(&bureau, &county, day, day, &config)
        .await
        .unwrap();
    assert_eq!(report.indicators[0].current.value, Some(1.0));
    assert!(
        app.indicators(&bureau, &city, day, day, &config)
            .await
            .is_ok()
    );
    assert!(
        app.indicators(&bureau, &province, day, day, &config)
            .await
            .is_err()
    );
    let earlier = day.pred_opt().unwrap();
    let err = app
        .indicators(&bureau, &city, day, earlier, &config)
        .await
        .unwrap_err();
    assert!(
        matches!(err, huiyin_app::AppError::Invalid(ref f) if f[0].0 == "to"),
        "{err:?}"
    );
    let bad = IndicatorConfig {
        basically_satisfied_weight: 2.0,
        ..IndicatorConfig::default()
    };
    assert!(matches!(
        app.indicators(&bureau, &city, day, day, &bad).await,
        Err(huiyin_app::AppError::Invalid(_))
    ));
}
