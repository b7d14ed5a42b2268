//! The poll transport: calls round-trip without the caller running the
//! vCPU, a parked sysd wakes for the next call, failures end the wait, and a
//! VM can always be stopped. Needs /dev/kvm.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasc_vmm::{Error, Hypervisor, Pool, Template, Transport, Vm, VmConfig};
use wasc_wire::Function;

const POLL: Transport = Transport::Poll {
    spin_limit: 100_000,
};

fn boot() -> (Hypervisor, Vm) {
    let hv = common::hypervisor();
    let vm = common::selftest_vm(&hv);
    (hv, vm)
}

fn ping(vm: &mut Vm, x: u64) -> u64 {
    vm.call(Function::SelftestPing as u32, &[x])
        .expect("ping")
        .value
}

#[test]
fn poll_calls_round_trip() {
    let (_hv, mut vm) = boot();
    vm.set_transport(POLL).expect("poll");
    for i in 0..10_000 {
        assert_eq!(ping(&mut vm, i), i + 1);
    }
    let args: Vec<u64> = (1..=9).collect();
    assert_eq!(
        vm.call(Function::SelftestSum as u32, &args)
            .expect("sum")
            .value,
        45
    );
}

#[test]
fn a_parked_sysd_wakes_for_the_next_call() {
    let (_hv, mut vm) = boot();
    vm.set_transport(Transport::Poll { spin_limit: 100 })
        .expect("poll");
    for i in 0..20 {
        std::thread::sleep(Duration::from_millis(2)); // long enough to park
        assert_eq!(ping(&mut vm, i), i + 1);
    }
}

#[test]
fn a_fault_in_poll_mode_ends_the_call_with_the_fault() {
    let (_hv, mut vm) = boot();
    vm.set_transport(POLL).expect("poll");
    match vm.call(Function::SelftestInvalidOpcode as u32, &[]) {
        Err(Error::Vcpu(e)) => assert_eq!(e.fault().expect("fault").vector, 6),
        other => panic!("expected #UD, got {other:?}"),
    }
    assert!(vm.failed());
}

#[test]
fn transports_can_be_switched_back_and_forth() {
    let (_hv, mut vm) = boot();
    for round in 0..5 {
        vm.set_transport(POLL).expect("poll");
        assert_eq!(ping(&mut vm, round), round + 1);
        vm.set_transport(Transport::Sync).expect("sync");
        assert_eq!(ping(&mut vm, round + 100), round + 101);
    }
}

#[test]
fn dropping_a_spinning_vm_is_prompt() {
    let (_hv, mut vm) = boot();
    vm.set_transport(Transport::Poll {
        spin_limit: u32::MAX,
    })
    .expect("poll");
    assert_eq!(ping(&mut vm, 1), 2);
    let start = Instant::now();
    drop(vm);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "drop took {:?}",
        start.elapsed()
    );
}

#[test]
fn pooled_poll_vms_keep_their_transport_across_resets() {
    let hv = Arc::new(Hypervisor::open().expect("these tests need a usable /dev/kvm"));
    let template = Template::new(
        &hv,
        &VmConfig {
            sysd: wasc_sysd_image::SELFTEST,
        },
    )
    .expect("template");
    let pool = Pool::new(hv, Arc::new(template), 2);
    let mut vm = pool.take().expect("vm");
    vm.set_transport(POLL).expect("poll");
    assert_eq!(ping(&mut vm, 5), 6);
    pool.give_back(vm);
    assert_eq!(pool.idle_count(), 1);
    let mut vm = pool.take().expect("reused");
    assert_eq!(ping(&mut vm, 7), 8, "a reset VM answers in poll mode");
    vm.set_transport(POLL).expect("poll again");
    assert_eq!(ping(&mut vm, 9), 10);
    vm.set_transport(Transport::Sync).expect("sync");
    assert_eq!(ping(&mut vm, 11), 12);
}
