//! Checkpoints: the LMDB state the commit log's replay starts from.
//!
//! LMDB commits without syncing (the commit log is what makes a write durable), and a crash of
//! the machine may then leave its file with some pages of recent commits written and others
//! not: LMDB's own docs say such a file can be corrupt, not only behind. What keeps it sound
//! here:
//! - a checkpoint syncs LMDB (every page of the last commit is on disk), then saves a copy of
//!   its two meta pages, which name that commit's tree, in `checkpoint` (written aside, synced,
//!   renamed);
//! - until the next checkpoint the writer holds a read transaction on that commit, so LMDB
//!   never reuses one of its pages: later commits only write pages the checkpoint's tree does
//!   not use;
//! - every open after the first puts the saved meta pages back before LMDB opens the file, so
//!   LMDB starts from the checkpoint's tree, intact whatever happened to the pages written
//!   after it, and the engine replays the log's records from the checkpoint's LSN on.
//!
//! So every open, after a clean close, a kill or a power cut alike, takes the same path, and
//! the crash tests exercise the path a power cut takes.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::log::{io, sync_dir, write_out};
use crate::error::{Error, Result};

pub(crate) const CHECKPOINT_FILE: &str = "checkpoint";
const MAGIC: &[u8; 8] = b"GYCKPT01";
/// LMDB's data file in the store's directory.
const DATA_FILE: &str = "data.mdb";

pub(crate) struct Checkpoint {
    /// The first record of the log the checkpoint does not hold.
    pub lsn: u64,
    /// LMDB's two meta pages at the checkpoint.
    metas: Vec<u8>,
}

/// How much of LMDB's file a checkpoint writes out at a time before its sync: small enough that
/// a batch's `fdatasync` of the commit log waits behind little of it (server benchmark, 64
/// clients, p99 of an append over 3 to 8 runs each: 1 MiB slices 4.5-6.3 ms, 256 KiB 4.4-6.0 ms,
/// 64 KiB 5.4-6.2 ms, 4 MiB 6.6-8.1 ms, 16 MiB 10.7-11.4 ms, no slices 7.0-10.9 ms).
const WRITE_BACK_SLICE: u64 = 256 * 1024;

/// Writes the pages of LMDB's file that are dirty in the page cache out to disk, a slice at a
/// time, each waited for before the next, instead of leaving them all to the checkpoint's sync.
/// Between two checkpoints every commit writes its pages to new places (the pin on the last
/// checkpoint keeps LMDB from reusing freed ones), so a sync has hundreds of MB to write under
/// load (measured: 228 MB/s of writes at 29k appends/s); sent to the disk at once, they queued
/// every commit's `fdatasync` of the log behind them. Durability still comes from the sync that
/// follows (this flushes neither the file's metadata nor the disk's cache); an error here is
/// one of that sync: pages may be lost.
pub(crate) fn write_back_paced(dir: &Path) -> Result<()> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    let path = dir.join(DATA_FILE);
    let file = File::open(&path).map_err(|e| io("opening", &path, e))?;
    let len = file.metadata().map_err(|e| io("reading the size of", &path, e))?.len();
    let mut offset = 0;
    while offset < len {
        let slice = WRITE_BACK_SLICE.min(len - offset);
        write_out(&file, || path.clone(), offset, slice, true)?;
        offset += slice;
    }
    Ok(())
}

impl Checkpoint {
    /// The checkpoint of the store in `dir`, if it has one.
    pub(crate) fn read(dir: &Path) -> Result<Option<Checkpoint>> {
        let path = dir.join(CHECKPOINT_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("reading", &path, e)),
        };
        let corrupt = |why: &str| Error::Corruption(format!("{}: {why}", path.display()));
        if bytes.len() < 24 || &bytes[..8] != MAGIC {
            return Err(corrupt("not a GraveyardDB checkpoint"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 4);
        if crc32c::crc32c(body) != u32::from_le_bytes(sum.try_into().expect("4 bytes")) {
            return Err(corrupt("its checksum does not match"));
        }
        let lsn = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
        let page = u32::from_le_bytes(body[16..20].try_into().expect("4 bytes")) as usize;
        let metas = body[20..].to_vec();
        if page == 0 || metas.len() != 2 * page {
            return Err(corrupt("its meta pages have the wrong size"));
        }
        Ok(Some(Checkpoint { lsn, metas }))
    }

    /// Takes the meta pages LMDB has on disk now: call it right after a sync of LMDB, with no
    /// write transaction open.
    pub(crate) fn take(dir: &Path, page_size: usize, lsn: u64) -> Result<Checkpoint> {
        let path = dir.join(DATA_FILE);
        let file = File::open(&path).map_err(|e| io("opening", &path, e))?;
        let mut metas = vec![0u8; 2 * page_size];
        file.read_exact_at(&mut metas, 0).map_err(|e| io("reading", &path, e))?;
        Ok(Checkpoint { lsn, metas })
    }

    /// Saves the checkpoint durably: aside, synced, then renamed over the previous one.
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let page = u32::try_from(self.metas.len() / 2).expect("a page size fits u32");
        let mut bytes = Vec::with_capacity(24 + self.metas.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&self.lsn.to_le_bytes());
        bytes.extend_from_slice(&page.to_le_bytes());
        bytes.extend_from_slice(&self.metas);
        let sum = crc32c::crc32c(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        let tmp = dir.join(format!("{CHECKPOINT_FILE}.tmp"));
        let mut file = File::create(&tmp).map_err(|e| io("creating", &tmp, e))?;
        file.write_all(&bytes).map_err(|e| io("writing", &tmp, e))?;
        file.sync_all().map_err(|e| io("syncing", &tmp, e))?;
        fs::rename(&tmp, dir.join(CHECKPOINT_FILE)).map_err(|e| io("renaming", &tmp, e))?;
        sync_dir(dir)
    }

    /// Puts the saved meta pages back into LMDB's file, durably, before LMDB opens it.
    pub(crate) fn restore(&self, dir: &Path) -> Result<()> {
        let path = dir.join(DATA_FILE);
        let file = File::options().read(true).write(true).open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Corruption(format!("{} has a checkpoint but no {DATA_FILE}", dir.display()))
            } else {
                io("opening", &path, e)
            }
        })?;
        let mut on_disk = vec![0u8; self.metas.len()];
        if file.read_exact_at(&mut on_disk, 0).is_ok() && on_disk == self.metas {
            return Ok(());
        }
        file.write_all_at(&self.metas, 0).map_err(|e| io("restoring the checkpoint in", &path, e))?;
        file.sync_data().map_err(|e| io("syncing", &path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The write-back covers a file of any size (a last slice shorter than the others) and
    /// fails, as the sync after it would, when LMDB's file cannot be reached.
    #[test]
    fn writes_back_the_data_file_or_says_why_not() {
        let dir = tempfile::tempdir().unwrap();
        #[cfg(target_os = "linux")]
        {
            let err = write_back_paced(dir.path()).unwrap_err();
            assert!(err.to_string().contains("opening") && err.to_string().contains(DATA_FILE), "{err}");
        }
        let data = vec![7u8; (3 * WRITE_BACK_SLICE + 4096 + 5) as usize];
        fs::write(dir.path().join(DATA_FILE), &data).unwrap();
        write_back_paced(dir.path()).unwrap();
        assert_eq!(fs::read(dir.path().join(DATA_FILE)).unwrap(), data);
    }
}
