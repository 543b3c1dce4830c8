//! What callers see of a case: staff get the whole state with deadlines and lights; the
//! petitioner gets their own timeline in plain words, never internal notes or other people.

use huiyin_domain::Instant;
use huiyin_domain::case::{CaseState, EventKind, HandlingOpinion, Stage};
use huiyin_domain::clock::{self, Deadline, Light};
use huiyin_domain::policy::ClockKind;
use huiyin_store::StoredEvent;
use serde::Serialize;

use crate::App;

/// A deadline with its light at the time of the view.
#[derive(Debug, Clone, Serialize)]
pub struct DeadlineView {
    pub kind: ClockKind,
    pub started_at: Instant,
    pub due_at: Instant,
    pub yellow_at: Instant,
    pub light: Light,
    pub running: bool,
    pub paused: bool,
    pub met: Option<bool>,
}

impl DeadlineView {
    fn new(d: &Deadline, now: Instant) -> DeadlineView {
        DeadlineView {
            kind: d.kind,
            started_at: d.started_at,
            due_at: d.due_at,
            yellow_at: d.yellow_at,
            light: d.light(now),
            running: d.stopped_at.is_none(),
            paused: d.paused,
            met: d.met,
        }
    }
}

/// A case for staff.
#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    pub state: CaseState,
    pub stage_label: &'static str,
    pub deadlines: Vec<DeadlineView>,
    /// The light of the most urgent running deadline (green when none runs).
    pub light: Light,
    pub next_deadline: Option<DeadlineView>,
}

pub(crate) fn case_view(app: &App, state: CaseState) -> CaseView {
    let now = app.now();
    let policy = app.policy_for(&state);
    let deadlines = clock::deadlines(&state.timers, &policy, &app.calendar());
    let views: Vec<DeadlineView> = deadlines
        .iter()
        .map(|d| DeadlineView::new(d, now))
        .collect();
    let next = views
        .iter()
        .filter(|d| d.running)
        .min_by_key(|d| d.due_at)
        .cloned();
    CaseView {
        stage_label: state.stage.label_zh(),
        light: next.as_ref().map_or(Light::Green, |d| d.light),
        next_deadline: next,
        deadlines: views,
        state,
    }
}

/// One line of the petitioner's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub at: Instant,
    pub kind: &'static str,
    pub summary: String,
}

/// The petitioner's view of their own case.
#[derive(Debug, Clone, Serialize)]
pub struct PublicView {
    pub receipt_code: String,
    pub title: String,
    pub stage: Stage,
    pub stage_label: &'static str,
    pub received_at: Instant,
    pub timeline: Vec<TimelineEntry>,
    /// The deadline the petitioner is waiting on (the organ's), if one runs.
    pub waiting_until: Option<Instant>,
    /// The written reply addressed to the petitioner, once issued.
    pub opinion: Option<HandlingOpinion>,
    pub review_opinion: Option<HandlingOpinion>,
    pub rereview_opinion: Option<HandlingOpinion>,
    /// Until when the petitioner may rate (if rating is open).
    pub can_rate_until: Option<Instant>,
    /// Until when the petitioner may ask for review (复查) or re-review (复核).
    pub can_request_review_until: Option<Instant>,
    pub can_request_rereview_until: Option<Instant>,
    /// 同意公开: the reply may be shown, masked, in the portal's search (withdrawable).
    pub publish_consent: bool,
}

pub(crate) fn public_view(app: &App, state: &CaseState, events: &[StoredEvent]) -> PublicView {
    let now = app.now();
    let policy = app.policy_for(state);
    let deadlines = clock::deadlines(&state.timers, &policy, &app.calendar());
    let open_until = |kind: ClockKind| {
        deadlines
            .iter()
            .find(|d| d.kind == kind && d.stopped_at.is_none() && d.due_at >= now)
            .map(|d| d.due_at)
    };
    let organ_kinds = [
        ClockKind::RegisterRoute,
        ClockKind::AcceptanceNotice,
        ClockKind::Handling,
        ClockKind::ReviewDecision,
        ClockKind::RereviewDecision,
    ];
    let waiting_until = deadlines
        .iter()
        .filter(|d| d.stopped_at.is_none() && organ_kinds.contains(&d.kind))
        .map(|d| d.due_at)
        .min();
    let mut review_opinion = None;
    let mut rereview_opinion = None;
    let timeline = events
        .iter()
        .filter(|e| e.event.kind.visible_to_petitioner())
        .map(|e| {
            match &e.event.kind {
                EventKind::ReviewDecided { opinion, .. } => review_opinion = Some(opinion.clone()),
                EventKind::RereviewDecided { opinion, .. } => {
                    rereview_opinion = Some(opinion.clone())
                }
                _ => {}
            }
            TimelineEntry {
                at: e.event.at,
                kind: e.event.kind.name(),
                summary: e.event.kind.petitioner_summary(),
            }
        })
        .collect();
    let rating_open = state.stage == Stage::Replied && state.rating.is_none();
    PublicView {
        receipt_code: state.receipt.display(),
        title: state.petition.title.to_string(),
        stage: state.stage,
        stage_label: state.stage.label_zh(),
        received_at: state.received_at,
        timeline,
        waiting_until,
        opinion: state.opinion.clone(),
        review_opinion,
        rereview_opinion,
        can_rate_until: if rating_open {
            open_until(ClockKind::Rating)
        } else {
            None
        },
        can_request_review_until: if state.stage == Stage::Replied {
            open_until(ClockKind::ReviewRequest)
        } else {
            None
        },
        can_request_rereview_until: if state.stage == Stage::Reviewed {
            open_until(ClockKind::RereviewRequest)
        } else {
            None
        },
        publish_consent: state.petition.publish_consent,
    }
}
