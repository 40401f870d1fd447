//! Property tests (proptest) of the plugin's CPU-side rules: field ranges,
//! axis normalization, rows/cols, Scale/Bias shape rules, field parsing, and
//! the wire format (serialize -> deserialize identity over the whole field
//! space; truncations and bit flips refused), for every plugin (FP32LayerNorm,
//! FP32RMSNorm and FP32SkipLayerNorm: the norm kind, and FP32SkipLayerNorm's
//! `sum_output`, are part of every configuration drawn).
//! CPU only, well under a second per property in release mode.

use proptest::prelude::*;

// Dims stay below 12 where a shape must be accepted: 12^8 elements keep every
// row under the kernels' 2^31 limit, which configure enforces.
use trt_layernorm::plugin::config::{self, RowsCols, TensorInfo, FORMAT_LINEAR, MAX_RANK};
use trt_layernorm::plugin::fields::{self, FieldError, FieldType, FieldValue, RawField, TOLERATED};
use trt_layernorm::plugin::{plugin_name, wire, NormKind, OutputType, PluginConfig, ShapeError, WireError};
use trt_layernorm::problem::MAX_COLS;

/// Cases per property: 4096 (about half a second in all in release mode), or
/// `PROPTEST_CASES` (e.g. a handful under Miri: scripts/miri.sh).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(4096)
}

/// Every finite f32 >= 0 (zero and -0 included; subnormals included; uniform over bit patterns).
fn valid_epsilon() -> impl Strategy<Value = f32> {
    prop_oneof![
        (0u32..0x7F80_0000).prop_map(f32::from_bits),
        prop::sample::select(vec![1e-5f32, 1e-6, 1e-12, f32::MIN_POSITIVE, f32::from_bits(1), f32::MAX, 1.0, 0.0, -0.0]),
    ]
}

/// Any f32 bit pattern (NaNs, infinities, negatives, zeros included).
fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<u32>().prop_map(f32::from_bits),
        prop::sample::select(vec![0.0f32, -0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -1e-5, 1e-5]),
    ]
}

fn valid_axis() -> impl Strategy<Value = i32> {
    -(MAX_RANK as i32)..MAX_RANK as i32
}

fn any_axis() -> impl Strategy<Value = i32> {
    prop_oneof![-20i32..20, any::<i32>(), Just(i32::MIN), Just(i32::MAX)]
}

fn any_kind() -> impl Strategy<Value = NormKind> {
    prop::sample::select(NormKind::ALL.to_vec())
}

fn valid_config() -> impl Strategy<Value = PluginConfig> {
    (valid_epsilon(), valid_axis(), 0i32..=1, any_kind(), 0i32..=1, 0i32..=1).prop_map(|(e, a, o, k, s, w)| {
        let sum = if k == NormKind::SkipLayerNorm { s } else { 0 };
        PluginConfig::new(e, a, o).unwrap().with_norm(k).with_sum_output(sum).unwrap().with_workspace(w).unwrap()
    })
}

/// A valid configuration and an input count it can have been configured with (0 = not yet).
fn valid_config_and_inputs() -> impl Strategy<Value = (PluginConfig, u8)> {
    valid_config().prop_flat_map(|c| (Just(c), prop_oneof![Just(0u8), c.min_inputs() as u8..=c.max_inputs() as u8]))
}

fn other_kinds(k: NormKind) -> impl Iterator<Item = NormKind> {
    NormKind::ALL.into_iter().filter(move |&o| o != k)
}

/// The fields a configuration is made of, as a field collection would give them.
fn fields_of(c: &PluginConfig) -> Vec<RawField<'static>> {
    fields::field_specs(c.norm())
        .iter()
        .map(|s| RawField { name: Some(s.name), field_type: s.field_type, length: 1, value: c.field_value(s.name) })
        .collect()
}

/// A blob in format version 1, as written before FP32RMSNorm existed (no `norm`
/// and no `workspace` record).
fn version1_blob(c: &PluginConfig, n: u8) -> Vec<u8> {
    assert_eq!(c.norm(), NormKind::LayerNorm);
    let recs = records(&wire::encode(c, n));
    assert_eq!(recs.len(), 6);
    let mut payload = vec![4u8];
    recs[..4].iter().for_each(|r| payload.extend_from_slice(r));
    wire::seal(1, &payload)
}

