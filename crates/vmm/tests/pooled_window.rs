//! A pooled VM keeps its linear-memory window across a reset (no KVM slot
//! change when the next instance's memory lies at the same place), and
//! sysd never reaches the last instance's memory through it: a call sees
//! the window only once it was mapped for the new instance. Its tmpfs
//! region is kept too, emptied. Needs /dev/kvm.

use std::sync::Arc;

use wasc_vmm::{Error, Hypervisor, Pool, Template, Transport, Vm, VmConfig};
use wasc_wire::{layout, Function};
use wasmtime::{Config, Engine, Memory, MemoryType, Store};

struct Setup {
    pool: Pool,
    store: Store<()>,
    memories: [Memory; 2],
}

fn setup() -> Setup {
    let hv = Arc::new(Hypervisor::open().expect("these tests need a usable /dev/kvm"));
    let template = Template::new(
        &hv,
        &VmConfig {
            sysd: wasc_sysd_image::SELFTEST,
        },
    )
    .expect("template");
    let mut config = Config::new();
    config.memory_may_move(false);
    let engine = Engine::new(&config).expect("engine");
    let mut store = Store::new(&engine, ());
    let mut memory = || Memory::new(&mut store, MemoryType::new(1, None)).expect("memory");
    let memories = [memory(), memory()];
    Setup {
        pool: Pool::new(hv, Arc::new(template), 1),
        store,
        memories,
    }
}

impl Setup {
    fn map(&mut self, vm: &mut Vm, which: usize) {
        let memory = self.memories[which];
        let (base, len) = (memory.data_ptr(&self.store), memory.data_size(&self.store));
        // SAFETY: both memories belong to `self.store`, which outlives every
        // VM of the test, and never move (memory_may_move(false)).
        unsafe { vm.map_window(base, len) }.expect("map window");
    }

    fn set(&mut self, which: usize, byte: u8) {
        self.memories[which].data_mut(&mut self.store)[8] = byte;
    }

    /// A first instance on a pooled VM that reads 0x11 through a window on
    /// memory 0, then ends (window retired, VM given back): the pooled VM,
    /// reset, for the next one.
    fn after_a_first_instance(&mut self) -> Vm {
        self.after_a_first_instance_in(Transport::Sync)
    }

    fn after_a_first_instance_in(&mut self, transport: Transport) -> Vm {
        let mut vm = self.pool.take().expect("vm");
        vm.set_transport(transport).expect("transport");
        self.set(0, 0x11);
        self.map(&mut vm, 0);
        assert_eq!(read(&mut vm).expect("read"), 0x11);
        vm.retire_window().expect("retire");
        self.pool.give_back(vm);
        let vm = self.pool.take().expect("the same vm, reset");
        assert_eq!(self.pool.idle_count(), 0);
        vm
    }

    /// As [`Setup::after_a_first_instance`] in the poll transport, the
    /// reset VM's sysd started early: it runs, pristine, while the retired
    /// window still maps memory 0.
    fn after_a_first_instance_started_early(&mut self) -> Vm {
        let mut vm = self.after_a_first_instance_in(Transport::Poll { spin_limit: 2000 });
        assert!(vm.vcpu_held(), "a reset VM's sysd waits for its next call");
        vm.start_early().expect("start early");
        assert!(!vm.vcpu_held(), "started early, sysd runs");
        vm
    }
}

/// A read through a window that is not mapped faults instead of returning
/// the last instance's byte.
fn faults_reading_the_window(vm: &mut Vm) {
    match read(vm) {
        Err(Error::Vcpu(e)) => {
            let fault = e.fault().expect("a page fault");
            assert_eq!((fault.vector, fault.address), (14, layout::WINDOW + 8));
        }
        other => panic!("expected a page fault, got {other:?}"),
    }
}

fn read(vm: &mut Vm) -> Result<u64, Error> {
    vm.call(Function::SelftestRead as u32, &[layout::WINDOW + 8])
        .map(|reply| reply.value & 0xff)
}

#[test]
fn the_next_instance_at_the_same_place_sees_its_own_bytes() {
    let mut s = setup();
    let mut vm = s.after_a_first_instance();
    // The next instance's memory lies at the same place, with its bytes.
    s.set(0, 0x33);
    s.map(&mut vm, 0);
    assert_eq!(read(&mut vm).expect("read"), 0x33);
    // And sysd writes land there.
    vm.call(Function::SelftestWrite as u32, &[layout::WINDOW + 9])
        .expect("write");
    assert_eq!(s.memories[0].data(&s.store)[9], 0x5a);
}

