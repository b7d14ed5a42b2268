//! How many samples the benchmarks take, and progress lines. A leaf: the
//! sections and the TCP section both use it.

/// How many samples each benchmark takes.
pub struct Plan {
    pub(super) quick: bool,
    pub(super) starts: usize,
    pub(super) fresh_starts: usize,
    pub(super) processes: usize,
    pub(super) calls: u64,
    pub(super) call_runs: usize,
    pub(super) densities: &'static [usize],
}

impl Plan {
    /// Whether this is the smoke run (the TCP section's sample count).
    #[cfg(feature = "bench-guests")]
    pub fn quick(&self) -> bool {
        self.quick
    }

    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                quick,
                starts: 30,
                fresh_starts: 5,
                processes: 3,
                calls: 300,
                call_runs: 2,
                densities: &[1, 10],
            }
        } else {
            Self {
                quick,
                starts: 1_000,
                fresh_starts: 200,
                processes: 21,
                calls: 20_000,
                call_runs: 5,
                densities: &[1, 10, 100, 1_000],
            }
        }
    }
}

pub fn progress(step: &str) {
    eprintln!("wasc bench: {step}");
}

/// How a target line reads.
pub fn verdict(met: bool) -> &'static str {
    if met {
        "**met**"
    } else {
        "**not met**"
    }
}
