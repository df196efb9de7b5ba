//! The node's settings (`graveyard serve`): command-line flags over environment variables over
//! defaults. clap parses them (the table below defines the flags); every setting is checked
//! here, files included, so that a bad one stops the node at start with a message naming it (as
//! the user wrote it: the flag or the variable), never later.

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
const DURABILITY: Setting = Setting {
    flag: "--durability",
    env: "GRAVEYARD_DURABILITY",
    value_name: "fsync|no-fsync-unsafe",
    help: "when an append is acknowledged: fsync, once its commit is on disk (survives a power \
           cut); or no-fsync-unsafe, once it is in the operating system's buffers (survives a \
           crash of the node, not of the machine: for tests and throwaway data) [default: fsync]",
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
const ADMIN_LISTEN: Setting = Setting {
    flag: "--admin-listen",
    env: "GRAVEYARD_ADMIN_LISTEN",
    value_name: "IP:PORT",
    help: "address to serve the read-only admin API (/api) and the web console (/) on, behind the token \
           when one is set, over TLS with --tls-cert when the node serves TLS [default: off]",
};
const LOG: Setting = Setting {
    flag: "--log",
    env: "GRAVEYARD_LOG",
    value_name: "FILTER",
    help: "log filter, tracing-subscriber EnvFilter syntax [default: info,scylla=warn]",
};

const REFLECTION: Setting = Setting {
    flag: "--reflection",
    env: "GRAVEYARD_REFLECTION",
    value_name: "on|off",
    help: "serve gRPC server reflection (v1 and v1alpha: grpcurl and other tools discover the API); \
           behind the token when one is set [default: on]",
};
const OTLP_ENDPOINT: Setting = Setting {
    flag: "--otlp-endpoint",
    env: "GRAVEYARD_OTLP_ENDPOINT",
    value_name: "URL",
    help: "send traces over OTLP/gRPC to the collector at this http:// or https:// URL: spans of appends, \
           reads, forwards and subscription deliveries; the OTEL_EXPORTER_OTLP_* variables (headers, \
           timeout, compression) and OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES apply [default: off]",
};
const OTLP_CA_FILE: Setting = Setting {
    flag: "--otlp-ca-file",
    env: "GRAVEYARD_OTLP_CA_FILE",
    value_name: "FILE",
    help: "PEM certificates trusted for an https:// --otlp-endpoint [default: the system's roots]",
};
const OTLP_SAMPLE_RATIO: Setting = Setting {
    flag: "--otlp-sample-ratio",
    env: "GRAVEYARD_OTLP_SAMPLE_RATIO",
    value_name: "RATIO",
    help: "share of the traces starting at this node that are recorded, 0 to 1; a request whose caller \
           sends a W3C traceparent follows the caller's decision [default: 1]",
};

const STORAGE: Setting = Setting {
    flag: "--storage",
    env: "GRAVEYARD_STORAGE",
    value_name: "lmdb|cql",
    help: "where commits are made durable: lmdb, the store's own commit log on this disk; or cql, a \
           commit log in Apache Cassandra (or ScyllaDB) that replicates every commit before it is \
           acknowledged, the store under --data being a replica rebuilt from it (docs/cql.md) \
           [default: lmdb]",
};
const CQL_CONTACT_POINTS: Setting = Setting {
    flag: "--cql-contact-points",
    env: "GRAVEYARD_CQL_CONTACT_POINTS",
    value_name: "HOST:PORT,...",
    help: "with --storage cql: some nodes of the Cassandra cluster [default: 127.0.0.1:9042]",
};
const CQL_KEYSPACE: Setting = Setting {
    flag: "--cql-keyspace",
    env: "GRAVEYARD_CQL_KEYSPACE",
    value_name: "NAME",
    help: "with --storage cql: the keyspace of the commit logs, created when absent; each node \
           writes the log named after its --node-id [default: graveyard]",
};
const CQL_REPLICATION: Setting = Setting {
    flag: "--cql-replication",
    env: "GRAVEYARD_CQL_REPLICATION",
    value_name: "N|DC=N,...",
    help: "with --storage cql: how a keyspace this node creates is replicated: N replicas \
           (SimpleStrategy) or N per datacenter (NetworkTopologyStrategy) [default: 1]",
};
const CQL_CONSISTENCY: Setting = Setting {
    flag: "--cql-consistency",
    env: "GRAVEYARD_CQL_CONSISTENCY",
    value_name: "LEVEL",
    help: "with --storage cql: consistency of the log's writes and reads: quorum, local_quorum or \
           all; the serial level of its lightweight transactions follows (serial, or local_serial \
           with local_quorum) [default: quorum]",
};
const CQL_USER: Setting = Setting {
    flag: "--cql-user",
    env: "GRAVEYARD_CQL_USER",
    value_name: "NAME",
    help: "with --storage cql: the user to authenticate as, with --cql-password-file [default: none]",
};
const CQL_PASSWORD_FILE: Setting = Setting {
    flag: "--cql-password-file",
    env: "GRAVEYARD_CQL_PASSWORD_FILE",
    value_name: "FILE",
    help: "with --storage cql: file holding the password of --cql-user [default: none]",
};

const CQL_TLS_CA: Setting = Setting {
    flag: "--cql-tls-ca",
    env: "GRAVEYARD_CQL_TLS_CA",
    value_name: "FILE",
    help: "with --storage cql: connect to Cassandra over TLS, trusting the PEM certificates in FILE to \
           sign its nodes' certificates [default: plain TCP]",
};
const CQL_TLS_SERVER_NAME: Setting = Setting {
    flag: "--cql-tls-server-name",
    env: "GRAVEYARD_CQL_TLS_SERVER_NAME",
    value_name: "NAME",
    help: "with --cql-tls-ca: the name every Cassandra node's certificate must be valid for \
           [default: each node's IP address]",
};

const SETTINGS: [&Setting; 28] = [
    &LISTEN,
    &DATA,
    &MAX_EVENT_SIZE,
    &MAX_JSON_DEPTH,
    &DURABILITY,
    &NODE_ID,
    &MEMBERS,
    &TLS_CERT,
    &TLS_KEY,
    &PEER_CA,
    &TOKEN_FILE,
    &MASTER_KEY_FILE,
    &METRICS_LISTEN,
    &ADMIN_LISTEN,
    &REFLECTION,
    &OTLP_ENDPOINT,
    &OTLP_CA_FILE,
    &OTLP_SAMPLE_RATIO,
    &LOG,
    &STORAGE,
    &CQL_CONTACT_POINTS,
    &CQL_KEYSPACE,
    &CQL_REPLICATION,
    &CQL_CONSISTENCY,
    &CQL_USER,
    &CQL_PASSWORD_FILE,
    &CQL_TLS_CA,
    &CQL_TLS_SERVER_NAME,
];

/// Everything a node needs to start, checked.
#[derive(Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data: PathBuf,
    pub max_event_size: usize,
    /// `Options::max_json_depth` of the store.
    pub max_json_depth: usize,
    /// `Options::durability` of the store.
    pub durability: graveyard::Durability,
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
    /// The admin API and the web console.
    pub admin_listen: Option<SocketAddr>,
    /// Serve gRPC server reflection.
    pub reflection: bool,
    /// Traces over OTLP.
    pub otlp: Option<Otlp>,
    pub log_filter: String,
    /// The Cassandra-backed commit log of `--storage cql`; `None` for the store's own.
    pub cql: Option<graveyard_cql::CqlOptions>,
}

