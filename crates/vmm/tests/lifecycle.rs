//! Creating and destroying 1,000 VMs leaves no file descriptor and no memory
//! behind. Alone in its test binary so nothing else moves the counters.
//! Needs /dev/kvm.

use wasc_vmm::{Hypervisor, Template, VmConfig};
use wasc_wire::Function;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("list fds")
        .count()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    line.split_whitespace()
        .nth(1)
        .expect("value")
        .parse()
        .expect("number")
}

fn churn(hv: &Hypervisor, template: &Template, count: usize) {
    for i in 0..count as u64 {
        let mut vm = template.instantiate(hv).expect("instance");
        assert_eq!(
            vm.call(Function::SelftestPing as u32, &[i])
                .expect("ping")
                .value,
            i + 1
        );
    }
}

#[test]
fn a_thousand_vms_come_and_go_without_leaks() {
    let hv = Hypervisor::open().expect("these tests need a usable /dev/kvm");
    let template = Template::new(
        &hv,
        &VmConfig {
            sysd: wasc_sysd_image::SELFTEST,
        },
    )
    .expect("template");
    // Warm up allocator arenas and lazily created kernel objects first.
    churn(&hv, &template, 50);
    let (fds, rss) = (open_fds(), rss_kib());
    churn(&hv, &template, 1000);
    assert_eq!(open_fds(), fds, "file descriptors leaked");
    let grown = rss_kib().saturating_sub(rss);
    // One leaked VM would cost at least its touched pages (~100 KiB); allow
    // allocator noise well below the size of ten leaks.
    assert!(grown < 1024, "RSS grew by {grown} KiB over 1,000 VMs");
}
