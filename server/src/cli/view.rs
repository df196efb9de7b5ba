//! How the command line shows things: aligned tables for people, JSON lines for scripts, and a
//! progress counter on a terminal for long reads.

use std::io::Write;

use serde::Serialize;

use super::CliResult;

/// Prints rows under headers, each column as wide as its widest cell.
pub fn table(out: &mut impl Write, headers: &[&str], rows: &[Vec<String>]) -> CliResult {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let mut text = String::new();
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            if i + 1 == widths.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        text.trim_end().to_owned()
    };
    writeln!(out, "{}", line(&mut headers.iter().copied()))?;
    for row in rows {
        writeln!(out, "{}", line(&mut row.iter().map(String::as_str)))?;
    }
    Ok(())
}

/// One JSON object on its own line.
pub fn json_line(out: &mut impl Write, value: &impl Serialize) -> CliResult {
    serde_json::to_writer(&mut *out, value).map_err(written)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A failure to write JSON: the output's (a closed pipe, a full disk) is an i/o failure like
/// any other write's; only a value that cannot be JSON is internal.
fn written(e: serde_json::Error) -> super::Failure {
    if e.is_io() {
        super::Failure::from(std::io::Error::from(e))
    } else {
        super::Failure { exit: 1, message: e.to_string() }
    }
}

/// A JSON document, indented.
pub fn json_pretty(out: &mut impl Write, value: &impl Serialize) -> CliResult {
    serde_json::to_writer_pretty(&mut *out, value).map_err(written)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A count of things done, drawn on stderr only when it is a terminal (never in pipes or logs).
pub fn progress(what: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {human_pos} {msg} ({per_sec})")
            .expect("a valid template"),
    );
    bar.set_message(what);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// `yes`/`no` for a flag in a table.
pub fn yes(flag: bool) -> String {
    if flag { "yes" } else { "no" }.to_owned()
}
