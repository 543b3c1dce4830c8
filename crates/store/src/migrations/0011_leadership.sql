-- The leader's view (领导): which leaders are in personal charge of which case (包案), and
-- which cases a leader has instructed (阅批), so that each list of the view is one scoped
-- query instead of a read per case. Both follow the case's events in the write transaction.
CREATE TABLE case_charges (
    case_id    TEXT NOT NULL REFERENCES cases(id),
    leader_id  TEXT NOT NULL,
    unit_id    TEXT,
    since_ms   BIGINT NOT NULL,
    PRIMARY KEY (case_id, leader_id)
);
CREATE INDEX case_charges_leader ON case_charges(leader_id, case_id);
CREATE TABLE case_instructed (
    case_id       TEXT PRIMARY KEY REFERENCES cases(id),
    instructions  BIGINT NOT NULL
);
-- Cases instructed before this table existed.
INSERT INTO case_instructed (case_id, instructions)
    SELECT case_id, COUNT(*) FROM events WHERE kind = 'instructed' GROUP BY case_id;
