//! What an operator looks at: `streams`, `info`, `schemas`, `groups`, `stats`, and `shred`.

use std::io::Write;

use clap::{Args, Subcommand};
use graveyard::schema::Schema;
use graveyard::{GroupInfo, GroupTarget, ListStreamsOptions, Store, StreamSummary};
use serde::Serialize;

use super::{members, view, CliResult, Failure, Target};

#[derive(Args, Debug)]
pub struct StreamsArgs {
    /// Only streams whose name starts with this
    #[arg(long, default_value = "")]
    prefix: String,
    /// Start after this name (the last one of a previous listing)
    #[arg(long, value_name = "NAME")]
    after: Option<String>,
    /// Most streams to list [default: all]
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// One JSON object per stream and line
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The stream
    stream: String,
    /// Print JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

#[derive(Args, Debug)]
pub struct SchemasArgs {
    #[command(subcommand)]
    command: SchemasCommand,
}

/// A listing: where from, and as a table or JSON lines.
#[derive(Args, Debug)]
struct Listing {
    /// One JSON object per line
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

#[derive(Subcommand, Debug)]
enum SchemasCommand {
    /// Every schema, at its latest version
    List(Listing),
    /// One schema's definition (JSON)
    Show {
        name: String,
        /// This version [default: the latest]
        #[arg(long)]
        version: Option<u32>,
        #[command(flatten)]
        target: Target,
    },
    /// Register a schema, or a new version of it, from its JSON definition
    Upsert {
        /// @FILE, - for stdin, or the JSON itself
        #[arg(value_name = "@FILE|-|JSON")]
        definition: String,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Args, Debug)]
pub struct GroupsArgs {
    #[command(subcommand)]
    command: GroupsCommand,
}

#[derive(Subcommand, Debug)]
enum GroupsCommand {
    /// Every group, with its checkpoint, lag and parked events
    List(Listing),
    /// One group's state (JSON)
    Show {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Hand parked events back to the group's members
    Replay {
        name: String,
        /// At most this many, the oldest first [default: all]
        #[arg(long)]
        limit: Option<u64>,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Args, Debug)]
pub struct ShredArgs {
    /// The stream whose data key is destroyed
    stream: String,
    /// Confirm: its events' data and metadata become unreadable for good
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    target: Target,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Print JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

/// Streams per page asked of a store while listing.
const PAGE: u64 = 1000;

/// Every stream matching `prefix` after `after`, at most `limit`, of one store.
fn list_one(
    store: &Store,
    prefix: &str,
    after: Option<&str>,
    limit: Option<u64>,
) -> CliResult<Vec<StreamSummary>> {
    let mut out = Vec::new();
    let mut after = after.map(str::to_owned);
    loop {
        let want = limit.map_or(PAGE, |l| (l - out.len() as u64).min(PAGE));
        if want == 0 {
            return Ok(out);
        }
        let options = ListStreamsOptions { prefix: prefix.to_owned(), after: after.clone(), limit: want };
        let page = store.list_streams_blocking(&options)?;
        let full = page.len() as u64 == want;
        after = page.last().map(|s| s.name.clone());
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

#[derive(Serialize)]
struct StreamRow {
    #[serde(flatten)]
    summary: StreamSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<String>,
}

/// The streams of a store, or of every member of a cluster, merged in name order.
fn list_streams(
    store: &Store,
    prefix: &str,
    after: Option<&str>,
    limit: Option<u64>,
) -> CliResult<Vec<StreamRow>> {
    let mut rows = Vec::new();
    for (node, member) in members(store)? {
        for summary in list_one(&member, prefix, after, limit)? {
            rows.push(StreamRow { summary, node: node.clone() });
        }
    }
    rows.sort_by(|a, b| a.summary.name.cmp(&b.summary.name));
    if let Some(limit) = limit {
        rows.truncate(limit as usize);
    }
    Ok(rows)
}

fn state(s: &StreamSummary) -> &'static str {
    match (s.tombstoned, s.shredded, s.deleted) {
        (true, _, _) => "tombstoned",
        (_, true, _) => "shredded",
        (_, _, true) => "deleted",
        _ => "live",
    }
}

pub fn streams(args: StreamsArgs) -> CliResult {
    let store = args.target.open(false)?;
    let rows = list_streams(&store, &args.prefix, args.after.as_deref(), args.limit)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for row in &rows {
            view::json_line(&mut out, row)?;
        }
        return Ok(());
    }
    let on_cluster = rows.iter().any(|r| r.node.is_some());
    let mut headers = vec!["STREAM", "EVENTS", "LAST POSITION", "STATE"];
    if on_cluster {
        headers.push("NODE");
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let s = &r.summary;
            let mut row = vec![
                s.name.clone(),
                s.next_revision.to_string(),
                s.last_position.map_or_else(|| "-".to_owned(), |p| p.to_string()),
                state(s).to_owned(),
            ];
            if on_cluster {
                row.push(r.node.clone().unwrap_or_default());
            }
            row
        })
        .collect();
    view::table(&mut out, &headers, &table)
}

pub fn info(args: InfoArgs) -> CliResult {
    let store = args.target.open(false)?;
    let info = store.stream_info_blocking(&args.stream)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        return view::json_pretty(&mut out, &info);
    }
    let current = match info.current {
        graveyard::CurrentRevision::NoStream => "no stream".to_owned(),
        graveyard::CurrentRevision::Revision(r) => r.to_string(),
    };
    let metadata = serde_json::to_string(&info.metadata).unwrap_or_default();
    let rows = vec![
        vec!["stream".to_owned(), args.stream.clone()],
        vec!["current revision".to_owned(), current],
        vec!["next revision".to_owned(), info.next_revision.to_string()],
        vec!["deleted".to_owned(), view::yes(info.deleted)],
        vec!["shredded".to_owned(), view::yes(info.shredded)],
        vec!["metadata".to_owned(), metadata],
    ];
    view::table(&mut out, &["FIELD", "VALUE"], &rows)
}

pub fn schemas(args: SchemasArgs) -> CliResult {
    let mut out = std::io::stdout().lock();
    match args.command {
        SchemasCommand::List(Listing { json, target }) => {
            let store = target.open(false)?;
            let schemas = store.list_schemas_blocking()?;
            if json {
                for schema in &schemas {
                    view::json_line(&mut out, schema)?;
                }
                return Ok(());
            }
            let rows: Vec<Vec<String>> = schemas
                .iter()
                .map(|s| {
                    vec![
                        s.schema.name.clone(),
                        s.version.to_string(),
                        serde_json::to_value(s.schema.compatibility)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                        s.schema.fields.len().to_string(),
                        s.schema.description.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            view::table(&mut out, &["SCHEMA", "VERSION", "COMPATIBILITY", "FIELDS", "DESCRIPTION"], &rows)
        }
        SchemasCommand::Show { name, version, target } => {
            let store = target.open(false)?;
            view::json_pretty(&mut out, &store.get_schema_blocking(&name, version)?)
        }
        SchemasCommand::Upsert { definition, json, target } => {
            let text = super::events::argument_bytes(&definition, "the definition")?;
            let schema: Schema = serde_json::from_slice(&text)
                .map_err(|e| Failure::usage(format!("the schema definition is not valid: {e}")))?;
            let store = target.open(false)?;
            let result = store.upsert_schema_blocking(&schema)?;
            if json {
                return view::json_line(&mut out, &result);
            }
            let what = if result.changed { "registered" } else { "unchanged, still" };
            writeln!(out, "schema {}: {what} version {}", result.name, result.version)?;
            Ok(())
        }
    }
}

fn target_text(target: &GroupTarget) -> String {
    match target {
        GroupTarget::Stream(stream) => stream.clone(),
        GroupTarget::All(filter) if filter.stream_prefixes.is_empty() && filter.event_types.is_empty() => {
            "$all".to_owned()
        }
        GroupTarget::All(filter) => {
            let mut parts: Vec<String> = filter.stream_prefixes.iter().map(|p| format!("{p}*")).collect();
            parts.extend(filter.event_types.iter().map(|t| format!("type={t}")));
            format!("$all ({})", parts.join(", "))
        }
    }
}

pub fn groups(args: GroupsArgs) -> CliResult {
    let mut out = std::io::stdout().lock();
    match args.command {
        GroupsCommand::List(Listing { json, target }) => {
            let store = target.open(false)?;
            let mut infos: Vec<GroupInfo> = Vec::new();
            for name in store.list_groups_blocking()? {
                infos.push(store.group_info_blocking(&name)?);
            }
            if json {
                for info in &infos {
                    view::json_line(&mut out, info)?;
                }
                return Ok(());
            }
            let rows: Vec<Vec<String>> = infos
                .iter()
                .map(|g| {
                    vec![
                        g.name.clone(),
                        target_text(&g.target),
                        g.checkpoint.to_string(),
                        g.lag.to_string(),
                        g.members.len().to_string(),
                        g.in_flight.to_string(),
                        g.parked.to_string(),
                    ]
                })
                .collect();
            view::table(
                &mut out,
                &["GROUP", "TARGET", "CHECKPOINT", "LAG", "MEMBERS", "IN FLIGHT", "PARKED"],
                &rows,
            )
        }
        GroupsCommand::Show { name, target } => {
            let store = target.open(false)?;
            view::json_pretty(&mut out, &store.group_info_blocking(&name)?)
        }
        GroupsCommand::Replay { name, limit, json, target } => {
            let store = target.open(false)?;
            let replay = store.replay_parked_blocking(&name, limit)?;
            if json {
                return view::json_line(&mut out, &replay);
            }
            let count = replay.revisions.end - replay.revisions.start;
            writeln!(
                out,
                "replayed {count} parked event(s) of group {name}; {} still parked, {} replaying",
                replay.parked, replay.replaying
            )?;
            Ok(())
        }
    }
}

pub fn shred(args: ShredArgs) -> CliResult {
    if !args.yes {
        return Err(Failure::usage(format!(
            "shredding destroys the data key of '{}' for good: its events' data and metadata can \
             never be read again; add --yes to do it",
            args.stream
        )));
    }
    let store = args.target.open(false)?;
    store.shred_stream_blocking(&args.stream)?;
    writeln!(std::io::stdout().lock(), "shredded {}", args.stream)?;
    Ok(())
}

#[derive(Serialize)]
struct NodeStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<String>,
    /// Events in the node's global log.
    head_position: u64,
    streams: u64,
}

#[derive(Serialize)]
struct Stats {
    nodes: Vec<NodeStats>,
    schemas: usize,
    groups: usize,
    /// Events committed beyond the groups' checkpoints, summed.
    groups_lag: u64,
    parked: u64,
}

pub fn stats(args: StatsArgs) -> CliResult {
    let store = args.target.open(false)?;
    let mut nodes = Vec::new();
    for (node, member) in members(&store)? {
        let head_position = member.head_position_blocking()?;
        let streams = list_one(&member, "", None, None)?.len() as u64;
        nodes.push(NodeStats { node, head_position, streams });
    }
    let schemas = store.list_schemas_blocking()?.len();
    let (mut groups, mut groups_lag, mut parked) = (0, 0, 0);
    for name in store.list_groups_blocking()? {
        let info = store.group_info_blocking(&name)?;
        groups += 1;
        groups_lag += info.lag;
        parked += info.parked;
    }
    let stats = Stats { nodes, schemas, groups, groups_lag, parked };
    let mut out = std::io::stdout().lock();
    if args.json {
        return view::json_pretty(&mut out, &stats);
    }
    let mut rows = Vec::new();
    for n in &stats.nodes {
        let prefix = n.node.as_ref().map(|id| format!("{id}: ")).unwrap_or_default();
        rows.push(vec![format!("{prefix}events ($all)"), n.head_position.to_string()]);
        rows.push(vec![format!("{prefix}streams"), n.streams.to_string()]);
    }
    rows.push(vec!["schemas".to_owned(), stats.schemas.to_string()]);
    rows.push(vec!["consumer groups".to_owned(), stats.groups.to_string()]);
    rows.push(vec!["groups' lag".to_owned(), stats.groups_lag.to_string()]);
    rows.push(vec!["parked events".to_owned(), stats.parked.to_string()]);
    view::table(&mut out, &["", "VALUE"], &rows)
}
