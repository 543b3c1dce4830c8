//! The write path: one transaction that locks the chain head, loads cases, appends their events
//! with the next links of the hash chain, writes the projections, and commits — all or nothing.

use huiyin_domain::calendar::Calendar;
use huiyin_domain::case::{CaseState, Event, ReportStatus, Satisfaction};
use huiyin_domain::clock;
use huiyin_domain::ids::CaseId;
use huiyin_domain::policy::ClockKind;
use huiyin_domain::policy::DeadlinePolicy;
use huiyin_domain::supervision::{self, LadderStep};
use std::collections::{BTreeSet, HashMap};

use sqlx::{Any, AnyConnection, Transaction};

use crate::chain::{canonical_event, chain_hash};
use crate::db::{Backend, Store};
use crate::{NO_DEADLINE_MS, Result, StoreError, to_ms};

/// The list columns derived from a case's deadlines (computed by the application, which holds
/// the policy and the calendar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    pub next_due_kind: Option<ClockKind>,
    pub next_due_at_ms: Option<i64>,
    pub yellow_at_ms: Option<i64>,
    /// The next escalation-ladder step and when it is due (see
    /// [`huiyin_domain::supervision::next_step`]); `None` when nothing more happens on its own.
    pub watch: Option<(LadderStep, i64)>,
}

impl Projection {
    /// The list columns of a case under its policy: its most urgent running deadline, and
    /// the next step of its escalation ladder.
    pub fn of(state: &CaseState, policy: &DeadlinePolicy, calendar: &Calendar) -> Projection {
        let urgent = clock::deadlines(&state.timers, policy, calendar)
            .into_iter()
            .filter(|d| d.stopped_at.is_none())
            .min_by_key(|d| d.due_at);
        Projection {
            next_due_kind: urgent.as_ref().map(|d| d.kind),
            next_due_at_ms: urgent.as_ref().map(|d| d.due_at.timestamp_millis()),
            yellow_at_ms: urgent.as_ref().map(|d| d.yellow_at.timestamp_millis()),
            watch: supervision::next_step(state, policy, calendar)
                .map(|(step, at)| (step, at.timestamp_millis())),
        }
    }
}

/// An open write transaction holding the chain head.
///
/// Writes are collected and sent as a few multi-row statements: right away (after each call)
/// for a transaction from [`Store::begin_write`], or once, at [`WriteTx::commit`], for one from
/// [`Store::begin_batch`] — the writer's group commit, where a whole batch then costs a
/// handful of statements instead of a dozen per command. Either way everything lands in the
/// one transaction, and reads through the transaction ([`WriteTx::load_case`],
/// [`WriteTx::find_submission`]) see the writes made before them.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    backend: Backend,
    head_seq: i64,
    head_hash: String,
    appended: u64,
    jobs_enqueued: usize,
    deferred: bool,
    pending: Pending,
    /// Rows read ahead by [`WriteTx::prefetch`] (`None`: known not to exist), dropped when
    /// this transaction writes them.
    read_cases: HashMap<String, Option<CaseState>>,
    read_keys: HashMap<String, Option<(CaseId, String)>>,
}

/// Writes not yet sent to the database.
#[derive(Default)]
struct Pending {
    /// Cases written in this transaction, in first-write order, each with its latest state.
    cases: Vec<PendingCase>,
    by_id: HashMap<String, usize>,
    events: Vec<EventRow>,
    personal: Vec<(String, String, String)>,
    submissions: Vec<(String, String, String, i64)>,
    /// Idempotency key hash → case and sealed secret, for reads before the flush.
    by_key: HashMap<String, (CaseId, String)>,
    /// phone hash, masked phone, case id, time.
    links: Vec<(String, String, String, i64)>,
    /// Jobs (notifications) the changes of this transaction cause.
    jobs: Vec<crate::jobs::NewJob>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.cases.is_empty()
            && self.events.is_empty()
            && self.personal.is_empty()
            && self.submissions.is_empty()
            && self.links.is_empty()
            && self.jobs.is_empty()
    }
}

