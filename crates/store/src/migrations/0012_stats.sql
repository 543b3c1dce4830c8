-- Statistics counters (issue 8, 形势网上判): additive counters per target (a region prefix
-- `r:…` or a unit `u:…`), day and key, derived from the event log by a feeder (see
-- huiyin_domain::stats and docs/stats.md). `day` is the China-time date as yyyymmdd; a month's
-- roll-up row has day yyyymm00, so a long period reads one row per month.
CREATE TABLE stat_counters (
    target  TEXT NOT NULL,
    day     BIGINT NOT NULL,
    key     TEXT NOT NULL,
    value   BIGINT NOT NULL,
    PRIMARY KEY (target, day, key)
);
-- The version of each case the counters include, so the feeder subtracts exactly what it added.
CREATE TABLE stat_cases (
    case_id  TEXT PRIMARY KEY,
    version  BIGINT NOT NULL
);
-- How far into the event log the counters are (one row).
CREATE TABLE stat_feed (
    id   BIGINT PRIMARY KEY,
    seq  BIGINT NOT NULL
);
INSERT INTO stat_feed (id, seq) VALUES (1, 0);
