//! A demonstration system: the organisation tree of one province (广东省, imported from the
//! shipped divisions), staff tokens per role,
//! and a few hundred petitions in every stage — generated here from templates, not copied from
//! any real petition.

use anyhow::{Result, anyhow};
use chrono::Duration;
use huiyin_app::{App, NewPetition};
use huiyin_domain::case::{
    Actor, Command, Decision, DeclineGround, HandlingOpinion, ReviewOutcome, Role, RouteKind,
    Satisfaction,
};
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_domain::petition::{AppealRoute, Channel, Person, Petition, Petitioner, StatutoryClass};
use huiyin_domain::supervision::SupervisionForm;
use huiyin_domain::values::{
    DocumentText, PersonName, PetitionText, PhoneNumber, Reason, RegionCode, Title,
};
use rand::Rng;
use rand::seq::IndexedRandom;

/// The province the demo loads from the shipped divisions (广东省); the petitions below are
/// placed in 佛山市 and routed to its units (ids from the default catalogue, e.g. 4406-zj).
pub const DEMO_PROVINCE: &str = "44";

const PLACES: &[(&str, &str)] = &[
    ("440604", "禅城区祖庙街道"),
    ("440604", "禅城区石湾镇街道"),
    ("440604", "禅城区张槎街道"),
    ("440605", "南海区桂城街道"),
    ("440605", "南海区大沥镇"),
    ("4406", "佛山市"),
];

/// (category, department, title template, what happened, what is asked)
const ISSUES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "城乡建设",
        "4406-zj",
        "{p}某小区物业违规收费",
        "小区物业公司今年起每月多收公摊电费，业主多次询问未获解释",
        "请求核查收费依据并退还多收费用",
    ),
    (
        "城乡建设",
        "4406-zj",
        "{p}工地夜间施工噪音扰民",
        "附近工地连续多日晚上十一点后仍在打桩，老人小孩无法休息",
        "请求依法查处夜间违规施工",
    ),
    (
        "劳动和社会保障",
        "4406-rs",
        "{p}某厂拖欠工人工资",
        "工厂已三个月未发工资，涉及工人四十余名，老板避而不见",
        "请求协调追讨拖欠的工资",
    ),
    (
        "劳动和社会保障",
        "4406-rs",
        "{p}社保缴费年限认定有误",
        "本人在原单位工作十年，社保记录只显示六年",
        "请求核实并更正缴费记录",
    ),
    (
        "教育文体",
        "4406-jy",
        "{p}小学学位分配不公",
        "户籍和房产均在片区内，孩子却被调剂到五公里外的学校",
        "请求说明分配规则并重新安排学位",
    ),
    (
        "环境保护",
        "4406-sthj",
        "{p}工厂排放刺鼻废气",
        "每天傍晚附近工厂排出刺鼻气味，居民出现咳嗽症状",
        "请求检测并督促企业整改",
    ),
    (
        "交通运输",
        "4406-zj",
        "{p}道路长期积水无人修",
        "每逢下雨路面积水过膝，行人车辆通行困难已近一年",
        "请求尽快修复排水设施",
    ),
    (
        "公安政法",
        "4406-ga",
        "{p}小区周边治安问题",
        "近期小区接连发生电动车被盗，报警后仍无进展",
        "请求加强巡逻并告知案件进展",
    ),
];

const NAMES: &[&str] = &[
    "陈建国",
    "李秀英",
    "王志强",
    "张丽华",
    "刘德明",
    "黄美玲",
    "何家豪",
    "梁淑芬",
    "吴永昌",
    "林小燕",
];

fn unit_actor(id: &str, unit: &str, roles: &[Role]) -> Actor {
    Actor {
        id: ActorId::new(id),
        roles: roles.to_vec(),
        unit: Some(UnitId::new(unit)),
        oversees_case: false,
        is_case_petitioner: false,
    }
}

fn reason(s: &str) -> Result<Reason> {
    Reason::parse(s).map_err(|e| anyhow!("demo text: {e}"))
}

fn doc(s: &str) -> Result<DocumentText> {
    DocumentText::parse(s).map_err(|e| anyhow!("demo text: {e}"))
}

