//! The Python binding of GraveyardDB (uniffi 0.32, proc macros): `graveyard::Store`, its
//! sessions and `graveyard::boundary`, nothing else. It converts, maps errors and owns handles;
//! the `graveyard` Python package (sdk-python) builds the user's API on it.
//!
//! - **Two forms of every call.** `name` blocks the calling Python thread (uniffi calls through
//!   ctypes, which releases the GIL, so other Python threads run meanwhile) and uses the
//!   store's `_blocking` forms: an embedded call runs inline, no thread hop. `name_submit` is
//!   for the asyncio client: it checks the arguments, spawns the work on the core's runtime
//!   (`graveyard::runtime::shared`) and returns; the outcome is queued under the caller's token
//!   in a `NativeCompletions`, which wakes the event loop through a socket (see
//!   `completions.rs` for why not uniffi's own coroutines).
//! - **Buffers.** Appends take the packed events (`&[u8]` in the blocking form: uniffi 0.32 hands
//!   the bytes over without a copy there); reads return one page, indexed
//!   (`packed::index_page`); sessions return a batch of packed items
//!   (`graveyard::boundary::batch`). Bytes going back to Python, and owned bytes coming from
//!   it, are `Buffer`s: uniffi's own `Vec<u8>` moves a byte at a time.
//! - **Errors.** Every failure is `NativeError.Failure(code, message, details)`: the code's name,
//!   the core's message, the typed details as JSON. A panic is uniffi's `InternalError`, which
//!   the Python package maps to its own INTERNAL error.

use std::sync::Arc;
use std::time::Duration;

use graveyard::boundary::batch::{Batch, BatchedMember, BatchedSubscription};
use graveyard::boundary::{self, args, codes, packed};
use graveyard::runtime;
use graveyard::schema::Schema;
use graveyard::{ClientOptions, Error, ExpectedVersion, GroupSettings, GroupTarget, Options, Store};
use zeroize::Zeroizing;

mod buffer;
mod completions;
pub use buffer::Buffer;
pub use completions::{NativeCompletion, NativeCompletions, NativeOutcome};

uniffi::setup_scaffolding!();

/// A failure of the store, as the Python package maps it to its exception classes.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum NativeError {
    #[error("{message}")]
    Failure {
        /// The code's name (docs/boundary.md, "Codes"), e.g. `WRONG_EXPECTED_VERSION`.
        code: String,
        message: String,
        /// The typed fields of the codes that have them, as JSON.
        details: Option<String>,
    },
}

impl From<Error> for NativeError {
    fn from(e: Error) -> NativeError {
        NativeError::Failure {
            code: e.code().as_str().to_owned(),
            message: e.to_string(),
            details: e.details().map(|d| d.to_string()),
        }
    }
}

type Result<T> = std::result::Result<T, NativeError>;

/// A page with its index appended: the Python decoder reads offsets instead of walking each
/// event's lengths, one interpreted call per length (docs/boundary.md, "Indexed page").
fn indexed(mut page: Vec<u8>) -> Result<Buffer> {
    packed::index_page(&mut page)?;
    Ok(page.into())
}

/// The version of GraveyardDB this module was built from.
#[uniffi::export]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// For the tests of the panic path.
#[uniffi::export]
pub fn self_test_panic() {
    panic!("self-test panic")
}

/// For the tests of the panic path: a panic in the core's runtime, queued as the outcome of
/// the call submitted under `token`.
#[uniffi::export]
pub fn self_test_panic_submit(queue: u64, token: u64) -> Result<()> {
    completions::spawn(queue, token, async {
        if true {
            panic!("self-test panic");
        }
        Ok::<(), Error>(())
    })
}

/// Options of an embedded store; sizes absent or 0 take the core's defaults.
fn open_options(
    path: &str,
    durability: i32,
    map_size: Option<u64>,
    max_event_size: Option<u64>,
    max_readers: Option<u32>,
    max_json_depth: Option<u32>,
    master_key: Option<Vec<u8>>,
) -> graveyard::Result<Options> {
    let master_key = master_key.map(Zeroizing::new);
    args::OpenArgs {
        path,
        durability,
        map_size,
        max_event_size,
        max_readers,
        max_json_depth,
        master_key: master_key.as_deref().map(Vec::as_slice),
    }
    .options()
}

