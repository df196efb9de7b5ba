//! The node's settings: command-line flags over environment variables over defaults. Every
//! setting is checked here, files included, so that a bad one stops the node at start with a
//! message naming it (as the user wrote it: the flag or the variable), never later.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use graveyard::cluster::{check_node_id, Member, Ring, DEFAULT_VNODES};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
pub const DEFAULT_DATA: &str = "./data";
pub const DEFAULT_NODE_ID: &str = "node-1";

/// One setting: its flag, its environment variable, and what it is for (in `--help`).
struct Setting {
    flag: &'static str,
    env: &'static str,
    value_name: &'static str,
    help: &'static str,
}

const LISTEN: Setting = Setting {
    flag: "--listen",
    env: "GRAVEYARD_LISTEN",
    value_name: "IP:PORT",
    help: "address to serve gRPC on [default: 127.0.0.1:50051]",
};
const DATA: Setting = Setting {
    flag: "--data",
    env: "GRAVEYARD_DATA",
    value_name: "DIR",
    help: "directory of the embedded store, created if needed [default: ./data]",
};
const MAX_EVENT_SIZE: Setting = Setting {
    flag: "--max-event-size",
    env: "GRAVEYARD_MAX_EVENT_SIZE",
    value_name: "BYTES",
    help: "largest event accepted (type, data, metadata and content type) [default: 16777216 (16 MiB)]",
};
const MAX_JSON_DEPTH: Setting = Setting {
    flag: "--max-json-depth",
    env: "GRAVEYARD_MAX_JSON_DEPTH",
    value_name: "LEVELS",
    help: "deepest nesting of arrays and objects accepted in data labelled application/json; raise it \
           only if every consumer's JSON parser reads that deep [default: 500]",
};
const NODE_ID: Setting = Setting {
    flag: "--node-id",
    env: "GRAVEYARD_NODE_ID",
    value_name: "ID",
    help: "this node's id: letters, digits, '.', '_', '-' [default: node-1; required with --members]",
};
const MEMBERS: Setting = Setting {
    flag: "--members",
    env: "GRAVEYARD_MEMBERS",
    value_name: "ID=[SCHEME://]HOST:PORT,...",
    help: "every node of the cluster, this one included [default: this node alone, at --listen]",
};
const TLS_CERT: Setting = Setting {
    flag: "--tls-cert",
    env: "GRAVEYARD_TLS_CERT",
    value_name: "FILE",
    help: "PEM certificate chain; serves TLS only (needs --tls-key)",
};
const TLS_KEY: Setting = Setting {
    flag: "--tls-key",
    env: "GRAVEYARD_TLS_KEY",
    value_name: "FILE",
    help: "PEM private key of the certificate (needs --tls-cert)",
};
const PEER_CA: Setting = Setting {
    flag: "--peer-ca",
    env: "GRAVEYARD_PEER_CA",
    value_name: "FILE",
    help: "PEM certificates trusted when forwarding to other members over TLS [default: --tls-cert]",
};
const TOKEN_FILE: Setting = Setting {
    flag: "--token-file",
    env: "GRAVEYARD_TOKEN_FILE",
    value_name: "FILE",
    help: "file holding the bearer token every request must carry [default: no authentication]",
};
const MASTER_KEY_FILE: Setting = Setting {
    flag: "--master-key-file",
    env: "GRAVEYARD_MASTER_KEY_FILE",
    value_name: "FILE",
    help: "file holding the 32-byte master key (64 hex digits) that encrypts the store at rest; a new \
           store is created encrypted, an existing one must have been [default: no encryption]",
};
const METRICS_LISTEN: Setting = Setting {
    flag: "--metrics-listen",
    env: "GRAVEYARD_METRICS_LISTEN",
    value_name: "IP:PORT",
    help: "address to serve Prometheus metrics on, at /metrics [default: off]",
};
const LOG: Setting = Setting {
    flag: "--log",
    env: "GRAVEYARD_LOG",
    value_name: "FILTER",
    help: "log filter, tracing-subscriber EnvFilter syntax [default: info]",
};

