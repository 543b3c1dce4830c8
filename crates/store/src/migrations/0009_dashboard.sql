-- Dashboards (issue 8): live figures over open cases without reading the case rows.
-- Open cases by deadline with the yellow-light time in the index, so the nation's red and
-- yellow counts are a covering range count (the region queues serve smaller areas).
CREATE INDEX cases_open_due ON cases(is_open, next_due_at, yellow_at);
-- Cases of a place by the day they came in, for the cases behind a figure (drill-down).
CREATE INDEX cases_region_received ON cases(region, received_at);
-- 督办 orders by when they were issued, for the annual report's count (Art. 41).
CREATE INDEX events_supervision ON events(at_ms) WHERE kind = 'supervision_issued';
