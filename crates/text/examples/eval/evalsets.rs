//! Evaluation sections for duplicates, hotspots and replies.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Instant;

use anyhow::Result;
use huiyin_text::dedup::{DocMeta, DupIndex, IndexConfig, MatchKind, Signature};
use huiyin_text::hash::Rng;
use huiyin_text::normalize::match_key;
use serde_json::{Value, json};

use crate::{Parts, read_jsonl, s};

const DEDUP_FLOOR: f64 = 0.95;

/// Simplified → traditional pairs for the variant generator (common characters only).
const TRAD: &[(char, char)] = &[
    ('这', '這'),
    ('个', '個'),
    ('们', '們'),
    ('来', '來'),
    ('时', '時'),
    ('为', '為'),
    ('说', '說'),
    ('国', '國'),
    ('后', '後'),
    ('发', '發'),
    ('会', '會'),
    ('问', '問'),
    ('题', '題'),
    ('区', '區'),
    ('县', '縣'),
    ('门', '門'),
    ('车', '車'),
    ('业', '業'),
    ('处', '處'),
    ('长', '長'),
    ('开', '開'),
    ('关', '關'),
    ('实', '實'),
    ('现', '現'),
    ('应', '應'),
    ('经', '經'),
    ('过', '過'),
    ('还', '還'),
    ('没', '沒'),
    ('进', '進'),
    ('动', '動'),
    ('间', '間'),
    ('学', '學'),
    ('头', '頭'),
    ('员', '員'),
    ('费', '費'),
    ('请', '請'),
    ('领', '領'),
    ('导', '導'),
    ('乡', '鄉'),
    ('镇', '鎮'),
    ('书', '書'),
    ('电', '電'),
    ('话', '話'),
    ('号', '號'),
    ('楼', '樓'),
    ('级', '級'),
    ('给', '給'),
    ('让', '讓'),
    ('认', '認'),
    ('报', '報'),
    ('设', '設'),
    ('场', '場'),
    ('对', '對'),
    ('于', '於'),
    ('与', '與'),
    ('从', '從'),
    ('办', '辦'),
    ('边', '邊'),
    ('东', '東'),
    ('买', '買'),
    ('卖', '賣'),
    ('钱', '錢'),
    ('难', '難'),
    ('几', '幾'),
    ('无', '無'),
    ('条', '條'),
    ('该', '該'),
    ('证', '證'),
    ('题', '題'),
];
const GREETINGS_HEAD: &[&str] = &[
    "尊敬的领导：您好！",
    "您好，",
    "领导好！我想反映一个问题。",
    "尊敬的书记：",
    "各位领导你们好，",
];
const GREETINGS_TAIL: &[&str] = &[
    "谢谢！",
    "恳请领导重视，谢谢！",
    "此致敬礼！",
    "望早日解决，感激不尽。",
    "盼复。",
];

fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        cur.push(c);
        if matches!(c, '。' | '！' | '？' | '!' | '?' | '；' | '\n') {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn random_phone(rng: &mut Rng) -> String {
    let mut p = format!("1{}", 3 + rng.below(7));
    for _ in 0..9 {
        p.push(char::from(b'0' + rng.below(10) as u8));
    }
    p
}

/// Make a realistic resubmission of `text`: 2–4 of the transformations, each documented in
/// docs/text.md. Returns the variant and the names of the transformations applied.
fn make_variant(text: &str, rng: &mut Rng) -> (String, Vec<&'static str>) {
    let mut ops: Vec<&'static str> = vec![
        "greeting",
        "reorder",
        "traditional",
        "punctuation",
        "cut",
        "phone",
    ];
    rng.shuffle(&mut ops);
    let n = 2 + rng.below(3);
    ops.truncate(n);
    let mut sents = sentences(text);
    if ops.contains(&"cut") && sents.len() >= 4 {
        // cut 10–30% of the sentences as one contiguous part (never the first one)
        let k = ((sents.len() as f64 * (0.1 + 0.2 * rng.unit())).round() as usize)
            .clamp(1, sents.len() / 3);
        let start = 1 + rng.below(sents.len() - k);
        sents.drain(start..start + k);
    }
    if ops.contains(&"reorder") && sents.len() >= 3 {
        // swap two or three pairs of sentences (people rewrite the order, not the content)
        for _ in 0..(1 + rng.below(3)) {
            let i = 1 + rng.below(sents.len() - 1);
            let j = 1 + rng.below(sents.len() - 1);
            sents.swap(i, j);
        }
    }
    let mut t: String = sents.concat();
    if ops.contains(&"phone") {
        // replace every long digit run by another number, or add a contact line
        let mut out = String::new();
        let mut run = String::new();
        for c in t.chars().chain(std::iter::once('\u{0}')) {
            if c.is_ascii_digit() || c == '*' {
                run.push(c);
                continue;
            }
            if run.len() >= 7 {
                out.push_str(&random_phone(rng));
            } else {
                out.push_str(&run);
            }
            run.clear();
            if c != '\u{0}' {
                out.push(c);
            }
        }
        t = out;
        if rng.below(2) == 0 {
            t.push_str(&format!("联系电话：{}。", random_phone(rng)));
        }
    }
    if ops.contains(&"greeting") {
        if rng.below(2) == 0 {
            t = format!("{}{}", GREETINGS_HEAD[rng.below(GREETINGS_HEAD.len())], t);
        }
        t.push_str(GREETINGS_TAIL[rng.below(GREETINGS_TAIL.len())]);
    }
    if ops.contains(&"traditional") {
        let map: HashMap<char, char> = TRAD.iter().copied().collect();
        t = t
            .chars()
            .map(|c| {
                if rng.below(10) < 8 {
                    *map.get(&c).unwrap_or(&c)
                } else {
                    c
                }
            })
            .collect();
    }
    if ops.contains(&"punctuation") {
        t = t
            .chars()
            .flat_map(|c| {
                let r = rng.below(10);
                let v: Vec<char> = match c {
                    '，' if r < 5 => vec![',', ' '],
                    '。' if r < 5 => vec!['.', ' '],
                    '：' => vec![':'],
                    '！' => vec!['!', '!'],
                    '0'..='9' if r < 3 => {
                        vec![char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c)]
                    }
                    _ if r == 0 => vec![c, ' '],
                    _ => vec![c],
                };
                v
            })
            .collect();
    }
    (t, ops)
}

