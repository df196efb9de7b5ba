//! The cases of cluster_cases/ on nodes keeping their commit logs in a real Apache Cassandra
//! (`--storage cql`, scripts/cassandra.sh through `graveyard_cql::testing`), one keyspace per case,
//! in one test so that they share one Cassandra node.
//!
//! Left out: `the_client_routes_to_owners_and_recovers_after_a_restart`, which expects a killed
//! member's streams to stay unavailable until it restarts; on Cassandra they are served by the
//! next member meanwhile, which failover.rs tests.

mod cluster_cases;
mod common;

use graveyard_cql::testing::Cassandra;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_cases_on_cassandra() {
    let cassandra = tokio::task::block_in_place(Cassandra::start);
    let on = |case: &str| common::on_cassandra(&cassandra.contact(), &format!("gy_cluster_{case}"));
    cluster_cases::write_through_any_node_read_through_any_other(&on("write")).await;
    cluster_cases::a_forwarded_request_is_never_forwarded_again(&on("forwarded")).await;
    cluster_cases::an_append_retried_after_a_lost_answer_is_written_once(&on("retried")).await;
    cluster_cases::schemas_reach_every_node_and_heal_after_a_restart(&on("schemas")).await;
    cluster_cases::a_subscription_reports_its_drop(&on("subscription")).await;
    cluster_cases::a_group_is_found_from_any_node(&on("groups")).await;
    cluster_cases::all_is_the_log_of_one_node(&on("all")).await;
    cluster_cases::a_cluster_with_tls_and_a_token(&on("tls")).await;
    cluster_cases::an_append_session_forwards_each_append_to_its_owner(&on("session")).await;
}
