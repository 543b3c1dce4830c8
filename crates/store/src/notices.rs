//! Notices to staff (工作通知) and broadcast groups (定向发送群组): who is at a unit, who is in a
//! group, each person's notices, and the per-person delivery record of a broadcast.
//!
//! A notice row is keyed by an idempotency key (`<job key>:<user>`), so a job that runs twice
//! (at-least-once delivery) writes each person's notice once.

use huiyin_domain::access::region_range;

use crate::{Result, Store};

/// A person with a membership in a unit (active accounts only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitMember {
    pub user_id: String,
    pub display_name: String,
    pub email: Option<String>,
    pub unit_id: String,
    /// Role names in that unit.
    pub roles: Vec<String>,
}

/// A notice to write for one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStaffNotice {
    pub idempotency_key: String,
    pub user_id: String,
    pub unit_id: Option<String>,
    pub case_id: Option<String>,
    pub broadcast_id: Option<String>,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at_ms: i64,
}

/// A notice as its reader and the broadcast's delivery list see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StaffNotice {
    pub id: String,
    pub idempotency_key: String,
    pub user_id: String,
    /// The person's display name (for the delivery list).
    pub display_name: String,
    pub unit_id: Option<String>,
    pub case_id: Option<String>,
    pub broadcast_id: Option<String>,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at_ms: i64,
    pub read_at_ms: Option<i64>,
    pub emailed_at_ms: Option<i64>,
    pub email_error: Option<String>,
    /// The unit's name (for the delivery list).
    pub unit_name: Option<String>,
}

/// Who a broadcast group reaches.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BroadcastGroup {
    pub id: String,
    pub name: String,
    /// GB/T 2260 region: units of this region and inside it (`0`: the whole nation).
    pub region_code: String,
    /// Unit levels (`county`, `township`, …); empty for any.
    pub levels: Vec<String>,
    /// Unit kinds (`government`, `department`, …); empty for any.
    pub kinds: Vec<String>,
    /// Role names; empty for anyone in those units.
    pub roles: Vec<String>,
    pub created_by: String,
    pub created_at_ms: i64,
    pub retired_at_ms: Option<i64>,
}

/// A message sent to a group, with its delivery totals.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Broadcast {
    pub id: String,
    pub group_id: String,
    pub group_name: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub case_id: Option<String>,
    pub sent_by: String,
    pub sent_at_ms: i64,
    /// Notices written so far (one per person reached).
    pub delivered: i64,
    pub read: i64,
    pub emailed: i64,
    /// The early warning (预警) it was sent about, if any.
    pub warning_id: Option<String>,
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

const NOTICE_COLUMNS: &str = "n.id, n.idempotency_key, n.user_id, u.display_name, n.unit_id, \
     n.case_id, n.broadcast_id, n.kind, n.title, n.body, n.created_at, n.read_at, n.emailed_at, \
     n.email_error, t.name";

type NoticeRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

fn notice_of(r: NoticeRow) -> StaffNotice {
    StaffNotice {
        id: r.0,
        idempotency_key: r.1,
        user_id: r.2,
        display_name: r.3,
        unit_id: r.4,
        case_id: r.5,
        broadcast_id: r.6,
        kind: r.7,
        title: r.8,
        body: r.9,
        created_at_ms: r.10,
        read_at_ms: r.11,
        emailed_at_ms: r.12,
        email_error: r.13,
        unit_name: r.14,
    }
}

type GroupRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
);

const GROUP_COLUMNS: &str =
    "id, name, region_code, levels, kinds, roles, created_by, created_at, retired_at";

fn group_of(r: GroupRow) -> BroadcastGroup {
    BroadcastGroup {
        id: r.0,
        name: r.1,
        region_code: r.2,
        levels: list(&r.3),
        kinds: list(&r.4),
        roles: list(&r.5),
        created_by: r.6,
        created_at_ms: r.7,
        retired_at_ms: r.8,
    }
}

type GroupMemberRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
);

type MemberRow = (String, String, Option<String>, String, String);

fn member_of(r: MemberRow) -> UnitMember {
    UnitMember {
        user_id: r.0,
        display_name: r.1,
        email: r.2,
        unit_id: r.3,
        roles: list(&r.4),
    }
}

