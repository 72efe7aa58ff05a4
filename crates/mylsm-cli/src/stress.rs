//! `stress`: concurrent writers and checking readers that print an acknowledgement
//! history, and `stress --verify`, which checks a database killed mid-run against it.
//!
//! Design, for sound checks with many writers: every key belongs to one writer
//! (`w003-k0000042` is writer 3's), and a writer has one write in flight at a time, so
//! each key's history is a total order of its writer's versions. Each value names its
//! key, writer and version and carries a checksum (`value.rs`). A writer prints `try`
//! before a write and `ack` after it returns, flushing stdout each time (`history.rs`);
//! a process killed with SIGKILL loses neither what it wrote to the pipe nor, by the
//! durability contract, any acknowledged write. `check.rs` then holds the reopened
//! database to exactly that history; `tests/sigkill.rs` kills and verifies in a loop.

mod check;
mod copies;
mod history;
mod run;
mod value;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use crate::error::CliError;

/// The options of `stress`.
#[derive(Debug, Args)]
pub struct StressArgs {
    /// Writer threads; each owns an equal share of the keys.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..i64::from(value::MAX_WRITERS)))]
    writers: u32,
    /// Reader threads checking point lookups and range scans.
    #[arg(long, value_name = "N", default_value_t = 2)]
    readers: u32,
    /// Keys in all, split evenly among the writers (rounded up).
    #[arg(long, value_name = "K", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    keys: u32,
    /// How long to run, in seconds.
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    duration_s: f64,
    /// Fraction of batches written with `sync: true`.
    #[arg(long, value_name = "F", default_value_t = 0.1)]
    sync_ratio: f64,
    /// Most operations in one batch (each batch takes 1..=B distinct keys of its writer).
    #[arg(long, value_name = "B", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..))]
    batch_max: u32,
    /// Seed of the writers' and readers' random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Instead of running, check the database against HISTORY, the output of a run
    /// (killed or not), optionally preceded by the output of an earlier verify. On
    /// success prints the verified state in the same format, to carry to the next run.
    #[arg(long, value_name = "HISTORY")]
    verify: Option<PathBuf>,
    /// Take a checkpoint (into `--checkpoint-dir`) and a backup (into `--backup-to`)
    /// every S seconds while writing, bracketed in the history by `# checkpoint-...`
    /// and `# backup-...` lines (`scripts/stress_copies` checks them).
    #[arg(long, value_name = "S")]
    copy_every_s: Option<f64>,
    /// Where checkpoints go (`DIR/cp-N`).
    #[arg(long, value_name = "DIR", requires = "copy_every_s")]
    checkpoint_dir: Option<PathBuf>,
    /// The backup directory backups go to.
    #[arg(long, value_name = "DIR", requires = "copy_every_s")]
    backup_to: Option<PathBuf>,
    /// The first version the writers use (raised above any version in the database).
    #[arg(long, hide = true, default_value_t = 1)]
    first_version: u64,
    /// Most pad bytes in a value (the pad length varies per write).
    #[arg(long, hide = true, default_value_t = 64)]
    value_pad: usize,
    /// Engine `write_buffer_size`: small values make flushes constant.
    #[arg(long, hide = true)]
    write_buffer_size: Option<usize>,
    /// Engine `target_file_size`.
    #[arg(long, hide = true)]
    target_file_size: Option<u64>,
    /// Engine `l0_compaction_trigger`.
    #[arg(long, hide = true)]
    l0_trigger: Option<usize>,
    /// Engine `max_bytes_for_level_base`.
    #[arg(long, hide = true)]
    level_base: Option<u64>,
}

/// Runs `stress` (or `stress --verify`) on the database in `dir`.
pub fn stress(dir: &Path, a: &StressArgs) -> Result<(), CliError> {
    let mut options = mylsm::Options::default();
    if let Some(n) = a.write_buffer_size {
        options.write_buffer_size = n;
    }
    if let Some(n) = a.target_file_size {
        options.target_file_size = n;
    }
    if let Some(n) = a.l0_trigger {
        options.l0_compaction_trigger = n;
    }
    if let Some(n) = a.level_base {
        options.max_bytes_for_level_base = n;
    }
    if let Some(file) = &a.verify {
        let text = std::fs::read_to_string(file)
            .map_err(CliError::io(format!("cannot read {}", file.display())))?;
        options.create_if_missing = false;
        return with_db(dir, options, |db| check::verify(db, &text));
    }
    if !(0.0..=1.0).contains(&a.sync_ratio) {
        return Err(CliError::Input("stress: --sync-ratio must be within 0..=1".into()));
    }
    if !(a.duration_s.is_finite() && a.duration_s >= 0.0) {
        return Err(CliError::Input("stress: --duration-s must be a non-negative number".into()));
    }
    let keys_per_writer = a.keys.div_ceil(a.writers);
    if keys_per_writer > value::MAX_KEYS_PER_WRITER {
        return Err(CliError::Input("stress: too many keys per writer".into()));
    }
    let cfg = run::Config {
        writers: a.writers,
        readers: a.readers,
        keys_per_writer,
        duration: Duration::from_secs_f64(a.duration_s),
        sync_ratio: a.sync_ratio,
        batch_max: a.batch_max,
        seed: a.seed,
        first_version: a.first_version.max(1),
        max_pad: a.value_pad,
        copies: match a.copy_every_s {
            Some(s) if s.is_finite() && s > 0.0 => Some(copies::CopyConfig {
                every: Duration::from_secs_f64(s),
                checkpoints: a.checkpoint_dir.clone(),
                backups: a.backup_to.clone(),
            }),
            Some(_) => {
                return Err(CliError::Input("stress: --copy-every-s must be above 0".into()))
            }
            None => None,
        },
    };
    with_db(dir, options, |db| run::run(db, &cfg))
}

/// Like `crate::with_db`, with the engine options `stress` sets.
fn with_db(
    dir: &Path,
    options: mylsm::Options,
    f: impl FnOnce(&mylsm::Db) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let db = mylsm::Db::open(dir, options).map_err(|source| CliError::open(dir, source))?;
    let result = f(&db);
    let closed = db.close();
    result?;
    Ok(closed?)
}
