//! The serialized-plugin parser (`plugin::wire::decode`, `decode_as`), the
//! bytes a TensorRT engine hands `deserializePlugin`: never a panic, whatever
//! it accepts re-serializes to a blob that decodes to the same thing (norm
//! kind and FP32SkipLayerNorm's `sum_output` included), and each plugin's
//! creator (FP32LayerNorm, FP32RMSNorm, FP32SkipLayerNorm) accepts exactly the
//! blobs of its own kind.
//!
//! Each input is decoded three times: as it is (header, length and CRC
//! checks), and with everything after a 12-byte header wrapped as the payload
//! of a freshly sealed blob (valid length and CRC) of format version 2 (the
//! `norm` record: the kind) and of version 1 (FP32LayerNorm only), so the
//! record parser is reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trt_layernorm::plugin::{wire, NormKind, WireError};
use trt_layernorm_fuzz::{check_accepted, seal};

fuzz_target!(|data: &[u8]| {
    let mut inputs = vec![data.to_vec()];
    if data.len() >= 12 {
        // Seeds are whole blobs: strip their header and CRC to get the payload back.
        let payload = &data[12..data.len().saturating_sub(4).max(12)];
        inputs.push(seal(payload));
        inputs.push(wire::seal(wire::FORMAT_VERSION_LAYERNORM_ONLY, payload));
    }
    for input in inputs {
        let r = wire::decode(&input);
        for kind in NormKind::ALL {
            // A creator reads what decode reads, if the blob is of its kind; else it refuses it.
            let as_kind = wire::decode_as(kind, &input);
            match &r {
                Ok((c, _)) if c.norm() == kind => assert_eq!(&as_kind, &r),
                Ok((c, _)) => assert_eq!(as_kind, Err(WireError::WrongPlugin { expected: kind, found: c.norm() })),
                Err(e) => assert_eq!(as_kind.as_ref().err(), Some(e)),
            }
        }
        match r {
            Ok((config, num_inputs)) => {
                if input[4] == 1 {
                    assert_eq!(config.norm(), NormKind::LayerNorm, "a version-1 blob is FP32LayerNorm");
                }
                if input[4] < 3 {
                    assert!(!config.workspace(), "blobs from before `workspace` never use one");
                }
                // Only FP32SkipLayerNorm blobs carry the sum_output record, and they always do.
                let has_sum = input.windows(11).any(|w| w == b"\x0asum_output");
                assert_eq!(has_sum, config.norm() == NormKind::SkipLayerNorm, "{config:?}");
                check_accepted(&config, num_inputs)
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains("serialized"), "{msg}");
            }
        }
    }
});