struct PendingCase {
    state: CaseState,
    projection: Projection,
    /// `Some` (its secret hash) for a case inserted by this transaction.
    secret_hash: Option<String>,
    /// For a case that was stored before: the version it has in the database.
    stored_version: u64,
    /// Every unit the case had in any state written here (units are only ever added).
    units: BTreeSet<String>,
}

struct EventRow {
    seq: i64,
    case_id: String,
    version: i64,
    kind: &'static str,
    at_ms: i64,
    actor: String,
    actor_unit: Option<String>,
    payload: String,
    prev_hash: String,
    hash: String,
}

/// `(…), (…)`: `rows` tuples of `cols` parameters. PostgreSQL numbers them (`$1`, `$2`, …);
/// SQLite gets anonymous `?` — it looks a named parameter up by a linear scan, which makes a
/// statement with a thousand `$n` quadratic to prepare and to bind.
pub(crate) fn values_list(backend: Backend, rows: usize, cols: usize) -> String {
    let mut list = String::with_capacity(rows * cols * 6);
    for r in 0..rows {
        if r > 0 {
            list.push_str(", ");
        }
        list.push('(');
        for c in 0..cols {
            if c > 0 {
                list.push_str(", ");
            }
            match backend {
                Backend::Sqlite => list.push('?'),
                Backend::Postgres => {
                    list.push('$');
                    list.push_str(&(r * cols + c + 1).to_string());
                }
            }
        }
        list.push(')');
    }
    list
}

/// A value of a multi-row statement.
pub(crate) enum Val {
    I(i64),
    S(String),
    N(Option<String>),
}

/// Rows of `cols` values sent as `VALUES (…), (…)` in chunks that stay well under both
/// databases' limits on bound parameters. `sql` receives the `VALUES` list. Returns the rows
/// affected.
pub(crate) async fn exec_rows(
    conn: &mut AnyConnection,
    backend: Backend,
    cols: usize,
    values: Vec<Val>,
    sql: impl Fn(&str) -> String,
    what: &str,
) -> Result<u64> {
    let per_chunk = (20_000 / cols).clamp(1, 500);
    let mut affected = 0;
    let mut values = values.into_iter().peekable();
    while values.peek().is_some() {
        let chunk: Vec<Val> = values.by_ref().take(per_chunk * cols).collect();
        let rows = chunk.len() / cols;
        let list = values_list(backend, rows, cols);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql(&list))).persistent(rows == 1);
        for v in chunk {
            query = match v {
                Val::I(i) => query.bind(i),
                Val::S(s) => query.bind(s),
                Val::N(s) => query.bind(s),
            };
        }
        affected += query
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::from_db(e, what))?
            .rows_affected();
    }
    Ok(affected)
}

fn clock_name(kind: ClockKind) -> Result<String> {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(other) => Ok(other.to_string()),
        Err(e) => Err(StoreError::Corrupt(format!("clock kind: {e}"))),
    }
}

fn case_units_of(state: &CaseState) -> impl Iterator<Item = String> {
    state
        .units()
        .into_iter()
        .chain([state.current_unit()])
        .map(|u| u.as_str().to_string())
}

impl Store {
    /// Starts a write transaction whose writes go to the database as they are made. Taking
    /// the chain head first serialises writers across processes (a row lock on PostgreSQL,
    /// the write lock on SQLite) so the sequence order is the commit order and readers that
    /// follow the log by sequence never miss an event.
    pub async fn begin_write(&self) -> Result<WriteTx> {
        self.begin_tx(false).await
    }

    /// Starts a write transaction that keeps its writes until [`WriteTx::commit`] and sends
    /// them there as a few multi-row statements (the writer's group commit). A conflict or a
    /// constraint violation is then reported by `commit`, for the transaction as a whole.
    pub async fn begin_batch(&self) -> Result<WriteTx> {
        self.begin_tx(true).await
    }

