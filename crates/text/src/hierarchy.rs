//! Hierarchical content categories (一级/二级/三级分类): a category path such as
//! `城乡建设/安全生产/事故处理`, learned level by level from the deployment's own registered
//! cases, predicted down to the deepest level the model is confident of.
//!
//! One [`Classifier`] per level, trained on the examples that reach that level, with the path
//! prefix as its label (`城乡建设`, `城乡建设/安全生产`, …). At prediction the first level picks a
//! label; each deeper level only chooses among the children of the chosen parent seen in
//! training (its probabilities renormalised over them), and the confidence of a level is the
//! product along the path: confidence of the parent × the child's share × the share of the
//! parent's training examples that were classified that deep at all (a category registered only
//! as `城乡建设` says nothing about its second level). The path stops at the first level below
//! the threshold; below it at the first level the answer is [`MANUAL`].
//!
//! "Where data allows": a level is only learned when it has at least
//! [`HierarchyConfig::min_examples`] examples; a level with one distinct label in total needs no
//! classifier (its only child is taken with the coverage share as confidence).

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::TextError;
use crate::classify::{Classifier, ClassifierConfig, MANUAL, Prediction};
use crate::segment::Segmenter;

/// The separator of category levels in a path.
pub const SEP: char = '/';

/// Training settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HierarchyConfig {
    /// The classifier of every level (its manual threshold is the path's threshold).
    pub classifier: ClassifierConfig,
    /// Levels learned at most.
    pub max_depth: usize,
    /// A level below the first is learned only with at least this many examples.
    pub min_examples: usize,
}

impl Default for HierarchyConfig {
    /// The intake classifier (`ClassifierConfig::fast`), three levels, 10 examples per level.
    fn default() -> Self {
        Self {
            classifier: ClassifierConfig::fast(),
            max_depth: 3,
            min_examples: 10,
        }
    }
}

/// One level of a path prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelPrediction {
    /// 1 = first level.
    pub level: usize,
    /// This level's name (e.g. `安全生产`).
    pub label: String,
    /// The path down to this level (e.g. `城乡建设/安全生产`).
    pub path: String,
    /// Probability that the path down to this level is right (0–1; falls with depth).
    pub confidence: f32,
    /// Below the threshold: this level is not suggested.
    pub manual: bool,
}

/// A path prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathPrediction {
    /// The deepest confident path joined by `/`, or [`MANUAL`] when even the first level is not.
    pub label: String,
    /// True when the first level is below the threshold.
    pub manual: bool,
    /// The confident levels' names, first level first (empty when manual).
    pub path: Vec<String>,
    /// Every level looked at, with its confidence (the last may be below the threshold).
    pub levels: Vec<LevelPrediction>,
    /// The first level's prediction with alternatives and the features behind it.
    pub first: Prediction,
}

/// Children of one path prefix seen in training.
#[derive(Debug, Clone, Default)]
struct Children {
    /// Child path → number of training examples.
    counts: Vec<(String, usize)>,
    /// Examples of the parent in total (with or without a deeper level).
    parent_examples: usize,
}

/// One level below the first.
#[derive(Debug, Clone)]
struct Level {
    /// `None` when the level has a single label in total.
    model: Option<Classifier>,
    /// Parent path → its children.
    children: FxHashMap<String, Children>,
}

/// Classifiers of the category levels; see the module documentation.
#[derive(Debug, Clone)]
pub struct HierarchicalClassifier {
    first: Classifier,
    deeper: Vec<Level>,
    threshold: f32,
}

/// The trimmed non-empty segments of a category path, at most `max` of them.
pub fn path_segments(path: &str, max: usize) -> Vec<&str> {
    path.split(SEP)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .take(max)
        .collect()
}

