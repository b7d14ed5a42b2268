//! The 46 forwarders: every WASI import hands `(function id, raw
//! arguments)` to sysd and performs the host ops sysd asks for with the
//! executor; sysd's traps become the errors wasmtime-wasi gives.

use std::mem::MaybeUninit;
use wasc_executor::{Executor, LinearMemory};
use wasc_vmm::HostOps;
use wasc_wire::hostop::{HostOp, SCRATCH_LEN};
use wasc_wire::wasi::{self as ids, TrapKind};
use wasc_wire::Status;

use wasmtime::{Caller, Engine, FuncType, Linker, ValRaw, ValType};

use super::{Instance, WASI};
use crate::Error;

/// One forwarder per preview-1 function, with the function's real type, so a
/// module that declares another type fails to link as with wasmtime-wasi.
pub(super) fn define_forwarders(
    linker: &mut Linker<Instance>,
    engine: &Engine,
) -> Result<(), Error> {
    for (id, (name, signature)) in ids::NAMES.iter().zip(ids::SIGNATURES).enumerate() {
        // Every function returns an errno but `proc_exit`.
        let returns = *name != "proc_exit";
        let results = returns.then_some(ValType::I32);
        // `I` in a signature is an i64 parameter, anything else an i32.
        let wide: Vec<bool> = signature.bytes().map(|b| b == b'I').collect();
        let params = wide
            .iter()
            .map(|&wide| if wide { ValType::I64 } else { ValType::I32 });
        let ty = FuncType::new(engine, params, results);
        let forwarder = move |caller: Caller<'_, Instance>,
                              values: &mut [MaybeUninit<ValRaw>]|
              -> wasmtime::Result<()> {
            let mut args = [0u64; 9];
            for ((slot, value), wide) in args.iter_mut().zip(values.iter()).zip(&wide) {
                // SAFETY: wasmtime initialises the first `params` values with
                // arguments of this function's type, which `wide` describes.
                let value = unsafe { value.assume_init() };
                *slot = if *wide {
                    value.get_i64() as u64
                } else {
                    u64::from(value.get_i32() as u32)
                };
            }
            let errno = forward(id as u32, caller, &args[..wide.len()])?;
            if returns {
                if let Some(result) = values.first_mut() {
                    result.write(ValRaw::i32(errno));
                }
            }
            Ok(())
        };
        // SAFETY: `ty` is the function's type: the closure reads exactly its
        // parameters (one per signature byte, i64 for `I`, else i32) and
        // writes its one i32 result, if it has one, as `ValRaw::i32`.
        unsafe { linker.func_new_unchecked(WASI, name, ty, forwarder) }.map_err(Error::LinkWasi)?;
    }
    Ok(())
}

/// The forwarder: raw arguments in, sysd's answer out.
/// Returns the call's errno (ignored for `proc_exit`, which never returns).
fn forward(id: u32, mut caller: Caller<'_, Instance>, args: &[u64]) -> wasmtime::Result<i32> {
    // The export cannot change after instantiation: look it up once.
    let memory = match caller.data().memory {
        Some(memory) => memory,
        None => {
            let memory = caller.get_export("memory").and_then(|e| e.into_memory());
            caller.data_mut().memory = Some(memory);
            memory
        }
    };
    // wasmtime-wasi refuses every call of a module without one.
    let Some(memory) = memory else {
        return Err(wasmtime::Error::msg("missing required memory export"));
    };
    let (base, len) = (memory.data_ptr(&caller) as usize, memory.data_size(&caller));
    let instance = caller.data_mut();
    if instance.window != (base, len) {
        // SAFETY: the memory belongs to this store, which owns the VM. It
        // can move or be freed only by growing, and the store's limiter
        // unmaps the window before any growth (`Instance::memory_growing`);
        // it is mapped again here, where it is now, before sysd runs.
        unsafe { instance.vm.map_window(base as *mut u8, len) }?;
        instance.window = (base, len);
    }
    let mut host = ExecutorOps {
        executor: &mut instance.executor,
        base,
        len,
    };
    let reply = instance.vm.call_with(id, args, &mut host)?;
    // A call whose wait met the deadline (the executor answered it `INTR`)
    // ends the module as its next epoch check would.
    if instance.executor.past_deadline() {
        return Err(wasmtime::Trap::Interrupt.into());
    }
    match reply.status {
        Status::Exit => Err(wasmtime_wasi::I32Exit(reply.value as i32).into()),
        Status::Trap => Err(trap_error(id, reply.errno, reply.value)),
        _ => Ok(reply.errno as i32),
    }
}

