//! Hotspots (热点): clusters of recent petitions about the same issue at the same place, ranked by
//! heat, with a short label and spike detection as an early warning of group incidents
//! (群体性事件).
//!
//! Clustering is a single pass in time order: each message joins the most similar open cluster
//! (cosine similarity of TF-IDF key-term vectors, plus a bonus for a shared specific place, or a
//! near-copy by MinHash) when the similarity reaches the threshold, else it opens a new cluster.

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::dedup::Signature;
use crate::normalize::normalize;
use crate::segment::Segmenter;

/// One message given to the hotspot detector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HotMessage {
    /// Title and body (the first line is read as the title).
    pub text: String,
    /// Day number (days since 1970-01-01), see [`parse_day`].
    pub day: i64,
    /// Petitioner identity, when known.
    pub petitioner: Option<String>,
    /// Support (upvotes), when known.
    pub support: u32,
}

/// Settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotspotConfig {
    /// Only messages within this many days of `today` are clustered (0 = all).
    pub window_days: i64,
    /// Similarity needed to join a cluster.
    pub join_threshold: f32,
    /// Bonus added when message and cluster share a specific place (street, compound …).
    pub place_bonus: f32,
    /// Days counted as "recent" for growth.
    pub growth_days: i64,
    /// Days of history used as the spike baseline.
    pub baseline_days: i64,
    /// Least count on the last day for a spike.
    pub spike_min: usize,
    /// Clusters smaller than this are not reported.
    pub min_size: usize,
    /// Most clusters reported.
    pub top: usize,
}

impl Default for HotspotConfig {
    fn default() -> Self {
        Self {
            window_days: 30,
            join_threshold: 0.38,
            place_bonus: 0.1,
            growth_days: 7,
            baseline_days: 28,
            spike_min: 3,
            min_size: 2,
            top: 20,
        }
    }
}

/// A ranked hotspot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hotspot {
    /// Short label from the cluster's key terms.
    pub label: String,
    /// The most mentioned specific place (or area) in the cluster.
    pub place: Option<String>,
    /// Heat score (see [`heat`]).
    pub score: f32,
    /// Messages in the cluster.
    pub count: usize,
    /// Distinct known petitioners (unknown ones count one each).
    pub petitioners: usize,
    /// Sum of support.
    pub support: u64,
    /// First and last day (day numbers).
    pub first_day: i64,
    /// Last day.
    pub last_day: i64,
    /// Messages in the last `growth_days` divided by those in the `growth_days` before (+1 smoothing).
    pub growth: f32,
    /// True when the last day's count is far above the cluster's baseline.
    pub spike: bool,
    /// Indexes into the input, in time order.
    pub members: Vec<usize>,
}

/// Heat = 10·ln(1+petitioners) + 5·ln(1+count) + 3·ln(1+support) + 5·max(0, ln growth).
pub fn heat(count: usize, petitioners: usize, support: u64, growth: f32) -> f32 {
    10.0 * (1.0 + petitioners as f32).ln()
        + 5.0 * (1.0 + count as f32).ln()
        + 3.0 * (1.0 + support as f32).ln()
        + 5.0 * growth.max(1.0).ln()
}

