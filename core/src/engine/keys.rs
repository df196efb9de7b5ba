//! The keyring of an encrypted store: each stream's data key, wrapped by the master key, in a
//! file of fixed slots beside the LMDB environment (`keys.graveyard`).
//!
//! Why not in LMDB: LMDB never overwrites a live page; a changed or deleted value leaves its old
//! bytes in a free page until that page happens to be reused. A shredded key must be gone from
//! the disk when `shred_stream` returns, so keys live where they can be overwritten in place:
//! slot `id` of stream id `id`, zeroed and fsynced on shred.
//!
//! Layout (all integers little-endian):
//! - bytes 0..512 and 512..1024: two header copies; the valid one with the higher `seq` is in
//!   force, and a header write always goes to the other copy, so a torn write leaves the
//!   previous header valid. A header: magic `GYKEYRNG`, version u32, seq u64, store id
//!   (16 bytes, the LMDB store's), active half u8, cleanup u8, the key check value of the
//!   master key (56 bytes), and a SHA-256 of everything before it.
//! - from byte 4096: slot `id` at `4096 + 128 * id`, two halves of 64 bytes. The half named
//!   by the header is in force: status u8 (0 never written, 1 a key, 2 shredded), 3 zero bytes,
//!   the data key sealed by the master key for that stream id (60 bytes).
//!
//! Master-key rotation writes every key wrapped by the new master key into the other halves,
//! fsyncs, flips the header (the commit point: before it the old key opens the store, after
//! it the new one), then zeroes the old halves and clears the header's `cleanup` mark. An open
//! that finds the mark set finishes the zeroing first.
//!
//! Order with LMDB: a new stream's key is written (and fsynced, by `sync` before the commit)
//! before any event sealed with it commits. A shred commits the stream's `shredded` state and
//! a pending-shred entry first, then zeroes the slot; an open finishes pending shreds.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use ring::digest::{digest, SHA256};

use crate::crypto::{self, Key, Sealer, KEY_LEN, SEAL_OVERHEAD};
use crate::error::{Error, Result};

pub(crate) const KEYRING_FILE: &str = "keys.graveyard";

const MAGIC: &[u8; 8] = b"GYKEYRNG";
const VERSION: u32 = 1;
const HEADER_SIZE: u64 = 512;
const SLOTS_START: u64 = 4096;
const SLOT_SIZE: u64 = 128;
const HALF_SIZE: usize = 64;
const WRAPPED_LEN: usize = KEY_LEN + SEAL_OVERHEAD;
const CHECK_LEN: usize = 28 + SEAL_OVERHEAD;

const STATUS_EMPTY: u8 = 0;
const STATUS_KEY: u8 = 1;
const STATUS_SHREDDED: u8 = 2;

/// Most unwrapped keys kept in memory; past it the cache starts again from empty.
const CACHE_CAPACITY: usize = 65_536;

/// What a stream's slot holds.
#[derive(Clone)]
pub(crate) enum DataKey {
    Live(Arc<Sealer>),
    Shredded,
}

#[derive(Clone, Copy)]
struct Header {
    seq: u64,
    active: u8,
    cleanup: bool,
    check: [u8; CHECK_LEN],
}

/// The keyring, shared by the writer (creates, shreds, rotates) and the readers (unwrap).
pub(crate) struct Keyring {
    path: PathBuf,
    store_id: [u8; 16],
    /// File I/O and the master key. Readers take it shared on a cache miss; shreds and
    /// rotation take it exclusively, so no reader sees a half-written slot.
    inner: RwLock<Inner>,
    cache: Mutex<HashMap<u64, DataKey>>,
}

struct Inner {
    file: File,
    master: Sealer,
    header: Header,
    /// Slots written since the last `sync`.
    dirty: bool,
    /// Set when a write or sync failed where the file's state is no longer known (a failed
    /// fsync may have dropped the pages; a header may or may not be on disk): every later use
    /// fails until the store is opened again, which reads the truth from the file. Retrying an
    /// fsync after a failure can report success for pages that never reached the disk.
    failed: Option<String>,
}

