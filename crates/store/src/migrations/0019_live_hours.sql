-- Live counts of open cases as counters (issue 8, see crates/store/src/live.rs): per area
-- ('r:0' the nation, 'r:<province|city|county code>', 'u:<unit id>'), how many open cases
-- fall due (kind 0, next_due_at) and turn yellow (kind 1, yellow_at) in each hour (ms / 3.6e6).
-- Derived by the statistics feeder with the other counters; `stat_cases.live` holds the mark
-- each case was counted with, so the feeder subtracts exactly what it added.
CREATE TABLE live_hours (
    area  TEXT NOT NULL,
    kind  BIGINT NOT NULL,
    hour  BIGINT NOT NULL,
    n     BIGINT NOT NULL,
    PRIMARY KEY (area, kind, hour)
);
ALTER TABLE stat_cases ADD COLUMN live TEXT;
-- The current hour's yellow cases are counted from the cases: a narrow range of this index.
CREATE INDEX cases_open_yellow ON cases(is_open, yellow_at);
-- The operations view: overdue open cases by the unit that must act, read from the index alone
-- (the unit added to it), and the stalled open cases as a range of (is_open, updated_at)
-- instead of a visit to every open case's row.
DROP INDEX cases_open_due;
CREATE INDEX cases_open_due ON cases(is_open, next_due_at, yellow_at, current_unit_id);
CREATE INDEX cases_open_updated ON cases(is_open, updated_at);
-- Counters built before this migration have no live marks: count again from the start.
DELETE FROM stat_counters;
DELETE FROM stat_cases;
UPDATE stat_feed SET seq = 0 WHERE id = 1;
