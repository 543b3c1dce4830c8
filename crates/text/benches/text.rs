//! Benchmarks: classification throughput, duplicate lookup against 1,000,000 indexed synthetic
//! petitions (latency percentiles and index bytes per petition), and the full intake path
//! (normalise + fingerprint + lookup + classify).
//!
//! ```text
//! CARGO_TARGET_DIR=target/text cargo bench -p huiyin-text --bench text
//! HUIYIN_BENCH_DOCS=100000 …   # a smaller index for a quick run
//! ```
//! Synthetic petitions are generated here (no corpus text): Chinese-like sentences built from
//! common characters, with label-specific topic words so the classifier has something to learn.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use huiyin_text::classify::{Classifier, ClassifierConfig};
use huiyin_text::dedup::{DocMeta, DupIndex, IndexConfig, Signature};
use huiyin_text::hash::Rng;
use huiyin_text::normalize::{match_key_of_normalized, normalize};
use huiyin_text::segment::shared;

const CHARS: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研";
const LABELS: &[(&str, &[&str])] = &[
    (
        "城乡建设",
        &[
            "小区", "物业", "拆迁", "安置", "违建", "施工", "规划", "电梯",
        ],
    ),
    (
        "环境保护",
        &[
            "污染", "噪音", "排放", "污水", "垃圾", "臭味", "粉尘", "环保",
        ],
    ),
    (
        "交通运输",
        &[
            "公交",
            "道路",
            "红绿灯",
            "停车",
            "出租车",
            "地铁",
            "高速",
            "站台",
        ],
    ),
    (
        "教育文体",
        &[
            "学校",
            "学生",
            "老师",
            "入学",
            "幼儿园",
            "学位",
            "培训",
            "教育",
        ],
    ),
    (
        "劳动和社会保障",
        &[
            "工资", "社保", "养老", "退休", "欠薪", "医保", "工伤", "劳动",
        ],
    ),
    (
        "商贸旅游",
        &[
            "商家", "消费", "景区", "价格", "购物", "退款", "超市", "旅游",
        ],
    ),
    (
        "卫生计生",
        &[
            "医院", "医生", "药品", "疫苗", "生育", "诊所", "卫生", "病人",
        ],
    ),
];

struct Gen {
    rng: Rng,
    chars: Vec<char>,
}

impl Gen {
    fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            chars: CHARS.chars().collect(),
        }
    }
    fn word(&mut self) -> String {
        let n = 1 + self.rng.below(3);
        (0..n)
            .map(|_| self.chars[self.rng.below(self.chars.len())])
            .collect()
    }
    /// A petition of about `len` characters for label `label`.
    fn petition(&mut self, label: usize, len: usize) -> String {
        let topic = LABELS[label % LABELS.len()].1;
        let mut t = format!(
            "{}{}问题\n",
            self.word(),
            topic[self.rng.below(topic.len())]
        );
        while t.chars().count() < len {
            for _ in 0..(4 + self.rng.below(6)) {
                if self.rng.below(4) == 0 {
                    t.push_str(topic[self.rng.below(topic.len())]);
                } else {
                    t.push_str(&self.word());
                }
            }
            t.push(if self.rng.below(3) == 0 { '。' } else { '，' });
        }
        t
    }
}

fn train_model(config: ClassifierConfig) -> Classifier {
    let mut g = Gen::new(1);
    let examples: Vec<(String, String)> = (0..1400)
        .map(|i| (g.petition(i, 250), LABELS[i % LABELS.len()].0.to_string()))
        .collect();
    match Classifier::train(&examples, config, shared()) {
        Ok(m) => m,
        Err(e) => panic!("training failed: {e}"),
    }
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    v.get(((v.len() as f64 - 1.0) * p) as usize)
        .copied()
        .unwrap_or_default()
}

