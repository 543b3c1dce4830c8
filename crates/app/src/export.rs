//! Exports (导出) of lists and tables to CSV and Excel (xlsx), issue 8.
//!
//! A table is its columns (a Chinese and an English name and a width) and rows that a
//! [`RowSource`] hands over page by page (keyset paging in the store: never the whole list in
//! memory). The rows go through a bounded channel to a [`TableWriter`] on a blocking thread,
//! which writes them as they arrive: CSV straight to its sink (UTF-8 with a byte-order mark,
//! RFC 4180, cells that begin with `=`, `+`, `-` or `@` defused), xlsx through
//! `rust_xlsxwriter`'s constant-memory worksheet (each row goes to a temp file at once and is
//! compressed into the workbook when it is saved). The header row is bold and frozen, the
//! columns have their widths, dates are text (`YYYY-MM-DD HH:MM`, China time).
//!
//! Small exports are written at once into memory ([`App::export_now`]); big ones run in the
//! background ([`App::start_export`]) into a file in the export directory, with the rows
//! written so far for a progress page, and may be downloaded only by who asked, until they
//! expire ([`EXPIRES_AFTER_MS`]); expired files are deleted. Every export is audited (`export`:
//! who, which list, which format, how many rows). Lists never carry who filed a 检举控告; the
//! sources in the web layer blank that column, whatever the caller's clearances.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use huiyin_domain::case::Actor;
use huiyin_store::AuditEntry;
use rust_xlsxwriter::{Format, FormatAlign, Workbook};

use crate::{App, AppError};

/// Rows up to which an export is written at once; a longer list runs in the background.
pub const IMMEDIATE_ROWS: u64 = 5_000;
/// How long a finished background export may be downloaded (24 h).
pub const EXPIRES_AFTER_MS: i64 = 24 * 3600 * 1000;
/// The most data rows an xlsx worksheet holds (Excel's 1,048,576 rows less the header).
pub const XLSX_MAX_ROWS: u64 = 1_048_575;
/// Background exports one person may have running at once.
pub const MAX_RUNNING_PER_USER: usize = 2;
/// Pages in flight between the reader and the writer (bounds the memory an export holds).
const PAGES_IN_FLIGHT: usize = 2;

/// A column of an exported table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    pub zh: &'static str,
    pub en: &'static str,
    /// Width in Excel character units.
    pub width: f64,
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    /// A number shown with this many decimals in CSV (a plain number in xlsx).
    Decimal(f64, usize),
    Empty,
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

/// The file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    /// `csv` or `xlsx`; anything else is a field error with code `format_unknown`.
    pub fn parse(raw: &str) -> Result<ExportFormat, AppError> {
        match raw.trim() {
            "csv" => Ok(ExportFormat::Csv),
            "xlsx" => Ok(ExportFormat::Xlsx),
            other => Err(AppError::invalid(
                "format",
                "format_unknown",
                format!("导出格式「{other}」不可用，可选 xlsx（Excel）或 csv"),
            )),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }
}

/// One CSV field (RFC 4180), with a leading `=`, `+`, `-` or `@` defused (prefixed with `'`)
/// so a spreadsheet does not run it as a formula.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Milliseconds as `YYYY-MM-DD HH:MM` in China time (empty when out of range).
pub fn china_minute(ms: i64) -> String {
    let cst = chrono::FixedOffset::east_opt(8 * 3600);
    match (chrono::DateTime::from_timestamp_millis(ms), cst) {
        (Some(t), Some(cst)) => t.with_timezone(&cst).format("%Y-%m-%d %H:%M").to_string(),
        _ => String::new(),
    }
}

fn write_failed(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("export: writing failed: {e}"))
}

enum Sink<W: Write + Send> {
    Csv(std::io::BufWriter<W>),
    Xlsx {
        book: Box<Workbook>,
        out: W,
        row: u32,
    },
}

/// Writes one table, row after row, as CSV or xlsx.
pub struct TableWriter<W: Write + Send> {
    sink: Sink<W>,
    rows: u64,
}

