//! The leader's view (领导): cases awaiting a leader's instruction (待阅批), cases instructed,
//! and the cases a leader has taken personal charge of (包案). Each list is one query that
//! takes the caller's [`Scope`], on two small tables the write transaction keeps in step with
//! the events (`case_instructed`, `case_charges`, migration 11).

use huiyin_domain::access::{Scope, region_range};
use huiyin_domain::case::CaseState;
use sqlx::AnyConnection;

use crate::db::{Backend, Store};
use crate::read::{Bind, SUMMARY_COLUMNS, summaries};
use crate::write::{Val, exec_rows, values_list};
use crate::{CaseSummary, Result, StoreError, to_ms};

/// Which list of the leader's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaderList {
    /// Open cases in scope that no leader has instructed yet (待阅批).
    AwaitingInstruction,
    /// Open cases in scope with at least one instruction.
    Instructed,
    /// 挂牌督办: cases under named supervision (open or not, until 摘牌).
    NamedSupervision,
    /// Cases with a 督办单 awaiting its written answer.
    OpenOrders,
    /// Open cases past their most urgent deadline at this instant (ms).
    Overdue { now_ms: i64 },
    /// Open cases with no event since this instant (ms): stalled.
    Stalled { before_ms: i64 },
    /// Open cases whose completion report was sent back (退回).
    SentBack,
    /// Cases the petitioner rated 不满意 (the bureau or the unit).
    Unsatisfied,
    /// Cases with a 回访 still to be made.
    FollowUps,
}

/// The events that change the leader's view's tables.
pub fn is_leadership_event(kind: &str) -> bool {
    matches!(
        kind,
        "instructed" | "charge_taken" | "charge_released" | "charge_handed_over"
    )
}

/// Rewrites the leadership rows of `states` (cases whose events in this transaction include
/// an instruction or a change of charge).
pub(crate) async fn write_leadership(
    conn: &mut AnyConnection,
    backend: Backend,
    states: &[&CaseState],
) -> Result<()> {
    if states.is_empty() {
        return Ok(());
    }
    let list = values_list(backend, states.len(), 1);
    let mut delete = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM case_charges WHERE case_id IN ({list})"
    )));
    for s in states {
        delete = delete.bind(s.id.as_str().to_string());
    }
    delete.execute(&mut *conn).await?;
    let charges: Vec<Val> = states
        .iter()
        .flat_map(|s| {
            s.in_charge.iter().flat_map(|l| {
                [
                    Val::S(s.id.as_str().to_string()),
                    Val::S(l.leader.as_str().to_string()),
                    Val::N(l.unit.as_ref().map(|u| u.as_str().to_string())),
                    Val::I(to_ms(l.since)),
                ]
            })
        })
        .collect();
    if !charges.is_empty() {
        exec_rows(
            conn,
            backend,
            4,
            charges,
            |values| {
                format!(
                    "INSERT INTO case_charges (case_id, leader_id, unit_id, since_ms)
                     VALUES {values}"
                )
            },
            "case charges",
        )
        .await?;
    }
    let instructed: Vec<Val> = states
        .iter()
        .filter(|s| s.instructions > 0)
        .flat_map(|s| {
            [
                Val::S(s.id.as_str().to_string()),
                Val::I(i64::from(s.instructions)),
            ]
        })
        .collect();
    if !instructed.is_empty() {
        exec_rows(
            conn,
            backend,
            2,
            instructed,
            |values| {
                format!(
                    "INSERT INTO case_instructed (case_id, instructions) VALUES {values}
                     ON CONFLICT (case_id) DO UPDATE SET instructions = excluded.instructions"
                )
            },
            "case instructions",
        )
        .await?;
    }
    Ok(())
}

/// The `WHERE` part that keeps a query on `cases c` inside `scope`; pushes its values.
pub(crate) fn scope_clause(scope: &Scope, binds: &mut Vec<String>) -> String {
    match scope {
        Scope::All => "1 = 1".into(),
        Scope::Nothing => "1 = 0".into(),
        Scope::Limited { units, regions } => {
            let mut mark = |v: String| {
                binds.push(v);
                format!("${}", binds.len())
            };
            let mut parts = Vec::new();
            if !units.is_empty() {
                let marks: Vec<String> =
                    units.iter().map(|u| mark(u.as_str().to_string())).collect();
                parts.push(format!(
                    "c.id IN (SELECT case_id FROM case_units WHERE unit_id IN ({}))",
                    marks.join(", ")
                ));
            }
            for region in regions {
                let (low, high) = region_range(region.as_str());
                let mut part = format!("(c.region >= {}", mark(low));
                if let Some(high) = high {
                    part += &format!(" AND c.region < {}", mark(high));
                }
                parts.push(part + ")");
            }
            if parts.is_empty() {
                "1 = 0".into()
            } else {
                format!("({})", parts.join(" OR "))
            }
        }
    }
}

