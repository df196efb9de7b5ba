//! Result tables, as aligned text for the terminal and as Markdown for the README.

use std::fmt::Write as _;

use crate::driver::Measurement;
use crate::workload::{grouped, Kind, Workload};

/// The outcome of one workload on one store.
#[derive(Debug, Clone)]
pub enum Outcome {
    Measured(Measurement),
    /// The store cannot do this workload at all; the reason.
    NotApplicable(String),
    /// The run failed; the error.
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Row {
    pub store: &'static str,
    pub outcome: Outcome,
    /// How this store did the workload differently, shown as a numbered note.
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub workload: Workload,
    pub description: String,
    /// GraveyardDB first: the ratio column divides its throughput by each row's.
    pub rows: Vec<Row>,
}

/// Header text of the ratio column; it says which way the ratio goes.
const RATIO_HEADER: &str = "GraveyardDB ÷ store";

impl Table {
    fn is_race(&self) -> bool {
        matches!(self.workload.kind(), Kind::Race { .. })
    }

    fn headers(&self) -> Vec<&'static str> {
        let mut headers = vec!["store", "events/s", "p50 µs", "p99 µs"];
        if self.is_race() {
            headers.extend(["attempts", "conflicts", "top thread"]);
        }
        headers.push(RATIO_HEADER);
        headers
    }

    fn graveyard_rate(&self) -> Option<f64> {
        match &self.rows.first()?.outcome {
            Outcome::Measured(m) if m.events > 0 => Some(m.events_per_sec()),
            _ => None,
        }
    }

    /// The cells of every row, and the numbered notes they refer to.
    fn cells(&self) -> (Vec<Vec<String>>, Vec<String>) {
        let graveyard = self.graveyard_rate();
        let mut notes = Vec::new();
        let rows = self
            .rows
            .iter()
            .map(|row| {
                let mut store = row.store.to_owned();
                if let Some(note) = &row.note {
                    notes.push(note.clone());
                    let _ = write!(store, " ({})", notes.len());
                }
                let mut cells = vec![store];
                match &row.outcome {
                    Outcome::Measured(m) => {
                        cells.push(thousands(m.events_per_sec()));
                        cells.push(grouped(m.p50_us()));
                        cells.push(grouped(m.p99_us()));
                        if self.is_race() {
                            cells.push(grouped(m.ops));
                            let share = 100.0 * m.conflicts as f64 / m.ops.max(1) as f64;
                            cells.push(format!("{} ({share:.0}%)", grouped(m.conflicts)));
                            let top = 100.0 * m.busiest_thread_events as f64 / m.events.max(1) as f64;
                            cells.push(format!("{top:.0}%"));
                        }
                        let rate = m.events_per_sec();
                        cells.push(match graveyard {
                            Some(g) if rate > 0.0 => format!("{:.2}", g / rate),
                            _ => "n/a".to_owned(),
                        });
                    }
                    Outcome::NotApplicable(reason) => {
                        cells.push(format!("n/a: {reason}"));
                    }
                    Outcome::Failed(error) => {
                        cells.push(format!("FAILED: {error}"));
                    }
                }
                cells
            })
            .collect();
        (rows, notes)
    }

    fn grid(&self) -> Grid {
        let (rows, notes) = self.cells();
        Grid { headers: self.headers().iter().map(|h| h.to_string()).collect(), rows, notes, text_columns: 1 }
    }

    pub fn to_text(&self) -> String {
        self.grid().to_text(self.workload.name(), &self.description)
    }

    pub fn to_markdown(&self) -> String {
        self.grid().to_markdown(self.workload.name(), &self.description)
    }
}

/// A table ready to print, whatever benchmark filled it: a row with fewer cells than there
/// are headers is a message (why a store did not run), which spans the numeric columns.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Numbered notes the rows refer to as `(1)`, `(2)`, ...
    pub notes: Vec<String>,
    /// Leading columns that hold words, not numbers: left-aligned. The first always is.
    pub text_columns: usize,
}

impl Grid {
    /// Aligned columns under a `name: description` line: the first column left-aligned, the
    /// numbers right-aligned.
    pub fn to_text(&self, name: &str, description: &str) -> String {
        let headers = &self.headers;
        let rows = &self.rows;
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for row in rows.iter().filter(|r| r.len() == headers.len()) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        // Short rows count for the columns before their message.
        for row in rows.iter().filter(|r| !r.is_empty() && r.len() < headers.len()) {
            for (w, cell) in widths.iter_mut().zip(&row[..row.len() - 1]) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let _ = writeln!(out, "{name}: {description}");
        let line = |out: &mut String, cells: &[String]| {
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(cell.chars().count());
                if i < self.text_columns.max(1) {
                    let _ = write!(out, "  {cell}{}", " ".repeat(pad));
                } else if cells.len() < headers.len() && i == cells.len() - 1 {
                    // The message of a short row: as long as it needs to be.
                    let _ = write!(out, "  {cell}");
                } else {
                    let _ = write!(out, "  {}{cell}", " ".repeat(pad));
                }
            }
            out.push('\n');
        };
        line(&mut out, headers);
        for row in rows {
            line(&mut out, row);
        }
        for (i, note) in self.notes.iter().enumerate() {
            let _ = writeln!(out, "  ({}) {note}", i + 1);
        }
        out
    }

    pub fn to_markdown(&self, name: &str, description: &str) -> String {
        let headers = &self.headers;
        let mut out = String::new();
        let _ = writeln!(out, "### {name}\n\n{description}\n");
        let _ = writeln!(out, "| {} |", headers.join(" | "));
        let align: Vec<&str> =
            (0..headers.len()).map(|i| if i < self.text_columns.max(1) { "---" } else { "---:" }).collect();
        let _ = writeln!(out, "| {} |", align.join(" | "));
        for row in &self.rows {
            // A message row fills the remaining columns so the table stays rectangular.
            let mut row = row.clone();
            row.resize(headers.len(), String::new());
            let row: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for (i, note) in self.notes.iter().enumerate() {
                let _ = writeln!(out, "({}) {note}  ", i + 1);
            }
        }
        out
    }
}

/// The facts printed above a benchmark's tables, as `key value` lines under a title.
pub fn facts_to_text(title: &str, facts: &[(String, String)]) -> String {
    let mut out = format!("{title}\n");
    for (key, value) in facts {
        let _ = writeln!(out, "  {key:<13} {value}");
    }
    out
}

/// The same facts as a Markdown list under a `##` heading.
pub fn facts_to_markdown(heading: &str, facts: &[(String, String)]) -> String {
    let mut out = format!("## {heading}\n\n");
    for (key, value) in facts {
        let _ = writeln!(out, "- **{key}**: {value}");
    }
    out
}

/// Which build produced the numbers: a debug build's are meaningless, and says so.
pub fn build_fact() -> (String, String) {
    (
        "build".to_owned(),
        format!(
            "graveyard-bench {} ({})",
            env!("CARGO_PKG_VERSION"),
            if cfg!(debug_assertions) { "DEBUG build: numbers are meaningless" } else { "release" }
        ),
    )
}

/// `1234567.8` -> `1,234,568`; small values keep one decimal so they do not round to 0.
pub fn thousands(value: f64) -> String {
    if value < 100.0 {
        return format!("{value:.1}");
    }
    grouped(value.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.26), "0.3");
        assert_eq!(thousands(99.94), "99.9");
        assert_eq!(thousands(100.0), "100");
        assert_eq!(thousands(1234.4), "1,234");
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(grouped(7), "7");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_000_000), "1,000,000");
    }
}