const REFLECTION: Setting = Setting {
    flag: "--reflection",
    env: "GRAVEYARD_REFLECTION",
    value_name: "on|off",
    help: "serve gRPC server reflection (v1 and v1alpha: grpcurl and other tools discover the API); \
           behind the token when one is set [default: on]",
};

const SETTINGS: [&Setting; 14] = [
    &LISTEN,
    &DATA,
    &MAX_EVENT_SIZE,
    &MAX_JSON_DEPTH,
    &NODE_ID,
    &MEMBERS,
    &TLS_CERT,
    &TLS_KEY,
    &PEER_CA,
    &TOKEN_FILE,
    &MASTER_KEY_FILE,
    &METRICS_LISTEN,
    &REFLECTION,
    &LOG,
];

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Serve(Box<Settings>),
    Help,
    Version,
}

/// Everything a node needs to start, checked.
#[derive(Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data: PathBuf,
    pub max_event_size: usize,
    /// `Options::max_json_depth` of the store.
    pub max_json_depth: usize,
    pub node_id: String,
    /// Every member, this node included, placed on the consistent-hash ring (the placement of
    /// streams in step 2 of the cluster; built now so that a bad member list is refused now).
    pub ring: Ring,
    pub tls: Option<TlsIdentity>,
    /// Certificates trusted when dialling other members; `Some` exactly when TLS is on.
    pub peer_ca: Option<Vec<u8>>,
    pub token: Option<Token>,
    /// The master key of an encrypted store.
    pub master_key: Option<MasterKey>,
    pub metrics_listen: Option<SocketAddr>,
    /// Serve gRPC server reflection.
    pub reflection: bool,
    pub log_filter: String,
}

/// The TLS certificate chain and key, as PEM, with the names of the settings they came from (the
/// PEM is only parsed when the server is built, and its errors must name them).
pub struct TlsIdentity {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    pub names: String,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity").field("names", &self.names).finish_non_exhaustive()
    }
}

/// The bearer token. Its bytes never reach a log or an error message: `Debug` hides them.
#[derive(Clone)]
pub struct Token(Vec<u8>);

