//! The VM boundary with the self-test sysd: calls round-trip, and every
//! deliberate fault comes back as the right typed error while the host
//! carries on. These tests need /dev/kvm and fail loudly without it.

mod common;

use wasc_vmm::{Error, Fault};
use wasc_wire::{layout, Function};

use common::{hypervisor, selftest_vm as boot};

fn fault_of(result: Result<wasc_vmm::Reply, Error>) -> Fault {
    match result {
        Err(Error::Vcpu(error)) => match error.fault() {
            Some(fault) => fault,
            None => panic!("expected a fault, got {error}"),
        },
        other => panic!("expected a fault, got {other:?}"),
    }
}

const PF_PRESENT: u64 = 1;
const PF_WRITE: u64 = 2;
const PF_USER: u64 = 4;
const PF_FETCH: u64 = 16;

#[test]
fn ping_round_trips_repeatedly() {
    let hv = hypervisor();
    let mut vm = boot(&hv);
    for i in 0..100u64 {
        let reply = vm.call(Function::SelftestPing as u32, &[i]).expect("ping");
        assert_eq!((reply.errno, reply.value), (0, i + 1));
    }
}

#[test]
fn all_nine_arguments_arrive() {
    let hv = hypervisor();
    let mut vm = boot(&hv);
    let args: Vec<u64> = (1..=9).map(|i| i << 32 | i).collect();
    let reply = vm.call(Function::SelftestSum as u32, &args).expect("sum");
    assert_eq!(reply.value, args.iter().sum::<u64>());
    assert!(matches!(
        vm.call(0, &[0; 10]),
        Err(Error::TooManyArguments(10))
    ));
}

#[test]
fn unknown_function_is_an_errno_not_a_crash() {
    let hv = hypervisor();
    let mut vm = boot(&hv);
    assert_eq!(vm.call(0xdead, &[]).expect("answer").errno, 52);
    assert_eq!(
        vm.call(Function::SelftestPing as u32, &[1])
            .expect("still alive")
            .value,
        2
    );
}

#[test]
fn read_of_unmapped_memory_is_a_page_fault() {
    let hv = hypervisor();
    let mut vm = boot(&hv);
    let address = layout::RAM_END + 0x1234;
    let fault = fault_of(vm.call(Function::SelftestRead as u32, &[address]));
    assert_eq!((fault.vector, fault.address), (14, address));
    assert_eq!(
        fault.error_code & (PF_PRESENT | PF_WRITE | PF_USER),
        PF_USER
    );
    assert!(
        (layout::SYSD_TEXT..layout::SYSD_DATA).contains(&fault.rip),
        "{fault}"
    );
}

#[test]
fn ring_3_cannot_read_the_system_page() {
    let hv = hypervisor();
    let mut vm = boot(&hv);
    // The GDT lives in the supervisor-only system page.
    let fault = fault_of(vm.call(Function::SelftestRead as u32, &[0x8000]));
    assert_eq!((fault.vector, fault.address), (14, 0x8000));
    assert_eq!(
        fault.error_code & (PF_PRESENT | PF_USER),
        PF_PRESENT | PF_USER
    );
}

#[test]
fn write_to_read_only_text_is_a_page_fault() {
    let hv = hypervisor();
    let mut vm = boot(&hv);
    let fault = fault_of(vm.call(Function::SelftestWrite as u32, &[layout::SYSD_TEXT]));
    assert_eq!((fault.vector, fault.address), (14, layout::SYSD_TEXT));
    assert_eq!(
        fault.error_code & (PF_PRESENT | PF_WRITE | PF_USER),
        PF_PRESENT | PF_WRITE | PF_USER
    );
}

#[test]
fn executing_the_call_page_is_refused() {
    let hv = hypervisor();
    let mut vm = boot(&hv);
    let fault = fault_of(vm.call(Function::SelftestJump as u32, &[layout::CALL_PAGE]));
    assert_eq!((fault.vector, fault.rip), (14, layout::CALL_PAGE));
    assert_ne!(fault.error_code & PF_FETCH, 0, "{fault}");
}

#[test]
fn executing_the_stack_is_refused() {
    let hv = hypervisor();
    let mut vm = boot(&hv);
    let target = layout::SYSD_STACK + 0x100;
    let fault = fault_of(vm.call(Function::SelftestJump as u32, &[target]));
    assert_eq!((fault.vector, fault.rip), (14, target));
    assert_ne!(fault.error_code & PF_FETCH, 0, "{fault}");
}

#[test]
fn invalid_opcode_is_reported() {
    let hv = hypervisor();
    let mut vm = boot(&hv);
    let fault = fault_of(vm.call(Function::SelftestInvalidOpcode as u32, &[]));
    assert_eq!(fault.vector, 6, "{fault}");
    assert!(
        (layout::SYSD_TEXT..layout::SYSD_DATA).contains(&fault.rip),
        "{fault}"
    );
}

#[test]
fn privileged_instruction_is_a_general_protection_fault() {
    let hv = hypervisor();
    let mut vm = boot(&hv);
    let fault = fault_of(vm.call(Function::SelftestPrivileged as u32, &[]));
    assert_eq!(fault.vector, 13, "{fault}");
}

#[test]
fn stack_overflow_hits_the_guard_page() {
    let hv = hypervisor();
    let mut vm = boot(&hv);
    let fault = fault_of(vm.call(Function::SelftestStackOverflow as u32, &[]));
    assert_eq!(fault.vector, 14, "{fault}");
    assert!(fault.kind().starts_with("stack overflow"), "{fault}");
}

#[test]
fn a_fault_ends_only_that_vm() {
    let hv = hypervisor();
    let mut victim = boot(&hv);
    let mut bystander = boot(&hv);
    fault_of(victim.call(Function::SelftestInvalidOpcode as u32, &[]));
    assert_eq!(
        bystander
            .call(Function::SelftestPing as u32, &[9])
            .expect("ping")
            .value,
        10
    );
    drop(victim);
    let mut fresh = boot(&hv);
    assert_eq!(
        fresh
            .call(Function::SelftestPing as u32, &[1])
            .expect("ping")
            .value,
        2
    );
}
