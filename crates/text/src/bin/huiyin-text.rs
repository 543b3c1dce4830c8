//! Stand-alone `huiyin text` for testing the library's command-line contract:
//! `huiyin-text <command> [options]` behaves like `huiyin text <command> [options]`.

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = huiyin_text::run_cli(&args, &mut input, &mut out);
    let flushed = out.flush();
    match (result, flushed) {
        (Ok(()), Ok(())) => {}
        (Err(e), _) => {
            eprintln!("error: {e}");
            std::process::exit(match e {
                huiyin_text::TextCliError::Usage(_) => 2,
                _ => 1,
            });
        }
        (Ok(()), Err(e)) => {
            eprintln!("error: writing output: {e}");
            std::process::exit(1);
        }
    }
}