/// Options of a cluster connection; absent values take the core's defaults.
fn client_options(
    token: Option<String>,
    ca_pem: Option<Vec<u8>>,
    connect_timeout_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    retries: Option<u32>,
    retry_backoff_ms: Option<u64>,
) -> ClientOptions {
    args::ConnectArgs {
        token,
        ca_pem,
        connect_timeout: connect_timeout_ms.map(Duration::from_millis),
        request_timeout: request_timeout_ms.map(Duration::from_millis),
        retries,
        retry_backoff: retry_backoff_ms.map(Duration::from_millis),
    }
    .options()
}

/// An embedded store or a cluster connection.
#[derive(uniffi::Object)]
pub struct NativeStore {
    store: Store,
}

fn expected(kind: i32, revision: u64) -> graveyard::Result<ExpectedVersion> {
    codes::expected_version(kind, revision)
}

fn group_args(
    target: &str,
    start_kind: i32,
    after: u64,
    settings: &str,
) -> graveyard::Result<(GroupTarget, graveyard::SubscriptionStart, GroupSettings)> {
    Ok((
        boundary::from_json("group target", target)?,
        codes::subscription_start(start_kind, after)?,
        boundary::from_json("group settings", settings)?,
    ))
}

/// Opens (creating it if needed) an embedded store, blocking this thread.
#[uniffi::export]
#[allow(clippy::too_many_arguments)]
pub fn open_store(
    path: String,
    durability: i32,
    map_size: Option<u64>,
    max_event_size: Option<u64>,
    max_readers: Option<u32>,
    max_json_depth: Option<u32>,
    master_key: Option<Vec<u8>>,
) -> Result<Arc<NativeStore>> {
    let options =
        open_options(&path, durability, map_size, max_event_size, max_readers, max_json_depth, master_key)?;
    Ok(Arc::new(NativeStore { store: Store::open(options)? }))
}

/// Opens an embedded store for the asyncio client: the outcome is queued under `token`.
#[uniffi::export]
#[allow(clippy::too_many_arguments)]
pub fn open_store_submit(
    queue: u64,
    token: u64,
    path: String,
    durability: i32,
    map_size: Option<u64>,
    max_event_size: Option<u64>,
    max_readers: Option<u32>,
    max_json_depth: Option<u32>,
    master_key: Option<Vec<u8>>,
) -> Result<()> {
    let options =
        open_options(&path, durability, map_size, max_event_size, max_readers, max_json_depth, master_key)?;
    completions::spawn(queue, token, async move {
        let store = runtime::blocking_section(|| Store::open(options))?;
        Ok::<_, NativeError>(Arc::new(NativeStore { store }))
    })
}

/// Connects to a cluster through any of its endpoints, blocking this thread.
#[uniffi::export]
pub fn connect(
    endpoints: Vec<String>,
    token: Option<String>,
    ca_pem: Option<Vec<u8>>,
    connect_timeout_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    retries: Option<u32>,
    retry_backoff_ms: Option<u64>,
) -> Result<Arc<NativeStore>> {
    let options =
        client_options(token, ca_pem, connect_timeout_ms, request_timeout_ms, retries, retry_backoff_ms);
    Ok(Arc::new(NativeStore { store: Store::connect_blocking(&endpoints, options)? }))
}

/// Connects to a cluster for the asyncio client: the outcome is queued under `token`.
#[uniffi::export]
#[allow(clippy::too_many_arguments)]
pub fn connect_submit(
    queue: u64,
    token: u64,
    endpoints: Vec<String>,
    auth_token: Option<String>,
    ca_pem: Option<Vec<u8>>,
    connect_timeout_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    retries: Option<u32>,
    retry_backoff_ms: Option<u64>,
) -> Result<()> {
    let options =
        client_options(auth_token, ca_pem, connect_timeout_ms, request_timeout_ms, retries, retry_backoff_ms);
    completions::spawn(queue, token, async move {
        let store = Store::connect(&endpoints, options).await?;
        Ok::<_, NativeError>(Arc::new(NativeStore { store }))
    })
}

