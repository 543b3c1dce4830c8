#![no_main]
//! Any bytes: as text through the normaliser, PII scanner and signatures; as JSON Lines
//! through the CLI.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let n = huiyin_text::normalize::normalize(s);
        let _ = huiyin_text::normalize::match_key(&n);
        let _ = huiyin_text::pii::scan(s);
        let _ = huiyin_text::dedup::Signature::of_text(s);
    }
    let args = vec!["pii".to_string(), "--input".to_string(), "-".to_string()];
    let mut input = std::io::Cursor::new(data.to_vec());
    let mut out = Vec::new();
    let _ = huiyin_text::run_cli(&args, &mut input, &mut out);
});
