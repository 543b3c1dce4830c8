//! Text normalisation: the one place that decides when two petitions "say the same thing".
//!
//! [`normalize`] gives a readable canonical form (NFKC, full-width → half-width, traditional →
//! simplified 繁→简, punctuation and whitespace folded, control characters removed, masked
//! number runs such as `138****1234` kept together). [`match_key`] goes further for duplicate
//! detection: only letters, digits and CJK characters remain, lower-cased, and every long number
//! or masked run becomes one placeholder, so a changed phone number does not make a copy look new.

use unicode_normalization::UnicodeNormalization;

const T2S_FIRST: u32 = 0x3400;
const T2S_LAST: u32 = 0x9FFF;

/// Dense traditional → simplified table for U+3400..=U+9FFF, built on first use.
fn t2s_table() -> &'static [char] {
    static TABLE: std::sync::OnceLock<Vec<char>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (T2S_FIRST..=T2S_LAST)
            .map(|u| {
                let c = char::from_u32(u).unwrap_or(' ');
                let mut buf = [0u8; 4];
                fast2s::convert(c.encode_utf8(&mut buf))
                    .chars()
                    .next()
                    .unwrap_or(c)
            })
            .collect()
    })
}

/// Traditional → simplified for one character (identity for anything else).
pub fn to_simplified(c: char) -> char {
    let i = (c as u32).wrapping_sub(T2S_FIRST) as usize;
    t2s_table().get(i).copied().unwrap_or(c)
}

/// Placeholder for a number or masked run in [`match_key`].
pub const NUMBER_PLACEHOLDER: char = '#';

/// Digit/mask runs at least this long become [`NUMBER_PLACEHOLDER`] in [`match_key`].
pub const MIN_NUMBER_RUN: usize = 5;

/// Characters used to mask digits in published text (`*`, `×`, `＊` after NFKC is `*`).
pub fn is_mask_char(c: char) -> bool {
    matches!(c, '*' | '×' | '●' | '○' | '■' | '□')
}

/// True for CJK ideographs (the unified blocks and extensions A–F, compatibility ideographs).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F | 0x3007)
}

/// Fold a punctuation character to its canonical form, or `None` if it is not punctuation
/// that we fold. Applied after NFKC, so full-width ASCII punctuation is already half-width.
fn fold_punct(c: char) -> Option<char> {
    Some(match c {
        '。' | '｡' | '．' => '.',
        '、' | '﹐' | '﹑' | '､' => ',',
        '；' => ';',
        '：' => ':',
        '！' => '!',
        '？' => '?',
        '“' | '”' | '„' | '‟' | '「' | '」' | '『' | '』' | '〝' | '〞' | '"' => '"',
        '‘' | '’' | '‚' | '‛' | '`' | '´' => '\'',
        '【' | '〔' | '［' | '〖' | '〘' | '〚' => '[',
        '】' | '〕' | '］' | '〗' | '〙' | '〛' => ']',
        '（' | '﹙' => '(',
        '）' | '﹚' => ')',
        '〈' | '《' | '«' => '《',
        '〉' | '》' | '»' => '》',
        '—' | '–' | '―' | '‐' | '‑' | '‒' | '－' | '─' | '━' | '～' | '〜' | '~' => {
            '-'
        }
        '…' | '⋯' | '‥' => '.',
        '·' | '•' | '・' | '‧' => '·',
        _ => return None,
    })
}

/// Characters that are removed outright: control characters other than line breaks and tabs,
/// zero-width and format characters, the BOM, variation selectors.
fn is_removed(c: char) -> bool {
    if c == '\n' || c == '\t' || c == '\r' {
        return false;
    }
    c.is_control()
        || matches!(c as u32,
            0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0xFEFF | 0x00AD
            | 0xFE00..=0xFE0F | 0xE0100..=0xE01EF | 0x180E | 0x061C)
}

fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// CJK unified ideographs (main block and extension A): NFKC-stable starters that take part in
/// no canonical composition, so NFKC can be applied to the text between them piece by piece.
#[inline]
fn is_nfkc_inert(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF)
}

