//! The region picker's data: the shipped GB/T 2260 divisions (huiyin-org), with a children
//! index and a name search, built once.

use std::collections::HashMap;
use std::sync::LazyLock;

use huiyin_org::{Divisions, Level, Region};

/// The most search results shown.
pub const MAX_RESULTS: usize = 12;

struct Index {
    divisions: Option<&'static Divisions>,
    children: HashMap<String, Vec<usize>>,
}

static INDEX: LazyLock<Index> = LazyLock::new(|| match Divisions::embedded() {
    Ok(d) => {
        let mut children: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in d.regions().iter().enumerate() {
            if let Some(p) = &r.parent {
                children.entry(p.clone()).or_default().push(i);
            }
        }
        Index {
            divisions: Some(d),
            children,
        }
    }
    Err(e) => {
        tracing::error!(error = %e, "the shipped divisions do not parse");
        Index {
            divisions: None,
            children: HashMap::new(),
        }
    }
});

/// A region as the picker shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub code: String,
    pub name: String,
    /// The full path, e.g. 广东省 › 佛山市 › 禅城区.
    pub path: String,
}

fn choice(d: &Divisions, r: &Region) -> Choice {
    Choice {
        code: r.code.clone(),
        name: r.name.clone(),
        path: path_name(d, &r.code),
    }
}

fn path_name(d: &Divisions, code: &str) -> String {
    d.path(code)
        .iter()
        .filter(|r| r.level != Level::Nation && !r.is_placeholder())
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(" › ")
}

/// Whether the code is a known division below the nation.
pub fn known(code: &str) -> bool {
    INDEX
        .divisions
        .and_then(|d| d.get(code))
        .is_some_and(|r| r.level != Level::Nation)
}

/// The full name of a region ("" when unknown).
pub fn full_name(code: &str) -> String {
    INDEX
        .divisions
        .filter(|d| d.contains(code))
        .map(|d| path_name(d, code))
        .unwrap_or_default()
}

/// The regions directly under `code` ("0" or "" for the provinces). Placeholder groupings
/// (市辖区, 县) are skipped over: their children are listed instead.
pub fn children(code: &str) -> Vec<Choice> {
    let Some(d) = INDEX.divisions else {
        return Vec::new();
    };
    let parent = if code.is_empty() { "0" } else { code };
    let mut out = Vec::new();
    for &i in INDEX.children.get(parent).map(Vec::as_slice).unwrap_or(&[]) {
        let r = &d.regions()[i];
        if r.is_placeholder() {
            for &j in INDEX
                .children
                .get(&r.code)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                out.push(choice(d, &d.regions()[j]));
            }
        } else {
            out.push(choice(d, r));
        }
    }
    out
}

/// The parent a person would step up to (skipping placeholders; "" above a province).
pub fn parent(code: &str) -> String {
    let Some(d) = INDEX.divisions else {
        return String::new();
    };
    let mut at = d.get(code).and_then(|r| r.parent.clone());
    while let Some(p) = at.clone() {
        match d.get(&p) {
            Some(r) if r.is_placeholder() => at = r.parent.clone(),
            Some(r) if r.level == Level::Nation => return String::new(),
            Some(_) => return p,
            None => return String::new(),
        }
    }
    String::new()
}

/// Regions whose name contains every word of the query (e.g. "佛山 祖庙"), higher levels
/// first; words after the first may match the path.
pub fn search(query: &str) -> Vec<Choice> {
    let Some(d) = INDEX.divisions else {
        return Vec::new();
    };
    let words: Vec<&str> = query.split_whitespace().take(4).collect();
    let Some((last, before)) = words.split_last() else {
        return Vec::new();
    };
    if last.chars().count() > 40 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for r in d.regions() {
        if r.level == Level::Nation || r.is_placeholder() || !r.name.contains(last) {
            continue;
        }
        let c = choice(d, r);
        if before.iter().all(|w| c.path.contains(w)) {
            out.push((r.level, c));
        }
    }
    out.sort_by_key(|(level, c)| (*level, c.code.clone()));
    out.into_iter().take(MAX_RESULTS).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn provinces_cities_and_search() {
        let provinces = children("");
        assert_eq!(provinces.len(), 34.min(provinces.len()).max(31));
        assert!(provinces.iter().any(|p| p.name == "广东省"));
        let gd = provinces.iter().find(|p| p.name == "广东省").unwrap();
        assert!(children(&gd.code).iter().any(|c| c.name == "佛山市"));
        let hits = search("佛山 禅城");
        assert!(
            hits.iter().any(|h| h.path.contains("佛山市 › 禅城区")),
            "{hits:?}"
        );
        assert!(search("").is_empty());
        assert_eq!(parent(&gd.code), "");
        assert!(known("440604"));
        assert!(!known("999999"));
        assert_eq!(full_name("440604"), "广东省 › 佛山市 › 禅城区");
    }
}
