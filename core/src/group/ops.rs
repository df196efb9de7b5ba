//! The consumer-group API of [`Db`]: create, update, delete, inspect, replay, join.

use std::sync::{Arc, Weak};

use super::dispatcher::Dispatcher;
use super::member::GroupMember;
use super::model::{new_record, GroupInfo, GroupSettings, GroupTarget};
use super::not_found;
use crate::db::Db;
use crate::engine::{Engine, GroupRecord, SettingsRecord, TargetRecord};
use crate::error::{Error, ErrorCode, Result};
use crate::types::{parked_stream, ReplayInfo, SubscriptionStart};

const MAX_GROUP_NAME_LEN: usize = 128;

fn check_group_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_GROUP_NAME_LEN || name.contains('\0') {
        return Err(Error::InvalidArgument(format!(
            "a consumer group name is 1 to {MAX_GROUP_NAME_LEN} bytes without NUL"
        )));
    }
    Ok(())
}

fn check_settings(settings: &GroupSettings) -> Result<()> {
    if settings.max_in_flight == 0 {
        return Err(Error::InvalidArgument("max_in_flight must be at least 1".into()));
    }
    if settings.ack_timeout.is_zero() {
        return Err(Error::InvalidArgument("ack_timeout must be positive".into()));
    }
    Ok(())
}

impl Db {
    /// Creates a consumer group. `start` places its checkpoint: the first event, the end of
    /// the target now, or after a cursor (position for $all, revision for a stream).
    pub fn create_group(
        &self,
        name: &str,
        target: GroupTarget,
        start: SubscriptionStart,
        settings: GroupSettings,
    ) -> Result<GroupInfo> {
        check_group_name(name)?;
        check_settings(&settings)?;
        if let GroupTarget::Stream(stream) = &target {
            if stream.is_empty() || stream.len() > crate::MAX_STREAM_NAME_LEN || stream.contains('\0') {
                return Err(Error::InvalidArgument(format!("invalid stream name for group '{name}'")));
            }
        }
        self.engine()?.create_group(name, new_record(&target, &settings), start)?;
        self.group_info(name)
    }

    /// Changes a group's settings (not its target). Connected members see the change at once.
    pub fn update_group(&self, name: &str, settings: GroupSettings) -> Result<GroupInfo> {
        check_group_name(name)?;
        check_settings(&settings)?;
        let engine = self.engine()?;
        let current = engine.group_record(name)?.ok_or_else(|| not_found(name))?;
        let record = GroupRecord { settings: SettingsRecord::from(&settings), ..current };
        engine.update_group(name, record)?;
        if let Some(dispatcher) = Dispatcher::live(&engine, name) {
            dispatcher.lock().settings = settings;
            dispatcher.wake();
        }
        drop(engine);
        self.group_info(name)
    }

    /// Deletes a group. Connected members get NOT_FOUND from their next call. Its replay state
    /// goes with it; the copies in its parked stream stay readable, and a group created again
    /// under the same name starts with nothing parked and nothing to replay.
    pub fn delete_group(&self, name: &str) -> Result<()> {
        check_group_name(name)?;
        let engine = self.engine()?;
        engine.delete_group(name)?;
        if let Some(dispatcher) = Dispatcher::live(&engine, name) {
            dispatcher.lock().deleted = true;
            dispatcher.wake();
        }
        Ok(())
    }

    pub fn group_info(&self, name: &str) -> Result<GroupInfo> {
        check_group_name(name)?;
        let engine = self.engine()?;
        let record = engine.group_record(name)?.ok_or_else(|| not_found(name))?;
        let (members, in_flight, buffered) = match Dispatcher::live(&engine, name) {
            Some(d) => {
                let state = d.lock();
                let members = state.members.iter().map(|m| m.1.clone()).collect();
                (members, state.pending.len() as u64, state.ready.len() as u64)
            }
            None => (Vec::new(), 0, 0),
        };
        let end = match &record.target {
            TargetRecord::All { .. } => engine.head_position(),
            TargetRecord::Stream { stream } => stream_end(&engine, stream)?,
        };
        let parked_end = stream_end(&engine, &parked_stream(name))?;
        Ok(GroupInfo {
            name: name.to_string(),
            target: GroupTarget::from(&record.target),
            settings: GroupSettings::from(&record.settings),
            checkpoint: record.progress.checkpoint,
            lag: end.saturating_sub(record.progress.checkpoint),
            members,
            in_flight,
            buffered,
            parked_stream: parked_stream(name),
            parked: parked_end.saturating_sub(record.replay.end),
            replaying: record.replay.replaying(),
        })
    }

