//! Access use cases: every read of case data goes through the policy
//! ([`huiyin_domain::access`]), in the query (lists take the caller's [`Scope`]) and per case.
//! Personal data is opened here only, after the policy, and every read and every refused
//! attempt is written to the hash-chained audit trail in the same call.

use huiyin_domain::access::{
    Action, CaseFacts, Denial, Principal, RoleSet, Scope, UnitKind, authorize, shows_petitioner,
};
use huiyin_domain::case::{Actor, CaseState, EventKind};
use huiyin_domain::ids::{ActorId, CaseId};
use huiyin_domain::values::RegionCode;
use huiyin_store::{AuditEntry, AuditRecord, CaseSummary, ListFilter, StoredEvent};
use serde::Serialize;

use crate::crypto::DataCipher;
use crate::{App, AppError, CaseView, views};

/// The petitioner's personal data, unmasked, for those cleared to see it.
#[derive(Debug, Clone, Serialize)]
pub struct PersonalView {
    pub case_id: String,
    /// The stored record: `petitioner` (name, phone, ID number, address) and, for a group
    /// visit, `representatives`.
    pub data: serde_json::Value,
    /// SM3 of the record, equal to the digest in the `submitted` event.
    pub digest: String,
    /// The audit entry that recorded this read.
    pub audit_seq: i64,
}

/// What a key rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RotationReport {
    pub current_key: String,
    pub examined: u64,
    pub reencrypted: u64,
    /// Rows already under the current key (a resumed or repeated rotation).
    pub already_current: u64,
    /// Rows a concurrent writer changed while they were being re-encrypted (retried next run).
    pub skipped_concurrent: u64,
}

fn denial_error(d: Denial) -> AppError {
    match d {
        Denial::OutOfScope => AppError::NotFound(d.message().into()),
        Denial::RoleNotPermitted => AppError::Forbidden(d.message().into()),
        Denial::PersonalDataProtected => AppError::Protected(d.message().into()),
    }
}

impl App {
    /// The cipher that seals personal data.
    pub fn cipher(&self) -> &dyn DataCipher {
        self.inner.config.cipher.as_ref()
    }

    /// The actor as the policy sees it: roles, unit, and the unit's region and kind from the
    /// organisation tree. An unknown unit gives no region (the actor sees only its own cases).
    pub async fn principal(&self, actor: &Actor) -> Result<Principal, AppError> {
        let record = match &actor.unit {
            Some(unit) => self.store().unit(unit.as_str()).await?,
            None => None,
        };
        Ok(Principal {
            id: actor.id.clone(),
            roles: RoleSet::of(&actor.roles),
            unit: actor.unit.clone(),
            region: record
                .as_ref()
                .and_then(|u| RegionCode::parse(&u.region_code).ok()),
            unit_kind: record
                .as_ref()
                .map_or(UnitKind::Other, |u| UnitKind::parse(&u.kind)),
        })
    }

    /// Loads a case and checks `action` on it; a case outside the caller's scope is "not
    /// found", so its existence does not leak.
    pub async fn authorize_case(
        &self,
        actor: &Actor,
        case_id: &CaseId,
        action: Action,
    ) -> Result<(Principal, CaseState, bool), AppError> {
        let principal = self.principal(actor).await?;
        let hidden = || AppError::NotFound(Denial::OutOfScope.message().into());
        let Some(record) = self.store().case(case_id).await? else {
            return Err(hidden());
        };
        let cleared = self
            .store()
            .is_cleared(actor.id.as_str(), case_id.as_str())
            .await?;
        authorize(
            &principal,
            action,
            Some(&CaseFacts::of(&record.state, cleared)),
        )
        .map_err(denial_error)?;
        Ok((principal, record.state, cleared))
    }

    /// The case detail for staff, checked by the policy; for 检举控告 the masked petitioner is
    /// removed unless the caller is cleared (Art. 30).
    pub async fn case_view_for(
        &self,
        actor: &Actor,
        case_id: &CaseId,
    ) -> Result<CaseView, AppError> {
        let (principal, mut state, cleared) = self
            .authorize_case(actor, case_id, Action::ReadCase)
            .await?;
        if !shows_petitioner(&principal, &CaseFacts::of(&state, cleared)) {
            redact(&mut state);
        }
        Ok(views::case_view(self, state))
    }

    /// The events of a case for staff and auditors, with the same redaction.
    pub async fn events_for(
        &self,
        actor: &Actor,
        case_id: &CaseId,
    ) -> Result<Vec<StoredEvent>, AppError> {
        let (principal, state, cleared) = self
            .authorize_case(actor, case_id, Action::ReadEvents)
            .await?;
        let mut events = self.store().events_of(case_id).await?;
        if !shows_petitioner(&principal, &CaseFacts::of(&state, cleared)) {
            for e in &mut events {
                if let EventKind::Submitted { petition, .. } = &mut e.event.kind {
                    petition.petitioner_masked = None;
                    petition.proxy = None;
                }
            }
        }
        Ok(events)
    }

