//! Authorisation in one place: who may do what to which case.
//!
//! The policy is pure: the caller resolves the [`Principal`] (the actor's roles, unit, and the
//! unit's region and kind) and the compact [`CaseFacts`] of a case, and [`authorize`] answers.
//! The same rules produce the [`Scope`] that list, search and export queries take, so a query
//! can never return a case a per-case check would refuse.
//!
//! The rules (issue 3):
//! - a unit sees and acts on its own cases (the units on the case: receiving bureau, current,
//!   handling and routed units, review units);
//! - a petition bureau (信访局) sees its region's subtree;
//! - leaders (领导) and supervisors (督办) see the region subtree of their unit;
//! - analysts see statistics only; auditors read the audit trail and case events, never
//!   personal data unless explicitly cleared; administrators manage users and units but do not
//!   read case content;
//! - whistleblower protection (Art. 30): for 检举控告 ([`StatutoryClass::Accusation`]) the
//!   petitioner's identity and contact data are never shown to an accused unit, and otherwise
//!   only to the registrars of the receiving bureau, the 纪委监委 (discipline inspection) unit
//!   handling the matter, and people explicitly cleared for the case.
//!
//! A check allocates nothing and compares a handful of ids: well under a microsecond
//! (`cargo bench -p huiyin-domain --bench access`).

use crate::case::{CaseState, Role};
use crate::ids::{ActorId, UnitId};
use crate::petition::StatutoryClass;
use crate::values::RegionCode;

/// A set of roles as a bit mask (cheap to test).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct RoleSet(u16);

impl RoleSet {
    pub const EMPTY: RoleSet = RoleSet(0);

    fn bit(role: Role) -> u16 {
        1 << (role as u16)
    }

    pub fn of(roles: &[Role]) -> RoleSet {
        RoleSet(roles.iter().fold(0, |acc, r| acc | Self::bit(*r)))
    }

    pub fn has(self, role: Role) -> bool {
        self.0 & Self::bit(role) != 0
    }

    pub fn any(self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }
}

/// Roles that work on cases (as opposed to oversight-only, statistics, audit or administration).
const CASE_WORK: [Role; 5] = [
    Role::Registrar,
    Role::Handler,
    Role::UnitHead,
    Role::Leader,
    Role::Supervisor,
];

/// What kind of organ a unit is, as far as access is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitKind {
    /// 信访局/信访部门: sees its region's subtree.
    PetitionBureau,
    /// 纪委监委: receives 检举控告; the unit handling one may see the whistleblower.
    Discipline,
    /// Any other unit (functional departments, governments, 政法 organs, township offices).
    Other,
}

impl UnitKind {
    /// From the `units.kind` column.
    pub fn parse(kind: &str) -> UnitKind {
        match kind {
            "petition_bureau" => UnitKind::PetitionBureau,
            "discipline" => UnitKind::Discipline,
            _ => UnitKind::Other,
        }
    }
}

/// The actor as the policy sees it: roles, unit, and where and what the unit is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: ActorId,
    pub roles: RoleSet,
    pub unit: Option<UnitId>,
    /// The region code of the actor's unit (`0` for national units).
    pub region: Option<RegionCode>,
    pub unit_kind: UnitKind,
}

impl Principal {
    /// The system itself (scheduled scans, imports, the CLI): allowed everything.
    pub fn system() -> Principal {
        Principal {
            id: ActorId::new("system"),
            roles: RoleSet::of(&[Role::System]),
            unit: None,
            region: None,
            unit_kind: UnitKind::Other,
        }
    }

    fn is_system(&self) -> bool {
        self.roles.has(Role::System)
    }

    fn in_unit(&self, unit: &UnitId) -> bool {
        self.unit.as_ref() == Some(unit)
    }

    /// Whether the actor sees the whole region subtree of its unit: petition bureau staff, and
    /// leaders and supervisors of any unit.
    pub fn sees_region(&self) -> bool {
        (self.unit_kind == UnitKind::PetitionBureau && self.roles.any(&CASE_WORK))
            || self.roles.any(&[Role::Leader, Role::Supervisor])
    }

    pub fn region_covers(&self, region: &RegionCode) -> bool {
        self.region.as_ref().is_some_and(|r| region.is_within(r))
    }
}

