//! Events on the command line: `read`, `tail`, `append`, and the one JSON form of an event that
//! `read --json`, `tail --json`, `export` and `import` share.
//!
//! Data and metadata that are JSON on one line travel as JSON (`"data": {...}`), byte for byte;
//! anything else (binary, or JSON spanning lines) as base64 (`"data_base64": "..."`), so a line
//! is always one event and an import writes back exactly the bytes that were read.

use std::io::{Read, Write};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use clap::Args;
use graveyard::runtime::Next;
use graveyard::{
    Direction, EventData, ExpectedVersion, Filter, ReadAllOptions, ReadOptions, RecordedEvent, Store,
    SubscribeOptions, SubscriptionMessage, Uuid,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{view, CliResult, Failure, Target};

/// Events asked for at once while reading.
const PAGE: u64 = 1000;

/// Which events of $all, printed how, from where: what `read` and `tail` share.
#[derive(Args, Debug)]
pub struct EventsOut {
    /// Only these event types ($all; repeatable)
    #[arg(long = "type", value_name = "TYPE")]
    types: Vec<String>,
    /// Only streams starting with this ($all; repeatable)
    #[arg(long = "prefix", value_name = "PREFIX")]
    prefixes: Vec<String>,
    /// One JSON object per event and line
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

impl EventsOut {
    fn filter(&self) -> Filter {
        Filter { stream_prefixes: self.prefixes.clone(), event_types: self.types.clone() }
    }

    /// The filter applies to $all only; a stream's read or tail takes every event.
    fn check_stream(&self, command: &str) -> CliResult {
        if self.types.is_empty() && self.prefixes.is_empty() {
            Ok(())
        } else {
            Err(Failure::usage(format!(
                "--type and --prefix filter $all; a stream's {command} takes every event"
            )))
        }
    }
}

#[derive(Args, Debug)]
pub struct ReadArgs {
    /// The stream, or $all for the global log
    stream: String,
    /// Newest first
    #[arg(long)]
    backwards: bool,
    /// First revision (position for $all) to read [default: the start, or the end backwards]
    #[arg(long, value_name = "N")]
    from: Option<u64>,
    /// Most events to print [default: all]
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    #[command(flatten)]
    events: EventsOut,
}

#[derive(Args, Debug)]
pub struct TailArgs {
    /// The stream to follow [default: $all]
    stream: Option<String>,
    /// Print the history first, then follow [default: only what arrives from now]
    #[arg(long)]
    from_start: bool,
    /// Stop after this many events [default: follow until interrupted]
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    #[command(flatten)]
    events: EventsOut,
}

#[derive(Args, Debug)]
pub struct AppendArgs {
    /// The stream to append to
    stream: String,
    /// The event's type
    #[arg(long = "type", value_name = "TYPE")]
    event_type: String,
    /// The event's data: @FILE, - for stdin, or the text itself
    #[arg(long, value_name = "@FILE|-|TEXT")]
    data: String,
    /// The event's metadata: @FILE, - for stdin, or the text itself [default: none]
    #[arg(long, value_name = "@FILE|-|TEXT")]
    metadata: Option<String>,
    /// The data's content type; application/json is checked to be JSON
    #[arg(long, value_name = "TYPE", default_value = graveyard::CONTENT_TYPE_JSON)]
    content_type: String,
    /// Append only if the stream is so: any, no-stream, exists, or its last revision
    #[arg(long, value_name = "any|no-stream|exists|N", default_value = "any", value_parser = expected_version)]
    expected: ExpectedVersion,
    /// The event's id (a retry with the same id is answered with the first append's result)
    #[arg(long, value_name = "UUID", value_parser = uuid)]
    id: Option<Uuid>,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

fn expected_version(text: &str) -> Result<ExpectedVersion, String> {
    match text {
        "any" => Ok(ExpectedVersion::Any),
        "no-stream" | "no_stream" => Ok(ExpectedVersion::NoStream),
        "exists" | "stream-exists" | "stream_exists" => Ok(ExpectedVersion::StreamExists),
        other => other
            .parse::<u64>()
            .map(ExpectedVersion::Exact)
            .map_err(|_| format!("'{other}' is not any, no-stream, exists or a revision")),
    }
}

fn uuid(text: &str) -> Result<Uuid, String> {
    Uuid::parse_str(text).map_err(|e| format!("'{text}' is not a UUID: {e}"))
}

/// An event as a JSON line: see the module documentation. A field it does not know is refused
/// (a misspelt `metadta` must not import as an event without metadata).
#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct EventLine {
    /// `event` in an export, where other kinds of lines come too; absent in `read --json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub stream: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub content_type: Option<String>,
    /// Commit time, RFC 3339 (UTC, microseconds); informational, never imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_base64: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shredded: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
}

/// A JSON value that is there, `null` included: `"data": null` is the four bytes `null`, and
/// only a missing field means no bytes.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(deserializer).map(Some)
}

/// Bytes as JSON when they are JSON on one line, else as base64: (json, base64).
fn bytes_out(bytes: &[u8]) -> (Option<Box<RawValue>>, Option<String>) {
    if bytes.is_empty() {
        return (None, None);
    }
    if !bytes.contains(&b'\n') && !bytes.contains(&b'\r') {
        if let Ok(text) = std::str::from_utf8(bytes) {
            // RawValue keeps the text as it is (no reformatting), so the bytes survive.
            if let Ok(raw) = serde_json::from_str::<Box<RawValue>>(text) {
                if raw.get().len() == text.len() {
                    return (Some(raw), None);
                }
            }
        }
    }
    (None, Some(base64::engine::general_purpose::STANDARD.encode(bytes)))
}

fn bytes_in(json: Option<&RawValue>, b64: Option<&str>, what: &str) -> Result<Vec<u8>, String> {
    match (json, b64) {
        (Some(_), Some(_)) => Err(format!("both {what} and {what}_base64 are given")),
        (Some(raw), None) => Ok(raw.get().as_bytes().to_vec()),
        (None, Some(text)) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("{what}_base64 is not base64: {e}")),
        (None, None) => Ok(Vec::new()),
    }
}

