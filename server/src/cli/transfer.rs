//! `export` and `import`: a store as JSON lines, for backups and migrations.
//!
//! An export holds, in order: every version of every schema (`"kind": "schema"`), every event
//! of the users' streams in `$all` order (`"kind": "event"`, the form of `read --json`), then
//! each stream's metadata, deletion and tombstone (`"metadata"`, `"delete"`, `"tombstone"`).
//! System streams (`$`-prefixed: parked copies, schema records) are state of their own and are
//! not exported; neither are shredded events, whose data no longer exists.
//!
//! An import applies the lines in order, consecutive events of a stream as one append, and
//! after each append records how far it got in `FILE.import-checkpoint`. Run again after an
//! interruption, it resumes there. Events keep their ids, so even the append that was under
//! way when the import stopped is recognised by the store and not written twice.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use graveyard::schema::Schema;
use graveyard::{Direction, EventData, ExpectedVersion, Filter, Store, StreamMetadata};
use serde::{Deserialize, Serialize};

use super::events::{visit, EventLine};
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
    #[command(flatten)]
    target: Target,
}

/// Most events in one append of an import.
const BATCH_EVENTS: usize = 500;
/// Most bytes of data and metadata in one append of an import.
const BATCH_BYTES: usize = 4 << 20;

/// A line that is not an event.
#[derive(Serialize, Deserialize, Debug)]
struct StateLine {
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<StreamMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schema: Option<Schema>,
}

impl StateLine {
    fn new(kind: &str) -> StateLine {
        StateLine { kind: kind.to_owned(), stream: None, metadata: None, version: None, schema: None }
    }
}

/// Only the kind, to choose how to read the rest of the line.
#[derive(Deserialize)]
struct Probe {
    kind: Option<String>,
}

pub fn export(args: ExportArgs) -> CliResult {
    let store = args.target.open(false)?;
    let (mut out, tmp): (Box<dyn Write>, Option<PathBuf>) = match &args.out {
        Some(path) => {
            let tmp = path.with_extension("export-tmp");
            let file = File::create(&tmp)
                .map_err(|e| Failure::usage(format!("--out '{}' cannot be written: {e}", tmp.display())))?;
            (Box::new(BufWriter::new(file)), Some(tmp))
        }
        None => (Box::new(BufWriter::new(std::io::stdout().lock())), None),
    };
    let progress = view::progress("lines exported");
    let (mut schemas, mut events, mut streams) = (0u64, 0u64, 0u64);

    for latest in store.list_schemas_blocking()? {
        for version in 1..=latest.version {
            let registered = store.get_schema_blocking(&latest.schema.name, Some(version))?;
            let line = StateLine {
                version: Some(version),
                schema: Some(registered.schema),
                ..StateLine::new("schema")
            };
            view::json_line(&mut out, &line)?;
            schemas += 1;
            progress.inc(1);
        }
    }
    let nodes = members(&store)?;
    for (_, member) in &nodes {
        visit(member, "$all", Direction::Forwards, None, None, Filter::default(), |event| {
            if event.stream.starts_with('$') || event.shredded {
                return Ok(());
            }
            let mut line = EventLine::from_event(event);
            line.kind = Some("event".to_owned());
            events += 1;
            progress.inc(1);
            view::json_line(&mut out, &line)
        })?;
    }
    for (_, member) in &nodes {
        let mut after: Option<String> = None;
        loop {
            let options =
                graveyard::ListStreamsOptions { prefix: String::new(), after: after.take(), limit: 1000 };
            let page = member.list_streams_blocking(&options)?;
            for s in &page {
                if s.name.starts_with('$') {
                    continue;
                }
                streams += 1;
                if !s.tombstoned {
                    let metadata = member.get_stream_metadata_blocking(&s.name)?;
                    if metadata != StreamMetadata::default() {
                        let line = StateLine {
                            stream: Some(s.name.clone()),
                            metadata: Some(metadata),
                            ..StateLine::new("metadata")
                        };
                        view::json_line(&mut out, &line)?;
                    }
                }
                let end = if s.tombstoned {
                    Some("tombstone")
                } else if s.deleted {
                    Some("delete")
                } else {
                    None
                };
                if let Some(kind) = end {
                    view::json_line(
                        &mut out,
                        &StateLine { stream: Some(s.name.clone()), ..StateLine::new(kind) },
                    )?;
                }
                progress.inc(1);
            }
            if page.len() < 1000 {
                break;
            }
            after = page.last().map(|s| s.name.clone());
        }
    }
    out.flush()?;
    drop(out);
    progress.finish_and_clear();
    if let (Some(tmp), Some(path)) = (tmp, &args.out) {
        File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)?;
    }
    eprintln!("exported {schemas} schema version(s), {events} event(s) of {streams} stream(s)");
    Ok(())
}

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
}