/// Length-normalised longest common subsequence over matching keys: the share of the shorter text
/// that appears, in order, in the longer one. An independent check of "is this a copy".
fn lcs_ratio(a: &str, b: &str) -> f64 {
    let a: Vec<char> = match_key(a).chars().collect();
    let b: Vec<char> = match_key(b).chars().collect();
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let mut prev = vec![0u32; short.len() + 1];
    let mut cur = vec![0u32; short.len() + 1];
    for lc in long.iter() {
        for (j, sc) in short.iter().enumerate() {
            cur[j + 1] = if lc == sc {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    f64::from(prev[short.len()]) / short.len() as f64
}

fn msg_text(v: &Value) -> String {
    let t = s(v, "text");
    if !t.is_empty() {
        return t;
    }
    format!("{}\n{}", s(v, "title"), s(v, "detail"))
}

pub fn eval_dedup(p: &mut Parts<'_>) -> Result<()> {
    let unlabeled = read_jsonl(&p.corpus.join("messages_unlabeled.jsonl"))?;
    let hot = read_jsonl(&p.corpus.join("hot_messages.jsonl"))?;
    let mut rng = Rng::new(7);
    // Bases: unlabeled messages with at least 80 characters of matching key, distinct keys.
    let mut seen = HashSet::new();
    let mut bases: Vec<String> = Vec::new();
    for v in &unlabeled {
        let t = msg_text(v);
        let k = match_key(&t);
        if k.chars().count() >= 80 && seen.insert(k) {
            bases.push(t);
        }
    }
    rng.shuffle(&mut bases);
    bases.truncate(1000);
    // Documents: bases, 1–2 variants each, and all hot messages (real same-issue clusters).
    let mut docs: Vec<String> = Vec::new();
    let mut origin: Vec<Option<usize>> = Vec::new(); // which base a doc derives from
    let mut op_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (bi, b) in bases.iter().enumerate() {
        docs.push(b.clone());
        origin.push(Some(bi));
        for _ in 0..(1 + rng.below(2)) {
            let (v, ops) = make_variant(b, &mut rng);
            for o in ops {
                *op_counts.entry(o).or_insert(0) += 1;
            }
            docs.push(v);
            origin.push(Some(bi));
        }
    }
    let n_generated = docs.len();
    let hot_start = docs.len();
    for v in &hot {
        docs.push(msg_text(v));
        origin.push(None);
    }
    let mut config = IndexConfig::default();
    // Tuning experiments only: HUIYIN_EVAL_INDEX='{"bands":14}' overrides fields.
    if let Ok(over) = std::env::var("HUIYIN_EVAL_INDEX") {
        let mut base = serde_json::to_value(&config)?;
        if let (Some(b), Value::Object(o)) =
            (base.as_object_mut(), serde_json::from_str::<Value>(&over)?)
        {
            b.extend(o);
        }
        config = serde_json::from_value(base)?;
    }
    let start = Instant::now();
    let sigs: Vec<Signature> = docs.iter().map(|d| Signature::of_text(d)).collect();
    let mut index = DupIndex::new(config.clone());
    let mut id_to_doc = Vec::new();
    for sig in &sigs {
        let id = index.insert(sig, &DocMeta::default())?;
        id_to_doc.push(id.0 as usize);
    }
    let mut predicted: HashSet<(usize, usize)> = HashSet::new();
    for (i, sig) in sigs.iter().enumerate() {
        for m in index.query(sig, &DocMeta::default()).matches {
            let j = id_to_doc[m.doc.0 as usize];
            if m.near_copy && i != j {
                predicted.insert((i.min(j), i.max(j)));
            }
        }
    }
    let elapsed = start.elapsed();
    // ground truth
    let mut by_base: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, o) in origin.iter().enumerate() {
        if let Some(b) = o {
            by_base.entry(*b).or_default().push(i);
        }
    }
    let mut truth: HashSet<(usize, usize)> = HashSet::new();
    for members in by_base.values() {
        for (x, &a) in members.iter().enumerate() {
            for &b in &members[x + 1..] {
                truth.insert((a.min(b), a.max(b)));
            }
        }
    }
    let tp = predicted.intersection(&truth).count();
    let mut fp = 0usize;
    let mut corpus_copies = 0usize;
    let mut hot_pairs_flagged = 0usize;
    let mut fp_examples = Vec::new();
    for &(a, b) in predicted.difference(&truth) {
        let r = lcs_ratio(&docs[a], &docs[b]);
        if a >= hot_start && b >= hot_start {
            hot_pairs_flagged += 1;
        }
        if r >= 0.8 {
            corpus_copies += 1; // the corpus itself holds this copy (e.g. the same message posted twice)
        } else {
            fp += 1;
            if fp_examples.len() < 5 {
                fp_examples.push(format!("docs {a} and {b}: LCS ratio {r:.2}"));
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / truth.len().max(1) as f64;
    // recall by transformation
    let mut missed_j: BTreeMap<u32, usize> = BTreeMap::new();
    for &(a, b) in truth.difference(&predicted) {
        *missed_j
            .entry((sigs[a].jaccard(&sigs[b]) * 10.0) as u32)
            .or_insert(0) += 1;
    }
    eprintln!("missed pairs by full-signature Jaccard decile: {missed_j:?}");

    // Real clusters in hot_messages: pairs of different messages that share a title key term and
    // a place (same issue, same place) are the hard negatives; how many were called copies?
    let same_issue_pairs;
    let mut same_issue_called_copy = 0usize;
    let mut same_issue_real_copy = 0usize;
    {
        let titles: Vec<String> = hot.iter().map(|v| s(v, "title")).collect();
        let mut by_term: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, t) in titles.iter().enumerate() {
            let norm = huiyin_text::normalize::normalize(t);
            let n = p.seg.keywords(&norm);
            let mut uniq: Vec<&str> = n.into_iter().filter(|w| w.chars().count() >= 3).collect();
            uniq.sort_unstable();
            uniq.dedup();
            for w in uniq {
                by_term.entry(w.to_string()).or_default().push(i);
            }
        }
        let mut pairs: HashSet<(usize, usize)> = HashSet::new();
        for members in by_term.values().filter(|m| m.len() >= 2 && m.len() <= 60) {
            for (x, &a) in members.iter().enumerate() {
                for &b in &members[x + 1..] {
                    if match_key(&docs[hot_start + a]) != match_key(&docs[hot_start + b]) {
                        pairs.insert((a.min(b), a.max(b)));
                    }
                }
            }
        }
        same_issue_pairs = pairs.len();
        for (a, b) in pairs {
            let key = (hot_start + a, hot_start + b);
            if predicted.contains(&key) {
                if lcs_ratio(&docs[key.0], &docs[key.1]) >= 0.8 {
                    same_issue_real_copy += 1;
                } else {
                    same_issue_called_copy += 1;
                }
            }
        }
    }

    // Kinds: query each variant against an index of the bases with petitioner/addressee metadata.
    let mut kind_index = DupIndex::new(config.clone());
    for (bi, b) in bases.iter().enumerate() {
        kind_index.insert(
            &Signature::of_text(b),
            &DocMeta {
                petitioner: Some(format!("p{bi}")),
                addressee: Some("市信访局".into()),
            },
        )?;
    }
    let mut kind_total = 0usize;
    let mut kind_ok = 0usize;
    let mut kind_conf: BTreeMap<String, usize> = BTreeMap::new();
    for (i, d) in docs[..n_generated].iter().enumerate() {
        let Some(bi) = origin[i] else { continue };
        if d == &bases[bi] {
            continue;
        }
        let case = kind_total % 3;
        let (meta, want) = match case {
            0 => (
                DocMeta {
                    petitioner: Some(format!("p{bi}")),
                    addressee: Some("市信访局".into()),
                },
                MatchKind::Repeat,
            ),
            1 => (
                DocMeta {
                    petitioner: Some(format!("p{bi}")),
                    addressee: Some("区住建局".into()),
                },
                MatchKind::MultiAddressed,
            ),
            _ => (
                DocMeta {
                    petitioner: Some(format!("x{i}")),
                    addressee: Some("市信访局".into()),
                },
                MatchKind::PossibleGroup,
            ),
        };
        let got = kind_index.query(&Signature::of_text(d), &meta).kind;
        kind_total += 1;
        if got == want {
            kind_ok += 1;
        }
        *kind_conf.entry(format!("{want:?}→{got:?}")).or_insert(0) += 1;
    }

    let md = &mut *p.md;
    writeln!(md, "## Duplicates (near-copy test set)\n")?;
    writeln!(
        md,
        "{} base messages (from messages_unlabeled, ≥ 80 characters, distinct), {} generated resubmissions, plus all {} hot messages as real same-issue traffic: {} documents indexed and each queried against all others in {:.2} s.\n",
        bases.len(),
        n_generated - bases.len(),
        hot.len(),
        docs.len(),
        elapsed.as_secs_f64()
    )?;
    writeln!(
        md,
        "Transformations applied (2–4 per variant): {op_counts:?}\n"
    )?;
    writeln!(md, "| metric | value |\n|---|---|")?;
    writeln!(md, "| true copy pairs | {} |", truth.len())?;
    writeln!(md, "| found (TP) | {tp} |")?;
    writeln!(md, "| **recall** | **{recall:.4}** |")?;
    writeln!(md, "| false copies (FP, LCS ratio < 0.8) | {fp} |")?;
    writeln!(md, "| **precision** | **{precision:.4}** |")?;
    writeln!(
        md,
        "| pairs flagged that the corpus itself copies (LCS ≥ 0.8, not counted) | {corpus_copies} |"
    )?;
    writeln!(
        md,
        "| of all flagged pairs, both from hot_messages | {hot_pairs_flagged} |"
    )?;
    writeln!(
        md,
        "| hot_messages same-issue pairs (shared title term, different text) | {same_issue_pairs} |"
    )?;
    writeln!(
        md,
        "| … called copies although different (LCS < 0.8) | {same_issue_called_copy} |"
    )?;
    writeln!(
        md,
        "| … called copies and really copied (LCS ≥ 0.8) | {same_issue_real_copy} |"
    )?;
    writeln!(
        md,
        "| match kind correct (Repeat/MultiAddressed/PossibleGroup) | {kind_ok}/{kind_total} |"
    )?;
    writeln!(md, "\nKind outcomes: {kind_conf:?}\n")?;
    if !fp_examples.is_empty() {
        writeln!(md, "False-copy examples: {}\n", fp_examples.join("; "))?;
    }
    p.json.insert(
        "dedup".into(),
        json!({"precision": precision, "recall": recall, "truth_pairs": truth.len(), "tp": tp, "fp": fp,
               "corpus_copies": corpus_copies, "same_issue_pairs": same_issue_pairs,
               "same_issue_called_copy": same_issue_called_copy, "kind_ok": kind_ok, "kind_total": kind_total}),
    );
    if precision < DEDUP_FLOOR {
        p.failures.push(format!(
            "duplicate precision {precision:.4} < {DEDUP_FLOOR}"
        ));
    }
    if recall < DEDUP_FLOOR {
        p.failures
            .push(format!("duplicate recall {recall:.4} < {DEDUP_FLOOR}"));
    }
    Ok(())
}

pub fn eval_hotspots(p: &mut Parts<'_>) -> Result<()> {
    use huiyin_text::hotspot::{HotMessage, HotspotConfig, format_day, hotspots, parse_day};
    let rows = read_jsonl(&p.corpus.join("hot_messages.jsonl"))?;
    let msgs: Vec<HotMessage> = rows
        .iter()
        .map(|v| HotMessage {
            text: msg_text(v),
            day: parse_day(&s(v, "created_at")).unwrap_or(0),
            petitioner: Some(s(v, "user_id")).filter(|x| !x.is_empty()),
            support: v.get("upvotes").and_then(Value::as_u64).unwrap_or(0) as u32,
        })
        .collect();
    let unparsed = rows
        .iter()
        .filter(|v| parse_day(&s(v, "created_at")).is_none())
        .count();
    // The file is a sample over 2017–2020, so the window is the whole file.
    let config = HotspotConfig {
        window_days: 0,
        ..HotspotConfig::default()
    };
    let start = Instant::now();
    let hs = hotspots(p.seg, &msgs, &config, None);
    let elapsed = start.elapsed();
    let md = &mut *p.md;
    writeln!(
        md,
        "## Hotspots ({} hot messages, whole file as the window, {:.2} s, {unparsed} unparsable dates)\n",
        msgs.len(),
        elapsed.as_secs_f64()
    )?;
    writeln!(
        md,
        "| rank | label | place | score | messages | petitioners | upvotes | first | last |\n|---|---|---|---|---|---|---|---|---|"
    )?;
    let mut top = Vec::new();
    for (i, h) in hs.iter().take(10).enumerate() {
        writeln!(
            md,
            "| {} | {} | {} | {:.1} | {} | {} | {} | {} | {} |",
            i + 1,
            h.label,
            h.place.clone().unwrap_or_default(),
            h.score,
            h.count,
            h.petitioners,
            h.support,
            format_day(h.first_day),
            format_day(h.last_day)
        )?;
        top.push(json!({"label": h.label, "place": h.place, "score": h.score, "count": h.count, "petitioners": h.petitioners, "support": h.support}));
    }
    writeln!(md)?;
    if std::env::var("HUIYIN_EVAL_SHOW").is_ok() {
        for h in hs.iter().take(5) {
            eprintln!("== {} / {:?}", h.label, h.place);
            for &m in h.members.iter().take(8) {
                eprintln!("   {}", s(&rows[m], "title"));
            }
        }
    }
    p.json.insert("hotspots".into(), json!(top));
    Ok(())
}

pub fn eval_replies(p: &mut Parts<'_>) -> Result<()> {
    let rows = read_jsonl(&p.corpus.join("replies.jsonl"))?;
    let start = Instant::now();
    let mut scored: Vec<(u8, i64, huiyin_text::reply::ReplyCheck, usize)> = Vec::new();
    for v in &rows {
        let msg = msg_text(v);
        let reply = s(v, "reply");
        let c = huiyin_text::reply::check_reply(p.seg, &msg, &reply);
        let id = v.get("message_id").and_then(Value::as_i64).unwrap_or(-1);
        scored.push((c.score, id, c, reply.chars().count()));
    }
    let elapsed = start.elapsed();
    let mut hist = [0usize; 10];
    let mut code_counts: BTreeMap<String, usize> = BTreeMap::new();
    for (sc, _, c, _) in &scored {
        hist[(usize::from(*sc) / 10).min(9)] += 1;
        for f in &c.findings {
            *code_counts.entry(f.code.clone()).or_insert(0) += 1;
        }
    }
    let mut scores: Vec<u8> = scored.iter().map(|x| x.0).collect();
    scores.sort_unstable();
    let q = |f: f64| {
        scores
            .get(((scores.len() as f64 - 1.0) * f) as usize)
            .copied()
            .unwrap_or(0)
    };
    let mean = scores.iter().map(|x| f64::from(*x)).sum::<f64>() / scores.len().max(1) as f64;
    let md = &mut *p.md;
    writeln!(
        md,
        "## Reply quality ({} message + reply pairs, {:.2} s)\n",
        rows.len(),
        elapsed.as_secs_f64()
    )?;
    writeln!(
        md,
        "mean {mean:.1}, p10 {}, median {}, p90 {}\n",
        q(0.1),
        q(0.5),
        q(0.9)
    )?;
    writeln!(md, "| score | replies |\n|---|---|")?;
    for (i, n) in hist.iter().enumerate() {
        writeln!(md, "| {}–{} | {n} |", i * 10, i * 10 + 9)?;
    }
    writeln!(md, "\nFindings over all replies: {code_counts:?}\n")?;
    scored.sort_by_key(|x| (x.0, x.1));
    writeln!(
        md,
        "The 10 lowest-scoring replies (message_id, score, reply length, findings with evidence):\n"
    )?;
    writeln!(
        md,
        "| message_id | score | chars | findings |\n|---|---|---|---|"
    )?;
    for (sc, id, c, len) in scored.iter().take(10) {
        let f: Vec<String> = c
            .findings
            .iter()
            .map(|f| match &f.evidence {
                Some(e) => format!("{} ({e})", f.code),
                None => f.code.clone(),
            })
            .collect();
        writeln!(md, "| {id} | {sc} | {len} | {} |", f.join("; "))?;
    }
    writeln!(md)?;
    p.json.insert(
        "replies".into(),
        json!({"mean": mean, "median": q(0.5), "p10": q(0.1), "p90": q(0.9), "histogram": hist, "findings": code_counts,
               "lowest": scored.iter().take(10).map(|x| json!({"message_id": x.1, "score": x.0})).collect::<Vec<_>>()}),
    );
    Ok(())
}