impl Token {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A setting that was refused; the message names it.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn refuse(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// A raw value and the name it was given under (the flag or the variable).
struct Raw {
    value: String,
    source: &'static str,
}

/// Parses `args` (without the program name) and the environment (`env` looks a variable up).
pub fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Command, ConfigError> {
    let Some((command, rest)) = args.split_first() else {
        return Err(refuse(format!("no command given\n\n{}", usage())));
    };
    match command.as_str() {
        "serve" => {}
        "help" | "--help" | "-h" => return Ok(Command::Help),
        "version" | "--version" | "-V" => return Ok(Command::Version),
        other => return Err(refuse(format!("unknown command '{other}'\n\n{}", usage()))),
    }

    let mut flags: Vec<(&'static Setting, String)> = Vec::new();
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            return Ok(Command::Help);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        let Some(setting) = SETTINGS.iter().copied().find(|s| s.flag == name) else {
            return Err(refuse(format!("unknown option '{name}' (see graveyard --help)")));
        };
        if flags.iter().any(|(s, _)| s.flag == setting.flag) {
            return Err(refuse(format!("{} is given twice", setting.flag)));
        }
        let value = match inline {
            Some(value) => value,
            None => args
                .next()
                .cloned()
                .ok_or_else(|| refuse(format!("{} needs a value: {}", setting.flag, setting.value_name)))?,
        };
        flags.push((setting, value));
    }

    // A flag wins over its variable; an empty value is refused rather than taken for "unset".
    let get = |setting: &'static Setting| -> Result<Option<Raw>, ConfigError> {
        let raw = match flags.iter().find(|(s, _)| s.flag == setting.flag) {
            Some((_, value)) => Raw { value: value.clone(), source: setting.flag },
            None => match env(setting.env) {
                Some(value) => Raw { value, source: setting.env },
                None => return Ok(None),
            },
        };
        if raw.value.trim().is_empty() {
            return Err(refuse(format!("{} is empty: expected {}", raw.source, setting.value_name)));
        }
        Ok(Some(raw))
    };

    let listen = match get(&LISTEN)? {
        Some(raw) => socket_addr(&raw)?,
        None => DEFAULT_LISTEN.parse().expect("the default listen address parses"),
    };
    let data = get(&DATA)?.map_or_else(|| PathBuf::from(DEFAULT_DATA), |raw| PathBuf::from(raw.value));
    let max_event_size = match get(&MAX_EVENT_SIZE)? {
        Some(raw) => match raw.value.trim().parse::<usize>() {
            Ok(bytes) if bytes > 0 => bytes,
            _ => {
                return Err(refuse(format!(
                    "{} '{}' is not a positive number of bytes",
                    raw.source, raw.value
                )))
            }
        },
        None => graveyard::DEFAULT_MAX_EVENT_SIZE,
    };
    let max_json_depth = match get(&MAX_JSON_DEPTH)? {
        Some(raw) => match raw.value.trim().parse::<usize>() {
            Ok(levels) if levels > 0 => levels,
            _ => {
                return Err(refuse(format!(
                    "{} '{}' is not a positive number of levels",
                    raw.source, raw.value
                )))
            }
        },
        None => graveyard::DEFAULT_MAX_JSON_DEPTH,
    };
    let node_id_raw = get(&NODE_ID)?;
    if let Some(raw) = &node_id_raw {
        check_node_id(&raw.value).map_err(|e| refuse(format!("{}: {}", raw.source, core_message(e))))?;
    }
    let ring = match get(&MEMBERS)? {
        Some(raw) => {
            let Some(node_id) = &node_id_raw else {
                return Err(refuse(format!(
                    "{} is given without {} (or {}): which member is this node?",
                    raw.source, NODE_ID.flag, NODE_ID.env
                )));
            };
            let ring = Ring::new(parse_members(&raw)?, DEFAULT_VNODES)
                .map_err(|e| refuse(format!("{} '{}': {}", raw.source, raw.value, core_message(e))))?;
            if ring.member(&node_id.value).is_none() {
                return Err(refuse(format!(
                    "{} does not list this node ({} is '{}')",
                    raw.source, node_id.source, node_id.value
                )));
            }
            Some(ring)
        }
        None => None,
    };
    let node_id = node_id_raw.map_or_else(|| DEFAULT_NODE_ID.to_owned(), |raw| raw.value);
    let ring = match ring {
        Some(ring) => ring,
        None => Ring::new(vec![Member::new(node_id.clone(), listen.to_string())], DEFAULT_VNODES)
            .map_err(|e| refuse(format!("this node alone cannot form a cluster: {}", core_message(e))))?,
    };

    let tls = match (get(&TLS_CERT)?, get(&TLS_KEY)?) {
        (None, None) => None,
        (Some(cert), None) => {
            return Err(refuse(format!(
                "{} is given without {} (or {}): TLS needs both",
                cert.source, TLS_KEY.flag, TLS_KEY.env
            )))
        }
        (None, Some(key)) => {
            return Err(refuse(format!(
                "{} is given without {} (or {}): TLS needs both",
                key.source, TLS_CERT.flag, TLS_CERT.env
            )))
        }
        (Some(cert), Some(key)) => Some(TlsIdentity {
            cert_pem: read_nonempty(&cert)?,
            key_pem: read_nonempty(&key)?,
            names: format!("{} / {}", cert.source, key.source),
        }),
    };
    let peer_ca = match (get(&PEER_CA)?, &tls) {
        (Some(raw), Some(_)) => Some(read_nonempty(&raw)?),
        (Some(raw), None) => {
            return Err(refuse(format!(
                "{} is given without {} and {}: members talk TLS only when this node serves it",
                raw.source, TLS_CERT.flag, TLS_KEY.flag
            )))
        }
        // A cluster on one certificate (or one self-signed certificate per machine, listed in
        // --peer-ca) is the common case: by default, members trust this node's own chain.
        (None, Some(tls)) => Some(tls.cert_pem.clone()),
        (None, None) => None,
    };
    let token = get(&TOKEN_FILE)?.map(|raw| read_token(&raw)).transpose()?;
    let master_key = get(&MASTER_KEY_FILE)?.map(|raw| read_master_key(&raw)).transpose()?;
    let metrics_listen = get(&METRICS_LISTEN)?.map(|raw| socket_addr(&raw)).transpose()?;
    let reflection = match get(&REFLECTION)? {
        None => true,
        Some(raw) => match raw.value.trim() {
            "on" => true,
            "off" => false,
            other => return Err(refuse(format!("{} '{other}' is not on or off", raw.source))),
        },
    };
    let log_filter = get(&LOG)?.map_or_else(|| "info".to_owned(), |raw| raw.value);
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log_filter) {
        let source = if flags.iter().any(|(s, _)| s.flag == LOG.flag) { LOG.flag } else { LOG.env };
        return Err(refuse(format!("{source} '{log_filter}' is not a log filter: {e}")));
    }