    /// Checks that the caller may run a command on the case (the lifecycle checks the rest).
    pub async fn authorize_command(
        &self,
        actor: &Actor,
        case_id: &CaseId,
        command: &'static str,
    ) -> Result<(), AppError> {
        self.authorize_case(actor, case_id, Action::Act(command))
            .await
            .map(|_| ())
    }

    /// The scope of lists, searches and exports for `actor`.
    pub async fn scope_of(&self, actor: &Actor) -> Result<Scope, AppError> {
        let principal = self.principal(actor).await?;
        authorize(&principal, Action::ReadList, None).map_err(denial_error)?;
        Ok(Scope::of(&principal))
    }

    /// Whether the caller may ask for another unit's work list: its own unit, or a unit inside
    /// a region its scope covers (rows are filtered by the scope in any case).
    pub async fn may_list_unit(&self, actor: &Actor, unit: &str) -> Result<bool, AppError> {
        if actor.unit.as_ref().is_some_and(|u| u.as_str() == unit) {
            return Ok(true);
        }
        let Some(record) = self.store().unit(unit).await? else {
            return Ok(false);
        };
        Ok(match self.scope_of(actor).await? {
            Scope::All => true,
            Scope::Nothing => false,
            Scope::Limited { regions, .. } => RegionCode::parse(&record.region_code)
                .is_ok_and(|r| regions.iter().any(|within| r.is_within(within))),
        })
    }

    /// A work list within the caller's scope (applied in SQL). Lists never show who filed a
    /// 检举控告, not even masked.
    pub async fn list_for(
        &self,
        actor: &Actor,
        mut filter: ListFilter,
    ) -> Result<Vec<CaseSummary>, AppError> {
        filter.scope = Some(self.scope_of(actor).await?);
        let mut items = self.store().list_cases(&filter).await?;
        for item in &mut items {
            if item.class.as_deref() == Some("accusation") {
                item.petitioner_masked = None;
            }
        }
        Ok(items)
    }

