//! The self-test protocol: ping, argument passing and deliberate faults,
//! used by the VMM's tests to prove the VM boundary reports every failure.

use wasc_wire::hostop::HostOp;
use wasc_wire::{Function, Request, Response, Status};

use crate::Machine;

/// `errno` for a function id sysd does not know.
pub const ERRNO_NOSYS: u32 = 52;
/// `errno` for an argument count above 9.
pub const ERRNO_INVAL: u32 = 28;

/// Handles one request. Requests that ask for a fault do not return when the
/// machine is real.
pub fn handle(request: &Request, machine: &mut impl Machine) -> Response {
    // The runtime fills in the ticket.
    let done = |errno, value| Response {
        ticket: 0,
        status: Status::Done as u32,
        errno,
        value,
    };
    let Ok(nargs) = usize::try_from(request.nargs) else {
        return done(ERRNO_INVAL, 0);
    };
    let Some(args) = request.args.get(..nargs) else {
        return done(ERRNO_INVAL, 0);
    };
    let arg0 = args.first().copied().unwrap_or(0);
    let Some(function) = Function::from_raw(request.function) else {
        return done(ERRNO_NOSYS, 0);
    };
    match function {
        Function::SelftestPing => done(0, arg0.wrapping_add(1)),
        Function::SelftestSum => done(0, args.iter().fold(0u64, |a, b| a.wrapping_add(*b))),
        Function::SelftestRead => done(0, u64::from(machine.read_byte(arg0))),
        Function::SelftestWrite => {
            machine.write_byte(arg0, 0x5a);
            done(0, 0)
        }
        Function::SelftestJump => {
            machine.jump(arg0);
            done(0, 0)
        }
        Function::SelftestInvalidOpcode => {
            machine.invalid_opcode();
            done(0, 0)
        }
        Function::SelftestPrivileged => {
            machine.privileged();
            done(0, 0)
        }
        Function::SelftestStackOverflow => {
            machine.overflow_stack();
            done(0, 0)
        }
        Function::SelftestSeed => done(0, machine.instance().seed[0]),
        Function::SelftestHostOp => {
            let (Some(&op), Some(&count)) = (args.first(), args.get(1)) else {
                return done(ERRNO_INVAL, 0);
            };
            let mut words = [0u64; 6];
            for (word, arg) in words.iter_mut().zip(args.iter().skip(2)) {
                *word = *arg;
            }
            let op = HostOp {
                op: op as u32,
                reserved: 0,
                args: words,
            };
            let mut sum = 0u64;
            for _ in 0..count {
                match machine.host_op(op) {
                    Ok(value) => sum = sum.wrapping_add(value),
                    Err(errno) => return done(errno, sum),
                }
            }
            done(0, sum)
        }
        Function::SelftestBadStatus => Response {
            status: 77,
            ..done(0, 0)
        },
        Function::SelftestSilentYield => {
            machine.silent_yield();
            done(0, 0)
        }
        Function::SelftestAnswerThenSpin => {
            machine.answer_then_spin(done(0, 0));
            done(0, 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what was asked of the machine instead of doing it.
    #[derive(Default)]
    struct Recorder {
        reads: usize,
        writes: usize,
        faults: usize,
        host_ops: usize,
    }

    impl Machine for Recorder {
        fn read_byte(&mut self, address: u64) -> u8 {
            self.reads += 1;
            address as u8
        }
        fn write_byte(&mut self, _: u64, _: u8) {
            self.writes += 1;
        }
        fn jump(&mut self, _: u64) {
            self.faults += 1;
        }
        fn invalid_opcode(&mut self) {
            self.faults += 1;
        }
        fn privileged(&mut self) {
            self.faults += 1;
        }
        fn overflow_stack(&mut self) {
            self.faults += 1;
        }
        fn instance(&mut self) -> wasc_wire::Instance {
            wasc_wire::Instance {
                seed: [17, 0, 0, 0],
                ..Default::default()
            }
        }
        fn silent_yield(&mut self) {
            self.faults += 1;
        }
        fn answer_then_spin(&mut self, _: Response) {
            self.faults += 1;
        }
        fn host_op(&mut self, op: HostOp) -> Result<u64, u32> {
            self.host_ops += 1;
            if op.op == 99 {
                Err(8)
            } else {
                Ok(op.args[0])
            }
        }
    }

    fn request(function: Function, args: &[u64]) -> Request {
        let mut request = Request {
            seq: 7,
            function: function as u32,
            nargs: args.len() as u32,
            ..Default::default()
        };
        request.args[..args.len()].copy_from_slice(args);
        request
    }

    #[test]
    fn ping_answers_argument_plus_one() {
        let response = handle(
            &request(Function::SelftestPing, &[41]),
            &mut Recorder::default(),
        );
        assert_eq!((response.errno, response.value), (0, 42));
        assert_eq!(response.status, Status::Done as u32);
    }

    #[test]
    fn sum_uses_only_nargs_arguments() {
        let mut r = request(Function::SelftestSum, &[1, 2, 3]);
        r.args[5] = 1000;
        assert_eq!(handle(&r, &mut Recorder::default()).value, 6);
    }

    #[test]
    fn too_many_arguments_is_inval_not_a_panic() {
        let mut r = request(Function::SelftestSum, &[]);
        r.nargs = 10;
        assert_eq!(handle(&r, &mut Recorder::default()).errno, ERRNO_INVAL);
        r.nargs = u32::MAX;
        assert_eq!(handle(&r, &mut Recorder::default()).errno, ERRNO_INVAL);
    }

    #[test]
    fn seed_comes_from_the_instance_area() {
        let response = handle(
            &request(Function::SelftestSeed, &[]),
            &mut Recorder::default(),
        );
        assert_eq!(response.value, 17);
    }

    #[test]
    fn host_op_relay_repeats_and_stops_at_the_first_error() {
        let mut machine = Recorder::default();
        let ok = handle(&request(Function::SelftestHostOp, &[1, 3, 5]), &mut machine);
        assert_eq!((ok.errno, ok.value, machine.host_ops), (0, 15, 3));
        let failed = handle(&request(Function::SelftestHostOp, &[99, 3]), &mut machine);
        assert_eq!((failed.errno, machine.host_ops), (8, 4));
        let missing = handle(&request(Function::SelftestHostOp, &[1]), &mut machine);
        assert_eq!(missing.errno, ERRNO_INVAL);
    }

    #[test]
    fn unknown_function_is_nosys() {
        let mut r = request(Function::SelftestPing, &[]);
        r.function = 0xdead;
        assert_eq!(handle(&r, &mut Recorder::default()).errno, ERRNO_NOSYS);
    }

    #[test]
    fn fault_requests_reach_the_machine() {
        let mut machine = Recorder::default();
        for f in [
            Function::SelftestJump,
            Function::SelftestInvalidOpcode,
            Function::SelftestPrivileged,
            Function::SelftestStackOverflow,
            Function::SelftestSilentYield,
            Function::SelftestAnswerThenSpin,
        ] {
            handle(&request(f, &[0]), &mut machine);
        }
        handle(&request(Function::SelftestRead, &[3]), &mut machine);
        handle(&request(Function::SelftestWrite, &[3]), &mut machine);
        assert_eq!((machine.faults, machine.reads, machine.writes), (6, 1, 1));
    }
}
