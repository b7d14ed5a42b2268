//! `wasc serve` parses what a module prints as its response (untrusted
//! bytes): the parser must never panic, and what it accepts must be a
//! response the server can send — a status in 100–599, a body start inside
//! the output, header names that are tokens and values without control
//! bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasc_wagi::parse_response;

fuzz_target!(|stdout: &[u8]| {
    if let Ok(response) = parse_response(stdout) {
        assert!((100..=599).contains(&response.status));
        assert!(response.body_start <= stdout.len());
        for (name, value) in &response.headers {
            assert!(!name.is_empty());
            assert!(name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)));
            assert!(!value.bytes().any(|b| b.is_ascii_control() && b != b'\t'));
            assert!(!name.eq_ignore_ascii_case("status"));
        }
    }
});