impl Store {
    /// The active people with a membership in `unit_id`.
    pub async fn unit_members(&self, unit_id: &str) -> Result<Vec<UnitMember>> {
        let rows: Vec<MemberRow> = sqlx::query_as(
            "SELECT u.id, u.display_name, u.email, m.unit_id, m.roles
             FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.unit_id = $1 AND u.disabled = 0
             ORDER BY u.id",
        )
        .bind(unit_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(member_of).collect())
    }

    /// Everyone `group` reaches now: one row per person (their first matching membership).
    pub async fn group_members(&self, group: &BroadcastGroup) -> Result<Vec<UnitMember>> {
        let mut sql = String::from(
            "SELECT u.id, u.display_name, u.email, m.unit_id, m.roles, t.level, t.kind
             FROM memberships m JOIN users u ON u.id = m.user_id
             JOIN units t ON t.id = m.unit_id
             WHERE u.disabled = 0 AND t.status = 'active'",
        );
        let mut binds = Vec::new();
        if group.region_code != "0" {
            let (low, high) = region_range(&group.region_code);
            binds.push(low);
            sql += &format!(" AND t.region_code >= ${}", binds.len());
            if let Some(high) = high {
                binds.push(high);
                sql += &format!(" AND t.region_code < ${}", binds.len());
            }
        }
        sql += " ORDER BY u.id, m.unit_id";
        // Only fixed fragments and numbered placeholders are concatenated; values are bound.
        let mut q = sqlx::query_as::<_, GroupMemberRow>(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out: Vec<UnitMember> = Vec::new();
        for (user_id, display_name, email, unit_id, roles, level, kind) in rows {
            if !group.levels.is_empty() && !group.levels.contains(&level) {
                continue;
            }
            if !group.kinds.is_empty() && !group.kinds.contains(&kind) {
                continue;
            }
            let roles = list(&roles);
            if !group.roles.is_empty() && !roles.iter().any(|r| group.roles.contains(r)) {
                continue;
            }
            if out.last().is_some_and(|m| m.user_id == user_id) {
                continue;
            }
            out.push(UnitMember {
                user_id,
                display_name,
                email,
                unit_id,
                roles,
            });
        }
        Ok(out)
    }

    /// Writes notices (a known idempotency key is skipped) in one transaction of multi-row
    /// inserts; returns how many were new.
    pub async fn put_staff_notices(&self, notices: &[NewStaffNotice]) -> Result<u64> {
        use crate::write::{Val, exec_rows};
        let mut values = Vec::with_capacity(notices.len() * 10);
        for n in notices {
            values.extend([
                Val::S(uuid::Uuid::now_v7().to_string()),
                Val::S(n.idempotency_key.clone()),
                Val::S(n.user_id.clone()),
                Val::N(n.unit_id.clone()),
                Val::N(n.case_id.clone()),
                Val::N(n.broadcast_id.clone()),
                Val::S(n.kind.clone()),
                Val::S(n.title.clone()),
                Val::S(n.body.clone()),
                Val::I(n.created_at_ms),
            ]);
        }
        let mut tx = self.pool.begin().await?;
        let new = exec_rows(
            &mut tx,
            self.backend,
            10,
            values,
            |list| {
                format!(
                    "INSERT INTO staff_notices (id, idempotency_key, user_id, unit_id, case_id,
                        broadcast_id, kind, title, body, created_at)
                     VALUES {list}
                     ON CONFLICT (idempotency_key) DO NOTHING"
                )
            },
            "staff notices",
        )
        .await?;
        tx.commit().await?;
        Ok(new)
    }

    /// One person's notices, newest first, before `before` (keyset: `(created_at, id)`).
    pub async fn staff_notices_for(
        &self,
        user_id: &str,
        unread_only: bool,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<StaffNotice>> {
        let (at, id) = before.unwrap_or((i64::MAX, ""));
        let sql = format!(
            "SELECT {NOTICE_COLUMNS} FROM staff_notices n JOIN users u ON u.id = n.user_id
             LEFT JOIN units t ON t.id = n.unit_id
             WHERE n.user_id = $1 {} AND (n.created_at < $2 OR (n.created_at = $2 AND n.id < $3))
             ORDER BY n.created_at DESC, n.id DESC LIMIT $4",
            if unread_only {
                "AND n.read_at IS NULL"
            } else {
                ""
            }
        );
        let rows: Vec<NoticeRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(at)
            .bind(id)
            .bind(limit.clamp(1, 200))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(notice_of).collect())
    }

