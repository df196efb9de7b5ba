//! The commit log: where a write becomes durable.
//!
//! Each committed batch of the writer is one record appended to the current segment and made
//! durable by one `fdatasync` before its callers are answered; the batch's LMDB transaction
//! commits without a sync of its own, after the sync or, for a batch of appends, while the
//! device writes the record out (`write`, then `settle`; see writer.rs, `commit`). LMDB is
//! synced only at checkpoints; after a crash the engine rolls LMDB back to the last checkpoint
//! and replays the records after it (see `checkpoint.rs`). So an acknowledged write costs one
//! sequential sync instead of LMDB's two, and a reader sees a write as soon as it is
//! acknowledged (the LMDB commit comes first).
//!
//! A segment's blocks all exist before its first record (so a record overwrites blocks the file
//! already has and its `fdatasync` flushes data only, never the file's size or block map): it
//! is a file filled with zeros (prepared on a thread of its own while the current one fills),
//! or a full segment a checkpoint covered, kept as a spare instead of being removed and reused
//! with its old records still in it. A segment starts at 1 MiB and each next one doubles, up to
//! 64 MiB: a small store costs little disk. Segments a checkpoint has covered are removed, on a
//! thread of their own, except up to `MAX_SPARES` full ones.
//!
//! Why spares: filling a new segment with zeros wrote as many bytes to the disk as the records
//! that then filled it, and under load (bench batch-100) the disk's bandwidth is what bounds
//! the writer. A spare costs one small synced write (its first header zeroed) instead of 64 MiB.
//!
//! A record: `len: u32 | crc: u32 | lsn: u64 | payload[len]`, little-endian; the CRC-32C
//! covers the segment's salt, `len`, `lsn` and the payload. A segment is named after the LSN of
//! its first record and a random salt of its own (`<lsn>-<salt>.log`; segments written before
//! salts, `<lsn>.log`, have none): so the old records of a reused segment, and records a client
//! planted in an event's bytes, never pass for records of the segment, whatever is found after
//! its end (a segment without a salt is never reused). Each record is written with 16 zeros after it (the next record overwrites them), so
//! what follows the last record is zeros even in a reused segment. Records are numbered without
//! gap (the LSN) and a record never spans two segments. The scan at open stops at the first
//! record that is not the next one: zeros (the unwritten end), or a record torn by the crash (a
//! bad checksum or a length past the segment), which is reported and erased, never replayed.
//! Old bytes where a crash kept the last record of a reused segment but not the zeros after it
//! are reported and erased the same way.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::commit_log::{CommitLog, TornTail};
use crate::error::{Error, Result};

/// Largest segment: a record larger than this gets a segment of its own, sized to fit.
pub(crate) const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Test hook (core/tests/log.rs, crash.rs): the largest segment's size instead of
/// `SEGMENT_BYTES`, so that small tests fill segments and reuse them.
pub(crate) const SEGMENT_BYTES_ENV: &str = "GRAVEYARD_TEST_SEGMENT_BYTES";
const FIRST_SEGMENT_BYTES: u64 = 1024 * 1024;
/// Segments are sized in multiples of this (the test hook's values included).
const MIN_SEGMENT_BYTES: u64 = 64 * 1024;
const HEADER: usize = 16;
/// Full segments a checkpoint covered that are kept for reuse. A checkpoint comes every 64 MiB
/// logged, so under load it covers about one segment while the writer fills one: two spares
/// leave room for a checkpoint running late.
const MAX_SPARES: usize = 2;
/// Directory of the segments, inside the store's directory.
pub(crate) const LOG_DIR: &str = "log";

pub(crate) struct Log {
    dir: PathBuf,
    sync: bool,
    /// The segment written, its first LSN and salt, its size and where the next record goes.
    file: File,
    first_lsn: u64,
    salt: u64,
    size: u64,
    offset: u64,
    /// Earlier segments, by first LSN, oldest first: those still needed by recovery (records
    /// at or after the last checkpoint), after any a checkpoint covered whose removal failed
    /// (`release_before` tries them again).
    sealed: Vec<Segment>,
    /// The largest segment's size (`SEGMENT_BYTES` but in tests).
    max_segment: u64,
    /// The next segment's file, being filled with zeros on a thread of its own, and its size.
    prepared: Option<(std::thread::JoinHandle<Result<PathBuf>>, u64)>,
    /// Covered segments kept for reuse, of `max_segment` bytes, ready: their first header is
    /// zeros on disk.
    spares: Vec<PathBuf>,
    /// The removal of segments a checkpoint covered, on a thread of its own, and the segments
    /// (`release_before`).
    removing: Option<(std::thread::JoinHandle<Removal>, Vec<Segment>)>,
    /// The failure of a removal finished while no checkpoint was asking: the next one's.
    unreported: Option<Error>,
    next_lsn: u64,
    /// Offset and LSN of the last record written, for `undo_last`.
    last: Option<(u64, u64)>,
    failed: bool,
    /// A record was written and its `fdatasync` is still due (`settle`).
    unsettled: bool,
    scratch: Vec<u8>,
}

