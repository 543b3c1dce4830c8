//! The work-list data set (1,000,000 cases over 3,000 units, see `work_list.rs`), shared by
//! the benches that measure reads over it (the work lists, the dashboards).
#![allow(dead_code)]

use chrono::TimeZone;
use huiyin_app::secrets;
use huiyin_domain::calendar::Calendar;
use huiyin_domain::case::{Command, Decision, DeclineGround, HandlingOpinion, Role, RouteKind};
use huiyin_domain::ids::UnitId;
use huiyin_domain::petition::{AppealRoute, StatutoryClass};
use huiyin_domain::policy::PolicySet;
use huiyin_domain::values::{DocumentText, Reason, ReceiptCode};

use super::Rng;
use super::dataset::{GenCase, Lifecycle, Spec, region_of, unit_id};

/// Bump when the generated data changes, so stale caches are not reused.
pub const DATA_VERSION: &str = "v1";
pub const UNITS: u64 = 3_000;
/// The work-list data set.
pub fn spec() -> Spec {
    Spec {
        name: "work_list",
        cache: "worklist",
        version: DATA_VERSION,
        units: UNITS,
        seed: 0x4855_4959_494E,
        generate: generate_case,
    }
}

fn text(s: &str) -> DocumentText {
    DocumentText::parse(s).expect("document text")
}

fn reason(s: &str) -> Reason {
    Reason::parse(s).expect("reason")
}

/// Takes case `i` through the lifecycle with the domain's own `decide` and `apply`.
pub fn generate_case(i: u64, rng: &mut Rng, policies: &PolicySet, calendar: &Calendar) -> GenCase {
    let k = ((UNITS as f64) * rng.unit().powi(2)) as u64;
    let b = k - k % 10;
    let bureau = unit_id(b);
    let unit = unit_id(k);
    let region = region_of(b);
    let day = chrono::Duration::days(1);
    let base = chrono::Utc
        .with_ymd_and_hms(2025, 1, 2, 1, 0, 0)
        .single()
        .expect("base time");
    let offset = rng.below(360 * 86_400) as i64;
    // A lean data set arrives over the year in order (as cases do: a case's id is made when it
    // is received); the full one at random moments.
    let offset = match super::dataset::ordered_over() {
        Some(n) => (i as i64 * 360 * 86_400) / n as i64 + offset % 3_600,
        None => offset,
    };
    let received_at = base + chrono::Duration::seconds(offset);
    let roll = rng.unit();

    let payload = (i.wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15) & ((1u64 << 55) - 1);
    let receipt = ReceiptCode::from_random(payload.to_le_bytes());
    let petition = super::petition(i, &region);
    let petitioner = super::petitioner(i);
    let registrar = super::staff("registrar", &bureau, &[Role::Registrar]);
    let handler = super::staff("head", &unit, &[Role::Handler, Role::UnitHead]);
    let mut case = Lifecycle::new(policies, calendar);
    let mut step = |actor: &huiyin_domain::case::Actor, now, command: Command| {
        case.step(actor, now, command);
    };
    step(
        &petitioner,
        received_at,
        Command::Submit {
            petition: petition.record(Some(format!("{i:064x}"))).into(),
            receipt: receipt.clone(),
            bureau: UnitId::new(&bureau),
            received_at,
        },
    );
    if roll >= 0.05 {
        step(
            &registrar,
            received_at + day,
            Command::Register {
                class: StatutoryClass::Appeal(AppealRoute::PetitionProcedure),
                category: petition.category.clone(),
                accused: Vec::new(),
            },
        );
    }
    if roll >= 0.10 {
        let kind = if k == b {
            RouteKind::Bureau
        } else {
            RouteKind::Forward
        };
        step(
            &registrar,
            received_at + day * 2,
            Command::Route {
                kind,
                unit: UnitId::new(&unit),
            },
        );
    }
    if (0.50..0.60).contains(&roll) {
        step(
            &handler,
            received_at + day * 5,
            Command::Decline {
                ground: DeclineGround::NotPetitionMatter,
                reason: reason("反映事项不属于信访事项受理范围"),
                guidance: reason("请通过12345政务服务便民热线反映"),
            },
        );
    } else if roll >= 0.25 {
        step(&handler, received_at + day * 5, Command::Accept);
    }
    if roll >= 0.60 {
        step(
            &handler,
            received_at + day * 40,
            Command::Reply {
                opinion: HandlingOpinion {
                    request: text("请求尽快解决反映的问题"),
                    facts: text("经查，信访人反映的情况基本属实"),
                    reasons: text("依据相关规定，责成责任单位限期整改"),
                    legal_basis: text("《信访工作条例》第三十二条"),
                    decision: Decision::Support,
                },
            },
        );
    }
    case.finish(secrets::secret_hash(
        &receipt,
        &format!("{:08X}", i % 0xFFFF_FFFF),
    ))
}
