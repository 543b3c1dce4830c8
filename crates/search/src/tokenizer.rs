//! The Chinese tokenizer of the index: a small tantivy adapter over `huiyin_text`'s jieba
//! segmenter (the shipped GB/T 2260 region names plus run-time user dictionaries).
//!
//! Text is folded one character at a time before segmentation — traditional → simplified
//! (繁→简), full-width → half-width, Latin lower-cased — so a query in either script finds
//! both, and token offsets still point into the original text (snippets highlight what the
//! person wrote). Punctuation, whitespace and stop words produce no token.

use huiyin_text::normalize::{is_cjk, is_mask_char, to_simplified};
use huiyin_text::segment::Segmenter;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The name the tokenizer is registered under in the index.
pub const TOKENIZER: &str = "huiyin_zh";

/// Folds one character for matching: 繁→简, full-width ASCII → ASCII, lower case.
pub fn fold_char(c: char) -> char {
    let c = match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => to_simplified(c),
    };
    c.to_ascii_lowercase()
}

/// Whether a token carries meaning (not only punctuation, symbols or spaces).
fn is_meaningful(word: &str) -> bool {
    word.chars()
        .any(|c| c.is_alphanumeric() || is_cjk(c) || is_mask_char(c))
}

/// The folded text and, for each byte of it, where the character starts in the original.
fn fold(text: &str) -> (String, Vec<usize>) {
    let mut folded = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len() + 1);
    for (i, c) in text.char_indices() {
        let f = fold_char(c);
        for _ in 0..f.len_utf8() {
            origin.push(i);
        }
        folded.push(f);
    }
    origin.push(text.len());
    (folded, origin)
}

/// Tokens `(folded text, original byte range)` of `text`, in order, stop words left out.
pub fn tokens(seg: &Segmenter, text: &str) -> Vec<(String, std::ops::Range<usize>)> {
    walk(seg, text, false)
        .into_iter()
        .map(|(w, range, _)| (w, range))
        .collect()
}

/// A token of the index: text, original byte range, position.
type IndexToken = (String, std::ops::Range<usize>, usize);

/// What the index stores for `text`: the [`tokens`], one position each, and at the position of
/// every CJK word of three characters or more also its 2- and 3-character dictionary words
/// ([`Segmenter::sub_words`]) — so `南海` finds `南海区`, while a phrase still matches the
/// words in order. Queries use [`tokens`] alone.
pub fn index_tokens(seg: &Segmenter, text: &str) -> Vec<IndexToken> {
    walk(seg, text, true)
}

/// The words of `text` with their original ranges and positions, and with `sub_words` also
/// the dictionary words inside the long CJK ones.
fn walk(seg: &Segmenter, text: &str, sub_words: bool) -> Vec<IndexToken> {
    let (folded, origin) = fold(text);
    let base = folded.as_ptr() as usize;
    let original = |start: usize, end: usize| Some(*origin.get(start)?..*origin.get(end)?);
    let mut out = Vec::new();
    let mut position = 0;
    for w in seg.words(&folded) {
        if !is_meaningful(w) || seg.is_stopword(w) {
            continue;
        }
        let start = w.as_ptr() as usize - base;
        let Some(range) = original(start, start + w.len()) else {
            continue;
        };
        out.push((w.to_string(), range, position));
        if sub_words && w.chars().all(is_cjk) {
            for (at, sub) in seg.sub_words(w) {
                if seg.is_stopword(sub) {
                    continue;
                }
                if let Some(range) = original(start + at, start + at + sub.len()) {
                    out.push((sub.to_string(), range, position));
                }
            }
        }
        position += 1;
    }
    out
}

/// The tantivy tokenizer over a shared [`Segmenter`].
#[derive(Clone)]
pub struct ZhTokenizer {
    seg: &'static Segmenter,
    token: Token,
}

impl ZhTokenizer {
    pub fn new(seg: &'static Segmenter) -> Self {
        ZhTokenizer {
            seg,
            token: Token::default(),
        }
    }
}

/// The tokens of one text.
pub struct ZhTokenStream<'a> {
    tokens: std::vec::IntoIter<IndexToken>,
    token: &'a mut Token,
}

impl Tokenizer for ZhTokenizer {
    type TokenStream<'a> = ZhTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> ZhTokenStream<'a> {
        self.token.reset();
        ZhTokenStream {
            tokens: index_tokens(self.seg, text).into_iter(),
            token: &mut self.token,
        }
    }
}

impl TokenStream for ZhTokenStream<'_> {
    fn advance(&mut self) -> bool {
        let Some((text, range, position)) = self.tokens.next() else {
            return false;
        };
        self.token.text = text;
        self.token.offset_from = range.start;
        self.token.offset_to = range.end;
        self.token.position = position;
        self.token.position_length = 1;
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokens(huiyin_text::segment::shared(), text)
            .into_iter()
            .map(|(w, _)| w)
            .collect()
    }

    #[test]
    fn traditional_folds_to_simplified_and_punctuation_is_dropped() {
        let simp = words("小区噪音扰民，夜间施工！");
        let trad = words("小區噪音擾民，夜間施工！");
        assert_eq!(simp, trad);
        assert!(simp.iter().all(|w| !w.contains('，') && !w.contains('!')));
        assert!(simp.contains(&"噪音".to_string()), "{simp:?}");
    }

    #[test]
    fn offsets_point_into_the_original_text() {
        let text = "ＡＢＣ小區噪音";
        let seg = huiyin_text::segment::shared();
        for (w, r) in tokens(seg, text) {
            let orig = &text[r];
            let folded: String = orig.chars().map(fold_char).collect();
            assert_eq!(folded, w);
        }
    }

    #[test]
    fn the_index_also_holds_the_words_inside_a_long_word_at_its_position() {
        let seg = huiyin_text::segment::shared();
        let toks = index_tokens(seg, "佛山市南海区的道路");
        let at = |w: &str| toks.iter().find(|t| t.0 == w).map(|t| (t.1.clone(), t.2));
        let (whole, pos) = at("南海区").expect("the whole word");
        let (part, part_pos) = at("南海").expect("its part");
        assert_eq!(pos, part_pos, "{toks:?}");
        assert_eq!(part.start, whole.start);
        assert_eq!(&"佛山市南海区的道路"[part], "南海");
        // Positions of the words themselves stay consecutive (phrases still match).
        let words: Vec<usize> = tokens(seg, "佛山市南海区的道路")
            .iter()
            .map(|(w, _)| at(w).map(|(_, p)| p).unwrap())
            .collect();
        assert!(words.windows(2).all(|p| p[1] == p[0] + 1), "{words:?}");
        // A query term stays the word as typed.
        assert!(tokens(seg, "南海区").iter().all(|(w, _)| w != "南海"));
    }

    #[test]
    fn region_names_are_one_token() {
        let ws = words("长沙市岳麓区的道路");
        assert!(ws.contains(&"岳麓区".to_string()), "{ws:?}");
    }
}
