//! The host's side of the call-page protocol: any response a compromised
//! sysd can publish, checked against the ticket due. It must never panic,
//! and must accept a response only with exactly that ticket and a status
//! that ends the call or asks for a host op (the call's last or not).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasc_vmm::{check_response, Step};
use wasc_wire::{ticket, Response, Status, NO_STORE};

fuzz_target!(|data: &[u8]| {
    let word = |i: usize| {
        let mut bytes = [0u8; 8];
        for (j, b) in bytes.iter_mut().enumerate() {
            *b = data.get(i * 8 + j).copied().unwrap_or(0);
        }
        u64::from_le_bytes(bytes)
    };
    // Sometimes the due ticket itself, so both paths are exercised.
    let due = ticket(word(0) >> 16, (word(0) & 0xffff) as u16);
    let response = Response {
        ticket: if word(1) & 1 == 0 { due } else { word(2) },
        status: word(3) as u32,
        errno: (word(3) >> 32) as u32,
        value: word(4),
    };
    match check_response(&response, due) {
        Ok(Step::HostOp) => {
            assert_eq!(response.ticket, due);
            assert_eq!(Status::from_raw(response.status), Some(Status::HostOp));
        }
        Ok(Step::FinalOp(store)) => {
            assert_eq!(response.ticket, due);
            assert_eq!(Status::from_raw(response.status), Some(Status::HostOpFinal));
            assert_eq!(
                store,
                (response.value != NO_STORE).then_some(response.value)
            );
        }
        Ok(Step::Reply(reply)) => {
            assert_eq!(response.ticket, due);
            assert!(matches!(
                reply.status,
                Status::Done | Status::Exit | Status::Trap
            ));
            assert_eq!((reply.errno, reply.value), (response.errno, response.value));
        }
        Err(_) => assert!(
            response.ticket != due
                || !matches!(
                    Status::from_raw(response.status),
                    Some(
                        Status::Done
                            | Status::Exit
                            | Status::Trap
                            | Status::HostOp
                            | Status::HostOpFinal
                    )
                )
        ),
    }
});
