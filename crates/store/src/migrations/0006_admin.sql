-- Administration (issue 4, the web pages): the content categories (内容分类, a configurable
-- 3-level taxonomy), deadline-policy overrides per jurisdiction, and the holiday calendar's
-- years as an administrator entered them. Same conventions as 0001: times are BIGINT
-- milliseconds (UTC), flags BIGINT 0/1.

-- Categories. `path` is the names from the first level down joined by '/', e.g.
-- 城乡建设/物业管理: a case records the path it was classified under, and policies match it
-- by prefix. A category cases may use is never deleted, only retired (no longer offered).
CREATE TABLE categories (
    id         TEXT PRIMARY KEY,
    parent_id  TEXT REFERENCES categories(id),
    level      BIGINT NOT NULL,
    name       TEXT NOT NULL,
    path       TEXT NOT NULL UNIQUE,
    retired    BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX categories_parent ON categories(parent_id);

-- The default taxonomy: the first-level classes named in the regulations' practice and a few
-- second-level ones; a deployment loads its own with `huiyin category import`.
INSERT INTO categories (id, parent_id, level, name, path, retired, created_at) VALUES
    ('seed-cx', NULL, 1, '城乡建设', '城乡建设', 0, 0),
    ('seed-hb', NULL, 1, '环境保护', '环境保护', 0, 0),
    ('seed-jt', NULL, 1, '交通运输', '交通运输', 0, 0),
    ('seed-jy', NULL, 1, '教育文体', '教育文体', 0, 0),
    ('seed-ld', NULL, 1, '劳动和社会保障', '劳动和社会保障', 0, 0),
    ('seed-sm', NULL, 1, '商贸旅游', '商贸旅游', 0, 0),
    ('seed-ws', NULL, 1, '卫生计生', '卫生计生', 0, 0),
    ('seed-cx-wy', 'seed-cx', 2, '物业管理', '城乡建设/物业管理', 0, 0),
    ('seed-cx-zs', 'seed-cx', 2, '房屋征收', '城乡建设/房屋征收', 0, 0),
    ('seed-hb-zy', 'seed-hb', 2, '噪声污染', '环境保护/噪声污染', 0, 0),
    ('seed-hb-ws', 'seed-hb', 2, '水污染', '环境保护/水污染', 0, 0),
    ('seed-jt-gj', 'seed-jt', 2, '公共交通', '交通运输/公共交通', 0, 0),
    ('seed-jy-xx', 'seed-jy', 2, '学校管理', '教育文体/学校管理', 0, 0),
    ('seed-ld-qx', 'seed-ld', 2, '拖欠工资', '劳动和社会保障/拖欠工资', 0, 0),
    ('seed-ld-sb', 'seed-ld', 2, '社会保险', '劳动和社会保障/社会保险', 0, 0),
    ('seed-sm-xf', 'seed-sm', 2, '消费维权', '商贸旅游/消费维权', 0, 0),
    ('seed-ws-yl', 'seed-ws', 2, '医疗纠纷', '卫生计生/医疗纠纷', 0, 0);

-- Deadline-policy overrides an administrator set: a region-code prefix ('' = nationwide),
-- a category path prefix ('' = any category), and the limits it changes as the JSON of
-- huiyin_domain::policy::PolicyOverride.
CREATE TABLE policy_overrides (
    region_prefix TEXT NOT NULL,
    category      TEXT NOT NULL,
    body          TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    updated_by    TEXT NOT NULL,
    PRIMARY KEY (region_prefix, category)
);

-- A year of the official holiday calendar as an administrator entered it (e.g. next year's
-- State Council notice), in the calendar text format of huiyin_domain::calendar. It replaces
-- the shipped list of that year.
CREATE TABLE calendar_years (
    year       BIGINT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