    Ok(Command::Serve(Box::new(Settings {
        listen,
        data,
        max_event_size,
        max_json_depth,
        node_id,
        ring,
        tls,
        peer_ca,
        token,
        master_key,
        metrics_listen,
        reflection,
        log_filter,
    })))
}

fn socket_addr(raw: &Raw) -> Result<SocketAddr, ConfigError> {
    raw.value.trim().parse().map_err(|e| {
        refuse(format!(
            "{} '{}' is not an address: expected IP:PORT such as 127.0.0.1:50051 ({e})",
            raw.source, raw.value
        ))
    })
}

/// The text of a core error refusing a setting, without the code's prefix.
fn core_message(error: graveyard::Error) -> String {
    match error {
        graveyard::Error::InvalidArgument(message) => message,
        other => other.to_string(),
    }
}

/// `id=endpoint,...`, where an endpoint is `host:port`, optionally behind `http://` or
/// `https://`. Ids, uniqueness and the rest are the ring's rules, checked by `Ring::new`.
fn parse_members(raw: &Raw) -> Result<Vec<Member>, ConfigError> {
    let bad = |why: String| refuse(format!("{} '{}': {why}", raw.source, raw.value));
    let mut members = Vec::new();
    for entry in raw.value.split(',').map(str::trim) {
        let (id, endpoint) =
            entry.split_once('=').ok_or_else(|| bad(format!("entry '{entry}' is not ID=HOST:PORT")))?;
        let (id, endpoint) = (id.trim(), endpoint.trim());
        let address = endpoint
            .strip_prefix("http://")
            .or_else(|| endpoint.strip_prefix("https://"))
            .unwrap_or(endpoint);
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| bad(format!("member '{id}': endpoint '{endpoint}' is not HOST:PORT")))?;
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(bad(format!("member '{id}': endpoint '{endpoint}' has no valid host")));
        }
        match port.parse::<u16>() {
            Ok(p) if p != 0 => {}
            _ => return Err(bad(format!("member '{id}': '{port}' is not a port (1 to 65535)"))),
        }
        members.push(Member::new(id, endpoint));
    }
    Ok(members)
}

fn read_nonempty(raw: &Raw) -> Result<Vec<u8>, ConfigError> {
    let bytes = std::fs::read(&raw.value)
        .map_err(|e| refuse(format!("{} '{}' cannot be read: {e}", raw.source, raw.value)))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(refuse(format!("{} '{}' is empty", raw.source, raw.value)));
    }
    Ok(bytes)
}

/// The token is the file's content without surrounding whitespace (editors add a final newline).
/// It must be visible ASCII: anything else could not travel in an `authorization` header, so no
/// request could ever match it. Errors say what is wrong, never what the token is.
fn read_token(raw: &Raw) -> Result<Token, ConfigError> {
    let bytes = read_nonempty(raw)?;
    let token = bytes.trim_ascii();
    if !token.iter().all(|b| b.is_ascii_graphic()) {
        return Err(refuse(format!(
            "{} '{}': the token must be one word of visible ASCII characters (no spaces, no control \
             or non-ASCII characters)",
            raw.source, raw.value
        )));
    }
    Ok(Token(token.to_vec()))
}