/// Build the large index, print bytes per petition and latency percentiles (criterion reports
/// means; the floors are on p99, so these are measured directly over 10,000 calls).
fn percentiles() {
    let n: usize = std::env::var("HUIYIN_BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let seg = shared();
    let mut g = Gen::new(42);
    let t0 = Instant::now();
    let mut index = DupIndex::with_capacity(IndexConfig::default(), n);
    for i in 0..n {
        let text = g.petition(i, 150 + (i % 5) * 60);
        let sig = Signature::of_text(&text);
        let meta = DocMeta {
            petitioner: Some(format!("p{}", i % 50_000)),
            addressee: None,
        };
        if index.insert(&sig, &meta).is_err() {
            panic!("insert failed");
        }
    }
    let build = t0.elapsed();
    let bytes = index.memory_bytes();
    println!(
        "dedup index: {n} petitions built in {:.1} s; {bytes} bytes = {:.1} bytes/petition (pre-sized)",
        build.as_secs_f64(),
        bytes as f64 / n as f64
    );
    // growth without a capacity hint, on a tenth of the documents
    let mut grown = DupIndex::new(IndexConfig::default());
    let mut g2 = Gen::new(43);
    for i in 0..n / 10 {
        let _ = grown.insert(
            &Signature::of_text(&g2.petition(i, 200)),
            &DocMeta::default(),
        );
    }
    println!(
        "dedup index grown without a hint: {:.1} bytes/petition at {} petitions",
        grown.memory_bytes() as f64 / grown.len().max(1) as f64,
        grown.len()
    );
    // queries: half resubmissions of indexed petitions (regenerated with the same seed), half new
    let mut regen = Gen::new(42);
    let mut fresh = Gen::new(777);
    let mut queries: Vec<String> = Vec::new();
    for i in 0..10_000usize {
        // regenerate petition i exactly as indexed (the generator must see every i)
        let t = regen.petition(i, 150 + (i % 5) * 60);
        if i % 2 == 0 {
            queries.push(format!("尊敬的领导：{t}谢谢！"));
        } else {
            queries.push(fresh.petition(i, 250));
        }
    }
    let mut lookup = Vec::with_capacity(queries.len());
    let mut found = 0usize;
    for q in &queries {
        let t = Instant::now();
        let sig = Signature::of_text(q);
        let v = index.query(
            &sig,
            &DocMeta {
                petitioner: Some("p1".into()),
                addressee: None,
            },
        );
        lookup.push(t.elapsed());
        if v.matches.iter().any(|m| m.near_copy) {
            found += 1;
        }
        black_box(v);
    }
    println!(
        "dedup lookup (signature + query) over {} queries, {found} found copies: p50 {:?}, p99 {:?}, max {:?}",
        lookup.len(),
        percentile(&mut lookup, 0.5),
        percentile(&mut lookup, 0.99),
        percentile(&mut lookup, 1.0)
    );
    for (name, config) in [
        ("default", ClassifierConfig::default()),
        ("fast", ClassifierConfig::fast()),
    ] {
        let model = train_model(config);
        // wall time per petition; and, since the machine is shared (a preempted call waits
        // milliseconds for a core), also the best of 3 runs of each petition
        let mut intake = Vec::with_capacity(queries.len());
        let mut best_of_3 = Vec::with_capacity(queries.len());
        for q in &queries {
            let mut best = Duration::MAX;
            for run in 0..3 {
                let t = Instant::now();
                let norm = normalize(q);
                let sig = Signature::of_match_key(&match_key_of_normalized(&norm));
                let v = index.query(&sig, &DocMeta::default());
                let p = model.predict(seg, q);
                let d = t.elapsed();
                black_box((v, p));
                if run == 0 {
                    intake.push(d);
                }
                best = best.min(d);
            }
            best_of_3.push(best);
        }
        println!(
            "intake, {name} model (normalise + fingerprint + lookup + classify with explanation): p50 {:?}, p99 {:?}, max {:?}; best of 3 runs per petition: p50 {:?}, p99 {:?}, max {:?}",
            percentile(&mut intake, 0.5),
            percentile(&mut intake, 0.99),
            percentile(&mut intake, 1.0),
            percentile(&mut best_of_3, 0.5),
            percentile(&mut best_of_3, 0.99),
            percentile(&mut best_of_3, 1.0)
        );
    }
}

fn classification(c: &mut Criterion) {
    let seg = shared();
    let mut g = Gen::new(9);
    let texts: Vec<String> = (0..1000).map(|i| g.petition(i, 250)).collect();
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.sample_size(10);
    let fast = train_model(ClassifierConfig::fast());
    group.bench_function("fast_view_1000_messages", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(fast.predict_label(seg, t));
            }
        })
    });
    let default = train_model(ClassifierConfig::default());
    group.bench_function("default_two_views_1000_messages", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(default.predict_label(seg, t));
            }
        })
    });
    group.finish();
    let mut group = c.benchmark_group("normalise");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.sample_size(10);
    group.bench_function("normalise_and_signature_1000", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(Signature::of_text(t));
            }
        })
    });
    group.bench_function("pii_scan_1000", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(huiyin_text::pii::scan(t));
            }
        })
    });
    group.finish();
}

