//! Case search at scale (issue 7, "Benchmarks"): with N cases indexed (default 1,000,000),
//! the full-rebuild rate, the index size against the text it covers, and p50/p95/p99 of a fixed
//! query mix with filters and facets — for the product's tantivy index and, on the same
//! documents in the same run, SQLite FTS5 (`tokenize='trigram'`) and PostgreSQL `pg_trgm`.
//!
//! **Data.** Cases are generated from the message corpus read at run time (`HUIYIN_CORPUS`,
//! default `../shared/data/corpus`; nothing of it is in the repository): case `i` takes the
//! title and the first half of the sentences of one message and the second half of another
//! (so a million texts are distinct but read like petitions), a 处理意见书 from the replies of
//! `replies.jsonl` once the stage is `replied` or later, a taxonomy category (the message's
//! own first level where it is labelled), one of 84 counties of one province (skewed: the
//! first city holds about a quarter), a stage, class, channel, rating, petitioner mask and
//! dates. Rows go straight into `cases` of an SQLite store (the state JSON is a real
//! `CaseState`, the other columns as the store writes them); the data set is cached under
//! `target/bench-data/search-<version>-<n>/`.
//!
//! **Tantivy** (the product): `App::search_rebuild` — the `huiyin reindex` path, reading the
//! `cases` table in pages and indexing every case — timed from an empty directory; then the
//! queries through `App::search` as a scoped user (the index query with scope, filters, seven
//! facets and four light counts, the 20 hits loaded from the database, authorised again and
//! highlighted), and the same through `SearchIndex::search` alone.
//!
//! **SQLite FTS5** (`fts5(title, text, reply, tokenize='trigram')` + an attribute table and
//! unit tables with B-tree indexes) and **PostgreSQL** (one `doc` column with a
//! `gin (doc gin_trgm_ops)` index + the same attribute columns and unit tables): the same
//! documents, the same query words as substrings (a word of fewer than three characters
//! cannot use a trigram index: FTS5 then filters with `LIKE`, PostgreSQL as well), the same
//! scope, filters, facet counts (one `GROUP BY` per facet over the matching set) and 20 hits
//! (FTS5 by `bm25`, PostgreSQL newest first: pg_trgm has no relevance for long texts).
//!
//! ```text
//! cargo bench -p huiyin-app --bench search                          # 1,000,000 cases, all three
//! HUIYIN_BENCH_CASES=20000 cargo bench -p huiyin-app --bench search # a small run
//! HUIYIN_BENCH_ALT=none | fts5 | pg | fts5,pg                       # which alternatives (default both)
//! HUIYIN_BENCH_QUERIES=200                                          # queries in the mix
//! HUIYIN_BENCH_REUSE_INDEX=1                                        # keep the last run's index (queries only)
//! HUIYIN_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres   # the server; the bench
//!                                                                   # creates and drops huiyin_bench_search
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The allocator the `huiyin` binary uses (`crates/cli/src/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use huiyin_app::search::{SearchRequest, SortOrder};
use huiyin_app::{App, Config, NewPetition};
use huiyin_domain::access::{Principal, RoleSet, UnitKind};
use huiyin_domain::case::{
    Actor, CaseState, Decision, HandlingOpinion, ReportStatus, Role, RouteKind, Routing,
    Satisfaction, Stage,
};
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_domain::petition::{
    AppealRoute, Channel, MaskedPerson, Petition, Petitioner, StatutoryClass,
};
use huiyin_domain::values::{DocumentText, PetitionText, ReceiptCode, RegionCode, Title};
use huiyin_search::Caller;
use huiyin_search::schema::{UnitTree, rating_code, units_on};
use huiyin_store::{NO_DEADLINE_MS, Store, UnitRecord};
use sqlx::{Connection, Row};

const DATA_VERSION: &str = "v1";
const CITIES: usize = 14;
const COUNTIES_PER_CITY: usize = 6;
const DEPARTMENTS: usize = 6;
const CHUNK: usize = 10_000;
const ROWS_PER_INSERT: usize = 100;
/// 2026-01-01 UTC; cases are received over the two years before "now".
const NOW_MS: i64 = 1_767_225_600_000;
const SPAN_MS: i64 = 2 * 365 * 24 * 3600 * 1000;
const DAY_MS: i64 = 24 * 3600 * 1000;
const PG_DB: &str = "huiyin_bench_search";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift*).
struct Rng(u64);
impl Rng {
    fn seeded(i: u64, salt: u64) -> Rng {
        let mut r = Rng(0x9E37_79B9_7F4A_7C15 ^ (i + 1).wrapping_mul(0x1000_0000_01B3) ^ salt);
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// Corpus

struct Message {
    title: String,
    sentences: Vec<String>,
    label: Option<String>,
    reply: Option<String>,
}

struct Corpus {
    messages: Vec<Message>,
    replies: Vec<String>,
    /// (l1, l2, l3)
    taxonomy: Vec<(String, String, String)>,
}

fn corpus_dir() -> PathBuf {
    if let Ok(d) = std::env::var("HUIYIN_CORPUS") {
        return PathBuf::from(d);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    for candidate in [
        manifest.join("../../../shared/data/corpus"),
        manifest.join("../../shared/data/corpus"),
        PathBuf::from("../shared/data/corpus"),
    ] {
        if candidate.join("hot_messages.jsonl").exists() {
            return candidate;
        }
    }
    panic!("corpus not found: set HUIYIN_CORPUS");
}

fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        cur.push(c);
        if matches!(c, '。' | '！' | '？' | '!' | '?' | '；' | '\n') {
            if !cur.trim().is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

fn load_corpus(dir: &Path) -> Corpus {
    let mut messages = Vec::new();
    let mut replies = Vec::new();
    let mut push = |title: &str, detail: &str, label: Option<String>, reply: Option<String>| {
        let title: String = title.trim().chars().take(100).collect();
        let s = sentences(detail.trim());
        if title.chars().count() >= 2 && !s.is_empty() {
            messages.push(Message {
                title,
                sentences: s,
                label,
                reply,
            });
        }
    };
    for f in ["hot_messages.jsonl", "messages_unlabeled.jsonl"] {
        for v in jsonl(&dir.join(f)) {
            if let (Some(t), Some(d)) = (v["title"].as_str(), v["detail"].as_str()) {
                push(t, d, None, None);
            }
        }
    }
    for v in jsonl(&dir.join("messages_labeled_train.jsonl")) {
        let label = v["label"].as_str().map(str::to_string);
        if let (Some(t), Some(d)) = (v["title"].as_str(), v["detail"].as_str()) {
            push(t, d, label, None);
        } else if let Some(text) = v["text"].as_str() {
            let (t, d) = text.split_once('\n').unwrap_or((text, text));
            push(t, d, label, None);
        }
    }
    for v in jsonl(&dir.join("replies.jsonl")) {
        let reply = v["reply"]
            .as_str()
            .map(|r| r.trim().to_string())
            .filter(|r| r.chars().count() >= 2);
        if let Some(r) = &reply {
            replies.push(r.clone());
        }
        if let (Some(t), Some(d)) = (v["title"].as_str(), v["detail"].as_str()) {
            push(t, d, None, reply);
        }
    }
    let taxonomy = jsonl(&dir.join("taxonomy.jsonl"))
        .into_iter()
        .filter_map(|v| {
            Some((
                v["l1"].as_str()?.to_string(),
                v["l2"].as_str()?.to_string(),
                v["l3"].as_str()?.to_string(),
            ))
        })
        .collect();
    Corpus {
        messages,
        replies,
        taxonomy,
    }
}

// ---------------------------------------------------------------------------------------------
// Organisation and generated cases

fn city_code(c: usize) -> String {
    format!("43{:02}", c + 1)
}
fn county_code(k: usize) -> String {
    format!(
        "{}{:02}",
        city_code(k / COUNTIES_PER_CITY),
        k % COUNTIES_PER_CITY + 1
    )
}

fn units() -> Vec<UnitRecord> {
    let u = |id: String, name: &str, kind: &str, region: &str, parent: &str| UnitRecord {
        id,
        name: name.to_string(),
        kind: kind.to_string(),
        region_code: region.to_string(),
        parent_id: Some(parent.to_string()),
    };
    let depts = [
        "住房和城乡建设局",
        "公安局",
        "市场监督管理局",
        "生态环境局",
        "教育局",
        "人力资源和社会保障局",
    ];
    let mut out = vec![u(
        "43-xfj".into(),
        "省信访局",
        "petition_bureau",
        "43",
        "0-xfj",
    )];
    for c in 0..CITIES {
        let r = city_code(c);
        out.push(u(
            format!("{r}-xfj"),
            "市信访局",
            "petition_bureau",
            &r,
            "43-xfj",
        ));
        for (d, name) in depts.iter().enumerate() {
            out.push(u(
                format!("{r}-d{}", d + 1),
                &format!("市{name}"),
                "department",
                &r,
                &format!("{r}-xfj"),
            ));
        }
    }
    for k in 0..CITIES * COUNTIES_PER_CITY {
        let r = county_code(k);
        let city = &r[..4];
        out.push(u(
            format!("{r}-xfj"),
            "县信访局",
            "petition_bureau",
            &r,
            &format!("{city}-xfj"),
        ));
        for (d, name) in depts.iter().enumerate() {
            out.push(u(
                format!("{r}-d{}", d + 1),
                &format!("县{name}"),
                "department",
                &r,
                &format!("{r}-xfj"),
            ));
        }
    }
    out
}

/// Case `i`: always the same for the same corpus.
fn case_state(corpus: &Corpus, template: &CaseState, i: usize) -> (CaseState, i64, i64) {
    let mut rng = Rng::seeded(i as u64, 0x5EA5C4);
    let msgs = &corpus.messages;
    let a = &msgs[rng.below(msgs.len())];
    let b = &msgs[rng.below(msgs.len())];
    let half_a = a.sentences.len().div_ceil(2);
    let from_b = b.sentences.len() / 2;
    let mut text: String = a.sentences[..half_a].concat();
    text.push_str(&b.sentences[from_b..].concat());
    let text: String = text.trim().chars().take(20_000).collect();
    let text = if text.chars().count() < 5 {
        format!("{}。{}", a.title, text)
    } else {
        text
    };
    // Where: county k of 84, density ∝ 1/√k (the first city holds about a quarter).
    let counties = CITIES * COUNTIES_PER_CITY;
    let k = ((counties as f64) * rng.unit().powi(2)) as usize;
    let county = county_code(k.min(counties - 1));
    let city = county[..4].to_string();
    let city_level = rng.below(10) < 2;
    let region = if city_level {
        city.clone()
    } else if rng.below(10) < 3 {
        format!("{county}{:03}", rng.below(10) + 1)
    } else {
        county.clone()
    };
    let level = if city_level { &city } else { &county };
    let bureau = format!("{level}-xfj");
    let dept = format!("{level}-d{}", rng.below(DEPARTMENTS) + 1);
    let stage = match rng.below(100) {
        0..5 => Stage::Submitted,
        5..10 => Stage::Registered,
        10..18 => Stage::Routed,
        18..50 => Stage::Handling,
        50..88 => Stage::Replied,
        88..91 => Stage::UnderReview,
        91..93 => Stage::Reviewed,
        93..94 => Stage::Concluded,
        94..97 => Stage::Declined,
        _ => Stage::Withdrawn,
    };
    let class = match rng.below(100) {
        0..20 => StatutoryClass::Suggestion,
        20..28 => StatutoryClass::Accusation,
        28..33 => StatutoryClass::Appeal(AppealRoute::LawAndLitigation),
        33..38 => StatutoryClass::Appeal(AppealRoute::LegalDuty),
        _ => StatutoryClass::Appeal(AppealRoute::PetitionProcedure),
    };
    let tax = &corpus.taxonomy;
    let category = {
        let own: Vec<&(String, String, String)> = match &a.label {
            Some(l) => tax.iter().filter(|t| &t.0 == l).collect(),
            None => Vec::new(),
        };
        let t = if own.is_empty() {
            &tax[rng.below(tax.len())]
        } else {
            own[rng.below(own.len())]
        };
        format!("{}/{}/{}", t.0, t.1, t.2)
    };
    let channel = match rng.below(100) {
        0..45 => Channel::MobileWeb,
        45..70 => Channel::OnlineWeb,
        70..80 => Channel::Letter,
        80..90 => Channel::Visit,
        90..96 => Channel::Phone,
        _ => Channel::Api,
    };
    let received = NOW_MS - (rng.unit() * SPAN_MS as f64) as i64;
    let received_at = chrono::DateTime::from_timestamp_millis(received).unwrap();
    let registered = !matches!(stage, Stage::Submitted);
    let routed = !matches!(
        stage,
        Stage::Submitted | Stage::Registered | Stage::Withdrawn | Stage::Declined
    );
    let replied = matches!(
        stage,
        Stage::Replied | Stage::UnderReview | Stage::Reviewed | Stage::Concluded
    );
    let mut s = template.clone();
    s.id = CaseId::new(format!("c{i:09}"));
    s.version = 3 + rng.below(12) as u64;
    s.stage = stage;
    s.receipt = ReceiptCode::from_random((i as u64).to_le_bytes());
    s.petition.title = Title::parse(&a.title).unwrap();
    s.petition.text = PetitionText::parse(&text).unwrap();
    s.petition.region = RegionCode::parse(&region).unwrap();
    s.petition.channel = channel;
    s.petition.category = None;
    s.petition.class = None;
    let anonymous = rng.below(10) == 0;
    s.petition.anonymous = anonymous;
    s.petition.petitioner_masked = (!anonymous).then(|| {
        let surnames = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
        MaskedPerson {
            name: format!("{}**", surnames[rng.below(surnames.len())]),
            phone: Some(format!("13{}****{:04}", rng.below(10), rng.below(10_000))),
        }
    });
    s.received_at = received_at;
    s.updated_at = received_at + chrono::Duration::days(rng.below(60) as i64);
    s.bureau = UnitId::new(bureau.clone());
    s.class = registered.then_some(class);
    s.category = registered.then_some(category);
    s.routing = routed.then(|| Routing {
        kind: RouteKind::Forward,
        unit: UnitId::new(dept.clone()),
        by: UnitId::new(bureau.clone()),
        at: received_at + chrono::Duration::days(3),
    });
    s.routed_units = if routed {
        vec![UnitId::new(dept.clone())]
    } else {
        Vec::new()
    };
    s.accepted_at = routed.then_some(received_at + chrono::Duration::days(5));
    s.accused_units = if routed && class == StatutoryClass::Accusation {
        vec![UnitId::new(format!(
            "{level}-d{}",
            (rng.below(DEPARTMENTS - 1) + 1) % DEPARTMENTS + 1
        ))]
    } else {
        Vec::new()
    };
    s.opinion = replied.then(|| {
        let reply = a
            .reply
            .clone()
            .unwrap_or_else(|| corpus.replies[rng.below(corpus.replies.len())].clone());
        HandlingOpinion {
            request: DocumentText::parse(&a.title).unwrap(),
            facts: DocumentText::parse(&reply).unwrap(),
            reasons: DocumentText::parse("经调查核实，依据有关规定作出如下处理。").unwrap(),
            legal_basis: DocumentText::parse("《信访工作条例》第三十二条").unwrap(),
            decision: [Decision::Support, Decision::Explain, Decision::NotSupport][rng.below(3)],
        }
    });
    s.replied_at = replied.then_some(received_at + chrono::Duration::days(40));
    s.report = ReportStatus::NotRequired;
    s.rating = (replied && rng.below(3) > 0).then(|| {
        let r = [
            Satisfaction::Satisfied,
            Satisfaction::BasicallySatisfied,
            Satisfaction::Unsatisfied,
        ];
        (r[rng.below(3)], r[rng.below(3)])
    });
    s.notes = 0;
    s.instructions = 0;
    s.review_unit = None;
    s.review_outcome = None;
    s.rereview_unit = None;
    s.rereview_outcome = None;
    s.timers = Vec::new();
    s.reply_checks = Vec::new();
    let (due, yellow) = if s.awaits_action() {
        let due = received + (rng.below(90) as i64 - 20) * DAY_MS;
        (due, due - 3 * DAY_MS)
    } else {
        (NO_DEADLINE_MS, NO_DEADLINE_MS)
    };
    (s, due, yellow)
}

fn opinion_text(s: &CaseState) -> Option<String> {
    s.opinion.as_ref().map(|o| {
        format!(
            "{}\n{}\n{}\n{}",
            o.request, o.facts, o.reasons, o.legal_basis
        )
    })
}

/// The UTF-8 bytes of the text the index covers: title, text and 处理意见书.
fn text_bytes(s: &CaseState) -> u64 {
    (s.petition.title.as_str().len()
        + s.petition.text.as_str().len()
        + opinion_text(s).map_or(0, |o| o.len())) as u64
}

async fn template(app: &App) -> CaseState {
    let petition = Petition {
        channel: Channel::OnlineWeb,
        petitioner: Petitioner::Anonymous,
        group: None,
        title: Title::parse("小区噪音扰民").unwrap(),
        text: PetitionText::parse("夜间施工噪音扰民，请有关部门处理。").unwrap(),
        region: RegionCode::parse("430101").unwrap(),
        category: None,
        class: None,
        attachments: Vec::new(),
        also_sent_to: Vec::new(),
        publish_consent: false,
        proxy: None,
    };
    let actor = Actor {
        id: ActorId::new("petitioner:bench"),
        roles: vec![Role::Petitioner],
        unit: None,
        oversees_case: false,
        is_case_petitioner: false,
    };
    let receipt = app
        .submit(
            actor,
            NewPetition {
                petition,
                idempotency_key: None,
                received_at: None,
            },
        )
        .await
        .expect("submit");
    app.store()
        .case(&CaseId::new(receipt.case_id))
        .await
        .unwrap()
        .unwrap()
        .state
}

async fn fill(store: &Store, corpus: &Corpus, template: &CaseState, n: usize) {
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS bench_template (id TEXT)")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO bench_template (id) VALUES ($1)")
        .bind(template.id.as_str().to_string())
        .execute(store.pool())
        .await
        .unwrap();
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let to = (i + CHUNK).min(n);
        let mut tx = store.pool().begin().await.unwrap();
        let mut j = i;
        while j < to {
            let end = (j + ROWS_PER_INSERT).min(to);
            let values: Vec<String> = (0..end - j)
                .map(|r| {
                    let b = r * 24;
                    format!(
                        "({})",
                        (1..=24)
                            .map(|c| format!("${}", b + c))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO cases (id, province, receipt, secret_hash, version, stage, is_open,
                    bureau_id, current_unit_id, handling_unit_id, region, region_city,
                    region_county, channel, class, category, title, petitioner_masked,
                    received_at, updated_at, next_due_kind, next_due_at, yellow_at, state)
                 VALUES {}",
                values.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for k in j..end {
                let (s, due, yellow) = case_state(corpus, template, k);
                let region = s.petition.region.as_str().to_string();
                q = q
                    .bind(s.id.as_str().to_string())
                    .bind("43")
                    .bind(s.receipt.as_str().to_string())
                    .bind("x")
                    .bind(s.version as i64)
                    .bind(s.stage.as_str())
                    .bind(i64::from(s.awaits_action()))
                    .bind(s.bureau.as_str().to_string())
                    .bind(s.current_unit().as_str().to_string())
                    .bind(s.handling_unit().map(|u| u.as_str().to_string()))
                    .bind(region.clone())
                    .bind(region.get(..4).map(str::to_string))
                    .bind(region.get(..6).map(str::to_string))
                    .bind(s.petition.channel.as_str())
                    .bind(s.class.map(|c| c.code()))
                    .bind(s.category.clone())
                    .bind(s.petition.title.as_str().to_string())
                    .bind(
                        s.petition
                            .petitioner_masked
                            .as_ref()
                            .map(|p| p.name.clone()),
                    )
                    .bind(s.received_at.timestamp_millis())
                    .bind(s.updated_at.timestamp_millis())
                    .bind(Option::<String>::None)
                    .bind(due)
                    .bind(yellow)
                    .bind(serde_json::to_string(&s).unwrap());
            }
            q.execute(&mut *tx).await.unwrap();
            j = end;
        }
        tx.commit().await.unwrap();
        i = to;
        if i % 100_000 == 0 || i == n {
            println!(
                "search bench: generated {i} cases ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    sqlx::raw_sql("CREATE TABLE bench_meta (n BIGINT); ANALYZE")
        .execute(store.pool())
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// The query mix

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum User {
    /// 省信访局 registrar: the whole province (region scope).
    Province,
    /// 4301 市信访局 registrar: the busiest city (about a quarter of the cases).
    City,
    /// A county department's handler: its own cases only (unit scope).
    Department,
}

impl User {
    fn unit(self) -> &'static str {
        match self {
            User::Province => "43-xfj",
            User::City => "4301-xfj",
            User::Department => "430101-d1",
        }
    }
    fn actor(self) -> Actor {
        Actor {
            id: ActorId::new(format!("staff:bench-{}", self.unit())),
            roles: vec![match self {
                User::Department => Role::Handler,
                _ => Role::Registrar,
            }],
            unit: Some(UnitId::new(self.unit())),
            oversees_case: false,
            is_case_petitioner: false,
        }
    }
    fn principal(self) -> Principal {
        let (region, kind) = match self {
            User::Province => ("43", UnitKind::PetitionBureau),
            User::City => ("4301", UnitKind::PetitionBureau),
            User::Department => ("430101", UnitKind::Other),
        };
        let actor = self.actor();
        Principal {
            id: actor.id,
            roles: RoleSet::of(&actor.roles),
            unit: actor.unit,
            region: Some(RegionCode::parse(region).unwrap()),
            unit_kind: kind,
        }
    }
}

#[derive(Debug, Clone)]
struct Query {
    kind: &'static str,
    /// What the person types (words, `"a phrase"`).
    q: String,
    /// The same as substrings, for the trigram engines.
    substrings: Vec<String>,
    user: User,
    stage: Option<&'static str>,
    unit: Option<String>,
    region: Option<String>,
    dates: Option<(i64, i64)>,
}

fn query_mix(corpus: &Corpus, n: usize) -> Vec<Query> {
    let seg = huiyin_text::segment::shared();
    let mut df: HashMap<String, usize> = HashMap::new();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut places: HashMap<String, usize> = HashMap::new();
    for (m_i, m) in corpus.messages.iter().enumerate() {
        let text =
            huiyin_text::normalize::normalize(&format!("{}\n{}", m.title, m.sentences.concat()));
        let words = seg.keywords(&text);
        let mut seen: Vec<&str> = words.clone();
        seen.sort_unstable();
        seen.dedup();
        for w in seen {
            *df.entry(w.to_string()).or_default() += 1;
        }
        if m_i % 13 == 0 {
            for w in words.windows(2) {
                if (2..=4).contains(&w[0].chars().count())
                    && (2..=4).contains(&w[1].chars().count())
                {
                    pairs.push((w[0].to_string(), w[1].to_string()));
                    break;
                }
            }
        }
        for p in seg.places(&text) {
            *places.entry(p).or_default() += 1;
        }
    }
    let ok = |w: &str| {
        w.chars()
            .all(|c| huiyin_text::normalize::is_cjk(c) || c.is_ascii_alphanumeric())
    };
    let mut by_freq: Vec<(String, usize)> = df.into_iter().filter(|(w, _)| ok(w)).collect();
    by_freq.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let with_len = |lo: usize, hi: usize, min_df: usize, max_df: usize| -> Vec<String> {
        by_freq
            .iter()
            .filter(|(w, d)| {
                let c = w.chars().count();
                c >= lo && c <= hi && *d >= min_df && *d <= max_df
            })
            .map(|(w, _)| w.clone())
            .take(300)
            .collect()
    };
    let common2 = with_len(2, 2, 100, usize::MAX);
    let mid34 = with_len(3, 4, 20, usize::MAX);
    let rare = with_len(2, 4, 3, 8);
    let mut place_list: Vec<(String, usize)> = places
        .into_iter()
        .filter(|(p, _)| ok(p) && p.chars().count() >= 2)
        .collect();
    place_list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let place_list: Vec<String> = place_list.into_iter().take(200).map(|(p, _)| p).collect();
    pairs.retain(|(a, b)| ok(a) && ok(b));

    let mut rng = Rng::seeded(7, 0xC0FFEE);
    let mut out = Vec::with_capacity(n);
    for j in 0..n {
        let pick = |rng: &mut Rng, v: &Vec<String>| v[rng.below(v.len().min(200))].clone();
        let (kind, q, substrings) = match j % 6 {
            0 => {
                let w = pick(&mut rng, &common2);
                ("2-char word", w.clone(), vec![w])
            }
            1 => {
                let w = pick(&mut rng, &mid34);
                ("3-4-char word", w.clone(), vec![w])
            }
            2 => {
                let a = pick(&mut rng, &common2);
                let b = pick(&mut rng, &mid34);
                ("two words", format!("{a} {b}"), vec![a, b])
            }
            3 => {
                let (a, b) = pairs[rng.below(pairs.len())].clone();
                ("phrase", format!("\"{a}{b}\""), vec![format!("{a}{b}")])
            }
            4 => {
                let p = pick(&mut rng, &place_list);
                ("place name", p.clone(), vec![p])
            }
            _ => {
                let w = pick(&mut rng, &rare);
                ("rare word", w.clone(), vec![w])
            }
        };
        let user = match j % 5 {
            0 | 1 => User::City,
            2 | 3 => User::Province,
            _ => User::Department,
        };
        let mut query = Query {
            kind,
            q,
            substrings,
            user,
            stage: None,
            unit: None,
            region: None,
            dates: None,
        };
        match (j / 6) % 4 {
            0 => {}
            1 => query.stage = Some(["handling", "replied"][rng.below(2)]),
            2 => {
                query.unit = Some(match user {
                    User::Province => format!("{}-xfj", city_code(rng.below(3))),
                    User::City => format!("{}-xfj", county_code(rng.below(COUNTIES_PER_CITY))),
                    User::Department => "430101-d1".to_string(),
                });
                let to = NOW_MS - rng.below(300) as i64 * DAY_MS;
                query.dates = Some((to - 180 * DAY_MS, to));
            }
            _ => {
                query.region = Some(match user {
                    User::Department => "430101".to_string(),
                    _ => county_code(rng.below(COUNTIES_PER_CITY)),
                });
                query.stage = Some("handling");
                let to = NOW_MS - rng.below(300) as i64 * DAY_MS;
                query.dates = Some((to - 365 * DAY_MS, to));
            }
        }
        out.push(query);
    }
    out
}

fn request(q: &Query) -> SearchRequest {
    SearchRequest {
        q: q.q.clone(),
        stage: q.stage.map(str::to_string),
        unit: q.unit.clone(),
        region: q.region.clone(),
        received_from_ms: q.dates.map(|d| d.0),
        received_to_ms: q.dates.map(|d| d.1),
        sort: SortOrder::Relevance,
        limit: 20,
        ..SearchRequest::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

struct Timings {
    name: String,
    ms: Vec<f64>,
    totals: Vec<u64>,
    timeouts: usize,
}

impl Timings {
    fn new(name: &str) -> Self {
        Timings {
            name: name.to_string(),
            ms: Vec::new(),
            totals: Vec::new(),
            timeouts: 0,
        }
    }
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.ms.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        if v.is_empty() {
            return f64::NAN;
        }
        let idx = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        v[idx.min(v.len() - 1)]
    }
    fn line(&self) -> String {
        let mean_total = self.totals.iter().sum::<u64>() as f64 / self.totals.len().max(1) as f64;
        format!(
            "{:<34} n={:<4} p50 {:>9.2} ms  p95 {:>9.2} ms  p99 {:>9.2} ms  max {:>9.2} ms  mean hits {:>9.0}{}",
            self.name,
            self.ms.len(),
            self.pct(50.0),
            self.pct(95.0),
            self.pct(99.0),
            self.pct(100.0),
            mean_total,
            if self.timeouts > 0 {
                format!("  ({} timed out)", self.timeouts)
            } else {
                String::new()
            }
        )
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                n += dir_bytes(&e.path());
            } else {
                n += md.len();
            }
        }
    }
    n
}

/// CPU seconds of this process so far (user + system).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    let after = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn mb(b: u64) -> f64 {
    b as f64 / 1_000_000.0
}

// ---------------------------------------------------------------------------------------------
// The equivalent SQL

/// Facts of one case as the SQL engines filter and count them (the same as the index's
/// fields).
struct Attrs {
    id: i64,
    title: String,
    text: String,
    reply: String,
    stage: &'static str,
    class: &'static str,
    channel: &'static str,
    rating: &'static str,
    category1: String,
    cur_unit: String,
    province: String,
    region: String,
    received_at: i64,
    next_due_at: i64,
    yellow_at: i64,
    units_on: Vec<String>,
    unit_tree: Vec<String>,
}

fn attrs(s: &CaseState, due: i64, yellow: i64, tree: &UnitTree, i: usize) -> Attrs {
    let class = s.class.or(s.petition.class);
    let category = s.category.as_deref().or(s.petition.category.as_deref());
    let current = s.current_unit().as_str();
    let mut t: Vec<&str> = tree.ancestors(current);
    if let Some(h) = s.handling_unit() {
        t.extend(tree.ancestors(h.as_str()));
    }
    t.sort_unstable();
    t.dedup();
    let region = s.petition.region.as_str();
    Attrs {
        id: i as i64,
        title: s.petition.title.as_str().to_string(),
        text: s.petition.text.as_str().to_string(),
        reply: opinion_text(s).unwrap_or_default(),
        stage: s.stage.as_str(),
        class: class.map_or("none", |c| c.code()),
        channel: s.petition.channel.as_str(),
        rating: s.rating.map_or("none", |(_, u)| rating_code(u)),
        category1: category
            .map(|c| c.split('/').next().unwrap_or(c).to_string())
            .unwrap_or_default(),
        cur_unit: current.to_string(),
        province: region.get(..2).unwrap_or(region).to_string(),
        region: region.to_string(),
        received_at: s.received_at.timestamp_millis(),
        next_due_at: due,
        yellow_at: yellow,
        units_on: units_on(s).into_iter().map(str::to_string).collect(),
        unit_tree: t.into_iter().map(str::to_string).collect(),
    }
}

#[derive(Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

/// The WHERE conditions of scope and filters (`p` numbers the placeholders).
fn sql_filters(
    q: &Query,
    a: &str,
    binds: &mut Vec<Bind>,
    p: &mut dyn FnMut() -> String,
) -> Vec<String> {
    let mut c = Vec::new();
    match q.user {
        User::Province | User::City => {
            let prefix = if q.user == User::Province {
                "43"
            } else {
                "4301"
            };
            let (low, high) = huiyin_domain::access::region_range(prefix);
            binds.push(Bind::Text(low));
            let lo = p();
            binds.push(Bind::Text(high.unwrap_or_default()));
            let hi = p();
            c.push(format!("({a}.region >= {lo} AND {a}.region < {hi})"));
        }
        User::Department => {
            binds.push(Bind::Text(q.user.unit().to_string()));
            c.push(format!(
                "{a}.id IN (SELECT id FROM units_on WHERE unit = {})",
                p()
            ));
        }
    }
    if let Some(s) = q.stage {
        binds.push(Bind::Text(s.to_string()));
        c.push(format!("{a}.stage = {}", p()));
    }
    if let Some(u) = &q.unit {
        binds.push(Bind::Text(u.clone()));
        c.push(format!(
            "{a}.id IN (SELECT id FROM unit_tree WHERE unit = {})",
            p()
        ));
    }
    if let Some(r) = &q.region {
        let (low, high) = huiyin_domain::access::region_range(r);
        binds.push(Bind::Text(low));
        let lo = p();
        binds.push(Bind::Text(high.unwrap_or_default()));
        let hi = p();
        c.push(format!("({a}.region >= {lo} AND {a}.region < {hi})"));
    }
    if let Some((from, to)) = q.dates {
        binds.push(Bind::Int(from));
        let lo = p();
        binds.push(Bind::Int(to));
        let hi = p();
        c.push(format!(
            "{a}.received_at >= {lo} AND {a}.received_at < {hi}"
        ));
    }
    c
}

/// The facet counts, light counts and the first 20 hits over the materialised set `m`.
fn facets_sql(now: &str, order: &str) -> String {
    let mut parts = vec![
        "SELECT 'total' AS k, '' AS v, CAST(count(*) AS DOUBLE PRECISION) AS n FROM m".to_string(),
    ];
    for col in [
        "stage",
        "class",
        "channel",
        "rating",
        "category1",
        "cur_unit",
        "province",
    ] {
        parts.push(format!(
            "SELECT '{col}', {col}, CAST(count(*) AS DOUBLE PRECISION) FROM m GROUP BY {col}"
        ));
    }
    parts.push(format!(
        "SELECT 'light', CASE WHEN next_due_at = {NO_DEADLINE_MS} THEN 'none' WHEN next_due_at < {now} THEN 'red' \
         WHEN yellow_at <= {now} THEN 'yellow' ELSE 'green' END, CAST(count(*) AS DOUBLE PRECISION) FROM m GROUP BY 2"
    ));
    parts.push(format!(
        "SELECT * FROM (SELECT 'hit', CAST(id AS TEXT), CAST(score AS DOUBLE PRECISION) FROM m ORDER BY {order} LIMIT 20) h"
    ));
    parts.join("\nUNION ALL ")
}

const ATTR_COLS: &str = "a.id, a.stage, a.class, a.channel, a.rating, a.category1, a.cur_unit, a.province, a.received_at, a.next_due_at, a.yellow_at";

fn fts5_sql(q: &Query) -> (String, Vec<Bind>) {
    let mut binds = Vec::new();
    let mut p = || "?".to_string();
    let long: Vec<&String> = q
        .substrings
        .iter()
        .filter(|s| s.chars().count() >= 3)
        .collect();
    let short: Vec<&String> = q
        .substrings
        .iter()
        .filter(|s| s.chars().count() < 3)
        .collect();
    let mut conds = Vec::new();
    let score = if long.is_empty() {
        "-a.received_at"
    } else {
        let expr = long
            .iter()
            .map(|s| format!("\"{}\"", s.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" AND ");
        binds.push(Bind::Text(expr));
        conds.push(format!("fts MATCH {}", p()));
        "fts.rank"
    };
    for s in short {
        let pat = format!("%{s}%");
        for _ in 0..3 {
            binds.push(Bind::Text(pat.clone()));
        }
        conds.push(format!(
            "(fts.title LIKE {} OR fts.text LIKE {} OR fts.reply LIKE {})",
            p(),
            p(),
            p()
        ));
    }
    conds.extend(sql_filters(q, "a", &mut binds, &mut p));
    let sql = format!(
        "WITH m AS MATERIALIZED (SELECT {ATTR_COLS}, {score} AS score FROM fts JOIN attrs a ON a.id = fts.rowid WHERE {})\n{}",
        conds.join(" AND "),
        facets_sql(&NOW_MS.to_string(), "score")
    );
    (sql, binds)
}

fn pg_sql(q: &Query) -> (String, Vec<Bind>) {
    let mut binds = Vec::new();
    let mut n = 0;
    let mut p = || {
        n += 1;
        format!("${n}")
    };
    let mut conds = Vec::new();
    for s in &q.substrings {
        binds.push(Bind::Text(format!("%{s}%")));
        conds.push(format!("a.doc LIKE {}", p()));
    }
    conds.extend(sql_filters(q, "a", &mut binds, &mut p));
    let sql = format!(
        "WITH m AS MATERIALIZED (SELECT {ATTR_COLS}, a.received_at AS score FROM docs a WHERE {})\n{}",
        conds.join(" AND "),
        facets_sql(&NOW_MS.to_string(), "score DESC")
    );
    (sql, binds)
}

// ---------------------------------------------------------------------------------------------
// SQLite FTS5

async fn fts5_build(
    path: &Path,
    n: usize,
    make_doc: &dyn Fn(usize) -> Attrs,
) -> (sqlx::SqliteConnection, Duration, u64, u64) {
    let _ = std::fs::remove_file(path);
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
    sqlx::raw_sql(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000;
         PRAGMA temp_store = MEMORY;
         CREATE TABLE attrs (id INTEGER PRIMARY KEY, stage TEXT, class TEXT, channel TEXT,
            rating TEXT, category1 TEXT, cur_unit TEXT, province TEXT, region TEXT,
            received_at INTEGER, next_due_at INTEGER, yellow_at INTEGER);
         CREATE TABLE units_on (unit TEXT, id INTEGER, PRIMARY KEY (unit, id)) WITHOUT ROWID;
         CREATE TABLE unit_tree (unit TEXT, id INTEGER, PRIMARY KEY (unit, id)) WITHOUT ROWID;
         CREATE VIRTUAL TABLE fts USING fts5(title, text, reply, tokenize = 'trigram');",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let to = (i + CHUNK).min(n);
        let mut tx = conn.begin().await.unwrap();
        let mut j = i;
        while j < to {
            let end = (j + ROWS_PER_INSERT).min(to);
            let docs: Vec<Attrs> = (j..end).map(make_doc).collect();
            let row = |k: usize| format!("({})", vec!["?"; k].join(", "));
            let sql = format!(
                "INSERT INTO fts (rowid, title, text, reply) VALUES {}",
                vec![row(4); docs.len()].join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for d in &docs {
                q = q
                    .bind(d.id)
                    .bind(d.title.as_str())
                    .bind(d.text.as_str())
                    .bind(d.reply.as_str());
            }
            q.execute(&mut *tx).await.unwrap();
            let sql = format!(
                "INSERT INTO attrs VALUES {}",
                vec![row(12); docs.len()].join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for d in &docs {
                q = q
                    .bind(d.id)
                    .bind(d.stage)
                    .bind(d.class)
                    .bind(d.channel)
                    .bind(d.rating)
                    .bind(d.category1.as_str())
                    .bind(d.cur_unit.as_str())
                    .bind(d.province.as_str())
                    .bind(d.region.as_str())
                    .bind(d.received_at)
                    .bind(d.next_due_at)
                    .bind(d.yellow_at);
            }
            q.execute(&mut *tx).await.unwrap();
            for (table, rows) in [
                (
                    "units_on",
                    docs.iter()
                        .flat_map(|d| d.units_on.iter().map(|u| (u.as_str(), d.id)))
                        .collect::<Vec<_>>(),
                ),
                (
                    "unit_tree",
                    docs.iter()
                        .flat_map(|d| d.unit_tree.iter().map(|u| (u.as_str(), d.id)))
                        .collect::<Vec<_>>(),
                ),
            ] {
                let sql = format!(
                    "INSERT INTO {table} VALUES {}",
                    vec![row(2); rows.len()].join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (u, id) in rows {
                    q = q.bind(u).bind(id);
                }
                q.execute(&mut *tx).await.unwrap();
            }
            j = end;
        }
        tx.commit().await.unwrap();
        i = to;
    }
    sqlx::raw_sql(
        "CREATE INDEX attrs_region ON attrs (region); CREATE INDEX attrs_received ON attrs (received_at);
         CREATE INDEX attrs_stage ON attrs (stage); ANALYZE;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let took = started.elapsed();
    let total: i64 = sqlx::query_scalar(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    // The full-text index proper: FTS5's shadow tables other than the stored content.
    let index: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN ('fts_data', 'fts_idx', 'fts_docsize', 'fts_config')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    (conn, took, total as u64, index as u64)
}

async fn fts5_query(conn: &mut sqlx::SqliteConnection, q: &Query) -> u64 {
    let (sql, binds) = fts5_sql(q);
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        query = match b {
            Bind::Text(s) => query.bind(s),
            Bind::Int(i) => query.bind(i),
        };
    }
    let rows = query.fetch_all(&mut *conn).await.unwrap();
    total_of(
        rows.iter()
            .map(|r| (r.get::<String, _>(0), r.get::<f64, _>(2))),
    )
}

fn total_of(rows: impl Iterator<Item = (String, f64)>) -> u64 {
    rows.filter(|(k, _)| k == "total")
        .map(|(_, n)| n as u64)
        .next()
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL pg_trgm

fn copy_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
}

struct PgBuild {
    load: Duration,
    index: Duration,
    table_bytes: u64,
    trgm_bytes: u64,
    total_bytes: u64,
}

async fn pg_build(
    admin_url: &str,
    n: usize,
    make_doc: &dyn Fn(usize) -> Attrs,
) -> Option<(sqlx::PgConnection, PgBuild)> {
    let mut admin = match sqlx::PgConnection::connect(admin_url).await {
        Ok(c) => c,
        Err(e) => {
            println!("search bench: PostgreSQL not reachable at {admin_url}: {e}; skipped");
            return None;
        }
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {PG_DB}"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    // C.UTF-8 classifies CJK characters as letters, which pg_trgm needs to make trigrams of them.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {PG_DB} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let url = match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{PG_DB}"),
        None => format!("{admin_url}/{PG_DB}"),
    };
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE EXTENSION pg_trgm;
         CREATE UNLOGGED TABLE docs (id BIGINT, doc TEXT, stage TEXT, class TEXT, channel TEXT,
            rating TEXT, category1 TEXT, cur_unit TEXT, province TEXT, region TEXT COLLATE \"C\",
            received_at BIGINT, next_due_at BIGINT, yellow_at BIGINT);
         CREATE UNLOGGED TABLE units_on (unit TEXT COLLATE \"C\", id BIGINT);
         CREATE UNLOGGED TABLE unit_tree (unit TEXT COLLATE \"C\", id BIGINT);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let to = (i + CHUNK).min(n);
        let (mut docs, mut on, mut tree) = (String::new(), String::new(), String::new());
        for k in i..to {
            let d = make_doc(k);
            docs.push_str(&format!("{}\t", d.id));
            let mut doc = d.title.clone();
            doc.push('\n');
            doc.push_str(&d.text);
            if !d.reply.is_empty() {
                doc.push('\n');
                doc.push_str(&d.reply);
            }
            copy_escape(&doc, &mut docs);
            docs.push_str(&format!(
                "\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                d.stage,
                d.class,
                d.channel,
                d.rating,
                d.category1,
                d.cur_unit,
                d.province,
                d.region,
                d.received_at,
                d.next_due_at,
                d.yellow_at
            ));
            for u in &d.units_on {
                on.push_str(&format!("{u}\t{}\n", d.id));
            }
            for u in &d.unit_tree {
                tree.push_str(&format!("{u}\t{}\n", d.id));
            }
        }
        for (table, data) in [("docs", docs), ("units_on", on), ("unit_tree", tree)] {
            let mut copy = conn
                .copy_in_raw(&format!("COPY {table} FROM STDIN"))
                .await
                .unwrap();
            copy.send(data.into_bytes()).await.unwrap();
            copy.finish().await.unwrap();
        }
        i = to;
    }
    sqlx::raw_sql(
        "ALTER TABLE docs ADD PRIMARY KEY (id);
         CREATE INDEX docs_region ON docs (region); CREATE INDEX docs_received ON docs (received_at);
         CREATE INDEX docs_stage ON docs (stage);
         ALTER TABLE units_on ADD PRIMARY KEY (unit, id); ALTER TABLE unit_tree ADD PRIMARY KEY (unit, id);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let load = started.elapsed();
    let started = Instant::now();
    sqlx::raw_sql(
        "SET maintenance_work_mem = '2GB';
         CREATE INDEX docs_trgm ON docs USING gin (doc gin_trgm_ops); ANALYZE;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let index = started.elapsed();
    let row = sqlx::query(
        "SELECT pg_relation_size('docs') + coalesce(pg_relation_size(reltoastrelid), 0), pg_relation_size('docs_trgm'),
                pg_database_size(current_database())
         FROM pg_class WHERE relname = 'docs'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::raw_sql("SET statement_timeout = '60s'; SET work_mem = '64MB'")
        .execute(&mut conn)
        .await
        .unwrap();
    Some((
        conn,
        PgBuild {
            load,
            index,
            table_bytes: row.get::<i64, _>(0) as u64,
            trgm_bytes: row.get::<i64, _>(1) as u64,
            total_bytes: row.get::<i64, _>(2) as u64,
        },
    ))
}

async fn pg_query(conn: &mut sqlx::PgConnection, q: &Query) -> Option<u64> {
    let (sql, binds) = pg_sql(q);
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        query = match b {
            Bind::Text(s) => query.bind(s),
            Bind::Int(i) => query.bind(i),
        };
    }
    match query.fetch_all(&mut *conn).await {
        Ok(rows) => Some(total_of(
            rows.iter()
                .map(|r| (r.get::<String, _>(0), r.get::<f64, _>(2))),
        )),
        Err(e) if e.to_string().contains("statement timeout") => None,
        Err(e) => panic!("{e}"),
    }
}

async fn pg_drop(admin_url: &str) {
    if let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {PG_DB}"
        )))
        .execute(&mut admin)
        .await;
    }
}

// ---------------------------------------------------------------------------------------------

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_usize("HUIYIN_BENCH_CASES", 1_000_000);
    let n_queries = env_usize("HUIYIN_BENCH_QUERIES", 200);
    let alt = std::env::var("HUIYIN_BENCH_ALT").unwrap_or_else(|_| "fts5,pg".into());
    let pg_url = std::env::var("HUIYIN_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let data = target.join(format!("bench-data/search-{DATA_VERSION}-{n}"));
    println!(
        "search bench: {n} cases, {n_queries} queries, alternatives: {alt}; load average {}",
        loadavg()
    );
    let corpus = load_corpus(&corpus_dir());
    println!(
        "search bench: corpus {} messages, {} replies, {} categories",
        corpus.messages.len(),
        corpus.replies.len(),
        corpus.taxonomy.len()
    );

    // The data set (cached).
    let store = Store::open_dir(&data.join("db")).await.unwrap();
    store.migrate().await.unwrap();
    let cached = sqlx::query("SELECT n FROM bench_meta")
        .fetch_optional(store.pool())
        .await
        .is_ok();
    let index_dir = data.join("index");
    // HUIYIN_BENCH_REUSE_INDEX=1: keep the index of the last run (queries only).
    let reuse =
        std::env::var("HUIYIN_BENCH_REUSE_INDEX").is_ok() && index_dir.join("meta.json").exists();
    if !reuse {
        let _ = std::fs::remove_dir_all(&index_dir);
    }
    let app = App::new(
        store.clone(),
        Config {
            search_dir: Some(index_dir.clone()),
            ..Config::default()
        },
    );
    let template = if cached {
        let id: String = sqlx::query_scalar("SELECT id FROM bench_template")
            .fetch_one(store.pool())
            .await
            .unwrap();
        app.store()
            .case(&CaseId::new(id))
            .await
            .unwrap()
            .unwrap()
            .state
    } else {
        for u in units() {
            store.insert_unit(&u).await.unwrap();
        }
        let t = template(&app).await;
        fill(&store, &corpus, &t, n).await;
        t
    };
    let tree = UnitTree {
        units: units()
            .into_iter()
            .map(|u| (u.id, (u.name, u.parent_id)))
            .collect(),
    };
    let make_doc = |i: usize| {
        let (s, due, yellow) = case_state(&corpus, &template, i);
        attrs(&s, due, yellow, &tree, i)
    };
    let text_total: u64 = (0..n)
        .map(|i| text_bytes(&case_state(&corpus, &template, i).0))
        .sum();
    println!(
        "search bench: text covered (title + text + 处理意见书, UTF-8) {:.1} MB, {:.0} bytes/case",
        mb(text_total),
        text_total as f64 / n as f64
    );

    // Tantivy: the product's rebuild.
    let index = app.search_index().await.unwrap();
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let indexed = if reuse {
        index.indexed()
    } else {
        app.search_rebuild().await.unwrap()
    };
    let rebuild = if reuse {
        Duration::ZERO
    } else {
        started.elapsed()
    };
    let cpu = cpu_seconds() - cpu0;
    let index_bytes = dir_bytes(&index_dir);
    let segments = index
        .tantivy_index()
        .searchable_segment_ids()
        .map_or(0, |s| s.len());
    if reuse {
        println!(
            "tantivy: index of the last run reused ({indexed} cases, {segments} segments, {:.1} MB); the rebuild figures below are not measured",
            mb(index_bytes)
        );
    }
    println!(
        "tantivy rebuild: {indexed} cases in {:.1} s = {:.0} cases/s ({:.1} CPU-s, {:.2} cores); index {:.1} MB = {:.3}x the text, {segments} segments; load {}",
        rebuild.as_secs_f64(),
        indexed as f64 / rebuild.as_secs_f64(),
        cpu,
        cpu / rebuild.as_secs_f64(),
        mb(index_bytes),
        index_bytes as f64 / text_total as f64,
        loadavg()
    );

    let queries = query_mix(&corpus, n_queries);
    // Tantivy queries: warm up on a few, then each query once through the index alone and once
    // through the application.
    for q in queries.iter().take(10) {
        let _ = app.search(&q.user.actor(), request(q)).await.unwrap();
    }
    let mut t_index = Timings::new("tantivy SearchIndex::search");
    let mut t_app = Timings::new("tantivy App::search (+hits, highlights)");
    let mut per_kind: HashMap<&str, Timings> = HashMap::new();
    for q in &queries {
        let caller = Caller {
            principal: q.user.principal(),
            cleared_cases: Vec::new(),
        };
        let mut r = request(q);
        r.now_ms = NOW_MS;
        let started = Instant::now();
        let res = index.search(&caller, &r).unwrap();
        t_index.ms.push(started.elapsed().as_secs_f64() * 1000.0);
        t_index.totals.push(res.total);
        let started = Instant::now();
        let answer = app.search(&q.user.actor(), request(q)).await.unwrap();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        t_app.ms.push(ms);
        t_app.totals.push(answer.total);
        let k = per_kind
            .entry(q.kind)
            .or_insert_with(|| Timings::new(&format!("  tantivy App, {}", q.kind)));
        k.ms.push(ms);
        k.totals.push(answer.total);
    }
    println!("{}", t_index.line());
    println!("{}", t_app.line());
    let mut kinds: Vec<&Timings> = per_kind.values().collect();
    kinds.sort_by(|a, b| a.name.cmp(&b.name));
    for k in kinds {
        println!("{}", k.line());
    }
    println!("search bench: load {}", loadavg());
    let mut summary = vec![format!(
        "| tantivy (product) | {:.0} cases/s ({:.1} s) | {:.1} MB ({:.2}x text) | {:.1} | {:.1} | {:.1} |",
        indexed as f64 / rebuild.as_secs_f64(),
        rebuild.as_secs_f64(),
        mb(index_bytes),
        index_bytes as f64 / text_total as f64,
        t_app.pct(50.0),
        t_app.pct(95.0),
        t_app.pct(99.0)
    )];

    // SQLite FTS5 trigram.
    let mut alt_p: Vec<(String, f64, f64)> = Vec::new();
    if alt.contains("fts5") {
        let path = data.join("fts5.db");
        let (mut conn, took, total, idx) = fts5_build(&path, n, &make_doc).await;
        println!(
            "fts5 build: {n} cases in {:.1} s = {:.0} cases/s; database {:.1} MB ({:.2}x text), of which the trigram index {:.1} MB ({:.2}x text); load {}",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64(),
            mb(total),
            total as f64 / text_total as f64,
            mb(idx),
            idx as f64 / text_total as f64,
            loadavg()
        );
        for q in queries.iter().take(5) {
            fts5_query(&mut conn, q).await;
        }
        let mut t = Timings::new("sqlite fts5 trigram");
        let mut per_kind: HashMap<&str, Timings> = HashMap::new();
        for q in &queries {
            let started = Instant::now();
            let total = fts5_query(&mut conn, q).await;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            t.ms.push(ms);
            t.totals.push(total);
            let k = per_kind
                .entry(q.kind)
                .or_insert_with(|| Timings::new(&format!("  fts5, {}", q.kind)));
            k.ms.push(ms);
            k.totals.push(total);
        }
        println!("{}", t.line());
        let mut kinds: Vec<&Timings> = per_kind.values().collect();
        kinds.sort_by(|a, b| a.name.cmp(&b.name));
        for k in kinds {
            println!("{}", k.line());
        }
        summary.push(format!(
            "| SQLite FTS5 trigram | {:.0} cases/s ({:.1} s) | {:.1} MB ({:.2}x text; trigram index {:.2}x) | {:.1} | {:.1} | {:.1} |",
            n as f64 / took.as_secs_f64(),
            took.as_secs_f64(),
            mb(total),
            total as f64 / text_total as f64,
            idx as f64 / text_total as f64,
            t.pct(50.0),
            t.pct(95.0),
            t.pct(99.0)
        ));
        alt_p.push(("FTS5".into(), t.pct(50.0), t.pct(95.0)));
        drop(conn);
        let _ = std::fs::remove_file(&path);
        println!("search bench: load {}", loadavg());
    }

    // PostgreSQL pg_trgm.
    if alt.contains("pg")
        && let Some((mut conn, b)) = pg_build(&pg_url, n, &make_doc).await
    {
        let took = b.load + b.index;
        println!(
            "pg build: {n} cases loaded (COPY + B-tree indexes) in {:.1} s, GIN trigram index in {:.1} s = {:.0} cases/s; table {:.1} MB, trigram index {:.1} MB ({:.2}x text), database {:.1} MB ({:.2}x text); load {}",
            b.load.as_secs_f64(),
            b.index.as_secs_f64(),
            n as f64 / took.as_secs_f64(),
            mb(b.table_bytes),
            mb(b.trgm_bytes),
            b.trgm_bytes as f64 / text_total as f64,
            mb(b.total_bytes),
            b.total_bytes as f64 / text_total as f64,
            loadavg()
        );
        for q in queries.iter().take(5) {
            pg_query(&mut conn, q).await;
        }
        let mut t = Timings::new("postgresql pg_trgm");
        let mut per_kind: HashMap<&str, Timings> = HashMap::new();
        for q in &queries {
            let started = Instant::now();
            let total = pg_query(&mut conn, q).await;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            t.ms.push(ms);
            let k = per_kind
                .entry(q.kind)
                .or_insert_with(|| Timings::new(&format!("  pg, {}", q.kind)));
            k.ms.push(ms);
            match total {
                Some(x) => {
                    t.totals.push(x);
                    k.totals.push(x);
                }
                None => {
                    t.timeouts += 1;
                    k.timeouts += 1;
                }
            }
        }
        println!("{}", t.line());
        let mut kinds: Vec<&Timings> = per_kind.values().collect();
        kinds.sort_by(|a, b| a.name.cmp(&b.name));
        for k in kinds {
            println!("{}", k.line());
        }
        summary.push(format!(
            "| PostgreSQL pg_trgm GIN | {:.0} cases/s ({:.1} s load + {:.1} s index) | {:.1} MB trigram index ({:.2}x text), {:.1} MB database | {:.1} | {:.1} | {:.1} |",
            n as f64 / took.as_secs_f64(),
            b.load.as_secs_f64(),
            b.index.as_secs_f64(),
            mb(b.trgm_bytes),
            b.trgm_bytes as f64 / text_total as f64,
            mb(b.total_bytes),
            t.pct(50.0),
            t.pct(95.0),
            t.pct(99.0)
        ));
        alt_p.push(("PostgreSQL".into(), t.pct(50.0), t.pct(95.0)));
        drop(conn);
        pg_drop(&pg_url).await;
        println!("search bench: load {}", loadavg());
    }

    println!("\n| engine | build | size | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|");
    for l in &summary {
        println!("{l}");
    }
    for (name, p50, p95) in alt_p {
        println!(
            "ratio {name} / tantivy App::search: p50 {:.1}x, p95 {:.1}x",
            p50 / t_app.pct(50.0),
            p95 / t_app.pct(95.0)
        );
    }
    // Without a rebuild (HUIYIN_BENCH_REUSE_INDEX) there is no rate to judge.
    let rate = if reuse {
        f64::NAN
    } else {
        indexed as f64 / rebuild.as_secs_f64()
    };
    let ratio = index_bytes as f64 / text_total as f64;
    println!(
        "floors: p95 {:.1} ms < 50 ms: {}; rebuild {:.0} cases/s >= 20,000: {}; index {:.2}x <= 1.5x: {}",
        t_app.pct(95.0),
        if t_app.pct(95.0) < 50.0 {
            "met"
        } else {
            "MISSED"
        },
        rate,
        if reuse {
            "not measured"
        } else if rate >= 20_000.0 {
            "met"
        } else {
            "MISSED"
        },
        ratio,
        if ratio <= 1.5 { "met" } else { "MISSED" }
    );
}
