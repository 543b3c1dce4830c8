//! Scoped queries: the caller's scope and the Art. 30 rule are clauses of the query itself, so
//! no hit, count, facet, snippet or suggestion can come from a case outside them.

use std::collections::BTreeMap;
use std::ops::Bound;

use huiyin_domain::access::{Principal, Scope, UnitKind};
use huiyin_domain::case::Role;
use serde::Serialize;
use tantivy::collector::{Collector, Count, FacetCollector, SegmentCollector, TopDocs};
use tantivy::columnar::Column;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, PhrasePrefixQuery, PhraseQuery,
    Query, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Term, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, DocId, Order, Score, Searcher, SegmentReader, TantivyDocument};

use crate::SearchError;
use crate::index::SearchIndex;
use crate::schema::NO_DEADLINE;
use crate::tokenizer::{fold_char, tokens};

/// The longest query accepted (characters).
pub const MAX_QUERY_CHARS: usize = 200;
/// The most words (after segmentation) in one query.
pub const MAX_QUERY_TERMS: usize = 24;
/// The most prefix (`词*`) terms in one query, each expanding to at most
/// [`MAX_PREFIX_EXPANSIONS`] words, and at least [`MIN_PREFIX_CHARS`] characters long.
pub const MAX_PREFIX_TERMS: usize = 2;
pub const MAX_PREFIX_EXPANSIONS: u32 = 64;
pub const MIN_PREFIX_CHARS: usize = 2;
/// Hits per page at most, and how deep a page may start.
pub const MAX_LIMIT: usize = 100;
pub const MAX_DEPTH: usize = 1000;
/// Values per facet.
pub const FACET_VALUES: usize = 20;

/// The 督办 light of a case at the time of the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LightFilter {
    Green,
    Yellow,
    Red,
    /// No deadline runs.
    None,
}

impl LightFilter {
    pub fn parse(s: &str) -> Option<LightFilter> {
        match s {
            "green" => Some(LightFilter::Green),
            "yellow" => Some(LightFilter::Yellow),
            "red" => Some(LightFilter::Red),
            "none" => Some(LightFilter::None),
            _ => None,
        }
    }
}

/// Result order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    #[default]
    Relevance,
    Newest,
    Oldest,
}

/// A search.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Words (AND), `"a phrase"`, `-excluded`, `prefix*`; empty lists by the filters alone.
    pub q: String,
    pub stage: Option<String>,
    /// Cases whose current or handling unit is this unit or below it.
    pub unit: Option<String>,
    /// Region code prefix (e.g. `4301`).
    pub region: Option<String>,
    /// A category or its first level (`城乡建设`).
    pub category: Option<String>,
    /// `suggestion`, `accusation`, `appeal`, `none`.
    pub class: Option<String>,
    pub channel: Option<String>,
    pub received_from_ms: Option<i64>,
    /// Exclusive.
    pub received_to_ms: Option<i64>,
    pub light: Option<LightFilter>,
    /// `satisfied`, `basically_satisfied`, `unsatisfied`, `none`.
    pub rating: Option<String>,
    pub open_only: bool,
    pub sort: SortOrder,
    pub offset: usize,
    pub limit: usize,
    /// "Now" for the light filter and counts.
    pub now_ms: i64,
}

/// Who searches: the policy's principal plus the cases it holds a clearance for.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub cleared_cases: Vec<String>,
}

/// One hit.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub case_id: String,
    /// BM25 score (0 when sorted by date).
    pub score: f32,
}

/// Counts of the matching cases by light.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LightCounts {
    pub green: u64,
    pub yellow: u64,
    pub red: u64,
    pub none: u64,
}

/// What a search found (all of it within the caller's scope).
pub struct SearchResults {
    pub total: u64,
    pub hits: Vec<Hit>,
    /// facet name → (value, count), largest first.
    pub facets: BTreeMap<String, Vec<(String, u64)>>,
    pub lights: LightCounts,
    snippets: Vec<(Field, SnippetGenerator)>,
    fields: crate::schema::Fields,
}

/// A highlighted fragment: the text and the byte ranges of the matches inside it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Highlight {
    pub field: &'static str,
    pub fragment: String,
    pub highlighted: Vec<(usize, usize)>,
}

/// The texts of one case to highlight (read from the database for the hits only).
pub struct HitTexts<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub reply: Option<&'a str>,
}

