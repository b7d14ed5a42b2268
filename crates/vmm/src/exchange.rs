//! One call into sysd: publish the request, let sysd run (sync: on this
//! thread; poll: the vCPU thread), serve the host ops it asks for, and check
//! every response it publishes. Runs on the function's thread.

use wasc_wire::hostop::SCRATCH_LEN;
use wasc_wire::{ticket, OpResult, Request, Response, Status, MAX_STEPS, NO_STORE, OP_COMPLETED};

use crate::{call, vcpu, Error, HostOps, NoHostOps, Reply, Vm};

/// What a response sysd published asks of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The call is over.
    Reply(Reply),
    /// sysd asks for the host op in the call page.
    HostOp,
    /// sysd asks for the host op in the call page, its call's last step:
    /// on success the host may end the call, storing the op's value at
    /// this linear-memory offset (`None`: nowhere).
    FinalOp(Option<u64>),
}

/// Checks one response sysd published when ticket `expected` was due: the
/// ticket must be exactly that, the status one of the defined ones.
/// Anything else is a protocol violation that ends the instance.
pub fn check_response(response: &Response, expected: u64) -> Result<Step, Error> {
    if response.ticket != expected {
        return Err(Error::Protocol(format!(
            "published ticket {:#x} while {expected:#x} was due",
            response.ticket
        )));
    }
    match Status::from_raw(response.status) {
        Some(status @ (Status::Done | Status::Exit | Status::Trap)) => Ok(Step::Reply(Reply {
            status,
            errno: response.errno,
            value: response.value,
        })),
        Some(Status::HostOp) => Ok(Step::HostOp),
        Some(Status::HostOpFinal) => Ok(Step::FinalOp(
            (response.value != NO_STORE).then_some(response.value),
        )),
        _ => Err(Error::Protocol(format!(
            "answered with status {:#x}",
            response.status
        ))),
    }
}

impl Vm {
    /// Calls sysd with no host ops available (sysd gets `NOSYS` for any).
    pub fn call(&mut self, function: u32, args: &[u64]) -> Result<Reply, Error> {
        self.call_with(function, args, &mut NoHostOps)
    }

    /// Calls sysd and performs the host ops it asks for with `host`, on this
    /// thread, until it answers. Works in both transports.
    pub fn call_with(
        &mut self,
        function: u32,
        args: &[u64],
        host: &mut dyn HostOps,
    ) -> Result<Reply, Error> {
        if args.len() > 9 {
            return Err(Error::TooManyArguments(args.len()));
        }
        // A retired window still maps the last instance's memory: the caller
        // maps this instance's first (`map_window`), or sysd gets none.
        let result = self
            .drop_retired_window()
            .and_then(|()| self.exchange(function, args, host));
        self.failed |= result.is_err();
        result
    }

    fn exchange(
        &mut self,
        function: u32,
        args: &[u64],
        host: &mut dyn HostOps,
    ) -> Result<Reply, Error> {
        self.end_pristine()?;
        let ram = self.ram.clone();
        let page = call::CallPageRef::new(&ram)?;
        self.seq += 1;
        let mut request = Request {
            seq: self.seq,
            function,
            nargs: args.len() as u32,
            args: [0; 9],
            window_len: self.window.map_or(0, |(_, len)| len as u64),
        };
        request.args[..args.len()].copy_from_slice(args);
        let mut previous = page.response_ticket();
        page.write_request(request);
        let mut scratch = [0u8; SCRATCH_LEN];
        for step in 0..=MAX_STEPS {
            let expected = ticket(self.seq, step);
            let response = self.wait(previous)?;
            previous = expected;
            let store = match check_response(&response, expected)? {
                Step::Reply(reply) => return Ok(reply),
                Step::HostOp => None,
                Step::FinalOp(store) => Some(store),
            };
            let op = page.read_host_op();
            page.read_scratch(&mut scratch);
            let performed = host.perform(&op, &mut scratch);
            page.write_scratch(&scratch);
            let ended = match (store, performed) {
                (Some(store), Ok(value)) => end_call(host, store, value)?,
                _ => None,
            };
            let (errno, value) = match performed {
                Ok(value) => (0, value),
                Err(errno) => (u32::from(errno), 0),
            };
            page.write_op_result(OpResult {
                ticket: expected,
                errno,
                flags: if ended.is_some() { OP_COMPLETED } else { 0 },
                value,
            });
            if let Some(reply) = ended {
                return Ok(reply);
            }
        }
        Err(Error::Protocol(
            "made more host ops than a request may".into(),
        ))
    }

