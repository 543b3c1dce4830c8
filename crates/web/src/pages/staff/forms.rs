//! Form plumbing of the workbench: the posted fields, the CSRF check, and a field model the
//! shared `staff/field.html` renders with its label, hint, value and error.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use huiyin_domain::Instant;

use crate::error::ApiError;

/// The fields of a posted form (`application/x-www-form-urlencoded`), in order.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    /// The first value of `name`, trimmed ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    pub fn has(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }
}

/// Compares two tokens in constant time.
pub fn same_token(given: &str, expected: &str) -> bool {
    let (g, e) = (given.as_bytes(), expected.as_bytes());
    !e.is_empty()
        && g.len() == e.len()
        && g.iter().zip(e).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// China Standard Time, as the people at the desk read the clock (checked at compile time).
const CST: chrono::FixedOffset = match chrono::FixedOffset::east_opt(8 * 3600) {
    Some(o) => o,
    None => panic!("UTC+8 is a valid offset"),
};

pub fn cst() -> chrono::FixedOffset {
    CST
}

/// `YYYY-MM-DD` (a date input) as the end of that day in China.
pub fn parse_date_end(raw: &str) -> Option<Instant> {
    let d = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok()?;
    let t = d.and_hms_opt(23, 59, 59)?;
    cst()
        .from_local_datetime(&t)
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// `YYYY-MM-DD` as the start of that day in China.
pub fn parse_date_start(raw: &str) -> Option<Instant> {
    let d = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok()?;
    let t = d.and_hms_opt(0, 0, 0)?;
    cst()
        .from_local_datetime(&t)
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// `YYYY-MM-DDTHH:MM` (a datetime-local input) in China time.
pub fn parse_datetime(raw: &str) -> Option<Instant> {
    let t = NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M").ok()?;
    cst()
        .from_local_datetime(&t)
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// An instant as people read it: `2026-03-05 14:20` in China time.
pub fn show_time(t: Instant) -> String {
    t.with_timezone(&cst()).format("%Y-%m-%d %H:%M").to_string()
}

/// An instant as a date: `2026-03-05`.
pub fn show_date(t: Instant) -> String {
    t.with_timezone(&cst()).format("%Y-%m-%d").to_string()
}

/// Milliseconds as a date.
pub fn show_date_ms(ms: i64) -> String {
    huiyin_store::from_ms(ms).map_or_else(|_| String::new(), show_date)
}

/// Milliseconds as a date and time.
pub fn show_time_ms(ms: i64) -> String {
    huiyin_store::from_ms(ms).map_or_else(|_| String::new(), show_time)
}

/// A receipt code as stored (no separators) as people read it (`X5B8-FDCH-Q72U`).
pub fn show_receipt(stored: String) -> String {
    huiyin_domain::values::ReceiptCode::parse(&stored).map_or(stored, |r| r.display())
}

/// An option of a select or a radio group.
#[derive(Debug, Clone)]
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One form field as the template shows it.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    /// The element id (unique on the page).
    pub id: String,
    pub label: String,
    /// `text`, `textarea`, `select`, `radio`, `checkbox`, `date`, `datetime-local`, `number`,
    /// `password`, `tel`, `search`, `hidden`.
    pub kind: &'static str,
    pub value: String,
    pub error: Option<String>,
    pub hint: Option<String>,
    pub required: bool,
    pub options: Vec<Opt>,
    pub autocomplete: &'static str,
}

impl Field {
    pub fn new(prefix: &str, name: &str, kind: &'static str, label: &str) -> Field {
        let id = format!("{prefix}-{}", name.replace(['.', '[', ']'], "-"));
        Field {
            name: name.to_string(),
            id,
            label: label.to_string(),
            kind,
            value: String::new(),
            error: None,
            hint: None,
            required: false,
            options: Vec::new(),
            autocomplete: "off",
        }
    }

    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }

    pub fn hint(mut self, hint: &str) -> Field {
        self.hint = Some(hint.to_string());
        self
    }

    pub fn value(mut self, v: impl Into<String>) -> Field {
        self.value = v.into();
        self
    }

    pub fn autocomplete(mut self, a: &'static str) -> Field {
        self.autocomplete = a;
        self
    }

    pub fn options(mut self, opts: Vec<(String, String)>) -> Field {
        self.options = opts
            .into_iter()
            .map(|(value, label)| Opt {
                value,
                label,
                selected: false,
            })
            .collect();
        self
    }

    /// Marks the option equal to the value as selected.
    fn select_value(&mut self) {
        for o in &mut self.options {
            o.selected = o.value == self.value;
        }
    }

    pub fn is_checked(&self) -> bool {
        self.value == "1"
    }

    pub fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if self.hint.is_some() {
            ids.push(format!("{}-hint", self.id));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.id));
        }
        ids.join(" ")
    }
}

