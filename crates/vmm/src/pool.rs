//! Idle VMs, reset and ready. A VM returned to the pool has its private
//! pages discarded (its memory reads as the template again), its window
//! unmapped, its vCPU state restored and a fresh instance seed; a VM that
//! failed is destroyed instead.
//!
//! A thread gets back the VM it gave back last, if that one is idle.
//! wasmtime's pooling allocator gives each thread a home shard of memory
//! slots and reuses the slot a module's last instance freed there, so the
//! thread's next instance most likely lies where that VM's retired window
//! still points: no KVM slot change, which would drop every shadow mapping
//! of the VM for sysd to fault back in.

use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use crate::{Error, Hypervisor, Template, Vm};

/// A pool of sysd VMs cloned from one template.
#[derive(Debug)]
pub struct Pool {
    hypervisor: Arc<Hypervisor>,
    template: Arc<Template>,
    idle: Mutex<Vec<Idle>>,
    max_idle: usize,
}

/// An idle VM and the thread that gave it back (`None`: made by `fill`).
#[derive(Debug)]
struct Idle {
    vm: Vm,
    by: Option<ThreadId>,
}

impl Pool {
    pub fn new(hypervisor: Arc<Hypervisor>, template: Arc<Template>, max_idle: usize) -> Self {
        Self {
            hypervisor,
            template,
            idle: Mutex::new(Vec::with_capacity(max_idle)),
            max_idle,
        }
    }

    /// Creates VMs until `count` are idle (bounded by `max_idle`).
    pub fn fill(&self, count: usize) -> Result<(), Error> {
        while self.idle_count() < count.min(self.max_idle) {
            let vm = self.template.instantiate(&self.hypervisor)?;
            self.lock().push(Idle { vm, by: None });
        }
        Ok(())
    }

    /// An idle VM if there is one — the one this thread gave back last if
    /// it is idle, else the last given back — else a new one from the
    /// template.
    pub fn take(&self) -> Result<Vm, Error> {
        let me = std::thread::current().id();
        let idle = {
            let mut idle = self.lock();
            match idle.iter().rposition(|vm| vm.by == Some(me)) {
                Some(mine) => Some(idle.remove(mine)),
                None => idle.pop(),
            }
        };
        match idle {
            Some(idle) => Ok(idle.vm),
            None => self.template.instantiate(&self.hypervisor),
        }
    }

    /// Resets `vm` and keeps it for reuse; destroys it if it failed, if the
    /// reset fails, or if the pool is full.
    pub fn give_back(&self, mut vm: Vm) {
        if vm.failed() || self.idle_count() >= self.max_idle {
            return;
        }
        if vm.reset(&self.template).is_ok() {
            let by = Some(std::thread::current().id());
            self.lock().push(Idle { vm, by });
        }
    }

    pub fn idle_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        // A panic while holding the lock cannot leave the Vec inconsistent.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
