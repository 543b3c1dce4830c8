-- Each case's events as chunks of 64 wire records, written with the events in the same
-- transaction: a derived copy of `events` for reading a whole case in a few rows (see
-- crates/store/src/event_log.rs). `events` stays the record the hash chain covers; the chunks
-- of the events already stored are built by the migration's backfill.
CREATE TABLE event_chunks (
    case_id TEXT NOT NULL,
    chunk   BIGINT NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (case_id, chunk)
);
