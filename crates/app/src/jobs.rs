//! The job worker (issue 6): claims due jobs from the queue in the database, runs them with a
//! bounded number in flight, and records the outcome — done, a retry after an exponential
//! backoff with jitter, or a dead letter after the last attempt.
//!
//! It runs inside `huiyin serve` by default and alone as `huiyin worker`; several workers may
//! share one PostgreSQL database (claims use `FOR UPDATE SKIP LOCKED`). Delivery is
//! at-least-once: a worker killed between sending and recording leaves the job leased, and
//! once the lease ends another worker runs it again with the same idempotency key, which the
//! receivers use to drop the duplicate.
//!
//! Each job runs in its own task under a timeout shorter than its lease, so a slow receiver
//! holds one slot, never the queue.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use huiyin_store::{ClaimedJob, JobOutcome, Store};
use rand::Rng;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;

use crate::App;

/// Why a job did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt later (timeout, refused connection, HTTP 5xx).
    #[error("{0}")]
    Retry(String),
    /// Will never succeed (unknown kind, malformed payload, a receiver that rejects it with
    /// 4xx): a dead letter at once.
    #[error("{0}")]
    Permanent(String),
}

/// The future a handler returns.
pub type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send + 'a>>;

/// Runs one kind (or several kinds) of job.
pub trait JobHandler: Send + Sync + 'static {
    fn run<'a>(&'a self, app: &'a App, job: &'a ClaimedJob) -> JobFuture<'a>;
}

/// Exponential backoff: `base · 2^(attempt-1)`, at most `max`, then a random point in the
/// upper half (jitter, so jobs that failed together do not retry together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(5),
            max: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The delay before the attempt after `attempt` (1-based).
    pub fn delay(&self, attempt: i64, rng: &mut impl Rng) -> Duration {
        let exp = u32::try_from(attempt.clamp(1, 31) - 1).unwrap_or(0);
        let full = self
            .base
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max);
        let half = full / 2;
        let spread = u64::try_from((full - half).as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rng.random_range(0..=spread))
    }
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The name recorded with claimed jobs (host and process, by default).
    pub name: String,
    /// Jobs in flight at once.
    pub concurrency: usize,
    /// How long a claimed job is reserved; a job still running at the end of its lease is
    /// cancelled (it counts as a failed attempt) so another worker may take it.
    pub lease: Duration,
    /// How often an idle worker looks for due jobs (a commit that enqueues wakes it sooner).
    pub idle_poll: Duration,
    pub backoff: Backoff,
    /// How long a stopping worker waits for jobs in flight.
    pub grace: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            name: format!("worker-{}", std::process::id()),
            concurrency: 64,
            lease: Duration::from_secs(60),
            idle_poll: Duration::from_millis(500),
            backoff: Backoff::default(),
            grace: Duration::from_secs(20),
        }
    }
}

/// What a worker did (returned when it stops; also for tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WorkerReport {
    pub done: u64,
    pub retried: u64,
    pub dead: u64,
    /// Outcomes not recorded because the lease had passed to another worker.
    pub lost_leases: u64,
}

/// Wakes idle workers of this process when a commit has enqueued jobs.
#[derive(Debug, Default)]
pub struct JobSignal(Notify);

impl JobSignal {
    pub fn notify(&self) {
        self.0.notify_waiters();
    }
}

enum Outcome {
    Done,
    Retried,
    Dead,
    Lost,
}

/// Runs the worker until `shutdown` completes, then lets jobs in flight finish (up to
/// `grace`) and returns. Jobs it could not finish stay leased and are taken up again when
/// their lease ends.
pub async fn run_worker(
    app: App,
    handler: Arc<dyn JobHandler>,
    options: WorkerOptions,
    shutdown: impl Future<Output = ()>,
) -> WorkerReport {
    let concurrency = options.concurrency.max(1);
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut running: JoinSet<Outcome> = JoinSet::new();
    let mut report = WorkerReport::default();
    let signal = app.job_signal();
    let lease_ms = i64::try_from(options.lease.as_millis()).unwrap_or(i64::MAX);
    tokio::pin!(shutdown);
    tracing::info!(worker = %options.name, concurrency, "job worker started");
    loop {
        while let Some(done) = running.try_join_next() {
            tally(&mut report, done);
        }
        let free = slots.available_permits();
        if free == 0 {
            tokio::select! {
                () = &mut shutdown => break,
                Some(done) = running.join_next() => tally(&mut report, done),
            }
            continue;
        }
        // Registered before the claim, so a commit between the claim and the wait is not missed.
        let woken = signal.0.notified();
        let claimed = app
            .store()
            .claim_jobs(
                &options.name,
                app.now().timestamp_millis(),
                lease_ms,
                i64::try_from(free).unwrap_or(1),
            )
            .await;
        match claimed {
            Ok(jobs) if !jobs.is_empty() => {
                for job in jobs {
                    let Ok(permit) = slots.clone().acquire_owned().await else {
                        break;
                    };
                    let app = app.clone();
                    let handler = handler.clone();
                    let options = options.clone();
                    running.spawn(async move {
                        let outcome = run_one(&app, handler.as_ref(), &options, &job).await;
                        drop(permit);
                        outcome
                    });
                }
            }
            Ok(_) => {
                tokio::select! {
                    () = &mut shutdown => break,
                    () = woken => {}
                    () = tokio::time::sleep(options.idle_poll) => {}
                    Some(done) = running.join_next() => tally(&mut report, done),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming jobs failed; retrying");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(options.idle_poll) => {}
                }
            }
        }
    }
    tracing::info!(worker = %options.name, in_flight = running.len(), "job worker stopping");
    let drain = async {
        while let Some(done) = running.join_next().await {
            tally(&mut report, done);
        }
    };
    if tokio::time::timeout(options.grace, drain).await.is_err() {
        tracing::warn!("jobs still running after the grace period; their leases will expire");
    }
    tracing::info!(worker = %options.name, ?report, "job worker stopped");
    report
}