/// NFKC of `run` (text between two inert characters) appended to `out`.
fn push_nfkc(run: &str, out: &mut String) {
    if run.is_ascii() {
        out.push_str(run);
        return;
    }
    match unicode_normalization::is_nfkc_quick(run.chars()) {
        unicode_normalization::IsNormalized::Yes => out.push_str(run),
        _ => out.extend(run.chars().nfkc()),
    }
}

/// Normalise petition text to its canonical readable form.
///
/// Never fails: any `&str` gives a (possibly empty) string. Line breaks are kept as single
/// `\n` (they separate title and body); other whitespace runs become one space, and spaces
/// next to CJK characters are dropped (people type `我 要 投 诉`). Runs of the same punctuation
/// mark collapse to one (`！！！` → `!`).
pub fn normalize(text: &str) -> String {
    // 1. remove control/format characters, 2. NFKC (full-width → half-width, compatibility forms).
    // `_x000D_` is a carriage return escaped by spreadsheet exports; it is noise in every corpus
    // that passed through Excel.
    let text = if text.contains("_x000D_") {
        std::borrow::Cow::Owned(text.replace("_x000D_", "\n"))
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    let filtered: std::borrow::Cow<'_, str> = if text.chars().any(is_removed) {
        std::borrow::Cow::Owned(text.chars().filter(|c| !is_removed(*c)).collect())
    } else {
        text
    };
    // NFKC piecewise: CJK ideographs (most of a petition) are copied as they are, and only the
    // runs between them (punctuation, full-width forms, Latin) go through the normaliser. Equal
    // to NFKC of the whole text because the ideographs neither compose nor reorder (a property
    // test checks this against the whole-text NFKC).
    let mut cleaned = String::with_capacity(filtered.len());
    let mut run_start: Option<usize> = None;
    for (i, c) in filtered.char_indices() {
        if is_nfkc_inert(c) {
            if let Some(s) = run_start.take() {
                push_nfkc(&filtered[s..i], &mut cleaned);
            }
            cleaned.push(c);
        } else if run_start.is_none() {
            run_start = Some(i);
        }
    }
    if let Some(s) = run_start {
        push_nfkc(&filtered[s..], &mut cleaned);
    }
    fold(&cleaned)
}

/// Steps 3 and 4 of [`normalize`] on NFKC text: traditional → simplified, then punctuation and
/// whitespace folding, in one pass.
fn fold(cleaned: &str) -> String {
    // 3. traditional → simplified, one character at a time through a dense table built once from
    // fast2s's OpenCC-derived data (its two-character exceptions such as 乾隆 are not applied).
    let table = t2s_table();
    // 4. punctuation and whitespace folding.
    let mut out = String::with_capacity(cleaned.len());
    let mut pending_space: Option<char> = None; // ' ' or '\n'
    let mut last: Option<char> = None;
    let mut last_cjk_or_punct = false;
    for c in cleaned.chars() {
        let c = {
            let i = (c as u32).wrapping_sub(T2S_FIRST) as usize;
            table.get(i).copied().unwrap_or(c)
        };
        // fast path: an ideograph is neither space nor punctuation
        if matches!(c as u32, 0x4E00..=0x9FFF) {
            if let Some(sp) = pending_space.take()
                && last.is_some()
                && sp == '\n'
            {
                out.push(sp);
            }
            out.push(c);
            last = Some(c);
            last_cjk_or_punct = true;
            continue;
        }
        if is_space(c) {
            let kind = if c == '\n' || c == '\r' { '\n' } else { ' ' };
            pending_space = match pending_space {
                Some('\n') => Some('\n'),
                _ => Some(kind),
            };
            continue;
        }
        let c = fold_punct(c).unwrap_or(c);
        let punct = is_punct(c);
        let cjk_or_punct = punct || is_cjk(c);
        if let Some(sp) = pending_space.take()
            && last.is_some()
        {
            let keep = sp == '\n' || !(last_cjk_or_punct || cjk_or_punct);
            if keep {
                out.push(sp);
            }
        }
        if punct && last == Some(c) && !is_mask_char(c) {
            continue;
        }
        out.push(c);
        last = Some(c);
        last_cjk_or_punct = cjk_or_punct;
    }
    out
}

