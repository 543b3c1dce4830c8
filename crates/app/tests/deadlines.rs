//! The deadline scan (issue 6) through the real application on a fresh database (SQLite, or
//! PostgreSQL with HUIYIN_TEST_DATABASE_URL): cases accepted on 4 March 2024 are due on 6 May
//! (3 May falls in the May Day holiday, 1–5 May); the scan urges them when their light turns
//! yellow and when they are overdue, issues a 督办单 three working days later, circulates the
//! order that goes unanswered, takes no step twice — not when it runs again, not when two
//! scans race — and repairs a stored step that no longer holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{TimeDelta, TimeZone};
use common::{BUREAU, DEPT, doc, opinion, staff, start, submit};
use huiyin_app::App;
use huiyin_app::deadlines::ScanReport;
use huiyin_domain::case::{Command, Decision, Role, RouteKind, Stage};
use huiyin_domain::ids::{CaseId, UnitId};
use huiyin_domain::petition::{AppealRoute, StatutoryClass};
use huiyin_domain::policy::ClockKind;
use huiyin_domain::supervision::LadderStep;
use huiyin_domain::{CHINA_OFFSET, Instant};

fn cst(m: u32, d: u32, h: u32) -> Instant {
    CHINA_OFFSET
        .with_ymd_and_hms(2024, m, d, h, 0, 0)
        .unwrap()
        .to_utc()
}

fn eod(m: u32, d: u32) -> Instant {
    cst(m, d, 0) + TimeDelta::milliseconds(86_400_000 - 1)
}

async fn accepted(app: &App, i: u64) -> CaseId {
    let id = submit(app, i, "440604").await;
    let registrar = staff(BUREAU, &[Role::Registrar]);
    for (actor, command) in [
        (
            registrar.clone(),
            Command::Register {
                class: StatutoryClass::Appeal(AppealRoute::PetitionProcedure),
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
        (staff(DEPT, &[Role::Handler]), Command::Accept),
    ] {
        app.execute(actor, id.clone(), command, None).await.unwrap();
    }
    id
}

async fn scan(app: &App, at: Instant) -> ScanReport {
    app.clock().set(at);
    app.scan_deadlines(at).await.unwrap()
}

fn taken(report: &ScanReport, step: LadderStep) -> usize {
    report.taken.get(step.as_str()).copied().unwrap_or(0)
}

async fn kinds(app: &App, id: &CaseId) -> Vec<String> {
    app.events(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event.kind.name().to_string())
        .collect()
}

#[tokio::test]
async fn the_scan_walks_the_ladder_once_across_the_may_day_holiday() {
    let (app, db) = start().await;
    let a = accepted(&app, 1).await;
    let b = accepted(&app, 2).await;
    let closed = accepted(&app, 3).await;
    app.execute(
        staff(DEPT, &[Role::UnitHead]),
        closed.clone(),
        Command::Reply {
            opinion: opinion(Decision::Support),
        },
        None,
    )
    .await
    .unwrap();
    let view = app.case_view(&a).await.unwrap();
    let handling = view
        .deadlines
        .iter()
        .find(|d| d.kind == ClockKind::Handling && d.running)
        .unwrap()
        .clone();
    assert_eq!(handling.due_at, eod(5, 6));

    // Nothing is due yet; a stored step that no longer holds is recomputed.
    let version = app.case_view(&b).await.unwrap().state.version;
    assert!(
        app.store()
            .set_watch(&b, version, Some((LadderStep::Circulate, 0)))
            .await
            .unwrap()
    );
    let first = scan(&app, cst(3, 4, 11)).await;
    assert_eq!((first.due, first.rewatched, first.taken_total()), (1, 1, 0));
    assert_eq!(scan(&app, cst(3, 4, 12)).await, ScanReport::default());

    // Yellow: both open cases are urged, once.
    let yellow = handling.yellow_at;
    assert_eq!(
        scan(&app, yellow - TimeDelta::seconds(1))
            .await
            .taken_total(),
        0
    );
    let soon = scan(&app, yellow).await;
    assert_eq!(
        (soon.taken_total(), taken(&soon, LadderStep::UrgeDueSoon)),
        (2, 2)
    );
    assert_eq!(
        scan(&app, yellow + TimeDelta::hours(2)).await.taken_total(),
        0
    );

    // Overdue from the first instant of 7 May (3 May was a holiday, so 6 May was the last day).
    assert_eq!(scan(&app, cst(5, 6, 23)).await.taken_total(), 0);
    let overdue = scan(&app, cst(5, 7, 0) + TimeDelta::seconds(1)).await;
    assert_eq!(taken(&overdue, LadderStep::UrgeOverdue), 2);

    // Three working days overdue (7, 8, 9 May): a 督办单 from the bureau.
    assert_eq!(scan(&app, cst(5, 9, 22)).await.taken_total(), 0);
    let supervise = scan(&app, cst(5, 10, 8)).await;
    assert_eq!(taken(&supervise, LadderStep::Supervise), 2);
    let order = app.case_view(&a).await.unwrap().state.supervision[0].clone();
    assert_eq!(order.by_unit, Some(UnitId::new(BUREAU)));
    // Five working days from Friday 10 May: 11 (a make-up Saturday), 13, 14, 15, 16.
    assert_eq!(order.reply_due_at, eod(5, 16));

    // B's unit answers in writing; A's does not and is circulated — by one of two racing scans.
    app.clock().set(cst(5, 14, 9));
    app.execute(
        staff(DEPT, &[Role::Handler]),
        b.clone(),
        Command::AnswerSupervision {
            number: 1,
            text: doc("已完成调查核实，将于本周内答复信访人"),
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(scan(&app, cst(5, 16, 20)).await.taken_total(), 0);
    app.clock().set(cst(5, 17, 8));
    let (one, two) = tokio::join!(
        app.scan_deadlines(cst(5, 17, 8)),
        app.scan_deadlines(cst(5, 17, 8))
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!(
        taken(&one, LadderStep::Circulate) + taken(&two, LadderStep::Circulate),
        1,
        "{one:?} {two:?}"
    );
    assert_eq!(one.failed + two.failed, 0);

    // Every rung taken: months later, nothing more.
    assert_eq!(scan(&app, cst(8, 1, 8)).await, ScanReport::default());
    let a_kinds = kinds(&app, &a).await;
    let ladder: Vec<&str> = a_kinds
        .iter()
        .map(String::as_str)
        .filter(|k| matches!(*k, "urged" | "supervision_issued" | "circulated"))
        .collect();
    assert_eq!(
        ladder,
        ["urged", "urged", "supervision_issued", "circulated"]
    );
    let b_kinds = kinds(&app, &b).await;
    assert!(!b_kinds.iter().any(|k| k == "circulated"), "{b_kinds:?}");
    let closed_view = app.case_view(&closed).await.unwrap();
    assert_eq!(closed_view.state.stage, Stage::Replied);
    assert_eq!(kinds(&app, &closed).await.len(), 5);
    // The projection still agrees with the events.
    let report = app.store().verify(true).await.unwrap();
    assert!(report.ok(), "{report:?}");
    db.cleanup().await.unwrap();
}
