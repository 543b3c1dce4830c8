//! Administration data: the staff list for the administrators' pages, the content categories
//! (内容分类), deadline-policy overrides, holiday-calendar years and the deployment's rule
//! settings (statistics indicators, early-warning thresholds) as administrators entered
//! them. Every change is written together with its audit entry in one transaction, so a
//! change is never kept without its record (nor the record without the change).

use sqlx::Row;

use crate::audit::AuditEntry;
use crate::db::Store;
use crate::{Result, StoreError};

/// One row of the staff list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub disabled: bool,
    pub must_change_password: bool,
    pub totp_enrolled: bool,
    /// `(unit id, unit name, roles)` of each membership.
    pub memberships: Vec<(String, String, Vec<String>)>,
    /// The last successful sign-in in the audit trail, if any.
    pub last_login_ms: Option<i64>,
}

/// A content category.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CategoryRecord {
    pub id: String,
    pub parent_id: Option<String>,
    /// 1, 2 or 3.
    pub level: i64,
    pub name: String,
    /// The names from the first level down, joined by '/'.
    pub path: String,
    pub retired: bool,
}

/// A stored policy override: region prefix ('' nationwide), category prefix ('' any) and the
/// JSON of the override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOverrideRow {
    pub region_prefix: String,
    pub category: String,
    pub body: String,
    pub updated_at_ms: i64,
    pub updated_by: String,
}

/// A stored calendar year (the calendar text format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarYearRow {
    pub year: i32,
    pub body: String,
    pub updated_at_ms: i64,
    pub updated_by: String,
}

/// A stored rule setting: its name (`indicator_config`, `warning_policy`) and its validated
/// JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSettingRow {
    pub name: String,
    pub body: String,
    pub updated_at_ms: i64,
    pub updated_by: String,
}

