//! Personal data (个人信息) in petition text: mobile and landline numbers, ID-card numbers
//! (居民身份证, GB 11643 check digit), bank-card numbers (Luhn), e-mail addresses, and — as far as
//! cues allow — personal names (after 姓名/我叫/联系人) and street addresses (…路…号, …小区…栋…室).
//! Masking for published replies and exports, and a flag when contact data looks fake.
//!
//! Spans are byte ranges into the original text; full-width digits are read as digits.

use serde::{Deserialize, Serialize};

/// What kind of personal data a span holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// Mainland mobile number (1[3-9] + 9 digits).
    Mobile,
    /// Landline with area code (0xx-xxxxxxxx).
    Landline,
    /// Resident ID-card number, 18 digits (or 15 legacy).
    IdCard,
    /// Bank-card number, 16–19 digits passing the Luhn check.
    BankCard,
    /// E-mail address.
    Email,
    /// Personal name after a cue (姓名, 我叫, 联系人 …).
    Name,
    /// Street address (…路…号, …小区…栋…室).
    Address,
}

/// Why a piece of contact data looks fake (虚假联系方式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FakeReason {
    /// ID number whose check digit does not match.
    BadCheckDigit,
    /// ID number with a birth date that cannot exist.
    ImpossibleDate,
    /// All digits the same (11111111111).
    RepeatedDigits,
    /// Ascending or descending run (12345678901).
    SequentialDigits,
    /// A mobile number with a prefix no operator uses (10x, 11x, 12x).
    ImpossiblePrefix,
}

/// One detected piece of personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PiiSpan {
    /// Kind.
    pub kind: PiiKind,
    /// Byte offset of the start in the original text.
    pub start: usize,
    /// Byte offset of the end.
    pub end: usize,
    /// The original text of the span.
    pub text: String,
    /// The masked replacement.
    pub masked: String,
    /// Reasons the value looks fake (empty when plausible).
    pub fake: Vec<FakeReason>,
}

/// The result of a scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PiiReport {
    /// Spans in text order, non-overlapping.
    pub spans: Vec<PiiSpan>,
    /// The text with every span replaced by its mask.
    pub masked_text: String,
    /// True when some phone or ID number looks fake.
    pub fake_contact: bool,
}

const NAME_CUES: &[&str] = &[
    "姓名",
    "我叫",
    "联系人",
    "本人叫",
    "申请人",
    "举报人",
    "投诉人",
    "户主",
];
/// Common surnames (the first character of a name after a cue must be one of these).
const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝";

fn fold_digit(c: char) -> char {
    match c {
        '０'..='９' => char::from_u32(c as u32 - 0xFF10 + '0' as u32).unwrap_or(c),
        'Ｘ' | 'ｘ' => 'X',
        _ => c,
    }
}

/// GB 11643 check character for the first 17 digits.
pub fn id_check_char(first17: &[u8]) -> Option<char> {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (d, w) in first17.iter().zip(W) {
        sum += u32::from(*d) * w;
    }
    C.get((sum % 11) as usize).copied()
}

/// Luhn checksum over digits.
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn date_valid(y: u32, m: u32, d: u32) -> bool {
    if !(1900..=2100).contains(&y) || !(1..=12).contains(&m) || d == 0 {
        return false;
    }
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    d <= days
}

fn num(d: &[u8]) -> u32 {
    d.iter().fold(0, |a, x| a * 10 + u32::from(*x))
}

fn looks_fake_digits(d: &[u8]) -> Vec<FakeReason> {
    let mut out = Vec::new();
    if d.len() >= 6 && d.iter().all(|x| *x == d[0]) {
        out.push(FakeReason::RepeatedDigits);
    }
    let asc = d.windows(2).filter(|w| (w[0] + 1) % 10 == w[1]).count();
    let desc = d.windows(2).filter(|w| (w[1] + 1) % 10 == w[0]).count();
    if d.len() >= 8 && (asc + 2 >= d.len() || desc + 2 >= d.len()) {
        out.push(FakeReason::SequentialDigits);
    }
    out
}