impl Inner {
    fn check(&self) -> Result<()> {
        match &self.failed {
            None => Ok(()),
            Some(why) => {
                Err(Error::Io(format!("the keyring failed earlier ({why}); close and open the store again")))
            }
        }
    }

    /// Runs a step whose failure leaves the file in an unknown state: poisons the keyring.
    fn fatal<T>(&mut self, step: impl FnOnce(&mut Inner) -> Result<T>) -> Result<T> {
        let result = step(self);
        if let Err(e) = &result {
            self.failed = Some(e.to_string());
        }
        result
    }
}

fn io(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::Io(format!("{what} {}: {e}", path.display()))
}

impl Keyring {
    /// Creates the keyring of a new encrypted store.
    pub fn create(dir: &Path, store_id: [u8; 16], master: &Key) -> Result<Keyring> {
        let path = dir.join(KEYRING_FILE);
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| io(&path, "creating", e))?;
        let master = Sealer::new(master);
        let check: [u8; CHECK_LEN] = crypto::key_check_value(&master)?
            .try_into()
            .map_err(|_| Error::Internal("a key check value has an unexpected length".into()))?;
        let header = Header { seq: 1, active: 0, cleanup: false, check };
        let mut inner = Inner { file, master, header, dirty: false, failed: None };
        inner.write_header(&path, store_id, header)?;
        inner.file.set_len(SLOTS_START).map_err(|e| io(&path, "sizing", e))?;
        inner.file.sync_all().map_err(|e| io(&path, "syncing", e))?;
        sync_dir(dir)?;
        Ok(Keyring { path, store_id, inner: RwLock::new(inner), cache: Mutex::new(HashMap::new()) })
    }

    /// Opens the keyring of an encrypted store with `master`: ENCRYPTION if it is not the
    /// store's master key. Finishes an interrupted rotation's clean-up.
    pub fn open(dir: &Path, store_id: [u8; 16], master: &Key) -> Result<Keyring> {
        let path = dir.join(KEYRING_FILE);
        let file = match File::options().read(true).write(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Corruption(format!(
                    "the store is encrypted but its keyring {} is missing",
                    path.display()
                )))
            }
            Err(e) => return Err(io(&path, "opening", e)),
        };
        let header = read_header(&file, &path, store_id)?;
        let master = Sealer::new(master);
        crypto::verify_key_check(&master, &header.check)?;
        let mut inner = Inner { file, master, header, dirty: false, failed: None };
        if header.cleanup {
            inner.finish_rotation(&path, store_id)?;
        }
        Ok(Keyring { path, store_id, inner: RwLock::new(inner), cache: Mutex::new(HashMap::new()) })
    }

    /// ENCRYPTION unless `master` is the master key in force.
    pub fn check_master(&self, master: &Key) -> Result<()> {
        let inner = self.read();
        crypto::verify_key_check(&Sealer::new(master), &inner.header.check)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    fn cached(&self, stream_id: u64) -> Option<DataKey> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&stream_id).cloned()
    }

    fn remember(&self, stream_id: u64, key: DataKey) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(stream_id, key);
    }

    /// The data key of a stream that has sealed events: CORRUPTION if its slot was never
    /// written (keys are durable before the events they seal).
    pub fn get(&self, stream_id: u64) -> Result<DataKey> {
        if let Some(key) = self.cached(stream_id) {
            return Ok(key);
        }
        // Remembered while the guard is held: a shred (which takes the lock exclusively) can't
        // slip in between and see its `Shredded` overwritten by this older `Live`.
        let inner = self.read();
        inner.check()?;
        let key = inner.load(&self.path, stream_id)?.ok_or_else(|| {
            Error::Corruption(format!("stream {stream_id} has sealed events but no data key"))
        })?;
        self.remember(stream_id, key.clone());
        Ok(key)
    }

    /// The data key of a stream, made now if it has none. Writer thread only: it is the only
    /// one that creates keys, so two callers never race to make the same one.
    pub fn get_or_create(&self, stream_id: u64) -> Result<DataKey> {
        if let Some(key) = self.cached(stream_id) {
            return Ok(key);
        }
        let mut inner = self.write();
        inner.check()?;
        let key = match inner.load(&self.path, stream_id)? {
            Some(key) => key,
            None => {
                let key = Key::generate()?;
                let wrapped = crypto::wrap_key(&inner.master, stream_id, &key)?;
                let active = inner.header.active;
                inner.write_half(&self.path, stream_id, active, STATUS_KEY, &wrapped)?;
                inner.dirty = true;
                DataKey::Live(Arc::new(Sealer::new(&key)))
            }
        };
        self.remember(stream_id, key.clone());
        drop(inner);
        Ok(key)
    }

    /// Makes the slots written since the last call durable: before the commit of the events
    /// they seal.
    pub fn sync(&self) -> Result<()> {
        if !self.read().dirty {
            return Ok(());
        }
        let mut inner = self.write();
        inner.check()?;
        if inner.dirty {
            let path = &self.path;
            inner.fatal(|inner| inner.file.sync_data().map_err(|e| io(path, "syncing", e)))?;
            inner.dirty = false;
        }
        Ok(())
    }

    /// Destroys the data keys of these streams: both halves of their slots overwritten in
    /// place, then fsynced. Idempotent.
    pub fn shred(&self, stream_ids: &[u64]) -> Result<()> {
        if stream_ids.is_empty() {
            return Ok(());
        }
        let mut inner = self.write();
        inner.check()?;
        let path = &self.path;
        inner.fatal(|inner| {
            for &id in stream_ids {
                for half in 0..2 {
                    inner.write_half(path, id, half, STATUS_SHREDDED, &[0; WRAPPED_LEN])?;
                }
            }
            inner.file.sync_data().map_err(|e| io(path, "syncing", e))
        })?;
        inner.dirty = false;
        // Before the lock goes: no reader can put the live key back afterwards.
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        for &id in stream_ids {
            cache.insert(id, DataKey::Shredded);
        }
        Ok(())
    }

    /// Rewraps every data key under `new_master`, crash-safe (see the module notes). Writer
    /// thread only.
    ///
    /// Before the commit point a failure leaves the old key in force, and the next rotation
    /// overwrites the standby halves. A failure writing the commit leaves the file's state
    /// unknown: the keyring refuses all use until the store is opened again. After the commit,
    /// the rotation has happened: a failure to wipe the old halves is finished by the next open.
    pub fn rotate(&self, new_master: &Key) -> Result<()> {
        let mut inner = self.write();
        inner.check()?;
        let (path, store_id) = (&self.path, self.store_id);
        let new_sealer = inner.rewrap_into_standby(path, new_master)?;
        inner.fatal(|inner| inner.commit_rotation(path, store_id, new_sealer))?;
        // Wiped at the next open if this fails; the old key opens nothing any more.
        let _ = inner.finish_rotation(path, store_id);
        Ok(())
    }
}