pub(crate) fn columns_of(prefix: &str) -> String {
    SUMMARY_COLUMNS
        .split(',')
        .map(|c| format!("{prefix}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a page of a leader's list starts: after the row with this sort key (keyset paging, so
/// a page costs the same however deep it is).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaderCursor {
    /// 0 for an open case, 1 for a closed one (only the 包案 list has closed cases).
    pub closed: i64,
    /// The row's `next_due_at` ([`crate::NO_DEADLINE_MS`] without a deadline).
    pub due_ms: i64,
    pub id: String,
}

impl LeaderCursor {
    /// The cursor after `row` in the list's order.
    pub fn after(row: &CaseSummary) -> Self {
        LeaderCursor {
            closed: i64::from(!row.is_open),
            due_ms: row.next_due_at_ms.unwrap_or(crate::NO_DEADLINE_MS),
            id: row.id.clone(),
        }
    }
}

pub(crate) fn mark(binds: &mut Vec<Bind>, v: Bind) -> String {
    binds.push(v);
    format!("${}", binds.len())
}

impl Store {
    async fn leader_count_of(&self, sql: String, binds: Vec<Bind>) -> Result<i64> {
        let mut q = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t),
                Bind::Int(i) => q.bind(i),
            };
        }
        Ok(q.fetch_one(&self.pool).await?.0)
    }

    fn list_where(list: LeaderList, scope: &Scope, binds: &mut Vec<String>) -> String {
        let within = scope_clause(scope, binds);
        // The literal tests match the partial indexes of migration 15.
        let test = match list {
            LeaderList::AwaitingInstruction => {
                "c.is_open = 1 AND NOT EXISTS (SELECT 1 FROM case_instructed i WHERE i.case_id = c.id)"
                    .to_string()
            }
            LeaderList::Instructed => {
                "c.is_open = 1 AND EXISTS (SELECT 1 FROM case_instructed i WHERE i.case_id = c.id)"
                    .to_string()
            }
            LeaderList::NamedSupervision => "c.named_supervision = 1".into(),
            LeaderList::OpenOrders => "c.open_orders > 0".into(),
            LeaderList::Overdue { now_ms } => {
                format!("c.is_open = 1 AND c.next_due_at < {now_ms}")
            }
            // `+ 0`: the list pages through the scope's own indexes in urgency order, never
            // through the nation-wide `cases_open_updated` range (for the dashboard's count).
            LeaderList::Stalled { before_ms } => {
                format!("c.is_open = 1 AND c.updated_at + 0 < {before_ms}")
            }
            LeaderList::SentBack => "c.sent_back = 1 AND c.is_open = 1".into(),
            LeaderList::Unsatisfied => "c.unsatisfied = 1".into(),
            LeaderList::FollowUps => "c.follow_up_due > 0".into(),
        };
        format!("{test} AND {within}")
    }

    /// One list of the leader's view: open cases in `scope`, most urgent first, a page of at
    /// most `limit` after `after`.
    pub async fn leader_list(
        &self,
        list: LeaderList,
        scope: &Scope,
        limit: u32,
        after: Option<&LeaderCursor>,
    ) -> Result<Vec<CaseSummary>> {
        let mut texts = Vec::new();
        let filter = Self::list_where(list, scope, &mut texts);
        let mut binds: Vec<Bind> = texts.into_iter().map(Bind::Text).collect();
        // The 回访 list is by the follow-up's own due date, shown as the row's deadline (its
        // light yellow two days before).
        let (columns, sort) = if list == LeaderList::FollowUps {
            let columns = columns_of("c")
                .replace("c.next_due_kind", "NULL AS next_due_kind")
                .replace("c.next_due_at", "c.follow_up_due AS next_due_at")
                .replace("c.yellow_at", "c.follow_up_due - 172800000 AS yellow_at");
            (columns, "c.follow_up_due")
        } else {
            (columns_of("c"), "c.next_due_at")
        };
        let mut sql = format!("SELECT {columns} FROM cases c WHERE {filter}");
        if let Some(a) = after {
            let due = mark(&mut binds, Bind::Int(a.due_ms));
            let id = mark(&mut binds, Bind::Text(a.id.clone()));
            sql += &format!(" AND ({sort}, c.id) > ({due}, {id})");
        }
        let n = mark(&mut binds, Bind::Int(i64::from(limit.clamp(1, 500))));
        sql += &format!(" ORDER BY {sort}, c.id LIMIT {n}");
        summaries(&self.pool, sql, binds).await
    }

    /// How many cases one list of the leader's view has in `scope`.
    pub async fn leader_count(&self, list: LeaderList, scope: &Scope) -> Result<i64> {
        let mut texts = Vec::new();
        let filter = Self::list_where(list, scope, &mut texts);
        let binds = texts.into_iter().map(Bind::Text).collect();
        self.leader_count_of(
            format!("SELECT COUNT(*) FROM cases c WHERE {filter}"),
            binds,
        )
        .await
    }

    /// The cases `leader` is in charge of (包案), within `scope`: open ones first, each group
    /// most urgent first; a page of at most `limit` after `after`.
    pub async fn cases_in_charge(
        &self,
        leader: &str,
        scope: &Scope,
        limit: u32,
        after: Option<&LeaderCursor>,
    ) -> Result<Vec<CaseSummary>> {
        let mut texts = vec![leader.to_string()];
        let within = scope_clause(scope, &mut texts);
        let mut binds: Vec<Bind> = texts.into_iter().map(Bind::Text).collect();
        let mut sql = format!(
            "SELECT {} FROM case_charges cc JOIN cases c ON c.id = cc.case_id
             WHERE cc.leader_id = $1 AND {within}",
            columns_of("c")
        );
        if let Some(a) = after {
            let closed = mark(&mut binds, Bind::Int(a.closed));
            let due = mark(&mut binds, Bind::Int(a.due_ms));
            let id = mark(&mut binds, Bind::Text(a.id.clone()));
            sql += &format!(" AND (1 - c.is_open, c.next_due_at, c.id) > ({closed}, {due}, {id})");
        }
        let n = mark(&mut binds, Bind::Int(i64::from(limit.clamp(1, 500))));
        sql += &format!(" ORDER BY 1 - c.is_open, c.next_due_at, c.id LIMIT {n}");
        summaries(&self.pool, sql, binds).await
    }

    /// How many cases `leader` is in charge of within `scope`, and how many of them are open.
    pub async fn count_in_charge(&self, leader: &str, scope: &Scope) -> Result<(i64, i64)> {
        let mut texts = vec![leader.to_string()];
        let within = scope_clause(scope, &mut texts);
        let sql = format!(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN c.is_open = 1 THEN 1 ELSE 0 END), 0)
             FROM case_charges cc
             JOIN cases c ON c.id = cc.case_id WHERE cc.leader_id = $1 AND {within}"
        );
        let mut q = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql));
        for t in texts {
            q = q.bind(t);
        }
        Ok(q.fetch_one(&self.pool).await?)
    }

    /// The leaders in charge of a case as the view's table holds them (for checks that the
    /// table follows the case).
    pub async fn charges_of(&self, case_id: &str) -> Result<Vec<(String, Option<String>)>> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT leader_id, unit_id FROM case_charges WHERE case_id = $1
             ORDER BY since_ms, leader_id",
        )
        .bind(case_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from)?;
        Ok(rows)
    }
}

