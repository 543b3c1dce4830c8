//! The single writer with group commit.
//!
//! Commands queue on a channel; the writer takes what has gathered (up to `max_batch`), runs
//! each against the state inside one transaction, commits once, then answers every caller. An
//! answer is only sent after the commit, so an acknowledged submission is durable. The batch's
//! writes are collected and sent at commit as a few multi-row statements
//! ([`Store::begin_batch`]), so a batch costs its reads plus about a dozen statements, however
//! many commands it holds. If a
//! database error spoils a batch, the batch is rolled back and each command is retried alone,
//! so one bad command never fails the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use huiyin_domain::case::{Actor, CaseState, Command, Ctx, Event, apply, decide};
use huiyin_domain::ids::{CaseId, UnitId};
use huiyin_domain::petition::Petitioner;
use huiyin_store::{Store, StoreError, WriteTx};
use tokio::sync::{mpsc, oneshot};

use crate::{AppError, Config, NewPetition, Receipt, projection, secrets};

enum Job {
    Submit {
        actor: Actor,
        new: Box<NewPetition>,
        bureau: UnitId,
        bureau_name: String,
        reply: oneshot::Sender<Result<Receipt, AppError>>,
    },
    Execute {
        actor: Actor,
        case_id: CaseId,
        command: Box<Command>,
        expected_version: Option<u64>,
        reply: oneshot::Sender<Result<CaseState, AppError>>,
    },
}

enum Outcome {
    Submit(Result<Receipt, AppError>),
    Execute(Box<Result<CaseState, AppError>>),
}

/// Counters for benchmarks and health.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct WriterStats {
    pub batches: u64,
    pub commands: u64,
    pub largest_batch: u64,
}

#[derive(Default)]
struct Stats {
    batches: AtomicU64,
    commands: AtomicU64,
    largest: AtomicU64,
}

#[derive(Clone)]
pub(crate) struct Handle {
    tx: mpsc::Sender<Job>,
    stats: Arc<Stats>,
}

fn writer_gone() -> AppError {
    AppError::Unavailable("写入服务正在停止，请稍后重试".into())
}

impl Handle {
    pub(crate) async fn submit(
        &self,
        actor: Actor,
        new: NewPetition,
        bureau: UnitId,
        bureau_name: String,
    ) -> Result<Receipt, AppError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Submit {
                actor,
                new: Box::new(new),
                bureau,
                bureau_name,
                reply,
            })
            .await
            .map_err(|_| writer_gone())?;
        rx.await.map_err(|_| writer_gone())?
    }

    pub(crate) async fn execute(
        &self,
        actor: Actor,
        case_id: CaseId,
        command: Command,
        expected_version: Option<u64>,
    ) -> Result<CaseState, AppError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Execute {
                actor,
                case_id,
                command: Box::new(command),
                expected_version,
                reply,
            })
            .await
            .map_err(|_| writer_gone())?;
        rx.await.map_err(|_| writer_gone())?
    }

    pub(crate) fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.stats.batches.load(Ordering::Relaxed),
            commands: self.stats.commands.load(Ordering::Relaxed),
            largest_batch: self.stats.largest.load(Ordering::Relaxed),
        }
    }
}

