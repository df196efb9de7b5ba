//! The public model of consumer groups. Its conversions to and from the records the engine
//! persists (`engine/format.rs`) live here rather than next to the records: the engine must
//! not depend on this module.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::{GroupRecord, Progress, ReplayRecord, SettingsRecord, TargetRecord};
use crate::types::Filter;

/// What a group consumes. JSON: `{"stream": "name"}` or `{"all": filter}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupTarget {
    /// The global log, filtered; cursors are positions. Parked copies (streams `$parked-*`)
    /// are never delivered: they copy events already in the log, and a group that received
    /// them could park its own copies again, forever. Target a parked stream to consume it.
    All(Filter),
    /// One stream; cursors are revisions.
    Stream(String),
}

/// How a group's members share its events. JSON: `"round_robin"` or `"pinned_by_stream"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupStrategy {
    /// Each event goes to the next member asking for work.
    #[default]
    RoundRobin,
    /// Each stream belongs to one member (by a stable hash over the members), and a stream's
    /// next event is only handed out once its previous one is settled: per-stream order.
    PinnedByStream,
}

/// JSON: `{"max_retries", "ack_timeout_ms", "max_in_flight", "strategy"}`, each absent one taking
/// its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupSettings {
    /// Deliveries after the first before an event is parked.
    pub max_retries: u32,
    /// An event not settled this long after delivery is delivered again.
    #[serde(rename = "ack_timeout_ms", with = "crate::types::millis")]
    pub ack_timeout: Duration,
    /// Most events read ahead and in flight at once: bounds the group's memory.
    pub max_in_flight: u32,
    pub strategy: GroupStrategy,
}

impl Default for GroupSettings {
    fn default() -> Self {
        GroupSettings {
            max_retries: 10,
            ack_timeout: Duration::from_secs(30),
            max_in_flight: 256,
            strategy: GroupStrategy::RoundRobin,
        }
    }
}

/// What to do with an event a member could not process. JSON: `"retry"`, `"park"`, `"skip"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NackAction {
    /// Deliver it again (parked once it has been retried `max_retries` times).
    Retry,
    /// Move a copy to the group's parked stream (`$parked-<group>`) and go on; the copy waits
    /// there for [`Db::replay_parked`].
    ///
    /// [`Db::replay_parked`]: crate::Db::replay_parked
    Park,
    /// Settle it without processing.
    Skip,
}

/// The state of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    pub name: String,
    pub target: GroupTarget,
    pub settings: GroupSettings,
    /// Every cursor below this is settled (durably).
    pub checkpoint: u64,
    /// Events committed to the target beyond the checkpoint (for a filtered $all group,
    /// positions, matching or not).
    pub lag: u64,
    /// Members connected in this process.
    pub members: Vec<String>,
    /// Events delivered and not yet settled.
    pub in_flight: u64,
    /// Events read ahead, waiting for a member. `in_flight + buffered` never exceeds
    /// `max_in_flight`, however long the backlog: that bounds the group's memory.
    pub buffered: u64,
    pub parked_stream: String,
    /// Parked events waiting in `parked_stream` for a replay (durable count).
    pub parked: u64,
    /// Parked events handed back by a replay and not yet settled again (durable count).
    pub replaying: u64,
}

// ---- to and from the persisted record -------------------------------------------------------

/// The record of a group being created: nothing settled yet.
pub(super) fn new_record(target: &GroupTarget, settings: &GroupSettings) -> GroupRecord {
    GroupRecord {
        target: target.into(),
        settings: settings.into(),
        progress: Progress::default(),
        seq: 0,
        // The writer moves it to the parked stream's end when it creates the group.
        replay: ReplayRecord::default(),
        incarnation: fastrand::u64(1..),
    }
}

impl From<&GroupTarget> for TargetRecord {
    fn from(target: &GroupTarget) -> TargetRecord {
        match target {
            GroupTarget::All(filter) => TargetRecord::All {
                stream_prefixes: filter.stream_prefixes.clone(),
                event_types: filter.event_types.clone(),
            },
            GroupTarget::Stream(stream) => TargetRecord::Stream { stream: stream.clone() },
        }
    }
}

impl From<&TargetRecord> for GroupTarget {
    fn from(record: &TargetRecord) -> GroupTarget {
        match record {
            TargetRecord::All { stream_prefixes, event_types } => GroupTarget::All(Filter {
                stream_prefixes: stream_prefixes.clone(),
                event_types: event_types.clone(),
            }),
            TargetRecord::Stream { stream } => GroupTarget::Stream(stream.clone()),
        }
    }
}

impl From<&GroupSettings> for SettingsRecord {
    fn from(settings: &GroupSettings) -> SettingsRecord {
        SettingsRecord {
            max_retries: settings.max_retries,
            ack_timeout_ms: u64::try_from(settings.ack_timeout.as_millis()).unwrap_or(u64::MAX).max(1),
            max_in_flight: settings.max_in_flight,
            pinned_by_stream: settings.strategy == GroupStrategy::PinnedByStream,
        }
    }
}

impl From<&SettingsRecord> for GroupSettings {
    fn from(s: &SettingsRecord) -> GroupSettings {
        GroupSettings {
            max_retries: s.max_retries,
            ack_timeout: Duration::from_millis(s.ack_timeout_ms),
            max_in_flight: s.max_in_flight,
            strategy: if s.pinned_by_stream {
                GroupStrategy::PinnedByStream
            } else {
                GroupStrategy::RoundRobin
            },
        }
    }
}
