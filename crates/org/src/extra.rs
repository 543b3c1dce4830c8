//! A deployment's own units from CSV (`id,name,kind,region,parent[,department]`), checked as a
//! whole before anything is written: every problem is reported with its line number.

use std::collections::{HashMap, HashSet};

use huiyin_domain::values::RegionCode;

use crate::plan::{TreeProblem, UnitSpec, order_parents_first};
use crate::{Level, OrgError, UnitKind};

/// The longest unit id and name accepted.
pub const MAX_ID_LEN: usize = 64;
pub const MAX_NAME_CHARS: usize = 100;

/// The header a units file must start with (`department` is optional).
pub const HEADER: [&str; 5] = ["id", "name", "kind", "region", "parent"];

/// One rejected line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number in the file (the header is line 1).
    pub line: usize,
    /// A stable code: `csv_malformed`, `unit_id_invalid`, `unit_name_invalid`,
    /// `unit_kind_unknown`, `region_code_invalid`, `region_unknown`, `parent_missing`,
    /// `unit_duplicate`, `unit_cycle`.
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "第{}行：{}（{}）", self.line, self.message, self.code)
    }
}

/// A row that parsed, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvUnit {
    pub line: usize,
    pub unit: UnitSpec,
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Splits one CSV record (RFC 4180 quoting, no line breaks inside fields).
fn split_record(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            fields.push(std::mem::take(&mut field));
            at_start = true;
        } else {
            field.push(c);
            at_start = false;
        }
    }
    if quoted {
        return Err("引号没有闭合".into());
    }
    fields.push(field);
    Ok(fields)
}

/// Parses the file; collects every line's problems rather than stopping at the first.
pub fn parse_csv(text: &str) -> Result<Vec<CsvUnit>, OrgError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut lines = text.lines().enumerate();
    let header: Vec<String> = match lines.next() {
        Some((_, h)) => split_record(h.trim_end_matches('\r'))
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.trim().to_ascii_lowercase())
            .collect(),
        None => Vec::new(),
    };
    let with_department = header.len() == 6 && header[5] == "department";
    if header[..header.len().min(5)] != HEADER || !(header.len() == 5 || with_department) {
        return Err(OrgError::Lines(vec![LineError {
            line: 1,
            code: "csv_malformed",
            message: "第一行应为表头 id,name,kind,region,parent（可选第六列 department）".into(),
        }]));
    }
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in lines {
        let line = i + 1;
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() {
            continue;
        }
        let mut err = |code: &'static str, message: String| {
            errors.push(LineError {
                line,
                code,
                message,
            })
        };
        let fields = match split_record(raw) {
            Ok(f) => f,
            Err(m) => {
                err("csv_malformed", m);
                continue;
            }
        };
        if fields.len() != header.len() {
            err(
                "csv_malformed",
                format!("应有{}列，实际{}列", header.len(), fields.len()),
            );
            continue;
        }
        let f: Vec<&str> = fields.iter().map(|s| s.trim()).collect();
        let (id, name, kind, region, parent) = (f[0], f[1], f[2], f[3], f[4]);
        let department = f.get(5).copied().filter(|d| !d.is_empty());
        let mut ok = true;
        if !valid_id(id) {
            err(
                "unit_id_invalid",
                format!("单位编号 `{id}` 无效：只能用字母、数字、- 和 _，最长{MAX_ID_LEN}个字符"),
            );
            ok = false;
        } else if let Some(first) = first_seen.get(id) {
            err("unit_duplicate", format!("单位编号 {id} 与第{first}行重复"));
            ok = false;
        } else {
            first_seen.insert(id.to_string(), line);
        }
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS {
            err(
                "unit_name_invalid",
                format!("单位名称不能为空，且不超过{MAX_NAME_CHARS}个字"),
            );
            ok = false;
        }
        let kind = match UnitKind::parse(kind) {
            Some(k) => Some(k),
            None => {
                let known: Vec<&str> = UnitKind::ALL.iter().map(|k| k.as_str()).collect();
                err(
                    "unit_kind_unknown",
                    format!("单位类型 `{kind}` 未知，应为 {} 之一", known.join("、")),
                );
                None
            }
        };
        if let (Some(k), Some(d)) = (kind, department)
            && k != UnitKind::Department
        {
            err(
                "unit_kind_unknown",
                format!("只有 department 类型的单位可以填写 department（本行为 {d}）"),
            );
            ok = false;
        }
        let level = match RegionCode::parse(region) {
            Ok(_) => Level::of_code(region),
            Err(e) => {
                err("region_code_invalid", format!("{}：`{region}`", e.message));
                None
            }
        };
        if parent.is_empty() {
            err(
                "parent_missing",
                "上级单位不能为空（顶层是 0-gov 国务院）".into(),
            );
            ok = false;
        } else if !valid_id(parent) {
            err("unit_id_invalid", format!("上级单位编号 `{parent}` 无效"));
            ok = false;
        }
        if let (true, Some(kind), Some(level)) = (ok, kind, level) {
            rows.push(CsvUnit {
                line,
                unit: UnitSpec {
                    id: id.to_string(),
                    name: name.to_string(),
                    kind,
                    department: department.map(str::to_string),
                    level,
                    region: region.to_string(),
                    parent: Some(parent.to_string()),
                },
            });
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(OrgError::Lines(errors))
    }
}