/// The facts of one case the policy needs, borrowed from its state (no allocation).
#[derive(Debug, Clone, Copy)]
pub struct CaseFacts<'a> {
    /// The petition bureau that received the case.
    pub bureau: &'a UnitId,
    pub current_unit: &'a UnitId,
    pub handling_unit: Option<&'a UnitId>,
    pub routed_units: &'a [UnitId],
    pub review_unit: Option<&'a UnitId>,
    pub rereview_unit: Option<&'a UnitId>,
    /// Where the matter arose (the petition's region).
    pub region: &'a RegionCode,
    pub class: Option<StatutoryClass>,
    /// 检举控告: the accused units.
    pub accused_units: &'a [UnitId],
    /// The actor holds an explicit clearance for this case (the `clearances` table).
    pub cleared: bool,
}

impl<'a> CaseFacts<'a> {
    pub fn of(state: &'a CaseState, cleared: bool) -> CaseFacts<'a> {
        CaseFacts {
            bureau: &state.bureau,
            current_unit: state.current_unit(),
            handling_unit: state.handling_unit(),
            routed_units: &state.routed_units,
            review_unit: state.review_unit.as_ref(),
            rereview_unit: state.rereview_unit.as_ref(),
            region: &state.petition.region,
            class: state.class.or(state.petition.class),
            accused_units: &state.accused_units,
            cleared,
        }
    }

    /// Whether `unit` has a part in the case.
    pub fn has_unit(&self, unit: &UnitId) -> bool {
        self.bureau == unit
            || self.current_unit == unit
            || self.handling_unit == Some(unit)
            || self.review_unit == Some(unit)
            || self.rereview_unit == Some(unit)
            || self.routed_units.contains(unit)
    }

    pub fn is_accusation(&self) -> bool {
        self.class == Some(StatutoryClass::Accusation)
    }

    /// Whether `unit` is accused in a 检举控告.
    pub fn accuses(&self, unit: &UnitId) -> bool {
        self.is_accusation() && self.accused_units.contains(unit)
    }

    /// Whether `unit` is handling the case now or was routed it.
    fn handled_by(&self, unit: &UnitId) -> bool {
        self.current_unit == unit
            || self.handling_unit == Some(unit)
            || self.routed_units.contains(unit)
    }
}

/// What the actor wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The case detail (with the masked petitioner, or redacted for 检举控告).
    ReadCase,
    /// A case appearing in a list.
    ReadList,
    /// The petitioner's unmasked identity and contact data.
    ReadPersonalData,
    /// The case's event log.
    ReadEvents,
    /// A lifecycle command, by its name (the lifecycle still checks the details).
    Act(&'static str),
    Export,
    Search,
    /// Aggregate statistics (no case facts needed).
    ReadStatistics,
    /// The audit trail of reads of personal data and other sensitive actions.
    ReadAudit,
    /// The organisation tree (all staff).
    ReadUnits,
    /// Add, rename, merge and retire units.
    ManageUnits,
    /// Create users, memberships and tokens.
    ManageUsers,
}

/// Why an action is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Denial {
    /// The case is outside the actor's scope: answered as "not found", so its existence does
    /// not leak.
    OutOfScope,
    /// The actor's roles do not allow the action.
    RoleNotPermitted,
    /// Whistleblower protection or personal-data protection refuses the petitioner's identity.
    PersonalDataProtected,
}

impl Denial {
    /// The stable error code.
    pub fn code(self) -> &'static str {
        match self {
            Denial::OutOfScope => "case_not_found",
            Denial::RoleNotPermitted => "forbidden",
            Denial::PersonalDataProtected => "personal_data_protected",
        }
    }

    /// What the person is told (zh-CN).
    pub fn message(self) -> &'static str {
        match self {
            Denial::OutOfScope => "信访事项不存在或不在您的权限范围内",
            Denial::RoleNotPermitted => "您的角色不能进行此操作",
            Denial::PersonalDataProtected => {
                "该信访人的身份信息受保护（《信访工作条例》第三十条），您未获授权查看"
            }
        }
    }
}

/// The policy's answer.
pub type Decision = Result<(), Denial>;

