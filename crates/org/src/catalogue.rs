//! Which units every region gets, per level: a default in code, replaceable by a JSON file.
//!
//! JSON shape (the default printed by `Catalogue::default().to_json()`):
//! `{"levels": {"nation": [{"suffix": "gov", "kind": "government", "name": "国务院",
//! "parent": "none"}, …], "province": […], "city": […], "county": […], "township": […]}}`.
//! A unit's id is `{region code}-{suffix}`. `name` may use `{prefix}` (the region's full name,
//! e.g. 广东省佛山市) and `{seat}` (人民政府 for a 镇/乡, 办事处 for a 街道); `municipal_name`, if
//! given, replaces `name` for a province-level municipality (北京市, 天津市, 上海市, 重庆市).
//! `parent` is `none`, a suffix of the same region (`gov`), or `up:` and a suffix of the region
//! above (`up:gov`).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::{Level, OrgError, UnitKind};

/// Where a unit hangs in the tree, relative to its region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ParentRef {
    /// A root (only the nation's government).
    None,
    /// Another unit of the same region, by suffix.
    Same(String),
    /// A unit of the region above, by suffix.
    Up(String),
}

impl TryFrom<String> for ParentRef {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let v = value.trim();
        if v == "none" {
            return Ok(ParentRef::None);
        }
        let (up, suffix) = match v.strip_prefix("up:") {
            Some(s) => (true, s),
            None => (false, v),
        };
        if !valid_suffix(suffix) {
            return Err(format!(
                "上级单位写法 `{value}` 无效：应为 none、同级后缀（如 gov）或 up:后缀（如 up:gov）"
            ));
        }
        Ok(if up {
            ParentRef::Up(suffix.to_string())
        } else {
            ParentRef::Same(suffix.to_string())
        })
    }
}

impl From<ParentRef> for String {
    fn from(value: ParentRef) -> String {
        match value {
            ParentRef::None => "none".into(),
            ParentRef::Same(s) => s,
            ParentRef::Up(s) => format!("up:{s}"),
        }
    }
}

/// One unit every region of a level gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitTemplate {
    /// The id suffix: the unit is `{region}-{suffix}`. Lowercase ASCII letters, digits, `_`.
    pub suffix: String,
    pub kind: UnitKind,
    /// The field of a functional department (stable code, e.g. `housing`); none otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipal_name: Option<String>,
    pub parent: ParentRef,
}

/// The catalogue: the unit templates of every level, in creation order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    pub levels: BTreeMap<Level, Vec<UnitTemplate>>,
}

/// The longest allowed suffix.
pub const MAX_SUFFIX_LEN: usize = 16;