fn like_pattern(s: &str) -> String {
    let mut out = String::from("%");
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

const CATEGORY_COLUMNS: &str = "id, parent_id, level, name, path, retired";

fn category_from_row(row: &sqlx::any::AnyRow) -> Result<CategoryRecord> {
    Ok(CategoryRecord {
        id: row.try_get("id")?,
        parent_id: row.try_get("parent_id")?,
        level: row.try_get("level")?,
        name: row.try_get("name")?,
        path: row.try_get("path")?,
        retired: row.try_get::<i64, _>("retired")? != 0,
    })
}

impl Store {
    // ---- the staff list ----

    /// Staff users whose login or name contains `q`, by login, with the total number matching.
    pub async fn list_users(
        &self,
        q: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<UserListRow>, i64)> {
        let pattern = like_pattern(q.trim());
        let (total,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM users
             WHERE username LIKE $1 ESCAPE '\\' OR display_name LIKE $1 ESCAPE '\\'",
        )
        .bind(pattern.as_str())
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query(
            "SELECT id, username, display_name, disabled, must_change_password, totp_secret
             FROM users
             WHERE username LIKE $1 ESCAPE '\\' OR display_name LIKE $1 ESCAPE '\\'
             ORDER BY username LIMIT $2 OFFSET $3",
        )
        .bind(pattern.as_str())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            users.push(UserListRow {
                id: row.try_get("id")?,
                username: row.try_get("username")?,
                display_name: row.try_get("display_name")?,
                disabled: row.try_get::<i64, _>("disabled")? != 0,
                must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
                totp_enrolled: row.try_get::<Option<String>, _>("totp_secret")?.is_some(),
                memberships: Vec::new(),
                last_login_ms: None,
            });
        }
        if users.is_empty() {
            return Ok((users, total));
        }
        let marks: Vec<String> = (1..=users.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT m.user_id, m.unit_id, u.name, m.roles FROM memberships m
             JOIN units u ON u.id = m.unit_id WHERE m.user_id IN ({}) ORDER BY m.unit_id",
            marks.join(", ")
        );
        let mut query =
            sqlx::query_as::<_, (String, String, String, String)>(sqlx::AssertSqlSafe(sql));
        for u in &users {
            query = query.bind(u.id.clone());
        }
        for (user_id, unit_id, unit_name, roles) in query.fetch_all(&self.pool).await? {
            if let Some(u) = users.iter_mut().find(|u| u.id == user_id) {
                u.memberships
                    .push((unit_id, unit_name, crate::auth::split_list(&roles)));
            }
        }
        let sql = format!(
            "SELECT actor, MAX(at_ms) FROM audit_log
             WHERE action = 'login_success' AND actor IN ({}) GROUP BY actor",
            marks.join(", ")
        );
        let mut query = sqlx::query_as::<_, (String, Option<i64>)>(sqlx::AssertSqlSafe(sql));
        for u in &users {
            query = query.bind(format!("login:{}", u.username));
        }
        for (actor, at) in query.fetch_all(&self.pool).await? {
            if let Some(u) = users
                .iter_mut()
                .find(|u| actor.strip_prefix("login:") == Some(u.username.as_str()))
            {
                u.last_login_ms = at;
            }
        }
        Ok((users, total))
    }

    /// Enabled users holding the administrator role in some unit.
    pub async fn active_administrators(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE u.disabled = 0 AND (',' || m.roles || ',') LIKE '%,administrator,%'
             ORDER BY m.user_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    // ---- categories ----

    /// Every category, retired ones included, ordered by path.
    pub async fn categories(&self) -> Result<Vec<CategoryRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories ORDER BY path"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(category_from_row).collect()
    }

    pub async fn category(&self, id: &str) -> Result<Option<CategoryRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(category_from_row).transpose()
    }

    /// Adds categories (parents before children) with one audit entry; a path that exists
    /// already is a conflict and nothing is written.
    pub async fn insert_categories(
        &self,
        categories: &[CategoryRecord],
        created_at_ms: i64,
        audit: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for c in categories {
            sqlx::query(
                "INSERT INTO categories (id, parent_id, level, name, path, retired, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(c.id.as_str())
            .bind(c.parent_id.clone())
            .bind(c.level)
            .bind(c.name.as_str())
            .bind(c.path.as_str())
            .bind(i64::from(c.retired))
            .bind(created_at_ms)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_db(e, &format!("分类“{}”已经存在", c.path)))?;
        }
        crate::audit::append_on(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Renames a category: its path and those of its descendants change with it.
    pub async fn rename_category(
        &self,
        id: &str,
        name: &str,
        audit: &AuditEntry,
    ) -> Result<CategoryRecord> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(old) = row.as_ref().map(category_from_row).transpose()? else {
            return Err(StoreError::NotFound(format!("分类 {id} 不存在")));
        };
        let new_path = match old.path.rfind('/') {
            Some(i) => format!("{}/{name}", &old.path[..i]),
            None => name.to_string(),
        };
        let under: Vec<(String, String)> =
            sqlx::query_as("SELECT id, path FROM categories WHERE path = $1 OR path LIKE $2")
                .bind(old.path.as_str())
                .bind(format!("{}/%", old.path))
                .fetch_all(&mut *tx)
                .await?;
        for (cid, path) in under {
            let moved = format!("{new_path}{}", &path[old.path.len()..]);
            sqlx::query("UPDATE categories SET path = $1 WHERE id = $2")
                .bind(moved.as_str())
                .bind(cid.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::from_db(e, &format!("分类“{moved}”已经存在")))?;
        }
        sqlx::query("UPDATE categories SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        crate::audit::append_on(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(CategoryRecord {
            name: name.to_string(),
            path: new_path,
            ..old
        })
    }

    /// Retires (or restores) a category and, when retiring, everything under it.
    pub async fn set_category_retired(
        &self,
        id: &str,
        retired: bool,
        audit: &AuditEntry,
    ) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let path: Option<(String,)> = sqlx::query_as("SELECT path FROM categories WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((path,)) = path else {
            return Err(StoreError::NotFound(format!("分类 {id} 不存在")));
        };
        let changed = if retired {
            sqlx::query("UPDATE categories SET retired = 1 WHERE path = $1 OR path LIKE $2")
                .bind(path.as_str())
                .bind(format!("{path}/%"))
                .execute(&mut *tx)
                .await?
                .rows_affected()
        } else {
            sqlx::query("UPDATE categories SET retired = 0 WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        };
        crate::audit::append_on(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(changed)
    }

    // ---- deadline-policy overrides ----

    pub async fn policy_overrides(&self) -> Result<Vec<PolicyOverrideRow>> {
        let rows: Vec<(String, String, String, i64, String)> = sqlx::query_as(
            "SELECT region_prefix, category, body, updated_at, updated_by FROM policy_overrides
             ORDER BY region_prefix, category",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(region_prefix, category, body, updated_at_ms, updated_by)| PolicyOverrideRow {
                    region_prefix,
                    category,
                    body,
                    updated_at_ms,
                    updated_by,
                },
            )
            .collect())
    }

    /// Sets (creates or replaces) an override, audited in the same transaction.
    pub async fn put_policy_override(
        &self,
        row: &PolicyOverrideRow,
        audit: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM policy_overrides WHERE region_prefix = $1 AND category = $2")
            .bind(row.region_prefix.as_str())
            .bind(row.category.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO policy_overrides (region_prefix, category, body, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(row.region_prefix.as_str())
        .bind(row.category.as_str())
        .bind(row.body.as_str())
        .bind(row.updated_at_ms)
        .bind(row.updated_by.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_db(e, "override changed concurrently"))?;
        crate::audit::append_on(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes an override; false when there was none.
    pub async fn delete_policy_override(
        &self,
        region_prefix: &str,
        category: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let n =
            sqlx::query("DELETE FROM policy_overrides WHERE region_prefix = $1 AND category = $2")
                .bind(region_prefix)
                .bind(category)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        crate::audit::append_on(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    // ---- holiday calendar ----

    pub async fn calendar_years(&self) -> Result<Vec<CalendarYearRow>> {
        let rows: Vec<(i64, String, i64, String)> = sqlx::query_as(
            "SELECT year, body, updated_at, updated_by FROM calendar_years ORDER BY year",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(year, body, updated_at_ms, updated_by)| {
                Ok(CalendarYearRow {
                    year: i32::try_from(year)
                        .map_err(|_| StoreError::Corrupt(format!("calendar year {year}")))?,
                    body,
                    updated_at_ms,
                    updated_by,
                })
            })
            .collect()
    }

    /// Sets a year's list (replacing an earlier one), audited in the same transaction.
    pub async fn put_calendar_year(&self, row: &CalendarYearRow, audit: &AuditEntry) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM calendar_years WHERE year = $1")
            .bind(i64::from(row.year))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO calendar_years (year, body, updated_at, updated_by) VALUES ($1, $2, $3, $4)",
        )
        .bind(i64::from(row.year))
        .bind(row.body.as_str())
        .bind(row.updated_at_ms)
        .bind(row.updated_by.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_db(e, "calendar year changed concurrently"))?;
        crate::audit::append_on(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- rule settings ----

    pub async fn rule_settings(&self) -> Result<Vec<RuleSettingRow>> {
        let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
            "SELECT name, body, updated_at, updated_by FROM rule_settings ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(name, body, updated_at_ms, updated_by)| RuleSettingRow {
                name,
                body,
                updated_at_ms,
                updated_by,
            })
            .collect())
    }

    /// Sets (creates or replaces) settings and removes others (`remove`, by name), all with
    /// one audit entry in one transaction: a change of several settings is kept whole or not
    /// at all.
    pub async fn put_rule_settings(
        &self,
        rows: &[RuleSettingRow],
        remove: &[&str],
        audit: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for name in remove {
            sqlx::query("DELETE FROM rule_settings WHERE name = $1")
                .bind(*name)
                .execute(&mut *tx)
                .await?;
        }
        for row in rows {
            sqlx::query("DELETE FROM rule_settings WHERE name = $1")
                .bind(row.name.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO rule_settings (name, body, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(row.name.as_str())
            .bind(row.body.as_str())
            .bind(row.updated_at_ms)
            .bind(row.updated_by.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_db(e, "setting changed concurrently"))?;
        }
        crate::audit::append_on(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
