//! Content classification (分类) and routing suggestions (分流建议): a linear model over
//! TF-IDF-weighted features (character 1–3-grams of the matching key, jieba words, and the title
//! line's words under their own namespace), trained as multinomial logistic regression by SGD.
//!
//! The same model type serves any label set: the first-level content category, a finer
//! category, or the responsible unit learned from the deployment's own routed cases. Below
//! [`ClassifierConfig::manual_threshold`] a prediction says "manual" (人工分流).

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::TextError;
use crate::hash::{Rng, for_each_ngram_hash, for_each_ngram_hash_while, hash_chars, hash_str};
use crate::normalize::{match_key_with_title, normalize};
use crate::segment::Segmenter;

/// The label returned when the confidence is below the threshold.
pub const MANUAL: &str = "manual";

/// Feature namespaces (part of the persisted model format).
const NS_CHAR: u8 = b'c';
const NS_WORD: u8 = b'w';
const NS_TITLE: u8 = b't';
const NS_TITLE_CHAR: u8 = b'T';

/// Training and prediction settings (stored in the model).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ViewConfig {
    /// Longest character n-gram (1..=this).
    pub max_char_ngram: usize,
    /// Use jieba words as features (more accurate, slower).
    pub use_words: bool,
    /// Keep features seen in at least this many training documents (capped at one document
    /// in 300, at least 2: see `effective_min_df`).
    pub min_df: u32,
    /// SGD epochs.
    pub epochs: usize,
    /// Initial learning rate.
    pub learning_rate: f32,
    /// L2 regularisation strength.
    pub l2: f32,
    /// Weigh classes inversely to their frequency (helps macro-F1 on skewed data).
    pub balanced: bool,
    /// Add character bigrams of the title line under their own namespace.
    pub title_chars: bool,
    /// Average the weights of the second half of the epochs (Polyak averaging).
    pub average: bool,
    /// Scale each feature per class by its naive-Bayes log-count ratio during training
    /// (NBSVM, Wang & Manning 2012); the scale is folded into the stored weights.
    pub nb_scale: bool,
    /// Training loss: `false` = multinomial logistic (log loss), `true` = multiclass hinge
    /// (Crammer–Singer linear SVM); probabilities then come from a softmax of the margins scaled
    /// by `hinge_temperature`.
    pub hinge: bool,
    /// Scale applied to SVM margins before the softmax.
    pub hinge_temperature: f32,
    /// Shuffling seed.
    pub seed: u64,
}

impl Default for ViewConfig {
    fn default() -> Self {
        Self {
            max_char_ngram: 3,
            use_words: true,
            min_df: 2,
            epochs: 25,
            learning_rate: 0.5,
            l2: 2e-5,
            balanced: true,
            title_chars: true,
            average: true,
            nb_scale: true,
            hinge: false,
            hinge_temperature: 4.0,
            seed: 42,
        }
    }
}

/// One feature that pushed the decision towards the predicted label.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FeatureWeight {
    /// The word or character n-gram.
    pub feature: String,
    /// Its contribution to the winning label's score.
    pub weight: f32,
}

/// A classification result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Prediction {
    /// The predicted label, or [`MANUAL`] below the threshold.
    pub label: String,
    /// The best label even when the answer is manual.
    pub best_label: String,
    /// Probability of the best label (0–1).
    pub confidence: f32,
    /// True when the confidence is below the threshold.
    pub manual: bool,
    /// Other labels with their probabilities, best first (up to 3 in total).
    pub alternatives: Vec<(String, f32)>,
    /// Features that contributed most to the best label.
    pub top_features: Vec<FeatureWeight>,
}

/// One trained linear model over one feature view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearModel {
    config: ViewConfig,
    labels: Vec<String>,
    /// Feature names (namespace char + text), index = feature id.
    features: Vec<String>,
    idf: Vec<f32>,
    /// Row-major: `weights[f * labels.len() + k]`.
    weights: Vec<f32>,
    bias: Vec<f32>,
    #[serde(skip)]
    index: FeatureIndex,
    /// The hash of each feature (position = feature id; `None` = a name that cannot be hashed),
    /// kept to build the classifier's [`JointIndex`].
    #[serde(skip)]
    hashes: Vec<Option<u64>>,
}

/// Feature hash → feature id, built when a model is trained or loaded: open addressing with
/// linear probing over one `u64` per slot, `(upper 32 bits of the hash) << 32 | (id + 1)`, at
/// most half full. A lookup reads one slot (an unknown n-gram: until the next empty slot, usually
/// the same cache line) instead of a general hash map's control bytes, bucket and the separate
/// idf entry; together with ids numbered by falling document frequency, the frequent features
/// of a message hit a few hot cache lines.
#[derive(Debug, Clone, Default)]
struct FeatureIndex {
    slots: Vec<u64>,
    mask: usize,
}

impl FeatureIndex {
    /// Index `hashes` (position = feature id; `None` = a feature that cannot be looked up).
    fn build(hashes: &[Option<u64>]) -> Self {
        let cap = (hashes.len() * 2).next_power_of_two().max(16);
        let mask = cap - 1;
        let mut slots = vec![0u64; cap];
        for (id, h) in hashes.iter().enumerate() {
            let Some(h) = *h else { continue };
            let tag = h >> 32;
            let mut i = (h as usize) & mask;
            loop {
                let s = slots[i];
                if s == 0 {
                    slots[i] = (tag << 32) | (id as u64 + 1);
                    break;
                }
                if s >> 32 == tag {
                    break; // the same hash twice: the first id wins
                }
                i = (i + 1) & mask;
            }
        }
        Self { slots, mask }
    }

