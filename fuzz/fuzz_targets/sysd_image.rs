//! The sysd image loader: any bytes must be refused or loaded within guest
//! RAM, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasc_vmm::{GuestRam, SysdImage};
use wasc_wire::layout;

fuzz_target!(|data: &[u8]| {
    if let Ok(image) = SysdImage::parse(data) {
        let ram = GuestRam::new(layout::RAM_END as usize).expect("guest RAM");
        image.load(&ram).expect("a parsed image fits the layout");
    }
});
