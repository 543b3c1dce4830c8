//! Notices to staff (工作通知) and broadcast groups (定向发送), on SQLite or on PostgreSQL with
//! HUIYIN_TEST_DATABASE_URL: the unit that must act hears of routing, 催办, 督办单, 阅批 and 包案
//! once per person however often the job runs; groups reach exactly the roles, levels, kinds
//! and region they name; each broadcast keeps a per-person delivery record.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use huiyin_app::AppError;
use huiyin_app::staff_notify::{BroadcastSpec, GroupSpec, STAFF_NOTICE_KIND, UnitNotice};
use huiyin_domain::case::{Command, Role, RouteKind};
use huiyin_domain::ids::UnitId;
use huiyin_domain::petition::{AppealRoute, StatutoryClass};
use huiyin_store::{NewJob, UnitRecord};

async fn kinds_of(app: &huiyin_app::App, user: &str) -> Vec<String> {
    let mut k: Vec<String> = app
        .my_notices(user, false, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.kind)
        .collect();
    k.sort();
    k
}

#[tokio::test]
async fn the_unit_that_must_act_hears_of_its_work_once_per_person() {
    let (app, db) = start().await;
    let handler = user(&app, "zj-handler", DEPT, &[Role::Handler]).await;
    let head = user(&app, "zj-head", DEPT, &[Role::UnitHead]).await;
    // An administrator's membership is not case work: no case notices.
    let admin = user(&app, "zj-admin", DEPT, &[Role::Administrator]).await;
    let registrar = user(&app, "xfj-registrar", BUREAU, &[Role::Registrar]).await;

    let id = submit(&app, 1, "440604").await;
    let clerk = staff(BUREAU, &[Role::Registrar]);
    app.execute(
        clerk.clone(),
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
        clerk,
        id.clone(),
        Command::Route {
            kind: RouteKind::Forward,
            unit: UnitId::new(DEPT),
        },
        None,
    )
    .await
    .unwrap();
    app.execute(
        staff(DEPT, &[Role::Handler]),
        id.clone(),
        Command::Accept,
        None,
    )
    .await
    .unwrap();
    // 催办 and a 督办单 from the province, 阅批 and 包案 by the city's leader.
    let supervisor = staff("44-xfj", &[Role::Supervisor]);
    app.execute(
        supervisor.clone(),
        id.clone(),
        Command::Urge {
            text: doc("请加快办理进度"),
            ladder: None,
        },
        None,
    )
    .await
    .unwrap();
    let leader = staff(BUREAU, &[Role::Leader]);
    app.execute(
        leader.clone(),
        id.clone(),
        Command::Instruct {
            text: doc("请住建局本周内拿出维修方案"),
        },
        None,
    )
    .await
    .unwrap();
    app.execute(leader, id.clone(), Command::TakeCharge, None)
        .await
        .unwrap();
    let report = run_jobs(&app).await;
    assert_eq!(report.dead, 0, "{report:?}");

    let expected = vec!["charge_taken", "forwarded", "instructed", "urged"];
    assert_eq!(kinds_of(&app, &handler).await, expected);
    assert_eq!(kinds_of(&app, &head).await, expected);
    assert!(kinds_of(&app, &admin).await.is_empty());
    // The bureau routed it; the notices are for the unit that must act.
    assert!(kinds_of(&app, &registrar).await.is_empty());

    let notices = app.my_notices(&handler, false, None, 100).await.unwrap();
    let state = app.store().case(&id).await.unwrap().unwrap().state;
    let receipt = state.receipt.display();
    let urge = notices.iter().find(|n| n.kind == "urged").unwrap();
    assert!(urge.title.contains(&receipt), "{}", urge.title);
    assert!(urge.body.contains("请加快办理进度"), "{}", urge.body);
    assert_eq!(urge.case_id.as_deref(), Some(id.as_str()));
    let instructed = notices.iter().find(|n| n.kind == "instructed").unwrap();
    assert!(instructed.body.contains("本周内拿出维修方案"));

    // Unread until read; "all read" reaches only this person's notices.
    assert_eq!(app.unread_notices(&handler).await.unwrap(), 4);
    assert_eq!(
        app.mark_notices_read(&handler, Some(&urge.id))
            .await
            .unwrap(),
        1
    );
    // Someone else's notice cannot be marked by id.
    let heads = app.my_notices(&head, false, None, 100).await.unwrap();
    assert_eq!(
        app.mark_notices_read(&handler, Some(&heads[0].id))
            .await
            .unwrap(),
        0
    );
    assert_eq!(app.unread_notices(&handler).await.unwrap(), 3);
    let unread = app.my_notices(&handler, true, None, 100).await.unwrap();
    assert!(unread.iter().all(|n| n.id != urge.id));
    assert_eq!(app.mark_notices_read(&handler, None).await.unwrap(), 3);
    assert_eq!(app.unread_notices(&handler).await.unwrap(), 0);
    assert_eq!(app.unread_notices(&head).await.unwrap(), 4);

    // Paging: newest first, the next page after the last row of the first.
    let first = app.my_notices(&head, false, None, 2).await.unwrap();
    let last = first.last().unwrap();
    let second = app
        .my_notices(&head, false, Some((last.created_at_ms, &last.id)), 10)
        .await
        .unwrap();
    assert_eq!(first.len() + second.len(), 4);
    assert!(second.iter().all(|n| first.iter().all(|f| f.id != n.id)));

    // The delivery log of the case names the staff notices.
    let log = app
        .deliveries(&staff(DEPT, &[Role::Handler]), &id)
        .await
        .unwrap();
    assert!(
        log.iter()
            .any(|d| d.channel == "staff" && d.step == "urged" && d.ok),
        "{log:?}"
    );
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn a_staff_notice_job_that_runs_twice_writes_each_notice_once() {
    let (app, db) = start().await;
    let a = user(&app, "zj-a", DEPT, &[Role::Handler]).await;
    let b = user(&app, "zj-b", DEPT, &[Role::Handler, Role::UnitHead]).await;
    let notice = UnitNotice {
        case_id: "case-x".into(),
        unit: DEPT.into(),
        kind: huiyin_app::staff_notify::NoticeKind::Urged,
        title: "催办：X".into(),
        body: "请抓紧办理。".into(),
        user: None,
    };
    let now = app.now().timestamp_millis();
    app.store()
        .enqueue_jobs(&[NewJob {
            kind: STAFF_NOTICE_KIND.into(),
            payload: serde_json::to_string(&notice).unwrap(),
            idempotency_key: "staff:test:1".into(),
            case_id: None,
            run_at_ms: now,
            max_attempts: 3,
            created_at_ms: now,
        }])
        .await
        .unwrap();
    // At-least-once: the same claimed job handled twice (a worker that died before recording
    // the outcome, and the one that took over its lease).
    let claimed = app.store().claim_jobs("w1", now, 60_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let handler = huiyin_app::notify::handler(app.notify_config()).unwrap();
    handler.run(&app, &claimed[0]).await.unwrap();
    handler.run(&app, &claimed[0]).await.unwrap();
    for u in [&a, &b] {
        let got = app.my_notices(u, false, None, 10).await.unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].title, "催办：X");
    }
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn groups_reach_exactly_the_roles_levels_kinds_and_region_they_name() {
    let (app, db) = start().await;
    for (id, kind, region, parent) in [
        ("440604-gov", "government", "440604", Some(BUREAU)),
        (
            "440604011-xz",
            "township_office",
            "440604011",
            Some("440604-gov"),
        ),
        ("4407-xfj", "petition_bureau", "4407", Some("44-xfj")),
        ("440604-old", "department", "440604", Some("440604-gov")),
    ] {
        app.store()
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
    let county_leader = user(&app, "county-leader", "440604-gov", &[Role::Leader]).await;
    let township_head = user(&app, "town-head", "440604011-xz", &[Role::UnitHead]).await;
    let other_city_leader = user(&app, "jm-leader", "4407-xfj", &[Role::Leader]).await;
    let city_handler = user(&app, "zj-handler", DEPT, &[Role::Handler]).await;
    let disabled = user(&app, "gone-leader", "440604-gov", &[Role::Leader]).await;
    app.set_user_disabled("gone-leader", true).await.unwrap();
    let _ = disabled;

    let admin = staff("44-xfj", &[Role::Administrator]);
    let county = app
        .create_broadcast_group(
            &admin,
            &GroupSpec {
                name: "佛山市县级领导".into(),
                region_code: "4406".into(),
                levels: vec!["county".into()],
                kinds: vec![],
                roles: vec!["leader".into()],
            },
        )
        .await
        .unwrap();
    let heads = app
        .create_broadcast_group(
            &admin,
            &GroupSpec {
                name: "全省负责人和领导".into(),
                region_code: "44".into(),
                levels: vec![],
                kinds: vec![],
                roles: vec!["leader".into(), "unit_head".into()],
            },
        )
        .await
        .unwrap();
    let townships = app
        .create_broadcast_group(
            &admin,
            &GroupSpec {
                name: "乡镇街道".into(),
                region_code: "0".into(),
                levels: vec![],
                kinds: vec!["township_office".into()],
                roles: vec![],
            },
        )
        .await
        .unwrap();
    let mut reach = std::collections::BTreeMap::new();
    for (g, n) in app.broadcast_groups(&admin).await.unwrap() {
        reach.insert(g.name, n);
    }
    assert_eq!(reach["佛山市县级领导"], 1);
    assert_eq!(reach["全省负责人和领导"], 3);
    assert_eq!(reach["乡镇街道"], 1);

    let sender = staff("44-xfj", &[Role::Leader]);
    let sent = app
        .send_broadcast(
            &sender,
            &BroadcastSpec {
                group_id: heads.id.clone(),
                kind: "instruction".into(),
                title: "关于做好节前信访工作的通知".into(),
                body: "请各单位落实领导接访制度。".into(),
                case_id: None,
            },
        )
        .await
        .unwrap();
    app.send_broadcast(
        &sender,
        &BroadcastSpec {
            group_id: county.id.clone(),
            kind: "supervision".into(),
            title: "督办情况".into(),
            body: "本周督办 3 件。".into(),
            case_id: None,
        },
    )
    .await
    .unwrap();
    let report = run_jobs(&app).await;
    assert_eq!(report.dead, 0);
    assert_eq!(
        kinds_of(&app, &county_leader).await,
        ["broadcast", "broadcast"]
    );
    assert_eq!(kinds_of(&app, &township_head).await, ["broadcast"]);
    assert_eq!(kinds_of(&app, &other_city_leader).await, ["broadcast"]);
    assert!(kinds_of(&app, &city_handler).await.is_empty());

    // The delivery record: one row per person, read when read.
    let note = &app
        .my_notices(&township_head, false, None, 10)
        .await
        .unwrap()[0];
    app.mark_notices_read(&township_head, Some(&note.id))
        .await
        .unwrap();
    let (b, people) = app.broadcast_detail(&sender, &sent.id).await.unwrap();
    assert_eq!(b.delivered, 3);
    assert_eq!(b.read, 1);
    let mut names: Vec<&str> = people.iter().map(|p| p.display_name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["county-leader", "jm-leader", "town-head"]);
    assert!(
        people
            .iter()
            .all(|p| (p.read_at_ms.is_some()) == (p.user_id == township_head))
    );

    // Retired groups take no more messages.
    app.retire_broadcast_group(&admin, &townships.id)
        .await
        .unwrap();
    let e = app
        .send_broadcast(
            &sender,
            &BroadcastSpec {
                group_id: townships.id.clone(),
                kind: "instruction".into(),
                title: "t".into(),
                body: "b".into(),
                case_id: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, AppError::Invalid(f) if f[0].1.code == "group_retired"),
        "{e:?}"
    );
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn bad_groups_and_messages_are_refused_with_the_field_at_fault() {
    let (app, db) = start().await;
    let admin = staff("44-xfj", &[Role::Administrator]);
    let code = |e: AppError| match e {
        AppError::Invalid(f) => f[0].1.code.to_string(),
        other => format!("{other:?}"),
    };
    let spec = |region: &str, levels: &[&str], kinds: &[&str], roles: &[&str]| GroupSpec {
        name: "组".into(),
        region_code: region.into(),
        levels: levels.iter().map(|s| s.to_string()).collect(),
        kinds: kinds.iter().map(|s| s.to_string()).collect(),
        roles: roles.iter().map(|s| s.to_string()).collect(),
    };
    for (s, want) in [
        (spec("99", &[], &[], &[]), "region_unknown"),
        (spec("44", &["galaxy"], &[], &[]), "level_unknown"),
        (spec("44", &[], &["bank"], &[]), "kind_unknown"),
        (spec("44", &[], &[], &["king"]), "role_unknown"),
        (
            GroupSpec {
                name: " ".into(),
                ..spec("44", &[], &[], &[])
            },
            "group_name",
        ),
    ] {
        let e = app.create_broadcast_group(&admin, &s).await.unwrap_err();
        assert_eq!(code(e), want);
    }
    // Only administrators define groups; handlers do not send.
    let e = app
        .create_broadcast_group(
            &staff("44-xfj", &[Role::Leader]),
            &spec("44", &[], &[], &[]),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Forbidden(_)));
    let g = app
        .create_broadcast_group(&admin, &spec("44", &[], &[], &[]))
        .await
        .unwrap();
    let send = |who: huiyin_domain::case::Actor,
                kind: &str,
                title: &str,
                body: &str,
                case: Option<&str>| {
        let app = app.clone();
        let spec = BroadcastSpec {
            group_id: g.id.clone(),
            kind: kind.into(),
            title: title.into(),
            body: body.into(),
            case_id: case.map(str::to_string),
        };
        async move { app.send_broadcast(&who, &spec).await }
    };
    let e = send(staff(DEPT, &[Role::Handler]), "instruction", "t", "b", None)
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Forbidden(_)));
    let leader = || staff("44-xfj", &[Role::Leader]);
    for (kind, title, body, case, want) in [
        ("gossip", "t", "b", None, "broadcast_kind"),
        ("instruction", "", "b", None, "broadcast_title"),
        ("instruction", "t", "  ", None, "broadcast_body"),
        (
            "instruction",
            "t",
            "b",
            Some("no-such-case"),
            "case_not_readable",
        ),
    ] {
        let e = send(leader(), kind, title, body, case).await.unwrap_err();
        assert_eq!(code(e), want);
    }
    let long = "字".repeat(huiyin_app::staff_notify::MAX_BROADCAST_BODY + 1);
    let e = send(leader(), "instruction", "t", &long, None)
        .await
        .unwrap_err();
    assert_eq!(code(e), "broadcast_body");
    // A case the sender may read is linked by its receipt code.
    let id = submit(&app, 1, "440604").await;
    let receipt = app
        .store()
        .case(&id)
        .await
        .unwrap()
        .unwrap()
        .state
        .receipt
        .display();
    let b = send(
        staff(BUREAU, &[Role::Leader]),
        "case_dynamics",
        "进展",
        "已受理",
        Some(&receipt),
    )
    .await
    .unwrap();
    assert_eq!(b.case_id.as_deref(), Some(id.as_str()));
    // Nothing half-written: refused messages left no broadcast behind.
    assert_eq!(app.broadcasts(&leader()).await.unwrap().len(), 1);

    // E-mail addresses are checked when saved.
    user(&app, "mail-user", DEPT, &[Role::Handler]).await;
    let e = app
        .admin_set_email(&admin, "mail-user", "not an address")
        .await
        .unwrap_err();
    assert_eq!(code(e), "email_invalid");
    let set = app
        .admin_set_email(&admin, "mail-user", " Li.Ming@Example.gov.cn ")
        .await
        .unwrap();
    assert_eq!(set.as_deref(), Some("li.ming@example.gov.cn"));
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn the_leader_in_charge_is_reminded_every_seven_days_once_each_time() {
    use chrono::TimeDelta;
    use huiyin_domain::ids::ActorId;
    let (app, db) = start().await;
    let leader_id = user(&app, "xfj-leader", BUREAU, &[Role::Leader]).await;
    let handler = user(&app, "zj-handler", DEPT, &[Role::Handler]).await;
    let leader = huiyin_domain::case::Actor {
        id: ActorId::new(format!("user:{leader_id}")),
        roles: vec![Role::Leader],
        unit: Some(UnitId::new(BUREAU)),
        oversees_case: false,
        is_case_petitioner: false,
    };
    let id = submit(&app, 1, "440604").await;
    let clerk = staff(BUREAU, &[Role::Registrar]);
    for command in [
        Command::Register {
            class: StatutoryClass::Appeal(AppealRoute::PetitionProcedure),
            category: None,
            accused: Vec::new(),
        },
        Command::Route {
            kind: RouteKind::Forward,
            unit: UnitId::new(DEPT),
        },
    ] {
        app.execute(clerk.clone(), id.clone(), command, None)
            .await
            .unwrap();
    }
    let t0 = app.now();
    app.execute(leader.clone(), id.clone(), Command::TakeCharge, None)
        .await
        .unwrap();
    let remind = async |after: TimeDelta| {
        let at = t0 + after;
        app.clock().set(at);
        let n = app.remind_charges(at).await.unwrap();
        run_jobs(&app).await;
        n
    };
    let reminders = async || {
        app.my_notices(&leader_id, false, None, 50)
            .await
            .unwrap()
            .into_iter()
            .filter(|n| n.kind == "charge_reminder")
            .count()
    };
    assert_eq!(remind(TimeDelta::days(6)).await, 0);
    assert_eq!(remind(TimeDelta::days(7)).await, 1);
    assert_eq!(reminders().await, 1);
    // A second scan the same day (or a racing one) sends nothing more.
    assert_eq!(remind(TimeDelta::days(7) + TimeDelta::hours(1)).await, 0);
    assert_eq!(remind(TimeDelta::days(14)).await, 1);
    // After a long pause only the current period is reminded, not every one missed.
    assert_eq!(remind(TimeDelta::days(40)).await, 1);
    assert_eq!(remind(TimeDelta::days(41)).await, 0);
    assert_eq!(reminders().await, 3);
    let n = app
        .my_notices(&leader_id, false, None, 50)
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.kind == "charge_reminder")
        .unwrap();
    assert!(n.title.starts_with("包案进展提醒："), "{}", n.title);
    assert!(n.body.contains("已包案 40 天"), "{}", n.body);
    // Only the leader: the handler heard of the 包案 itself, not of the reminders.
    assert_eq!(
        kinds_of(&app, &handler).await,
        ["charge_taken", "forwarded"]
    );
    // A leader who gives up the charge is not reminded again.
    app.execute(
        leader,
        id.clone(),
        Command::ReleaseCharge {
            reason: reason("已转由分管领导包案"),
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(remind(TimeDelta::days(60)).await, 0);
    db.cleanup().await.unwrap();
}