fn bad_status(id: u64, status: u8) -> Error {
    Error::Corruption(format!("the keyring slot of stream {id} has an unknown status {status}"))
}

impl Inner {
    /// Rotation, step 1: every slot's key wrapped by `new_master` into the half not in force,
    /// fsynced. Nothing changes meaning yet: the header still names the old halves.
    fn rewrap_into_standby(&mut self, path: &Path, new_master: &Key) -> Result<Sealer> {
        let slots = self.slot_count(path)?;
        let old = self.header.active;
        let new = 1 - old;
        let new_sealer = Sealer::new(new_master);
        let mut half = [0u8; HALF_SIZE];
        for id in 0..slots {
            self.read_half(path, id, old, &mut half)?;
            match half[0] {
                STATUS_EMPTY => self.write_half(path, id, new, STATUS_EMPTY, &[0; WRAPPED_LEN])?,
                STATUS_SHREDDED => self.write_half(path, id, new, STATUS_SHREDDED, &[0; WRAPPED_LEN])?,
                STATUS_KEY => {
                    let key = crypto::unwrap_key(&self.master, id, &half[4..4 + WRAPPED_LEN])?;
                    let wrapped = crypto::wrap_key(&new_sealer, id, &key)?;
                    self.write_half(path, id, new, STATUS_KEY, &wrapped)?;
                }
                other => return Err(bad_status(id, other)),
            }
        }
        self.file.sync_data().map_err(|e| io(path, "syncing", e))?;
        Ok(new_sealer)
    }