/// The master key: 64 hex digits (surrounding whitespace ignored) or exactly 32 raw bytes.
/// Errors never show the file's content.
fn read_master_key(raw: &Raw) -> Result<MasterKey, ConfigError> {
    let bytes = zeroize::Zeroizing::new(read_nonempty(raw)?);
    let text = bytes.trim_ascii();
    let key = if text.len() == 64 && text.iter().all(u8::is_ascii_hexdigit) {
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        for (i, pair) in text.chunks(2).enumerate() {
            let hex = std::str::from_utf8(pair).expect("hex digits are ASCII");
            key[i] = u8::from_str_radix(hex, 16).expect("two hex digits");
        }
        MasterKey::from_bytes(&key[..])
    } else if bytes.len() == 32 {
        MasterKey::from_bytes(&bytes)
    } else {
        None
    };
    key.ok_or_else(|| {
        refuse(format!("{} '{}': a master key is 64 hex digits or exactly 32 bytes", raw.source, raw.value))
    })
}

/// A master key read from its file. `Debug` hides it.
pub struct MasterKey(zeroize::Zeroizing<[u8; 32]>);

impl MasterKey {
    fn from_bytes(bytes: &[u8]) -> Option<MasterKey> {
        Some(MasterKey(zeroize::Zeroizing::new(bytes.try_into().ok()?)))
    }