/// A SHA-256 context over the first `len` bytes of `file`.
fn prefix_digest(file: &mut File, len: u64) -> CliResult<ring::digest::Context> {
    use std::io::Read;
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

fn hex(context: &ring::digest::Context) -> String {
    context.clone().finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn checkpoint_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".import-checkpoint");
    file.with_file_name(name)
}

/// One line of an export, read.
enum Line {
    Blank,
    /// An event whose data was shredded: nothing to import.
    Shredded,
    Event(String, EventData),
    Schema(Schema),
    Metadata(String, StreamMetadata),
    Delete(String),
    Tombstone(String),
}

fn parse_line(raw: &[u8]) -> Result<Line, String> {
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
            return Ok(Line::Event(event.stream.clone(), event.to_event_data()?));
        }
        Some(kind) => kind,
    };
    let state: StateLine = serde_json::from_str(line).map_err(|e| format!("not a {kind} line: {e}"))?;
    let stream = || state.stream.clone().ok_or_else(|| format!("a {kind} line names no stream"));
    Ok(match kind {
        "schema" => Line::Schema(state.schema.clone().ok_or("a schema line has no schema")?),
        "metadata" => Line::Metadata(stream()?, state.metadata.ok_or("a metadata line has no metadata")?),
        "delete" => Line::Delete(stream()?),
        "tombstone" => Line::Tombstone(stream()?),
        other => {
            return Err(format!("unknown kind '{other}' (event, schema, metadata, delete or tombstone)"))
        }
    })
}

/// Events of one stream waiting to be appended together.
struct Batch {
    stream: String,
    events: Vec<EventData>,
    bytes: usize,
}

/// What an import has applied, and the checkpoint that records it.
struct Applied {
    path: PathBuf,
    checkpoint: Checkpoint,
    /// Over the bytes the checkpoint covers.
    digest: ring::digest::Context,
    /// The bytes read past the checkpoint, not yet applied.
    pending: Vec<u8>,
}

impl Applied {
    /// The lines up to `offset` are applied: records it.
    fn commit(&mut self, offset: u64, lines: u64) -> CliResult {
        let done = (offset - self.checkpoint.offset) as usize;
        self.digest.update(&self.pending[..done]);
        self.pending.drain(..done);
        self.checkpoint.offset = offset;
        self.checkpoint.lines = lines;
        self.checkpoint.applied_sha256 = hex(&self.digest);
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(&self.checkpoint).expect("a checkpoint serialises"))?;
        std::fs::rename(&tmp, &self.path)?;
        Ok(())
    }
}

/// What appending a batch did.
#[derive(Default)]
struct Appended {
    events: u64,
    /// Events of streams tombstoned in the target: an import run again meets the tombstone it
    /// wrote the first time (the events are there), and no store takes more events after one.
    tombstoned: u64,
}

/// Appends the batch (if any); the events keep their ids, so a batch that was already appended
/// before an interruption is recognised and not written again.
fn append_batch(store: &Store, batch: &mut Option<Batch>, appended: &mut Appended) -> CliResult {
    let Some(b) = batch.take() else { return Ok(()) };
    let count = b.events.len() as u64;
    match store.append_blocking(&b.stream, ExpectedVersion::Any, b.events) {
        Ok(_) => appended.events += count,
        Err(e @ graveyard::Error::StreamDeleted { .. }) => match store.stream_info_blocking(&b.stream) {
            // Tombstoned: its info is refused too. (A shredded stream answers, and is an error.)
            Err(graveyard::Error::StreamDeleted { .. }) => appended.tombstoned += count,
            _ => return Err(in_stream(&b.stream, e)),
        },
        Err(e) => return Err(in_stream(&b.stream, e)),
    }
    Ok(())
}

fn in_stream(stream: &str, e: graveyard::Error) -> Failure {
    let failure = Failure::from(e);
    Failure { message: format!("appending to '{stream}': {}", failure.message), ..failure }
}

