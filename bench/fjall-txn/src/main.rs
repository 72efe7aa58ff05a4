//! The txnrandom workload of `mylsm bench` on fjall's optimistic transactions: N keys
//! (16-byte decimal, 100-byte values) loaded, then R transactions each reading two keys
//! and writing both; commits/s and conflicts, on T threads.

use std::time::Instant;

use fjall::{KeyspaceCreateOptions, OptimisticTxDatabase, Readable};

fn key(i: u64) -> String {
    format!("{i:016}")
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let (n, threads) = (args[0], args[1]);
    let dir = tempfile::tempdir().unwrap();
    let db = OptimisticTxDatabase::builder(dir.path()).open().unwrap();
    let ks = db.keyspace("bench", KeyspaceCreateOptions::default).unwrap();
    for i in 0..n {
        let mut tx = db.write_tx().unwrap();
        tx.insert(&ks, key(i), vec![7u8; 100]);
        tx.commit().unwrap().unwrap();
    }
    let start = Instant::now();
    let results: Vec<(u64, u64)> = std::thread::scope(|s| {
        (0..threads)
            .map(|t| {
                let (db, ks) = (db.clone(), ks.clone());
                s.spawn(move || {
                    let (mut commits, mut conflicts) = (0, 0);
                    let mut x: u64 = 0x9e3779b97f4a7c15 ^ t;
                    for _ in 0..n / threads {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let (a, b) = (key(x % n), key((x >> 20) % n));
                        let mut tx = db.write_tx().unwrap();
                        let va = tx.get(&ks, &a).unwrap().map(|v| v.to_vec()).unwrap_or_default();
                        let vb = tx.get(&ks, &b).unwrap().map(|v| v.to_vec()).unwrap_or_default();
                        tx.insert(&ks, &a, vb);
                        tx.insert(&ks, &b, va);
                        match tx.commit().unwrap() {
                            Ok(_) => commits += 1,
                            Err(_) => conflicts += 1,
                        }
                    }
                    (commits, conflicts)
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect()
    });
    let secs = start.elapsed().as_secs_f64();
    let (c, f): (u64, u64) = results.iter().fold((0, 0), |acc, r| (acc.0 + r.0, acc.1 + r.1));
    println!("fjall txnrandom threads {threads}: {:.0} commits/s, {:.3} us/txn, {f} conflicts of {}", c as f64 / secs, secs * 1e6 / (c + f) as f64, c + f);
}