    async fn begin_tx(&self, deferred: bool) -> Result<WriteTx> {
        let mut tx = self.pool.begin().await?;
        let (head_seq, head_hash): (i64, String) =
            sqlx::query_as("UPDATE chain_head SET id = id WHERE id = 1 RETURNING seq, hash")
                .fetch_one(&mut *tx)
                .await?;
        Ok(WriteTx {
            tx,
            backend: self.backend,
            head_seq,
            head_hash,
            appended: 0,
            jobs_enqueued: 0,
            deferred,
            pending: Pending::default(),
            read_cases: HashMap::new(),
            read_keys: HashMap::new(),
        })
    }
}

impl WriteTx {
    /// The case's current state and version, read inside the transaction.
    pub async fn load_case(&mut self, id: &CaseId) -> Result<Option<CaseState>> {
        if let Some(&i) = self.pending.by_id.get(id.as_str()) {
            return Ok(Some(self.pending.cases[i].state.clone()));
        }
        if let Some(read) = self.read_cases.get(id.as_str()) {
            return Ok(read.clone());
        }
        let row: Option<(String,)> = sqlx::query_as("SELECT state FROM cases WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(|(json,)| crate::read::case_state(&id, &json))
            .transpose()
    }

    /// Reads these cases and idempotency keys (hashed) ahead, one statement for each kind, so
    /// that [`WriteTx::load_case`] and [`WriteTx::find_submission`] answer them without a round
    /// trip. The rows are read under the chain head, like those loads: no other writer can
    /// change them before this transaction ends.
    pub async fn prefetch(&mut self, cases: &[&CaseId], key_hashes: &[&str]) -> Result<()> {
        let cases: BTreeSet<&str> = cases
            .iter()
            .map(|c| c.as_str())
            .filter(|c| !self.read_cases.contains_key(*c) && !self.pending.by_id.contains_key(*c))
            .collect();
        let keys: BTreeSet<&str> = key_hashes
            .iter()
            .copied()
            .filter(|k| !self.read_keys.contains_key(*k) && !self.pending.by_key.contains_key(*k))
            .collect();
        let cases: Vec<&str> = cases.into_iter().collect();
        let keys: Vec<&str> = keys.into_iter().collect();
        for chunk in cases.chunks(500) {
            let sql = format!(
                "SELECT id, state FROM cases WHERE id IN {}",
                values_list(self.backend, 1, chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql))
                .persistent(chunk.len() == 1);
            for id in chunk {
                query = query.bind(*id);
            }
            for (id, json) in query.fetch_all(&mut *self.tx).await? {
                let state = crate::read::case_state(&id, &json)?;
                self.read_cases.insert(id, Some(state));
            }
            for id in chunk {
                self.read_cases.entry((*id).to_string()).or_insert(None);
            }
        }
        for chunk in keys.chunks(500) {
            let sql = format!(
                "SELECT idempotency_key, case_id, sealed_secret FROM submissions
                 WHERE idempotency_key IN {}",
                values_list(self.backend, 1, chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, String, String)>(sqlx::AssertSqlSafe(sql))
                .persistent(chunk.len() == 1);
            for key in chunk {
                query = query.bind(*key);
            }
            for (key, case, sealed) in query.fetch_all(&mut *self.tx).await? {
                self.read_keys
                    .insert(key, Some((CaseId::new(case), sealed)));
            }
            for key in chunk {
                self.read_keys.entry((*key).to_string()).or_insert(None);
            }
        }
        Ok(())
    }

    /// Appends events (already numbered by the domain) and links them into the chain.
    /// Returns their global sequence numbers.
    pub async fn append(&mut self, events: &[Event]) -> Result<Vec<i64>> {
        let mut seqs = Vec::with_capacity(events.len());
        for event in events {
            let seq = self.head_seq + 1;
            let canonical = canonical_event(seq, event)?;
            let hash = chain_hash(&self.head_hash, &canonical)?;
            let payload = serde_json::to_string(&event.kind)
                .map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?;
            let prev_hash = std::mem::replace(&mut self.head_hash, hash.clone());
            self.pending.events.push(EventRow {
                seq,
                case_id: event.case_id.as_str().to_string(),
                version: event.version as i64,
                kind: event.kind.name(),
                at_ms: to_ms(event.at),
                actor: event.actor.as_str().to_string(),
                actor_unit: event.actor_unit.as_ref().map(|u| u.as_str().to_string()),
                payload,
                prev_hash,
                hash,
            });
            self.head_seq = seq;
            self.appended += 1;
            seqs.push(seq);
        }
        self.flush_now().await?;
        Ok(seqs)
    }

    /// Inserts the projection of a new case.
    pub async fn insert_case(
        &mut self,
        state: &CaseState,
        projection: &Projection,
        secret_hash: &str,
    ) -> Result<()> {
        if self.pending.by_id.contains_key(state.id.as_str()) {
            return Err(StoreError::Conflict(
                "case or receipt code exists already".into(),
            ));
        }
        self.read_cases.remove(state.id.as_str());
        self.pending
            .by_id
            .insert(state.id.as_str().to_string(), self.pending.cases.len());
        self.pending.cases.push(PendingCase {
            state: state.clone(),
            projection: projection.clone(),
            secret_hash: Some(secret_hash.to_string()),
            stored_version: 0,
            units: case_units_of(state).collect(),
        });
        self.flush_now().await
    }

    /// Updates the projection of an existing case, which must still be at `expected_version`.
    pub async fn update_case(
        &mut self,
        state: &CaseState,
        projection: &Projection,
        expected_version: u64,
    ) -> Result<()> {
        let conflict = || StoreError::Conflict(format!("case {} changed concurrently", state.id));
        self.read_cases.remove(state.id.as_str());
        match self.pending.by_id.get(state.id.as_str()) {
            Some(&i) => {
                let case = &mut self.pending.cases[i];
                if case.state.version != expected_version {
                    return Err(conflict());
                }
                case.units.extend(case_units_of(state));
                case.state = state.clone();
                case.projection = projection.clone();
            }
            None => {
                self.pending
                    .by_id
                    .insert(state.id.as_str().to_string(), self.pending.cases.len());
                self.pending.cases.push(PendingCase {
                    state: state.clone(),
                    projection: projection.clone(),
                    secret_hash: None,
                    stored_version: expected_version,
                    units: case_units_of(state).collect(),
                });
            }
        }
        self.flush_now().await
    }

    /// Stores the petitioner's personal data apart from the log.
    pub async fn put_personal_data(
        &mut self,
        case: &CaseId,
        data: &str,
        digest: &str,
    ) -> Result<()> {
        self.pending.personal.push((
            case.as_str().to_string(),
            data.to_string(),
            digest.to_string(),
        ));
        self.flush_now().await
    }

    /// The case created earlier with this idempotency key (hashed), and the sealed secret.
    pub async fn find_submission(&mut self, key_hash: &str) -> Result<Option<(CaseId, String)>> {
        if let Some(found) = self.pending.by_key.get(key_hash) {
            return Ok(Some(found.clone()));
        }
        if let Some(read) = self.read_keys.get(key_hash) {
            return Ok(read.clone());
        }
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT case_id, sealed_secret FROM submissions WHERE idempotency_key = $1",
        )
        .bind(key_hash)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.map(|(id, sealed)| (CaseId::new(id), sealed)))
    }

