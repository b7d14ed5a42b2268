//! Idle VMs, reset and ready. A VM returned to the pool has its private
//! pages discarded (its memory reads as the template again), its window
//! unmapped, its vCPU state restored and a fresh instance seed; a VM that
//! failed is destroyed instead.

use std::sync::{Arc, Mutex};

use crate::{Error, Hypervisor, Template, Vm};

/// A pool of sysd VMs cloned from one template.
#[derive(Debug)]
pub struct Pool {
    hypervisor: Arc<Hypervisor>,
    template: Arc<Template>,
    idle: Mutex<Vec<Vm>>,
    max_idle: usize,
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
            self.lock().push(vm);
        }
        Ok(())
    }

    /// An idle VM if there is one, else a new one from the template.
    pub fn take(&self) -> Result<Vm, Error> {
        let idle = self.lock().pop();
        match idle {
            Some(vm) => Ok(vm),
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
            self.lock().push(vm);
        }
    }

    pub fn idle_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vm>> {
        // A panic while holding the lock cannot leave the Vec inconsistent.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
