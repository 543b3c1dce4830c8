//! Authentication data: staff users, unit memberships, server-side sessions, rate-limit
//! counters, phone-verified petitioner accounts with their SMS codes and sessions, and API
//! token scopes. Secrets never reach this module in clear: session ids, SMS codes and phone
//! numbers arrive as SM3 digests, passwords as argon2id PHC strings.

use sqlx::Row;

use crate::db::Store;
use crate::{Result, StoreError};

/// A staff user row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// argon2id, PHC string format.
    pub password_hash: String,
    /// The confirmed TOTP secret (base32).
    pub totp_secret: Option<String>,
    /// A TOTP secret being enrolled, not yet confirmed by a code.
    pub totp_pending: Option<String>,
    /// The last accepted TOTP time step (codes at or before it are refused).
    pub totp_last_step: Option<i64>,
    pub must_change_password: bool,
    pub failed_logins: i64,
    pub locked_until_ms: Option<i64>,
    pub disabled: bool,
    pub created_at_ms: i64,
    pub password_changed_at_ms: i64,
}

/// A user's roles in one unit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MembershipRecord {
    pub unit_id: String,
    pub unit_name: String,
    pub roles: Vec<String>,
}

/// A staff session row (keyed by the digest of its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub user_id: String,
    pub active_unit_id: Option<String>,
    pub csrf_token: String,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
    pub absolute_expires_at_ms: i64,
    pub mfa_passed: bool,
}

/// A petitioner session row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PetitionerSessionRecord {
    pub id_hash: String,
    pub account_id: String,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
    pub absolute_expires_at_ms: i64,
}

/// An outstanding SMS code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsCodeRecord {
    pub code_hash: String,
    pub expires_at_ms: i64,
    pub attempts: i64,
}

/// One of a petitioner's own petitions, as their account lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PetitionerCase {
    pub case_id: String,
    pub receipt: String,
    pub title: String,
    pub stage: String,
    pub is_open: bool,
    pub received_at_ms: i64,
}

/// id_hash, user_id, active_unit_id, csrf_token, created_at, last_seen_at, absolute_expires_at,
/// mfa_passed
type SessionRow = (String, String, Option<String>, String, i64, i64, i64, i64);

const USER_COLUMNS: &str = "id, username, display_name, password_hash, totp_secret, totp_pending,
    totp_last_step, must_change_password, failed_logins, locked_until, disabled, created_at,
    password_changed_at";

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<UserRecord> {
    Ok(UserRecord {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        password_hash: row.try_get("password_hash")?,
        totp_secret: row.try_get("totp_secret")?,
        totp_pending: row.try_get("totp_pending")?,
        totp_last_step: row.try_get("totp_last_step")?,
        must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
        failed_logins: row.try_get("failed_logins")?,
        locked_until_ms: row.try_get("locked_until")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at_ms: row.try_get("created_at")?,
        password_changed_at_ms: row.try_get("password_changed_at")?,
    })
}

/// Splits a comma-separated list column.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect()
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// One change to a staff account, for [`Store::change_user`]: several of them (and the
/// administrator's audit entry) are written in one transaction, so an account is never left
/// half changed and no change is without its audit entry.
#[derive(Debug, Clone, Copy)]
pub enum UserChange<'a> {
    /// A new account.
    Insert(&'a UserRecord),
    /// The user's roles in a unit (creating the membership); no roles removes it.
    Membership {
        user_id: &'a str,
        unit_id: &'a str,
        roles: &'a [String],
    },
    /// A new password hash; clears failures and the lock.
    Password {
        user_id: &'a str,
        hash: &'a str,
        must_change: bool,
        now_ms: i64,
    },
    Disabled {
        user_id: &'a str,
        disabled: bool,
    },
    /// Removes the second factor (a lost authenticator).
    ClearTotp {
        user_id: &'a str,
    },
    /// Ends every session of the user except `keep`.
    EndSessions {
        user_id: &'a str,
        keep: Option<&'a str>,
    },
    /// A check, not a change: refuses the whole transaction with [`StoreError::Conflict`] if no
    /// enabled administrator is left by the changes before it. With an audit entry it runs
    /// after that entry took the audit chain's head lock, so two administrators removing each
    /// other at once are serialised and the second sees the first.
    AdministratorRemains,
}

