-- The national organisation tree: GB/T 2260 regions, unit levels and departments, and the
-- history of every unit (added, renamed, merged, retired). A unit row is never deleted: old
-- cases keep pointing at the unit that handled them; a merged unit names its successor.

CREATE TABLE regions (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL,
    parent_code TEXT,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX regions_parent ON regions(parent_code);

ALTER TABLE units ADD COLUMN level TEXT NOT NULL DEFAULT 'other';
ALTER TABLE units ADD COLUMN department TEXT;
ALTER TABLE units ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE units ADD COLUMN retired_at BIGINT;
ALTER TABLE units ADD COLUMN successor_id TEXT;
ALTER TABLE units ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;

UPDATE units SET level = 'nation' WHERE region_code = '0';
UPDATE units SET level = 'province' WHERE length(region_code) = 2;
UPDATE units SET level = 'city' WHERE length(region_code) = 4;
UPDATE units SET level = 'county' WHERE length(region_code) = 6;
UPDATE units SET level = 'township' WHERE length(region_code) = 9;

CREATE INDEX units_kind_level ON units(kind, level);

CREATE TABLE unit_history (
    id      TEXT PRIMARY KEY,
    unit_id TEXT NOT NULL,
    at_ms   BIGINT NOT NULL,
    change  TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX unit_history_unit ON unit_history(unit_id, at_ms);
