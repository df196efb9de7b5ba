//! How a store is opened.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::commit_log::{CommitLogSource, LogChoice};
use crate::crypto::Key;
use crate::error::Result;

/// Default largest event (type + data + metadata + content type), in bytes.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;
/// Default deepest nesting of arrays and objects in event data labelled `application/json`: at
/// most the default limits of the standard parsers of our SDK languages (Jackson 3: 500, Jackson
/// 2: 1,000; Python's recursion limit, 1,000; Go, 10,000), so nothing stored stalls a consumer in
/// those, and far above real payloads. docs/semantics.md, "JSON data".
pub const DEFAULT_MAX_JSON_DEPTH: usize = 500;
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

/// Where the master key of an encrypted store comes from.
#[derive(Clone)]
pub(crate) enum MasterKey {
    Key(Arc<Key>),
    /// Asked at open (a key management service, a prompt...).
    Provider(Arc<dyn Fn() -> Result<Vec<u8>> + Send + Sync>),
}

impl MasterKey {
    pub(crate) fn resolve(&self) -> Result<Arc<Key>> {
        match self {
            MasterKey::Key(key) => Ok(key.clone()),
            MasterKey::Provider(provide) => {
                let bytes = zeroize::Zeroizing::new(provide()?);
                Key::from_bytes(&bytes).map(Arc::new)
            }
        }
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MasterKey::Key(_) => "MasterKey(<redacted>)",
            MasterKey::Provider(_) => "MasterKey(<provider>)",
        })
    }
}

/// Two options are alike on encryption when both encrypt or neither does: which key is right
/// is the keyring's to say (a wrong one is ENCRYPTION, not "other options").
impl PartialEq for MasterKey {
    fn eq(&self, _: &MasterKey) -> bool {
        true
    }
}
impl Eq for MasterKey {}

/// Options of [`crate::Db::open_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub(crate) path: PathBuf,
    pub(crate) max_event_size: usize,
    pub(crate) max_json_depth: usize,
    pub(crate) map_size: usize,
    pub(crate) durability: Durability,
    pub(crate) max_readers: u32,
    pub(crate) master_key: Option<MasterKey>,
    pub(crate) commit_log: Option<LogChoice>,
}

impl Options {
    pub fn new(path: impl AsRef<Path>) -> Options {
        Options {
            path: path.as_ref().to_path_buf(),
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            max_json_depth: DEFAULT_MAX_JSON_DEPTH,
            map_size: DEFAULT_MAP_SIZE,
            durability: Durability::Fsync,
            max_readers: 1024,
            master_key: None,
            commit_log: None,
        }
    }

    /// Largest accepted event, counting its type, data, metadata and content type.
    pub fn max_event_size(mut self, bytes: usize) -> Options {
        self.max_event_size = bytes;
        self
    }

    /// Deepest nesting of arrays and objects accepted in the data of an event labelled
    /// `application/json` (a scalar is at depth 0, `[]` at 1; default
    /// [`DEFAULT_MAX_JSON_DEPTH`]). Raise it only if every consumer's JSON parser accepts that
    /// depth: data one of them refuses stalls it. Events whose type has a schema nest at most 127
    /// levels whatever this says (the limit of the schema validation's parser).
    pub fn max_json_depth(mut self, depth: usize) -> Options {
        self.max_json_depth = depth;
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

    /// Encrypts the store at rest with this 32-byte master key (AES-256-GCM, a data key per
    /// stream wrapped by it). A new store is created encrypted; an existing one must have been
    /// created with it: a wrong key, or a key for an unencrypted store, fails the open.
    pub fn master_key(mut self, key: Key) -> Options {
        self.master_key = Some(MasterKey::Key(Arc::new(key)));
        self
    }

    /// Like [`Options::master_key`], with the 32 bytes asked of `provider` at open.
    pub fn master_key_provider(
        mut self,
        provider: impl Fn() -> Result<Vec<u8>> + Send + Sync + 'static,
    ) -> Options {
        self.master_key = Some(MasterKey::Provider(Arc::new(provider)));
        self
    }

    /// Keeps the store's commit log in `source` instead of segment files in its directory
    /// (see [`crate::commit_log`]). A store is created with its log and can only be opened with
    /// the same one afterwards. Such a store is not encrypted: its keyring would stay on this
    /// disk while its writes are replicated.
    pub fn commit_log(mut self, source: Arc<dyn CommitLogSource>) -> Options {
        self.commit_log = Some(LogChoice(source));
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