    /// Hands the events waiting in the group's parked stream back to the group, oldest first:
    /// all of them, or the first `limit`. They are delivered to its members again (the original
    /// event, rebuilt from the parked copy; see [`Delivery::parked_revision`]) and settled like
    /// any delivery; one that is parked again gets a new copy, which waits for the next replay.
    ///
    /// Returns once the replay is durable: after a crash, the group goes on replaying from
    /// the first parked event not settled, and never hands an event back twice beyond what
    /// at-least-once delivery allows. Replayed events are read ahead before the target's, and
    /// their progress is kept apart from the target's, whose checkpoint they never move.
    /// Nothing parked is not an error: the result says nothing was handed back.
    ///
    /// Errors: NOT_FOUND for an unknown group; INVALID_ARGUMENT for a bad name or a limit of 0.
    ///
    /// [`Delivery::parked_revision`]: crate::Delivery::parked_revision
    pub fn replay_parked(&self, name: &str, limit: Option<u64>) -> Result<ReplayInfo> {
        check_group_name(name)?;
        if limit == Some(0) {
            return Err(Error::InvalidArgument("a replay limit must be at least 1".into()));
        }
        let engine = self.engine()?;
        let info = engine.replay_parked(name, limit)?;
        // After the commit: a dispatcher started before it reads the new end here, one started
        // after it reads it from the record (`join_group` reads the record and registers the
        // dispatcher under the registry lock that `live_dispatcher` takes).
        if let Some(dispatcher) = Dispatcher::live(&engine, name) {
            let mut state = dispatcher.lock();
            state.replay_end = state.replay_end.max(info.revisions.end);
            drop(state);
            dispatcher.wake();
        }
        Ok(info)
    }

    /// The names of every group.
    pub fn list_groups(&self) -> Result<Vec<String>> {
        self.engine()?.group_names()
    }

    /// Joins group `name` as a member called `member` (names need not be unique; they are
    /// shown by `group_info`). Dropping the member leaves the group: what it had in flight is
    /// delivered again to the others.
    pub fn join_group(&self, name: &str, member: &str) -> Result<GroupMember> {
        check_group_name(name)?;
        let engine = self.engine()?;
        let mut registry = engine.dispatchers.lock().unwrap_or_else(|p| p.into_inner());
        let dispatcher = match registry.get(name).and_then(Weak::upgrade).and_then(Dispatcher::downcast) {
            Some(d) if !d.lock().deleted => d,
            _ => {
                let record = engine.group_record(name)?.ok_or_else(|| not_found(name))?;
                let d = Dispatcher::start(self.clone(), name, record)?;
                let entry = Arc::downgrade(&d);
                registry.insert(name.to_string(), entry);
                d
            }
        };
        drop(registry);
        let id = {
            let mut state = dispatcher.lock();
            let id = state.next_member;
            state.next_member += 1;
            state.members.push((id, member.to_string()));
            id
        };
        dispatcher.wake();
        Ok(GroupMember { head: self.watch_head()?, dispatcher, id, left: Default::default() })
    }
}

/// The next revision of `stream`: 0 when it has none, deleted or not.
fn stream_end(engine: &Engine, stream: &str) -> Result<u64> {
    match engine.stream_info(stream) {
        Ok(info) => Ok(info.next_revision),
        Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::StreamDeleted) => Ok(0),
        Err(e) => Err(e),
    }
}
