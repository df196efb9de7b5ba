//! Cluster placement, shared by the server nodes and the cluster client: both build the same
//! [`Ring`] from the same members, so a request goes to its stream's owner in at most one hop.

mod ring;

pub use ring::{check_node_id, Member, Ring, DEFAULT_VNODES, MAX_NODE_ID_LEN};