pub fn time_text(micros: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_micros(micros.max(0) as u64);
    humantime::format_rfc3339_micros(time).to_string()
}

impl EventLine {
    pub fn from_event(e: &RecordedEvent) -> EventLine {
        let (data, data_base64) = bytes_out(&e.data);
        let (metadata, metadata_base64) = bytes_out(&e.metadata);
        EventLine {
            kind: None,
            stream: e.stream.clone(),
            revision: Some(e.revision),
            position: Some(e.position),
            id: Some(e.id.to_string()),
            event_type: e.event_type.clone(),
            content_type: Some(e.content_type.clone()),
            time: Some(time_text(e.timestamp)),
            data,
            data_base64,
            metadata,
            metadata_base64,
            shredded: e.shredded,
            schema_version: e.schema_version,
        }
    }

    /// The event to append again; errors say which field is wrong.
    pub fn to_event_data(&self) -> Result<EventData, String> {
        let id = match &self.id {
            Some(text) => Some(uuid(text)?),
            None => None,
        };
        Ok(EventData {
            id,
            event_type: self.event_type.clone(),
            data: bytes_in(self.data.as_deref(), self.data_base64.as_deref(), "data")?,
            metadata: bytes_in(self.metadata.as_deref(), self.metadata_base64.as_deref(), "metadata")?,
            content_type: self
                .content_type
                .clone()
                .unwrap_or_else(|| graveyard::CONTENT_TYPE_JSON.to_owned()),
        })
    }
}

/// One event as a line for people: position, stream@revision, type, time, data (shortened).
fn human_line(e: &RecordedEvent) -> String {
    const WIDTH: usize = 100;
    let data = if e.shredded {
        "<shredded>".to_owned()
    } else {
        match std::str::from_utf8(&e.data) {
            Ok(text) if !text.contains(|c: char| c.is_control() && c != '\n') => {
                let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
                if flat.chars().count() > WIDTH {
                    format!("{}…", flat.chars().take(WIDTH).collect::<String>())
                } else {
                    flat
                }
            }
            _ => format!("<{} bytes>", e.data.len()),
        }
    };
    let schema = e.schema_version.map(|v| format!(" v{v}")).unwrap_or_default();
    format!(
        "#{:<8} {}@{}  {}{}  {}  {}",
        e.position,
        e.stream,
        e.revision,
        e.event_type,
        schema,
        time_text(e.timestamp),
        data
    )
}

fn print_event(out: &mut impl Write, event: &RecordedEvent, json: bool) -> CliResult {
    if json {
        view::json_line(out, &EventLine::from_event(event))
    } else {
        writeln!(out, "{}", human_line(event))?;
        Ok(())
    }
}

