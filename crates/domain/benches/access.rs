//! The permission check (issue 3, "Speed": under 1 µs).
//!
//! Realistic facts: a county case received by the county bureau, routed twice (the second
//! routing after an objection), under review at the city bureau; a 检举控告 with two accused
//! units. Principals: a handler on the case, a city leader over the region, a sibling county's
//! registrar (refused), an accused unit asking for the whistleblower (refused).
//!
//! ```text
//! cargo bench -p huiyin-domain --bench access
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use huiyin_domain::access::{Action, CaseFacts, Principal, RoleSet, Scope, UnitKind, authorize};
use huiyin_domain::case::Role;
use huiyin_domain::ids::{ActorId, UnitId};
use huiyin_domain::petition::StatutoryClass;
use huiyin_domain::values::RegionCode;

fn principal(unit: &str, region: &str, kind: UnitKind, roles: &[Role]) -> Principal {
    Principal {
        id: ActorId::new("user:0192f0c4-7a51-7cc3-9a7e-2f1c3b8d9e01"),
        roles: RoleSet::of(roles),
        unit: Some(UnitId::new(unit)),
        region: Some(RegionCode::parse(region).unwrap()),
        unit_kind: kind,
    }
}

fn bench(c: &mut Criterion) {
    let bureau = UnitId::new("440604-xfj");
    let current = UnitId::new("4406-xfj");
    let routed = vec![UnitId::new("440604-rs"), UnitId::new("440604-zj")];
    let review = UnitId::new("4406-xfj");
    let region = RegionCode::parse("440604003").unwrap();
    let accused = vec![UnitId::new("440604-zj"), UnitId::new("440604-gov")];
    let facts = CaseFacts {
        bureau: &bureau,
        current_unit: &current,
        handling_unit: routed.last(),
        routed_units: &routed,
        review_unit: Some(&review),
        rereview_unit: None,
        region: &region,
        class: Some(StatutoryClass::Accusation),
        accused_units: &accused,
        cleared: false,
    };
    let handler = principal("440604-zj", "440604", UnitKind::Other, &[Role::Handler]);
    let leader = principal("4406-gov", "4406", UnitKind::Other, &[Role::Leader]);
    let sibling = principal(
        "440605-xfj",
        "440605",
        UnitKind::PetitionBureau,
        &[Role::Registrar],
    );
    let mut group = c.benchmark_group("access");
    group.bench_function("read_case_handler_on_case", |b| {
        b.iter(|| {
            authorize(
                black_box(&handler),
                black_box(Action::ReadCase),
                Some(black_box(&facts)),
            )
        })
    });
    group.bench_function("read_case_leader_over_region", |b| {
        b.iter(|| {
            authorize(
                black_box(&leader),
                black_box(Action::ReadCase),
                Some(black_box(&facts)),
            )
        })
    });
    group.bench_function("read_case_sibling_refused", |b| {
        b.iter(|| {
            authorize(
                black_box(&sibling),
                black_box(Action::ReadCase),
                Some(black_box(&facts)),
            )
        })
    });
    group.bench_function("personal_data_accused_refused", |b| {
        b.iter(|| {
            authorize(
                black_box(&handler),
                black_box(Action::ReadPersonalData),
                Some(black_box(&facts)),
            )
        })
    });
    group.bench_function("act_leader", |b| {
        b.iter(|| {
            authorize(
                black_box(&leader),
                black_box(Action::Act("instruct")),
                Some(black_box(&facts)),
            )
        })
    });
    let scope = Scope::of(&leader);
    group.bench_function("scope_contains", |b| {
        b.iter(|| black_box(&scope).contains(black_box(&facts)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