/// Punctuation after folding (ASCII punctuation plus the few CJK marks we keep).
pub fn is_punct(c: char) -> bool {
    if is_mask_char(c) {
        return false;
    }
    c.is_ascii_punctuation()
        || (matches!(c as u32, 0x00A0..=0x00BF | 0x2000..=0x206F | 0x3000..=0x303F
                | 0xFE30..=0xFE4F | 0xFF00..=0xFF65)
            && !c.is_alphanumeric())
}

/// The matching key of a text: normalised, then only letters, digits and CJK kept (lower-case),
/// with each digit/mask run of [`MIN_NUMBER_RUN`] or more characters replaced by
/// [`NUMBER_PLACEHOLDER`]. Used for fingerprints and shingles.
pub fn match_key(text: &str) -> String {
    match_key_of_normalized(&normalize(text))
}

/// Like [`match_key`] for text that is already the output of [`normalize`].
pub fn match_key_of_normalized(normalized: &str) -> String {
    let mut chars = Vec::with_capacity(normalized.len() / 2);
    match_key_chars(normalized, &mut chars);
    chars.into_iter().collect()
}

/// [`match_key_of_normalized`] appended to `out` as characters (what n-gram features and
/// shingles iterate over; no intermediate string).
pub fn match_key_chars(normalized: &str, out: &mut Vec<char>) {
    // start (in `out`) of the current digit/mask run and whether it has a mask character
    let mut run: Option<(usize, bool)> = None;
    for c in normalized.chars() {
        push_key_char(c, &mut run, out);
    }
    flush_run(&mut run, out);
}

/// One character of normalised text into the matching key (the body of [`match_key_chars`]).
#[inline]
fn push_key_char(c: char, run: &mut Option<(usize, bool)>, out: &mut Vec<char>) {
    if matches!(c as u32, 0x4E00..=0x9FFF) {
        // fast path: an ideograph is alphanumeric and its own lower case
        flush_run(run, out);
        out.push(c);
        return;
    }
    let mask = is_mask_char(c);
    if c.is_ascii_digit() || mask {
        let r = run.get_or_insert((out.len(), false));
        r.1 |= mask;
        out.push(c);
        return;
    }
    flush_run(run, out);
    if c.is_alphanumeric() {
        out.extend(c.to_lowercase());
    }
}

/// The matching key of raw `text` (what [`match_key`] gives, as characters appended to `out`)
/// and the length of its title line's part (the key of the normalised text before its first
/// line break; 0 when the normalised text has no line break, i.e. no separate title).
///
/// Classification needs only these, not the readable normalised text, so the common case —
/// ideographs, ASCII, full-width ASCII forms and the usual CJK punctuation — is done in one pass
/// over the raw text with no intermediate string: for exactly these characters NFKC is the
/// full-width → ASCII mapping (or leaves them alone), nothing composes, and the punctuation and
/// whitespace folding cannot change the key (both only ever drop or fold characters that the key
/// drops anyway, and none of them joins two digit runs). Any other character sends the text
/// through [`normalize`] and [`match_key_chars`]; a property test checks both agree.
pub fn match_key_with_title(text: &str, out: &mut Vec<char>) -> usize {
    let start = out.len();
    if let Some(title) = match_key_fast(text, out) {
        return title;
    }
    out.truncate(start);
    let normalized = normalize(text);
    let title = normalized
        .find('\n')
        .map_or(normalized.as_str(), |i| &normalized[..i]);
    match_key_chars(title, out);
    let title_len = out.len() - start;
    match_key_chars(&normalized[title.len()..], out);
    if title.len() == normalized.len() {
        0
    } else {
        title_len
    }
}