/// The labelled corpus (`messages_labeled_train.jsonl`, read at run time, never copied into the
/// repository): `HUIYIN_CORPUS`, else `../shared/data/corpus` beside the repository (or beside
/// its parent, for a worktree). `None` when it is not there.
fn corpus_labeled() -> Option<Vec<(String, String)>> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = [
        std::env::var("HUIYIN_CORPUS")
            .ok()
            .map(std::path::PathBuf::from),
        Some(root.join("../shared/data/corpus")),
        Some(root.join("../../shared/data/corpus")),
    ];
    let dir = candidates.into_iter().flatten().find(|d| d.is_dir())?;
    let text = std::fs::read_to_string(dir.join("messages_labeled_train.jsonl")).ok()?;
    let rows: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            Some((
                v.get("text")?.as_str()?.to_string(),
                v.get("label")?.as_str()?.to_string(),
            ))
        })
        .collect();
    (!rows.is_empty()).then_some(rows)
}

/// The intake model trained on the corpus, as `huiyin_app::text` trains it (the `fast`
/// configuration), and the corpus texts it classifies.
fn corpus_model() -> Option<(Classifier, Vec<String>)> {
    let data = corpus_labeled()?;
    let model = match Classifier::train(&data, ClassifierConfig::fast(), shared()) {
        Ok(m) => m,
        Err(e) => panic!("training on the corpus failed: {e}"),
    };
    let texts = data.into_iter().map(|(t, _)| t).collect();
    Some((model, texts))
}