impl HierarchicalClassifier {
    /// Train from `(text, category path)` pairs; paths may stop at any level. Needs at least two
    /// distinct first-level categories.
    pub fn train(
        examples: &[(String, String)],
        config: HierarchyConfig,
        seg: &Segmenter,
    ) -> Result<Self, TextError> {
        let depth = config.max_depth.max(1);
        let parsed: Vec<(&str, Vec<&str>)> = examples
            .iter()
            .map(|(t, p)| (t.as_str(), path_segments(p, depth)))
            .filter(|(_, p)| !p.is_empty())
            .collect();
        let at_level = |d: usize| -> Vec<(String, String)> {
            parsed
                .iter()
                .filter(|(_, p)| p.len() > d)
                .map(|(t, p)| ((*t).to_string(), p[..=d].join("/")))
                .collect()
        };
        let threshold = config.classifier.manual_threshold;
        let first = Classifier::train(&at_level(0), config.classifier.clone(), seg)?;
        let mut deeper = Vec::new();
        for d in 1..depth {
            let data = at_level(d);
            if data.len() < config.min_examples.max(1) {
                break;
            }
            let mut children: FxHashMap<String, Children> = FxHashMap::default();
            for (_, p) in &parsed {
                if p.len() < d {
                    continue;
                }
                let entry = children.entry(p[..d].join("/")).or_default();
                entry.parent_examples += 1;
                if p.len() > d {
                    let child = p[..=d].join("/");
                    match entry.counts.iter_mut().find(|(c, _)| *c == child) {
                        Some((_, n)) => *n += 1,
                        None => entry.counts.push((child, 1)),
                    }
                }
            }
            children.retain(|_, c| !c.counts.is_empty());
            let distinct: usize = children.values().map(|c| c.counts.len()).sum();
            let model = if distinct >= 2 {
                Some(Classifier::train(&data, config.classifier.clone(), seg)?)
            } else {
                None
            };
            deeper.push(Level { model, children });
        }
        Ok(Self {
            first,
            deeper,
            threshold,
        })
    }

    /// Levels learned (1 = first level only).
    pub fn depth(&self) -> usize {
        1 + self.deeper.len()
    }

    /// The first-level classifier.
    pub fn first_level(&self) -> &Classifier {
        &self.first
    }

    /// Distinct labels learned per level (first level first).
    pub fn labels_per_level(&self) -> Vec<usize> {
        let mut v = vec![self.first.labels().len()];
        for l in &self.deeper {
            v.push(l.children.values().map(|c| c.counts.len()).sum());
        }
        v
    }

    /// The deepest confident category path of `text`.
    pub fn predict(&self, seg: &Segmenter, text: &str) -> PathPrediction {
        let first = self.first.predict(seg, text);
        let mut levels = vec![LevelPrediction {
            level: 1,
            label: first.best_label.clone(),
            path: first.best_label.clone(),
            confidence: first.confidence,
            manual: first.manual,
        }];
        let mut path: Vec<String> = Vec::new();
        if !first.manual {
            path.push(first.best_label.clone());
            let mut prefix = first.best_label.clone();
            let mut confidence = first.confidence;
            for (d, level) in self.deeper.iter().enumerate() {
                let Some(children) = level.children.get(&prefix) else {
                    break;
                };
                let (child, share) = best_child(level, children, seg, text);
                let coverage = children.counts.iter().map(|c| c.1).sum::<usize>() as f32
                    / children.parent_examples.max(1) as f32;
                confidence *= share * coverage;
                let manual = confidence < self.threshold;
                let name = child.rsplit(SEP).next().unwrap_or(&child).to_string();
                levels.push(LevelPrediction {
                    level: d + 2,
                    label: name.clone(),
                    path: child.clone(),
                    confidence,
                    manual,
                });
                if manual {
                    break;
                }
                path.push(name);
                prefix = child;
            }
        }
        PathPrediction {
            label: if path.is_empty() {
                MANUAL.to_string()
            } else {
                path.join("/")
            },
            manual: path.is_empty(),
            path,
            levels,
            first,
        }
    }
}

