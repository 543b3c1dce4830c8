-- Settings administrators set for the whole deployment (issue 8): the statistics indicator
-- configuration (huiyin_domain::stats::IndicatorConfig, name 'indicator_config') and the
-- early-warning thresholds (huiyin_domain::warning::WarningPolicy, name 'warning_policy'),
-- each as its validated JSON, with who changed it and when. No row: the start-up default
-- applies. Same conventions as 0006: times are BIGINT milliseconds (UTC); every change is
-- audited in the same transaction.
CREATE TABLE rule_settings (
    name       TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