/// How a removal of segments went: the segments kept as spares, and on failure the segments
/// (first LSNs) left, and why.
struct Removal {
    spares: Vec<PathBuf>,
    left: Option<(Vec<Segment>, Error)>,
}

pub(crate) fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Io(format!("{what} {}: {e}", path.display()))
}

/// A segment file: the LSN of its first record and the salt of its records' checksums (0: a
/// segment written before segments had salts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    first: u64,
    salt: u64,
}

impl Segment {
    fn name(self) -> String {
        match self.salt {
            0 => format!("{:020}.log", self.first),
            salt => format!("{:020}-{salt:016x}.log", self.first),
        }
    }

    /// The segment a file name names: only a name `name` writes (20 digits, 16 lowercase hex
    /// digits, a salt never 0), so that every segment has one name.
    fn parse(name: &str) -> Option<Segment> {
        let stem = name.strip_suffix(".log")?;
        let (first, salt) = match stem.split_once('-') {
            None => (stem, 0),
            Some((first, salt)) => (first, u64::from_str_radix(salt, 16).ok().filter(|&s| s != 0)?),
        };
        let segment = Segment { first: first.parse().ok()?, salt };
        (segment.name() == name).then_some(segment)
    }
}

/// A new segment's salt: random, never 0, unknown outside the store.
fn new_salt() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0 | 1
}

/// A spare's name: a `.tmp` file, removed by the next open like a segment being prepared.
fn spare_name(first_lsn: u64) -> String {
    format!("spare-{first_lsn:020}.tmp")
}

/// The CRC-32C of a record of a segment salted `salt` (0: a segment of a version-4 store,
/// without one): over the salt, the header's `len` and `lsn` fields, then the payload.
fn checksum(salt: u64, len: u32, lsn: u64, payload: &[u8]) -> u32 {
    let seed = match salt {
        0 => crc32c::crc32c(&len.to_le_bytes()),
        salt => crc32c::crc32c_append(crc32c::crc32c(&salt.to_le_bytes()), &len.to_le_bytes()),
    };
    crc32c::crc32c_append(crc32c::crc32c_append(seed, &lsn.to_le_bytes()), payload)
}

/// A record's header, as it is in a segment: `u32 len`, `u32 crc`, `u64 lsn`, little-endian.
/// The one place that knows the layout, for the writer, the scan and the search after damage.
#[derive(Clone, Copy)]
struct Header {
    len: u32,
    crc: u32,
    lsn: u64,
}

impl Header {
    /// The header of record `lsn` whose payload is `payload`, in a segment salted `salt`.
    fn of(salt: u64, lsn: u64, payload: &[u8]) -> Result<Header> {
        let len = u32::try_from(payload.len())
            .map_err(|_| Error::invalid("a commit larger than 4 GiB cannot be logged"))?;
        Ok(Header { len, crc: checksum(salt, len, lsn, payload), lsn })
    }

    /// The header at `at` of `bytes`, if all of it is there.
    fn at(bytes: &[u8], at: usize) -> Option<Header> {
        let h: &[u8; HEADER] = bytes.get(at..at.checked_add(HEADER)?)?.try_into().ok()?;
        let [l0, l1, l2, l3, c0, c1, c2, c3, n @ ..] = *h;
        Some(Header {
            len: u32::from_le_bytes([l0, l1, l2, l3]),
            crc: u32::from_le_bytes([c0, c1, c2, c3]),
            lsn: u64::from_le_bytes(n),
        })
    }

    fn bytes(self) -> [u8; HEADER] {
        let mut out = [0; HEADER];
        out[..4].copy_from_slice(&self.len.to_le_bytes());
        out[4..8].copy_from_slice(&self.crc.to_le_bytes());
        out[8..].copy_from_slice(&self.lsn.to_le_bytes());
        out
    }

    /// Zeros: where the records of a segment end.
    fn is_zero(self) -> bool {
        self.len == 0 && self.crc == 0 && self.lsn == 0
    }

    /// The payload after this header (read at `at` of `bytes`), if the record is whole: not
    /// empty, inside `bytes`, and its checksum made with `salt` verifies.
    fn payload(self, bytes: &[u8], at: usize, salt: u64) -> Option<&[u8]> {
        let start = at.checked_add(HEADER)?;
        let payload = bytes.get(start..start.checked_add(self.len as usize)?)?;
        (self.len > 0 && checksum(salt, self.len, self.lsn, payload) == self.crc).then_some(payload)
    }
}

/// fsync of a directory: a file created, renamed or removed in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("syncing the directory", dir, e))
}

