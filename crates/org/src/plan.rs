//! Divisions × catalogue → the regions and units to load, every unit after its parent.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, ParentRef};
use crate::divisions::{Divisions, Region};
use crate::{Level, OrgError, UnitKind};

/// One unit to load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitSpec {
    pub id: String,
    pub name: String,
    pub kind: UnitKind,
    pub department: Option<String>,
    pub level: Level,
    pub region: String,
    pub parent: Option<String>,
}

/// What an import loads: regions in tree order and units parents-first.
#[derive(Debug, Clone, Default)]
pub struct OrgPlan {
    pub regions: Vec<Region>,
    pub units: Vec<UnitSpec>,
}

impl OrgPlan {
    pub fn units_of(&self, level: Level, kind: UnitKind) -> usize {
        self.units
            .iter()
            .filter(|u| u.level == level && u.kind == kind)
            .count()
    }
}

/// Why a set of units is not a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeProblem {
    Duplicate(String),
    MissingParent { id: String, parent: String },
    Cycle(String),
}

impl std::fmt::Display for TreeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TreeProblem::Duplicate(id) => write!(f, "单位编号 {id} 重复"),
            TreeProblem::MissingParent { id, parent } => {
                write!(f, "单位 {id} 的上级单位 {parent} 不存在")
            }
            TreeProblem::Cycle(id) => write!(f, "单位 {id} 的上级关系形成了环"),
        }
    }
}

/// Orders `units` so that every parent comes before its children. A parent outside the set
/// must satisfy `exists_outside` (e.g. a unit already in the database).
pub fn order_parents_first(
    units: Vec<UnitSpec>,
    exists_outside: impl Fn(&str) -> bool,
) -> Result<Vec<UnitSpec>, TreeProblem> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(units.len());
    for (i, u) in units.iter().enumerate() {
        if index.insert(u.id.as_str(), i).is_some() {
            return Err(TreeProblem::Duplicate(u.id.clone()));
        }
    }
    // 0 = not yet, 1 = on the current path, 2 = placed.
    let mut state = vec![0u8; units.len()];
    let mut order = Vec::with_capacity(units.len());
    for start in 0..units.len() {
        if state[start] == 2 {
            continue;
        }
        // Walk up to the first placed or outside ancestor, then place the path top-down.
        let mut path = Vec::new();
        let mut at = start;
        loop {
            if state[at] == 1 {
                return Err(TreeProblem::Cycle(units[at].id.clone()));
            }
            state[at] = 1;
            path.push(at);
            match units[at].parent.as_deref() {
                None => break,
                Some(p) => match index.get(p) {
                    Some(&pi) if state[pi] == 2 => break,
                    Some(&pi) => at = pi,
                    None if exists_outside(p) => break,
                    None => {
                        return Err(TreeProblem::MissingParent {
                            id: units[at].id.clone(),
                            parent: p.to_string(),
                        });
                    }
                },
            }
        }
        for &i in path.iter().rev() {
            state[i] = 2;
            order.push(i);
        }
    }
    let mut slots: Vec<Option<UnitSpec>> = units.into_iter().map(Some).collect();
    Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
}

/// The seat of a township's office in its name: 办事处 for a sub-district (街道), 人民政府
/// for a town or township (镇, 乡, 苏木), nothing for other entries.
fn seat(region: &Region) -> &'static str {
    if region.level != Level::Township {
        return "";
    }
    if region.name.ends_with("街道") {
        "办事处"
    } else if ["镇", "乡", "苏木"]
        .iter()
        .any(|s| region.name.ends_with(s))
    {
        "人民政府"
    } else {
        ""
    }
}

