-- The job queue and the notification outbox (issue 6). A job is enqueued in the same
-- transaction as the change that causes it (the writer's batch), so a committed change always
-- has its jobs and a rolled-back one never does. Workers claim due jobs (`FOR UPDATE SKIP
-- LOCKED` on PostgreSQL; SQLite has one writer), hold them for a lease, and either finish them,
-- schedule a retry with backoff, or move them to the dead letters after `max_attempts`.
--
-- `due_at` is when the job is next eligible: its run time while `ready`, the end of its lease
-- while `running` (an expired lease makes it claimable again). `attempts` is the fencing token:
-- a worker whose lease was taken over can no longer finish the job.
CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    case_id         TEXT,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    max_attempts    BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    worker          TEXT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs(due_at) WHERE state IN ('ready', 'running');
CREATE INDEX jobs_dead ON jobs(updated_at) WHERE state = 'dead';
CREATE INDEX jobs_case ON jobs(case_id, created_at);

-- Every delivery attempt of a notification, for the case's delivery log.
CREATE TABLE deliveries (
    id         TEXT PRIMARY KEY,
    job_id     TEXT NOT NULL,
    case_id    TEXT,
    channel    TEXT NOT NULL,
    step       TEXT NOT NULL,
    attempt    BIGINT NOT NULL,
    at_ms      BIGINT NOT NULL,
    ok         BIGINT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX deliveries_case ON deliveries(case_id, at_ms);

-- The in-app inbox (站内信) of petitioners with a phone-verified account; one message per
-- idempotency key, however often its job ran.
CREATE TABLE inbox_messages (
    id              TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    phone_hash      TEXT NOT NULL,
    case_id         TEXT NOT NULL,
    step            TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    read_at         BIGINT
);
CREATE INDEX inbox_messages_phone ON inbox_messages(phone_hash, created_at);

-- Notification templates saved by administrators (the built-in ones apply otherwise). Checked
-- when saved: only the step's known placeholders, balanced braces.
CREATE TABLE notice_templates (
    step       TEXT NOT NULL,
    locale     TEXT NOT NULL,
    format     TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (step, locale, format)
);