/// Group commit: waits for one item, then takes whatever else is already waiting, up to `max`
/// (what arrives while a batch commits goes into the next one). `None`: every sender is gone.
pub(crate) async fn recv_batch<T>(rx: &mut mpsc::Receiver<T>, max: usize) -> Option<Vec<T>> {
    let mut batch = vec![rx.recv().await?];
    while batch.len() < max {
        match rx.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    Some(batch)
}

pub(crate) fn spawn(store: Store, config: Config, signal: Arc<crate::jobs::JobSignal>) -> Handle {
    let (tx, mut rx) = mpsc::channel::<Job>(4096);
    let stats = Arc::new(Stats::default());
    let task_stats = stats.clone();
    tokio::spawn(async move {
        let max = config.max_batch.max(1);
        while let Some(jobs) = recv_batch(&mut rx, max).await {
            task_stats.batches.fetch_add(1, Ordering::Relaxed);
            task_stats
                .commands
                .fetch_add(jobs.len() as u64, Ordering::Relaxed);
            task_stats
                .largest
                .fetch_max(jobs.len() as u64, Ordering::Relaxed);
            if run_batch(&store, &config, jobs).await {
                signal.notify();
            }
        }
    });
    Handle { tx, stats }
}

/// Writes a batch and answers its callers; `true` if a commit enqueued queue jobs.
async fn run_batch(store: &Store, config: &Config, jobs: Vec<Job>) -> bool {
    match write_batch(store, config, &jobs).await {
        Ok((outcomes, enqueued)) => {
            answer(jobs, outcomes);
            enqueued
        }
        Err(err) if jobs.len() > 1 => {
            tracing::warn!(error = %err, size = jobs.len(), "batch failed; retrying its commands one by one");
            let mut any = false;
            for job in jobs {
                let single = vec![job];
                match write_batch(store, config, &single).await {
                    Ok((outcomes, enqueued)) => {
                        any |= enqueued;
                        answer(single, outcomes);
                    }
                    Err(err) => fail(single, err),
                }
            }
            any
        }
        Err(err) => {
            fail(jobs, err);
            false
        }
    }
}

fn answer(jobs: Vec<Job>, outcomes: Vec<Outcome>) {
    for (job, outcome) in jobs.into_iter().zip(outcomes) {
        // A caller that went away (timeout, disconnect) no longer needs the answer; the change
        // is committed either way and shows in its case.
        match (job, outcome) {
            (Job::Submit { reply, .. }, Outcome::Submit(r)) => {
                let _ = reply.send(r);
            }
            (Job::Execute { reply, .. }, Outcome::Execute(r)) => {
                let _ = reply.send(*r);
            }
            (Job::Submit { reply, .. }, _) => {
                let _ = reply.send(Err(AppError::Internal(anyhow::anyhow!(
                    "writer outcome mismatch"
                ))));
            }
            (Job::Execute { reply, .. }, _) => {
                let _ = reply.send(Err(AppError::Internal(anyhow::anyhow!(
                    "writer outcome mismatch"
                ))));
            }
        }
    }
}

fn fail(jobs: Vec<Job>, err: StoreError) {
    tracing::error!(error = %err, "write failed");
    let conflict = matches!(err, StoreError::Conflict(_));
    for job in jobs {
        let e = if conflict {
            AppError::Conflict("数据已被他人修改，请刷新后重试".into())
        } else {
            AppError::Internal(anyhow::anyhow!("write failed: {err}"))
        };
        match job {
            Job::Submit { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            Job::Execute { reply, .. } => {
                let _ = reply.send(Err(e));
            }
        }
    }
}

/// Runs every job in one transaction. Client errors (rejections, conflicts seen before
/// writing) are outcomes; a database error aborts the whole transaction. Also says whether
/// the transaction enqueued queue jobs (notifications).
async fn write_batch(
    store: &Store,
    config: &Config,
    jobs: &[Job],
) -> Result<(Vec<Outcome>, bool), StoreError> {
    let mut tx = store.begin_batch().await?;
    // The batch's reads in two statements, not one (or two) per command.
    let mut cases = Vec::new();
    let mut keys = Vec::new();
    for job in jobs {
        match job {
            Job::Submit { new, .. } => {
                keys.extend(
                    new.idempotency_key
                        .as_deref()
                        .map(secrets::idempotency_hash),
                );
            }
            Job::Execute {
                case_id, command, ..
            } => {
                cases.push(case_id);
                if let Command::MergeInto { into, .. } = command.as_ref() {
                    cases.push(into);
                }
            }
        }
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    tx.prefetch(&cases, &keys).await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        let outcome = match job {
            Job::Submit {
                actor,
                new,
                bureau,
                bureau_name,
                ..
            } => Outcome::Submit(submit(&mut tx, config, actor, new, bureau, bureau_name).await?),
            Job::Execute {
                actor,
                case_id,
                command,
                expected_version,
                ..
            } => Outcome::Execute(Box::new(
                execute(&mut tx, config, actor, case_id, command, *expected_version).await?,
            )),
        };
        outcomes.push(outcome);
    }
    let enqueued = tx.jobs_enqueued() > 0;
    tx.commit().await?;
    Ok((outcomes, enqueued))
}

/// The personal-data record stored apart from the log.
#[derive(serde::Serialize)]
struct PersonalRecord<'a> {
    petitioner: &'a Petitioner,
    #[serde(skip_serializing_if = "Option::is_none")]
    representatives: Option<&'a Vec<huiyin_domain::petition::Person>>,
}

async fn submit(
    tx: &mut WriteTx,
    config: &Config,
    actor: &Actor,
    new: &NewPetition,
    bureau: &UnitId,
    bureau_name: &str,
) -> Result<Result<Receipt, AppError>, StoreError> {
    let now = config.clock.now();
    let key_hash = new
        .idempotency_key
        .as_deref()
        .map(secrets::idempotency_hash);
    if let (Some(key), Some(key_hash)) = (new.idempotency_key.as_deref(), key_hash.as_deref())
        && let Some((case_id, sealed)) = tx.find_submission(key_hash).await?
    {
        let Some(state) = tx.load_case(&case_id).await? else {
            return Err(StoreError::Corrupt(format!(
                "submission {case_id} has no case"
            )));
        };
        let Some(secret) = secrets::unseal_secret(key, &sealed) else {
            return Err(StoreError::Corrupt("sealed secret unreadable".into()));
        };
        let rules = config.rules.current();
        let policy = rules.policy_for(&state);
        let proj = projection(&state, &policy, &rules.calendar);
        return Ok(Ok(Receipt {
            case_id: case_id.to_string(),
            receipt_code: state.receipt.display(),
            secret,
            bureau_id: state.bureau.to_string(),
            bureau_name: bureau_name.to_string(),
            received_at: state.received_at,
            register_due_at: proj
                .next_due_at_ms
                .and_then(|ms| huiyin_store::from_ms(ms).ok()),
            replayed: true,
        }));
    }
    let petition = &new.petition;
    let has_personal = matches!(petition.petitioner, Petitioner::Named(_))
        || petition
            .group
            .as_ref()
            .is_some_and(|g| !g.representatives.is_empty());
    let personal = if has_personal {
        let json = serde_json::to_string(&PersonalRecord {
            petitioner: &petition.petitioner,
            representatives: petition.group.as_ref().map(|g| &g.representatives),
        })
        .map_err(|e| StoreError::Corrupt(format!("personal data: {e}")))?;
        let digest = secrets::personal_digest(&json);
        Some((json, digest))
    } else {
        None
    };
    let record = petition.record(personal.as_ref().map(|(_, d)| d.clone()));
    let receipt = secrets::new_receipt();
    let secret = secrets::new_secret();
    let case_id = CaseId::new(uuid::Uuid::now_v7().to_string());
    let received_at = new.received_at.unwrap_or(now);
    let rules = config.rules.current();
    let policy = rules.resolve(petition.region.as_str(), petition.category.as_deref());
    let ctx = Ctx {
        now,
        actor,
        policy: &policy,
        calendar: &rules.calendar,
    };
    let command = Command::Submit {
        petition: Box::new(record),
        receipt: receipt.clone(),
        bureau: bureau.clone(),
        received_at,
    };
    let events = match decide(None, &case_id, command, &ctx) {
        Ok(events) => events,
        Err(rejection) => return Ok(Err(AppError::Rejected(rejection))),
    };
    let state = fold(None, &events)?;
    let proj = projection(&state, &policy, &rules.calendar);
    tx.insert_case(&state, &proj, &secrets::secret_hash(&receipt, &secret))
        .await?;
    if let Some((json, digest)) = &personal {
        // Sealed under the current key, bound to the case; the digest stays over the plaintext
        // so the `submitted` event still proves the record's integrity.
        let sealed = config
            .cipher
            .encrypt(json.as_bytes(), case_id.as_str().as_bytes())
            .map_err(|e| StoreError::Corrupt(format!("sealing personal data: {e}")))?;
        tx.put_personal_data(&case_id, &sealed, digest).await?;
    }
    if let (Some(key), Some(key_hash)) = (new.idempotency_key.as_deref(), key_hash.as_deref()) {
        tx.put_submission(
            key_hash,
            &case_id,
            &secrets::seal_secret(key, &secret),
            now.timestamp_millis(),
        )
        .await?;
    }
    // "My petitions" for a phone-verified petitioner: linked in the same transaction.
    if let Petitioner::Named(person) = &petition.petitioner
        && let Some(phone) = &person.phone
    {
        tx.link_petitioner_phone(
            &crate::auth::phone_hash(phone),
            &phone.masked(),
            case_id.as_str(),
            now.timestamp_millis(),
        )
        .await?;
    }
    tx.append(&events).await?;
    tracing::debug!(case_id = %case_id, bureau = %bureau, channel = petition.channel.as_str(), "petition submitted");
    Ok(Ok(Receipt {
        case_id: case_id.to_string(),
        receipt_code: receipt.display(),
        secret,
        bureau_id: bureau.to_string(),
        bureau_name: bureau_name.to_string(),
        received_at,
        register_due_at: proj
            .next_due_at_ms
            .and_then(|ms| huiyin_store::from_ms(ms).ok()),
        replayed: false,
    }))
}

fn fold(state: Option<CaseState>, events: &[Event]) -> Result<CaseState, StoreError> {
    let mut state = state;
    for e in events {
        state = Some(apply(state, e).map_err(|e| StoreError::Corrupt(e.to_string()))?);
    }
    state.ok_or_else(|| StoreError::Corrupt("no events to fold".into()))
}

async fn execute(
    tx: &mut WriteTx,
    config: &Config,
    actor: &Actor,
    case_id: &CaseId,
    command: &Command,
    expected_version: Option<u64>,
) -> Result<Result<CaseState, AppError>, StoreError> {
    let Some(state) = tx.load_case(case_id).await? else {
        return Ok(Err(AppError::NotFound("信访事项不存在".into())));
    };
    if let Some(expected) = expected_version
        && expected != state.version
    {
        return Ok(Err(AppError::Conflict(format!(
            "信访事项已被更新（当前版本 {}，您看到的是 {}），请刷新后重试",
            state.version, expected
        ))));
    }
    let rules = config.rules.current();
    let policy = rules.policy_for(&state);
    let ctx = Ctx {
        now: config.clock.now(),
        actor,
        policy: &policy,
        calendar: &rules.calendar,
    };
    // 并单 changes two cases: the source ends as merged, the target records what it absorbed.
    let target = if let Command::MergeInto { into, reason } = command {
        let Some(target) = tx.load_case(into).await? else {
            return Ok(Err(AppError::NotFound("要并入的信访事项不存在".into())));
        };
        let absorb = Command::Absorb {
            source: case_id.clone(),
            reason: *reason,
        };
        match decide(Some(&target), into, absorb, &ctx) {
            Ok(events) => Some((target, events)),
            Err(r) => return Ok(Err(AppError::Rejected(r))),
        }
    } else {
        None
    };
    let mut events = match decide(Some(&state), case_id, command.clone(), &ctx) {
        Ok(events) => events,
        Err(r) => return Ok(Err(AppError::Rejected(r))),
    };
    // an issued opinion carries its reply-quality check, hashed into the chain with it
    crate::text::attach_reply_quality(&state, &mut events);
    let before = state.version;
    let new_state = fold(Some(state), &events)?;
    let proj = projection(&new_state, &policy, &rules.calendar);
    tx.update_case(&new_state, &proj, before).await?;
    tx.append(&events).await?;
    // To the petitioner and to the staff who must act, in the same transaction as the events.
    let mut notices = crate::notify::notices_for(
        &config.notify,
        &new_state,
        &events,
        &policy,
        config.calendar,
    );
    notices.extend(crate::staff_notify::staff_notices_for(
        &config.notify,
        &new_state,
        &events,
    ));
    if !notices.is_empty() {
        tx.enqueue(notices).await?;
    }
    if let Some((target, target_events)) = target {
        let target_before = target.version;
        let target_policy = rules.policy_for(&target);
        let target_state = fold(Some(target), &target_events)?;
        let target_proj = projection(&target_state, &target_policy, &rules.calendar);
        tx.update_case(&target_state, &target_proj, target_before)
            .await?;
        tx.append(&target_events).await?;
    }
    tracing::debug!(case_id = %case_id, command = command.name(), version = new_state.version, "command applied");
    Ok(Ok(new_state))
}
