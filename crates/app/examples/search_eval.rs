//! Relevance of the case search on the message corpus (issue 7, "Relevance tests"): every
//! message of `hot_messages.jsonl` and `messages_unlabeled.jsonl` is submitted as a petition
//! through the application (an SQLite store in a temporary directory, the search index fed from
//! its event log), then known-item queries ask for messages whose answer is known:
//!
//! - **title**: the message's title as typed (punctuation and all). The message must come first,
//!   or after only messages with the same title (the corpus has word-for-word copies).
//! - **key words**: the three rarest content words of the message's text (by document frequency
//!   over the corpus), without the title. The message must be among the first ten.
//! - **traditional**: the title written in traditional characters must find the message the
//!   simplified title finds (the index folds both).
//!
//! Each query set has a floor; the program exits non-zero when one is missed. Nothing of the
//! corpus is written into the repository: it is read from `--corpus` at run time.
//!
//! ```text
//! cargo run -p huiyin-app --example search_eval -- --corpus ../shared/data/corpus
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::io::BufRead;
use std::path::PathBuf;

use huiyin_app::search::{SearchRequest, SortOrder};
use huiyin_app::{App, Config, NewPetition};
use huiyin_domain::case::Actor;
use huiyin_domain::ids::ActorId;
use huiyin_domain::petition::{Channel, Petition, Petitioner};
use huiyin_domain::values::{PetitionText, RegionCode, Title};
use huiyin_store::{Store, UnitRecord};
use huiyin_text::normalize::normalize;
use huiyin_text::segment;

/// Every `SAMPLE`-th message is asked for.
const SAMPLE: usize = 7;
const FLOOR_TITLE_FIRST: f64 = 0.95;
const FLOOR_WORDS_TOP10: f64 = 0.85;
const FLOOR_TRADITIONAL: f64 = 0.95;

struct Message {
    title: String,
    text: String,
    case_id: String,
}

fn read(path: &PathBuf) -> Vec<(String, String)> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| {
            let v: serde_json::Value = serde_json::from_str(&line).ok()?;
            let title = v["title"].as_str()?.trim().to_string();
            let text = v["detail"].as_str()?.trim().to_string();
            Some((title, text))
        })
        .collect()
}

/// A few common characters in their traditional forms, enough to turn most titles into text a
/// reader in Hong Kong or Taiwan would type.
const TRADITIONAL: &[(char, char)] = &[
    ('区', '區'),
    ('市', '市'),
    ('县', '縣'),
    ('门', '門'),
    ('问', '問'),
    ('题', '題'),
    ('发', '發'),
    ('业', '業'),
    ('户', '戶'),
    ('车', '車'),
    ('费', '費'),
    ('楼', '樓'),
    ('学', '學'),
    ('关', '關'),
    ('于', '於'),
    ('没', '沒'),
    ('为', '為'),
    ('这', '這'),
    ('个', '個'),
    ('们', '們'),
    ('时', '時'),
    ('来', '來'),
    ('对', '對'),
    ('会', '會'),
    ('处', '處'),
    ('理', '理'),
    ('办', '辦'),
    ('经', '經'),
    ('环', '環'),
    ('境', '境'),
    ('污', '汙'),
    ('诉', '訴'),
    ('请', '請'),
    ('严', '嚴'),
    ('重', '重'),
    ('开', '開'),
    ('物', '物'),
    ('丽', '麗'),
    ('华', '華'),
    ('园', '園'),
    ('路', '路'),
    ('乱', '亂'),
    ('边', '邊'),
    ('厂', '廠'),
    ('电', '電'),
    ('务', '務'),
    ('长', '長'),
    ('报', '報'),
];

fn to_traditional(s: &str) -> String {
    s.chars()
        .map(|c| {
            TRADITIONAL
                .iter()
                .find(|(a, _)| *a == c)
                .map_or(c, |(_, b)| *b)
        })
        .collect()
}

fn staff_search(q: &str) -> SearchRequest {
    SearchRequest {
        q: q.to_string(),
        sort: SortOrder::Relevance,
        limit: 10,
        ..SearchRequest::default()
    }
}

