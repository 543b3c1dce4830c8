//! Decoding stored event payloads without buffering.
//!
//! [`EventKind`] is internally tagged (`{"type": "note_added", ...}`), and serde decodes an
//! internally tagged enum by first buffering the whole object (every key and string copied
//! into its private `Content` tree) to find the tag, then decoding the variant from the
//! buffer. For a case with 1,000 events that buffering was the larger part of the decode.
//!
//! Every payload is written by `serde_json::to_string(&EventKind)`, which puts the tag first.
//! [`Payload`] reads that first key and decodes the rest of the object straight into the
//! variant, through an externally tagged copy of the enum ([`ByTag`], a serde "remote"
//! definition: same variants, same fields, same field attributes). Values are still fully
//! checked (every `Reason`, `DocumentText`, … goes through its parser), and the tag comes from
//! the hashed payload, not from the unhashed `kind` column, so what is decoded is what the
//! chain covers.
//!
//! A payload this path does not take — the tag not first, a second `type` key, a key with an
//! escape, a variant added to [`EventKind`] but not to [`ByTag`] — is an error here, and the
//! caller then decodes it the ordinary way (`serde_json::from_str::<EventKind>`), so the
//! result never depends on which path ran.

use serde::Deserialize;
use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, VariantAccess, Visitor,
};

use huiyin_domain::Instant;
use huiyin_domain::case::{
    DeclineGround, EventKind, HandlingOpinion, LinkRelation, MergeReason, ReplyQuality,
    ReviewOutcome, RouteKind, Satisfaction,
};
use huiyin_domain::follow_up::{FollowUpMethod, FollowUpOutcome, FollowUpReason};
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_domain::petition::{PetitionRecord, StatutoryClass};
use huiyin_domain::supervision::{LadderMark, SupervisionForm};
use huiyin_domain::values::{DocumentText, Reason, ReceiptCode};

/// [`EventKind`] as an externally tagged enum: the variant name comes from [`TagFirst`].
/// Keep in step with `EventKind` (a variant missing here falls back to the slow path).
#[derive(Deserialize)]
#[serde(remote = "EventKind", rename_all = "snake_case")]
#[allow(dead_code)]
enum ByTag {
    Submitted {
        petition: Box<PetitionRecord>,
        receipt: ReceiptCode,
        bureau: UnitId,
        received_at: Instant,
    },
    Registered {
        class: StatutoryClass,
        category: Option<String>,
        #[serde(default)]
        accused: Vec<UnitId>,
    },
    Routed {
        route: RouteKind,
        unit: UnitId,
        by: UnitId,
    },
    Accepted {
        notice_to_petitioner: bool,
    },
    Declined {
        ground: DeclineGround,
        reason: Reason,
        guidance: Reason,
    },
    Objected {
        reason: Reason,
    },
    ObjectionAgreed {
        reason: Reason,
    },
    ObjectionOverruled {
        reason: Reason,
    },
    ExtensionRequested {
        days: u32,
        reason: Reason,
    },
    ExtensionApproved {
        days: u32,
        reason: Reason,
    },
    ExtensionRefused {
        reason: Reason,
    },
    Replied {
        opinion: HandlingOpinion,
        #[serde(default)]
        quality: Option<ReplyQuality>,
    },
    CompletionReportSubmitted {
        report: DocumentText,
    },
    CompletionReportApproved {
        reason: Reason,
    },
    CompletionReportSentBack {
        reason: Reason,
        new_due_at: Option<Instant>,
    },
    Rated {
        bureau: Satisfaction,
        unit: Satisfaction,
        comment: Option<Reason>,
        recorded_by_staff: bool,
    },
    ReviewRequested {
        reason: Reason,
        review_unit: UnitId,
    },
    ReviewDecided {
        outcome: ReviewOutcome,
        opinion: HandlingOpinion,
        #[serde(default)]
        quality: Option<ReplyQuality>,
    },
    RereviewRequested {
        reason: Reason,
        rereview_unit: UnitId,
    },
    HearingStarted {
        note: Reason,
    },
    HearingEnded {
        note: Reason,
    },
    RereviewDecided {
        outcome: ReviewOutcome,
        opinion: HandlingOpinion,
        #[serde(default)]
        quality: Option<ReplyQuality>,
    },
    Withdrawn {
        reason: Reason,
    },
    PublicationConsentWithdrawn {},
    MergedInto {
        into: CaseId,
        reason: MergeReason,
    },
    Absorbed {
        source: CaseId,
        reason: MergeReason,
    },
    NoteAdded {
        text: DocumentText,
    },
    Linked {
        to: CaseId,
        relation: LinkRelation,
    },
    Instructed {
        text: DocumentText,
    },
    ChargeTaken {
        leader: ActorId,
        unit: Option<UnitId>,
    },
    ChargeReleased {
        leader: ActorId,
        reason: Reason,
    },
    ChargeHandedOver {
        from: ActorId,
        to: ActorId,
        to_unit: UnitId,
        reason: Reason,
    },
    Urged {
        text: DocumentText,
        unit: UnitId,
        #[serde(default)]
        ladder: Option<LadderMark>,
    },
    SupervisionIssued {
        number: u32,
        form: SupervisionForm,
        text: DocumentText,
        unit: UnitId,
        by_unit: Option<UnitId>,
        reply_due_at: Instant,
        named: bool,
        #[serde(default)]
        ladder: Option<LadderMark>,
    },
    SupervisionAnswered {
        number: u32,
        text: DocumentText,
    },
    Circulated {
        text: DocumentText,
        unit: UnitId,
        #[serde(default)]
        order: Option<u32>,
    },
    NamedSupervisionEnded {
        reason: Reason,
    },
    FollowUpScheduled {
        reason: FollowUpReason,
        method: FollowUpMethod,
        due_at: Instant,
    },
    FollowUpRecorded {
        method: FollowUpMethod,
        outcome: FollowUpOutcome,
        note: Reason,
    },
}