    #[inline]
    fn get(&self, h: u64) -> Option<u32> {
        let tag = h >> 32;
        let mut i = (h as usize) & self.mask;
        loop {
            let s = *self.slots.get(i)?;
            if s == 0 {
                return None;
            }
            if s >> 32 == tag {
                return Some((s as u32).wrapping_sub(1));
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// Sparse TF vector before weighting: (feature hash, count), sorted by hash.
type RawFeatures = Vec<(u64, f32)>;

fn count_sorted(mut hashes: Vec<u64>) -> RawFeatures {
    hashes.sort_unstable();
    let mut out: RawFeatures = Vec::with_capacity(hashes.len());
    for h in hashes {
        match out.last_mut() {
            Some((last, n)) if *last == h => *n += 1.0,
            _ => out.push((h, 1.0)),
        }
    }
    out
}

/// Distinct ids with their counts, through a small open-addressing table (cheaper than sorting
/// the ids; the order is unspecified).
fn count_ids(ids: &[u32]) -> impl Iterator<Item = (u32, usize)> {
    // at least one slot stays empty, so every probe ends; usually well under half full, since
    // n-grams repeat
    let cap = (ids.len() + ids.len() / 2 + 1).next_power_of_two().max(16);
    let shift = 64 - cap.trailing_zeros();
    // (id + 1, count); 0 = empty
    let mut table = vec![(0u32, 0u32); cap];
    for &id in ids {
        let key = id.wrapping_add(1);
        let mut i = (u64::from(key).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize;
        while let Some(slot) = table.get_mut(i) {
            if slot.0 == key {
                slot.1 += 1;
                break;
            }
            if slot.0 == 0 {
                *slot = (key, 1);
                break;
            }
            i = (i + 1) & (cap - 1);
        }
    }
    table
        .into_iter()
        .filter(|s| s.0 != 0)
        .map(|(key, n)| (key.wrapping_sub(1), n as usize))
}

/// The readable name of a feature, built only when training needs it.
enum Name<'a> {
    Chars(u8, &'a [char]),
    Word(u8, &'a str),
}

impl Name<'_> {
    fn to_name(&self) -> String {
        match self {
            Name::Chars(ns, w) => {
                let mut s = String::with_capacity(1 + w.len() * 3);
                s.push(char::from(*ns));
                s.extend(w.iter());
                s
            }
            Name::Word(ns, w) => format!("{}{w}", char::from(*ns)),
        }
    }
}

/// A message with the character sequences every view reads, computed once per message however
/// many views there are. The readable normalised text is only built when a view segments words.
struct Prepared {
    /// Normalised text (empty when no view needs words).
    normalized: String,
    /// Byte length of the title line in `normalized` (before the first line break).
    title_len: usize,
    /// Matching-key characters of the whole text; the title's are `key[..title_key_len]`.
    key: Vec<char>,
    title_key_len: usize,
}

impl Prepared {
    /// From raw text: the one-pass matching key, plus the normalised text when `words` is set.
    fn new(text: &str, words: bool) -> Self {
        let mut key = Vec::with_capacity(text.len() / 2);
        let title_key_len = match_key_with_title(text, &mut key);
        let (normalized, title_len) = if words {
            let n = normalize(text);
            let t = n.find('\n').unwrap_or(0);
            (n, t)
        } else {
            (String::new(), 0)
        };
        Self {
            normalized,
            title_len,
            key,
            title_key_len,
        }
    }

    fn title_key(&self) -> &[char] {
        self.key.get(..self.title_key_len).unwrap_or(&[])
    }
}

/// Calls `emit(hash, name)` for every feature occurrence of a prepared message (no allocation
/// per feature: n-gram hashes are computed over windows of one character buffer).
fn for_each_feature<F: FnMut(u64, Name<'_>)>(
    config: &ViewConfig,
    seg: &Segmenter,
    msg: &Prepared,
    mut emit: F,
) {
    let chars = &msg.key;
    for_each_ngram_hash(
        NS_CHAR,
        chars,
        config.max_char_ngram.max(1),
        |start, n, h| {
            emit(h, Name::Chars(NS_CHAR, &chars[start..start + n]));
        },
    );
    if config.title_chars {
        for w in msg.title_key().windows(2) {
            emit(hash_chars(NS_TITLE_CHAR, w), Name::Chars(NS_TITLE_CHAR, w));
        }
    }
    if config.use_words {
        // One segmentation: jieba cuts at the line break, so the title's words are the words
        // that start before it.
        let base = msg.normalized.as_ptr() as usize;
        let title_end = msg.title_len;
        for w in seg.keywords(&msg.normalized) {
            emit(hash_str(NS_WORD, w), Name::Word(NS_WORD, w));
            if (w.as_ptr() as usize)
                .checked_sub(base)
                .is_some_and(|o| o < title_end)
            {
                emit(hash_str(NS_TITLE, w), Name::Word(NS_TITLE, w));
            }
        }
    }
}

/// Extracts raw features, recording the names of new hashes when `names` is given.
fn extract(
    config: &ViewConfig,
    seg: &Segmenter,
    msg: &Prepared,
    mut names: Option<&mut FxHashMap<u64, String>>,
) -> RawFeatures {
    let mut feats: Vec<u64> = Vec::with_capacity(msg.key.len() * 2);
    for_each_feature(config, seg, msg, |h, name| {
        feats.push(h);
        if let Some(names) = names.as_deref_mut() {
            names.entry(h).or_insert_with(|| name.to_name());
        }
    });
    count_sorted(feats)
}

/// The document-frequency floor actually applied: `min_df`, but no more than one document in
/// 300 (and at least 2), so that a deployment with little history keeps enough features.
fn effective_min_df(min_df: u32, docs: usize) -> u32 {
    let cap = u32::try_from(docs / 300).unwrap_or(u32::MAX).max(2);
    min_df.min(cap).max(1)
}

/// A weighted, L2-normalised sparse vector over feature ids.
#[derive(Debug, Clone, Default)]
struct Sparse {
    idx: Vec<u32>,
    val: Vec<f32>,
}

impl LinearModel {
    /// Train from `(text, label)` pairs. Needs at least two distinct labels.
    fn train(
        examples: &[(String, String)],
        config: ViewConfig,
        seg: &Segmenter,
    ) -> Result<Self, TextError> {
        let mut labels: Vec<String> = examples.iter().map(|(_, l)| l.clone()).collect();
        labels.sort();
        labels.dedup();
        if labels.len() < 2 {
            return Err(TextError::Training(format!(
                "need at least 2 distinct labels, got {}",
                labels.len()
            )));
        }
        let label_id: FxHashMap<String, usize> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), i))
            .collect();
        let mut names: FxHashMap<u64, String> = FxHashMap::default();
        let raw: Vec<RawFeatures> = examples
            .iter()
            .map(|(t, _)| {
                extract(
                    &config,
                    seg,
                    &Prepared::new(t, config.use_words),
                    Some(&mut names),
                )
            })
            .collect();
        // document frequencies
        let mut df: FxHashMap<u64, u32> = FxHashMap::default();
        for r in &raw {
            for (h, _) in r {
                *df.entry(*h).or_insert(0) += 1;
            }
        }
        let min_df = effective_min_df(config.min_df, raw.len());
        let mut kept: Vec<(u64, u32)> = df.into_iter().filter(|(_, d)| *d >= min_df).collect();
        // ids by falling document frequency: the features most messages have share cache lines
        kept.sort_unstable_by_key(|&(h, d)| (std::cmp::Reverse(d), h));
        let n_docs = raw.len() as f32;
        let mut features = Vec::with_capacity(kept.len());
        let mut idf = Vec::with_capacity(kept.len());
        for (h, d) in &kept {
            features.push(names.remove(h).unwrap_or_default());
            idf.push(((1.0 + n_docs) / (1.0 + *d as f32)).ln() + 1.0);
        }
        let hashes: Vec<Option<u64>> = kept.iter().map(|(h, _)| Some(*h)).collect();
        let index = FeatureIndex::build(&hashes);
        let k = labels.len();
        let mut model = Self {
            config,
            labels,
            features,
            idf,
            weights: vec![0.0; kept.len() * k],
            bias: vec![0.0; k],
            index,
            hashes,
        };
        let data: Vec<(Sparse, usize)> = raw
            .iter()
            .zip(examples)
            .map(|(r, (_, l))| (model.weigh(r), label_id.get(l).copied().unwrap_or(0)))
            .collect();
        model.sgd(&data);
        Ok(model)
    }

    fn weigh(&self, raw: &RawFeatures) -> Sparse {
        let pairs: Vec<(u32, f32)> = raw
            .iter()
            .filter_map(|(h, tf)| {
                self.index.get(*h).map(|i| {
                    (
                        i,
                        (1.0 + tf.ln()) * self.idf.get(i as usize).copied().unwrap_or(1.0),
                    )
                })
            })
            .collect();
        let norm = pairs.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        let norm = if norm > 0.0 { norm } else { 1.0 };
        Sparse {
            idx: pairs.iter().map(|p| p.0).collect(),
            val: pairs.iter().map(|p| p.1 / norm).collect(),
        }
    }

    /// Multinomial logistic regression (or multiclass hinge) by SGD with lazily applied L2 decay.
    #[allow(clippy::needless_range_loop)] // several parallel arrays indexed by class
    fn sgd(&mut self, data: &[(Sparse, usize)]) {
        let k = self.labels.len();
        let mut order: Vec<usize> = (0..data.len()).collect();
        let mut rng = Rng::new(self.config.seed);
        let lr0 = self.config.learning_rate;
        let l2 = self.config.l2;
        let mut scale = 1.0f32; // true weights = scale * self.weights
        let mut t = 0f32;
        let mut scores = vec![0f32; k];
        let mut counts = vec![0usize; k];
        for (_, y) in data {
            counts[*y] += 1;
        }
        let nb = self.nb_ratios(data);
        let class_weight: Vec<f32> = counts
            .iter()
            .map(|&c| {
                if self.config.balanced && c > 0 {
                    data.len() as f32 / (k as f32 * c as f32)
                } else {
                    1.0
                }
            })
            .collect();
        let mut avg_w = vec![
            0f32;
            if self.config.average {
                self.weights.len()
            } else {
                0
            }
        ];
        let mut avg_b = vec![0f32; k];
        let mut snapshots = 0f32;
        for epoch in 0..self.config.epochs {
            rng.shuffle(&mut order);
            for &i in &order {
                let (x, y) = &data[i];
                let lr = lr0 / (1.0 + lr0 * l2 * t);
                t += 1.0;
                // scores
                for (c, s) in scores.iter_mut().enumerate() {
                    *s = self.bias[c];
                }
                for (&f, &v) in x.idx.iter().zip(&x.val) {
                    let row = &self.weights[f as usize * k..(f as usize + 1) * k];
                    let r = &nb[f as usize * k..(f as usize + 1) * k];
                    for c in 0..k {
                        scores[c] += scale * row[c] * v * r[c];
                    }
                }
                if self.config.hinge {
                    // gradient of max(0, 1 + max_{c != y} s_c - s_y)
                    let (worst, ws) = scores.iter().enumerate().filter(|(c, _)| c != y).fold(
                        (0, f32::NEG_INFINITY),
                        |a, (c, &v)| if v > a.1 { (c, v) } else { a },
                    );
                    let violated = 1.0 + ws - scores[*y] > 0.0;
                    for s in scores.iter_mut() {
                        *s = 0.0;
                    }
                    if violated {
                        scores[worst] = 1.0;
                        scores[*y] = -1.0;
                    }
                } else {
                    softmax(&mut scores);
                    scores[*y] -= 1.0; // gradient of the loss w.r.t. scores
                }
                let cw = class_weight[*y];
                for s in scores.iter_mut() {
                    *s *= cw;
                }
                scale *= 1.0 - lr * l2;
                if scale < 1e-6 {
                    for w in &mut self.weights {
                        *w *= scale;
                    }
                    scale = 1.0;
                }
                for (&f, &v) in x.idx.iter().zip(&x.val) {
                    let row = &mut self.weights[f as usize * k..(f as usize + 1) * k];
                    let r = &nb[f as usize * k..(f as usize + 1) * k];
                    for c in 0..k {
                        row[c] -= lr * scores[c] * v * r[c] / scale;
                    }
                }
                for c in 0..k {
                    self.bias[c] -= lr * scores[c] * 0.1;
                }
            }
            if self.config.average && epoch * 2 >= self.config.epochs {
                for (a, w) in avg_w.iter_mut().zip(&self.weights) {
                    *a += w * scale;
                }
                for (a, b) in avg_b.iter_mut().zip(&self.bias) {
                    *a += b;
                }
                snapshots += 1.0;
            }
        }
        if self.config.average && snapshots > 0.0 {
            self.weights = avg_w.into_iter().map(|w| w / snapshots).collect();
            self.bias = avg_b.into_iter().map(|b| b / snapshots).collect();
        } else {
            for w in &mut self.weights {
                *w *= scale;
            }
        }
        for (w, r) in self.weights.iter_mut().zip(&nb) {
            *w *= r;
        }
    }

    /// Per-(feature, class) scale: |naive-Bayes log-count ratio| of class vs rest over binarised
    /// features, or all ones when `nb_scale` is off.
    fn nb_ratios(&self, data: &[(Sparse, usize)]) -> Vec<f32> {
        let k = self.labels.len();
        let nf = self.features.len();
        if !self.config.nb_scale {
            return vec![1.0; nf * k];
        }
        let mut cnt = vec![0f32; nf * k];
        for (x, y) in data {
            for &f in &x.idx {
                cnt[f as usize * k + y] += 1.0;
            }
        }
        let mut class_tot = vec![0f32; k];
        let mut feat_tot = vec![0f32; nf];
        for f in 0..nf {
            for c in 0..k {
                class_tot[c] += cnt[f * k + c];
                feat_tot[f] += cnt[f * k + c];
            }
        }
        let all: f32 = class_tot.iter().sum();
        let alpha = 1.0;
        let mut r = vec![1.0; nf * k];
        for f in 0..nf {
            for c in 0..k {
                let p = (alpha + cnt[f * k + c]) / (alpha * nf as f32 + class_tot[c]);
                let q = (alpha + feat_tot[f] - cnt[f * k + c])
                    / (alpha * nf as f32 + all - class_tot[c]);
                r[f * k + c] = (p / q).ln().abs().max(0.05);
            }
        }
        r
    }

    /// Number of features kept.
    pub fn num_features(&self) -> usize {
        self.features.len()
    }

    /// Class probabilities (in label order) of normalised text, and its weighted features when
    /// `explain` is set (for [`LinearModel::contributions`]).
    ///
    /// The same arithmetic as [`LinearModel::weigh`] followed by a dot product, without building
    /// the sparse vector: feature ids are collected (unknown n-grams dropped at once), sorted,
    /// counted, and each distinct feature's weight row is added once, scaled by its sublinear
    /// TF-IDF; the L2 norm is applied to the sums at the end.
    fn probabilities(
        &self,
        seg: &Segmenter,
        msg: &Prepared,
        explain: bool,
    ) -> (Vec<f32>, Option<Sparse>) {
        let mut ids: Vec<u32> = Vec::with_capacity(msg.key.len() * self.config.max_char_ngram);
        for_each_feature(&self.config, seg, msg, |h, _| {
            if let Some(id) = self.index.get(h) {
                ids.push(id);
            }
        });
        let k = self.labels.len();
        let mut sums = vec![0f32; k];
        let mut norm2 = 0f32;
        let mut x = explain.then(Sparse::default);
        for (id, tf) in count_ids(&ids) {
            let f = id as usize;
            let (Some(&idf), Some(row)) = (self.idf.get(f), self.weights.get(f * k..(f + 1) * k))
            else {
                continue;
            };
            let v = if tf == 1 {
                idf
            } else {
                (1.0 + (tf as f32).ln()) * idf
            };
            norm2 += v * v;
            for (s, w) in sums.iter_mut().zip(row) {
                *s += w * v;
            }
            if let Some(x) = x.as_mut() {
                x.idx.push(id);
                x.val.push(v);
            }
        }
        let norm = norm2.sqrt();
        let norm = if norm > 0.0 { norm } else { 1.0 };
        let mut scores: Vec<f32> = self
            .bias
            .iter()
            .zip(&sums)
            .map(|(b, s)| b + s / norm)
            .collect();
        if let Some(x) = x.as_mut() {
            for v in &mut x.val {
                *v /= norm;
            }
        }
        if self.config.hinge {
            for s in scores.iter_mut() {
                *s *= self.config.hinge_temperature;
            }
        }
        softmax(&mut scores);
        (scores, x)
    }

    /// Contribution of each present feature to class `class`, largest first (positive only).
    fn contributions(&self, x: &Sparse, class: usize) -> Vec<FeatureWeight> {
        let k = self.labels.len();
        let mut contrib: Vec<(u32, f32)> = x
            .idx
            .iter()
            .zip(&x.val)
            .filter_map(|(&f, &v)| {
                let w = v * self.weights.get(f as usize * k + class).copied()?;
                (w > 0.0).then_some((f, w))
            })
            .collect();
        // only the ten largest are shown: select them, then sort those
        let by_weight = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if contrib.len() > 10 {
            contrib.select_nth_unstable_by(9, by_weight);
            contrib.truncate(10);
        }
        contrib.sort_unstable_by(by_weight);
        contrib
            .iter()
            .map(|(f, w)| FeatureWeight {
                feature: self
                    .features
                    .get(*f as usize)
                    .map(|s| s.chars().skip(1).collect())
                    .unwrap_or_default(),
                weight: *w,
            })
            .collect()
    }

    fn check_and_index(&mut self) -> Result<(), TextError> {
        let k = self.labels.len();
        if k < 2
            || self.weights.len() != self.features.len() * k
            || self.idf.len() != self.features.len()
            || self.bias.len() != k
        {
            return Err(TextError::Model("inconsistent dimensions".into()));
        }
        let hashes: Vec<Option<u64>> = self
            .features
            .iter()
            .map(|name| {
                let mut cs = name.chars();
                let ns = u8::try_from(cs.next()? as u32).ok()?;
                let rest: Vec<char> = cs.collect();
                Some(hash_chars(ns, &rest))
            })
            .collect();
        self.index = FeatureIndex::build(&hashes);
        self.hashes = hashes;
        Ok(())
    }
}

/// Classifier settings: the feature views (their probabilities are averaged) and the manual
/// threshold.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClassifierConfig {
    /// One linear model per view.
    pub views: Vec<ViewConfig>,
    /// Below this probability the answer is [`MANUAL`].
    pub manual_threshold: f32,
}

impl Default for ClassifierConfig {
    /// Two views, tuned on the evaluation corpus: words (jieba, with title words and title
    /// character bigrams, NB-scaled) and character 1–4-grams; both linear SVMs.
    fn default() -> Self {
        Self {
            views: vec![
                ViewConfig {
                    max_char_ngram: 1,
                    hinge: true,
                    ..ViewConfig::default()
                },
                ViewConfig {
                    max_char_ngram: 4,
                    use_words: false,
                    title_chars: false,
                    nb_scale: false,
                    hinge: true,
                    ..ViewConfig::default()
                },
            ],
            manual_threshold: 0.5,
        }
    }
}

impl ClassifierConfig {
    /// The intake configuration: no segmentation (jieba alone costs more than the whole budget
    /// of 50 µs per message at 20,000 messages/s), two linear SVMs averaged like the default:
    /// (1) character 1–2-grams plus title character bigrams, NB-scaled, standing in for the word
    /// view; (2) character 1–4-grams plus title bigrams. Features seen in fewer than 5 training
    /// documents are dropped (fewer for small histories): on the corpus that keeps a model a
    /// quarter the size, which is what makes 20,000 corpus-length messages/s (the lookups of
    /// rare n-grams missed the cache), and it is slightly more accurate (macro-F1 0.9045 against
    /// 0.9008 with `min_df` 2; 4: 0.9082, 6: 0.9008, 8: 0.894 — docs/text.md).
    pub fn fast() -> Self {
        Self {
            views: vec![
                ViewConfig {
                    max_char_ngram: 2,
                    use_words: false,
                    title_chars: true,
                    nb_scale: true,
                    hinge: true,
                    min_df: 5,
                    ..ViewConfig::default()
                },
                ViewConfig {
                    max_char_ngram: 4,
                    use_words: false,
                    title_chars: true,
                    nb_scale: false,
                    hinge: true,
                    min_df: 5,
                    ..ViewConfig::default()
                },
            ],
            manual_threshold: 0.5,
        }
    }
}

/// A trained classifier (an average of linear views); serialise it with [`Classifier::to_json`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Classifier {
    labels: Vec<String>,
    manual_threshold: f32,
    views: Vec<LinearModel>,
    /// Every view's features in one table (derived, built by `train` and `from_json`).
    #[serde(skip)]
    joint: JointIndex,
}

