//! The `huiyin text …` command-line contract: JSON Lines in, JSON Lines out.
//!
//! ```text
//! train       --input FILE --model OUT [--fast]          lines {"text","label"}
//! classify    --model MODEL --input FILE                 one line out per line in
//! dedup       --input FILE                               lines {"text", "id"?, "petitioner"?, "addressee"?}
//! hotspots    --input FILE [--window-days N] [--top N]   lines {"text", "created_at", "petitioner"?, "upvotes"?}
//! reply-check --input FILE                               lines {"message","reply"}
//! pii         --input FILE                               lines {"text"}
//! ```
//! `--input -` reads standard input; `--user-dict FILE` (repeatable) adds jieba user words.
//! Blank lines are skipped (they produce no output). A line that is not UTF-8, not a JSON
//! object, or lacks a required field stops the command with [`TextCliError::Input`] naming the
//! 1-based line number; nothing is written for that line or after it.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};

use serde_json::{Value, json};

use crate::TextError;
use crate::classify::{Classifier, ClassifierConfig};
use crate::dedup::{DocMeta, DupIndex, IndexConfig, MatchKind, Signature};
use crate::hotspot::{HotMessage, HotspotConfig, format_day, hotspots, parse_day};
use crate::pii::scan;
use crate::reply::check_reply;
use crate::segment::{Segmenter, shared};

/// Errors of the command line.
#[derive(Debug, thiserror::Error)]
pub enum TextCliError {
    /// Wrong arguments; the message says what is expected.
    #[error("usage: {0}")]
    Usage(String),
    /// A file could not be opened, read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A bad input line (1-based).
    #[error("input line {line}: {message}")]
    Input {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An error from the library (model, training …).
    #[error(transparent)]
    Text(#[from] TextError),
}

const USAGE: &str = "huiyin text <train|classify|dedup|hotspots|reply-check|pii> --input FILE [--model FILE] \
[--user-dict FILE] [--window-days N] [--top N] [--fast]";

#[derive(Default)]
struct Opts {
    input: Option<String>,
    model: Option<String>,
    user_dicts: Vec<String>,
    window_days: Option<i64>,
    top: Option<usize>,
    fast: bool,
}

fn parse_opts(args: &[String]) -> Result<Opts, TextCliError> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| TextCliError::Usage(format!("{name} needs a value")))
        };
        match a.as_str() {
            "--input" => o.input = Some(val("--input")?),
            "--model" => o.model = Some(val("--model")?),
            "--user-dict" => o.user_dicts.push(val("--user-dict")?),
            "--window-days" => {
                let v = val("--window-days")?;
                o.window_days = Some(v.parse().map_err(|_| {
                    TextCliError::Usage(format!("--window-days: not a number: {v}"))
                })?);
            }
            "--top" => {
                let v = val("--top")?;
                o.top = Some(
                    v.parse()
                        .map_err(|_| TextCliError::Usage(format!("--top: not a number: {v}")))?,
                );
            }
            "--fast" => o.fast = true,
            other => {
                return Err(TextCliError::Usage(format!(
                    "unknown argument {other}; {USAGE}"
                )));
            }
        }
    }
    Ok(o)
}

/// Read JSON Lines: `(1-based line number, object)` for every non-blank line.
fn read_lines(reader: &mut dyn BufRead) -> Result<Vec<(usize, Value)>, TextCliError> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| TextCliError::Io {
                context: format!("reading input line {}", line + 1),
                source,
            })?;
        if n == 0 {
            break;
        }
        line += 1;
        let text = std::str::from_utf8(&buf).map_err(|e| TextCliError::Input {
            line,
            message: format!("not valid UTF-8 ({e})"),
        })?;
        let text = text.trim_start_matches('\u{FEFF}').trim();
        if text.is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(text).map_err(|e| TextCliError::Input {
            line,
            message: format!("invalid JSON: {e}"),
        })?;
        if !v.is_object() {
            return Err(TextCliError::Input {
                line,
                message: "expected a JSON object".into(),
            });
        }
        out.push((line, v));
    }
    Ok(out)
}

fn field(v: &Value, line: usize, name: &str) -> Result<String, TextCliError> {
    match v.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(TextCliError::Input {
            line,
            message: format!("field \"{name}\" must be a string"),
        }),
        None => Err(TextCliError::Input {
            line,
            message: format!("missing field \"{name}\""),
        }),
    }
}