    /// Rotation, step 2, the commit point: the header names the new halves and the new key's
    /// check value, with the clean-up mark set.
    fn commit_rotation(&mut self, path: &Path, store_id: [u8; 16], new_master: Sealer) -> Result<()> {
        let check: [u8; CHECK_LEN] = crypto::key_check_value(&new_master)?
            .try_into()
            .map_err(|_| Error::Internal("a key check value has an unexpected length".into()))?;
        let header =
            Header { seq: self.header.seq + 1, active: 1 - self.header.active, cleanup: true, check };
        self.write_header(path, store_id, header)?;
        self.master = new_master;
        self.dirty = false;
        Ok(())
    }

    fn slot_count(&self, path: &Path) -> Result<u64> {
        let len = self.file.metadata().map_err(|e| io(path, "reading the size of", e))?.len();
        Ok(len.saturating_sub(SLOTS_START).div_ceil(SLOT_SIZE))
    }

    fn half_offset(stream_id: u64, half: u8) -> Result<u64> {
        stream_id
            .checked_mul(SLOT_SIZE)
            .and_then(|o| o.checked_add(SLOTS_START + u64::from(half) * HALF_SIZE as u64))
            .ok_or_else(|| Error::Corruption(format!("stream id {stream_id} has no keyring slot")))
    }

    /// Reads a half; past the end of the file it reads as never written.
    fn read_half(&self, path: &Path, stream_id: u64, half: u8, out: &mut [u8; HALF_SIZE]) -> Result<()> {
        let offset = Self::half_offset(stream_id, half)?;
        out.fill(0);
        let mut read = 0;
        while read < HALF_SIZE {
            match self.file.read_at(&mut out[read..], offset + read as u64) {
                Ok(0) => break,
                Ok(n) => read += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(path, "reading", e)),
            }
        }
        Ok(())
    }

    fn write_half(&self, path: &Path, stream_id: u64, half: u8, status: u8, wrapped: &[u8]) -> Result<()> {
        let mut bytes = [0u8; HALF_SIZE];
        bytes[0] = status;
        bytes[4..4 + WRAPPED_LEN].copy_from_slice(wrapped);
        self.file
            .write_all_at(&bytes, Self::half_offset(stream_id, half)?)
            .map_err(|e| io(path, "writing", e))
    }

    fn load(&self, path: &Path, stream_id: u64) -> Result<Option<DataKey>> {
        let mut half = [0u8; HALF_SIZE];
        self.read_half(path, stream_id, self.header.active, &mut half)?;
        match half[0] {
            STATUS_EMPTY => Ok(None),
            STATUS_SHREDDED => Ok(Some(DataKey::Shredded)),
            STATUS_KEY => {
                let key =
                    crypto::unwrap_key(&self.master, stream_id, &half[4..4 + WRAPPED_LEN]).map_err(|e| {
                        Error::Encryption(format!("the data key of stream {stream_id} does not open: {e}"))
                    })?;
                Ok(Some(DataKey::Live(Arc::new(Sealer::new(&key)))))
            }
            other => Err(bad_status(stream_id, other)),
        }
    }

    fn write_header(&mut self, path: &Path, store_id: [u8; 16], header: Header) -> Result<()> {
        let mut bytes = [0u8; HEADER_SIZE as usize];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8..12].copy_from_slice(&VERSION.to_le_bytes());
        bytes[12..20].copy_from_slice(&header.seq.to_le_bytes());
        bytes[20..36].copy_from_slice(&store_id);
        bytes[36] = header.active;
        bytes[37] = u8::from(header.cleanup);
        bytes[40..40 + CHECK_LEN].copy_from_slice(&header.check);
        let sum_at = HEADER_SIZE as usize - 32;
        let sum = digest(&SHA256, &bytes[..sum_at]);
        bytes[sum_at..].copy_from_slice(sum.as_ref());
        // Copy `seq % 2`: consecutive headers alternate, so the one in force is never the
        // one being overwritten.
        let offset = (header.seq % 2) * HEADER_SIZE;
        self.file.write_all_at(&bytes, offset).map_err(|e| io(path, "writing", e))?;
        self.file.sync_data().map_err(|e| io(path, "syncing", e))?;
        self.header = header;
        Ok(())
    }

    /// Zeroes the halves not in force (the keys wrapped by a previous master key), then clears
    /// the header's clean-up mark.
    fn finish_rotation(&mut self, path: &Path, store_id: [u8; 16]) -> Result<()> {
        let stale = 1 - self.header.active;
        let mut half = [0u8; HALF_SIZE];
        for id in 0..self.slot_count(path)? {
            self.read_half(path, id, stale, &mut half)?;
            if half.iter().any(|&b| b != 0) {
                self.write_half(path, id, stale, STATUS_EMPTY, &[0; WRAPPED_LEN])?;
            }
        }
        self.file.sync_data().map_err(|e| io(path, "syncing", e))?;
        let header = Header { seq: self.header.seq + 1, cleanup: false, ..self.header };
        self.write_header(path, store_id, header)
    }
}

