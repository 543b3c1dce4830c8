-- The statistics rebuild reads the cases in the order they were received (keyset on
-- (received_at, id)), so the counter rows one pass builds in memory are mostly those of a few
-- weeks of days and each is written about once. The index serves the old `received_at` ranges too.
DROP INDEX cases_received;
CREATE INDEX cases_received ON cases(received_at, id);