#[test]
fn the_next_instance_elsewhere_sees_only_its_own_memory() {
    let mut s = setup();
    let mut vm = s.after_a_first_instance();
    s.set(1, 0x44);
    s.map(&mut vm, 1);
    assert_eq!(read(&mut vm).expect("read"), 0x44);
}

#[test]
fn a_call_without_a_mapped_window_never_reaches_the_last_instances_memory() {
    let mut s = setup();
    // No window mapped for this instance: the retired one is removed before
    // sysd runs, so the read faults instead of returning the old byte.
    let mut vm = s.after_a_first_instance();
    faults_reading_the_window(&mut vm);
}

#[test]
fn a_retired_window_within_an_instance_is_kept_or_replaced_by_the_next_map() {
    let mut s = setup();
    let mut vm = s.pool.take().expect("vm");
    s.set(0, 0x11);
    s.set(1, 0x44);
    s.map(&mut vm, 0);
    // A growth that failed leaves the memory where it was.
    vm.retire_window().expect("retire");
    s.map(&mut vm, 0);
    assert_eq!(read(&mut vm).expect("read"), 0x11);
    // One that moved it.
    vm.retire_window().expect("retire");
    s.map(&mut vm, 1);
    assert_eq!(read(&mut vm).expect("read"), 0x44);
}

#[test]
fn a_kept_tmpfs_region_starts_every_instance_empty() {
    let s = setup();
    let at = layout::TMPFS + 4096 + 3;
    let mut vm = s.pool.take().expect("vm");
    vm.map_tmpfs(layout::PAGE_2M).expect("tmpfs");
    vm.call(Function::SelftestWrite as u32, &[at])
        .expect("write");
    let read = |vm: &mut Vm| {
        vm.call(Function::SelftestRead as u32, &[at])
            .expect("read")
            .value
            & 0xff
    };
    assert_eq!(read(&mut vm), 0x5a);
    s.pool.give_back(vm);

    // The same length: the region (and its slot) is kept, emptied.
    let mut vm = s.pool.take().expect("the same vm, reset");
    vm.map_tmpfs(layout::PAGE_2M).expect("tmpfs");
    assert_eq!(read(&mut vm), 0);
    vm.call(Function::SelftestWrite as u32, &[at])
        .expect("write");
    s.pool.give_back(vm);

    // Another length: a new region.
    let mut vm = s.pool.take().expect("the same vm, reset");
    vm.map_tmpfs(2 * layout::PAGE_2M).expect("tmpfs");
    assert_eq!(read(&mut vm), 0);
}

#[test]
fn started_early_the_first_memory_needs_no_hold_and_the_window_its_own_bytes() {
    let mut s = setup();
    let mut vm = s.after_a_first_instance_started_early();
    // The instance's first memory retires the window (`memory_growing`):
    // a pristine sysd is left running.
    vm.retire_window().expect("retire");
    assert!(!vm.vcpu_held(), "no hold for a sysd that saw no request");
    s.set(0, 0x33);
    s.map(&mut vm, 0);
    assert_eq!(read(&mut vm).expect("read"), 0x33);
    // Having served a request, it is held for the next retire.
    vm.retire_window().expect("retire");
    assert!(vm.vcpu_held(), "a sysd that served a request is held");
}

#[test]
fn started_early_the_next_instance_elsewhere_sees_only_its_own_memory() {
    let mut s = setup();
    let mut vm = s.after_a_first_instance_started_early();
    s.set(1, 0x44);
    // The window moves under a running sysd: it is held for the change.
    s.map(&mut vm, 1);
    assert_eq!(read(&mut vm).expect("read"), 0x44);
}

#[test]
fn started_early_a_call_without_a_mapped_window_never_reaches_the_last_instances_memory() {
    let mut s = setup();
    let mut vm = s.after_a_first_instance_started_early();
    faults_reading_the_window(&mut vm);
}

#[test]
fn started_early_a_new_tmpfs_region_is_mapped_with_sysd_held() {
    let mut s = setup();
    let mut vm = s.after_a_first_instance_started_early();
    let at = layout::TMPFS + 4096 + 3;
    vm.map_tmpfs(layout::PAGE_2M).expect("tmpfs");
    assert!(vm.vcpu_held(), "a slot change holds a running sysd first");
    s.map(&mut vm, 0);
    vm.call(Function::SelftestWrite as u32, &[at])
        .expect("write");
    let read = vm.call(Function::SelftestRead as u32, &[at]).expect("read");
    assert_eq!(read.value & 0xff, 0x5a);
}
