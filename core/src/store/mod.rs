//! [`Store`]: one type over both faces of GraveyardDB, the embedded [`Db`] and the cluster
//! [`Client`], with the same operations and signatures, each async and blocking
//! (`append` / `append_blocking`). Bindings, the server and the conformance runners are written
//! against it once instead of dispatching over the two faces themselves.
//!
//! - Async forms never block an executor: on an embedded store, a call that waits for a commit
//!   runs in [`runtime::blocking_section`] (tokio moves the worker's other tasks away meanwhile),
//!   an append is queued to the writer without blocking at all. The cluster face needs a tokio
//!   runtime, as tonic does.
//! - Blocking forms run the embedded store on the caller's thread and the cluster client on the
//!   shared runtime ([`runtime::block_on_shared`]).
//! - Where one face cannot do something, it says so with UNSUPPORTED.
//!
//! Subscriptions ([`StoreSubscription`]) and group members ([`StoreMember`]) work on a shared
//! reference from any thread: `next` takes a timeout, `cancel` ends a waiting `next` from
//! another thread, and a member settles deliveries by id while another thread waits in `next`.

mod session;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};

pub use session::{StoreDelivery, StoreMember, StoreSubscription};

use crate::crypto::Key;
use crate::error::{Error, Result};
use crate::runtime::{self, blocking_section};
use crate::schema::{RegisteredSchema, Schema, SchemaUpsert};
use crate::{
    AppendResult, Db, Delivery, EventData, ExpectedVersion, GroupInfo, GroupSettings, GroupTarget,
    ListStreamsOptions, Options, ReadAllOptions, ReadOptions, RecordedEvent, ReplayInfo, Snapshot,
    StreamInfo, StreamMetadata, StreamSummary, SubscribeOptions, SubscriptionStart,
};
#[cfg(feature = "client")]
use crate::{Client, ClientOptions};

/// An event store, embedded or a cluster: see the module documentation. Cheap to clone; clones
/// share the store (and [`Store::close`] closes it for all of them).
#[derive(Clone)]
pub struct Store {
    face: Face,
    shared: Arc<Shared>,
}

#[derive(Clone)]
enum Face {
    Embedded(Db),
    #[cfg(feature = "client")]
    Cluster(Client),
}

/// What the clones of a store share besides the store itself.
#[derive(Default)]
struct Shared {
    /// The deliveries handed out by the members of each group joined through this store and
    /// not yet settled, by delivery id: any member of the group settles any of them, as the
    /// embedded store allows. Kept while a member of the group is alive.
    held: Mutex<HashMap<String, Weak<Held>>>,
    /// Pulled by [`Store::close`]: the sessions opened through the store end with CLOSED, as an
    /// embedded store's do, also on a cluster (whose client does not cut its open calls).
    closed: runtime::Cancel,
}

/// Deliveries of one group handed out through a store, by id: `Some` while outstanding, `None`
/// once settled (so that a late or repeated settle is told apart from an id never handed out).
/// Bounded: the oldest are forgotten past [`MAX_HELD`] (a delivery the store parked on its own,
/// out of retries, is never settled by id).
pub(crate) type Held = Mutex<BTreeMap<u64, Option<Delivery>>>;

/// Most deliveries remembered per group and store. The group's in-flight window bounds the
/// outstanding ones; this bounds the rest.
pub(crate) const MAX_HELD: usize = 8192;