    /// The petitioner's personal data: checks the policy, opens the sealed record and writes
    /// an audit entry — for a successful read and for a refused attempt alike.
    pub async fn personal_data(
        &self,
        actor: &Actor,
        case_id: &CaseId,
    ) -> Result<PersonalView, AppError> {
        let at_ms = self.now().timestamp_millis();
        let entry = |action: &str, detail: serde_json::Value| {
            case_audit_entry(actor, case_id, at_ms, action, &detail)
        };
        let checked = self
            .authorize_case(actor, case_id, Action::ReadPersonalData)
            .await;
        let (_, state, cleared) = match checked {
            Ok(ok) => ok,
            Err(e) => {
                let reason = match &e {
                    AppError::NotFound(_) => "out_of_scope",
                    AppError::Protected(_) => "personal_data_protected",
                    AppError::Forbidden(_) => "role_not_permitted",
                    _ => "error",
                };
                self.store()
                    .append_audit(&entry(
                        "read_personal_data_refused",
                        serde_json::json!({ "reason": reason }),
                    ))
                    .await?;
                tracing::warn!(case_id = %case_id, actor = %actor.id, reason, "personal data refused");
                return Err(e);
            }
        };
        let Some((sealed, digest)) = self.store().personal_data(case_id).await? else {
            return Err(AppError::NotFound(
                "该信访事项没有登记个人信息（匿名）".into(),
            ));
        };
        let plain = self
            .cipher()
            .decrypt(&sealed, case_id.as_str().as_bytes())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("opening personal data: {e}")))?;
        let data: serde_json::Value = serde_json::from_slice(&plain)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("personal data JSON: {e}")))?;
        let protected = state.class == Some(huiyin_domain::petition::StatutoryClass::Accusation);
        let audit_seq = self
            .store()
            .append_audit(&entry(
                "read_personal_data",
                serde_json::json!({ "protected": protected, "cleared": cleared }),
            ))
            .await?;
        Ok(PersonalView {
            case_id: case_id.to_string(),
            data,
            digest,
            audit_seq,
        })
    }

    /// Clears `grantee` to see the petitioner of a case. Only someone who may see it and is a
    /// unit head (负责人) may grant; the grant is audited.
    pub async fn grant_clearance(
        &self,
        granter: &Actor,
        grantee: &ActorId,
        case_id: &CaseId,
    ) -> Result<bool, AppError> {
        self.authorize_case(granter, case_id, Action::ReadPersonalData)
            .await?;
        if !granter.has(huiyin_domain::case::Role::UnitHead) {
            return Err(AppError::Forbidden(
                "只有负责人可以授权查看信访人身份".into(),
            ));
        }
        let at_ms = self.now().timestamp_millis();
        let new = self
            .store()
            .grant_clearance(
                grantee.as_str(),
                case_id.as_str(),
                granter.id.as_str(),
                at_ms,
            )
            .await?;
        self.store()
            .append_audit(&case_audit_entry(
                granter,
                case_id,
                at_ms,
                "grant_clearance",
                &serde_json::json!({ "grantee": grantee.as_str(), "new": new }),
            ))
            .await?;
        Ok(new)
    }

    /// The audit trail for auditors: of one case (within the auditor's region), or all entries
    /// for a national auditor.
    pub async fn audit_for(
        &self,
        actor: &Actor,
        case_id: Option<&CaseId>,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, AppError> {
        match case_id {
            Some(case_id) => {
                self.authorize_case(actor, case_id, Action::ReadAudit)
                    .await?;
            }
            None => {
                let p = self.principal(actor).await?;
                authorize(&p, Action::ReadAudit, None).map_err(denial_error)?;
                if !p.roles.has(huiyin_domain::case::Role::System)
                    && p.region.as_ref().is_none_or(|r| r.as_str() != "0")
                {
                    return Err(AppError::invalid(
                        "case_id",
                        "case_id_required",
                        "请指定 case_id：只有国家级审计员可以查看全部审计记录",
                    ));
                }
            }
        }
        Ok(self
            .store()
            .audit_entries(case_id.map(|c| c.as_str()), before_seq, limit)
            .await?)
    }

    /// Re-encrypts every personal-data row that is not under the current key, in batches of
    /// `batch`. Idempotent and resumable: rows already under the current key are skipped, and
    /// each row is replaced only if unchanged since it was read.
    pub async fn reencrypt_personal_data(&self, batch: u32) -> Result<RotationReport, AppError> {
        let cipher = self.cipher();
        let current = cipher.current_key_id().to_string();
        let mut report = RotationReport {
            current_key: current.clone(),
            ..RotationReport::default()
        };
        let mut after = String::new();
        loop {
            let page = self.store().personal_data_page(&after, batch).await?;
            let Some((last, _, _)) = page.last() else {
                break;
            };
            let next_after = last.clone();
            for (case_id, sealed, digest) in page {
                report.examined += 1;
                if cipher.key_id_of(&sealed) == Some(current.as_str()) {
                    report.already_current += 1;
                    continue;
                }
                let aad = case_id.as_bytes();
                let plain = if cipher.key_id_of(&sealed).is_none()
                    && crate::secrets::personal_digest(&sealed) == digest
                {
                    // A row written before encryption at rest: plaintext whose digest matches.
                    sealed.as_bytes().to_vec()
                } else {
                    cipher.decrypt(&sealed, aad).map_err(|e| {
                        AppError::Internal(anyhow::anyhow!("case {case_id}: cannot open: {e}"))
                    })?
                };
                let resealed = cipher.encrypt(&plain, aad).map_err(|e| {
                    AppError::Internal(anyhow::anyhow!("case {case_id}: cannot seal: {e}"))
                })?;
                if self
                    .store()
                    .replace_personal_data(&case_id, &sealed, &resealed)
                    .await?
                {
                    report.reencrypted += 1;
                } else {
                    report.skipped_concurrent += 1;
                }
            }
            after = next_after;
        }
        self.store()
            .append_audit(&AuditEntry {
                at_ms: self.now().timestamp_millis(),
                actor: "system".into(),
                actor_unit: None,
                action: "rotate_data_key".into(),
                case_id: None,
                detail: serde_json::to_string(&report)
                    .map_err(|e| AppError::Internal(anyhow::anyhow!("report: {e}")))?,
            })
            .await?;
        Ok(report)
    }

    /// Key ids still used by some personal-data row (to know when an old key can be retired).
    pub async fn data_keys_in_use(&self) -> Result<Vec<String>, AppError> {
        let cipher = self.cipher();
        let mut ids = std::collections::BTreeSet::new();
        let mut after = String::new();
        loop {
            let page = self.store().personal_data_page(&after, 5000).await?;
            let Some((last, _, _)) = page.last() else {
                break;
            };
            let next_after = last.clone();
            for (_, sealed, _) in page {
                ids.insert(cipher.key_id_of(&sealed).unwrap_or("plaintext").to_string());
            }
            after = next_after;
        }
        Ok(ids.into_iter().collect())
    }
}

/// Removes the (masked) petitioner from a state shown to someone not cleared for it.
fn redact(state: &mut CaseState) {
    state.petition.petitioner_masked = None;
    state.petition.proxy = None;
}

/// An audit-trail entry for something `actor` did to or read of one case (personal data,
/// attachments, clearances): one shape for every such record.
pub(crate) fn case_audit_entry(
    actor: &Actor,
    case_id: &CaseId,
    at_ms: i64,
    action: &str,
    detail: &serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        at_ms,
        actor: actor.id.to_string(),
        actor_unit: actor.unit.as_ref().map(|u| u.to_string()),
        action: action.to_string(),
        case_id: Some(case_id.to_string()),
        detail: detail.to_string(),
    }
}
