//! Authentication: who is calling.
//!
//! - Staff users log in with a password (argon2id, hashed on the blocking pool, never on the
//!   async executor) and, when required, a TOTP second factor (RFC 6238). A login creates a
//!   server-side session; the client holds only its random 256-bit id, the database only the
//!   id's SM3 digest. Sessions end after an idle and an absolute timeout, at logout, and when
//!   the password changes; the id changes at login and at every switch of the active unit.
//! - Failed logins lock a user out for a while; logins are rate-limited per address and per
//!   username, with one generic answer whether or not the username exists.
//! - Petitioners (信访人) are not staff: besides the receipt code and secret they may prove a
//!   mobile number by SMS and see the petitions submitted with it.
//! - API tokens may carry scopes.
//!
//! Every check that needs the clock uses the application clock, so tests move time instead of
//! sleeping.

use chrono::Duration;
use huiyin_domain::Instant;
use huiyin_domain::case::{Actor, Role};
use huiyin_domain::ids::{ActorId, UnitId};
use huiyin_domain::values::{FieldError, PhoneNumber, ReceiptCode};
use huiyin_store::{
    MembershipRecord, PetitionerCase, PetitionerSessionRecord, SessionRecord, StoreError,
    UserChange, UserRecord,
};
use rand::Rng;
use sm3::{Digest, Sm3};

use crate::{App, AppError, secrets};

// ---------------------------------------------------------------------------------------------
// Settings

/// A fixed-window rate limit: at most `max` hits per `window`.
#[derive(Debug, Clone, Copy)]
pub struct RateRule {
    pub max: i64,
    pub window: Duration,
}

/// Authentication settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// A session unused this long ends (default 30 minutes).
    pub idle_timeout: Duration,
    /// A session ends this long after login, used or not (default 12 hours).
    pub absolute_timeout: Duration,
    /// Consecutive failures that lock a user out (default 5).
    pub max_failures: i64,
    /// How long a lockout lasts (default 15 minutes).
    pub lockout: Duration,
    /// Login attempts per client address.
    pub login_per_address: RateRule,
    /// Login attempts per username (known or not).
    pub login_per_username: RateRule,
    /// SMS codes sent per phone number.
    pub sms_per_phone: RateRule,
    /// SMS codes requested per client address.
    pub sms_per_address: RateRule,
    /// How long an SMS code is valid (default 5 minutes).
    pub sms_code_ttl: Duration,
    /// Wrong entries before an SMS code is void (default 5).
    pub sms_max_attempts: i64,
    /// Petitioner sessions: idle and absolute timeouts.
    pub petitioner_idle_timeout: Duration,
    pub petitioner_absolute_timeout: Duration,
    /// Always mark cookies `Secure` (and use the `__Host-` name), also when the request does
    /// not look like HTTPS (e.g. TLS ends at a proxy that sets no `X-Forwarded-Proto`).
    pub secure_cookies: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            idle_timeout: Duration::minutes(30),
            absolute_timeout: Duration::hours(12),
            max_failures: 5,
            lockout: Duration::minutes(15),
            // Generous: a whole county office may log in from one address behind NAT at 9:00;
            // guessing is stopped by the per-user lockout.
            login_per_address: RateRule {
                max: 300,
                window: Duration::minutes(15),
            },
            login_per_username: RateRule {
                max: 20,
                window: Duration::minutes(15),
            },
            sms_per_phone: RateRule {
                max: 5,
                window: Duration::hours(1),
            },
            sms_per_address: RateRule {
                max: 20,
                window: Duration::hours(1),
            },
            sms_code_ttl: Duration::minutes(5),
            sms_max_attempts: 5,
            petitioner_idle_timeout: Duration::minutes(30),
            petitioner_absolute_timeout: Duration::hours(2),
            secure_cookies: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Why an authentication step failed. The web layer maps each to a stable error code.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong username, password or code; deliberately says no more.
    #[error("login failed")]
    LoginFailed,
    /// Too many failures: locked until the instant.
    #[error("locked until {0}")]
    Locked(Instant),
    /// Too many attempts from this address, for this username or phone.
    #[error("rate limited")]
    RateLimited,
    /// No session, or it ended (timeout, logout, password change).
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The session must pass the second factor first.
    #[error("second factor required")]
    MfaRequired,
    /// The user must change the initial password first.
    #[error("password change required")]
    PasswordChangeRequired,
    /// The TOTP code is wrong or was used already.
    #[error("totp invalid: {0}")]
    TotpInvalid(String),
    /// The new password breaks the policy: the rules it breaks.
    #[error("password policy")]
    PasswordPolicy(Vec<FieldError>),
    /// The SMS code is wrong, expired or used up.
    #[error("code invalid: {0}")]
    CodeInvalid(String),
    /// Too many wrong entries: the code is void.
    #[error("code attempts exceeded")]
    CodeAttemptsExceeded,
    /// The SMS could not be sent.
    #[error("sms unavailable: {0}")]
    SmsUnavailable(String),
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::App(e.into())
    }
}

impl From<anyhow::Error> for AuthError {
    fn from(e: anyhow::Error) -> Self {
        AuthError::App(AppError::Internal(e))
    }
}

// ---------------------------------------------------------------------------------------------
// Passwords

/// The shortest password accepted (characters).
pub const MIN_PASSWORD_LEN: usize = 12;
/// The longest password accepted (characters): bounds the hashing work per request.
pub const MAX_PASSWORD_LEN: usize = 128;

/// Passwords refused however long they are (compared case-insensitively). A short list of the
/// most common choices that meet the length rule; a deployment may extend it.
const COMMON_PASSWORDS: &[&str] = &[
    "password1234",
    "password12345",
    "password123456",
    "passw0rd1234",
    "p@ssw0rd1234",
    "p@ssword1234",
    "123456789012",
    "1234567890ab",
    "abc123456789",
    "a123456789012",
    "qwerty123456",
    "qwertyuiop12",
    "qwertyuiop123",
    "1qaz2wsx3edc",
    "1q2w3e4r5t6y",
    "admin1234567",
    "admin123456789",
    "administrator1",
    "iloveyou1234",
    "woaini1314520",
    "woaini123456",
    "aa123456789a",
    "abcd12345678",
    "abcdefg12345",
    "zxcvbnm12345",
    "asdfghjkl123",
    "welcome12345",
    "huiyin123456",
    "xinfang123456",
    "changeme1234",
];

