-- Deadlines that act (issue 6): each case's next escalation-ladder step (催办, 督办单, 通报)
-- and the instant it is due, written with the case projection. The deadline scan reads the
-- steps due with one range read of `cases_watch`, however many cases are open. A case with
-- nothing more to happen on its own has `watch_at` = i64::MAX. Cases stored before this
-- migration start at 0: the first scan recomputes their step and writes it back.
ALTER TABLE cases ADD COLUMN watch_step TEXT;
ALTER TABLE cases ADD COLUMN watch_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX cases_watch ON cases(watch_at, id);