#[uniffi::export]
impl NativeStore {
    pub fn is_embedded(&self) -> bool {
        self.store.is_embedded()
    }

    /// A handle on the same cluster connection whose node-scoped calls go to member `node_id`.
    pub fn on_node(&self, node_id: String) -> Result<Arc<NativeStore>> {
        Ok(Arc::new(NativeStore { store: self.store.on_node(&node_id)? }))
    }

    pub fn is_encrypted(&self) -> Result<bool> {
        Ok(self.store.is_encrypted()?)
    }

    /// Closes the store for every handle on it (an embedded store waits for the calls in flight).
    pub fn close(&self) {
        self.store.close();
    }

    pub fn close_submit(&self, queue: u64, token: u64) -> Result<()> {
        let store = self.store.clone();
        completions::spawn(queue, token, async move {
            runtime::blocking_section(|| store.close());
            Ok::<_, NativeError>(())
        })
    }

    /// Appends packed events; the packed append result.
    pub fn append(
        &self,
        stream: String,
        expected_kind: i32,
        expected_revision: u64,
        events: &[u8],
    ) -> Result<Buffer> {
        let expected = expected(expected_kind, expected_revision)?;
        let r = self.store.append_blocking(&stream, expected, packed::unpack_events(events)?)?;
        Ok(packed::append_result(&r).into())
    }

    pub fn append_submit(
        &self,
        queue: u64,
        token: u64,
        stream: String,
        expected_kind: i32,
        expected_revision: u64,
        events: &[u8],
    ) -> Result<()> {
        // Unpacked here, from the caller's bytes (no copy crosses): a damaged batch is refused
        // before anything is spawned.
        let (store, expected) = (self.store.clone(), expected(expected_kind, expected_revision)?);
        let events = packed::unpack_events(events)?;
        completions::spawn(queue, token, async move {
            let r = store.append(&stream, expected, events).await?;
            Ok::<_, Error>(Buffer::from(packed::append_result(&r)))
        })
    }

    /// An indexed page of a stream (docs/boundary.md, "Indexed page").
    pub fn read_stream(
        &self,
        stream: String,
        direction: i32,
        from: Option<u64>,
        limit: Option<u64>,
    ) -> Result<Buffer> {
        indexed(self.store.read_stream_packed_blocking(&stream, args::read_options(direction, from, limit)?)?)
    }

    pub fn read_stream_submit(
        &self,
        queue: u64,
        token: u64,
        stream: String,
        direction: i32,
        from: Option<u64>,
        limit: Option<u64>,
    ) -> Result<()> {
        let (store, options) = (self.store.clone(), args::read_options(direction, from, limit)?);
        completions::spawn(
            queue,
            token,
            async move { indexed(store.read_stream_packed(&stream, options).await?) },
        )
    }

    /// An indexed page of the global log; `filter` its JSON form or None.
    pub fn read_all(
        &self,
        direction: i32,
        from: Option<u64>,
        limit: Option<u64>,
        filter: Option<String>,
    ) -> Result<Buffer> {
        indexed(self.store.read_all_packed_blocking(args::read_all_options(
            direction,
            from,
            limit,
            filter.as_deref(),
        )?)?)
    }

    pub fn read_all_submit(
        &self,
        queue: u64,
        token: u64,
        direction: i32,
        from: Option<u64>,
        limit: Option<u64>,
        filter: Option<String>,
    ) -> Result<()> {
        let (store, options) =
            (self.store.clone(), args::read_all_options(direction, from, limit, filter.as_deref())?);
        completions::spawn(queue, token, async move { indexed(store.read_all_packed(options).await?) })
    }

    pub fn head_position(&self) -> Result<u64> {
        Ok(self.store.head_position_blocking()?)
    }

    pub fn head_position_submit(&self, queue: u64, token: u64) -> Result<()> {
        let store = self.store.clone();
        completions::spawn(queue, token, async move { store.head_position().await })
    }

    /// One page of the streams of this store (of this node's log on a cluster), as JSON.
    pub fn list_streams(&self, prefix: String, after: Option<String>, limit: Option<u64>) -> Result<String> {
        let options = args::list_streams_options(prefix, after, limit);
        Ok(boundary::to_json(&self.store.list_streams_blocking(&options)?))
    }