impl<W: Write + Send> TableWriter<W> {
    /// Starts a table with its header row. `tempdir` is where an xlsx worksheet spools its
    /// rows (the system's temp directory without one).
    pub fn new(
        format: ExportFormat,
        sheet: &str,
        header: &[String],
        widths: &[f64],
        out: W,
        tempdir: Option<&Path>,
    ) -> Result<Self, AppError> {
        let sink = match format {
            ExportFormat::Csv => {
                let mut w = std::io::BufWriter::with_capacity(64 * 1024, out);
                w.write_all("\u{feff}".as_bytes()).map_err(write_failed)?;
                let line: Vec<String> = header.iter().map(|h| csv_field(h)).collect();
                w.write_all(line.join(",").as_bytes())
                    .map_err(write_failed)?;
                w.write_all(b"\r\n").map_err(write_failed)?;
                Sink::Csv(w)
            }
            ExportFormat::Xlsx => {
                let mut book = Box::new(Workbook::new());
                if let Some(dir) = tempdir {
                    book.set_tempdir(dir).map_err(write_failed)?;
                }
                let bold = Format::new().set_bold().set_align(FormatAlign::Center);
                let ws = book
                    .add_worksheet_with_constant_memory()
                    .map_err(write_failed)?;
                ws.set_name(sheet).map_err(write_failed)?;
                for (c, w) in widths.iter().enumerate() {
                    ws.set_column_width(c as u16, *w).map_err(write_failed)?;
                }
                for (c, h) in header.iter().enumerate() {
                    ws.write_string_with_format(0, c as u16, h, &bold)
                        .map_err(write_failed)?;
                }
                ws.set_freeze_panes(1, 0).map_err(write_failed)?;
                Sink::Xlsx { book, out, row: 0 }
            }
        };
        Ok(TableWriter { sink, rows: 0 })
    }

    /// Data rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn row(&mut self, cells: &[Cell]) -> Result<(), AppError> {
        match &mut self.sink {
            Sink::Csv(w) => {
                let mut line = String::with_capacity(cells.len() * 16);
                for (i, cell) in cells.iter().enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    match cell {
                        Cell::Text(s) => line.push_str(&csv_field(s)),
                        Cell::Number(n) => line.push_str(&n.to_string()),
                        Cell::Decimal(n, places) => line.push_str(&format!("{n:.places$}")),
                        Cell::Empty => {}
                    }
                }
                line.push_str("\r\n");
                w.write_all(line.as_bytes()).map_err(write_failed)?;
            }
            Sink::Xlsx { book, row, .. } => {
                if u64::from(*row) >= XLSX_MAX_ROWS {
                    return Err(AppError::invalid(
                        "format",
                        "export_too_large",
                        format!(
                            "Excel 工作表最多 {XLSX_MAX_ROWS} 行，请缩小筛选范围或改用 CSV 导出"
                        ),
                    ));
                }
                *row += 1;
                let ws = book.worksheet_from_index(0).map_err(write_failed)?;
                for (c, cell) in cells.iter().enumerate() {
                    match cell {
                        Cell::Text(s) if !s.is_empty() => {
                            ws.write_string(*row, c as u16, s).map_err(write_failed)?;
                        }
                        Cell::Number(n) | Cell::Decimal(n, _) => {
                            ws.write_number(*row, c as u16, *n).map_err(write_failed)?;
                        }
                        _ => {}
                    }
                }
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Finishes the file and hands back the sink.
    pub fn finish(self) -> Result<W, AppError> {
        match self.sink {
            Sink::Csv(w) => w.into_inner().map_err(|e| write_failed(e.error())),
            Sink::Xlsx {
                mut book, mut out, ..
            } => {
                book.save_to_writer(&mut out).map_err(write_failed)?;
                out.flush().map_err(write_failed)?;
                Ok(out)
            }
        }
    }
}

/// Where an export's rows come from: one page at a time (an empty page or `None` ends it).
/// Each page is read with the caller's scope (the same store queries the list pages use).
pub trait RowSource: Send + 'static {
    fn next_page(
        &mut self,
        app: &App,
    ) -> impl Future<Output = Result<Option<Vec<Vec<Cell>>>, AppError>> + Send;
}

/// A table that is already in memory (e.g. the statistics table).
pub struct Rows(pub Option<Vec<Vec<Cell>>>);

impl RowSource for Rows {
    async fn next_page(&mut self, _app: &App) -> Result<Option<Vec<Vec<Cell>>>, AppError> {
        Ok(self.0.take())
    }
}

