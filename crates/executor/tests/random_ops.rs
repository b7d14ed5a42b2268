//! 200,000 pseudo-random host ops, biased towards almost-valid ones: the
//! executor never panics, every answer is a value or a WASI errno, nothing
//! appears outside the granted directory (inside it, files opened for
//! writing may change), and refusals are counted.
//! Deterministic (fixed seed) so a failure reproduces.

use std::os::fd::OwnedFd;

use wasc_executor::{Executor, LinearMemory};
use wasc_wire::hostop::{lookup, HostOp, SCRATCH_LEN};

/// xorshift64*: small, deterministic, good enough to spread inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Mostly small plausible values, sometimes anything.
    fn word(&mut self) -> u64 {
        match self.below(8) {
            0 => self.next(),
            1 => u64::MAX - self.below(4),
            2 => 4096 + self.below(64),
            _ => self.below(16),
        }
    }
}

#[test]
fn random_ops_never_panic_or_escape() {
    let root = tempfile::tempdir().expect("temp dir");
    let granted = root.path().join("granted");
    std::fs::create_dir(&granted).expect("granted dir");
    std::fs::write(granted.join("a"), b"data").expect("file");
    std::fs::create_dir(granted.join("d")).expect("subdir");
    std::os::unix::fs::symlink("../", granted.join("up")).expect("symlink");
    let preopen: OwnedFd = std::fs::File::open(&granted).expect("open").into();
    let mut executor = Executor::new(vec![preopen]);
    let mut memory = vec![0u8; 4096];
    let mut scratch = [0u8; SCRATCH_LEN];
    let names: [&[u8]; 8] = [b"a", b"d", b"up", b"new", b"..", b"x/y", b"", b"\0"];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut failed) = (0u32, 0u32);
    let mut errnos = std::collections::BTreeMap::new();

    for _ in 0..200_000 {
        let name = names[rng.below(names.len() as u64) as usize];
        scratch[..name.len()].copy_from_slice(name);
        let mut op = HostOp {
            op: rng.below(10) as u32,
            ..Default::default()
        };
        // Half the ops use exactly the argument words their op code reads.
        let words = match (rng.below(2), op.op) {
            (0, 1 | 2 | 5) => 3,
            (0, 3 | 4) => 4,
            (0, 6 | 7) => 1,
            _ => rng.below(7) as usize,
        };
        for arg in op.args.iter_mut().take(words) {
            *arg = rng.word();
        }
        if op.op == 5 && rng.below(2) == 0 {
            // Lookups with plausible shapes: dir 3, the name, sane flags,
            // never TRUNCATE (keep the fixture file intact).
            op.args = [
                3,
                name.len() as u64,
                rng.below(lookup::ALL + 1) & !lookup::TRUNCATE,
                0,
                0,
                0,
            ];
        }
        if rng.below(50) == 0 {
            op.reserved = 1;
        }
        // Stdin would block the test (the executor performs exactly the read
        // it is asked for; waiting for readiness is sysd's job), and writes
        // to stdout or stderr are legitimate but would fill the test log.
        if matches!(op.op, 1..=4) && op.args[0] < 3 {
            continue;
        }
        // Keep stdio and the granted directory open, or the table empties
        // and every later op is a bad handle.
        if op.op == 7 && op.args[0] <= 3 {
            continue;
        }
        // SAFETY: `memory` outlives the view and is not otherwise borrowed.
        let view = unsafe { LinearMemory::new(memory.as_mut_ptr(), memory.len()) };
        match executor.execute(&op, &view, &mut scratch) {
            Ok(_) => ok += 1,
            Err(errno) => {
                assert!(
                    errno.0 > 0 && errno.0 <= 76,
                    "not a WASI errno: {}",
                    errno.0
                );
                *errnos.entry(errno.0).or_insert(0u32) += 1;
                failed += 1;
            }
        }
    }

    println!(
        "{ok} succeeded, {failed} failed, {} refused; errnos {errnos:?}",
        executor.refused()
    );
    let outside: Vec<_> = std::fs::read_dir(root.path())
        .expect("list root")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        outside,
        ["granted"],
        "nothing may appear beside the granted directory"
    );
    // The run is only worth something if it reached the system calls too.
    assert!(ok > 1000, "some ops should succeed ({ok} did)");
    assert!(
        u64::from(failed) > executor.refused(),
        "some ops should fail on the host"
    );
    assert!(
        errnos.contains_key(&32),
        "the symlink must be refused by openat2 (LOOP)"
    );
    assert!(
        executor.refused() > 100_000,
        "most random ops are malformed ({} refused)",
        executor.refused()
    );
}
