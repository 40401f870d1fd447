//! Plugin field parsing (`plugin::fields::collect`, `PluginConfig::from_fields`):
//! any collection of named, typed fields (null or non-UTF-8 names, any type
//! code, any count, null data) is either refused with an error naming what is
//! wrong, or gives an in-range configuration that round-trips through the
//! wire format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trt_layernorm::plugin::fields::{self, FieldError, MAX_FIELDS};
use trt_layernorm::plugin::PluginConfig;
use trt_layernorm_fuzz::{check_accepted, parse_fields, raw_fields};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_fields(data);
    if parsed.len() > MAX_FIELDS {
        return; // the C++ side refuses such counts before Rust sees them
    }
    let raw = raw_fields(&parsed);
    let collected = fields::collect(&raw);
    match PluginConfig::from_fields(&raw) {
        Ok(config) => {
            let given = collected.expect("from_fields accepted what collect refused");
            if let Some(e) = given.epsilon {
                assert_eq!(e.to_bits(), config.epsilon().to_bits());
            }
            if let Some(a) = given.axis {
                assert_eq!(a, config.axis());
            }
            if let Some(o) = given.output_type {
                assert_eq!(o, config.output_type().code());
            }
            for n in 0..=3 {
                check_accepted(&config, n);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("plugin field") || msg.starts_with("unknown plugin field"), "{msg}");
            if let Err(ce) = &collected {
                assert_eq!(ce, &e, "collect and from_fields disagree");
            } else {
                assert!(matches!(e, FieldError::OutOfRange { .. }), "{e:?}");
            }
        }
    }
});
