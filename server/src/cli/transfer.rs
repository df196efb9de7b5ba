//! `export` and `import`: a store as JSON lines, for backups and migrations.
//!
//! An export is the store's history replayed in order, so that an import rebuilds the same
//! streams at the same revisions, with the same ids and bytes:
//! - the global log (`$all`; a cluster's members merged by commit time), each user event as an
//!   `event` line (the form of `read --json`) and each schema version as a `schema` line at the
//!   place it was registered, so that every event is checked again against the version that
//!   checked it the first time;
//! - a `delete` line right after the last event a stream's last soft delete hid (`"revision"`),
//!   so that the events appended after that delete stay visible and those before it do not;
//! - then, per stream, its `metadata`, `shred` (its data key was destroyed), `delete` (a
//!   deleted stream that never had events to follow) and `tombstone`.
//!
//! Other system streams (`$`-prefixed: parked copies) are state of their own and not exported;
//! neither are shredded events, whose data no longer exists.
//!
//! An import applies the lines in order, consecutive events of a stream as one append. By
//! default it keeps the file's revisions: the event of revision r goes to revision r or the
//! import stops with a conflict (exit 4); `--merge` appends after whatever the store's streams
//! hold instead. Every line is idempotent: events keep their ids (a line without one gets an id
//! derived from its line number and text), and the store recognises an event it already holds
//! (a stored prefix of an append is skipped); schema versions, deletes, shreds and tombstones
//! already applied are recognised too. So an interrupted import, or one run again, never writes
//! anything twice. The import records how far it got in `FILE.import-checkpoint`, with the store
//! it was writing to, so a run again resumes there instead of re-reading the whole file.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use graveyard::schema::{Schema, SCHEMA_STREAM_PREFIX};
use graveyard::{
    CurrentRevision, Direction, Error, EventData, ExpectedVersion, ListStreamsOptions, ReadAllOptions,
    RecordedEvent, Store, StreamMetadata, StreamSummary, Uuid,
};
use serde::{Deserialize, Serialize};

use super::events::EventLine;
use super::{members, view, CliResult, Failure, Target};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to FILE (written whole, then renamed into place) [default: stdout]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    target: Target,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The export to load
    file: PathBuf,
    /// Start over, ignoring (and replacing) the checkpoint of an earlier, interrupted import
    #[arg(long)]
    restart: bool,
    /// Append each stream's events after what the store's stream holds, whatever their
    /// revisions in the file [default: an event goes to its revision, else a conflict]
    #[arg(long)]
    merge: bool,
    /// Close the name of a stream that was shredded with a tombstone when the store has no
    /// encryption to shred it [default: such a stream stops the import]
    #[arg(long)]
    shredded_as_tombstones: bool,
    /// Longest line taken, in bytes (an event's data and metadata, base64 if binary)
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    max_line_bytes: u64,
    #[command(flatten)]
    target: Target,
}

/// Most events in one append of an import.
const BATCH_EVENTS: usize = 500;
/// Most bytes of data and metadata in one append of an import.
const BATCH_BYTES: usize = 4 << 20;
/// Events (of `$all`) or streams asked for at once while exporting.
const PAGE: u64 = 1000;
/// How often an import records its checkpoint: every line is idempotent, so the checkpoint
/// only spares a resumed import the lines it already applied.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// A line that is not an event.
#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct StateLine {
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stream: Option<String>,
    /// Of a `delete`: the stream's last revision when it was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revision: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<StreamMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schema: Option<Schema>,
}

impl StateLine {
    fn new(kind: &str, stream: Option<&str>) -> StateLine {
        StateLine {
            kind: kind.to_owned(),
            stream: stream.map(str::to_owned),
            revision: None,
            metadata: None,
            version: None,
            schema: None,
        }
    }
}

/// Only the kind, to choose how to read the rest of the line.
#[derive(Deserialize)]
struct Probe {
    kind: Option<String>,
}

// ---- export ------------------------------------------------------------------------------------

/// One member's `$all`, read a page ahead.
struct Cursor {
    store: Store,
    page: VecDeque<RecordedEvent>,
    next: u64,
    done: bool,
}

impl Cursor {
    fn head(&mut self) -> CliResult<Option<&RecordedEvent>> {
        if self.page.is_empty() && !self.done {
            let page = self.store.read_all_blocking(ReadAllOptions {
                direction: Direction::Forwards,
                from: Some(self.next),
                limit: PAGE,
                filter: Default::default(),
            })?;
            self.done = (page.len() as u64) < PAGE;
            if let Some(last) = page.last() {
                self.next = last.position + 1;
            }
            self.page.extend(page);
        }
        Ok(self.page.front())
    }
}

