-- Authentication: staff users and their unit memberships, server-side sessions, login throttles,
-- phone-verified petitioner accounts, and scopes on API tokens. Same portable conventions as
-- 0001: times are BIGINT milliseconds (UTC), flags BIGINT 0/1, hashes lowercase hex TEXT.

-- Staff users. `password_hash` is an argon2id PHC string. `totp_secret` is the confirmed TOTP
-- secret (base32; encrypted at rest by the access part later), `totp_pending` one being enrolled,
-- `totp_last_step` the last accepted 30 s step (a code is never accepted twice).
CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    username             TEXT NOT NULL UNIQUE,
    display_name         TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    totp_secret          TEXT,
    totp_pending         TEXT,
    totp_last_step       BIGINT,
    must_change_password BIGINT NOT NULL,
    failed_logins        BIGINT NOT NULL,
    locked_until         BIGINT,
    disabled             BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    password_changed_at  BIGINT NOT NULL
);

-- A user's roles in a unit: comma-separated role names (huiyin_domain::case::Role).
CREATE TABLE memberships (
    user_id TEXT NOT NULL REFERENCES users(id),
    unit_id TEXT NOT NULL REFERENCES units(id),
    roles   TEXT NOT NULL,
    PRIMARY KEY (user_id, unit_id)
);

-- Staff sessions. Only the SM3 digest of the 256-bit session id is stored.
CREATE TABLE sessions (
    id_hash             TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users(id),
    active_unit_id      TEXT,
    csrf_token          TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    last_seen_at        BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    mfa_passed          BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Fixed-window counters for rate limits (login per address and per username, SMS per phone
-- and per address, failures of unknown usernames). Kept in the database so several server
-- processes share them and tests can drive them with the application clock.
CREATE TABLE auth_throttle (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL
);

-- Petitioners who proved a phone number by SMS. The phone is kept only as a digest and masked.
CREATE TABLE petitioner_accounts (
    id           TEXT PRIMARY KEY,
    phone_hash   TEXT NOT NULL UNIQUE,
    phone_masked TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

-- Which petitions belong to an account: linked when a petition naming that phone is submitted.
CREATE TABLE petitioner_cases (
    account_id TEXT NOT NULL REFERENCES petitioner_accounts(id),
    case_id    TEXT NOT NULL,
    PRIMARY KEY (account_id, case_id)
);

-- The one outstanding SMS code per phone (SM3 digest of the code), with its attempts.
CREATE TABLE sms_codes (
    phone_hash TEXT PRIMARY KEY,
    code_hash  TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts   BIGINT NOT NULL
);

-- Petitioner sessions (cookie huiyin_petitioner), apart from staff sessions.
CREATE TABLE petitioner_sessions (
    id_hash             TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES petitioner_accounts(id),
    created_at          BIGINT NOT NULL,
    last_seen_at        BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL
);

-- Token scopes: comma-separated (cases:read, cases:write, petitions:submit, …). NULL keeps a
-- token's old meaning: everything its roles allow.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT;