/// Checks a new password against the policy: length, not all of one character class, not
/// the username, not a common password. Returns every rule it breaks.
pub fn check_password_policy(username: &str, password: &str) -> Result<(), Vec<FieldError>> {
    let mut broken = Vec::new();
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        broken.push(FieldError::new(
            "password_too_short",
            format!("密码至少需要{MIN_PASSWORD_LEN}个字符"),
        ));
    }
    if len > MAX_PASSWORD_LEN {
        broken.push(FieldError::new(
            "password_too_long",
            format!("密码不能超过{MAX_PASSWORD_LEN}个字符"),
        ));
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if len > 0 && classes < 2 {
        broken.push(FieldError::new(
            "password_one_class",
            "密码不能只由一类字符组成，请混合使用大小写字母、数字或符号",
        ));
    }
    let lower = password.to_lowercase();
    let user = username.trim().to_lowercase();
    if !user.is_empty() && (lower == user || (user.chars().count() >= 4 && lower.contains(&user))) {
        broken.push(FieldError::new(
            "password_contains_username",
            "密码不能是用户名，也不能包含用户名",
        ));
    }
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        broken.push(FieldError::new(
            "password_common",
            "这是常见密码，很容易被猜中，请换一个",
        ));
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(broken)
    }
}

/// Hashes a password with argon2id (PHC string), on the blocking pool.
pub async fn hash_password(password: &str) -> Result<String, AppError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::PasswordHasher;
        argon2::Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("argon2 hashing failed: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing task failed: {e}")))?
}

/// Verifies a password against a PHC string, on the blocking pool. A malformed hash is a
/// mismatch, never an error the caller could tell apart.
pub async fn verify_password(password: &str, phc: &str) -> Result<bool, AppError> {
    let password = password.to_string();
    let phc = phc.to_string();
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::PasswordVerifier;
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), phc.as_str())
            .is_ok()
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("verification task failed: {e}")))
}

/// A hash of no one's password, verified against for unknown usernames so that they take as
/// long as known ones.
async fn dummy_hash() -> Result<&'static str, AppError> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_try_init(|| hash_password("dummy password for timing only"))
        .await
        .map(String::as_str)
}

/// A random initial password that meets the policy (16 characters, no look-alikes).
pub fn generate_password() -> String {
    const CHARS: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    loop {
        let p: String = (0..16)
            .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
            .collect();
        if check_password_policy("", &p).is_ok() && p.chars().any(|c| c.is_ascii_digit()) {
            return p;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of drift either way)

pub mod totp {
    use hmac::{KeyInit, Mac, SimpleHmac};
    use sha1::Sha1;

    pub const STEP_SECONDS: i64 = 30;
    pub const DIGITS: u32 = 6;
    /// Steps accepted before and after the current one (clock drift).
    pub const DRIFT_STEPS: i64 = 1;
    const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    /// RFC 4648 base32 without padding (what authenticator apps expect).
    pub fn base32_encode(data: &[u8]) -> String {
        let mut out = String::new();
        let mut buffer: u32 = 0;
        let mut bits = 0;
        for byte in data {
            buffer = (buffer << 8) | u32::from(*byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
        }
        out
    }

    pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut buffer: u32 = 0;
        let mut bits = 0;
        for c in s.chars().filter(|c| !matches!(c, ' ' | '=' | '-')) {
            let c = c.to_ascii_uppercase();
            let v = BASE32.iter().position(|b| char::from(*b) == c)? as u32;
            buffer = (buffer << 5) | v;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push(((buffer >> bits) & 0xff) as u8);
            }
        }
        Some(out)
    }

    /// RFC 4226 HOTP value of `counter`.
    pub fn hotp(key: &[u8], counter: u64) -> u32 {
        let Ok(mut mac) = <SimpleHmac<Sha1> as KeyInit>::new_from_slice(key) else {
            return u32::MAX;
        };
        mac.update(&counter.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = usize::from(digest[digest.len() - 1] & 0x0f);
        let binary = (u32::from(digest[offset]) & 0x7f) << 24
            | u32::from(digest[offset + 1]) << 16
            | u32::from(digest[offset + 2]) << 8
            | u32::from(digest[offset + 3]);
        binary % 10u32.pow(DIGITS)
    }

    /// The time step of a Unix time in seconds.
    pub fn step_of(unix_seconds: i64) -> i64 {
        unix_seconds.div_euclid(STEP_SECONDS)
    }

    /// The code for a step, zero-padded.
    pub fn code_at(key: &[u8], step: i64) -> String {
        format!("{:06}", hotp(key, step.max(0) as u64))
    }

    /// The step whose code `code` is, within the drift window around `unix_seconds`.
    pub fn matching_step(key: &[u8], code: &str, unix_seconds: i64) -> Option<i64> {
        let code = code.trim();
        if code.len() != DIGITS as usize || !code.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let now = step_of(unix_seconds);
        (now - DRIFT_STEPS..=now + DRIFT_STEPS).find(|step| {
            let expected = code_at(key, *step);
            // Constant time with respect to the digits.
            expected
                .bytes()
                .zip(code.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        })
    }

    /// The enrolment URI an authenticator app scans as a QR code.
    pub fn otpauth_uri(issuer: &str, account: &str, secret_base32: &str) -> String {
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret_base32}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
        )
    }
}

/// The issuer shown in authenticator apps.
pub const TOTP_ISSUER: &str = "Huiyin";

// ---------------------------------------------------------------------------------------------
// Identifiers and digests

fn sm3_hex(parts: &[&[u8]]) -> String {
    let mut h = Sm3::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

/// A new session id: 256 random bits, hex.
pub fn new_session_id() -> String {
    random_hex(32)
}

/// The stored form of a session id.
pub fn session_hash(id: &str) -> String {
    sm3_hex(&[b"session:", id.as_bytes()])
}

/// The stored form of a phone number (the account key and the link to petitions).
pub fn phone_hash(phone: &PhoneNumber) -> String {
    sm3_hex(&[b"phone:", phone.as_str().as_bytes()])
}

fn code_hash(phone_hash: &str, code: &str) -> String {
    sm3_hex(&[b"sms:", phone_hash.as_bytes(), b":", code.as_bytes()])
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The longest username.
pub const MAX_USERNAME_LEN: usize = 32;

/// Usernames: 3–32 characters of a–z, 0–9, '.', '_', '-' (stored lowercase).
pub fn parse_username(raw: &str) -> Result<String, FieldError> {
    let u = raw.trim().to_lowercase();
    let ok_chars = u
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !(3..=MAX_USERNAME_LEN).contains(&u.chars().count()) || !ok_chars {
        return Err(FieldError::new(
            "username_invalid",
            format!(
                "用户名应为3到{MAX_USERNAME_LEN}个字符，只能包含小写字母、数字、点、下划线和连字符"
            ),
        ));
    }
    Ok(u)
}

/// Staff roles a membership may hold (petitioner and system are not staff roles).
pub fn parse_staff_roles(raw: &[String]) -> Result<Vec<Role>, FieldError> {
    let mut roles = Vec::new();
    for r in raw
        .iter()
        .flat_map(|r| r.split(','))
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        match Role::parse(r) {
            Some(Role::Petitioner | Role::System) | None => {
                return Err(FieldError::new(
                    "role_unknown",
                    format!(
                        "未知的角色「{r}」：可用 registrar, handler, unit_head, leader, supervisor, proxy, administrator, auditor, analyst"
                    ),
                ));
            }
            Some(role) => {
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
        }
    }
    if roles.is_empty() {
        return Err(FieldError::new("role_required", "请至少指定一个角色"));
    }
    Ok(roles)
}

// ---------------------------------------------------------------------------------------------
// Sessions as the web layer sees them

/// The signed-in user (no secrets).
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserInfo {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub must_change_password: bool,
    pub totp_enrolled: bool,
}

/// A valid staff session.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StaffSession {
    #[serde(skip)]
    pub id_hash: String,
    pub user: UserInfo,
    pub units: Vec<MembershipRecord>,
    pub active_unit: Option<String>,
    pub csrf_token: String,
    /// The second factor is required and has not been passed in this session yet.
    pub mfa_required: bool,
    #[serde(skip)]
    pub expires_at: Option<Instant>,
}

impl StaffSession {
    /// The actor of this session: `user:<id>` with the roles of the active membership.
    pub fn actor(&self) -> Actor {
        let roles = self
            .active_unit
            .as_ref()
            .and_then(|u| self.units.iter().find(|m| &m.unit_id == u))
            .map(|m| {
                m.roles
                    .iter()
                    .filter_map(|r| Role::parse(r))
                    .filter(|r| !matches!(r, Role::Petitioner | Role::System))
                    .collect()
            })
            .unwrap_or_default();
        Actor {
            id: ActorId::new(format!("user:{}", self.user.id)),
            roles,
            unit: self.active_unit.clone().map(UnitId::new),
            oversees_case: false,
            is_case_petitioner: false,
        }
    }

    /// What keeps this session from acting as staff, if anything: a pending second factor or
    /// an initial password that must be changed.
    pub fn blocked(&self) -> Option<AuthError> {
        if self.mfa_required {
            Some(AuthError::MfaRequired)
        } else if self.user.must_change_password {
            Some(AuthError::PasswordChangeRequired)
        } else {
            None
        }
    }
}

/// A new session: the id for the cookie (shown once) and the session.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub session: StaffSession,
}

/// A TOTP enrolment: the secret (for manual entry) and the URI for a QR code.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TotpEnrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

/// What `phone/start` tells the petitioner.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PhoneChallenge {
    pub phone_masked: String,
    pub expires_in_seconds: i64,
}