/// Checks parsed rows against what exists: every region known, every parent in the file or
/// in the database, no cycle through the file's rows (an existing unit the file re-parents
/// counts with its new parent). `existing_parent(id)` is `None` if no such unit exists and
/// `Some(parent)` otherwise. Returns the units parents-first.
pub fn validate(
    rows: Vec<CsvUnit>,
    region_exists: impl Fn(&str) -> bool,
    existing_parent: impl Fn(&str) -> Option<Option<String>>,
) -> Result<Vec<UnitSpec>, OrgError> {
    let mut errors = Vec::new();
    let in_file: HashMap<&str, &CsvUnit> = rows.iter().map(|r| (r.unit.id.as_str(), r)).collect();
    let parent_of = |id: &str| -> Option<Option<String>> {
        match in_file.get(id) {
            Some(r) => Some(r.unit.parent.clone()),
            None => existing_parent(id),
        }
    };
    for row in &rows {
        let u = &row.unit;
        if !region_exists(&u.region) {
            errors.push(LineError {
                line: row.line,
                code: "region_unknown",
                message: format!(
                    "行政区划代码 {} 不在已导入的区划中（先运行 huiyin org import）",
                    u.region
                ),
            });
        }
        let Some(parent) = &u.parent else { continue };
        if parent_of(parent).is_none() {
            errors.push(LineError {
                line: row.line,
                code: "parent_missing",
                message: format!("上级单位 {parent} 既不在文件中也不在数据库中"),
            });
            continue;
        }
        // Walk up from the unit; meeting it again, or any unit twice, is a cycle.
        let mut seen: HashSet<String> = HashSet::new();
        seen.insert(u.id.clone());
        let mut at = Some(parent.clone());
        while let Some(id) = at {
            if !seen.insert(id.clone()) {
                errors.push(LineError {
                    line: row.line,
                    code: "unit_cycle",
                    message: format!("单位 {} 的上级关系形成了环（经过 {id}）", u.id),
                });
                break;
            }
            at = parent_of(&id).flatten();
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(OrgError::Lines(errors));
    }
    let lines: HashMap<String, usize> = rows.iter().map(|r| (r.unit.id.clone(), r.line)).collect();
    let units: Vec<UnitSpec> = rows.into_iter().map(|r| r.unit).collect();
    order_parents_first(units, |p| existing_parent(p).is_some()).map_err(|p| {
        let (id, code) = match &p {
            TreeProblem::Duplicate(id) => (id, "unit_duplicate"),
            TreeProblem::MissingParent { id, .. } => (id, "parent_missing"),
            TreeProblem::Cycle(id) => (id, "unit_cycle"),
        };
        OrgError::Lines(vec![LineError {
            line: lines.get(id).copied().unwrap_or(0),
            code,
            message: p.to_string(),
        }])
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn lines(err: OrgError) -> Vec<(usize, &'static str)> {
        match err {
            OrgError::Lines(v) => v.into_iter().map(|e| (e.line, e.code)).collect(),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn a_good_file_parses_and_orders_parents_first() {
        let text = "\u{feff}id,name,kind,region,parent,department\n\
                    4406-wgj,\"佛山市网格化管理中心, 直属\",department,4406,4406-b,grid\n\
                    4406-b,佛山市某局,department,4406,4406-gov,\n";
        let rows = parse_csv(text).unwrap();
        assert_eq!(rows[0].unit.name, "佛山市网格化管理中心, 直属");
        assert_eq!(rows[0].line, 2);
        let units = validate(
            rows,
            |r| r == "4406",
            |id| (id == "4406-gov").then(|| Some("44-gov".to_string())),
        )
        .unwrap();
        let ids: Vec<&str> = units.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["4406-b", "4406-wgj"]);
        assert_eq!(units[1].level, Level::City);
        assert_eq!(units[1].department.as_deref(), Some("grid"));
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let text = "id,name,kind,region,parent\n\
                    a,甲,department,4406,4406-gov\n\
                    a,乙,department,4406,4406-gov\n\
                    b c,丙,department,4406,4406-gov\n\
                    d,丁,ministry,4406,4406-gov\n\
                    e,戊,court,44x6,4406-gov\n\
                    f,己,court,4406\n\
                    g,,court,4406,4406-gov\n\
                    h,\"庚,court,4406,4406-gov\n\
                    i,辛,court,4406,\n";
        assert_eq!(
            lines(parse_csv(text).unwrap_err()),
            [
                (3, "unit_duplicate"),
                (4, "unit_id_invalid"),
                (5, "unit_kind_unknown"),
                (6, "region_code_invalid"),
                (7, "csv_malformed"),
                (8, "unit_name_invalid"),
                (9, "csv_malformed"),
                (10, "parent_missing"),
            ]
        );
        assert_eq!(
            lines(parse_csv("id;name\n").unwrap_err()),
            [(1, "csv_malformed")]
        );
        assert_eq!(lines(parse_csv("").unwrap_err()), [(1, "csv_malformed")]);
    }

    #[test]
    fn unknown_regions_missing_parents_and_cycles_are_rejected() {
        let text = "id,name,kind,region,parent\n\
                    x,甲,department,4406,y\n\
                    y,乙,department,4406,x\n\
                    z,丙,department,9901,nowhere\n\
                    w,丁,department,4406,4406-gov\n";
        let rows = parse_csv(text).unwrap();
        let err = validate(
            rows,
            |r| r == "4406",
            |id| (id == "4406-gov").then_some(None),
        )
        .unwrap_err();
        assert_eq!(
            lines(err),
            [
                (2, "unit_cycle"),
                (3, "unit_cycle"),
                (4, "region_unknown"),
                (4, "parent_missing"),
            ]
        );
        // Re-parenting an existing unit under its own new child is a cycle too.
        let text = "id,name,kind,region,parent\n\
                    old,甲,department,4406,new\n\
                    new,乙,department,4406,old\n";
        let err = validate(
            parse_csv(text).unwrap(),
            |_| true,
            |id| (id == "old").then(|| Some("4406-gov".into())),
        )
        .unwrap_err();
        assert_eq!(lines(err)[0].1, "unit_cycle");
    }
}