/// Every user stream of every member, each with the member that holds it.
fn all_streams(nodes: &[(Option<String>, Store)]) -> CliResult<Vec<(usize, StreamSummary)>> {
    let mut out = Vec::new();
    for (index, (_, member)) in nodes.iter().enumerate() {
        let mut after: Option<String> = None;
        loop {
            let options = ListStreamsOptions { prefix: String::new(), after: after.take(), limit: PAGE };
            let page = member.list_streams_blocking(&options)?;
            after = page.last().map(|s| s.name.clone());
            let last_page = (page.len() as u64) < PAGE;
            out.extend(page.into_iter().filter(|s| !s.name.starts_with('$')).map(|s| (index, s)));
            if last_page {
                break;
            }
        }
    }
    Ok(out)
}

/// An export under way: what it reads, where it writes, what it counted.
struct Exporter<'a, W: Write> {
    nodes: &'a [(Option<String>, Store)],
    streams: &'a [(usize, StreamSummary)],
    out: W,
    progress: &'a indicatif::ProgressBar,
    schemas: u64,
    events: u64,
    shredded: u64,
}

impl<W: Write> Exporter<'_, W> {
    fn events(&mut self) -> CliResult {
        // The last revision each stream had when it was last soft-deleted, where events follow
        // it (a stream deleted with nothing after gets its `delete` with the stream's state).
        let deletes: HashMap<&str, u64> = self
            .streams
            .iter()
            .filter(|(_, s)| s.deleted_before > 0 && !s.tombstoned && !s.shredded)
            .map(|(_, s)| (s.name.as_str(), s.deleted_before - 1))
            .collect();
        let mut schemas: HashMap<(String, u32), Schema> = HashMap::new();
        let mut cursors: Vec<Cursor> = self
            .nodes
            .iter()
            .map(|(_, store)| Cursor { store: store.clone(), page: VecDeque::new(), next: 0, done: false })
            .collect();
        loop {
            // The members' logs merged by commit time: a schema version registered on every
            // member comes before the events that were checked against it, wherever they were
            // appended.
            let mut earliest: Option<(usize, i64)> = None;
            for (index, cursor) in cursors.iter_mut().enumerate() {
                if let Some(event) = cursor.head()? {
                    if earliest.is_none_or(|(_, time)| event.timestamp < time) {
                        earliest = Some((index, event.timestamp));
                    }
                }
            }
            let Some((index, _)) = earliest else { return Ok(()) };
            let event = cursors[index].page.pop_front().expect("the head was just read");
            if let Some(name) = event.stream.strip_prefix(SCHEMA_STREAM_PREFIX) {
                let version = u32::try_from(event.revision + 1).map_err(|_| Failure {
                    exit: 8,
                    message: format!("schema '{name}' has an impossible revision {}", event.revision),
                })?;
                let schema = Schema::from_json(&event.data)?;
                // Every member of a cluster stores every version: one line each.
                if schemas.get(&(name.to_owned(), version)) == Some(&schema) {
                    continue;
                }
                let line = StateLine {
                    version: Some(version),
                    schema: Some(schema.clone()),
                    ..StateLine::new("schema", None)
                };
                view::json_line(&mut self.out, &line)?;
                schemas.insert((name.to_owned(), version), schema);
                self.schemas += 1;
            } else if event.stream.starts_with('$') {
                continue;
            } else if event.shredded {
                self.shredded += 1;
                continue;
            } else {
                let mut line = EventLine::from_event(&event);
                line.kind = Some("event".to_owned());
                view::json_line(&mut self.out, &line)?;
                self.events += 1;
                if deletes.get(event.stream.as_str()) == Some(&event.revision) {
                    let line = StateLine {
                        revision: Some(event.revision),
                        ..StateLine::new("delete", Some(&event.stream))
                    };
                    view::json_line(&mut self.out, &line)?;
                }
            }
            self.progress.inc(1);
        }
    }

    fn states(&mut self) -> CliResult {
        for (index, s) in self.streams {
            let name = Some(s.name.as_str());
            if s.tombstoned {
                // Nothing else of a tombstoned stream can be read, or matters.
                view::json_line(&mut self.out, &StateLine::new("tombstone", name))?;
                continue;
            }
            let metadata = self.nodes[*index].1.get_stream_metadata_blocking(&s.name)?;
            if metadata != StreamMetadata::default() {
                let line = StateLine { metadata: Some(metadata), ..StateLine::new("metadata", name) };
                view::json_line(&mut self.out, &line)?;
            }
            if s.shredded {
                view::json_line(&mut self.out, &StateLine::new("shred", name))?;
            }
            // A deleted stream whose delete did not follow an exported event.
            if s.deleted && (s.next_revision == 0 || s.shredded) {
                view::json_line(&mut self.out, &StateLine::new("delete", name))?;
            }
            self.progress.inc(1);
        }
        Ok(())
    }
}