/// A set of fields: filled from a posted form, given the errors of an answer.
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<Field>);

impl Fields {
    /// Takes the posted values (so a form re-displays what was entered).
    pub fn fill(&mut self, form: &FormData) {
        for f in &mut self.0 {
            let v = form
                .0
                .iter()
                .find(|(k, _)| *k == f.name)
                .map(|(_, v)| v.clone());
            match (f.kind, v) {
                ("checkbox", v) => f.value = if v.is_some() { "1".into() } else { "0".into() },
                (_, Some(v)) => f.value = v,
                (_, None) => {}
            }
        }
        self.sync();
    }

    /// Re-marks selected options after values changed.
    pub fn sync(&mut self) {
        for f in &mut self.0 {
            f.select_value();
        }
    }

    /// "Please fill in …" for each empty required field; true when all are filled.
    pub fn check_required(&mut self, message: impl Fn(&str) -> String) -> bool {
        let mut ok = true;
        for f in &mut self.0 {
            if f.required && f.value.trim().is_empty() && f.error.is_none() {
                f.error = Some(message(&f.label));
                ok = false;
            }
        }
        ok
    }

    /// Puts each field error of an answer next to its field; returns the messages that match
    /// no field (shown at the top of the form).
    pub fn apply_errors(&mut self, err: &ApiError) -> Vec<String> {
        place_errors(err, &mut [self])
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|f| f.error.is_some())
    }

    pub fn value(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|f| f.name == name)
            .map_or("", |f| f.value.trim())
    }

    pub fn set_error(&mut self, name: &str, message: String) {
        if let Some(f) = self.0.iter_mut().find(|f| f.name == name) {
            f.error = Some(message);
        }
    }
}

/// Puts each field error of an answer next to the field it names (exactly, or the first field
/// under it, or a field ending in it) in any of `groups`; returns the messages that fit no
/// field, and the answer's message when it names no field at all.
pub fn place_errors(err: &ApiError, groups: &mut [&mut Fields]) -> Vec<String> {
    if err.body.fields.is_empty() {
        return vec![err.body.message.clone()];
    }
    let mut left = Vec::new();
    for fe in &err.body.fields {
        let under = format!("{}.", fe.field);
        let ending = format!(".{}", fe.field);
        let mut placed = false;
        'groups: for matcher in 0..3 {
            for g in groups.iter_mut() {
                let hit = g.0.iter_mut().find(|f| match matcher {
                    0 => f.name == fe.field,
                    1 => f.name.starts_with(&under),
                    _ => f.name.ends_with(&ending),
                });
                if let Some(f) = hit {
                    if f.error.is_none() {
                        f.error = Some(fe.message.clone());
                    }
                    placed = true;
                    break 'groups;
                }
            }
        }
        if !placed {
            left.push(fe.message.clone());
        }
    }
    left
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dates_are_read_in_china_time() {
        let t = parse_date_end("2026-03-05").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-05T15:59:59+00:00");
        assert_eq!(show_date(t), "2026-03-05");
        assert!(parse_date_end("2026-02-30").is_none());
        assert!(parse_datetime("2026-03-05T08:30").is_some());
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("", ""));
    }
}
