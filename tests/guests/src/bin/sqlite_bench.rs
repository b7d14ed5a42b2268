//! SQLite benchmark guest (speedtest1-style): bulk inserts in one
//! transaction and in many, unindexed and indexed selects, index creation,
//! updates, deletes, a join, ORDER BY and VACUUM, on a database in the
//! directory granted at /sandbox. `argv[1]` is the row count (default
//! 20,000). Prints one `phase <name> <µs>` line per phase and the total;
//! the clock is WASI's monotonic clock, the same in every isolation mode.
use std::time::Instant;

use rusqlite::{params, Connection};

fn phase(name: &str, start: Instant) -> Instant {
    println!("phase {name} {}", start.elapsed().as_micros());
    Instant::now()
}

fn main() {
    let rows: i64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let path = "/sandbox/bench.db";
    let _ = std::fs::remove_file(path);
    let total = Instant::now();
    let mut db = Connection::open(path).expect("open the database");
    let mut t = Instant::now();

    db.execute_batch("CREATE TABLE t1(a INTEGER, b INTEGER, c TEXT); CREATE TABLE t2(a INTEGER PRIMARY KEY, b TEXT);")
        .expect("create tables");
    {
        let tx = db.transaction().expect("begin");
        {
            let mut insert = tx
                .prepare("INSERT INTO t1 VALUES (?1, ?2, ?3)")
                .expect("prepare");
            for i in 0..rows {
                let b = (i * 7919) % rows;
                insert
                    .execute(params![i, b, format!("row {b} of {rows}")])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    t = phase("insert_one_transaction", t);

    for i in 0..rows / 50 {
        db.execute(
            "INSERT INTO t2 VALUES (?1, ?2)",
            params![i * 50, format!("t2 {i}")],
        )
        .expect("insert t2");
    }
    t = phase("insert_many_transactions", t);

    let mut checksum = 0i64;
    for i in 0..50 {
        let lo = (i * 997) % rows;
        let n: i64 = db
            .query_row(
                "SELECT count(*) FROM t1 WHERE b BETWEEN ?1 AND ?2",
                params![lo, lo + 100],
                |r| r.get(0),
            )
            .expect("select");
        checksum += n;
    }
    t = phase("select_unindexed", t);

    db.execute_batch("CREATE INDEX i1 ON t1(b)").expect("index");
    t = phase("create_index", t);

    {
        let mut select = db
            .prepare("SELECT count(*) FROM t1 WHERE b BETWEEN ?1 AND ?2")
            .expect("prepare");
        for i in 0..2_000 {
            let lo = (i * 31) % rows;
            let n: i64 = select
                .query_row(params![lo, lo + 10], |r| r.get(0))
                .expect("select");
            checksum += n;
        }
    }
    t = phase("select_indexed", t);

    db.execute_batch("BEGIN; UPDATE t1 SET c = c || ' updated' WHERE a % 10 = 0; COMMIT;")
        .expect("update");
    t = phase("update", t);

    db.execute_batch("BEGIN; DELETE FROM t1 WHERE a % 7 = 0; COMMIT;")
        .expect("delete");
    t = phase("delete", t);

    let joined: i64 = db
        .query_row("SELECT count(*) FROM t1 JOIN t2 ON t1.a = t2.a", [], |r| {
            r.get(0)
        })
        .expect("join");
    checksum += joined;
    t = phase("join", t);

    {
        let mut ordered = db.prepare("SELECT c FROM t1 ORDER BY c").expect("prepare");
        let mut rows_out = ordered.query([]).expect("order by");
        while let Some(row) = rows_out.next().expect("row") {
            let c: String = row.get(0).expect("c");
            checksum += c.len() as i64;
        }
    }
    t = phase("order_by", t);

    db.execute_batch("VACUUM").expect("vacuum");
    phase("vacuum", t);
    drop(db);
    println!("phase total {}", total.elapsed().as_micros());
    println!("checksum {checksum}");
}