/// What is exported: which list (for the audit trail and the file name), in which format,
/// with which header.
#[derive(Debug, Clone)]
pub struct ExportSpec {
    /// The list's name, e.g. `inbox`, `search`, `stats`.
    pub list: String,
    /// What the list was filtered by (for the audit trail; never personal data).
    pub filters: String,
    pub format: ExportFormat,
    /// The worksheet's name.
    pub sheet: String,
    pub columns: Vec<Column>,
    /// English headers instead of Chinese.
    pub english: bool,
}

impl ExportSpec {
    fn header(&self) -> (Vec<String>, Vec<f64>) {
        self.columns
            .iter()
            .map(|c| (if self.english { c.en } else { c.zh }.to_string(), c.width))
            .unzip()
    }
}

/// Reads the pages of `source` and writes them on a blocking thread as they come; returns
/// the sink and the rows written. `written` counts the rows as they go.
pub async fn write_table<S: RowSource, W: Write + Send + 'static>(
    app: &App,
    spec: &ExportSpec,
    source: &mut S,
    out: W,
    tempdir: Option<PathBuf>,
    written: Arc<AtomicU64>,
) -> Result<(W, u64), AppError> {
    let (header, widths) = spec.header();
    let format = spec.format;
    let sheet = spec.sheet.clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Vec<Cell>>>(PAGES_IN_FLIGHT);
    let counter = written.clone();
    let writer = tokio::task::spawn_blocking(move || -> Result<(W, u64), AppError> {
        let mut table =
            TableWriter::new(format, &sheet, &header, &widths, out, tempdir.as_deref())?;
        while let Some(page) = rx.blocking_recv() {
            for row in &page {
                table.row(row)?;
            }
            counter.store(table.rows(), Ordering::Relaxed);
        }
        let rows = table.rows();
        Ok((table.finish()?, rows))
    });
    let mut read_error = None;
    loop {
        match source.next_page(app).await {
            Ok(Some(page)) if !page.is_empty() => {
                if tx.send(page).await.is_err() {
                    // The writer stopped: its error is the answer.
                    break;
                }
            }
            Ok(_) => break,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("export writer: {e}")))?;
    if let Some(e) = read_error {
        return Err(e);
    }
    written
}

/// The state of a background export.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ExportState {
    Running,
    Done { rows: u64 },
    Failed { message: String },
}

/// What the progress page shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportStatus {
    pub id: String,
    pub list: String,
    pub format: ExportFormat,
    pub written: u64,
    /// Rows expected (counted with the same filters when the export began).
    pub estimate: u64,
    pub state: ExportState,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub file_name: String,
}

struct Job {
    owner: String,
    list: String,
    format: ExportFormat,
    file_name: String,
    path: PathBuf,
    estimate: u64,
    written: Arc<AtomicU64>,
    state: Arc<Mutex<ExportState>>,
    created_at_ms: i64,
}

impl Job {
    fn status(&self, id: &str) -> ExportStatus {
        ExportStatus {
            id: id.to_string(),
            list: self.list.clone(),
            format: self.format,
            written: self.written.load(Ordering::Relaxed),
            estimate: self.estimate,
            state: self
                .state
                .lock()
                .map(|s| s.clone())
                .unwrap_or(ExportState::Failed {
                    message: "导出状态不可读".into(),
                }),
            created_at_ms: self.created_at_ms,
            expires_at_ms: self.created_at_ms + EXPIRES_AFTER_MS,
            file_name: self.file_name.clone(),
        }
    }
}

/// The background exports of this process and the directory their files go to.
pub struct ExportJobs {
    dir: PathBuf,
    jobs: Mutex<HashMap<String, Job>>,
}

impl ExportJobs {
    pub fn new(dir: PathBuf) -> Self {
        ExportJobs {
            dir,
            jobs: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Job>>, AppError> {
        self.jobs
            .lock()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("export registry poisoned")))
    }

    /// Forgets expired exports and deletes their files; also deletes files left in the
    /// directory by an earlier process once they are older than the expiry.
    fn sweep(&self, now_ms: i64) -> Result<(), AppError> {
        let expired: Vec<PathBuf> = {
            let mut jobs = self.lock()?;
            let gone: Vec<String> = jobs
                .iter()
                .filter(|(_, j)| {
                    now_ms >= j.created_at_ms + EXPIRES_AFTER_MS
                        && !matches!(j.state.lock().as_deref(), Ok(ExportState::Running))
                })
                .map(|(id, _)| id.clone())
                .collect();
            gone.iter()
                .filter_map(|id| jobs.remove(id).map(|j| j.path))
                .collect()
        };
        for path in expired {
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), error = %e, "expired export not deleted");
            }
        }
        // Files of an earlier process (its registry is gone): by their age on disk.
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            let known: Vec<PathBuf> = self.lock()?.values().map(|j| j.path.clone()).collect();
            for entry in entries.flatten() {
                let path = entry.path();
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age.as_millis() as i64 >= EXPIRES_AFTER_MS);
                if old && !known.contains(&path) {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(())
    }
}