/// An [`EventKind`] decoded by the tag-first path; see the module documentation.
pub(crate) struct Payload(pub(crate) EventKind);

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ByTag::deserialize(TagFirst(deserializer)).map(Payload)
    }
}

/// Presents a tag-first JSON object as an externally tagged enum.
struct TagFirst<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for TagFirst<D> {
    type Error = D::Error;

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(TagVisitor(visitor))
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("an event payload is decoded as an enum"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

struct TagVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for TagVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an event payload object with its `type` first")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<V::Value, A::Error> {
        let key: Option<&'de str> = map.next_key()?;
        if key != Some("type") {
            return Err(de::Error::custom("the payload's first key is not `type`"));
        }
        let tag: &'de str = map.next_value()?;
        self.0.visit_enum(Tagged { tag, map })
    }
}

struct Tagged<'de, A> {
    tag: &'de str,
    map: A,
}

impl<'de, A: MapAccess<'de>> EnumAccess<'de> for Tagged<'de, A> {
    type Error = A::Error;
    type Variant = Fields<A>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Fields<A>), A::Error> {
        let variant = seed.deserialize(BorrowedStrDeserializer::new(self.tag))?;
        Ok((variant, Fields(self.map)))
    }
}

/// The rest of the object: the variant's fields (a second `type` key is refused).
struct Fields<A>(A);