/// Visits the events of a stream or of `$all` page by page (so a long read holds one page).
pub fn visit(
    store: &Store,
    stream: &str,
    direction: Direction,
    from: Option<u64>,
    limit: Option<u64>,
    filter: Filter,
    mut f: impl FnMut(&RecordedEvent) -> CliResult,
) -> CliResult<u64> {
    let all = stream == "$all";
    let mut next = from;
    let mut seen = 0u64;
    loop {
        let want = limit.map_or(PAGE, |l| (l - seen).min(PAGE));
        if want == 0 {
            return Ok(seen);
        }
        let page = if all {
            store.read_all_blocking(ReadAllOptions {
                direction,
                from: next,
                limit: want,
                filter: filter.clone(),
            })?
        } else {
            store.read_stream_blocking(stream, ReadOptions { direction, from: next, limit: want })?
        };
        for event in &page {
            f(event)?;
        }
        seen += page.len() as u64;
        let Some(last) = page.last() else { return Ok(seen) };
        // A short page is the last (a filtered read counts the events that match).
        if (page.len() as u64) < want {
            return Ok(seen);
        }
        let at = if all { last.position } else { last.revision };
        next = match direction {
            Direction::Forwards => Some(at + 1),
            Direction::Backwards => match at.checked_sub(1) {
                Some(n) => Some(n),
                None => return Ok(seen),
            },
        };
    }
}

pub fn read(args: ReadArgs) -> CliResult {
    if args.stream != "$all" {
        args.events.check_stream("read")?;
    }
    let store = args.events.target.open(false)?;
    let direction = if args.backwards { Direction::Backwards } else { Direction::Forwards };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let progress = view::progress("events read");
    let outcome = visit(&store, &args.stream, direction, args.from, args.limit, args.events.filter(), |e| {
        progress.inc(1);
        print_event(&mut out, e, args.events.json)
    });
    progress.finish_and_clear();
    outcome?;
    out.flush()?;
    Ok(())
}

pub fn tail(args: TailArgs) -> CliResult {
    let stream = args.stream.as_deref().filter(|s| *s != "$all");
    if stream.is_some() {
        args.events.check_stream("tail")?;
    }
    let store = args.events.target.open(false)?;
    let options = if args.from_start { SubscribeOptions::from_start() } else { SubscribeOptions::from_end() };
    let subscription = match stream {
        Some(stream) => store.subscribe_to_stream_blocking(stream, options)?,
        None => store.subscribe_to_all_blocking(options.filter(args.events.filter()))?,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut seen = 0u64;
    while args.limit.is_none_or(|limit| seen < limit) {
        match subscription.next_blocking(None)? {
            Next::Item(SubscriptionMessage::Event(event)) => {
                print_event(&mut out, &event, args.events.json)?;
                // Each event as it arrives, also into a pipe.
                out.flush()?;
                seen += 1;
            }
            Next::Item(SubscriptionMessage::CaughtUp) => {
                if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                    eprintln!("-- caught up; following live events (Ctrl-C to stop) --");
                }
            }
            Next::Timeout => {}
            // A subscription never ends silently: an error came first and was returned above.
            Next::Ended => return Err(Failure { exit: 7, message: "the subscription ended".into() }),
        }
    }
    Ok(())
}

/// `@FILE`, `-` (stdin) or the text itself.
pub fn argument_bytes(value: &str, flag: &str) -> CliResult<Vec<u8>> {
    if value == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes)?;
        Ok(bytes)
    } else if let Some(path) = value.strip_prefix('@') {
        std::fs::read(path).map_err(|e| Failure::usage(format!("{flag} '@{path}' cannot be read: {e}")))
    } else {
        Ok(value.as_bytes().to_vec())
    }
}

pub fn append(args: AppendArgs) -> CliResult {
    if args.data == "-" && args.metadata.as_deref() == Some("-") {
        return Err(Failure::usage("--data and --metadata cannot both come from stdin"));
    }
    let event = EventData {
        id: args.id,
        event_type: args.event_type.clone(),
        data: argument_bytes(&args.data, "--data")?,
        metadata: match &args.metadata {
            Some(value) => argument_bytes(value, "--metadata")?,
            None => Vec::new(),
        },
        content_type: args.content_type.clone(),
    };
    let store = args.target.open(false)?;
    let result = store.append_blocking(&args.stream, args.expected, vec![event])?;
    let mut out = std::io::stdout().lock();
    if args.json {
        view::json_line(&mut out, &result)
    } else {
        writeln!(
            out,
            "appended to {} at revision {} (position {})",
            args.stream, result.last_revision, result.last_position
        )?;
        Ok(())
    }
}