fn mask_keep(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < head || i + tail >= n || !c.is_alphanumeric() {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// Classify a digit run (digits only, with X allowed last) found at a boundary.
fn classify_number(
    digits: &[u8],
    last_x: bool,
    has_sep: bool,
) -> Option<(PiiKind, Vec<FakeReason>)> {
    let n = digits.len() + usize::from(last_x);
    if n == 18 || (n == 15 && !last_x) {
        let (y, m, d) = if n == 18 {
            (
                num(&digits[6..10]),
                num(&digits[10..12]),
                num(&digits[12..14]),
            )
        } else {
            (
                1900 + num(&digits[6..8]),
                num(&digits[8..10]),
                num(&digits[10..12]),
            )
        };
        let region_ok = (11..=82).contains(&num(&digits[0..2]));
        if region_ok && (1..=12).contains(&m) && (1..=31).contains(&d) && (1900..=2100).contains(&y)
        {
            let mut fake = Vec::new();
            if !date_valid(y, m, d) {
                fake.push(FakeReason::ImpossibleDate);
            }
            if n == 18 {
                let expected = id_check_char(&digits[..17]);
                let actual = if last_x {
                    Some('X')
                } else {
                    digits.get(17).map(|d| char::from(b'0' + d))
                };
                if expected != actual {
                    fake.push(FakeReason::BadCheckDigit);
                }
            }
            return Some((PiiKind::IdCard, fake));
        }
    }
    if last_x {
        return None;
    }
    if (16..=19).contains(&n) && luhn_valid(digits) {
        return Some((PiiKind::BankCard, Vec::new()));
    }
    if n == 11 && digits[0] == 1 {
        let mut fake = looks_fake_digits(digits);
        if digits[1] < 3 {
            fake.push(FakeReason::ImpossiblePrefix);
        }
        return Some((PiiKind::Mobile, fake));
    }
    if digits[0] == 0 && (10..=12).contains(&n) && digits[1] != 0 {
        return Some((PiiKind::Landline, looks_fake_digits(&digits[3..])));
    }
    if has_sep && digits[0] == 0 && (10..=13).contains(&n) {
        return Some((PiiKind::Landline, looks_fake_digits(&digits[3..])));
    }
    None
}

fn mask_for(kind: PiiKind, text: &str) -> String {
    match kind {
        PiiKind::Mobile => mask_keep(text, 3, 4),
        PiiKind::IdCard => mask_keep(text, 6, 4),
        PiiKind::BankCard => mask_keep(text, 4, 4),
        PiiKind::Landline => {
            let n = text.chars().count();
            let area = text
                .find('-')
                .map(|i| text[..i].chars().count())
                .unwrap_or(if n >= 12 { 4 } else { 3 });
            mask_keep(text, area, 2)
        }
        PiiKind::Email => {
            let (local, domain) = text.split_once('@').unwrap_or((text, ""));
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        PiiKind::Name => {
            let mut cs = text.chars();
            let first = cs.next().map(String::from).unwrap_or_default();
            first + &"*".repeat(cs.count())
        }
        PiiKind::Address => text
            .chars()
            .map(|c| {
                if fold_digit(c).is_ascii_digit() {
                    '*'
                } else {
                    c
                }
            })
            .collect(),
    }
}

/// Scan text for personal data and mask it. Never fails; empty text gives an empty report.
pub fn scan(text: &str) -> PiiReport {
    let chars: Vec<(usize, char)> = text
        .char_indices()
        .map(|(i, c)| (i, fold_digit(c)))
        .collect();
    let end_of = |k: usize| chars.get(k).map(|(i, _)| *i).unwrap_or(text.len());
    let mut spans: Vec<PiiSpan> = Vec::new();
    let push =
        |spans: &mut Vec<PiiSpan>, kind: PiiKind, s: usize, e: usize, fake: Vec<FakeReason>| {
            let t = &text[s..e];
            spans.push(PiiSpan {
                kind,
                start: s,
                end: e,
                text: t.to_string(),
                masked: mask_for(kind, t),
                fake,
            });
        };
    // numbers (allowing '-' and single spaces between digit groups)
    let mut k = 0;
    while k < chars.len() {
        let c = chars[k].1;
        let prev_alnum = k > 0 && chars[k - 1].1.is_ascii_alphanumeric();
        if !c.is_ascii_digit() || prev_alnum {
            k += 1;
            continue;
        }
        let start = k;
        let mut digits: Vec<u8> = Vec::new();
        let mut last_x = false;
        let mut has_sep = false;
        let mut j = k;
        while j < chars.len() {
            let c = chars[j].1;
            if c.is_ascii_digit() {
                digits.push(c as u8 - b'0');
                j += 1;
            } else if (c == '-' || c == ' ')
                && chars.get(j + 1).is_some_and(|n| n.1.is_ascii_digit())
                && digits.len() < 19
            {
                has_sep = true;
                j += 1;
            } else {
                break;
            }
        }
        if chars.get(j).is_some_and(|c| c.1 == 'X' || c.1 == 'x') && digits.len() == 17 {
            last_x = true;
            j += 1;
        }
        let next_alnum = chars
            .get(j)
            .is_some_and(|c| c.1.is_ascii_alphanumeric() || c.1 == '*');
        if !next_alnum
            && !digits.is_empty()
            && let Some((kind, fake)) = classify_number(&digits, last_x, has_sep)
        {
            push(&mut spans, kind, chars[start].0, end_of(j), fake);
        }
        k = j.max(k + 1);
    }
    // e-mail: ascii local part @ domain with a dot
    for (at, _) in text.match_indices('@') {
        let before = &text[..at];
        let local_start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
            .last()
            .map(|(i, _)| i);
        let after = &text[at + 1..];
        let dom_len: usize = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
            .map(char::len_utf8)
            .sum();
        let domain = after[..dom_len].trim_end_matches('.');
        if let Some(ls) = local_start
            && domain.contains('.')
            && !domain.starts_with('.')
        {
            let e = at + 1 + domain.len();
            if !spans.iter().any(|s| s.start < e && ls < s.end) {
                push(&mut spans, PiiKind::Email, ls, e, Vec::new());
            }
        }
    }
    // names after cues
    for cue in NAME_CUES {
        for (pos, _) in text.match_indices(cue) {
            let mut i = pos + cue.len();
            let rest = &text[i..];
            let skip: usize = rest
                .chars()
                .take_while(|c| matches!(c, ':' | '：' | ' ' | '是' | '为'))
                .map(char::len_utf8)
                .sum();
            i += skip;
            let name: String = text[i..]
                .chars()
                .take_while(|c| crate::normalize::is_cjk(*c))
                .take(3)
                .collect();
            let first = name.chars().next();
            if name.chars().count() >= 2 && first.is_some_and(|f| SURNAMES.contains(f)) {
                let n3: Vec<char> = name.chars().collect();
                // a third character that starts a common word is not part of the name
                let len = if n3.len() == 3 && "的在是和说家住电联手身现要今".contains(n3[2])
                {
                    2
                } else {
                    n3.len()
                };
                let e = i + n3[..len].iter().map(|c| c.len_utf8()).sum::<usize>();
                if !spans.iter().any(|s| s.start < e && i < s.end) {
                    push(&mut spans, PiiKind::Name, i, e, Vec::new());
                }
            }
        }
    }
    // addresses: an anchor "<digits>号|栋|幢|单元|室" preceded by a road/compound word
    let mut k = 0;
    while k < chars.len() {
        if !chars[k].1.is_ascii_digit() {
            k += 1;
            continue;
        }
        let mut j = k;
        while j < chars.len() && (chars[j].1.is_ascii_digit() || chars[j].1 == '-') {
            j += 1;
        }
        let unit = chars.get(j).map(|c| c.1);
        let is_anchor = matches!(unit, Some('号' | '栋' | '幢' | '室' | '弄'))
            || (unit == Some('单') && chars.get(j + 1).map(|c| c.1) == Some('元'));
        let before: String = chars[k.saturating_sub(12)..k].iter().map(|c| c.1).collect();
        let has_place = [
            "路", "街", "巷", "道", "村", "组", "小区", "花园", "苑", "公寓", "大厦", "栋", "单元",
            "号",
        ]
        .iter()
        .any(|w| before.ends_with(w) || before.contains(w));
        if is_anchor && has_place {
            // extend left over CJK characters up to 12, stopping at punctuation
            let mut s = k;
            while s > 0
                && k - s < 12
                && (crate::normalize::is_cjk(chars[s - 1].1)
                    || chars[s - 1].1.is_ascii_alphanumeric())
            {
                s -= 1;
            }
            // extend right over further number+unit groups
            let mut e = j + if unit == Some('单') { 2 } else { 1 };
            loop {
                let mut x = e;
                while x < chars.len() && chars[x].1.is_ascii_digit() {
                    x += 1;
                }
                let u = chars.get(x).map(|c| c.1);
                if x > e && matches!(u, Some('号' | '栋' | '幢' | '室' | '楼' | '层')) {
                    e = x + 1;
                } else if x > e && u == Some('单') && chars.get(x + 1).map(|c| c.1) == Some('元')
                {
                    e = x + 2;
                } else {
                    break;
                }
            }
            let (bs, be) = (chars[s].0, end_of(e));
            if !spans.iter().any(|sp| sp.start < be && bs < sp.end) {
                push(&mut spans, PiiKind::Address, bs, be, Vec::new());
            }
            k = e;
            continue;
        }
        k = j.max(k + 1);
    }
    spans.sort_by_key(|s| s.start);
    let mut masked_text = String::with_capacity(text.len());
    let mut pos = 0;
    for s in &spans {
        if s.start < pos {
            continue;
        }
        masked_text.push_str(&text[pos..s.start]);
        masked_text.push_str(&s.masked);
        pos = s.end;
    }
    masked_text.push_str(&text[pos..]);
    let fake_contact = spans.iter().any(|s| !s.fake.is_empty());
    PiiReport {
        spans,
        masked_text,
        fake_contact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(t: &str) -> Vec<(PiiKind, String)> {
        scan(t)
            .spans
            .into_iter()
            .map(|s| (s.kind, s.text))
            .collect()
    }

    #[test]
    fn phones_and_masking() {
        let r = scan("我的电话是13812341234，座机0731-84567890。");
        assert_eq!(r.spans.len(), 2, "{r:?}");
        assert_eq!(r.spans[0].kind, PiiKind::Mobile);
        assert_eq!(r.spans[0].masked, "138****1234");
        assert_eq!(r.spans[1].kind, PiiKind::Landline);
        assert_eq!(r.masked_text, "我的电话是138****1234，座机0731-******90。");
        assert!(!r.fake_contact);
    }

    #[test]
    fn id_cards() {
        // 11010519491231002X is the standard's worked example
        let r = scan("身份证号11010519491231002X");
        assert_eq!(r.spans[0].kind, PiiKind::IdCard);
        assert!(r.spans[0].fake.is_empty(), "{r:?}");
        assert_eq!(r.spans[0].masked, "110105********002X");
        let bad = scan("身份证110105194912310021");
        assert_eq!(bad.spans[0].fake, vec![FakeReason::BadCheckDigit]);
        assert!(bad.fake_contact);
        let date = scan("身份证110105194902300021");
        assert!(date.spans[0].fake.contains(&FakeReason::ImpossibleDate));
    }

    #[test]
    fn fake_phones() {
        let r = scan("电话11111111111");
        assert!(r.fake_contact, "{r:?}");
        let r = scan("电话12345678901");
        assert!(r.spans[0].fake.contains(&FakeReason::SequentialDigits));
    }

    #[test]
    fn bank_and_email() {
        assert_eq!(kinds("卡号4111111111111111")[0].0, PiiKind::BankCard);
        let r = scan("邮箱zhang.san@example.com，谢谢");
        assert_eq!(r.spans[0].kind, PiiKind::Email);
        assert_eq!(r.spans[0].masked, "z***@example.com");
    }

    #[test]
    fn names_and_addresses() {
        let r = scan("联系人：王小明，住幸福路18号3栋2单元501室");
        let k: Vec<PiiKind> = r.spans.iter().map(|s| s.kind).collect();
        assert_eq!(k, vec![PiiKind::Name, PiiKind::Address], "{r:?}");
        assert_eq!(r.spans[0].masked, "王**");
        assert!(
            r.masked_text.contains("幸福路**号*栋*单元***室"),
            "{}",
            r.masked_text
        );
    }

    #[test]
    fn masked_numbers_and_plain_numbers_are_left() {
        assert!(scan("电话138****1234").spans.is_empty());
        assert!(scan("2019年4月有300户").spans.is_empty());
        assert!(scan("").spans.is_empty());
    }

    #[test]
    fn full_width_digits() {
        let r = scan("电话１３８１２３４１２３４");
        assert_eq!(r.spans[0].kind, PiiKind::Mobile);
    }
}
