//! The deadline scan: deadlines that act (issue 6).
//!
//! Each case's next escalation-ladder step is stored with its projection (see
//! [`huiyin_domain::supervision`]); [`App::scan_deadlines`] reads the steps due — one keyset
//! range read per page of the `cases_watch` index, so a scan over a million open cases costs
//! what the due steps cost — and takes each one as the system actor through the writer, like
//! any other command: 催办, 督办单 or 通报, an event on the case. The command is given against
//! the version the scan read, so two scans (two `huiyin worker` processes on one PostgreSQL)
//! never take the same step twice: the second one's command conflicts, or finds the step
//! taken. A stored step that no longer holds (the policy changed, the case was stored before
//! the ladder existed) is recomputed and written back.
//!
//! `huiyin serve` and `huiyin worker` run [`run_scans`] every `--deadline-scan-secs` seconds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use huiyin_domain::Instant;
use huiyin_domain::case::{Actor, CaseState};
use huiyin_domain::ids::UnitId;
use huiyin_domain::supervision::{self, LadderStep};
use huiyin_store::DueWatch;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::App;
use crate::error::AppError;

/// Rows read per page of due steps.
const PAGE: u32 = 1_000;
/// Steps taken at once; the writer commits them together.
const IN_FLIGHT: usize = 256;

/// What one scan did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    /// Cases read whose stored step was due.
    pub due: usize,
    /// Steps taken, by step name.
    pub taken: BTreeMap<&'static str, usize>,
    /// Stored steps that no longer held and were recomputed.
    pub rewatched: usize,
    /// Cases that changed while the scan ran (their change wrote their next step).
    pub changed: usize,
    /// Steps refused or failed (logged; tried again by the next scan).
    pub failed: usize,
}

impl ScanReport {
    /// Steps taken in all.
    pub fn taken_total(&self) -> usize {
        self.taken.values().sum()
    }
}

enum Outcome {
    Taken(LadderStep),
    Rewatched,
    Changed,
    Gone,
    Failed,
}

impl App {
    /// Takes every escalation-ladder step due at `now` (normally [`App::now`]).
    ///
    /// # Errors
    /// Reading the due steps failed; the steps taken before stay taken.
    pub async fn scan_deadlines(&self, now: Instant) -> Result<ScanReport, AppError> {
        let now_ms = now.timestamp_millis();
        let mut report = ScanReport::default();
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut after: Option<(i64, String)> = None;
        loop {
            let page = self
                .store()
                .due_watches(
                    now_ms,
                    PAGE,
                    after.as_ref().map(|(at, id)| (*at, id.as_str())),
                )
                .await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some((last.at_ms, last.case_id.as_str().to_string()));
            report.due += page.len();
            let mut running = JoinSet::new();
            for watch in page {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                let app = self.clone();
                running.spawn(async move {
                    let outcome = app.scan_one(&watch, now).await;
                    drop(permit);
                    outcome
                });
            }
            while let Some(done) = running.join_next().await {
                match done {
                    Ok(Outcome::Taken(step)) => {
                        *report.taken.entry(step.as_str()).or_default() += 1
                    }
                    Ok(Outcome::Rewatched) => report.rewatched += 1,
                    Ok(Outcome::Changed) => report.changed += 1,
                    Ok(Outcome::Gone) => {}
                    Ok(Outcome::Failed) | Err(_) => report.failed += 1,
                }
            }
        }
        if report.due > 0 {
            tracing::info!(?report, "deadline scan");
        }
        Ok(report)
    }

    async fn scan_one(&self, watch: &DueWatch, now: Instant) -> Outcome {
        let id = &watch.case_id;
        let record = match self.store().case(id).await {
            Ok(Some(record)) => record,
            Ok(None) => return Outcome::Gone,
            Err(e) => {
                tracing::warn!(case_id = %id, error = %e, "deadline scan: reading the case");
                return Outcome::Failed;
            }
        };
        let state = record.state;
        let policy = self.policy_for(&state);
        let calendar = self.calendar();
        let Some((step, mark)) = supervision::due_step(&state, &policy, &calendar, now) else {
            let next = supervision::next_step(&state, &policy, &calendar)
                .map(|(step, at)| (step, at.timestamp_millis()));
            return match self.store().set_watch(id, state.version, next).await {
                Ok(true) => Outcome::Rewatched,
                Ok(false) => Outcome::Changed,
                Err(e) => {
                    tracing::warn!(case_id = %id, error = %e, "deadline scan: rewriting the step");
                    Outcome::Failed
                }
            };
        };
        let Some(command) = supervision::command_for(&state, step, mark, &policy) else {
            tracing::warn!(case_id = %id, step = step.as_str(), "deadline scan: no command");
            return Outcome::Failed;
        };
        let mut actor = Actor::system();
        if step == LadderStep::Supervise {
            actor.unit = self.supervising_unit(&state).await;
        }
        match self
            .inner
            .writer
            .execute(actor, id.clone(), command, Some(state.version))
            .await
        {
            Ok(_) => Outcome::Taken(step),
            Err(AppError::Conflict(_)) => Outcome::Changed,
            Err(e) => {
                tracing::warn!(case_id = %id, step = step.as_str(), error = %e, "deadline scan: step refused");
                Outcome::Failed
            }
        }
    }
}

impl App {
    /// Who issues the scan's 督办单: the unit that routed the case to the one that must act,
    /// or else (the bureau itself must act) the unit above the receiving bureau.
    async fn supervising_unit(&self, state: &CaseState) -> Option<UnitId> {
        if let Some(r) = &state.routing
            && &r.by != state.current_unit()
        {
            return Some(r.by.clone());
        }
        match self.parent_unit(&state.bureau).await {
            Ok(parent) => parent.map(|u| UnitId::new(u.id)),
            Err(e) => {
                tracing::warn!(case_id = %state.id, error = %e, "deadline scan: the unit above");
                None
            }
        }
    }
}

/// Scans every `every` until `shutdown` completes (the first scan right away): the deadline
/// ladder, the 包案 progress reminders, then the early warnings (预警).
pub async fn run_scans(app: App, every: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        if let Err(e) = app.scan_deadlines(app.now()).await {
            tracing::warn!(error = %e, "deadline scan failed; trying again at the next interval");
        }
        if let Err(e) = app.remind_charges(app.now()).await {
            tracing::warn!(error = %e, "包案 reminders failed; trying again at the next interval");
        }
        if let Err(e) = app.scan_warnings(app.now()).await {
            tracing::warn!(error = %e, "early-warning scan failed; trying again at the next interval");
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(every) => {}
        }
    }
}