impl Classifier {
    /// Train from `(text, label)` pairs. Needs at least two distinct labels and one view.
    pub fn train(
        examples: &[(String, String)],
        config: ClassifierConfig,
        seg: &Segmenter,
    ) -> Result<Self, TextError> {
        if config.views.is_empty() {
            return Err(TextError::Training("no feature view configured".into()));
        }
        let views = config
            .views
            .into_iter()
            .map(|v| LinearModel::train(examples, v, seg))
            .collect::<Result<Vec<_>, _>>()?;
        let labels = views.first().map(|v| v.labels.clone()).unwrap_or_default();
        let joint = JointIndex::build(&views);
        Ok(Self {
            labels,
            manual_threshold: config.manual_threshold,
            views,
            joint,
        })
    }

    /// The labels this model knows, sorted.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The manual threshold.
    pub fn manual_threshold(&self) -> f32 {
        self.manual_threshold
    }

    /// Change the manual threshold without retraining.
    pub fn set_manual_threshold(&mut self, threshold: f32) {
        self.manual_threshold = threshold;
    }

    /// Total number of features over all views.
    pub fn num_features(&self) -> usize {
        self.views.iter().map(LinearModel::num_features).sum()
    }

    fn averaged(&self, seg: &Segmenter, text: &str, explain: bool) -> (Vec<f32>, Vec<Sparse>) {
        let msg = Prepared::new(text, self.views.iter().any(|v| v.config.use_words));
        if !self.joint.is_empty() {
            return self.joint.probabilities(&self.views, seg, &msg, explain);
        }
        self.averaged_per_view(seg, &msg, explain)
    }