    pub async fn put_submission(
        &mut self,
        key_hash: &str,
        case: &CaseId,
        sealed_secret: &str,
        at_ms: i64,
    ) -> Result<()> {
        if self.pending.by_key.contains_key(key_hash) {
            return Err(StoreError::Conflict("idempotency key used already".into()));
        }
        self.read_keys.remove(key_hash);
        self.pending.by_key.insert(
            key_hash.to_string(),
            (case.clone(), sealed_secret.to_string()),
        );
        self.pending.submissions.push((
            key_hash.to_string(),
            case.as_str().to_string(),
            sealed_secret.to_string(),
            at_ms,
        ));
        self.flush_now().await
    }

    /// Links a new petition to the account of the petitioner's phone (creating the account),
    /// in the submission's transaction, so "my petitions" never misses or invents one.
    pub async fn link_petitioner_phone(
        &mut self,
        phone_hash: &str,
        phone_masked: &str,
        case_id: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.pending.links.push((
            phone_hash.to_string(),
            phone_masked.to_string(),
            case_id.to_string(),
            now_ms,
        ));
        self.flush_now().await
    }

    /// Enqueues jobs in this transaction: they exist exactly when the change that causes
    /// them commits (a known idempotency key is skipped).
    pub async fn enqueue(&mut self, jobs: Vec<crate::jobs::NewJob>) -> Result<()> {
        self.jobs_enqueued += jobs.len();
        self.pending.jobs.extend(jobs);
        self.flush_now().await
    }