fn f32_field(name: &str, v: f32) -> RawField<'_> {
    RawField { name: Some(name), field_type: FieldType::Float32, length: 1, value: Some(FieldValue::F32(v)) }
}
fn i32_field(name: &str, v: i32) -> RawField<'_> {
    RawField { name: Some(name), field_type: FieldType::Int32, length: 1, value: Some(FieldValue::I32(v)) }
}

fn out_of_range_name(r: Result<PluginConfig, FieldError>) -> &'static str {
    match r {
        Err(FieldError::OutOfRange { name, .. }) => name,
        other => panic!("expected OutOfRange, got {other:?}"),
    }
}

/// Reseals a payload with a valid header (current version) and CRC.
fn seal(payload: &[u8]) -> Vec<u8> {
    wire::seal(wire::FORMAT_VERSION, payload)
}

/// The records of a valid blob's payload, each as its bytes.
fn records(blob: &[u8]) -> Vec<Vec<u8>> {
    wire::split_records(blob).expect("a valid blob's framing").into_iter().map(<[u8]>::to_vec).collect()
}

/// The committed fuzz seeds (fuzz/seeds/wire) replayed: the valid ones decode to what
/// they encode, every other one is refused, none panics.
#[test]
fn wire_fuzz_seeds_replay() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/wire");
    let Ok(entries) = std::fs::read_dir(&dir) else { return }; // not in a packaged crate
    let mut seen = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let blob = std::fs::read(&path).unwrap();
        let r = wire::decode(&blob);
        let valid = name.starts_with("valid_") || name == "records_reversed_sealed";
        if name.contains("rms") {
            assert!(!valid || matches!(r, Ok((c, _)) if c.norm() == NormKind::RmsNorm), "{name}: {r:?}");
        }
        if name.contains("skip") {
            assert!(!valid || matches!(r, Ok((c, _)) if c.norm() == NormKind::SkipLayerNorm), "{name}: {r:?}");
            assert!(!valid || name.contains("sum") == r.as_ref().is_ok_and(|(c, _)| c.sum_output()), "{name}: {r:?}");
        }
        assert_eq!(r.is_ok(), valid, "{name}: {r:?}");
        if let Ok((c, n)) = r {
            assert_eq!(wire::decode(&wire::encode(&c, n)), Ok((c, n)), "{name}");
        }
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} seeds in {}", dir.display());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    // ---- configuration ranges -------------------------------------------------

    /// `PluginConfig::new` accepts exactly the documented ranges, and a refusal
    /// names the first field out of range (epsilon, then axis, then output_type).
    #[test]
    fn config_accepts_exactly_the_documented_ranges(eps in any_f32(), axis in any_axis(), ot in prop_oneof![-3i32..4, any::<i32>()]) {
        let eps_ok = eps.is_finite() && eps >= 0.0;
        let axis_ok = (-8..=7).contains(&axis);
        let ot_ok = ot == 0 || ot == 1;
        let r = PluginConfig::new(eps, axis, ot);
        if eps_ok && axis_ok && ot_ok {
            let c = r.unwrap();
            prop_assert_eq!(c.epsilon().to_bits(), eps.to_bits());
            prop_assert_eq!(c.axis(), axis);
            prop_assert_eq!(c.output_type().code(), ot);
            prop_assert_eq!(c.output_type(), if ot == 0 { OutputType::SameAsInput } else { OutputType::Float32 });
        } else {
            let msg = r.clone().unwrap_err().to_string();
            let expected = if !eps_ok { "epsilon" } else if !axis_ok { "axis" } else { "output_type" };
            prop_assert_eq!(out_of_range_name(r), expected);
            prop_assert!(msg.contains(&format!("`{expected}`")), "{}", msg);
        }
    }

    // ---- axis normalization and rows/cols -------------------------------------

    /// ONNX axis semantics: valid iff -rank <= axis < rank, normalized to axis mod rank;
    /// ranks outside 1..=8 are refused whatever the axis.
    #[test]
    fn axis_index_follows_onnx(c in valid_config(), rank in 0usize..12) {
        let r = c.axis_index(rank);
        let a = c.axis() as i64;
        let rk = rank as i64;
        if rank == 0 || rank > MAX_RANK {
            prop_assert_eq!(r, Err(ShapeError::Rank { rank }));
        } else if a < -rk || a >= rk {
            prop_assert_eq!(r.clone(), Err(ShapeError::Axis { axis: c.axis(), rank }));
            prop_assert!(r.unwrap_err().to_string().contains("out of range"));
        } else {
            let idx = r.unwrap();
            prop_assert!(idx < rank);
            prop_assert_eq!(idx as i64, a.rem_euclid(rk));
        }
    }

    /// rows * cols is the volume of X; rows is the product of the dims before the
    /// axis, cols of the rest; a product past 64 bits is an error, never a wrap.
    #[test]
    fn rows_times_cols_is_the_volume(
        c in valid_config(),
        dims in prop::collection::vec(prop_oneof![4 => 0i64..9, 2 => 1i64..5000, 1 => Just(1i64 << 32), 1 => 0i64..i64::MAX], 1..=8),
    ) {
        let Ok(axis) = c.axis_index(dims.len()) else {
            prop_assert!(c.rows_cols(&dims).is_err());
            return Ok(());
        };
        let prod = |ds: &[i64]| if ds.contains(&0) { Some(0) } else { ds.iter().try_fold(1u128, |acc, &d| acc.checked_mul(d as u128)) };
        let (rows, cols) = (prod(&dims[..axis]), prod(&dims[axis..]));
        let fits = |p: Option<u128>| p.is_some_and(|v| v <= u64::MAX as u128);
        match c.rows_cols(&dims) {
            Ok(RowsCols { rows: r, cols: k }) => {
                prop_assert!(fits(rows) && fits(cols));
                prop_assert_eq!(Some(r as u128), rows);
                prop_assert_eq!(Some(k as u128), cols);
                let volume = prod(&dims);
                prop_assert_eq!(Some(r as u128 * k as u128), volume);
            }
            Err(e) => {
                prop_assert!(!(fits(rows) && fits(cols)), "refused a shape that fits: {:?}", e);
                prop_assert!(e.to_string().contains("more elements than fit 64 bits"), "{}", e);
                prop_assert!(matches!(e, ShapeError::Problem(_)), "{:?}", e);
            }
        }
    }

    }