    /// The reference path: each view extracts and looks up its own features (used when the
    /// joint index is missing, e.g. after plain serde deserialisation, and by tests).
    fn averaged_per_view(
        &self,
        seg: &Segmenter,
        msg: &Prepared,
        explain: bool,
    ) -> (Vec<f32>, Vec<Sparse>) {
        let mut probs = vec![0f32; self.labels.len()];
        let mut xs = Vec::with_capacity(if explain { self.views.len() } else { 0 });
        for v in &self.views {
            let (p, x) = v.probabilities(seg, msg, explain);
            for (a, b) in probs.iter_mut().zip(&p) {
                *a += b / self.views.len() as f32;
            }
            if let Some(x) = x {
                xs.push(x);
            }
        }
        (probs, xs)
    }

    /// Class probabilities in [`Classifier::labels`] order.
    pub fn predict_proba(&self, seg: &Segmenter, text: &str) -> Vec<f32> {
        self.averaged(seg, text, false).0
    }

    /// Classify one text, with alternatives and the features that drove the decision.
    pub fn predict(&self, seg: &Segmenter, text: &str) -> Prediction {
        let (probs, xs) = self.averaged(seg, text, true);
        let mut ranked: Vec<(usize, f32)> = probs.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (best, confidence) = ranked.first().copied().unwrap_or((0, 0.0));
        let best_label = self.labels.get(best).cloned().unwrap_or_default();
        let mut top: Vec<FeatureWeight> = Vec::new();
        for (v, x) in self.views.iter().zip(&xs) {
            for f in v.contributions(x, best) {
                if !top
                    .iter()
                    .any(|t| t.feature == f.feature || t.feature.contains(&f.feature))
                {
                    top.push(f);
                }
            }
        }
        top.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        top.truncate(5);
        let manual = confidence < self.manual_threshold;
        Prediction {
            label: if manual {
                MANUAL.to_string()
            } else {
                best_label.clone()
            },
            best_label,
            confidence,
            manual,
            alternatives: ranked
                .iter()
                .skip(1)
                .take(2)
                .map(|(i, p)| (self.labels.get(*i).cloned().unwrap_or_default(), *p))
                .collect(),
            top_features: top,
        }
    }

