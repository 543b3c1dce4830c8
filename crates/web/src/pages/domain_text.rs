//! English for the messages that come from the domain: lifecycle rejections, validation of
//! values, access denials. The domain speaks Chinese (the default); when a page is English,
//! [`localize`] puts each such message of an error into English from the catalogue
//! `crates/web/i18n/domain.tsv`, whose lines are the stable error code, the domain's message
//! as written in its source (with `{…}` for the parts filled in at run time) and the English.
//! Filled-in parts are translated too (stage names, action names, terms such as 办理); a
//! message the catalogue does not know falls back to the English for its code, so an English
//! page never shows a Chinese rejection. Tests check that every message the domain's source
//! writes has its line.

use std::collections::HashMap;
use std::sync::LazyLock;

use huiyin_domain::case::Stage;

use super::i18n::{self, Lang};
use crate::error::ApiError;

/// The catalogue file.
pub const SOURCE: &str = include_str!("../../i18n/domain.tsv");

/// One message of the catalogue, split at its filled-in parts.
#[derive(Debug)]
pub struct Template {
    pub code: &'static str,
    pub zh: &'static str,
    /// The literal pieces around the parts (one more than the parts).
    pieces: Vec<&'static str>,
    pub en: &'static str,
}

#[derive(Debug, Default)]
pub struct Catalogue {
    pub templates: Vec<Template>,
    terms: HashMap<&'static str, &'static str>,
    fallback: HashMap<&'static str, &'static str>,
    /// Lines that are not `code<TAB>zh<TAB>en`, by line number.
    pub problems: Vec<usize>,
}

fn pieces_of(zh: &'static str) -> Vec<&'static str> {
    let mut pieces = Vec::new();
    let mut rest = zh;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        pieces.push(&rest[..open]);
        rest = &rest[open + close + 1..];
    }
    pieces.push(rest);
    pieces
}

fn parse(source: &'static str) -> Catalogue {
    let mut c = Catalogue::default();
    for (i, line) in source.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split('\t');
        let (Some(code), Some(zh), Some(en), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            c.problems.push(i + 1);
            continue;
        };
        if code.is_empty() || zh.is_empty() || en.is_empty() {
            c.problems.push(i + 1);
        } else if code == "term" {
            c.terms.insert(zh, en);
        } else if zh == "*" {
            c.fallback.insert(code, en);
        } else {
            c.templates.push(Template {
                code,
                zh,
                pieces: pieces_of(zh),
                en,
            });
        }
    }
    c
}

pub static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| parse(SOURCE));

/// The parts of `message` filled into `pieces`, if it has that shape.
fn captures(pieces: &[&str], message: &str) -> Option<Vec<String>> {
    let (first, rest) = pieces.split_first()?;
    let body = message.strip_prefix(first)?;
    if rest.is_empty() {
        return body.is_empty().then(Vec::new);
    }
    capture_from(rest, body)
}

/// Each piece in turn after a non-empty part; tries every place a piece occurs.
fn capture_from(pieces: &[&str], text: &str) -> Option<Vec<String>> {
    let (piece, rest) = pieces.split_first()?;
    if rest.is_empty() {
        // The last piece ends the message.
        let part = text.strip_suffix(piece)?;
        return (!part.is_empty()).then(|| vec![part.to_string()]);
    }
    let mut from = 0;
    while let Some(at) = text[from..].find(piece).map(|p| p + from) {
        if at > 0
            && let Some(mut more) = capture_from(rest, &text[at + piece.len()..])
        {
            more.insert(0, text[..at].to_string());
            return Some(more);
        }
        let Some(step) = text[at..].chars().next() else {
            break;
        };
        from = at + step.len_utf8();
    }
    None
}