    pub fn key(&self) -> graveyard::crypto::Key {
        graveyard::crypto::Key::from_bytes(&self.0[..]).expect("32 bytes")
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

pub fn usage() -> String {
    let mut text = String::from(
        "graveyard: a GraveyardDB node\n\n\
         USAGE:\n    graveyard serve [OPTIONS]\n    graveyard --help | --version\n\n\
         OPTIONS (each also read from its environment variable; the flag wins):\n",
    );
    for s in SETTINGS {
        text.push_str(&format!(
            "    {} {}\n        {}\n        env: {}\n",
            s.flag, s.value_name, s.help, s.env
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn serve(list: &[&str], env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        match parse(&args(list), |k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))? {
            Command::Serve(s) => Ok(*s),
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_a_single_loopback_node() {
        let s = serve(&["serve"], &[]).unwrap();
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert!(s.listen.ip().is_loopback());
        assert_eq!(s.data, PathBuf::from("./data"));
        assert_eq!(s.node_id, "node-1");
        assert_eq!(s.ring.members(), &[Member::new("node-1", "127.0.0.1:50051")]);
        assert!(s.tls.is_none() && s.token.is_none() && s.metrics_listen.is_none());
        assert_eq!(s.max_json_depth, graveyard::DEFAULT_MAX_JSON_DEPTH);
    }

    #[test]
    fn max_json_depth_is_a_positive_number_of_levels() {
        assert_eq!(serve(&["serve", "--max-json-depth", "64"], &[]).unwrap().max_json_depth, 64);
        assert_eq!(
            serve(&["serve"], &[("GRAVEYARD_MAX_JSON_DEPTH", " 1000 ")]).unwrap().max_json_depth,
            1000
        );
        for bad in ["0", "-1", "deep", "1.5"] {
            let err = serve(&["serve", "--max-json-depth", bad], &[]).unwrap_err().0;
            assert!(err.contains("--max-json-depth") && err.contains("positive number of levels"), "{err}");
        }
        let err = serve(&["serve"], &[("GRAVEYARD_MAX_JSON_DEPTH", "0")]).unwrap_err().0;
        assert!(err.contains("GRAVEYARD_MAX_JSON_DEPTH"), "{err}");
        assert!(usage().contains("--max-json-depth LEVELS"));
    }

    #[test]
    fn reflection_is_on_unless_turned_off() {
        assert!(serve(&["serve"], &[]).unwrap().reflection);
        assert!(!serve(&["serve", "--reflection", "off"], &[]).unwrap().reflection);
        assert!(!serve(&["serve"], &[("GRAVEYARD_REFLECTION", "off")]).unwrap().reflection);
        assert!(serve(&["serve", "--reflection=on"], &[("GRAVEYARD_REFLECTION", "off")]).unwrap().reflection);
        let err = serve(&["serve", "--reflection", "maybe"], &[]).unwrap_err().0;
        assert!(err.contains("--reflection") && err.contains("on or off"), "{err}");
        assert!(usage().contains("--reflection on|off"));
    }

    #[test]
    fn flags_win_over_the_environment() {
        let s = serve(&["serve", "--listen", "127.0.0.1:7000"], &[("GRAVEYARD_LISTEN", "127.0.0.1:8000")])
            .unwrap();
        assert_eq!(s.listen.port(), 7000);
        let s = serve(&["serve"], &[("GRAVEYARD_LISTEN", "127.0.0.1:8000")]).unwrap();
        assert_eq!(s.listen.port(), 8000);
        let s = serve(&["serve", "--data=/tmp/x"], &[]).unwrap();
        assert_eq!(s.data, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn bad_settings_name_themselves() {
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (&["serve", "--listen", "nope"], &[], "--listen"),
            (&["serve"], &[("GRAVEYARD_LISTEN", "nope")], "GRAVEYARD_LISTEN"),
            (&["serve"], &[("GRAVEYARD_METRICS_LISTEN", "1.2.3.4")], "GRAVEYARD_METRICS_LISTEN"),
            (&["serve", "--tls-cert", "/c"], &[], "--tls-key"),
            (&["serve"], &[("GRAVEYARD_TLS_KEY", "/k")], "--tls-cert"),
            (&["serve", "--token-file", "/does/not/exist"], &[], "--token-file"),
            (&["serve", "--members", "a=h:1"], &[], "--node-id"),
            (&["serve", "--node-id", "b", "--members", "a=h:1"], &[], "does not list this node"),
            (&["serve", "--node-id", "a", "--members", "a=h:1,a=h:2"], &[], "appears twice"),
            (&["serve", "--node-id", "a", "--members", "a=h:0"], &[], "not a port"),
            (&["serve", "--node-id", "a", "--members", "a=h"], &[], "HOST:PORT"),
            (&["serve", "--node-id", "a b"], &[], "--node-id"),
            (&["serve", "--listen"], &[], "needs a value"),
            (&["serve", "--bogus", "1"], &[], "--bogus"),
            (&["serve", "--data", "a", "--data", "b"], &[], "twice"),
            (&["serve"], &[("GRAVEYARD_DATA", "")], "GRAVEYARD_DATA is empty"),
            (&["serve", "--log", "a=b=c"], &[], "--log"),
        ];
        for (list, env, needle) in cases {
            let err = serve(list, env).expect_err(&format!("{list:?} {env:?} must be refused"));
            assert!(err.0.contains(needle), "{list:?}: '{}' does not mention '{needle}'", err.0);
        }
    }

    #[test]
    fn token_files_are_trimmed_and_checked_without_showing_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret-token\n").unwrap();
        let path = file.to_str().unwrap();
        let s = serve(&["serve", "--token-file", path], &[]).unwrap();
        assert_eq!(s.token.as_ref().unwrap().as_bytes(), b"s3cret-token");
        assert!(!format!("{s:?}").contains("s3cret"));

        std::fs::write(&file, " \n").unwrap();
        assert!(serve(&["serve", "--token-file", path], &[]).unwrap_err().0.contains("is empty"));
        std::fs::write(&file, "two words").unwrap();
        let err = serve(&["serve", "--token-file", path], &[]).unwrap_err().0;
        assert!(err.contains("one word") && !err.contains("two words"), "{err}");
    }

    #[test]
    fn members_list_this_node() {
        let members = "b=[::1]:50052, a=https://10.0.0.1:50051";
        let s = serve(&["serve", "--node-id", "b", "--members", members], &[]).unwrap();
        assert_eq!(s.node_id, "b");
        let expected = [Member::new("a", "https://10.0.0.1:50051"), Member::new("b", "[::1]:50052")];
        assert_eq!(s.ring.members(), &expected, "sorted by id");
    }
}