impl Log {
    /// Opens the log of the store in `store_dir`, creating it when absent, and hands every
    /// record from `from_lsn` on to `replay`, in order. Returns the log, ready to append after
    /// the last whole record, and the torn record it erased, if any.
    pub(crate) fn open(
        store_dir: &Path,
        from_lsn: u64,
        sync: bool,
        max_segment: u64,
        replay: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<(Log, Option<TornTail>)> {
        let dir = store_dir.join(LOG_DIR);
        fs::create_dir_all(&dir).map_err(|e| io("creating", &dir, e))?;
        let mut segments = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| io("listing", &dir, e))? {
            let entry = entry.map_err(|e| io("listing", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(segment) = Segment::parse(&name) {
                segments.push(segment);
            } else if name.ends_with(".tmp") {
                // A segment being prepared when the process stopped, or a spare.
                fs::remove_file(entry.path()).map_err(|e| io("removing", &entry.path(), e))?;
            } else {
                return Err(Error::Corruption(format!(
                    "{} holds '{name}', which is not a segment of the commit log",
                    dir.display()
                )));
            }
        }
        segments.sort_unstable_by_key(|s| s.first);
        if let Some(pair) = segments.windows(2).find(|pair| pair[0].first == pair[1].first) {
            return Err(Error::Corruption(format!(
                "the commit log's segments {} and {} start at the same record",
                pair[0].name(),
                pair[1].name()
            )));
        }
        // The segment holding `from_lsn`: the last one starting at or before it.
        let start = segments.iter().rposition(|s| s.first <= from_lsn);
        let Some(start) = start else {
            if let Some(&Segment { first, .. }) = segments.first() {
                return Err(Error::Corruption(format!(
                    "the commit log starts at record {first}, after record {from_lsn} of the last checkpoint"
                )));
            }
            let mut log = Log::empty(dir, sync, max_segment, from_lsn)?;
            log.start_segment(from_lsn, 0)?;
            return Ok((log, None));
        };
        let mut log = Log::empty(dir, sync, max_segment, from_lsn)?;
        let mut torn = None;
        let mut expected = segments[start].first;
        let mut index = start;
        loop {
            let segment = segments[index];
            let first = segment.first;
            if first != expected {
                return Err(Error::Corruption(format!(
                    "the commit log's segment {} should start at record {expected}",
                    segment.name()
                )));
            }
            let path = log.dir.join(segment.name());
            let mut file =
                File::options().read(true).write(true).open(&path).map_err(|e| io("opening", &path, e))?;
            let size = file.seek(SeekFrom::End(0)).map_err(|e| io("reading", &path, e))?;
            let mut bytes = Vec::with_capacity(size as usize);
            file.seek(SeekFrom::Start(0)).map_err(|e| io("reading", &path, e))?;
            file.read_to_end(&mut bytes).map_err(|e| io("reading", &path, e))?;
            let (end, stop) = scan(&bytes, segment.salt, &mut expected, from_lsn, replay)?;
            let last = index + 1 == segments.len();
            if let Stop::Torn = stop {
                torn = Some(TornTail { segment: segment.name(), offset: end as u64, lsn: expected });
            }
            if last || !matches!(stop, Stop::End) || segments[index + 1].first != expected {
                if !last {
                    // Records of a later segment were written after this one ended: they cannot
                    // be replayed without what is missing in between.
                    return Err(Error::Corruption(format!(
                        "the commit log's segment {} ends at record {expected} (offset {end}) but segment {} follows",
                        segment.name(),
                        segments[index + 1].name()
                    )));
                }
                if expected < from_lsn {
                    return Err(Error::Corruption(format!(
                        "the commit log ends at record {expected}, before record {from_lsn} of the last checkpoint"
                    )));
                }
                log.file = file;
                log.first_lsn = first;
                log.salt = segment.salt;
                log.size = size;
                log.offset = end as u64;
                log.next_lsn = expected;
                // Segments before `start` were covered by the checkpoint.
                log.sealed = segments[..index].to_vec();
                if torn.is_some() {
                    // Erased, so no later scan mistakes its remains for anything.
                    log.zero_from(end as u64)?;
                }
                log.release_before(from_lsn)?;
                log.reap();
                if let Some(e) = log.unreported.take() {
                    return Err(e);
                }
                return Ok((log, torn));
            }
            index += 1;
        }
    }

    fn empty(dir: PathBuf, sync: bool, max_segment: u64, next_lsn: u64) -> Result<Log> {
        let placeholder = File::open(&dir).map_err(|e| io("opening", &dir, e))?;
        Ok(Log {
            dir,
            sync,
            file: placeholder,
            first_lsn: next_lsn,
            salt: 0,
            size: 0,
            offset: 0,
            sealed: Vec::new(),
            max_segment: max_segment.max(MIN_SEGMENT_BYTES).next_multiple_of(MIN_SEGMENT_BYTES),
            prepared: None,
            spares: Vec::new(),
            removing: None,
            unreported: None,
            next_lsn,
            last: None,
            failed: false,
            unsettled: false,
            scratch: Vec::new(),
        })
    }

    /// The segment written.
    fn current(&self) -> Segment {
        Segment { first: self.first_lsn, salt: self.salt }
    }

    /// The LSN the next record gets.
    pub(crate) fn next_lsn(&self) -> u64 {
        self.next_lsn
    }

    /// Appends one record and (unless the store was opened without fsync) makes it durable.
    /// Returns its LSN.
    pub(crate) fn append(&mut self, payload: &[u8]) -> Result<u64> {
        let lsn = self.write(payload)?;
        self.settle()?;
        Ok(lsn)
    }

    /// Appends one record and starts writing it out, without waiting for it: `settle` waits.
    /// Returns its LSN.
    pub(crate) fn write(&mut self, payload: &[u8]) -> Result<u64> {
        // One record at most is in flight: `settle` syncs only the current segment.
        self.settle()?;
        let lsn = self.next_lsn;
        // Refused before a roll starts a segment for it (`Header::of` checks it again).
        u32::try_from(payload.len())
            .map_err(|_| Error::invalid("a commit larger than 4 GiB cannot be logged"))?;
        let need = (HEADER + payload.len()) as u64;
        if self.offset + need > self.size {
            self.roll(need)?;
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(&Header::of(self.salt, lsn, payload)?.bytes());
        let written = self.write_record(payload);
        self.failed |= written.is_err();
        written?;
        self.last = Some((self.offset, lsn));
        self.offset += need;
        self.next_lsn = lsn + 1;
        Ok(lsn)
    }

    /// Writes the record in `scratch` (its header, and its payload when small) and `payload`
    /// at the write offset, then the end's zeros where the segment has room for a header, and
    /// starts writing it out unless the store does not sync each commit.
    fn write_record(&mut self, payload: &[u8]) -> Result<()> {
        let (dir, segment) = (&self.dir, self.current());
        let path = || dir.join(segment.name());
        let end = self.offset + (HEADER + payload.len()) as u64;
        let marked = end + HEADER as u64 <= self.size;
        // Header and payload in one write: the payload is often large, a copy costs more
        // than a second syscall only for small ones, where it is cheap.
        if payload.len() <= 64 * 1024 {
            self.scratch.extend_from_slice(payload);
            if marked {
                self.scratch.extend_from_slice(&[0; HEADER]);
            }
            self.file.write_all_at(&self.scratch, self.offset).map_err(|e| io("writing", &path(), e))?;
        } else {
            // The zeros first: a process killed between two writes then leaves zeros or a torn
            // record where the next record goes, never old bytes after a whole one.
            if marked {
                self.file.write_all_at(&[0; HEADER], end).map_err(|e| io("writing", &path(), e))?;
            }
            self.file.write_all_at(&self.scratch, self.offset).map_err(|e| io("writing", &path(), e))?;
            self.file
                .write_all_at(payload, self.offset + HEADER as u64)
                .map_err(|e| io("writing", &path(), e))?;
        }
        if self.sync {
            // The device starts on the record now, while the writer commits LMDB, and the
            // `fdatasync` of `settle` then waits for less: on this machine's disk a loop of
            // write, 40 µs of work and fdatasync took 118 µs per record with this, 158 without.
            let len = end - self.offset + if marked { HEADER as u64 } else { 0 };
            write_out(&self.file, path, self.offset, len, false)?;
            self.unsettled = true;
        }
        Ok(())
    }

    /// Waits until the record `write` started is durable: its `fdatasync`. A failure leaves the
    /// log failed, as for any write of it.
    pub(crate) fn settle(&mut self) -> Result<()> {
        if !self.unsettled {
            return Ok(());
        }
        let path = self.dir.join(self.current().name());
        let synced = self.file.sync_data().map_err(|e| io("syncing", &path, e));
        self.failed |= synced.is_err();
        self.unsettled = false;
        synced
    }

    /// Erases the last record appended, whose transaction failed to commit: it must never be
    /// replayed, since the writes after it were made without it.
    pub(crate) fn undo_last(&mut self, lsn: u64) -> Result<()> {
        match self.last.take() {
            Some((offset, last)) if last == lsn => {
                self.zero_from(offset)?;
                // Zeroed durably: nothing of it is left to sync.
                self.unsettled = false;
                self.offset = offset;
                self.next_lsn = lsn;
                Ok(())
            }
            _ => Err(Error::Internal(format!("record {lsn} is not the last one of the commit log"))),
        }
    }

    /// Zeros the current segment from `offset` to its end, durably.
    fn zero_from(&mut self, offset: u64) -> Result<()> {
        let path = self.dir.join(self.current().name());
        write_zeros(&self.file, offset, self.size).map_err(|e| io("erasing in", &path, e))?;
        self.file.sync_data().map_err(|e| io("syncing", &path, e))
    }

    /// Seals the current segment and starts the next one, of at least `need` bytes.
    fn roll(&mut self, need: u64) -> Result<()> {
        // A segment without a record is replaced (the new one has its name), never sealed:
        // a sealed entry naming the current segment would let a checkpoint remove it.
        let full = (self.offset > 0).then(|| self.current());
        if full.is_some() && !self.sync {
            // Its records must all be on disk before any of the next segment's: a scan that
            // found this one ending short with the next one after it would refuse the store.
            let synced =
                self.file.sync_data().map_err(|e| io("syncing", &self.dir.join(self.current().name()), e));
            self.failed |= synced.is_err();
            synced?;
        }
        // Sealed only once the next one is current: after a failed start it is still written,
        // and a checkpoint would remove or reuse it.
        self.start_segment(self.next_lsn, need)?;
        self.sealed.extend(full);
        Ok(())
    }

    /// True once a write or sync of the log failed: what is on disk is unknown (a record may
    /// be there, whole or torn, and a later sync may report success for data that was lost),
    /// so nothing more may be written until the store is reopened and the log scanned.
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }

    /// Makes every record appended so far durable: for a store that does not sync each
    /// commit, before a checkpoint that relies on the log's records up to it.
    pub(crate) fn sync(&mut self) -> Result<()> {
        if self.failed {
            return Err(Error::Io("an earlier write or sync of the commit log failed".into()));
        }
        if self.sync || self.size == 0 {
            return self.settle();
        }
        let path = self.dir.join(self.current().name());
        let synced = self.file.sync_data().map_err(|e| io("syncing", &path, e));
        self.failed |= synced.is_err();
        synced
    }

    /// Makes the segment whose first record is `first_lsn` current: a spare when it is large
    /// enough, else the one prepared ahead when it is, else a new one; then prepares the next
    /// unless a spare will serve.
    fn start_segment(&mut self, first_lsn: u64, need: u64) -> Result<()> {
        let first_size = FIRST_SEGMENT_BYTES.min(self.max_segment);
        let size =
            (self.size * 2).clamp(first_size, self.max_segment).max(need.next_multiple_of(MIN_SEGMENT_BYTES));
        // An empty segment replaced keeps its name, so the rename below replaces it.
        let replaced = self.size > 0 && self.offset == 0 && first_lsn == self.first_lsn;
        let salt = if replaced { self.salt } else { new_salt() };
        // A segment without a salt (of a version-4 store) is never a reused one: in its old
        // bytes a record planted in an event would pass for one of its own.
        let reuse = salt != 0;
        let path = self.dir.join(Segment { first: first_lsn, salt }.name());
        // Spares a removal finished since the last checkpoint are usable now; one still running
        // is not waited for.
        if self.removing.as_ref().is_some_and(|(thread, _)| thread.is_finished()) {
            self.reap();
        }
        let file = match self.spares.pop() {
            Some(spare) if reuse && size <= self.max_segment => spare,
            spare => {
                self.spares.extend(spare);
                let prepared = match self.prepared.take() {
                    Some((thread, prepared_size)) => {
                        let file = thread.join().unwrap_or_else(|_| {
                            Err(Error::Internal("preparing a log segment panicked".into()))
                        })?;
                        if prepared_size >= size {
                            Some(file)
                        } else {
                            fs::remove_file(&file).map_err(|e| io("removing", &file, e))?;
                            None
                        }
                    }
                    None => None,
                };
                match prepared {
                    Some(file) => file,
                    None => prepare(self.dir.join("next.tmp"), size)?,
                }
            }
        };
        fs::rename(&file, &path).map_err(|e| io("naming", &file, e))?;
        // Named: after a failure from here on, records still written to the current segment
        // would contradict the next one on disk, so the log takes no more until a reopen.
        let opened = sync_dir(&self.dir).and_then(|()| {
            let file =
                File::options().read(true).write(true).open(&path).map_err(|e| io("opening", &path, e))?;
            let size = file.metadata().map_err(|e| io("reading", &path, e))?.len();
            Ok((file, size))
        });
        self.failed |= opened.is_err();
        let (file, size) = opened?;
        self.file = file;
        self.first_lsn = first_lsn;
        self.salt = salt;
        self.size = size;
        self.offset = 0;
        self.last = None;
        if self.prepared.is_none() && self.spares.is_empty() {
            let next = (size * 2).clamp(first_size, self.max_segment);
            let tmp = self.dir.join("next.tmp");
            // Without a thread, the next roll prepares its segment itself.
            self.prepared = std::thread::Builder::new()
                .name("graveyard-log".into())
                .spawn(move || prepare(tmp, next))
                .ok()
                .map(|thread| (thread, next));
        }
        Ok(())
    }

    /// After a checkpoint that covers every record before `lsn`: starts removing the segments
    /// holding only such records, keeping full ones as spares while there are fewer than
    /// `MAX_SPARES`.
    ///
    /// They are removed on a thread of their own: removing a full segment (64 MiB of cached
    /// pages and blocks to free) took 13-15 ms, for which every writer waited. The removal
    /// started by the previous call is waited for first (it is long done by then: checkpoints
    /// are seconds apart); the segments it could not remove are removed with this call's, and
    /// its error is this call's. A removal cut short by a crash is finished by the next open.
    pub(crate) fn release_before(&mut self, lsn: u64) -> Result<()> {
        self.reap();
        let earlier = self.unreported.take().map_or(Ok(()), Err);
        let mut covered = Vec::new();
        while !self.sealed.is_empty() {
            // A sealed segment's records end where the next segment (or the current) starts.
            let next_first = self.sealed.get(1).map_or(self.first_lsn, |s| s.first);
            if next_first > lsn {
                break;
            }
            covered.push(self.sealed.remove(0));
        }
        if !covered.is_empty() {
            let dir = self.dir.clone();
            let keep = Keep { count: MAX_SPARES.saturating_sub(self.spares.len()), size: self.max_segment };
            let removal = std::thread::Builder::new().name("graveyard-log".into()).spawn({
                let covered = covered.clone();
                move || remove_segments(&dir, covered, keep)
            });
            match removal {
                Ok(thread) => self.removing = Some((thread, covered)),
                // No thread: removed here.
                Err(_) => {
                    self.removed(remove_segments(&self.dir, covered, keep));
                    if let Some(e) = self.unreported.take() {
                        return Err(e);
                    }
                }
            }
        }
        earlier
    }

    /// Waits for the removal under way, if any, and takes in how it went.
    fn reap(&mut self) {
        if let Some((thread, covered)) = self.removing.take() {
            let outcome = thread.join().unwrap_or_else(|_| Removal {
                spares: Vec::new(),
                left: Some((covered, Error::Internal("removing log segments panicked".into()))),
            });
            self.removed(outcome);
        }
    }

    /// Takes in the spares of a removal, and puts the segments it left back among the sealed
    /// ones: they are older than all of them (a segment sealed while they were being removed
    /// starts after the one that was current then, which starts after theirs). Its failure is
    /// told to the next checkpoint.
    fn removed(&mut self, outcome: Removal) {
        self.spares.extend(outcome.spares);
        if let Some((left, e)) = outcome.left {
            self.sealed.splice(0..0, left);
            self.unreported.get_or_insert(e);
        }
    }
}

/// Which covered segments a removal keeps as spares: up to `count`, of exactly `size` bytes.
#[derive(Clone, Copy)]
struct Keep {
    count: usize,
    size: u64,
}

/// Removes the segments, or keeps them as spares as `keep` says, then
/// makes that durable; returns the spares, and on failure the segments not removed and why.
fn remove_segments(dir: &Path, segments: Vec<Segment>, keep: Keep) -> Removal {
    let mut spares = Vec::new();
    for (i, &segment) in segments.iter().enumerate() {
        let path = dir.join(segment.name());
        if spares.len() < keep.count {
            if let Some(spare) = keep_spare(dir, &path, segment.first, keep.size) {
                spares.push(spare);
                continue;
            }
        }
        match fs::remove_file(&path) {
            Ok(()) => {}
            // Gone already: a removal that failed after its unlink is tried again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Removal { spares, left: Some((segments[i..].to_vec(), io("removing", &path, e))) }
            }
        }
    }
    // Undone by a crash before this, which the next open's removal finishes (and removes the
    // spares, `.tmp` files).
    // The spares are usable all the same: their headers are zeros on disk, and the rename that
    // makes one a segment is followed by a sync of the directory that must succeed.
    Removal { spares, left: sync_dir(dir).err().map(|e| (Vec::new(), e)) }
}

/// Turns the covered segment at `path` into a spare when it is `size` bytes: renamed to a
/// `.tmp` name first (never scanned by an open: it no longer holds records), then its first
/// header zeroed durably, so that a crash after it is made a segment again finds an empty
/// segment. `None` when it is not of that size or any step failed (it is then removed, or left
/// for the next open to remove).
fn keep_spare(dir: &Path, path: &Path, first: u64, size: u64) -> Option<PathBuf> {
    let file = File::options().write(true).open(path).ok()?;
    if file.metadata().ok()?.len() != size {
        return None;
    }
    let spare = dir.join(spare_name(first));
    fs::rename(path, &spare).ok()?;
    let zeroed = file.write_all_at(&[0; HEADER], 0).and_then(|()| file.sync_data());
    if zeroed.is_err() {
        // Not kept: without its header zeroed it would start a segment with an old record.
        let _ = fs::remove_file(&spare);
        return None;
    }
    Some(spare)
}

/// The engine's own log, as the writer uses any log (the inherent methods do the work).
impl CommitLog for Log {
    fn next_lsn(&self) -> u64 {
        Log::next_lsn(self)
    }
    fn append(&mut self, record: &[u8]) -> Result<u64> {
        Log::append(self, record)
    }
    fn write(&mut self, record: &[u8]) -> Result<u64> {
        Log::write(self, record)
    }
    fn settle(&mut self) -> Result<()> {
        Log::settle(self)
    }
    fn undo_last(&mut self, lsn: u64) -> Result<()> {
        Log::undo_last(self, lsn)
    }
    fn failed(&self) -> bool {
        Log::failed(self)
    }
    fn sync(&mut self) -> Result<()> {
        Log::sync(self)
    }
    fn release_before(&mut self, lsn: u64) -> Result<()> {
        Log::release_before(self, lsn)
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        // A segment half prepared is removed at the next open. A removal outliving the log
        // could remove segments of the store opened again meanwhile, as it lists them.
        if let Some((thread, _)) = self.prepared.take() {
            let _ = thread.join();
        }
        self.reap();
        // Spares are of no use to a closed store: the next open would remove them anyway.
        for spare in self.spares.drain(..) {
            let _ = fs::remove_file(spare);
        }
    }
}

/// Starts writing `len` bytes of `file` from `offset` out to the device
/// (`sync_file_range`), and with `wait` waits for them (and for any write of them already
/// under way). Durability still takes an `fdatasync`: this flushes neither the file's metadata
/// nor the device's cache. Nothing on systems without it. `path` names the file in an error (made
/// only then: this is on the append path).
pub(crate) fn write_out(
    file: &File,
    path: impl Fn() -> PathBuf,
    offset: u64,
    len: u64,
    wait: bool,
) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(at), Ok(count)) = (libc::off64_t::try_from(offset), libc::off64_t::try_from(len)) else {
            return Ok(());
        };
        let flags = if wait {
            libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER
        } else {
            libc::SYNC_FILE_RANGE_WRITE
        };
        // SAFETY: `file` is open for the whole call; the kernel checks the range.
        if unsafe { libc::sync_file_range(file.as_raw_fd(), at, count, flags) } != 0 {
            return Err(io("writing out", &path(), std::io::Error::last_os_error()));
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, path, offset, len, wait);
    Ok(())
}

