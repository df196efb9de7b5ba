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

    /// Aligned columns; a row that is only a message spans the numeric columns.
    pub fn to_text(&self) -> String {
        let headers = self.headers();
        let (rows, notes) = self.cells();
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for row in rows.iter().filter(|r| r.len() == headers.len()) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        widths[0] = rows.iter().map(|r| r[0].chars().count()).max().unwrap_or(0).max(widths[0]);
        let mut out = String::new();
        let _ = writeln!(out, "{}: {}", self.workload.name(), self.description);
        let line = |out: &mut String, cells: &[String]| {
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(cell.chars().count());
                if i == 0 {
                    let _ = write!(out, "  {cell}{}", " ".repeat(pad));
                } else if cells.len() < headers.len() {
                    let _ = write!(out, "  {cell}");
                } else {
                    let _ = write!(out, "  {}{cell}", " ".repeat(pad));
                }
            }
            out.push('\n');
        };
        line(&mut out, &headers.iter().map(|h| h.to_string()).collect::<Vec<_>>());
        for row in &rows {
            line(&mut out, row);
        }
        for (i, note) in notes.iter().enumerate() {
            let _ = writeln!(out, "  ({}) {note}", i + 1);
        }
        out
    }

    pub fn to_markdown(&self) -> String {
        let headers = self.headers();
        let (rows, notes) = self.cells();
        let mut out = String::new();
        let _ = writeln!(out, "### {}\n\n{}\n", self.workload.name(), self.description);
        let _ = writeln!(out, "| {} |", headers.join(" | "));
        let align: Vec<&str> =
            headers.iter().enumerate().map(|(i, _)| if i == 0 { "---" } else { "---:" }).collect();
        let _ = writeln!(out, "| {} |", align.join(" | "));
        for mut row in rows {
            // A message row fills the remaining columns so the table stays rectangular.
            row.resize(headers.len(), String::new());
            let row: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        if !notes.is_empty() {
            out.push('\n');
            for (i, note) in notes.iter().enumerate() {
                let _ = writeln!(out, "({}) {note}  ", i + 1);
            }
        }
        out
    }
}

/// `1234567.8` -> `1,234,568`; small values keep one decimal so they do not round to 0.
fn thousands(value: f64) -> String {
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
