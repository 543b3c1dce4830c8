//! The GB/T 2260 divisions: parsing the shipped file and selecting one province.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::{Level, OrgError};

/// The shipped divisions (see `scripts/gen_regions.py` for the format).
const EMBEDDED: &str = include_str!("../data/regions.txt");

/// The code and name of the nation, the root of the tree.
pub const NATION_CODE: &str = "0";
pub const NATION_NAME: &str = "中华人民共和国";

/// City-level entries that stand for "the districts/counties directly under a municipality or
/// a province" (市辖区, 县, 省直辖县级行政区划). They are real GB/T 2260 entries and are kept, but
/// their names are not place names, so unit names skip them (see [`Region::is_placeholder`]).
const PLACEHOLDER_NAMES: &[&str] = &[
    "市辖区",
    "县",
    "省直辖县级行政区划",
    "自治区直辖县级行政区划",
];

/// One administrative division.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub code: String,
    pub name: String,
    pub level: Level,
    /// The region above ("0" above a province, none above the nation).
    pub parent: Option<String>,
}

impl Region {
    /// A city-level grouping entry whose name is not a place name (市辖区, 县, 省直辖县级行政区划).
    pub fn is_placeholder(&self) -> bool {
        self.level == Level::City && PLACEHOLDER_NAMES.contains(&self.name.as_str())
    }
}

/// A set of divisions in tree order (every region after its parent), starting with the nation.
#[derive(Debug, Clone)]
pub struct Divisions {
    regions: Vec<Region>,
    index: HashMap<String, usize>,
}

impl Divisions {
    /// The shipped national divisions, parsed once.
    pub fn embedded() -> Result<&'static Divisions, OrgError> {
        static PARSED: OnceLock<Result<Divisions, (usize, String)>> = OnceLock::new();
        match PARSED.get_or_init(|| {
            Divisions::parse(EMBEDDED).map_err(|e| match e {
                OrgError::Divisions { line, message } => (line, message),
                other => (0, other.to_string()),
            })
        }) {
            Ok(d) => Ok(d),
            Err((line, message)) => Err(OrgError::Divisions {
                line: *line,
                message: message.clone(),
            }),
        }
    }

    /// Parses the `regions.txt` format: `CODE<TAB>NAME` lines in tree order; 2-, 4- and 6-digit
    /// codes are full codes, a 3-digit code is a township under the last county line.
    pub fn parse(text: &str) -> Result<Divisions, OrgError> {
        let mut regions = vec![Region {
            code: NATION_CODE.into(),
            name: NATION_NAME.into(),
            level: Level::Nation,
            parent: None,
        }];
        let mut index = HashMap::new();
        index.insert(NATION_CODE.to_string(), 0);
        let mut county: Option<String> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let bad = |message: String| OrgError::Divisions { line, message };
            if raw.trim().is_empty() || raw.starts_with('#') {
                continue;
            }
            let (code, name) = raw
                .split_once('\t')
                .ok_or_else(|| bad("缺少制表符分隔的代码和名称".into()))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(bad(format!("代码 {code} 没有名称")));
            }
            if !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("代码 {code} 不是数字")));
            }
            let code = match code.len() {
                2 | 4 | 6 => code.to_string(),
                3 => match &county {
                    Some(c) => format!("{c}{code}"),
                    None => return Err(bad(format!("乡镇代码 {code} 之前没有县级行")))?,
                },
                _ => return Err(bad(format!("代码 {code} 的位数不对"))),
            };
            let level = Level::of_code(&code).ok_or_else(|| bad(format!("代码 {code} 无效")))?;
            let parent = Level::parent_code(&code).map(str::to_string);
            if let Some(p) = &parent
                && !index.contains_key(p)
            {
                return Err(bad(format!("{code} 的上级 {p} 不在它之前")));
            }
            if index.contains_key(&code) {
                return Err(bad(format!("代码 {code} 重复")));
            }
            if level == Level::County {
                county = Some(code.clone());
            }
            index.insert(code.clone(), regions.len());
            regions.push(Region {
                code,
                name: name.to_string(),
                level,
                parent,
            });
        }
        Ok(Divisions { regions, index })
    }

    /// All regions, parents before children, the nation first.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    pub fn get(&self, code: &str) -> Option<&Region> {
        self.index.get(code).map(|i| &self.regions[*i])
    }

    pub fn contains(&self, code: &str) -> bool {
        self.index.contains_key(code)
    }

    /// The nation plus one province and everything below it.
    pub fn province(&self, code: &str) -> Result<Divisions, OrgError> {
        let code = code.trim();
        match self.get(code) {
            Some(r) if r.level == Level::Province => {}
            _ => return Err(OrgError::UnknownProvince(code.to_string())),
        }
        let regions: Vec<Region> = self
            .regions
            .iter()
            .filter(|r| r.level == Level::Nation || r.code.starts_with(code))
            .cloned()
            .collect();
        let index = regions
            .iter()
            .enumerate()
            .map(|(i, r)| (r.code.clone(), i))
            .collect();
        Ok(Divisions { regions, index })
    }

    /// How many regions of each level.
    pub fn count(&self, level: Level) -> usize {
        self.regions.iter().filter(|r| r.level == level).count()
    }

    /// The chain from the nation down to `code` (empty if unknown).
    pub fn path(&self, code: &str) -> Vec<&Region> {
        let mut path = Vec::new();
        let mut at = self.get(code);
        while let Some(r) = at {
            path.push(r);
            at = r.parent.as_deref().and_then(|p| self.get(p));
        }
        path.reverse();
        path
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_shipped_tree_has_the_national_counts() {
        let d = Divisions::embedded().unwrap();
        assert_eq!(d.count(Level::Nation), 1);
        assert_eq!(d.count(Level::Province), 31);
        assert_eq!(d.count(Level::City), 342);
        assert_eq!(d.count(Level::County), 2978);
        assert_eq!(d.count(Level::Township), 41352);
        let path: Vec<&str> = d
            .path("440604011")
            .iter()
            .map(|r| r.code.as_str())
            .collect();
        assert_eq!(path, ["0", "44", "4406", "440604", "440604011"]);
        assert_eq!(d.get("4406").unwrap().name, "佛山市");
        assert!(d.get("1101").unwrap().is_placeholder());
    }

    #[test]
    fn one_province_keeps_the_nation_and_its_subtree() {
        let d = Divisions::embedded().unwrap().province("44").unwrap();
        assert_eq!(d.count(Level::Nation), 1);
        assert_eq!(d.count(Level::Province), 1);
        assert_eq!(d.count(Level::City), 21);
        assert!(d.regions().iter().skip(1).all(|r| r.code.starts_with("44")));
        assert!(matches!(
            Divisions::embedded().unwrap().province("99"),
            Err(OrgError::UnknownProvince(_))
        ));
        assert!(Divisions::embedded().unwrap().province("4406").is_err());
    }

    #[test]
    fn malformed_files_name_the_line() {
        let err = Divisions::parse("11\t北京市\n001\t东华门街道\n").unwrap_err();
        assert!(matches!(err, OrgError::Divisions { line: 2, .. }), "{err}");
        let err = Divisions::parse("11\t北京市\n110101\t东城区\n").unwrap_err();
        assert!(matches!(err, OrgError::Divisions { line: 2, .. }), "{err}");
        let err = Divisions::parse("11\t北京市\n11\t北京市\n").unwrap_err();
        assert!(matches!(err, OrgError::Divisions { line: 2, .. }), "{err}");
        let err = Divisions::parse("11 北京市\n").unwrap_err();
        assert!(matches!(err, OrgError::Divisions { line: 1, .. }), "{err}");
    }
}