/// The most probable child of a parent and its probability among the parent's children.
fn best_child(level: &Level, children: &Children, seg: &Segmenter, text: &str) -> (String, f32) {
    let Some(model) = &level.model else {
        // one label in the whole level: the parent's only child
        let only = children
            .counts
            .first()
            .map(|c| c.0.clone())
            .unwrap_or_default();
        return (only, 1.0);
    };
    let probs = model.predict_proba(seg, text);
    let labels = model.labels();
    let mut total = 0f32;
    let mut best: Option<(&str, f32)> = None;
    for (child, _) in &children.counts {
        let p = labels
            .binary_search(child)
            .ok()
            .and_then(|i| probs.get(i).copied())
            .unwrap_or(0.0);
        total += p;
        if best.is_none_or(|b| p > b.1) {
            best = Some((child, p));
        }
    }
    match best {
        Some((c, p)) if total > 0.0 => (c.to_string(), p / total),
        Some((c, _)) => (c.to_string(), 1.0 / children.counts.len().max(1) as f32),
        None => (String::new(), 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Rng;
    use crate::segment::shared;

    /// A generated three-level tree: (l1, l2, l3) with words typical of each node.
    const TREE: &[(&str, &str, &str, &[&str])] = &[
        ("城建", "物业", "收费", &["物业费", "收费", "涨价", "缴费"]),
        ("城建", "物业", "电梯", &["电梯", "故障", "困人", "维修"]),
        (
            "城建",
            "拆迁",
            "补偿",
            &["拆迁", "补偿款", "评估", "安置费"],
        ),
        (
            "城建",
            "拆迁",
            "安置",
            &["安置房", "回迁", "过渡费", "交房"],
        ),
        ("教育", "入学", "学位", &["学位", "入学", "划片", "报名"]),
        ("教育", "入学", "转学", &["转学", "学籍", "插班", "借读"]),
        (
            "教育",
            "收费",
            "补课",
            &["补课", "培训班", "辅导费", "假期"],
        ),
        ("教育", "收费", "校服", &["校服", "订购", "强制", "价格"]),
        (
            "环保",
            "噪音",
            "施工",
            &["夜间施工", "噪音", "打桩", "扰民"],
        ),
        ("环保", "噪音", "商铺", &["音响", "广场舞", "喇叭", "商铺"]),
        ("环保", "污染", "污水", &["污水", "排放", "河道", "发臭"]),
        ("环保", "污染", "油烟", &["油烟", "餐馆", "烟道", "熏人"]),
    ];
    const FILLER: &[&str] = &[
        "我们", "小区", "反映", "希望", "领导", "尽快", "处理", "问题", "居民", "情况", "已经",
        "多次", "没有", "解决", "请求", "相关", "部门",
    ];

    fn message(rng: &mut Rng, words: &[&str]) -> String {
        let mut t = String::new();
        for i in 0..40 {
            if i % 3 == 0 {
                t.push_str(words[rng.below(words.len())]);
            } else {
                t.push_str(FILLER[rng.below(FILLER.len())]);
            }
            if i % 8 == 7 {
                t.push('，');
            }
        }
        t
    }

    /// Generated cases; every `shallow`-th stops at the first level.
    fn data(n: usize, shallow: usize) -> Vec<(String, String)> {
        let mut rng = Rng::new(7);
        (0..n)
            .map(|i| {
                let (l1, l2, l3, words) = TREE[i % TREE.len()];
                let path = if shallow > 0 && i % shallow == 0 {
                    l1.to_string()
                } else {
                    format!("{l1}/{l2}/{l3}")
                };
                (message(&mut rng, words), path)
            })
            .collect()
    }

    #[test]
    fn learns_three_levels_and_predicts_the_whole_path() {
        let seg = shared();
        let Ok(model) =
            HierarchicalClassifier::train(&data(600, 0), HierarchyConfig::default(), seg)
        else {
            panic!("training failed")
        };
        assert_eq!(model.depth(), 3);
        assert_eq!(model.labels_per_level(), vec![3, 6, 12]);
        let mut rng = Rng::new(99);
        let mut right = 0;
        for (i, (l1, l2, l3, words)) in TREE.iter().enumerate() {
            let p = model.predict(seg, &message(&mut rng, words));
            assert!(!p.manual, "{i}: {p:?}");
            assert_eq!(p.levels.first().map(|l| l.label.as_str()), Some(*l1));
            // confidence falls (or stays) with depth
            for w in p.levels.windows(2) {
                assert!(w[1].confidence <= w[0].confidence + 1e-6, "{p:?}");
            }
            if p.label == format!("{l1}/{l2}/{l3}") {
                right += 1;
            }
        }
        assert!(right >= 10, "only {right} of 12 full paths right");
    }

    #[test]
    fn shallow_history_lowers_the_deeper_confidence() {
        let seg = shared();
        // two of every three cases were registered with the first level only
        let full: Vec<(String, String)> = data(600, 0)
            .into_iter()
            .enumerate()
            .map(|(i, (t, p))| {
                if i % 3 == 0 {
                    (t, p)
                } else {
                    (t, path_segments(&p, 1).join("/"))
                }
            })
            .collect();
        let Ok(model) = HierarchicalClassifier::train(&full, HierarchyConfig::default(), seg)
        else {
            panic!("training failed")
        };
        let mut rng = Rng::new(5);
        let p = model.predict(seg, &message(&mut rng, TREE[0].3));
        assert_eq!(p.path.first().map(String::as_str), Some("城建"));
        // about a third of 城建's cases go deeper: the second level is below 0.5
        let second = p.levels.get(1).map(|l| (l.confidence, l.manual));
        assert!(matches!(second, Some((c, true)) if c < 0.5), "{p:?}");
        assert_eq!(p.label, "城建");
    }

    #[test]
    fn first_level_only_data_and_bad_input() {
        let seg = shared();
        let first_only: Vec<(String, String)> = data(300, 1);
        let Ok(model) = HierarchicalClassifier::train(&first_only, HierarchyConfig::default(), seg)
        else {
            panic!("training failed")
        };
        assert_eq!(model.depth(), 1);
        let mut rng = Rng::new(3);
        let p = model.predict(seg, &message(&mut rng, TREE[4].3));
        assert_eq!(p.label, "教育");
        assert_eq!(p.levels.len(), 1);
        // text with nothing of any class: manual at the first level
        let p = model.predict(seg, "");
        assert!(p.manual || p.levels[0].confidence >= 0.5);
        if p.manual {
            assert_eq!(p.label, MANUAL);
            assert!(p.path.is_empty());
        }
        // one first-level label, or blank paths only: a training error, not a panic
        let one: Vec<(String, String)> = (0..20)
            .map(|i| (format!("文本{i}"), "城建/物业".into()))
            .collect();
        assert!(HierarchicalClassifier::train(&one, HierarchyConfig::default(), seg).is_err());
        let blank: Vec<(String, String)> = (0..20)
            .map(|i| (format!("文本{i}"), " / ".into()))
            .collect();
        assert!(HierarchicalClassifier::train(&blank, HierarchyConfig::default(), seg).is_err());
        assert_eq!(
            path_segments(" 城建 // 物业 /收费/多余", 3),
            vec!["城建", "物业", "收费"]
        );
    }

    #[test]
    fn a_level_with_one_label_needs_no_classifier() {
        let seg = shared();
        let mut rng = Rng::new(11);
        let v: Vec<(String, String)> = (0..60)
            .map(|i| {
                if i % 2 == 0 {
                    (message(&mut rng, TREE[0].3), "城建/物业".to_string())
                } else {
                    (message(&mut rng, TREE[4].3), "教育".to_string())
                }
            })
            .collect();
        let Ok(model) = HierarchicalClassifier::train(&v, HierarchyConfig::default(), seg) else {
            panic!("training failed")
        };
        assert_eq!(model.depth(), 2);
        let p = model.predict(seg, &message(&mut rng, TREE[0].3));
        assert_eq!(p.label, "城建/物业", "{p:?}");
        let p = model.predict(seg, &message(&mut rng, TREE[4].3));
        assert_eq!(p.label, "教育", "{p:?}");
        assert_eq!(p.levels.len(), 1);
    }
}
