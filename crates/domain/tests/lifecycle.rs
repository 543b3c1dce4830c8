//! Worked scenarios of the case lifecycle (`decide` / `apply`), on the real 2024 calendar.
//!
//! Every deadline asserted here was counted by hand from the 信访工作条例 limits, the default
//! counting rule (start the next day; a natural-day deadline that falls on a day off moves to the
//! next working day) and the official 2024 holiday list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};

use huiyin_domain::calendar::Calendar;
use huiyin_domain::case::{
    Actor, CaseState, Command, Ctx, Decision, DeclineGround, Event, EventKind, HandlingOpinion,
    MergeReason, Rejection, ReportStatus, ReviewOutcome, Role, RouteKind, Satisfaction, Stage,
    apply, decide, replay,
};
use huiyin_domain::clock;
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_domain::petition::{AppealRoute, Channel, MaskedPerson, PetitionRecord, StatutoryClass};
use huiyin_domain::policy::{ClockKind, DeadlinePolicy};
use huiyin_domain::values::{DocumentText, PetitionText, Reason, ReceiptCode, RegionCode, Title};
use huiyin_domain::{CHINA_OFFSET, Instant};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const BUREAU: &str = "xfj-440604";
const UNIT_A: &str = "zjj-440604";
const UNIT_B: &str = "sthj-440604";
const REVIEW: &str = "gov-440604";
const REREVIEW: &str = "gov-4406";
const ZHENGFA: &str = "court-440604";

fn unit(id: &str) -> UnitId {
    UnitId::new(id)
}

/// An instant from a China-time wall clock reading.
fn cst(y: i32, m: u32, d: u32, h: u32, min: u32) -> Instant {
    CHINA_OFFSET
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// The last instant (23:59:59.999 China time) of a date: when a date deadline ends.
fn eod(y: i32, m: u32, d: u32) -> Instant {
    cst(y, m, d, 23, 59) + TimeDelta::milliseconds(59_999)
}

fn local_date(t: Instant) -> NaiveDate {
    t.with_timezone(&CHINA_OFFSET).date_naive()
}

fn staff(id: &str, u: &str, roles: &[Role]) -> Actor {
    Actor {
        id: ActorId::new(id),
        roles: roles.to_vec(),
        unit: Some(unit(u)),
        oversees_case: false,
        is_case_petitioner: false,
    }
}

fn registrar() -> Actor {
    staff("reg-1", BUREAU, &[Role::Registrar])
}

fn handler(u: &str) -> Actor {
    staff(&format!("handler@{u}"), u, &[Role::Handler])
}

fn head(u: &str) -> Actor {
    staff(&format!("head@{u}"), u, &[Role::UnitHead])
}

fn leader(oversees: bool) -> Actor {
    Actor {
        oversees_case: oversees,
        ..staff("leader-1", "gov-44", &[Role::Leader])
    }
}

fn petitioner(proved: bool) -> Actor {
    Actor {
        id: ActorId::new("petitioner-session"),
        roles: vec![Role::Petitioner],
        unit: None,
        oversees_case: false,
        is_case_petitioner: proved,
    }
}

fn reason(s: &str) -> Reason {
    Reason::parse(s).unwrap()
}

fn doc(s: &str) -> DocumentText {
    DocumentText::parse(s).unwrap()
}

fn opinion(decision: Decision) -> HandlingOpinion {
    HandlingOpinion {
        request: doc("请求拆除楼下违章加建"),
        facts: doc("经查，该加建部分未取得规划许可"),
        reasons: doc("加建违反城乡规划法"),
        legal_basis: doc("《中华人民共和国城乡规划法》第六十四条"),
        decision,
    }
}

fn petition(anonymous: bool, class: Option<StatutoryClass>) -> PetitionRecord {
    PetitionRecord {
        channel: Channel::MobileWeb,
        anonymous,
        petitioner_masked: (!anonymous).then(|| MaskedPerson {
            name: "张*".into(),
            phone: Some("138****1234".into()),
        }),
        personal_digest: None,
        group_headcount: None,
        group_representatives: 0,
        title: Title::parse("楼下违建遮挡采光").unwrap(),
        text: PetitionText::parse("我家楼下住户加建违章建筑，遮挡采光，请求依法处理。").unwrap(),
        region: RegionCode::parse("440604").unwrap(),
        category: Some("城乡建设/违法建设".into()),
        class,
        attachments: Vec::new(),
        also_sent_to: Vec::new(),
        publish_consent: false,
        proxy: None,
    }
}

const PETITION_PROCEDURE: StatutoryClass = StatutoryClass::Appeal(AppealRoute::PetitionProcedure);
const LAW_AND_LITIGATION: StatutoryClass = StatutoryClass::Appeal(AppealRoute::LawAndLitigation);

/// One case, its event log and its folded state, with a clock the test moves by hand.
#[derive(Clone)]
struct World {
    policy: DeadlinePolicy,
    id: CaseId,
    now: Instant,
    events: Vec<Event>,
    state: Option<CaseState>,
}

impl World {
    fn new(id: &str, now: Instant) -> Self {
        World {
            policy: DeadlinePolicy::default(),
            id: CaseId::new(id),
            now,
            events: Vec::new(),
            state: None,
        }
    }

    /// A submitted case (by the petitioner, received `now`).
    fn submitted(id: &str, now: Instant, anonymous: bool) -> Self {
        let mut w = World::new(id, now);
        w.ok(
            &petitioner(false),
            Command::Submit {
                petition: petition(anonymous, None).into(),
                receipt: ReceiptCode::from_random(*b"huiyin01"),
                bureau: unit(BUREAU),
                received_at: now,
            },
        );
        w
    }

    /// A case registered as `class` and forwarded (转送) to unit A, all at `now`.
    fn forwarded(id: &str, now: Instant, anonymous: bool, class: StatutoryClass) -> Self {
        let mut w = World::submitted(id, now, anonymous);
        w.ok(
            &registrar(),
            Command::Register {
                class,
                category: None,
                accused: Vec::new(),
            },
        );
        w.ok(&registrar(), route(RouteKind::Forward, UNIT_A));
        w
    }

    /// A forwarded case accepted by unit A, all at `now`.
    fn handling(id: &str, now: Instant, anonymous: bool) -> Self {
        let mut w = World::forwarded(id, now, anonymous, PETITION_PROCEDURE);
        w.ok(&handler(UNIT_A), Command::Accept);
        w
    }

    fn at(&mut self, t: Instant) {
        assert!(t >= self.now, "the test clock only moves forward");
        self.now = t;
    }

    fn run(&mut self, actor: &Actor, command: Command) -> Result<Vec<Event>, Rejection> {
        let ctx = Ctx {
            now: self.now,
            actor,
            policy: &self.policy,
            calendar: Calendar::china(),
        };
        let result = decide(self.state.as_ref(), &self.id, command, &ctx);
        if let Ok(events) = &result {
            assert!(!events.is_empty(), "an accepted command yields events");
            for event in events {
                assert_eq!(event.version, self.events.len() as u64 + 1);
                assert_eq!(event.case_id, self.id);
                assert_eq!(event.at, self.now);
                assert_eq!(event.actor, actor.id);
                self.state = Some(apply(self.state.take(), event).unwrap());
                self.events.push(event.clone());
            }
            assert_eq!(replay(&self.events).unwrap(), self.state);
        }
        result
    }

    /// Runs a command that must be accepted; returns the kinds of its events.
    #[track_caller]
    fn ok(&mut self, actor: &Actor, command: Command) -> Vec<EventKind> {
        let name = command.name();
        match self.run(actor, command) {
            Ok(events) => events.into_iter().map(|e| e.kind).collect(),
            Err(rejection) => panic!("`{name}` was refused: {rejection} ({})", rejection.code()),
        }
    }

    /// Runs a command that must be refused; checks nothing changed and returns the rejection.
    #[track_caller]
    fn refused(&mut self, actor: &Actor, command: Command) -> Rejection {
        let name = command.name();
        let before = (self.state.clone(), self.events.len());
        match self.run(actor, command) {
            Ok(events) => panic!("`{name}` was accepted: {events:?}"),
            Err(rejection) => {
                assert_eq!((self.state.clone(), self.events.len()), before);
                rejection
            }
        }
    }

    /// The stable code of the refusal of a command that must be refused.
    #[track_caller]
    fn code(&mut self, actor: &Actor, command: Command) -> &'static str {
        self.refused(actor, command).code()
    }

    fn s(&self) -> &CaseState {
        self.state.as_ref().unwrap()
    }

    fn stage(&self) -> Stage {
        self.s().stage
    }

    fn running(&self, kind: ClockKind) -> bool {
        self.s().timer(kind).is_some()
    }

    /// The deadline of the running timer of `kind`.
    #[track_caller]
    fn deadline(&self, kind: ClockKind) -> clock::Deadline {
        let timer = self
            .s()
            .timer(kind)
            .unwrap_or_else(|| panic!("no running {kind:?} timer"));
        clock::deadline(timer, &self.policy, Calendar::china())
    }

    #[track_caller]
    fn due(&self, kind: ClockKind) -> Instant {
        self.deadline(kind).due_at
    }

    /// The deadline of the last timer of `kind`, running or stopped.
    #[track_caller]
    fn last_deadline(&self, kind: ClockKind) -> clock::Deadline {
        let timer = self
            .s()
            .timers
            .iter()
            .rev()
            .find(|t| t.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} timer at all"));
        clock::deadline(timer, &self.policy, Calendar::china())
    }

    fn running_kinds(&self) -> Vec<ClockKind> {
        let mut kinds: Vec<ClockKind> = self
            .s()
            .timers
            .iter()
            .filter(|t| t.stopped_at.is_none())
            .map(|t| t.kind)
            .collect();
        kinds.sort();
        kinds
    }
}

fn route(kind: RouteKind, to: &str) -> Command {
    Command::Route {
        kind,
        unit: unit(to),
    }
}

fn rate() -> Command {
    Command::Rate {
        bureau: Satisfaction::Satisfied,
        unit: Satisfaction::BasicallySatisfied,
        comment: Some(reason("答复及时，解释清楚")),
    }
}

fn request_review() -> Command {
    Command::RequestReview {
        reason: reason("对处理意见不服"),
        review_unit: unit(REVIEW),
    }
}

fn request_rereview() -> Command {
    Command::RequestRereview {
        reason: reason("对复查意见不服"),
        rereview_unit: unit(REREVIEW),
    }
}

fn check_report(approve: bool, new_due_at: Option<Instant>) -> Command {
    Command::CheckCompletionReport {
        approve,
        reason: reason(if approve {
            "报告属实"
        } else {
            "未附现场核查材料"
        }),
        new_due_at,
    }
}

fn extension(days: u32) -> Command {
    Command::RequestExtension {
        days,
        reason: reason("需现场测量并征求规划部门意见"),
    }
}

fn decide_extension(approve: bool) -> Command {
    Command::DecideExtension {
        approve,
        reason: reason("情况复杂，同意延期"),
    }
}

fn note() -> Command {
    Command::AddNote {
        text: doc("已电话联系信访人"),
    }
}

fn instruct() -> Command {
    Command::Instruct {
        text: doc("请依法依规妥善处理"),
    }
}

fn withdraw() -> Command {
    Command::Withdraw {
        reason: reason("问题已经解决"),
    }
}