fn opinion(ask: &str, decision: Decision) -> Result<HandlingOpinion> {
    Ok(HandlingOpinion {
        request: doc(ask)?,
        facts: doc(
            "经调查核实，信访人反映的情况基本属实。我单位已于近日约谈相关责任方并现场核查。",
        )?,
        reasons: doc("根据调查情况，相关责任方已承诺在规定期限内整改，我单位将跟踪落实。")?,
        legal_basis: doc("《信访工作条例》第三十二条及相关行业管理规定。")?,
        decision,
    })
}

/// Populates the demo if the database has no cases yet, and prints staff tokens either way.
pub async fn ensure(app: &App, petitions: u32) -> Result<()> {
    let store = app.store();
    // The whole province from the shipped GB/T 2260 divisions (idempotent: a restart changes
    // nothing).
    let report = crate::org::import_tree(store, Some(DEMO_PROVINCE), None).await?;
    println!(
        "组织机构：广东省 {} 个单位已就绪（新增 {}）/ organisation tree of province {DEMO_PROVINCE} ready",
        report.units_added + report.units_updated + report.units_unchanged,
        report.units_added
    );
    let accounts: &[(&str, &str, &[Role])] = &[
        ("登记员 佛山市信访局", "4406-xfj", &[Role::Registrar]),
        (
            "负责人 佛山市信访局",
            "4406-xfj",
            &[Role::UnitHead, Role::Registrar],
        ),
        ("领导 佛山市信访局", "4406-xfj", &[Role::Leader]),
        ("承办人 佛山市住建局", "4406-zj", &[Role::Handler]),
        (
            "负责人 佛山市住建局",
            "4406-zj",
            &[Role::UnitHead, Role::Handler],
        ),
        (
            "督办 广东省信访局",
            "44-xfj",
            &[Role::Supervisor, Role::UnitHead],
        ),
        ("管理员", "0-xfj", &[Role::Administrator]),
    ];
    println!("演示账号（API 令牌，仅本次显示）/ demo API tokens (shown once):");
    for (name, unit, roles) in accounts {
        let token = app
            .create_token(&format!("demo: {name}"), Some(unit), roles, Some(30))
            .await
            .map_err(|e| anyhow!("{e}"))?;
        println!("  {name:<16} {unit:<10} {token}");
    }
    login_accounts(app).await?;
    if store.count_cases().await? > 0 {
        println!("演示数据已存在 / demo data present");
        return Ok(());
    }
    generate(app.clone(), petitions).await?;
    println!("已生成{petitions}件演示信访事项 / generated {petitions} demo petitions");
    Ok(())
}

/// The staff sign-in accounts of the demo: (username, display name, unit, roles).
/// `dengji` also registers at 禅城区信访局, so the unit switcher has something to switch.
pub const LOGIN_ACCOUNTS: &[(&str, &str, &str, &[Role])] = &[
    (
        "dengji",
        "登记员 佛山市信访局",
        "4406-xfj",
        &[Role::Registrar],
    ),
    (
        "xfj-fuze",
        "负责人 佛山市信访局",
        "4406-xfj",
        &[Role::UnitHead, Role::Registrar],
    ),
    ("lingdao", "领导 佛山市信访局", "4406-xfj", &[Role::Leader]),
    (
        "zj-chengban",
        "承办人 佛山市住建局",
        "4406-zj",
        &[Role::Handler],
    ),
    (
        "zj-fuze",
        "负责人 佛山市住建局",
        "4406-zj",
        &[Role::UnitHead, Role::Handler],
    ),
    (
        "sheng-ducha",
        "督办 广东省信访局",
        "44-xfj",
        &[Role::Supervisor, Role::UnitHead],
    ),
    ("daili", "代理员 佛山市信访局", "4406-xfj", &[Role::Proxy]),
    ("shenji", "审计员 国家信访局", "0-xfj", &[Role::Auditor]),
    (
        "admin",
        "管理员 国家信访局",
        "0-xfj",
        &[Role::Administrator],
    ),
];

/// The second unit of the demo registrar (the unit switcher).
const SECOND_UNIT: (&str, &str) = ("dengji", "440604-xfj");

