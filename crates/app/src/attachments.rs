//! Attachments of a petition: images and PDFs, recognised by their content (magic bytes, never
//! the name or the client's media type), size-limited, sealed at rest with the personal-data
//! cipher (bound to the attachment id), owned by a draft until the petition is submitted.

use huiyin_domain::access::{Action, CaseFacts, Denial, shows_petitioner};
use huiyin_domain::case::Actor;
use huiyin_domain::ids::CaseId;
use huiyin_domain::petition::AttachmentMeta;
use huiyin_domain::values::FieldError;
use huiyin_store::AttachmentRecord;
use sm3::{Digest, Sm3};

use crate::{App, AppError};

/// The largest file accepted.
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;
/// The most files one petition carries (the domain allows more; a phone upload needs fewer).
pub const MAX_ATTACHMENTS: usize = 10;
/// The longest file name kept (longer names are shortened, keeping the extension).
pub const MAX_FILE_NAME_CHARS: usize = 80;
/// A draft id: 32 lowercase hex digits (128 random bits).
pub const DRAFT_ID_LEN: usize = 32;

/// The kinds of content accepted, recognised by their first bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// Whether `raw` is a well-formed draft id.
pub fn is_draft_id(raw: &str) -> bool {
    raw.len() == DRAFT_ID_LEN
        && raw
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A new random draft id.
pub fn new_draft_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The file name as kept: no directories, no control characters, at most
/// [`MAX_FILE_NAME_CHARS`] characters.
pub fn clean_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string();
    let cleaned = if cleaned.is_empty() {
        "file".to_string()
    } else {
        cleaned
    };
    if cleaned.chars().count() <= MAX_FILE_NAME_CHARS {
        return cleaned;
    }
    let ext: String = cleaned
        .rsplit_once('.')
        .map(|(_, e)| e.chars().take(8).collect())
        .unwrap_or_default();
    let keep = MAX_FILE_NAME_CHARS - ext.chars().count() - 1;
    let stem: String = cleaned.chars().take(keep).collect();
    if ext.is_empty() {
        stem
    } else {
        format!("{stem}.{ext}")
    }
}

/// Checks an upload: not empty, not too large, an image or a PDF by content.
pub fn check_upload(file_name: &str, bytes: &[u8]) -> Result<&'static str, FieldError> {
    if bytes.is_empty() {
        return Err(FieldError::new(
            "attachment_empty",
            format!("文件「{file_name}」是空的"),
        ));
    }
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(FieldError::new(
            "attachment_too_large",
            format!(
                "文件「{file_name}」超过{} MB，请压缩后再上传",
                MAX_ATTACHMENT_BYTES / (1024 * 1024)
            ),
        ));
    }
    sniff(bytes).ok_or_else(|| {
        FieldError::new(
            "attachment_type",
            format!(
                "文件「{file_name}」不是图片（JPEG、PNG、GIF、WebP）或 PDF 文件（按文件内容识别），已拒绝"
            ),
        )
    })
}

/// The metadata the petition's event keeps of a stored attachment.
pub fn meta(record: &AttachmentRecord) -> AttachmentMeta {
    AttachmentMeta {
        file_name: record.file_name.clone(),
        media_type: record.media_type.clone(),
        size_bytes: record.size_bytes,
        sm3: record.sm3.clone(),
    }
}

impl App {
    /// Stores an upload for a draft: checked by content, sealed, counted against the limit.
    /// A refused file is an [`AppError::Invalid`] on the field `attachments`.
    pub async fn upload_attachment(
        &self,
        draft_id: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<AttachmentRecord, AppError> {
        if !is_draft_id(draft_id) {
            return Err(AppError::invalid(
                "draft",
                "draft_invalid",
                "草稿编号无效，请从第一步重新开始",
            ));
        }
        let file_name = clean_file_name(file_name);
        let media_type = check_upload(&file_name, bytes)
            .map_err(|e| AppError::Invalid(vec![("attachments".to_string(), e)]))?;
        let existing = self.store().draft_attachments(draft_id).await?;
        if existing.len() >= MAX_ATTACHMENTS {
            return Err(AppError::invalid(
                "attachments",
                "attachments_too_many",
                format!("附件最多{MAX_ATTACHMENTS}个"),
            ));
        }
        let sm3 = hex::encode(Sm3::digest(bytes));
        if let Some(same) = existing.into_iter().find(|a| a.sm3 == sm3) {
            // The same file twice (a repeated upload after a dropped connection): kept once.
            return Ok(same);
        }
        let id = uuid::Uuid::now_v7().to_string();
        let sealed = self
            .cipher()
            .encrypt(bytes, id.as_bytes())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("sealing an attachment: {e}")))?;
        let record = AttachmentRecord {
            id,
            draft_id: draft_id.to_string(),
            case_id: None,
            file_name,
            media_type: media_type.to_string(),
            size_bytes: bytes.len() as u64,
            sm3,
            created_at_ms: self.now().timestamp_millis(),
        };
        self.store().put_attachment(&record, &sealed).await?;
        Ok(record)
    }

    /// The uploads of a draft (none for a malformed id).
    pub async fn draft_attachments(
        &self,
        draft_id: &str,
    ) -> Result<Vec<AttachmentRecord>, AppError> {
        if !is_draft_id(draft_id) {
            return Ok(Vec::new());
        }
        Ok(self.store().draft_attachments(draft_id).await?)
    }

    /// Removes an upload of a draft that is not submitted yet.
    pub async fn remove_draft_attachment(
        &self,
        draft_id: &str,
        id: &str,
    ) -> Result<bool, AppError> {
        Ok(self.store().remove_draft_attachment(draft_id, id).await?)
    }

    /// Links a draft's uploads to the case it became.
    pub async fn link_attachments(&self, draft_id: &str, case: &CaseId) -> Result<u64, AppError> {
        Ok(self.store().link_attachments(draft_id, case).await?)
    }

    /// The plain content of an attachment (for staff pages and downloads).
    pub async fn attachment_content(
        &self,
        id: &str,
    ) -> Result<(AttachmentRecord, Vec<u8>), AppError> {
        let (record, sealed) = self
            .store()
            .attachment(id)
            .await?
            .ok_or_else(|| AppError::NotFound("附件不存在".into()))?;
        let bytes = self
            .cipher()
            .decrypt(&sealed, record.id.as_bytes())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("opening an attachment: {e}")))?;
        Ok((record, bytes))
    }
}