/// Keeps the query inside the index's bounds: no quotes or operators from the corpus text.
fn plain(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, '"' | '-' | '*' | '(' | ')' | ':' | '+') {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .chars()
        .take(100)
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut corpus = PathBuf::from("../shared/data/corpus");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--corpus" {
            corpus = PathBuf::from(args.next().expect("--corpus DIR"));
        }
    }
    let mut raw = read(&corpus.join("hot_messages.jsonl"));
    raw.extend(read(&corpus.join("messages_unlabeled.jsonl")));

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_dir(dir.path()).await.unwrap();
    store.migrate().await.unwrap();
    store
        .insert_unit(&UnitRecord {
            id: "43-xfj".into(),
            name: "省信访局".into(),
            kind: "petition_bureau".into(),
            region_code: "43".into(),
            parent_id: Some("0-xfj".into()),
        })
        .await
        .unwrap();
    let app = App::new(store.clone(), Config::default());
    let started = std::time::Instant::now();
    let mut messages = Vec::new();
    let mut skipped = 0;
    for (i, (title, text)) in raw.into_iter().enumerate() {
        let (Ok(t), Ok(x)) = (Title::parse(&title), PetitionText::parse(&text)) else {
            skipped += 1;
            continue;
        };
        let petition = Petition {
            channel: Channel::OnlineWeb,
            petitioner: Petitioner::Anonymous,
            group: None,
            title: t,
            text: x,
            region: RegionCode::parse("43").unwrap(),
            category: None,
            class: None,
            attachments: Vec::new(),
            also_sent_to: Vec::new(),
            publish_consent: false,
            proxy: None,
        };
        let actor = Actor {
            id: ActorId::new(format!("petitioner:eval-{i}")),
            roles: vec![huiyin_domain::case::Role::Petitioner],
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
        messages.push(Message {
            title,
            text,
            case_id: receipt.case_id,
        });
    }
    let indexed = app.search_catch_up().await.unwrap();
    println!(
        "search relevance: {} messages submitted and indexed ({indexed} index updates, {skipped} outside the petition limits) in {:.1} s",
        messages.len(),
        started.elapsed().as_secs_f64()
    );

    // Document frequency of content words over the corpus.
    let seg = segment::shared();
    let words_of = |text: &str| -> Vec<String> {
        let n = normalize(text);
        let mut w: Vec<String> = seg
            .words(&n)
            .into_iter()
            .filter(|w| w.chars().count() >= 2 && seg.is_content_word(w))
            .map(str::to_string)
            .collect();
        w.sort();
        w.dedup();
        w
    };
    let mut df: HashMap<String, usize> = HashMap::new();
    let mut words: Vec<Vec<String>> = Vec::with_capacity(messages.len());
    for m in &messages {
        let w = words_of(&m.text);
        for x in &w {
            *df.entry(x.clone()).or_default() += 1;
        }
        words.push(w);
    }

    let system = Actor::system();
    let (mut title_first, mut title_asked) = (0usize, 0usize);
    let (mut words_top10, mut words_asked, mut rr_sum) = (0usize, 0usize, 0.0f64);
    let (mut trad_same, mut trad_asked) = (0usize, 0usize);
    let mut misses: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate().step_by(SAMPLE) {
        // Title.
        let answer = app.search(&system, staff_search(&m.title)).await;
        title_asked += 1;
        if let Err(e) = &answer
            && misses.len() < 10
        {
            misses.push(format!("title refused: {:?}: {e}", m.title));
        }
        let hits = answer.map(|a| a.hits).unwrap_or_default();
        let first_ok = hits
            .iter()
            .take_while(|h| h.title == m.title || h.case_id == m.case_id)
            .any(|h| h.case_id == m.case_id);
        if first_ok {
            title_first += 1;
        } else if misses.len() < 5 {
            misses.push(format!(
                "title miss: {:?} (got {:?})",
                m.title,
                hits.first().map(|h| &h.title)
            ));
        }
        // Traditional title: the same first hit.
        let trad = to_traditional(&m.title);
        if trad != m.title {
            trad_asked += 1;
            let t_hits = app
                .search(&system, staff_search(&trad))
                .await
                .map(|a| a.hits)
                .unwrap_or_default();
            if t_hits.first().map(|h| &h.case_id) == hits.first().map(|h| &h.case_id) {
                trad_same += 1;
            }
        }
        // The three rarest content words of the text.
        let mut w = words[i].clone();
        w.sort_by_key(|x| (df.get(x).copied().unwrap_or(0), x.clone()));
        let q: Vec<String> = w.into_iter().take(3).collect();
        if q.len() < 3 {
            continue;
        }
        words_asked += 1;
        let hits = app
            .search(&system, staff_search(&plain(&q.join(" "))))
            .await
            .map(|a| a.hits)
            .unwrap_or_default();
        if let Some(rank) = hits.iter().position(|h| h.case_id == m.case_id) {
            words_top10 += 1;
            rr_sum += 1.0 / (rank + 1) as f64;
        } else if misses.len() < 10 {
            misses.push(format!("key-word miss: {q:?} for {:?}", m.title));
        }
    }
    let share = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let title = share(title_first, title_asked);
    let top10 = share(words_top10, words_asked);
    let trad = share(trad_same, trad_asked);
    let mrr = if words_asked == 0 {
        0.0
    } else {
        rr_sum / words_asked as f64
    };
    println!(
        "search relevance: title first {title:.3} ({title_first}/{title_asked}, floor {FLOOR_TITLE_FIRST})"
    );
    println!(
        "search relevance: key words in top 10 {top10:.3} ({words_top10}/{words_asked}, floor {FLOOR_WORDS_TOP10}), MRR@10 {mrr:.3}"
    );
    println!(
        "search relevance: traditional title finds the same first case {trad:.3} ({trad_same}/{trad_asked}, floor {FLOOR_TRADITIONAL})"
    );
    for m in &misses {
        println!("  {m}");
    }
    let ok = title >= FLOOR_TITLE_FIRST && top10 >= FLOOR_WORDS_TOP10 && trad >= FLOOR_TRADITIONAL;
    println!("search relevance: {}", if ok { "PASS" } else { "FAIL" });
    if !ok {
        std::process::exit(1);
    }
}
