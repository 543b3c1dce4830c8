-- Attachments of petitions (issue 4, the portal): images and PDFs a petitioner uploads while
-- filling in the steps. The content is checked by its bytes on upload and stored sealed
-- (SM4-GCM through the app's DataCipher, bound to the attachment id) like other personal data.
-- An upload belongs to a draft (the random id of an unfinished submission) until the petition
-- is submitted; then it is linked to the case. The petition's event keeps only the metadata
-- (file name, media type, size, SM3 of the content).
CREATE TABLE attachments (
    id          TEXT PRIMARY KEY,
    draft_id    TEXT NOT NULL,
    case_id     TEXT,
    file_name   TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    size_bytes  BIGINT NOT NULL,
    sm3         TEXT NOT NULL,
    content     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX attachments_draft ON attachments(draft_id, created_at);
CREATE INDEX attachments_case ON attachments(case_id);
