//! Host ops across the VM boundary: sysd asks, the function thread performs
//! (with the real executor in one test), sysd continues; in both transports.
//! Protocol violations by sysd end the call with an error. Needs /dev/kvm.

use std::os::fd::OwnedFd;

use wasc_executor::{Executor, LinearMemory};
mod common;

use wasc_vmm::{Error, HostOps, Transport, Vm};
use wasc_wire::hostop::{lookup, HostOp, OpCode, SCRATCH_LEN, SCRATCH_OFFSET};
use wasc_wire::{layout, Function};

const TRANSPORTS: [Transport; 2] = [Transport::Sync, Transport::Poll { spin_limit: 10_000 }];

fn boot(transport: Transport) -> Vm {
    let mut vm = common::selftest_vm(&common::hypervisor());
    vm.set_transport(transport).expect("transport");
    vm
}

/// Records ops and answers `args[0] * 2`, or errno 8 for op 99.
#[derive(Default)]
struct Recorder {
    ops: Vec<HostOp>,
}

impl HostOps for Recorder {
    fn perform(&mut self, op: &HostOp, _: &mut [u8; SCRATCH_LEN]) -> Result<u64, u16> {
        self.ops.push(*op);
        if op.op == 99 {
            Err(8)
        } else {
            Ok(op.args[0] * 2)
        }
    }
}

fn relay(op: u64, count: u64, args: &[u64]) -> Vec<u64> {
    let mut all = vec![op, count];
    all.extend_from_slice(args);
    all
}

#[test]
fn host_ops_reach_the_function_thread_in_both_transports() {
    for transport in TRANSPORTS {
        let mut vm = boot(transport);
        let mut host = Recorder::default();
        let reply = vm
            .call_with(
                Function::SelftestHostOp as u32,
                &relay(7, 3, &[5, 6, 7, 8, 9, 10]),
                &mut host,
            )
            .expect("relay");
        assert_eq!((reply.errno, reply.value), (0, 30), "{transport:?}");
        assert_eq!(host.ops.len(), 3);
        assert!(host
            .ops
            .iter()
            .all(|op| op.op == 7 && op.args == [5, 6, 7, 8, 9, 10]));
        // Many steps in one request, then an ordinary call.
        let reply = vm
            .call_with(
                Function::SelftestHostOp as u32,
                &relay(1, 500, &[1]),
                &mut host,
            )
            .expect("500 ops");
        assert_eq!(reply.value, 1000);
        assert_eq!(
            vm.call(Function::SelftestPing as u32, &[1])
                .expect("ping")
                .value,
            2
        );
    }
}

#[test]
fn host_op_errors_reach_sysd() {
    for transport in TRANSPORTS {
        let mut vm = boot(transport);
        let reply = vm
            .call_with(
                Function::SelftestHostOp as u32,
                &relay(99, 3, &[]),
                &mut Recorder::default(),
            )
            .expect("call");
        assert_eq!(reply.errno, 8, "{transport:?}");
        let reply = vm
            .call(Function::SelftestHostOp as u32, &relay(1, 1, &[]))
            .expect("call");
        assert_eq!(reply.errno, 52, "no host ops: NOSYS");
    }
}

#[test]
fn an_undefined_status_is_a_protocol_error() {
    for transport in TRANSPORTS {
        let mut vm = boot(transport);
        let err = vm
            .call(Function::SelftestBadStatus as u32, &[])
            .expect_err("violation");
        assert!(matches!(err, Error::Protocol(_)), "{err}");
        assert!(vm.failed());
    }
}

#[test]
fn yielding_without_an_answer_is_a_protocol_error() {
    let mut vm = boot(Transport::Sync);
    let err = vm
        .call(Function::SelftestSilentYield as u32, &[])
        .expect_err("violation");
    assert!(matches!(err, Error::Protocol(_)), "{err}");
}

/// The real executor over a host buffer standing in for linear memory.
struct Real {
    executor: Executor,
    memory: Vec<u8>,
}

impl HostOps for Real {
    fn perform(&mut self, op: &HostOp, scratch: &mut [u8; SCRATCH_LEN]) -> Result<u64, u16> {
        // SAFETY: `memory` outlives the view and is not otherwise borrowed.
        let memory = unsafe { LinearMemory::new(self.memory.as_mut_ptr(), self.memory.len()) };
        self.executor.execute(op, &memory, scratch).map_err(|e| e.0)
    }
}

#[test]
fn sysd_creates_and_writes_a_file_through_the_executor() {
    for transport in TRANSPORTS {
        let dir = tempfile::tempdir().expect("temp dir");
        let preopen: OwnedFd = std::fs::File::open(dir.path()).expect("open dir").into();
        let mut host = Real {
            executor: Executor::new(vec![preopen]),
            memory: vec![0; 4096],
        };
        host.memory[64..75].copy_from_slice(b"from sysd\n!");
        let mut vm = boot(transport);
        // sysd's scratch area holds the component name (the relay sends the
        // op as given; a real sysd writes the name there itself).
        vm.ram()
            .write(layout::CALL_PAGE + SCRATCH_OFFSET as u64, b"out.txt")
            .expect("name");
        let flags = lookup::READ | lookup::WRITE | lookup::CREATE;
        let handle = vm
            .call_with(
                Function::SelftestHostOp as u32,
                &relay(OpCode::Lookup as u64, 1, &[3, 7, flags]),
                &mut host,
            )
            .expect("lookup");
        assert_eq!((handle.errno, handle.value), (0, 4), "{transport:?}");
        let written = vm
            .call_with(
                Function::SelftestHostOp as u32,
                &relay(OpCode::Write as u64, 1, &[4, 64, 10]),
                &mut host,
            )
            .expect("write");
        assert_eq!((written.errno, written.value), (0, 10));
        let refused = vm
            .call_with(
                Function::SelftestHostOp as u32,
                &relay(OpCode::Write as u64, 1, &[4, 4090, 10]),
                &mut host,
            )
            .expect("refused write");
        assert_eq!(refused.errno, 21, "range past memory: FAULT");
        assert_eq!(host.executor.refused(), 1);
        assert_eq!(
            std::fs::read(dir.path().join("out.txt")).expect("file"),
            b"from sysd\n"
        );
    }
}