/// Decides whether `principal` may do `action`, to the case described by `facts` when the
/// action concerns a case (`None` for case-independent actions; a case action without facts is
/// judged on the role alone, as for an empty list).
pub fn authorize(p: &Principal, action: Action, facts: Option<&CaseFacts<'_>>) -> Decision {
    if p.is_system() {
        return Ok(());
    }
    let staff = p.roles.any(&CASE_WORK)
        || p.roles
            .any(&[Role::Administrator, Role::Auditor, Role::Analyst]);
    match action {
        Action::ReadUnits => allow_if(staff, Denial::RoleNotPermitted),
        Action::ManageUnits | Action::ManageUsers => {
            allow_if(p.roles.has(Role::Administrator), Denial::RoleNotPermitted)
        }
        Action::ReadStatistics => allow_if(
            p.roles.any(&CASE_WORK) || p.roles.any(&[Role::Analyst, Role::Auditor]),
            Denial::RoleNotPermitted,
        ),
        Action::ReadCase | Action::ReadList | Action::Search | Action::Export => {
            read_case(p, facts)
        }
        Action::ReadEvents => {
            let as_auditor = || {
                if !p.roles.has(Role::Auditor) {
                    return Err(Denial::RoleNotPermitted);
                }
                match facts {
                    Some(f) if p.region_covers(f.region) => Ok(()),
                    Some(_) => Err(Denial::OutOfScope),
                    None => Ok(()),
                }
            };
            read_case(p, facts).or_else(|first| as_auditor().map_err(|_| first))
        }
        Action::ReadAudit => {
            if !p.roles.has(Role::Auditor) {
                return Err(Denial::RoleNotPermitted);
            }
            match facts {
                Some(f) if !p.region_covers(f.region) => Err(Denial::OutOfScope),
                _ => Ok(()),
            }
        }
        Action::Act(_) => {
            if !p.roles.any(&CASE_WORK) {
                return Err(Denial::RoleNotPermitted);
            }
            let Some(f) = facts else { return Ok(()) };
            let on_case = p.unit.as_ref().is_some_and(|u| f.has_unit(u));
            let oversees =
                p.roles.any(&[Role::Leader, Role::Supervisor]) && p.region_covers(f.region);
            allow_if(on_case || oversees, Denial::OutOfScope)
        }
        Action::ReadPersonalData => read_personal(p, facts),
    }
}

fn allow_if(ok: bool, denial: Denial) -> Decision {
    if ok { Ok(()) } else { Err(denial) }
}

/// Case content: staff working on cases, on the case or over its region.
fn read_case(p: &Principal, facts: Option<&CaseFacts<'_>>) -> Decision {
    if !p.roles.any(&CASE_WORK) {
        return Err(Denial::RoleNotPermitted);
    }
    let Some(f) = facts else { return Ok(()) };
    let on_case = p.unit.as_ref().is_some_and(|u| f.has_unit(u));
    let over_region = p.sees_region() && p.region_covers(f.region);
    allow_if(on_case || over_region, Denial::OutOfScope)
}

fn read_personal(p: &Principal, facts: Option<&CaseFacts<'_>>) -> Decision {
    let Some(f) = facts else {
        return Err(Denial::PersonalDataProtected);
    };
    if p.roles.any(&[Role::Analyst, Role::Administrator]) && !p.roles.any(&CASE_WORK) {
        return Err(Denial::PersonalDataProtected);
    }
    // An auditor reads personal data only with an explicit clearance, within its region.
    let auditor_cleared = p.roles.has(Role::Auditor) && f.cleared && p.region_covers(f.region);
    if let Err(denial) = read_case(p, Some(f))
        && !auditor_cleared
    {
        return Err(match denial {
            Denial::OutOfScope => Denial::OutOfScope,
            _ => Denial::PersonalDataProtected,
        });
    }
    if !f.is_accusation() {
        return Ok(());
    }
    // Art. 30: never to an accused unit, not even with a clearance.
    if p.unit.as_ref().is_some_and(|u| f.accuses(u)) {
        return Err(Denial::PersonalDataProtected);
    }
    if f.cleared {
        return Ok(());
    }
    let bureau_registrar = p.roles.has(Role::Registrar) && p.in_unit(f.bureau);
    let discipline_handler = p.unit_kind == UnitKind::Discipline
        && p.unit.as_ref().is_some_and(|u| f.handled_by(u))
        && p.roles.any(&CASE_WORK);
    allow_if(
        bureau_registrar || discipline_handler,
        Denial::PersonalDataProtected,
    )
}

