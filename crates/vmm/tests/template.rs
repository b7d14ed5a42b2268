//! VMs from a template and a pool: they answer calls, get fresh seeds, and
//! a reset returns every byte sysd changed to the template's. Needs /dev/kvm.

use std::sync::Arc;

use wasc_vmm::{Hypervisor, Pool, Template, Vm, VmConfig};
use wasc_wire::{layout, Function};

fn template(hv: &Hypervisor) -> Template {
    Template::new(
        hv,
        &VmConfig {
            sysd: wasc_sysd_image::SELFTEST,
        },
    )
    .expect("template")
}

fn ping(vm: &mut Vm, x: u64) -> u64 {
    vm.call(Function::SelftestPing as u32, &[x])
        .expect("ping")
        .value
}

fn seed(vm: &mut Vm) -> u64 {
    vm.call(Function::SelftestSeed as u32, &[])
        .expect("seed")
        .value
}

#[test]
fn template_instances_answer_calls() {
    let hv = Hypervisor::open().expect("these tests need a usable /dev/kvm");
    let template = template(&hv);
    let mut a = template.instantiate(&hv).expect("instance");
    let mut b = template.instantiate(&hv).expect("instance");
    assert_eq!(ping(&mut a, 1), 2);
    assert_eq!(ping(&mut b, 10), 11);
    assert_eq!(ping(&mut a, 2), 3);
}

#[test]
fn every_instance_gets_its_own_seed() {
    let hv = Hypervisor::open().expect("these tests need a usable /dev/kvm");
    let template = template(&hv);
    let seeds: Vec<u64> = (0..4)
        .map(|_| seed(&mut template.instantiate(&hv).expect("instance")))
        .collect();
    assert!(seeds.iter().all(|&s| s != 0), "{seeds:?}");
    let mut unique = seeds.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seeds.len(), "{seeds:?}");
}

#[test]
fn pool_reset_restores_memory_and_reseeds() {
    let hv = Arc::new(Hypervisor::open().expect("these tests need a usable /dev/kvm"));
    let pool = Pool::new(hv.clone(), Arc::new(template(&hv)), 4);
    let scratch = layout::CALL_PAGE + 0x10_0000;
    let mut vm = pool.take().expect("vm");
    vm.call(Function::SelftestWrite as u32, &[scratch])
        .expect("write");
    assert_eq!(
        vm.call(Function::SelftestRead as u32, &[scratch])
            .expect("read")
            .value,
        0x5a
    );
    let first_seed = seed(&mut vm);
    pool.give_back(vm);
    assert_eq!(pool.idle_count(), 1);

    let mut vm = pool.take().expect("reused vm");
    assert_eq!(pool.idle_count(), 0);
    assert_eq!(
        vm.call(Function::SelftestRead as u32, &[scratch])
            .expect("read")
            .value,
        0,
        "the write must not survive a reset"
    );
    assert_ne!(seed(&mut vm), first_seed);
    assert_eq!(ping(&mut vm, 41), 42);
}

#[test]
fn a_failed_vm_is_not_pooled() {
    let hv = Arc::new(Hypervisor::open().expect("these tests need a usable /dev/kvm"));
    let pool = Pool::new(hv.clone(), Arc::new(template(&hv)), 4);
    let mut vm = pool.take().expect("vm");
    assert!(vm
        .call(Function::SelftestInvalidOpcode as u32, &[])
        .is_err());
    assert!(vm.failed());
    pool.give_back(vm);
    assert_eq!(pool.idle_count(), 0);
}

#[test]
fn fill_creates_idle_vms_up_to_the_bound() {
    let hv = Arc::new(Hypervisor::open().expect("these tests need a usable /dev/kvm"));
    let pool = Pool::new(hv.clone(), Arc::new(template(&hv)), 3);
    pool.fill(5).expect("fill");
    assert_eq!(pool.idle_count(), 3);
}

/// A pooled VM, by its memory.
fn id(vm: &Vm) -> u64 {
    vm.ram().host_address()
}

#[test]
fn a_thread_gets_back_the_vm_it_gave_back() {
    let hv = Arc::new(Hypervisor::open().expect("these tests need a usable /dev/kvm"));
    let pool = Pool::new(hv.clone(), Arc::new(template(&hv)), 4);
    let (mine, theirs) = (pool.take().expect("vm"), pool.take().expect("vm"));
    let (my_id, their_id) = (id(&mine), id(&theirs));
    pool.give_back(mine);
    // Given back last, by another thread: on top of the pool.
    std::thread::scope(|s| {
        s.spawn(|| pool.give_back(theirs));
    });
    let mut again = pool.take().expect("vm");
    assert_eq!(id(&again), my_id, "this thread's own VM, not the top one");
    assert_eq!(ping(&mut again, 1), 2);
    // A thread that gave none back gets the last one given back.
    let other = std::thread::scope(|s| s.spawn(|| id(&pool.take().expect("vm"))).join());
    assert_eq!(other.expect("taker"), their_id);
}
