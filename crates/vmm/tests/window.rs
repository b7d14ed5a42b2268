//! The linear-memory window: sysd reads and writes a real wasmtime linear
//! memory in place, across `memory.grow`, and accesses past the accessible
//! length are reported instead of hanging. Needs /dev/kvm.

mod common;

use wasc_vmm::{Error, Vm};
use wasc_wire::{layout, Function};
use wasmtime::{Config, Engine, Memory, MemoryType, Store};

const WASM_PAGE: u64 = 64 * 1024;

struct Setup {
    vm: Vm,
    store: Store<()>,
    memory: Memory,
}

fn setup(pages: u64) -> Setup {
    let hv = common::hypervisor();
    let vm = common::selftest_vm(&hv);
    let mut config = Config::new();
    config.memory_may_move(false);
    let engine = Engine::new(&config).expect("engine");
    let mut store = Store::new(&engine, ());
    let memory = Memory::new(&mut store, MemoryType::new(pages as u32, None)).expect("memory");
    let mut setup = Setup { vm, store, memory };
    setup.remap();
    setup
}

impl Setup {
    fn remap(&mut self) {
        let (base, len) = (
            self.memory.data_ptr(&self.store),
            self.memory.data_size(&self.store),
        );
        // SAFETY: the memory belongs to `self.store`, which lives as long as
        // the VM in this test, and never moves (memory_may_move(false)).
        unsafe { self.vm.map_window(base, len) }.expect("map window");
    }

    fn read(&mut self, offset: u64) -> Result<u64, Error> {
        let reply = self
            .vm
            .call(Function::SelftestRead as u32, &[layout::WINDOW + offset])?;
        Ok(reply.value)
    }

    fn write(&mut self, offset: u64) -> Result<(), Error> {
        self.vm
            .call(Function::SelftestWrite as u32, &[layout::WINDOW + offset])
            .map(drop)
    }
}

#[test]
fn sysd_reads_what_wasm_memory_holds() {
    let mut s = setup(2);
    s.memory.data_mut(&mut s.store)[0] = 0x11;
    s.memory.data_mut(&mut s.store)[WASM_PAGE as usize + 7] = 0x22;
    assert_eq!(s.read(0).expect("read"), 0x11);
    assert_eq!(s.read(WASM_PAGE + 7).expect("read"), 0x22);
}

#[test]
fn sysd_writes_land_in_wasm_memory() {
    let mut s = setup(1);
    s.write(123).expect("write");
    assert_eq!(s.memory.data(&s.store)[123], 0x5a);
}

#[test]
fn window_follows_memory_grow() {
    let mut s = setup(1);
    let base = s.memory.data_ptr(&s.store);
    s.memory.grow(&mut s.store, 40).expect("grow"); // 41 pages: 2.56 MiB
    assert_eq!(s.memory.data_ptr(&s.store), base, "memory must not move");
    s.remap();
    let far = 40 * WASM_PAGE + 5; // in the second 2 MiB page
    s.write(far).expect("write after grow");
    assert_eq!(s.memory.data(&s.store)[far as usize], 0x5a);
    assert_eq!(s.read(far).expect("read after grow"), 0x5a);
}

#[test]
fn access_past_the_accessible_length_is_reported() {
    let mut s = setup(1);
    // Same 2 MiB page, but past the registered 64 KiB.
    match s.read(WASM_PAGE + 16) {
        Err(Error::Vcpu(e)) => assert!(e.to_string().contains("not backed"), "{e}"),
        other => panic!("expected an unbacked-access error, got {other:?}"),
    }
}

#[test]
fn access_past_the_mapped_pages_is_a_page_fault() {
    let mut s = setup(1);
    let offset = 3 * layout::PAGE_2M;
    match s.read(offset) {
        Err(Error::Vcpu(e)) => {
            let fault = e.fault().expect("a fault");
            assert_eq!((fault.vector, fault.address), (14, layout::WINDOW + offset));
        }
        other => panic!("expected a page fault, got {other:?}"),
    }
}

#[test]
fn the_window_is_never_executable() {
    let mut s = setup(1);
    let err =
        s.vm.call(Function::SelftestJump as u32, &[layout::WINDOW])
            .expect_err("fault");
    let Error::Vcpu(e) = err else {
        panic!("expected a vCPU error, got {err:?}")
    };
    let fault = e.fault().expect("a fault");
    assert_eq!((fault.vector, fault.rip), (14, layout::WINDOW));
    assert_ne!(fault.error_code & 16, 0, "instruction fetch: {fault}");
}

#[test]
fn misaligned_windows_are_refused() {
    let mut s = setup(1);
    let base = s.memory.data_ptr(&s.store);
    // SAFETY: refused before anything is mapped.
    let err = unsafe { s.vm.map_window(base.wrapping_add(1), 4096) }.expect_err("misaligned");
    assert!(matches!(err, Error::Window { .. }), "{err}");
    // SAFETY: as above.
    let err = unsafe { s.vm.map_window(base, 100) }.expect_err("partial page");
    assert!(matches!(err, Error::Window { .. }), "{err}");
}
