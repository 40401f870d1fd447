//! Plugin field parsing (`plugin::fields::collect`, `PluginConfig::from_fields`),
//! for every plugin (FP32LayerNorm, FP32RMSNorm, FP32SkipLayerNorm): any
//! collection of named, typed fields (null or non-UTF-8 names, any type code,
//! any count, null data) is either refused with an error naming what is wrong
//! (an unknown field's error names the plugin), or gives an in-range
//! configuration of that plugin's kind that round-trips through the wire
//! format. FP32LayerNorm and FP32RMSNorm take the same fields, so they must
//! agree on every collection; FP32SkipLayerNorm takes one more (`sum_output`)
//! and must agree with them on every collection without it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trt_layernorm::plugin::fields::{self, FieldError, RawField, MAX_FIELDS};
use trt_layernorm::plugin::{plugin_name, NormKind, PluginConfig};
use trt_layernorm_fuzz::{check_accepted, parse_fields, raw_fields};

/// A result with the kind taken out, so the kinds can be compared.
fn without_kind(r: Result<PluginConfig, FieldError>) -> Result<PluginConfig, FieldError> {
    match r {
        Ok(c) => Ok(c.with_norm(NormKind::LayerNorm)),
        Err(FieldError::Unknown { name, .. }) => Err(FieldError::Unknown { name, kind: NormKind::LayerNorm }),
        Err(e) => Err(e),
    }
}

fuzz_target!(|data: &[u8]| {
    let parsed = parse_fields(data);
    if parsed.len() > MAX_FIELDS {
        return; // the C++ side refuses such counts before Rust sees them
    }
    let raw = raw_fields(&parsed);
    let mut outcomes = Vec::new();
    let mut skip_result = None;
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
                assert_eq!(given.sum_output.unwrap_or(0), i32::from(config.sum_output()));
                assert!(kind == NormKind::SkipLayerNorm || given.sum_output.is_none());
                // A network being built: `workspace` defaults to 1.
                assert_eq!(given.workspace.unwrap_or(1), i32::from(config.workspace()));
                for n in std::iter::once(0).chain(config.min_inputs() as u8..=config.max_inputs() as u8) {
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
        if kind == NormKind::SkipLayerNorm {
            skip_result = Some(result.clone());
        }
        outcomes.push(without_kind(result));
    }
    assert_eq!(outcomes[0], outcomes[1], "FP32LayerNorm and FP32RMSNorm read the same fields differently");
    let has_sum_output = raw.iter().any(|f| f.name == Some(fields::SUM_OUTPUT));
    if !has_sum_output {
        assert_eq!(outcomes[0], outcomes[2], "FP32SkipLayerNorm reads the shared fields differently");
    } else {
        // FP32LayerNorm refuses the collection (sum_output is not its field, or an earlier error);
        // FP32SkipLayerNorm, if it accepts it, reads the other fields as FP32LayerNorm reads them
        // without sum_output.
        assert!(outcomes[0].is_err());
        if let Some(Ok(skip)) = skip_result {
            let rest: Vec<RawField<'_>> = raw.iter().filter(|f| f.name != Some(fields::SUM_OUTPUT)).cloned().collect();
            let ln = PluginConfig::from_fields(NormKind::LayerNorm, &rest).expect("the shared fields were accepted");
            assert_eq!(ln.with_norm(NormKind::SkipLayerNorm).with_sum_output(i32::from(skip.sum_output())), Ok(skip));
        }
    }
});