    /// Best label and its probability only: the fast path for throughput.
    pub fn predict_label(&self, seg: &Segmenter, text: &str) -> (&str, f32) {
        let (probs, _) = self.averaged(seg, text, false);
        let (best, p) = probs
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0));
        (self.labels.get(best).map(String::as_str).unwrap_or(""), p)
    }

    /// Serialise to JSON bytes.
    pub fn to_json(&self) -> Result<Vec<u8>, TextError> {
        serde_json::to_vec(self).map_err(|e| TextError::Model(e.to_string()))
    }

    /// Load from JSON bytes written by [`Classifier::to_json`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, TextError> {
        let mut m: Self =
            serde_json::from_slice(bytes).map_err(|e| TextError::Model(e.to_string()))?;
        if m.views.is_empty() {
            return Err(TextError::Model("no views".into()));
        }
        for v in &mut m.views {
            if v.labels != m.labels {
                return Err(TextError::Model("views disagree on labels".into()));
            }
            v.check_and_index()?;
        }
        m.joint = JointIndex::build(&m.views);
        Ok(m)
    }
}

/// Every view's features in one table, so that a message's n-gram hashes are computed, looked
/// up and counted once however many views contain them (the views of one classifier share their
/// namespaces: a character 2-gram has the same hash in a 1–2-gram view and a 1–4-gram view).
/// Derived from the views when a model is trained or loaded; never persisted.
///
/// Per joint feature, one block of `views × (1 + labels)` floats: for each view its idf and its
/// weight row (both 0 when the view does not have the feature, which then adds exactly 0), so a
/// feature costs one slot read and one block read — for two views and 7 labels, 64 bytes.
#[derive(Debug, Clone, Default)]
struct JointIndex {
    index: FeatureIndex,
    blocks: Vec<f32>,
    /// Per joint feature and view, the view's feature id (`u32::MAX` = absent): explanations only.
    view_ids: Vec<u32>,
    views: usize,
    labels: usize,
    /// Extraction covering every view.
    extract: ViewConfig,
    /// Every character n-gram feature's (n−1)-gram prefix is a feature too. True of every
    /// trained model (a document that has an n-gram has its prefix, so the prefix's document
    /// frequency is at least as high and it passed the same `min_df`); checked when the index
    /// is built, since a model file can hold anything.
    prefix_closed: bool,
}