impl SearchResults {
    /// The best fragment of each text field that holds a match.
    pub fn highlights(&self, texts: &HitTexts<'_>) -> Vec<Highlight> {
        let mut out = Vec::new();
        for (field, generator) in &self.snippets {
            let (name, text) = if *field == self.fields.title {
                ("title", Some(texts.title))
            } else if *field == self.fields.text {
                ("text", Some(texts.text))
            } else {
                ("reply", texts.reply)
            };
            let Some(text) = text else { continue };
            let snip = generator.snippet(text);
            if snip.is_empty() || snip.highlighted().is_empty() {
                continue;
            }
            out.push(Highlight {
                field: name,
                fragment: snip.fragment().to_string(),
                highlighted: snip
                    .highlighted()
                    .iter()
                    .map(|r| (r.start, r.end))
                    .collect(),
            });
        }
        out
    }
}

/// One parsed piece of the query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Word(String),
    Phrase(String),
    Prefix(String),
}

/// Splits the query into pieces; `Err` names the problem.
pub(crate) fn parse(q: &str) -> Result<Vec<(bool, Piece)>, SearchError> {
    let chars = q.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(SearchError::QueryTooLong {
            chars,
            max: MAX_QUERY_CHARS,
        });
    }
    let mut out = Vec::new();
    let mut rest = q.trim();
    while !rest.is_empty() {
        let (negated, body) = match rest.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        if let Some(inner) = body.strip_prefix('"').or_else(|| body.strip_prefix('“')) {
            let end = inner.find(['"', '”']).ok_or_else(|| {
                SearchError::Syntax("引号未闭合 (unclosed quotation mark)".into())
            })?;
            let phrase = &inner[..end];
            let close_len = inner[end..].chars().next().map_or(1, char::len_utf8);
            out.push((negated, Piece::Phrase(phrase.to_string())));
            rest = inner[end + close_len..].trim_start();
            continue;
        }
        let end = body.find(char::is_whitespace).unwrap_or(body.len());
        let word = &body[..end];
        rest = body[end..].trim_start();
        if word.is_empty() {
            continue;
        }
        let stars = word.matches(['*', '?']).count();
        if stars == 0 {
            out.push((negated, Piece::Word(word.to_string())));
        } else if stars == 1 && word.ends_with('*') {
            let stem: String = word[..word.len() - 1].chars().map(fold_char).collect();
            if stem.chars().count() < MIN_PREFIX_CHARS {
                return Err(SearchError::Wildcard(format!(
                    "通配符前至少需要 {MIN_PREFIX_CHARS} 个字 (at least {MIN_PREFIX_CHARS} characters before *)"
                )));
            }
            out.push((negated, Piece::Prefix(stem)));
        } else {
            return Err(SearchError::Wildcard(
                "通配符 * 只能用在词尾，且每个词最多一个 (only one * at the end of a word)".into(),
            ));
        }
    }
    let prefixes = out
        .iter()
        .filter(|(_, p)| matches!(p, Piece::Prefix(_)))
        .count();
    if prefixes > MAX_PREFIX_TERMS {
        return Err(SearchError::Wildcard(format!(
            "一次最多 {MAX_PREFIX_TERMS} 个通配词 (at most {MAX_PREFIX_TERMS} wildcard words)"
        )));
    }
    Ok(out)
}

pub(crate) fn term_query(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

pub(crate) fn filter(q: Box<dyn Query>) -> (Occur, Box<dyn Query>) {
    (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)))
}

fn i64_range(field: Field, low: Bound<i64>, high: Bound<i64>) -> Box<dyn Query> {
    let t = |v| Term::from_field_i64(field, v);
    Box::new(RangeQuery::new(low.map(t), high.map(t)))
}

impl SearchIndex {
    fn text_fields(&self) -> [(Field, f32); 7] {
        let f = &self.fields;
        [
            (f.title, 3.0),
            (f.text, 1.0),
            (f.reply, 1.2),
            (f.other_replies, 1.0),
            (f.notes, 0.8),
            (f.category, 2.0),
            (f.unit_names, 1.5),
        ]
    }