    /// How many jobs this transaction enqueued (before de-duplication).
    pub fn jobs_enqueued(&self) -> usize {
        self.jobs_enqueued
    }

    /// Sends the collected writes now (a transaction from [`Store::begin_write`] does this
    /// after every call; one from [`Store::begin_batch`] at commit, or when asked).
    pub async fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        write_pending(&mut self.tx, self.backend, pending).await
    }

    async fn flush_now(&mut self) -> Result<()> {
        if self.deferred {
            Ok(())
        } else {
            self.flush().await
        }
    }

    /// Writes what is pending, moves the chain head and commits.
    pub async fn commit(mut self) -> Result<()> {
        self.flush().await?;
        if self.appended > 0 {
            sqlx::query("UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(self.head_seq)
                .bind(self.head_hash.as_str())
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
        Ok(())
    }

    /// Direct access for statements that belong to the same transaction (e.g. tokens, units).
    /// Writes collected by a batch transaction are not sent yet: call [`WriteTx::flush`] first
    /// if a statement needs to see them.
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

/// The collected writes as one multi-row statement per table (and per kind of change).
async fn write_pending(conn: &mut AnyConnection, backend: Backend, p: Pending) -> Result<()> {
    let mut inserted = Vec::new();
    let mut updated = Vec::new();
    let mut units = Vec::new();
    for case in &p.cases {
        let c = Columns::of(&case.state, &case.projection)?;
        let s = &case.state;
        for unit in &case.units {
            units.extend([
                Val::S(s.id.as_str().to_string()),
                Val::S(unit.clone()),
                Val::I(i64::from(s.awaits_action())),
                Val::I(c.due),
            ]);
        }
        match &case.secret_hash {
            Some(secret_hash) => {
                let region = s.petition.region.as_str();
                let level = |n: usize| (region.len() >= n).then(|| region[..n].to_string());
                inserted.extend([
                    Val::S(s.id.as_str().to_string()),
                    Val::S(s.petition.region.province().to_string()),
                    Val::S(s.receipt.as_str().to_string()),
                    Val::S(secret_hash.clone()),
                    Val::I(s.version as i64),
                    Val::S(s.stage.as_str().to_string()),
                    Val::I(i64::from(s.awaits_action())),
                    Val::S(s.bureau.as_str().to_string()),
                    Val::S(s.current_unit().as_str().to_string()),
                    Val::N(c.handling),
                    Val::S(region.to_string()),
                    Val::N(level(4)),
                    Val::N(level(6)),
                    Val::S(s.petition.channel.as_str().to_string()),
                    Val::N(c.class),
                    Val::N(s.category.clone()),
                    Val::S(s.petition.title.as_str().to_string()),
                    Val::N(c.masked),
                    Val::I(to_ms(s.received_at)),
                    Val::I(to_ms(s.updated_at)),
                    Val::N(c.due_kind),
                    Val::I(c.due),
                    Val::I(c.yellow),
                    Val::N(c.watch_step),
                    Val::I(c.watch_at),
                    Val::I(c.flags.named),
                    Val::I(c.flags.open_orders),
                    Val::I(c.flags.sent_back),
                    Val::I(c.flags.unsatisfied),
                    Val::I(c.flags.follow_up_due),
                    Val::S(c.json),
                ]);
            }
            None => {
                updated.extend([
                    Val::S(s.id.as_str().to_string()),
                    Val::I(case.stored_version as i64),
                    Val::I(s.version as i64),
                    Val::S(s.stage.as_str().to_string()),
                    Val::I(i64::from(s.awaits_action())),
                    Val::S(s.current_unit().as_str().to_string()),
                    Val::N(c.handling),
                    Val::N(c.class),
                    Val::N(s.category.clone()),
                    Val::I(to_ms(s.updated_at)),
                    Val::N(c.due_kind),
                    Val::I(c.due),
                    Val::I(c.yellow),
                    Val::N(c.watch_step),
                    Val::I(c.watch_at),
                    Val::I(c.flags.named),
                    Val::I(c.flags.open_orders),
                    Val::I(c.flags.sent_back),
                    Val::I(c.flags.unsatisfied),
                    Val::I(c.flags.follow_up_due),
                    Val::S(c.json),
                ]);
            }
        }
    }
    let updated_cases = updated.len() / 21;
    if !inserted.is_empty() {
        exec_rows(
            conn,
            backend,
            31,
            inserted,
            |values| {
                format!(
                    "INSERT INTO cases (id, province, receipt, secret_hash, version, stage, is_open,
                        bureau_id, current_unit_id, handling_unit_id, region, region_city,
                        region_county, channel, class, category, title, petitioner_masked,
                        received_at, updated_at, next_due_kind, next_due_at, yellow_at,
                        watch_step, watch_at, named_supervision, open_orders, sent_back,
                        unsatisfied, follow_up_due, state)
                     VALUES {values}"
                )
            },
            "case or receipt code exists already",
        )
        .await?;
    }
    if updated_cases > 0 {
        // The version guard: every case must still be at the version it was read at.
        let done = exec_rows(
            conn,
            backend,
            21,
            updated,
            |values| {
                format!(
                    "WITH v (id, expected, version, stage, is_open, current_unit_id,
                        handling_unit_id, class, category, updated_at, next_due_kind,
                        next_due_at, yellow_at, watch_step, watch_at, named_supervision,
                        open_orders, sent_back, unsatisfied, follow_up_due, state)
                        AS (VALUES {values})
                     UPDATE cases SET version = v.version, stage = v.stage, is_open = v.is_open,
                        current_unit_id = v.current_unit_id, handling_unit_id = v.handling_unit_id,
                        class = v.class, category = v.category, updated_at = v.updated_at,
                        next_due_kind = v.next_due_kind, next_due_at = v.next_due_at,
                        yellow_at = v.yellow_at, watch_step = v.watch_step,
                        watch_at = v.watch_at, named_supervision = v.named_supervision,
                        open_orders = v.open_orders, sent_back = v.sent_back,
                        unsatisfied = v.unsatisfied, follow_up_due = v.follow_up_due,
                        state = v.state
                     FROM v WHERE cases.id = v.id AND cases.version = v.expected"
                )
            },
            "case changed concurrently",
        )
        .await?;
        if done != updated_cases as u64 {
            let ids: Vec<&str> = p
                .cases
                .iter()
                .filter(|c| c.secret_hash.is_none())
                .map(|c| c.state.id.as_str())
                .collect();
            return Err(StoreError::Conflict(format!(
                "case {} changed concurrently",
                ids.join(" or ")
            )));
        }
        // The copies in `case_units` follow every change of the case.
        let follow: Vec<Val> = p
            .cases
            .iter()
            .filter(|c| c.secret_hash.is_none())
            .flat_map(|c| {
                [
                    Val::S(c.state.id.as_str().to_string()),
                    Val::I(i64::from(c.state.awaits_action())),
                    Val::I(c.projection.next_due_at_ms.unwrap_or(NO_DEADLINE_MS)),
                ]
            })
            .collect();
        exec_rows(
            conn,
            backend,
            3,
            follow,
            |values| {
                format!(
                    "WITH v (case_id, is_open, next_due_at) AS (VALUES {values})
                     UPDATE case_units SET is_open = v.is_open, next_due_at = v.next_due_at
                     FROM v WHERE case_units.case_id = v.case_id"
                )
            },
            "case units",
        )
        .await?;
    }
    if !units.is_empty() {
        exec_rows(
            conn,
            backend,
            4,
            units,
            |values| {
                format!(
                    "INSERT INTO case_units (case_id, unit_id, is_open, next_due_at) VALUES {values}
                     ON CONFLICT (case_id, unit_id) DO NOTHING"
                )
            },
            "case units",
        )
        .await?;
    }
    // The leader's view follows 阅批 and 包案 (see `crate::leader`).
    let led: BTreeSet<&str> = p
        .events
        .iter()
        .filter(|e| crate::leader::is_leadership_event(e.kind))
        .map(|e| e.case_id.as_str())
        .collect();
    if !led.is_empty() {
        let states: Vec<&CaseState> = p
            .cases
            .iter()
            .filter(|c| led.contains(c.state.id.as_str()))
            .map(|c| &c.state)
            .collect();
        crate::leader::write_leadership(conn, backend, &states).await?;
    }
    if !p.personal.is_empty() {
        let values = p
            .personal
            .into_iter()
            .flat_map(|(case, data, digest)| [Val::S(case), Val::S(data), Val::S(digest)])
            .collect();
        exec_rows(
            conn,
            backend,
            3,
            values,
            |values| format!("INSERT INTO personal_data (case_id, data, digest) VALUES {values}"),
            "personal data exists already",
        )
        .await?;
    }
    if !p.submissions.is_empty() {
        let values = p
            .submissions
            .into_iter()
            .flat_map(|(key, case, sealed, at)| {
                [Val::S(key), Val::S(case), Val::S(sealed), Val::I(at)]
            })
            .collect();
        exec_rows(
            conn,
            backend,
            4,
            values,
            |values| {
                format!(
                    "INSERT INTO submissions (idempotency_key, case_id, sealed_secret, created_at)
                     VALUES {values}"
                )
            },
            "idempotency key used already",
        )
        .await?;
    }
    if !p.links.is_empty() {
        // Accounts first (one per phone; an existing one stays), then the links by phone.
        let mut seen = BTreeSet::new();
        let mut accounts = Vec::new();
        let mut links = Vec::new();
        for (phone_hash, masked, case, at) in p.links {
            if seen.insert(phone_hash.clone()) {
                accounts.extend([
                    Val::S(uuid::Uuid::now_v7().to_string()),
                    Val::S(phone_hash.clone()),
                    Val::S(masked),
                    Val::I(at),
                ]);
            }
            links.extend([Val::S(phone_hash), Val::S(case)]);
        }
        exec_rows(
            conn,
            backend,
            4,
            accounts,
            |values| {
                format!(
                    "INSERT INTO petitioner_accounts (id, phone_hash, phone_masked, created_at)
                     VALUES {values} ON CONFLICT (phone_hash) DO NOTHING"
                )
            },
            "petitioner account",
        )
        .await?;
        exec_rows(
            conn,
            backend,
            2,
            links,
            |values| {
                format!(
                    "WITH v (phone_hash, case_id) AS (VALUES {values})
                     INSERT INTO petitioner_cases (account_id, case_id)
                     SELECT a.id, v.case_id FROM v, petitioner_accounts a
                     WHERE a.phone_hash = v.phone_hash
                     ON CONFLICT (account_id, case_id) DO NOTHING"
                )
            },
            "petitioner link",
        )
        .await?;
    }
    if !p.jobs.is_empty() {
        crate::jobs::insert_jobs(conn, backend, &p.jobs).await?;
    }
    if !p.events.is_empty() {
        let records = p
            .events
            .iter()
            .map(|e| {
                let record = crate::event_log::wire_record(
                    e.seq,
                    e.version,
                    e.at_ms,
                    &e.actor,
                    e.actor_unit.as_deref(),
                    &e.hash,
                    &e.payload,
                );
                (e.case_id.clone(), e.version, record)
            })
            .collect();
        let values = p
            .events
            .into_iter()
            .flat_map(|e| {
                [
                    Val::I(e.seq),
                    Val::S(e.case_id),
                    Val::I(e.version),
                    Val::S(e.kind.to_string()),
                    Val::I(e.at_ms),
                    Val::S(e.actor),
                    Val::N(e.actor_unit),
                    Val::S(e.payload),
                    Val::S(e.prev_hash),
                    Val::S(e.hash),
                ]
            })
            .collect();
        exec_rows(
            conn,
            backend,
            10,
            values,
            |values| {
                format!(
                    "INSERT INTO events (seq, case_id, version, kind, at_ms, actor, actor_unit,
                        payload, prev_hash, hash)
                     VALUES {values}"
                )
            },
            "a version of the case exists already (a stale writer)",
        )
        .await?;
        crate::event_log::append(conn, backend, records).await?;
    }
    Ok(())
}