/// Reused per thread: the counting table of [`JointIndex::probabilities`] (cleared through the
/// list of used slots, not a memset of the whole table per message).
#[derive(Default)]
struct Counter {
    /// `(joint id + 1, count)`; 0 = empty.
    slots: Vec<(u32, u32)>,
    used: Vec<u32>,
    ids: Vec<u32>,
}

thread_local! {
    static COUNTER: std::cell::RefCell<Counter> = std::cell::RefCell::new(Counter::default());
}

impl Counter {
    /// Distinct ids of `self.ids` with their counts into `self.used` (slot numbers).
    fn count(&mut self) {
        let need = (self.ids.len() * 2).next_power_of_two().max(64);
        if self.slots.len() < need {
            self.slots = vec![(0, 0); need];
        }
        let mask = self.slots.len() - 1;
        let shift = 64 - self.slots.len().trailing_zeros();
        for &id in &self.ids {
            let key = id.wrapping_add(1);
            let mut i = (u64::from(key).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize;
            while let Some(slot) = self.slots.get_mut(i) {
                if slot.0 == key {
                    slot.1 += 1;
                    break;
                }
                if slot.0 == 0 {
                    *slot = (key, 1);
                    self.used.push(i as u32);
                    break;
                }
                i = (i + 1) & mask;
            }
        }
    }

    fn clear(&mut self) {
        for &i in &self.used {
            if let Some(s) = self.slots.get_mut(i as usize) {
                *s = (0, 0);
            }
        }
        self.used.clear();
        self.ids.clear();
    }
}

impl JointIndex {
    fn build(views: &[LinearModel]) -> Self {
        let Some(first) = views.first() else {
            return Self::default();
        };
        let k = first.labels.len();
        let nv = views.len();
        let stride = nv * (1 + k);
        let mut ids: FxHashMap<u64, u32> = FxHashMap::default();
        let mut hashes: Vec<Option<u64>> = Vec::new();
        let mut blocks: Vec<f32> = Vec::new();
        let mut view_ids: Vec<u32> = Vec::new();
        for (v, view) in views.iter().enumerate() {
            if view.labels.len() != k || view.hashes.len() != view.features.len() {
                return Self::default();
            }
            for (f, h) in view.hashes.iter().enumerate() {
                let Some(h) = *h else { continue };
                // a view's own index keeps the first of two features with one hash: so here
                if view.index.get(h) != Some(f as u32) {
                    continue;
                }
                let j = *ids.entry(h).or_insert_with(|| {
                    hashes.push(Some(h));
                    blocks.resize(blocks.len() + stride, 0.0);
                    view_ids.resize(view_ids.len() + nv, u32::MAX);
                    (hashes.len() - 1) as u32
                }) as usize;
                let at = j * stride + v * (1 + k);
                if let (Some(dst), Some(&idf), Some(row)) = (
                    blocks.get_mut(at..at + 1 + k),
                    view.idf.get(f),
                    view.weights.get(f * k..(f + 1) * k),
                ) {
                    dst[0] = idf;
                    dst[1..].copy_from_slice(row);
                }
                if let Some(slot) = view_ids.get_mut(j * nv + v) {
                    *slot = f as u32;
                }
            }
        }
        let extract = ViewConfig {
            max_char_ngram: views
                .iter()
                .map(|v| v.config.max_char_ngram.max(1))
                .max()
                .unwrap_or(1),
            use_words: views.iter().any(|v| v.config.use_words),
            title_chars: views.iter().any(|v| v.config.title_chars),
            ..ViewConfig::default()
        };
        let index = FeatureIndex::build(&hashes);
        let prefix_closed = views.iter().all(|view| {
            view.features.iter().all(|name| {
                let mut cs = name.chars();
                if cs.next() != Some(char::from(NS_CHAR)) {
                    return true;
                }
                let rest: Vec<char> = cs.collect();
                rest.len() < 2
                    || index
                        .get(hash_chars(NS_CHAR, &rest[..rest.len() - 1]))
                        .is_some()
            })
        });
        Self {
            index,
            blocks,
            view_ids,
            views: nv,
            labels: k,
            extract,
            prefix_closed,
        }
    }

    fn is_empty(&self) -> bool {
        self.views == 0
    }

    /// The same probabilities as [`Classifier::averaged_per_view`] (up to float summation
    /// order), with each feature hashed, looked up and counted once.
    fn probabilities(
        &self,
        views: &[LinearModel],
        seg: &Segmenter,
        msg: &Prepared,
        explain: bool,
    ) -> (Vec<f32>, Vec<Sparse>) {
        COUNTER.with(|c| match c.try_borrow_mut() {
            Ok(mut counter) => self.probabilities_with(&mut counter, views, seg, msg, explain),
            Err(_) => self.probabilities_with(&mut Counter::default(), views, seg, msg, explain),
        })
    }

