//! The core's options made from arguments as every binding receives them (codes, optional
//! numbers, JSON text), so that each rule is written once: 0 or absent sizes take the defaults,
//! an absent filter is every event, a page size of 0 is the default, a key names itself in its
//! error. A binding turns its host's types into these (a JS bigint, a `jlong`, a C pointer and
//! length) and checks what only it can see; everything else is decided here.

use std::time::Duration;

use crate::crypto::Key;
use crate::error::{Error, Result};
use crate::{Filter, ListStreamsOptions, Options, ReadAllOptions, ReadOptions, SubscribeOptions};

use super::{codes, from_json};

/// A master key from its bytes; a wrong length is INVALID_ARGUMENT naming `what`. The bytes
/// are copied into the key (wiped when it drops); a binding that owns a copy wipes its own.
pub fn master_key(bytes: &[u8], what: &str) -> Result<Key> {
    Key::from_bytes(bytes).map_err(|e| match e {
        Error::InvalidArgument(m) => Error::InvalidArgument(format!("{what}: {m}")),
        other => other,
    })
}

/// A filter from its JSON form (docs/boundary.md); none: every event.
pub fn filter(json: Option<&str>) -> Result<Filter> {
    json.map_or_else(|| Ok(Filter::default()), |text| from_json("filter", text))
}

/// The options of a stream read: a direction code, where to start (none: the first or the
/// last event), at most `limit` events (none: all).
pub fn read_options(direction: i32, from: Option<u64>, limit: Option<u64>) -> Result<ReadOptions> {
    Ok(ReadOptions { direction: codes::direction(direction)?, from, limit: limit.unwrap_or(u64::MAX) })
}

/// The options of a read of `$all`: as [`read_options`], and a filter's JSON or none.
pub fn read_all_options(
    direction: i32,
    from: Option<u64>,
    limit: Option<u64>,
    filter_json: Option<&str>,
) -> Result<ReadAllOptions> {
    let ReadOptions { direction, from, limit } = read_options(direction, from, limit)?;
    Ok(ReadAllOptions { direction, from, limit, filter: filter(filter_json)? })
}

/// The options of a listing of streams: names starting with `prefix`, after `after` (none: from
/// the first), at most `limit` (none: [`ListStreamsOptions::DEFAULT_LIMIT`]; the core refuses 0
/// and more than [`ListStreamsOptions::MAX_LIMIT`]).
pub fn list_streams_options(prefix: String, after: Option<String>, limit: Option<u64>) -> ListStreamsOptions {
    ListStreamsOptions { prefix, after, limit: limit.unwrap_or(ListStreamsOptions::DEFAULT_LIMIT) }
}

/// The options of a subscription: its start (kind and checkpoint, docs/boundary.md), events
/// per page of history (0: the default) and a filter's JSON or none.
pub fn subscribe_options(
    start_kind: i32,
    after: u64,
    page_size: u32,
    filter_json: Option<&str>,
) -> Result<SubscribeOptions> {
    let mut options = SubscribeOptions::from_start().filter(filter(filter_json)?);
    if page_size > 0 {
        options = options.page_size(u64::from(page_size));
    }
    options.start = codes::subscription_start(start_kind, after)?;
    Ok(options)
}

/// What opens an embedded store; sizes and limits absent or 0 take the core's defaults.
#[derive(Debug, Default, Clone, Copy)]
pub struct OpenArgs<'a> {
    pub path: &'a str,
    /// A durability code (docs/boundary.md).
    pub durability: i32,
    pub map_size: Option<u64>,
    pub max_event_size: Option<u64>,
    pub max_readers: Option<u32>,
    pub max_json_depth: Option<u32>,
    /// The 32 bytes of the master key that encrypts at rest, or none.
    pub master_key: Option<&'a [u8]>,
}

