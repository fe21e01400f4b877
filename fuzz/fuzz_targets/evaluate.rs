#![no_main]
//! Fuzz target `evaluate`: see `flipt_client::fuzzing::check_evaluation` for the invariants it checks.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    flipt_client::fuzzing::check_evaluation(data);
});
