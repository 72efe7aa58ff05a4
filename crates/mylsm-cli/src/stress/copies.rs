//! Checkpoints and backups taken while `stress` writes, for `scripts/stress_copies` and
//! `tests/stress_copies.rs` to check afterwards.
//!
//! Each copy is bracketed in the history by `# checkpoint-begin N PATH` and
//! `# checkpoint-end N SEQNO` (or `# backup-begin N` and `# backup-end N ID`). The copy
//! captures the database at one instant between the two lines, so the history up to
//! the begin line, a `window` line, then the rest up to the end line, is what the copy
//! must hold (`history.rs`): every batch acknowledged before the begin line, and per
//! writer a prefix of the batches tried after.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mylsm::backup::BackupEngine;
use mylsm::Db;

use super::run::emit;
use crate::error::CliError;

/// Where and how often copies are taken.
#[derive(Debug, Clone)]
pub struct CopyConfig {
    pub every: Duration,
    /// Checkpoints go to `DIR/cp-N`.
    pub checkpoints: Option<PathBuf>,
    /// Backups go to this backup directory.
    pub backups: Option<PathBuf>,
}

/// Takes a checkpoint and a backup (those configured) every `cfg.every` until `stop`.
pub fn run(db: &Db, cfg: &CopyConfig, stop: &AtomicBool) -> Result<u64, CliError> {
    let engine = cfg.backups.as_deref().map(BackupEngine::open).transpose()?;
    let mut n = 0u64;
    let mut next = Instant::now() + cfg.every;
    while !stop.load(Ordering::Acquire) {
        if Instant::now() < next {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        n += 1;
        if let Some(dir) = &cfg.checkpoints {
            let path = dir.join(format!("cp-{n}"));
            emit(&format!("# checkpoint-begin {n} {}\n", path.display()))?;
            let info = db.checkpoint(&path, Default::default())?;
            emit(&format!("# checkpoint-end {n} {}\n", info.seqno))?;
        }
        if let Some(engine) = &engine {
            emit(&format!("# backup-begin {n}\n"))?;
            let info = engine.create(db)?;
            emit(&format!("# backup-end {n} {}\n", info.id))?;
        }
        next = Instant::now() + cfg.every;
    }
    Ok(n)
}
