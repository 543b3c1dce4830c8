//! Early warning (预警): each rule fires exactly at its threshold, a re-scan never duplicates,
//! acknowledgement, scope, and sending a warning to a broadcast group. Both databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{TimeZone, Utc};
use common::*;
use huiyin_app::staff_notify::GroupSpec;
use huiyin_app::warnings::WarningQuery;
use huiyin_app::{App, AppError, NewPetition};
use huiyin_domain::case::{Actor, Role};
use huiyin_domain::petition::{Channel, Person, Petition, Petitioner};
use huiyin_domain::values::{PersonName, PetitionText, PhoneNumber, RegionCode, Title};
use huiyin_store::{CounterRow, UnitRecord};

/// 300 distinct characters: windows of it give texts that share no shingles.
const POOL: &str = "天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏闰余成岁律吕调阳云腾致雨露结为霜金生丽水玉出昆冈剑号巨阙珠称夜光果珍李柰菜重芥姜海咸河淡鳞潜羽翔龙师火帝鸟官人皇始制文字乃服衣裳推位让国有虞陶唐吊民伐罪周发殷汤坐朝问道垂拱平章爱育黎首臣伏戎羌遐迩一体率宾归王鸣凤在竹白驹食场化被草木赖及万方盖此身发四大五常恭惟鞠养岂敢毁伤女慕贞洁男效才良知过必改得能莫忘罔谈彼短靡恃己长信使可覆器欲难量墨悲丝染诗赞羔羊景行维贤克念作圣德建名立形端表正空谷传声虚堂习听祸因恶积福缘善庆尺璧非宝寸阴是竞资父事君曰严与敬孝当竭力忠则尽命临深履薄夙兴温凊似兰斯馨如松之盛川流不息渊澄取映容止若思言辞安定笃初诚美慎终宜令荣业所基籍甚无竟学优登仕摄职从政存以甘棠去而益咏乐殊贵贱礼别尊卑上和下睦夫唱妇随外受傅训入奉母仪诸姑伯叔犹子比儿孔怀兄弟同气连枝交友投分切磨箴规仁慈隐恻造次弗离节义廉退颠沛匪亏性静情逸心动神疲守真志满逐物意移坚持雅操好爵自縻";

fn distinct_text(i: usize) -> String {
    let chars: Vec<char> = POOL.chars().collect();
    let start = (i * 23) % (chars.len() - 40);
    let body: String = chars[start..start + 40].iter().collect();
    format!("第{i}件：{body}")
}

fn petition_of(phone: u32, region: &str, category: &str, text: &str) -> Petition {
    Petition {
        channel: Channel::OnlineWeb,
        petitioner: Petitioner::Named(Person {
            name: PersonName::parse("李明").unwrap(),
            phone: Some(PhoneNumber::parse(&format!("1380000{phone:04}")).unwrap()),
            id_card: None,
            address: None,
        }),
        group: None,
        title: Title::parse("反映问题").unwrap(),
        text: PetitionText::parse(text).unwrap(),
        region: RegionCode::parse(region).unwrap(),
        category: Some(category.into()),
        class: None,
        attachments: Vec::new(),
        also_sent_to: Vec::new(),
        publish_consent: false,
        proxy: None,
    }
}

async fn send(app: &App, p: Petition) -> String {
    app.submit(
        petitioner(),
        NewPetition {
            petition: p,
            idempotency_key: None,
            received_at: None,
        },
    )
    .await
    .unwrap()
    .case_id
}

/// China time, 10:00 on the given day of 2024.
fn at(month: u32, day: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, month, day, 2, 0, 0).unwrap()
}

fn supervisor() -> Actor {
    staff("44-xfj", &[Role::Supervisor])
}

