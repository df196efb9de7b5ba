//! How a store is opened.

use std::path::{Path, PathBuf};

/// Default largest event (type + data + metadata + content type), in bytes.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;
/// Default LMDB map size: address space reserved, not disk used. LMDB cannot grow past it
/// while open, so it is large; the file only grows as data is written.
pub const DEFAULT_MAP_SIZE: usize = if cfg!(target_pointer_width = "64") { 1 << 40 } else { 1 << 30 };

/// When a write is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Acknowledged after the commit is on disk (fsync). Survives power loss. The default.
    #[default]
    Fsync,
    /// Acknowledged once the commit is in the operating system's buffers, without fsync.
    /// Survives a crash of the process, NOT of the machine: the last commits can be lost on
    /// power failure. For tests and throwaway data only.
    NoFsyncUnsafe,
}

/// Options of [`crate::Db::open_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub(crate) path: PathBuf,
    pub(crate) max_event_size: usize,
    pub(crate) map_size: usize,
    pub(crate) durability: Durability,
    pub(crate) max_readers: u32,
}

impl Options {
    pub fn new(path: impl AsRef<Path>) -> Options {
        Options {
            path: path.as_ref().to_path_buf(),
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            map_size: DEFAULT_MAP_SIZE,
            durability: Durability::Fsync,
            max_readers: 1024,
        }
    }

    /// Largest accepted event, counting its type, data, metadata and content type.
    pub fn max_event_size(mut self, bytes: usize) -> Options {
        self.max_event_size = bytes;
        self
    }

    /// The largest the store may grow to while open (rounded up to the page size).
    pub fn map_size(mut self, bytes: usize) -> Options {
        self.map_size = bytes;
        self
    }

    pub fn durability(mut self, durability: Durability) -> Options {
        self.durability = durability;
        self
    }

    /// Most read transactions open at once (threads reading concurrently).
    pub fn max_readers(mut self, readers: u32) -> Options {
        self.max_readers = readers;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
