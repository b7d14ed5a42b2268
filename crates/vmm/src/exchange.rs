//! One call into sysd: publish the request, let sysd run (sync: on this
//! thread; poll: the vCPU thread), serve the host ops it asks for, and check
//! every response it publishes. Runs on the function's thread.

use wasc_wire::hostop::SCRATCH_LEN;
use wasc_wire::{ticket, OpResult, Request, Response, Status, MAX_STEPS};

use crate::{call, vcpu, Error, HostOps, NoHostOps, Reply, Vm};

/// What a response sysd published asks of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The call is over.
    Reply(Reply),
    /// sysd asks for the host op in the call page.
    HostOp,
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
            match check_response(&response, expected)? {
                Step::Reply(reply) => return Ok(reply),
                Step::HostOp => {
                    let op = page.read_host_op();
                    page.read_scratch(&mut scratch);
                    let (errno, value) = match host.perform(&op, &mut scratch) {
                        Ok(value) => (0, value),
                        Err(errno) => (u32::from(errno), 0),
                    };
                    page.write_scratch(&scratch);
                    page.write_op_result(OpResult {
                        ticket: expected,
                        errno,
                        reserved: 0,
                        value,
                    });
                }
            }
        }
        Err(Error::Protocol(
            "made more host ops than a request may".into(),
        ))
    }

    /// Lets sysd run until it publishes a response with a ticket other than
    /// `previous`.
    fn wait(&mut self, previous: u64) -> Result<Response, Error> {
        if let Some(poll) = self.vcpu.poll_thread() {
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
        assert!(check_response(&response(due + 1, Status::Done as u32), due).is_err());
        assert!(check_response(&response(due, Status::Idle as u32), due).is_err());
        assert!(check_response(&response(due, 0xdead), due).is_err());
    }
}