/// The attachments of a case as a staff member may see them.
#[derive(Debug, Clone, Default)]
pub struct CaseAttachments {
    /// In stored order; `n` in a download address is the 1-based position here.
    pub items: Vec<AttachmentRecord>,
    /// The case has attachments the caller may not see: for 检举控告 they may identify the
    /// person reporting (Art. 30), so they go only to those who may see the petitioner.
    pub withheld: bool,
}

impl App {
    /// The attachments of a case, for anyone who may read the case; for a 检举控告 case whose
    /// petitioner the policy hides from the caller, none (only that some are withheld).
    pub async fn case_attachments_for(
        &self,
        actor: &Actor,
        case_id: &CaseId,
    ) -> Result<CaseAttachments, AppError> {
        let (principal, state, cleared) = self
            .authorize_case(actor, case_id, Action::ReadCase)
            .await?;
        let items = self.store().case_attachments(case_id).await?;
        if !shows_petitioner(&principal, &CaseFacts::of(&state, cleared)) {
            return Ok(CaseAttachments {
                withheld: !items.is_empty(),
                items: Vec::new(),
            });
        }
        Ok(CaseAttachments {
            items,
            withheld: false,
        })
    }

    /// The `n`th (1-based) attachment of a case, opened: for anyone who may read the case and,
    /// on a 检举控告 case, see its petitioner. Every read and every refused attempt is written
    /// to the audit trail, as for personal data.
    pub async fn case_attachment_for(
        &self,
        actor: &Actor,
        case_id: &CaseId,
        n: usize,
    ) -> Result<(AttachmentRecord, Vec<u8>), AppError> {
        let at_ms = self.now().timestamp_millis();
        let entry = |action: &str, detail: serde_json::Value| {
            crate::access::case_audit_entry(actor, case_id, at_ms, action, &detail)
        };
        let refused = |reason: &str| {
            entry(
                "read_attachment_refused",
                serde_json::json!({ "n": n, "reason": reason }),
            )
        };
        let (principal, state, cleared) = match self
            .authorize_case(actor, case_id, Action::ReadCase)
            .await
        {
            Ok(ok) => ok,
            Err(e) => {
                let reason = match &e {
                    AppError::NotFound(_) => "out_of_scope",
                    AppError::Protected(_) => "personal_data_protected",
                    AppError::Forbidden(_) => "role_not_permitted",
                    _ => "error",
                };
                self.store().append_audit(&refused(reason)).await?;
                tracing::warn!(case_id = %case_id, actor = %actor.id, reason, "attachment refused");
                return Err(e);
            }
        };
        if !shows_petitioner(&principal, &CaseFacts::of(&state, cleared)) {
            self.store()
                .append_audit(&refused("personal_data_protected"))
                .await?;
            tracing::warn!(case_id = %case_id, actor = %actor.id, "attachment refused: protected");
            return Err(AppError::Protected(
                Denial::PersonalDataProtected.message().into(),
            ));
        }
        let items = self.store().case_attachments(case_id).await?;
        let Some(record) = n.checked_sub(1).and_then(|i| items.get(i)) else {
            return Err(AppError::NotFound("附件不存在".into()));
        };
        let (record, bytes) = self.attachment_content(&record.id).await?;
        let protected = state.class == Some(huiyin_domain::petition::StatutoryClass::Accusation);
        self.store()
            .append_audit(&entry(
                "read_attachment",
                serde_json::json!({
                    "n": n,
                    "attachment": record.id,
                    "sm3": record.sm3,
                    "protected": protected,
                    "cleared": cleared,
                }),
            ))
            .await?;
        Ok((record, bytes))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn content_decides_not_the_name() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some("image/jpeg"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"MZ\x90\x00 an exe"), None);
        assert!(check_upload("photo.jpg", b"MZ\x90\x00").is_err());
        assert_eq!(
            check_upload("x", b"").map_err(|e| e.code),
            Err("attachment_empty")
        );
        let big = vec![0xFFu8; MAX_ATTACHMENT_BYTES + 1];
        assert_eq!(
            check_upload("x.jpg", &big).map_err(|e| e.code),
            Err("attachment_too_large")
        );
    }

    #[test]
    fn file_names_lose_paths_and_length() {
        assert_eq!(clean_file_name("C:\\Users\\a\\照片.jpg"), "照片.jpg");
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        let long = format!("{}.pdf", "长".repeat(200));
        let c = clean_file_name(&long);
        assert_eq!(c.chars().count(), MAX_FILE_NAME_CHARS);
        assert!(c.ends_with(".pdf"));
        assert!(is_draft_id(&new_draft_id()));
        assert!(!is_draft_id("../x"));
    }
}