/// One 通报 (circular) as the printable list shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CirculationRow {
    pub case_id: String,
    pub receipt: String,
    pub title: String,
    pub at_ms: i64,
    /// The unit named in the circular.
    pub unit_id: String,
    /// The unit that circulated it.
    pub by_unit: Option<String>,
    pub text: String,
    /// The 督办单 left unanswered that it follows, when the ladder circulated it.
    pub order: Option<u32>,
}

impl Store {
    /// The circulars (通报) of cases in `scope` made in `[from_ms, to_ms)`, in date order, at
    /// most `limit`.
    pub async fn circulations(
        &self,
        scope: &Scope,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> Result<Vec<CirculationRow>> {
        let mut texts = Vec::new();
        let within = scope_clause(scope, &mut texts);
        let mut binds: Vec<Bind> = texts.into_iter().map(Bind::Text).collect();
        let from = mark(&mut binds, Bind::Int(from_ms));
        let to = mark(&mut binds, Bind::Int(to_ms));
        let n = mark(&mut binds, Bind::Int(i64::from(limit.clamp(1, 5000))));
        let sql = format!(
            "SELECT e.case_id, c.receipt, c.title, e.at_ms, e.actor_unit, e.payload
             FROM events e JOIN cases c ON c.id = e.case_id
             WHERE e.kind = 'circulated' AND e.at_ms >= {from} AND e.at_ms < {to}
               AND {within}
             ORDER BY e.at_ms, e.seq LIMIT {n}"
        );
        // Only fixed fragments and numbered placeholders are concatenated; values are bound.
        let mut q = sqlx::query_as::<_, (String, String, String, i64, Option<String>, String)>(
            sqlx::AssertSqlSafe(sql),
        );
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t),
                Bind::Int(i) => q.bind(i),
            };
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for (case_id, receipt, title, at_ms, by_unit, payload) in rows {
            let kind: huiyin_domain::case::EventKind = serde_json::from_str(&payload)
                .map_err(|e| StoreError::Corrupt(format!("circulated event of {case_id}: {e}")))?;
            let huiyin_domain::case::EventKind::Circulated { text, unit, order } = kind else {
                continue;
            };
            out.push(CirculationRow {
                case_id,
                receipt,
                title,
                at_ms,
                unit_id: unit.to_string(),
                by_unit,
                text: text.to_string(),
                order,
            });
        }
        Ok(out)
    }
}
