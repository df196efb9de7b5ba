//! A 3-node cluster of real nodes on loopback ports, keeping their commit logs on their own
//! disks: the cases of cluster_cases/ (forwarding, the cluster client, a node killed and
//! restarted, schemas on every node, subscriptions that report their drop, groups found on any
//! node, TLS and auth), each a test of its own, and the client's errors without a cluster.

mod cluster_cases;
mod common;

use common::*;
use graveyard::{Client, Error};

macro_rules! on_their_disks {
    ($($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                cluster_cases::$case(&NodeOptions::default()).await;
            }
        )*
    };
}

on_their_disks!(
    write_through_any_node_read_through_any_other,
    a_forwarded_request_is_never_forwarded_again,
    the_client_routes_to_owners_and_recovers_after_a_restart,
    an_append_retried_after_a_lost_answer_is_written_once,
    schemas_reach_every_node_and_heal_after_a_restart,
    a_subscription_reports_its_drop,
    a_group_is_found_from_any_node,
    all_is_the_log_of_one_node,
    a_cluster_with_tls_and_a_token,
    an_append_session_forwards_each_append_to_its_owner,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_endpoints_and_dead_clusters_are_clear_errors() {
    let error = Client::connect("").await.err().unwrap();
    assert!(matches!(error, Error::InvalidArgument(_)), "{error:?}");
    let error = Client::connect("http://exa mple:1").await.err().unwrap();
    assert!(matches!(error, Error::InvalidArgument(_)), "{error:?}");
    let error = Client::connect(&format!("http://127.0.0.1:{}", free_port())).await.err().unwrap();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
}