async fn of_kind(app: &App, actor: &Actor, kind: &str) -> Vec<huiyin_app::warnings::WarningView> {
    app.warnings(
        actor,
        &WarningQuery {
            kind: Some(kind.into()),
            ..WarningQuery::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_spike_is_flagged_at_its_threshold_and_once() {
    let (app, _db) = start().await;
    // Baseline: 4 cases of 城乡建设 at 440604 in the 28 days before the window (Feb 10).
    app.clock().set(at(2, 10));
    for i in 0..4 {
        send(
            &app,
            petition_of(i, "440604", "城乡建设/市政", &distinct_text(i as usize)),
        )
        .await;
    }
    // The window: Feb 27 – Mar 4. Threshold max(3 × 4 / 28 × 7, 5) = 5.
    app.clock().set(at(3, 1));
    let mut recent = Vec::new();
    for i in 10..14 {
        recent.push(
            send(
                &app,
                petition_of(i, "440604", "城乡建设/市政", &distinct_text(i as usize)),
            )
            .await,
        );
    }
    // Elsewhere and in another category: not counted with them.
    send(
        &app,
        petition_of(20, "440605", "城乡建设/市政", &distinct_text(20)),
    )
    .await;
    send(
        &app,
        petition_of(21, "440604", "劳动和社会保障/工资", &distinct_text(21)),
    )
    .await;
    app.clock().set(at(3, 4));
    let scan = app.scan_warnings(app.now()).await.unwrap();
    assert_eq!(
        scan.new.get("spike"),
        None,
        "4 cases: below the minimum of 5"
    );
    assert!(of_kind(&app, &supervisor(), "spike").await.is_empty());

    recent.push(
        send(
            &app,
            petition_of(14, "440604", "城乡建设/市政", &distinct_text(14)),
        )
        .await,
    );
    let scan = app.scan_warnings(app.now()).await.unwrap();
    assert_eq!(scan.new.get("spike"), Some(&1));
    let list = of_kind(&app, &supervisor(), "spike").await;
    assert_eq!(list.len(), 1);
    let w = &list[0];
    assert_eq!(w.region, "440604");
    assert_eq!(w.category.as_deref(), Some("城乡建设"));
    assert_eq!(w.figures["recent"], 5);
    assert_eq!(w.figures["baseline"], 4);
    assert_eq!(
        (w.window_from.as_str(), w.window_to.as_str()),
        ("2024-02-27", "2024-03-04")
    );
    let mut ids: Vec<String> = w.cases.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    recent.sort();
    assert_eq!(ids, recent);
    assert!(w.summary_zh.contains("5件"), "{}", w.summary_zh);

    // A re-scan refreshes it, never adds a second one.
    let again = app.scan_warnings(app.now()).await.unwrap();
    assert_eq!(again.new.get("spike"), None);
    assert!(again.refreshed >= 1);
    assert_eq!(of_kind(&app, &supervisor(), "spike").await.len(), 1);
}

#[tokio::test]
async fn a_higher_baseline_raises_the_spike_threshold() {
    let (app, _db) = start().await;
    // 12 baseline cases: 3 × 12 / 28 × 7 = 9 needed in the window.
    app.clock().set(at(2, 5));
    for i in 0..12 {
        send(
            &app,
            petition_of(i, "440604", "城乡建设/市政", &distinct_text(i as usize)),
        )
        .await;
    }
    app.clock().set(at(3, 2));
    for i in 20..28 {
        send(
            &app,
            petition_of(i, "440604", "城乡建设/市政", &distinct_text(i as usize)),
        )
        .await;
    }
    app.clock().set(at(3, 4));
    app.scan_warnings(app.now()).await.unwrap();
    assert!(
        of_kind(&app, &supervisor(), "spike").await.is_empty(),
        "8 < 9"
    );
    send(
        &app,
        petition_of(28, "440604", "城乡建设/市政", &distinct_text(28)),
    )
    .await;
    app.scan_warnings(app.now()).await.unwrap();
    let list = of_kind(&app, &supervisor(), "spike").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].figures["recent"], 9);
    assert_eq!(list[0].figures["threshold"], 9.0);
}

const COPY: &str = "我们是幸福小区的业主，开发商拖延交房已经两年，小区配套的学校和道路至今没有建设，多次反映无人处理，请求政府督促开发商履行合同、尽快交房。";

#[tokio::test]
async fn a_group_signal_needs_five_petitioners_with_near_identical_texts_at_one_place() {
    let (app, _db) = start().await;
    app.clock().set(at(3, 1));
    for phone in 0..4 {
        send(&app, petition_of(phone, "440604", "城乡建设/房地产", COPY)).await;
    }
    // The same text from one of them again, and from a fifth person at another place.
    send(&app, petition_of(0, "440604", "城乡建设/房地产", COPY)).await;
    send(&app, petition_of(9, "440605", "城乡建设/房地产", COPY)).await;
    // An unrelated text from a fifth person at the place.
    send(
        &app,
        petition_of(8, "440604", "城乡建设/房地产", &distinct_text(3)),
    )
    .await;
    app.clock().set(at(3, 4));
    app.scan_warnings(app.now()).await.unwrap();
    assert!(
        of_kind(&app, &supervisor(), "group").await.is_empty(),
        "four petitioners at the place"
    );

    let fifth = send(&app, petition_of(4, "440604", "城乡建设/房地产", COPY)).await;
    let scan = app.scan_warnings(app.now()).await.unwrap();
    assert_eq!(scan.new.get("group"), Some(&1));
    let list = of_kind(&app, &supervisor(), "group").await;
    assert_eq!(list.len(), 1);
    let w = &list[0];
    assert_eq!(w.region, "440604");
    assert_eq!(w.figures["petitioners"], 5);
    assert_eq!(w.figures["cases"], 6);
    assert_eq!(w.case_count, 6);
    assert!(w.cases.iter().any(|c| c.id == fifth));
    assert_eq!(w.unit_id.as_deref(), Some(BUREAU));

    app.scan_warnings(app.now()).await.unwrap();
    assert_eq!(of_kind(&app, &supervisor(), "group").await.len(), 1);
}

#[tokio::test]
async fn a_repeat_petitioner_needs_three_unresolved_matters_in_ninety_days() {
    let (app, _db) = start().await;
    // One matter 100 days ago does not count; two within 90 days are not enough.
    app.clock()
        .set(Utc.with_ymd_and_hms(2023, 11, 20, 2, 0, 0).unwrap());
    send(
        &app,
        petition_of(7, "440604", "城乡建设/市政", &distinct_text(1)),
    )
    .await;
    app.clock().set(at(1, 10));
    send(
        &app,
        petition_of(7, "440604", "城乡建设/市政", &distinct_text(2)),
    )
    .await;
    app.clock().set(at(2, 10));
    send(
        &app,
        petition_of(7, "440604", "城乡建设/市政", &distinct_text(3)),
    )
    .await;
    // Someone else's matter is not theirs.
    send(
        &app,
        petition_of(8, "440604", "城乡建设/市政", &distinct_text(4)),
    )
    .await;
    app.clock().set(at(3, 4));
    app.scan_warnings(app.now()).await.unwrap();
    assert!(
        of_kind(&app, &supervisor(), "repeat_petitioner")
            .await
            .is_empty()
    );

    let third = send(
        &app,
        petition_of(7, "440604", "城乡建设/市政", &distinct_text(5)),
    )
    .await;
    let scan = app.scan_warnings(app.now()).await.unwrap();
    assert_eq!(scan.new.get("repeat_petitioner"), Some(&1));
    let list = of_kind(&app, &supervisor(), "repeat_petitioner").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].figures["unresolved"], 3);
    assert_eq!(list[0].case_count, 3);
    assert!(list[0].cases.iter().any(|c| c.id == third));
    // Nothing personal in the figures or the words.
    assert!(!list[0].figures.to_string().contains("1380000"));
    assert!(!list[0].summary_zh.contains("李明"));
    app.scan_warnings(app.now()).await.unwrap();
    assert_eq!(
        of_kind(&app, &supervisor(), "repeat_petitioner")
            .await
            .len(),
        1
    );
}