/// Every command that is not a note or an instruction, each with the actor who could normally
/// give it in its own stage, and arguments that are otherwise valid at `now`.
fn every_other_command(now: Instant) -> Vec<(Actor, Command)> {
    vec![
        (
            petitioner(true),
            Command::Submit {
                petition: petition(false, None).into(),
                receipt: ReceiptCode::from_random(*b"another!"),
                bureau: unit(BUREAU),
                received_at: now,
            },
        ),
        (
            registrar(),
            Command::Register {
                class: PETITION_PROCEDURE,
                category: None,
                accused: Vec::new(),
            },
        ),
        (registrar(), route(RouteKind::Forward, UNIT_B)),
        (registrar(), route(RouteKind::Bureau, BUREAU)),
        (handler(UNIT_A), Command::Accept),
        (
            handler(UNIT_A),
            Command::Decline {
                ground: DeclineGround::NotPetitionMatter,
                reason: reason("不属于信访事项"),
                guidance: reason("请向人民法院起诉"),
            },
        ),
        (
            handler(UNIT_A),
            Command::Object {
                reason: reason("不属本单位职权"),
            },
        ),
        (
            registrar(),
            Command::ResolveObjection {
                agree: true,
                reason: reason("异议成立"),
            },
        ),
        (handler(UNIT_A), extension(10)),
        (head(UNIT_A), decide_extension(true)),
        (
            head(UNIT_A),
            Command::Reply {
                opinion: opinion(Decision::Support),
            },
        ),
        (
            handler(UNIT_A),
            Command::SubmitCompletionReport {
                report: doc("已办结，附处理意见书"),
            },
        ),
        (registrar(), check_report(true, None)),
        (registrar(), check_report(false, None)),
        (petitioner(true), rate()),
        (registrar(), rate()),
        (petitioner(true), request_review()),
        (
            head(REVIEW),
            Command::DecideReview {
                outcome: ReviewOutcome::Uphold,
                opinion: opinion(Decision::NotSupport),
            },
        ),
        (petitioner(true), request_rereview()),
        (
            handler(REREVIEW),
            Command::StartHearing {
                note: reason("组织听证"),
            },
        ),
        (
            handler(REREVIEW),
            Command::EndHearing {
                note: reason("听证结束"),
            },
        ),
        (
            head(REREVIEW),
            Command::DecideRereview {
                outcome: ReviewOutcome::Uphold,
                opinion: opinion(Decision::NotSupport),
            },
        ),
        (petitioner(true), withdraw()),
        (registrar(), withdraw()),
        (
            registrar(),
            Command::MergeInto {
                into: CaseId::new("case-other"),
                reason: MergeReason::Duplicate,
            },
        ),
        (
            registrar(),
            Command::Absorb {
                source: CaseId::new("case-other"),
                reason: MergeReason::Duplicate,
            },
        ),
        (leader(true), Command::TakeCharge),
    ]
}

/// In a terminal stage, every command but notes and instructions is refused and changes nothing;
/// notes and instructions are still recorded and stay internal.
#[track_caller]
fn assert_closed(w: &mut World) {
    let stage = w.stage();
    assert!(stage.is_terminal());
    assert!(w.running_kinds().is_empty(), "{:?}", w.running_kinds());
    for (actor, command) in every_other_command(w.now) {
        let name = command.name();
        let before = w.s().clone();
        if let Ok(events) = w.run(&actor, command) {
            panic!("`{name}` was accepted in stage {stage:?}: {events:?}");
        }
        assert_eq!(w.s(), &before);
    }
    let notes = w.s().notes;
    let kinds = w.ok(&registrar(), note());
    assert!(matches!(kinds[..], [EventKind::NoteAdded { .. }]));
    assert!(!kinds[0].visible_to_petitioner());
    let kinds = w.ok(&leader(true), instruct());
    assert!(matches!(kinds[..], [EventKind::Instructed { .. }]));
    assert!(!kinds[0].visible_to_petitioner());
    assert_eq!(w.s().notes, notes + 1);
    assert_eq!(w.stage(), stage);
}

// ---------------------------------------------------------------------------------------------
// The whole road: submit → … → 终结
// ---------------------------------------------------------------------------------------------