fn valid_suffix(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SUFFIX_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// (suffix, department code, nation, province, municipality, city, county)
type DeptRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// The functional departments (职能部门) of the default catalogue. An empty nation name means
/// the nation has no such unit (城管 is a local function).
const DEPARTMENTS: &[DeptRow] = &[
    (
        "ga",
        "public_security",
        "公安部",
        "公安厅",
        "公安局",
        "公安局",
        "公安局",
    ),
    (
        "zj",
        "housing",
        "住房和城乡建设部",
        "住房和城乡建设厅",
        "住房和城乡建设委员会",
        "住房和城乡建设局",
        "住房和城乡建设局",
    ),
    (
        "rs",
        "human_resources",
        "人力资源和社会保障部",
        "人力资源和社会保障厅",
        "人力资源和社会保障局",
        "人力资源和社会保障局",
        "人力资源和社会保障局",
    ),
    (
        "jy",
        "education",
        "教育部",
        "教育厅",
        "教育委员会",
        "教育局",
        "教育局",
    ),
    (
        "wj",
        "health",
        "国家卫生健康委员会",
        "卫生健康委员会",
        "卫生健康委员会",
        "卫生健康局",
        "卫生健康局",
    ),
    (
        "sthj",
        "ecology",
        "生态环境部",
        "生态环境厅",
        "生态环境局",
        "生态环境局",
        "生态环境局",
    ),
    (
        "jt",
        "transport",
        "交通运输部",
        "交通运输厅",
        "交通委员会",
        "交通运输局",
        "交通运输局",
    ),
    (
        "sj",
        "market_regulation",
        "国家市场监督管理总局",
        "市场监督管理局",
        "市场监督管理局",
        "市场监督管理局",
        "市场监督管理局",
    ),
    (
        "zr",
        "natural_resources",
        "自然资源部",
        "自然资源厅",
        "规划和自然资源委员会",
        "自然资源局",
        "自然资源局",
    ),
    (
        "mz",
        "civil_affairs",
        "民政部",
        "民政厅",
        "民政局",
        "民政局",
        "民政局",
    ),
    (
        "nn",
        "agriculture",
        "农业农村部",
        "农业农村厅",
        "农业农村局",
        "农业农村局",
        "农业农村局",
    ),
    (
        "cg",
        "urban_management",
        "",
        "城市管理和综合执法局",
        "城市管理委员会",
        "城市管理和综合执法局",
        "城市管理和综合执法局",
    ),
];

fn template(
    suffix: &str,
    kind: UnitKind,
    department: Option<&str>,
    name: String,
    parent: ParentRef,
) -> UnitTemplate {
    UnitTemplate {
        suffix: suffix.into(),
        kind,
        department: department.map(str::to_string),
        name,
        municipal_name: None,
        parent,
    }
}

impl Default for Catalogue {
    /// The default: at every level from the nation to the county, the people's government
    /// (人民政府; 国务院 at the top) under the government above, and under it the petition
    /// bureau (信访局), the twelve functional departments, 纪委监委, the court and the
    /// procuratorate; at a township its 信访办 under the county government.
    fn default() -> Self {
        let gov = || ParentRef::Same("gov".into());
        let mut levels = BTreeMap::new();
        for level in [Level::Nation, Level::Province, Level::City, Level::County] {
            let nation = level == Level::Nation;
            let p = |s: &str| {
                if nation {
                    s.to_string()
                } else {
                    format!("{{prefix}}{s}")
                }
            };
            let mut units = vec![
                template(
                    "gov",
                    UnitKind::Government,
                    None,
                    if nation {
                        "国务院".into()
                    } else {
                        p("人民政府")
                    },
                    if nation {
                        ParentRef::None
                    } else {
                        ParentRef::Up("gov".into())
                    },
                ),
                template(
                    "xfj",
                    UnitKind::PetitionBureau,
                    None,
                    if nation {
                        "国家信访局".into()
                    } else {
                        p("信访局")
                    },
                    gov(),
                ),
            ];
            for (suffix, dept, n, prov, muni, city, county) in DEPARTMENTS {
                let name = match level {
                    Level::Nation => *n,
                    Level::Province => *prov,
                    Level::City => *city,
                    _ => *county,
                };
                if name.is_empty() {
                    continue;
                }
                let mut t = template(suffix, UnitKind::Department, Some(dept), p(name), gov());
                if level == Level::Province && muni != prov {
                    t.municipal_name = Some(p(muni));
                }
                units.push(t);
            }
            let (jw, fy, jcy) = match level {
                Level::Nation => ("中央纪委国家监委", "最高人民法院", "最高人民检察院"),
                Level::Province => ("纪委监委", "高级人民法院", "人民检察院"),
                Level::City => ("纪委监委", "中级人民法院", "人民检察院"),
                _ => ("纪委监委", "人民法院", "人民检察院"),
            };
            units.push(template("jw", UnitKind::Discipline, None, p(jw), gov()));
            units.push(template("fy", UnitKind::Court, None, p(fy), gov()));
            units.push(template(
                "jcy",
                UnitKind::Procuratorate,
                None,
                p(jcy),
                gov(),
            ));
            levels.insert(level, units);
        }
        levels.insert(
            Level::Township,
            vec![template(
                "office",
                UnitKind::TownshipOffice,
                None,
                "{prefix}{seat}信访办".into(),
                ParentRef::Up("gov".into()),
            )],
        );
        Catalogue { levels }
    }
}

impl Catalogue {
    /// Reads and checks a catalogue from JSON.
    pub fn from_json(text: &str) -> Result<Catalogue, OrgError> {
        let catalogue: Catalogue = serde_json::from_str(text)
            .map_err(|e| OrgError::Catalogue(format!("JSON 格式错误：{e}")))?;
        catalogue.check()?;
        Ok(catalogue)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The templates of one level (empty if the level has none).
    pub fn templates(&self, level: Level) -> &[UnitTemplate] {
        self.levels.get(&level).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Checks suffixes, names and that every parent reference names a template that exists
    /// and forms no cycle.
    pub fn check(&self) -> Result<(), OrgError> {
        let bad = |m: String| Err(OrgError::Catalogue(m));
        for level in Level::ALL {
            let templates = self.templates(level);
            let mut by_suffix: HashMap<&str, &UnitTemplate> = HashMap::new();
            for t in templates {
                if !valid_suffix(&t.suffix) {
                    return bad(format!(
                        "{} 级的后缀 `{}` 无效（只能用小写字母、数字和下划线，最多{MAX_SUFFIX_LEN}个字符）",
                        level.as_str(),
                        t.suffix
                    ));
                }
                if by_suffix.insert(&t.suffix, t).is_some() {
                    return bad(format!("{} 级的后缀 `{}` 重复", level.as_str(), t.suffix));
                }
                if t.name.trim().is_empty() {
                    return bad(format!("{} 级 `{}` 没有名称", level.as_str(), t.suffix));
                }
                if (t.kind == UnitKind::Department) != t.department.is_some() {
                    return bad(format!(
                        "{} 级 `{}`：职能部门（department）必须且只有它需要填写 department 代码",
                        level.as_str(),
                        t.suffix
                    ));
                }
            }
            for t in templates {
                match &t.parent {
                    ParentRef::None => {}
                    ParentRef::Same(s) => {
                        if !by_suffix.contains_key(s.as_str()) {
                            return bad(format!(
                                "{} 级 `{}` 的上级 `{s}` 不在同级目录中",
                                level.as_str(),
                                t.suffix
                            ));
                        }
                        // Follow same-level references: they must end at a root or `up:`.
                        let mut at = t;
                        for _ in 0..=templates.len() {
                            match &at.parent {
                                ParentRef::Same(next) => match by_suffix.get(next.as_str()) {
                                    Some(n) => at = n,
                                    None => break,
                                },
                                _ => break,
                            }
                        }
                        if matches!(at.parent, ParentRef::Same(_)) {
                            return bad(format!(
                                "{} 级 `{}` 的上级关系形成了环",
                                level.as_str(),
                                t.suffix
                            ));
                        }
                    }
                    ParentRef::Up(s) => {
                        let above = match level {
                            Level::Nation => None,
                            Level::Province => Some(Level::Nation),
                            Level::City => Some(Level::Province),
                            Level::County => Some(Level::City),
                            Level::Township => Some(Level::County),
                        };
                        let found = above
                            .map(|a| self.templates(a).iter().any(|u| &u.suffix == s))
                            .unwrap_or(false);
                        if !found {
                            return bad(format!(
                                "{} 级 `{}` 的上级 `up:{s}` 在上一级目录中不存在",
                                level.as_str(),
                                t.suffix
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_default_is_valid_and_round_trips_through_json() {
        let c = Catalogue::default();
        c.check().unwrap();
        let again = Catalogue::from_json(&c.to_json()).unwrap();
        assert_eq!(again, c);
        assert_eq!(c.templates(Level::County).len(), 17);
        assert_eq!(c.templates(Level::Nation).len(), 16);
    }

    #[test]
    fn bad_catalogues_are_rejected_with_a_reason() {
        let mut c = Catalogue::default();
        let dup = c.templates(Level::City)[1].clone();
        c.levels.get_mut(&Level::City).unwrap().push(dup);
        assert!(c.check().unwrap_err().to_string().contains("重复"));

        let mut c = Catalogue::default();
        c.levels.get_mut(&Level::City).unwrap()[1].parent = ParentRef::Same("nope".into());
        assert!(c.check().unwrap_err().to_string().contains("nope"));

        let mut c = Catalogue::default();
        c.levels.get_mut(&Level::City).unwrap()[0].parent = ParentRef::Same("xfj".into());
        assert!(c.check().unwrap_err().to_string().contains("环"));

        let mut c = Catalogue::default();
        c.levels.get_mut(&Level::Nation).unwrap()[0].parent = ParentRef::Up("gov".into());
        assert!(c.check().is_err());

        assert!(Catalogue::from_json("{\"levels\": {\"city\": [{\"suffix\": \"A\"}]}}").is_err());
        let err = Catalogue::from_json(
            r#"{"levels": {"nation": [{"suffix": "x", "kind": "court", "name": "n", "parent": "a b"}]}}"#,
        )
        .unwrap_err();
        assert_eq!(err.code(), "org_catalogue_invalid");
    }
}
