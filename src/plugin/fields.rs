//! Plugin fields (TensorRT's `PluginField`s, from ONNX node attributes or a
//! builder application): names, types, counts and ranges, checked here.
//!
//! The C++ side hands over each field as it came (name pointer, type code,
//! element count, data pointer) without interpreting it; this module decides
//! what is accepted. Unknown or mistyped fields are errors, never ignored,
//! except the `plugin_version` / `plugin_namespace` attributes that the ONNX
//! parser passes through (they choose the creator and carry no configuration).
//!
//! The field list is the norm kind's ([`field_specs`]): FP32LayerNorm and
//! FP32RMSNorm read `epsilon`, `axis`, `output_type`, `workspace`;
//! FP32SkipLayerNorm reads those and `sum_output`. Errors name the plugin.

use super::plugin_name;
use crate::problem::NormKind;
use std::fmt;

/// TensorRT's `PluginFieldType` codes (identical in 8.6, 10.x and 11.x; the
/// C++ side checks them against the headers with `static_assert`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Float16,
    Float32,
    Float64,
    Int8,
    Int16,
    Int32,
    Char,
    Dims,
    Unknown,
    BFloat16,
    Int64,
    Fp8,
    Int4,
    Fp4,
    /// A code this crate does not know (from a newer TensorRT).
    Other(i32),
}

impl FieldType {
    pub const FLOAT32_CODE: i32 = 1;
    pub const INT32_CODE: i32 = 5;

    pub fn from_code(code: i32) -> FieldType {
        use FieldType::*;
        match code {
            0 => Float16,
            1 => Float32,
            2 => Float64,
            3 => Int8,
            4 => Int16,
            5 => Int32,
            6 => Char,
            7 => Dims,
            8 => Unknown,
            9 => BFloat16,
            10 => Int64,
            11 => Fp8,
            12 => Int4,
            13 => Fp4,
            other => Other(other),
        }
    }

    pub fn code(self) -> i32 {
        use FieldType::*;
        match self {
            Float16 => 0,
            Float32 => 1,
            Float64 => 2,
            Int8 => 3,
            Int16 => 4,
            Int32 => 5,
            Char => 6,
            Dims => 7,
            Unknown => 8,
            BFloat16 => 9,
            Int64 => 10,
            Fp8 => 11,
            Int4 => 12,
            Fp4 => 13,
            Other(c) => c,
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FieldType::*;
        let s = match self {
            Float16 => "float16",
            Float32 => "float32",
            Float64 => "float64",
            Int8 => "int8",
            Int16 => "int16",
            Int32 => "int32",
            Char => "char",
            Dims => "dims",
            Unknown => "unknown",
            BFloat16 => "bfloat16",
            Int64 => "int64",
            Fp8 => "fp8",
            Int4 => "int4",
            Fp4 => "fp4",
            Other(c) => return write!(f, "type code {c}"),
        };
        f.write_str(s)
    }
}

/// The value of a scalar field, decoded from its data pointer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldValue {
    F32(f32),
    I32(i32),
}

/// One field as TensorRT passes it, after the C++ side copied out the name.
/// `value` is `None` where the type is not one this plugin reads (the data
/// is then never touched) or where the data pointer was null.
#[derive(Clone, Debug, PartialEq)]
pub struct RawField<'a> {
    pub name: Option<&'a str>,
    pub field_type: FieldType,
    pub length: i32,
    pub value: Option<FieldValue>,
}