/// Runs one change on `conn`; returns the rows it touched.
async fn apply_user_change(conn: &mut sqlx::AnyConnection, change: &UserChange<'_>) -> Result<u64> {
    let done = match *change {
        UserChange::Insert(u) => sqlx::query(
            "INSERT INTO users (id, username, display_name, password_hash, totp_secret, totp_pending,
                totp_last_step, must_change_password, failed_logins, locked_until, disabled,
                created_at, password_changed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(u.id.as_str())
        .bind(u.username.as_str())
        .bind(u.display_name.as_str())
        .bind(u.password_hash.as_str())
        .bind(u.totp_secret.clone())
        .bind(u.totp_pending.clone())
        .bind(u.totp_last_step)
        .bind(flag(u.must_change_password))
        .bind(u.failed_logins)
        .bind(u.locked_until_ms)
        .bind(flag(u.disabled))
        .bind(u.created_at_ms)
        .bind(u.password_changed_at_ms)
        .execute(&mut *conn)
        .await
        .map_err(|e| StoreError::from_db(e, &format!("user {} exists already", u.username)))?,
        UserChange::Membership {
            user_id,
            unit_id,
            roles,
        } => {
            let removed = sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND unit_id = $2")
                .bind(user_id)
                .bind(unit_id)
                .execute(&mut *conn)
                .await?;
            if roles.is_empty() {
                removed
            } else {
                sqlx::query("INSERT INTO memberships (user_id, unit_id, roles) VALUES ($1, $2, $3)")
                    .bind(user_id)
                    .bind(unit_id)
                    .bind(roles.join(","))
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| StoreError::from_db(e, "membership exists already"))?
            }
        }
        UserChange::Password {
            user_id,
            hash,
            must_change,
            now_ms,
        } => sqlx::query(
            "UPDATE users SET password_hash = $2, must_change_password = $3,
                password_changed_at = $4, failed_logins = 0, locked_until = NULL
             WHERE id = $1",
        )
        .bind(user_id)
        .bind(hash)
        .bind(flag(must_change))
        .bind(now_ms)
        .execute(&mut *conn)
        .await?,
        UserChange::Disabled { user_id, disabled } => {
            sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
                .bind(user_id)
                .bind(flag(disabled))
                .execute(&mut *conn)
                .await?
        }
        UserChange::ClearTotp { user_id } => sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL
             WHERE id = $1",
        )
        .bind(user_id)
        .execute(&mut *conn)
        .await?,
        UserChange::AdministratorRemains => {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(DISTINCT m.user_id) FROM memberships m JOIN users u ON u.id = m.user_id
                 WHERE u.disabled = 0 AND (',' || m.roles || ',') LIKE '%,administrator,%'",
            )
            .fetch_one(&mut *conn)
            .await?;
            if n == 0 {
                return Err(StoreError::Conflict(
                    "这样改后将没有可用的系统管理员：请先给另一位用户授予管理员角色".into(),
                ));
            }
            return Ok(0);
        }
        UserChange::EndSessions { user_id, keep } => {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
                .bind(user_id)
                .bind(keep.unwrap_or(""))
                .execute(&mut *conn)
                .await?
        }
    };
    Ok(done.rows_affected())
}

impl Store {
    /// Writes `changes` in order and, with `audit`, the audit entry, in one transaction.
    /// Returns the rows each change touched.
    pub async fn change_user(
        &self,
        changes: &[UserChange<'_>],
        audit: Option<&crate::AuditEntry>,
    ) -> Result<Vec<u64>> {
        let mut tx = self.pool.begin().await?;
        // The entry first: appending it locks the audit chain's head until the commit, which
        // serialises concurrent audited changes (see `UserChange::AdministratorRemains`).
        if let Some(entry) = audit {
            crate::audit::append_on(&mut tx, entry).await?;
        }
        let mut rows = Vec::with_capacity(changes.len());
        for c in changes {
            rows.push(apply_user_change(&mut tx, c).await?);
        }
        tx.commit().await?;
        Ok(rows)
    }

    async fn change_one(&self, change: UserChange<'_>) -> Result<u64> {
        Ok(self.change_user(&[change], None).await?[0])
    }
}

impl Store {
    // ---- users ----