fn row(target: &str, day: i64, key: &str, value: i64) -> CounterRow {
    CounterRow {
        target: target.into(),
        day,
        key: key.into(),
        value,
    }
}

#[tokio::test]
async fn a_falling_unit_needs_fifteen_points_and_ten_cases_each_month() {
    let (app, db) = start().await;
    for (id, region) in [("4406-a", "4406"), ("4406-b", "4406"), ("4406-c", "4406")] {
        db.store
            .insert_unit(&UnitRecord {
                id: id.into(),
                name: format!("{id}单位"),
                kind: "department".into(),
                region_code: region.into(),
                parent_id: Some(BUREAU.into()),
            })
            .await
            .unwrap();
    }
    app.stats_catch_up().await.unwrap();
    // The counters are the rule's input: February and March (so far) of three units.
    let mut rows = Vec::new();
    for (unit, last, this) in [
        (DEPT, (9, 10), (15, 20)),     // 90 % → 75 %: 15 points
        ("4406-a", (9, 10), (16, 20)), // 90 % → 80 %: 10 points
        ("4406-b", (9, 9), (1, 10)),   // last month 9 cases: too few
        ("4406-c", (10, 10), (1, 9)),  // this month 9 cases: too few
    ] {
        let target = format!("u:{unit}");
        rows.push(row(&target, 20240215, "handling.replied", last.1));
        rows.push(row(&target, 20240215, "handling.on_time", last.0));
        rows.push(row(&target, 20240302, "handling.replied", this.1));
        rows.push(row(&target, 20240302, "handling.on_time", this.0));
    }
    let seq = db.store.stats_feed().await.unwrap().seq;
    assert!(
        db.store
            .stats_apply(seq, seq, &rows, &[], &Default::default())
            .await
            .unwrap()
    );
    let scan = app.scan_warnings(app.now()).await.unwrap();
    assert_eq!(scan.new.get("falling_unit"), Some(&1));
    let list = of_kind(&app, &supervisor(), "falling_unit").await;
    assert_eq!(list.len(), 1);
    let w = &list[0];
    assert_eq!(w.unit_id.as_deref(), Some(DEPT));
    assert_eq!(w.region, "4406");
    assert_eq!(w.figures["indicator"], "on_time_completion_rate");
    assert!((w.figures["points"].as_f64().unwrap() - 15.0).abs() < 1e-6);
    assert!(
        w.summary_zh.contains("按期办结率本月75.0%"),
        "{}",
        w.summary_zh
    );
    // The department's own head sees its warning; another department's does not.
    let head = staff(DEPT, &[Role::UnitHead]);
    assert_eq!(of_kind(&app, &head, "falling_unit").await.len(), 1);
    let other = staff("4406-a", &[Role::UnitHead]);
    assert!(of_kind(&app, &other, "falling_unit").await.is_empty());
    app.scan_warnings(app.now()).await.unwrap();
    assert_eq!(of_kind(&app, &supervisor(), "falling_unit").await.len(), 1);
}

