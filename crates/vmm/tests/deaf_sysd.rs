//! A sysd that ignores the host's requests to park (the self-test image's
//! `SelftestAnswerThenSpin`, as a compromised sysd might behave): the host
//! still takes its vCPU — a hold kicks the thread out of `KVM_RUN` — a
//! reset makes it a well-behaved sysd again, and dropping such a VM ends
//! its thread. Needs /dev/kvm.

mod common;

use std::sync::Arc;
use std::time::Duration;

use wasc_vmm::{Pool, Template, Transport, Vm, VmConfig};
use wasc_wire::Function;

fn pool() -> Pool {
    let hv = Arc::new(common::hypervisor());
    let template = Template::new(
        &hv,
        &VmConfig {
            sysd: wasc_sysd_image::SELFTEST,
        },
    )
    .expect("template");
    Pool::new(hv, Arc::new(template), 1)
}

/// A pooled VM in poll whose sysd answered one call and now spins, deaf.
fn deaf(pool: &Pool) -> Vm {
    let mut vm = pool.take().expect("vm");
    vm.set_transport(Transport::Poll { spin_limit: 2000 })
        .expect("poll");
    let reply = vm
        .call(Function::SelftestAnswerThenSpin as u32, &[])
        .expect("answered before it went deaf");
    assert_eq!(reply.value, 0);
    vm
}

fn ping(vm: &mut Vm, x: u64) {
    let reply = vm.call(Function::SelftestPing as u32, &[x]).expect("ping");
    assert_eq!(reply.value, x + 1);
}

/// Runs `f` on a thread of its own: a hang fails the test rather than
/// stalling it.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(f());
    });
    done_rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{what} did not return"))
}

#[test]
fn a_hold_takes_the_vcpu_from_a_sysd_that_never_parks() {
    let pool = pool();
    let mut vm = deaf(&pool);
    // As at the end of an instance: sysd is asked to park and does not.
    let vm = within("the hold of a deaf sysd", move || {
        vm.retire_window().expect("hold");
        vm
    });
    assert!(vm.vcpu_held(), "the host holds the vCPU all the same");
    assert!(!vm.failed());
    pool.give_back(vm);

    // The reset restored sysd's state: it answers, and parks when asked.
    let mut vm = pool.take().expect("the same vm, reset");
    assert_eq!(pool.idle_count(), 0);
    ping(&mut vm, 41);
    vm.retire_window().expect("hold");
    assert!(vm.vcpu_held());
    ping(&mut vm, 42);
}

#[test]
fn dropping_a_vm_whose_sysd_never_parks_ends_its_thread() {
    let pool = pool();
    let vm = deaf(&pool);
    // The drop joins the vCPU thread, which only a kick gets out of
    // `KVM_RUN`.
    within("dropping the VM of a deaf sysd", move || drop(vm));
}