    pub fn list_streams_submit(
        &self,
        queue: u64,
        token: u64,
        prefix: String,
        after: Option<String>,
        limit: Option<u64>,
    ) -> Result<()> {
        let store = self.store.clone();
        let options = args::list_streams_options(prefix, after, limit);
        completions::spawn(queue, token, async move {
            Ok::<_, Error>(boundary::to_json(&store.list_streams(&options).await?))
        })
    }

    pub fn stream_info(&self, stream: String) -> Result<String> {
        Ok(boundary::to_json(&self.store.stream_info_blocking(&stream)?))
    }

    pub fn stream_info_submit(&self, queue: u64, token: u64, stream: String) -> Result<()> {
        let store = self.store.clone();
        completions::spawn(queue, token, async move {
            Ok::<_, Error>(boundary::to_json(&store.stream_info(&stream).await?))
        })
    }

    pub fn set_stream_metadata(&self, stream: String, metadata: String) -> Result<()> {
        let metadata = boundary::from_json("stream metadata", &metadata)?;
        Ok(self.store.set_stream_metadata_blocking(&stream, metadata)?)
    }

    pub fn set_stream_metadata_submit(
        &self,
        queue: u64,
        token: u64,
        stream: String,
        metadata: String,
    ) -> Result<()> {
        let (store, metadata) = (self.store.clone(), boundary::from_json("stream metadata", &metadata)?);
        completions::spawn(queue, token, async move { store.set_stream_metadata(&stream, metadata).await })
    }

    pub fn get_stream_metadata(&self, stream: String) -> Result<String> {
        Ok(boundary::to_json(&self.store.get_stream_metadata_blocking(&stream)?))
    }

    pub fn get_stream_metadata_submit(&self, queue: u64, token: u64, stream: String) -> Result<()> {
        let store = self.store.clone();
        completions::spawn(queue, token, async move {
            Ok::<_, Error>(boundary::to_json(&store.get_stream_metadata(&stream).await?))
        })
    }

    pub fn delete_stream(&self, stream: String, expected_kind: i32, expected_revision: u64) -> Result<()> {
        Ok(self.store.delete_stream_blocking(&stream, expected(expected_kind, expected_revision)?)?)
    }

    pub fn delete_stream_submit(
        &self,
        queue: u64,
        token: u64,
        stream: String,
        expected_kind: i32,
        expected_revision: u64,
    ) -> Result<()> {
        let (store, expected) = (self.store.clone(), expected(expected_kind, expected_revision)?);
        completions::spawn(queue, token, async move { store.delete_stream(&stream, expected).await })
    }

    pub fn tombstone_stream(&self, stream: String, expected_kind: i32, expected_revision: u64) -> Result<()> {
        Ok(self.store.tombstone_stream_blocking(&stream, expected(expected_kind, expected_revision)?)?)
    }

    pub fn tombstone_stream_submit(
        &self,
        queue: u64,
        token: u64,
        stream: String,
        expected_kind: i32,
        expected_revision: u64,
    ) -> Result<()> {
        let (store, expected) = (self.store.clone(), expected(expected_kind, expected_revision)?);
        completions::spawn(queue, token, async move { store.tombstone_stream(&stream, expected).await })
    }

    pub fn shred_stream(&self, stream: String) -> Result<()> {
        Ok(self.store.shred_stream_blocking(&stream)?)
    }

    pub fn shred_stream_submit(&self, queue: u64, token: u64, stream: String) -> Result<()> {
        let store = self.store.clone();
        completions::spawn(queue, token, async move { store.shred_stream(&stream).await })
    }

    pub fn rotate_master_key(&self, new_key: Vec<u8>) -> Result<()> {
        let new_key = args::master_key(&Zeroizing::new(new_key), "new master key")?;
        Ok(self.store.rotate_master_key_blocking(new_key)?)
    }

    pub fn rotate_master_key_submit(&self, queue: u64, token: u64, new_key: Vec<u8>) -> Result<()> {
        let (store, new_key) =
            (self.store.clone(), args::master_key(&Zeroizing::new(new_key), "new master key")?);
        completions::spawn(queue, token, async move { store.rotate_master_key(new_key).await })
    }

