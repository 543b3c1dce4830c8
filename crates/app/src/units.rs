//! The administrators' unit use cases (组织机构管理): find units (retired ones too), read one
//! with its history, add a unit, rename it, merge it into another (撤并) and retire it (撤销).
//!
//! Units are never deleted: a merged or retired unit keeps its id, so the cases it handled keep
//! pointing at it. An administrator changes only units inside the region of their own unit (a
//! national unit's administrator, anywhere). Each change is checked first, then written with
//! the unit's history and the administrator's audit entry in ONE transaction
//! ([`huiyin_store::Store::rename_unit`] and its siblings), so a refused change leaves nothing.
//! Adding goes through the same checks as `huiyin org import --file` (a one-row units file),
//! so the command line and the page cannot disagree about what a valid unit is.

use huiyin_domain::access::{Action, authorize};
use huiyin_domain::case::Actor;
use huiyin_domain::values::{FieldError, RegionCode};
use huiyin_org::extra::{MAX_ID_LEN, MAX_NAME_CHARS};
use huiyin_org::{OrgError, UnitKind};
use huiyin_store::{OrgImportError, OrgUnit, UnitHistoryEntry, UnitSearch};

use crate::{App, AppError};

/// A unit as an administrator enters it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUnit {
    pub id: String,
    pub name: String,
    /// A [`UnitKind`] code (`petition_bureau`, `department`, …).
    pub kind: String,
    /// GB/T 2260 code of the unit's region (`0` for national units).
    pub region_code: String,
    pub parent_id: String,
    /// For a department: its field (e.g. `hrss`); empty otherwise.
    pub department: String,
}

/// One unit as the administrators' page shows it.
#[derive(Debug, Clone)]
pub struct UnitDetail {
    pub unit: OrgUnit,
    pub parent: Option<OrgUnit>,
    /// For a merged unit: the active unit that now does its work (after following merges).
    pub successor: Option<OrgUnit>,
    /// Active units directly below it.
    pub children: Vec<OrgUnit>,
    pub history: Vec<UnitHistoryEntry>,
    /// Whether the signed-in administrator may change it.
    pub may_change: bool,
}

fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> AppError {
    AppError::Invalid(vec![(field.to_string(), FieldError::new(code, message))])
}

/// The form field a units-file line error belongs to.
fn field_of(code: &str) -> &'static str {
    match code {
        "unit_id_invalid" | "unit_duplicate" => "id",
        "unit_name_invalid" => "name",
        "unit_kind_unknown" => "kind",
        "region_code_invalid" | "region_unknown" => "region_code",
        _ => "parent_id",
    }
}