impl<'de, A: MapAccess<'de>> VariantAccess<'de> for Fields<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        Err(de::Error::custom("no event kind is a unit variant"))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, A::Error> {
        Err(de::Error::custom("no event kind is a newtype variant"))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("no event kind is a tuple variant"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_map(self)
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Fields<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let key: Option<&'de str> = self.0.next_key()?;
        match key {
            None => Ok(None),
            Some("type") => Err(de::Error::custom("a second `type` key")),
            Some(k) => seed.deserialize(BorrowedStrDeserializer::new(k)).map(Some),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// One stored payload: tag first when it allows it, else the ordinary (buffered) way.
pub(crate) fn decode_kind(payload: &str) -> serde_json::Result<EventKind> {
    match serde_json::from_str::<Payload>(payload) {
        Ok(Payload(kind)) => Ok(kind),
        Err(_) => serde_json::from_str(payload),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use chrono::{TimeZone, Utc};
    use huiyin_domain::case::Decision;
    use huiyin_domain::petition::{AppealRoute, Channel, MaskedPerson};
    use huiyin_domain::policy::ClockKind;
    use huiyin_domain::supervision::LadderStep;
    use huiyin_domain::values::{PetitionText, RegionCode, Title};

    fn reason(s: &str) -> Reason {
        Reason::parse(s).unwrap()
    }

    fn doc(s: &str) -> DocumentText {
        DocumentText::parse(s).unwrap()
    }

    fn opinion() -> HandlingOpinion {
        HandlingOpinion {
            request: doc("请求维修路灯"),
            facts: doc("经查路灯损坏属实"),
            reasons: doc("属于市政设施养护范围"),
            legal_basis: doc("《城市道路管理条例》"),
            decision: Decision::Support,
        }
    }

    /// One event of every kind, with optional fields both set and unset.
    fn samples() -> Vec<EventKind> {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).single().unwrap();
        let unit = UnitId::new("4406-xfj");
        let petition = PetitionRecord {
            channel: Channel::OnlineWeb,
            anonymous: false,
            petitioner_masked: Some(MaskedPerson {
                name: "张*".into(),
                phone: Some("139****5678".into()),
            }),
            personal_digest: Some("ab12".into()),
            group_headcount: None,
            group_representatives: 0,
            title: Title::parse("小区路灯不亮").unwrap(),
            text: PetitionText::parse("小区路灯已经坏了一个月，\"晚上\"出行不便。\n谢谢").unwrap(),
            region: RegionCode::parse("440604").unwrap(),
            category: Some("城乡建设/市政设施".into()),
            class: Some(StatutoryClass::Suggestion),
            attachments: Vec::new(),
            also_sent_to: vec!["4406-gaj".into()],
            publish_consent: false,
            proxy: None,
        };
        vec![
            EventKind::Submitted {
                petition: Box::new(petition),
                receipt: ReceiptCode::from_random(7u64.to_le_bytes()),
                bureau: unit.clone(),
                received_at: at,
            },
            EventKind::Registered {
                class: StatutoryClass::Appeal(AppealRoute::Arbitration),
                category: None,
                accused: Vec::new(),
            },
            EventKind::Registered {
                class: StatutoryClass::Accusation,
                category: Some("纪检监察".into()),
                accused: vec![UnitId::new("4406-zjj")],
            },
            EventKind::Routed {
                route: RouteKind::Assign { due_at: at },
                unit: UnitId::new("4406-zjj"),
                by: unit.clone(),
            },
            EventKind::Routed {
                route: RouteKind::Forward,
                unit: UnitId::new("4406-zjj"),
                by: unit.clone(),
            },
            EventKind::Accepted {
                notice_to_petitioner: true,
            },
            EventKind::Declined {
                ground: DeclineGround::OtherProcedure,
                reason: reason("属于诉讼程序"),
                guidance: reason("请向人民法院起诉"),
            },
            EventKind::Objected {
                reason: reason("不属本单位职责"),
            },
            EventKind::ObjectionAgreed {
                reason: reason("同意异议"),
            },
            EventKind::ObjectionOverruled {
                reason: reason("异议不成立"),
            },
            EventKind::ExtensionRequested {
                days: 30,
                reason: reason("情况复杂"),
            },
            EventKind::ExtensionApproved {
                days: 30,
                reason: reason("同意延期"),
            },
            EventKind::ExtensionRefused {
                reason: reason("不同意延期"),
            },
            EventKind::Replied {
                opinion: opinion(),
                quality: None,
            },
            EventKind::CompletionReportSubmitted {
                report: doc("已办结，路灯已修复"),
            },
            EventKind::CompletionReportApproved {
                reason: reason("审核通过"),
            },
            EventKind::CompletionReportSentBack {
                reason: reason("材料不全"),
                new_due_at: Some(at),
            },
            EventKind::CompletionReportSentBack {
                reason: reason("材料不全"),
                new_due_at: None,
            },
            EventKind::Rated {
                bureau: Satisfaction::Satisfied,
                unit: Satisfaction::Unsatisfied,
                comment: Some(reason("处理太慢")),
                recorded_by_staff: false,
            },
            EventKind::Rated {
                bureau: Satisfaction::BasicallySatisfied,
                unit: Satisfaction::Satisfied,
                comment: None,
                recorded_by_staff: true,
            },
            EventKind::ReviewRequested {
                reason: reason("不服处理意见"),
                review_unit: UnitId::new("44-xfj"),
            },
            EventKind::ReviewDecided {
                outcome: ReviewOutcome::Uphold,
                opinion: opinion(),
                quality: None,
            },
            EventKind::RereviewRequested {
                reason: reason("不服复查意见"),
                rereview_unit: UnitId::new("0-xfj"),
            },
            EventKind::HearingStarted {
                note: reason("召开听证"),
            },
            EventKind::HearingEnded {
                note: reason("听证结束"),
            },
            EventKind::RereviewDecided {
                outcome: ReviewOutcome::Change,
                opinion: opinion(),
                quality: None,
            },
            EventKind::Withdrawn {
                reason: reason("问题已解决"),
            },
            EventKind::PublicationConsentWithdrawn {},
            EventKind::MergedInto {
                into: CaseId::new("c-2"),
                reason: MergeReason::Duplicate,
            },
            EventKind::Absorbed {
                source: CaseId::new("c-3"),
                reason: MergeReason::Repeat,
            },
            EventKind::NoteAdded {
                text: doc("已电话联系信访人\t（备注）"),
            },
            EventKind::Linked {
                to: CaseId::new("c-4"),
                relation: LinkRelation::Group,
            },
            EventKind::Instructed {
                text: doc("请依法依规办理"),
            },
            EventKind::ChargeTaken {
                leader: ActorId::new("leader-1"),
                unit: Some(UnitId::new("4406-gov")),
            },
            EventKind::ChargeReleased {
                leader: ActorId::new("leader-1"),
                reason: reason("已协调完毕"),
            },
            EventKind::ChargeHandedOver {
                from: ActorId::new("leader-1"),
                to: ActorId::new("leader-2"),
                to_unit: UnitId::new("44-gov"),
                reason: reason("工作调整"),
            },
            EventKind::Urged {
                text: doc("请抓紧办理，按期答复"),
                unit: UnitId::new("4406-hr"),
                ladder: Some(LadderMark {
                    kind: ClockKind::Handling,
                    due_at: Utc.with_ymd_and_hms(2024, 8, 1, 15, 59, 59).unwrap(),
                    step: LadderStep::UrgeOverdue,
                }),
            },
            EventKind::Urged {
                text: doc("请抓紧办理"),
                unit: UnitId::new("4406-hr"),
                ladder: None,
            },
            EventKind::SupervisionIssued {
                number: 1,
                form: SupervisionForm::OnSite,
                text: doc("逾期未办结，请书面反馈"),
                unit: UnitId::new("4406-hr"),
                by_unit: Some(UnitId::new("4406-xfj")),
                reply_due_at: Utc.with_ymd_and_hms(2024, 8, 8, 15, 59, 59).unwrap(),
                named: true,
                ladder: None,
            },
            EventKind::SupervisionAnswered {
                number: 1,
                text: doc("已于本周完成调查，下周答复"),
            },
            EventKind::Circulated {
                text: doc("督办单逾期未复，予以通报"),
                unit: UnitId::new("4406-hr"),
                order: Some(1),
            },
            EventKind::NamedSupervisionEnded {
                reason: reason("已依法答复"),
            },
            EventKind::FollowUpScheduled {
                reason: huiyin_domain::follow_up::FollowUpReason::Unsatisfied,
                method: huiyin_domain::follow_up::FollowUpMethod::Phone,
                due_at: Utc.with_ymd_and_hms(2024, 8, 20, 15, 59, 59).unwrap(),
            },
            EventKind::FollowUpRecorded {
                method: huiyin_domain::follow_up::FollowUpMethod::Visit,
                outcome: huiyin_domain::follow_up::FollowUpOutcome::BasicallySatisfied,
                note: reason("信访人表示路灯已修好，但维修太慢"),
            },
        ]
    }

    #[test]
    fn every_kind_decodes_tag_first_as_written() {
        for kind in samples() {
            let json = serde_json::to_string(&kind).unwrap();
            let Payload(fast) = serde_json::from_str(&json)
                .unwrap_or_else(|e| panic!("{} not decoded tag first: {e}", kind.name()));
            assert_eq!(fast, kind, "{json}");
        }
    }

    /// The samples cover every kind the ordinary decoder knows; a kind added to `EventKind`
    /// must be added to `ByTag` and here.
    #[test]
    fn the_samples_cover_every_kind() {
        let err = serde_json::from_str::<EventKind>(r#"{"type":"no_such_kind"}"#)
            .unwrap_err()
            .to_string();
        let (_, listed) = err.split_once("expected one of").unwrap();
        let known: Vec<&str> = listed
            .split(',')
            .map(|s| {
                s.trim()
                    .trim_matches(|c: char| c == '`' || c.is_whitespace())
            })
            .map(|s| s.split('`').next().unwrap_or(s))
            .collect();
        let covered: Vec<&str> = samples().iter().map(EventKind::name).collect();
        for name in &known {
            assert!(covered.contains(name), "no sample of `{name}` ({err})");
        }
        assert!(known.len() >= 28, "{known:?}");
    }

    #[test]
    fn payloads_the_fast_path_refuses_decode_the_ordinary_way() {
        let note = EventKind::NoteAdded {
            text: doc("备注一"),
        };
        for json in [
            r#"{"text":"备注一","type":"note_added"}"#,
            r#"{"type":"note_added","te\u0078t":"备注一"}"#,
        ] {
            assert!(serde_json::from_str::<Payload>(json).is_err(), "{json}");
            assert_eq!(decode_kind(json).unwrap(), note, "{json}");
        }
        // A second tag is refused by both.
        let twice = r#"{"type":"note_added","text":"备注一","type":"instructed"}"#;
        assert!(serde_json::from_str::<Payload>(twice).is_err());
        assert!(decode_kind(twice).is_err());
        // Values are still checked: a too-short note is refused by both.
        let short = r#"{"type":"note_added","text":"备"}"#;
        assert!(serde_json::from_str::<Payload>(short).is_err());
        assert!(decode_kind(short).is_err());
        assert!(decode_kind(r#"{"type":"no_such_kind","text":"备注一"}"#).is_err());
    }
}