/// A group warning at 440604 (five petitioners, one text).
async fn with_group_warning(app: &App) -> String {
    app.clock().set(at(3, 1));
    for phone in 0..5 {
        send(app, petition_of(phone, "440604", "城乡建设/房地产", COPY)).await;
    }
    app.clock().set(at(3, 4));
    app.scan_warnings(app.now()).await.unwrap();
    let list = of_kind(app, &supervisor(), "group").await;
    assert_eq!(list.len(), 1);
    list[0].id.clone()
}

#[tokio::test]
async fn warnings_are_scoped_and_acknowledged_by_the_right_people() {
    let (app, db) = start().await;
    db.store
        .insert_unit(&UnitRecord {
            id: "45-xfj".into(),
            name: "广西信访局".into(),
            kind: "petition_bureau".into(),
            region_code: "45".into(),
            parent_id: None,
        })
        .await
        .unwrap();
    let id = with_group_warning(&app).await;

    // Another province's supervisor sees none of them, not even counts, and cannot act.
    let stranger = staff("45-xfj", &[Role::Supervisor]);
    assert!(
        app.warnings(&stranger, &WarningQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        app.warning(&stranger, &id).await,
        Err(AppError::NotFound(_))
    ));
    assert!(matches!(
        app.acknowledge_warning(&stranger, &id, "已阅").await,
        Err(AppError::NotFound(_))
    ));
    // A handler at a department reads no warnings at all.
    assert!(matches!(
        app.warnings(&staff(DEPT, &[Role::Handler]), &WarningQuery::default())
            .await,
        Err(AppError::Forbidden(_))
    ));
    // The city bureau's registrar sees it but may not acknowledge it.
    let registrar = staff(BUREAU, &[Role::Registrar]);
    assert_eq!(app.warning(&registrar, &id).await.unwrap().id, id);
    assert!(matches!(
        app.acknowledge_warning(&registrar, &id, "已阅").await,
        Err(AppError::Forbidden(_))
    ));
    // Filters: a bad kind or region is a clear error; a region outside the warning is empty.
    let bad = app
        .warnings(
            &supervisor(),
            &WarningQuery {
                kind: Some("rumour".into()),
                ..WarningQuery::default()
            },
        )
        .await;
    assert!(matches!(bad, Err(AppError::Invalid(ref f)) if f[0].1.code == "warning_kind"));
    let bad = app
        .warnings(
            &supervisor(),
            &WarningQuery {
                region: Some("44x".into()),
                ..WarningQuery::default()
            },
        )
        .await;
    assert!(matches!(bad, Err(AppError::Invalid(ref f)) if f[0].1.code == "region_invalid"));
    let elsewhere = app
        .warnings(
            &supervisor(),
            &WarningQuery {
                region: Some("440605".into()),
                ..WarningQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(elsewhere.is_empty());

    // The city bureau's head acknowledges it with a note (a note is required).
    let head = staff(BUREAU, &[Role::UnitHead]);
    let empty = app.acknowledge_warning(&head, &id, "  ").await;
    assert!(matches!(empty, Err(AppError::Invalid(ref f)) if f[0].1.code == "warning_note"));
    let done = app
        .acknowledge_warning(&head, &id, "已安排属地街道约谈开发商")
        .await
        .unwrap();
    assert_eq!(done.status, "acknowledged");
    assert_eq!(done.note.as_deref(), Some("已安排属地街道约谈开发商"));
    assert_eq!(done.acknowledged_by.as_deref(), Some(head.id.as_str()));
    assert!(matches!(
        app.acknowledge_warning(&supervisor(), &id, "再次确认")
            .await,
        Err(AppError::Conflict(_))
    ));
    // A re-scan leaves the acknowledged warning as it is and adds none.
    let scan = app.scan_warnings(app.now()).await.unwrap();
    assert_eq!(scan.new.get("group"), None);
    let list = of_kind(&app, &supervisor(), "group").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, "acknowledged");
}

#[tokio::test]
async fn a_warning_is_sent_to_a_broadcast_group_which_records_it() {
    let (app, _db) = start().await;
    let id = with_group_warning(&app).await;
    let member = user(&app, "registrar44", BUREAU, &[Role::Registrar]).await;
    let admin = staff("0-xfj", &[Role::Administrator]);
    let group = app
        .create_broadcast_group(
            &admin,
            &GroupSpec {
                name: "全省信访部门".into(),
                region_code: "44".into(),
                levels: vec![],
                kinds: vec![],
                roles: vec![],
            },
        )
        .await
        .unwrap();
    // Unknown groups are refused clearly; a registrar may not send.
    let bad = app.send_warning(&supervisor(), &id, "nope", "").await;
    assert!(matches!(bad, Err(AppError::Invalid(ref f)) if f[0].1.code == "group_unknown"));
    assert!(matches!(
        app.send_warning(&staff(BUREAU, &[Role::Registrar]), &id, &group.id, "")
            .await,
        Err(AppError::Forbidden(_))
    ));
    let sent = app
        .send_warning(&supervisor(), &id, &group.id, "请属地核实")
        .await
        .unwrap();
    assert_eq!(sent.warning_id.as_deref(), Some(id.as_str()));
    assert_eq!(sent.kind, "supervision");
    assert!(sent.body.contains("5名信访人"), "{}", sent.body);
    assert!(sent.body.contains("请属地核实"));
    let stored = app.store().broadcast(&sent.id).await.unwrap().unwrap();
    assert_eq!(stored.warning_id.as_deref(), Some(id.as_str()));
    let w = app.warning(&supervisor(), &id).await.unwrap();
    assert_eq!(w.broadcasts, vec![sent.id.clone()]);
    run_jobs(&app).await;
    let notices = app.my_notices(&member, false, None, 10).await.unwrap();
    assert_eq!(notices.len(), 1);
    assert!(notices[0].title.contains("疑似集体访"));
}

/// The thresholds an administrator stores are the ones the scan uses, at once and after a
/// restart on the same store; bad ones and a non-administrator are refused with nothing
/// stored; each change is audited; "restore defaults" puts the start-up thresholds back.
#[tokio::test]
async fn stored_thresholds_change_what_the_scan_raises_and_survive_a_restart() {
    use huiyin_app::{Config, admin::WARNING_POLICY};
    use huiyin_domain::stats::IndicatorConfig;
    use huiyin_domain::warning::WarningPolicy;
    // The deployment starts with a spike minimum of 6 (its `Config::warnings`).
    let start_up = WarningPolicy {
        spike_min_cases: 6,
        ..WarningPolicy::default()
    };
    let (app, db) = start_with(|c| c.warnings = start_up.clone()).await;
    app.load_rules().await.unwrap();
    assert_eq!(app.warning_policy(), start_up);
    // Five cases at 440604 in the window, none before: max(3 × 0, minimum) decides.
    app.clock().set(at(3, 1));
    for i in 10..15 {
        send(
            &app,
            petition_of(i, "440604", "城乡建设/市政", &distinct_text(i as usize)),
        )
        .await;
    }
    app.clock().set(at(3, 4));
    let scan = app.scan_warnings(app.now()).await.unwrap();
    assert_eq!(scan.new.get("spike"), None, "5 < the start-up minimum of 6");

    let admin = staff(BUREAU, &[Role::Administrator]);
    let lower = WarningPolicy {
        spike_min_cases: 5,
        ..start_up.clone()
    };
    // Not for a non-administrator.
    let clerk = staff(BUREAU, &[Role::Registrar, Role::Supervisor]);
    let refused = app
        .admin_set_indicator_config(&clerk, None, Some(lower.clone()))
        .await;
    assert!(
        matches!(refused, Err(AppError::Forbidden(_))),
        "{refused:?}"
    );
    // Bad values: the domain's message with a stable code; with a good indicator
    // configuration in the same change, neither is stored.
    let bad = WarningPolicy {
        spike_days: 0,
        ..lower.clone()
    };
    let good_indicators = IndicatorConfig {
        basically_satisfied_weight: 0.5,
        ..IndicatorConfig::default()
    };
    match app
        .admin_set_indicator_config(&admin, Some(good_indicators), Some(bad))
        .await
    {
        Err(AppError::Invalid(errors)) => {
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].0, "warnings");
            assert_eq!(errors[0].1.code, "warning_policy_invalid");
            assert!(
                errors[0].1.message.contains("激增的统计天数应为1至90天"),
                "{}",
                errors[0].1.message
            );
        }
        other => panic!("{other:?}"),
    }
    let bad = WarningPolicy {
        falling_min_denominator: f64::INFINITY,
        ..lower.clone()
    };
    assert!(matches!(
        app.admin_set_indicator_config(&admin, None, Some(bad))
            .await,
        Err(AppError::Invalid(_))
    ));
    assert!(db.store.rule_settings().await.unwrap().is_empty());
    assert_eq!(app.warning_policy(), start_up);
    assert_eq!(app.indicator_config(), IndicatorConfig::default());

    // A lower minimum: the next scan raises the spike.
    app.admin_set_indicator_config(&admin, None, Some(lower.clone()))
        .await
        .unwrap();
    assert_eq!(app.warning_policy(), lower);
    let scan = app.scan_warnings(app.now()).await.unwrap();
    assert_eq!(scan.new.get("spike"), Some(&1));
    let audit = db.store.audit_entries(None, None, 100).await.unwrap();
    let set = audit
        .iter()
        .find(|r| r.entry.action == "admin_set_indicator_config")
        .expect("audited");
    assert_eq!(set.entry.actor, admin.id.to_string());
    let detail: serde_json::Value = serde_json::from_str(&set.entry.detail).unwrap();
    assert_eq!(detail[WARNING_POLICY]["from"]["spike_min_cases"], 6);
    assert_eq!(detail[WARNING_POLICY]["to"]["spike_min_cases"], 5);
    let stored = db.store.rule_settings().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].name, WARNING_POLICY);
    assert_eq!(stored[0].updated_by, admin.id.to_string());
    assert_eq!(stored[0].updated_at_ms, app.now().timestamp_millis());

    // A restarted application on the same store, whatever its start-up thresholds.
    let again = App::new(db.store.clone(), Config::default());
    again.load_rules().await.unwrap();
    assert_eq!(again.warning_policy(), lower);
    assert!(again.rules().warnings_changed.is_some());
    assert_eq!(again.indicator_config(), IndicatorConfig::default());

    // Restore defaults: the start-up thresholds again, audited; a second time changes nothing.
    assert!(
        app.admin_restore_indicator_defaults(&admin, false, true)
            .await
            .unwrap()
    );
    assert_eq!(app.warning_policy(), start_up);
    assert!(app.rules().warnings_changed.is_none());
    assert!(db.store.rule_settings().await.unwrap().is_empty());
    assert!(
        !app.admin_restore_indicator_defaults(&admin, true, true)
            .await
            .unwrap()
    );
    let audit = db.store.audit_entries(None, None, 100).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|r| r.entry.action == "admin_restore_indicator_defaults")
            .count(),
        1
    );
    assert!(db.store.verify_audit().await.unwrap().ok());
}