fn opt_field(v: &Value, name: &str) -> Option<String> {
    match v.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn open_input<'a>(
    path: Option<&str>,
    stdin: &'a mut dyn BufRead,
) -> Result<Box<dyn BufRead + 'a>, TextCliError> {
    match path {
        None => Err(TextCliError::Usage(format!("--input is required; {USAGE}"))),
        Some("-") => Ok(Box::new(stdin)),
        Some(p) => {
            let f = File::open(p).map_err(|source| TextCliError::Io {
                context: format!("opening {p}"),
                source,
            })?;
            Ok(Box::new(BufReader::new(f)))
        }
    }
}

fn write_json(out: &mut dyn Write, v: &Value) -> Result<(), TextCliError> {
    serde_json::to_writer(&mut *out, v).map_err(|e| TextCliError::Io {
        context: "writing output".into(),
        source: e.into(),
    })?;
    out.write_all(b"\n").map_err(|source| TextCliError::Io {
        context: "writing output".into(),
        source,
    })
}

/// The shared segmenter, or an own one when user dictionaries are given.
enum Seg {
    Shared(&'static Segmenter),
    Own(Box<Segmenter>),
}

impl std::ops::Deref for Seg {
    type Target = Segmenter;
    fn deref(&self) -> &Segmenter {
        match self {
            Seg::Shared(s) => s,
            Seg::Own(s) => s,
        }
    }
}

fn segmenter(opts: &Opts) -> Result<Seg, TextCliError> {
    if opts.user_dicts.is_empty() {
        return Ok(Seg::Shared(shared()));
    }
    let mut seg = Segmenter::new();
    for p in &opts.user_dicts {
        let f = File::open(p).map_err(|source| TextCliError::Io {
            context: format!("opening {p}"),
            source,
        })?;
        seg.load_user_dict(&mut BufReader::new(f), false)?;
    }
    Ok(Seg::Own(Box::new(seg)))
}

/// Run `huiyin text ARGS…` (`args` excludes `huiyin text`).
pub fn run_cli(
    args: &[String],
    stdin: &mut dyn BufRead,
    stdout: &mut dyn Write,
) -> Result<(), TextCliError> {
    let Some((cmd, rest)) = args.split_first() else {
        return Err(TextCliError::Usage(USAGE.into()));
    };
    let opts = parse_opts(rest)?;
    let lines = {
        let mut input = open_input(opts.input.as_deref(), stdin)?;
        read_lines(&mut input)?
    };
    match cmd.as_str() {
        "train" => train(&opts, &lines, stdout),
        "classify" => classify(&opts, &lines, stdout),
        "dedup" => dedup(&lines, stdout),
        "hotspots" => hot(&opts, &lines, stdout),
        "reply-check" => {
            let seg = segmenter(&opts)?;
            for (line, v) in &lines {
                let c = check_reply(
                    &seg,
                    &field(v, *line, "message")?,
                    &field(v, *line, "reply")?,
                );
                write_json(stdout, &json!(c))?;
            }
            Ok(())
        }
        "pii" => {
            for (line, v) in &lines {
                write_json(stdout, &json!(scan(&field(v, *line, "text")?)))?;
            }
            Ok(())
        }
        other => Err(TextCliError::Usage(format!(
            "unknown command {other}; {USAGE}"
        ))),
    }
}

fn train(
    opts: &Opts,
    lines: &[(usize, Value)],
    stdout: &mut dyn Write,
) -> Result<(), TextCliError> {
    let model_path = opts
        .model
        .as_deref()
        .ok_or_else(|| TextCliError::Usage("train needs --model OUT".into()))?;
    let mut examples = Vec::with_capacity(lines.len());
    for (line, v) in lines {
        examples.push((field(v, *line, "text")?, field(v, *line, "label")?));
    }
    let seg = segmenter(opts)?;
    let config = if opts.fast {
        ClassifierConfig::fast()
    } else {
        ClassifierConfig::default()
    };
    let model = Classifier::train(&examples, config, &seg)?;
    std::fs::write(model_path, model.to_json()?).map_err(|source| TextCliError::Io {
        context: format!("writing {model_path}"),
        source,
    })?;
    write_json(
        stdout,
        &json!({"trained": examples.len(), "labels": model.labels(), "features": model.num_features(), "model": model_path}),
    )
}

fn classify(
    opts: &Opts,
    lines: &[(usize, Value)],
    stdout: &mut dyn Write,
) -> Result<(), TextCliError> {
    let model_path = opts
        .model
        .as_deref()
        .ok_or_else(|| TextCliError::Usage("classify needs --model MODEL".into()))?;
    let bytes = std::fs::read(model_path).map_err(|source| TextCliError::Io {
        context: format!("reading {model_path}"),
        source,
    })?;
    let model = Classifier::from_json(&bytes)?;
    let seg = segmenter(opts)?;
    for (line, v) in lines {
        let p = model.predict(&seg, &field(v, *line, "text")?);
        write_json(stdout, &json!(p))?;
    }
    Ok(())
}

fn find(parent: &mut [usize], x: usize) -> usize {
    let mut r = x;
    while parent[r] != r {
        parent[r] = parent[parent[r]];
        r = parent[r];
    }
    r
}

fn dedup(lines: &[(usize, Value)], stdout: &mut dyn Write) -> Result<(), TextCliError> {
    let config = IndexConfig::default();
    let group_min = config.group_min_petitioners;
    let mut index = DupIndex::new(config);
    let mut metas = Vec::with_capacity(lines.len());
    let mut ids = Vec::with_capacity(lines.len());
    let mut parent: Vec<usize> = (0..lines.len()).collect();
    for (k, (line, v)) in lines.iter().enumerate() {
        let sig = Signature::of_text(&field(v, *line, "text")?);
        let meta = DocMeta {
            petitioner: opt_field(v, "petitioner"),
            addressee: opt_field(v, "addressee"),
        };
        for m in index
            .query(&sig, &meta)
            .matches
            .iter()
            .filter(|m| m.near_copy)
        {
            let (a, b) = (find(&mut parent, k), find(&mut parent, m.doc.0 as usize));
            parent[a.max(b)] = a.min(b);
        }
        index.insert(&sig, &meta)?;
        metas.push(meta);
        ids.push(v.get("id").cloned().unwrap_or(Value::Null));
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> =
        std::collections::BTreeMap::new();
    for k in 0..lines.len() {
        let r = find(&mut parent, k);
        groups.entry(r).or_default().push(k);
    }
    for members in groups.values().filter(|m| m.len() >= 2) {
        let mut pets: Vec<&str> = members
            .iter()
            .filter_map(|&m| metas[m].petitioner.as_deref())
            .collect();
        pets.sort_unstable();
        pets.dedup();
        let mut addrs: Vec<&str> = members
            .iter()
            .filter_map(|&m| metas[m].addressee.as_deref())
            .collect();
        addrs.sort_unstable();
        addrs.dedup();
        let kind = if pets.len() >= group_min {
            MatchKind::PossibleGroup
        } else if addrs.len() >= 2 {
            MatchKind::MultiAddressed
        } else {
            MatchKind::Repeat
        };
        let member_ids: Vec<Value> = members.iter().map(|&m| ids[m].clone()).collect();
        let mut out = json!({"members": members, "kind": kind, "petitioners": pets.len()});
        if member_ids.iter().any(|v| !v.is_null())
            && let Some(o) = out.as_object_mut()
        {
            o.insert("ids".into(), Value::Array(member_ids));
        }
        write_json(stdout, &out)?;
    }
    Ok(())
}

fn hot(opts: &Opts, lines: &[(usize, Value)], stdout: &mut dyn Write) -> Result<(), TextCliError> {
    let mut msgs = Vec::with_capacity(lines.len());
    for (line, v) in lines {
        let created = field(v, *line, "created_at")?;
        let day = parse_day(&created).ok_or_else(|| TextCliError::Input {
            line: *line,
            message: format!("unrecognised created_at {created:?}"),
        })?;
        msgs.push(HotMessage {
            text: field(v, *line, "text")?,
            day,
            petitioner: opt_field(v, "petitioner").or_else(|| opt_field(v, "user_id")),
            support: v
                .get("upvotes")
                .and_then(Value::as_u64)
                .map(|u| u32::try_from(u).unwrap_or(u32::MAX))
                .unwrap_or(0),
        });
    }
    let mut config = HotspotConfig::default();
    if let Some(w) = opts.window_days {
        config.window_days = w;
    }
    if let Some(t) = opts.top {
        config.top = t;
    }
    let seg = segmenter(opts)?;
    for (rank, h) in hotspots(&seg, &msgs, &config, None).into_iter().enumerate() {
        write_json(
            stdout,
            &json!({
                "rank": rank + 1, "label": h.label, "place": h.place, "score": h.score, "count": h.count,
                "petitioners": h.petitioners, "support": h.support, "first_day": format_day(h.first_day),
                "last_day": format_day(h.last_day), "growth": h.growth, "spike": h.spike, "members": h.members,
            }),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], input: &str) -> Result<String, TextCliError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut stdin = std::io::Cursor::new(input.as_bytes().to_vec());
        let mut out = Vec::new();
        run_cli(&args, &mut stdin, &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn pii_and_reply_check() {
        let out = run(
            &["pii", "--input", "-"],
            "{\"text\":\"电话13812341234\"}\n\n{\"text\":\"\"}\n",
        );
        let Ok(out) = out else { panic!("{out:?}") };
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("138****1234"));
        let out = run(
            &["reply-check", "--input", "-"],
            "{\"message\":\"路灯坏了\",\"reply\":\"已转相关部门\"}\n",
        );
        assert!(out.is_ok_and(|o| o.contains("\"score\"")));
    }

    #[test]
    fn bad_lines_name_the_line() {
        let err = run(&["pii", "--input", "-"], "{\"text\":\"a\"}\nnot json\n");
        assert!(
            matches!(err, Err(TextCliError::Input { line: 2, .. })),
            "{err:?}"
        );
        let args = vec!["pii".to_string(), "--input".to_string(), "-".to_string()];
        let mut stdin = std::io::Cursor::new(b"{\"text\":\"a\"}\n\xff\xfe\n".to_vec());
        let mut out = Vec::new();
        let err = run_cli(&args, &mut stdin, &mut out);
        assert!(
            matches!(err, Err(TextCliError::Input { line: 2, .. })),
            "{err:?}"
        );
        let err = run(&["pii", "--input", "-"], "{\"txt\":\"a\"}\n");
        assert!(matches!(err, Err(TextCliError::Input { line: 1, .. })));
        assert!(matches!(
            run(&["nope", "--input", "-"], ""),
            Err(TextCliError::Usage(_))
        ));
        assert!(matches!(run(&[], ""), Err(TextCliError::Usage(_))));
        assert!(matches!(run(&["pii"], ""), Err(TextCliError::Usage(_))));
    }

    #[test]
    fn dedup_groups() {
        let letter = "我们小区物业擅自收取停车费，业主多次反映无果，请领导督办，依法规范物业收费行为，维护业主合法权益。";
        let input = format!(
            "{{\"text\":\"{letter}\",\"petitioner\":\"a\",\"addressee\":\"x\"}}\n{{\"text\":\"您好！{letter}谢谢\",\"petitioner\":\"a\",\"addressee\":\"y\"}}\n{{\"text\":\"学校门口公交站被拆，学生出行不便。\"}}\n"
        );
        let out = run(&["dedup", "--input", "-"], &input);
        let Ok(out) = out else { panic!("{out:?}") };
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(
            out.contains("\"members\":[0,1]") && out.contains("MultiAddressed"),
            "{out}"
        );
    }

    #[test]
    fn train_classify_roundtrip() {
        let dir = std::env::temp_dir().join(format!("huiyin-text-cli-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let train_path = dir.join("train.jsonl");
        let model_path = dir.join("model.json");
        let mut data = String::new();
        for i in 0..10 {
            data.push_str(&format!(
                "{{\"text\":\"垃圾堆积污水横流环境脏{i}\",\"label\":\"环境\"}}\n"
            ));
            data.push_str(&format!(
                "{{\"text\":\"公交线路调整车站太远{i}\",\"label\":\"交通\"}}\n"
            ));
        }
        assert!(std::fs::write(&train_path, data).is_ok());
        let tp = train_path.to_string_lossy().to_string();
        let mp = model_path.to_string_lossy().to_string();
        let out = run(&["train", "--input", &tp, "--model", &mp], "");
        assert!(out.is_ok(), "{out:?}");
        let out = run(
            &["classify", "--model", &mp, "--input", "-"],
            "{\"text\":\"污水横流垃圾\"}\n",
        );
        assert!(out.as_ref().is_ok_and(|o| o.contains("环境")), "{out:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn hotspots_cli() {
        let mut input = String::new();
        for i in 0..3 {
            input.push_str(&format!(
                "{{\"text\":\"青松苑小区垃圾站臭气熏天{i}\\n垃圾站臭气熏天\",\"created_at\":\"2024/5/{}\",\"user_id\":\"u{i}\"}}\n",
                i + 1
            ));
        }
        let out = run(&["hotspots", "--input", "-"], &input);
        assert!(
            out.as_ref().is_ok_and(|o| o.contains("\"rank\":1")),
            "{out:?}"
        );
        let bad = run(
            &["hotspots", "--input", "-"],
            "{\"text\":\"x\",\"created_at\":\"soon\"}\n",
        );
        assert!(matches!(bad, Err(TextCliError::Input { line: 1, .. })));
    }
}
