//! The consistent-hash ring that places streams on cluster nodes.
//!
//! Every node is hashed onto a 64-bit circle at `vnodes` points (`<node id>#<i>`); a stream
//! belongs to the node of the first point at or after the hash of its name, wrapping around.
//! Nodes and clients build the same ring from the same member list, so a request can go
//! straight to the owner. With N nodes, adding one moves about 1/(N+1) of the streams (only to
//! the new node) and removing one moves only that node's streams. Placement depends only on
//! node ids, never on their addresses or on the order the members are listed in, so a node can
//! move to another address without its streams moving.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::hash::stable_hash;

/// Points per node unless told otherwise: with 128, each of 3 nodes gets within a few percent
/// of a third of the streams (see the tests); more points cost memory and build time only.
pub const DEFAULT_VNODES: u32 = 128;

/// Longest node id, in bytes.
pub const MAX_NODE_ID_LEN: usize = 128;

/// A cluster member: a stable id (what placement hashes) and where to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Member {
    pub id: String,
    /// `host:port`, or a URL such as `https://host:port`.
    pub endpoint: String,
}

impl Member {
    pub fn new(id: impl Into<String>, endpoint: impl Into<String>) -> Member {
        Member { id: id.into(), endpoint: endpoint.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ring {
    /// Members sorted by id: the ring is the same whatever order they were given in.
    members: Vec<Member>,
    vnodes: u32,
    /// (point, index into `members`), sorted by point.
    points: Vec<(u64, usize)>,
}

impl Ring {
    /// A ring over `members` with `vnodes` points each. Refused (INVALID_ARGUMENT): no member,
    /// an empty or over-long id, an id with a NUL or a `#`... any duplicate id or endpoint,
    /// zero points, or more than 65,536 points per node.
    pub fn new(members: Vec<Member>, vnodes: u32) -> Result<Ring> {
        if members.is_empty() {
            return Err(Error::invalid("a cluster needs at least one member"));
        }
        if vnodes == 0 || vnodes > 65_536 {
            return Err(Error::invalid("virtual nodes per member must be between 1 and 65,536"));
        }
        let mut ids = HashSet::new();
        let mut endpoints = HashSet::new();
        for member in &members {
            check_node_id(&member.id)?;
            if member.endpoint.is_empty() {
                return Err(Error::invalid(format!("member '{}' has no endpoint", member.id)));
            }
            if !ids.insert(member.id.as_str()) {
                return Err(Error::invalid(format!("member id '{}' appears twice", member.id)));
            }
            if !endpoints.insert(member.endpoint.as_str()) {
                return Err(Error::invalid(format!("endpoint '{}' appears twice", member.endpoint)));
            }
        }
        let mut members = members;
        members.sort_by(|a, b| a.id.cmp(&b.id));
        let mut points = Vec::with_capacity(members.len() * vnodes as usize);
        for (index, member) in members.iter().enumerate() {
            for i in 0..vnodes {
                points.push((stable_hash(format!("{}#{i}", member.id).as_bytes()), index));
            }
        }
        // Equal points (a 64-bit collision) are ordered by member id, so every ring agrees.
        points.sort_unstable();
        Ok(Ring { members, vnodes, points })
    }

    /// The member that owns `stream`.
    pub fn owner(&self, stream: &str) -> &Member {
        let hash = stable_hash(stream.as_bytes());
        let at = self.points.partition_point(|&(point, _)| point < hash);
        let (_, index) = self.points[if at == self.points.len() { 0 } else { at }];
        &self.members[index]
    }

    /// The members, sorted by id.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.binary_search_by(|m| m.id.as_str().cmp(id)).ok().map(|i| &self.members[i])
    }

    pub fn vnodes(&self) -> u32 {
        self.vnodes
    }

    /// The share of the hash space each member owns (the arcs ending at its points), by member
    /// in id order; the shares add up to 1.
    pub fn ownership(&self) -> Vec<(&Member, f64)> {
        let mut owned = vec![0u128; self.members.len()];
        let span = |from: u64, to: u64| u128::from(to.wrapping_sub(from));
        for (i, &(point, index)) in self.points.iter().enumerate() {
            // A point owns the hashes after the previous point, up to and including itself.
            let previous = if i == 0 { self.points[self.points.len() - 1].0 } else { self.points[i - 1].0 };
            owned[index] += if self.points.len() == 1 { 1u128 << 64 } else { span(previous, point) };
        }
        let total: u128 = owned.iter().sum::<u128>().max(1);
        self.members.iter().zip(owned).map(|(m, o)| (m, o as f64 / total as f64)).collect()
    }
}

/// A node id: 1 to 128 bytes of letters, digits, `-`, `_` and `.`, so it can appear in
/// metrics labels, logs and the `--members` syntax without quoting.
pub fn check_node_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_NODE_ID_LEN {
        return Err(Error::invalid(format!("node id '{id}' must be 1 to {MAX_NODE_ID_LEN} bytes")));
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Err(Error::invalid(format!(
            "node id '{id}' contains {c:?}: use letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn ring(ids: &[&str]) -> Ring {
        let members = ids.iter().map(|id| Member::new(*id, format!("{id}.local:50051"))).collect();
        Ring::new(members, DEFAULT_VNODES).unwrap()
    }

    fn streams() -> impl Iterator<Item = String> {
        (0..100_000).map(|i| format!("order-{i}"))
    }

    #[test]
    fn placement_is_frozen() {
        // Clients and nodes of different versions must agree: these owners may never change.
        let r = ring(&["node-a", "node-b", "node-c"]);
        let owners: Vec<&str> =
            ["order-1", "order-2", "user-42", "$all", "x"].iter().map(|s| r.owner(s).id.as_str()).collect();
        assert_eq!(owners, FROZEN_OWNERS);
    }

    const FROZEN_OWNERS: [&str; 5] = ["node-a", "node-b", "node-c", "node-c", "node-c"];

    #[test]
    fn ownership_shares_add_up_and_match_placement() {
        let ring = ring(&["a", "b", "c"]);
        let shares = ring.ownership();
        assert!((shares.iter().map(|(_, s)| s).sum::<f64>() - 1.0).abs() < 1e-9);
        let mut placed: HashMap<&str, usize> = HashMap::new();
        for stream in streams().take(30_000) {
            *placed.entry(ring.owner(&stream).id.as_str()).or_default() += 1;
        }
        for (member, share) in shares {
            let seen = placed[member.id.as_str()] as f64 / 30_000.0;
            assert!((seen - share).abs() < 0.02, "{}: owns {share:.3}, got {seen:.3}", member.id);
        }
        assert_eq!(super::Ring::new(vec![Member::new("x", "h:1")], 1).unwrap().ownership()[0].1, 1.0);
    }

    #[test]
    fn streams_spread_evenly() {
        let r = ring(&["node-a", "node-b", "node-c"]);
        let mut counts: HashMap<&str, u32> = HashMap::new();
        for s in streams() {
            *counts.entry(r.owner(&s).id.as_str()).or_default() += 1;
        }
        for (id, count) in counts {
            let share = f64::from(count) / 100_000.0;
            assert!((0.28..0.39).contains(&share), "{id} owns {share:.3} of the streams");
        }
    }

    #[test]
    fn adding_a_node_moves_about_one_share_and_only_to_it() {
        let before = ring(&["node-a", "node-b", "node-c"]);
        let after = ring(&["node-a", "node-b", "node-c", "node-d"]);
        let mut moved = 0;
        for s in streams() {
            let (from, to) = (&before.owner(&s).id, &after.owner(&s).id);
            if from != to {
                assert_eq!(to, "node-d", "{s} moved between old nodes");
                moved += 1;
            }
        }
        let share = f64::from(moved) / 100_000.0;
        assert!((0.18..0.32).contains(&share), "{share:.3} of the streams moved");
        // Removing it again moves exactly those back.
        for s in streams() {
            if before.owner(&s) != after.owner(&s) {
                assert_eq!(after.owner(&s).id, "node-d");
            }
        }
    }

    #[test]
    fn the_order_of_members_and_their_addresses_do_not_matter() {
        let a = ring(&["node-a", "node-b", "node-c"]);
        let b = Ring::new(
            vec![
                Member::new("node-c", "10.0.0.3:1"),
                Member::new("node-a", "10.0.0.1:1"),
                Member::new("node-b", "10.0.0.2:1"),
            ],
            DEFAULT_VNODES,
        )
        .unwrap();
        for s in streams().take(10_000) {
            assert_eq!(a.owner(&s).id, b.owner(&s).id);
        }
        assert_eq!(b.member("node-b").map(|m| m.endpoint.as_str()), Some("10.0.0.2:1"));
        assert_eq!(b.member("node-z"), None);
    }

    #[test]
    fn bad_member_lists_are_refused() {
        let m = |id: &str, endpoint: &str| Member::new(id, endpoint);
        for (members, vnodes) in [
            (vec![], 128),
            (vec![m("a", "h:1")], 0),
            (vec![m("a", "h:1")], 70_000),
            (vec![m("", "h:1")], 128),
            (vec![m("a#1", "h:1")], 128),
            (vec![m("a b", "h:1")], 128),
            (vec![m(&"a".repeat(129), "h:1")], 128),
            (vec![m("a", "")], 128),
            (vec![m("a", "h:1"), m("a", "h:2")], 128),
            (vec![m("a", "h:1"), m("b", "h:1")], 128),
        ] {
            let err = Ring::new(members.clone(), vnodes).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::InvalidArgument, "{members:?}");
        }
        assert!(Ring::new(vec![m("only", "h:1")], 1).is_ok());
    }
}