/// A new petitioner session.
#[derive(Debug, Clone)]
pub struct PetitionerLogin {
    pub id: String,
    pub phone_masked: String,
}

/// A user as an administrator created it, with the generated password if one was made.
#[derive(Debug, Clone)]
pub struct CreatedUser {
    pub user: UserRecord,
    pub generated_password: Option<String>,
}

fn requires_mfa(user: &UserRecord, units: &[MembershipRecord]) -> bool {
    user.totp_secret.is_some()
        || units
            .iter()
            .any(|m| m.roles.iter().any(|r| r == Role::Administrator.as_str()))
}

fn invalid(field: &str, e: FieldError) -> AuthError {
    AuthError::App(AppError::Invalid(vec![(field.to_string(), e)]))
}

impl App {
    fn auth(&self) -> &AuthConfig {
        &self.inner.config.auth
    }

    /// The authentication settings.
    pub fn auth_config(&self) -> &AuthConfig {
        self.auth()
    }

    fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    async fn over_limit(&self, key: &str, rule: RateRule) -> Result<bool, AuthError> {
        let hits = self
            .store()
            .throttle_hit(key, self.now_ms(), rule.window.num_milliseconds())
            .await?;
        Ok(hits > rule.max)
    }

    // ---- login and sessions ----

    /// Logs a user in. `previous` is the session id the client already held, if any: it is
    /// ended, never promoted (session fixation). `ip` keys the per-address limit.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        totp_code: Option<&str>,
        ip: &str,
        previous: Option<&str>,
    ) -> Result<NewSession, AuthError> {
        let uname = username.trim().to_lowercase();
        if let Some(prev) = previous {
            self.store().delete_session(&session_hash(prev)).await?;
        }
        let cfg = self.auth().clone();
        if self
            .over_limit(&format!("login-ip:{ip}"), cfg.login_per_address)
            .await?
            || self
                .over_limit(&format!("login-user:{uname}"), cfg.login_per_username)
                .await?
        {
            tracing::warn!(username = %uname, ip, outcome = "rate_limited", "login refused");
            self.audit_login(&uname, ip, "rate_limited").await;
            return Err(AuthError::RateLimited);
        }
        let now = self.now();
        let Some(user) = self.store().user_by_username(&uname).await? else {
            // Same work and the same answers as for a real user.
            let _ = verify_password(password, dummy_hash().await?).await?;
            let failures = self
                .store()
                .throttle_hit(
                    &format!("login-unknown:{uname}"),
                    now.timestamp_millis(),
                    cfg.lockout.num_milliseconds(),
                )
                .await?;
            tracing::warn!(username = %uname, ip, outcome = "unknown_user", "login failed");
            self.audit_login(&uname, ip, "failed").await;
            return Err(if failures >= cfg.max_failures {
                AuthError::Locked(now + cfg.lockout)
            } else {
                AuthError::LoginFailed
            });
        };
        if let Some(until) = user.locked_until_ms
            && until > now.timestamp_millis()
        {
            tracing::warn!(user_id = %user.id, ip, outcome = "locked", "login refused");
            self.audit_login(&uname, ip, "locked").await;
            return Err(AuthError::Locked(huiyin_store::from_ms(until)?));
        }
        let password_ok = verify_password(password, &user.password_hash).await?;
        if !password_ok || user.disabled {
            return Err(self
                .login_failure(&user, ip, "bad_password_or_disabled")
                .await?);
        }
        let units = self.store().memberships(&user.id).await?;
        let needs_mfa = requires_mfa(&user, &units);
        let mut mfa_passed = !needs_mfa;
        if let (Some(code), Some(secret)) = (totp_code, user.totp_secret.as_deref()) {
            if self.check_totp(&user.id, secret, code).await?.is_ok() {
                mfa_passed = true;
            } else {
                return Err(self.login_failure(&user, ip, "bad_totp").await?);
            }
        }
        self.store().record_login_success(&user.id).await?;
        // Housekeeping rides on logins: expired sessions, old counters and codes go.
        if let Err(e) = self.purge_sessions().await {
            tracing::warn!(error = %e, "cannot purge expired sessions");
        }
        let id = new_session_id();
        let record = SessionRecord {
            id_hash: session_hash(&id),
            user_id: user.id.clone(),
            active_unit_id: units.first().map(|m| m.unit_id.clone()),
            csrf_token: random_hex(32),
            created_at_ms: now.timestamp_millis(),
            last_seen_at_ms: now.timestamp_millis(),
            absolute_expires_at_ms: (now + cfg.absolute_timeout).timestamp_millis(),
            mfa_passed,
        };
        self.store().insert_session(&record).await?;
        tracing::info!(user_id = %user.id, username = %uname, ip, mfa_passed, outcome = "success", "login");
        self.audit_login(&uname, ip, "success").await;
        Ok(NewSession {
            id,
            session: build_session(&record, &user, units, needs_mfa),
        })
    }

    /// Counts a failure and answers it (locking the user when the count is reached).
    async fn login_failure(
        &self,
        user: &UserRecord,
        ip: &str,
        why: &str,
    ) -> Result<AuthError, AuthError> {
        let cfg = self.auth();
        let until = self.now() + cfg.lockout;
        let locked = self
            .store()
            .record_login_failure(&user.id, cfg.max_failures, until.timestamp_millis())
            .await?;
        tracing::warn!(user_id = %user.id, username = %user.username, ip, outcome = why, locked = locked.is_some(), "login failed");
        if locked.is_some() {
            self.store().delete_user_sessions(&user.id, None).await?;
            self.audit_login(&user.username, ip, "locked").await;
            Ok(AuthError::Locked(until))
        } else {
            self.audit_login(&user.username, ip, "failed").await;
            Ok(AuthError::LoginFailed)
        }
    }

    /// Writes a login event to the audit trail (next to the tracing log). A failure to write
    /// it is logged, never turned into a failed login.
    async fn audit_login(&self, username: &str, ip: &str, outcome: &str) {
        let entry = huiyin_store::AuditEntry {
            at_ms: self.now_ms(),
            actor: format!("login:{username}"),
            actor_unit: None,
            action: format!("login_{outcome}"),
            case_id: None,
            detail: serde_json::json!({ "username": username, "ip": ip }).to_string(),
        };
        if let Err(e) = self.store().append_audit(&entry).await {
            tracing::error!(error = %e, username, "cannot write the login to the audit trail");
        }
    }

    /// Checks a TOTP code against `secret` and claims its step (no replay).
    /// `Ok(Err(reason))` for a wrong or replayed code.
    async fn check_totp(
        &self,
        user_id: &str,
        secret: &str,
        code: &str,
    ) -> Result<Result<(), String>, AuthError> {
        let Some(key) = totp::base32_decode(secret) else {
            return Err(AuthError::App(AppError::Internal(anyhow::anyhow!(
                "stored TOTP secret of {user_id} is not base32"
            ))));
        };
        let Some(step) = totp::matching_step(&key, code, self.now().timestamp()) else {
            return Ok(Err("动态口令不正确，请输入验证器上当前显示的6位数字".into()));
        };
        if !self.store().claim_totp_step(user_id, step).await? {
            return Ok(Err("该动态口令已经用过，请等待验证器显示下一个口令".into()));
        }
        Ok(Ok(()))
    }

    /// The session behind a cookie value, if it is still valid (and marks it used).
    pub async fn session(&self, id: &str) -> Result<StaffSession, AuthError> {
        let expired = || AuthError::Unauthenticated("登录已过期或已退出，请重新登录".into());
        let hash = session_hash(id);
        let Some(record) = self.store().session(&hash).await? else {
            return Err(expired());
        };
        let now = self.now_ms();
        let cfg = self.auth();
        if now >= record.absolute_expires_at_ms
            || now - record.last_seen_at_ms > cfg.idle_timeout.num_milliseconds()
        {
            self.store().delete_session(&hash).await?;
            tracing::info!(user_id = %record.user_id, "session expired");
            return Err(expired());
        }
        let Some(user) = self.store().user_by_id(&record.user_id).await? else {
            self.store().delete_session(&hash).await?;
            return Err(expired());
        };
        if user.disabled {
            self.store().delete_session(&hash).await?;
            return Err(expired());
        }
        // Write at most once a minute per session, not on every request.
        if now - record.last_seen_at_ms >= 60_000 {
            self.store().touch_session(&hash, now).await?;
        }
        let units = self.store().memberships(&user.id).await?;
        let needs_mfa = requires_mfa(&user, &units);
        Ok(build_session(&record, &user, units, needs_mfa))
    }

    /// Ends a session (logout). Unknown ids are ignored.
    pub async fn logout(&self, id: &str) -> Result<(), AuthError> {
        self.store().delete_session(&session_hash(id)).await?;
        tracing::info!("logout");
        Ok(())
    }

    /// Switches the session's active unit (the unit switcher). The session gets a new id.
    pub async fn switch_unit(&self, id: &str, unit_id: &str) -> Result<NewSession, AuthError> {
        let session = self.session(id).await?;
        if let Some(blocked) = session.blocked() {
            return Err(blocked);
        }
        if !session.units.iter().any(|m| m.unit_id == unit_id) {
            return Err(AuthError::App(AppError::Forbidden(format!(
                "您不是单位 {unit_id} 的成员，不能切换到该单位"
            ))));
        }
        let new_id = new_session_id();
        let csrf = random_hex(32);
        if !self
            .store()
            .rotate_session(
                &session.id_hash,
                &session_hash(&new_id),
                &csrf,
                Some(unit_id),
                self.now_ms(),
            )
            .await?
        {
            return Err(AuthError::Unauthenticated("登录已过期，请重新登录".into()));
        }
        tracing::info!(user_id = %session.user.id, unit_id, "active unit switched");
        let session = self.session(&new_id).await?;
        Ok(NewSession {
            id: new_id,
            session,
        })
    }

    /// Changes the password of the session's user; ends the user's other sessions.
    pub async fn change_password(
        &self,
        id: &str,
        current: &str,
        new: &str,
        ip: &str,
    ) -> Result<StaffSession, AuthError> {
        let session = self.session(id).await?;
        if session.mfa_required {
            return Err(AuthError::MfaRequired);
        }
        let Some(user) = self.store().user_by_id(&session.user.id).await? else {
            return Err(AuthError::Unauthenticated("用户不存在".into()));
        };
        if !verify_password(current, &user.password_hash).await? {
            let err = self
                .login_failure(&user, ip, "bad_current_password")
                .await?;
            return Err(match err {
                AuthError::LoginFailed => invalid(
                    "current_password",
                    FieldError::new("current_password_wrong", "当前密码不正确"),
                ),
                other => other,
            });
        }
        check_password_policy(&user.username, new).map_err(AuthError::PasswordPolicy)?;
        if current == new {
            return Err(AuthError::PasswordPolicy(vec![FieldError::new(
                "password_unchanged",
                "新密码不能与当前密码相同",
            )]));
        }
        let hash = hash_password(new).await?;
        self.store()
            .set_password(&user.id, &hash, false, self.now_ms())
            .await?;
        let ended = self
            .store()
            .delete_user_sessions(&user.id, Some(&session.id_hash))
            .await?;
        tracing::info!(user_id = %user.id, other_sessions_ended = ended, "password changed");
        self.session(id).await
    }

    /// Starts (or restarts) TOTP enrolment for the session's user. A user who already has a
    /// second factor must pass it in this session before enrolling a new one.
    pub async fn totp_enrol(&self, id: &str) -> Result<TotpEnrolment, AuthError> {
        let session = self.session(id).await?;
        if session.user.totp_enrolled && session.mfa_required {
            return Err(AuthError::MfaRequired);
        }
        let mut key = [0u8; 20];
        rand::rng().fill(&mut key[..]);
        let secret = totp::base32_encode(&key);
        self.store()
            .set_totp_pending(&session.user.id, Some(&secret))
            .await?;
        tracing::info!(user_id = %session.user.id, "TOTP enrolment started");
        Ok(TotpEnrolment {
            otpauth_uri: totp::otpauth_uri(TOTP_ISSUER, &session.user.username, &secret),
            secret,
        })
    }

    /// The enrolment the sign-in page shows: the pending secret when one was issued already
    /// (so a mistyped code does not change the secret the person has just added to their
    /// authenticator), else a new one ([`App::totp_enrol`]).
    pub async fn totp_enrolment(&self, id: &str) -> Result<TotpEnrolment, AuthError> {
        let session = self.session(id).await?;
        let user = self.store().user_by_id(&session.user.id).await?;
        if let Some(secret) = user.and_then(|u| u.totp_pending.filter(|_| u.totp_secret.is_none()))
        {
            return Ok(TotpEnrolment {
                otpauth_uri: totp::otpauth_uri(TOTP_ISSUER, &session.user.username, &secret),
                secret,
            });
        }
        self.totp_enrol(id).await
    }

    /// Verifies a TOTP code: confirms a pending enrolment, or passes the second factor of the
    /// session. Wrong codes count towards the lockout.
    pub async fn totp_verify(
        &self,
        id: &str,
        code: &str,
        ip: &str,
    ) -> Result<StaffSession, AuthError> {
        let session = self.session(id).await?;
        let Some(user) = self.store().user_by_id(&session.user.id).await? else {
            return Err(AuthError::Unauthenticated("用户不存在".into()));
        };
        let mut last_reason = None;
        if let Some(pending) = user.totp_pending.as_deref() {
            match self.check_totp(&user.id, pending, code).await? {
                Ok(()) => {
                    self.store().confirm_totp(&user.id, pending).await?;
                    self.store()
                        .set_session_mfa_passed(&session.id_hash)
                        .await?;
                    tracing::info!(user_id = %user.id, "TOTP enrolled");
                    return self.session(id).await;
                }
                Err(reason) => last_reason = Some(reason),
            }
        }
        if let Some(secret) = user.totp_secret.as_deref() {
            match self.check_totp(&user.id, secret, code).await? {
                Ok(()) => {
                    self.store()
                        .set_session_mfa_passed(&session.id_hash)
                        .await?;
                    tracing::info!(user_id = %user.id, ip, "second factor passed");
                    return self.session(id).await;
                }
                Err(reason) => last_reason = Some(reason),
            }
        }
        let Some(reason) = last_reason else {
            return Err(AuthError::TotpInvalid(
                "尚未绑定动态口令，请先调用 /api/v1/auth/totp/enrol".into(),
            ));
        };
        match self.login_failure(&user, ip, "bad_totp").await? {
            AuthError::LoginFailed => Err(AuthError::TotpInvalid(reason)),
            other => Err(other),
        }
    }

    // ---- user administration (the CLI) ----

    /// Creates a user with one membership. Without a password, generates one and marks it to
    /// be changed at first login.
    pub async fn add_user(
        &self,
        username: &str,
        display_name: &str,
        unit: &str,
        roles: &[String],
        password: Option<&str>,
    ) -> Result<CreatedUser, AuthError> {
        self.add_user_by(username, display_name, unit, roles, password, None)
            .await
    }

    /// [`App::add_user`], with the audit entry of administrator `by` in the same transaction.
    pub(crate) async fn add_user_by(
        &self,
        username: &str,
        display_name: &str,
        unit: &str,
        roles: &[String],
        password: Option<&str>,
        by: Option<&Actor>,
    ) -> Result<CreatedUser, AuthError> {
        let username = parse_username(username).map_err(|e| invalid("username", e))?;
        let display_name = display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 50 {
            return Err(invalid(
                "name",
                FieldError::new("display_name_invalid", "姓名应为1到50个字符"),
            ));
        }
        let roles = parse_staff_roles(roles).map_err(|e| invalid("role", e))?;
        if self.store().unit(unit).await?.is_none() {
            return Err(AuthError::App(AppError::NotFound(format!(
                "单位 {unit} 不存在"
            ))));
        }
        let (password, generated) = match password {
            Some(p) => {
                check_password_policy(&username, p).map_err(AuthError::PasswordPolicy)?;
                (p.to_string(), None)
            }
            None => {
                let p = generate_password();
                (p.clone(), Some(p))
            }
        };
        let now = self.now_ms();
        let user = UserRecord {
            id: uuid::Uuid::now_v7().to_string(),
            username: username.clone(),
            display_name: display_name.to_string(),
            password_hash: hash_password(&password).await?,
            totp_secret: None,
            totp_pending: None,
            totp_last_step: None,
            must_change_password: generated.is_some(),
            failed_logins: 0,
            locked_until_ms: None,
            disabled: false,
            created_at_ms: now,
            password_changed_at_ms: now,
        };
        let names: Vec<String> = roles.iter().map(|r| r.as_str().to_string()).collect();
        let audit = by.map(|a| {
            self.admin_entry(
                a,
                "admin_add_user",
                serde_json::json!({"username": username, "unit": unit, "role": names.join(",")}),
            )
        });
        self.store()
            .change_user(
                &[
                    UserChange::Insert(&user),
                    UserChange::Membership {
                        user_id: &user.id,
                        unit_id: unit,
                        roles: &names,
                    },
                ],
                audit.as_ref(),
            )
            .await?;
        tracing::info!(user_id = %user.id, username = %username, unit, "user added");
        Ok(CreatedUser {
            user,
            generated_password: generated,
        })
    }

    async fn user_named(&self, username: &str) -> Result<UserRecord, AuthError> {
        let u = username.trim().to_lowercase();
        self.store()
            .user_by_username(&u)
            .await?
            .ok_or_else(|| AuthError::App(AppError::NotFound(format!("用户 {u} 不存在"))))
    }

    /// Adds roles to a user's membership of a unit (creating it). Returns the roles there.
    pub async fn grant(
        &self,
        username: &str,
        unit: &str,
        roles: &[String],
    ) -> Result<Vec<String>, AuthError> {
        self.grant_by(username, unit, roles, None).await
    }

    /// [`App::grant`], with the audit entry of administrator `by` in the same transaction.
    pub(crate) async fn grant_by(
        &self,
        username: &str,
        unit: &str,
        roles: &[String],
        by: Option<&Actor>,
    ) -> Result<Vec<String>, AuthError> {
        let user = self.user_named(username).await?;
        let add = parse_staff_roles(roles).map_err(|e| invalid("role", e))?;
        if self.store().unit(unit).await?.is_none() {
            return Err(AuthError::App(AppError::NotFound(format!(
                "单位 {unit} 不存在"
            ))));
        }
        let mut current = self
            .store()
            .memberships(&user.id)
            .await?
            .into_iter()
            .find(|m| m.unit_id == unit)
            .map(|m| m.roles)
            .unwrap_or_default();
        for r in add {
            if !current.iter().any(|c| c == r.as_str()) {
                current.push(r.as_str().to_string());
            }
        }
        let audit = by.map(|a| {
            self.admin_entry(
                a,
                "admin_grant_role",
                serde_json::json!({"username": user.username, "unit": unit, "role": roles.join(","), "roles_now": current}),
            )
        });
        self.store()
            .change_user(
                &[UserChange::Membership {
                    user_id: &user.id,
                    unit_id: unit,
                    roles: &current,
                }],
                audit.as_ref(),
            )
            .await?;
        tracing::info!(user_id = %user.id, unit, roles = %current.join(","), "roles granted");
        Ok(current)
    }

    /// Removes roles (or, with none given, the whole membership) of a user in a unit.
    pub async fn revoke(
        &self,
        username: &str,
        unit: &str,
        roles: &[String],
    ) -> Result<Vec<String>, AuthError> {
        self.revoke_by(username, unit, roles, None).await
    }

    /// [`App::revoke`], with the audit entry of administrator `by` in the same transaction.
    pub(crate) async fn revoke_by(
        &self,
        username: &str,
        unit: &str,
        roles: &[String],
        by: Option<&Actor>,
    ) -> Result<Vec<String>, AuthError> {
        let user = self.user_named(username).await?;
        let current = self
            .store()
            .memberships(&user.id)
            .await?
            .into_iter()
            .find(|m| m.unit_id == unit)
            .map(|m| m.roles)
            .ok_or_else(|| {
                AuthError::App(AppError::NotFound(format!(
                    "用户 {} 不是单位 {unit} 的成员",
                    user.username
                )))
            })?;
        let remaining: Vec<String> = if roles.is_empty() {
            Vec::new()
        } else {
            let remove = parse_staff_roles(roles).map_err(|e| invalid("role", e))?;
            current
                .into_iter()
                .filter(|c| !remove.iter().any(|r| r.as_str() == c))
                .collect()
        };
        let audit = by.map(|a| {
            self.admin_entry(
                a,
                "admin_revoke_role",
                serde_json::json!({"username": user.username, "unit": unit, "role": roles.join(","), "roles_now": remaining}),
            )
        });
        let mut changes = vec![UserChange::Membership {
            user_id: &user.id,
            unit_id: unit,
            roles: &remaining,
        }];
        if by.is_some() {
            changes.push(UserChange::AdministratorRemains);
        }
        self.store().change_user(&changes, audit.as_ref()).await?;
        tracing::info!(user_id = %user.id, unit, roles = %remaining.join(","), "roles revoked");
        Ok(remaining)
    }

    /// Disables (or re-enables) a user; disabling ends every session at once.
    pub async fn set_user_disabled(&self, username: &str, disabled: bool) -> Result<(), AuthError> {
        self.set_user_disabled_by(username, disabled, None).await
    }

    /// [`App::set_user_disabled`], with the audit entry of administrator `by` in the same
    /// transaction.
    pub(crate) async fn set_user_disabled_by(
        &self,
        username: &str,
        disabled: bool,
        by: Option<&Actor>,
    ) -> Result<(), AuthError> {
        let user = self.user_named(username).await?;
        let audit = by.map(|a| {
            self.admin_entry(
                a,
                if disabled {
                    "admin_disable_user"
                } else {
                    "admin_enable_user"
                },
                serde_json::json!({"username": user.username}),
            )
        });
        let mut changes = vec![UserChange::Disabled {
            user_id: &user.id,
            disabled,
        }];
        if disabled {
            changes.push(UserChange::EndSessions {
                user_id: &user.id,
                keep: None,
            });
            if by.is_some() {
                changes.push(UserChange::AdministratorRemains);
            }
        }
        self.store().change_user(&changes, audit.as_ref()).await?;
        tracing::info!(user_id = %user.id, disabled, "user disabled flag set");
        Ok(())
    }

    /// Sets a new password (generated if none given, then to be changed at next login),
    /// clears the lockout and ends the user's sessions. With `reset_totp`, also removes the
    /// second factor (a lost authenticator).
    pub async fn reset_password(
        &self,
        username: &str,
        password: Option<&str>,
        reset_totp: bool,
    ) -> Result<Option<String>, AuthError> {
        self.reset_password_by(username, password, reset_totp, None)
            .await
    }

    /// [`App::reset_password`], with the audit entry of administrator `by` in the same
    /// transaction (never the password).
    pub(crate) async fn reset_password_by(
        &self,
        username: &str,
        password: Option<&str>,
        reset_totp: bool,
        by: Option<&Actor>,
    ) -> Result<Option<String>, AuthError> {
        let user = self.user_named(username).await?;
        let (password, generated) = match password {
            Some(p) => {
                check_password_policy(&user.username, p).map_err(AuthError::PasswordPolicy)?;
                (p.to_string(), None)
            }
            None => {
                let p = generate_password();
                (p.clone(), Some(p))
            }
        };
        let hash = hash_password(&password).await?;
        let audit = by.map(|a| {
            self.admin_entry(
                a,
                "admin_reset_password",
                serde_json::json!({"username": user.username, "reset_totp": reset_totp}),
            )
        });
        let mut changes = vec![UserChange::Password {
            user_id: &user.id,
            hash: &hash,
            must_change: generated.is_some(),
            now_ms: self.now_ms(),
        }];
        if reset_totp {
            changes.push(UserChange::ClearTotp { user_id: &user.id });
        }
        changes.push(UserChange::EndSessions {
            user_id: &user.id,
            keep: None,
        });
        self.store().change_user(&changes, audit.as_ref()).await?;
        tracing::info!(user_id = %user.id, reset_totp, "password reset");
        Ok(generated)
    }

    // ---- petitioners: phone verification ----

    fn parse_mobile(raw: &str) -> Result<PhoneNumber, AuthError> {
        let phone = PhoneNumber::parse(raw).map_err(|e| invalid("phone", e))?;
        if phone.as_str().len() != 11 || !phone.as_str().starts_with('1') {
            return Err(invalid(
                "phone",
                FieldError::new(
                    "phone_not_mobile",
                    "只能用手机号接收验证码，例如 13812345678",
                ),
            ));
        }
        Ok(phone)
    }

    /// Sends a 6-digit code to a mobile number (rate-limited per phone and per address).
    pub async fn phone_start(
        &self,
        raw_phone: &str,
        ip: &str,
    ) -> Result<PhoneChallenge, AuthError> {
        let phone = Self::parse_mobile(raw_phone)?;
        let ph = phone_hash(&phone);
        let cfg = self.auth().clone();
        if self
            .over_limit(&format!("sms-ip:{ip}"), cfg.sms_per_address)
            .await?
            || self
                .over_limit(&format!("sms-phone:{ph}"), cfg.sms_per_phone)
                .await?
        {
            tracing::warn!(phone = %phone.masked(), ip, "SMS code refused: rate limit");
            return Err(AuthError::RateLimited);
        }
        let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
        let expires = self.now() + cfg.sms_code_ttl;
        self.store()
            .put_sms_code(&ph, &code_hash(&ph, &code), expires.timestamp_millis())
            .await?;
        let minutes = cfg.sms_code_ttl.num_minutes().max(1);
        let text = format!(
            "【回音】您的验证码是{code}，{minutes}分钟内有效。如非本人操作，请忽略本短信。"
        );
        if let Err(e) = self.inner.config.sms.send(phone.as_str(), &text).await {
            tracing::error!(phone = %phone.masked(), error = %e, "SMS sending failed");
            self.store().delete_sms_code(&ph).await?;
            return Err(AuthError::SmsUnavailable(
                "短信暂时无法发送，请稍后再试或使用受理凭证编号和查询密码查询".into(),
            ));
        }
        tracing::info!(phone = %phone.masked(), ip, "SMS code sent");
        Ok(PhoneChallenge {
            phone_masked: phone.masked(),
            expires_in_seconds: cfg.sms_code_ttl.num_seconds(),
        })
    }

    /// Checks the code and opens a petitioner session for the phone's account.
    pub async fn phone_verify(
        &self,
        raw_phone: &str,
        code: &str,
        ip: &str,
    ) -> Result<PetitionerLogin, AuthError> {
        let phone = Self::parse_mobile(raw_phone)?;
        let ph = phone_hash(&phone);
        let cfg = self.auth().clone();
        let now = self.now();
        let Some(stored) = self.store().sms_code(&ph).await? else {
            return Err(AuthError::CodeInvalid(
                "验证码不正确或已失效，请重新获取".into(),
            ));
        };
        if stored.expires_at_ms <= now.timestamp_millis() {
            self.store().delete_sms_code(&ph).await?;
            return Err(AuthError::CodeInvalid("验证码已过期，请重新获取".into()));
        }
        if stored.attempts >= cfg.sms_max_attempts {
            self.store().delete_sms_code(&ph).await?;
            return Err(AuthError::CodeAttemptsExceeded);
        }
        if !ct_eq(&code_hash(&ph, code.trim()), &stored.code_hash) {
            let attempts = self.store().bump_sms_attempts(&ph).await?;
            tracing::warn!(phone = %phone.masked(), ip, attempts, "SMS code wrong");
            if attempts >= cfg.sms_max_attempts {
                self.store().delete_sms_code(&ph).await?;
                return Err(AuthError::CodeAttemptsExceeded);
            }
            return Err(AuthError::CodeInvalid("验证码不正确".into()));
        }
        if !self.store().delete_sms_code(&ph).await? {
            // Someone else used the same code a moment earlier.
            return Err(AuthError::CodeInvalid("验证码已使用，请重新获取".into()));
        }
        let account = self
            .store()
            .petitioner_account(&ph, &phone.masked(), now.timestamp_millis())
            .await?;
        let id = new_session_id();
        self.store()
            .insert_petitioner_session(&PetitionerSessionRecord {
                id_hash: session_hash(&id),
                account_id: account.clone(),
                created_at_ms: now.timestamp_millis(),
                last_seen_at_ms: now.timestamp_millis(),
                absolute_expires_at_ms: (now + cfg.petitioner_absolute_timeout).timestamp_millis(),
            })
            .await?;
        tracing::info!(account_id = %account, phone = %phone.masked(), ip, "petitioner signed in by SMS");
        Ok(PetitionerLogin {
            id,
            phone_masked: phone.masked(),
        })
    }

    /// The account behind a petitioner session, if still valid.
    pub async fn petitioner_account(&self, id: &str) -> Result<String, AuthError> {
        let expired = || AuthError::Unauthenticated("验证已过期，请重新获取短信验证码".into());
        let hash = session_hash(id);
        let Some(s) = self.store().petitioner_session(&hash).await? else {
            return Err(expired());
        };
        let now = self.now_ms();
        if now >= s.absolute_expires_at_ms
            || now - s.last_seen_at_ms > self.auth().petitioner_idle_timeout.num_milliseconds()
        {
            self.store().delete_petitioner_session(&hash).await?;
            return Err(expired());
        }
        if now - s.last_seen_at_ms >= 60_000 {
            self.store().touch_petitioner_session(&hash, now).await?;
        }
        Ok(s.account_id)
    }

    /// The petitions submitted with the session's phone, newest first.
    pub async fn my_petitions(&self, id: &str) -> Result<Vec<PetitionerCase>, AuthError> {
        let account = self.petitioner_account(id).await?;
        let mut cases = self.store().petitioner_cases(&account).await?;
        for c in &mut cases {
            if let Ok(r) = ReceiptCode::parse(&c.receipt) {
                c.receipt = r.display();
            }
        }
        Ok(cases)
    }

    pub async fn petitioner_logout(&self, id: &str) -> Result<(), AuthError> {
        self.store()
            .delete_petitioner_session(&session_hash(id))
            .await?;
        Ok(())
    }

    // ---- API token scopes ----

    /// Creates a token limited to `scopes` (see [`SCOPES`]).
    pub async fn create_scoped_token(
        &self,
        name: &str,
        unit: Option<&str>,
        roles: &[Role],
        valid_days: Option<u32>,
        scopes: &[String],
    ) -> Result<String, AppError> {
        for s in scopes {
            if !SCOPES.contains(&s.as_str()) {
                return Err(AppError::invalid(
                    "scope",
                    "scope_unknown",
                    format!("未知的令牌权限范围「{s}」：可用 {}", SCOPES.join(", ")),
                ));
            }
        }
        let token = self.create_token(name, unit, roles, valid_days).await?;
        if !scopes.is_empty() {
            self.store()
                .set_token_scopes(&secrets::token_hash(&token), Some(scopes))
                .await?;
        }
        Ok(token)
    }

    /// The actor behind a bearer token and its scopes (`None`: no scope limit).
    pub async fn authenticate_token_scoped(
        &self,
        token: &str,
    ) -> Result<(Actor, Option<Vec<String>>), AppError> {
        let actor = self.authenticate_token(token).await?;
        let scopes = self
            .store()
            .token_scopes(&secrets::token_hash(token))
            .await?;
        Ok((actor, scopes))
    }

    /// Removes expired sessions and petitioner sessions, old rate-limit windows and expired
    /// SMS codes (run at every successful login).
    pub async fn purge_sessions(&self) -> Result<u64, AppError> {
        let now = self.now_ms();
        let idle = self
            .auth()
            .idle_timeout
            .max(self.auth().petitioner_idle_timeout);
        Ok(self
            .store()
            .purge_sessions(now, now - idle.num_milliseconds())
            .await?)
    }
}

