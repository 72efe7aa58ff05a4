//! A real process: `mylsm stress` writing with several threads while it takes
//! checkpoints and backups; afterwards every checkpoint and every restored backup
//! passes `verify` and holds exactly a prefix of the history (`stress --verify` with the
//! history cut at the copy, `stress/copies.rs`).

use std::path::Path;
use std::process::{Command, Output};

fn mylsm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mylsm")).args(args).output().expect("run mylsm")
}

fn ok(args: &[&str]) -> String {
    let out = mylsm(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The history as the copy between lines `begin` and `end` must hold it.
fn cut(lines: &[&str], begin: usize, end: usize) -> String {
    let mut s: String = lines[..begin].iter().map(|l| format!("{l}\n")).collect();
    s.push_str("window\n");
    s.extend(lines[begin + 1..end].iter().map(|l| format!("{l}\n")));
    s
}

/// Checks the database at `db` against `history`; true if it holds.
fn holds(dir: &Path, db: &Path, history: &str, name: &str) -> bool {
    let file = dir.join(format!("{name}.history"));
    std::fs::write(&file, history).unwrap();
    mylsm(&["--db", db.to_str().unwrap(), "stress", "--verify", file.to_str().unwrap()])
        .status
        .success()
}

#[test]
fn checkpoints_and_backups_taken_under_stress_hold_a_prefix_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let p = |name: &str| d.join(name).to_str().unwrap().to_string();
    let history = ok(&[
        "--db",
        &p("db"),
        "stress",
        "--writers",
        "3",
        "--readers",
        "1",
        "--keys",
        "600",
        "--duration-s",
        "3",
        "--sync-ratio",
        "0.1",
        "--copy-every-s",
        "0.4",
        "--checkpoint-dir",
        &p("cps"),
        "--backup-to",
        &p("bk"),
        "--write-buffer-size",
        "32768",
        "--target-file-size",
        "16384",
        "--l0-trigger",
        "2",
        "--level-base",
        "131072",
    ]);
    let lines: Vec<&str> = history.lines().collect();
    let find = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix));
    let (mut checkpoints, mut backups, mut naive_failures) = (0, 0, 0);
    for n in 1.. {
        let (Some(begin), Some(end)) =
            (find(&format!("# checkpoint-begin {n} ")), find(&format!("# checkpoint-end {n} ")))
        else {
            break;
        };
        let db = Path::new(lines[begin].rsplit(' ').next().unwrap());
        ok(&["--db", db.to_str().unwrap(), "verify"]);
        assert!(holds(d, db, &cut(&lines, begin, end), &format!("cp{n}")), "checkpoint {n}");
        // Without the window, the acks that came after the capture are wrongly
        // demanded: the check has teeth only if that fails for some copy.
        let naive: String = lines[..end].iter().map(|l| format!("{l}\n")).collect();
        naive_failures += usize::from(!holds(d, db, &naive, &format!("cp{n}-naive")));
        checkpoints += 1;
    }
    for n in 1.. {
        let (Some(begin), Some(end)) =
            (find(&format!("# backup-begin {n}")), find(&format!("# backup-end {n} ")))
        else {
            break;
        };
        let id = lines[end].rsplit(' ').next().unwrap();
        let target = d.join(format!("restored-{n}"));
        ok(&["backup", "restore", "--to", &p("bk"), id, target.to_str().unwrap()]);
        ok(&["--db", target.to_str().unwrap(), "verify"]);
        assert!(holds(d, &target, &cut(&lines, begin, end), &format!("bk{n}")), "backup {n}");
        backups += 1;
    }
    ok(&["backup", "verify", "--to", &p("bk")]);
    assert!(checkpoints >= 3 && backups >= 3, "{checkpoints} checkpoints, {backups} backups");
    assert!(naive_failures > 0, "no copy missed a write acknowledged after its begin line");
}