    fn probabilities_with(
        &self,
        counter: &mut Counter,
        views: &[LinearModel],
        seg: &Segmenter,
        msg: &Prepared,
        explain: bool,
    ) -> (Vec<f32>, Vec<Sparse>) {
        counter.clear();
        let (nv, k) = (self.views, self.labels);
        let stride = nv * (1 + k);
        {
            let ids = &mut counter.ids;
            let chars = &msg.key;
            if self.prefix_closed {
                // an n-gram whose (n−1)-gram prefix is unknown is unknown too: stop extending
                for_each_ngram_hash_while(NS_CHAR, chars, self.extract.max_char_ngram, |h| {
                    self.index.get(h).map(|id| ids.push(id)).is_some()
                });
            } else {
                for_each_ngram_hash(NS_CHAR, chars, self.extract.max_char_ngram, |_, _, h| {
                    if let Some(id) = self.index.get(h) {
                        ids.push(id);
                    }
                });
            }
            if self.extract.title_chars {
                for w in msg.title_key().windows(2) {
                    if let Some(id) = self.index.get(hash_chars(NS_TITLE_CHAR, w)) {
                        ids.push(id);
                    }
                }
            }
            if self.extract.use_words {
                let base = msg.normalized.as_ptr() as usize;
                for w in seg.keywords(&msg.normalized) {
                    if let Some(id) = self.index.get(hash_str(NS_WORD, w)) {
                        ids.push(id);
                    }
                    if (w.as_ptr() as usize)
                        .checked_sub(base)
                        .is_some_and(|o| o < msg.title_len)
                        && let Some(id) = self.index.get(hash_str(NS_TITLE, w))
                    {
                        ids.push(id);
                    }
                }
            }
        }
        counter.count();
        // per view: the label sums and the squared norm
        let mut sums = vec![0f32; nv * k];
        let mut norm2 = vec![0f32; nv];
        let mut xs: Vec<Sparse> = if explain {
            vec![Sparse::default(); nv]
        } else {
            Vec::new()
        };
        for &slot in &counter.used {
            let Some(&(key, tf)) = counter.slots.get(slot as usize) else {
                continue;
            };
            let j = key.wrapping_sub(1) as usize;
            let Some(block) = self.blocks.get(j * stride..(j + 1) * stride) else {
                continue;
            };
            let tfw = if tf == 1 { 1.0 } else { 1.0 + (tf as f32).ln() };
            accumulate(block, tfw, k, &mut sums, &mut norm2);
            if explain {
                for (v, x) in xs.iter_mut().enumerate() {
                    let Some(&f) = self.view_ids.get(j * nv + v) else {
                        continue;
                    };
                    let Some(idf) = block.get(v * (1 + k)) else {
                        continue;
                    };
                    if f != u32::MAX {
                        x.idx.push(f);
                        x.val.push(tfw * idf);
                    }
                }
            }
        }
        let mut probs = vec![0f32; k];
        for (v, view) in views.iter().enumerate() {
            let norm = norm2.get(v).map_or(0.0, |n| n.sqrt());
            let norm = if norm > 0.0 { norm } else { 1.0 };
            let s = sums.get(v * k..(v + 1) * k).unwrap_or(&[]);
            let mut scores: Vec<f32> = view.bias.iter().zip(s).map(|(b, s)| b + s / norm).collect();
            if view.config.hinge {
                for x in scores.iter_mut() {
                    *x *= view.config.hinge_temperature;
                }
            }
            softmax(&mut scores);
            for (a, b) in probs.iter_mut().zip(&scores) {
                *a += b / nv as f32;
            }
            if let Some(x) = xs.get_mut(v) {
                for val in &mut x.val {
                    *val /= norm;
                }
            }
        }
        counter.clear();
        (probs, xs)
    }
}

/// Adds one feature's block (per view: idf, then the weight row) times its sublinear tf to the
/// per-view label sums and squared norms. The label count is a constant for the common sizes, so
/// the row loop is unrolled and vectorised (half the instructions of a message for 7 labels).
#[inline]
fn accumulate(block: &[f32], tfw: f32, k: usize, sums: &mut [f32], norm2: &mut [f32]) {
    macro_rules! fixed {
        ($($n:literal)*) => {
            match k {
                $($n => return accumulate_fixed::<$n>(block, tfw, sums, norm2),)*
                _ => {}
            }
        };
    }
    fixed!(2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
    for ((view, n2), s) in block
        .chunks_exact(1 + k)
        .zip(norm2.iter_mut())
        .zip(sums.chunks_exact_mut(k))
    {
        let (idf, row) = view.split_first().unwrap_or((&0.0, &[]));
        let v = tfw * idf;
        *n2 += v * v;
        for (a, w) in s.iter_mut().zip(row) {
            *a += w * v;
        }
    }
}

#[inline]
fn accumulate_fixed<const K: usize>(block: &[f32], tfw: f32, sums: &mut [f32], norm2: &mut [f32]) {
    for ((view, n2), s) in block
        .chunks_exact(1 + K)
        .zip(norm2.iter_mut())
        .zip(sums.chunks_exact_mut(K))
    {
        let (Some((idf, row)), Ok(s)) = (view.split_first(), <&mut [f32; K]>::try_from(s)) else {
            continue;
        };
        let Ok(row) = <&[f32; K]>::try_from(row) else {
            continue;
        };
        let v = tfw * idf;
        *n2 += v * v;
        for c in 0..K {
            s[c] += row[c] * v;
        }
    }
}

fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    if sum > 0.0 {
        for x in v.iter_mut() {
            *x /= sum;
        }
    }
}

/// Per-class and macro-averaged precision/recall/F1.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClassReport {
    /// Label.
    pub label: String,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// Number of true examples.
    pub support: usize,
}

