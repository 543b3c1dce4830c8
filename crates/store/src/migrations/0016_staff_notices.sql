-- Notices to staff (工作通知, issue 6): what reaches a person at a unit when a case is routed
-- to the unit, urged (催办), supervised (督办单), circulated (通报), instructed by a leader
-- (阅批) or sent back, or when an administrator broadcasts to a group. One row per person
-- and idempotency key, however often the job that wrote it ran; the row is also that person's
-- delivery record (in the app at `created_at`, read at `read_at`, by e-mail at `emailed_at`
-- or the last e-mail error).

-- A staff member's e-mail address for notices (optional; none is needed to use Huiyin).
ALTER TABLE users ADD COLUMN email TEXT;

CREATE TABLE staff_notices (
    id              TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL REFERENCES users(id),
    unit_id         TEXT,
    case_id         TEXT,
    broadcast_id    TEXT,
    kind            TEXT NOT NULL,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    read_at         BIGINT,
    emailed_at      BIGINT,
    email_error     TEXT
);
CREATE INDEX staff_notices_user ON staff_notices(user_id, created_at);
CREATE INDEX staff_notices_unread ON staff_notices(user_id) WHERE read_at IS NULL;
CREATE INDEX staff_notices_broadcast ON staff_notices(broadcast_id, user_id)
    WHERE broadcast_id IS NOT NULL;

-- Broadcast groups (定向发送群组): everyone with one of `roles` (comma-separated role names,
-- empty for any) in an active unit whose region is `region_code` or inside it, of one of
-- `levels` and `kinds` (comma-separated, empty for any). Members are resolved when a message
-- is sent, so a group follows people as they join and leave units.
CREATE TABLE broadcast_groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    region_code TEXT NOT NULL,
    levels      TEXT NOT NULL,
    kinds       TEXT NOT NULL,
    roles       TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);

-- A message sent to a group: instructions (工作指令), case dynamics (案件动态), assignments
-- (交办) or supervision status (督办情况), optionally about one case.
CREATE TABLE broadcasts (
    id         TEXT PRIMARY KEY,
    group_id   TEXT NOT NULL REFERENCES broadcast_groups(id),
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    case_id    TEXT,
    sent_by    TEXT NOT NULL,
    sent_at    BIGINT NOT NULL
);
CREATE INDEX broadcasts_sent ON broadcasts(sent_at);

-- 包案 progress reminders: the last reminder period (whole `reminder interval`s since the
-- leader took charge) a leader was reminded of, per case. Kept apart from `case_charges`,
-- which the writer rewrites with every change of charge.
CREATE TABLE charge_reminders (
    case_id   TEXT NOT NULL,
    leader_id TEXT NOT NULL,
    period    BIGINT NOT NULL,
    at_ms     BIGINT NOT NULL,
    PRIMARY KEY (case_id, leader_id)
);

-- The 通报 list: circulars by date (a partial index, so it costs nothing for other events).
CREATE INDEX events_circulated ON events(at_ms) WHERE kind = 'circulated';

-- 回访 still to be made: the earliest due date of a case's open follow-ups (0: none), kept by
-- the projection like the supervisors' flags of migration 15 (no case had a follow-up before).
ALTER TABLE cases ADD COLUMN follow_up_due BIGINT NOT NULL DEFAULT 0;
CREATE INDEX cases_follow_up ON cases(follow_up_due, id) WHERE follow_up_due > 0;
