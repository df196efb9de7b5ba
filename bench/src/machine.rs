//! Facts about the machine that decide how to read the numbers: cores, and what an fsync costs
//! on the filesystem the stores write to (every durable commit pays at least one).

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::stores::Result;

#[derive(Debug, Clone)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub os: String,
    /// Filesystem type and device of the data directory, e.g. "ext4 on /dev/vda".
    pub filesystem: String,
    /// True when the data directory lives in memory, where fsync costs nothing and the
    /// durable numbers mean little.
    pub in_memory: bool,
    /// Median and 99th percentile of `write 4 KiB + fdatasync` in the data directory, µs.
    pub fsync_p50_us: u64,
    pub fsync_p99_us: u64,
    /// MB/s made durable by `write 128 KiB + fdatasync` over a file of zeros, as a commit log
    /// writes its records (`synced_rate`): the most the disk takes from a log of such records.
    /// Not measured for a `--quick` run (the SDKs' benches run one per workload, and it writes
    /// 64 MiB).
    pub synced_mb_s: Option<f64>,
    /// 1-minute load average when the run started: other work on the machine skews results.
    pub load: Option<String>,
}

impl Machine {
    /// Probes the machine and the disk of `data_dir`; `rate`: also the MB/s it makes durable.
    pub fn probe(data_dir: &Path, rate: bool) -> Result<Machine> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let os = match fs::read_to_string("/proc/sys/kernel/osrelease") {
            Ok(release) => format!("{} {}", std::env::consts::OS, release.trim()),
            Err(_) => std::env::consts::OS.to_owned(),
        };
        let (fs_type, device) = mount_of(data_dir).unwrap_or_else(|| ("unknown".to_owned(), "?".to_owned()));
        let in_memory = matches!(fs_type.as_str(), "tmpfs" | "ramfs");
        let (fsync_p50_us, fsync_p99_us) = fsync_cost(data_dir)?;
        let synced_mb_s = if rate { Some(synced_rate(data_dir, SYNCED_RECORD, SYNCED_TOTAL)?) } else { None };
        let load = load_average();
        Ok(Machine {
            cores,
            cpu,
            os,
            filesystem: format!("{fs_type} on {device}"),
            in_memory,
            fsync_p50_us,
            fsync_p99_us,
            synced_mb_s,
            load,
        })
    }
}

impl Machine {
    /// The `machine` and `disk` lines of a report header; `data_dir` is the directory probed.
    pub fn facts(&self, data_dir: &Path) -> Vec<(String, String)> {
        vec![
            (
                "machine".to_owned(),
                format!(
                    "{} cores, {}, {}; load average {} at start",
                    self.cores,
                    self.cpu,
                    self.os,
                    self.load.as_deref().unwrap_or("unknown")
                ),
            ),
            (
                "disk".to_owned(),
                format!(
                    "{} ({}); write 4 KiB + fdatasync: p50 {} µs, p99 {} µs; \
                     write {} KiB + fdatasync over a file of zeros: {}",
                    data_dir.display(),
                    self.filesystem,
                    self.fsync_p50_us,
                    self.fsync_p99_us,
                    SYNCED_RECORD / 1024,
                    self.synced_mb_s
                        .map_or_else(|| "not measured (--quick)".to_owned(), |r| format!("{r:.0} MB/s"))
                ),
            ),
        ]
    }

    /// Warns on stderr when `data_dir` is in memory, where fsync costs nothing.
    pub fn warn_if_in_memory(&self, data_dir: &Path) {
        if self.in_memory {
            eprintln!(
                "WARNING: {} is in memory ({}): fsync is free there, so the durable numbers are not. \
                 Use --dir on a disk.",
                data_dir.display(),
                self.filesystem
            );
        }
    }
}

/// The 1-minute load average, from /proc/loadavg; None where that file does not exist.
pub fn load_average() -> Option<String> {
    fs::read_to_string("/proc/loadavg").ok().and_then(|l| l.split_whitespace().next().map(str::to_owned))
}

/// The filesystem type and device of the mount holding `path` (the longest mount point that
/// is a prefix of it), from /proc/mounts. None where that file does not exist.
fn mount_of(path: &Path) -> Option<(String, String)> {
    let path = path.canonicalize().ok()?;
    let mounts = fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (device, mount_point, fs_type) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(mount_point).then(|| (mount_point.len(), fs_type.to_owned(), device.to_owned()))
        })
        .max_by_key(|(len, _, _)| *len)
        .map(|(_, fs_type, device)| (fs_type, device))
}

/// Times 50 rounds of writing 4 KiB to a file in `dir` and `fdatasync`ing it: roughly the
/// floor under one durable commit on this disk.
fn fsync_cost(dir: &Path) -> Result<(u64, u64)> {
    let file_path = dir.join("fsync-probe");
    let mut file = fs::File::create(&file_path)?;
    let block = [0x5au8; 4096];
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for _ in 0..50 {
        let started = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        hist.saturating_record((started.elapsed().as_micros() as u64).max(1));
    }
    drop(file);
    fs::remove_file(&file_path)?;
    Ok((hist.value_at_quantile(0.5), hist.value_at_quantile(0.99)))
}

/// About one batch-100 commit's log record (420 events of ~250 bytes in the runs measured).
const SYNCED_RECORD: usize = 128 * 1024;
const SYNCED_TOTAL: usize = 64 * 1024 * 1024;

/// MB/s made durable by writing `total` bytes, `record` at a time with an `fdatasync` after
/// each, over a file already filled with zeros and synced (as a commit-log segment is, so each
/// sync flushes data, never the file's size). The ceiling a log of such records meets on this
/// disk, before any other write (LMDB's checkpoints write each event a second time).
fn synced_rate(dir: &Path, record: usize, total: usize) -> Result<f64> {
    use std::os::unix::fs::FileExt as _;
    let file_path = dir.join("synced-rate-probe");
    let file = fs::File::create(&file_path)?;
    let zeros = vec![0u8; 1 << 20];
    for at in (0..total).step_by(zeros.len()) {
        file.write_all_at(&zeros, at as u64)?;
    }
    file.sync_all()?;
    let data = vec![0x5au8; record];
    let started = Instant::now();
    for at in (0..total).step_by(record) {
        file.write_all_at(&data, at as u64)?;
        file.sync_data()?;
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(file);
    fs::remove_file(&file_path)?;
    Ok(total as f64 / seconds / 1e6)
}