fn tally(report: &mut WorkerReport, done: Result<Outcome, tokio::task::JoinError>) {
    match done {
        Ok(Outcome::Done) => report.done += 1,
        Ok(Outcome::Retried) => report.retried += 1,
        Ok(Outcome::Dead) => report.dead += 1,
        Ok(Outcome::Lost) => report.lost_leases += 1,
        Err(e) => tracing::error!(error = %e, "job task panicked"),
    }
}

/// The most job outcomes committed in one transaction.
const MAX_OUTCOME_BATCH: usize = 256;

type OutcomeRequest = (JobOutcome, oneshot::Sender<Result<bool, String>>);

/// Group commit for job outcomes (finished, failed, delivery log): whatever the workers of this
/// process report while a commit is under way goes into the next one. On SQLite every commit is
/// a disk flush, and two per notice (log + finish) capped a worker at about 900 webhook
/// notices a second (docs/benchmarks.md, "Notifications to a webhook sink").
pub(crate) struct Outcomes(mpsc::Sender<OutcomeRequest>);

impl Outcomes {
    pub(crate) fn spawn(store: Store) -> Outcomes {
        // Each worker task waits for its answer, so the queue holds at most one outcome per job
        // in flight.
        let (tx, mut rx) = mpsc::channel::<OutcomeRequest>(4096);
        tokio::spawn(async move {
            while let Some(batch) = crate::writer::recv_batch(&mut rx, MAX_OUTCOME_BATCH).await {
                let (ops, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                match store.write_job_outcomes(&ops).await {
                    Ok(took) => {
                        for (reply, ok) in replies.into_iter().zip(took) {
                            let _ = reply.send(Ok(ok));
                        }
                    }
                    // One bad write must not sink the others: each alone, then.
                    Err(_) => {
                        for (op, reply) in ops.into_iter().zip(replies) {
                            let alone = store
                                .write_job_outcomes(std::slice::from_ref(&op))
                                .await
                                .map(|took| took.first().copied().unwrap_or(false))
                                .map_err(|e| e.to_string());
                            let _ = reply.send(alone);
                        }
                    }
                }
            }
        });
        Outcomes(tx)
    }

    /// Writes one outcome with whatever else is waiting; `false`: the lease was lost.
    pub(crate) async fn write(&self, outcome: JobOutcome) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        self.0
            .send((outcome, reply))
            .await
            .map_err(|_| "the outcome writer has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the outcome writer has stopped".to_string())?
    }
}

async fn run_one(
    app: &App,
    handler: &dyn JobHandler,
    options: &WorkerOptions,
    job: &ClaimedJob,
) -> Outcome {
    // Finish well inside the lease, so no other worker runs it while this one still does.
    let limit = options.lease.mul_f64(0.8).max(Duration::from_millis(100));
    let result = match tokio::time::timeout(limit, handler.run(app, job)).await {
        Ok(r) => r,
        Err(_) => Err(JobError::Retry(format!(
            "timed out after {} ms",
            limit.as_millis()
        ))),
    };
    let now = app.now().timestamp_millis();
    let (recorded, outcome) = match &result {
        Ok(()) => (
            app.record_job_outcome(JobOutcome::Done {
                id: job.id.clone(),
                attempt: job.attempt,
                now_ms: now,
            })
            .await,
            Outcome::Done,
        ),
        Err(e) => {
            let retry_at = match e {
                JobError::Retry(_) if job.attempt < job.max_attempts => {
                    let delay = options.backoff.delay(job.attempt, &mut rand::rng());
                    Some(now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)))
                }
                _ => None,
            };
            let outcome = if retry_at.is_some() {
                tracing::debug!(job = %job.id, kind = %job.kind, attempt = job.attempt, error = %e, "job will be retried");
                Outcome::Retried
            } else {
                tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempt, error = %e, "job dead-lettered");
                Outcome::Dead
            };
            (
                app.record_job_outcome(JobOutcome::Failed {
                    id: job.id.clone(),
                    attempt: job.attempt,
                    now_ms: now,
                    error: e.to_string(),
                    retry_at_ms: retry_at,
                })
                .await,
                outcome,
            )
        }
    };
    match recorded {
        Ok(true) => outcome,
        Ok(false) => Outcome::Lost,
        Err(e) => {
            // The lease runs out and the job is run again: at-least-once.
            tracing::warn!(job = %job.id, error = %e, "recording the job's outcome failed");
            Outcome::Lost
        }
    }
}

/// Runs a worker with the default handlers until no job is ready or running, then stops it
/// (tests, and one-off runs). A job waiting for its retry time counts as ready, so this
/// returns only once everything has finished or become a dead letter.
pub async fn run_until_idle(app: &App) -> Result<WorkerReport, String> {
    let handler = crate::notify::handler(app.notify_config())?;
    let options = WorkerOptions {
        name: "until-idle".into(),
        concurrency: 4,
        lease: Duration::from_secs(30),
        idle_poll: Duration::from_millis(20),
        backoff: Backoff::default(),
        grace: Duration::from_secs(5),
    };
    let store = app.store().clone();
    let idle = async move {
        loop {
            tokio::time::sleep(Duration::from_millis(30)).await;
            match store.job_counts().await {
                Ok(c) if c.ready == 0 && c.running == 0 => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "job counts not read; stopping");
                    break;
                }
            }
        }
    };
    Ok(run_worker(app.clone(), handler, options, idle).await)
}