    /// Lets sysd run until it publishes a response with a ticket other than
    /// `previous`.
    fn wait(&mut self, previous: u64) -> Result<Response, Error> {
        if let Some(poll) = self.poll_thread()? {
            return Ok(poll.wait(previous)?);
        }
        let ram = self.ram.clone();
        vcpu::run_until_yield(self.vcpu()?, &ram)?;
        let page = call::CallPageRef::new(&ram)?;
        let response = page.read_response();
        if response.ticket == previous {
            return Err(Error::Protocol("yielded without answering".into()));
        }
        Ok(response)
    }
}

/// Ends a call whose last host op succeeded with `value`, as sysd asked
/// ([`Status::HostOpFinal`]): stores the value where sysd said and answers
/// `Done`. `None` when `host` does not end calls or the value does not fit
/// (sysd then ends the call itself); an offset outside the memory is sysd
/// misbehaving.
fn end_call(
    host: &mut dyn HostOps,
    store: Option<u64>,
    value: u64,
) -> Result<Option<Reply>, Error> {
    let Ok(word) = u32::try_from(value) else {
        return Ok(None);
    };
    if !host.ends_calls() {
        return Ok(None);
    }
    if let Some(offset) = store {
        if !host.store_u32(offset, word) {
            return Err(Error::Protocol(format!(
                "asked to store a call's result at {offset:#x}, outside linear memory"
            )));
        }
    }
    Ok(Some(Reply {
        status: Status::Done,
        errno: 0,
        value,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(ticket: u64, status: u32) -> Response {
        Response {
            ticket,
            status,
            errno: 5,
            value: 7,
        }
    }

    /// A host with four bytes of linear memory.
    struct Four {
        ends: bool,
        memory: [u8; 4],
    }

    impl HostOps for Four {
        fn perform(
            &mut self,
            _: &wasc_wire::hostop::HostOp,
            _: &mut [u8; SCRATCH_LEN],
        ) -> Result<u64, u16> {
            Ok(0)
        }
        fn ends_calls(&self) -> bool {
            self.ends
        }
        fn store_u32(&mut self, offset: u64, value: u32) -> bool {
            if offset != 0 {
                return false;
            }
            self.memory = value.to_le_bytes();
            true
        }
    }

    #[test]
    fn a_host_ends_a_call_only_inside_memory_and_with_a_u32() {
        let mut host = Four {
            ends: true,
            memory: [0; 4],
        };
        let reply = end_call(&mut host, Some(0), 7).expect("in memory");
        assert_eq!(
            reply.map(|r| (r.status, r.errno, r.value)),
            Some((Status::Done, 0, 7))
        );
        assert_eq!(host.memory, [7, 0, 0, 0]);
        assert!(end_call(&mut host, None, 9).expect("nowhere").is_some());
        assert_eq!(host.memory, [7, 0, 0, 0]);
        // Too large for the result: sysd ends the call.
        assert!(end_call(&mut host, Some(0), 1 << 32)
            .expect("not ended")
            .is_none());
        // Outside memory: sysd misbehaves.
        assert!(matches!(
            end_call(&mut host, Some(4), 1),
            Err(Error::Protocol(_))
        ));
        // A host that does not end calls leaves it to sysd.
        let mut host = Four {
            ends: false,
            memory: [0; 4],
        };
        assert!(end_call(&mut host, Some(0), 1)
            .expect("not ended")
            .is_none());
        assert_eq!(host.memory, [0; 4]);
    }

    #[test]
    fn only_the_due_ticket_with_a_defined_status_is_accepted() {
        let due = ticket(3, 1);
        assert_eq!(
            check_response(&response(due, Status::HostOp as u32), due).ok(),
            Some(Step::HostOp)
        );
        assert!(matches!(
            check_response(&response(due, Status::Done as u32), due),
            Ok(Step::Reply(Reply {
                errno: 5,
                value: 7,
                ..
            }))
        ));
        assert_eq!(
            check_response(&response(due, Status::HostOpFinal as u32), due).ok(),
            Some(Step::FinalOp(Some(7)))
        );
        let mut nowhere = response(due, Status::HostOpFinal as u32);
        nowhere.value = NO_STORE;
        assert_eq!(
            check_response(&nowhere, due).ok(),
            Some(Step::FinalOp(None))
        );
        assert!(check_response(&response(due + 1, Status::Done as u32), due).is_err());
        assert!(check_response(&response(due, Status::Idle as u32), due).is_err());
        assert!(check_response(&response(due, 0xdead), due).is_err());
    }
}
