-- Access (issue 3): the units on each case for scoped queries, the region index for subtree
-- queries, explicit clearances for whistleblower data, and the hash-chained audit trail.

-- Every unit that has a part in a case (receiving bureau, current, handling and routed units,
-- review units), maintained in the same transaction as the case projection, with the case's
-- open flag and next deadline copied so "open cases my unit is on, most urgent first" is one
-- ordered index range: (unit_id, is_open, next_due_at, case_id).
CREATE TABLE case_units (
    case_id     TEXT NOT NULL,
    unit_id     TEXT NOT NULL,
    is_open     BIGINT NOT NULL,
    next_due_at BIGINT NOT NULL,
    PRIMARY KEY (case_id, unit_id)
);
CREATE INDEX case_units_queue ON case_units(unit_id, is_open, next_due_at, case_id);

-- Cases written before this migration: the units the projection names (routed and review
-- units are added when the case next changes).
INSERT INTO case_units (case_id, unit_id, is_open, next_due_at)
SELECT id, bureau_id, is_open, next_due_at FROM cases
UNION SELECT id, current_unit_id, is_open, next_due_at FROM cases
UNION SELECT id, handling_unit_id, is_open, next_due_at FROM cases WHERE handling_unit_id IS NOT NULL;

-- A petition bureau or leader sees its region's subtree. The case's region at each level
-- (province exists already; city = 4 digits, county = 6) makes "open cases in my subtree, most
-- urgent first" an ordered index range by equality; the full code serves townships and the
-- general range query `region >= $lo AND region < $hi` (never LIKE).
ALTER TABLE cases ADD COLUMN region_city TEXT;
ALTER TABLE cases ADD COLUMN region_county TEXT;
UPDATE cases SET region_city = SUBSTR(region, 1, 4) WHERE LENGTH(region) >= 4;
UPDATE cases SET region_county = SUBSTR(region, 1, 6) WHERE LENGTH(region) >= 6;
CREATE INDEX cases_region_queue ON cases(region, is_open, next_due_at, id);
CREATE INDEX cases_county_queue ON cases(region_county, is_open, next_due_at, id);
CREATE INDEX cases_city_queue ON cases(region_city, is_open, next_due_at, id);
CREATE INDEX cases_province_queue ON cases(province, is_open, next_due_at, id);

-- 检举控告 (Art. 30): people explicitly cleared to see the petitioner of a case.
CREATE TABLE clearances (
    actor_id   TEXT NOT NULL,
    case_id    TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    at_ms      BIGINT NOT NULL,
    PRIMARY KEY (actor_id, case_id)
);

-- The audit trail (等保 2.0 security audit): every read of personal data, every refused
-- attempt, every clearance and key rotation. Append-only and hash-chained with SM3 like the
-- event log: hash = SM3(prev_hash || canonical(entry)). Kept at least six months; the
-- application has no code path that deletes or updates a row.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    actor_unit TEXT,
    action     TEXT NOT NULL,
    case_id    TEXT,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_case ON audit_log(case_id, seq);

-- The head of the audit chain: one row, locked by every audit append.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
