-- What the supervisors' lists select on (see crates/store/src/leader.rs): 挂牌督办, open
-- 督办单, a completion report sent back, a 不满意 rating. Written with the projection; the
-- migration's backfill sets them for cases stored before it.
ALTER TABLE cases ADD COLUMN named_supervision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN open_orders BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN sent_back BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN unsatisfied BIGINT NOT NULL DEFAULT 0;
CREATE INDEX cases_named ON cases(next_due_at, id) WHERE named_supervision = 1;
CREATE INDEX cases_open_orders ON cases(next_due_at, id) WHERE open_orders > 0;
CREATE INDEX cases_sent_back ON cases(next_due_at, id) WHERE sent_back = 1;
CREATE INDEX cases_unsatisfied ON cases(next_due_at, id) WHERE unsatisfied = 1;
