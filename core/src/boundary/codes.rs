//! The numeric codes of every enum that crosses a binding (docs/boundary.md, "Codes"). They are
//! explicit and never reordered: a binding never sends a language's `ordinal()`. An unknown
//! code is INVALID_ARGUMENT, never a silent default.

use crate::error::{Error, ErrorCode, Result};
use crate::{Direction, Durability, ExpectedVersion, GroupStrategy, NackAction, SubscriptionStart};

/// The number of an error code; 0 is success in the C ABI's status returns.
pub fn error_code(code: ErrorCode) -> i32 {
    match code {
        ErrorCode::WrongExpectedVersion => 1,
        ErrorCode::StreamDeleted => 2,
        ErrorCode::SchemaViolation => 3,
        ErrorCode::InvalidSchema => 4,
        ErrorCode::InvalidArgument => 5,
        ErrorCode::NotFound => 6,
        ErrorCode::Encryption => 7,
        ErrorCode::Unauthenticated => 8,
        ErrorCode::PermissionDenied => 9,
        ErrorCode::Unavailable => 10,
        ErrorCode::Closed => 11,
        ErrorCode::Corruption => 12,
        ErrorCode::IncompatibleFormat => 13,
        ErrorCode::Io => 14,
        ErrorCode::Internal => 15,
        ErrorCode::Unsupported => 16,
    }
}

/// The error code of a number (the inverse of [`error_code`]).
pub fn error_code_of(number: i32) -> Result<ErrorCode> {
    ErrorCode::ALL.into_iter().find(|&c| error_code(c) == number).ok_or_else(|| unknown("error code", number))
}

/// Expected-version kinds: 0 any, 1 no stream, 2 stream exists, 3 exact (with `revision`).
pub fn expected_version(kind: i32, revision: u64) -> Result<ExpectedVersion> {
    match kind {
        0 => Ok(ExpectedVersion::Any),
        1 => Ok(ExpectedVersion::NoStream),
        2 => Ok(ExpectedVersion::StreamExists),
        3 => Ok(ExpectedVersion::Exact(revision)),
        _ => Err(unknown("expected-version kind", kind)),
    }
}

/// The kind and revision of an expected version (the inverse of [`expected_version`]).
pub fn expected_version_code(expected: ExpectedVersion) -> (i32, u64) {
    match expected {
        ExpectedVersion::Any => (0, 0),
        ExpectedVersion::NoStream => (1, 0),
        ExpectedVersion::StreamExists => (2, 0),
        ExpectedVersion::Exact(revision) => (3, revision),
    }
}

/// Directions: 0 forwards, 1 backwards.
pub fn direction(code: i32) -> Result<Direction> {
    match code {
        0 => Ok(Direction::Forwards),
        1 => Ok(Direction::Backwards),
        _ => Err(unknown("direction", code)),
    }
}

pub fn direction_code(direction: Direction) -> i32 {
    match direction {
        Direction::Forwards => 0,
        Direction::Backwards => 1,
    }
}

/// Subscription starts: 0 start, 1 end, 2 after (with `checkpoint`).
pub fn subscription_start(kind: i32, checkpoint: u64) -> Result<SubscriptionStart> {
    match kind {
        0 => Ok(SubscriptionStart::Start),
        1 => Ok(SubscriptionStart::End),
        2 => Ok(SubscriptionStart::After(checkpoint)),
        _ => Err(unknown("subscription start", kind)),
    }
}

pub fn subscription_start_code(start: SubscriptionStart) -> (i32, u64) {
    match start {
        SubscriptionStart::Start => (0, 0),
        SubscriptionStart::End => (1, 0),
        SubscriptionStart::After(checkpoint) => (2, checkpoint),
    }
}

/// Nack actions: 1 retry, 2 park, 3 skip (0 is refused: a nack names its action, as on the wire).
pub fn nack_action(code: i32) -> Result<NackAction> {
    match code {
        1 => Ok(NackAction::Retry),
        2 => Ok(NackAction::Park),
        3 => Ok(NackAction::Skip),
        _ => Err(unknown("nack action", code)),
    }
}

pub fn nack_action_code(action: NackAction) -> i32 {
    match action {
        NackAction::Retry => 1,
        NackAction::Park => 2,
        NackAction::Skip => 3,
    }
}

/// Group strategies: 0 round robin, 1 pinned by stream.
pub fn group_strategy(code: i32) -> Result<GroupStrategy> {
    match code {
        0 => Ok(GroupStrategy::RoundRobin),
        1 => Ok(GroupStrategy::PinnedByStream),
        _ => Err(unknown("group strategy", code)),
    }
}

pub fn group_strategy_code(strategy: GroupStrategy) -> i32 {
    match strategy {
        GroupStrategy::RoundRobin => 0,
        GroupStrategy::PinnedByStream => 1,
    }
}

/// Durabilities: 0 fsync on every commit (the default), 1 no fsync (tests and throwaway data only).
pub fn durability(code: i32) -> Result<Durability> {
    match code {
        0 => Ok(Durability::Fsync),
        1 => Ok(Durability::NoFsyncUnsafe),
        _ => Err(unknown("durability", code)),
    }
}

pub fn durability_code(durability: Durability) -> i32 {
    match durability {
        Durability::Fsync => 0,
        Durability::NoFsyncUnsafe => 1,
    }
}

fn unknown(what: &str, code: i32) -> Error {
    Error::InvalidArgument(format!("unknown {what} code {code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_unknown_ones_are_refused() {
        for code in ErrorCode::ALL {
            assert_eq!(error_code_of(error_code(code)).unwrap(), code);
        }
        let numbers: std::collections::BTreeSet<i32> = ErrorCode::ALL.into_iter().map(error_code).collect();
        assert_eq!(numbers.len(), ErrorCode::ALL.len(), "two error codes share a number");
        assert!(!numbers.contains(&0), "0 is success");
        for e in [
            ExpectedVersion::Any,
            ExpectedVersion::NoStream,
            ExpectedVersion::StreamExists,
            ExpectedVersion::Exact(7),
        ] {
            let (kind, revision) = expected_version_code(e);
            assert_eq!(expected_version(kind, revision).unwrap(), e);
        }
        for s in [SubscriptionStart::Start, SubscriptionStart::End, SubscriptionStart::After(9)] {
            let (kind, checkpoint) = subscription_start_code(s);
            assert_eq!(subscription_start(kind, checkpoint).unwrap(), s);
        }
        for a in [NackAction::Retry, NackAction::Park, NackAction::Skip] {
            assert_eq!(nack_action(nack_action_code(a)).unwrap(), a);
        }
        for s in [GroupStrategy::RoundRobin, GroupStrategy::PinnedByStream] {
            assert_eq!(group_strategy(group_strategy_code(s)).unwrap(), s);
        }
        for d in [Direction::Forwards, Direction::Backwards] {
            assert_eq!(direction(direction_code(d)).unwrap(), d);
        }
        for d in [Durability::Fsync, Durability::NoFsyncUnsafe] {
            assert_eq!(durability(durability_code(d)).unwrap(), d);
        }
        for bad in [
            error_code_of(0).map(drop),
            error_code_of(17).map(drop),
            expected_version(4, 0).map(drop),
            expected_version(-1, 0).map(drop),
            direction(2).map(drop),
            subscription_start(3, 0).map(drop),
            nack_action(0).map(drop),
            nack_action(4).map(drop),
            group_strategy(2).map(drop),
            durability(2).map(drop),
        ] {
            assert_eq!(bad.unwrap_err().code(), ErrorCode::InvalidArgument);
        }
    }
}