/// Regression (found by `rows_times_cols_is_the_volume`): an empty X whose other
/// dims multiply past 64 bits before the 0 is reached was refused as too large.
#[test]
fn empty_x_with_huge_dims_is_empty_not_too_large() {
    let dims = [1i64 << 59, 8, 4, 0];
    let at = |axis| PluginConfig::new(1e-5, axis, 0).unwrap().rows_cols(&dims);
    assert_eq!(at(0), Ok(RowsCols { rows: 1, cols: 0 }));
    // Here the rows themselves (2^64) do not fit: still refused, with the reason.
    assert!(at(-1).unwrap_err().to_string().contains("more elements than fit 64 bits"));
    assert_eq!(PluginConfig::new(1e-5, 3, 0).unwrap().rows_cols(&[0, 1 << 62, 1 << 62, 1 << 62]), Ok(RowsCols { rows: 0, cols: 1 << 62 }));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Any negative dim in X is "not known yet" for rows/cols; dims below -1 are
    /// refused by the shape check, naming the tensor and the index.
    #[test]
    fn negative_dims_are_refused(c in valid_config(), mut dims in prop::collection::vec(1i64..12, 1..=8), at in any::<prop::sample::Index>(), neg in prop_oneof![Just(-1i64), i64::MIN..-1]) {
        let i = at.index(dims.len());
        dims[i] = neg;
        prop_assert!(c.rows_cols(&dims).is_err());
        // X alone (FP32SkipLayerNorm: X and a Skip of the same shape, X judged first).
        let inputs: Vec<&[i64]> = vec![&dims; c.min_inputs() as usize];
        let r = c.check_shapes(&inputs, c.nb_outputs());
        if neg < -1 {
            prop_assert_eq!(r, Err(ShapeError::BadDim { tensor: "X", index: i, value: neg }));
        } else if c.axis_index(dims.len()).is_ok() {
            prop_assert_eq!(r, Ok(()));
        }
    }

    // ---- Scale/Bias shape rules -----------------------------------------------

    /// Scale/Bias shaped like the normalized dims (with any number of leading 1s) fit;
    /// changing one normalized dim, or adding a leading dim other than 1, does not.
    #[test]
    fn scale_and_bias_fit_exactly_the_normalized_dims(
        rank in 1usize..=8,
        axis_seed in any::<prop::sample::Index>(),
        negative in any::<bool>(),
        dims_seed in prop::collection::vec(1i64..12, 8),
        leading_ones in 0usize..4,
        which in any::<prop::sample::Index>(),
        bump in 1i64..5,
        extra in 2i64..9,
    ) {
        let x = &dims_seed[..rank];
        let idx = axis_seed.index(rank);
        let axis = if negative { idx as i32 - rank as i32 } else { idx as i32 };
        let c = PluginConfig::new(1e-5, axis, 0).unwrap();
        let normalized = &x[idx..];
        let mut fit = vec![1i64; leading_ones];
        fit.extend_from_slice(normalized);
        prop_assert_eq!(c.check_shapes(&[x, &fit], 1), Ok(()));
        prop_assert_eq!(c.check_shapes(&[x, &fit, normalized], 1), Ok(()));

        // One normalized dim changed.
        let mut wrong = normalized.to_vec();
        let k = which.index(wrong.len());
        wrong[k] += bump;
        let is_scale_err = matches!(c.check_shapes(&[x, &wrong], 1), Err(ShapeError::ParamShape { tensor: "Scale", .. }));
        prop_assert!(is_scale_err);
        let is_bias_err = matches!(c.check_shapes(&[x, normalized, &wrong], 1), Err(ShapeError::ParamShape { tensor: "Bias", .. }));
        prop_assert!(is_bias_err);
        // A leading dim other than 1 (no broadcasting over rows).
        let mut longer = vec![extra];
        longer.extend_from_slice(normalized);
        let is_param_err = matches!(c.check_shapes(&[x, &longer], 1), Err(ShapeError::ParamShape { .. }));
        prop_assert!(is_param_err);

        // At build time, X's unknown dims (-1) never cause a refusal of a fitting Scale.
        let mut x_unknown = x.to_vec();
        x_unknown[which.index(rank)] = -1;
        prop_assert_eq!(c.check_shapes(&[&x_unknown, &fit], 1), Ok(()));
        // ...and the enqueue-time problem has exactly rows_cols' rows and cols.
        let info = |dims| TensorInfo { dtype: 0, format: FORMAT_LINEAR, dims };
        let rc = c.rows_cols(x).unwrap();
        prop_assert_eq!(rc.cols, normalized.iter().product::<i64>() as u64);
        match c.problem(&[info(x), info(&fit), info(normalized)], &[info(x)]) {
            Ok(Some(p)) => prop_assert_eq!((p.rows(), p.cols()), (rc.rows, rc.cols)),
            // Sizes the kernel does not support (H too large) are refused with a message.
            Err(ShapeError::Problem(e)) => prop_assert!(rc.cols > MAX_COLS || rc.rows.checked_mul(rc.cols).is_none_or(|n| n > (i64::MAX as u64) / 4), "{}", e),
            other => prop_assert!(false, "unexpected {:?}", other),
        }

        // FP32RMSNorm: the same Scale rules, no Bias (a third input is refused, naming the plugin).
        let rms = c.with_norm(NormKind::RmsNorm);
        prop_assert_eq!(rms.check_shapes(&[x, &fit], 1), Ok(()));
        let is_scale_err = matches!(rms.check_shapes(&[x, &wrong], 1), Err(ShapeError::ParamShape { tensor: "Scale", .. }));
        prop_assert!(is_scale_err);
        prop_assert_eq!(rms.check_shapes(&[x, &fit, normalized], 1), Err(ShapeError::InputCount { kind: NormKind::RmsNorm, got: 3 }));
        match rms.problem(&[info(x), info(&fit)], &[info(x)]) {
            Ok(Some(p)) => prop_assert_eq!((p.norm(), p.rows(), p.cols(), p.bias_dtype()), (NormKind::RmsNorm, rc.rows, rc.cols, None)),
            Err(ShapeError::Problem(_)) => prop_assert!(rc.cols > MAX_COLS || rc.rows.checked_mul(rc.cols).is_none_or(|n| n > (i64::MAX as u64) / 4)),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    // ---- field parsing ------------------------------------------------------------

    /// Fields in any order, with the ONNX pass-through attributes mixed in, give
    /// the configuration `new` (and `with_sum_output`) gives; absent fields take
    /// their defaults; `sum_output` is FP32SkipLayerNorm's only.
    #[test]
    fn fields_in_any_order_give_the_same_config(
        kind in any_kind(), eps in any_f32(), axis in any_axis(), ot in -2i32..4, so in prop_oneof![-1i32..3, any::<i32>()],
        ws in prop_oneof![-1i32..3, any::<i32>()],
        present in prop::collection::vec(any::<bool>(), 5),
        tolerated in prop::collection::vec(any::<bool>(), 2),
        order in Just((0usize..7).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let candidates = [
            present[0].then(|| f32_field(fields::EPSILON, eps)),
            present[1].then(|| i32_field(fields::AXIS, axis)),
            present[2].then(|| i32_field(fields::OUTPUT_TYPE, ot)),
            present[3].then(|| i32_field(fields::SUM_OUTPUT, so)),
            present[4].then(|| i32_field(fields::WORKSPACE, ws)),
            tolerated[0].then(|| RawField { name: Some(TOLERATED[0]), field_type: FieldType::Char, length: 2, value: None }),
            tolerated[1].then(|| RawField { name: Some(TOLERATED[1]), field_type: FieldType::Other(77), length: -1, value: None }),
        ];
        let list: Vec<RawField<'_>> = order.iter().filter_map(|&i| candidates[i].clone()).collect();
        let expected = if present[3] && kind != NormKind::SkipLayerNorm {
            Err(FieldError::Unknown { name: fields::SUM_OUTPUT.into(), kind })
        } else {
            PluginConfig::new(
                if present[0] { eps } else { 1e-5 },
                if present[1] { axis } else { -1 },
                if present[2] { ot } else { 0 },
            )
            .and_then(|c| c.with_norm(kind).with_sum_output(if present[3] { so } else { 0 }))
            .and_then(|c| c.with_workspace(if present[4] { ws } else { 1 }))
        };
        let got = PluginConfig::from_fields(kind, &list);
        if let Ok(c) = &got {
            prop_assert_eq!(c.sum_output(), present[3] && so == 1);
            prop_assert_eq!(c.nb_outputs(), 1 + i32::from(c.sum_output()));
        }
        prop_assert_eq!(got, expected);
    }

    /// A repeated field is refused whatever its values, and wherever the copies are.
    #[test]
    fn duplicates_are_refused(kind in any_kind(), which in 0usize..5, a in any::<i32>(), b in any::<i32>(), filler in 0usize..3) {
        let specs = fields::field_specs(kind);
        let name = specs[which % specs.len()].name;
        let field = |v: i32| match name {
            fields::EPSILON => f32_field(name, f32::from_bits(v as u32)),
            _ => i32_field(name, v),
        };
        let mut list = vec![field(a)];
        list.extend((0..filler).map(|_| RawField { name: Some(TOLERATED[0]), field_type: FieldType::Char, length: 1, value: None }));
        list.push(field(b));
        prop_assert_eq!(fields::collect(kind, &list), Err(FieldError::Duplicate { name }));
    }

    /// Any other name is an unknown field (reported by name), never silently ignored.
    #[test]
    fn unknown_names_are_refused(kind in any_kind(), name in "[ -~]{0,24}", code in any::<i32>()) {
        prop_assume!(fields::expected_type(kind, &name).is_none() && !TOLERATED.contains(&name.as_str()));
        let f = RawField { name: Some(&name), field_type: FieldType::from_code(code), length: 1, value: None };
        let err = fields::collect(kind, &[f]);
        prop_assert_eq!(&err, &Err(FieldError::Unknown { name: name.clone(), kind }));
        prop_assert!(err.unwrap_err().to_string().contains(plugin_name(kind)));
    }

    // ---- wire format ----------------------------------------------------------------

    /// serialize -> deserialize is the identity over the whole field space, and the
    /// field route and the wire route agree.
    #[test]
    fn wire_round_trip((c, n) in valid_config_and_inputs()) {
        let blob = wire::encode(&c, n);
        prop_assert!(blob.len() <= wire::MAX_LEN);
        prop_assert_eq!(wire::decode(&blob), Ok((c, n)));
        prop_assert_eq!(wire::decode_as(c.norm(), &blob), Ok((c, n)));
        let via_fields = PluginConfig::from_fields(c.norm(), &fields_of(&c));
        prop_assert_eq!(via_fields, Ok(c));
        prop_assert_eq!(wire::decode(&blob).unwrap().0.nb_outputs(), c.nb_outputs());
        // The records are named fields: any order decodes to the same configuration.
        let mut recs = records(&blob);
        recs.reverse();
        let mut payload = vec![recs.len() as u8];
        recs.iter().for_each(|r| payload.extend_from_slice(r));
        prop_assert_eq!(wire::decode(&seal(&payload)), Ok((c, n)));
    }

    /// Every truncation and every extension of a valid blob is refused.
    #[test]
    fn wire_truncations_and_extensions_are_refused((c, n) in valid_config_and_inputs(), tail in prop::collection::vec(any::<u8>(), 1..8)) {
        let blob = wire::encode(&c, n);
        for len in 0..blob.len() {
            prop_assert!(wire::decode(&blob[..len]).is_err(), "truncated to {} bytes was accepted", len);
        }
        let mut longer = blob.clone();
        longer.extend_from_slice(&tail);
        prop_assert!(wire::decode(&longer).is_err());
    }

    /// Every single-bit flip of a valid blob is refused, and so is any flip of two or
    /// three bits (CRC-32 detects all of them).
    #[test]
    fn wire_bit_flips_are_refused((c, n) in valid_config_and_inputs(), bits in prop::collection::vec(any::<prop::sample::Index>(), 2..=3)) {
        let blob = wire::encode(&c, n);
        let nbits = blob.len() * 8;
        for bit in 0..nbits {
            let mut b = blob.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(wire::decode(&b).is_err(), "flip of bit {} was accepted", bit);
        }
        let positions: std::collections::BTreeSet<usize> = bits.iter().map(|i| i.index(nbits)).collect();
        let mut b = blob.clone();
        for &bit in &positions {
            b[bit / 8] ^= 1 << (bit % 8);
        }
        prop_assert!(wire::decode(&b).is_err(), "flips {:?} were accepted", positions);
    }

    /// Arbitrary bytes never panic; with a valid header and CRC around them, what is
    /// accepted is in range and re-encodes to a blob that decodes the same.
    #[test]
    fn wire_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..128), sealed in any::<bool>()) {
        let input = if sealed { seal(&bytes) } else { bytes };
        match wire::decode(&input) {
            Ok((c, n)) => {
                prop_assert!(n == 0 || (c.min_inputs()..=c.max_inputs()).contains(&i32::from(n)));
                prop_assert!(c.epsilon() >= 0.0 && c.epsilon().is_finite() && (-8..8).contains(&c.axis()));
                prop_assert_eq!(wire::decode(&wire::encode(&c, n)), Ok((c, n)));
                prop_assert_eq!(wire::decode_as(c.norm(), &input), Ok((c, n)));
                for other in other_kinds(c.norm()) {
                    prop_assert_eq!(wire::decode_as(other, &input), Err(WireError::WrongPlugin { expected: other, found: c.norm() }));
                }
            }
            Err(e) => prop_assert!(e.to_string().contains("serialized"), "{}", e),
        }
    }

    /// A blob of one plugin handed to another plugin's creator is refused, naming both.
    #[test]
    fn wire_blobs_of_the_other_plugins_are_refused((c, n) in valid_config_and_inputs()) {
        for other in other_kinds(c.norm()) {
            let err = wire::decode_as(other, &wire::encode(&c, n)).unwrap_err();
            prop_assert_eq!(&err, &WireError::WrongPlugin { expected: other, found: c.norm() });
            let msg = err.to_string();
            prop_assert!(msg.contains(plugin_name(other)) && msg.contains(plugin_name(c.norm())), "{}", msg);
        }
    }

    /// Version-1 blobs (engines built before FP32RMSNorm) still decode, as
    /// FP32LayerNorm, over the whole field space; the other creators refuse them.
    #[test]
    fn wire_version_1_blobs_decode_as_layernorm(c in valid_config(), n in 0u8..=3) {
        let c = c.with_norm(NormKind::LayerNorm);
        let old = version1_blob(&c, n);
        prop_assert_eq!(wire::decode(&old), Ok((c.with_workspace(0).unwrap(), n)), "engines built then asked for no workspace");
        for other in other_kinds(NormKind::LayerNorm) {
            prop_assert_eq!(wire::decode_as(other, &old), Err(WireError::WrongPlugin { expected: other, found: NormKind::LayerNorm }));
        }
        for len in 0..old.len() {
            prop_assert!(wire::decode(&old[..len]).is_err());
        }
    }

    /// Re-sealed payloads with a record value changed are judged by the field
    /// checks: an out-of-range value is refused with the field's name, an input
    /// count or norm code the blob cannot have as malformed.
    #[test]
    fn wire_values_behind_a_valid_crc_are_range_checked((c, n) in valid_config_and_inputs(), which in 0usize..7, v in any::<u32>(), small in any::<bool>()) {
        // Small values hit the valid codes of `num_inputs`, `norm` and `sum_output` often.
        let v = if small { v % 7 } else { v };
        let blob = wire::encode(&c, n);
        let mut recs = records(&blob);
        let which = which % recs.len();
        let r = &mut recs[which];
        let name = String::from_utf8(r[1..1 + r[0] as usize].to_vec()).unwrap();
        let at = r.len() - 4;
        r[at..].copy_from_slice(&v.to_le_bytes());
        let mut payload = vec![recs.len() as u8];
        recs.iter().for_each(|r| payload.extend_from_slice(r));
        let code = |k: NormKind| NormKind::ALL.iter().position(|&x| x == k).unwrap() as i32;
        let skip_blob = c.norm() == NormKind::SkipLayerNorm;
        let (mut eps, mut axis, mut ot, mut ni, mut norm, mut so, mut ws) =
            (c.epsilon(), c.axis(), c.output_type().code(), n as i32, code(c.norm()), i32::from(c.sum_output()), i32::from(c.workspace()));
        match name.as_str() {
            "epsilon" => eps = f32::from_bits(v),
            "axis" => axis = v as i32,
            "output_type" => ot = v as i32,
            "num_inputs" => ni = v as i32,
            "norm" => norm = v as i32,
            "sum_output" => so = v as i32,
            "workspace" => ws = v as i32,
            other => panic!("record {other}"),
        }
        let got = wire::decode(&seal(&payload));
        if !(0..=5).contains(&ni) {
            let is_malformed = matches!(got, Err(WireError::Malformed { reason: "num_inputs must be an int32 from 0 to 5", .. }));
            prop_assert!(is_malformed, "{:?}", got);
            return Ok(());
        }
        let Some(&kind) = usize::try_from(norm).ok().and_then(|i| NormKind::ALL.get(i)) else {
            let is_malformed = matches!(got, Err(WireError::Malformed { reason, .. }) if reason.starts_with("norm must be"));
            prop_assert!(is_malformed, "{:?}", got);
            return Ok(());
        };
        let is_skip = kind == NormKind::SkipLayerNorm;
        if skip_blob && !is_skip {
            // A relabelled FP32SkipLayerNorm blob: its sum_output record is not a field of that plugin.
            prop_assert_eq!(got, Err(WireError::Field(FieldError::Unknown { name: fields::SUM_OUTPUT.into(), kind })));
            return Ok(());
        }
        if is_skip && !skip_blob {
            prop_assert_eq!(got, Err(WireError::Missing(fields::SUM_OUTPUT)));
            return Ok(());
        }
        let probe = PluginConfig::default().with_norm(kind);
        if ni != 0 && !(probe.min_inputs()..=probe.max_inputs()).contains(&ni) {
            let is_malformed = matches!(got, Err(WireError::Malformed { reason, .. }) if reason.starts_with("num_inputs is not an input count"));
            prop_assert!(is_malformed, "{:?}", got);
            return Ok(());
        }
        match PluginConfig::new(eps, axis, ot).and_then(|e| e.with_norm(kind).with_sum_output(if is_skip { so } else { 0 })).and_then(|e| e.with_workspace(ws)) {
            Ok(expected) => prop_assert_eq!(got, Ok((expected, ni as u8))),
            Err(e) => prop_assert_eq!(got, Err(WireError::Field(e))),
        }
    }

    // ---- FP32SkipLayerNorm: inputs by role, outputs, pointers ----------------------

    /// Skip must have exactly X's shape (one dim changed, a leading 1 added or a dim
    /// dropped is refused, naming Skip); Scale, Bias and ResidualBias follow the
    /// normalized-dims rule; the enqueue problem and pointers match the inputs given.
    #[test]
    fn skip_inputs_follow_their_roles(
        rank in 1usize..=8,
        axis_seed in any::<prop::sample::Index>(),
        dims_seed in prop::collection::vec(1i64..12, 8),
        leading_ones in 0usize..3,
        which in any::<prop::sample::Index>(),
        bump in 1i64..5,
        nb_inputs in 2usize..=5,
        sum in 0i32..=1,
        output_type in 0i32..=1,
        types in prop::collection::vec(prop::sample::select(vec![0i32, 1, 7]), 3),
    ) {
        let x = &dims_seed[..rank];
        let axis = axis_seed.index(rank);
        let c = PluginConfig::new(1e-5, axis as i32, output_type).unwrap().with_norm(NormKind::SkipLayerNorm).with_sum_output(sum).unwrap();
        let normalized = &x[axis..];
        let mut fit = vec![1i64; leading_ones];
        fit.extend_from_slice(normalized);
        let inputs: Vec<&[i64]> = vec![x, x, &fit, &fit, &fit];
        prop_assert_eq!(c.check_shapes(&inputs[..nb_inputs], c.nb_outputs()), Ok(()));
        let mut wrong = x.to_vec();
        wrong[which.index(rank)] += bump;
        prop_assert_eq!(c.check_shapes(&[x, &wrong], c.nb_outputs()), Err(ShapeError::NotXShape { tensor: "Skip", got: wrong.clone(), expected: x.to_vec() }));
        let mut longer = vec![1i64];
        longer.extend_from_slice(x);
        let refused = matches!(c.check_shapes(&[x, &longer], c.nb_outputs()), Err(ShapeError::NotXShape { tensor: "Skip", .. }));
        prop_assert!(refused);
        if rank > 1 {
            let refused = matches!(c.check_shapes(&[x, &x[1..]], c.nb_outputs()), Err(ShapeError::NotXShape { tensor: "Skip", .. }));
            prop_assert!(refused);
        }
        let mut bad_param = normalized.to_vec();
        let k = which.index(bad_param.len());
        bad_param[k] += bump;
        let pos = 2 + which.index(3);
        let mut with_bad = vec![x, x, &fit[..], &fit[..], &fit[..]];
        with_bad[pos] = &bad_param;
        let name = config::input_names(NormKind::SkipLayerNorm)[pos];
        let refused = matches!(c.check_shapes(&with_bad, c.nb_outputs()), Err(ShapeError::ParamShape { tensor, .. }) if tensor == name);
        prop_assert!(refused, "{} of a wrong shape", name);

        // Enqueue: X and Skip (and ResidualBias) in X's type, Scale and Bias any; Y by output_type, S in X's type.
        let (xt, st, bt) = (types[0], types[1], types[2]);
        let info = |dtype, dims| TensorInfo { dtype, format: FORMAT_LINEAR, dims };
        let ins = [info(xt, x), info(xt, x), info(st, &fit[..]), info(bt, &fit[..]), info(xt, &fit[..])];
        let yt = if output_type == 1 { 0 } else { xt };
        let outs = [info(yt, x), info(xt, x)];
        let outs = &outs[..c.nb_outputs() as usize];
        let p = c.problem(&ins[..nb_inputs], outs).unwrap().unwrap();
        let o = p.skip().unwrap();
        prop_assert_eq!((o.residual_bias, o.sum_output), (nb_inputs == 5, sum == 1));
        prop_assert_eq!((p.scale_dtype().is_some(), p.bias_dtype().is_some()), (nb_inputs >= 3, nb_inputs >= 4));
        // Distinct 16-byte-aligned addresses: the mapping gives exactly the pointers the problem needs.
        let in_ptrs: Vec<u64> = (1..=nb_inputs as u64).map(|i| i << 12).collect();
        let out_ptrs: Vec<u64> = (1..=c.nb_outputs() as u64).map(|i| (i + 8) << 12).collect();
        let ptrs = c.device_ptrs(&in_ptrs, &out_ptrs);
        prop_assert!(ptrs.check(&p).is_ok(), "{:?}", ptrs);
        prop_assert_eq!((ptrs.x, ptrs.skip, ptrs.y), (in_ptrs[0], in_ptrs[1], out_ptrs[0]));
        // Another type for Skip or ResidualBias is refused, naming it.
        let other = if xt == 1 { 7 } else { 1 };
        let mut bad = ins;
        bad[1].dtype = other;
        let refused = matches!(c.problem(&bad[..nb_inputs], outs), Err(ShapeError::NotXType { tensor: "Skip", .. }));
        prop_assert!(refused);
        if nb_inputs == 5 {
            let mut bad = ins;
            bad[4].dtype = other;
            let refused = matches!(c.problem(&bad, outs), Err(ShapeError::NotXType { tensor: "ResidualBias", .. }));
            prop_assert!(refused);
        }
    }
}
