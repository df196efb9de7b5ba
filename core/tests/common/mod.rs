//! Helpers shared by the integration tests (each test file includes this module).
#![allow(dead_code)]

use graveyard::{Db, Durability, Options};

/// A store without fsync: for tests that do not test durability.
pub fn open_fast(dir: &std::path::Path) -> Db {
    Db::open_with(Options::new(dir).durability(Durability::NoFsyncUnsafe)).unwrap()
}

/// The core's futures need no particular runtime.
#[allow(unused_imports)] // not every test binary runs futures
pub use graveyard::block_on;