    pub fn save_snapshot(&self, stream: String, revision: u64, data: Buffer) -> Result<()> {
        Ok(self.store.save_snapshot_blocking(&stream, revision, data.0)?)
    }

    pub fn save_snapshot_submit(
        &self,
        queue: u64,
        token: u64,
        stream: String,
        revision: u64,
        data: &[u8],
    ) -> Result<()> {
        let (store, data) = (self.store.clone(), data.to_vec());
        completions::spawn(queue, token, async move { store.save_snapshot(&stream, revision, data).await })
    }

    /// The packed snapshot, or None.
    pub fn get_snapshot(&self, stream: String) -> Result<Option<Buffer>> {
        Ok(self.store.get_snapshot_blocking(&stream)?.map(|s| packed::snapshot(&s).into()))
    }

    pub fn get_snapshot_submit(&self, queue: u64, token: u64, stream: String) -> Result<()> {
        let store = self.store.clone();
        completions::spawn(queue, token, async move {
            Ok::<_, Error>(store.get_snapshot(&stream).await?.map(|s| Buffer::from(packed::snapshot(&s))))
        })
    }

    /// Registers a schema given in its JSON form; the upsert's JSON. A malformed definition is
    /// INVALID_SCHEMA, like any other problem of it (the core's reading).
    pub fn upsert_schema(&self, schema: String) -> Result<String> {
        let schema = Schema::from_json(schema.as_bytes())?;
        Ok(boundary::to_json(&self.store.upsert_schema_blocking(&schema)?))
    }

    pub fn upsert_schema_submit(&self, queue: u64, token: u64, schema: String) -> Result<()> {
        let (store, schema) = (self.store.clone(), Schema::from_json(schema.as_bytes())?);
        completions::spawn(queue, token, async move {
            Ok::<_, Error>(boundary::to_json(&store.upsert_schema(&schema).await?))
        })
    }

    pub fn get_schema(&self, name: String, version: Option<u32>) -> Result<String> {
        Ok(boundary::to_json(&self.store.get_schema_blocking(&name, version)?))
    }

    pub fn get_schema_submit(
        &self,
        queue: u64,
        token: u64,
        name: String,
        version: Option<u32>,
    ) -> Result<()> {
        let store = self.store.clone();
        completions::spawn(queue, token, async move {
            Ok::<_, Error>(boundary::to_json(&store.get_schema(&name, version).await?))
        })
    }

    pub fn list_schemas(&self) -> Result<String> {
        Ok(boundary::to_json(&self.store.list_schemas_blocking()?))
    }

    pub fn list_schemas_submit(&self, queue: u64, token: u64) -> Result<()> {
        let store = self.store.clone();
        completions::spawn(queue, token, async move {
            Ok::<_, Error>(boundary::to_json(&store.list_schemas().await?))
        })
    }