/// The errors wasmtime-wasi gives for the same situations, with the same
/// chain of causes (wiggle adds "In func …" context for results it writes
/// and arguments it converts). `kind` and `detail` come from sysd: anything
/// unexpected is reported as such, not trusted.
fn trap_error(id: u32, kind: u32, detail: u64) -> wasmtime::Error {
    let function = ids::NAMES.get(id as usize).copied().unwrap_or("?");
    let in_func = |at: &str, error: wasmtime::Error| {
        let context = format!("In func {WASI}::{function} at {at}: {error}");
        error.context(context)
    };
    let region = || {
        wasmtime::Error::msg(format!(
            "Pointer out of bounds: Region {{ start: {}, len: {} }}",
            detail >> 32,
            detail & 0xffff_ffff
        ))
    };
    let misaligned = || {
        wasmtime::Error::msg(format!(
            "Pointer not aligned to {}: Region {{ start: {}, len: {} }}",
            detail & 0xffff_ffff,
            detail >> 32,
            detail & 0xffff_ffff
        ))
    };
    let value = |what: &str| match ids::ValueType::from_raw(detail) {
        Some(ty) => in_func(
            &format!("convert {}", ty.name()),
            wasmtime::Error::msg(format!("Invalid {what} value {}", ty.name())),
        ),
        None => wasmtime::Error::msg(format!("sysd ended the call with unknown type {detail}")),
    };
    match kind {
        k if k == TrapKind::PointerOutOfBounds as u32 => region(),
        k if k == TrapKind::ResultOutOfBounds as u32 => match ids::result_name(id) {
            Some(result) => in_func(&format!("write {result}"), region()),
            None => region(),
        },
        k if k == TrapKind::PointerNotAligned as u32 => misaligned(),
        k if k == TrapKind::ResultNotAligned as u32 => match ids::result_name(id) {
            Some(result) => in_func(&format!("write {result}"), misaligned()),
            None => misaligned(),
        },
        k if k == TrapKind::InvalidExitStatus as u32 => {
            wasmtime::Error::msg("exit with invalid exit status outside of [0..126)")
        }
        k if k == TrapKind::InvalidClockId as u32 => in_func(
            "convert Clockid",
            wasmtime::Error::msg("Invalid enum value Clockid"),
        ),
        k if k == TrapKind::InvalidEnum as u32 => value("enum"),
        k if k == TrapKind::InvalidFlags as u32 => value("flag"),
        k if k == TrapKind::IntConversion as u32 => match ids::ValueType::from_raw(detail) {
            Some(ty) => in_func(
                &format!("convert {}", ty.name()),
                wasmtime::Error::msg("out of range integral type conversion attempted")
                    .context("Int conversion error: TryFromIntError(())"),
            ),
            None => wasmtime::Error::msg(format!("sysd ended the call with unknown type {detail}")),
        },
        k if k == TrapKind::RandomTooLong as u32 => wasmtime::Error::msg(format!(
            "requested len {detail} exceeds limit {}",
            ids::RANDOM_LIMIT
        ))
        .context("failed to call `get-random-bytes`"),
        _ => wasmtime::Error::msg(format!("sysd ended the call with unknown trap kind {kind}")),
    }
}

/// Host ops through the executor, on the caller's linear memory.
struct ExecutorOps<'a> {
    executor: &'a mut Executor,
    base: usize,
    len: usize,
}

impl HostOps for ExecutorOps<'_> {
    fn perform(&mut self, op: &HostOp, scratch: &mut [u8; SCRATCH_LEN]) -> Result<u64, u16> {
        // SAFETY: `base..base + len` is the caller's linear memory, alive and
        // not otherwise borrowed while the forwarder runs.
        let memory = unsafe { LinearMemory::new(self.base as *mut u8, self.len) };
        self.executor
            .execute(op, &memory, scratch)
            .map_err(|errno| errno.0)
    }

    fn ends_calls(&self) -> bool {
        true
    }

    fn store_u32(&mut self, offset: u64, value: u32) -> bool {
        // SAFETY: as in `perform`.
        let memory = unsafe { LinearMemory::new(self.base as *mut u8, self.len) };
        memory.store_u32(offset, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ExternType;
    use wasmtime::Store;

    /// The forwarders' types are wasmtime-wasi's types, function by function.
    #[test]
    fn signatures_match_wasmtime_wasi() {
        let engine = Engine::default();
        let mut linker: Linker<wasmtime_wasi::p1::WasiP1Ctx> = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx).expect("link wasi");
        let mut store = Store::new(&engine, wasmtime_wasi::WasiCtxBuilder::new().build_p1());
        let items: Vec<_> = linker
            .iter(&mut store)
            .filter(|(module, _, _)| *module == WASI)
            .map(|(_, name, item)| (name.to_owned(), item))
            .collect();
        let mut seen = 0;
        for (name, item) in items {
            let name = name.as_str();
            let ExternType::Func(ty) = item.ty(&store) else {
                panic!("{name} is not a function")
            };
            let id = ids::id(name).unwrap_or_else(|| panic!("{name} missing from the id table"));
            let expected: String = ty
                .params()
                .map(|p| match p {
                    ValType::I32 => 'i',
                    ValType::I64 => 'I',
                    other => panic!("{name}: unexpected {other:?}"),
                })
                .collect();
            assert_eq!(ids::SIGNATURES[id as usize], expected, "{name}");
            assert_eq!(
                ty.results().len(),
                usize::from(name != "proc_exit"),
                "{name}"
            );
            seen += 1;
        }
        assert_eq!(seen, 46);
    }
}