/// Creates (or, on a restart, re-keys) the demo's staff sign-in accounts and prints them with
/// their password: `HUIYIN_DEMO_PASSWORD` if set (the browser tests set it), else a random one
/// shown once. The administrator needs a second factor: the demo enrols a TOTP secret and
/// prints it for an authenticator app (or `oathtool --totp -b SECRET`).
async fn login_accounts(app: &App) -> Result<()> {
    let password = match std::env::var("HUIYIN_DEMO_PASSWORD") {
        Ok(p) if !p.trim().is_empty() => p,
        _ => huiyin_app::auth::generate_password(),
    };
    // Printed as one block once every account exists, so the log lines written while they are
    // made do not split the list a person has to read.
    let mut lines = vec![
        "演示登录账号（工作人员登录 /staff/login，密码仅本次显示）/ demo staff logins:".to_string(),
    ];
    for (username, name, unit, roles) in LOGIN_ACCOUNTS {
        let role_names: Vec<String> = roles.iter().map(|r| r.as_str().to_string()).collect();
        let exists = app.store().user_by_username(username).await?.is_some();
        if exists {
            app.reset_password(username, Some(&password), false)
                .await
                .map_err(|e| anyhow!("demo account {username}: {e}"))?;
        } else {
            app.add_user(username, name, unit, &role_names, Some(&password))
                .await
                .map_err(|e| anyhow!("demo account {username}: {e}"))?;
        }
        if *username == SECOND_UNIT.0 && app.store().unit(SECOND_UNIT.1).await?.is_some() {
            app.grant(username, SECOND_UNIT.1, &role_names)
                .await
                .map_err(|e| anyhow!("demo account {username}: {e}"))?;
        }
        let roles_zh: Vec<&str> = roles.iter().map(|r| r.label_zh()).collect();
        lines.push(format!(
            "  {username:<12} {password}  {name}（{}）",
            roles_zh.join("、")
        ));
        if roles.contains(&Role::Administrator) {
            let secret = admin_totp(app, username).await?;
            lines.push(format!(
                "  {:<12} 动态口令密钥 / TOTP secret: {secret}（oathtool --totp -b {secret}）",
                ""
            ));
        }
    }
    println!("{}", lines.join("\n"));
    Ok(())
}

/// The administrator's TOTP secret: kept across restarts, enrolled on first start.
async fn admin_totp(app: &App, username: &str) -> Result<String> {
    let user = app
        .store()
        .user_by_username(username)
        .await?
        .ok_or_else(|| anyhow!("demo account {username} missing"))?;
    if let Some(secret) = user.totp_secret {
        return Ok(secret);
    }
    let mut key = [0u8; 20];
    rand::Rng::fill(&mut rand::rng(), &mut key[..]);
    let secret = huiyin_app::auth::totp::base32_encode(&key);
    app.store()
        .set_totp_pending(&user.id, Some(&secret))
        .await?;
    if !app.store().confirm_totp(&user.id, &secret).await? {
        return Err(anyhow!("could not enrol the demo administrator's TOTP"));
    }
    Ok(secret)
}

