//! Every version of every schema, each compiled once and shared.
//!
//! The registry only holds state in memory; the store keeps the versions as the events of
//! `$schema-<name>` and feeds them back with [`SchemaRegistry::load`] when it opens. An upsert
//! is two steps so that nothing is visible before it is durable: [`SchemaRegistry::prepare`]
//! checks the definition and its compatibility, the caller writes the prepared definition, then
//! [`SchemaRegistry::install`] makes it the latest version.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};

use super::compat::check_compatibility;
use super::compiled::CompiledSchema;
use super::model::Schema;
use crate::error::{Error, Result};

/// How deep references between stored versions may nest. Versions only refer to versions
/// that existed before them, so a deeper chain means the stored definitions are damaged (a
/// cycle), which must fail rather than overflow the stack.
const MAX_REFERENCE_DEPTH: usize = 64;

#[derive(Default)]
pub struct SchemaRegistry {
    /// Name -> versions, version `n` at index `n - 1`.
    schemas: RwLock<HashMap<String, Vec<VersionSlot>>>,
    /// Held while compiling, so that a version asked for by many threads at once compiles
    /// once. Taken after a read lock of `schemas`, never before one.
    compiling: Mutex<()>,
    compilations: AtomicU64,
}

struct VersionSlot {
    definition: Arc<Schema>,
    /// Filled on first use (or at install), never replaced.
    compiled: OnceLock<Arc<CompiledSchema>>,
}

/// The outcome of [`SchemaRegistry::prepare`].
#[derive(Debug)]
pub enum Upsert {
    /// The definition equals the latest version: there is nothing to write.
    Unchanged(Arc<CompiledSchema>),
    /// A new version: write [`PreparedSchema::definition`] to the schema's stream, then
    /// [`SchemaRegistry::install`] it.
    New(PreparedSchema),
}

/// A new version that passed every check, not yet visible.
#[derive(Debug)]
pub struct PreparedSchema {
    compiled: Arc<CompiledSchema>,
}

impl PreparedSchema {
    pub fn name(&self) -> &str {
        self.compiled.name()
    }

    pub fn version(&self) -> u32 {
        self.compiled.version()
    }

    /// The definition to store: references pinned to versions.
    pub fn definition(&self) -> &Schema {
        self.compiled.definition()
    }

    pub fn compiled(&self) -> &Arc<CompiledSchema> {
        &self.compiled
    }
}

type Schemas = HashMap<String, Vec<VersionSlot>>;

impl fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("schemas", &self.names())
            .field("compilations", &self.compilations())
            .finish()
    }
}

impl SchemaRegistry {
    pub fn new() -> SchemaRegistry {
        SchemaRegistry::default()
    }

    /// Adds a stored version, as read back from the store; compiled on first use. Versions of
    /// one schema come in order, from 1. A version held already with the same definition is
    /// left as it is: an upsert may have installed it while the store was read.
    pub fn load(&self, version: u32, schema: Schema) -> Result<()> {
        let mut schemas = self.schemas.write().unwrap_or_else(PoisonError::into_inner);
        let held = schemas.get(&schema.name).map_or(0, Vec::len);
        if version >= 1 && version as usize <= held {
            let same =
                schemas.get(&schema.name).is_some_and(|v| *v[version as usize - 1].definition == schema);
            if same {
                return Ok(());
            }
        }
        if version as usize != held + 1 {
            return Err(Error::Corruption(format!(
                "schema '{}' version {version} follows version {held}: versions are stored in order",
                schema.name
            )));
        }
        let slot = VersionSlot { definition: Arc::new(schema), compiled: OnceLock::new() };
        schemas.entry(slot.definition.name.clone()).or_default().push(slot);
        Ok(())
    }

    /// Checks `schema` as the next version of its name: a valid definition (`INVALID_SCHEMA`
    /// with every problem otherwise), whose references exist, that keeps the compatibility
    /// mode of the latest version (`INVALID_SCHEMA` with every reason otherwise). Nothing
    /// changes until [`install`](Self::install).
    pub fn prepare(&self, schema: &Schema) -> Result<Upsert> {
        let schemas = self.schemas.read().unwrap_or_else(PoisonError::into_inner);
        let compiling = self.compiling.lock().unwrap_or_else(PoisonError::into_inner);
        let latest = schemas.get(&schema.name).map(|versions| versions.len() as u32);
        let resolver =
            |name: &str, version: Option<u32>| self.resolve(&schemas, name, version, &compiling, 0);
        let next = CompiledSchema::compile(schema, latest.map_or(1, |v| v + 1), &resolver)?;
        self.compilations.fetch_add(1, Ordering::Relaxed);
        if let Some(latest) = latest {
            let previous = self
                .compiled(&schemas, &schema.name, latest, &compiling, 0)?
                .expect("the latest version of a held schema exists");
            if previous.definition() == next.definition() {
                return Ok(Upsert::Unchanged(previous));
            }
            let reasons = check_compatibility(&previous, &next, previous.compatibility());
            if !reasons.is_empty() {
                return Err(Error::InvalidSchema { schema: schema.name.clone(), problems: reasons });
            }
        }
        Ok(Upsert::New(PreparedSchema { compiled: Arc::new(next) }))
    }