fn export_entry(actor: &Actor, at_ms: i64, detail: serde_json::Value) -> AuditEntry {
    AuditEntry {
        at_ms,
        actor: actor.id.to_string(),
        actor_unit: actor.unit.as_ref().map(|u| u.to_string()),
        action: "export".into(),
        case_id: None,
        detail: detail.to_string(),
    }
}

fn file_name(spec: &ExportSpec, now_ms: i64) -> String {
    let stamp = china_minute(now_ms)
        .replace(['-', ':'], "")
        .replace(' ', "-");
    format!("huiyin-{}-{stamp}.{}", spec.list, spec.format.extension())
}

impl App {
    /// Rows up to which an export is written at once ([`IMMEDIATE_ROWS`] unless configured).
    pub fn export_immediate_rows(&self) -> u64 {
        self.inner.config.export_immediate_rows
    }

    fn exports(&self) -> &ExportJobs {
        &self.inner.exports
    }

    async fn audit_export(
        &self,
        actor: &Actor,
        spec: &ExportSpec,
        rows: u64,
        mode: &str,
    ) -> Result<(), AppError> {
        self.store()
            .append_audit(&export_entry(
                actor,
                self.now().timestamp_millis(),
                serde_json::json!({
                    "list": spec.list,
                    "format": spec.format,
                    "filters": spec.filters,
                    "rows": rows,
                    "mode": mode,
                }),
            ))
            .await?;
        Ok(())
    }

    /// Writes a small export at once: the file's bytes, its name and the rows written
    /// (audited). The caller checked that the list is small ([`IMMEDIATE_ROWS`]).
    pub async fn export_now<S: RowSource>(
        &self,
        actor: &Actor,
        spec: &ExportSpec,
        mut source: S,
    ) -> Result<(Vec<u8>, String, u64), AppError> {
        let (bytes, rows) = write_table(
            self,
            spec,
            &mut source,
            Vec::new(),
            None,
            Arc::new(AtomicU64::new(0)),
        )
        .await?;
        self.audit_export(actor, spec, rows, "immediate").await?;
        Ok((bytes, file_name(spec, self.now().timestamp_millis()), rows))
    }

    /// Starts a background export of about `estimate` rows; returns its id for
    /// [`App::export_status`] and [`App::export_file`].
    pub async fn start_export<S: RowSource>(
        &self,
        actor: &Actor,
        spec: ExportSpec,
        estimate: u64,
        mut source: S,
    ) -> Result<String, AppError> {
        if spec.format == ExportFormat::Xlsx && estimate > XLSX_MAX_ROWS {
            return Err(AppError::invalid(
                "format",
                "export_too_large",
                format!(
                    "共约 {estimate} 行，超过 Excel 工作表的 {XLSX_MAX_ROWS} 行上限：请缩小筛选范围或改用 CSV 导出"
                ),
            ));
        }
        let now_ms = self.now().timestamp_millis();
        let jobs = self.exports();
        jobs.sweep(now_ms)?;
        let owner = actor.id.to_string();
        let running = jobs
            .lock()?
            .values()
            .filter(|j| {
                j.owner == owner && matches!(j.state.lock().as_deref(), Ok(ExportState::Running))
            })
            .count();
        if running >= MAX_RUNNING_PER_USER {
            return Err(AppError::Conflict(format!(
                "已有 {running} 个导出正在进行，请等其完成后再导出"
            )));
        }
        std::fs::create_dir_all(&jobs.dir).map_err(|e| {
            AppError::Unavailable(format!("导出目录 {} 不可写：{e}", jobs.dir.display()))
        })?;
        let id = uuid::Uuid::now_v7().simple().to_string();
        let path = jobs.dir.join(format!("{id}.{}", spec.format.extension()));
        let file = std::fs::File::create(&path).map_err(|e| {
            AppError::Unavailable(format!("导出文件 {} 无法创建：{e}", path.display()))
        })?;
        let written = Arc::new(AtomicU64::new(0));
        let state = Arc::new(Mutex::new(ExportState::Running));
        jobs.lock()?.insert(
            id.clone(),
            Job {
                owner,
                list: spec.list.clone(),
                format: spec.format,
                file_name: file_name(&spec, now_ms),
                path: path.clone(),
                estimate,
                written: written.clone(),
                state: state.clone(),
                created_at_ms: now_ms,
            },
        );
        let app = self.clone();
        let actor = actor.clone();
        let tempdir = Some(jobs.dir.clone());
        let job_id = id.clone();
        tokio::spawn(async move {
            let outcome = match write_table(&app, &spec, &mut source, file, tempdir, written).await
            {
                Ok((_, rows)) => match app.audit_export(&actor, &spec, rows, "background").await {
                    Ok(()) => ExportState::Done { rows },
                    Err(e) => ExportState::Failed {
                        message: e.to_string(),
                    },
                },
                Err(e) => {
                    tracing::warn!(export = %job_id, error = %e, "export failed");
                    let _ = std::fs::remove_file(&path);
                    ExportState::Failed {
                        message: match e {
                            AppError::Invalid(fields) => fields
                                .first()
                                .map_or_else(String::new, |(_, f)| f.message.clone()),
                            AppError::Forbidden(m) => m,
                            _ => "导出失败，请稍后重试".to_string(),
                        },
                    }
                }
            };
            if let Ok(mut s) = state.lock() {
                *s = outcome;
            }
        });
        Ok(id)
    }