async fn generate(app: App, n: u32) -> Result<()> {
    let system = Actor {
        roles: vec![Role::Registrar],
        ..Actor::system()
    };
    let mut rng = rand::rng();
    // Circulars (通报) made so far.
    let mut circulated = 0u32;
    for i in 0..n {
        let (category, dept, title_t, happened, ask) = *ISSUES
            .choose(&mut rng)
            .ok_or_else(|| anyhow!("no issues"))?;
        let (region, place) = *PLACES
            .choose(&mut rng)
            .ok_or_else(|| anyhow!("no places"))?;
        let anonymous = rng.random_ratio(1, 10);
        let petitioner = if anonymous {
            Petitioner::Anonymous
        } else {
            let name = NAMES.choose(&mut rng).ok_or_else(|| anyhow!("no names"))?;
            let phone = format!("139{:08}", rng.random_range(10_000_000..99_999_999u32));
            Petitioner::Named(Person {
                name: PersonName::parse(name).map_err(|e| anyhow!("{e}"))?,
                phone: Some(PhoneNumber::parse(&phone).map_err(|e| anyhow!("{e}"))?),
                id_card: None,
                address: None,
            })
        };
        let channel = *[
            Channel::MobileWeb,
            Channel::MobileWeb,
            Channel::OnlineWeb,
            Channel::Letter,
            Channel::Visit,
            Channel::Phone,
        ]
        .choose(&mut rng)
        .ok_or_else(|| anyhow!("no channels"))?;
        let days_ago = rng.random_range(0..75);
        let petition = Petition {
            channel,
            petitioner,
            group: None,
            title: Title::parse(&title_t.replace("{p}", place)).map_err(|e| anyhow!("{e}"))?,
            text: PetitionText::parse(&format!("{place}：{happened}。{ask}。（演示数据 #{i}）"))
                .map_err(|e| anyhow!("{e}"))?,
            region: RegionCode::parse(region).map_err(|e| anyhow!("{e}"))?,
            category: Some(category.to_string()),
            class: None,
            attachments: Vec::new(),
            also_sent_to: Vec::new(),
            // Half of the web petitioners agree to their reply being published (网上公开),
            // so the portal's page of published replies has something to show.
            publish_consent: matches!(channel, Channel::MobileWeb | Channel::OnlineWeb)
                && rng.random_ratio(1, 2),
            proxy: None,
        };
        let receipt = app
            .submit(
                system.clone(),
                NewPetition {
                    petition,
                    idempotency_key: None,
                    received_at: Some(app.now() - Duration::days(days_ago)),
                },
            )
            .await
            .map_err(|e| anyhow!("demo submit: {e}"))?;
        let case = CaseId::new(receipt.case_id.clone());
        // The bureau that received it registers and routes it.
        let bureau = unit_actor(
            "demo-registrar",
            &receipt.bureau_id,
            &[Role::Registrar, Role::UnitHead],
        );
        let target_stage = rng.random_range(0..10u32);
        if target_stage == 0 {
            continue;
        }
        let run = |actor: Actor, command: Command| {
            let app = app.clone();
            let case = case.clone();
            async move {
                app.execute(actor, case, command, None)
                    .await
                    .map_err(|e| anyhow!("demo step: {e}"))
            }
        };
        let litigation = rng.random_ratio(1, 12);
        let class = if litigation {
            StatutoryClass::Appeal(AppealRoute::LawAndLitigation)
        } else {
            StatutoryClass::Appeal(AppealRoute::PetitionProcedure)
        };
        run(
            bureau.clone(),
            Command::Register {
                class,
                category: Some(category.into()),
                accused: Vec::new(),
            },
        )
        .await?;
        if target_stage == 1 {
            continue;
        }
        if litigation {
            run(
                bureau.clone(),
                Command::Decline {
                    ground: DeclineGround::OtherProcedure,
                    reason: reason("该事项属于涉法涉诉事项，应通过法定诉讼程序解决")?,
                    guidance: reason("请向佛山市中级人民法院提起诉讼或申请再审")?,
                },
            )
            .await?;
            continue;
        }
        // County bureaus hand cases up to the city departments through the city bureau in
        // reality; the demo routes straight to the department.
        let assign = rng.random_bool(0.5);
        let kind = if assign {
            RouteKind::Assign {
                due_at: app.now() + Duration::days(rng.random_range(5..40)),
            }
        } else {
            RouteKind::Forward
        };
        run(
            bureau.clone(),
            Command::Route {
                kind,
                unit: UnitId::new(dept),
            },
        )
        .await?;
        if target_stage == 2 {
            continue;
        }
        let handler = unit_actor("demo-handler", dept, &[Role::Handler, Role::UnitHead]);
        run(handler.clone(), Command::Accept).await?;
        if target_stage == 3 {
            // Cases in handling under the province's supervision: a 督办单 by phone to every
            // case of the housing bureau, named (挂牌督办), and to a quarter of the others.
            let named = dept == "4406-zj";
            if named || rng.random_ratio(1, 4) {
                let supervisor = unit_actor("demo-supervisor", "44-xfj", &[Role::Supervisor]);
                run(
                    supervisor.clone(),
                    Command::Supervise {
                        form: SupervisionForm::Phone,
                        text: doc("群众反映强烈，请加快办理，五个工作日内书面反馈办理进展")?,
                        reply_working_days: Some(5),
                        named,
                        ladder: None,
                    },
                )
                .await?;
                // The first of those not named and every third one after it is also
                // circulated (通报), so the circulars list has rows.
                if !named && (circulated == 0 || rng.random_ratio(1, 3)) {
                    circulated += 1;
                    run(
                        supervisor,
                        Command::Circulate {
                            text: doc("办理进度滞后，群众反映强烈，予以通报")?,
                            order: None,
                        },
                    )
                    .await?;
                }
            }
            continue;
        }
        if target_stage == 4 {
            run(
                handler.clone(),
                Command::RequestExtension {
                    days: 30,
                    reason: reason("需要委托第三方检测，检测周期较长")?,
                },
            )
            .await?;
            run(
                handler.clone(),
                Command::DecideExtension {
                    approve: true,
                    reason: reason("同意延期，请按期办结")?,
                },
            )
            .await?;
            continue;
        }
        let decision = *[Decision::Support, Decision::Explain, Decision::NotSupport]
            .choose(&mut rng)
            .ok_or_else(|| anyhow!("no decisions"))?;
        run(
            handler.clone(),
            Command::Reply {
                opinion: opinion(ask, decision)?,
            },
        )
        .await?;
        if assign {
            run(
                handler.clone(),
                Command::SubmitCompletionReport {
                    report: doc("已按要求办结并书面答复信访人，现报送办结报告。")?,
                },
            )
            .await?;
            run(
                bureau.clone(),
                Command::CheckCompletionReport {
                    approve: true,
                    reason: reason("办结报告符合要求")?,
                    new_due_at: None,
                },
            )
            .await?;
        }
        if target_stage == 5 || anonymous {
            continue;
        }
        let satisfied = *[
            Satisfaction::Satisfied,
            Satisfaction::BasicallySatisfied,
            Satisfaction::Unsatisfied,
        ]
        .choose(&mut rng)
        .ok_or_else(|| anyhow!("no ratings"))?;
        run(
            bureau.clone(),
            Command::Rate {
                bureau: satisfied,
                unit: satisfied,
                comment: None,
            },
        )
        .await?;
        if target_stage <= 7 || satisfied != Satisfaction::Unsatisfied {
            continue;
        }
        run(
            bureau.clone(),
            Command::RequestReview {
                reason: reason("对处理意见不服，申请复查")?,
                review_unit: UnitId::new("4406-xfj"),
            },
        )
        .await?;
        if target_stage == 8 {
            continue;
        }
        let reviewer = unit_actor("demo-reviewer", "4406-xfj", &[Role::UnitHead]);
        run(
            reviewer,
            Command::DecideReview {
                outcome: ReviewOutcome::Uphold,
                opinion: opinion(ask, decision)?,
            },
        )
        .await?;
    }
    // The deadline scan takes what is already due (registrations left too long).
    let report = app
        .scan_deadlines(app.now())
        .await
        .map_err(|e| anyhow!("demo deadline scan: {e}"))?;
    println!(
        "期限扫描：催办、督办 {} 项 / deadline scan took {} steps",
        report.taken_total(),
        report.taken_total()
    );
    broadcasts(&app).await?;
    warnings(&app).await?;
    Ok(())
}

