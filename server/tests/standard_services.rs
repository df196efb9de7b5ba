//! The standard gRPC services of a node, against the real binary: grpc.health.v1.Health (what
//! grpc-health-probe and Kubernetes probes call) and server reflection (what grpcurl lists and
//! describes the API with).

mod common;

use common::{Node, NodeOptions};
use tokio_stream::StreamExt;
use tonic::{Code, Request};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as AlphaClient;

const SERVICE: &str = "graveyard.v1.Graveyard";

async fn check(node: &Node, service: &str) -> Result<ServingStatus, tonic::Status> {
    let mut health = HealthClient::new(node.channel().await.unwrap());
    let response = health.check(HealthCheckRequest { service: service.into() }).await?;
    Ok(response.into_inner().status())
}

/// The services reflection v1 lists, with `token` as bearer token (if any).
async fn list_services(node: &Node, token: Option<&str>) -> Result<Vec<String>, tonic::Status> {
    let mut reflection = ServerReflectionClient::new(node.channel().await.unwrap());
    let ask = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut request = Request::new(tokio_stream::iter([ask]));
    if let Some(token) = token {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let mut answers = reflection.server_reflection_info(request).await?.into_inner();
    let answer = answers.next().await.expect("one answer")?;
    match answer.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            Ok(list.service.into_iter().map(|s| s.name).collect())
        }
        other => panic!("not a list of services: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_serving_then_not_serving_once_the_node_drains() {
    let node = Node::start().await;
    assert_eq!(check(&node, "").await.unwrap(), ServingStatus::Serving);
    assert_eq!(check(&node, SERVICE).await.unwrap(), ServingStatus::Serving);
    assert_eq!(check(&node, "no.such.Service").await.unwrap_err().code(), Code::NotFound);

    // A watcher on an open connection sees the drain: SIGTERM stops new connections, and the
    // node's health turns NOT_SERVING for those still open.
    let mut health = HealthClient::new(node.channel().await.unwrap());
    let mut watch = health.watch(HealthCheckRequest { service: String::new() }).await.unwrap().into_inner();
    assert_eq!(watch.next().await.unwrap().unwrap().status(), ServingStatus::Serving);
    node.terminate();
    let mut seen = Vec::new();
    while let Some(Ok(update)) = watch.next().await {
        seen.push(update.status());
        if update.status() == ServingStatus::NotServing {
            break;
        }
    }
    assert_eq!(seen.last(), Some(&ServingStatus::NotServing), "updates after SIGTERM: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_and_describes_the_api_in_v1_and_v1alpha() {
    let node = Node::start().await;
    let services = list_services(&node, None).await.unwrap();
    for expected in [SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"] {
        assert!(services.iter().any(|s| s == expected), "{expected} missing from {services:?}");
    }

    // The file that defines the service, with its dependencies, as grpcurl asks for it.
    let mut reflection = ServerReflectionClient::new(node.channel().await.unwrap());
    let ask = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(SERVICE.into())),
    };
    let answer = reflection
        .server_reflection_info(tokio_stream::iter([ask]))
        .await
        .unwrap()
        .into_inner()
        .next()
        .await
        .unwrap()
        .unwrap();
    match answer.message_response {
        Some(MessageResponse::FileDescriptorResponse(files)) => {
            assert!(!files.file_descriptor_proto.is_empty());
        }
        other => panic!("no file descriptors: {other:?}"),
    }

    // v1alpha, for older tools.
    let mut alpha = AlphaClient::new(node.channel().await.unwrap());
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as AlphaResponse;
    let ask = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(AlphaRequest::ListServices(String::new())),
    };
    let answer =
        alpha.server_reflection_info(tokio_stream::iter([ask])).await.unwrap().into_inner().next().await;
    match answer.unwrap().unwrap().message_response {
        Some(AlphaResponse::ListServicesResponse(list)) => {
            assert!(list.service.iter().any(|s| s.name == SERVICE));
        }
        other => panic!("v1alpha: not a list of services: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_can_be_turned_off() {
    let node = Node::start_with(NodeOptions {
        args: vec!["--reflection".into(), "off".into()],
        ..Default::default()
    })
    .await;
    assert_eq!(list_services(&node, None).await.unwrap_err().code(), Code::Unimplemented);
    assert_eq!(check(&node, "").await.unwrap(), ServingStatus::Serving);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_needs_the_token_and_health_does_not() {
    const TOKEN: &str = "reflection-t0ken";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, TOKEN).unwrap();
    let node = Node::start_with(NodeOptions {
        args: vec!["--token-file".into(), file.to_str().unwrap().into()],
        token: Some(TOKEN.into()),
        ..Default::default()
    })
    .await;
    assert_eq!(list_services(&node, None).await.unwrap_err().code(), Code::Unauthenticated);
    assert_eq!(list_services(&node, Some("wrong")).await.unwrap_err().code(), Code::Unauthenticated);
    assert!(list_services(&node, Some(TOKEN)).await.unwrap().iter().any(|s| s == SERVICE));
    // Probes carry no token.
    assert_eq!(check(&node, "").await.unwrap(), ServingStatus::Serving);
}
