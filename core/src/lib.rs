//! GraveyardDB: an append-only event store.
//!
//! [`Db`] is the embedded store (LMDB on local disk). Everything a binding or the server can
//! do is a method of the core first; see `docs/` for the on-disk format and the contract.
//!
//! ```no_run
//! use graveyard::{Db, EventData, ExpectedVersion, ReadOptions};
//! # fn main() -> graveyard::Result<()> {
//! let db = Db::open("./data")?;
//! db.append("order-1", ExpectedVersion::NoStream,
//!           vec![EventData::json("Placed", &serde_json::json!({"total": 42}))?])?;
//! for event in db.read_stream("order-1", ReadOptions::forwards().from(0).limit(100))? {
//!     println!("{} {} {}", event.revision, event.event_type, String::from_utf8_lossy(&event.data));
//! }
//! # Ok(()) }
//! ```

#[cfg(feature = "boundary")]
pub mod boundary;
#[cfg(feature = "client")]
pub mod client;
pub mod cluster;
pub mod commit_log;
pub mod crypto;
mod db;
mod engine;
mod error;
mod group;
mod hash;
mod json;
mod options;
pub mod runtime;
pub mod schema;
mod store;
mod subscription;
mod types;
#[cfg(feature = "client")]
pub mod wire;
/// Where the generated code of `graveyard.v1` looks for `google.rpc` (the proto packages'
/// relative paths, from `wire::v1`'s nested modules).
#[cfg(feature = "client")]
#[doc(hidden)]
pub use wire::google;

#[cfg(feature = "client")]
pub use client::{Client, ClientDelivery, ClientGroupMember, ClientOptions, ClientSubscription, NodeHealth};
pub use commit_log::TornTail;
pub use db::Db;
pub use engine::Recovery;
pub use error::{Error, ErrorCode, Result};
pub use group::{Delivery, GroupInfo, GroupMember, GroupSettings, GroupStrategy, GroupTarget, NackAction};
pub use options::{Durability, Options, DEFAULT_MAP_SIZE, DEFAULT_MAX_EVENT_SIZE, DEFAULT_MAX_JSON_DEPTH};
pub use runtime::block_on;
pub use store::{Store, StoreDelivery, StoreMember, StoreSubscription};
pub use subscription::{SubscribeOptions, Subscription, SubscriptionMessage};
pub use types::{
    parked_stream, AppendResult, CurrentRevision, Direction, EventData, EventRef, ExpectedVersion, Filter,
    ListStreamsOptions, ReadAllOptions, ReadOptions, RecordedEvent, ReplayInfo, Snapshot, StreamInfo,
    StreamMetadata, StreamSummary, SubscriptionStart, CONTENT_TYPE_BINARY, CONTENT_TYPE_JSON,
};
pub use uuid::Uuid;

/// Longest stream name, in bytes.
pub const MAX_STREAM_NAME_LEN: usize = 256;
/// Longest event type, in bytes.
pub const MAX_EVENT_TYPE_LEN: usize = 256;
/// Longest content type, in bytes.
pub const MAX_CONTENT_TYPE_LEN: usize = 128;
