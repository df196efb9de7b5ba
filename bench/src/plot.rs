//! The README's plot: for every workload, GraveyardDB's throughput divided by each peer's, as
//! horizontal bars on a log scale around 1 (right of the line: GraveyardDB is faster). Plain
//! SVG written here: one chart does not justify a plotting dependency in the bench's tree.

use std::fmt::Write as _;

use crate::report::{Outcome, Table};

const WIDTH: f64 = 860.0;
const LABEL: f64 = 250.0;
const BAR: f64 = 13.0;
const GAP: f64 = 12.0;
/// The scale's ends: ratios beyond are drawn at the edge, their value still written.
const MIN: f64 = 0.1;
const MAX: f64 = 100.0;
const COLOURS: [&str; 4] = ["#4c78a8", "#f58518", "#54a24b", "#b279a2"];

fn x(ratio: f64) -> f64 {
    let span = WIDTH - LABEL - 60.0;
    LABEL + span * (ratio.clamp(MIN, MAX).log10() - MIN.log10()) / (MAX.log10() - MIN.log10())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The chart of `tables`; `None` when no table has a peer measured beside GraveyardDB.
pub fn ratios_svg(tables: &[Table], title: &str) -> Option<String> {
    let mut peers: Vec<&str> = Vec::new();
    let mut groups = Vec::new();
    for table in tables {
        let Some(Outcome::Measured(ours)) = table.rows.first().map(|r| &r.outcome) else { continue };
        let bars: Vec<(&str, f64)> = table.rows[1..]
            .iter()
            // Other stores only: the schema and encryption tables set GraveyardDB against itself.
            .filter(|row| !row.store.starts_with("GraveyardDB"))
            .filter_map(|row| match &row.outcome {
                Outcome::Measured(m) if m.events > 0 => {
                    Some((row.store, ours.events_per_sec() / m.events_per_sec()))
                }
                _ => None,
            })
            .collect();
        for (peer, _) in &bars {
            if !peers.contains(peer) {
                peers.push(peer);
            }
        }
        if !bars.is_empty() {
            groups.push((table.workload.name(), bars));
        }
    }
    if groups.is_empty() {
        return None;
    }
    let top = 70.0;
    let height = top + groups.iter().map(|(_, bars)| bars.len() as f64 * BAR + GAP).sum::<f64>() + 40.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = write!(svg, r#"<text x="10" y="20" font-size="15" font-weight="bold">{}</text>"#, escape(title));
    for (i, peer) in peers.iter().enumerate() {
        let lx = LABEL + i as f64 * 150.0;
        let _ = write!(
            svg,
            r#"<rect x="{lx}" y="32" width="12" height="12" fill="{}"/><text x="{}" y="42">{}</text>"#,
            COLOURS[i % COLOURS.len()],
            lx + 16.0,
            escape(peer)
        );
    }
    for tick in [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0] {
        let tx = x(tick);
        let stroke = if tick == 1.0 { "black" } else { "gainsboro" };
        let _ = write!(
            svg,
            r#"<line x1="{tx}" y1="{}" x2="{tx}" y2="{}" stroke="{stroke}"/><text x="{tx}" y="{}" text-anchor="middle" fill="dimgray">{tick}×</text>"#,
            top - 6.0,
            height - 30.0,
            height - 16.0
        );
    }
    let mut y = top;
    for (name, bars) in &groups {
        let middle = y + bars.len() as f64 * BAR / 2.0 + 4.0;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{middle}" text-anchor="end">{}</text>"#,
            LABEL - 8.0,
            escape(name)
        );
        for (peer, ratio) in bars {
            let colour = COLOURS[peers.iter().position(|p| p == peer).unwrap_or(0) % COLOURS.len()];
            let (a, b) = (x(1.0).min(x(*ratio)), x(1.0).max(x(*ratio)));
            let _ = write!(
                svg,
                r#"<rect x="{a}" y="{}" width="{}" height="{}" fill="{colour}"><title>{}: {ratio:.2}</title></rect>"#,
                y + 1.0,
                (b - a).max(1.0),
                BAR - 2.0,
                escape(peer)
            );
            let (lx, anchor) = if *ratio >= 1.0 { (b + 4.0, "start") } else { (a - 4.0, "end") };
            let _ = write!(
                svg,
                r#"<text x="{lx}" y="{}" text-anchor="{anchor}" font-size="10">{ratio:.2}</text>"#,
                y + BAR - 3.0
            );
            y += BAR;
        }
        y += GAP;
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" fill="dimgray">GraveyardDB events/s ÷ the store's (log scale; right of 1: GraveyardDB is faster)</text></svg>"#,
        LABEL,
        height - 2.0
    );
    svg.push('\n');
    Some(svg)
}
