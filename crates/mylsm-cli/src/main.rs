//! The `mylsm` command line: argument definitions, dispatch to the commands, and exit codes.
#![forbid(unsafe_code)]

mod backup;
mod bench;
mod edits;
mod error;
mod hex;
mod ingest;
mod inspect;
mod keyspaces;
mod kv;
mod load;
mod lsm;
mod progress;
mod repair;
mod serve;
mod stats;
mod stress;
mod tsv;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::CliError;

/// The exit status of `get` when the key is absent.
const EXIT_NOT_FOUND: u8 = 1;
/// The exit status of every error.
const EXIT_FAILURE: u8 = 2;

/// Where the data commands look for the database when `--db` is not given.
const DEFAULT_DB: &str = "./mylsm-data";

/// What `mylsm --help` says above the usage: the description, then how the commands
/// open the database, which decides whether they can run beside an application.
const LONG_ABOUT: &str = concat!(
    env!("CARGO_PKG_DESCRIPTION"),
    "\n\n",
    "get, scan, dump, stats and verify open the database read-only: they take no lock, \
     change nothing in the directory and work while another process has the database \
     open, seeing it as it was when they started. put, delete and load create the \
     database if DIR has none; flush and compact need an existing one. The commands \
     that write fail while another process has the database open.\n\n",
    "--keyspace NAME makes put, get, delete, scan, load, dump, stats, flush and compact \
     work on the keyspace NAME instead of the default one. A keyspace must be created \
     first (mylsm keyspace create NAME): every command, writes included, fails on a \
     keyspace that does not exist, so that a mistyped name is an error rather than a \
     new keyspace."
);

const FORMAT_HELP: &str = "\
Line format (scan, dump, load): one entry per line, `KEY<TAB>VALUE<LF>`. Bytes that \
the format cannot carry are escaped: TAB as `\\t`, LF as `\\n`, CR as `\\r` and the \
backslash itself as `\\\\`; every other byte, including non-UTF-8 bytes, is written \
as is. `load` undoes the escapes, splits each line on its first TAB, accepts CRLF line \
ends and skips empty lines. Keys and values given as arguments (put, get, --from, ...) \
are taken literally, without escapes.\n\n\
With --hex, keys and values are hex digits instead, both as arguments and in output: \
lines are `HEXKEY<TAB>HEXVALUE<LF>`, two lowercase digits per byte (load also takes \
uppercase), with no escapes, so that any bytes, NUL and 0xff included, pass through.";

// The one-line description shown by `-h` is the package's `description`; `--help`
// adds how the commands open the database.
#[derive(Debug, Parser)]
#[command(name = "mylsm", version, about, long_about = LONG_ABOUT, after_help = FORMAT_HELP)]
struct Cli {
    /// Database directory [default: ./mylsm-data; for bench: a temporary directory
    /// removed at exit].
    #[arg(long, global = true, value_name = "DIR")]
    db: Option<PathBuf>,

    /// The keyspace put, get, delete, scan, load, dump, stats, flush and compact work
    /// on; it must exist (see `keyspace create`) [default: the default keyspace].
    #[arg(long, global = true, value_name = "NAME")]
    keyspace: Option<String>,