/// A file of `size` zeros at `path`, durable.
fn prepare(path: PathBuf, size: u64) -> Result<PathBuf> {
    let file = File::create(&path).map_err(|e| io("creating", &path, e))?;
    write_zeros(&file, 0, size).map_err(|e| io("preparing", &path, e))?;
    file.sync_all().map_err(|e| io("syncing", &path, e))?;
    Ok(path)
}

/// Writes zeros over `from..to` of `file`, a MiB at a time.
fn write_zeros(file: &File, from: u64, to: u64) -> std::io::Result<()> {
    let zeros = vec![0u8; 1 << 20];
    let mut at = from;
    while at < to {
        let n = (to - at).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

/// The records of a segment end at `at`, before record `expected`. A crash tears only the
/// record being written, the last: a whole later record after the end (zeros or damage) is not
/// a crash's doing, and dropping it would lose acknowledged commits.
fn ended(bytes: &[u8], salt: u64, at: usize, expected: u64, stop: Stop) -> Result<(usize, Stop)> {
    match whole_record_after(bytes, salt, at, expected) {
        Some((later, lsn)) => Err(Error::Corruption(format!(
            "the commit log's records stop at offset {at} before record {expected} (zeros or damage), yet record {lsn} follows at offset {later}"
        ))),
        None => Ok((at, stop)),
    }
}

/// How many payload bytes `whole_record_after` checksums in all, in lengths of the segment.
/// Old bytes of a reused segment are full of windows that look like a later record's header
/// (a position inside an event is a plausible record number, and the 4 bytes before it a
/// plausible length), and checking every one checksummed the rest of the segment again and
/// again: an open after a preload of 1,000,000 events spent minutes in crc32c. No old byte
/// verifies (the salt), so the search only looks for damage in the middle of the log; bounding
/// it keeps an open linear in the segment's size, whatever the bytes after the end hold.
const SEARCH_BUDGET: usize = 2;

/// Where a whole record numbered after `expected` starts after `start` (where the records
/// stopped), and its number, if one is found within `SEARCH_BUDGET`.
fn whole_record_after(bytes: &[u8], salt: u64, start: usize, expected: u64) -> Option<(usize, u64)> {
    search_after(bytes, salt, start, expected, &mut SEARCH_BUDGET.saturating_mul(bytes.len()))
}

/// `whole_record_after`, checksumming at most `budget` payload bytes (less what it spent, after).
fn search_after(
    bytes: &[u8],
    salt: u64,
    start: usize,
    expected: u64,
    budget: &mut usize,
) -> Option<(usize, u64)> {
    (start + 1..bytes.len().saturating_sub(HEADER - 1)).find_map(|at| {
        let header = Header::at(bytes, at)?;
        // Records `expected..lsn` would lie between `start` and `at`, each at least HEADER + 1
        // bytes long. This keeps the fields of the damaged record's own events (positions,
        // revisions) from passing for headers and spending the budget before the next record.
        let room = ((at - start) / (HEADER + 1)) as u64;
        let plausible = header.lsn > expected && header.lsn - expected <= room;
        let len = header.len as usize;
        if !plausible || len == 0 || len > *budget || bytes.len() - at - HEADER < len {
            return None;
        }
        *budget -= len;
        header.payload(bytes, at, salt).map(|_| (at, header.lsn))
    })
}

enum Stop {
    /// Zeros, or the end of the segment.
    End,
    /// A record torn by a crash: a bad checksum or a length past the segment.
    Torn,
}

/// Reads the records of one segment, salted `salt`, from its start, `expected` being its first
/// record's LSN: those from `from_lsn` on go to `replay`. Returns where the records end and why.
fn scan(
    bytes: &[u8],
    salt: u64,
    expected: &mut u64,
    from_lsn: u64,
    replay: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
) -> Result<(usize, Stop)> {
    let mut at = 0;
    loop {
        let header = match Header::at(bytes, at) {
            Some(header) if !header.is_zero() => header,
            _ => return ended(bytes, salt, at, *expected, Stop::End),
        };
        let Some(payload) = header.payload(bytes, at, salt) else {
            return ended(bytes, salt, at, *expected, Stop::Torn);
        };
        let lsn = header.lsn;
        if lsn != *expected {
            return Err(Error::Corruption(format!(
                "the commit log holds record {lsn} where record {} should be",
                *expected
            )));
        }
        if lsn >= from_lsn {
            replay(lsn, payload)?;
        }
        *expected += 1;
        at += HEADER + payload.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_named_with_and_without_a_salt() {
        let old = Segment { first: 42, salt: 0 };
        assert_eq!(old.name(), "00000000000000000042.log");
        assert_eq!(Segment::parse(&old.name()), Some(old));
        let salted = Segment { first: 42, salt: 0xabc };
        assert_eq!(salted.name(), "00000000000000000042-0000000000000abc.log");
        assert_eq!(Segment::parse(&salted.name()), Some(salted));
        for bad in [
            "42.log",
            "+0000000000000000042.log",
            "00000000000000000042-abc.log",
            "00000000000000000042-0000000000000000.log",
            "00000000000000000042-000000000000abcg.log",
            "00000000000000000042-0000000000000ABC.log",
            "00000000000000000042-00000000000000abc.log",
            "00000000000000000042.tmp",
        ] {
            assert_eq!(Segment::parse(bad), None, "{bad}");
        }
    }

    /// A header at `at` of `bytes` making the `len` bytes after it, as they are, record `lsn`
    /// of a segment salted `salt`.
    fn plant(bytes: &mut [u8], at: usize, len: usize, lsn: u64, salt: u64) {
        let header = Header::of(salt, lsn, &bytes[at + HEADER..at + HEADER + len]).unwrap();
        bytes[at..at + HEADER].copy_from_slice(&header.bytes());
    }

    /// A header at `at` of `bytes` that says `len` bytes of record `lsn` follow, with no
    /// checksum: a decoy the search must reject.
    fn decoy(bytes: &mut [u8], at: usize, len: u32, lsn: u64) {
        bytes[at..at + HEADER].copy_from_slice(&Header { len, crc: 0, lsn }.bytes());
    }

    #[test]
    fn the_search_for_a_later_record_gives_up_after_checksumming_twice_the_segment() {
        // Records stop at 0. Every 16th offset up to 64 KiB then looks like the header of record
        // 12 (the next being 11) with 64 KiB of payload, yet none verifies (no checksum was
        // made); a whole record 12 follows at 128 KiB. Checking every decoy would checksum
        // 256 MiB of this 1 MiB segment; the search gives up after 2 MiB, before the record.
        let mut bytes = vec![0u8; 1 << 20];
        for at in (2 * HEADER..64 << 10).step_by(HEADER) {
            decoy(&mut bytes, at, 64 << 10, 12);
        }
        plant(&mut bytes, 128 << 10, 64, 12, 5);
        assert_eq!(whole_record_after(&bytes, 5, 0, 11), None);
        let mut unbounded = usize::MAX;
        assert_eq!(search_after(&bytes, 5, 0, 11, &mut unbounded), Some((128 << 10, 12)));
    }

    #[test]
    fn the_events_of_a_damaged_record_do_not_hide_the_record_after_it() {
        // A damaged record at 0 whose events hold, every 16 bytes, what reads as a header of a
        // far record (a global position) with 1 MiB of payload (a stream's revision), then the
        // next whole record at 8 KiB. Taken for headers, those fields would spend the budget
        // (512 MiB of a 4 MiB segment's 8 MiB) and the damage would pass for a torn end.
        let mut bytes = vec![0u8; 4 << 20];
        for at in (HEADER..8 << 10).step_by(HEADER) {
            decoy(&mut bytes, at, 1 << 20, 100_011);
        }
        plant(&mut bytes, 8 << 10, 64, 12, 5);
        assert_eq!(whole_record_after(&bytes, 5, 0, 11), Some((8 << 10, 12)));
    }

    #[test]
    fn a_later_record_after_decoys_is_still_found() {
        // Damage at offset 0, a few decoys (right header, wrong checksum), then a whole record
        // of the segment: the open must call that corruption, not a torn end.
        let mut bytes = vec![0u8; 64 << 10];
        bytes[..HEADER].fill(0xee);
        for at in (2 * HEADER..20 * HEADER).step_by(HEADER) {
            plant(&mut bytes, at, 4 << 10, 12, 1);
        }
        plant(&mut bytes, 20 * HEADER, 64, 13, 5);
        assert_eq!(whole_record_after(&bytes, 5, 0, 11), Some((20 * HEADER, 13)));
    }

    #[test]
    fn records_of_a_segment_without_a_salt_keep_the_checksum_they_were_written_with() {
        let (len, lsn) = (5u32.to_le_bytes(), 9u64.to_le_bytes());
        // The checksum of a record before segments had salts.
        let before = crc32c::crc32c_append(crc32c::crc32c_append(crc32c::crc32c(&len), &lsn), b"hello");
        assert_eq!(checksum(0, 5, 9, b"hello"), before);
        assert_ne!(checksum(1, 5, 9, b"hello"), before);
    }
}