/// Whether a reader of the case may see even the masked petitioner (name and phone masks):
/// for 检举控告 only those cleared for the personal data do.
pub fn shows_petitioner(p: &Principal, facts: &CaseFacts<'_>) -> bool {
    !facts.is_accusation() || authorize(p, Action::ReadPersonalData, Some(facts)).is_ok()
}

/// The cases a list, search or export may return, as the store's queries take it: the cases
/// any of `units` has a part in, plus the cases whose region lies within one of `regions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every case (the system, national petition bureau and leaders).
    All,
    /// No case at all.
    Nothing,
    Limited {
        units: Vec<UnitId>,
        regions: Vec<RegionCode>,
    },
}

impl Scope {
    /// The scope of case lists for `p`; it agrees with [`authorize`] for [`Action::ReadList`].
    pub fn of(p: &Principal) -> Scope {
        if p.is_system() {
            return Scope::All;
        }
        if !p.roles.any(&CASE_WORK) {
            return Scope::Nothing;
        }
        let regions: Vec<RegionCode> = if p.sees_region() {
            p.region.iter().cloned().collect()
        } else {
            Vec::new()
        };
        if regions.iter().any(|r| r.as_str() == "0") {
            return Scope::All;
        }
        let units: Vec<UnitId> = p.unit.iter().cloned().collect();
        if units.is_empty() && regions.is_empty() {
            return Scope::Nothing;
        }
        Scope::Limited { units, regions }
    }

    /// Whether a case with these facts is inside the scope (the same test the SQL makes).
    pub fn contains(&self, facts: &CaseFacts<'_>) -> bool {
        match self {
            Scope::All => true,
            Scope::Nothing => false,
            Scope::Limited { units, regions } => {
                units.iter().any(|u| facts.has_unit(u))
                    || regions.iter().any(|r| facts.region.is_within(r))
            }
        }
    }
}

