//! Bearer-token authentication and TLS, on and off, against the real binary.

mod common;

use common::*;
use graveyard::wire::v1 as pb;
use graveyard::wire::v1::graveyard_client::GraveyardClient;

const TOKEN: &str = "t0ken-Sekr1t-value";

async fn node_with_token() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let options = NodeOptions {
        args: vec!["--token-file".into(), file.to_str().unwrap().into()],
        token: Some(TOKEN.into()),
        ..Default::default()
    };
    let node = Node::start_with(options).await;
    // The node read the file at start; it is not needed any more.
    drop(dir);
    node
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_when_configured() {
    let node = node_with_token().await;

    let mut anonymous = node.client_with_token(None).await;
    let status = anonymous.health(pb::HealthRequest {}).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    detail(&status, "UNAUTHENTICATED");
    let status = append(&mut anonymous, "s", None, vec![json_event("E", "{}")]).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    let mut wrong = node.client_with_token(Some("t0ken-Sekr1t-valuf".into())).await;
    let status = append(&mut wrong, "s", None, vec![json_event("E", "{}")]).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert!(!status.message().contains(TOKEN) && !status.message().contains("valuf"));
    let mut longer = node.client_with_token(Some(format!("{TOKEN}x"))).await;
    let status = longer.health(pb::HealthRequest {}).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    // Streaming calls are checked too.
    let status = wrong.subscribe_to_all(pb::SubscribeToAllRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    let mut right = node.client().await;
    append(&mut right, "s", None, vec![json_event("E", "{}")]).await.unwrap();
    assert_eq!(read_stream(&mut right, "s").await.unwrap().len(), 1, "refused requests wrote nothing");

    // Another scheme, or the token without its scheme, is refused.
    let channel = node.channel().await.unwrap();
    let mut basic = GraveyardClient::with_interceptor(channel, |mut request: tonic::Request<()>| {
        request.metadata_mut().insert("authorization", format!("Basic {TOKEN}").parse().unwrap());
        Ok(request)
    });
    let status = basic.health(pb::HealthRequest {}).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    assert!(!node.log().contains(TOKEN), "the token reached the log:\n{}", node.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_every_request_is_served() {
    let node = Node::start().await;
    let mut client = node.client_with_token(None).await;
    append(&mut client, "s", None, vec![json_event("E", "{}")]).await.unwrap();
    // A token sent to a node without one is ignored.
    let mut with_token = node.client_with_token(Some("anything".into())).await;
    assert_eq!(read_stream(&mut with_token, "s").await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, certified) = common::self_signed(dir.path());
    let cert_pem = certified.cert.pem();

    // The certificate by flag, the key by environment variable: both sources work.
    let node = Node::start_with(NodeOptions {
        args: vec!["--tls-cert".into(), cert.to_str().unwrap().into()],
        env: vec![("GRAVEYARD_TLS_KEY".into(), key.to_str().unwrap().into())],
        tls_ca: Some(cert_pem),
        ..Default::default()
    })
    .await;
    let mut client = node.client().await;
    append(&mut client, "secure", None, vec![json_event("E", "{}")]).await.unwrap();
    assert_eq!(read_stream(&mut client, "secure").await.unwrap().len(), 1);

    // A plaintext client gets nothing from a TLS node.
    let plain = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", node.port)).unwrap();
    let refused = match plain.connect().await {
        Err(_) => true,
        Ok(channel) => GraveyardClient::new(channel).health(pb::HealthRequest {}).await.is_err(),
    };
    assert!(refused, "a plaintext request was answered by a TLS node");

    // A client that does not trust the certificate is refused.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    graveyard::client::install_crypto_provider();
    let untrusting = tonic::transport::Endpoint::from_shared(node.url())
        .unwrap()
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(other.cert.pem()))
                .domain_name("localhost"),
        )
        .unwrap();
    let refused = match untrusting.connect().await {
        Err(_) => true,
        Ok(channel) => GraveyardClient::new(channel).health(pb::HealthRequest {}).await.is_err(),
    };
    assert!(refused, "a client that does not trust the node's certificate was answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tls_plaintext_is_served() {
    let node = Node::start().await;
    assert!(node.url().starts_with("http://"));
    let mut client = node.client().await;
    client.health(pb::HealthRequest {}).await.unwrap();
}
