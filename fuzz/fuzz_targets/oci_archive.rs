#![no_main]
//! `ecr_ship::fuzz::oci_archive` on arbitrary bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ecr_ship::fuzz::oci_archive(data);
});
