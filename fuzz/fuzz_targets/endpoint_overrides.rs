#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| servicedb::fuzzing::endpoint_overrides(data));
