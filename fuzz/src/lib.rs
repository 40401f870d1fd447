//! Shared by the fuzz targets and the seed generator: the byte format the
//! `fields` target reads a plugin field collection from, and the checks both
//! targets make on whatever the parsers accept.
//!
//! `fields` input: a sequence of records, each
//! `name_len: u8` (0xFF = null name), name bytes (any, UTF-8 or not),
//! `type code: i32 LE`, `length: i32 LE`, `has_data: u8` (bit 0), `value: [u8; 4]`
//! — what the C++ side hands Rust for one `PluginField` (the value is read by
//! the declared type, as `bridge::read_collection` does). A trailing partial
//! record is dropped.
//!
//! The ONNX targets (`onnx`, `onnx_graph`) share [`onnx`].

pub mod onnx;

use trt_layernorm::plugin::fields::{FieldType, FieldValue, RawField};
use trt_layernorm::plugin::{wire, NormKind, PluginConfig, WireError};

/// One field as the fuzzer describes it (owning its name bytes).
#[derive(Clone, Debug)]
pub struct FuzzField {
    pub name: Option<Vec<u8>>,
    pub type_code: i32,
    pub length: i32,
    pub has_data: bool,
    pub value: [u8; 4],
}

pub fn parse_fields(mut data: &[u8]) -> Vec<FuzzField> {
    let mut out = Vec::new();
    while let Some((&name_len, rest)) = data.split_first() {
        let name = if name_len == 0xFF {
            None
        } else if rest.len() >= name_len as usize {
            Some(rest[..name_len as usize].to_vec())
        } else {
            break;
        };
        let rest = &rest[name.as_ref().map_or(0, |n| n.len())..];
        if rest.len() < 13 {
            break;
        }
        let type_code = i32::from_le_bytes(rest[0..4].try_into().unwrap());
        let length = i32::from_le_bytes(rest[4..8].try_into().unwrap());
        let has_data = rest[8] & 1 != 0;
        let value = rest[9..13].try_into().unwrap();
        out.push(FuzzField { name, type_code, length, has_data, value });
        data = &rest[13..];
    }
    out
}

pub fn write_field(out: &mut Vec<u8>, f: &FuzzField) {
    match &f.name {
        None => out.push(0xFF),
        Some(n) => {
            assert!(n.len() < 0xFF);
            out.push(n.len() as u8);
            out.extend_from_slice(n);
        }
    }
    out.extend_from_slice(&f.type_code.to_le_bytes());
    out.extend_from_slice(&f.length.to_le_bytes());
    out.push(f.has_data as u8);
    out.extend_from_slice(&f.value);
}

/// As `bridge::read_collection` builds it: the name only if UTF-8, the value only for float32/int32 with data.
pub fn raw_fields(fields: &[FuzzField]) -> Vec<RawField<'_>> {
    fields
        .iter()
        .map(|f| {
            let field_type = FieldType::from_code(f.type_code);
            let value = f.has_data.then_some(()).and_then(|()| match field_type {
                FieldType::Float32 => Some(FieldValue::F32(f32::from_le_bytes(f.value))),
                FieldType::Int32 => Some(FieldValue::I32(i32::from_le_bytes(f.value))),
                _ => None,
            });
            let name = f.name.as_deref().and_then(|n| std::str::from_utf8(n).ok());
            RawField { name, field_type, length: f.length, value }
        })
        .collect()
}

/// The other plugins' kinds.
pub fn other_kinds(k: NormKind) -> impl Iterator<Item = NormKind> {
    NormKind::ALL.into_iter().filter(move |&o| o != k)
}

/// Whatever a parser accepted must be in range and survive the wire format
/// unchanged, kind, `workspace` (and FP32SkipLayerNorm's `sum_output`)
/// included; every other plugin's creator must refuse the blob.
pub fn check_accepted(config: &PluginConfig, num_inputs: u8) {
    assert!(config.epsilon().is_finite() && config.epsilon() >= 0.0, "{config:?}");
    assert!((-8..8).contains(&config.axis()), "{config:?}");
    assert!(
        num_inputs == 0 || (config.min_inputs()..=config.max_inputs()).contains(&i32::from(num_inputs)),
        "{config:?} with {num_inputs} inputs"
    );
    assert!(config.norm() == NormKind::SkipLayerNorm || !config.sum_output(), "{config:?}");
    assert_eq!(config.nb_outputs(), 1 + i32::from(config.sum_output()));
    let again = PluginConfig::new(config.epsilon(), config.axis(), config.output_type().code())
        .and_then(|c| c.with_norm(config.norm()).with_sum_output(i32::from(config.sum_output())))
        .and_then(|c| c.with_workspace(i32::from(config.workspace())))
        .expect("accepted config re-checks");
    assert_eq!(&again, config);
    let blob = wire::encode(config, num_inputs);
    assert!(blob.len() <= wire::MAX_LEN);
    assert_eq!(wire::decode(&blob), Ok((*config, num_inputs)), "round trip of {config:?}");
    assert_eq!(wire::decode_as(config.norm(), &blob), Ok((*config, num_inputs)));
    for other in other_kinds(config.norm()) {
        assert_eq!(wire::decode_as(other, &blob), Err(WireError::WrongPlugin { expected: other, found: config.norm() }));
    }
}

/// Wraps `payload` in a valid header (current format version) and CRC, so the fuzzer reaches the
/// record parser (`wire::seal` for another version).
pub fn seal(payload: &[u8]) -> Vec<u8> {
    wire::seal(wire::FORMAT_VERSION, payload)
}