/// The one-pass path of [`match_key_with_title`]; `None` when the text holds a character it does
/// not cover (the caller then starts again on the general path).
fn match_key_fast(text: &str, out: &mut Vec<char>) -> Option<usize> {
    if text.contains("_x000D_") {
        return None;
    }
    let table = t2s_table();
    let start = out.len();
    let mut run: Option<(usize, bool)> = None;
    // something other than whitespace came before (a leading line break starts no title)
    let mut seen = false;
    // the key length at the first line break after something visible; it ends the title once
    // something visible follows it (`normalize` drops trailing line breaks)
    let mut line_break: Option<usize> = None;
    let mut title: Option<usize> = None;
    for c in text.chars() {
        let u = c as u32;
        let visible = match u {
            0x3400..=0x4DBF | 0x4E00..=0x9FFF => {
                let c = table
                    .get(u.wrapping_sub(T2S_FIRST) as usize)
                    .copied()
                    .unwrap_or(c);
                push_key_char(c, &mut run, out);
                true
            }
            0x0A | 0x0D => {
                flush_run(&mut run, out);
                if seen && line_break.is_none() {
                    line_break = Some(out.len() - start);
                }
                false
            }
            0x09 | 0x20 | 0x3000 => {
                flush_run(&mut run, out);
                false
            }
            // other ASCII controls are removed by `normalize` and would join digit runs
            0x00..=0x1F | 0x7F => return None,
            0x21..=0x7E => {
                push_key_char(c, &mut run, out);
                true
            }
            // full-width ASCII: NFKC maps it to ASCII
            0xFF01..=0xFF5E => {
                push_key_char(char::from_u32(u - 0xFEE0)?, &mut run, out);
                true
            }
            // CJK punctuation, quotes and dashes: neither letters nor digits before or after
            // NFKC and folding
            0x3001..=0x3002
            | 0x3008..=0x3011
            | 0x3014..=0x301B
            | 0x2014
            | 0x2018
            | 0x2019
            | 0x201C
            | 0x201D
            | 0x2026
            | 0x00B7 => {
                flush_run(&mut run, out);
                true
            }
            _ => return None,
        };
        if visible {
            seen = true;
            if title.is_none() {
                title = line_break;
            }
        }
    }
    flush_run(&mut run, out);
    Some(title.unwrap_or(0))
}

#[inline]
fn flush_run(run: &mut Option<(usize, bool)>, out: &mut Vec<char>) {
    if let Some((start, masked)) = run.take()
        && (masked || out.len() - start >= MIN_NUMBER_RUN)
    {
        out.truncate(start);
        out.push(NUMBER_PLACEHOLDER);
    }
}