/// Both forms of an operation, from what it does on each face: the async one (the embedded
/// call in a blocking section, the client's future awaited) and `<name>_blocking` (the
/// embedded call inline, the client's future on the shared runtime).
macro_rules! both_faces {
    ($(
        $(#[$doc:meta])*
        fn $name:ident / $blocking:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty
            { embedded($db:ident) => $embedded:expr, cluster($c:ident) => $cluster:expr $(,)? }
    )*) => {$(
        $(#[$doc])*
        pub async fn $name(&self, $($arg: $ty),*) -> Result<$ret> {
            match &self.face {
                Face::Embedded($db) => blocking_section(|| $embedded),
                #[cfg(feature = "client")]
                Face::Cluster($c) => $cluster.await,
            }
        }

        #[doc = concat!("[`Store::", stringify!($name), "`], blocking this thread.")]
        pub fn $blocking(&self, $($arg: $ty),*) -> Result<$ret> {
            match &self.face {
                Face::Embedded($db) => $embedded,
                #[cfg(feature = "client")]
                Face::Cluster($c) => runtime::block_on_shared($cluster),
            }
        }
    )*};
}

impl Store {
    /// Opens (creating it if needed) an embedded store.
    pub fn open(options: Options) -> Result<Store> {
        Ok(Store::from_db(Db::open_with(options)?))
    }

    pub fn from_db(db: Db) -> Store {
        Store { face: Face::Embedded(db), shared: Arc::default() }
    }

    /// Connects to a cluster through any of `endpoints` (see [`Client::connect_with`]).
    #[cfg(feature = "client")]
    pub async fn connect(endpoints: &[String], options: ClientOptions) -> Result<Store> {
        Ok(Store::from_client(Client::connect_with(endpoints, options).await?))
    }

    /// [`Store::connect`], blocking this thread.
    #[cfg(feature = "client")]
    pub fn connect_blocking(endpoints: &[String], options: ClientOptions) -> Result<Store> {
        runtime::block_on_shared(Store::connect(endpoints, options))
    }

    #[cfg(feature = "client")]
    pub fn from_client(client: Client) -> Store {
        Store { face: Face::Cluster(client), shared: Arc::default() }
    }

    pub fn is_embedded(&self) -> bool {
        matches!(self.face, Face::Embedded(_))
    }

    /// The embedded store, if this is one.
    pub fn db(&self) -> Option<&Db> {
        match &self.face {
            Face::Embedded(db) => Some(db),
            #[cfg(feature = "client")]
            Face::Cluster(_) => None,
        }
    }

    /// The cluster client, if this is one.
    #[cfg(feature = "client")]
    pub fn client(&self) -> Option<&Client> {
        match &self.face {
            Face::Embedded(_) => None,
            Face::Cluster(client) => Some(client),
        }
    }

    /// A store whose node-scoped calls (`$all`, the head position, groups on `$all`) go to
    /// cluster member `node_id` ([`Client::on_node`]). UNSUPPORTED on an embedded store.
    pub fn on_node(&self, node_id: &str) -> Result<Store> {
        match &self.face {
            Face::Embedded(_) => {
                let _ = node_id;
                Err(Error::Unsupported("an embedded store has no cluster members to choose from".into()))
            }
            #[cfg(feature = "client")]
            // The same shared state: closing the store ends the sessions opened through this
            // handle too, and its members settle the same deliveries.
            Face::Cluster(client) => {
                Ok(Store { face: Face::Cluster(client.on_node(node_id)?), shared: self.shared.clone() })
            }
        }
    }

    /// Closes the store for this handle and its clones: every later call fails with CLOSED.
    /// Embedded: waits for the calls in flight ([`Db::close`]). Closing twice is harmless.
    pub fn close(&self) {
        self.shared.closed.cancel();
        match &self.face {
            Face::Embedded(db) => db.close(),
            #[cfg(feature = "client")]
            Face::Cluster(client) => client.close(),
        }
    }

    /// Whether the store encrypts at rest. UNSUPPORTED on a cluster: encryption is each node's
    /// own setting, not visible to clients.
    pub fn is_encrypted(&self) -> Result<bool> {
        match &self.face {
            Face::Embedded(db) => db.is_encrypted(),
            #[cfg(feature = "client")]
            Face::Cluster(_) => {
                Err(Error::Unsupported("a cluster client cannot tell whether its nodes encrypt".into()))
            }
        }
    }

    /// Appends atomically if `expected` holds ([`Db::append`]). The async form never blocks:
    /// on an embedded store the append is queued to the writer and awaited.
    pub async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        match &self.face {
            Face::Embedded(db) => db.append_async(stream, expected, events).await,
            #[cfg(feature = "client")]
            Face::Cluster(client) => client.append(stream, expected, events).await,
        }
    }

    /// [`Store::append`], blocking this thread.
    pub fn append_blocking(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        match &self.face {
            Face::Embedded(db) => db.append(stream, expected, events),
            #[cfg(feature = "client")]
            Face::Cluster(client) => runtime::block_on_shared(client.append(stream, expected, events)),
        }
    }

    both_faces! {
        /// A stream's events ([`Db::read_stream`]).
        fn read_stream / read_stream_blocking(stream: &str, options: ReadOptions) -> Vec<RecordedEvent> {
            embedded(db) => db.read_stream(stream, options),
            cluster(c) => c.read_stream(stream, options),
        }

        /// The global log ([`Db::read_all`]); on a cluster, that of the client's node.
        fn read_all / read_all_blocking(options: ReadAllOptions) -> Vec<RecordedEvent> {
            embedded(db) => db.read_all(options),
            cluster(c) => c.read_all(options),
        }

        /// The position the next event of `$all` gets.
        fn head_position / head_position_blocking() -> u64 {
            embedded(db) => db.head_position(),
            cluster(c) => c.head_position(),
        }

        /// One page of the streams of this store, or of the client's node on a cluster
        /// ([`Db::list_streams`]; [`Store::on_node`] lists the other members).
        fn list_streams / list_streams_blocking(options: &ListStreamsOptions) -> Vec<StreamSummary> {
            embedded(db) => db.list_streams(options),
            cluster(c) => c.list_streams(options),
        }

        fn stream_info / stream_info_blocking(stream: &str) -> StreamInfo {
            embedded(db) => db.stream_info(stream),
            cluster(c) => c.stream_info(stream),
        }

        fn set_stream_metadata / set_stream_metadata_blocking(stream: &str, metadata: StreamMetadata) -> () {
            embedded(db) => db.set_stream_metadata(stream, metadata),
            cluster(c) => c.set_stream_metadata(stream, metadata),
        }

        fn get_stream_metadata / get_stream_metadata_blocking(stream: &str) -> StreamMetadata {
            embedded(db) => db.get_stream_metadata(stream),
            cluster(c) => c.get_stream_metadata(stream),
        }

        /// Soft delete ([`Db::delete_stream`]).
        fn delete_stream / delete_stream_blocking(stream: &str, expected: ExpectedVersion) -> () {
            embedded(db) => db.delete_stream(stream, expected),
            cluster(c) => c.delete_stream(stream, expected),
        }

        /// Tombstone ([`Db::tombstone_stream`]).
        fn tombstone_stream / tombstone_stream_blocking(stream: &str, expected: ExpectedVersion) -> () {
            embedded(db) => db.tombstone_stream(stream, expected),
            cluster(c) => c.tombstone_stream(stream, expected),
        }

        /// Crypto-shredding ([`Db::shred_stream`]).
        fn shred_stream / shred_stream_blocking(stream: &str) -> () {
            embedded(db) => db.shred_stream(stream),
            cluster(c) => c.shred_stream(stream),
        }

        /// Rewraps every data key under `new_key` ([`Db::rotate_master_key`]); on a cluster, on
        /// the client's node.
        fn rotate_master_key / rotate_master_key_blocking(new_key: Key) -> () {
            embedded(db) => db.rotate_master_key(new_key),
            cluster(c) => c.rotate_master_key(&new_key),
        }

        fn save_snapshot / save_snapshot_blocking(stream: &str, revision: u64, data: Vec<u8>) -> () {
            embedded(db) => db.save_snapshot(stream, revision, data),
            cluster(c) => c.save_snapshot(stream, revision, data),
        }

        fn get_snapshot / get_snapshot_blocking(stream: &str) -> Option<Snapshot> {
            embedded(db) => db.get_snapshot(stream),
            cluster(c) => c.get_snapshot(stream),
        }

        fn upsert_schema / upsert_schema_blocking(schema: &Schema) -> SchemaUpsert {
            embedded(db) => db.upsert_schema(schema),
            cluster(c) => c.upsert_schema(schema),
        }

        fn get_schema / get_schema_blocking(name: &str, version: Option<u32>) -> RegisteredSchema {
            embedded(db) => db.get_schema(name, version),
            cluster(c) => c.get_schema(name, version),
        }

        fn list_schemas / list_schemas_blocking() -> Vec<RegisteredSchema> {
            embedded(db) => db.list_schemas(),
            cluster(c) => c.list_schemas(),
        }

        fn create_group / create_group_blocking(
            name: &str,
            target: GroupTarget,
            start: SubscriptionStart,
            settings: GroupSettings
        ) -> GroupInfo {
            embedded(db) => db.create_group(name, target, start, settings),
            cluster(c) => c.create_group(name, target, start, settings),
        }

        fn update_group / update_group_blocking(name: &str, settings: GroupSettings) -> GroupInfo {
            embedded(db) => db.update_group(name, settings),
            cluster(c) => c.update_group(name, settings),
        }

        fn delete_group / delete_group_blocking(name: &str) -> () {
            embedded(db) => db.delete_group(name),
            cluster(c) => c.delete_group(name),
        }

        fn group_info / group_info_blocking(name: &str) -> GroupInfo {
            embedded(db) => db.group_info(name),
            cluster(c) => c.group_info(name),
        }

        fn list_groups / list_groups_blocking() -> Vec<String> {
            embedded(db) => db.list_groups(),
            cluster(c) => c.list_groups(),
        }

        /// Hands parked events back to the group's members ([`Db::replay_parked`]).
        fn replay_parked / replay_parked_blocking(name: &str, limit: Option<u64>) -> ReplayInfo {
            embedded(db) => db.replay_parked(name, limit),
            cluster(c) => c.replay_parked(name, limit),
        }
    }

    /// [`Store::read_stream`] as a packed page (`boundary::packed`): on an embedded store written
    /// straight from the events read in place, one copy, into the buffer.
    #[cfg(feature = "boundary")]
    pub async fn read_stream_packed(&self, stream: &str, options: ReadOptions) -> Result<Vec<u8>> {
        match &self.face {
            Face::Embedded(db) => blocking_section(|| packed_visit(|f| db.visit_stream(stream, options, f))),
            #[cfg(feature = "client")]
            Face::Cluster(c) => Ok(crate::boundary::packed::events(&c.read_stream(stream, options).await?)),
        }
    }

    /// [`Store::read_stream_packed`], blocking this thread.
    #[cfg(feature = "boundary")]
    pub fn read_stream_packed_blocking(&self, stream: &str, options: ReadOptions) -> Result<Vec<u8>> {
        match &self.face {
            Face::Embedded(db) => packed_visit(|f| db.visit_stream(stream, options, f)),
            #[cfg(feature = "client")]
            Face::Cluster(_) => runtime::block_on_shared(self.read_stream_packed(stream, options)),
        }
    }

    /// [`Store::read_all`] as a packed page (see [`Store::read_stream_packed`]).
    #[cfg(feature = "boundary")]
    pub async fn read_all_packed(&self, options: ReadAllOptions) -> Result<Vec<u8>> {
        match &self.face {
            Face::Embedded(db) => blocking_section(|| packed_visit(|f| db.visit_all(&options, f))),
            #[cfg(feature = "client")]
            Face::Cluster(c) => Ok(crate::boundary::packed::events(&c.read_all(options).await?)),
        }
    }

    /// [`Store::read_all_packed`], blocking this thread.
    #[cfg(feature = "boundary")]
    pub fn read_all_packed_blocking(&self, options: ReadAllOptions) -> Result<Vec<u8>> {
        match &self.face {
            Face::Embedded(db) => packed_visit(|f| db.visit_all(&options, f)),
            #[cfg(feature = "client")]
            Face::Cluster(_) => runtime::block_on_shared(self.read_all_packed(options)),
        }
    }

    /// Subscribes to a stream: history from `options.start`, then live events.
    pub async fn subscribe_to_stream(
        &self,
        stream: &str,
        options: SubscribeOptions,
    ) -> Result<StoreSubscription> {
        StoreSubscription::to_stream(self, stream, options).await
    }

    /// [`Store::subscribe_to_stream`], blocking this thread.
    pub fn subscribe_to_stream_blocking(
        &self,
        stream: &str,
        options: SubscribeOptions,
    ) -> Result<StoreSubscription> {
        runtime::block_on_shared(self.subscribe_to_stream(stream, options))
    }

    /// Subscribes to `$all` (on a cluster, that of the client's node), filtered.
    pub async fn subscribe_to_all(&self, options: SubscribeOptions) -> Result<StoreSubscription> {
        StoreSubscription::to_all(self, options).await
    }

    /// [`Store::subscribe_to_all`], blocking this thread.
    pub fn subscribe_to_all_blocking(&self, options: SubscribeOptions) -> Result<StoreSubscription> {
        runtime::block_on_shared(self.subscribe_to_all(options))
    }

    /// Joins consumer group `group` as `member`.
    pub async fn join_group(&self, group: &str, member: &str) -> Result<StoreMember> {
        StoreMember::join(self, group, member).await
    }

    /// [`Store::join_group`], blocking this thread.
    pub fn join_group_blocking(&self, group: &str, member: &str) -> Result<StoreMember> {
        runtime::block_on_shared(self.join_group(group, member))
    }

    /// The deliveries of `group` held for this store's members: the same map for every member.
    fn held(&self, group: &str) -> Arc<Held> {
        let mut groups = self.shared.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = groups.get(group).and_then(Weak::upgrade) {
            return held;
        }
        groups.retain(|_, held| held.strong_count() > 0);
        let held = Arc::new(Held::default());
        groups.insert(group.to_owned(), Arc::downgrade(&held));
        held
    }
}

/// Packs what a visit of the embedded store reads, in place, into one page.
#[cfg(feature = "boundary")]
fn packed_visit(
    visit: impl FnOnce(&mut dyn FnMut(crate::EventRef<'_>) -> bool) -> Result<u64>,
) -> Result<Vec<u8>> {
    let mut page = crate::boundary::packed::EventsWriter::new();
    visit(&mut |event| {
        page.push_ref(&event);
        true
    })?;
    Ok(page.finish())
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.face {
            Face::Embedded(db) => f.debug_tuple("Store").field(db).finish(),
            #[cfg(feature = "client")]
            Face::Cluster(client) => f.debug_tuple("Store").field(&client.members()).finish(),
        }
    }
}