    /// Whether the caller may match the petitioner fields of a case: the policy's
    /// `ReadPersonalData` as query clauses (every reader of an ordinary case; for 检举控告 the
    /// receiving bureau's registrars, a 纪委监委 handling it, and those cleared — never an
    /// accused unit).
    fn person_visibility(&self, caller: &Caller) -> Box<dyn Query> {
        let f = &self.fields;
        let p = &caller.principal;
        let mut may: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Should, term_query(f.accusation, "0"))];
        if p.roles.has(Role::System) {
            return Box::new(AllQuery);
        }
        if let Some(unit) = &p.unit {
            if p.roles.has(Role::Registrar) {
                may.push((Occur::Should, term_query(f.person_bureau, unit.as_str())));
            }
            let case_work = p.roles.any(&[
                Role::Registrar,
                Role::Handler,
                Role::UnitHead,
                Role::Leader,
                Role::Supervisor,
            ]);
            if p.unit_kind == UnitKind::Discipline && case_work {
                may.push((Occur::Should, term_query(f.person_handlers, unit.as_str())));
            }
        }
        if !caller.cleared_cases.is_empty() {
            may.push((
                Occur::Should,
                Box::new(TermSetQuery::new(
                    caller
                        .cleared_cases
                        .iter()
                        .map(|id| Term::from_field_text(f.id, id)),
                )),
            ));
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, Box::new(BooleanQuery::new(may)))];
        if let Some(unit) = &p.unit {
            clauses.push((Occur::MustNot, term_query(f.accused, unit.as_str())));
        }
        Box::new(BooleanQuery::new(clauses))
    }

    /// The scope as a query clause; `None` for every case.
    fn scope_clause(&self, caller: &Caller) -> Result<Option<Box<dyn Query>>, SearchError> {
        let f = &self.fields;
        match Scope::of(&caller.principal) {
            Scope::All => Ok(None),
            Scope::Nothing => Err(SearchError::Forbidden),
            Scope::Limited { units, regions } => {
                // One term query per unit and region (a scope has one or two): their posting
                // lists are skipped through alongside the words, where a term set would first
                // mark every case of the region (all of them for a province) on each search.
                let any: Vec<(Occur, Box<dyn Query>)> = units
                    .iter()
                    .map(|u| term_query(f.units_on, u.as_str()))
                    .chain(regions.iter().map(|r| term_query(f.region, r.as_str())))
                    .map(|q| (Occur::Should, q))
                    .collect();
                Ok(Some(Box::new(BooleanQuery::new(any))))
            }
        }
    }

    /// The text part of the query (`None`: no words, every case in scope matches).
    fn text_clause(&self, q: &str, caller: &Caller) -> Result<Option<Box<dyn Query>>, SearchError> {
        let pieces = parse(q)?;
        if pieces.is_empty() {
            return Ok(None);
        }
        let mut terms = 0;
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut positives = 0;
        for (negated, piece) in pieces {
            let occur = if negated { Occur::MustNot } else { Occur::Must };
            let query: Option<Box<dyn Query>> = match piece {
                Piece::Word(w) => {
                    let toks = tokens(self.seg, &w);
                    terms += toks.len();
                    let folded: String = w.chars().map(fold_char).collect();
                    let mut all: Vec<(Occur, Box<dyn Query>)> = toks
                        .iter()
                        .map(|(t, _)| (Occur::Must, self.any_field(t)))
                        .collect();
                    // A masked name or contact (`王**`, `138****1234`, the last four digits)
                    // matches the petitioner field for those allowed to see it.
                    let person: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
                        (Occur::Must, term_query(self.fields.person, &folded)),
                        (Occur::Must, self.person_visibility(caller)),
                    ]));
                    if all.is_empty() {
                        Some(person)
                    } else {
                        let words: Box<dyn Query> = if all.len() == 1 {
                            all.pop()
                                .map(|(_, q)| q)
                                .unwrap_or_else(|| Box::new(AllQuery))
                        } else {
                            Box::new(BooleanQuery::new(all))
                        };
                        Some(Box::new(BooleanQuery::new(vec![
                            (Occur::Should, words),
                            (Occur::Should, person),
                        ])))
                    }
                }
                Piece::Phrase(p) => {
                    let toks = tokens(self.seg, &p);
                    terms += toks.len();
                    match toks.len() {
                        0 => None,
                        1 => Some(self.any_field(&toks[0].0)),
                        _ => {
                            let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                            for (field, boost) in self.text_fields().into_iter().take(5) {
                                let phrase = PhraseQuery::new(
                                    toks.iter()
                                        .map(|(t, _)| Term::from_field_text(field, t))
                                        .collect(),
                                );
                                any.push((
                                    Occur::Should,
                                    Box::new(BoostQuery::new(Box::new(phrase), boost)),
                                ));
                            }
                            Some(Box::new(BooleanQuery::new(any)))
                        }
                    }
                }
                Piece::Prefix(stem) => {
                    terms += 1;
                    let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                    for (field, boost) in self.text_fields().into_iter().take(5) {
                        let mut pq =
                            PhrasePrefixQuery::new(vec![Term::from_field_text(field, &stem)]);
                        pq.set_max_expansions(MAX_PREFIX_EXPANSIONS);
                        any.push((
                            Occur::Should,
                            Box::new(BoostQuery::new(Box::new(pq), boost)),
                        ));
                    }
                    Some(Box::new(BooleanQuery::new(any)))
                }
            };
            if terms > MAX_QUERY_TERMS {
                return Err(SearchError::TooManyTerms {
                    max: MAX_QUERY_TERMS,
                });
            }
            if let Some(q) = query {
                if occur == Occur::Must {
                    positives += 1;
                }
                must.push((occur, q));
            }
        }
        if must.is_empty() {
            return Ok(None);
        }
        if positives == 0 {
            must.push((Occur::Must, Box::new(AllQuery)));
        }
        Ok(Some(Box::new(BooleanQuery::new(must))))
    }

    fn any_field(&self, token: &str) -> Box<dyn Query> {
        let mut any: Vec<(Occur, Box<dyn Query>)> = self
            .text_fields()
            .into_iter()
            .map(|(field, boost)| {
                let q: Box<dyn Query> = Box::new(BoostQuery::new(term_query(field, token), boost));
                (Occur::Should, q)
            })
            .collect();
        any.push((
            Occur::Should,
            Box::new(BoostQuery::new(term_query(self.fields.places, token), 2.0)),
        ));
        Box::new(BooleanQuery::new(any))
    }

    fn filters(&self, r: &SearchRequest) -> Vec<(Occur, Box<dyn Query>)> {
        let f = &self.fields;
        let mut out = Vec::new();
        let mut eq = |field: Field, v: &Option<String>| {
            if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                out.push(filter(term_query(field, v)));
            }
        };
        eq(f.stage, &r.stage);
        eq(f.unit_tree, &r.unit);
        eq(f.region, &r.region);
        eq(f.class, &r.class);
        eq(f.channel, &r.channel);
        eq(f.rating, &r.rating);
        if let Some(c) = r
            .category
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            let top = c.split('/').next().unwrap_or(c);
            out.push(filter(Box::new(TermQuery::new(
                Term::from_facet(
                    f.facets,
                    &tantivy::schema::Facet::from_path(["category", top]),
                ),
                IndexRecordOption::Basic,
            ))));
        }
        if r.open_only {
            out.push(filter(term_query(f.open, "1")));
        }
        if r.received_from_ms.is_some() || r.received_to_ms.is_some() {
            out.push(filter(i64_range(
                f.received_at,
                r.received_from_ms.map_or(Bound::Unbounded, Bound::Included),
                r.received_to_ms.map_or(Bound::Unbounded, Bound::Excluded),
            )));
        }
        if let Some(light) = r.light {
            out.push(filter(self.light_clause(light, r.now_ms)));
        }
        out
    }

    fn light_clause(&self, light: LightFilter, now: i64) -> Box<dyn Query> {
        let f = &self.fields;
        let running = || {
            i64_range(
                f.next_due_at,
                Bound::Included(now),
                Bound::Excluded(NO_DEADLINE),
            )
        };
        match light {
            LightFilter::Red => i64_range(f.next_due_at, Bound::Unbounded, Bound::Excluded(now)),
            LightFilter::None => i64_range(
                f.next_due_at,
                Bound::Included(NO_DEADLINE),
                Bound::Unbounded,
            ),
            LightFilter::Yellow => Box::new(BooleanQuery::new(vec![
                (Occur::Must, running()),
                (
                    Occur::Must,
                    i64_range(f.yellow_at, Bound::Unbounded, Bound::Included(now)),
                ),
            ])),
            LightFilter::Green => Box::new(BooleanQuery::new(vec![
                (Occur::Must, running()),
                (
                    Occur::Must,
                    i64_range(f.yellow_at, Bound::Excluded(now), Bound::Unbounded),
                ),
            ])),
        }
    }

    /// Runs a scoped search. The query is refused (never run) when it is malformed, too
    /// long, floods wildcards or pages too deep.
    pub fn search(&self, caller: &Caller, r: &SearchRequest) -> Result<SearchResults, SearchError> {
        let limit = if r.limit == 0 { 20 } else { r.limit };
        if limit > MAX_LIMIT {
            return Err(SearchError::PageTooDeep {
                max: MAX_LIMIT,
                what: "limit",
            });
        }
        if r.offset + limit > MAX_DEPTH {
            return Err(SearchError::PageTooDeep {
                max: MAX_DEPTH,
                what: "offset",
            });
        }
        let scope = self.scope_clause(caller)?;
        let text = self.text_clause(&r.q, caller)?;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let has_text = text.is_some();
        if let Some(t) = text {
            clauses.push((Occur::Must, t));
        }
        if let Some(s) = scope {
            clauses.push(filter(s));
        }
        clauses.extend(self.filters(r));
        if clauses.is_empty() {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let f = &self.fields;
        let mut facets = FacetCollector::for_field("facets");
        for name in FACETS {
            facets.add_facet(format!("/{name}").as_str());
        }
        let sort = if has_text {
            r.sort
        } else if r.sort == SortOrder::Relevance {
            SortOrder::Newest
        } else {
            r.sort
        };
        let top = TopDocs::with_limit(limit).and_offset(r.offset);
        // Hits, total, facets and lights in one pass over the matching documents.
        let lights = LightCollector { now: r.now_ms };
        let (addrs, total, counts, lights): (Vec<(f32, DocAddress)>, usize, _, LightCounts) =
            match sort {
                SortOrder::Relevance => {
                    searcher.search(&query, &(top.order_by_score(), Count, facets, lights))?
                }
                SortOrder::Newest | SortOrder::Oldest => {
                    let order = if sort == SortOrder::Newest {
                        Order::Desc
                    } else {
                        Order::Asc
                    };
                    let (hits, total, counts, lights) = searcher.search(
                        &query,
                        &(
                            top.order_by_fast_field::<i64>("received_at", order),
                            Count,
                            facets,
                            lights,
                        ),
                    )?;
                    (
                        hits.into_iter().map(|(_, a)| (0.0, a)).collect(),
                        total,
                        counts,
                        lights,
                    )
                }
            };
        let mut hits = Vec::with_capacity(addrs.len());
        for (score, addr) in addrs {
            hits.push(Hit {
                case_id: self.case_id(&searcher, addr)?,
                score,
            });
        }
        let mut facet_map = BTreeMap::new();
        for name in FACETS {
            let values: Vec<(String, u64)> = counts
                .top_k(format!("/{name}").as_str(), FACET_VALUES)
                .into_iter()
                .map(|(facet, n)| {
                    let v = facet
                        .to_path()
                        .last()
                        .map(|s| s.to_string())
                        .unwrap_or_default();
                    (v, n)
                })
                .collect();
            facet_map.insert(name.to_string(), values);
        }
        let mut snippets = Vec::new();
        for field in [f.title, f.text, f.reply] {
            let mut generator = SnippetGenerator::create(&searcher, &query, field)?;
            generator.set_max_num_chars(120);
            snippets.push((field, generator));
        }
        Ok(SearchResults {
            total: total as u64,
            hits,
            facets: facet_map,
            lights,
            snippets,
            fields: *f,
        })
    }

    pub(crate) fn case_id(
        &self,
        searcher: &Searcher,
        addr: DocAddress,
    ) -> Result<String, SearchError> {
        let doc: TantivyDocument = searcher.doc(addr)?;
        Ok(doc
            .get_first(self.fields.id)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string())
    }

    /// Place names that start with `prefix`, from the cases in the caller's scope only, most
    /// frequent first (search-as-you-type for the place filter).
    pub fn suggest_places(
        &self,
        caller: &Caller,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, SearchError> {
        let stem: String = prefix.trim().chars().map(fold_char).collect();
        if stem.is_empty() {
            return Ok(Vec::new());
        }
        if stem.chars().count() > 32 {
            return Err(SearchError::QueryTooLong {
                chars: stem.chars().count(),
                max: 32,
            });
        }
        let f = &self.fields;
        let mut upper = stem.clone();
        upper.push(char::MAX);
        let range: Box<dyn Query> = Box::new(RangeQuery::new(
            Bound::Included(Term::from_field_text(f.places, &stem)),
            Bound::Excluded(Term::from_field_text(f.places, &upper)),
        ));
        let mut clauses = vec![(Occur::Must, range)];
        if let Some(s) = self.scope_clause(caller)? {
            clauses.push(filter(s));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top = searcher.search(
            &query,
            &TopDocs::with_limit(500).order_by_fast_field::<i64>("received_at", Order::Desc),
        )?;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for (_, addr) in top {
            let seg = searcher.segment_reader(addr.segment_ord);
            let Some(col) = seg.fast_fields().str("places")? else {
                continue;
            };
            let mut s = String::new();
            for ord in col.term_ords(addr.doc_id) {
                s.clear();
                col.ord_to_str(ord, &mut s)
                    .map_err(|e| SearchError::Io(e.to_string()))?;
                if s.starts_with(&stem) {
                    *counts.entry(s.clone()).or_default() += 1;
                }
            }
        }
        let mut out: Vec<(String, u64)> = counts.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(limit.clamp(1, 20));
        Ok(out)
    }
}

/// Counts the matching documents by light from the `next_due_at` and `yellow_at` fast fields,
/// in the same pass as the hits (the same partition as [`SearchIndex::light_clause`]: red
/// when the deadline has passed, none without a deadline, yellow from the yellow mark on,
/// green before it).
struct LightCollector {
    now: i64,
}

struct LightSegmentCollector {
    now: i64,
    due: Column<i64>,
    yellow: Column<i64>,
    counts: LightCounts,
}

impl Collector for LightCollector {
    type Fruit = LightCounts;
    type Child = LightSegmentCollector;

    fn for_segment(
        &self,
        _segment: u32,
        reader: &SegmentReader,
    ) -> tantivy::Result<LightSegmentCollector> {
        Ok(LightSegmentCollector {
            now: self.now,
            due: reader.fast_fields().i64("next_due_at")?,
            yellow: reader.fast_fields().i64("yellow_at")?,
            counts: LightCounts::default(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<LightCounts>) -> tantivy::Result<LightCounts> {
        let mut all = LightCounts::default();
        for f in fruits {
            all.green += f.green;
            all.yellow += f.yellow;
            all.red += f.red;
            all.none += f.none;
        }
        Ok(all)
    }
}

impl SegmentCollector for LightSegmentCollector {
    type Fruit = LightCounts;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let due = self.due.first(doc).unwrap_or(NO_DEADLINE);
        let c = &mut self.counts;
        if due < self.now {
            c.red += 1;
        } else if due == NO_DEADLINE {
            c.none += 1;
        } else if self.yellow.first(doc).unwrap_or(NO_DEADLINE) <= self.now {
            c.yellow += 1;
        } else {
            c.green += 1;
        }
    }

    fn harvest(self) -> LightCounts {
        self.counts
    }
}

/// The facets every search counts.
pub const FACETS: [&str; 7] = [
    "stage", "class", "channel", "rating", "category", "unit", "region",
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parse_splits_words_phrases_exclusions_and_prefixes() {
        let p = parse(r#"噪音 "夜间 施工" -装修 物业*"#).unwrap();
        assert_eq!(
            p,
            vec![
                (false, Piece::Word("噪音".into())),
                (false, Piece::Phrase("夜间 施工".into())),
                (true, Piece::Word("装修".into())),
                (false, Piece::Prefix("物业".into())),
            ]
        );
    }

    #[test]
    fn bad_queries_are_refused_with_a_reason() {
        assert!(matches!(parse("\"未闭合"), Err(SearchError::Syntax(_))));
        assert!(matches!(parse("*"), Err(SearchError::Wildcard(_))));
        assert!(matches!(parse("a*b"), Err(SearchError::Wildcard(_))));
        assert!(matches!(parse("小*"), Err(SearchError::Wildcard(_))));
        assert!(matches!(
            parse("小区* 物业* 道路*"),
            Err(SearchError::Wildcard(_))
        ));
        let long = "噪".repeat(MAX_QUERY_CHARS + 1);
        assert!(matches!(
            parse(&long),
            Err(SearchError::QueryTooLong { .. })
        ));
    }
}