/// Classification of the corpus's own messages (median about 425 characters) by the intake
/// model: the floor of issue 5 (20,000 messages/s on one core) is on these.
fn corpus_classification(c: &mut Criterion) {
    let seg = shared();
    let Some((model, texts)) = corpus_model() else {
        eprintln!("corpus not found (set HUIYIN_CORPUS): classify_corpus skipped");
        return;
    };
    let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
    eprintln!(
        "classify_corpus: {} messages, mean {:.0} characters, model {} features",
        texts.len(),
        chars as f64 / texts.len().max(1) as f64,
        model.num_features()
    );
    let mut group = c.benchmark_group("classify_corpus");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.sample_size(10);
    group.bench_function("fast_predict_label_corpus_messages", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(model.predict_label(seg, t));
            }
        })
    });
    group.bench_function("fast_predict_with_explanation_corpus_messages", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(model.predict(seg, t));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, corpus_classification, classification);

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (Linux; `None` elsewhere).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Median throughput (messages/s of wall time) of `passes` timed passes of `f` over `texts`, and
/// messages per second of this thread's CPU time over all passes (what one core does when the
/// machine is shared and the thread waits for a core part of the time).
fn throughput(texts: &[String], passes: usize, mut f: impl FnMut(&str)) -> (f64, f64) {
    let cpu0 = thread_cpu_ns();
    let mut rates: Vec<f64> = (0..passes)
        .map(|_| {
            let t = Instant::now();
            for x in texts {
                f(x);
            }
            texts.len() as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    let cpu = match (cpu0, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => (texts.len() * passes) as f64 / ((b - a) as f64 / 1e9),
        _ => 0.0,
    };
    rates.sort_by(f64::total_cmp);
    (rates.get(rates.len() / 2).copied().unwrap_or(0.0), cpu)
}

/// `HUIYIN_BENCH_QUICK=1`: throughput with plain timers (median of 7 passes over 1,000 messages,
/// one thread), no criterion and no large index. Also the target for callgrind
/// (`HUIYIN_BENCH_QUICK=callgrind` runs one pass per model only).
fn quick(mode: &str) {
    let seg = shared();
    let mut g = Gen::new(9);
    let texts: Vec<String> = (0..1000).map(|i| g.petition(i, 250)).collect();
    let passes = if mode.starts_with("callgrind") { 1 } else { 7 };
    if let Some(which) = mode.strip_prefix("callgrind-") {
        let config = if which == "fast" {
            ClassifierConfig::fast()
        } else {
            ClassifierConfig::default()
        };
        let model = train_model(config);
        let rate = throughput(&texts, 1, |t| {
            black_box(model.predict_label(seg, t));
        });
        println!("classify {which} predict_label: {:.0} messages/s", rate.0);
        return;
    }
    let fast = train_model(ClassifierConfig::fast());
    let default = train_model(ClassifierConfig::default());
    let rate = throughput(&texts, passes, |t| {
        black_box(fast.predict_label(seg, t));
    });
    println!(
        "classify fast predict_label: {:.0} messages/s (wall, median), {:.0} per CPU-second",
        rate.0, rate.1
    );
    let rate = throughput(&texts, passes, |t| {
        black_box(default.predict_label(seg, t));
    });
    println!(
        "classify default predict_label: {:.0} messages/s (wall, median), {:.0} per CPU-second",
        rate.0, rate.1
    );
    let rate = throughput(&texts, passes, |t| {
        black_box(default.predict(seg, t));
    });
    println!(
        "classify default predict (with explanation): {:.0} messages/s (wall, median), {:.0} per CPU-second",
        rate.0, rate.1
    );
    let rate = throughput(&texts, passes, |t| {
        black_box(normalize(t));
    });
    println!(
        "normalise: {:.0} messages/s (wall, median), {:.0} per CPU-second",
        rate.0, rate.1
    );
    let rate = throughput(&texts, passes, |t| {
        black_box(Signature::of_text(t));
    });
    println!(
        "normalise + signature: {:.0} messages/s (wall, median), {:.0} per CPU-second",
        rate.0, rate.1
    );
    let normalized: Vec<String> = texts.iter().map(|t| normalize(t)).collect();
    let rate = throughput(&normalized, passes, |t| {
        black_box(seg.keywords(t));
    });
    println!(
        "jieba keywords of normalised text: {:.0} messages/s (wall, median), {:.0} per CPU-second",
        rate.0, rate.1
    );
}

/// `HUIYIN_BENCH_QUICK=corpus`: the intake model on the corpus texts with plain timers
/// (median of 7 passes), and `corpus-callgrind` one pass for a profiler.
fn quick_corpus(mode: &str) {
    let seg = shared();
    let Some((model, texts)) = corpus_model() else {
        eprintln!("corpus not found (set HUIYIN_CORPUS)");
        return;
    };
    let passes = if mode.ends_with("callgrind") { 1 } else { 7 };
    let rate = throughput(&texts, passes, |t| {
        black_box(model.predict_label(seg, t));
    });
    println!(
        "classify_corpus fast predict_label: {:.0} messages/s (wall, median), {:.0} per CPU-second; {} features",
        rate.0,
        rate.1,
        model.num_features()
    );
    let rate = throughput(&texts, passes, |t| {
        black_box(huiyin_text::normalize::match_key(t));
    });
    println!(
        "corpus match key alone: {:.0} messages/s (wall, median), {:.0} per CPU-second",
        rate.0, rate.1
    );
}

/// `HUIYIN_BENCH_QUICK=intake-load`: the whole intake text path with concurrent callers, as
/// `huiyin_app::text::App::submit_checked` runs it: normalise + signature outside any lock, the
/// lookup among 1,000,000 indexed petitions and the insert of the new one under the index's
/// write lock, classification (the intake model with its explanation) outside it. The model is
/// trained on the corpus when it is there (`HUIYIN_CORPUS`), else on synthetic petitions; the
/// petitions are corpus texts (half of them resubmitted with a greeting) or synthetic ones.
/// Prints wall-clock p50 / p99 / max per petition for 1, 2, 4 and 8 concurrent callers
/// (`HUIYIN_BENCH_CALLERS=1,2,…` to choose).
fn intake_under_load() {
    use std::sync::{Arc, RwLock};
    let n: usize = std::env::var("HUIYIN_BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let callers: Vec<usize> = std::env::var("HUIYIN_BENCH_CALLERS")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 4, 8]);
    let seg = shared();
    let (model, texts) = match corpus_model() {
        Some((m, t)) => (m, t),
        None => {
            let mut g = Gen::new(5);
            (
                train_model(ClassifierConfig::fast()),
                (0..2000).map(|i| g.petition(i, 425)).collect(),
            )
        }
    };
    let mut g = Gen::new(42);
    let t0 = Instant::now();
    let mut index = DupIndex::with_capacity(IndexConfig::default(), n + 100_000);
    for i in 0..n {
        let text = g.petition(i, 150 + (i % 5) * 60);
        let meta = DocMeta {
            petitioner: Some(format!("p{}", i % 50_000)),
            addressee: None,
        };
        if index.insert(&Signature::of_text(&text), &meta).is_err() {
            panic!("insert failed");
        }
    }
    // the corpus texts are indexed too, so that half of the petitions below are resubmissions
    for t in &texts {
        let _ = index.insert(&Signature::of_text(t), &DocMeta::default());
    }
    println!(
        "intake under load: index of {} petitions built in {:.1} s; {} petition texts, model {} features",
        index.len(),
        t0.elapsed().as_secs_f64(),
        texts.len(),
        model.num_features()
    );
    let index = Arc::new(RwLock::new(index));
    let model = Arc::new(model);
    let texts = Arc::new(texts);
    for &c in &callers {
        let per_caller = 4000 / c.max(1);
        let handles: Vec<_> = (0..c)
            .map(|w| {
                let (index, model, texts) = (index.clone(), model.clone(), texts.clone());
                std::thread::spawn(move || {
                    let mut times = Vec::with_capacity(per_caller);
                    for i in 0..per_caller {
                        let base = &texts[(w * per_caller + i) % texts.len()];
                        let text = if i % 2 == 0 {
                            format!("尊敬的领导：{base}谢谢！")
                        } else {
                            base.clone()
                        };
                        let t = Instant::now();
                        let norm = normalize(&text);
                        let sig = Signature::of_match_key(&match_key_of_normalized(&norm));
                        let meta = DocMeta {
                            petitioner: Some(format!("w{w}")),
                            addressee: None,
                        };
                        let verdict = {
                            let mut ix = match index.write() {
                                Ok(g) => g,
                                Err(p) => p.into_inner(),
                            };
                            let v = ix.query(&sig, &meta);
                            let _ = ix.insert(&sig, &meta);
                            v
                        };
                        let p = model.predict(shared(), &text);
                        times.push(t.elapsed());
                        black_box((verdict, p));
                    }
                    times
                })
            })
            .collect();
        let mut all: Vec<Duration> = Vec::new();
        for h in handles {
            match h.join() {
                Ok(v) => all.extend(v),
                Err(_) => panic!("a caller panicked"),
            }
        }
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!(
            "intake, {c} concurrent callers, {} petitions: p50 {:?}, p99 {:?}, max {:?} (load average {})",
            all.len(),
            percentile(&mut all, 0.5),
            percentile(&mut all, 0.99),
            percentile(&mut all, 1.0),
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let _ = seg;
}

/// `HUIYIN_BENCH_QUICK=campaign`: a mass campaign of copied letters, as the app's
/// `submit_throughput` bench submits them: `HUIYIN_BENCH_DOCS` (default 20,000) petitions that
/// are six texts differing only in a serial number, each from its own petitioner to one bureau.
/// Each petition is a query then an insert (as `App::submit_checked` does under the index's
/// write lock); signatures are computed before the clock starts. Prints the rate, p50 / p99 /
/// max per petition for the first and the last thousand (a cost that grows with the cluster
/// shows as a gap between the two), then how many of 1,000 resubmissions by early petitioners
/// find their own earlier petition among the matches (重复信访 inside the cluster).
fn campaign() {
    let n: usize = std::env::var("HUIYIN_BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    const TOPICS: [&str; 6] = [
        "小区冬季供暖温度不达标",
        "拖欠农民工工资问题",
        "道路施工夜间噪音扰民",
        "征地补偿款未按时发放",
        "学校周边交通安全隐患",
        "物业公司违规收费",
    ];
    let text = |i: usize| {
        let title = TOPICS[i % TOPICS.len()];
        format!(
            "{title}\n{title}。本人居住在本区某街道某小区，自去年十一月以来该问题一直没有得到解决，\
             多次向社区居委会和相关部门反映，均答复正在协调处理，但至今没有实质进展。\
             该问题严重影响了本人及家人和周边居民的正常生活，老人和孩子的身体健康也受到影响。\
             恳请有关部门依法依规尽快调查核实，督促责任单位限期整改，并将处理结果书面答复本人。\
             附：相关照片、缴费凭证和与物业、社区沟通的记录，如有需要可以随时提供。编号{i}。"
        )
    };
    let meta = |i: usize| DocMeta {
        petitioner: Some(format!("campaign-{i}")),
        addressee: Some("4406-xfj".into()),
    };
    let sigs: Vec<Signature> = (0..n).map(|i| Signature::of_text(&text(i))).collect();
    let mut index = DupIndex::new(IndexConfig::default());
    let mut times = Vec::with_capacity(n);
    let t0 = Instant::now();
    for (i, sig) in sigs.iter().enumerate() {
        let m = meta(i);
        let t = Instant::now();
        let v = index.query(sig, &m);
        let inserted = index.insert(sig, &m);
        times.push(t.elapsed());
        black_box((v, inserted.is_ok()));
    }
    let total = t0.elapsed();
    let k = 1000.min(n);
    let mut first = times[..k].to_vec();
    let mut last = times[n - k..].to_vec();
    println!(
        "campaign: {n} petitions (6 texts + serial number) query+insert in {:.2} s = {:.0} petitions/s; \
         first {k}: p50 {:?} p99 {:?} max {:?}; last {k}: p50 {:?} p99 {:?} max {:?}; {} bytes",
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        percentile(&mut first, 0.5),
        percentile(&mut first, 0.99),
        percentile(&mut first, 1.0),
        percentile(&mut last, 0.5),
        percentile(&mut last, 0.99),
        percentile(&mut last, 1.0),
        index.memory_bytes()
    );
    // resubmissions by the first 1,000 petitioners (the oldest documents of each cluster)
    let mut found = 0usize;
    let mut q = Vec::with_capacity(k);
    for i in 0..k {
        let sig = Signature::of_text(&format!("尊敬的领导：{}谢谢！", text(i)));
        let t = Instant::now();
        let v = index.query(&sig, &meta(i));
        q.push(t.elapsed());
        if v.matches
            .iter()
            .any(|m| m.near_copy && m.same_petitioner == Some(true))
        {
            found += 1;
        }
    }
    println!(
        "campaign: {found}/{k} resubmissions by early petitioners found their own petition; query p50 {:?} p99 {:?}",
        percentile(&mut q, 0.5),
        percentile(&mut q, 0.99)
    );
}

fn main() {
    match std::env::var("HUIYIN_BENCH_QUICK").as_deref() {
        Ok("intake-load") => return intake_under_load(),
        Ok("intake") => return percentiles(),
        Ok("campaign") => return campaign(),
        Ok(mode) if mode.starts_with("corpus") => return quick_corpus(mode),
        Ok(mode) => return quick(mode),
        Err(_) => {}
    }
    percentiles();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
