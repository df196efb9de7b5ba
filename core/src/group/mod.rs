//! Consumer groups: durable, shared subscriptions with acknowledgements.
//!
//! A group is a named cursor over $all (optionally filtered) or over one stream. Its members
//! (in this process) share the events: each event goes to one member at a time, who acks it,
//! or nacks it to be retried, parked or skipped. Unacknowledged events come back after the
//! group's ack timeout. Delivery is at least once.
//!
//! Durability: the group's record holds a checkpoint (every cursor below it is settled) and
//! the cursors acknowledged above it. `ack` returns only once that record is committed, so an
//! acknowledged event is never delivered again, even after a crash; an event whose ack was not
//! committed is delivered again. After a restart, delivery resumes at the checkpoint with the
//! backlog, without waiting for a new event. `ack_all` settles many deliveries in one commit.
//!
//! Parked events wait in `$parked-<group>` until [`Db::replay_parked`] hands them back. The
//! revisions of that stream are a second cursor space with its own checkpoint in the record,
//! next to the target's: replaying never moves the target's checkpoint, and a crash during a
//! replay resumes it where its settled prefix ends, like the target.
//!
//! The dispatcher (one per group per process, shared by its members) reads the log ahead into
//! a window of at most `max_in_flight` events, hands them out, and tracks them until settled.
//!
//! [`Db::replay_parked`]: crate::Db::replay_parked

mod dispatcher;
mod member;
mod model;
mod ops;
mod parked;

use std::sync::Arc;

use crate::error::Error;

pub use member::{Delivery, GroupMember};
pub use model::{GroupInfo, GroupSettings, GroupStrategy, GroupTarget, NackAction};

/// Which cursor space an item belongs to. Each has its own checkpoint, so replaying parked
/// events never moves (or holds back) the target's checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Source {
    /// A position of $all or a revision of the target stream.
    Target,
    /// A revision of the group's parked stream, handed back by a replay.
    Parked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Cursor {
    source: Source,
    at: u64,
}

impl Cursor {
    fn target(at: u64) -> Cursor {
        Cursor { source: Source::Target, at }
    }

    fn parked(at: u64) -> Cursor {
        Cursor { source: Source::Parked, at }
    }

    fn parked_revision(self) -> Option<u64> {
        (self.source == Source::Parked).then_some(self.at)
    }
}

/// One incarnation of a group: its name and the random id its record got at creation, so a
/// delivery of a deleted group is never taken for one of a group created again under its name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupId {
    name: Arc<str>,
    incarnation: u64,
}

fn not_found(name: &str) -> Error {
    Error::NotFound(format!("consumer group '{name}' does not exist"))
}