/// The derived columns of a case row.
struct Columns {
    json: String,
    due_kind: Option<String>,
    due: i64,
    yellow: i64,
    watch_step: Option<String>,
    watch_at: i64,
    flags: SupervisionFlags,
    masked: Option<String>,
    class: Option<String>,
    handling: Option<String>,
}

/// The columns the supervisors' lists select on (migration 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SupervisionFlags {
    pub named: i64,
    pub open_orders: i64,
    pub sent_back: i64,
    pub unsatisfied: i64,
    /// The earliest due date (ms) of an open 回访; 0 when none (migration 16).
    pub follow_up_due: i64,
}

impl SupervisionFlags {
    pub(crate) fn of(state: &CaseState) -> Self {
        let unsatisfied = state.rating.is_some_and(|(bureau, unit)| {
            bureau == Satisfaction::Unsatisfied || unit == Satisfaction::Unsatisfied
        });
        SupervisionFlags {
            named: i64::from(state.named_supervision_since.is_some()),
            open_orders: state.supervision.iter().filter(|o| o.is_open()).count() as i64,
            sent_back: i64::from(state.report == ReportStatus::SentBack),
            unsatisfied: i64::from(unsatisfied),
            follow_up_due: state
                .follow_ups
                .iter()
                .filter(|f| f.is_open())
                .map(|f| to_ms(f.due_at))
                .min()
                .unwrap_or(0),
        }
    }
}

impl Columns {
    fn of(state: &CaseState, projection: &Projection) -> Result<Columns> {
        Ok(Columns {
            json: serde_json::to_string(state)
                .map_err(|e| StoreError::Corrupt(format!("case state: {e}")))?,
            due_kind: projection.next_due_kind.map(clock_name).transpose()?,
            due: projection.next_due_at_ms.unwrap_or(NO_DEADLINE_MS),
            yellow: projection.yellow_at_ms.unwrap_or(NO_DEADLINE_MS),
            watch_step: projection.watch.map(|(step, _)| step.as_str().to_string()),
            watch_at: projection.watch.map_or(NO_DEADLINE_MS, |(_, at)| at),
            flags: SupervisionFlags::of(state),
            masked: state
                .petition
                .petitioner_masked
                .as_ref()
                .map(|m| m.name.clone()),
            class: state.class.map(|c| c.code().to_string()),
            handling: state.handling_unit().map(|u| u.as_str().to_string()),
        })
    }
}