/// What makes the early-warning page (预警) show something: six petitioners at 南海区桂城街道
/// sending one text about a late handover of flats (a possible group petition), and one
/// petitioner with three unresolved matters; then the scan.
async fn warnings(app: &App) -> Result<()> {
    let system = Actor {
        roles: vec![Role::Registrar],
        ..Actor::system()
    };
    let named = |name: &str, phone: &str| -> Result<Petitioner> {
        Ok(Petitioner::Named(Person {
            name: PersonName::parse(name).map_err(|e| anyhow!("{e}"))?,
            phone: Some(PhoneNumber::parse(phone).map_err(|e| anyhow!("{e}"))?),
            id_card: None,
            address: None,
        }))
    };
    let petition = |petitioner: Petitioner,
                    region: &str,
                    category: &str,
                    title: &str,
                    text: &str|
     -> Result<Petition> {
        Ok(Petition {
            channel: Channel::MobileWeb,
            petitioner,
            group: None,
            title: Title::parse(title).map_err(|e| anyhow!("{e}"))?,
            text: PetitionText::parse(text).map_err(|e| anyhow!("{e}"))?,
            region: RegionCode::parse(region).map_err(|e| anyhow!("{e}"))?,
            category: Some(category.to_string()),
            class: None,
            attachments: Vec::new(),
            also_sent_to: Vec::new(),
            publish_consent: false,
            proxy: None,
        })
    };
    let mut sent = Vec::new();
    for (i, name) in NAMES.iter().cycle().take(6).enumerate() {
        sent.push((
            petition(
                named(name, &format!("1370000{:04}", 100 + i))?,
                "440605",
                "城乡建设",
                "桂城街道某楼盘逾期交房",
                "我们是桂城街道某楼盘的购房业主，开发商承诺去年底交房，至今已逾期八个月仍未交付，售楼处已关闭，多次找开发商无人答复，请求政府督促开发商尽快交房并依合同支付违约金。",
            )?,
            Duration::days(i64::try_from(i % 3).unwrap_or(0)),
        ));
    }
    for (i, (category, _, title, happened, ask)) in ISSUES.iter().take(3).enumerate() {
        sent.push((
            petition(
                named("陈建国", "13700009999")?,
                "440604",
                category,
                &title.replace("{p}", "禅城区祖庙街道"),
                &format!("禅城区祖庙街道：{happened}。{ask}。（演示数据 重复信访 #{i}）"),
            )?,
            Duration::days(10 + 20 * i64::try_from(i).unwrap_or(0)),
        ));
    }
    for (petition, ago) in sent {
        app.submit(
            system.clone(),
            NewPetition {
                petition,
                idempotency_key: None,
                received_at: Some(app.now() - ago),
            },
        )
        .await
        .map_err(|e| anyhow!("demo submit: {e}"))?;
    }
    let scan = app
        .scan_warnings(app.now())
        .await
        .map_err(|e| anyhow!("demo early-warning scan: {e}"))?;
    println!(
        "预警扫描：新增预警 {} 条 / early-warning scan raised {} warnings {:?}",
        scan.new_total(),
        scan.new_total(),
        scan.new
    );
    Ok(())
}