    /// Creates a group: target and settings as JSON; the group info's JSON.
    pub fn create_group(
        &self,
        name: String,
        target: String,
        start_kind: i32,
        start_after: u64,
        settings: String,
    ) -> Result<String> {
        let (target, start, settings) = group_args(&target, start_kind, start_after, &settings)?;
        Ok(boundary::to_json(&self.store.create_group_blocking(&name, target, start, settings)?))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn create_group_submit(
        &self,
        queue: u64,
        token: u64,
        name: String,
        target: String,
        start_kind: i32,
        start_after: u64,
        settings: String,
    ) -> Result<()> {
        let (target, start, settings) = group_args(&target, start_kind, start_after, &settings)?;
        let store = self.store.clone();
        completions::spawn(queue, token, async move {
            Ok::<_, Error>(boundary::to_json(&store.create_group(&name, target, start, settings).await?))
        })
    }

    pub fn update_group(&self, name: String, settings: String) -> Result<String> {
        let settings: GroupSettings = boundary::from_json("group settings", &settings)?;
        Ok(boundary::to_json(&self.store.update_group_blocking(&name, settings)?))
    }

    pub fn update_group_submit(&self, queue: u64, token: u64, name: String, settings: String) -> Result<()> {
        let settings: GroupSettings = boundary::from_json("group settings", &settings)?;
        let store = self.store.clone();
        completions::spawn(queue, token, async move {
            Ok::<_, Error>(boundary::to_json(&store.update_group(&name, settings).await?))
        })
    }

    pub fn delete_group(&self, name: String) -> Result<()> {
        Ok(self.store.delete_group_blocking(&name)?)
    }

    pub fn delete_group_submit(&self, queue: u64, token: u64, name: String) -> Result<()> {
        let store = self.store.clone();
        completions::spawn(queue, token, async move { store.delete_group(&name).await })
    }

    pub fn group_info(&self, name: String) -> Result<String> {
        Ok(boundary::to_json(&self.store.group_info_blocking(&name)?))
    }

    pub fn group_info_submit(&self, queue: u64, token: u64, name: String) -> Result<()> {
        let store = self.store.clone();
        completions::spawn(queue, token, async move {
            Ok::<_, Error>(boundary::to_json(&store.group_info(&name).await?))
        })
    }

    pub fn list_groups(&self) -> Result<Vec<String>> {
        Ok(self.store.list_groups_blocking()?)
    }

    pub fn list_groups_submit(&self, queue: u64, token: u64) -> Result<()> {
        let store = self.store.clone();
        completions::spawn(queue, token, async move { store.list_groups().await })
    }

    pub fn replay_parked(&self, name: String, limit: Option<u64>) -> Result<String> {
        Ok(boundary::to_json(&self.store.replay_parked_blocking(&name, limit)?))
    }

    pub fn replay_parked_submit(
        &self,
        queue: u64,
        token: u64,
        name: String,
        limit: Option<u64>,
    ) -> Result<()> {
        let store = self.store.clone();
        completions::spawn(queue, token, async move {
            Ok::<_, Error>(boundary::to_json(&store.replay_parked(&name, limit).await?))
        })
    }

    /// Subscribes to a stream (`page_size` 0: the core's default).
    pub fn subscribe_to_stream(
        &self,
        stream: String,
        start_kind: i32,
        start_after: u64,
        page_size: u32,
    ) -> Result<Arc<NativeSubscription>> {
        let options = args::subscribe_options(start_kind, start_after, page_size, None)?;
        let sub = runtime::block_on_shared(self.store.subscribe_to_stream(&stream, options))?;
        Ok(Arc::new(NativeSubscription(BatchedSubscription::new(sub))))
    }

    pub fn subscribe_to_stream_submit(
        &self,
        queue: u64,
        token: u64,
        stream: String,
        start_kind: i32,
        start_after: u64,
        page_size: u32,
    ) -> Result<()> {
        let (store, options) =
            (self.store.clone(), args::subscribe_options(start_kind, start_after, page_size, None)?);
        completions::spawn(queue, token, async move {
            let sub = store.subscribe_to_stream(&stream, options).await?;
            Ok::<_, Error>(Arc::new(NativeSubscription(BatchedSubscription::new(sub))))
        })
    }

    /// Subscribes to $all; `filter` its JSON form or None.
    pub fn subscribe_to_all(
        &self,
        start_kind: i32,
        start_after: u64,
        filter: Option<String>,
        page_size: u32,
    ) -> Result<Arc<NativeSubscription>> {
        let options = args::subscribe_options(start_kind, start_after, page_size, filter.as_deref())?;
        let sub = runtime::block_on_shared(self.store.subscribe_to_all(options))?;
        Ok(Arc::new(NativeSubscription(BatchedSubscription::new(sub))))
    }

    pub fn subscribe_to_all_submit(
        &self,
        queue: u64,
        token: u64,
        start_kind: i32,
        start_after: u64,
        filter: Option<String>,
        page_size: u32,
    ) -> Result<()> {
        let (store, options) = (
            self.store.clone(),
            args::subscribe_options(start_kind, start_after, page_size, filter.as_deref())?,
        );
        completions::spawn(queue, token, async move {
            let sub = store.subscribe_to_all(options).await?;
            Ok::<_, Error>(Arc::new(NativeSubscription(BatchedSubscription::new(sub))))
        })
    }

    pub fn join_group(&self, group: String, member: String) -> Result<Arc<NativeMember>> {
        let m = runtime::block_on_shared(self.store.join_group(&group, &member))?;
        Ok(Arc::new(NativeMember(BatchedMember::new(m))))
    }

    pub fn join_group_submit(&self, queue: u64, token: u64, group: String, member: String) -> Result<()> {
        let store = self.store.clone();
        completions::spawn(queue, token, async move {
            let m = store.join_group(&group, &member).await?;
            Ok::<_, Error>(Arc::new(NativeMember(BatchedMember::new(m))))
        })
    }
}

/// What a session's `next` gives: packed items (`u32 count`, then per item `u32 length` and
/// the packed message or delivery), nothing within the timeout, or the end of the session.
#[derive(uniffi::Enum)]
pub enum NativeBatch {
    Items { packed: Buffer },
    Timeout,
    Ended,
}

impl From<Batch> for NativeBatch {
    fn from(batch: Batch) -> NativeBatch {
        match batch {
            Batch::Items(packed) => NativeBatch::Items { packed: packed.into() },
            Batch::Timeout => NativeBatch::Timeout,
            Batch::Ended => NativeBatch::Ended,
        }
    }
}

fn wait(timeout_ms: Option<u64>) -> Option<Duration> {
    timeout_ms.map(Duration::from_millis)
}

/// A subscription: history, the caught-up marker, then live events.
#[derive(uniffi::Object)]
pub struct NativeSubscription(BatchedSubscription);

#[uniffi::export]
impl NativeSubscription {
    /// Up to `max` messages, waiting at most `timeout_ms` for the first (None: as long as it
    /// takes), blocking this thread.
    pub fn next(&self, max: u32, timeout_ms: Option<u64>) -> Result<NativeBatch> {
        Ok(runtime::block_on_shared(self.0.next(max, wait(timeout_ms)))?.into())
    }

