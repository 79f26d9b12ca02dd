#![no_main]
//! `ecr_ship::fuzz::docker_archive` on arbitrary bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ecr_ship::fuzz::docker_archive(data);
});