/// Compute per-class reports and the macro-F1 from `(truth, predicted)` pairs.
pub fn evaluate(pairs: &[(String, String)]) -> (Vec<ClassReport>, f64) {
    let mut labels: Vec<&str> = pairs.iter().map(|(t, _)| t.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    let mut reports = Vec::new();
    for l in &labels {
        let tp = pairs.iter().filter(|(t, p)| t == l && p == l).count() as f64;
        let fp = pairs.iter().filter(|(t, p)| t != l && p == l).count() as f64;
        let support = pairs.iter().filter(|(t, _)| t == l).count();
        let fn_ = support as f64 - tp;
        let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
        let recall = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        reports.push(ClassReport {
            label: (*l).to_string(),
            precision,
            recall,
            f1,
            support,
        });
    }
    let macro_f1 = if reports.is_empty() {
        0.0
    } else {
        reports.iter().map(|r| r.f1).sum::<f64>() / reports.len() as f64
    };
    (reports, macro_f1)
}

/// Stratified k-fold assignment: returns the fold of each example (deterministic for a seed).
pub fn stratified_folds(labels: &[String], k: usize, seed: u64) -> Vec<usize> {
    let k = k.max(1);
    let mut by_label: FxHashMap<&str, Vec<usize>> = FxHashMap::default();
    for (i, l) in labels.iter().enumerate() {
        by_label.entry(l.as_str()).or_default().push(i);
    }
    let mut keys: Vec<&str> = by_label.keys().copied().collect();
    keys.sort_unstable();
    let mut rng = Rng::new(seed);
    let mut folds = vec![0; labels.len()];
    let mut offset = 0;
    for key in keys {
        if let Some(idx) = by_label.get_mut(key) {
            rng.shuffle(idx);
            for (j, &i) in idx.iter().enumerate() {
                folds[i] = (j + offset) % k;
            }
            offset += idx.len();
        }
    }
    folds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::shared;

    fn toy() -> Vec<(String, String)> {
        let mut v = Vec::new();
        for i in 0..20 {
            v.push((
                format!("小区门口垃圾堆积，环境脏乱差，污水横流{i}"),
                "环境".to_string(),
            ));
            v.push((
                format!("公交线路调整，车站太远，出行不便{i}"),
                "交通".to_string(),
            ));
            v.push((
                format!("孩子入学难，学校学位不足，教育资源{i}"),
                "教育".to_string(),
            ));
        }
        v
    }

    #[test]
    fn trains_predicts_and_roundtrips() {
        let seg = shared();
        let model = Classifier::train(&toy(), ClassifierConfig::default(), seg);
        let Ok(model) = model else {
            panic!("training failed")
        };
        let p = model.predict(seg, "学校学位不够，孩子入学难");
        assert_eq!(p.best_label, "教育");
        assert!(!p.top_features.is_empty());
        let bytes = model.to_json().unwrap_or_default();
        assert!(Classifier::from_json(b"{}").is_err());
        let back = Classifier::from_json(&bytes);
        let Ok(back) = back else {
            panic!("load failed")
        };
        assert_eq!(back.predict(seg, "垃圾堆积污水横流").best_label, "环境");
        assert!(!back.predict(seg, "").label.is_empty());
    }

    #[test]
    fn min_df_is_capped_for_small_histories() {
        assert_eq!(effective_min_df(5, 20), 2);
        assert_eq!(effective_min_df(5, 1000), 3);
        assert_eq!(effective_min_df(5, 1625), 5);
        assert_eq!(effective_min_df(5, 100_000), 5);
        assert_eq!(effective_min_df(2, 10), 2);
        assert_eq!(effective_min_df(1, 10), 1);
    }

    #[test]
    fn ids_are_counted() {
        let mut v: Vec<(u32, usize)> = count_ids(&[5, 1, 5, 0, 5, 70_000]).collect();
        v.sort_unstable();
        assert_eq!(v, vec![(0, 1), (1, 1), (5, 3), (70_000, 1)]);
        assert_eq!(count_ids(&[]).count(), 0);
    }

    #[test]
    fn feature_index_finds_what_it_holds() {
        let hashes: Vec<Option<u64>> = (0..1000u64)
            .map(|i| (i % 7 != 0).then(|| crate::hash::mix64(i)))
            .collect();
        let index = FeatureIndex::build(&hashes);
        for (id, h) in hashes.iter().enumerate() {
            if let Some(h) = h {
                assert_eq!(index.get(*h), Some(id as u32));
            }
        }
        assert_eq!(index.get(crate::hash::mix64(7)), None);
        assert_eq!(FeatureIndex::default().get(1), None);
    }

    #[test]
    fn fast_model_and_reloaded_model_agree() {
        let seg = shared();
        let Ok(model) = Classifier::train(&toy(), ClassifierConfig::fast(), seg) else {
            panic!("training failed")
        };
        assert_eq!(
            model.predict(seg, "公交车站太远了\n出行不便").best_label,
            "交通"
        );
        let bytes = model.to_json().unwrap_or_default();
        let Ok(back) = Classifier::from_json(&bytes) else {
            panic!("load failed")
        };
        for t in ["孩子入学难", "垃圾堆积\n污水横流", ""] {
            assert_eq!(model.predict_proba(seg, t), back.predict_proba(seg, t));
        }
    }

    #[test]
    fn joint_index_agrees_with_each_view_on_its_own() {
        let seg = shared();
        for config in [ClassifierConfig::fast(), ClassifierConfig::default()] {
            let Ok(model) = Classifier::train(&toy(), config, seg) else {
                panic!("training failed")
            };
            assert!(!model.joint.is_empty());
            assert!(model.joint.prefix_closed);
            for t in [
                "孩子入学难，学校学位不足",
                "公交车站太远了\n出行不便，出行不便",
                "",
                "ＡＢＣ 13812345678 垃圾 😀",
            ] {
                let msg = Prepared::new(t, true);
                let (joint, jx) = model.joint.probabilities(&model.views, seg, &msg, true);
                let (reference, rx) = model.averaged_per_view(seg, &msg, true);
                for (a, b) in joint.iter().zip(&reference) {
                    assert!((a - b).abs() < 1e-5, "{t}: {joint:?} vs {reference:?}");
                }
                for (a, b) in jx.iter().zip(&rx) {
                    let mut a: Vec<(u32, f32)> =
                        a.idx.iter().copied().zip(a.val.iter().copied()).collect();
                    let mut b: Vec<(u32, f32)> =
                        b.idx.iter().copied().zip(b.val.iter().copied()).collect();
                    a.sort_by_key(|p| p.0);
                    b.sort_by_key(|p| p.0);
                    assert_eq!(a.len(), b.len());
                    for (p, q) in a.iter().zip(&b) {
                        assert_eq!(p.0, q.0);
                        assert!((p.1 - q.1).abs() < 1e-5);
                    }
                }
            }
        }
    }

    #[test]
    fn one_label_is_an_error() {
        let v = vec![("a".to_string(), "x".to_string())];
        assert!(Classifier::train(&v, ClassifierConfig::default(), shared()).is_err());
    }

    #[test]
    fn folds_are_stratified() {
        let labels: Vec<String> = (0..50)
            .map(|i| if i % 5 == 0 { "a" } else { "b" }.to_string())
            .collect();
        let f = stratified_folds(&labels, 5, 1);
        for fold in 0..5 {
            let a = (0..50)
                .filter(|&i| f[i] == fold && labels[i] == "a")
                .count();
            assert_eq!(a, 2);
        }
    }
}
