#![no_main]
//! Fuzz target `document`: see `flipt_client::fuzzing::check_document` for the invariants it checks.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    flipt_client::fuzzing::check_document(data);
});