    /// Makes a prepared version the latest, once it is stored. Fails (`INTERNAL`) when another
    /// version was installed since it was prepared: the store's expected-version check on the
    /// schema's stream is what keeps two upserts from both getting there.
    pub fn install(&self, prepared: PreparedSchema) -> Result<Arc<CompiledSchema>> {
        let mut schemas = self.schemas.write().unwrap_or_else(PoisonError::into_inner);
        let held = schemas.get(prepared.name()).map_or(0, Vec::len);
        // Loaded already from the store (a catch-up read the version this upsert stored).
        if prepared.version() as usize == held {
            let same = schemas
                .get(prepared.name())
                .is_some_and(|v| *v[held - 1].definition == *prepared.definition());
            if same {
                return Ok(prepared.compiled);
            }
        }
        if prepared.version() as usize != held + 1 {
            return Err(Error::Internal(format!(
                "schema '{}' version {} was prepared, but the registry holds version {held}",
                prepared.name(),
                prepared.version()
            )));
        }
        let slot = VersionSlot {
            definition: Arc::new(prepared.definition().clone()),
            compiled: OnceLock::from(Arc::clone(&prepared.compiled)),
        };
        schemas.entry(prepared.name().to_owned()).or_default().push(slot);
        Ok(prepared.compiled)
    }

    /// The latest version of schema `name`, compiled. The path of every append that names a
    /// schema: after the first call it takes a read lock, a map lookup and an `Arc` clone.
    pub fn latest(&self, name: &str) -> Result<Option<Arc<CompiledSchema>>> {
        let schemas = self.schemas.read().unwrap_or_else(PoisonError::into_inner);
        let Some(versions) = schemas.get(name) else { return Ok(None) };
        if let Some(compiled) = versions.last().and_then(|slot| slot.compiled.get()) {
            return Ok(Some(Arc::clone(compiled)));
        }
        let compiling = self.compiling.lock().unwrap_or_else(PoisonError::into_inner);
        self.compiled(&schemas, name, versions.len() as u32, &compiling, 0)
    }

    pub fn get(&self, name: &str, version: u32) -> Result<Option<Arc<CompiledSchema>>> {
        let schemas = self.schemas.read().unwrap_or_else(PoisonError::into_inner);
        let Some(slot) = slot(&schemas, name, version) else { return Ok(None) };
        if let Some(compiled) = slot.compiled.get() {
            return Ok(Some(Arc::clone(compiled)));
        }
        let compiling = self.compiling.lock().unwrap_or_else(PoisonError::into_inner);
        self.compiled(&schemas, name, version, &compiling, 0)
    }

    pub fn latest_version(&self, name: &str) -> Option<u32> {
        let schemas = self.schemas.read().unwrap_or_else(PoisonError::into_inner);
        schemas.get(name).map(|versions| versions.len() as u32)
    }

    /// A stored definition, without compiling it.
    pub fn definition(&self, name: &str, version: u32) -> Option<Arc<Schema>> {
        let schemas = self.schemas.read().unwrap_or_else(PoisonError::into_inner);
        slot(&schemas, name, version).map(|slot| Arc::clone(&slot.definition))
    }

    /// The names of every schema, sorted.
    pub fn names(&self) -> Vec<String> {
        let schemas = self.schemas.read().unwrap_or_else(PoisonError::into_inner);
        let mut names: Vec<String> = schemas.keys().cloned().collect();
        names.sort_unstable();
        names
    }

    /// How many times a definition was compiled, for tests and metrics.
    pub fn compilations(&self) -> u64 {
        self.compilations.load(Ordering::Relaxed)
    }

    /// Version `version` of `name`, compiling it (and what it refers to) on first use.
    fn compiled(
        &self,
        schemas: &Schemas,
        name: &str,
        version: u32,
        compiling: &MutexGuard<'_, ()>,
        depth: usize,
    ) -> Result<Option<Arc<CompiledSchema>>> {
        let Some(slot) = slot(schemas, name, version) else { return Ok(None) };
        if let Some(compiled) = slot.compiled.get() {
            return Ok(Some(Arc::clone(compiled)));
        }
        if depth >= MAX_REFERENCE_DEPTH {
            return Err(Error::Corruption(format!(
                "schema '{name}' version {version}: references between stored schemas nest deeper than \
                 {MAX_REFERENCE_DEPTH} (a cycle)"
            )));
        }
        let resolver =
            |name: &str, version: Option<u32>| self.resolve(schemas, name, version, compiling, depth + 1);
        let compiled = CompiledSchema::compile(&slot.definition, version, &resolver).map_err(|e| {
            Error::Corruption(format!("stored schema '{name}' version {version} does not compile: {e}"))
        })?;
        self.compilations.fetch_add(1, Ordering::Relaxed);
        Ok(Some(Arc::clone(slot.compiled.get_or_init(|| Arc::new(compiled)))))
    }

    fn resolve(
        &self,
        schemas: &Schemas,
        name: &str,
        version: Option<u32>,
        compiling: &MutexGuard<'_, ()>,
        depth: usize,
    ) -> std::result::Result<Arc<CompiledSchema>, String> {
        let Some(latest) = schemas.get(name).map(|versions| versions.len() as u32) else {
            return Err(format!("schema '{name}' does not exist"));
        };
        let version = version.unwrap_or(latest);
        match self.compiled(schemas, name, version, compiling, depth) {
            Ok(Some(compiled)) => Ok(compiled),
            Ok(None) => Err(format!("schema '{name}' has no version {version} (its latest is {latest})")),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn slot<'a>(schemas: &'a Schemas, name: &str, version: u32) -> Option<&'a VersionSlot> {
    let index = usize::try_from(version).ok()?.checked_sub(1)?;
    schemas.get(name)?.get(index)
}