#[test]
fn happy_path_from_submission_to_conclusion() {
    use ClockKind as K;

    // Friday 2024-03-01, 09:00: the petitioner submits online.
    let mut w = World::submitted("case-1", cst(2024, 3, 1, 9, 0), false);
    assert_eq!(w.stage(), Stage::Submitted);
    assert_eq!(w.running_kinds(), vec![K::RegisterRoute]);
    // 15 days from 03-01 is Saturday 03-16: moves to Monday 03-18.
    assert_eq!(w.due(K::RegisterRoute), eod(2024, 3, 18));

    // Monday 03-04: registered as 申诉求决 / 信访程序, then assigned (交办) to unit A.
    w.at(cst(2024, 3, 4, 9, 30));
    w.ok(
        &registrar(),
        Command::Register {
            class: PETITION_PROCEDURE,
            category: Some("城乡建设/违法建设".into()),
            accused: Vec::new(),
        },
    );
    assert_eq!(w.stage(), Stage::Registered);
    assert_eq!(w.s().class, Some(PETITION_PROCEDURE));
    assert!(
        w.running(K::RegisterRoute),
        "registering is not yet routing"
    );
    // Assigning needs a deadline in the future.
    assert_eq!(
        w.code(
            &registrar(),
            route(
                RouteKind::Assign {
                    due_at: cst(2024, 3, 4, 9, 0)
                },
                UNIT_A
            )
        ),
        "invalid_command"
    );
    // Assigning to the bureau itself is 自办, not 交办.
    assert_eq!(
        w.code(
            &registrar(),
            route(
                RouteKind::Assign {
                    due_at: eod(2024, 5, 31)
                },
                BUREAU
            )
        ),
        "invalid_command"
    );
    w.at(cst(2024, 3, 4, 10, 0));
    let kinds = w.ok(
        &registrar(),
        route(
            RouteKind::Assign {
                due_at: eod(2024, 5, 31),
            },
            UNIT_A,
        ),
    );
    assert!(matches!(&kinds[..], [EventKind::Routed { by, .. }] if by.as_str() == BUREAU));
    assert_eq!(w.stage(), Stage::Routed);
    assert_eq!(w.s().report, ReportStatus::Pending);
    assert_eq!(w.s().current_unit(), &unit(UNIT_A));
    assert_eq!(
        w.running_kinds(),
        vec![K::AcceptanceNotice, K::Objection, K::CompletionReport]
    );
    let register = w.last_deadline(K::RegisterRoute);
    assert_eq!(register.met, Some(true));
    // 15 days from Monday 03-04 is Tuesday 03-19.
    assert_eq!(w.due(K::AcceptanceNotice), eod(2024, 3, 19));
    // Five working days after Monday 03-04: 05, 06, 07, 08, 11.
    assert_eq!(w.due(K::Objection), eod(2024, 3, 11));
    // The assigner's deadline is the completion report's deadline, as given.
    assert_eq!(w.due(K::CompletionReport), eod(2024, 5, 31));

    // Tuesday 03-05: unit A accepts; the named petitioner is told.
    w.at(cst(2024, 3, 5, 10, 0));
    assert_eq!(w.code(&handler(UNIT_B), Command::Accept), "forbidden");
    assert_eq!(w.code(&registrar(), Command::Accept), "forbidden");
    let kinds = w.ok(&handler(UNIT_A), Command::Accept);
    assert_eq!(
        kinds,
        vec![EventKind::Accepted {
            notice_to_petitioner: true
        }]
    );
    assert_eq!(w.stage(), Stage::Handling);
    assert_eq!(w.s().accepted_at, Some(cst(2024, 3, 5, 10, 0)));
    assert_eq!(w.last_deadline(K::AcceptanceNotice).met, Some(true));
    assert!(
        !w.running(K::Objection),
        "accepting ends the objection period"
    );
    // 60 days from 03-05 is Saturday 05-04, inside the 劳动节 holiday (05-01..05): Monday 05-06.
    assert_eq!(w.due(K::Handling), eod(2024, 5, 6));

    // Saturday 04-20: the handler asks for an extension.
    w.at(cst(2024, 4, 20, 10, 0));
    assert_eq!(w.code(&handler(UNIT_A), extension(31)), "invalid_command");
    assert_eq!(w.code(&handler(UNIT_A), extension(0)), "invalid_command");
    assert_eq!(w.code(&handler(UNIT_B), extension(30)), "forbidden");
    // Nothing to decide yet.
    assert_eq!(w.code(&head(UNIT_A), decide_extension(true)), "not_allowed");
    let kinds = w.ok(&handler(UNIT_A), extension(30));
    assert!(!kinds[0].visible_to_petitioner());
    assert_eq!(w.s().pending_extension, Some(30));
    assert_eq!(w.code(&handler(UNIT_A), extension(10)), "not_allowed");
    // Only the head of the handling unit approves.
    assert_eq!(
        w.code(&handler(UNIT_A), decide_extension(true)),
        "forbidden"
    );
    assert_eq!(w.code(&head(UNIT_B), decide_extension(true)), "forbidden");
    assert_eq!(w.code(&registrar(), decide_extension(true)), "forbidden");
    w.at(cst(2024, 4, 22, 10, 0));
    let kinds = w.ok(&head(UNIT_A), decide_extension(true));
    assert!(matches!(
        &kinds[..],
        [EventKind::ExtensionApproved { days: 30, .. }]
    ));
    // The reason is told to the petitioner.
    assert!(kinds[0].visible_to_petitioner());
    assert!(kinds[0].petitioner_summary().contains("30"));
    assert_eq!(w.s().pending_extension, None);
    assert_eq!(w.s().extensions_granted, 1);
    assert_eq!(w.s().extension_days, 30);
    // The statutory date (05-04) plus 30 days is Monday 06-03, a working day.
    assert_eq!(w.due(K::Handling), eod(2024, 6, 3));
    // One extension only.
    assert_eq!(w.code(&handler(UNIT_A), extension(5)), "not_allowed");
    assert_eq!(w.s().extensions_granted, 1);

    // Monday 05-20: the reply. Only the head of unit A signs a 信访处理意见书.
    w.at(cst(2024, 5, 20, 10, 0));
    let reply = |d| Command::Reply {
        opinion: opinion(d),
    };
    assert_eq!(w.code(&registrar(), reply(Decision::Support)), "forbidden");
    assert_eq!(
        w.code(&handler(UNIT_A), reply(Decision::Support)),
        "forbidden"
    );
    assert_eq!(w.code(&head(UNIT_B), reply(Decision::Support)), "forbidden");
    // Not yet: the completion report follows the reply.
    assert_eq!(
        w.code(
            &handler(UNIT_A),
            Command::SubmitCompletionReport {
                report: doc("已办结")
            }
        ),
        "wrong_stage"
    );
    w.ok(&head(UNIT_A), reply(Decision::Explain));
    assert_eq!(w.stage(), Stage::Replied);
    assert_eq!(w.s().opinion, Some(opinion(Decision::Explain)));
    assert_eq!(w.last_deadline(K::Handling).met, Some(true));
    assert_eq!(
        w.running_kinds(),
        vec![K::Rating, K::ReviewRequest, K::CompletionReport]
    );
    // 30 days from Monday 05-20 is Wednesday 06-19.
    assert_eq!(w.due(K::Rating), eod(2024, 6, 19));
    assert_eq!(w.due(K::ReviewRequest), eod(2024, 6, 19));

    // 05-21: unit A sends the completion report; the assigner sends it back on 05-22.
    w.at(cst(2024, 5, 21, 10, 0));
    assert_eq!(
        w.code(&registrar(), check_report(true, None)),
        "not_allowed"
    );
    assert_eq!(
        w.code(
            &handler(UNIT_B),
            Command::SubmitCompletionReport {
                report: doc("已办结")
            }
        ),
        "forbidden"
    );
    let kinds = w.ok(
        &handler(UNIT_A),
        Command::SubmitCompletionReport {
            report: doc("已办结，附处理意见书及现场照片"),
        },
    );
    assert!(!kinds[0].visible_to_petitioner());
    assert_eq!(w.s().report, ReportStatus::Submitted);
    assert_eq!(w.last_deadline(K::CompletionReport).met, Some(true));
    assert_eq!(
        w.code(
            &handler(UNIT_A),
            Command::SubmitCompletionReport {
                report: doc("再报一次")
            }
        ),
        "not_allowed"
    );
    w.at(cst(2024, 5, 22, 10, 0));
    // Only the assigner checks it.
    assert_eq!(w.code(&head(UNIT_A), check_report(true, None)), "forbidden");
    assert_eq!(
        w.code(
            &registrar(),
            check_report(false, Some(cst(2024, 5, 1, 0, 0)))
        ),
        "invalid_command"
    );
    w.ok(&registrar(), check_report(false, Some(eod(2024, 6, 28))));
    // Back to handling: the original handling clock (with its extension) runs again.
    assert_eq!(w.stage(), Stage::Handling);
    assert_eq!(w.s().report, ReportStatus::Pending);
    assert_eq!(w.s().rating, None);
    assert_eq!(w.running_kinds(), vec![K::Handling, K::CompletionReport]);
    assert_eq!(w.due(K::Handling), eod(2024, 6, 3));
    assert_eq!(w.due(K::CompletionReport), eod(2024, 6, 28));
    // The petitioner cannot rate or ask for review while the case is being redone.
    assert_eq!(w.code(&petitioner(true), rate()), "wrong_stage");
    assert_eq!(w.code(&petitioner(true), request_review()), "wrong_stage");
    // Still one extension only.
    assert_eq!(w.code(&handler(UNIT_A), extension(5)), "not_allowed");

    // 05-28: the new reply and report; 05-30 the assigner approves.
    w.at(cst(2024, 5, 28, 10, 0));
    w.ok(&head(UNIT_A), reply(Decision::Support));
    assert_eq!(w.stage(), Stage::Replied);
    // The windows run from the new reply: 05-28 + 30 = Thursday 06-27.
    assert_eq!(w.due(K::Rating), eod(2024, 6, 27));
    assert_eq!(w.due(K::ReviewRequest), eod(2024, 6, 27));
    w.at(cst(2024, 5, 29, 10, 0));
    w.ok(
        &handler(UNIT_A),
        Command::SubmitCompletionReport {
            report: doc("重新办结，已补充现场核查材料"),
        },
    );
    w.at(cst(2024, 5, 30, 10, 0));
    w.ok(&registrar(), check_report(true, None));
    assert_eq!(w.s().report, ReportStatus::Approved);
    assert_eq!(w.stage(), Stage::Replied);
    assert_eq!(
        w.code(&registrar(), check_report(false, None)),
        "not_allowed"
    );

    // 06-05: the petitioner rates; someone without proof of being the petitioner cannot.
    w.at(cst(2024, 6, 5, 20, 0));
    assert_eq!(w.code(&petitioner(false), rate()), "forbidden");
    assert_eq!(w.code(&handler(UNIT_A), rate()), "forbidden");
    let kinds = w.ok(&petitioner(true), rate());
    assert!(matches!(
        &kinds[..],
        [EventKind::Rated {
            bureau: Satisfaction::Satisfied,
            unit: Satisfaction::BasicallySatisfied,
            recorded_by_staff: false,
            ..
        }]
    ));
    assert_eq!(
        w.s().rating,
        Some((Satisfaction::Satisfied, Satisfaction::BasicallySatisfied))
    );
    assert!(!w.running(K::Rating));
    assert_eq!(w.code(&petitioner(true), rate()), "not_allowed");

    // 06-10: review (复查) to the next-higher organ, within 30 days of the reply.
    w.at(cst(2024, 6, 10, 9, 0));
    assert_eq!(w.code(&petitioner(false), request_review()), "forbidden");
    assert_eq!(
        w.code(
            &petitioner(true),
            Command::RequestReview {
                reason: reason("不服"),
                review_unit: unit(UNIT_A),
            }
        ),
        "invalid_command",
        "a review goes to the next-higher organ, not the one that replied"
    );
    w.ok(&petitioner(true), request_review());
    assert_eq!(w.stage(), Stage::UnderReview);
    assert_eq!(w.s().review_unit, Some(unit(REVIEW)));
    assert_eq!(w.s().current_unit(), &unit(REVIEW));
    assert_eq!(w.running_kinds(), vec![K::ReviewDecision]);
    // 06-10 + 30 = Wednesday 07-10.
    assert_eq!(w.due(K::ReviewDecision), eod(2024, 7, 10));
    // Once the review is under way the report can no longer be sent back.
    assert_eq!(
        w.code(&registrar(), check_report(false, None)),
        "not_allowed"
    );

    // 07-01: the review decision, signed by the review organ's head.
    w.at(cst(2024, 7, 1, 10, 0));
    let review = |o| Command::DecideReview {
        outcome: o,
        opinion: opinion(Decision::NotSupport),
    };
    assert_eq!(
        w.code(&head(UNIT_A), review(ReviewOutcome::Uphold)),
        "forbidden"
    );
    assert_eq!(
        w.code(&handler(REVIEW), review(ReviewOutcome::Uphold)),
        "forbidden"
    );
    w.ok(&head(REVIEW), review(ReviewOutcome::Uphold));
    assert_eq!(w.stage(), Stage::Reviewed);
    assert_eq!(w.s().review_outcome, Some(ReviewOutcome::Uphold));
    assert_eq!(w.last_deadline(K::ReviewDecision).met, Some(true));
    assert_eq!(w.running_kinds(), vec![K::RereviewRequest]);
    // 07-01 + 30 = Wednesday 07-31.
    assert_eq!(w.due(K::RereviewRequest), eod(2024, 7, 31));

    // 07-10: re-review (复核) to the organ above the reviewer.
    w.at(cst(2024, 7, 10, 10, 0));
    assert_eq!(
        w.code(
            &petitioner(true),
            Command::RequestRereview {
                reason: reason("不服"),
                rereview_unit: unit(REVIEW),
            }
        ),
        "invalid_command"
    );
    w.ok(&petitioner(true), request_rereview());
    assert_eq!(w.stage(), Stage::UnderRereview);
    assert_eq!(w.running_kinds(), vec![K::RereviewDecision]);
    // 07-10 + 30 = Friday 08-09.
    assert_eq!(w.due(K::RereviewDecision), eod(2024, 8, 9));

    // A hearing from 07-15 10:00 to 07-22 10:00 (exactly 7 days) does not count.
    let hearing_start = || Command::StartHearing {
        note: reason("组织听证"),
    };
    let hearing_end = || Command::EndHearing {
        note: reason("听证结束"),
    };
    w.at(cst(2024, 7, 15, 10, 0));
    assert_eq!(w.code(&handler(REREVIEW), hearing_end()), "not_allowed");
    assert_eq!(w.code(&handler(REVIEW), hearing_start()), "forbidden");
    w.ok(&handler(REREVIEW), hearing_start());
    assert!(w.s().in_hearing);
    assert!(w.deadline(K::RereviewDecision).paused);
    assert_eq!(w.due(K::RereviewDecision), eod(2024, 8, 9));
    assert_eq!(w.code(&handler(REREVIEW), hearing_start()), "not_allowed");
    let rereview = |o| Command::DecideRereview {
        outcome: o,
        opinion: opinion(Decision::NotSupport),
    };
    assert_eq!(
        w.code(&head(REREVIEW), rereview(ReviewOutcome::Uphold)),
        "not_allowed",
        "no decision while the hearing lasts"
    );
    w.at(cst(2024, 7, 22, 10, 0));
    w.ok(&handler(REREVIEW), hearing_end());
    assert!(!w.s().in_hearing);
    assert!(!w.deadline(K::RereviewDecision).paused);
    // Friday 08-09 + 7 days = Friday 08-16.
    assert_eq!(w.due(K::RereviewDecision), eod(2024, 8, 16));
    // A second hearing of 2 days and 1 hour counts as 3 whole days: Monday 08-19.
    w.at(cst(2024, 7, 25, 10, 0));
    w.ok(&handler(REREVIEW), hearing_start());
    w.at(cst(2024, 7, 27, 11, 0));
    w.ok(&handler(REREVIEW), hearing_end());
    assert_eq!(w.due(K::RereviewDecision), eod(2024, 8, 19));

    // 08-12: the re-review decision; the case is concluded (终结).
    w.at(cst(2024, 8, 12, 10, 0));
    assert_eq!(
        w.code(&handler(REREVIEW), rereview(ReviewOutcome::Change)),
        "forbidden"
    );
    assert_eq!(
        w.code(&head(REVIEW), rereview(ReviewOutcome::Change)),
        "forbidden"
    );
    let kinds = w.ok(&head(REREVIEW), rereview(ReviewOutcome::Change));
    assert!(kinds[0].petitioner_summary().contains("不再受理"));
    assert_eq!(w.stage(), Stage::Concluded);
    assert_eq!(w.s().rereview_outcome, Some(ReviewOutcome::Change));
    assert_eq!(w.last_deadline(K::RereviewDecision).met, Some(true));
    assert!(!w.stage().is_open());

    w.at(cst(2024, 8, 13, 10, 0));
    assert_closed(&mut w);

    // The whole history: every event numbered in order, replayable, and the petitioner's
    // timeline holds no internal event.
    assert_eq!(w.s().version, w.events.len() as u64);
    let visible: Vec<&str> = w
        .events
        .iter()
        .filter(|e| e.kind.visible_to_petitioner())
        .map(|e| e.kind.name())
        .collect();
    assert_eq!(
        visible,
        vec![
            "submitted",
            "routed",
            "accepted",
            "extension_approved",
            "replied",
            "replied",
            "rated",
            "review_requested",
            "review_decided",
            "rereview_requested",
            "hearing_started",
            "hearing_ended",
            "hearing_started",
            "hearing_ended",
            "rereview_decided",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Objections (异议, Art. 23): 5 working days over the 2024 National Day holiday
// ---------------------------------------------------------------------------------------------

/// Forwarded to unit A on Friday 2024-09-27. Working days after it: Sunday 09-29 (make-up
/// working day), Monday 09-30, then 10-01..07 off, then 10-08, 10-09, 10-10. The deadline is the
/// end of Thursday 2024-10-10 — not 10-04 (weekdays only) nor 10-11 (ignoring the make-up day).
fn routed_before_national_day() -> World {
    World::forwarded(
        "case-objection",
        cst(2024, 9, 27, 16, 30),
        false,
        PETITION_PROCEDURE,
    )
}

fn object() -> Command {
    Command::Object {
        reason: reason("该事项属于生态环境部门职责"),
    }
}

fn resolve(agree: bool) -> Command {
    Command::ResolveObjection {
        agree,
        reason: reason(if agree {
            "异议成立"
        } else {
            "异议不成立"
        }),
    }
}

#[test]
fn objection_deadline_counts_the_make_up_day_and_skips_national_day() {
    let w = routed_before_national_day();
    assert_eq!(w.due(ClockKind::Objection), eod(2024, 10, 10));
    assert_eq!(
        local_date(w.due(ClockKind::Objection)).to_string(),
        "2024-10-10"
    );
    let cal = Calendar::china();
    assert!(cal.is_working_day(NaiveDate::from_ymd_opt(2024, 9, 29).unwrap()));
    assert!(!cal.is_working_day(NaiveDate::from_ymd_opt(2024, 10, 7).unwrap()));
}

#[test]
fn objection_on_the_last_working_day_is_accepted() {
    let mut w = routed_before_national_day();
    w.at(cst(2024, 10, 10, 23, 59));
    assert_eq!(w.code(&handler(UNIT_B), object()), "forbidden");
    let kinds = w.ok(&handler(UNIT_A), object());
    assert!(!kinds[0].visible_to_petitioner());
    assert_eq!(w.stage(), Stage::Objected);
    assert_eq!(w.s().current_unit(), &unit(BUREAU));
    assert_eq!(w.last_deadline(ClockKind::Objection).met, Some(true));
    // While the sender decides, the unit can neither accept nor object again.
    assert_eq!(w.code(&handler(UNIT_A), Command::Accept), "wrong_stage");
    assert_eq!(w.code(&handler(UNIT_A), object()), "wrong_stage");
}

#[test]
fn objection_after_the_five_working_days_is_refused() {
    let mut w = routed_before_national_day();
    // The last millisecond of 10-10 is still on time…
    let mut on_time = w.clone();
    on_time.at(eod(2024, 10, 10));
    on_time.ok(&handler(UNIT_A), object());
    // …a moment after, it is not.
    w.at(eod(2024, 10, 10) + TimeDelta::milliseconds(1));
    assert_eq!(w.code(&handler(UNIT_A), object()), "deadline_passed");
    w.at(cst(2024, 10, 11, 9, 0));
    let rejection = w.refused(&handler(UNIT_A), object());
    assert_eq!(rejection.code(), "deadline_passed");
    assert!(rejection.to_string().contains("2024-10-10"), "{rejection}");
    // The unit must then accept or decline.
    w.ok(&handler(UNIT_A), Command::Accept);
}

#[test]
fn agreed_objection_returns_the_case_for_re_routing() {
    let mut w = routed_before_national_day();
    w.at(cst(2024, 9, 30, 10, 0));
    w.ok(&handler(UNIT_A), object());
    w.at(cst(2024, 10, 8, 10, 0));
    assert_eq!(w.code(&handler(UNIT_A), resolve(true)), "forbidden");
    assert_eq!(w.code(&head(UNIT_A), resolve(true)), "forbidden");
    w.ok(&registrar(), resolve(true));
    assert_eq!(w.stage(), Stage::Registered);
    assert_eq!(w.s().routing, None);
    assert_eq!(w.s().report, ReportStatus::NotRequired);
    assert_eq!(w.running_kinds(), vec![ClockKind::RegisterRoute]);
    // The routing clock restarts from the return: 10-08 + 15 = Wednesday 10-23.
    assert_eq!(w.due(ClockKind::RegisterRoute), eod(2024, 10, 23));
    assert_eq!(w.code(&handler(UNIT_A), Command::Accept), "wrong_stage");

    // Re-routed to unit B, which gets its own five working days: 10-09, 10-10, 10-11, Saturday
    // 10-12 (make-up working day) and Monday 10-14.
    w.ok(&registrar(), route(RouteKind::Forward, UNIT_B));
    assert_eq!(w.stage(), Stage::Routed);
    assert_eq!(w.s().routed_units, vec![unit(UNIT_A), unit(UNIT_B)]);
    assert!(!w.running(ClockKind::RegisterRoute));
    assert_eq!(w.due(ClockKind::Objection), eod(2024, 10, 14));
    // Unit A has no say any more; unit B may object in turn.
    assert_eq!(w.code(&handler(UNIT_A), object()), "forbidden");
    assert_eq!(w.code(&handler(UNIT_A), Command::Accept), "forbidden");
    w.ok(&handler(UNIT_B), Command::Accept);
    assert_eq!(w.s().handling_unit(), Some(&unit(UNIT_B)));
}

#[test]
fn overruled_objection_cannot_be_raised_again() {
    let mut w = routed_before_national_day();
    w.at(cst(2024, 9, 29, 10, 0));
    w.ok(&handler(UNIT_A), object());
    w.at(cst(2024, 9, 30, 10, 0));
    w.ok(&registrar(), resolve(false));
    assert_eq!(w.stage(), Stage::Routed);
    assert!(w.s().objection_overruled);
    assert_eq!(w.s().routing.as_ref().unwrap().unit, unit(UNIT_A));
    // Still inside the five working days, but a second objection is refused.
    assert_eq!(w.code(&handler(UNIT_A), object()), "not_allowed");
    assert_eq!(w.code(&registrar(), resolve(true)), "wrong_stage");
    // The acceptance notice clock kept running from the routing: 09-27 + 15 = Saturday 10-12,
    // a make-up working day.
    assert_eq!(w.due(ClockKind::AcceptanceNotice), eod(2024, 10, 12));
    w.ok(&handler(UNIT_A), Command::Accept);
    assert_eq!(w.stage(), Stage::Handling);
}

#[test]
fn bureau_handling_itself_cannot_object() {
    let mut w = World::submitted("case-self", cst(2024, 9, 27, 10, 0), false);
    w.ok(
        &registrar(),
        Command::Register {
            class: StatutoryClass::Suggestion,
            category: None,
            accused: Vec::new(),
        },
    );
    assert_eq!(
        w.code(&registrar(), route(RouteKind::Bureau, UNIT_A)),
        "invalid_command"
    );
    assert_eq!(
        w.code(&registrar(), route(RouteKind::Forward, BUREAU)),
        "invalid_command"
    );
    w.ok(&registrar(), route(RouteKind::Bureau, BUREAU));
    assert!(!w.running(ClockKind::Objection));
    assert_eq!(w.code(&registrar(), object()), "forbidden");
    assert_eq!(w.code(&head(BUREAU), object()), "not_allowed");
    // The bureau's own handler accepts and its head replies.
    w.ok(&handler(BUREAU), Command::Accept);
    w.ok(
        &head(BUREAU),
        Command::Reply {
            opinion: opinion(Decision::Explain),
        },
    );
    assert_eq!(w.s().report, ReportStatus::NotRequired);
    assert_eq!(
        w.code(
            &registrar(),
            Command::SubmitCompletionReport {
                report: doc("已办结")
            }
        ),
        "not_allowed"
    );
}

// ---------------------------------------------------------------------------------------------
// 涉法涉诉, anonymous petitions, roles, stages
// ---------------------------------------------------------------------------------------------

#[test]
fn law_and_litigation_is_declined_with_guidance_never_accepted() {
    let mut w = World::forwarded(
        "case-court",
        cst(2024, 4, 1, 10, 0),
        false,
        LAW_AND_LITIGATION,
    );
    assert_eq!(w.code(&handler(UNIT_A), Command::Accept), "not_allowed");
    assert_eq!(w.code(&head(UNIT_A), Command::Accept), "not_allowed");
    let decline = Command::Decline {
        ground: DeclineGround::OtherProcedure,
        reason: reason("该事项已进入诉讼程序"),
        guidance: reason("请向人民法院申请再审"),
    };
    assert_eq!(w.code(&handler(UNIT_B), decline.clone()), "forbidden");
    let kinds = w.ok(&handler(UNIT_A), decline);
    assert!(kinds[0].visible_to_petitioner());
    assert!(
        kinds[0]
            .petitioner_summary()
            .contains("请向人民法院申请再审")
    );
    assert_eq!(w.stage(), Stage::Declined);
    assert_closed_a_day_later(&mut w);
}

/// Like [`assert_closed`], a day later.
fn assert_closed_a_day_later(w: &mut World) {
    let later = w.now + TimeDelta::days(1);
    w.at(later);
    assert_closed(w);
}

#[test]
fn law_and_litigation_may_be_declined_at_the_bureau_before_routing() {
    let mut w = World::submitted("case-court-2", cst(2024, 4, 1, 10, 0), false);
    w.ok(
        &registrar(),
        Command::Register {
            class: LAW_AND_LITIGATION,
            category: None,
            accused: Vec::new(),
        },
    );
    let decline = || Command::Decline {
        ground: DeclineGround::OtherProcedure,
        reason: reason("涉法涉诉"),
        guidance: reason("请向同级政法机关反映"),
    };
    assert_eq!(w.code(&handler(UNIT_A), decline()), "forbidden");
    // The registrar may instead hand it to the 政法 organ, which still cannot accept it.
    let mut routed = w.clone();
    routed.ok(&registrar(), route(RouteKind::Forward, ZHENGFA));
    assert_eq!(
        routed.code(&handler(ZHENGFA), Command::Accept),
        "not_allowed"
    );
    w.ok(&registrar(), decline());
    assert_eq!(w.stage(), Stage::Declined);
    assert!(w.running_kinds().is_empty());
}

#[test]
fn other_routes_than_petition_procedure_also_leave_the_petition_track() {
    for route_kind in [
        AppealRoute::Arbitration,
        AppealRoute::PartyMemberAppeal,
        AppealRoute::AdministrativeProcedure,
        AppealRoute::LegalDuty,
    ] {
        let mut w = World::forwarded(
            "case-route",
            cst(2024, 4, 1, 10, 0),
            false,
            StatutoryClass::Appeal(route_kind),
        );
        assert_eq!(w.code(&handler(UNIT_A), Command::Accept), "not_allowed");
    }
    for class in [StatutoryClass::Suggestion, StatutoryClass::Accusation] {
        let mut w = World::forwarded("case-route", cst(2024, 4, 1, 10, 0), false, class);
        w.ok(&handler(UNIT_A), Command::Accept);
    }
}

#[test]
fn anonymous_petition_gets_no_notice_and_no_review() {
    let mut w = World::handling("case-anon", cst(2024, 4, 1, 10, 0), true);
    assert_eq!(
        w.events.last().unwrap().kind,
        EventKind::Accepted {
            notice_to_petitioner: false
        }
    );
    w.at(cst(2024, 4, 15, 10, 0));
    w.ok(
        &head(UNIT_A),
        Command::Reply {
            opinion: opinion(Decision::Support),
        },
    );
    assert_eq!(w.stage(), Stage::Replied);
    // The anonymous petitioner reads the reply through the receipt code and may rate it, but
    // review needs a known petitioner: only the rating window runs.
    assert!(w.running(ClockKind::Rating));
    assert!(!w.running(ClockKind::ReviewRequest));
    assert_eq!(w.code(&registrar(), request_review()), "not_allowed");
    assert_eq!(w.code(&petitioner(true), request_review()), "not_allowed");
    assert_eq!(w.stage(), Stage::Replied);
}

#[test]
fn roles_are_checked() {
    let mut w = World::handling("case-roles", cst(2024, 4, 1, 10, 0), false);
    // A handler of another unit gets `forbidden` for the handling unit's actions.
    assert_eq!(w.code(&handler(UNIT_B), extension(10)), "forbidden");
    assert_eq!(
        w.code(
            &head(UNIT_B),
            Command::Reply {
                opinion: opinion(Decision::Support)
            }
        ),
        "forbidden"
    );
    // A registrar cannot reply.
    assert_eq!(
        w.code(
            &registrar(),
            Command::Reply {
                opinion: opinion(Decision::Support)
            }
        ),
        "forbidden"
    );
    // A unit head without a unit is nobody's head.
    let headless = Actor {
        unit: None,
        ..head(UNIT_A)
    };
    assert_eq!(
        w.code(
            &headless,
            Command::Reply {
                opinion: opinion(Decision::Support)
            }
        ),
        "forbidden"
    );
    w.ok(
        &head(UNIT_A),
        Command::Reply {
            opinion: opinion(Decision::Support),
        },
    );
    // A petitioner actor who did not prove to be this case's petitioner cannot rate.
    assert_eq!(w.code(&petitioner(false), rate()), "forbidden");
    let proxy = Actor {
        roles: vec![Role::Proxy],
        ..petitioner(false)
    };
    assert_eq!(w.code(&proxy, rate()), "forbidden");
    // The bureau may record a rating given by phone.
    let kinds = w.ok(&registrar(), rate());
    assert!(matches!(
        &kinds[..],
        [EventKind::Rated {
            recorded_by_staff: true,
            ..
        }]
    ));
}

#[test]
fn submit_rules() {
    let now = cst(2024, 4, 1, 10, 0);
    let submit = |received_at| Command::Submit {
        petition: petition(false, None).into(),
        receipt: ReceiptCode::from_random([7; 8]),
        bureau: unit(BUREAU),
        received_at,
    };
    let mut w = World::new("case-submit", now);
    assert_eq!(w.code(&handler(UNIT_A), submit(now)), "forbidden");
    assert_eq!(
        w.code(&registrar(), submit(now + TimeDelta::minutes(1))),
        "invalid_command"
    );
    assert_eq!(w.code(&registrar(), Command::Accept), "not_allowed");
    // A letter received last week is entered today: the routing clock runs from its receipt.
    w.ok(&registrar(), submit(cst(2024, 3, 25, 9, 0)));
    assert_eq!(w.s().received_at, cst(2024, 3, 25, 9, 0));
    // 03-25 + 15 = Tuesday 04-09.
    assert_eq!(w.due(ClockKind::RegisterRoute), eod(2024, 4, 9));
    assert_eq!(w.code(&registrar(), submit(now)), "not_allowed");
}

#[test]
fn commands_in_the_wrong_stage_are_refused() {
    let mut w = World::submitted("case-stage", cst(2024, 4, 1, 10, 0), false);
    assert_eq!(
        w.code(&registrar(), route(RouteKind::Forward, UNIT_A)),
        "wrong_stage"
    );
    assert_eq!(w.code(&handler(UNIT_A), Command::Accept), "wrong_stage");
    assert_eq!(w.code(&handler(UNIT_A), object()), "wrong_stage");
    assert_eq!(w.code(&handler(UNIT_A), extension(10)), "wrong_stage");
    assert_eq!(
        w.code(
            &head(UNIT_A),
            Command::Reply {
                opinion: opinion(Decision::Support)
            }
        ),
        "wrong_stage"
    );
    assert_eq!(w.code(&petitioner(true), rate()), "wrong_stage");
    assert_eq!(w.code(&petitioner(true), request_review()), "wrong_stage");
    let mut w = World::handling("case-stage", cst(2024, 4, 1, 10, 0), false);
    assert_eq!(
        w.code(
            &registrar(),
            Command::Register {
                class: StatutoryClass::Suggestion,
                category: None,
                accused: Vec::new(),
            }
        ),
        "wrong_stage"
    );
    assert_eq!(
        w.code(&registrar(), route(RouteKind::Forward, UNIT_B)),
        "wrong_stage"
    );
    assert_eq!(w.code(&handler(UNIT_A), Command::Accept), "wrong_stage");
    assert_eq!(
        w.code(
            &head(REVIEW),
            Command::DecideReview {
                outcome: ReviewOutcome::Uphold,
                opinion: opinion(Decision::Support)
            }
        ),
        "wrong_stage"
    );
    assert_eq!(w.code(&petitioner(true), request_rereview()), "wrong_stage");
    assert_eq!(w.code(&registrar(), resolve(true)), "wrong_stage");
    assert_eq!(
        w.code(
            &registrar(),
            Command::MergeInto {
                into: CaseId::new("case-x"),
                reason: MergeReason::Duplicate
            }
        ),
        "wrong_stage"
    );
    let rejection = w.refused(&handler(UNIT_A), Command::Accept);
    assert!(rejection.to_string().contains("办理中"), "{rejection}");
}

// ---------------------------------------------------------------------------------------------
// Merging (并单), withdrawal, notes and instructions, windows
// ---------------------------------------------------------------------------------------------

fn merge_into(into: &str) -> Command {
    Command::MergeInto {
        into: CaseId::new(into),
        reason: MergeReason::Duplicate,
    }
}

fn absorb(source: &str) -> Command {
    Command::Absorb {
        source: CaseId::new(source),
        reason: MergeReason::Duplicate,
    }
}

#[test]
fn merging_a_duplicate_keeps_both_histories() {
    let now = cst(2024, 4, 1, 10, 0);
    let mut dup = World::submitted("case-dup", now, false);
    let mut survivor = World::handling("case-main", now, false);

    // The source side.
    assert_eq!(
        dup.code(&registrar(), merge_into("case-dup")),
        "invalid_command"
    );
    assert_eq!(
        dup.code(&handler(UNIT_A), merge_into("case-main")),
        "forbidden"
    );
    assert_eq!(
        dup.code(
            &staff("reg-2", "xfj-other", &[Role::Registrar]),
            merge_into("case-main")
        ),
        "forbidden"
    );
    dup.ok(&registrar(), merge_into("case-main"));
    assert_eq!(dup.stage(), Stage::Merged);
    assert_eq!(dup.s().merged_into, Some(CaseId::new("case-main")));
    assert!(dup.running_kinds().is_empty());
    assert_eq!(dup.events.len(), 2, "the duplicate's own history stays");
    assert_closed(&mut dup);

    // The surviving side.
    assert_eq!(
        survivor.code(&registrar(), absorb("case-main")),
        "invalid_command"
    );
    assert_eq!(
        survivor.code(&handler(UNIT_A), absorb("case-dup")),
        "forbidden"
    );
    let before = survivor.s().clone();
    let kinds = survivor.ok(&registrar(), absorb("case-dup"));
    assert!(kinds[0].visible_to_petitioner());
    assert_eq!(survivor.s().absorbed, vec![CaseId::new("case-dup")]);
    assert_eq!(survivor.stage(), before.stage);
    assert_eq!(
        survivor.s().timers,
        before.timers,
        "absorbing changes no clock"
    );
    // Absorbing the same source again records nothing new in the state.
    survivor.ok(&registrar(), absorb("case-dup"));
    assert_eq!(survivor.s().absorbed, vec![CaseId::new("case-dup")]);
}

#[test]
fn merge_only_before_routing_and_never_into_a_closed_case() {
    let now = cst(2024, 4, 1, 10, 0);
    let mut w = World::submitted("case-m", now, false);
    w.ok(
        &registrar(),
        Command::Register {
            class: PETITION_PROCEDURE,
            category: None,
            accused: Vec::new(),
        },
    );
    let mut registered = w.clone();
    registered.ok(&registrar(), merge_into("case-main"));
    assert_eq!(registered.stage(), Stage::Merged);
    w.ok(&registrar(), route(RouteKind::Forward, UNIT_A));
    assert_eq!(w.code(&registrar(), merge_into("case-main")), "wrong_stage");

    // A closed case absorbs nothing.
    let mut withdrawn = World::submitted("case-w", now, false);
    withdrawn.ok(&petitioner(true), withdraw());
    assert_eq!(
        withdrawn.code(&registrar(), absorb("case-x")),
        "not_allowed"
    );
    assert_eq!(
        registered.code(&registrar(), absorb("case-x")),
        "not_allowed"
    );
}

#[test]
fn withdrawal_by_the_petitioner() {
    let mut w = World::handling("case-wd", cst(2024, 4, 1, 10, 0), false);
    assert_eq!(w.code(&petitioner(false), withdraw()), "forbidden");
    assert_eq!(w.code(&handler(UNIT_A), withdraw()), "forbidden");
    let kinds = w.ok(&petitioner(true), withdraw());
    assert!(kinds[0].visible_to_petitioner());
    assert_eq!(w.stage(), Stage::Withdrawn);
    assert!(w.running_kinds().is_empty());
    assert_eq!(w.code(&petitioner(true), withdraw()), "wrong_stage");
    assert_closed(&mut w);
}

#[test]
fn withdrawal_during_a_hearing_closes_the_pause() {
    let mut w = World::handling("case-wd-h", cst(2024, 4, 1, 10, 0), false);
    w.ok(
        &head(UNIT_A),
        Command::Reply {
            opinion: opinion(Decision::NotSupport),
        },
    );
    w.ok(&petitioner(true), request_review());
    w.ok(
        &head(REVIEW),
        Command::DecideReview {
            outcome: ReviewOutcome::Uphold,
            opinion: opinion(Decision::NotSupport),
        },
    );
    w.ok(&petitioner(true), request_rereview());
    w.ok(
        &handler(REREVIEW),
        Command::StartHearing {
            note: reason("组织听证"),
        },
    );
    w.at(cst(2024, 4, 3, 10, 0));
    w.ok(&petitioner(true), withdraw());
    assert!(!w.s().in_hearing);
    assert!(w.running_kinds().is_empty());
    let timer = w.s().timers.last().unwrap();
    assert_eq!(timer.kind, ClockKind::RereviewDecision);
    assert!(timer.pauses.iter().all(|p| p.to.is_some()));
}

#[test]
fn notes_and_instructions_stay_internal_in_every_stage() {
    let mut w = World::submitted("case-notes", cst(2024, 4, 1, 10, 0), false);
    w.ok(&registrar(), note());
    // Only staff of a unit on the case (or overseeing it) may write notes.
    assert_eq!(w.code(&handler(UNIT_A), note()), "forbidden");
    assert_eq!(w.code(&petitioner(true), note()), "forbidden");
    // Only a leader of the case's units or above may instruct.
    assert_eq!(w.code(&leader(false), instruct()), "forbidden");
    assert_eq!(w.code(&registrar(), instruct()), "forbidden");
    w.ok(&leader(true), instruct());
    w.ok(
        &registrar(),
        Command::Register {
            class: PETITION_PROCEDURE,
            category: None,
            accused: Vec::new(),
        },
    );
    w.ok(&registrar(), route(RouteKind::Forward, UNIT_A));
    w.ok(&handler(UNIT_A), note());
    w.ok(&handler(UNIT_A), Command::Accept);
    w.ok(&staff("leader-a", UNIT_A, &[Role::Leader]), instruct());
    let stage = w.stage();
    let timers = w.s().timers.clone();
    w.ok(&leader(true), note());
    assert_eq!(w.stage(), stage);
    assert_eq!(w.s().timers, timers, "notes change no clock");
    assert_eq!(w.s().notes, 3);
    assert_eq!(w.s().instructions, 2);
    for event in &w.events {
        let internal = matches!(
            event.kind,
            EventKind::NoteAdded { .. } | EventKind::Instructed { .. }
        );
        if internal {
            assert!(!event.kind.visible_to_petitioner());
            assert!(event.kind.petitioner_summary().is_empty());
        }
    }
}

#[test]
fn rating_and_review_windows_close_after_30_days_rolled_past_national_day() {
    let mut w = World::handling("case-window", cst(2024, 8, 20, 10, 0), false);
    w.at(cst(2024, 9, 2, 10, 0));
    w.ok(
        &head(UNIT_A),
        Command::Reply {
            opinion: opinion(Decision::Support),
        },
    );
    // 09-02 + 30 = Wednesday 10-02, a holiday: the windows end on Tuesday 10-08.
    assert_eq!(w.due(ClockKind::Rating), eod(2024, 10, 8));
    assert_eq!(w.due(ClockKind::ReviewRequest), eod(2024, 10, 8));

    let mut in_time = w.clone();
    in_time.at(cst(2024, 10, 8, 23, 59));
    in_time.ok(&petitioner(true), rate());
    in_time.ok(&petitioner(true), request_review());
    assert_eq!(in_time.stage(), Stage::UnderReview);

    w.at(cst(2024, 10, 9, 0, 0));
    assert_eq!(w.code(&petitioner(true), rate()), "deadline_passed");
    assert_eq!(w.code(&registrar(), rate()), "deadline_passed");
    assert_eq!(
        w.code(&petitioner(true), request_review()),
        "deadline_passed"
    );
    assert_eq!(w.stage(), Stage::Replied);
    assert_eq!(
        w.deadline(ClockKind::Rating).light(w.now),
        clock::Light::Red
    );
}

#[test]
fn rereview_window_closes_after_30_days() {
    let mut w = World::handling("case-rr-window", cst(2024, 4, 1, 10, 0), false);
    w.ok(
        &head(UNIT_A),
        Command::Reply {
            opinion: opinion(Decision::NotSupport),
        },
    );
    w.ok(&petitioner(true), request_review());
    w.at(cst(2024, 4, 10, 10, 0));
    w.ok(
        &head(REVIEW),
        Command::DecideReview {
            outcome: ReviewOutcome::Uphold,
            opinion: opinion(Decision::NotSupport),
        },
    );
    // 04-10 + 30 = Friday 05-10.
    assert_eq!(w.due(ClockKind::RereviewRequest), eod(2024, 5, 10));
    w.at(cst(2024, 5, 11, 9, 0));
    assert_eq!(
        w.code(&petitioner(true), request_rereview()),
        "deadline_passed"
    );
    // Without a re-review the case stays reviewed; it is not 终结.
    assert_eq!(w.stage(), Stage::Reviewed);
}

#[test]
fn extension_refused_may_be_asked_again_and_late_requests_are_refused() {
    let mut w = World::handling("case-ext", cst(2024, 3, 5, 10, 0), false);
    w.ok(&handler(UNIT_A), extension(20));
    w.ok(&head(UNIT_A), decide_extension(false));
    assert_eq!(w.s().extensions_granted, 0);
    assert_eq!(w.s().pending_extension, None);
    assert_eq!(w.due(ClockKind::Handling), eod(2024, 5, 6));
    w.ok(&handler(UNIT_A), extension(15));
    w.ok(&head(UNIT_A), decide_extension(true));
    // 05-04 + 15 = Sunday 05-19: Monday 05-20.
    assert_eq!(w.due(ClockKind::Handling), eod(2024, 5, 20));

    // Once the handling limit has passed, an extension can no longer be asked for.
    let mut late = World::handling("case-ext-late", cst(2024, 3, 5, 10, 0), false);
    late.at(cst(2024, 5, 7, 9, 0));
    assert_eq!(
        late.code(&handler(UNIT_A), extension(10)),
        "deadline_passed"
    );
}

#[test]
fn concluded_case_refuses_checking_a_late_completion_report() {
    // An assigned case whose completion report is still waiting to be checked when the
    // re-review concludes it: after 终结 nothing but notes and instructions may happen.
    let start = cst(2024, 4, 1, 10, 0);
    let mut w = World::submitted("case-late-report", start, false);
    w.ok(
        &registrar(),
        Command::Register {
            class: PETITION_PROCEDURE,
            category: None,
            accused: Vec::new(),
        },
    );
    w.ok(
        &registrar(),
        route(
            RouteKind::Assign {
                due_at: eod(2024, 6, 28),
            },
            UNIT_A,
        ),
    );
    w.ok(&handler(UNIT_A), Command::Accept);
    w.ok(
        &head(UNIT_A),
        Command::Reply {
            opinion: opinion(Decision::NotSupport),
        },
    );
    w.ok(
        &handler(UNIT_A),
        Command::SubmitCompletionReport {
            report: doc("已办结"),
        },
    );
    let mut withdrawn = w.clone();
    w.ok(&petitioner(true), request_review());
    w.ok(
        &head(REVIEW),
        Command::DecideReview {
            outcome: ReviewOutcome::Uphold,
            opinion: opinion(Decision::NotSupport),
        },
    );
    w.ok(&petitioner(true), request_rereview());
    w.ok(
        &head(REREVIEW),
        Command::DecideRereview {
            outcome: ReviewOutcome::Uphold,
            opinion: opinion(Decision::NotSupport),
        },
    );
    assert_eq!(w.stage(), Stage::Concluded);
    assert_eq!(w.s().report, ReportStatus::Submitted);
    assert_closed(&mut w);

    withdrawn.ok(&petitioner(true), withdraw());
    assert_eq!(withdrawn.s().report, ReportStatus::Submitted);
    assert_closed(&mut withdrawn);
}

#[test]
fn sent_back_without_a_new_deadline_after_the_old_one_passed_keeps_due_after_start() {
    // The assigner's deadline (04-30) has passed when the report is sent back on 05-10 without
    // a new one. The new completion-report timer must not be due before it starts.
    let mut w = World::submitted("case-sent-back", cst(2024, 4, 1, 10, 0), false);
    w.ok(
        &registrar(),
        Command::Register {
            class: PETITION_PROCEDURE,
            category: None,
            accused: Vec::new(),
        },
    );
    w.ok(
        &registrar(),
        route(
            RouteKind::Assign {
                due_at: eod(2024, 4, 30),
            },
            UNIT_A,
        ),
    );
    w.ok(&handler(UNIT_A), Command::Accept);
    w.at(cst(2024, 4, 20, 10, 0));
    w.ok(
        &head(UNIT_A),
        Command::Reply {
            opinion: opinion(Decision::Support),
        },
    );
    w.ok(
        &handler(UNIT_A),
        Command::SubmitCompletionReport {
            report: doc("已办结"),
        },
    );
    w.at(cst(2024, 5, 10, 10, 0));
    // Either the command is refused (a new deadline is required), or the new timer is due after
    // it starts.
    if w.run(&registrar(), check_report(false, None)).is_ok() {
        let d = w.deadline(ClockKind::CompletionReport);
        assert!(
            d.due_at >= d.started_at,
            "completion report due {} before it started {}",
            d.due_at,
            d.started_at
        );
    }
}

#[test]
fn withdrawal_clears_a_pending_extension() {
    // A withdrawn case must not sit in the unit head's queue of extensions to approve.
    let mut w = World::handling("case-wd-ext", cst(2024, 4, 1, 10, 0), false);
    w.ok(&handler(UNIT_A), extension(10));
    assert_eq!(w.s().pending_extension, Some(10));
    w.ok(&petitioner(true), withdraw());
    assert_eq!(w.stage(), Stage::Withdrawn);
    assert_eq!(w.s().pending_extension, None);
    assert_eq!(w.code(&head(UNIT_A), decide_extension(true)), "wrong_stage");
}

#[test]
fn absorbing_itself_names_the_source_field() {
    let mut w = World::submitted("case-self-absorb", cst(2024, 4, 1, 10, 0), false);
    match w.refused(&registrar(), absorb("case-self-absorb")) {
        Rejection::Invalid { field, .. } => assert_eq!(field, "source"),
        other => panic!("expected an invalid field, got {other:?}"),
    }
    match w.refused(&registrar(), merge_into("case-self-absorb")) {
        Rejection::Invalid { field, .. } => assert_eq!(field, "into"),
        other => panic!("expected an invalid field, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Indicators (形势网上判) over a small fixture, counted by hand
// ---------------------------------------------------------------------------------------------

/// A case submitted through `channel`, registered for the petition procedure and routed to unit
/// A as `kind`, all at `now`.
fn routed_via(id: &str, now: Instant, channel: Channel, kind: RouteKind) -> World {
    let mut w = World::new(id, now);
    let mut record = petition(false, None);
    record.channel = channel;
    w.ok(
        &petitioner(false),
        Command::Submit {
            petition: record.into(),
            receipt: ReceiptCode::from_random(*b"huiyin02"),
            bureau: unit(BUREAU),
            received_at: now,
        },
    );
    w.ok(
        &registrar(),
        Command::Register {
            class: PETITION_PROCEDURE,
            category: Some("城乡建设/违法建设".into()),
            accused: Vec::new(),
        },
    );
    w.ok(&registrar(), route(kind, UNIT_A));
    w
}

/// Five cases whose figures were counted by hand: a reply on time and rated satisfied; an
/// extended reply, basically satisfied, reviewed and revoked; a 交办 reply sent back and
/// answered late; a duplicate merged away; a 涉法涉诉 letter declined after its limit (the
/// 15-day limit from 1 March 2024 ends on Saturday 16 March and moves to Monday 18 March).
#[test]
fn indicators_of_a_hand_counted_fixture() {
    use huiyin_domain::stats::{self, CaseContext, IndicatorConfig, Target, Totals};
    let reply = |d| Command::Reply {
        opinion: opinion(d),
    };

    let start = cst(2024, 3, 1, 10, 0);
    // c1: accepted at once, replied after 40 days, rated 满意 / 满意.
    let mut c1 = routed_via("c1", start, Channel::MobileWeb, RouteKind::Forward);
    c1.ok(&handler(UNIT_A), Command::Accept);
    c1.at(cst(2024, 4, 10, 10, 0));
    c1.ok(&head(UNIT_A), reply(Decision::Support));
    c1.ok(
        &petitioner(true),
        Command::Rate {
            bureau: Satisfaction::Satisfied,
            unit: Satisfaction::Satisfied,
            comment: None,
        },
    );
    // c2: extended by 30 days (due 30 May), replied on 20 May (80 days), rated 满意 / 基本满意,
    // reviewed and revoked within the 30-day limit.
    let mut c2 = routed_via("c2", start, Channel::OnlineWeb, RouteKind::Forward);
    c2.ok(&handler(UNIT_A), Command::Accept);
    c2.at(cst(2024, 4, 20, 9, 0));
    c2.ok(&handler(UNIT_A), extension(30));
    c2.ok(&head(UNIT_A), decide_extension(true));
    c2.at(cst(2024, 5, 20, 10, 0));
    c2.ok(&head(UNIT_A), reply(Decision::Explain));
    c2.ok(&petitioner(true), rate());
    c2.at(cst(2024, 5, 25, 10, 0));
    c2.ok(&petitioner(true), request_review());
    c2.at(cst(2024, 6, 10, 10, 0));
    c2.ok(
        &head(REVIEW),
        Command::DecideReview {
            outcome: ReviewOutcome::Revoke,
            opinion: opinion(Decision::Support),
        },
    );
    // c3: 交办 by 30 April; a reply on 20 April whose report is sent back, answered again on
    // 10 May (70 days, late: the handling limit ended on 30 April), not rated.
    let mut c3 = routed_via(
        "c3",
        start,
        Channel::Letter,
        RouteKind::Assign {
            due_at: eod(2024, 4, 30),
        },
    );
    c3.ok(&handler(UNIT_A), Command::Accept);
    c3.at(cst(2024, 4, 20, 10, 0));
    c3.ok(&head(UNIT_A), reply(Decision::Explain));
    c3.ok(
        &handler(UNIT_A),
        Command::SubmitCompletionReport {
            report: doc("已办结"),
        },
    );
    c3.at(cst(2024, 4, 22, 10, 0));
    c3.ok(&registrar(), check_report(false, None));
    c3.at(cst(2024, 5, 10, 10, 0));
    c3.ok(&head(UNIT_A), reply(Decision::NotSupport));
    // c4: a copy of c1, merged into it.
    let mut c4 = World::submitted("c4", start, false);
    c4.at(cst(2024, 3, 2, 10, 0));
    c4.ok(&registrar(), merge_into("c1"));
    // c5: a letter on a matter for the courts, declined on 20 March.
    let mut c5 = routed_via("c5", start, Channel::Letter, RouteKind::Forward);
    c5.at(cst(2024, 3, 20, 10, 0));
    c5.ok(
        &handler(UNIT_A),
        Command::Decline {
            ground: DeclineGround::OtherProcedure,
            reason: reason("该事项已进入诉讼程序"),
            guidance: reason("请向人民法院申请再审"),
        },
    );

    // The nation's totals over the whole period, as a store would sum its counter rows.
    let mut totals = Totals::new();
    let mut unit_a = Totals::new();
    for w in [&c1, &c2, &c3, &c4, &c5] {
        let deadlines = w.s().deadlines(&w.policy, Calendar::china());
        let ctx = CaseContext {
            deadlines: &deadlines,
            bureau_region: None,
        };
        for e in stats::contributions(w.s(), &ctx) {
            let into = match &e.target {
                Target::Region(code) if code == "0" => &mut totals,
                Target::Unit(u) if u.as_str() == UNIT_A => &mut unit_a,
                _ => continue,
            };
            *into.entry(e.key).or_insert(0) += e.value;
        }
    }
    let config = IndicatorConfig::default();
    let catalogue = stats::catalogue(&config);
    let figure = |totals: &Totals, id: &str| {
        let ind = catalogue.iter().find(|i| i.id == id).unwrap();
        stats::evaluate(ind, totals, &catalogue).value
    };
    let close = |got: Option<f64>, want: f64, id: &str| {
        let got = got.unwrap_or_else(|| panic!("{id}: no figure"));
        assert!((got - want).abs() < 1e-9, "{id}: {got} != {want}");
    };
    assert_eq!(figure(&totals, "volume"), Some(5.0));
    // Acceptance: c1–c3 on 1 March (on time), c5 declined on 20 March (late); c4 never.
    close(
        figure(&totals, "timely_acceptance_rate"),
        3.0 / 4.0,
        "及时受理率",
    );
    // Replies: c1 on time, c2 on time with its extension, c3 late.
    close(
        figure(&totals, "on_time_completion_rate"),
        2.0 / 3.0,
        "按期办结率",
    );
    // Answers: acceptance c1 c2 c3 (on time), decline c5 (late), replies (2 of 3), review (on time).
    close(
        figure(&totals, "on_time_answer_rate"),
        6.0 / 8.0,
        "按期答复率",
    );
    close(
        figure(&totals, "rating_participation_rate"),
        2.0 / 3.0,
        "参评率",
    );
    close(
        figure(&totals, "satisfaction_rate"),
        (1.0 + 0.9) / 2.0,
        "满意率",
    );
    close(
        figure(&totals, "bureau_satisfaction_rate"),
        1.0,
        "信访部门满意率",
    );
    close(
        figure(&totals, "first_time_resolution_rate"),
        2.0 / 3.0,
        "一次性化解率",
    );
    close(figure(&totals, "review_rate"), 1.0 / 3.0, "复查率");
    close(
        figure(&totals, "review_revocation_rate"),
        1.0,
        "复查撤销变更率",
    );
    assert_eq!(figure(&totals, "rereview_rate"), Some(0.0));
    assert_eq!(figure(&totals, "rereview_revocation_rate"), None);
    // Online: c1 c2 c4 of 5; of those, c1 c4 from a phone.
    close(figure(&totals, "online_share"), 3.0 / 5.0, "网信占比");
    close(
        figure(&totals, "mobile_share_of_online"),
        2.0 / 3.0,
        "手机占比",
    );
    close(
        figure(&totals, "mean_handling_days"),
        (40.0 + 80.0 + 70.0) / 3.0,
        "平均办理天数",
    );
    assert_eq!(figure(&totals, "median_handling_days"), Some(70.0));
    // 12345: every case was routed on its day of receipt; 支持 in one of three replies.
    close(figure(&totals, "hotline_response_rate"), 1.0, "响应率");
    close(
        figure(&totals, "hotline_resolution_rate"),
        1.0 / 3.0,
        "解决率",
    );
    close(
        figure(&totals, "hotline_composite"),
        0.1 + 0.5 / 3.0 + 0.4 * 0.95,
        "12345综合",
    );
    assert_eq!(totals.get(stats::keys::MERGED), Some(&1));
    assert_eq!(totals.get(stats::keys::DECLINED), Some(&1));
    assert_eq!(totals.get(stats::keys::EXTENDED), Some(&1));
    assert_eq!(totals.get(stats::keys::ASSIGNED), Some(&1));
    assert_eq!(totals.get(stats::keys::FORWARDED), Some(&3));
    assert_eq!(totals.get("received.channel.letter"), Some(&2));
    assert_eq!(totals.get("received.category.城乡建设"), Some(&5));
    // Unit A handled every case but the merged copy.
    assert_eq!(figure(&unit_a, "volume"), Some(4.0));
    close(
        figure(&unit_a, "on_time_completion_rate"),
        2.0 / 3.0,
        "unit A 按期办结率",
    );

    // The reply of c3 counts on the day of its standing reply, 10 May, not on 20 April.
    let deadlines = c3.s().deadlines(&c3.policy, Calendar::china());
    let entries = stats::contributions(
        c3.s(),
        &CaseContext {
            deadlines: &deadlines,
            bureau_region: None,
        },
    );
    let replied: Vec<_> = entries
        .iter()
        .filter(|e| e.key == stats::keys::REPLIED && e.target == Target::Region("0".into()))
        .map(|e| e.day)
        .collect();
    assert_eq!(replied, vec![NaiveDate::from_ymd_opt(2024, 5, 10).unwrap()]);
}

// ---------------------------------------------------------------------------------------------
// 包案: leaders in personal charge
// ---------------------------------------------------------------------------------------------

fn release(why: &str) -> Command {
    Command::ReleaseCharge {
        reason: reason(why),
    }
}

fn hand_over(to: &str, to_unit: &str) -> Command {
    Command::HandOverCharge {
        to: ActorId::new(to),
        to_unit: unit(to_unit),
        reason: reason("工作调整"),
    }
}

#[test]
fn a_leader_of_the_handling_unit_or_above_takes_charge() {
    let mut w = World::handling("case-charge", cst(2024, 4, 1, 10, 0), false);
    let timers = w.s().timers.clone();
    // Not a leader, or a leader of an unrelated unit: refused.
    assert_eq!(w.code(&head(UNIT_A), Command::TakeCharge), "forbidden");
    assert_eq!(w.code(&leader(false), Command::TakeCharge), "forbidden");
    assert_eq!(
        w.code(
            &staff("leader-b", UNIT_B, &[Role::Leader]),
            Command::TakeCharge
        ),
        "forbidden"
    );
    // A leader of the handling unit, and a leader above the case's units.
    let own = staff("leader-a", UNIT_A, &[Role::Leader]);
    let kinds = w.ok(&own, Command::TakeCharge);
    assert_eq!(
        kinds,
        vec![EventKind::ChargeTaken {
            leader: ActorId::new("leader-a"),
            unit: Some(unit(UNIT_A)),
        }]
    );
    assert!(!kinds[0].visible_to_petitioner());
    assert_eq!(w.code(&own, Command::TakeCharge), "not_allowed");
    w.at(cst(2024, 4, 2, 9, 0));
    w.ok(&leader(true), Command::TakeCharge);
    let in_charge: Vec<&str> = w.s().in_charge.iter().map(|l| l.leader.as_str()).collect();
    assert_eq!(in_charge, ["leader-a", "leader-1"]);
    assert_eq!(w.s().in_charge[1].since, cst(2024, 4, 2, 9, 0));
    assert_eq!(w.s().in_charge[1].unit, Some(unit("gov-44")));
    // Taking charge changes neither the stage nor any clock.
    assert_eq!(w.stage(), Stage::Handling);
    assert_eq!(w.s().timers, timers);
}

#[test]
fn only_the_leader_in_charge_releases_or_hands_over() {
    let mut w = World::handling("case-charge-hand", cst(2024, 4, 1, 10, 0), false);
    let own = staff("leader-a", UNIT_A, &[Role::Leader]);
    // Nobody is in charge yet: nothing to release or hand over.
    assert_eq!(w.code(&own, release("不再包案")), "forbidden");
    assert_eq!(w.code(&own, hand_over("leader-1", "gov-44")), "forbidden");
    w.ok(&own, Command::TakeCharge);
    // Another leader cannot release someone else's charge.
    assert_eq!(w.code(&leader(true), release("不再包案")), "forbidden");
    match w.refused(&own, hand_over("leader-a", UNIT_A)) {
        Rejection::Invalid { field, .. } => assert_eq!(field, "to"),
        other => panic!("expected an invalid field, got {other:?}"),
    }
    w.ok(&own, hand_over("leader-1", "gov-44"));
    let in_charge: Vec<&str> = w.s().in_charge.iter().map(|l| l.leader.as_str()).collect();
    assert_eq!(in_charge, ["leader-1"]);
    assert_eq!(w.code(&own, release("不再包案")), "forbidden");
    // The new leader cannot be handed a charge twice.
    w.ok(&own, Command::TakeCharge);
    assert_eq!(w.code(&own, hand_over("leader-1", "gov-44")), "not_allowed");
    w.ok(&leader(true), release("已协调完毕"));
    let in_charge: Vec<&str> = w.s().in_charge.iter().map(|l| l.leader.as_str()).collect();
    assert_eq!(in_charge, ["leader-a"]);
    assert!(
        w.events
            .iter()
            .filter(|e| e.version > 4)
            .all(|e| !e.kind.visible_to_petitioner())
    );
}

#[test]
fn a_closed_case_takes_no_new_charge_but_releases_one() {
    let mut w = World::handling("case-charge-closed", cst(2024, 4, 1, 10, 0), false);
    let own = staff("leader-a", UNIT_A, &[Role::Leader]);
    w.ok(&own, Command::TakeCharge);
    w.ok(&petitioner(true), withdraw());
    assert_eq!(w.stage(), Stage::Withdrawn);
    assert_eq!(w.code(&leader(true), Command::TakeCharge), "wrong_stage");
    assert_eq!(w.code(&own, hand_over("leader-1", "gov-44")), "wrong_stage");
    assert_eq!(
        w.s().in_charge.len(),
        1,
        "the record of who was in charge stays"
    );
    w.ok(&own, release("已办结"));
    assert!(w.s().in_charge.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Deadlines that act: the escalation ladder and supervision (督办)
// ---------------------------------------------------------------------------------------------

mod ladder {
    use super::*;
    use huiyin_domain::supervision::{
        LadderStep, SupervisionForm, command_for, due_step, next_step,
    };

    fn supervisor(u: &str) -> Actor {
        staff("duban", u, &[Role::Supervisor])
    }

    /// Accepted on 31 July 2024: the 60-day handling limit ends on Sunday 29 September, a
    /// make-up working day before National Day (1–7 October off; Saturday 12 October worked).
    fn before_national_day() -> World {
        let w = World::handling("ladder", cst(2024, 7, 31, 9, 0), false);
        assert_eq!(w.due(ClockKind::Handling), eod(2024, 9, 29));
        w
    }

    fn next(w: &World) -> Option<(LadderStep, Instant)> {
        next_step(w.s(), &w.policy, Calendar::china())
    }

    /// Takes the step the scan finds due at `t`, as the scan does, and returns it.
    #[track_caller]
    fn scan(w: &mut World, t: Instant) -> Option<LadderStep> {
        w.at(t);
        let (step, mark) = due_step(w.s(), &w.policy, Calendar::china(), t)?;
        let command = command_for(w.s(), step, mark, &w.policy).expect("a command for the step");
        w.ok(&Actor::system(), command);
        Some(step)
    }

    #[test]
    fn the_ladder_counts_the_make_up_days_and_skips_national_day() {
        let mut w = before_national_day();
        let yellow = w.deadline(ClockKind::Handling).yellow_at;
        assert_eq!(next(&w), Some((LadderStep::UrgeDueSoon, yellow)));
        assert_eq!(scan(&mut w, yellow - TimeDelta::milliseconds(1)), None);
        assert_eq!(scan(&mut w, yellow), Some(LadderStep::UrgeDueSoon));
        // Taken once only, however often the scan runs.
        assert_eq!(scan(&mut w, yellow + TimeDelta::hours(1)), None);
        assert_eq!(w.s().urges, 1);

        let overdue = eod(2024, 9, 29) + TimeDelta::milliseconds(1);
        assert_eq!(next(&w), Some((LadderStep::UrgeOverdue, overdue)));
        assert_eq!(scan(&mut w, eod(2024, 9, 29)), None);
        assert_eq!(scan(&mut w, overdue), Some(LadderStep::UrgeOverdue));

        // Three working days overdue: 30 September, then 8 and 9 October (1–7 October off).
        let supervise = eod(2024, 10, 9) + TimeDelta::milliseconds(1);
        assert_eq!(next(&w), Some((LadderStep::Supervise, supervise)));
        assert_eq!(scan(&mut w, cst(2024, 10, 9, 23, 0)), None);
        assert_eq!(
            scan(&mut w, cst(2024, 10, 10, 8, 0)),
            Some(LadderStep::Supervise)
        );
        let order = w.s().supervision[0].clone();
        assert_eq!(order.number, 1);
        assert_eq!(order.form, SupervisionForm::Online);
        assert_eq!(order.by_unit, Some(unit(BUREAU)));
        // Five working days from Thursday 10 October: 11, 12 (make-up Saturday), 14, 15, 16.
        assert_eq!(order.reply_due_at, eod(2024, 10, 16));

        let circulate = eod(2024, 10, 16) + TimeDelta::milliseconds(1);
        assert_eq!(next(&w), Some((LadderStep::Circulate, circulate)));
        assert_eq!(scan(&mut w, cst(2024, 10, 16, 18, 0)), None);
        assert_eq!(
            scan(&mut w, cst(2024, 10, 17, 8, 0)),
            Some(LadderStep::Circulate)
        );
        assert!(w.s().supervision[0].circulated);
        assert_eq!(w.s().circulations, 1);
        // Every rung taken: nothing more happens on its own.
        assert_eq!(next(&w), None);
        assert_eq!(scan(&mut w, cst(2024, 12, 1, 8, 0)), None);
        let names: Vec<&str> = w.events.iter().map(|e| e.kind.name()).collect();
        assert_eq!(
            names[names.len() - 4..],
            ["urged", "urged", "supervision_issued", "circulated"]
        );
    }

    #[test]
    fn a_case_first_seen_long_overdue_gets_the_highest_rung_due() {
        let mut w = before_national_day();
        assert_eq!(
            scan(&mut w, cst(2024, 10, 20, 8, 0)),
            Some(LadderStep::Supervise)
        );
        assert_eq!(w.s().urges, 0);
        // The order was issued on 20 October (a Sunday): due by the fifth working day after.
        assert_eq!(w.s().supervision[0].reply_due_at, eod(2024, 10, 25));
    }

    #[test]
    fn an_answered_order_is_not_circulated_and_a_reply_ends_the_ladder() {
        let mut w = before_national_day();
        scan(&mut w, cst(2024, 10, 10, 8, 0));
        w.at(cst(2024, 10, 14, 9, 0));
        // Only the supervised unit answers, once.
        assert_eq!(
            w.code(
                &handler(UNIT_B),
                Command::AnswerSupervision {
                    number: 1,
                    text: doc("已调查核实，本周答复"),
                }
            ),
            "forbidden"
        );
        w.ok(
            &handler(UNIT_A),
            Command::AnswerSupervision {
                number: 1,
                text: doc("已调查核实，本周答复"),
            },
        );
        assert_eq!(
            w.code(
                &handler(UNIT_A),
                Command::AnswerSupervision {
                    number: 1,
                    text: doc("已调查核实，本周答复"),
                }
            ),
            "not_allowed"
        );
        assert_eq!(
            w.code(
                &handler(UNIT_A),
                Command::AnswerSupervision {
                    number: 2,
                    text: doc("已调查核实，本周答复"),
                }
            ),
            "invalid_command"
        );
        assert_eq!(next(&w), None);
        assert_eq!(scan(&mut w, cst(2024, 10, 30, 8, 0)), None);
        w.ok(
            &head(UNIT_A),
            Command::Reply {
                opinion: opinion(Decision::Support),
            },
        );
        assert_eq!(next(&w), None);
    }

    #[test]
    fn an_extension_gives_a_new_deadline_and_its_ladder_starts_again() {
        let mut w = before_national_day();
        let yellow = w.deadline(ClockKind::Handling).yellow_at;
        scan(&mut w, yellow);
        w.ok(&handler(UNIT_A), extension(30));
        w.ok(&head(UNIT_A), decide_extension(true));
        let d = w.deadline(ClockKind::Handling);
        assert!(d.due_at > eod(2024, 9, 29));
        assert_eq!(next(&w), Some((LadderStep::UrgeDueSoon, d.yellow_at)));
    }

    #[test]
    fn the_policy_chooses_the_rungs() {
        let mut w = before_national_day();
        w.policy.escalation.urge_when_yellow = false;
        w.policy.escalation.supervise_after_working_days = None;
        let overdue = eod(2024, 9, 29) + TimeDelta::milliseconds(1);
        assert_eq!(next(&w), Some((LadderStep::UrgeOverdue, overdue)));
        assert_eq!(scan(&mut w, overdue), Some(LadderStep::UrgeOverdue));
        assert_eq!(next(&w), None);
        w.policy.escalation.supervise_after_working_days = Some(0);
        // Zero working days: the order follows the overdue urge on the next scan.
        assert_eq!(
            next(&w),
            Some((
                LadderStep::Supervise,
                eod(2024, 9, 29) + TimeDelta::milliseconds(1)
            ))
        );
    }

    #[test]
    fn supervisors_urge_supervise_and_circulate_by_hand() {
        let mut w = before_national_day();
        w.at(cst(2024, 8, 20, 10, 0));
        let urge = || Command::Urge {
            text: doc("请加快办理"),
            ladder: None,
        };
        assert_eq!(w.code(&handler(UNIT_A), urge()), "forbidden");
        assert_eq!(w.code(&supervisor(UNIT_B), urge()), "forbidden");
        let kinds = w.ok(&supervisor(BUREAU), urge());
        assert!(
            matches!(&kinds[0], EventKind::Urged { unit: u, ladder: None, .. } if u == &unit(UNIT_A))
        );
        // A ladder step is the scan's alone.
        let (_, mark) = due_step(w.s(), &w.policy, Calendar::china(), eod(2024, 9, 30)).unwrap();
        assert_eq!(
            w.code(
                &supervisor(BUREAU),
                Command::Urge {
                    text: doc("请加快办理"),
                    ladder: mark
                }
            ),
            "forbidden"
        );
        let supervise = |days: Option<u32>, named: bool| Command::Supervise {
            form: SupervisionForm::OnSite,
            text: doc("请限期书面反馈"),
            reply_working_days: days,
            named,
            ladder: None,
        };
        assert_eq!(
            w.code(&supervisor(BUREAU), supervise(Some(0), true)),
            "invalid_command"
        );
        assert_eq!(
            w.code(&supervisor(BUREAU), supervise(Some(61), true)),
            "invalid_command"
        );
        assert_eq!(
            w.code(
                &supervisor(BUREAU),
                Command::EndNamedSupervision {
                    reason: reason("已答复")
                }
            ),
            "not_allowed"
        );
        // A supervisor of a unit above (the application works out `oversees_case`).
        let above = Actor {
            oversees_case: true,
            ..supervisor(REREVIEW)
        };
        w.ok(&above, supervise(Some(3), true));
        let order = &w.s().supervision[0];
        assert_eq!(order.by_unit, Some(unit(REREVIEW)));
        // Three working days from Tuesday 20 August.
        assert_eq!(order.reply_due_at, eod(2024, 8, 23));
        assert_eq!(w.s().named_supervision_since, Some(cst(2024, 8, 20, 10, 0)));
        // A hand-made 通报 of an unanswered order, once.
        let circulate = Command::Circulate {
            text: doc("督办单逾期未复"),
            order: Some(1),
        };
        w.ok(&supervisor(BUREAU), circulate.clone());
        assert_eq!(w.code(&supervisor(BUREAU), circulate), "not_allowed");
        // The scan does not circulate it again.
        assert_eq!(next(&w).map(|(s, _)| s), Some(LadderStep::UrgeDueSoon));
        w.ok(
            &supervisor(BUREAU),
            Command::EndNamedSupervision {
                reason: reason("已依法答复"),
            },
        );
        assert_eq!(w.s().named_supervision_since, None);
        // None of it shows on the petitioner's timeline.
        assert!(
            w.events
                .iter()
                .rev()
                .take(4)
                .all(|e| !e.kind.visible_to_petitioner())
        );
    }

    #[test]
    fn the_petitioners_own_windows_are_not_chased() {
        let mut w = before_national_day();
        w.at(cst(2024, 8, 20, 10, 0));
        w.ok(
            &head(UNIT_A),
            Command::Reply {
                opinion: opinion(Decision::Support),
            },
        );
        // The rating and review-request windows run, but they are the petitioner's.
        assert!(w.running(ClockKind::Rating));
        assert_eq!(next(&w), None);
        assert_eq!(scan(&mut w, cst(2025, 1, 1, 8, 0)), None);
    }
}

mod follow_up {
    use super::*;
    use huiyin_domain::follow_up::{FollowUpMethod, FollowUpOutcome, FollowUpReason};

    /// Replied on Friday 27 September 2024, before National Day (1–7 October off, Sunday 29
    /// September and Saturday 12 October worked).
    fn replied() -> World {
        let mut w = World::handling("follow-up", cst(2024, 9, 27, 9, 0), false);
        w.ok(
            &head(UNIT_A),
            Command::Reply {
                opinion: opinion(Decision::Support),
            },
        );
        w
    }

    fn rate(bureau: Satisfaction, unit: Satisfaction) -> Command {
        Command::Rate {
            bureau,
            unit,
            comment: None,
        }
    }

    fn record(outcome: FollowUpOutcome) -> Command {
        Command::RecordFollowUp {
            method: FollowUpMethod::Phone,
            outcome,
            note: reason("电话联系信访人，表示路灯已修好"),
        }
    }

    #[test]
    fn a_case_rated_unsatisfied_gets_a_follow_up_within_ten_working_days() {
        let mut w = replied();
        w.at(cst(2024, 9, 27, 15, 0));
        let kinds = w.ok(
            &petitioner(true),
            rate(Satisfaction::Satisfied, Satisfaction::Unsatisfied),
        );
        assert_eq!(kinds.len(), 2, "{kinds:?}");
        let f = w.s().follow_ups[0].clone();
        assert_eq!(f.reason, FollowUpReason::Unsatisfied);
        assert_eq!(f.method, FollowUpMethod::Phone);
        // Ten working days from Friday 27 September: 29 (make-up Sunday), 30 September,
        // then 8, 9, 10, 11, 12 (make-up Saturday), 14, 15, 16 October.
        assert_eq!(f.due_at, eod(2024, 10, 16));
        assert!(f.is_open());
        // Not for the handling unit: the bureau follows up.
        assert_eq!(
            w.code(&handler(UNIT_A), record(FollowUpOutcome::Satisfied)),
            "forbidden"
        );
        w.at(cst(2024, 10, 8, 10, 0));
        w.ok(&registrar(), record(FollowUpOutcome::BasicallySatisfied));
        let f = &w.s().follow_ups[0];
        assert_eq!(f.outcome, Some(FollowUpOutcome::BasicallySatisfied));
        assert_eq!(f.done_by, Some(FollowUpMethod::Phone));
        assert_eq!(f.done_at, Some(cst(2024, 10, 8, 10, 0)));
        // Once only; the petitioner does not see the follow-up events.
        assert_eq!(
            w.code(&registrar(), record(FollowUpOutcome::Satisfied)),
            "not_allowed"
        );
        assert!(
            w.events
                .iter()
                .filter(|e| e.kind.name().starts_with("follow_up"))
                .all(|e| !e.kind.visible_to_petitioner())
        );
    }

    #[test]
    fn a_satisfied_rating_gets_none_unless_the_policy_or_the_bureau_asks() {
        let mut w = replied();
        let kinds = w.ok(
            &petitioner(true),
            rate(Satisfaction::Satisfied, Satisfaction::BasicallySatisfied),
        );
        assert_eq!(kinds.len(), 1);
        assert!(w.s().follow_ups.is_empty());
        // The bureau may schedule one itself, once while it is open.
        w.ok(
            &registrar(),
            Command::ScheduleFollowUp {
                method: FollowUpMethod::Visit,
            },
        );
        assert_eq!(w.s().follow_ups[0].reason, FollowUpReason::Requested);
        assert_eq!(
            w.code(
                &registrar(),
                Command::ScheduleFollowUp {
                    method: FollowUpMethod::Phone
                }
            ),
            "not_allowed"
        );
        // A deployment that follows up every rated case.
        let mut all = replied();
        all.policy.follow_up.every_rated = true;
        all.ok(
            &petitioner(true),
            rate(Satisfaction::Satisfied, Satisfaction::Satisfied),
        );
        assert_eq!(all.s().follow_ups[0].reason, FollowUpReason::EveryRated);
    }

    #[test]
    fn no_follow_up_before_the_reply() {
        let mut w = World::handling("early", cst(2024, 9, 27, 9, 0), false);
        assert_eq!(
            w.code(
                &registrar(),
                Command::ScheduleFollowUp {
                    method: FollowUpMethod::Phone
                }
            ),
            "wrong_stage"
        );
        assert_eq!(
            w.code(&registrar(), record(FollowUpOutcome::Unreachable)),
            "not_allowed"
        );
    }
}
