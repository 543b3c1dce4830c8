//! Reading a portal form: `application/x-www-form-urlencoded`, or `multipart/form-data` when it
//! carries files. The body is read up to [`MAX_FORM_BYTES`]; past that the rest is drained and
//! dropped, and what came before (the text fields come first in every form) is still parsed,
//! so an oversize upload is answered with the form and a message, never a bare error.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt;

/// The most bytes of a form kept (a few photos from a phone).
pub const MAX_FORM_BYTES: usize = 16 * 1024 * 1024;
/// The most bytes read at all before the connection is given up.
const MAX_DRAIN_BYTES: usize = 64 * 1024 * 1024;

/// One uploaded file.
#[derive(Debug, Clone)]
pub struct Upload {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A parsed form: text fields in order (repeated names allowed) and files.
#[derive(Debug, Default, Clone)]
pub struct FormData {
    pub fields: Vec<(String, String)>,
    pub files: Vec<Upload>,
    /// The body was larger than [`MAX_FORM_BYTES`]; the file being read was cut off.
    pub truncated: bool,
}

impl FormData {
    /// The first value of `name`, trimmed of nothing (the parsers trim).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, or "".
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }

    pub fn from_urlencoded(bytes: &[u8]) -> FormData {
        FormData {
            fields: form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            ..FormData::default()
        }
    }
}

/// Reads the body: at most [`MAX_FORM_BYTES`] kept; whether more came.
async fn read_capped(body: Body) -> (Vec<u8>, bool) {
    let mut body = body;
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if kept.len() < MAX_FORM_BYTES {
            let room = MAX_FORM_BYTES - kept.len();
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
        if seen > MAX_DRAIN_BYTES {
            break;
        }
    }
    (kept, seen > MAX_FORM_BYTES)
}

/// Reads and parses a form body of either kind.
pub async fn read_form(headers: &HeaderMap, body: Body) -> FormData {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (bytes, truncated) = read_capped(body).await;
    match boundary(&content_type) {
        Some(b) => {
            let mut form = parse_multipart(&bytes, &b);
            form.truncated = truncated;
            form
        }
        None => {
            let mut form = FormData::from_urlencoded(&bytes);
            form.truncated = truncated;
            form
        }
    }
}

fn boundary(content_type: &str) -> Option<String> {
    let lower = content_type.to_ascii_lowercase();
    if !lower.starts_with("multipart/form-data") {
        return None;
    }
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        (k.trim().eq_ignore_ascii_case("boundary"))
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

/// A `name="…"` parameter of a Content-Disposition header.
fn disposition_param(header_line: &str, param: &str) -> Option<String> {
    let needle = format!("{param}=\"");
    let mut rest = header_line;
    // `filename="…"` also contains `name="`; match the parameter at a separator only.
    while let Some(i) = rest.find(&needle) {
        let before = rest[..i].chars().last();
        let after = &rest[i + needle.len()..];
        if matches!(before, Some(';') | Some(' ')) {
            let end = after.find('"')?;
            return Some(after[..end].to_string());
        }
        rest = after;
    }
    None
}

/// Parses `multipart/form-data`. A part cut off by the size cap is reported as a file with
/// its name and the bytes that arrived (the caller refuses it as too large).
pub fn parse_multipart(body: &[u8], boundary: &str) -> FormData {
    let mut form = FormData::default();
    let delimiter = format!("--{boundary}");
    let finder = memchr::memmem::Finder::new(delimiter.as_bytes());
    let next_finder = memchr::memmem::Finder::new(b"\r\n--");
    let Some(first) = finder.find(body) else {
        return form;
    };
    let mut at = first + delimiter.len();
    loop {
        // After a delimiter: "--" ends the body, CRLF starts a part.
        let rest = &body[at..];
        if rest.starts_with(b"--") || rest.len() < 2 {
            break;
        }
        let rest = rest.strip_prefix(b"\r\n").unwrap_or(rest);
        let Some(head_end) = memchr::memmem::find(rest, b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let content_start = head_end + 4;
        let content = &rest[content_start..];
        // The part ends at CRLF + the delimiter.
        let mut end = None;
        let mut search = 0;
        while let Some(i) = next_finder.find(&content[search..]) {
            let pos = search + i;
            if content[pos + 2..].starts_with(delimiter.as_bytes()) {
                end = Some(pos);
                break;
            }
            search = pos + 1;
        }
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .unwrap_or_default()
            .to_string();
        let name = disposition_param(&disposition, "name").unwrap_or_default();
        let file_name = disposition_param(&disposition, "filename");
        let (data, complete) = match end {
            Some(e) => (&content[..e], true),
            None => (content, false),
        };
        match file_name {
            // An empty file input sends a part with no name and no bytes: nothing chosen.
            Some(f) if f.is_empty() && data.is_empty() => {}
            Some(f) => form.files.push(Upload {
                file_name: f,
                bytes: data.to_vec(),
            }),
            None if complete => form
                .fields
                .push((name, String::from_utf8_lossy(data).into_owned())),
            None => {}
        }
        match end {
            Some(e) => {
                // Skip "\r\n--boundary".
                let consumed = (body.len() - rest.len()) + content_start + e + 2 + delimiter.len();
                at = consumed;
            }
            None => break,
        }
    }
    form
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn sample() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"draft\"\r\n\r\nabc\r\n",
        );
        b.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n\xe8\xb7\xaf\xe7\x81\xaf\r\n");
        b.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\r\n--not-it\r\n");
        b.extend_from_slice(b"\r\n--XyZ--\r\n");
        b
    }

    #[test]
    fn multipart_fields_and_files() {
        let form = parse_multipart(&sample(), "XyZ");
        assert_eq!(form.get("draft"), Some("abc"));
        assert_eq!(form.get("title"), Some("路灯"));
        assert_eq!(form.files.len(), 1);
        assert_eq!(form.files[0].file_name, "a.jpg");
        assert_eq!(form.files[0].bytes, b"\xff\xd8\xff\r\n--not-it\r\n");
        assert_eq!(
            boundary("multipart/form-data; boundary=\"XyZ\"").as_deref(),
            Some("XyZ")
        );
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
    }

    #[test]
    fn a_cut_body_keeps_the_fields_before_the_cut() {
        let s = sample();
        let cut = &s[..s.len() - 20];
        let form = parse_multipart(cut, "XyZ");
        assert_eq!(form.get("draft"), Some("abc"));
        assert_eq!(form.files.len(), 1);
        let garbage = parse_multipart(b"no delimiter here", "XyZ");
        assert!(garbage.fields.is_empty());
    }
}
