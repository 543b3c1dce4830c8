//! Parsed value types: a value that passed the boundary cannot be wrong.
//!
//! Each limit is one named constant, used by the check and by the error message alike. Every
//! parse failure is a [`FieldError`] with a stable code, so the web layer can name the field and
//! tell the person what to fix.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A rejected input value: a stable machine code and a message a person can act on (zh-CN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct FieldError {
    /// Stable code, e.g. `id_card_checksum`.
    pub code: &'static str,
    /// What is wrong and how to fix it, in Chinese.
    pub message: String,
}

impl FieldError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Whether [`clean_text`] would return `s` unchanged: nothing to trim, no control characters
/// other than line breaks and tabs. Every stored value is, so decoding one skips the copy.
///
/// First a byte scan (decoding every char was ~5% of loading a long case): the control
/// characters (`char::is_control`, category Cc) are U+0000–U+001F and U+007F, one byte each,
/// and U+0080–U+009F, encoded `C2 80`–`C2 9F`. A text with none of those bytes is clean; one
/// with any (a line break, a `C2` of `¢`) is checked char by char. The chunks are folded
/// without short-circuiting so the compiler can vectorize the scan.
fn is_clean(s: &str) -> bool {
    if s.trim().len() != s.len() {
        return false;
    }
    let suspect = s.as_bytes().chunks(32).any(|chunk| {
        chunk.iter().fold(false, |seen, &b| {
            seen | (b < 0x20) | (b == 0x7f) | (b == 0xc2)
        })
    });
    !suspect || !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// Trims and rejects control characters other than line breaks and tabs.
fn clean_text(raw: &str) -> String {
    raw.trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr, $code:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Fewest characters accepted.
            pub const MIN_CHARS: usize = $min;
            /// Most characters accepted.
            pub const MAX_CHARS: usize = $max;

            pub fn parse(raw: &str) -> Result<Self, FieldError> {
                if is_clean(raw) {
                    Self::checked(raw.to_string())
                } else {
                    Self::checked(clean_text(raw))
                }
            }

            /// Checks the length of an already cleaned text.
            fn checked(cleaned: String) -> Result<Self, FieldError> {
                let n = char_len(&cleaned);
                if n < Self::MIN_CHARS {
                    return Err(FieldError::new(
                        concat!($code, "_too_short"),
                        format!("{}不能少于{}个字", $what, Self::MIN_CHARS),
                    ));
                }
                if n > Self::MAX_CHARS {
                    return Err(FieldError::new(
                        concat!($code, "_too_long"),
                        format!("{}不能超过{}个字（现有{}个字）", $what, Self::MAX_CHARS, n),
                    ));
                }
                Ok(Self(cleaned))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                if is_clean(&value) {
                    Self::checked(value)
                } else {
                    Self::parse(&value)
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

bounded_text!(
    /// A person's name as written (姓名).
    PersonName, 1, 50, "name", "姓名"
);
bounded_text!(
    /// A petition's title (标题).
    Title, 2, 100, "title", "标题"
);
bounded_text!(
    /// The petition's text: what happened and what is asked (信访内容).
    PetitionText, 5, 20_000, "text", "信访内容"
);
bounded_text!(
    /// A postal address (住址).
    Address, 2, 200, "address", "地址"
);
bounded_text!(
    /// A free-text reason or statement written by staff or a petitioner (理由/说明).
    Reason, 2, 5_000, "reason", "理由"
);
bounded_text!(
    /// A longer document body, e.g. a section of a 信访处理意见书.
    DocumentText, 2, 50_000, "document", "文书内容"
);

/// A mainland phone number: an 11-digit mobile number (1[3-9]…) or a landline with its area
/// code (0XX-XXXXXXXX). Stored in digits-only form with the area-code separator kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '（' | '）'))
            .collect();
        let compact = compact
            .strip_prefix("+86")
            .or_else(|| compact.strip_prefix("0086"))
            .unwrap_or(&compact)
            .to_string();
        if !compact.chars().all(|c| c.is_ascii_digit()) || compact.is_empty() {
            return Err(FieldError::new(
                "phone_invalid",
                "电话号码只能包含数字，例如 13812345678 或 0571-88888888",
            ));
        }
        let b = compact.as_bytes();
        if b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) {
            if b.iter().all(|d| *d == b[0]) {
                return Err(FieldError::new(
                    "phone_invalid",
                    "电话号码不是真实号码，请核对",
                ));
            }
            return Ok(Self(compact));
        }
        // Landline: area code 0 + 2–3 digits, subscriber number 7–8 digits: 10–12 digits in all.
        if b[0] == b'0' && (10..=12).contains(&b.len()) {
            let area_len = if matches!(b[1], b'1' | b'2') { 3 } else { 4 };
            let (area, rest) = compact.split_at(area_len);
            if (7..=8).contains(&rest.len()) {
                return Ok(Self(format!("{area}-{rest}")));
            }
        }
        Err(FieldError::new(
            "phone_invalid",
            "电话号码格式不对：手机号为11位（如 13812345678），固定电话需带区号（如 0571-88888888）",
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Masked for lists: 138****1234.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        let n = chars.len();
        if n <= 7 {
            return "*".repeat(n);
        }
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[n - 4..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(n - 7))
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}
impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> String {
        value.0
    }
}

/// A resident identity card number (公民身份号码, GB 11643-1999): 17 digits and a check
/// character (0–9 or X) computed with ISO 7064 MOD 11-2; the birth date must be a real date.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdCardNumber(String);

impl IdCardNumber {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

    /// The check character for the first 17 digits.
    pub fn check_char(first17: &[u8]) -> Option<char> {
        if first17.len() != 17 {
            return None;
        }
        let mut sum = 0u32;
        for (d, w) in first17.iter().zip(Self::WEIGHTS) {
            if !d.is_ascii_digit() {
                return None;
            }
            sum += u32::from(d - b'0') * w;
        }
        Some(Self::CHECK[(sum % 11) as usize])
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s: String = raw.trim().to_ascii_uppercase().replace(' ', "");
        let b = s.as_bytes();
        if b.len() != 18 {
            return Err(FieldError::new(
                "id_card_length",
                format!("身份证号码应为18位（现为{}位）", s.chars().count()),
            ));
        }
        let Some(expected) = Self::check_char(&b[..17]) else {
            return Err(FieldError::new(
                "id_card_invalid",
                "身份证号码前17位只能是数字",
            ));
        };
        if char::from(b[17]) != expected {
            return Err(FieldError::new(
                "id_card_checksum",
                "身份证号码校验位不符，请逐位核对",
            ));
        }
        let digits = |r: std::ops::Range<usize>| -> u32 {
            b[r].iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
        };
        let (y, m, d) = (digits(6..10), digits(10..12), digits(12..14));
        if !(1900..=2100).contains(&y) || chrono::NaiveDate::from_ymd_opt(y as i32, m, d).is_none()
        {
            return Err(FieldError::new(
                "id_card_birth_date",
                "身份证号码中的出生日期不是有效日期",
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Masked for lists: the first 6 and last 4 characters stay.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }
}

impl TryFrom<String> for IdCardNumber {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}
impl From<IdCardNumber> for String {
    fn from(value: IdCardNumber) -> String {
        value.0
    }
}

/// A GB/T 2260 administrative division code: 2 digits (province), 4 (city), 6 (county) or 9
/// (township/street), or `0` for the nation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

impl RegionCode {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        if s == "0" {
            return Ok(Self(s.to_string()));
        }
        if !s.chars().all(|c| c.is_ascii_digit()) || ![2, 4, 6, 9].contains(&s.len()) {
            return Err(FieldError::new(
                "region_code_invalid",
                "行政区划代码应为2、4、6或9位数字（GB/T 2260），例如 440604",
            ));
        }
        if s.starts_with("00") {
            return Err(FieldError::new(
                "region_code_invalid",
                "行政区划代码的省级部分不能为00",
            ));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The province part (2 digits), the unit of distribution.
    pub fn province(&self) -> &str {
        if self.0.len() >= 2 {
            &self.0[..2]
        } else {
            "00"
        }
    }

    /// Whether `self` is `other` or inside it.
    pub fn is_within(&self, other: &RegionCode) -> bool {
        other.0 == "0" || self.0.starts_with(&other.0)
    }
}

impl TryFrom<String> for RegionCode {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}
impl From<RegionCode> for String {
    fn from(value: RegionCode) -> String {
        value.0
    }
}
impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The receipt code (受理凭证编号) a petitioner gets on submission: 12 characters from the
/// Crockford base-32 alphabet (no I, L, O, U — easy to read over the phone), shown as
/// `XXXX-XXXX-XXXX`. The first 11 carry 55 random bits; the last is a mod-37 check character
/// that catches any single wrong or swapped character before a lookup is even tried.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReceiptCode(String);

impl ReceiptCode {
    const ALPHABET: &'static [u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    const CHECK_ALPHABET: &'static [u8; 37] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";
    /// Characters that carry randomness.
    pub const PAYLOAD_LEN: usize = 11;

    fn value_of(c: u8) -> Option<u32> {
        let c = match c.to_ascii_uppercase() {
            b'I' | b'L' => b'1',
            b'O' => b'0',
            other => other,
        };
        Self::ALPHABET
            .iter()
            .position(|a| *a == c)
            .map(|p| p as u32)
    }

    fn check_of(payload: &[u8]) -> u8 {
        // Weighted sum (position weights 1..=11) mod 37 catches single substitutions and
        // adjacent transpositions because 37 is prime and larger than the alphabet.
        let sum: u32 = payload
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Self::value_of(*c).map(|v| v * (i as u32 + 1)))
            .sum();
        Self::CHECK_ALPHABET[(sum % 37) as usize]
    }

    /// Builds a code from random bytes (the caller supplies the randomness; the domain has none).
    pub fn from_random(bytes: [u8; 8]) -> Self {
        let mut n = u64::from_le_bytes(bytes);
        let mut payload = Vec::with_capacity(Self::PAYLOAD_LEN + 1);
        for _ in 0..Self::PAYLOAD_LEN {
            payload.push(Self::ALPHABET[(n & 31) as usize]);
            n >>= 5;
        }
        let check = Self::check_of(&payload);
        payload.push(check);
        Self(payload.into_iter().map(char::from).collect())
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let compact: Vec<u8> = raw
            .bytes()
            .filter(|b| !matches!(b, b'-' | b' '))
            .map(|b| b.to_ascii_uppercase())
            .collect();
        if compact.len() != Self::PAYLOAD_LEN + 1 {
            return Err(FieldError::new(
                "receipt_code_length",
                "受理凭证编号应为12位（如 7K3M-Q9XD-2B4T）",
            ));
        }
        let mut payload = Vec::with_capacity(Self::PAYLOAD_LEN + 1);
        for c in &compact[..Self::PAYLOAD_LEN] {
            let Some(v) = Self::value_of(*c) else {
                return Err(FieldError::new(
                    "receipt_code_invalid",
                    "受理凭证编号含有无效字符",
                ));
            };
            payload.push(Self::ALPHABET[v as usize]);
        }
        if Self::check_of(&payload) != compact[Self::PAYLOAD_LEN] {
            return Err(FieldError::new(
                "receipt_code_checksum",
                "受理凭证编号有误，请逐位核对",
            ));
        }
        payload.push(compact[Self::PAYLOAD_LEN]);
        Ok(Self(payload.into_iter().map(char::from).collect()))
    }

    /// The stored form, without separators.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form shown to people: XXXX-XXXX-XXXX.
    pub fn display(&self) -> String {
        let s = &self.0;
        format!("{}-{}-{}", &s[..4], &s[4..8], &s[8..])
    }
}

impl TryFrom<String> for ReceiptCode {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}
impl From<ReceiptCode> for String {
    fn from(value: ReceiptCode) -> String {
        value.0
    }
}
impl fmt::Display for ReceiptCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    /// The char-by-char definition that `is_clean`'s byte scan replaces.
    fn is_clean_by_chars(s: &str) -> bool {
        s.trim().len() == s.len() && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
    }

    #[test]
    fn is_clean_byte_scan_matches_chars() {
        for s in [
            "已电话联系信访人",
            "a\nb\tc",
            "a\rb",
            "a\u{7f}b",
            "a\u{80}b",
            "a\u{85}b",
            "a\u{9f}b",
            "a\u{a0}b",
            "a\u{a2}b",
            "À é \u{2028} 😀",
            "\u{1f}",
            " lead",
            "",
        ] {
            assert_eq!(is_clean(s), is_clean_by_chars(s), "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn is_clean_byte_scan_matches_chars_any(s in any::<String>()) {
            prop_assert_eq!(is_clean(&s), is_clean_by_chars(&s));
        }
    }

    #[test]
    fn id_card_check_digit() {
        // GB 11643 worked example: 11010519491231002X.
        assert!(IdCardNumber::parse("11010519491231002X").is_ok());
        assert!(IdCardNumber::parse("11010519491231002x").is_ok());
        assert_eq!(
            IdCardNumber::parse("110105194912310021").unwrap_err().code,
            "id_card_checksum"
        );
        assert_eq!(
            IdCardNumber::parse("1101051949123100").unwrap_err().code,
            "id_card_length"
        );
        let masked = IdCardNumber::parse("11010519491231002X").unwrap().masked();
        assert_eq!(masked, "110105********002X");
    }

    #[test]
    fn id_card_birth_date_must_exist() {
        // 1949-02-30 does not exist; compute a matching check digit so only the date is wrong.
        let body = b"11010519490230002";
        let check = IdCardNumber::check_char(body).unwrap();
        let s = format!("{}{}", std::str::from_utf8(body).unwrap(), check);
        assert_eq!(
            IdCardNumber::parse(&s).unwrap_err().code,
            "id_card_birth_date"
        );
    }

    #[test]
    fn phones() {
        assert_eq!(
            PhoneNumber::parse("138 1234 5678").unwrap().as_str(),
            "13812345678"
        );
        assert_eq!(
            PhoneNumber::parse("+86 13812345678").unwrap().masked(),
            "138****5678"
        );
        assert_eq!(
            PhoneNumber::parse("0571-88888888").unwrap().as_str(),
            "0571-88888888"
        );
        assert_eq!(
            PhoneNumber::parse("010 12345678").unwrap().as_str(),
            "010-12345678"
        );
        assert!(PhoneNumber::parse("11111111111").is_err());
        assert!(PhoneNumber::parse("12345678901").is_err());
        assert!(PhoneNumber::parse("abc").is_err());
        assert!(PhoneNumber::parse("").is_err());
    }

    #[test]
    fn region_codes() {
        assert!(RegionCode::parse("44").is_ok());
        assert!(RegionCode::parse("4406").is_ok());
        assert!(RegionCode::parse("440604").is_ok());
        assert!(RegionCode::parse("440604001").is_ok());
        assert!(RegionCode::parse("44060").is_err());
        assert!(RegionCode::parse("00").is_err());
        let county = RegionCode::parse("440604").unwrap();
        assert!(county.is_within(&RegionCode::parse("44").unwrap()));
        assert!(!county.is_within(&RegionCode::parse("45").unwrap()));
        assert_eq!(county.province(), "44");
    }

    #[test]
    fn text_limits_name_the_limit() {
        let err = Title::parse("a").unwrap_err();
        assert_eq!(err.code, "title_too_short");
        assert!(err.message.contains('2'));
        let long = "字".repeat(PetitionText::MAX_CHARS + 1);
        assert_eq!(
            PetitionText::parse(&long).unwrap_err().code,
            "text_too_long"
        );
        assert_eq!(
            Title::parse("  标题\u{0007}内容 ").unwrap().as_str(),
            "标题内容"
        );
    }

    proptest! {
        #[test]
        fn receipt_codes_round_trip(bytes in any::<[u8; 8]>()) {
            let code = ReceiptCode::from_random(bytes);
            prop_assert_eq!(ReceiptCode::parse(&code.display()).unwrap(), code.clone());
            prop_assert_eq!(ReceiptCode::parse(&code.as_str().to_lowercase()).unwrap(), code);
        }

        #[test]
        fn receipt_check_catches_single_substitution(bytes in any::<[u8; 8]>(), pos in 0usize..11, delta in 1usize..32) {
            let code = ReceiptCode::from_random(bytes);
            let mut chars: Vec<u8> = code.as_str().bytes().collect();
            let alphabet = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
            let idx = alphabet.iter().position(|c| *c == chars[pos]).unwrap();
            chars[pos] = alphabet[(idx + delta) % 32];
            let typo = String::from_utf8(chars).unwrap();
            prop_assert!(ReceiptCode::parse(&typo).is_err());
        }

        #[test]
        fn receipt_check_catches_adjacent_swap(bytes in any::<[u8; 8]>(), pos in 0usize..10) {
            let code = ReceiptCode::from_random(bytes);
            let mut chars: Vec<u8> = code.as_str().bytes().collect();
            prop_assume!(chars[pos] != chars[pos + 1]);
            chars.swap(pos, pos + 1);
            let typo = String::from_utf8(chars).unwrap();
            prop_assert!(ReceiptCode::parse(&typo).is_err());
        }

        #[test]
        fn parsers_never_panic(s in ".{0,64}") {
            let _ = IdCardNumber::parse(&s);
            let _ = PhoneNumber::parse(&s);
            let _ = RegionCode::parse(&s);
            let _ = ReceiptCode::parse(&s);
            let _ = Title::parse(&s);
        }

        #[test]
        fn valid_id_cards_parse(body in "[1-6][0-9]{5}(19[5-9][0-9]|200[0-9])(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}") {
            let check = IdCardNumber::check_char(body.as_bytes()).unwrap();
            let full = format!("{body}{check}");
            prop_assert!(IdCardNumber::parse(&full).is_ok());
        }
    }
}