    /// How many of a person's notices are unread.
    pub async fn unread_staff_notices(&self, user_id: &str) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM staff_notices WHERE user_id = $1 AND read_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// One notice by its idempotency key.
    pub async fn staff_notice_by_key(&self, key: &str) -> Result<Option<StaffNotice>> {
        let sql = format!(
            "SELECT {NOTICE_COLUMNS} FROM staff_notices n JOIN users u ON u.id = n.user_id
             LEFT JOIN units t ON t.id = n.unit_id
             WHERE n.idempotency_key = $1"
        );
        let row: Option<NoticeRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(notice_of))
    }

    /// Marks a person's notice read (`id`), or all of them (`None`); returns how many changed.
    pub async fn mark_staff_notices_read(
        &self,
        user_id: &str,
        id: Option<&str>,
        now_ms: i64,
    ) -> Result<u64> {
        let done =
            match id {
                Some(id) => {
                    sqlx::query(
                        "UPDATE staff_notices SET read_at = $1
                     WHERE user_id = $2 AND id = $3 AND read_at IS NULL",
                    )
                    .bind(now_ms)
                    .bind(user_id)
                    .bind(id)
                    .execute(&self.pool)
                    .await?
                }
                None => sqlx::query(
                    "UPDATE staff_notices SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL",
                )
                .bind(now_ms)
                .bind(user_id)
                .execute(&self.pool)
                .await?,
            };
        Ok(done.rows_affected())
    }

    /// Records the e-mail of a notice: sent at `at_ms`, or the last error.
    pub async fn set_staff_notice_email(
        &self,
        key: &str,
        sent_at_ms: Option<i64>,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE staff_notices SET emailed_at = COALESCE($1, emailed_at), email_error = $2
             WHERE idempotency_key = $3",
        )
        .bind(sent_at_ms)
        .bind(error)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets (or clears) a staff member's e-mail address.
    pub async fn set_user_email(&self, user_id: &str, email: Option<&str>) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
            .bind(email)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A staff member's e-mail address.
    pub async fn user_email(&self, user_id: &str) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT email FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|r| r.0))
    }

    /// Saves a new broadcast group.
    pub async fn create_broadcast_group(&self, g: &BroadcastGroup) -> Result<()> {
        sqlx::query(
            "INSERT INTO broadcast_groups (id, name, region_code, levels, kinds, roles,
                created_by, created_at, retired_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
        )
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.region_code)
        .bind(g.levels.join(","))
        .bind(g.kinds.join(","))
        .bind(g.roles.join(","))
        .bind(&g.created_by)
        .bind(g.created_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The groups, active ones first, then by name.
    pub async fn broadcast_groups(&self) -> Result<Vec<BroadcastGroup>> {
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM broadcast_groups
             ORDER BY CASE WHEN retired_at IS NULL THEN 0 ELSE 1 END, name, id"
        );
        let rows: Vec<GroupRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(group_of).collect())
    }

    pub async fn broadcast_group(&self, id: &str) -> Result<Option<BroadcastGroup>> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM broadcast_groups WHERE id = $1");
        let row: Option<GroupRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(group_of))
    }

    /// Retires a group (its past broadcasts stay); false when unknown or retired already.
    pub async fn retire_broadcast_group(&self, id: &str, now_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE broadcast_groups SET retired_at = $1 WHERE id = $2 AND retired_at IS NULL",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a broadcast and, in the same transaction, the job that delivers it.
    pub async fn create_broadcast(&self, b: &Broadcast, job: &crate::NewJob) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO broadcasts (id, group_id, kind, title, body, case_id, sent_by, sent_at,
                 warning_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&b.id)
        .bind(&b.group_id)
        .bind(&b.kind)
        .bind(&b.title)
        .bind(&b.body)
        .bind(&b.case_id)
        .bind(&b.sent_by)
        .bind(b.sent_at_ms)
        .bind(&b.warning_id)
        .execute(&mut *tx)
        .await?;
        crate::jobs::insert_jobs(&mut tx, self.backend, std::slice::from_ref(job)).await?;
        tx.commit().await?;
        Ok(())
    }

    const BROADCAST_SELECT: &'static str = "SELECT b.id, b.group_id, g.name, b.kind, b.title, \
         b.body, b.case_id, b.sent_by, b.sent_at, \
         (SELECT COUNT(*) FROM staff_notices n WHERE n.broadcast_id = b.id), \
         (SELECT COUNT(*) FROM staff_notices n WHERE n.broadcast_id = b.id \
            AND n.read_at IS NOT NULL), \
         (SELECT COUNT(*) FROM staff_notices n WHERE n.broadcast_id = b.id \
            AND n.emailed_at IS NOT NULL), b.warning_id \
         FROM broadcasts b JOIN broadcast_groups g ON g.id = b.group_id";

    /// The latest broadcasts with their delivery totals.
    pub async fn broadcasts(&self, limit: i64) -> Result<Vec<Broadcast>> {
        let sql = format!(
            "{} ORDER BY b.sent_at DESC, b.id DESC LIMIT $1",
            Self::BROADCAST_SELECT
        );
        let rows: Vec<BroadcastRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(limit.clamp(1, 200))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(broadcast_of).collect())
    }

    pub async fn broadcast(&self, id: &str) -> Result<Option<Broadcast>> {
        let sql = format!("{} WHERE b.id = $1", Self::BROADCAST_SELECT);
        let row: Option<BroadcastRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(broadcast_of))
    }

    /// A broadcast's delivery record: one row per person reached.
    pub async fn broadcast_deliveries(&self, id: &str) -> Result<Vec<StaffNotice>> {
        let sql = format!(
            "SELECT {NOTICE_COLUMNS} FROM staff_notices n JOIN users u ON u.id = n.user_id
             LEFT JOIN units t ON t.id = n.unit_id
             WHERE n.broadcast_id = $1 ORDER BY u.display_name, n.user_id"
        );
        let rows: Vec<NoticeRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(notice_of).collect())
    }
}

type BroadcastRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
);

fn broadcast_of(r: BroadcastRow) -> Broadcast {
    Broadcast {
        id: r.0,
        group_id: r.1,
        group_name: r.2,
        kind: r.3,
        title: r.4,
        body: r.5,
        case_id: r.6,
        sent_by: r.7,
        sent_at_ms: r.8,
        delivered: r.9,
        read: r.10,
        emailed: r.11,
        warning_id: r.12,
    }
}

/// A leader in charge (包案) of an open case who is due a progress reminder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueChargeReminder {
    pub case_id: String,
    pub leader_id: String,
    pub unit_id: Option<String>,
    pub since_ms: i64,
    /// Whole reminder intervals since the leader took charge (1 for the first reminder).
    pub period: i64,
}

impl Store {
    /// Leaders in charge of open cases whose current reminder period (whole `every_ms` since
    /// they took charge) has not been reminded yet, oldest charge first.
    pub async fn due_charge_reminders(
        &self,
        now_ms: i64,
        every_ms: i64,
        limit: i64,
    ) -> Result<Vec<DueChargeReminder>> {
        let every_ms = every_ms.max(1);
        let rows: Vec<(String, String, Option<String>, i64, i64)> = sqlx::query_as(
            "SELECT cc.case_id, cc.leader_id, cc.unit_id, cc.since_ms,
                    ($1 - cc.since_ms) / $2 AS period
             FROM case_charges cc
             JOIN cases c ON c.id = cc.case_id
             LEFT JOIN charge_reminders r
               ON r.case_id = cc.case_id AND r.leader_id = cc.leader_id
             WHERE c.is_open = 1 AND cc.since_ms <= $1 - $2
               AND ($1 - cc.since_ms) / $2 > COALESCE(r.period, 0)
             ORDER BY cc.since_ms, cc.case_id, cc.leader_id
             LIMIT $3",
        )
        .bind(now_ms)
        .bind(every_ms)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| DueChargeReminder {
                case_id: r.0,
                leader_id: r.1,
                unit_id: r.2,
                since_ms: r.3,
                period: r.4,
            })
            .collect())
    }

    /// Records that a leader was reminded of `period`.
    pub async fn set_charge_reminded(
        &self,
        case_id: &str,
        leader_id: &str,
        period: i64,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO charge_reminders (case_id, leader_id, period, at_ms)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (case_id, leader_id) DO UPDATE SET period = $3, at_ms = $4",
        )
        .bind(case_id)
        .bind(leader_id)
        .bind(period)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
