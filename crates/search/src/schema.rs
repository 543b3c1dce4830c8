//! The index schema and how one case becomes one document.

use std::collections::HashMap;

use huiyin_domain::case::{CaseState, Satisfaction};
use huiyin_domain::petition::StatutoryClass;
use huiyin_store::SearchSource;
use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions,
};

use crate::tokenizer::TOKENIZER;

/// Bumped when the schema or the tokenizer changes: an index of another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 3;

/// The fields, resolved once.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub version: Field,
    pub title: Field,
    pub text: Field,
    pub reply: Field,
    pub other_replies: Field,
    pub notes: Field,
    /// Masked petitioner name and contact (as the log and the lists already show them).
    pub person: Field,
    pub places: Field,
    pub category: Field,
    pub unit_names: Field,
    /// Every unit with a part in the case (the scope test of `Scope::Limited::units`).
    pub units_on: Field,
    /// Every prefix of the case's region code (the scope test of `Scope::Limited::regions`
    /// and the region filter).
    pub region: Field,
    /// The current unit and all its ancestors (the "unit and its subtree" filter).
    pub unit_tree: Field,
    pub stage: Field,
    pub open: Field,
    pub class: Field,
    pub channel: Field,
    pub rating: Field,
    /// `1` for 检举控告: the petitioner fields match only for those cleared (Art. 30).
    pub accusation: Field,
    /// 检举控告 only: the receiving bureau (its registrars see the petitioner).
    pub person_bureau: Field,
    /// 检举控告 only: units handling it (a 纪委监委 among them sees the petitioner).
    pub person_handlers: Field,
    /// 检举控告 only: the accused units (never see the petitioner).
    pub accused: Field,
    pub received_at: Field,
    pub updated_at: Field,
    pub next_due_at: Field,
    pub yellow_at: Field,
    pub facets: Field,
    /// `1` when the reply may be shown in the public portal (`CaseState::publishable`).
    pub public: Field,
}

/// The schema.
pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text_indexing = TextFieldIndexing::default()
        .set_tokenizer(TOKENIZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let text = TextOptions::default().set_indexing_options(text_indexing);
    let plain = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        version: b.add_i64_field("version", FAST),
        title: b.add_text_field("title", text.clone()),
        text: b.add_text_field("text", text.clone()),
        reply: b.add_text_field("reply", text.clone()),
        other_replies: b.add_text_field("other_replies", text.clone()),
        notes: b.add_text_field("notes", text),
        person: b.add_text_field("person", STRING),
        places: b.add_text_field("places", STRING | FAST),
        category: b.add_text_field("category", plain.clone()),
        unit_names: b.add_text_field("unit_names", plain),
        units_on: b.add_text_field("units_on", STRING),
        region: b.add_text_field("region", STRING),
        unit_tree: b.add_text_field("unit_tree", STRING),
        stage: b.add_text_field("stage", STRING),
        open: b.add_text_field("open", STRING),
        class: b.add_text_field("class", STRING),
        channel: b.add_text_field("channel", STRING),
        rating: b.add_text_field("rating", STRING),
        accusation: b.add_text_field("accusation", STRING),
        person_bureau: b.add_text_field("person_bureau", STRING),
        person_handlers: b.add_text_field("person_handlers", STRING),
        accused: b.add_text_field("accused", STRING),
        received_at: b.add_i64_field("received_at", INDEXED | FAST),
        updated_at: b.add_i64_field("updated_at", FAST),
        next_due_at: b.add_i64_field("next_due_at", INDEXED | FAST),
        yellow_at: b.add_i64_field("yellow_at", INDEXED | FAST),
        facets: b.add_facet_field("facets", FacetOptions::default()),
        public: b.add_text_field("public", STRING),
    };
    (b.build(), fields)
}

/// Far future: no deadline runs.
pub const NO_DEADLINE: i64 = i64::MAX;

/// The units of the deployment as the index needs them: name and parent.
#[derive(Debug, Clone, Default)]
pub struct UnitTree {
    pub units: HashMap<String, (String, Option<String>)>,
}

impl UnitTree {
    /// `unit` and its ancestors, nearest first (a cycle in bad data stops the walk).
    pub fn ancestors<'a>(&'a self, unit: &'a str) -> Vec<&'a str> {
        let mut out = vec![unit];
        let mut at = unit;
        while let Some((_, Some(parent))) = self.units.get(at) {
            if out.contains(&parent.as_str()) || out.len() > 32 {
                break;
            }
            out.push(parent);
            at = parent;
        }
        out
    }

    pub fn name<'a>(&'a self, unit: &'a str) -> &'a str {
        self.units.get(unit).map_or(unit, |(n, _)| n.as_str())
    }
}

/// The rating facet value (the unit's rating, which the 满意度 of handling is about).
pub fn rating_code(s: Satisfaction) -> &'static str {
    match s {
        Satisfaction::Satisfied => "satisfied",
        Satisfaction::BasicallySatisfied => "basically_satisfied",
        Satisfaction::Unsatisfied => "unsatisfied",
    }
}

