//! The façade (`graveyard::Store`) over a real node, through the cluster client and the wire: the
//! same session promises as over an embedded store (core/tests/store_sessions/), and what only
//! the cluster face says.

mod common;
#[path = "../../core/tests/store_sessions/mod.rs"]
mod sessions;

use common::Node;
use graveyard::{ClientOptions, ErrorCode, Store};

fn with_a_node(test: impl FnOnce(&Store)) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let node = runtime.block_on(Node::start());
    let store = Store::connect_blocking(&[node.url()], ClientOptions::default()).unwrap();
    test(&store);
    store.close();
    assert_eq!(store.head_position_blocking().unwrap_err().code(), ErrorCode::Closed);
}

#[test]
fn subscriptions_time_out_and_cancel() {
    with_a_node(sessions::subscriptions_time_out_and_cancel);
}

#[test]
fn streams_are_listed_by_prefix_in_pages() {
    with_a_node(sessions::streams_are_listed_by_prefix_in_pages);
}

#[test]
fn members_settle_by_id_from_any_thread() {
    with_a_node(sessions::members_settle_by_id_from_any_thread);
}

#[test]
fn what_a_cluster_client_cannot_tell_is_unsupported() {
    with_a_node(|store| {
        assert!(!store.is_embedded() && store.client().is_some());
        assert_eq!(store.is_encrypted().unwrap_err().code(), ErrorCode::Unsupported);
    });
}