/// Builds the plan. Unit names start with the region's full name from the province down
/// (广东省佛山市住房和城乡建设局); placeholder city entries (市辖区, 县, 省直辖县级行政区划)
/// add nothing to the names below them, and their own units get the placeholder in brackets
/// after the name (北京市公安局（市辖区）) so that names stay unique.
pub fn plan(divisions: &Divisions, catalogue: &Catalogue) -> Result<OrgPlan, OrgError> {
    catalogue.check()?;
    let mut prefixes: HashMap<&str, String> = HashMap::with_capacity(divisions.regions().len());
    let mut units = Vec::new();
    for region in divisions.regions() {
        let above = region
            .parent
            .as_deref()
            .and_then(|p| prefixes.get(p))
            .cloned()
            .unwrap_or_default();
        let prefix = if region.level == Level::Nation || region.is_placeholder() {
            above
        } else {
            format!("{above}{}", region.name)
        };
        let municipal = region.level == Level::Province && region.name.ends_with('市');
        for t in catalogue.templates(region.level) {
            let pattern = match (&t.municipal_name, municipal) {
                (Some(m), true) => m,
                _ => &t.name,
            };
            let mut name = pattern
                .replace("{prefix}", &prefix)
                .replace("{seat}", seat(region));
            if region.is_placeholder() {
                name = format!("{name}（{}）", region.name);
            }
            let parent = match &t.parent {
                ParentRef::None => None,
                ParentRef::Same(s) => Some(format!("{}-{s}", region.code)),
                ParentRef::Up(s) => region.parent.as_ref().map(|p| format!("{p}-{s}")),
            };
            units.push(UnitSpec {
                id: format!("{}-{}", region.code, t.suffix),
                name,
                kind: t.kind,
                department: t.department.clone(),
                level: region.level,
                region: region.code.clone(),
                parent,
            });
        }
        prefixes.insert(region.code.as_str(), prefix);
    }
    let units = order_parents_first(units, |_| false).map_err(|p| OrgError::Tree(p.to_string()))?;
    Ok(OrgPlan {
        regions: divisions.regions().to_vec(),
        units,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const SMALL: &str = "11\t北京市\n1101\t市辖区\n110101\t东城区\n001\t东华门街道\n\
                         44\t广东省\n4406\t佛山市\n440604\t禅城区\n011\t祖庙街道\n100\t南庄镇\n";

    fn small() -> OrgPlan {
        plan(&Divisions::parse(SMALL).unwrap(), &Catalogue::default()).unwrap()
    }

    fn unit<'a>(p: &'a OrgPlan, id: &str) -> &'a UnitSpec {
        p.units.iter().find(|u| u.id == id).unwrap()
    }

    #[test]
    fn every_region_gets_its_catalogue_and_names_compose() {
        let p = small();
        // nation 16 + 2 provinces × 17 + 2 cities × 17 + 2 counties × 17 + 3 townships.
        assert_eq!(p.units.len(), 16 + 6 * 17 + 3);
        assert_eq!(p.regions.len(), 10);
        assert_eq!(unit(&p, "0-xfj").name, "国家信访局");
        assert_eq!(unit(&p, "0-xfj").parent.as_deref(), Some("0-gov"));
        assert_eq!(unit(&p, "0-gov").parent, None);
        assert_eq!(unit(&p, "4406-zj").name, "广东省佛山市住房和城乡建设局");
        assert_eq!(unit(&p, "4406-zj").parent.as_deref(), Some("4406-gov"));
        assert_eq!(unit(&p, "4406-zj").department.as_deref(), Some("housing"));
        assert_eq!(unit(&p, "4406-gov").parent.as_deref(), Some("44-gov"));
        assert_eq!(unit(&p, "44-ga").name, "广东省公安厅");
        assert_eq!(unit(&p, "11-ga").name, "北京市公安局");
        assert_eq!(unit(&p, "1101-ga").name, "北京市公安局（市辖区）");
        assert_eq!(unit(&p, "110101-xfj").name, "北京市东城区信访局");
        assert_eq!(unit(&p, "4406-fy").name, "广东省佛山市中级人民法院");
        assert_eq!(unit(&p, "4406-fy").kind, UnitKind::Court);
        let office = unit(&p, "440604011-office");
        assert_eq!(office.name, "广东省佛山市禅城区祖庙街道办事处信访办");
        assert_eq!(office.parent.as_deref(), Some("440604-gov"));
        assert_eq!(office.kind, UnitKind::TownshipOffice);
        assert_eq!(
            unit(&p, "440604100-office").name,
            "广东省佛山市禅城区南庄镇人民政府信访办"
        );
        let names: std::collections::HashSet<&str> =
            p.units.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names.len(), p.units.len(), "unit names are unique");
    }

    #[test]
    fn parents_come_first() {
        let p = small();
        let mut seen = std::collections::HashSet::new();
        for u in &p.units {
            if let Some(parent) = &u.parent {
                assert!(seen.contains(parent.as_str()), "{} before {parent}", u.id);
            }
            seen.insert(u.id.as_str());
        }
    }

    #[test]
    fn ordering_finds_duplicates_missing_parents_and_cycles() {
        let u = |id: &str, parent: Option<&str>| UnitSpec {
            id: id.into(),
            name: id.into(),
            kind: UnitKind::Department,
            department: Some("x".into()),
            level: Level::City,
            region: "4406".into(),
            parent: parent.map(str::to_string),
        };
        let ordered = order_parents_first(
            vec![u("c", Some("b")), u("b", Some("a")), u("a", None)],
            |_| false,
        )
        .unwrap();
        let ids: Vec<&str> = ordered.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(
            order_parents_first(vec![u("a", None), u("a", None)], |_| false),
            Err(TreeProblem::Duplicate("a".into()))
        );
        assert!(matches!(
            order_parents_first(vec![u("a", Some("zz"))], |_| false),
            Err(TreeProblem::MissingParent { .. })
        ));
        assert!(order_parents_first(vec![u("a", Some("zz"))], |p| p == "zz").is_ok());
        assert!(matches!(
            order_parents_first(vec![u("a", Some("b")), u("b", Some("a"))], |_| true),
            Err(TreeProblem::Cycle(_))
        ));
    }

    #[test]
    fn the_national_plan_has_the_expected_size() {
        let d = Divisions::embedded().unwrap();
        let p = plan(d, &Catalogue::default()).unwrap();
        let above_township =
            d.count(Level::Province) + d.count(Level::City) + d.count(Level::County);
        assert_eq!(
            p.units.len(),
            16 + 17 * above_township + d.count(Level::Township)
        );
        assert!(
            (90_000..=110_000).contains(&p.units.len()),
            "{}",
            p.units.len()
        );
        for id in [
            "44-xfj",
            "4406-xfj",
            "440604-xfj",
            "440605-xfj",
            "4406-zj",
            "4406-fy",
        ] {
            assert!(p.units.iter().any(|u| u.id == id), "{id}");
        }
    }
}