/// Every unit with a part in the case, as `CaseFacts::has_unit` sees it.
pub fn units_on(state: &CaseState) -> Vec<&str> {
    let mut out: Vec<&str> = vec![state.bureau.as_str(), state.current_unit().as_str()];
    out.extend(state.handling_unit().map(|u| u.as_str()));
    out.extend(state.routed_units.iter().map(|u| u.as_str()));
    out.extend(state.review_unit.as_ref().map(|u| u.as_str()));
    out.extend(state.rereview_unit.as_ref().map(|u| u.as_str()));
    out.sort_unstable();
    out.dedup();
    out
}

fn opinion_text(o: &huiyin_domain::case::HandlingOpinion) -> String {
    format!(
        "{}\n{}\n{}\n{}",
        o.request, o.facts, o.reasons, o.legal_basis
    )
}

/// The document of one case.
pub fn document(
    f: &Fields,
    src: &SearchSource,
    units: &UnitTree,
    seg: &huiyin_text::segment::Segmenter,
) -> TantivyDocument {
    let s = &src.state;
    let mut d = TantivyDocument::new();
    d.add_text(f.id, s.id.as_str());
    d.add_i64(f.version, s.version as i64);
    d.add_text(f.title, s.petition.title.as_str());
    d.add_text(f.text, s.petition.text.as_str());
    if let Some(o) = &s.opinion {
        d.add_text(f.reply, opinion_text(o));
    }
    for r in &src.other_replies {
        d.add_text(f.other_replies, r);
    }
    for n in &src.notes {
        d.add_text(f.notes, n);
    }
    if let Some(p) = &s.petition.petitioner_masked {
        d.add_text(f.person, &p.name);
        if let Some(phone) = &p.phone {
            d.add_text(f.person, phone);
            let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
            if digits.len() >= 4 {
                d.add_text(f.person, &digits[digits.len() - 4..]);
            }
        }
    }
    // Places: extracted from the title and text with the place dictionary.
    let normalized = huiyin_text::normalize::normalize(&format!(
        "{}\n{}",
        s.petition.title.as_str(),
        s.petition.text.as_str()
    ));
    let mut places = seg.places(&normalized);
    places.sort();
    places.dedup();
    for p in places.iter().take(16) {
        d.add_text(f.places, p);
    }
    let category = s.category.as_deref().or(s.petition.category.as_deref());
    if let Some(c) = category {
        d.add_text(f.category, c);
    }
    let on = units_on(s);
    for u in &on {
        d.add_text(f.units_on, u);
        d.add_text(f.unit_names, units.name(u));
    }
    let region = s.petition.region.as_str();
    for i in 1..=region.len() {
        if region.is_char_boundary(i) {
            d.add_text(f.region, &region[..i]);
        }
    }
    let current = s.current_unit().as_str();
    let mut tree: Vec<&str> = units.ancestors(current);
    if let Some(h) = s.handling_unit() {
        tree.extend(units.ancestors(h.as_str()));
    }
    tree.sort_unstable();
    tree.dedup();
    for u in &tree {
        d.add_text(f.unit_tree, u);
    }
    let stage = s.stage.as_str();
    d.add_text(f.stage, stage);
    d.add_text(f.open, if s.awaits_action() { "1" } else { "0" });
    let class = s.class.or(s.petition.class);
    let class_code = class.map_or("none", |c| c.code());
    d.add_text(f.class, class_code);
    let channel = s.petition.channel.as_str();
    d.add_text(f.channel, channel);
    let rating = s.rating.map_or("none", |(_, unit)| rating_code(unit));
    d.add_text(f.rating, rating);
    let accusation = class == Some(StatutoryClass::Accusation);
    d.add_text(f.accusation, if accusation { "1" } else { "0" });
    if accusation {
        d.add_text(f.person_bureau, s.bureau.as_str());
        d.add_text(f.person_handlers, current);
        if let Some(h) = s.handling_unit() {
            d.add_text(f.person_handlers, h.as_str());
        }
        for u in &s.routed_units {
            d.add_text(f.person_handlers, u.as_str());
        }
        for u in &s.accused_units {
            d.add_text(f.accused, u.as_str());
        }
    }
    d.add_text(f.public, if s.publishable() { "1" } else { "0" });
    d.add_i64(f.received_at, s.received_at.timestamp_millis());
    d.add_i64(f.updated_at, s.updated_at.timestamp_millis());
    d.add_i64(f.next_due_at, src.next_due_at_ms.unwrap_or(NO_DEADLINE));
    d.add_i64(f.yellow_at, src.yellow_at_ms.unwrap_or(NO_DEADLINE));
    use tantivy::schema::Facet;
    d.add_facet(f.facets, Facet::from_path(["stage", stage]));
    d.add_facet(f.facets, Facet::from_path(["class", class_code]));
    d.add_facet(f.facets, Facet::from_path(["channel", channel]));
    d.add_facet(f.facets, Facet::from_path(["rating", rating]));
    if let Some(c) = category {
        let top = c.split('/').next().unwrap_or(c);
        d.add_facet(f.facets, Facet::from_path(["category", top]));
    }
    d.add_facet(f.facets, Facet::from_path(["unit", current]));
    let province = region.get(..2).unwrap_or(region);
    d.add_facet(f.facets, Facet::from_path(["region", province]));
    d
}
