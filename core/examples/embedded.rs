//! The embedded engine end to end: open a store, append with optimistic concurrency, read a
//! stream and the global log, and see a version conflict refused.
//!
//! Run: `cargo run --release -p graveyard --example embedded [DIR]` (default ./data).

use graveyard::{Db, Error, EventData, ExpectedVersion, Filter, ReadAllOptions, ReadOptions};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "./data".to_string());
    let db = Db::open(&dir)?;
    let stream = format!("order-{}", db.head_position()?);

    let placed = db.append(
        &stream,
        ExpectedVersion::NoStream,
        vec![EventData::json("OrderPlaced", &json!({"sku": "GRV-1", "qty": 2}))?],
    )?;
    println!("appended {stream} revision {} at position {}", placed.last_revision, placed.last_position);

    let paid = db.append(
        &stream,
        ExpectedVersion::Exact(placed.last_revision),
        vec![
            EventData::json("PaymentReceived", &json!({"amount": 42.5}))?,
            EventData::json("OrderShipped", &json!({"carrier": "post"}))?,
        ],
    )?;
    println!("appended revisions {}..={} atomically", paid.first_revision, paid.last_revision);

    // A writer that read revision 0 and tries to write now loses, with the facts to retry.
    match db.append(&stream, ExpectedVersion::Exact(0), vec![EventData::json("OrderCancelled", &json!({}))?])
    {
        Err(Error::WrongExpectedVersion { expected, actual, .. }) => {
            println!("stale write refused: expected {expected}, actual {actual}")
        }
        other => return Err(format!("expected a version conflict, got {other:?}").into()),
    }

    for event in db.read_stream(&stream, ReadOptions::forwards().from(0).limit(100))? {
        println!(
            "  {}@{} {} {}",
            event.stream,
            event.revision,
            event.event_type,
            String::from_utf8_lossy(&event.data)
        );
    }
    let orders = db.read_all(ReadAllOptions::backwards().limit(5).filter(Filter::stream_prefix("order-")))?;
    println!("last {} events of $all under 'order-' (newest first):", orders.len());
    for event in orders {
        println!("  #{} {}@{} {}", event.position, event.stream, event.revision, event.event_type);
    }
    println!("store at {} holds {} events", db.path()?.display(), db.head_position()?);
    db.close();
    Ok(())
}