/// One CSV field, always quoted (the units file's reader undoes it).
fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl App {
    /// Checks that `actor` may manage units and returns the region of their unit, for the rule
    /// that an administrator changes only units inside it (one read of the principal).
    async fn unit_admin(&self, actor: &Actor) -> Result<Option<RegionCode>, AppError> {
        let principal = self.principal(actor).await?;
        authorize(&principal, Action::ManageUnits, None)
            .map_err(|d| AppError::Forbidden(d.message().into()))?;
        Ok(principal.region)
    }

    fn covers(region: &Option<RegionCode>, unit_region: &str) -> bool {
        match (region, RegionCode::parse(unit_region)) {
            (Some(r), Ok(u)) => u.is_within(r),
            _ => false,
        }
    }

    /// Refuses a change to `unit` by an administrator whose region does not contain it.
    fn check_covers(region: &Option<RegionCode>, unit: &OrgUnit) -> Result<(), AppError> {
        if Self::covers(region, &unit.region_code) {
            return Ok(());
        }
        Err(AppError::Forbidden(format!(
            "{}（{}）不在本单位所辖区域内：只能由其所在地区或上级的管理员调整",
            unit.name, unit.id
        )))
    }

    async fn existing_unit(&self, id: &str) -> Result<OrgUnit, AppError> {
        self.store()
            .org_unit(id.trim())
            .await?
            .ok_or_else(|| AppError::NotFound(format!("单位 {} 不存在", id.trim())))
    }

    /// Units whose name contains `q` inside `region` (a GB/T 2260 prefix, empty for all),
    /// retired and merged ones too, at most `limit`.
    pub async fn admin_find_units(
        &self,
        actor: &Actor,
        q: &str,
        region: &str,
        kind: &str,
        limit: u32,
    ) -> Result<Vec<OrgUnit>, AppError> {
        self.unit_admin(actor).await?;
        let region = region.trim();
        if !region.is_empty() && RegionCode::parse(region).is_err() {
            return Err(invalid(
                "region",
                "region_code_invalid",
                format!("地区代码 `{region}` 无效：应为 2、4、6 位或乡镇的 9 位数字"),
            ));
        }
        let kind = kind.trim();
        if !kind.is_empty() && UnitKind::parse(kind).is_none() {
            return Err(invalid("kind", "unit_kind_unknown", "单位类型未知"));
        }
        Ok(self
            .store()
            .search_units(&UnitSearch {
                name: q.trim().chars().take(50).collect(),
                region: Some(region.to_string()).filter(|r| !r.is_empty() && r != "0"),
                kind: Some(kind.to_string()).filter(|k| !k.is_empty()),
                limit,
                with_retired: true,
            })
            .await?)
    }

    /// One unit with its parent, successor, active sub-units and history.
    pub async fn admin_unit(&self, actor: &Actor, id: &str) -> Result<UnitDetail, AppError> {
        let admin_region = self.unit_admin(actor).await?;
        let unit = self.existing_unit(id).await?;
        let store = self.store();
        let parent = match &unit.parent_id {
            Some(p) => store.org_unit(p).await?,
            None => None,
        };
        let successor = if unit.successor_id.is_some() {
            store.current_successor(&unit.id).await?
        } else {
            None
        };
        let children = store
            .children_of(&unit.id)
            .await?
            .into_iter()
            .filter(OrgUnit::is_active)
            .collect();
        let history = store.unit_history(&unit.id).await?;
        Ok(UnitDetail {
            may_change: Self::covers(&admin_region, &unit.region_code),
            unit,
            parent,
            successor,
            children,
            history,
        })
    }

    /// Adds a unit under an active parent, audited. The id must be new.
    pub async fn admin_add_unit(&self, actor: &Actor, new: &NewUnit) -> Result<OrgUnit, AppError> {
        let admin_region = self.unit_admin(actor).await?;
        let id = new.id.trim();
        let name = new.name.trim();
        let kind = new.kind.trim();
        let region = new.region_code.trim();
        let parent = new.parent_id.trim();
        let department = new.department.trim();
        let mut errors = Vec::new();
        let mut bad = |field: &str, code: &'static str, message: String| {
            errors.push((field.to_string(), FieldError::new(code, message)));
        };
        if id.is_empty()
            || id.len() > MAX_ID_LEN
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            bad(
                "id",
                "unit_id_invalid",
                format!("单位编号只能用字母、数字、- 和 _，1到{MAX_ID_LEN}个字符，例如 4406-xfj"),
            );
        }
        if name.is_empty() {
            bad("name", "unit_name_required", "请填写单位名称".into());
        } else if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            bad(
                "name",
                "unit_name_invalid",
                format!("单位名称不超过{MAX_NAME_CHARS}个字，且不能含换行等控制字符"),
            );
        }
        match UnitKind::parse(kind) {
            None => bad("kind", "unit_kind_unknown", "请选择单位类型".into()),
            Some(UnitKind::Department) => {}
            Some(_) if !department.is_empty() => bad(
                "department",
                "unit_department_unexpected",
                "只有职能部门需要填写部门领域".into(),
            ),
            Some(_) => {}
        }
        if department
            .chars()
            .any(|c| !c.is_ascii_alphanumeric() && c != '_')
        {
            bad(
                "department",
                "unit_department_invalid",
                "部门领域代码只能用字母、数字和 _，例如 hrss".into(),
            );
        }
        if let Err(e) = RegionCode::parse(region) {
            bad("region_code", e.code, e.message);
        }
        let parent_unit = if parent.is_empty() {
            bad(
                "parent_id",
                "unit_parent_unknown",
                "请填写上级单位编号".into(),
            );
            None
        } else {
            match self.store().org_unit(parent).await? {
                None => {
                    bad(
                        "parent_id",
                        "unit_parent_unknown",
                        format!("上级单位 {parent} 不存在"),
                    );
                    None
                }
                Some(p) if !p.is_active() => {
                    bad(
                        "parent_id",
                        "unit_parent_retired",
                        format!("上级单位 {}（{parent}）已撤销或已合并", p.name),
                    );
                    None
                }
                Some(p) => Some(p),
            }
        };
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        if let Ok(r) = RegionCode::parse(region)
            && !admin_region.as_ref().is_some_and(|a| r.is_within(a))
        {
            return Err(invalid(
                "region_code",
                "unit_out_of_reach",
                format!("地区 {region} 不在本单位所辖区域内"),
            ));
        }
        if let Some(p) = &parent_unit {
            Self::check_covers(&admin_region, p)?;
        }
        if self.store().org_unit(id).await?.is_some() {
            return Err(invalid(
                "id",
                "unit_exists",
                format!("单位编号 {id} 已被使用（编号不会重复使用，撤销的单位也保留编号）"),
            ));
        }
        let csv = format!(
            "id,name,kind,region,parent,department\n{}\n",
            [id, name, kind, region, parent, department]
                .map(csv_field)
                .join(",")
        );
        let entry = self.admin_entry(
            actor,
            "admin_add_unit",
            serde_json::json!({"id": id, "name": name, "kind": kind, "region": region, "parent": parent}),
        );
        match self
            .store()
            .add_units_csv(&csv, self.now().timestamp_millis(), Some(&entry))
            .await
        {
            Ok(_) => {}
            Err(OrgImportError::Rejected(OrgError::Lines(lines))) => {
                return Err(AppError::Invalid(
                    lines
                        .into_iter()
                        .map(|l| {
                            (
                                field_of(l.code).to_string(),
                                FieldError::new(l.code, l.message),
                            )
                        })
                        .collect(),
                ));
            }
            Err(OrgImportError::Rejected(other)) => {
                return Err(invalid("id", "unit_invalid", other.to_string()));
            }
            Err(OrgImportError::Store(e)) => return Err(e.into()),
        }
        self.existing_unit(id).await
    }

    /// Renames a unit, audited. Returns false if it had that name already.
    pub async fn admin_rename_unit(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
    ) -> Result<bool, AppError> {
        let admin_region = self.unit_admin(actor).await?;
        let unit = self.existing_unit(id).await?;
        Self::check_covers(&admin_region, &unit)?;
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(invalid(
                "name",
                "unit_name_invalid",
                format!("单位名称不能为空，不超过{MAX_NAME_CHARS}个字，且不能含换行"),
            ));
        }
        if !unit.is_active() {
            return Err(invalid(
                "name",
                "unit_retired",
                "单位已撤销或已合并，名称保留为撤销时的名称",
            ));
        }
        let entry = self.admin_entry(
            actor,
            "admin_rename_unit",
            serde_json::json!({"id": unit.id, "from": unit.name, "to": name}),
        );
        Ok(self
            .store()
            .rename_unit(&unit.id, name, self.now().timestamp_millis(), Some(&entry))
            .await?)
    }

    /// Merges unit `id` into `into` (its active sub-units move there), audited.
    pub async fn admin_merge_unit(
        &self,
        actor: &Actor,
        id: &str,
        into: &str,
    ) -> Result<(), AppError> {
        let admin_region = self.unit_admin(actor).await?;
        let unit = self.existing_unit(id).await?;
        let into = into.trim();
        if into.is_empty() {
            return Err(invalid(
                "into",
                "unit_target_required",
                "请填写并入的单位编号",
            ));
        }
        let Some(target) = self.store().org_unit(into).await? else {
            return Err(invalid(
                "into",
                "unit_target_unknown",
                format!("单位 {into} 不存在"),
            ));
        };
        Self::check_covers(&admin_region, &unit)?;
        Self::check_covers(&admin_region, &target)?;
        let entry = self.admin_entry(
            actor,
            "admin_merge_unit",
            serde_json::json!({"id": unit.id, "into": target.id}),
        );
        self.store()
            .merge_unit(
                &unit.id,
                &target.id,
                self.now().timestamp_millis(),
                Some(&entry),
            )
            .await
            .map_err(|e| match AppError::from(e) {
                AppError::Conflict(m) => invalid("into", "unit_merge_refused", m),
                other => other,
            })
    }

    /// Retires a unit without active sub-units, audited.
    pub async fn admin_retire_unit(&self, actor: &Actor, id: &str) -> Result<(), AppError> {
        let admin_region = self.unit_admin(actor).await?;
        let unit = self.existing_unit(id).await?;
        Self::check_covers(&admin_region, &unit)?;
        let entry = self.admin_entry(
            actor,
            "admin_retire_unit",
            serde_json::json!({"id": unit.id, "name": unit.name}),
        );
        self.store()
            .retire_unit(&unit.id, self.now().timestamp_millis(), Some(&entry))
            .await
            .map_err(|e| match AppError::from(e) {
                AppError::Conflict(m) => invalid("retire", "unit_retire_refused", m),
                other => other,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_survive_quotes_and_commas() {
        assert_eq!(csv_field(r#"a"b,c"#), r#""a""b,c""#);
        let line = ["x", r#"某"局",二"#].map(csv_field).join(",");
        let parsed = huiyin_org::extra::parse_csv(&format!(
            "id,name,kind,region,parent\n{line},\"department\",\"4406\",\"p\"\n"
        ));
        assert!(parsed.is_ok(), "{parsed:?}");
        assert_eq!(parsed.unwrap_or_default()[0].unit.name, r#"某"局",二"#);
    }

    #[test]
    fn every_line_code_lands_on_a_field() {
        for (code, field) in [
            ("unit_id_invalid", "id"),
            ("unit_duplicate", "id"),
            ("unit_name_invalid", "name"),
            ("unit_kind_unknown", "kind"),
            ("region_unknown", "region_code"),
            ("unit_cycle", "parent_id"),
            ("parent_missing", "parent_id"),
        ] {
            assert_eq!(field_of(code), field, "{code}");
        }
    }
}