/// Parse the timestamp formats seen in petition exports into a day number: `2019/2/28 11:25:05`,
/// `2017-06-08 17:31:20`, `2019-02-28`, `2019年2月28日`. Returns `None` for anything else.
pub fn parse_day(s: &str) -> Option<i64> {
    let s = s.trim();
    let date = s.split([' ', 'T']).next()?;
    let parts: Vec<&str> = date
        .split(['/', '-', '年', '月', '日', '.'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() < 3 {
        return None;
    }
    let y: i64 = parts[0].parse().ok()?;
    let m: i64 = parts[1].parse().ok()?;
    let d: i64 = parts[2].parse().ok()?;
    if !(1900..=2200).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // days_from_civil (Howard Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Format a day number as `YYYY-MM-DD`.
pub fn format_day(z: i64) -> String {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Is this place an administrative area (province/city/district/county) rather than a specific
/// place? Specific places make a much stronger link between two messages.
fn is_area(p: &str) -> bool {
    let n = p.chars().count();
    (p.ends_with('省') || p.ends_with('市') || p.ends_with('区') || p.ends_with('县')) && n <= 4
}

/// A message's term frequencies and places.
type DocTerms = (Vec<(u32, f32)>, Vec<String>);

struct Cluster {
    centroid: FxHashMap<u32, f32>,
    members: Vec<usize>,
    places: FxHashMap<String, usize>,
    sigs: Vec<usize>,
}

/// Find hotspots. `today` defaults to the latest day in the input.
pub fn hotspots(
    seg: &Segmenter,
    messages: &[HotMessage],
    config: &HotspotConfig,
    today: Option<i64>,
) -> Vec<Hotspot> {
    let Some(latest) = today.or_else(|| messages.iter().map(|m| m.day).max()) else {
        return Vec::new();
    };
    let mut idx: Vec<usize> = (0..messages.len())
        .filter(|&i| config.window_days <= 0 || (latest - messages[i].day) < config.window_days)
        .filter(|&i| messages[i].day <= latest)
        .collect();
    idx.sort_by_key(|&i| (messages[i].day, i));
    // vocabulary and document frequencies over the window
    let mut vocab: FxHashMap<String, u32> = FxHashMap::default();
    let mut names: Vec<String> = Vec::new();
    let mut docs: Vec<DocTerms> = Vec::with_capacity(idx.len());
    let mut df: Vec<u32> = Vec::new();
    for &i in &idx {
        let norm = normalize(&messages[i].text);
        let (title, _) = norm.split_once('\n').unwrap_or((norm.as_str(), ""));
        let places: Vec<String> = seg.places(&norm).into_iter().take(8).collect();
        let mut tf: FxHashMap<u32, f32> = FxHashMap::default();
        let mut add =
            |w: &str, weight: f32, vocab: &mut FxHashMap<String, u32>, names: &mut Vec<String>| {
                if w.chars().count() < 2 || is_area(w) {
                    return;
                }
                let id = *vocab.entry(w.to_string()).or_insert_with(|| {
                    names.push(w.to_string());
                    (names.len() - 1) as u32
                });
                *tf.entry(id).or_insert(0.0) += weight;
            };
        for w in seg.keywords(title) {
            add(w, 3.0, &mut vocab, &mut names);
        }
        for w in seg.keywords(&norm) {
            add(w, 1.0, &mut vocab, &mut names);
        }
        df.resize(names.len(), 0);
        for id in tf.keys() {
            df[*id as usize] += 1;
        }
        docs.push((tf.into_iter().collect(), places));
    }
    let n = idx.len().max(1) as f32;
    let vecs: Vec<Vec<(u32, f32)>> = docs
        .iter()
        .map(|(tf, _)| {
            let mut v: Vec<(u32, f32)> = tf
                .iter()
                .map(|(id, t)| {
                    (
                        *id,
                        (1.0 + t.ln()) * (((1.0 + n) / (1.0 + df[*id as usize] as f32)).ln() + 1.0),
                    )
                })
                .collect();
            v.sort_by(|a, b| b.1.total_cmp(&a.1));
            v.truncate(25);
            let norm = v.iter().map(|x| x.1 * x.1).sum::<f32>().sqrt().max(1e-6);
            v.iter_mut().for_each(|x| x.1 /= norm);
            v
        })
        .collect();
    let sigs: Vec<Signature> = idx
        .iter()
        .map(|&i| Signature::of_text(&messages[i].text))
        .collect();
    // single-pass clustering with an inverted index from term to clusters
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut by_term: FxHashMap<u32, Vec<usize>> = FxHashMap::default();
    for (k, v) in vecs.iter().enumerate() {
        let places = &docs[k].1;
        let mut cands: FxHashSet<usize> = FxHashSet::default();
        for (t, _) in v.iter().take(10) {
            if let Some(cs) = by_term.get(t) {
                cands.extend(cs.iter().copied());
            }
        }
        let mut best: Option<(usize, f32)> = None;
        for c in cands {
            let cl = &clusters[c];
            let cn = cl
                .centroid
                .values()
                .map(|x| x * x)
                .sum::<f32>()
                .sqrt()
                .max(1e-6);
            let mut sim: f32 = v
                .iter()
                .map(|(t, x)| x * cl.centroid.get(t).copied().unwrap_or(0.0))
                .sum::<f32>()
                / cn;
            if places
                .iter()
                .any(|p| !is_area(p) && cl.places.contains_key(p))
            {
                sim += config.place_bonus;
            }
            if cl
                .sigs
                .iter()
                .rev()
                .take(5)
                .any(|&j| sigs[j].jaccard(&sigs[k]) >= 0.45)
            {
                sim = sim.max(1.0);
            }
            if best.is_none_or(|b| sim > b.1) {
                best = Some((c, sim));
            }
        }
        let target = match best {
            Some((c, sim)) if sim >= config.join_threshold => c,
            _ => {
                clusters.push(Cluster {
                    centroid: FxHashMap::default(),
                    members: Vec::new(),
                    places: FxHashMap::default(),
                    sigs: Vec::new(),
                });
                clusters.len() - 1
            }
        };
        let cl = &mut clusters[target];
        for (t, x) in v {
            let e = cl.centroid.entry(*t).or_insert(0.0);
            if *e == 0.0 {
                by_term.entry(*t).or_default().push(target);
            }
            *e += x;
        }
        for p in places {
            *cl.places.entry(p.clone()).or_insert(0) += 1;
        }
        cl.members.push(idx[k]);
        cl.sigs.push(k);
    }
    let mut out: Vec<Hotspot> = clusters
        .into_iter()
        .filter(|c| c.members.len() >= config.min_size.max(1))
        .map(|c| summarize(&c, messages, &names, config, latest))
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(config.top);
    out
}

fn summarize(
    c: &Cluster,
    messages: &[HotMessage],
    names: &[String],
    config: &HotspotConfig,
    latest: i64,
) -> Hotspot {
    let mut petitioners: FxHashSet<&str> = FxHashSet::default();
    let mut unknown = 0usize;
    let mut support = 0u64;
    let mut days: FxHashMap<i64, usize> = FxHashMap::default();
    for &m in &c.members {
        match messages[m].petitioner.as_deref() {
            Some(p) if !p.is_empty() => {
                petitioners.insert(p);
            }
            _ => unknown += 1,
        }
        support += u64::from(messages[m].support);
        *days.entry(messages[m].day).or_insert(0) += 1;
    }
    let first_day = c
        .members
        .iter()
        .map(|&m| messages[m].day)
        .min()
        .unwrap_or(latest);
    let last_day = c
        .members
        .iter()
        .map(|&m| messages[m].day)
        .max()
        .unwrap_or(latest);
    let g = config.growth_days.max(1);
    let recent = c
        .members
        .iter()
        .filter(|&&m| latest - messages[m].day < g)
        .count();
    let before = c
        .members
        .iter()
        .filter(|&&m| (g..2 * g).contains(&(latest - messages[m].day)))
        .count();
    let growth = (recent as f32 + 1.0) / (before as f32 + 1.0);
    // spike: last day vs the mean and spread of the daily counts over the baseline
    let today = days.get(&latest).copied().unwrap_or(0);
    let base: Vec<f32> = (1..=config.baseline_days.max(1))
        .map(|d| days.get(&(latest - d)).copied().unwrap_or(0) as f32)
        .collect();
    let mean = base.iter().sum::<f32>() / base.len() as f32;
    let sd = (base.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / base.len() as f32).sqrt();
    let spike = today >= config.spike_min && today as f32 >= mean + 3.0 * sd.max(0.5);
    let mut terms: Vec<(&u32, &f32)> = c.centroid.iter().collect();
    terms.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
    let mut label_terms: Vec<&str> = Vec::new();
    for (t, _) in terms {
        let w = names.get(*t as usize).map(String::as_str).unwrap_or("");
        if w.is_empty() || label_terms.iter().any(|l| l.contains(w) || w.contains(l)) {
            continue;
        }
        label_terms.push(w);
        if label_terms.len() == 3 {
            break;
        }
    }
    let mut places: Vec<(&String, &usize)> = c.places.iter().collect();
    places.sort_by(|a, b| {
        (is_area(a.0), std::cmp::Reverse(*a.1), a.0).cmp(&(
            is_area(b.0),
            std::cmp::Reverse(*b.1),
            b.0,
        ))
    });
    let n_pet = petitioners.len() + unknown;
    Hotspot {
        label: label_terms.join("·"),
        place: places.first().map(|p| p.0.clone()),
        score: heat(c.members.len(), n_pet, support, growth),
        count: c.members.len(),
        petitioners: n_pet,
        support,
        first_day,
        last_day,
        growth,
        spike,
        members: c.members.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::shared;

    #[test]
    fn days_roundtrip() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(
            parse_day("2019/2/28 11:25:05").map(format_day),
            Some("2019-02-28".into())
        );
        assert_eq!(
            parse_day("2017-06-08 17:31:20").map(format_day),
            Some("2017-06-08".into())
        );
        assert_eq!(
            parse_day("2020年1月8日").map(format_day),
            Some("2020-01-08".into())
        );
        assert_eq!(parse_day("yesterday"), None);
        assert_eq!(parse_day(""), None);
    }

    #[test]
    fn clusters_same_issue_and_flags_spike() {
        let mut msgs = Vec::new();
        let base = parse_day("2024-05-01").unwrap_or(0);
        for i in 0..6 {
            msgs.push(HotMessage {
                text: format!("青松苑小区垃圾站臭气熏天\n青松苑小区门口垃圾站每天臭气熏天，蚊蝇滋生，居民无法开窗{i}"),
                day: base + 20,
                petitioner: Some(format!("u{i}")),
                support: 3,
            });
        }
        msgs.push(HotMessage {
            text: "青松苑小区垃圾站没人管\n垃圾站臭味大，青松苑小区居民投诉多次".into(),
            day: base + 2,
            petitioner: Some("u9".into()),
            support: 0,
        });
        for i in 0..4 {
            msgs.push(HotMessage {
                text: format!("希望增开公交线路\n翠湖路到火车站没有直达公交，希望增开线路{i}"),
                day: base + 10 + i,
                petitioner: Some(format!("b{i}")),
                support: 0,
            });
        }
        let hs = hotspots(shared(), &msgs, &HotspotConfig::default(), None);
        assert!(hs.len() >= 2, "{hs:?}");
        assert_eq!(hs[0].count, 7, "{hs:?}");
        assert!(hs[0].label.contains("垃圾"), "{}", hs[0].label);
        assert_eq!(hs[0].place.as_deref(), Some("青松苑小区"));
        assert!(hs[0].spike);
        assert!(!hs[1].spike);
        assert!(hotspots(shared(), &[], &HotspotConfig::default(), None).is_empty());
    }
}