    pub fn next_submit(&self, queue: u64, token: u64, max: u32, timeout_ms: Option<u64>) -> Result<()> {
        completions::spawn(queue, token, {
            let next = self.0.next(max, wait(timeout_ms));
            async move { next.await.map(NativeBatch::from) }
        })
    }

    /// Ends the subscription: a waiting and every later `next` says ended.
    pub fn cancel(&self) {
        self.0.cancel();
    }
}

/// A member of a consumer group.
#[derive(uniffi::Object)]
pub struct NativeMember(BatchedMember);

#[uniffi::export]
impl NativeMember {
    /// Up to `max` deliveries, waiting at most `timeout_ms` for the first, blocking this thread.
    pub fn next(&self, max: u32, timeout_ms: Option<u64>) -> Result<NativeBatch> {
        Ok(runtime::block_on_shared(self.0.next(max, wait(timeout_ms)))?.into())
    }

    pub fn next_submit(&self, queue: u64, token: u64, max: u32, timeout_ms: Option<u64>) -> Result<()> {
        completions::spawn(queue, token, {
            let next = self.0.next(max, wait(timeout_ms));
            async move { next.await.map(NativeBatch::from) }
        })
    }

    /// Acknowledges deliveries by id, in one commit.
    pub fn ack(&self, ids: Vec<u64>) -> Result<()> {
        Ok(runtime::block_on_shared(self.0.ack(ids))?)
    }

    pub fn ack_submit(&self, queue: u64, token: u64, ids: Vec<u64>) -> Result<()> {
        completions::spawn(queue, token, self.0.ack(ids))
    }

    /// Settles deliveries by id with an action (1 retry, 2 park, 3 skip).
    pub fn nack(&self, ids: Vec<u64>, action: i32) -> Result<()> {
        let action = codes::nack_action(action)?;
        Ok(runtime::block_on_shared(self.0.nack(ids, action))?)
    }

    pub fn nack_submit(&self, queue: u64, token: u64, ids: Vec<u64>, action: i32) -> Result<()> {
        let action = codes::nack_action(action)?;
        completions::spawn(queue, token, self.0.nack(ids, action))
    }

    /// Leaves the group: a waiting and every later `next` says ended, settling is CLOSED; what
    /// it held unsettled is delivered again.
    pub fn cancel(&self) {
        self.0.cancel();
    }
}
