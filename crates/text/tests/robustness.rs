//! Property tests and bad-input tests: the normaliser, the PII parsers, the duplicate index,
//! the reply check and the CLI never panic, whatever the text.

use huiyin_text::dedup::{DocMeta, DupIndex, IndexConfig, Signature};
use huiyin_text::normalize::{masked_runs, match_key, normalize};
use huiyin_text::pii::scan;
use huiyin_text::reply::check_reply;
use huiyin_text::segment::shared;
use proptest::prelude::*;

/// Strings mixing CJK, ASCII, digits, full-width forms, masks, emoji and control characters.
fn messy() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        any::<String>(),
        "[0-9０-９*xX@. -]{0,30}",
        "[\\u{4e00}-\\u{4e80}，。！？、：“”《》（）]{0,40}",
        "[\\u{0}-\\u{1f}\\u{200b}\\u{feff}\\u{1F600}-\\u{1F64F}a-zA-Z]{0,20}",
        Just("1381234****".to_string()),
        Just("11010519491231002X".to_string()),
        Just("联系人：王小明".to_string()),
        Just("幸福路18号3栋2单元501室".to_string()),
    ];
    prop::collection::vec(pieces, 0..6).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn normalise_is_total_and_idempotent(s in messy()) {
        let n = normalize(&s);
        prop_assert_eq!(normalize(&n), n.clone());
        prop_assert!(!n.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
        let k = match_key(&s);
        prop_assert!(k.chars().all(|c| c.is_alphanumeric() || c == '#'));
        for r in masked_runs(&n) {
            prop_assert!(n.is_char_boundary(r.start) && n.is_char_boundary(r.end));
        }
    }

    #[test]
    fn pii_spans_are_valid(s in messy()) {
        let r = scan(&s);
        let mut last = 0;
        for sp in &r.spans {
            prop_assert!(sp.start < sp.end && sp.end <= s.len());
            prop_assert!(s.is_char_boundary(sp.start) && s.is_char_boundary(sp.end));
            prop_assert!(sp.start >= last);
            last = sp.end;
        }
        if r.spans.is_empty() {
            prop_assert_eq!(r.masked_text, s);
        }
    }

    #[test]
    fn index_and_reply_never_panic(a in messy(), b in messy()) {
        let mut idx = DupIndex::new(IndexConfig::default());
        let sa = Signature::of_text(&a);
        let id = idx.insert(&sa, &DocMeta::default());
        prop_assert!(id.is_ok());
        let _ = idx.query(&Signature::of_text(&b), &DocMeta::default());
        let c = check_reply(shared(), &a, &b);
        prop_assert!(c.score <= 100);
    }

    #[test]
    fn masked_mobile_keeps_ends(d in "1[3-9][0-9]{9}") {
        let r = scan(&format!("电话{d}。"));
        prop_assert_eq!(r.spans.len(), 1);
        let m = &r.spans[0].masked;
        prop_assert_eq!(&m[..3], &d[..3]);
        prop_assert_eq!(&m[7..], &d[7..]);
    }
}

#[test]
fn megabytes_of_text() {
    let big = "我们小区门口的垃圾站臭气熏天，😀 Ｔｅｓｔ 1381234****。\u{0}".repeat(40_000); // ~2 MB
    let n = normalize(&big);
    assert!(!n.is_empty());
    let sig = Signature::of_text(&big);
    assert!(!sig.is_empty());
    let r = scan(&big);
    assert!(r.spans.is_empty());
    assert!(!shared().keywords(&n[..n.len().min(100_000)]).is_empty());
}

#[test]
fn empty_everywhere() {
    assert_eq!(normalize(""), "");
    assert!(Signature::of_text("").is_empty());
    assert!(scan("").spans.is_empty());
    assert_eq!(check_reply(shared(), "", "").score, 0);
    assert!(huiyin_text::hotspot::hotspots(shared(), &[], &Default::default(), None).is_empty());
}