/// What a field collection can get wrong. Every variant names the field.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FieldError {
    #[error("plugin field #{index} has no name (null or not UTF-8)")]
    Unnamed { index: usize },
    #[error("unknown plugin field `{name}` ({plugin} takes {})", field_list(*kind), plugin = plugin_name(*kind))]
    Unknown { name: String, kind: NormKind },
    #[error("plugin field `{name}` is given more than once")]
    Duplicate { name: &'static str },
    #[error("plugin field `{name}` has type {got}, expected {expected}")]
    WrongType { name: &'static str, expected: FieldType, got: FieldType },
    #[error("plugin field `{name}` has {got} elements, expected exactly 1")]
    WrongLength { name: &'static str, got: i32 },
    #[error("plugin field `{name}` has a null data pointer")]
    NoData { name: &'static str },
    #[error("plugin field `{name}` = {value} is out of range: {reason}")]
    OutOfRange { name: &'static str, value: String, reason: &'static str },
}

/// How many fields a collection may hold at most (a guard against garbage counts).
pub const MAX_FIELDS: usize = 64;

/// The fields the plugins read, in the order `getFieldNames` lists them.
pub const EPSILON: &str = "epsilon";
pub const AXIS: &str = "axis";
pub const OUTPUT_TYPE: &str = "output_type";
/// FP32SkipLayerNorm only: 1 = the sum s is a second output.
pub const SUM_OUTPUT: &str = "sum_output";
/// 1 = the plugin asks TensorRT for a workspace (at most 1 MiB) where a few
/// long rows can use it (the grid variant); 0 = never.
pub const WORKSPACE: &str = "workspace";

/// Attributes the ONNX parser may pass through; accepted with any type and ignored.
pub const TOLERATED: [&str; 2] = ["plugin_version", "plugin_namespace"];

/// One field `getFieldNames` announces: its name (NUL-terminated for C++) and type.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub c_name: &'static str,
    pub field_type: FieldType,
}

const EPSILON_SPEC: FieldSpec = FieldSpec { name: EPSILON, c_name: "epsilon\0", field_type: FieldType::Float32 };
const AXIS_SPEC: FieldSpec = FieldSpec { name: AXIS, c_name: "axis\0", field_type: FieldType::Int32 };
const OUTPUT_TYPE_SPEC: FieldSpec = FieldSpec { name: OUTPUT_TYPE, c_name: "output_type\0", field_type: FieldType::Int32 };
const SUM_OUTPUT_SPEC: FieldSpec = FieldSpec { name: SUM_OUTPUT, c_name: "sum_output\0", field_type: FieldType::Int32 };
const WORKSPACE_SPEC: FieldSpec = FieldSpec { name: WORKSPACE, c_name: "workspace\0", field_type: FieldType::Int32 };

/// Every field any plugin reads: FP32SkipLayerNorm's, in `getFieldNames` order.
pub const FIELD_SPECS: [FieldSpec; 5] = [EPSILON_SPEC, AXIS_SPEC, OUTPUT_TYPE_SPEC, SUM_OUTPUT_SPEC, WORKSPACE_SPEC];
/// FP32LayerNorm's and FP32RMSNorm's fields, in `getFieldNames` order.
const LAYER_FIELDS: [FieldSpec; 4] = [EPSILON_SPEC, AXIS_SPEC, OUTPUT_TYPE_SPEC, WORKSPACE_SPEC];

/// The most fields any kind reads (the C++ side's `getFieldsToSerialize`
/// storage holds `kMaxFields` = 8; a test checks this stays below it).
pub const MAX_KIND_FIELDS: usize = FIELD_SPECS.len();

/// The fields a plugin of `kind` reads, in `getFieldNames` order: FP32LayerNorm
/// and FP32RMSNorm `epsilon`, `axis`, `output_type`, `workspace` (same types
/// and ranges), FP32SkipLayerNorm `sum_output` before `workspace`.
pub fn field_specs(kind: NormKind) -> &'static [FieldSpec] {
    match kind {
        NormKind::LayerNorm | NormKind::RmsNorm => &LAYER_FIELDS,
        NormKind::SkipLayerNorm => &FIELD_SPECS,
    }
}

/// The field names of `kind`, comma-separated (for messages).
pub fn field_list(kind: NormKind) -> String {
    field_specs(kind).iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

/// The type a plugin of `kind` reads a field as, if it is one of its fields.
pub fn expected_type(kind: NormKind, name: &str) -> Option<FieldType> {
    field_specs(kind).iter().find(|s| s.name == name).map(|s| s.field_type)
}

/// Values given in a collection, before range checks. `None` = not given (default applies).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GivenFields {
    pub epsilon: Option<f32>,
    pub axis: Option<i32>,
    pub output_type: Option<i32>,
    /// FP32SkipLayerNorm only (another kind refuses the field as unknown).
    pub sum_output: Option<i32>,
    pub workspace: Option<i32>,
}

/// Checks names, types, counts and duplicates against the fields of `kind`;
/// range checks are the config's.
pub fn collect(kind: NormKind, fields: &[RawField<'_>]) -> Result<GivenFields, FieldError> {
    let mut given = GivenFields::default();
    for (index, f) in fields.iter().enumerate() {
        let name = f.name.ok_or(FieldError::Unnamed { index })?;
        if TOLERATED.contains(&name) {
            continue;
        }
        let spec = field_specs(kind).iter().find(|s| s.name == name).ok_or_else(|| FieldError::Unknown { name: name.to_owned(), kind })?;
        if f.field_type != spec.field_type {
            return Err(FieldError::WrongType { name: spec.name, expected: spec.field_type, got: f.field_type });
        }
        if f.length != 1 {
            return Err(FieldError::WrongLength { name: spec.name, got: f.length });
        }
        let value = f.value.ok_or(FieldError::NoData { name: spec.name })?;
        let duplicate = || FieldError::Duplicate { name: spec.name };
        match (spec.name, value) {
            (EPSILON, FieldValue::F32(v)) => {
                if given.epsilon.replace(v).is_some() {
                    return Err(duplicate());
                }
            }
            (AXIS, FieldValue::I32(v)) => {
                if given.axis.replace(v).is_some() {
                    return Err(duplicate());
                }
            }
            (OUTPUT_TYPE, FieldValue::I32(v)) => {
                if given.output_type.replace(v).is_some() {
                    return Err(duplicate());
                }
            }
            (SUM_OUTPUT, FieldValue::I32(v)) => {
                if given.sum_output.replace(v).is_some() {
                    return Err(duplicate());
                }
            }
            (WORKSPACE, FieldValue::I32(v)) => {
                if given.workspace.replace(v).is_some() {
                    return Err(duplicate());
                }
            }
            // The value was decoded by its declared type, which matched the spec.
            _ => return Err(FieldError::WrongType { name: spec.name, expected: spec.field_type, got: f.field_type }),
        }
    }
    Ok(given)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LN: NormKind = NormKind::LayerNorm;
    const SKIP: NormKind = NormKind::SkipLayerNorm;

    fn f32_field(name: &str, v: f32) -> RawField<'_> {
        RawField { name: Some(name), field_type: FieldType::Float32, length: 1, value: Some(FieldValue::F32(v)) }
    }
    fn i32_field(name: &str, v: i32) -> RawField<'_> {
        RawField { name: Some(name), field_type: FieldType::Int32, length: 1, value: Some(FieldValue::I32(v)) }
    }

    #[test]
    fn empty_collection_means_defaults() {
        assert_eq!(collect(LN, &[]), Ok(GivenFields::default()));
    }

    #[test]
    fn reads_all_three() {
        let given = collect(LN, &[f32_field("epsilon", 1e-6), i32_field("axis", -2), i32_field("output_type", 1)]).unwrap();
        assert_eq!(given, GivenFields { epsilon: Some(1e-6), axis: Some(-2), output_type: Some(1), ..Default::default() });
    }

    #[test]
    fn tolerates_onnx_parser_attributes_of_any_type() {
        let version = RawField { name: Some("plugin_version"), field_type: FieldType::Char, length: 1, value: None };
        let ns = RawField { name: Some("plugin_namespace"), field_type: FieldType::Other(99), length: 0, value: None };
        assert_eq!(collect(LN, &[version, ns, i32_field("axis", 1)]).unwrap().axis, Some(1));
    }

    #[test]
    fn unknown_and_unnamed_fields_are_errors() {
        assert_eq!(collect(LN, &[f32_field("eps", 1e-5)]), Err(FieldError::Unknown { name: "eps".into(), kind: LN }));
        assert_eq!(collect(LN, &[f32_field("Epsilon", 1e-5)]), Err(FieldError::Unknown { name: "Epsilon".into(), kind: LN }));
        let unnamed = RawField { name: None, ..f32_field("", 0.0) };
        assert_eq!(collect(LN, &[i32_field("axis", 1), unnamed]), Err(FieldError::Unnamed { index: 1 }));
        let msg = collect(LN, &[f32_field("stash_type", 1.0)]).unwrap_err().to_string();
        assert!(msg.contains("`stash_type`"), "{msg}");
    }

    #[test]
    fn every_wrong_type_is_refused_and_named() {
        for spec in FIELD_SPECS {
            let kind = if spec.name == SUM_OUTPUT { SKIP } else { LN };
            for code in (0..=14).chain([-1, 1000]) {
                let t = FieldType::from_code(code);
                if t == spec.field_type {
                    continue;
                }
                let field = RawField { name: Some(spec.name), field_type: t, length: 1, value: None };
                let err = collect(kind, &[field]).unwrap_err();
                assert_eq!(err, FieldError::WrongType { name: spec.name, expected: spec.field_type, got: t });
                assert!(err.to_string().contains(spec.name));
            }
        }
    }

    #[test]
    fn counts_other_than_one_are_refused() {
        for spec in FIELD_SPECS {
            let kind = if spec.name == SUM_OUTPUT { SKIP } else { LN };
            for len in [0, 2, -1, i32::MAX] {
                let value = match spec.field_type {
                    FieldType::Float32 => FieldValue::F32(1.0),
                    _ => FieldValue::I32(0),
                };
                let field = RawField { name: Some(spec.name), field_type: spec.field_type, length: len, value: Some(value) };
                assert_eq!(collect(kind, &[field]), Err(FieldError::WrongLength { name: spec.name, got: len }));
            }
        }
    }

    #[test]
    fn null_data_and_duplicates_are_refused() {
        let no_data = RawField { value: None, ..f32_field("epsilon", 0.0) };
        assert_eq!(collect(LN, &[no_data]), Err(FieldError::NoData { name: "epsilon" }));
        assert_eq!(collect(LN, &[i32_field("axis", 1), i32_field("axis", 1)]), Err(FieldError::Duplicate { name: "axis" }));
        assert_eq!(
            collect(LN, &[f32_field("epsilon", 1e-5), f32_field("epsilon", 1e-5)]),
            Err(FieldError::Duplicate { name: "epsilon" })
        );
        assert_eq!(
            collect(LN, &[i32_field("output_type", 0), i32_field("output_type", 1)]),
            Err(FieldError::Duplicate { name: "output_type" })
        );
    }

    #[test]
    fn type_codes_round_trip() {
        for code in -2..20 {
            assert_eq!(FieldType::from_code(code).code(), code);
        }
        assert_eq!(FieldType::from_code(FieldType::FLOAT32_CODE), FieldType::Float32);
        assert_eq!(FieldType::from_code(FieldType::INT32_CODE), FieldType::Int32);
    }

    #[test]
    fn rmsnorm_has_the_same_fields_and_names_itself() {
        let rms = NormKind::RmsNorm;
        assert_eq!(field_specs(rms).len(), 4);
        for (a, b) in field_specs(rms).iter().zip(field_specs(LN)) {
            assert_eq!((a.name, a.c_name, a.field_type), (b.name, b.c_name, b.field_type));
        }
        let all = [f32_field("epsilon", 1e-6), i32_field("axis", -2), i32_field("output_type", 1)];
        assert_eq!(collect(rms, &all), collect(LN, &all));
        for spec in field_specs(rms) {
            assert_eq!(expected_type(rms, spec.name), Some(spec.field_type));
        }
        assert_eq!(expected_type(rms, "bias"), None);
        let err = collect(rms, &[f32_field("eps", 1e-5)]).unwrap_err();
        assert_eq!(err, FieldError::Unknown { name: "eps".into(), kind: rms });
        assert_eq!(err.to_string(), "unknown plugin field `eps` (FP32RMSNorm takes epsilon, axis, output_type, workspace)");
        let ln = collect(LN, &[f32_field("eps", 1e-5)]).unwrap_err().to_string();
        assert_eq!(ln, "unknown plugin field `eps` (FP32LayerNorm takes epsilon, axis, output_type, workspace)");
        // Every refusal of the LayerNorm parser is the RMSNorm parser's, naming the same field.
        let no_data = RawField { value: None, ..f32_field("epsilon", 0.0) };
        assert_eq!(collect(rms, &[no_data]), Err(FieldError::NoData { name: "epsilon" }));
        assert_eq!(collect(rms, &[i32_field("axis", 1), i32_field("axis", 1)]), Err(FieldError::Duplicate { name: "axis" }));
        let mistyped = RawField { name: Some("output_type"), field_type: FieldType::Float32, length: 1, value: None };
        assert!(matches!(collect(rms, &[mistyped]), Err(FieldError::WrongType { name: "output_type", .. })));
    }

    #[test]
    fn skiplayernorm_adds_sum_output_and_names_itself() {
        let names: Vec<&str> = field_specs(SKIP).iter().map(|s| s.name).collect();
        assert_eq!(names, ["epsilon", "axis", "output_type", "sum_output", "workspace"]);
        assert_eq!(field_specs(SKIP)[3].c_name, "sum_output\0");
        assert_eq!(expected_type(SKIP, SUM_OUTPUT), Some(FieldType::Int32));
        for (a, b) in field_specs(SKIP).iter().filter(|s| s.name != SUM_OUTPUT).zip(field_specs(LN)) {
            assert_eq!((a.name, a.c_name, a.field_type), (b.name, b.c_name, b.field_type), "the shared fields are the same");
        }
        assert!(NormKind::ALL.iter().all(|&k| field_specs(k).len() <= MAX_KIND_FIELDS && MAX_KIND_FIELDS <= 8));
        let all = [f32_field("epsilon", 1e-6), i32_field("axis", -2), i32_field("output_type", 1), i32_field("sum_output", 1)];
        let given = collect(SKIP, &all).unwrap();
        assert_eq!(given, GivenFields { epsilon: Some(1e-6), axis: Some(-2), output_type: Some(1), sum_output: Some(1), workspace: None });
        // The value range is the config's: collect passes any int32 on.
        assert_eq!(collect(SKIP, &[i32_field("sum_output", 7)]).unwrap().sum_output, Some(7));
        assert_eq!(collect(SKIP, &all[..3]).unwrap().sum_output, None, "absent: the default applies");
        // The other plugins do not have it.
        for k in [LN, NormKind::RmsNorm] {
            let err = collect(k, &[i32_field("sum_output", 0)]).unwrap_err();
            assert_eq!(err, FieldError::Unknown { name: "sum_output".into(), kind: k });
        }
        let err = collect(SKIP, &[f32_field("eps", 1e-5)]).unwrap_err().to_string();
        assert_eq!(err, "unknown plugin field `eps` (FP32SkipLayerNorm takes epsilon, axis, output_type, sum_output, workspace)");
        assert_eq!(
            collect(SKIP, &[i32_field("sum_output", 0), i32_field("sum_output", 1)]),
            Err(FieldError::Duplicate { name: "sum_output" })
        );
        let mistyped = RawField { name: Some("sum_output"), field_type: FieldType::Float32, length: 1, value: Some(FieldValue::F32(1.0)) };
        assert_eq!(
            collect(SKIP, &[mistyped]),
            Err(FieldError::WrongType { name: "sum_output", expected: FieldType::Int32, got: FieldType::Float32 })
        );
        let no_data = RawField { value: None, ..i32_field("sum_output", 0) };
        assert_eq!(collect(SKIP, &[no_data]), Err(FieldError::NoData { name: "sum_output" }));
    }

    #[test]
    fn every_kind_takes_workspace_as_int32() {
        for kind in NormKind::ALL {
            assert_eq!(expected_type(kind, WORKSPACE), Some(FieldType::Int32));
            assert_eq!(field_specs(kind).last().map(|s| s.c_name), Some("workspace\0"), "last in getFieldNames");
            assert_eq!(collect(kind, &[i32_field("workspace", 0)]).unwrap().workspace, Some(0));
            // The value range is the config's.
            assert_eq!(collect(kind, &[i32_field("workspace", -3)]).unwrap().workspace, Some(-3));
            assert_eq!(
                collect(kind, &[i32_field("workspace", 1), i32_field("workspace", 1)]),
                Err(FieldError::Duplicate { name: "workspace" })
            );
            assert!(matches!(collect(kind, &[f32_field("workspace", 1.0)]), Err(FieldError::WrongType { name: "workspace", .. })));
        }
    }
}
