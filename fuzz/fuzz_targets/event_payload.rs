#![no_main]
//! `ecr_ship::fuzz::event_payload` on arbitrary text (invalid UTF-8 replaced, as a shell or a file would pass it).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ecr_ship::fuzz::event_payload(&String::from_utf8_lossy(data));
});