    fn owned_job<T>(
        &self,
        actor: &Actor,
        id: &str,
        f: impl FnOnce(&Job) -> T,
    ) -> Result<T, AppError> {
        self.exports().sweep(self.now().timestamp_millis())?;
        let jobs = self.exports().lock()?;
        let Some(job) = jobs.get(id) else {
            return Err(AppError::NotFound(
                "没有这个导出，或它已过期（导出文件保留 24 小时）".into(),
            ));
        };
        if job.owner != actor.id.as_str() {
            return Err(AppError::Forbidden("只有发起导出的人可以查看和下载".into()));
        }
        Ok(f(job))
    }

    /// A background export's progress, for the one who started it.
    pub fn export_status(&self, actor: &Actor, id: &str) -> Result<ExportStatus, AppError> {
        self.owned_job(actor, id, |j| j.status(id))
    }

    /// A finished background export's file, its download name and format, for the one who
    /// started it.
    pub fn export_file(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<(PathBuf, String, ExportFormat), AppError> {
        let (status, path) = self.owned_job(actor, id, |j| (j.status(id), j.path.clone()))?;
        match status.state {
            ExportState::Done { .. } => Ok((path, status.file_name, status.format)),
            ExportState::Running => Err(AppError::Conflict("导出尚未完成，请稍候".into())),
            ExportState::Failed { message } => Err(AppError::Conflict(message)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("满意率"), "满意率");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("-3"), "'-3");
        assert_eq!(csv_field("@x,y"), "\"'@x,y\"");
    }

    #[test]
    fn minutes_are_china_time() {
        // 2026-01-01 00:30 UTC is 08:30 in China.
        assert_eq!(china_minute(1_767_227_400_000), "2026-01-01 08:30");
    }

    #[test]
    fn formats_parse_and_unknown_ones_are_field_errors() {
        assert_eq!(ExportFormat::parse("xlsx").ok(), Some(ExportFormat::Xlsx));
        assert_eq!(ExportFormat::parse(" csv ").ok(), Some(ExportFormat::Csv));
        match ExportFormat::parse("pdf") {
            Err(AppError::Invalid(f)) => assert_eq!(f[0].1.code, "format_unknown"),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn csv_writer_writes_bom_header_and_rows() {
        let mut t = TableWriter::new(
            ExportFormat::Csv,
            "s",
            &["标题".to_string(), "数".to_string()],
            &[10.0, 5.0],
            Vec::new(),
            None,
        )
        .unwrap();
        t.row(&[Cell::from("=cmd"), Cell::Number(3.0)]).unwrap();
        t.row(&[Cell::from("a\"b"), Cell::Empty]).unwrap();
        let out = String::from_utf8(t.finish().unwrap()).unwrap();
        assert_eq!(out, "\u{feff}标题,数\r\n'=cmd,3\r\n\"a\"\"b\",\r\n");
    }
}