/// Find masked-number runs (e.g. `*****`, `1381234****`, `A0001****`) in normalised text:
/// maximal runs of ASCII letters, digits and mask characters that contain at least two mask
/// characters. Returns byte ranges.
pub fn masked_runs(normalized: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut masks = 0usize;
    let mut end = 0usize;
    for (i, c) in normalized.char_indices() {
        if c.is_ascii_alphanumeric() || is_mask_char(c) {
            if start.is_none() {
                start = Some(i);
                masks = 0;
            }
            if is_mask_char(c) {
                masks += 1;
            }
            end = i + c.len_utf8();
        } else if let Some(s) = start.take()
            && masks >= 2
        {
            out.push(s..end);
        }
    }
    if let Some(s) = start
        && masks >= 2
    {
        out.push(s..end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The straightforward implementation [`normalize`] must agree with (tests only).
    ///
    /// Never fails: any `&str` gives a (possibly empty) string. Line breaks are kept as single
    /// `\n` (they separate title and body); other whitespace runs become one space, and spaces
    /// next to CJK characters are dropped (people type `我 要 投 诉`). Runs of the same punctuation
    /// mark collapse to one (`！！！` → `!`).
    pub(crate) fn normalize_reference(text: &str) -> String {
        // 1. remove control/format characters, 2. NFKC (full-width → half-width, compatibility forms).
        // `_x000D_` is a carriage return escaped by spreadsheet exports; it is noise in every corpus
        // that passed through Excel.
        let text = if text.contains("_x000D_") {
            std::borrow::Cow::Owned(text.replace("_x000D_", "\n"))
        } else {
            std::borrow::Cow::Borrowed(text)
        };
        let filtered: std::borrow::Cow<'_, str> = if text.chars().any(is_removed) {
            std::borrow::Cow::Owned(text.chars().filter(|c| !is_removed(*c)).collect())
        } else {
            text
        };
        let cleaned: String = match unicode_normalization::is_nfkc_quick(filtered.chars()) {
            unicode_normalization::IsNormalized::Yes => filtered.into_owned(),
            _ => filtered.chars().nfkc().collect(),
        };
        // 3. traditional → simplified, one character at a time through a dense table built once from
        // fast2s's OpenCC-derived data (its two-character exceptions such as 乾隆 are not applied).
        let table = t2s_table();
        let simplified: String = cleaned
            .chars()
            .map(|c| {
                let i = (c as u32).wrapping_sub(T2S_FIRST) as usize;
                table.get(i).copied().unwrap_or(c)
            })
            .collect();
        // 4. punctuation and whitespace folding in one pass.
        let mut out = String::with_capacity(simplified.len());
        let mut pending_space: Option<char> = None; // ' ' or '\n'
        let mut last: Option<char> = None;
        for c in simplified.chars() {
            if is_space(c) {
                let kind = if c == '\n' || c == '\r' { '\n' } else { ' ' };
                pending_space = match pending_space {
                    Some('\n') => Some('\n'),
                    _ => Some(kind),
                };
                continue;
            }
            let c = fold_punct(c).unwrap_or(c);
            if let Some(sp) = pending_space.take()
                && let Some(prev) = last
            {
                let keep =
                    sp == '\n' || !(is_cjk(prev) || is_cjk(c) || is_punct(prev) || is_punct(c));
                if keep {
                    out.push(sp);
                }
            }
            if is_punct(c) && last == Some(c) && !is_mask_char(c) {
                continue;
            }
            out.push(c);
            last = Some(c);
        }
        out
    }

    /// The straightforward matching key [`match_key_of_normalized`] must agree with (tests only).
    pub(crate) fn match_key_reference(normalized: &str) -> String {
        let mut out = String::with_capacity(normalized.len());
        let mut run = String::new();
        let flush = |run: &mut String, out: &mut String| {
            if run.chars().count() >= MIN_NUMBER_RUN || run.chars().any(is_mask_char) {
                out.push(NUMBER_PLACEHOLDER);
            } else {
                out.push_str(run);
            }
            run.clear();
        };
        for c in normalized.chars() {
            if c.is_ascii_digit() || is_mask_char(c) {
                run.push(c);
                continue;
            }
            if !run.is_empty() {
                flush(&mut run, &mut out);
            }
            if c.is_alphanumeric() {
                out.extend(c.to_lowercase());
            }
        }
        if !run.is_empty() {
            flush(&mut run, &mut out);
        }
        out
    }

    #[test]
    fn ideographs_are_alphanumeric_lower_case() {
        for u in 0x4E00..=0x9FFFu32 {
            let Some(c) = char::from_u32(u) else { continue };
            assert!(c.is_alphanumeric() && c.to_lowercase().eq([c]), "{c}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn piecewise_nfkc_equals_whole_text_nfkc(
            s in "[\\u{4e00}-\\u{4e40}\\u{3400}-\\u{3410}\\u{F900}-\\u{F910}\\u{300}-\\u{36f}\\u{ff01}-\\u{ff5e}\\u{3000}-\\u{303f}\\u{3131}-\\u{3190}\\u{ac00}-\\u{ac10}\\u{1100}-\\u{1112}\\u{2460}-\\u{2470}\\u{3200}-\\u{3250}a-zA-Z0-9 \\n\\r\\t。，！！？…—·*]{0,40}"
        ) {
            proptest::prop_assert_eq!(normalize(&s), normalize_reference(&s));
            let n = normalize(&s);
            proptest::prop_assert_eq!(match_key_of_normalized(&n), match_key_reference(&n));
        }
        #[test]
        fn agrees_with_reference_on_any_text(s in proptest::prelude::any::<String>()) {
            proptest::prop_assert_eq!(normalize(&s), normalize_reference(&s));
            proptest::prop_assert_eq!(match_key_of_normalized(&s), match_key_reference(&s));
        }
        #[test]
        fn one_pass_key_agrees_with_normalize(
            s in "[\\u{4e00}-\\u{4e40}\\u{8aa0}-\\u{8ab0}\\u{3400}-\\u{3410}\\u{ff01}-\\u{ff5e}\\u{3000}-\\u{3020}\\u{2010}-\\u{2030}\\u{0}-\\u{7f}\\u{b7}\\u{d7}\\u{300}_x0D。，！？…—·*]{0,40}"
        ) {
            let mut fast = Vec::new();
            let title = match_key_with_title(&s, &mut fast);
            let n = normalize(&s);
            proptest::prop_assert_eq!(fast.iter().collect::<String>(), match_key_of_normalized(&n));
            let t = n.find('\n').map_or("", |i| &n[..i]);
            proptest::prop_assert_eq!(title, match_key_of_normalized(t).chars().count());
        }
        #[test]
        fn one_pass_key_agrees_on_any_text(s in proptest::prelude::any::<String>()) {
            let mut fast = vec!['x'];
            let title = match_key_with_title(&s, &mut fast);
            let n = normalize(&s);
            proptest::prop_assert_eq!(fast[1..].iter().collect::<String>(), match_key_of_normalized(&n));
            let t = n.find('\n').map_or("", |i| &n[..i]);
            proptest::prop_assert_eq!(title, match_key_of_normalized(t).chars().count());
        }
        #[test]
        fn match_key_agrees_on_digits_and_masks(s in "[0-9*×a-zA-ZÀ-ÿİ\\u{4e00}-\\u{4e10} .,]{0,40}") {
            proptest::prop_assert_eq!(match_key_of_normalized(&s), match_key_reference(&s));
        }
    }

    #[test]
    fn fast_path_agrees_with_reference() {
        for t in [
            "ＡＢＣ１２３，請問這個問題！！！",
            "e\u{301}中\u{301}文 a 文 ㈱ ① ﬁ 兀 \u{F900}",
            "标题\r\n\r\n正文  word  中 文 ， 。",
            "我 要 投 诉 ab  cd\t\u{3000}x",
        ] {
            assert_eq!(normalize(t), normalize_reference(t), "{t:?}");
        }
    }

    #[test]
    fn full_width_and_traditional() {
        assert_eq!(normalize("ＡＢＣ１２３"), "ABC123");
        assert_eq!(normalize("請問這個問題"), "请问这个问题");
        assert_eq!(normalize("我 要 投 诉"), "我要投诉");
        assert_eq!(normalize("您好！！！请帮忙……"), "您好!请帮忙.");
        assert_eq!(normalize("hello   world"), "hello world");
    }

    #[test]
    fn control_characters_removed() {
        assert_eq!(normalize("a\u{0}b\u{200B}c\u{FEFF}"), "abc");
        assert_eq!(normalize("标题\r\n\r\n正文"), "标题\n正文");
    }

    #[test]
    fn match_key_masks_numbers() {
        assert_eq!(match_key("电话：13812345678。"), "电话#");
        assert_eq!(match_key("电话 138****5678"), "电话#");
        assert_eq!(match_key("第3栋 2单元"), "第3栋2单元");
        assert_eq!(match_key("Hello, 世界"), "hello世界");
    }

    #[test]
    fn masked_runs_found() {
        let t = normalize("联系电话1381234****，身份证*****");
        let runs: Vec<&str> = masked_runs(&t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(runs, vec!["1381234****", "*****"]);
    }

    #[test]
    fn empty_and_emoji() {
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("😀 好"), "😀好");
        assert_eq!(match_key("😀"), "");
    }
}
