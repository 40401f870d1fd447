//! Plugin field parsing (`plugin::fields::collect`, `PluginConfig::from_fields`),
//! for every plugin (FP32LayerNorm, FP32RMSNorm): any collection of named,
//! typed fields (null or non-UTF-8 names, any type code, any count, null data)
//! is either refused with an error naming what is wrong (an unknown field's
//! error names the plugin), or gives an in-range configuration of that
//! plugin's kind that round-trips through the wire format. The kinds take the
//! same fields, so they must agree on every collection.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trt_layernorm::plugin::fields::{self, FieldError, MAX_FIELDS};
use trt_layernorm::plugin::{plugin_name, NormKind, PluginConfig};
use trt_layernorm_fuzz::{check_accepted, parse_fields, raw_fields};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_fields(data);
    if parsed.len() > MAX_FIELDS {
        return; // the C++ side refuses such counts before Rust sees them
    }
    let raw = raw_fields(&parsed);
    let mut outcomes = Vec::new();
    for kind in NormKind::ALL {
        let collected = fields::collect(kind, &raw);
        let result = PluginConfig::from_fields(kind, &raw);
        match &result {
            Ok(config) => {
                assert_eq!(config.norm(), kind);
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
                for n in 0..=config.max_inputs() as u8 {
                    check_accepted(config, n);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.starts_with("plugin field") || msg.starts_with("unknown plugin field"), "{msg}");
                if let FieldError::Unknown { kind: k, .. } = e {
                    assert_eq!(*k, kind);
                    assert!(msg.contains(plugin_name(kind)), "{msg}");
                }
                if let Err(ce) = &collected {
                    assert_eq!(ce, e, "collect and from_fields disagree");
                } else {
                    assert!(matches!(e, FieldError::OutOfRange { .. }), "{e:?}");
                }
            }
        }
        // Compare the kinds with the kind itself taken out.
        outcomes.push(match result {
            Ok(c) => Ok(c.with_norm(NormKind::LayerNorm)),
            Err(FieldError::Unknown { name, .. }) => Err(FieldError::Unknown { name, kind: NormKind::LayerNorm }),
            Err(e) => Err(e),
        });
    }
    assert_eq!(outcomes[0], outcomes[1], "FP32LayerNorm and FP32RMSNorm read the same fields differently");
});