/// Two broadcast groups (定向发送) and a message to each, so the broadcasts page and the
/// notices of 负责人 佛山市住建局 have something to show.
async fn broadcasts(app: &App) -> Result<()> {
    use huiyin_app::staff_notify::{BroadcastSpec, GroupSpec};
    let admin = unit_actor("demo-admin", "0-xfj", &[Role::Administrator]);
    let heads = app
        .create_broadcast_group(
            &admin,
            &GroupSpec {
                name: "佛山市职能部门负责人".into(),
                region_code: "4406".into(),
                levels: vec![],
                kinds: vec!["department".into()],
                roles: vec!["unit_head".into()],
            },
        )
        .await
        .map_err(|e| anyhow!("demo broadcast group: {e}"))?;
    let bureaus = app
        .create_broadcast_group(
            &admin,
            &GroupSpec {
                name: "佛山市县区信访部门".into(),
                region_code: "4406".into(),
                levels: vec!["county".into()],
                kinds: vec!["petition_bureau".into()],
                roles: vec![],
            },
        )
        .await
        .map_err(|e| anyhow!("demo broadcast group: {e}"))?;
    let leader = unit_actor("demo-leader", "4406-xfj", &[Role::Leader]);
    for (group, kind, title, body) in [
        (
            &heads.id,
            "instruction",
            "关于做好节前信访工作的通知",
            "请各部门主要负责人落实领导接访制度，节日期间保持值班，重要情况及时报告。",
        ),
        (
            &bureaus.id,
            "supervision",
            "本周督办情况",
            "本周省信访局对我市挂牌督办信访事项，请各县区信访部门督促承办单位按期书面答复。",
        ),
    ] {
        app.send_broadcast(
            &leader,
            &BroadcastSpec {
                group_id: group.clone(),
                kind: kind.into(),
                title: title.into(),
                body: body.into(),
                case_id: None,
            },
        )
        .await
        .map_err(|e| anyhow!("demo broadcast: {e}"))?;
    }
    Ok(())
}
