-- Early warning (预警, issue 8): what a scan of the statistics counters, the recent petitions'
-- texts and the petitioners' open matters flags — a spike of one category at one place, a
-- possible group petition, a petitioner repeating unresolved matters, a unit whose rates fall.
-- `dedup_key` names the subject and its period, so a re-scan refreshes the open warning
-- instead of adding a second one; acknowledged warnings are kept as they were.
CREATE TABLE warnings (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    dedup_key       TEXT NOT NULL UNIQUE,
    region          TEXT NOT NULL,
    unit_id         TEXT,
    category        TEXT,
    window_from     TEXT NOT NULL,
    window_to       TEXT NOT NULL,
    figures         TEXT NOT NULL,
    case_ids        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    status          TEXT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at BIGINT,
    note            TEXT
);
CREATE INDEX warnings_region ON warnings(region, status, created_at);
CREATE INDEX warnings_unit ON warnings(unit_id, status, created_at);

-- A broadcast sent about a warning records which one it was.
ALTER TABLE broadcasts ADD COLUMN warning_id TEXT;

-- The early-warning scan reads the petitions received in its window (group signals, repeat
-- petitioners, the cases behind a spike) by date.
CREATE INDEX cases_received ON cases(received_at);