fn has_chinese(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// The English for a message or a filled-in part, if the catalogue can give it.
fn translate(text: &str) -> Option<String> {
    if !has_chinese(text) {
        // A command name is shown by its English label.
        let key = format!("action.{text}");
        if i18n::has(&key) {
            return Some(i18n::t(Lang::En, &key).to_string());
        }
        return Some(text.to_string());
    }
    let c = &*CATALOGUE;
    if let Some(en) = c.terms.get(text) {
        return Some((*en).to_string());
    }
    if let Some(stage) = Stage::ALL.iter().find(|s| s.label_zh() == text) {
        return Some(i18n::t(Lang::En, &format!("stage.{}", stage.as_str())).to_string());
    }
    for t in &c.templates {
        let Some(parts) = captures(&t.pieces, text) else {
            continue;
        };
        let mut out = t.en.to_string();
        let mut ok = true;
        for (i, part) in parts.iter().enumerate() {
            match translate(part) {
                Some(en) => out = out.replace(&format!("{{{}}}", i + 1), &en),
                None => ok = false,
            }
        }
        if ok {
            return Some(out);
        }
    }
    None
}

/// The English for a domain message that came with `code`; the message itself when it is
/// not a domain message the catalogue knows and its code has no English of its own.
pub fn english(code: &str, message: &str) -> String {
    if let Some(en) = translate(message) {
        return en;
    }
    let c = &*CATALOGUE;
    let by_suffix = || {
        c.fallback
            .iter()
            .find(|(k, _)| k.strip_prefix('*').is_some_and(|s| code.ends_with(s)))
            .map(|(_, v)| *v)
    };
    match c.fallback.get(code).copied().or_else(by_suffix) {
        Some(en) => en.to_string(),
        None => message.to_string(),
    }
}

/// Puts the error's messages into the page's language (they stay Chinese by default).
pub fn localize(lang: Lang, mut err: ApiError) -> ApiError {
    if lang != Lang::En {
        return err;
    }
    err.body.message = english(err.body.code, &err.body.message);
    for f in &mut err.body.fields {
        f.message = english(&f.code, &f.message);
    }
    err
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use huiyin_domain::case::Rejection;

    #[test]
    fn the_catalogue_parses() {
        assert!(CATALOGUE.problems.is_empty(), "{:?}", CATALOGUE.problems);
        let mut seen = std::collections::HashSet::new();
        for t in &CATALOGUE.templates {
            assert!(seen.insert(t.zh), "twice: {}", t.zh);
            assert!(!has_chinese(t.en), "Chinese in the English of {}", t.zh);
            let parts = t.pieces.len() - 1;
            for n in 1..=parts {
                assert!(t.en.contains(&format!("{{{n}}}")), "{} lacks {{{n}}}", t.en);
            }
            assert!(!t.en.contains(&format!("{{{}}}", parts + 1)), "{}", t.en);
        }
    }

    /// The messages the domain's source writes: Chinese literals on a line that builds a
    /// rejection or a field error, or within two lines after one that starts to.
    fn domain_messages() -> Vec<String> {
        let sources = [
            include_str!("../../../domain/src/case.rs"),
            include_str!("../../../domain/src/values.rs"),
            include_str!("../../../domain/src/petition.rs"),
            include_str!("../../../domain/src/access.rs"),
        ];
        let markers = [
            "why:",
            "message:",
            "forbidden(",
            "&command,",
            "NotAllowed(",
            "DeadlinePassed(",
            "FieldError::new(",
            "_too_short\"),",
            "_too_long\"),",
            "Denial::",
            "#[error(",
        ];
        let mut out = Vec::new();
        for source in sources {
            let source = source.split("#[cfg(test)]").next().unwrap();
            let lines: Vec<&str> = source
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            for (i, line) in lines.iter().enumerate() {
                let window = &lines[i.saturating_sub(2)..=i];
                if !window.iter().any(|l| markers.iter().any(|m| l.contains(m))) {
                    continue;
                }
                let mut rest = *line;
                while let Some(q) = rest.find('"') {
                    let after = &rest[q + 1..];
                    let Some(end) = after.find('"') else { break };
                    let literal = &after[..end];
                    if has_chinese(literal) {
                        out.push(literal.to_string());
                    }
                    rest = &after[end + 1..];
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn every_message_the_domain_writes_has_its_english() {
        let known: std::collections::HashSet<&str> = CATALOGUE
            .templates
            .iter()
            .map(|t| t.zh)
            .chain(CATALOGUE.terms.keys().copied())
            .collect();
        let messages = domain_messages();
        assert!(
            messages.len() > 60,
            "found only {} messages",
            messages.len()
        );
        let missing: Vec<&String> = messages
            .iter()
            .filter(|m| !known.contains(m.as_str()))
            .collect();
        assert!(missing.is_empty(), "no English for: {missing:#?}");
    }

    #[test]
    fn rejections_read_in_english_with_their_parts() {
        let r = Rejection::WrongStage {
            command: "take_charge",
            stage: Stage::Concluded.label_zh(),
        };
        assert_eq!(
            english(r.code(), &r.to_string()),
            format!(
                "“{}” is not possible at the stage “Concluded”",
                i18n::t(Lang::En, "action.take_charge")
            )
        );
        let r = Rejection::Forbidden {
            command: "instruct",
            why: "只有本级或上级领导可以阅批",
        };
        let en = english(r.code(), &r.to_string());
        assert!(en.starts_with("You may not “"), "{en}");
        assert!(
            en.ends_with("Only a leader of a unit on the case, or above it, may instruct"),
            "{en}"
        );
        let r = Rejection::DeadlinePassed("办理的期限已于2024-05-06 23:59届满".into());
        assert_eq!(
            english(r.code(), &r.to_string()),
            "The time limit for handling ended on 2024-05-06 23:59"
        );
        // A field error from a value, with its parts.
        assert_eq!(
            english("title_too_long", "标题不能超过100个字（现有120个字）"),
            "The title can have at most 100 characters (it has 120)"
        );
        // An unknown message with a domain code: the code's English; other codes: unchanged.
        assert_eq!(
            english("not_allowed", "一条新的提示"),
            "This action is not allowed now"
        );
        assert_eq!(english("conflict", "版本冲突"), "版本冲突");
        assert_eq!(english("wrong_stage", "plain"), "plain");
    }

    #[test]
    fn chinese_stays_the_default() {
        let err = ApiError::from(Rejection::NotAllowed("已经评价过".into()));
        assert_eq!(localize(Lang::Zh, err).body.message, "已经评价过");
        let err = ApiError::from(Rejection::Invalid {
            field: "to",
            message: "不能与自身关联".into(),
        });
        let en = localize(Lang::En, err);
        assert_eq!(en.body.message, "A case cannot be linked to itself");
        assert_eq!(
            en.body.fields[0].message,
            "A case cannot be linked to itself"
        );
    }
}
