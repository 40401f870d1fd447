//! The serialized-plugin parser (`plugin::wire::decode`), the bytes a TensorRT
//! engine hands `deserializePlugin`: never a panic, and whatever it accepts
//! re-serializes to a blob that decodes to the same thing.
//!
//! Each input is decoded twice: as it is (header, length and CRC checks), and
//! with everything after a 12-byte header wrapped as the payload of a freshly
//! sealed blob (valid length and CRC), so the record parser is reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trt_layernorm::plugin::wire;
use trt_layernorm_fuzz::{check_accepted, seal};

fuzz_target!(|data: &[u8]| {
    let mut results = vec![wire::decode(data)];
    if data.len() >= 12 {
        // Seeds are whole blobs: strip their header and CRC to get the payload back.
        let payload = &data[12..data.len().saturating_sub(4).max(12)];
        results.push(wire::decode(&seal(payload)));
    }
    for r in results {
        match r {
            Ok((config, num_inputs)) => check_accepted(&config, num_inputs),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains("FP32LayerNorm"), "{msg}");
            }
        }
    }
});
