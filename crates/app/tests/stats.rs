//! Statistics counters (issue 8) through the real application on a fresh database (SQLite, or
//! PostgreSQL with HUIYIN_TEST_DATABASE_URL): the feeder's counters equal a recomputation from
//! every case after random lifecycles with catch-ups at random moments, after two feeders race,
//! and after a rebuild; indicators are scoped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{BUREAU, DEPT, doc, opinion, petitioner, reason, staff, start, submit};

use chrono::{NaiveDate, TimeDelta};
use huiyin_app::stats::RebuildLimits;
use huiyin_app::{App, Config};
use huiyin_domain::access::{Principal, RoleSet, Scope, UnitKind};
use huiyin_domain::case::{
    Actor, Command, Decision, DeclineGround, MergeReason, Role, RouteKind, Satisfaction,
};
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_domain::petition::{AppealRoute, StatutoryClass};
use huiyin_domain::stats::{IndicatorConfig, Target};
use huiyin_domain::values::RegionCode;
use huiyin_store::Area;

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
        // The live counts from the counters equal a count of the cases: right after a catch-up,
        // and with the counters a few events behind (corrected case by case).
        if round % 7 == 0 {
            live_counts_agree(&app, &mut rng).await;
        }
    }
    app.stats_catch_up().await.unwrap();
    live_counts_agree(&app, &mut rng).await;
    let problems = app.stats_check().await.unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
    let status = app.stats_status().await.unwrap();
    assert_eq!(status.behind_events, 0);
    assert_eq!(status.fed_seq, status.head_seq);

    // A rebuild (from the stored case states) gives the same counters.
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
    let rows = app.store().stats_day_rows().await.unwrap();
    let live = app.store().live_hour_rows().await.unwrap();
    app.stats_rebuild().await.unwrap();
    assert!(app.stats_check().await.unwrap().is_empty());
    assert_eq!(app.store().stats_day_rows().await.unwrap(), rows);
    // In small pieces — pages of 3 cases, at most 7 cases or 40 rows in memory, 5 rows a
    // transaction — every row lands once: the same counters, live hours and marks.
    let small = RebuildLimits {
        page: 3,
        rows: 40,
        cases: 7,
        write: 5,
    };
    let status = app.stats_rebuild_with(small).await.unwrap();
    assert!(
        !status.rebuilding && status.behind_events == 0,
        "{status:?}"
    );
    assert!(app.stats_check().await.unwrap().is_empty());
    assert_eq!(app.store().stats_day_rows().await.unwrap(), rows);
    assert_eq!(app.store().live_hour_rows().await.unwrap(), live);
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

/// End of the China-time day of `ms` (China has no daylight saving: UTC+8 all year).
fn china_end_of_day(ms: i64) -> i64 {
    const DAY: i64 = 86_400_000;
    const CST: i64 = 8 * 3_600_000;
    ((ms + CST).div_euclid(DAY) + 1) * DAY - CST
}