/// The half-open range `[low, high)` of region codes within `prefix`, for an indexed range
/// query instead of `LIKE 'prefix%'`: codes are digit strings, so the upper bound is the prefix
/// plus one, at the same length (`None` when the prefix is all nines and nothing sorts above).
pub fn region_range(prefix: &str) -> (String, Option<String>) {
    let mut digits: Vec<u8> = prefix.bytes().collect();
    let mut i = digits.len();
    while i > 0 {
        i -= 1;
        if digits[i] < b'9' {
            digits[i] += 1;
            digits.truncate(i + 1);
            return (prefix.to_string(), String::from_utf8(digits).ok());
        }
    }
    (prefix.to_string(), None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn region_ranges_bound_the_prefix() {
        assert_eq!(
            region_range("440604"),
            ("440604".into(), Some("440605".into()))
        );
        assert_eq!(region_range("4409"), ("4409".into(), Some("441".into())));
        assert_eq!(region_range("99"), ("99".into(), None));
        let (lo, hi) = region_range("4499");
        let hi = hi.unwrap();
        for inside in ["4499", "449901", "449999999"] {
            assert!(inside >= lo.as_str() && inside < hi.as_str(), "{inside}");
        }
        for outside in ["4498", "45", "450101", "44"] {
            assert!(
                !(outside >= lo.as_str() && outside < hi.as_str()),
                "{outside}"
            );
        }
    }

    /// How the case stands to the actor's unit.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Relation {
        /// The actor's unit has a part in the case.
        Own,
        /// The case lies in a township below the actor's county.
        Subtree,
        /// The case is at the city above the actor's county.
        Parent,
        /// The case is in the neighbouring county.
        Sibling,
        /// Another province.
        Unrelated,
        /// A 检举控告 accusing the actor's own unit, handled by the actor's unit.
        AccusedOwn,
    }

    const RELATIONS: [Relation; 6] = [
        Relation::Own,
        Relation::Subtree,
        Relation::Parent,
        Relation::Sibling,
        Relation::Unrelated,
        Relation::AccusedOwn,
    ];

    struct Fixture {
        bureau: UnitId,
        current: UnitId,
        routed: Vec<UnitId>,
        region: RegionCode,
        class: Option<StatutoryClass>,
        accused: Vec<UnitId>,
    }

    fn u(s: &str) -> UnitId {
        UnitId::new(s)
    }

    /// The actor sits in county 440604: registrars in its bureau, everyone else in its 住建.
    fn fixture(rel: Relation) -> Fixture {
        let plain = |bureau: &str, unit: &str, region: &str| Fixture {
            bureau: u(bureau),
            current: u(unit),
            routed: vec![u(unit)],
            region: RegionCode::parse(region).unwrap(),
            class: Some(StatutoryClass::Suggestion),
            accused: Vec::new(),
        };
        match rel {
            Relation::Own => plain("440604-xfj", "440604-zj", "440604"),
            Relation::Subtree => plain("440604001-office", "440604001-office", "440604001"),
            Relation::Parent => plain("4406-xfj", "4406-zj", "4406"),
            Relation::Sibling => plain("440605-xfj", "440605-zj", "440605"),
            Relation::Unrelated => plain("3301-xfj", "3301-zj", "3301"),
            Relation::AccusedOwn => Fixture {
                class: Some(StatutoryClass::Accusation),
                accused: vec![u("440604-zj"), u("440604-xfj")],
                ..plain("440604-xfj", "440604-zj", "440604")
            },
        }
    }

    fn principal(role: Role) -> Principal {
        let (unit, kind) = match role {
            Role::Registrar => ("440604-xfj", UnitKind::PetitionBureau),
            _ => ("440604-zj", UnitKind::Other),
        };
        Principal {
            id: ActorId::new("user"),
            roles: RoleSet::of(&[role]),
            unit: Some(u(unit)),
            region: Some(RegionCode::parse("440604").unwrap()),
            unit_kind: kind,
        }
    }

    const ACTIONS: [Action; 8] = [
        Action::ReadCase,
        Action::ReadList,
        Action::ReadEvents,
        Action::ReadPersonalData,
        Action::Act("add_note"),
        Action::Export,
        Action::ReadAudit,
        Action::ReadStatistics,
    ];

    /// The expected table: for each role and action, the answer per relation in the order
    /// own, subtree, parent, sibling, unrelated, accused-own. `Y` allowed, `-` refused.
    const EXPECTED: &[(Role, Action, &str)] = &[
        (Role::Registrar, Action::ReadCase, "YY---Y"),
        (Role::Registrar, Action::ReadList, "YY---Y"),
        (Role::Registrar, Action::ReadEvents, "YY---Y"),
        (Role::Registrar, Action::ReadPersonalData, "YY----"),
        (Role::Registrar, Action::Act("add_note"), "Y----Y"),
        (Role::Registrar, Action::Export, "YY---Y"),
        (Role::Registrar, Action::ReadAudit, "------"),
        (Role::Registrar, Action::ReadStatistics, "YYYYYY"),
        (Role::Handler, Action::ReadCase, "Y----Y"),
        (Role::Handler, Action::ReadList, "Y----Y"),
        (Role::Handler, Action::ReadEvents, "Y----Y"),
        (Role::Handler, Action::ReadPersonalData, "Y-----"),
        (Role::Handler, Action::Act("add_note"), "Y----Y"),
        (Role::Handler, Action::Export, "Y----Y"),
        (Role::Handler, Action::ReadAudit, "------"),
        (Role::Handler, Action::ReadStatistics, "YYYYYY"),
        (Role::UnitHead, Action::ReadCase, "Y----Y"),
        (Role::UnitHead, Action::ReadList, "Y----Y"),
        (Role::UnitHead, Action::ReadEvents, "Y----Y"),
        (Role::UnitHead, Action::ReadPersonalData, "Y-----"),
        (Role::UnitHead, Action::Act("add_note"), "Y----Y"),
        (Role::UnitHead, Action::Export, "Y----Y"),
        (Role::UnitHead, Action::ReadAudit, "------"),
        (Role::UnitHead, Action::ReadStatistics, "YYYYYY"),
        (Role::Leader, Action::ReadCase, "YY---Y"),
        (Role::Leader, Action::ReadList, "YY---Y"),
        (Role::Leader, Action::ReadEvents, "YY---Y"),
        (Role::Leader, Action::ReadPersonalData, "YY----"),
        (Role::Leader, Action::Act("add_note"), "YY---Y"),
        (Role::Leader, Action::Export, "YY---Y"),
        (Role::Leader, Action::ReadAudit, "------"),
        (Role::Leader, Action::ReadStatistics, "YYYYYY"),
        (Role::Supervisor, Action::ReadCase, "YY---Y"),
        (Role::Supervisor, Action::ReadList, "YY---Y"),
        (Role::Supervisor, Action::ReadEvents, "YY---Y"),
        (Role::Supervisor, Action::ReadPersonalData, "YY----"),
        (Role::Supervisor, Action::Act("add_note"), "YY---Y"),
        (Role::Supervisor, Action::Export, "YY---Y"),
        (Role::Supervisor, Action::ReadAudit, "------"),
        (Role::Supervisor, Action::ReadStatistics, "YYYYYY"),
        (Role::Administrator, Action::ReadCase, "------"),
        (Role::Administrator, Action::ReadList, "------"),
        (Role::Administrator, Action::ReadEvents, "------"),
        (Role::Administrator, Action::ReadPersonalData, "------"),
        (Role::Administrator, Action::Act("add_note"), "------"),
        (Role::Administrator, Action::Export, "------"),
        (Role::Administrator, Action::ReadAudit, "------"),
        (Role::Administrator, Action::ReadStatistics, "------"),
        (Role::Auditor, Action::ReadCase, "------"),
        (Role::Auditor, Action::ReadList, "------"),
        (Role::Auditor, Action::ReadEvents, "YY---Y"),
        (Role::Auditor, Action::ReadPersonalData, "------"),
        (Role::Auditor, Action::Act("add_note"), "------"),
        (Role::Auditor, Action::Export, "------"),
        (Role::Auditor, Action::ReadAudit, "YY---Y"),
        (Role::Auditor, Action::ReadStatistics, "YYYYYY"),
        (Role::Analyst, Action::ReadCase, "------"),
        (Role::Analyst, Action::ReadList, "------"),
        (Role::Analyst, Action::ReadEvents, "------"),
        (Role::Analyst, Action::ReadPersonalData, "------"),
        (Role::Analyst, Action::Act("add_note"), "------"),
        (Role::Analyst, Action::Export, "------"),
        (Role::Analyst, Action::ReadAudit, "------"),
        (Role::Analyst, Action::ReadStatistics, "YYYYYY"),
        (Role::Proxy, Action::ReadCase, "------"),
        (Role::Proxy, Action::ReadList, "------"),
        (Role::Proxy, Action::ReadEvents, "------"),
        (Role::Proxy, Action::ReadPersonalData, "------"),
        (Role::Proxy, Action::Act("add_note"), "------"),
        (Role::Proxy, Action::Export, "------"),
        (Role::Proxy, Action::ReadAudit, "------"),
        (Role::Proxy, Action::ReadStatistics, "------"),
    ];

    #[test]
    fn authorisation_matrix() {
        let roles = [
            Role::Registrar,
            Role::Handler,
            Role::UnitHead,
            Role::Leader,
            Role::Supervisor,
            Role::Administrator,
            Role::Auditor,
            Role::Analyst,
            Role::Proxy,
        ];
        // The table is complete: every role × action appears exactly once.
        assert_eq!(EXPECTED.len(), roles.len() * ACTIONS.len());
        let mut failures = Vec::new();
        for (role, action, row) in EXPECTED {
            let p = principal(*role);
            for (rel, want) in RELATIONS.iter().zip(row.chars()) {
                let fx = fixture(*rel);
                let facts = CaseFacts {
                    bureau: &fx.bureau,
                    current_unit: &fx.current,
                    handling_unit: fx.routed.first(),
                    routed_units: &fx.routed,
                    review_unit: None,
                    rereview_unit: None,
                    region: &fx.region,
                    class: fx.class,
                    accused_units: &fx.accused,
                    cleared: false,
                };
                let got = authorize(&p, *action, Some(&facts)).is_ok();
                if got != (want == 'Y') {
                    failures.push(format!("{role:?} {action:?} {rel:?}: got {got}"));
                }
                // Lists agree with the per-case check.
                if *action == Action::ReadList {
                    assert_eq!(Scope::of(&p).contains(&facts), got, "{role:?} {rel:?}");
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    fn accusation_facts<'a>(fx: &'a Fixture, cleared: bool) -> CaseFacts<'a> {
        CaseFacts {
            bureau: &fx.bureau,
            current_unit: &fx.current,
            handling_unit: Some(&fx.current),
            routed_units: &fx.routed,
            review_unit: None,
            rereview_unit: None,
            region: &fx.region,
            class: fx.class,
            accused_units: &fx.accused,
            cleared,
        }
    }

    #[test]
    fn whistleblower_identity_goes_only_to_the_cleared() {
        // A 检举控告 against county 住建, received by the county bureau, handled by the county
        // 纪委监委.
        let fx = Fixture {
            bureau: u("440604-xfj"),
            current: u("440604-jw"),
            routed: vec![u("440604-jw")],
            region: RegionCode::parse("440604").unwrap(),
            class: Some(StatutoryClass::Accusation),
            accused: vec![u("440604-zj")],
        };
        let who = |unit: &str, kind: UnitKind, roles: &[Role]| Principal {
            id: ActorId::new("x"),
            roles: RoleSet::of(roles),
            unit: Some(u(unit)),
            region: Some(RegionCode::parse("440604").unwrap()),
            unit_kind: kind,
        };
        let read = |p: &Principal, cleared: bool| {
            authorize(
                p,
                Action::ReadPersonalData,
                Some(&accusation_facts(&fx, cleared)),
            )
        };
        let registrar = who("440604-xfj", UnitKind::PetitionBureau, &[Role::Registrar]);
        let bureau_head = who("440604-xfj", UnitKind::PetitionBureau, &[Role::UnitHead]);
        let discipline = who("440604-jw", UnitKind::Discipline, &[Role::Handler]);
        let accused = who("440604-zj", UnitKind::Other, &[Role::Handler, Role::Leader]);
        let leader = who("440604-gov", UnitKind::Other, &[Role::Leader]);
        assert_eq!(read(&registrar, false), Ok(()));
        assert_eq!(read(&discipline, false), Ok(()));
        assert_eq!(
            read(&bureau_head, false),
            Err(Denial::PersonalDataProtected)
        );
        assert_eq!(read(&leader, false), Err(Denial::PersonalDataProtected));
        assert_eq!(read(&leader, true), Ok(()));
        // The accused unit sees the case (it leads the county) but never the petitioner,
        // not even with a clearance.
        let facts = accusation_facts(&fx, false);
        assert_eq!(authorize(&accused, Action::ReadCase, Some(&facts)), Ok(()));
        assert!(!shows_petitioner(&accused, &facts));
        assert_eq!(read(&accused, true), Err(Denial::PersonalDataProtected));
        // Auditors only with a clearance; analysts never.
        let auditor = who("440604-sj", UnitKind::Other, &[Role::Auditor]);
        assert_eq!(read(&auditor, false), Err(Denial::PersonalDataProtected));
        assert_eq!(read(&auditor, true), Ok(()));
        let analyst = who("440604-tj", UnitKind::Other, &[Role::Analyst]);
        assert_eq!(read(&analyst, true), Err(Denial::PersonalDataProtected));
    }

    #[test]
    fn scopes_follow_the_tree() {
        let national = Principal {
            region: Some(RegionCode::parse("0").unwrap()),
            unit: Some(u("0-xfj")),
            ..principal(Role::Registrar)
        };
        assert_eq!(Scope::of(&national), Scope::All);
        assert_eq!(Scope::of(&principal(Role::Analyst)), Scope::Nothing);
        assert_eq!(
            Scope::of(&principal(Role::Handler)),
            Scope::Limited {
                units: vec![u("440604-zj")],
                regions: vec![]
            }
        );
        assert_eq!(
            Scope::of(&principal(Role::Registrar)),
            Scope::Limited {
                units: vec![u("440604-xfj")],
                regions: vec![RegionCode::parse("440604").unwrap()]
            }
        );
        assert_eq!(Scope::of(&Principal::system()), Scope::All);
    }
}
