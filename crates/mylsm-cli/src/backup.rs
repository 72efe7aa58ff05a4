//! `backup create|list|verify|restore|purge`: incremental backups of the database in a
//! backup directory (`mylsm::BackupEngine`).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use indicatif::ProgressBar;
use mylsm::{BackupEngine, BackupInfo};
use serde_json::json;

use crate::error::CliError;
use crate::{progress, stats, Access};

/// What `backup` does. Every subcommand names the backup directory with `--to`.
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Backs up the database (--db) into the backup directory, copying only the
    /// tables no earlier backup there holds; prints the new backup's id.
    ///
    /// The database must exist, and no other process may have it open (as for
    /// checkpoint). An interrupted create leaves no backup; the next create or purge
    /// removes what it wrote.
    Create {
        /// The backup directory (created if absent).
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// Lists the complete backups, oldest first: id, seqno, creation time (UTC),
    /// files, size, and the bytes each backup copied when it was made.
    List {
        /// The backup directory.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// Print one JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Reads every file of backup ID (every backup without ID) in full, checking its
    /// size and checksum; exits with status 2 naming the first damaged file.
    Verify {
        /// The backup directory.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// The backup to check [default: every one].
        id: Option<u64>,
    },
    /// Restores backup ID (the newest without ID) into TARGET, which must be empty or
    /// absent; TARGET then opens as a database. Every file is checked as it is copied.
    Restore {
        /// The backup directory.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// `[ID] TARGET`: the backup [default: the newest], then the new database's
        /// directory.
        #[arg(value_name = "[ID] TARGET", num_args = 1..=2, required = true)]
        args: Vec<String>,
    },
    /// Deletes every backup but the newest N, then every file no remaining backup
    /// needs.
    Purge {
        /// The backup directory.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// How many of the newest backups to keep.
        #[arg(long, value_name = "N")]
        keep: usize,
    },
}

/// Runs `cmd`; `db` is the database directory (`--db`), which only `create` reads.
pub fn run(cmd: BackupCommand, db: &Path) -> Result<(), CliError> {
    match cmd {
        BackupCommand::Create { to } => {
            let bar = progress::bytes(Some(0), "backing up");
            let engine = with_bar(BackupEngine::open(&to)?, bar.as_ref());
            let info = crate::with_db(db, Access::Write, |db| Ok(engine.create(db)?));
            finish(bar);
            let info = info?;
            print(format_args!(
                "backup {} at seqno {}: {} files, {} bytes, {} bytes copied\n",
                info.id, info.seqno, info.files, info.size, info.bytes_copied
            ))
        }
        BackupCommand::List { to, json } => list(&existing(&to)?, json),
        BackupCommand::Verify { to, id } => {
            let engine = existing(&to)?;
            let ids = match id {
                Some(id) => vec![id],
                None => engine.list()?.iter().map(|b| b.id).collect(),
            };
            if ids.is_empty() {
                return Err(CliError::Input(format!("no backups in {}", to.display())));
            }
            for id in ids {
                let bar = progress::bytes(Some(0), &format!("verifying backup {id}"));
                let report = with_bar(engine.clone(), bar.as_ref()).verify(id);
                finish(bar);
                let report = report?;
                print(format_args!(
                    "ok: backup {id}: {} files, {} bytes\n",
                    report.files, report.bytes
                ))?;
            }
            Ok(())
        }
        BackupCommand::Restore { to, args } => {
            let engine = existing(&to)?;
            let (id, target) = match args.as_slice() {
                [target] => (newest(&engine, &to)?.id, target),
                [id, target] => (parse_id(id)?, target),
                _ => return Err(CliError::Input("restore takes [ID] TARGET".into())),
            };
            let bar = progress::bytes(Some(0), &format!("restoring backup {id}"));
            let info = with_bar(engine, bar.as_ref()).restore(id, target);
            finish(bar);
            let info = info?;
            print(format_args!(
                "restored backup {id} (seqno {}) into {target}: {} files, {} bytes\n",
                info.seqno, info.files, info.size
            ))
        }
        BackupCommand::Purge { to, keep } => {
            let purged = existing(&to)?.purge(keep)?;
            let ids: Vec<String> = purged.iter().map(u64::to_string).collect();
            match ids.is_empty() {
                true => print(format_args!("nothing to purge\n")),
                false => print(format_args!("purged backups {}\n", ids.join(" "))),
            }
        }
    }
}

/// The engine of an existing backup directory: the commands that only read backups
/// fail on a mistyped one rather than report it empty.
fn existing(to: &Path) -> Result<BackupEngine, CliError> {
    if !to.is_dir() {
        return Err(CliError::Input(format!("no backup directory {}", to.display())));
    }
    Ok(BackupEngine::open(to)?)
}

fn newest(engine: &BackupEngine, to: &Path) -> Result<BackupInfo, CliError> {
    let last = engine.list()?.pop();
    last.ok_or_else(|| CliError::Input(format!("no backups in {}", to.display())))
}

fn parse_id(s: &str) -> Result<u64, CliError> {
    s.parse().map_err(|_| CliError::Input(format!("bad backup id {s:?}: a number from `list`")))
}

/// `engine`, moving `bar` (if any) as it reads and copies.
fn with_bar(engine: BackupEngine, bar: Option<&ProgressBar>) -> BackupEngine {
    match bar {
        None => engine,
        Some(bar) => {
            let bar = bar.clone();
            engine.with_progress(move |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
        }
    }
}

fn finish(bar: Option<ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// Prints the backups as a table, or with `json` as one JSON array.
fn list(engine: &BackupEngine, json: bool) -> Result<(), CliError> {
    let backups = engine.list()?;
    let mut out = io::stdout().lock();
    if json {
        let rows: Vec<_> = backups
            .iter()
            .map(|b| {
                json!({
                    "id": b.id,
                    "seqno": b.seqno,
                    "created_unix_ms": b.created_unix_ms,
                    "files": b.files,
                    "size": b.size,
                    "bytes_copied": b.bytes_copied,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(rows)).map_err(CliError::Output)?;
        return out.flush().map_err(CliError::Output);
    }
    let head = format!(
        "{:>4}  {:>12}  {:<20}  {:>6}  {:>10}  {:>10}",
        "id", "seqno", "created (UTC)", "files", "size", "copied"
    );
    writeln!(out, "{head}").map_err(CliError::Output)?;
    for b in &backups {
        writeln!(
            out,
            "{:>4}  {:>12}  {:<20}  {:>6}  {:>10}  {:>10}",
            b.id,
            b.seqno,
            utc(b.created_unix_ms),
            b.files,
            stats::human(b.size),
            stats::human(b.bytes_copied)
        )
        .map_err(CliError::Output)?;
    }
    out.flush().map_err(CliError::Output)
}

fn print(args: std::fmt::Arguments<'_>) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    out.write_fmt(args).and_then(|()| out.flush()).map_err(CliError::Output)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC for milliseconds since the Unix epoch (the proleptic
/// Gregorian calendar, by Howard Hinnant's `civil_from_days`).
fn utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_dates_match_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(1_700_000_000_123), "2023-11-14 22:13:20");
    }
}