/// Where and how the node sends its traces.
#[derive(Debug)]
pub struct Otlp {
    /// The collector's URL, `http://` or `https://`.
    pub endpoint: String,
    /// The URL is an `https://` one: the exporter speaks TLS.
    pub https: bool,
    /// Certificates trusted for an `https://` collector, instead of the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// Share of the traces starting here that are recorded.
    pub sample_ratio: f64,
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
#[derive(Debug, Clone)]
struct Raw {
    value: String,
    source: &'static str,
}

impl Setting {
    /// clap's id of the setting: its flag without the dashes.
    fn id(&self) -> &'static str {
        self.flag.trim_start_matches('-')
    }
}

/// `graveyard serve`'s settings as the command line and the environment gave them, each with
/// the name it came under; [`ServeArgs::settings`] checks them.
#[derive(Debug, Clone, Default)]
pub struct ServeArgs {
    given: Vec<(&'static str, Raw)>,
}

impl clap::Args for ServeArgs {
    fn augment_args(command: clap::Command) -> clap::Command {
        SETTINGS.iter().fold(command, |command, s| {
            command.arg(
                clap::Arg::new(s.id())
                    .long(s.id())
                    .env(s.env)
                    .value_name(s.value_name)
                    .help(s.help)
                    .allow_negative_numbers(true)
                    .action(clap::ArgAction::Set),
            )
        })
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

impl clap::FromArgMatches for ServeArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut given = Vec::new();
        for s in SETTINGS {
            let raw = match matches.get_one::<String>(s.id()) {
                Some(value) => {
                    let from_env =
                        matches.value_source(s.id()) == Some(clap::parser::ValueSource::EnvVariable);
                    Raw { value: value.clone(), source: if from_env { s.env } else { s.flag } }
                }
                // clap takes an empty variable for an unset one; a node refuses it instead, as
                // `GRAVEYARD_DATA=` is more likely a mistake than a wish for the default.
                None => match std::env::var_os(s.env) {
                    Some(value) if value.is_empty() => Raw { value: String::new(), source: s.env },
                    _ => continue,
                },
            };
            given.push((s.flag, raw));
        }
        Ok(ServeArgs { given })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl ServeArgs {
    /// The node's settings, checked (files read, addresses parsed, the ring built).
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        parse(self)
    }
}

fn parse(args: &ServeArgs) -> Result<Settings, ConfigError> {
    // An empty value is refused rather than taken for "unset".
    let get = |setting: &'static Setting| -> Result<Option<Raw>, ConfigError> {
        let Some((_, raw)) = args.given.iter().find(|(flag, _)| *flag == setting.flag) else {
            return Ok(None);
        };
        if raw.value.trim().is_empty() {
            return Err(refuse(format!("{} is empty: expected {}", raw.source, setting.value_name)));
        }
        Ok(Some(raw.clone()))
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
    let durability = match get(&DURABILITY)? {
        None => graveyard::Durability::Fsync,
        Some(raw) => match raw.value.trim() {
            "fsync" => graveyard::Durability::Fsync,
            "no-fsync-unsafe" => graveyard::Durability::NoFsyncUnsafe,
            other => return Err(refuse(format!("{} '{other}' is not fsync or no-fsync-unsafe", raw.source))),
        },
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
    let admin_listen = get(&ADMIN_LISTEN)?.map(|raw| socket_addr(&raw)).transpose()?;
    let reflection = match get(&REFLECTION)? {
        None => true,
        Some(raw) => match raw.value.trim() {
            "on" => true,
            "off" => false,
            other => return Err(refuse(format!("{} '{other}' is not on or off", raw.source))),
        },
    };
    let otlp = otlp(get(&OTLP_ENDPOINT)?, get(&OTLP_CA_FILE)?, get(&OTLP_SAMPLE_RATIO)?)?;
    // The CQL driver logs every connection it opens at info (Cassandra sends no ScyllaDB
    // sharding information): its warnings are what an operator needs.
    let log_filter = get(&LOG)?.map_or_else(|| "info,scylla=warn".to_owned(), |raw| raw.value);
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log_filter) {
        let source = get(&LOG)?.map_or(LOG.flag, |raw| raw.source);
        return Err(refuse(format!("{source} '{log_filter}' is not a log filter: {e}")));
    }

    let cql = cql_settings(&get, &node_id, get(&NODE_ID)?.is_some(), master_key.is_some())?;
    if let (Some(_), Some(raw)) = (&cql, get(&DURABILITY)?) {
        // Silently meaningless otherwise: Cassandra's own settings decide when its writes are durable.
        return Err(refuse(format!(
            "{} is for the store's own commit log; with --storage cql every commit is acknowledged \
             once Cassandra has it (its commitlog_sync decides when that is on disk)",
            raw.source
        )));
    }

    Ok(Settings {
        listen,
        data,
        max_event_size,
        max_json_depth,
        durability,
        node_id,
        ring,
        tls,
        peer_ca,
        token,
        master_key,
        metrics_listen,
        admin_listen,
        reflection,
        otlp,
        log_filter,
        cql,
    })
}

/// The settings of `--storage cql`, checked; refused when given without it.
fn cql_settings(
    get: &dyn Fn(&'static Setting) -> Result<Option<Raw>, ConfigError>,
    node_id: &str,
    node_id_given: bool,
    encrypted: bool,
) -> Result<Option<graveyard_cql::CqlOptions>, ConfigError> {
    use graveyard_cql::{Consistency, CqlOptions, SerialConsistency};
    match get(&STORAGE)? {
        None => {}
        Some(raw) if raw.value.trim() == "lmdb" => {}
        Some(raw) if raw.value.trim() == "cql" => {
            if encrypted {
                return Err(refuse(format!(
                    "{} cql cannot be used with {} (yet): the keyring would stay on this disk while the \
                     commits are replicated",
                    raw.source, MASTER_KEY_FILE.flag
                )));
            }
            let contact_points: Vec<String> = match get(&CQL_CONTACT_POINTS)? {
                None => vec!["127.0.0.1:9042".to_owned()],
                Some(raw) => {
                    let points: Vec<String> = raw
                        .value
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect();
                    if points.is_empty() || points.iter().any(|p| !p.contains(':')) {
                        return Err(refuse(format!(
                            "{} '{}' is not a list of HOST:PORT",
                            raw.source, raw.value
                        )));
                    }
                    points
                }
            };
            let keyspace = get(&CQL_KEYSPACE)?.map_or_else(|| "graveyard".to_owned(), |raw| raw.value);
            let mut options = CqlOptions::new(contact_points, keyspace, node_id);
            if let Some(raw) = get(&CQL_REPLICATION)? {
                options.replication = replication(&raw)?;
            }
            if let Some(raw) = get(&CQL_CONSISTENCY)? {
                let (consistency, serial) = match raw.value.trim() {
                    "quorum" => (Consistency::Quorum, SerialConsistency::Serial),
                    "local_quorum" => (Consistency::LocalQuorum, SerialConsistency::LocalSerial),
                    "all" => (Consistency::All, SerialConsistency::Serial),
                    other => {
                        return Err(refuse(format!(
                            "{} '{other}' is not quorum, local_quorum or all (a level below a \
                             quorum could acknowledge a commit that a failover then does not see)",
                            raw.source
                        )))
                    }
                };
                options.consistency = consistency;
                options.serial_consistency = serial;
            }
            options.credentials = match (get(&CQL_USER)?, get(&CQL_PASSWORD_FILE)?) {
                (None, None) => None,
                (Some(user), Some(file)) => {
                    let password = std::fs::read_to_string(&file.value)
                        .map_err(|e| refuse(format!("{} '{}': {e}", file.source, file.value)))?;
                    Some((user.value, password.trim_end_matches(['\n', '\r']).to_owned()))
                }
                (Some(user), None) => {
                    return Err(refuse(format!(
                        "{} is given without {}",
                        user.source, CQL_PASSWORD_FILE.flag
                    )))
                }
                (None, Some(file)) => {
                    return Err(refuse(format!("{} is given without {}", file.source, CQL_USER.flag)))
                }
            };
            options.tls = match (get(&CQL_TLS_CA)?, get(&CQL_TLS_SERVER_NAME)?) {
                (None, None) => None,
                (Some(ca), name) => {
                    let ca_pem = std::fs::read(&ca.value)
                        .map_err(|e| refuse(format!("{} '{}': {e}", ca.source, ca.value)))?;
                    Some(graveyard_cql::CqlTls { ca_pem, server_name: name.map(|raw| raw.value) })
                }
                (None, Some(name)) => {
                    return Err(refuse(format!("{} is given without {}", name.source, CQL_TLS_CA.flag)))
                }
            };
            if !node_id_given {
                return Err(refuse(format!(
                    "{} cql needs {}: it names this node's commit log in the keyspace, and nodes that \
                     share a log (the default id) would fence each other's writes",
                    raw.source, NODE_ID.flag
                )));
            }
            return Ok(Some(options));
        }
        Some(raw) => return Err(refuse(format!("{} '{}' is not lmdb or cql", raw.source, raw.value))),
    }
    for setting in SETTINGS.iter().filter(|s| s.flag.starts_with("--cql-")) {
        if let Some(raw) = get(setting)? {
            return Err(refuse(format!("{} is given without {} cql", raw.source, STORAGE.flag)));
        }
    }
    Ok(None)
}

/// `N` (SimpleStrategy) or `DC=N,...` (NetworkTopologyStrategy).
fn replication(raw: &Raw) -> Result<graveyard_cql::Replication, ConfigError> {
    let bad = || refuse(format!("{} '{}' is not N or DC=N,... with N at least 1", raw.source, raw.value));
    let count = |n: &str| n.trim().parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(bad);
    if !raw.value.contains('=') {
        return Ok(graveyard_cql::Replication::Simple(count(&raw.value)?));
    }
    let dcs = raw
        .value
        .split(',')
        .map(|pair| match pair.split_once('=') {
            Some((dc, n)) if !dc.trim().is_empty() => Ok((dc.trim().to_owned(), count(n)?)),
            _ => Err(bad()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(graveyard_cql::Replication::NetworkTopology(dcs))
}

fn otlp(
    endpoint: Option<Raw>,
    ca_file: Option<Raw>,
    sample_ratio: Option<Raw>,
) -> Result<Option<Otlp>, ConfigError> {
    let Some(endpoint) = endpoint else {
        if let Some(raw) = ca_file.or(sample_ratio) {
            return Err(refuse(format!(
                "{} is given without {} (or {}): where should traces go?",
                raw.source, OTLP_ENDPOINT.flag, OTLP_ENDPOINT.env
            )));
        }
        return Ok(None);
    };
    let url = endpoint.value.trim();
    let bad = |why: &str| {
        refuse(format!("{} '{}' is not a collector's URL: {why}", endpoint.source, endpoint.value))
    };
    let uri: http::Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
    let https = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("https") => true,
        Some("http") => false,
        _ => {
            return Err(bad("expected http://HOST:PORT or https://HOST:PORT, such as http://127.0.0.1:4317"))
        }
    };
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("it names no host"));
    }
    // Without one the exporter would dial 80 or 443, where no collector listens by default.
    if uri.port_u16().is_none() {
        return Err(bad("it names no port (OTLP over gRPC listens on 4317 by default)"));
    }
    let ca_pem = match ca_file {
        Some(raw) if !https => {
            return Err(refuse(format!(
                "{} is given but {} '{}' is not an https:// URL",
                raw.source, endpoint.source, endpoint.value
            )))
        }
        Some(raw) => {
            let pem = read_nonempty(&raw)?;
            // A key or a DER file would leave the exporter trusting nothing, and every export
            // would fail; refused now instead.
            if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                return Err(refuse(format!("{} '{}' holds no PEM certificate", raw.source, raw.value)));
            }
            Some(pem)
        }
        None => None,
    };
    let sample_ratio = match sample_ratio {
        None => 1.0,
        Some(raw) => match raw.value.trim().parse::<f64>() {
            Ok(ratio) if (0.0..=1.0).contains(&ratio) => ratio,
            _ => return Err(refuse(format!("{} '{}' is not a ratio from 0 to 1", raw.source, raw.value))),
        },
    };
    Ok(Some(Otlp { endpoint: url.to_owned(), https, ca_pem, sample_ratio }))
}

/// The token in the file at `path`, checked as a node checks its own (the client commands'
/// `--token-file`); `source` names the setting in errors.
pub fn token_file(path: &str, source: &'static str) -> Result<Token, ConfigError> {
    read_token(&Raw { value: path.to_owned(), source })
}

/// The master key in the file at `path`, checked as a node checks its own.
pub fn master_key_file(path: &str, source: &'static str) -> Result<MasterKey, ConfigError> {
    read_master_key(&Raw { value: path.to_owned(), source })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The process environment is shared by the tests of this binary: the ones that set it
    /// take turns.
    static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Parses `list` as the command line with exactly the `env` variables of the node set.
    fn serve(list: &[&str], env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        use clap::Parser;
        let _turn = ENV.lock().unwrap_or_else(|e| e.into_inner());
        for s in SETTINGS {
            std::env::remove_var(s.env);
        }
        for (name, value) in env {
            std::env::set_var(name, value);
        }
        let parsed =
            crate::cli::Cli::try_parse_from(std::iter::once("graveyard").chain(list.iter().copied()));
        let outcome = match parsed {
            Ok(crate::cli::Cli { command: crate::cli::Command::Serve(args) }) => args.settings(),
            Ok(other) => panic!("expected serve, got {other:?}"),
            Err(e) => Err(ConfigError(e.to_string())),
        };
        for (name, _) in env {
            std::env::remove_var(name);
        }
        outcome
    }

    /// `graveyard serve --help`.
    fn usage() -> String {
        use clap::CommandFactory;
        let mut command = crate::cli::Cli::command();
        command.find_subcommand_mut("serve").expect("serve").render_long_help().to_string()
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
    fn storage_is_lmdb_unless_cql_is_asked_for_with_its_settings() {
        assert!(serve(&["serve"], &[]).unwrap().cql.is_none());
        assert!(serve(&["serve", "--storage", "lmdb"], &[]).unwrap().cql.is_none());
        let s = serve(&["serve", "--storage", "cql", "--node-id", "n1"], &[]).unwrap();
        let cql = s.cql.unwrap();
        assert_eq!(cql.contact_points, vec!["127.0.0.1:9042"]);
        assert_eq!((cql.keyspace.as_str(), cql.log.as_str()), ("graveyard", "n1"), "one log per node id");
        assert_eq!(cql.replication, graveyard_cql::Replication::Simple(1));
        assert_eq!(cql.consistency, graveyard_cql::Consistency::Quorum);

        let password = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(password.path(), "s3cret\n").unwrap();
        let s = serve(
            &[
                "serve",
                "--storage",
                "cql",
                "--node-id",
                "n2",
                "--cql-contact-points",
                "10.0.0.1:9042, 10.0.0.2:9042",
                "--cql-replication",
                "dc1=3,dc2=2",
                "--cql-consistency",
                "local_quorum",
                "--cql-user",
                "gy",
                "--cql-password-file",
                password.path().to_str().unwrap(),
            ],
            &[("GRAVEYARD_CQL_KEYSPACE", "events")],
        )
        .unwrap();
        let cql = s.cql.unwrap();
        assert_eq!(cql.contact_points, vec!["10.0.0.1:9042", "10.0.0.2:9042"]);
        assert_eq!(cql.keyspace, "events");
        assert_eq!(
            cql.replication,
            graveyard_cql::Replication::NetworkTopology(vec![("dc1".into(), 3), ("dc2".into(), 2)])
        );
        assert_eq!(cql.serial_consistency, graveyard_cql::SerialConsistency::LocalSerial);
        assert_eq!(cql.credentials, Some(("gy".to_owned(), "s3cret".to_owned())));
        assert!(!format!("{cql:?}").contains("s3cret"), "the password never reaches a log");
        assert!(cql.tls.is_none());

        let ca = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca.path(), "-----BEGIN CERTIFICATE-----\n").unwrap();
        let ca_path = ca.path().to_str().unwrap();
        let args = ["serve", "--storage", "cql", "--node-id", "n1", "--cql-tls-ca", ca_path];
        let tls = serve(&args, &[("GRAVEYARD_CQL_TLS_SERVER_NAME", "cassandra.internal")])
            .unwrap()
            .cql
            .unwrap()
            .tls
            .unwrap();
        assert_eq!(tls.server_name.as_deref(), Some("cassandra.internal"));
        assert_eq!(tls.ca_pem, b"-----BEGIN CERTIFICATE-----\n");

        let refused = [
            (vec!["--storage", "cassandra"], "is not lmdb or cql"),
            (vec!["--cql-keyspace", "k"], "--cql-keyspace is given without --storage cql"),
            (vec!["--storage", "cql", "--cql-replication", "0"], "N at least 1"),
            (vec!["--storage", "cql", "--cql-replication", "dc1=x"], "N at least 1"),
            (vec!["--storage", "cql", "--cql-consistency", "one"], "below a quorum"),
            (vec!["--storage", "cql", "--cql-contact-points", "nohost"], "HOST:PORT"),
            (vec!["--storage", "cql", "--cql-user", "gy"], "without --cql-password-file"),
            (vec!["--storage", "cql", "--cql-tls-server-name", "db"], "without --cql-tls-ca"),
            (vec!["--storage", "cql", "--cql-tls-ca", "/no/such/ca.pem"], "/no/such/ca.pem"),
            (vec!["--storage", "cql", "--cql-consistency", "each_quorum"], "below a quorum"),
            (vec!["--storage", "cql"], "needs --node-id"),
        ];
        for (args, message) in refused {
            let list: Vec<&str> = std::iter::once("serve").chain(args.iter().copied()).collect();
            let err = serve(&list, &[]).unwrap_err().0;
            assert!(err.contains(message), "{args:?}: {err}");
        }
        let key = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(key.path(), "11".repeat(32)).unwrap();
        let err =
            serve(&["serve", "--storage", "cql", "--master-key-file", key.path().to_str().unwrap()], &[])
                .unwrap_err()
                .0;
        assert!(err.contains("--master-key-file"), "{err}");
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
        assert!(usage().contains("--max-json-depth <LEVELS>"));
    }

    #[test]
    fn durability_is_fsync_unless_asked_otherwise() {
        use graveyard::Durability;
        assert_eq!(serve(&["serve"], &[]).unwrap().durability, Durability::Fsync);
        let unsafe_ = serve(&["serve", "--durability", "no-fsync-unsafe"], &[]).unwrap();
        assert_eq!(unsafe_.durability, Durability::NoFsyncUnsafe);
        let from_env = serve(&["serve"], &[("GRAVEYARD_DURABILITY", " no-fsync-unsafe ")]).unwrap();
        assert_eq!(from_env.durability, Durability::NoFsyncUnsafe);
        let flag_wins =
            serve(&["serve", "--durability=fsync"], &[("GRAVEYARD_DURABILITY", "no-fsync-unsafe")]);
        assert_eq!(flag_wins.unwrap().durability, Durability::Fsync);
        let empty = serve(&["serve", "--durability", ""], &[]).unwrap_err().0;
        assert!(empty.contains("--durability"), "{empty}");
        for bad in ["nosync", "FSYNC", "no-fsync"] {
            let err = serve(&["serve", "--durability", bad], &[]).unwrap_err().0;
            assert!(err.contains("--durability") && err.contains("fsync or no-fsync-unsafe"), "{err}");
        }
        let cql = ["serve", "--storage", "cql", "--node-id", "c1", "--durability", "no-fsync-unsafe"];
        let err = serve(&cql, &[]).unwrap_err().0;
        assert!(err.contains("--durability") && err.contains("--storage cql"), "{err}");
        assert!(
            usage().contains("--durability <fsync|no-fsync-unsafe>")
                && usage().contains("GRAVEYARD_DURABILITY")
        );
    }

    #[test]
    fn reflection_is_on_unless_turned_off() {
        assert!(serve(&["serve"], &[]).unwrap().reflection);
        assert!(!serve(&["serve", "--reflection", "off"], &[]).unwrap().reflection);
        assert!(!serve(&["serve"], &[("GRAVEYARD_REFLECTION", "off")]).unwrap().reflection);
        assert!(serve(&["serve", "--reflection=on"], &[("GRAVEYARD_REFLECTION", "off")]).unwrap().reflection);
        let err = serve(&["serve", "--reflection", "maybe"], &[]).unwrap_err().0;
        assert!(err.contains("--reflection") && err.contains("on or off"), "{err}");
        assert!(usage().contains("--reflection <on|off>") && usage().contains("GRAVEYARD_REFLECTION"));
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
            (&["serve", "--listen"], &[], "--listen"),
            (&["serve", "--bogus", "1"], &[], "--bogus"),
            (&["serve", "--data", "a", "--data", "b"], &[], "multiple times"),
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
    fn the_admin_listener_is_an_address() {
        assert_eq!(
            serve(&["serve", "--admin-listen", "0.0.0.0:8080"], &[]).unwrap().admin_listen.unwrap().port(),
            8080
        );
        assert!(serve(&["serve"], &[]).unwrap().admin_listen.is_none());
        let err = serve(&["serve"], &[("GRAVEYARD_ADMIN_LISTEN", "nowhere")]).unwrap_err().0;
        assert!(err.contains("GRAVEYARD_ADMIN_LISTEN") && err.contains("not an address"), "{err}");
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