    pub async fn insert_user(&self, u: &UserRecord) -> Result<()> {
        self.change_one(UserChange::Insert(u)).await?;
        Ok(())
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        )))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Sets a new password hash; clears failures and the lock.
    pub async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        must_change: bool,
        now_ms: i64,
    ) -> Result<bool> {
        let n = self
            .change_one(UserChange::Password {
                user_id,
                hash: password_hash,
                must_change,
                now_ms,
            })
            .await?;
        Ok(n == 1)
    }

    /// Counts a failed login. When the count reaches `max_failures`, locks the user until
    /// `lock_until_ms` and restarts the count; returns the lock if one was set.
    pub async fn record_login_failure(
        &self,
        user_id: &str,
        max_failures: i64,
        lock_until_ms: i64,
    ) -> Result<Option<i64>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let (failures,): (i64,) = sqlx::query_as("SELECT failed_logins FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        let locked = if failures >= max_failures {
            sqlx::query("UPDATE users SET failed_logins = 0, locked_until = $2 WHERE id = $1")
                .bind(user_id)
                .bind(lock_until_ms)
                .execute(&mut *tx)
                .await?;
            Some(lock_until_ms)
        } else {
            None
        };
        tx.commit().await?;
        Ok(locked)
    }

    /// A successful login: clears failures and any expired lock.
    pub async fn record_login_success(&self, user_id: &str) -> Result<()> {
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_user_disabled(&self, user_id: &str, disabled: bool) -> Result<bool> {
        Ok(self
            .change_one(UserChange::Disabled { user_id, disabled })
            .await?
            == 1)
    }

    /// Stores (or clears) a TOTP secret being enrolled.
    pub async fn set_totp_pending(&self, user_id: &str, secret: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE users SET totp_pending = $2 WHERE id = $1")
            .bind(user_id)
            .bind(secret.map(str::to_string))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Makes the pending TOTP secret the confirmed one, if it is still `secret`.
    pub async fn confirm_totp(&self, user_id: &str, secret: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL
             WHERE id = $1 AND totp_pending = $2",
        )
        .bind(user_id)
        .bind(secret)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes a user's second factor (an administrator resets a lost authenticator).
    pub async fn clear_totp(&self, user_id: &str) -> Result<()> {
        self.change_one(UserChange::ClearTotp { user_id }).await?;
        Ok(())
    }

    /// Claims a TOTP time step: true only the first time a step (or a later one) is used, so a
    /// code cannot be replayed, also not by two requests at once.
    pub async fn claim_totp_step(&self, user_id: &str, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $2
             WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
        )
        .bind(user_id)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    // ---- memberships ----

    /// The user's units and roles, by unit id.
    pub async fn memberships(&self, user_id: &str) -> Result<Vec<MembershipRecord>> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT m.unit_id, u.name, m.roles FROM memberships m JOIN units u ON u.id = m.unit_id
             WHERE m.user_id = $1 ORDER BY m.unit_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(unit_id, unit_name, roles)| MembershipRecord {
                unit_id,
                unit_name,
                roles: split_list(&roles),
            })
            .collect())
    }

    /// Sets the user's roles in a unit (creating the membership); no roles removes it.
    pub async fn set_membership(
        &self,
        user_id: &str,
        unit_id: &str,
        roles: &[String],
    ) -> Result<()> {
        self.change_one(UserChange::Membership {
            user_id,
            unit_id,
            roles,
        })
        .await?;
        Ok(())
    }

    // ---- staff sessions ----

    pub async fn insert_session(&self, s: &SessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, active_unit_id, csrf_token, created_at,
                last_seen_at, absolute_expires_at, mfa_passed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(s.id_hash.as_str())
        .bind(s.user_id.as_str())
        .bind(s.active_unit_id.clone())
        .bind(s.csrf_token.as_str())
        .bind(s.created_at_ms)
        .bind(s.last_seen_at_ms)
        .bind(s.absolute_expires_at_ms)
        .bind(flag(s.mfa_passed))
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, "session id collision"))?;
        Ok(())
    }

    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT id_hash, user_id, active_unit_id, csrf_token, created_at, last_seen_at,
                    absolute_expires_at, mfa_passed FROM sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(id_hash, user_id, active_unit_id, csrf_token, created, seen, abs, mfa)| {
                SessionRecord {
                    id_hash,
                    user_id,
                    active_unit_id,
                    csrf_token,
                    created_at_ms: created,
                    last_seen_at_ms: seen,
                    absolute_expires_at_ms: abs,
                    mfa_passed: mfa != 0,
                }
            },
        ))
    }

    pub async fn touch_session(&self, id_hash: &str, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_session_mfa_passed(&self, id_hash: &str) -> Result<()> {
        sqlx::query("UPDATE sessions SET mfa_passed = 1 WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives a session a new id and CSRF token (and active unit), keeping its other fields:
    /// the old id stops working at once. False if the old session is gone.
    pub async fn rotate_session(
        &self,
        old_hash: &str,
        new_hash: &str,
        csrf_token: &str,
        active_unit_id: Option<&str>,
        now_ms: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET id_hash = $2, csrf_token = $3, active_unit_id = $4,
                last_seen_at = $5 WHERE id_hash = $1",
        )
        .bind(old_hash)
        .bind(new_hash)
        .bind(csrf_token)
        .bind(active_unit_id.map(str::to_string))
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, "session id collision"))?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every session of a user except `keep` (after a password change, disable, lock).
    pub async fn delete_user_sessions(&self, user_id: &str, keep: Option<&str>) -> Result<u64> {
        self.change_one(UserChange::EndSessions { user_id, keep })
            .await
    }

    /// Removes sessions past `now_ms` (absolute) or idle since before `idle_before_ms`, old
    /// rate-limit windows and expired SMS codes; returns the sessions removed.
    pub async fn purge_sessions(&self, now_ms: i64, idle_before_ms: i64) -> Result<u64> {
        let a = sqlx::query(
            "DELETE FROM sessions WHERE absolute_expires_at <= $1 OR last_seen_at < $2",
        )
        .bind(now_ms)
        .bind(idle_before_ms)
        .execute(&self.pool)
        .await?;
        let b = sqlx::query(
            "DELETE FROM petitioner_sessions WHERE absolute_expires_at <= $1 OR last_seen_at < $2",
        )
        .bind(now_ms)
        .bind(idle_before_ms)
        .execute(&self.pool)
        .await?;
        // Rate-limit windows older than a day and expired SMS codes are of no use either.
        sqlx::query("DELETE FROM auth_throttle WHERE window_start < $1")
            .bind(now_ms - 86_400_000)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM sms_codes WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(a.rows_affected() + b.rows_affected())
    }

    // ---- rate limits ----

    /// Counts one hit on `key` in a fixed window of `window_ms` and returns the hits in the
    /// current window (including this one).
    pub async fn throttle_hit(&self, key: &str, now_ms: i64, window_ms: i64) -> Result<i64> {
        let (hits,): (i64,) = sqlx::query_as(
            "INSERT INTO auth_throttle (key, window_start, hits) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
                hits = CASE WHEN auth_throttle.window_start <= $3 THEN 1
                            ELSE auth_throttle.hits + 1 END,
                window_start = CASE WHEN auth_throttle.window_start <= $3 THEN $2
                                    ELSE auth_throttle.window_start END
             RETURNING hits",
        )
        .bind(key)
        .bind(now_ms)
        .bind(now_ms - window_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(hits)
    }

    /// The hits on `key` in the window that is still open at `now_ms`.
    pub async fn throttle_count(&self, key: &str, now_ms: i64, window_ms: i64) -> Result<i64> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT hits FROM auth_throttle WHERE key = $1 AND window_start > $2")
                .bind(key)
                .bind(now_ms - window_ms)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map_or(0, |(h,)| h))
    }

    pub async fn throttle_clear(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM auth_throttle WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- petitioners ----

    /// The account for a phone digest, created if missing; returns its id.
    pub async fn petitioner_account(
        &self,
        phone_hash: &str,
        phone_masked: &str,
        now_ms: i64,
    ) -> Result<String> {
        let mut conn = self.pool.acquire().await?;
        ensure_account(&mut conn, phone_hash, phone_masked, now_ms).await
    }

    /// Replaces the phone's outstanding code.
    pub async fn put_sms_code(
        &self,
        phone_hash: &str,
        code_hash: &str,
        expires_at_ms: i64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sms_codes WHERE phone_hash = $1")
            .bind(phone_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sms_codes (phone_hash, code_hash, expires_at, attempts) VALUES ($1, $2, $3, 0)",
        )
        .bind(phone_hash)
        .bind(code_hash)
        .bind(expires_at_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn sms_code(&self, phone_hash: &str) -> Result<Option<SmsCodeRecord>> {
        let row: Option<(String, i64, i64)> = sqlx::query_as(
            "SELECT code_hash, expires_at, attempts FROM sms_codes WHERE phone_hash = $1",
        )
        .bind(phone_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(code_hash, expires_at_ms, attempts)| SmsCodeRecord {
                code_hash,
                expires_at_ms,
                attempts,
            }),
        )
    }

    /// Counts a wrong code; returns the attempts so far.
    pub async fn bump_sms_attempts(&self, phone_hash: &str) -> Result<i64> {
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE sms_codes SET attempts = attempts + 1 WHERE phone_hash = $1 RETURNING attempts",
        )
        .bind(phone_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map_or(i64::MAX, |(a,)| a))
    }

    /// Consumes the code (true only for the one caller that deletes it).
    pub async fn delete_sms_code(&self, phone_hash: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sms_codes WHERE phone_hash = $1")
            .bind(phone_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn insert_petitioner_session(&self, s: &PetitionerSessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO petitioner_sessions (id_hash, account_id, created_at, last_seen_at,
                absolute_expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(s.id_hash.as_str())
        .bind(s.account_id.as_str())
        .bind(s.created_at_ms)
        .bind(s.last_seen_at_ms)
        .bind(s.absolute_expires_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, "session id collision"))?;
        Ok(())
    }

    pub async fn petitioner_session(
        &self,
        id_hash: &str,
    ) -> Result<Option<PetitionerSessionRecord>> {
        let row: Option<(String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT id_hash, account_id, created_at, last_seen_at, absolute_expires_at
             FROM petitioner_sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(id_hash, account_id, created, seen, abs)| PetitionerSessionRecord {
                id_hash,
                account_id,
                created_at_ms: created,
                last_seen_at_ms: seen,
                absolute_expires_at_ms: abs,
            },
        ))
    }

    pub async fn touch_petitioner_session(&self, id_hash: &str, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE petitioner_sessions SET last_seen_at = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_petitioner_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM petitioner_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The petitions linked to an account, newest first.
    pub async fn petitioner_cases(&self, account_id: &str) -> Result<Vec<PetitionerCase>> {
        let rows: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT c.id, c.receipt, c.title, c.stage, c.is_open, c.received_at
             FROM petitioner_cases pc JOIN cases c ON c.id = pc.case_id
             WHERE pc.account_id = $1 ORDER BY c.received_at DESC, c.id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(case_id, receipt, title, stage, open, received)| PetitionerCase {
                    case_id,
                    receipt,
                    title,
                    stage,
                    is_open: open != 0,
                    received_at_ms: received,
                },
            )
            .collect())
    }

    // ---- API token scopes ----

    /// Sets a token's scopes (`None`: everything its roles allow).
    pub async fn set_token_scopes(
        &self,
        token_hash: &str,
        scopes: Option<&[String]>,
    ) -> Result<bool> {
        let done = sqlx::query("UPDATE api_tokens SET scopes = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(scopes.map(|s| s.join(",")))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A token's scopes: `None` when it has no scope list (full for its roles).
    pub async fn token_scopes(&self, token_hash: &str) -> Result<Option<Vec<String>>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT scopes FROM api_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(s,)| s).map(|s| split_list(&s)))
    }
}

async fn ensure_account(
    conn: &mut sqlx::AnyConnection,
    phone_hash: &str,
    phone_masked: &str,
    now_ms: i64,
) -> Result<String> {
    sqlx::query(
        "INSERT INTO petitioner_accounts (id, phone_hash, phone_masked, created_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (phone_hash) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(phone_hash)
    .bind(phone_masked)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    let (id,): (String,) =
        sqlx::query_as("SELECT id FROM petitioner_accounts WHERE phone_hash = $1")
            .bind(phone_hash)
            .fetch_one(&mut *conn)
            .await?;
    Ok(id)
}
