//! The staff workbench's reads: a unit's inbox with its filter counts, and the unit picker.
//! The inbox is a unit's own work list, so the caller must be allowed that unit's list (the
//! same rule as [`App::may_list_unit`]); lists never show who filed a 检举控告.

use huiyin_domain::access::{Action, CaseFacts, authorize};
use huiyin_domain::case::{Actor, Command, Ctx, Rejection, decide};
use huiyin_domain::ids::CaseId;
use huiyin_store::{CaseSummary, InboxCounts, InboxFilter, OrgUnit, UnitSearch};

use crate::{App, AppError};

impl App {
    /// One page of the inbox of `filter.unit`, most urgent first.
    pub async fn inbox_for(
        &self,
        actor: &Actor,
        filter: &InboxFilter,
    ) -> Result<Vec<CaseSummary>, AppError> {
        self.check_inbox(actor, &filter.unit).await?;
        let mut items = self.store().inbox(filter).await?;
        for item in &mut items {
            if item.class.as_deref() == Some("accusation") {
                item.petitioner_masked = None;
            }
        }
        Ok(items)
    }

    /// How many cases the inbox shows with `filter` (all pages), for the size of an export.
    pub async fn inbox_count_for(
        &self,
        actor: &Actor,
        filter: &InboxFilter,
    ) -> Result<u64, AppError> {
        self.check_inbox(actor, &filter.unit).await?;
        let n = self.store().inbox_count(filter).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The counts per filter value of a unit's inbox.
    pub async fn inbox_counts_for(
        &self,
        actor: &Actor,
        unit: &str,
        open_only: bool,
    ) -> Result<InboxCounts, AppError> {
        self.check_inbox(actor, unit).await?;
        Ok(self
            .store()
            .inbox_counts(unit, open_only, self.now().timestamp_millis())
            .await?)
    }

    async fn check_inbox(&self, actor: &Actor, unit: &str) -> Result<(), AppError> {
        // Reading lists at all is a role question; which unit is a scope question.
        self.scope_of(actor).await?;
        if !self.may_list_unit(actor, unit).await? {
            return Err(AppError::Forbidden("只能查看本单位或下级单位的案件".into()));
        }
        Ok(())
    }

    /// The unit picker: any staff member may search the organisation tree.
    pub async fn search_units(
        &self,
        actor: &Actor,
        search: &UnitSearch,
    ) -> Result<Vec<OrgUnit>, AppError> {
        let principal = self.principal(actor).await?;
        authorize(&principal, Action::ReadUnits, None)
            .map_err(|d| AppError::Forbidden(d.message().into()))?;
        Ok(self.store().search_units(search).await?)
    }

    /// Which of `candidates` the actor may run on the case now: the access policy allows the
    /// command and the lifecycle, asked in a dry run with the candidate's placeholder
    /// arguments, does not refuse it for its stage, role, period or state. A refusal of an
    /// argument only (e.g. a placeholder date) still counts as available: the real form
    /// supplies the real arguments. Nothing is written.
    pub async fn available_commands(
        &self,
        actor: &Actor,
        case_id: &CaseId,
        candidates: Vec<Command>,
    ) -> Result<Vec<&'static str>, AppError> {
        let principal = self.principal(actor).await?;
        let Some(record) = self.store().case(case_id).await? else {
            return Ok(Vec::new());
        };
        let cleared = self
            .store()
            .is_cleared(actor.id.as_str(), case_id.as_str())
            .await?;
        let actor = self.with_oversight(actor.clone(), case_id).await?;
        let state = record.state;
        let policy = self.policy_for(&state);
        let calendar = self.calendar();
        let ctx = Ctx {
            now: self.now(),
            actor: &actor,
            policy: &policy,
            calendar: &calendar,
        };
        let facts = CaseFacts::of(&state, cleared);
        let mut out = Vec::new();
        for command in candidates {
            let name = command.name();
            if authorize(&principal, Action::Act(name), Some(&facts)).is_err() {
                continue;
            }
            match decide(Some(&state), case_id, command, &ctx) {
                Ok(_) | Err(Rejection::Invalid { .. }) => out.push(name),
                Err(_) => {}
            }
        }
        Ok(out)
    }

    /// The deadline policies in force (national defaults and overrides), for administrators.
    pub fn policies(&self) -> &huiyin_domain::policy::PolicySet {
        &self.inner.config.policies
    }
}
