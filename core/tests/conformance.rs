//! Runs the conformance scenarios (`conformance/*.json`) against the embedded store. The runner
//! is `conformance/runner.rs`; `CONFORMANCE_FILTER=<text>` runs only the files whose name holds
//! the text.

#[path = "conformance/runner.rs"]
mod runner;

use graveyard::schema::{RegisteredSchema, Schema, SchemaUpsert};
use graveyard::{
    AppendResult, Db, Durability, EventData, ExpectedVersion, Options, ReadAllOptions, ReadOptions,
    RecordedEvent, Result, Snapshot, StreamInfo, StreamMetadata,
};

#[test]
fn conformance() {
    runner::run_all(&mut |fresh| {
        let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        // No scenario depends on fsync (README: runners may relax durability).
        let mut options = Options::new(dir.path()).durability(Durability::NoFsyncUnsafe);
        if let Some(size) = fresh.max_event_size {
            options = options.max_event_size(size);
        }
        if let Some(key) = fresh.master_key {
            options =
                options.master_key(graveyard::crypto::Key::from_bytes(&key).map_err(|e| e.to_string())?);
        }
        let db = Db::open_with(options.clone()).map_err(|e| e.to_string())?;
        Ok(Box::new(Embedded { db, options, _dir: dir }))
    });
}

/// The embedded store: every operation is the `Db` method of the same name.
struct Embedded {
    db: Db,
    options: Options,
    _dir: tempfile::TempDir,
}

impl runner::Store for Embedded {
    fn append(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        self.db.append(stream, expected, events)
    }
    fn read_stream(&mut self, stream: &str, options: ReadOptions) -> Result<Vec<RecordedEvent>> {
        self.db.read_stream(stream, options)
    }
    fn read_all(&mut self, options: ReadAllOptions) -> Result<Vec<RecordedEvent>> {
        self.db.read_all(options)
    }
    fn stream_info(&mut self, stream: &str) -> Result<StreamInfo> {
        self.db.stream_info(stream)
    }
    fn set_stream_metadata(&mut self, stream: &str, metadata: StreamMetadata) -> Result<()> {
        self.db.set_stream_metadata(stream, metadata)
    }
    fn get_stream_metadata(&mut self, stream: &str) -> Result<StreamMetadata> {
        self.db.get_stream_metadata(stream)
    }
    fn delete_stream(&mut self, stream: &str, expected: ExpectedVersion) -> Result<()> {
        self.db.delete_stream(stream, expected)
    }
    fn tombstone_stream(&mut self, stream: &str, expected: ExpectedVersion) -> Result<()> {
        self.db.tombstone_stream(stream, expected)
    }
    fn save_snapshot(&mut self, stream: &str, revision: u64, data: Vec<u8>) -> Result<()> {
        self.db.save_snapshot(stream, revision, data)
    }
    fn get_snapshot(&mut self, stream: &str) -> Result<Option<Snapshot>> {
        self.db.get_snapshot(stream)
    }
    fn head_position(&mut self) -> Result<u64> {
        self.db.head_position()
    }
    fn upsert_schema(&mut self, schema: &Schema) -> Result<SchemaUpsert> {
        self.db.upsert_schema(schema)
    }
    fn get_schema(&mut self, name: &str, version: Option<u32>) -> Result<RegisteredSchema> {
        self.db.get_schema(name, version)
    }
    fn list_schemas(&mut self) -> Result<Vec<RegisteredSchema>> {
        self.db.list_schemas()
    }
    fn close(&mut self) {
        self.db.close();
    }
    fn shred_stream(&mut self, stream: &str) -> Result<()> {
        self.db.shred_stream(stream)
    }
    fn reopen(&mut self) -> Result<()> {
        self.db.close();
        self.db = Db::open_with(self.options.clone())?;
        Ok(())
    }
}

#[test]
fn base64_matches_rfc_4648() {
    let cases: [(&[u8], &str); 6] = [
        (b"", ""),
        (b"f", "Zg=="),
        (b"fo", "Zm8="),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg=="),
        (&[0, 1, 2, 3, 4, 255], "AAECAwT/"),
    ];
    for (bytes, text) in cases {
        assert_eq!(runner::base64_encode(bytes), text);
        assert_eq!(runner::base64_decode(text).as_deref(), Ok(bytes));
    }
    assert!(runner::base64_decode("Zg=").is_err());
    assert!(runner::base64_decode("Zg==Zg==").is_err());
    assert!(runner::base64_decode("Z!==").is_err());
}