/// Scopes an API token may be limited to.
pub const SCOPES: &[&str] = &[
    "cases:read",
    "cases:write",
    "petitions:submit",
    "units:read",
    "units:write",
];

fn build_session(
    record: &SessionRecord,
    user: &UserRecord,
    units: Vec<MembershipRecord>,
    needs_mfa: bool,
) -> StaffSession {
    StaffSession {
        id_hash: record.id_hash.clone(),
        user: UserInfo {
            id: user.id.clone(),
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            must_change_password: user.must_change_password,
            totp_enrolled: user.totp_secret.is_some(),
        },
        // A membership revoked during the session takes its unit (and roles) with it.
        active_unit: record
            .active_unit_id
            .clone()
            .filter(|u| units.iter().any(|m| &m.unit_id == u)),
        units,
        csrf_token: record.csrf_token.clone(),
        mfa_required: needs_mfa && !record.mfa_passed,
        expires_at: huiyin_store::from_ms(record.absolute_expires_at_ms).ok(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn totp_matches_rfc6238_vectors() {
        // RFC 6238 appendix B, SHA-1 key "12345678901234567890", 8 digits there; the 6-digit
        // codes are the last six digits of those.
        let key = b"12345678901234567890";
        assert_eq!(totp::code_at(key, totp::step_of(59)), "287082");
        assert_eq!(totp::code_at(key, totp::step_of(1_111_111_109)), "081804");
        assert_eq!(totp::code_at(key, totp::step_of(1_234_567_890)), "005924");
        assert_eq!(totp::code_at(key, totp::step_of(2_000_000_000)), "279037");
    }

    #[test]
    fn totp_accepts_one_step_of_drift_only() {
        let key = b"12345678901234567890";
        let t = 1_234_567_890;
        let now = totp::code_at(key, totp::step_of(t));
        let prev = totp::code_at(key, totp::step_of(t) - 1);
        let old = totp::code_at(key, totp::step_of(t) - 2);
        assert_eq!(totp::matching_step(key, &now, t), Some(totp::step_of(t)));
        assert_eq!(
            totp::matching_step(key, &prev, t),
            Some(totp::step_of(t) - 1)
        );
        assert_eq!(totp::matching_step(key, &old, t), None);
        assert_eq!(totp::matching_step(key, "12345", t), None);
        assert_eq!(totp::matching_step(key, "abcdef", t), None);
    }

    #[test]
    fn base32_round_trips() {
        assert_eq!(totp::base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(totp::base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(totp::base32_decode("mzxw 6ytb oi").unwrap(), b"foobar");
        assert!(totp::base32_decode("MZ1W").is_none());
    }

    #[test]
    fn password_policy_names_each_broken_rule() {
        let codes = |u: &str, p: &str| -> Vec<&'static str> {
            check_password_policy(u, p)
                .err()
                .unwrap_or_default()
                .iter()
                .map(|e| e.code)
                .collect()
        };
        assert_eq!(codes("zhang", "Ab1"), vec!["password_too_short"]);
        assert_eq!(codes("zhang", "abcdefghijklmn"), vec!["password_one_class"]);
        assert_eq!(
            codes("zhangsan", "zhangsan2025!"),
            vec!["password_contains_username"]
        );
        assert_eq!(codes("zhang", "Password1234"), vec!["password_common"]);
        assert!(codes("zhang", "Correct-Horse-7").is_empty());
        assert!(check_password_policy("x", &generate_password()).is_ok());
    }

    #[test]
    fn usernames_and_roles_parse() {
        assert_eq!(parse_username(" Zhang.San ").unwrap(), "zhang.san");
        assert!(parse_username("张三").is_err());
        assert!(parse_username("ab").is_err());
        assert_eq!(
            parse_staff_roles(&["handler,unit_head".into()]).unwrap(),
            vec![Role::Handler, Role::UnitHead]
        );
        assert!(parse_staff_roles(&["petitioner".into()]).is_err());
        assert!(parse_staff_roles(&[]).is_err());
    }
}
