//! Real process crashes: runs `mylsm stress`, kills it with SIGKILL mid-run, checks the
//! reopened database against the acknowledgement history, and repeats on the same
//! directory, carrying the verified state from cycle to cycle.
//!
//! `MYLSM_SIGKILL_CYCLES` sets the number of cycles (default 50) and
//! `MYLSM_SIGKILL_SEED` replays a run's kill delays and stress seeds (thread timing
//! still differs, so a replay reproduces the workload, not the interleaving).

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Engine settings that make flushes and compactions constant, so that kills land in
/// the middle of them: a 32 KiB memtable, 16 KiB tables, L0 compacted at two files,
/// a 64 KiB base level (so deeper levels fill and compact too).
const ENGINE: &[&str] = &[
    "--write-buffer-size",
    "32768",
    "--target-file-size",
    "16384",
    "--l0-trigger",
    "2",
    "--level-base",
    "65536",
];

/// Kill delays, in milliseconds after the spawn: from during open (log replay, new
/// log and manifest) to deep into the run.
const DELAY_MS: std::ops::RangeInclusive<u64> = 50..=400;

/// splitmix64: the driver's only randomness, so that a seed replays it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn range(&mut self, r: std::ops::RangeInclusive<u64>) -> u64 {
        r.start() + self.next() % (r.end() - r.start() + 1)
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(v.parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")))
}

/// Totals over the cycles, printed at the end.
#[derive(Debug, Default)]
struct Totals {
    acks: u64,
    in_flight_applied: u64,
    in_flight_dropped: u64,
    flushes: u64,
    compactions: u64,
    killed_before_first_ack: u64,
}

/// What one cycle's stress process printed before it was killed.
struct Killed {
    stdout: String,
    stderr: String,
}

/// Spawns `stress` with `args`, kills it after `delay`, and returns what it printed;
/// the error says why the run failed before the kill (a violation, an error).
fn run_and_kill(db: &Path, args: &[String], delay: Duration) -> Result<Killed, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mylsm"))
        .arg("--db")
        .arg(db)
        .arg("stress")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mylsm stress");
    // Drained concurrently, so a full pipe never slows the writers down.
    let drain = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut s = String::new();
            r.read_to_string(&mut s).expect("read stress output");
            s
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    thread::sleep(delay);
    // Child::kill sends SIGKILL on Unix: no destructor, no close, no flush runs.
    child.kill().expect("kill stress");
    let status = child.wait().expect("wait for stress");
    let out = Killed {
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    };
    if status.signal() != Some(9) {
        return Err(format!("stress ended on its own ({status}) before the kill:\n{}", out.stderr));
    }
    if out.stderr.contains("violation") {
        return Err(format!("stress readers saw violations:\n{}", out.stderr));
    }
    Ok(out)
}

/// Runs `stress --verify` and returns its output, the verified state.
fn verify(db: &Path, history: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mylsm"))
        .arg("--db")
        .arg(db)
        .args(["stress", "--verify"])
        .arg(history)
        .args(ENGINE)
        .output()
        .expect("run mylsm stress --verify")
}

/// The last `# progress` line's count of `what`.
fn last_progress(stdout: &str, what: &str) -> u64 {
    let line = stdout.lines().rev().find(|l| l.starts_with("# progress "));
    line.and_then(|l| {
        l.split_whitespace().find_map(|w| w.strip_prefix(what)?.strip_prefix('=')?.parse().ok())
    })
    .unwrap_or(0)
}

#[test]
fn sigkill_loop_keeps_every_acknowledged_write() {
    let cycles = env_u64("MYLSM_SIGKILL_CYCLES").unwrap_or(50);
    let seed = env_u64("MYLSM_SIGKILL_SEED").unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        now.as_nanos() as u64 ^ u64::from(std::process::id())
    });
    eprintln!("sigkill: {cycles} cycles, seed {seed} (replay: MYLSM_SIGKILL_SEED={seed})");
    // Kept on failure, for the post-mortem; removed at the end of a passing run.
    let root = tempfile::Builder::new().prefix("mylsm-sigkill-").tempdir().unwrap().keep();
    let (db, history) = (root.join("db"), root.join("history"));
    let mut rng = Rng(seed);
    // The verified state so far, as `base` lines; empty before the first run.
    let mut state = String::new();
    let mut next_version = 1u64;
    let mut totals = Totals::default();
    let started = Instant::now();
    for cycle in 0..cycles {
        let delay = Duration::from_millis(rng.range(DELAY_MS));
        let stress_seed = rng.next();
        let mut args: Vec<String> = [
            "--writers",
            "4",
            "--readers",
            "2",
            "--keys",
            "400",
            "--duration-s",
            "600",
            "--sync-ratio",
            "0.2",
            "--batch-max",
            "8",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(["--seed".into(), stress_seed.to_string()]);
        args.extend(["--first-version".into(), next_version.to_string()]);
        args.extend(ENGINE.iter().map(|s| s.to_string()));
        let fail = |what: &str| -> ! {
            panic!(
                "cycle {cycle} (seed {seed}, stress seed {stress_seed}, kill after {delay:?}): \
                 {what}\ndatabase and history kept in {}",
                root.display()
            )
        };

        let killed = run_and_kill(&db, &args, delay).unwrap_or_else(|e| fail(&e));
        std::fs::write(&history, format!("{state}{}", killed.stdout)).unwrap();
        let v = verify(&db, &history);
        let (vout, verr) = (String::from_utf8_lossy(&v.stdout), String::from_utf8_lossy(&v.stderr));
        if !v.status.success() {
            fail(&format!("verify failed:\n{verr}"));
        }
        next_version = vout
            .lines()
            .find_map(|l| l.strip_prefix("next ")?.parse().ok())
            .unwrap_or_else(|| fail(&format!("verify printed no next version:\n{vout}")));
        state = vout.into_owned();

        let acks = killed.stdout.lines().filter(|l| l.starts_with("ack ")).count() as u64;
        totals.acks += acks;
        totals.killed_before_first_ack += u64::from(acks == 0);
        totals.in_flight_applied += state.matches(", applied\n").count() as u64;
        totals.in_flight_dropped += state.matches(", not applied\n").count() as u64;
        totals.flushes += last_progress(&killed.stdout, "flushes");
        totals.compactions += last_progress(&killed.stdout, "compactions");
    }
    eprintln!(
        "sigkill: {cycles} cycles in {:.1}s, 0 violations; {} batches acknowledged; \
         in flight at the kill: {} applied, {} not applied; {} kills before the first ack; \
         at least {} flushes and {} compactions during the runs",
        started.elapsed().as_secs_f64(),
        totals.acks,
        totals.in_flight_applied,
        totals.in_flight_dropped,
        totals.killed_before_first_ack,
        totals.flushes,
        totals.compactions,
    );
    assert!(totals.acks > 0, "no run acknowledged anything: the kills came too early");
    std::fs::remove_dir_all(&root).unwrap();
}