fn read_header(file: &File, path: &Path, store_id: [u8; 16]) -> Result<Header> {
    let mut best: Option<Header> = None;
    for copy in 0..2u64 {
        let mut bytes = [0u8; HEADER_SIZE as usize];
        if file.read_exact_at(&mut bytes, copy * HEADER_SIZE).is_err() {
            continue;
        }
        let sum_at = HEADER_SIZE as usize - 32;
        if &bytes[..8] != MAGIC || digest(&SHA256, &bytes[..sum_at]).as_ref() != &bytes[sum_at..] {
            continue;
        }
        if u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) != VERSION {
            return Err(Error::IncompatibleFormat(format!(
                "{} is a keyring of another version",
                path.display()
            )));
        }
        if bytes[20..36] != store_id {
            return Err(Error::Corruption(format!("{} is the keyring of another store", path.display())));
        }
        let header = Header {
            seq: u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes")),
            active: bytes[36],
            cleanup: bytes[37] != 0,
            check: bytes[40..40 + CHECK_LEN].try_into().expect("CHECK_LEN bytes"),
        };
        if header.active > 1 {
            continue;
        }
        if best.is_none_or(|b| header.seq > b.seq) {
            best = Some(header);
        }
    }
    best.ok_or_else(|| Error::Corruption(format!("{} has no valid header", path.display())))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io(dir, "syncing the directory", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    const STORE: [u8; 16] = [7; 16];

    fn key(byte: u8) -> Key {
        Key::from_bytes(&[byte; KEY_LEN]).unwrap()
    }

    fn live(key: DataKey) -> Arc<Sealer> {
        match key {
            DataKey::Live(sealer) => sealer,
            DataKey::Shredded => panic!("shredded"),
        }
    }

    /// Keys made by one keyring and sealed samples, to check the same keys come back later.
    fn populate(dir: &Path) -> Vec<Vec<u8>> {
        let ring = Keyring::create(dir, STORE, &key(1)).unwrap();
        let samples =
            (0..4).map(|id| live(ring.get_or_create(id).unwrap()).seal(b"aad", b"sample").unwrap()).collect();
        ring.sync().unwrap();
        ring.shred(&[2]).unwrap();
        samples
    }

    fn same_keys(ring: &Keyring, samples: &[Vec<u8>]) {
        for (id, sample) in samples.iter().enumerate() {
            match ring.get(id as u64).unwrap() {
                DataKey::Live(sealer) => assert_eq!(sealer.open(b"aad", sample).unwrap(), b"sample"),
                DataKey::Shredded => assert_eq!(id, 2, "only stream 2 is shredded"),
            }
        }
    }

    /// Bytes of the halves not in force.
    fn standby_bytes(dir: &Path) -> Vec<u8> {
        let ring = std::fs::read(dir.join(KEYRING_FILE)).unwrap();
        let file = File::open(dir.join(KEYRING_FILE)).unwrap();
        let active = read_header(&file, dir, STORE).unwrap().active as usize;
        ring[SLOTS_START as usize..]
            .chunks(SLOT_SIZE as usize)
            .flat_map(|slot| slot[(1 - active) * HALF_SIZE..(2 - active) * HALF_SIZE].to_vec())
            .collect()
    }

    #[test]
    fn a_rotation_stopped_before_its_commit_point_leaves_the_old_key_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let samples = populate(dir.path());
        {
            let ring = Keyring::open(dir.path(), STORE, &key(1)).unwrap();
            let mut inner = ring.write();
            inner.rewrap_into_standby(&ring.path, &key(2)).unwrap();
            // The process dies here.
        }
        let err = Keyring::open(dir.path(), STORE, &key(2)).err().unwrap();
        assert_eq!(err.code(), ErrorCode::Encryption);
        let ring = Keyring::open(dir.path(), STORE, &key(1)).unwrap();
        same_keys(&ring, &samples);
        // A rotation run again completes.
        ring.rotate(&key(2)).unwrap();
        drop(ring);
        let ring = Keyring::open(dir.path(), STORE, &key(2)).unwrap();
        same_keys(&ring, &samples);
        assert!(standby_bytes(dir.path()).iter().all(|&b| b == 0));
    }

    #[test]
    fn a_rotation_stopped_after_its_commit_point_is_finished_by_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let samples = populate(dir.path());
        {
            let ring = Keyring::open(dir.path(), STORE, &key(1)).unwrap();
            let mut inner = ring.write();
            let sealer = inner.rewrap_into_standby(&ring.path, &key(2)).unwrap();
            inner.commit_rotation(&ring.path, STORE, sealer).unwrap();
            // The process dies here: the old halves still hold keys wrapped by key 1.
        }
        assert!(standby_bytes(dir.path()).iter().any(|&b| b != 0));
        let err = Keyring::open(dir.path(), STORE, &key(1)).err().unwrap();
        assert_eq!(err.code(), ErrorCode::Encryption);
        let ring = Keyring::open(dir.path(), STORE, &key(2)).unwrap();
        same_keys(&ring, &samples);
        drop(ring);
        assert!(standby_bytes(dir.path()).iter().all(|&b| b == 0), "the old wrapped keys are wiped");
    }

    #[test]
    fn a_torn_header_write_leaves_the_previous_header_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let samples = populate(dir.path());
        // A rotation writes two headers (its commit, then the end of its clean-up): both
        // copies are valid after it.
        Keyring::open(dir.path(), STORE, &key(1)).unwrap().rotate(&key(3)).unwrap();
        let path = dir.path().join(KEYRING_FILE);
        let file = File::open(&path).unwrap();
        let seq = read_header(&file, dir.path(), STORE).unwrap().seq;
        // Damage the copy in force: the other one (the previous header) takes over.
        let mut bytes = std::fs::read(&path).unwrap();
        let at = ((seq % 2) * HEADER_SIZE + 100) as usize;
        bytes[at] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let ring = Keyring::open(dir.path(), STORE, &key(3)).unwrap();
        same_keys(&ring, &samples);
        drop(ring);
        let mut bytes = std::fs::read(&path).unwrap();
        let seq = read_header(&file, dir.path(), STORE).unwrap().seq;
        let at = ((seq % 2) * HEADER_SIZE + 100) as usize;
        bytes[at] ^= 1;
        // Both damaged: refused, never guessed.
        let at = (((seq + 1) % 2) * HEADER_SIZE + 100) as usize;
        bytes[at] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = Keyring::open(dir.path(), STORE, &key(3)).err().unwrap();
        assert_eq!(err.code(), ErrorCode::Corruption);
        // Another store's keyring is refused.
        let other = tempfile::tempdir().unwrap();
        populate(other.path());
        let err = Keyring::open(other.path(), [8; 16], &key(1)).err().unwrap();
        assert_eq!(err.code(), ErrorCode::Corruption);
    }
}
