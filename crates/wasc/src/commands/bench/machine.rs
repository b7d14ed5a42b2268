//! A description of the machine a benchmark ran on.

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// One Markdown paragraph: CPU, cores, memory, kernel and KVM backend.
pub fn describe() -> String {
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, v)| v.trim());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory_kib: u64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let kernel = read("/proc/sys/kernel/osrelease");
    let backend = ["kvm_pvm", "kvm_intel", "kvm_amd"]
        .into_iter()
        .find(|m| std::path::Path::new(&format!("/sys/module/{m}")).exists())
        .unwrap_or("unknown");
    let note = if backend == "kvm_pvm" {
        " (software virtualization: guest ring 3 runs natively, ring 0 is emulated, \
         every VM exit costs tens of µs)"
    } else {
        ""
    };
    format!(
        "{model}, {cores} cores, {:.1} GiB; Linux {}; KVM backend `{backend}`{note}.",
        memory_kib as f64 / (1 << 20) as f64,
        kernel.trim()
    )
}
