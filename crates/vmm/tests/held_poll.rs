//! A held poll thread, released, spins between calls again: the hold's
//! "park now" does not outlive it. Alone in its binary because it counts
//! the process's VM exits. Needs /dev/kvm.

mod common;

use wasc_vmm::{exit_count, Transport, Vm};
use wasc_wire::Function;

#[test]
fn calls_after_a_hold_need_no_exit_each() {
    let mut vm = common::selftest_vm(&common::hypervisor());
    // Long enough that sysd never parks between back-to-back calls.
    vm.set_transport(Transport::Poll {
        spin_limit: 1 << 24,
    })
    .expect("poll");
    let ping = |vm: &mut Vm, x| {
        let reply = vm.call(Function::SelftestPing as u32, &[x]).expect("ping");
        assert_eq!(reply.value, x + 1);
    };
    ping(&mut vm, 0);
    for round in 0..3 {
        // Holds the thread (as a memory growth does mid-instance): sysd
        // parks at once, one exit.
        vm.retire_window().expect("retire");
        let before = exit_count();
        for i in 0..200 {
            ping(&mut vm, i);
        }
        let exits = exit_count() - before;
        assert!(
            exits <= 2,
            "round {round}: 200 calls after a hold took {exits} exits"
        );
    }
}