pub fn export(args: ExportArgs) -> CliResult {
    let store = args.target.open(false)?;
    let (out, tmp): (Box<dyn Write>, Option<PathBuf>) = match &args.out {
        Some(path) => {
            let tmp = beside(path, ".export-tmp");
            let file = File::create(&tmp)
                .map_err(|e| Failure::usage(format!("--out '{}' cannot be written: {e}", tmp.display())))?;
            (Box::new(BufWriter::new(file)), Some(tmp))
        }
        None => (Box::new(BufWriter::new(std::io::stdout().lock())), None),
    };
    let progress = view::progress("lines exported");
    let nodes = members(&store)?;
    // Listed first: the deletes go among the events.
    let streams = all_streams(&nodes)?;
    let mut exporter = Exporter {
        nodes: &nodes,
        streams: &streams,
        out,
        progress: &progress,
        schemas: 0,
        events: 0,
        shredded: 0,
    };
    let outcome =
        exporter.events().and_then(|()| exporter.states()).and_then(|()| Ok(exporter.out.flush()?));
    let Exporter { schemas, events, shredded, .. } = exporter;
    progress.finish_and_clear();
    if let Err(failure) = outcome {
        if let Some(tmp) = &tmp {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(failure);
    }
    if let (Some(tmp), Some(path)) = (tmp, &args.out) {
        File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(path)?;
    }
    let shredded = match shredded {
        0 => String::new(),
        n => format!(" ({n} shredded event(s) left out: their data is gone)"),
    };
    eprintln!(
        "exported {schemas} schema version(s), {events} event(s) of {} stream(s){shredded}",
        streams.len()
    );
    Ok(())
}

/// `path` with `suffix` added to its file name (`backup.jsonl` -> `backup.jsonl.export-tmp`):
/// never another file's name, as replacing its extension could be.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Makes a rename into the directory of `path` durable.
fn sync_dir(path: &Path) -> CliResult {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()?;
    Ok(())
}

// ---- import ------------------------------------------------------------------------------------

/// Where an import stands, kept beside the file it reads.
#[derive(Serialize, Deserialize, Debug, Default)]
struct Checkpoint {
    /// Bytes of the file applied (always the end of a line).
    offset: u64,
    /// Lines applied.
    lines: u64,
    /// SHA-256 of those bytes: a resume needs the part already applied unchanged (the rest may
    /// have been fixed, say a line that was refused).
    applied_sha256: String,
    /// The store the lines were applied to: resuming into another one would skip them there.
    #[serde(default)]
    target: String,
}

/// A place in the file: a line's start, the lines before it and the digest of the bytes
/// before it.
#[derive(Clone)]
struct Mark {
    offset: u64,
    lines: u64,
    digest: ring::digest::Context,
}

/// A SHA-256 context over the first `len` bytes of `file`.
fn prefix_digest(file: &mut File, len: u64) -> CliResult<ring::digest::Context> {
    file.seek(SeekFrom::Start(0))?;
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut left = len;
    let mut buffer = vec![0u8; 1 << 16];
    while left > 0 {
        let want = buffer.len().min(left as usize);
        file.read_exact(&mut buffer[..want])?;
        context.update(&buffer[..want]);
        left -= want as u64;
    }
    Ok(context)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the checkpoint names as the store: the data directory, or the cluster's members.
fn target_identity(target: &Target, store: &Store) -> CliResult<String> {
    if let Some(dir) = &target.data_dir {
        return Ok(format!("data-dir {}", std::fs::canonicalize(dir)?.display()));
    }
    let mut ids: Vec<String> = match store.client() {
        Some(client) => client.members().into_iter().map(|m| format!("{}@{}", m.id, m.endpoint)).collect(),
        None => Vec::new(),
    };
    ids.sort();
    Ok(format!("cluster {}", ids.join(",")))
}

/// An event line, read.
struct Incoming {
    line: u64,
    stream: String,
    revision: Option<u64>,
    data: EventData,
}

/// One line of an export, read.
enum Line {
    Blank,
    /// An event whose data was shredded: nothing to import.
    Shredded,
    Event(Box<Incoming>),
    Schema(Option<u32>, Box<Schema>),
    Metadata(String, StreamMetadata),
    /// A soft delete, at the stream's last revision then when known.
    Delete(String, Option<u64>),
    Shred(String),
    Tombstone(String),
}

/// The id of an event line that has none: the same for the same line at the same place, so a
/// resumed import recognises the event it wrote before.
fn derived_id(line_no: u64, raw: &[u8]) -> Uuid {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(b"graveyard import line\0");
    context.update(&line_no.to_be_bytes());
    context.update(raw);
    let digest = context.finish();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn parse_line(raw: &[u8], line_no: u64) -> Result<Line, String> {
    let line =
        std::str::from_utf8(raw).map_err(|_| "not UTF-8 text".to_owned())?.trim_end_matches(['\n', '\r']);
    if line.trim().is_empty() {
        return Ok(Line::Blank);
    }
    let probe: Probe = serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let kind = match probe.kind.as_deref() {
        Some("event") | None => {
            let event: EventLine = serde_json::from_str(line).map_err(|e| format!("not an event: {e}"))?;
            if event.shredded {
                return Ok(Line::Shredded);
            }
            let mut data = event.to_event_data()?;
            if data.id.is_none() {
                data.id = Some(derived_id(line_no, line.as_bytes()));
            }
            return Ok(Line::Event(Box::new(Incoming {
                line: line_no,
                stream: event.stream,
                revision: event.revision,
                data,
            })));
        }
        Some(kind) => kind,
    };
    let state: StateLine = serde_json::from_str(line).map_err(|e| format!("not a {kind} line: {e}"))?;
    let stream = || state.stream.clone().ok_or_else(|| format!("a {kind} line names no stream"));
    Ok(match kind {
        "schema" => {
            Line::Schema(state.version, Box::new(state.schema.clone().ok_or("a schema line has no schema")?))
        }
        "metadata" => Line::Metadata(stream()?, state.metadata.ok_or("a metadata line has no metadata")?),
        "delete" => Line::Delete(stream()?, state.revision),
        "shred" => Line::Shred(stream()?),
        "tombstone" => Line::Tombstone(stream()?),
        other => {
            return Err(format!(
                "unknown kind '{other}' (event, schema, metadata, delete, shred or tombstone)"
            ))
        }
    })
}

/// Events of one stream waiting to be appended together.
struct Batch {
    stream: String,
    /// Where its first line starts: everything before is applied once it is appended.
    start: Mark,
    events: Vec<Incoming>,
    bytes: usize,
}

impl Batch {
    /// Whether `event` may join: same stream, room left, and revisions that go on by one (or
    /// none, where the file gives none).
    fn takes(&self, event: &Incoming, size: usize) -> bool {
        let last = self.events.last().expect("a batch holds an event");
        let follows = match (last.revision, event.revision) {
            (Some(a), Some(b)) => a.checked_add(1) == Some(b),
            (None, None) => true,
            _ => false,
        };
        self.stream == event.stream
            && follows
            && self.events.len() < BATCH_EVENTS
            && self.bytes + size <= BATCH_BYTES
    }
}

/// A failure of a line of the file: says which, and keeps the class of the store's error.
fn at_lines(file: &Path, first: u64, last: u64, failure: Failure) -> Failure {
    let lines = if first == last { format!("line {first}") } else { format!("lines {first}-{last}") };
    Failure { message: format!("{lines} of '{}': {}", file.display(), failure.message), ..failure }
}

fn conflict(message: String) -> Failure {
    Failure { exit: 4, message }
}

/// A stream's entry in the listing of its member (a cluster lists per member).
fn summary(store: &Store, stream: &str) -> CliResult<Option<StreamSummary>> {
    let node = match store.client() {
        Some(client) => store.on_node(&client.owner(stream).id)?,
        None => store.clone(),
    };
    let options = ListStreamsOptions { prefix: stream.to_owned(), after: None, limit: 1 };
    Ok(node.list_streams_blocking(&options)?.into_iter().find(|s| s.name == stream))
}

/// The import under way: the store, the mode, and what it has done.
struct Importer {
    store: Store,
    file: PathBuf,
    merge: bool,
    shredded_as_tombstones: bool,
    /// Streams this import soft-deleted with nothing appended since: the next event goes on
    /// from the revisions they had.
    deleted: HashSet<String>,
    /// The last revision this run gave each stream (where `--merge` moves revisions).
    last_revision: HashMap<String, u64>,
    events: u64,
    tombstoned: u64,
    shredded: u64,
}

impl Importer {
    fn append_batch(&mut self, batch: Batch) -> CliResult {
        let (first, last) = (batch.events[0].line, batch.events[batch.events.len() - 1].line);
        self.place(&batch.stream, &batch.events).map_err(|failure| at_lines(&self.file, first, last, failure))
    }

    /// Appends `events` (consecutive lines of one stream), at their revisions unless merging.
    fn place(&mut self, stream: &str, mut events: &[Incoming]) -> CliResult {
        while !events.is_empty() {
            let at = events[0].revision.filter(|_| !self.merge);
            let expected = match at {
                None => ExpectedVersion::Any,
                // A soft-deleted stream passes NoStream whatever revisions it had: there only an
                // earlier run's events (a retry, answered before the expectation is checked) may
                // stand at revision 0, so ask for a stream that exists, which it does not.
                Some(0) => match summary(&self.store, stream)? {
                    Some(s) if s.deleted && s.next_revision > 0 => ExpectedVersion::StreamExists,
                    _ => ExpectedVersion::NoStream,
                },
                Some(r) if self.deleted.contains(stream) => {
                    // Deleted by this import: NoStream passes whatever its revisions, so check
                    // that the events go on from where the stream was.
                    if summary(&self.store, stream)?.is_none_or(|s| s.next_revision != r) {
                        return Err(self.other_events(stream, r));
                    }
                    ExpectedVersion::NoStream
                }
                Some(r) => ExpectedVersion::Exact(r - 1),
            };
            let data = || events.iter().map(|e| e.data.clone()).collect::<Vec<_>>();
            match self.store.append_blocking(stream, expected, data()) {
                Ok(result) => {
                    if let Some(r) = at {
                        // An idempotent retry answers with where the events were stored.
                        if result.first_revision != r {
                            return Err(conflict(format!(
                                "stream '{stream}': the store holds these events at revision {} \
                                 where the file says {r}",
                                result.first_revision
                            )));
                        }
                    }
                    self.events += events.len() as u64;
                    self.deleted.remove(stream);
                    self.last_revision.insert(stream.to_owned(), result.last_revision);
                    return Ok(());
                }
                Err(e @ Error::StreamDeleted { .. }) => {
                    return match self.store.stream_info_blocking(stream) {
                        // Tombstoned: its info is refused too. An import run again meets the
                        // tombstone it wrote the first time (the events are there), and no store
                        // takes more events after one.
                        Err(Error::StreamDeleted { .. }) => {
                            self.tombstoned += events.len() as u64;
                            Ok(())
                        }
                        // A shredded stream answers, and takes no events: an error.
                        _ => Err(e.into()),
                    };
                }
                Err(Error::WrongExpectedVersion { actual, .. }) if at.is_some() => {
                    let r = at.expect("checked");
                    match actual {
                        // The store holds revisions r..=a: this file's events if an import
                        // wrote them before; its retry is recognised by their ids.
                        CurrentRevision::Revision(a) if a >= r && ((a - r) as usize) < events.len() - 1 => {
                            let held = (a - r + 1) as usize;
                            let stored = self.store.append_blocking(
                                stream,
                                expected,
                                events[..held].iter().map(|e| e.data.clone()).collect(),
                            );
                            match stored {
                                Ok(result) if result.first_revision == r => {
                                    self.events += held as u64;
                                    events = &events[held..];
                                }
                                _ => return Err(self.other_events(stream, r)),
                            }
                        }
                        // Soft-deleted in the store (by this import, before it was interrupted):
                        // its revisions go on where they were.
                        CurrentRevision::NoStream if r > 0 && !self.deleted.contains(stream) => {
                            match summary(&self.store, stream)? {
                                Some(s) if s.deleted && s.next_revision == r => {
                                    self.deleted.insert(stream.to_owned());
                                }
                                _ => return Err(self.other_events(stream, r)),
                            }
                        }
                        _ => return Err(self.other_events(stream, r)),
                    }
                }
                // Refused for one event: one at a time, to name its line (those before it are
                // appended, and recognised if the import is run again).
                Err(Error::InvalidArgument(_) | Error::SchemaViolation { .. }) if events.len() > 1 => {
                    for event in events {
                        self.place(stream, std::slice::from_ref(event))
                            .map_err(|failure| at_lines(&self.file, event.line, event.line, failure))?;
                    }
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn other_events(&self, stream: &str, revision: u64) -> Failure {
        let holds = match summary(&self.store, stream) {
            Ok(Some(s)) if s.next_revision > 0 => format!("revisions up to {}", s.next_revision - 1),
            _ => "no events".to_owned(),
        };
        conflict(format!(
            "stream '{stream}' in the store holds {holds}, not this file's events from revision {revision} \
             (--merge appends after what the store's streams hold)"
        ))
    }

    fn apply(&mut self, line: Line) -> CliResult {
        match line {
            Line::Schema(version, schema) => self.schema(version, *schema),
            Line::Metadata(stream, metadata) => {
                Ok(self.store.set_stream_metadata_blocking(&stream, metadata)?)
            }
            Line::Delete(stream, revision) => self.delete(&stream, revision),
            Line::Shred(stream) => self.shred(&stream),
            Line::Tombstone(stream) => {
                match self.store.tombstone_stream_blocking(&stream, ExpectedVersion::Any) {
                    // Tombstoned already (by this import, run before): done.
                    Err(Error::StreamDeleted { .. }) => Ok(()),
                    other => Ok(other?),
                }
            }
            Line::Blank | Line::Shredded | Line::Event(_) => unreachable!("handled by the caller"),
        }
    }

    /// Stores schema version `version` as that version, or finds it stored already.
    fn schema(&mut self, version: Option<u32>, schema: Schema) -> CliResult {
        let name = schema.name.clone();
        let Some(version) = version else {
            // A line written by hand: the next version, unless it equals the latest.
            self.store.upsert_schema_blocking(&schema)?;
            return Ok(());
        };
        match self.store.get_schema_blocking(&name, Some(version)) {
            Ok(stored) if stored.schema == schema => return Ok(()),
            Ok(_) => {
                return Err(conflict(format!(
                    "schema '{name}' version {version} in the store differs from this file's"
                )))
            }
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let latest = match self.store.get_schema_blocking(&name, None) {
            Ok(stored) => stored.version,
            Err(Error::NotFound(_)) => 0,
            Err(e) => return Err(e.into()),
        };
        if latest + 1 != version {
            return Err(conflict(format!(
                "schema '{name}' has {latest} version(s) in the store; this file's version {version} cannot \
                 follow them (versions are stored in order)"
            )));
        }
        let upserted = self.store.upsert_schema_blocking(&schema)?;
        if !upserted.changed || upserted.version != version {
            return Err(conflict(format!(
                "schema '{name}' was stored as version {} where this file says {version}",
                upserted.version
            )));
        }
        Ok(())
    }

    fn delete(&mut self, stream: &str, revision: Option<u64>) -> CliResult {
        let Some(state) = summary(&self.store, stream)? else {
            return Err(Failure::from(Error::NotFound(format!("stream '{stream}' is not in the store"))));
        };
        if state.tombstoned {
            return Ok(());
        }
        let at = match revision {
            Some(r) if !self.merge => Some(r),
            Some(_) => self
                .last_revision
                .get(stream)
                .copied()
                .or_else(|| (!state.deleted && state.next_revision > 0).then(|| state.next_revision - 1)),
            None => None,
        };
        match at {
            // Applied already when the delete hid that revision (and maybe written since).
            Some(r) if state.deleted_before > r => {
                if !state.deleted {
                    return Ok(());
                }
            }
            Some(r) => {
                self.store.delete_stream_blocking(stream, ExpectedVersion::Exact(r)).map_err(|e| match e {
                    Error::WrongExpectedVersion { .. } => conflict(format!(
                        "stream '{stream}' in the store is not at revision {r}, where it was deleted"
                    )),
                    e => e.into(),
                })?
            }
            None if state.deleted => {}
            None => self.store.delete_stream_blocking(stream, ExpectedVersion::Any)?,
        }
        self.deleted.insert(stream.to_owned());
        Ok(())
    }

    /// Closes a stream that was shredded: its events were not exported (their data is gone),
    /// so it is made here and its key destroyed, and it takes no events, as in the source.
    fn shred(&mut self, stream: &str) -> CliResult {
        match self.store.stream_info_blocking(stream) {
            Ok(info) if info.shredded => return Ok(()),
            Ok(_) => {}
            Err(Error::NotFound(_)) => {
                self.store.set_stream_metadata_blocking(stream, StreamMetadata::default())?
            }
            // Tombstoned by an earlier run of a --shredded-as-tombstones import.
            Err(Error::StreamDeleted { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        match self.store.shred_stream_blocking(stream) {
            Ok(()) => {}
            // Refused for a user stream only where the store has no encryption.
            Err(Error::InvalidArgument(_)) if self.shredded_as_tombstones => {
                self.store.tombstone_stream_blocking(stream, ExpectedVersion::Any)?
            }
            Err(Error::InvalidArgument(why)) => {
                return Err(Failure::usage(format!(
                    "stream '{stream}' was shredded, and this store cannot shred it ({why}): import into an \
                     encrypted store, or pass --shredded-as-tombstones to close its name with a tombstone"
                )))
            }
            Err(e) => return Err(e.into()),
        }
        self.shredded += 1;
        Ok(())
    }
}

/// The checkpoint file and how often it is written.
struct Checkpoints {
    path: PathBuf,
    target: String,
    written: Instant,
}

impl Checkpoints {
    /// Records that the lines before `mark` are applied: written whole and synced, then renamed
    /// into place, so a crash leaves the old checkpoint or the new one.
    fn write(&mut self, mark: &Mark) -> CliResult {
        let checkpoint = Checkpoint {
            offset: mark.offset,
            lines: mark.lines,
            applied_sha256: hex(mark.digest.clone().finish().as_ref()),
            target: self.target.clone(),
        };
        let tmp = beside(&self.path, ".tmp");
        let mut file = File::create(&tmp)?;
        file.write_all(&serde_json::to_vec(&checkpoint).expect("a checkpoint serialises"))?;
        file.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        sync_dir(&self.path)?;
        self.written = Instant::now();
        Ok(())
    }

    fn maybe(&mut self, mark: &Mark) -> CliResult {
        if self.written.elapsed() >= CHECKPOINT_EVERY {
            self.write(mark)?;
        }
        Ok(())
    }
}

/// Reads the checkpoint of an earlier run, if it applies.
fn resume_point(args: &ImportArgs, path: &Path, file: &mut File, target: &str) -> CliResult<Checkpoint> {
    let checkpoint = match std::fs::read(path) {
        Ok(bytes) if !args.restart => serde_json::from_slice::<Checkpoint>(&bytes).map_err(|e| {
            Failure::usage(format!("'{}' is not a checkpoint ({e}); --restart starts over", path.display()))
        })?,
        _ => return Ok(Checkpoint::default()),
    };
    if checkpoint.offset == 0 {
        // Nothing applied: nothing to skip, whichever store it was.
        return Ok(Checkpoint::default());
    }
    if checkpoint.target != target {
        return Err(Failure::usage(format!(
            "'{}' records an import into {}, not this store ({target}); --restart imports the whole file here",
            path.display(),
            if checkpoint.target.is_empty() { "another store" } else { checkpoint.target.as_str() }
        )));
    }
    if checkpoint.offset > file.metadata()?.len()
        || hex(prefix_digest(file, checkpoint.offset)?.finish().as_ref()) != checkpoint.applied_sha256
    {
        return Err(Failure::usage(format!(
            "the first {} line(s) of '{}' changed since the import that left '{}'; --restart starts over",
            checkpoint.lines,
            args.file.display(),
            path.display()
        )));
    }
    Ok(checkpoint)
}

pub fn import(args: ImportArgs) -> CliResult {
    let mut file = File::open(&args.file)
        .map_err(|e| Failure::usage(format!("'{}' cannot be read: {e}", args.file.display())))?;
    if args.max_line_bytes == 0 {
        return Err(Failure::usage("--max-line-bytes must be at least 1"));
    }
    let store = args.target.open(true)?;
    let target = target_identity(&args.target, &store)?;
    let path = beside(&args.file, ".import-checkpoint");
    let checkpoint = resume_point(&args, &path, &mut file, &target)?;
    if checkpoint.offset > 0 {
        eprintln!("resuming the import after line {}", checkpoint.lines);
    }
    let mut mark = Mark {
        offset: checkpoint.offset,
        lines: checkpoint.lines,
        digest: prefix_digest(&mut file, checkpoint.offset)?,
    };
    let mut reader = BufReader::new(file);
    let mut checkpoints = Checkpoints { path, target, written: Instant::now() };
    let mut importer = Importer {
        store,
        file: args.file.clone(),
        merge: args.merge,
        shredded_as_tombstones: args.shredded_as_tombstones,
        deleted: HashSet::new(),
        last_revision: HashMap::new(),
        events: 0,
        tombstoned: 0,
        shredded: 0,
    };
    let progress = view::progress("lines imported");
    let outcome = import_lines(&args, &mut reader, &mut mark, &mut importer, &mut checkpoints, &progress);
    progress.finish_and_clear();
    let skipped = outcome?;
    std::fs::remove_file(&checkpoints.path).or_else(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Ok(()),
        _ => Err(e),
    })?;
    let mut notes = String::new();
    if skipped > 0 {
        notes.push_str(&format!("; {skipped} shredded event(s) skipped (their data is gone)"));
    }
    if importer.shredded > 0 {
        notes.push_str(&format!("; {} shredded stream(s) closed", importer.shredded));
    }
    if importer.tombstoned > 0 {
        notes.push_str(&format!(
            "; {} event(s) of streams tombstoned in the store skipped",
            importer.tombstoned
        ));
    }
    eprintln!(
        "imported {} line(s): {} event(s) applied (events already in the store, known by id, are not written \
         twice){notes}",
        mark.lines, importer.events
    );
    Ok(())
}

/// Applies the lines from `mark` to the end; returns the shredded events skipped. On a failure
/// the checkpoint records everything applied before the line that failed.
fn import_lines(
    args: &ImportArgs,
    reader: &mut BufReader<File>,
    mark: &mut Mark,
    importer: &mut Importer,
    checkpoints: &mut Checkpoints,
    progress: &indicatif::ProgressBar,
) -> CliResult<u64> {
    let mut skipped = 0u64;
    let mut batch: Option<Batch> = None;
    let mut raw = Vec::new();
    // Appends the batch, or on failure records everything before it and fails.
    let flush =
        |batch: &mut Option<Batch>, importer: &mut Importer, checkpoints: &mut Checkpoints| -> CliResult {
            let Some(b) = batch.take() else { return Ok(()) };
            let start = b.start.clone();
            if let Err(failure) = importer.append_batch(b) {
                checkpoints.write(&start)?;
                return Err(failure);
            }
            Ok(())
        };
    loop {
        raw.clear();
        let read = (&mut *reader).take(args.max_line_bytes + 1).read_until(b'\n', &mut raw)?;
        if read == 0 {
            break;
        }
        let line_no = mark.lines + 1;
        let too_long = raw.len() as u64 > args.max_line_bytes;
        let parsed = if too_long {
            Err(format!("longer than {} bytes (--max-line-bytes)", args.max_line_bytes))
        } else {
            parse_line(&raw, line_no)
        };
        let line = match parsed {
            Ok(line) => line,
            // Everything before the bad line is applied, so a fixed file resumes right there.
            Err(why) => {
                flush(&mut batch, importer, checkpoints)?;
                checkpoints.write(mark)?;
                return Err(Failure::usage(format!(
                    "line {line_no} of '{}': {why} (the {} line(s) before it are imported; run the import again \
                     once the line is fixed to go on from there)",
                    args.file.display(),
                    mark.lines
                )));
            }
        };
        match line {
            Line::Blank => {}
            Line::Shredded => skipped += 1,
            Line::Event(event) => {
                let size = event.data.data.len() + event.data.metadata.len();
                if !batch.as_ref().is_some_and(|b| b.takes(&event, size)) {
                    flush(&mut batch, importer, checkpoints)?;
                    checkpoints.maybe(mark)?;
                    batch = Some(Batch {
                        stream: event.stream.clone(),
                        start: mark.clone(),
                        events: Vec::new(),
                        bytes: 0,
                    });
                }
                let b = batch.as_mut().expect("a batch was just made");
                b.events.push(*event);
                b.bytes += size;
            }
            state => {
                flush(&mut batch, importer, checkpoints)?;
                if let Err(failure) = importer.apply(state) {
                    checkpoints.write(mark)?;
                    return Err(at_lines(&args.file, line_no, line_no, failure));
                }
            }
        }
        mark.digest.update(&raw);
        mark.offset += read as u64;
        mark.lines = line_no;
        if batch.is_none() {
            checkpoints.maybe(mark)?;
        }
        progress.inc(1);
    }
    flush(&mut batch, importer, checkpoints)?;
    Ok(skipped)
}
