//! The message catalogue of the HTML pages: every string a person reads comes from here, in
//! Chinese (the default) and English. Entries live in `crates/web/i18n/*.tsv`, one per line:
//! `key<TAB>中文<TAB>English`; lines starting with `#` are comments. Each area of the site has
//! its own file so that the portal and the workbench can grow without touching each other.
//! Tests check that every key used in a template or a page module exists, that no key is
//! defined twice and that no entry lacks a language.

use std::collections::HashMap;
use std::sync::LazyLock;

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 简体中文, the default.
    #[default]
    Zh,
    En,
}

impl Lang {
    /// The value of the `lang` attribute.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The short code kept in the preference cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// The catalogue files, in the order they are read.
pub const SOURCES: &[(&str, &str)] = &[
    ("common.tsv", include_str!("../../i18n/common.tsv")),
    ("portal.tsv", include_str!("../../i18n/portal.tsv")),
    ("staff.tsv", include_str!("../../i18n/staff.tsv")),
];

/// One parsed line.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub zh: &'static str,
    pub en: &'static str,
}

/// A problem in a catalogue file (reported by the tests; at run time the first entry wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueProblem {
    pub file: &'static str,
    pub line: usize,
    pub problem: String,
}

/// Parses every catalogue file, returning the entries and the problems found.
pub fn parse_all() -> (HashMap<&'static str, Entry>, Vec<CatalogueProblem>) {
    let mut map = HashMap::new();
    let mut problems = Vec::new();
    for (file, text) in SOURCES {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split('\t');
            let (Some(key), Some(zh), Some(en), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                problems.push(CatalogueProblem {
                    file,
                    line: i + 1,
                    problem: "expected key<TAB>中文<TAB>English".into(),
                });
                continue;
            };
            if key.is_empty() || zh.trim().is_empty() || en.trim().is_empty() {
                problems.push(CatalogueProblem {
                    file,
                    line: i + 1,
                    problem: format!("empty field in entry {key:?}"),
                });
                continue;
            }
            if map.contains_key(key) {
                problems.push(CatalogueProblem {
                    file,
                    line: i + 1,
                    problem: format!("key {key:?} defined twice"),
                });
                continue;
            }
            map.insert(key, Entry { zh, en });
        }
    }
    (map, problems)
}

static CATALOGUE: LazyLock<HashMap<&'static str, Entry>> = LazyLock::new(|| parse_all().0);

/// The text for `key` in `lang`. A missing key (which the tests rule out) shows the key itself
/// rather than failing the page.
/// The catalogue text, or `None` for a key it does not have (for keys made from data).
pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    CATALOGUE.get(key).map(|e| match lang {
        Lang::Zh => e.zh,
        Lang::En => e.en,
    })
}

pub fn t(lang: Lang, key: &str) -> &'static str {
    match CATALOGUE.get(key) {
        Some(e) => match lang {
            Lang::Zh => e.zh,
            Lang::En => e.en,
        },
        None => {
            tracing::warn!(key, "missing catalogue entry");
            "⟨?⟩"
        }
    }
}

/// Whether the catalogue has `key`.
pub fn has(key: &str) -> bool {
    CATALOGUE.contains_key(key)
}

/// Replaces `{name}` placeholders in a catalogue text (values are escaped by the template).
pub fn fill(text: &str, args: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn catalogue_has_no_problems() {
        let (map, problems) = parse_all();
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(map.len() > 10);
    }

    /// Every `t("…")` / `tf("…"` key used in a template or a page module is in the catalogue.
    #[test]
    fn every_used_key_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        let mut dirs = vec![root.join("templates"), root.join("src/pages")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        let mut missing = Vec::new();
        let mut used = 0;
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for pat in ["t(\"", "tf(\"", "key: \""] {
                for (i, _) in text.match_indices(pat) {
                    // Only calls, not words ending in t( such as `format!(`.
                    let before = text[..i].chars().last().unwrap_or(' ');
                    if pat != "key: \"" && (before.is_alphanumeric() || before == '_') {
                        continue;
                    }
                    let rest = &text[i + pat.len()..];
                    let Some(end) = rest.find('"') else { continue };
                    let key = &rest[..end];
                    if key.contains('.') && !key.contains(' ') {
                        used += 1;
                        if !has(key) && key != "no.such.key" {
                            missing.push(format!("{}: {key}", file.display()));
                        }
                    }
                }
            }
        }
        assert!(used > 5, "the scan found only {used} keys");
        assert!(
            missing.is_empty(),
            "keys missing from i18n/*.tsv:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn languages_differ_and_fill_replaces() {
        assert_eq!(t(Lang::Zh, "site.name"), "回音");
        assert_eq!(t(Lang::En, "site.name"), "Huiyin");
        assert_eq!(t(Lang::En, "no.such.key"), "⟨?⟩");
        assert_eq!(fill("还剩{n}天", &[("n", "3")]), "还剩3天");
    }
}