/// The live counts kept as counters equal a count of the open cases, for every area they keep,
/// at now, at and around the instants some open case falls due or turns yellow (the current
/// hour is counted from the cases, so its edges are tried), and a day later.
async fn live_counts_agree(app: &App, rng: &mut Rng) {
    let store = app.store();
    if store.stats_feed().await.unwrap().seq <= 0 {
        return;
    }
    let now = app.now().timestamp_millis();
    let instants: Vec<(i64, i64)> =
        sqlx::query_as("SELECT next_due_at, yellow_at FROM cases WHERE is_open = 1 ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let mut times = vec![now, now + 86_400_000];
    for _ in 0..3 {
        if instants.is_empty() {
            break;
        }
        let (due, yellow) = instants[rng.below(instants.len() as u64) as usize];
        times.extend([due, due - 1, due + 1, yellow, yellow - 1, yellow + 1]);
    }
    let areas = [
        Area::Region("0"),
        Area::Region("44"),
        Area::Region("4406"),
        Area::Region("440604"),
        Area::Region("440605"),
        Area::Unit(BUREAU),
        Area::Unit(DEPT),
    ];
    for t in times {
        let eod = china_end_of_day(t);
        for area in areas {
            let kept = store
                .live_counts_from_hours(area, &Scope::All, t, eod)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("counters did not serve {area:?} at {t}"));
            let counted = store
                .live_counts_of_cases(area, &Scope::All, t, eod)
                .await
                .unwrap();
            assert_eq!(kept, counted, "{area:?} at {t} (eod {eod})");
        }
    }
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

/// A rebuild from the projection racing a feeder (a server's, or a second server's) on the same
/// database, while cases are still being written; then a rebuild that died right after it
/// emptied the counters (its marker still in the checkpoint), finished by the next feeder round:
/// each time the counters equal a recomputation.
#[tokio::test]
async fn rebuild_beside_a_feeder_and_after_a_crash_counts_every_case_once() {
    let (app, db) = start().await;
    for i in 0..40 {
        submit(&app, i, ["440604", "440605"][(i % 2) as usize]).await;
    }
    app.stats_catch_up().await.unwrap();
    // A second server: the same database, a clock in step with the first.
    let second = App::new(
        db.store.clone(),
        Config {
            clock: app.clock().clone(),
            ..Config::default()
        },
    );
    let writer = async {
        for i in 40..60 {
            submit(&app, i, "440604").await;
        }
    };
    let (r, f, ()) = tokio::join!(app.stats_rebuild(), second.stats_catch_up(), writer);
    r.unwrap();
    f.unwrap();
    app.stats_catch_up().await.unwrap();
    let problems = app.stats_check().await.unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
    let day = NaiveDate::from_ymd_opt(2024, 3, 4).unwrap();
    let sums = app.store().stats_sum("r:0", day, day).await.unwrap();
    assert_eq!(sums.get("received"), Some(&60));

    // A running rebuild's marker (its last write just now): feeders leave it alone.
    let rows = app.store().stats_day_rows().await.unwrap();
    let now = app.now().timestamp_millis();
    app.store().stats_reset(-now).await.unwrap();
    let status = second.stats_catch_up().await.unwrap();
    assert!(status.rebuilding && status.behind_events > 0, "{status:?}");
    assert!(app.store().stats_day_rows().await.unwrap().is_empty());
    // Three minutes without a write: the rebuild died, and a feeder counts again.
    app.clock().set(app.now() + TimeDelta::minutes(3));
    let status = app.stats_catch_up().await.unwrap();
    assert!(
        !status.rebuilding && status.behind_events == 0,
        "{status:?}"
    );
    assert_eq!(app.store().stats_day_rows().await.unwrap(), rows);

    // A rebuild killed after its reset long ago: counters empty, the checkpoint at the marker.
    app.store().stats_reset(-3).await.unwrap();
    let status = app.stats_status().await.unwrap();
    assert!(status.fed_seq < 0 && status.behind_events > 0, "{status:?}");
    second.stats_catch_up().await.unwrap();
    let problems = app.stats_check().await.unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
    let sums = app.store().stats_sum("r:0", day, day).await.unwrap();
    assert_eq!(sums.get("received"), Some(&60));
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

/// Drives `n` rounds of random lifecycle steps over `cases`, then catches the counters up.
async fn random_lifecycles(app: &App, cases: &[CaseId], rng: &mut Rng, rounds: usize) {
    for _ in 0..rounds {
        let now = app.now() + TimeDelta::hours(2 + rng.below(60) as i64);
        app.clock().set(now);
        let i = rng.below(cases.len() as u64) as usize;
        let id = cases[i].clone();
        let other = cases[(i + 1) % cases.len()].clone();
        let state = app.store().case(&id).await.unwrap().unwrap().state;
        if let Some((actor, command)) = next_step(state.stage.as_str(), rng.below(1000), &other) {
            let _ = app.execute(actor, id, command, None).await;
        }
    }
    app.stats_catch_up().await.unwrap();
}

/// Every case behind a figure, through all pages.
async fn all_behind(
    app: &App,
    actor: &Actor,
    target: &Target,
    drill: &huiyin_app::dashboard::Drill,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let page = app
            .cases_behind(
                actor,
                target,
                drill,
                from,
                to,
                &after,
                &IndicatorConfig::default(),
            )
            .await
            .unwrap();
        out.extend(page.rows.into_iter().map(|r| r.id));
        match page.next {
            Some(next) => after = next,
            None => break,
        }
    }
    out
}

/// The drill-down lists exactly the cases a figure counts: after random lifecycles, for the
/// plain counts and rates, the cases behind the numerator and the denominator are as many as
/// the figure's numerator and denominator, for the city, a district and a unit — and the
/// overview's trend, channels, districts and unit ranking add up to the same counters.
#[tokio::test]
async fn the_cases_behind_a_figure_are_the_cases_it_counts() {
    use huiyin_app::dashboard::Drill;
    use huiyin_domain::stats::FigurePart;

    let (app, _db) = start().await;
    let mut rng = Rng(7);
    let mut cases = Vec::new();
    for i in 0..30 {
        let region = ["440604", "440605", "4406"][(i % 3) as usize];
        cases.push(submit(&app, i, region).await);
    }
    random_lifecycles(&app, &cases, &mut rng, 200).await;
    let registrar = staff(BUREAU, &[Role::Registrar]);
    let principal = app.principal(&registrar).await.unwrap();
    let config = IndicatorConfig::default();
    let (from, to) = (
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
    );
    let plain = [
        "volume",
        "timely_acceptance_rate",
        "timely_routing_rate",
        "on_time_completion_rate",
        "rating_participation_rate",
        "online_share",
        "mobile_share_of_online",
        "repeat_rate",
    ];
    // (按期答复率 counts answers, several a case: its cases are listed once each.)
    let mut checked = 0;
    for target in [
        Target::Region("4406".into()),
        Target::Region("440604".into()),
        Target::Unit(UnitId::new(DEPT)),
    ] {
        let report = app
            .indicators(&principal, &target, from, to, &config)
            .await
            .unwrap();
        for id in plain {
            let figure = &report
                .indicators
                .iter()
                .find(|i| i.id == id)
                .unwrap()
                .current;
            for (part, want) in [
                (FigurePart::Numerator, figure.numerator),
                (FigurePart::Denominator, figure.denominator),
            ] {
                if id == "volume" && part == FigurePart::Denominator {
                    continue;
                }
                let drill = Drill::Indicator {
                    id: id.into(),
                    part,
                };
                let ids = all_behind(&app, &registrar, &target, &drill, from, to).await;
                let mut distinct = ids.clone();
                distinct.sort();
                distinct.dedup();
                assert_eq!(distinct.len(), ids.len(), "{id} listed a case twice");
                assert_eq!(ids.len() as f64, want, "{target:?} {id} {part:?}");
                if want > 0.0 {
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 12, "the lifecycles went too shallow: {checked}");

    let city = Target::Region("4406".into());
    let o = app
        .overview(&principal, &city, from, to, &config)
        .await
        .unwrap();
    let volume = o.report.indicators[0].current.value.unwrap() as i64;
    assert_eq!(volume, 30);
    assert!(o.trend.monthly);
    assert_eq!(o.trend.current.iter().sum::<i64>(), volume);
    assert_eq!(o.trend.labels.len(), 12);
    assert_eq!(o.channels.iter().map(|s| s.value).sum::<i64>(), volume);
    // A channel's slice lists its own cases.
    let web = o.channels.iter().find(|s| s.code == "mobile_web").unwrap();
    let ids = all_behind(
        &app,
        &registrar,
        &city,
        &Drill::Key(web.key.clone()),
        from,
        to,
    )
    .await;
    assert_eq!(ids.len() as i64, web.value);
    // The districts: 禅城区 (440604) and 南海区 (440605) with ten each; the others none.
    let place = |code: &str| o.places.iter().find(|p| p.id == code).unwrap();
    assert_eq!(place("440604").received, 10);
    assert_eq!(place("440605").received, 10);
    assert!(
        place("440604").name.contains("禅城"),
        "{:?}",
        place("440604")
    );
    assert_eq!(o.places.iter().map(|p| p.received).sum::<i64>(), 20);
    // The bureau received all 30; the department is ranked by what it handled.
    let bureau = o.units.iter().find(|u| u.id == BUREAU).unwrap();
    assert_eq!(bureau.received, 30);
    assert!(o.units.iter().any(|u| u.id == DEPT && u.replied > 0));
    assert_eq!(o.live.open, {
        let mut open = 0;
        for id in &cases {
            let s = app.store().case(id).await.unwrap().unwrap().state;
            open += i64::from(s.stage.is_open());
        }
        open
    });
}

/// A drill-down pages through many cases without missing or repeating one; it is refused with
/// a clear error for bad input, for readers of figures only, and outside the statistics scope;
/// a department lists only the cases routed to it.
#[tokio::test]
async fn drill_down_pages_scope_and_refusals() {
    use huiyin_app::AppError;
    use huiyin_app::dashboard::{DRILL_PAGE, Drill};
    use huiyin_domain::stats::FigurePart;

    let (app, _db) = start().await;
    let mut cases = Vec::new();
    for i in 0..62 {
        cases.push(submit(&app, i, "440604").await);
    }
    let registrar = staff(BUREAU, &[Role::Registrar]);
    for id in cases.iter().take(4) {
        app.execute(
            registrar.clone(),
            id.clone(),
            Command::Register {
                class: StatutoryClass::Appeal(AppealRoute::PetitionProcedure),
                category: None,
                accused: Vec::new(),
            },
            None,
        )
        .await
        .unwrap();
        app.execute(
            registrar.clone(),
            id.clone(),
            Command::Route {
                kind: RouteKind::Forward,
                unit: UnitId::new(DEPT),
            },
            None,
        )
        .await
        .unwrap();
    }
    app.stats_catch_up().await.unwrap();
    let day = NaiveDate::from_ymd_opt(2024, 3, 4).unwrap();
    let city = Target::Region("4406".into());
    let volume = Drill::Indicator {
        id: "volume".into(),
        part: FigurePart::Numerator,
    };
    let config = IndicatorConfig::default();
    let first = app
        .cases_behind(&registrar, &city, &volume, day, day, "", &config)
        .await
        .unwrap();
    assert_eq!(first.rows.len(), DRILL_PAGE);
    let next = first.next.clone().expect("a second page");
    let second = app
        .cases_behind(&registrar, &city, &volume, day, day, &next, &config)
        .await
        .unwrap();
    assert_eq!(second.rows.len(), 62 - DRILL_PAGE);
    assert!(second.next.is_none());
    let mut all: Vec<String> = first
        .rows
        .iter()
        .chain(&second.rows)
        .map(|r| r.id.clone())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 62);
    // Lists never show who filed; the masked petitioner is shown (not the full number).
    assert!(first.rows.iter().all(|r| {
        r.petitioner_masked
            .as_deref()
            .is_none_or(|p| !p.contains("13900000"))
    }));

    // The department sees the figure of its own unit, and exactly the four cases routed to it.
    let handler = staff(DEPT, &[Role::Handler]);
    let own = Target::Unit(UnitId::new(DEPT));
    let routed = Drill::Key("routed.forward".into());
    let page = app
        .cases_behind(&handler, &own, &routed, day, day, "", &config)
        .await
        .unwrap();
    let mut want: Vec<String> = cases.iter().take(4).map(|c| c.to_string()).collect();
    want.sort();
    let mut got: Vec<String> = page.rows.iter().map(|r| r.id.clone()).collect();
    got.sort();
    assert_eq!(got, want);
    // …but not the city's.
    assert!(matches!(
        app.cases_behind(&handler, &city, &volume, day, day, "", &config)
            .await,
        Err(AppError::Forbidden(_))
    ));
    // An analyst reads figures, not cases.
    let analyst = staff(BUREAU, &[Role::Analyst]);
    let err = app
        .cases_behind(&analyst, &city, &volume, day, day, "", &config)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Forbidden(ref m) if m.contains("无权查看案件清单")),
        "{err:?}"
    );
    // Another province is outside a city bureau's statistics.
    let other = Target::Region("45".into());
    assert!(matches!(
        app.cases_behind(&registrar, &other, &volume, day, day, "", &config)
            .await,
        Err(AppError::Forbidden(_))
    ));
    let code = |e: AppError| match e {
        AppError::Invalid(f) => f[0].1.code.to_string(),
        other => format!("{other:?}"),
    };
    let bad = |d: Drill| {
        let app = app.clone();
        let registrar = registrar.clone();
        let city = city.clone();
        async move {
            app.cases_behind(
                &registrar,
                &city,
                &d,
                day,
                day,
                "",
                &IndicatorConfig::default(),
            )
            .await
            .unwrap_err()
        }
    };
    assert_eq!(
        code(bad(Drill::Key("users.password".into())).await),
        "counter_unknown"
    );
    assert_eq!(
        code(
            bad(Drill::Indicator {
                id: "nonsense".into(),
                part: FigurePart::Numerator
            })
            .await
        ),
        "indicator_unknown"
    );
    let err = app
        .cases_behind(
            &registrar,
            &city,
            &volume,
            day,
            day.pred_opt().unwrap(),
            "",
            &config,
        )
        .await
        .unwrap_err();
    assert_eq!(code(err), "period_invalid");
}

/// The live figures: open cases by light at this instant, what is due today, overdue by unit.
#[tokio::test]
async fn live_counts_due_today_and_overdue_by_unit() {
    let (app, _db) = start().await;
    for i in 0..5 {
        submit(&app, i, "440604").await;
    }
    let registrar = staff(BUREAU, &[Role::Registrar]);
    let city = Target::Region("4406".into());
    let ops = app.operations(&registrar, &city).await.unwrap();
    assert_eq!(ops.live.open, 5);
    assert_eq!(ops.live.red, 0);
    assert!(ops.overdue_by_unit.is_empty());
    // Forty days on, every registration deadline has passed: all red, all at the bureau.
    app.clock().set(app.now() + TimeDelta::days(40));
    let ops = app.operations(&registrar, &city).await.unwrap();
    assert_eq!(ops.live.red, 5);
    assert_eq!(ops.live.yellow, 0);
    assert_eq!(ops.overdue_by_unit.len(), 1);
    assert_eq!(ops.overdue_by_unit[0].0, BUREAU);
    assert_eq!(ops.overdue_by_unit[0].2, 5);
    assert_eq!(ops.stalled, 5, "no progress for {} days", ops.stalled_days);
    // Another district has none of them.
    let other = Target::Region("440605".into());
    let ops = app.operations(&registrar, &other).await.unwrap();
    assert_eq!(ops.live.open, 0);
    assert_eq!(ops.stalled, 0);
    // The department's staff may not see the city's operations.
    let handler = staff(DEPT, &[Role::Handler]);
    assert!(app.operations(&handler, &city).await.is_err());
}
