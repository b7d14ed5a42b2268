//! Telling sysd the time without exits: an instance starts with a guest-TSC
//! reading paired with the host's realtime and monotonic clocks, and the
//! TSC rate; sysd extrapolates from those.
//!
//! Every vCPU ioctl costs a `vcpu_load` (about 10 µs on the nested hosts
//! here), so a VM measures its TSC — the rate, and the offset of its guest
//! TSC from the host's, which nothing here sets or scales — at most once a
//! second ([`TscClock::is_fresh`]), and each instance's reading is the
//! host's `rdtsc` plus that offset, with no ioctl. The re-measuring bounds
//! the error should KVM move the offset (it does on hosts whose TSC it
//! finds unstable).

use std::time::{Duration, Instant};

use kvm_bindings::{kvm_msr_entry, Msrs};
use kvm_ioctls::VcpuFd;
use wasc_wire::Instance;

use crate::Error;

/// The IA32_TIME_STAMP_COUNTER MSR.
const MSR_IA32_TSC: u32 = 0x10;

/// How long a measurement serves new instances.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// A VM's guest TSC against the host's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TscClock {
    khz: u64,
    /// Guest TSC minus host TSC (wrapping).
    offset: u64,
    measured_at: Instant,
}

impl TscClock {
    /// Reads the vCPU's TSC rate and its TSC between two host readings.
    pub(crate) fn measure(vcpu: &VcpuFd) -> Result<Self, Error> {
        let save = |what| move |source| Error::SaveVcpu { what, source };
        let khz = vcpu.get_tsc_khz().map_err(save("TSC frequency"))?;
        let mut msrs = Msrs::from_entries(&[kvm_msr_entry {
            index: MSR_IA32_TSC,
            ..Default::default()
        }])
        .map_err(|_| Error::Protocol("cannot build an MSR list".into()))?;
        let before = host_tsc();
        vcpu.get_msrs(&mut msrs).map_err(save("TSC"))?;
        let after = host_tsc();
        let guest = msrs.as_slice()[0].data;
        let host = before.wrapping_add(after.wrapping_sub(before) / 2);
        Ok(Self {
            khz: u64::from(khz),
            offset: guest.wrapping_sub(host),
            measured_at: Instant::now(),
        })
    }

    /// Whether this measurement may still serve a new instance.
    pub(crate) fn is_fresh(&self) -> bool {
        self.measured_at.elapsed() < FRESH_FOR
    }

    /// An instance's clock reference: the guest TSC now, with the host's
    /// clocks now.
    pub(crate) fn reference(&self) -> Instance {
        let ref_tsc = host_tsc().wrapping_add(self.offset);
        Instance {
            tsc_khz: self.khz,
            ref_tsc,
            ref_realtime: clock_ns(libc::CLOCK_REALTIME),
            ref_monotonic: clock_ns(libc::CLOCK_MONOTONIC),
            ..Instance::default()
        }
    }
}

fn host_tsc() -> u64 {
    // SAFETY: `rdtsc` reads the time-stamp counter and has no other effect.
    unsafe { core::arch::x86_64::_rdtsc() }
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; these clocks always exist.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_is_the_host_tsc_plus_the_offset() {
        let clock = TscClock {
            khz: 2_000_000,
            offset: 1 << 40,
            measured_at: Instant::now(),
        };
        assert!(clock.is_fresh());
        let before = host_tsc();
        let reference = clock.reference();
        let after = host_tsc();
        let host = reference.ref_tsc.wrapping_sub(1 << 40);
        assert!((before..=after).contains(&host));
        assert_eq!(reference.tsc_khz, 2_000_000);
        assert!(reference.ref_realtime > 0 && reference.ref_monotonic > 0);
    }

    #[test]
    fn a_measurement_goes_stale_after_a_second() {
        let Some(then) = Instant::now().checked_sub(FRESH_FOR) else {
            panic!("the monotonic clock is younger than a second");
        };
        let clock = TscClock {
            khz: 1,
            offset: 0,
            measured_at: then,
        };
        assert!(!clock.is_fresh());
    }
}
