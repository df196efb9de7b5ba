//! Checks schemas (and data) written by the Java SDK's tests with the real core.
//! Usage: schema-checker <dir>. For every `<base>.schema.json`: compiles it standalone (version 1)
//! and validates every `<base>.data.<label>.json`. Prints one JSON line per file.
use graveyard::schema::{CompiledSchema, Schema};
use serde_json::{json, Value};
use std::fs;

fn main() {
    let dir = std::env::args().nth(1).expect("usage: schema-checker <dir>");
    let mut entries: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in &entries {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(base) = file.strip_suffix(".schema.json") else { continue };
        let bytes = fs::read(path).unwrap();
        let compiled = Schema::from_json(&bytes).and_then(|s| CompiledSchema::compile_standalone(&s, 1));
        let compiled = match compiled {
            Ok(c) => {
                println!("{}", json!({"file": file, "ok": true}));
                c
            }
            Err(e) => {
                println!("{}", json!({"file": file, "ok": false, "error": format!("{e:?}")}));
                continue;
            }
        };
        let prefix = format!("{base}.data.");
        for data_path in &entries {
            let name = data_path.file_name().unwrap().to_string_lossy().to_string();
            if !name.starts_with(&prefix) {
                continue;
            }
            let mut data: Value = serde_json::from_slice(&fs::read(data_path).unwrap()).unwrap();
            match compiled.validate(&mut data) {
                Ok(outcome) => println!("{}", json!({"file": name, "ok": true, "defaults": outcome.defaults_filled, "data": data})),
                Err(violations) => println!("{}", json!({"file": name, "ok": false, "violations": violations})),
            }
        }
    }
}