pub fn import(args: ImportArgs) -> CliResult {
    let mut file = File::open(&args.file)
        .map_err(|e| Failure::usage(format!("'{}' cannot be read: {e}", args.file.display())))?;
    let size = file.metadata()?.len();
    let path = checkpoint_path(&args.file);
    let checkpoint = match std::fs::read(&path) {
        Ok(bytes) if !args.restart => {
            let checkpoint: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| {
                Failure::usage(format!(
                    "'{}' is not a checkpoint ({e}); --restart starts over",
                    path.display()
                ))
            })?;
            checkpoint
        }
        _ => Checkpoint::default(),
    };
    if checkpoint.offset > 0 {
        if checkpoint.offset > size
            || hex(&prefix_digest(&mut file, checkpoint.offset)?) != checkpoint.applied_sha256
        {
            return Err(Failure::usage(format!(
                "the first {} line(s) of '{}' changed since the import that left '{}'; --restart starts over",
                checkpoint.lines,
                args.file.display(),
                path.display()
            )));
        }
        eprintln!("resuming the import after line {}", checkpoint.lines);
    }
    let store = args.target.open(true)?;
    let digest = prefix_digest(&mut file, checkpoint.offset)?;
    let mut reader = BufReader::new(file);
    let (mut offset, mut line_no) = (checkpoint.offset, checkpoint.lines);
    let mut applied = Applied { path, checkpoint, digest, pending: Vec::new() };

    let progress = view::progress("lines imported");
    let mut appended = Appended::default();
    let mut skipped = 0u64;
    let mut batch: Option<Batch> = None;
    let mut raw = Vec::new();
    loop {
        raw.clear();
        let read = reader.read_until(b'\n', &mut raw)?;
        if read == 0 {
            break;
        }
        applied.pending.extend_from_slice(&raw);
        let next_offset = offset + read as u64;
        line_no += 1;
        let parsed = match parse_line(&raw) {
            Ok(parsed) => parsed,
            // Everything before the bad line is applied, so a fixed file resumes right there.
            Err(why) => {
                append_batch(&store, &mut batch, &mut appended)?;
                let done = appended.events;
                applied.commit(offset, line_no - 1)?;
                return Err(Failure::usage(format!(
                    "line {line_no} of '{}': {why} (the {} line(s) before it are imported, {done} event(s); run the \
                     import again once the line is fixed to go on from there)",
                    args.file.display(),
                    line_no - 1
                )));
            }
        };
        match parsed {
            Line::Blank => {}
            Line::Shredded => skipped += 1,
            Line::Event(stream, data) => {
                let size = data.data.len() + data.metadata.len();
                let fits = batch.as_ref().is_some_and(|b| {
                    b.stream == stream && b.events.len() < BATCH_EVENTS && b.bytes + size <= BATCH_BYTES
                });
                if !fits {
                    append_batch(&store, &mut batch, &mut appended)?;
                    applied.commit(offset, line_no - 1)?;
                    batch = Some(Batch { stream, events: Vec::new(), bytes: 0 });
                }
                let b = batch.as_mut().expect("a batch was just made");
                b.events.push(data);
                b.bytes += size;
            }
            state => {
                append_batch(&store, &mut batch, &mut appended)?;
                applied.commit(offset, line_no - 1)?;
                match state {
                    Line::Schema(schema) => drop(store.upsert_schema_blocking(&schema)?),
                    Line::Metadata(stream, metadata) => {
                        store.set_stream_metadata_blocking(&stream, metadata)?
                    }
                    Line::Delete(stream) => store.delete_stream_blocking(&stream, ExpectedVersion::Any)?,
                    Line::Tombstone(stream) => {
                        match store.tombstone_stream_blocking(&stream, ExpectedVersion::Any) {
                            // Tombstoned already (by this import, run before): done.
                            Err(graveyard::Error::StreamDeleted { .. }) => {}
                            other => other?,
                        }
                    }
                    Line::Blank | Line::Shredded | Line::Event(..) => unreachable!("handled above"),
                }
                applied.commit(next_offset, line_no)?;
            }
        }
        offset = next_offset;
        progress.inc(1);
    }
    append_batch(&store, &mut batch, &mut appended)?;
    progress.finish_and_clear();
    std::fs::remove_file(&applied.path).or_else(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    let mut notes = String::new();
    if skipped > 0 {
        notes.push_str(&format!("; {skipped} shredded event(s) skipped (their data is gone)"));
    }
    if appended.tombstoned > 0 {
        notes.push_str(&format!(
            "; {} event(s) of streams tombstoned in the store skipped",
            appended.tombstoned
        ));
    }
    eprintln!(
        "imported {line_no} line(s): {} event(s) applied (events already in the store, known by id, are not written \
         twice){notes}",
        appended.events
    );
    Ok(())
}