    /// Keys and values are hex digits: the arguments (KEY, VALUE, --from, --to,
    /// --prefix, ...), the lines of load, dump, scan and sst-write, and every key and
    /// value printed (get, inspect, lsm). A u64add counter stays a decimal number.
    #[arg(long, global = true)]
    hex: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sets KEY to VALUE (creating the database if needed, but not a keyspace).
    Put {
        #[arg(allow_hyphen_values = true)]
        key: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
        /// The value expires after SECONDS: reads then find nothing.
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u64>,
    },
    /// Adds OPERAND to KEY with the keyspace's merge operator (see `keyspace create
    /// --merge`): a number for u64add, text to append for append.
    Merge {
        #[arg(allow_hyphen_values = true)]
        key: String,
        #[arg(allow_hyphen_values = true)]
        operand: String,
    },
    /// Deletes every key from FROM (included) to TO (excluded) with one write.
    DeleteRange {
        #[arg(allow_hyphen_values = true)]
        from: String,
        #[arg(allow_hyphen_values = true)]
        to: String,
    },
    /// Deletes every key starting with PREFIX with one write.
    DeletePrefix {
        #[arg(allow_hyphen_values = true)]
        prefix: String,
    },
    /// Prints the value of KEY; exits with status 1 and prints nothing if it is absent.
    ///
    /// Read-only: works while another process has the database open.
    Get {
        #[arg(allow_hyphen_values = true)]
        key: String,
    },
    /// Deletes KEY (succeeds if it is absent).
    Delete {
        #[arg(allow_hyphen_values = true)]
        key: String,
    },
    /// Prints `key<TAB>value` lines (escaped, see below) for a range of keys.
    ///
    /// Read-only: works while another process has the database open.
    #[command(after_help = FORMAT_HELP)]
    Scan(ScanArgs),
    /// Loads `key<TAB>value` lines from FILE (`-` for stdin), the format `dump` writes.
    ///
    /// The lines are written in atomic batches of up to 1000 lines or 1 MiB, then the
    /// database is synced. A malformed line stops the load with an error naming it:
    /// every line before it is loaded, none from it on. The database is created if
    /// DIR has none, but only once FILE has been opened.
    #[command(after_help = FORMAT_HELP)]
    Load {
        /// The input file, or `-` for standard input.
        file: PathBuf,
    },
    /// Prints every entry as `key<TAB>value` lines, the format `load` reads.
    ///
    /// Read-only: works while another process has the database open.
    #[command(after_help = FORMAT_HELP)]
    Dump,
    /// Prints the database's sizes and levels, and this process's counters.
    ///
    /// Without --keyspace: the default keyspace, then one line per keyspace (files and
    /// bytes per level) when there are others; with it, that keyspace alone. Read-only:
    /// works while another process has the database open. The counters (flushes,
    /// compactions, writes, cache) count from this command's own open, so most of them
    /// are 0; `bench --json` reports them over a whole run.
    Stats {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Reads every live table and log in full, checking every checksum; exits with
    /// status 2 naming the file and offset of the first damage found.
    ///
    /// Read-only: works while another process has the database open, and leaves a
    /// damaged database as it found it.
    Verify {
        /// Print the summary as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Rebuilds a lost or damaged manifest from the tables and logs in DIR (LevelDB's
    /// RepairDB), then prints what it found. Damaged tables, old manifests and the logs
    /// (once their records are in tables) are moved to DIR/lost/, never deleted.
    ///
    /// Fails while another process has the database open.
    Repair,
    /// Writes the memtables out as level-0 tables (every keyspace's, or with
    /// --keyspace that one's); fails if DIR holds no database.
    Flush,
    /// Flushes, then compacts the whole key range down the tree, dropping overwritten
    /// versions and deleted keys; waits for the work.
    ///
    /// Fails if DIR holds no database.
    Compact,
    /// Shows the shape of every keyspace's tree: per level the files, bytes, key range,
    /// bytes of the next level overlapped, target and score, and a bar.
    ///
    /// Read-only: works while another process has the database open.
    Lsm {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Also write a picture of the trees to FILE as SVG: one row per level, one
        /// rectangle per table, placed by its key range.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
    /// Writes a consistent copy of the database into DIR (which must be empty or
    /// absent) while it may be in use by this command only: tables are hard-linked,
    /// logs copied; DIR then opens as an ordinary database.
    Checkpoint {
        /// Where the copy goes.
        dir: PathBuf,
    },
    /// Writes sorted `KEY<TAB>VALUE` lines (keys strictly ascending, the load format)
    /// as a table file for `ingest`. Needs no database.
    SstWrite {
        /// The lines (`-`: standard input).
        input: PathBuf,
        /// The table file to write.
        output: PathBuf,
    },
    /// Adds table files written by `sst-write` (or `mylsm::SstWriter`) to the
    /// database in one step, newer than every write before them.
    Ingest {
        /// The table files; later ones win where they hold the same key.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Remove the files once ingested.
        #[arg(long = "move")]
        move_files: bool,
    },
    /// Incremental backups of the database (--db) in a backup directory (--to DIR):
    /// create, list, verify, restore and purge.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Describes one file of a database, read directly: no lock is taken, so the
    /// database may be open elsewhere. A damaged file exits with status 2.
    #[command(subcommand)]
    Inspect(inspect::InspectCommand),
    /// Lists, creates or drops the keyspaces (column families) of the database.
    #[command(subcommand)]
    Keyspace(keyspaces::KeyspaceCommand),
    /// Measures throughput and latency, in the manner of LevelDB's db_bench.
    Bench(bench::BenchArgs),
    /// Concurrent writers and checking readers printing an acknowledgement history;
    /// with --verify, checks a database killed mid-run against that history.
    Stress(stress::StressArgs),
    /// Serves the database over the Redis protocol (RESP2/RESP3) until SIGTERM or
    /// SIGINT; prints `listening on ADDR` once bound. With --raft-id and --raft-addr,
    /// one node of a Raft cluster. See docs/server.md.
    Serve(serve::ServeArgs),
}

/// The options of `scan`.
#[derive(Debug, Args)]
struct ScanArgs {
    /// First key to include.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    from: Option<String>,
    /// First key to exclude: the scan stops before it.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    to: Option<String>,
    /// Only keys starting with PREFIX (intersected with --from/--to).
    #[arg(long, allow_hyphen_values = true)]
    prefix: Option<String>,
    /// Print at most N entries.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Descending key order, starting from the end of the range.
    #[arg(long)]
    reverse: bool,
}

/// The `--compression` values; the engine's enum stays free of clap.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CompressionArg {
    None,
    Lz4,
    Zstd,
}

impl From<CompressionArg> for mylsm::Compression {
    fn from(c: CompressionArg) -> Self {
        match c {
            CompressionArg::None => mylsm::Compression::None,
            CompressionArg::Lz4 => mylsm::Compression::Lz4,
            CompressionArg::Zstd => mylsm::Compression::Zstd,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // A closed pipe (`mylsm dump | head`) means the reader has what it wanted.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mylsm: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let db_path = cli.db.as_deref();
    let dir = db_path.unwrap_or(Path::new(DEFAULT_DB));
    let ks = cli.keyspace.as_deref();
    hex::set(cli.hex);
    if ks.is_some() && !cli.command.takes_keyspace() {
        return Err(CliError::Input(format!(
            "--keyspace does not apply to {}; it selects the keyspace of put, get, delete, \
             scan, load, dump, stats, flush and compact",
            cli.command.name()
        )));
    }
    match cli.command {
        Command::Put { key, value, ttl } => {
            let (key, value) = (hex::arg("KEY", &key)?, hex::arg("VALUE", &value)?);
            with_keyspace(dir, Access::Create, ks, |_, ks| kv::put(ks, &key, &value, ttl))
        }
        Command::Merge { key, operand } => {
            let key = hex::arg("KEY", &key)?;
            with_keyspace(dir, Access::Write, ks, |_, ks| kv::merge(ks, &key, &operand))
        }
        Command::DeleteRange { from, to } => {
            let (from, to) = (hex::arg("FROM", &from)?, hex::arg("TO", &to)?);
            with_keyspace(dir, Access::Write, ks, |_, ks| kv::delete_range(ks, &from, &to))
        }
        Command::DeletePrefix { prefix } => {
            let prefix = hex::arg("PREFIX", &prefix)?;
            with_keyspace(dir, Access::Write, ks, |_, ks| Ok(ks.delete_prefix(&prefix)?))
        }
        Command::Get { key } => {
            let key = hex::arg("KEY", &key)?;
            let found = with_keyspace(dir, Access::Read, ks, |_, ks| kv::get(ks, &key))?;
            return Ok(if found { ExitCode::SUCCESS } else { ExitCode::from(EXIT_NOT_FOUND) });
        }
        Command::Delete { key } => {
            let key = hex::arg("KEY", &key)?;
            with_keyspace(dir, Access::Create, ks, |_, ks| kv::delete(ks, &key))
        }
        Command::Scan(a) => {
            let from = hex::opt_arg("--from", a.from.as_deref())?;
            let to = hex::opt_arg("--to", a.to.as_deref())?;
            let prefix = hex::opt_arg("--prefix", a.prefix.as_deref())?;
            let range = kv::ScanRange {
                from: from.as_deref(),
                to: to.as_deref(),
                prefix: prefix.as_deref(),
            };
            with_keyspace(dir, Access::Read, ks, |_, ks| kv::scan(ks, &range, a.limit, a.reverse))
        }
        Command::Load { file } => {
            // The input is opened first, so that a mistyped file name fails before a
            // database is created for it.
            let input = load::Input::open(&file)?;
            with_keyspace(dir, Access::Create, ks, |db, ks| load::load(db, ks, input))
        }
        Command::Dump => with_keyspace(dir, Access::Read, ks, |_, ks| load::dump(ks)),
        Command::Stats { json } => {
            // Without --keyspace, stats describes the default keyspace and lists the
            // others; with it, the one named.
            with_keyspace(dir, Access::Read, ks, |db, k| {
                stats::print(db, ks.is_some().then_some(k), json)
            })
        }
        Command::Verify { json } => verify::verify(dir, json),
        Command::Repair => repair::repair(dir),
        Command::Lsm { json, svg } => with_db(dir, Access::Read, |db| lsm::run(db, json, svg)),
        Command::Checkpoint { dir: to } => with_db(dir, Access::Write, |db| {
            let info = db.checkpoint(&to, Default::default())?;
            println!(
                "checkpoint at seqno {} in {}: {} tables ({} hard-linked), {} bytes copied",
                info.seqno,
                to.display(),
                info.tables,
                info.tables_linked,
                info.bytes_copied
            );
            Ok(())
        }),
        Command::SstWrite { input, output } => {
            ingest::sst_write(load::Input::open(&input)?, &output)
        }
        Command::Ingest { files, move_files } => {
            with_keyspace(dir, Access::Create, ks, |db, ks| {
                ingest::ingest(db, ks, &files, move_files)
            })
        }
        // Without --keyspace, flush and compact act as they did before keyspaces: the
        // flush covers every keyspace, the compaction the default one.
        Command::Flush => with_keyspace(dir, Access::Write, ks, |db, k| {
            verify::flush(db, ks.is_some().then_some(k))
        }),
        Command::Compact => with_keyspace(dir, Access::Write, ks, |db, k| {
            verify::compact(db, ks.is_some().then_some(k))
        }),
        Command::Keyspace(cmd) => keyspaces::run(cmd, dir),
        Command::Inspect(cmd) => inspect::run(cmd, dir),
        Command::Backup(cmd) => backup::run(cmd, dir),
        Command::Stress(a) => stress::stress(dir, &a),
        Command::Bench(a) => bench::main(a, db_path),
        Command::Serve(a) => serve::serve(dir, a),
    }?;
    Ok(ExitCode::SUCCESS)
}

impl Command {
    /// Whether the command works on one keyspace, so that `--keyspace` means something
    /// to it; the others refuse it rather than ignore it.
    fn takes_keyspace(&self) -> bool {
        matches!(
            self,
            Command::Put { .. }
                | Command::Merge { .. }
                | Command::DeleteRange { .. }
                | Command::DeletePrefix { .. }
                | Command::Get { .. }
                | Command::Delete { .. }
                | Command::Scan(_)
                | Command::Load { .. }
                | Command::Ingest { .. }
                | Command::Dump
                | Command::Stats { .. }
                | Command::Flush
                | Command::Compact
        )
    }

    /// The command's name on the command line, for messages.
    fn name(&self) -> &'static str {
        match self {
            Command::Put { .. } => "put",
            Command::Merge { .. } => "merge",
            Command::DeleteRange { .. } => "delete-range",
            Command::DeletePrefix { .. } => "delete-prefix",
            Command::Get { .. } => "get",
            Command::Delete { .. } => "delete",
            Command::Scan(_) => "scan",
            Command::Load { .. } => "load",
            Command::Dump => "dump",
            Command::Stats { .. } => "stats",
            Command::Verify { .. } => "verify",
            Command::Repair => "repair",
            Command::Lsm { .. } => "lsm",
            Command::Checkpoint { .. } => "checkpoint",
            Command::SstWrite { .. } => "sst-write",
            Command::Ingest { .. } => "ingest",
            Command::Backup(_) => "backup",
            Command::Flush => "flush",
            Command::Compact => "compact",
            Command::Inspect(_) => "inspect",
            Command::Keyspace(_) => "keyspace",
            Command::Bench(_) => "bench",
            Command::Stress(_) => "stress",
            Command::Serve(_) => "serve",
        }
    }
}

/// How a command opens the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Reads only, through `Db::open_read_only`: no lock is taken and nothing in the
    /// directory changes, so the command works beside an application that has the
    /// database open, and a mistyped `--db` is an error rather than a new database.
    Read,
    /// Writes to a database that must already exist (flush, compact): there is
    /// nothing to flush or compact in a database that a typo would create.
    Write,
    /// Writes, creating the database if the directory has none (put, delete, load).
    Create,
}

/// Opens the database in `dir` as `access` says, runs `f` on it and closes it, so
/// that every write is durable before the process exits.
fn with_db<T>(
    dir: &Path,
    access: Access,
    f: impl FnOnce(&mylsm::Db) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let options =
        mylsm::Options { create_if_missing: access == Access::Create, ..mylsm::Options::default() };
    let opened = match access {
        Access::Read => mylsm::Db::open_read_only(dir, options),
        Access::Write | Access::Create => mylsm::Db::open(dir, options),
    };
    let db = opened.map_err(|source| CliError::open(dir, source))?;
    let result = f(&db);
    let closed = db.close();
    let value = result?;
    closed?;
    Ok(value)
}

/// Opens the database in `dir` as `access` says and runs `f` on it and on the keyspace
/// `name` (the default one when `None`), which must exist.
///
/// Writes do not create a keyspace: a mistyped name would otherwise scatter keys into
/// a keyspace nobody reads. For the same reason a write to a named keyspace does not
/// create the database, which could not hold that keyspace yet.
fn with_keyspace<T>(
    dir: &Path,
    access: Access,
    name: Option<&str>,
    f: impl FnOnce(&mylsm::Db, &mylsm::Keyspace) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let named = name.filter(|&n| n != keyspaces::DEFAULT);
    let access = if named.is_some() && access == Access::Create { Access::Write } else { access };
    let missing = |n: &str| CliError::NoKeyspace { name: n.to_string(), path: dir.to_path_buf() };
    let result = with_db(dir, access, |db| {
        let ks = match named {
            None => db.default_keyspace(),
            Some(n) => match db.keyspace(n) {
                Err(mylsm::Error::NotFound(_)) => return Err(missing(n)),
                found => found?,
            },
        };
        f(db, &ks)
    });
    match (result, named) {
        (Err(CliError::NoDatabase(_)), Some(n)) => Err(missing(n)),
        (result, _) => result,
    }
}
