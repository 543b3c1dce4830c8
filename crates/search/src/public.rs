//! The public portal's search of published replies (网上公开).
//!
//! Only documents marked `public = 1` (`CaseState::publishable`: the petitioner agreed, a
//! 处理意见书 exists, not a 检举控告) can match, and only the title, the petition text, the
//! reply, the category and the places are searched — never notes, other staff texts, unit
//! lists or the petitioner fields — so neither a hit nor a count can reveal what the public may
//! not read. The texts shown are read from the database and masked by the caller.

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query};
use tantivy::schema::{Field, Term};
use tantivy::{DocAddress, Order};

use crate::SearchError;
use crate::index::SearchIndex;
use crate::query::{MAX_QUERY_TERMS, Piece, SortOrder, filter, parse, term_query};
use crate::tokenizer::tokens;

/// Hits per public page at most, and how deep a public page may start.
pub const PUBLIC_MAX_LIMIT: usize = 20;
pub const PUBLIC_MAX_DEPTH: usize = 200;

/// A page of published cases: ids, best first, and how many match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicResults {
    pub total: usize,
    pub case_ids: Vec<String>,
}

impl SearchIndex {
    fn public_fields(&self) -> [(Field, f32); 5] {
        let f = &self.fields;
        [
            (f.title, 3.0),
            (f.text, 1.0),
            (f.reply, 1.2),
            (f.category, 2.0),
            (f.places, 2.0),
        ]
    }

    fn public_any(&self, token: &str) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(
            self.public_fields()
                .into_iter()
                .map(|(field, boost)| {
                    let q: Box<dyn Query> =
                        Box::new(BoostQuery::new(term_query(field, token), boost));
                    (Occur::Should, q)
                })
                .collect(),
        ))
    }

    /// Searches the published replies. Words are ANDed, `"a phrase"` and `-excluded` work,
    /// a prefix (`词*`) is taken as the word itself; an empty query lists the newest.
    pub fn search_public(
        &self,
        q: &str,
        sort: SortOrder,
        offset: usize,
        limit: usize,
    ) -> Result<PublicResults, SearchError> {
        let limit = if limit == 0 { 10 } else { limit };
        if limit > PUBLIC_MAX_LIMIT {
            return Err(SearchError::PageTooDeep {
                max: PUBLIC_MAX_LIMIT,
                what: "limit",
            });
        }
        if offset + limit > PUBLIC_MAX_DEPTH {
            return Err(SearchError::PageTooDeep {
                max: PUBLIC_MAX_DEPTH,
                what: "offset",
            });
        }
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![filter(term_query(f.public, "1"))];
        let mut terms = 0;
        let mut positives = 0;
        for (negated, piece) in parse(q)? {
            let text = match &piece {
                Piece::Word(w) | Piece::Prefix(w) | Piece::Phrase(w) => w,
            };
            let toks = tokens(self.seg, text);
            terms += toks.len();
            let query: Option<Box<dyn Query>> = match (piece, toks.len()) {
                (_, 0) => None,
                (Piece::Phrase(_), n) if n > 1 => {
                    let any = [(f.title, 3.0), (f.text, 1.0), (f.reply, 1.2)]
                        .into_iter()
                        .map(|(field, boost)| {
                            let phrase = PhraseQuery::new(
                                toks.iter()
                                    .map(|(t, _)| Term::from_field_text(field, t))
                                    .collect(),
                            );
                            let q: Box<dyn Query> =
                                Box::new(BoostQuery::new(Box::new(phrase), boost));
                            (Occur::Should, q)
                        })
                        .collect();
                    Some(Box::new(BooleanQuery::new(any)))
                }
                _ => Some(Box::new(BooleanQuery::new(
                    toks.iter()
                        .map(|(t, _)| (Occur::Must, self.public_any(t)))
                        .collect(),
                ))),
            };
            if let Some(query) = query {
                if negated {
                    clauses.push((Occur::MustNot, query));
                } else {
                    positives += 1;
                    clauses.push((Occur::Must, query));
                }
            }
        }
        if terms > MAX_QUERY_TERMS {
            return Err(SearchError::TooManyTerms {
                max: MAX_QUERY_TERMS,
            });
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top = TopDocs::with_limit(limit).and_offset(offset);
        let sort = if positives == 0 && sort == SortOrder::Relevance {
            SortOrder::Newest
        } else {
            sort
        };
        let (addrs, total): (Vec<DocAddress>, usize) = match sort {
            SortOrder::Relevance => {
                let (hits, total) = searcher.search(&query, &(top.order_by_score(), Count))?;
                (hits.into_iter().map(|(_, a)| a).collect(), total)
            }
            SortOrder::Newest | SortOrder::Oldest => {
                let order = if sort == SortOrder::Newest {
                    Order::Desc
                } else {
                    Order::Asc
                };
                let (hits, total) = searcher.search(
                    &query,
                    &(top.order_by_fast_field::<i64>("received_at", order), Count),
                )?;
                (hits.into_iter().map(|(_, a)| a).collect(), total)
            }
        };
        let mut case_ids = Vec::with_capacity(addrs.len());
        for addr in addrs {
            case_ids.push(self.case_id(&searcher, addr)?);
        }
        Ok(PublicResults { total, case_ids })
    }
}
