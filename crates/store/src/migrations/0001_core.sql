-- Huiyin core schema. Portable between SQLite and PostgreSQL: times are BIGINT milliseconds
-- since the Unix epoch (UTC), flags are BIGINT 0/1, hashes are lowercase hex TEXT, JSON is TEXT.

CREATE TABLE units (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    region_code TEXT NOT NULL,
    parent_id   TEXT REFERENCES units(id),
    created_at  BIGINT NOT NULL
);
CREATE INDEX units_region ON units(region_code, kind);
CREATE INDEX units_parent ON units(parent_id);

-- The head of the global hash chain: one row. Writers lock it for the length of their
-- transaction, which gives every event a place in one total order that equals commit order.
CREATE TABLE chain_head (
    id   BIGINT PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO chain_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- The record: every event of every case, append-only, hash-chained with SM3.
CREATE TABLE events (
    seq        BIGINT PRIMARY KEY,
    case_id    TEXT NOT NULL,
    version    BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    at_ms      BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    actor_unit TEXT,
    payload    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    UNIQUE (case_id, version)
);

-- The case projection, written in the same transaction as its events.
CREATE TABLE cases (
    id                TEXT PRIMARY KEY,
    province          TEXT NOT NULL,
    receipt           TEXT NOT NULL UNIQUE,
    secret_hash       TEXT NOT NULL,
    version           BIGINT NOT NULL,
    stage             TEXT NOT NULL,
    is_open           BIGINT NOT NULL,
    bureau_id         TEXT NOT NULL,
    current_unit_id   TEXT NOT NULL,
    handling_unit_id  TEXT,
    region            TEXT NOT NULL,
    channel           TEXT NOT NULL,
    class             TEXT,
    category          TEXT,
    title             TEXT NOT NULL,
    petitioner_masked TEXT,
    received_at       BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    next_due_kind     TEXT,
    next_due_at       BIGINT NOT NULL,
    yellow_at         BIGINT NOT NULL,
    state             TEXT NOT NULL
);
-- A unit's work list: open cases by urgency, keyset-paginated on (next_due_at, id).
CREATE INDEX cases_unit_queue ON cases(current_unit_id, is_open, next_due_at, id);
CREATE INDEX cases_bureau ON cases(bureau_id, received_at);

-- Personal data, apart from the event log (masked everywhere else; encrypted in a later
-- migration). The event log keeps only an SM3 digest of it.
CREATE TABLE personal_data (
    case_id TEXT PRIMARY KEY,
    data    TEXT NOT NULL,
    digest  TEXT NOT NULL
);

-- A double submit with the same idempotency key returns the first receipt.
CREATE TABLE submissions (
    idempotency_key TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL,
    sealed_secret   TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

-- API tokens for machine clients: only the SM3 of the token is stored.
CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    unit_id    TEXT REFERENCES units(id),
    roles      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

INSERT INTO units (id, name, kind, region_code, parent_id, created_at)
VALUES ('0-xfj', '国家信访局', 'petition_bureau', '0', NULL, 0);