impl OpenArgs<'_> {
    pub fn options(&self) -> Result<Options> {
        let size = |v: u64, what: &str| {
            usize::try_from(v)
                .map_err(|_| Error::InvalidArgument(format!("{what} does not fit this machine: {v}")))
        };
        let mut o = Options::new(self.path).durability(codes::durability(self.durability)?);
        if let Some(bytes) = self.master_key {
            o = o.master_key(master_key(bytes, "master key")?);
        }
        if let Some(v) = self.map_size.filter(|&v| v > 0) {
            o = o.map_size(size(v, "map size")?);
        }
        if let Some(v) = self.max_event_size.filter(|&v| v > 0) {
            o = o.max_event_size(size(v, "max event size")?);
        }
        if let Some(r) = self.max_readers.filter(|&r| r > 0) {
            o = o.max_readers(r);
        }
        if let Some(d) = self.max_json_depth.filter(|&d| d > 0) {
            o = o.max_json_depth(size(u64::from(d), "max JSON depth")?);
        }
        Ok(o)
    }
}

/// What connects to a cluster; absent values take the core's defaults (no request timeout).
#[cfg(feature = "client")]
#[derive(Debug, Default, Clone)]
pub struct ConnectArgs {
    pub token: Option<String>,
    /// The PEM of the CA that signs the nodes' certificates.
    pub ca_pem: Option<Vec<u8>>,
    pub connect_timeout: Option<Duration>,
    pub request_timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub retry_backoff: Option<Duration>,
}

#[cfg(feature = "client")]
impl ConnectArgs {
    pub fn options(self) -> crate::ClientOptions {
        let mut o = crate::ClientOptions::default();
        o.transport.token = self.token;
        o.transport.ca_certificate_pem = self.ca_pem;
        if let Some(t) = self.connect_timeout {
            o.transport.connect_timeout = t;
        }
        o.transport.request_timeout = self.request_timeout;
        if let Some(r) = self.retries {
            o.retries = r;
        }
        if let Some(t) = self.retry_backoff {
            o.retry_backoff = t;
        }
        o
    }
}

/// A timeout in milliseconds as the C ABI and N-API give it: -1 or absent for none, other
/// negatives refused.
pub fn timeout_ms(millis: Option<i64>) -> Result<Option<Duration>> {
    match millis {
        None | Some(-1) => Ok(None),
        Some(ms) => u64::try_from(ms)
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| Error::InvalidArgument(format!("a timeout cannot be negative: {ms} ms"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Direction, SubscriptionStart};

    #[test]
    fn absent_and_zero_take_the_defaults() {
        let o = OpenArgs { path: "/tmp/x", map_size: Some(0), max_readers: Some(0), ..OpenArgs::default() }
            .options()
            .unwrap();
        assert_eq!(o, Options::new("/tmp/x"));
        let r = read_options(1, None, None).unwrap();
        assert_eq!((r.direction, r.from, r.limit), (Direction::Backwards, None, u64::MAX));
        let a = read_all_options(0, Some(5), Some(10), None).unwrap();
        assert_eq!((a.from, a.limit, a.filter), (Some(5), 10, Filter::default()));
        let s = subscribe_options(2, 7, 0, None).unwrap();
        assert_eq!(s.start, SubscriptionStart::After(7));
        assert_eq!(timeout_ms(Some(-1)).unwrap(), None);
        assert_eq!(timeout_ms(Some(5)).unwrap(), Some(Duration::from_millis(5)));
        let l = list_streams_options("o-".into(), Some("o-1".into()), None);
        assert_eq!((l.prefix.as_str(), l.after.as_deref(), l.limit), ("o-", Some("o-1"), 1_000));
        // A limit given is the caller's, even 0: the core refuses that one.
        assert_eq!(list_streams_options(String::new(), None, Some(0)).limit, 0);
    }

    #[test]
    fn bad_arguments_are_invalid_argument_naming_what() {
        let e = |r: Result<()>| r.unwrap_err().to_string();
        assert!(e(master_key(&[0; 3], "new master key").map(drop)).contains("new master key"));
        assert!(e(filter(Some("[1]")).map(drop)).contains("filter"));
        assert!(e(filter(Some(r#"{"nope":1}"#)).map(drop)).contains("filter"));
        assert!(read_options(7, None, None).is_err());
        assert!(subscribe_options(9, 0, 0, None).is_err());
        assert!(OpenArgs { path: "p", durability: 5, ..OpenArgs::default() }.options().is_err());
        assert!(OpenArgs { path: "p", master_key: Some(&[1; 31]), ..OpenArgs::default() }.options().is_err());
        assert!(timeout_ms(Some(-2)).is_err());
    }
}
