//! The commit log over TLS to a real Apache Cassandra that takes clients over TLS only
//! (scripts/cassandra.sh with CASSANDRA_TLS_PEM): a store is written and rebuilt through it; the
//! node's certificate is checked for its address or for a configured name; a wrong name, an
//! untrusted certificate and a plain connection are refused at connect with a clear error.

use std::time::Duration;

use graveyard::{Db, ErrorCode, EventData, ExpectedVersion, Options, ReadAllOptions};
use graveyard_cql::testing::Cassandra;
use graveyard_cql::{CqlLogSource, CqlOptions, CqlTls};

fn options(cassandra: &Cassandra, tls: Option<CqlTls>) -> CqlOptions {
    let mut options = CqlOptions::new(vec![cassandra.contact()], "gy_tls", "n1");
    options.tls = tls;
    options.request_timeout = Duration::from_secs(5);
    options.settle_for = Duration::from_secs(5);
    options
}

fn tls(ca_pem: &[u8], server_name: Option<&str>) -> Option<CqlTls> {
    Some(CqlTls { ca_pem: ca_pem.to_vec(), server_name: server_name.map(str::to_owned) })
}

fn refused(options: CqlOptions) -> graveyard::Error {
    match CqlLogSource::connect(options) {
        Ok(_) => panic!("connected"),
        Err(e) => e,
    }
}

#[test]
fn the_log_over_tls() {
    let node = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "cassandra.test".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("node.pem");
    std::fs::write(&pem, format!("{}{}", node.signing_key.serialize_pem(), node.cert.pem())).unwrap();
    let cassandra = Cassandra::start_tls(&pem);
    let ca = node.cert.pem().into_bytes();

    // The certificate checked for the node's address.
    let log = CqlLogSource::connect(options(&cassandra, tls(&ca, None))).unwrap();
    let store = tempfile::tempdir().unwrap();
    let db = Db::open_with(Options::new(store.path()).commit_log(log)).unwrap();
    for n in 0..10 {
        let event = EventData::json("E", &serde_json::json!({ "n": n })).unwrap();
        db.append("secure", ExpectedVersion::Any, vec![event]).unwrap();
    }
    db.close();
    // Checked for a configured name: a store rebuilt from nothing through it has every event.
    let log = CqlLogSource::connect(options(&cassandra, tls(&ca, Some("cassandra.test")))).unwrap();
    let rebuilt = tempfile::tempdir().unwrap();
    let db = Db::open_with(Options::new(rebuilt.path()).commit_log(log)).unwrap();
    assert_eq!(db.read_all(ReadAllOptions::forwards()).unwrap().len(), 10);
    db.close();

    // A name the certificate does not carry, a certificate no trusted authority signed, and a
    // plain connection to a node that speaks TLS only.
    let wrong = refused(options(&cassandra, tls(&ca, Some("other.test"))));
    assert_eq!(wrong.code(), ErrorCode::Unavailable, "{wrong}");
    assert!(wrong.to_string().to_lowercase().contains("certificate"), "{wrong}");
    let stranger = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let untrusted = refused(options(&cassandra, tls(stranger.cert.pem().as_bytes(), None)));
    assert!(untrusted.to_string().to_lowercase().contains("certificate"), "{untrusted}");
    let plain = refused(options(&cassandra, None));
    assert_eq!(plain.code(), ErrorCode::Unavailable, "{plain}");

    // Bad settings are the caller's: INVALID_ARGUMENT before anything is sent.
    let empty = refused(options(&cassandra, tls(b"", None)));
    assert_eq!(empty.code(), ErrorCode::InvalidArgument, "{empty}");
    let bad_name = refused(options(&cassandra, tls(&ca, Some("not a name"))));
    assert_eq!(bad_name.code(), ErrorCode::InvalidArgument, "{bad_name}");
}
