//! An encrypted node: the master key from a file, shredding and key rotation through the
//! cluster client, restarts with the right, the old and no key, and nothing in clear on disk.

mod common;

use common::{run_binary, Node, NodeOptions};
use graveyard::crypto::Key;
use graveyard::{Client, ErrorCode, EventData, ExpectedVersion, ReadOptions};

const KEY_A: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const KEY_B: [u8; 32] = [0x3c; 32];

fn key_file(dir: &std::path::Path, name: &str, content: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

fn with_key(file: &str) -> NodeOptions {
    NodeOptions { args: vec!["--master-key-file".into(), file.into()], ..Default::default() }
}

fn secret(i: usize) -> Vec<u8> {
    format!("{{\"ssn\":\"secret-number-{i:04}-do-not-store-in-clear\"}}").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_node_shreds_rotates_and_refuses_a_wrong_key() {
    let keys = tempfile::tempdir().unwrap();
    let key_a = key_file(keys.path(), "a.hex", format!("{KEY_A}\n").as_bytes());
    let key_b = key_file(keys.path(), "b.bin", &KEY_B);
    let mut node = Node::start_with(with_key(&key_a)).await;
    let client = Client::connect(&node.url()).await.unwrap();

    for stream in ["user-1", "user-2"] {
        let events = (0..3).map(|i| EventData::json_bytes("Registered", secret(i))).collect();
        client.append(stream, ExpectedVersion::Any, events).await.unwrap();
    }
    client.shred_stream("user-1").await.unwrap();
    let events = client.read_stream("user-1", ReadOptions::forwards()).await.unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.shredded && e.data.is_empty()));
    assert!(client.stream_info("user-1").await.unwrap().shredded);
    let err =
        client.append("user-1", ExpectedVersion::Any, vec![EventData::json_bytes("X", b"{}".to_vec())]).await;
    assert_eq!(err.unwrap_err().code(), ErrorCode::StreamDeleted);
    assert_eq!(client.read_stream("user-2", ReadOptions::forwards()).await.unwrap()[2].data, secret(2));
    assert_eq!(client.shred_stream("nobody").await.unwrap_err().code(), ErrorCode::NotFound);

    // Rotation over the wire (from loopback), then the node restarts with the new key only.
    client.rotate_master_key(&Key::from_bytes(&KEY_B).unwrap()).await.unwrap();
    client
        .append("user-2", ExpectedVersion::Exact(2), vec![EventData::json_bytes("Registered", secret(3))])
        .await
        .unwrap();
    drop(client);
    let log = node.log();
    assert!(!log.contains(KEY_A) && !log.contains("3c3c3c"), "no key in the log");
    node.kill();

    let raw = std::fs::read(node.data_dir().join("data.mdb")).unwrap();
    assert!(!raw.windows(13).any(|w| w == b"secret-number"), "plaintext on disk");

    let refused = node.restart_with(with_key(&key_a)).await.unwrap_err();
    assert!(refused.contains("master key"), "{refused}");
    let refused = node.restart_with(NodeOptions::default()).await.unwrap_err();
    assert!(refused.contains("encrypted"), "{refused}");
    node.restart_with(with_key(&key_b)).await.unwrap();
    let client = Client::connect(&node.url()).await.unwrap();
    let events = client.read_stream("user-2", ReadOptions::forwards()).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.data.clone()).collect::<Vec<_>>(),
        (0..4).map(secret).collect::<Vec<_>>()
    );
    assert!(client.read_stream("user-1", ReadOptions::forwards()).await.unwrap().iter().all(|e| e.shredded));
    // Rotating to the key in force rewraps with it again: harmless.
    let err = client.rotate_master_key(&Key::from_bytes(&KEY_B).unwrap()).await;
    assert!(err.is_ok(), "rotating to the key in force is allowed: {err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_encryption_refuses_shreds_and_rotations() {
    let node = Node::start().await;
    let client = Client::connect(&node.url()).await.unwrap();
    client.append("s", ExpectedVersion::Any, vec![EventData::json_bytes("T", b"{}".to_vec())]).await.unwrap();
    assert_eq!(client.shred_stream("s").await.unwrap_err().code(), ErrorCode::InvalidArgument);
    let err = client.rotate_master_key(&Key::from_bytes(&KEY_B).unwrap()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
}

#[test]
fn a_bad_master_key_file_is_refused_at_start_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in [("short", &b"abcdef"[..]), ("not-hex", &[b'z'; 64][..]), ("empty", &b"\n"[..])] {
        let file = key_file(dir.path(), name, content);
        let out = run_binary(&["serve", "--master-key-file", &file], &[], dir.path());
        assert!(!out.status.success(), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--master-key-file"), "{name}: {stderr}");
        assert!(!stderr.contains("zzzz"), "{name}: the file's content is not shown: {stderr}");
    }
    let missing = run_binary(&["serve", "--master-key-file", "/does/not/exist"], &[], dir.path());
    assert!(!missing.status.success());
}
