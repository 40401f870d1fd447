//! `trt-layernorm patch` on the fixtures of tests/fixtures/onnx: structure of
//! the patched models, the candidates it must refuse, malformed inputs, the
//! lossless round trip (unknown fields, external data), a CPU semantic check
//! through ONNX Runtime (skipped without Python's onnx/onnxruntime, which
//! scripts/with-cuda.sh provides), and a GPU check of our kernel on the
//! LayerNorm inputs ONNX Runtime saw (skipped without a CUDA device).

mod onnx_support;
use onnx_support::{assert_only_matches_changed, assert_topological, fixtures, plugin_nodes, ort_check, python_with_ort, tmpdir};
use protobuf::Message;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use trt_layernorm::onnx::proto::{tensor_proto, ModelProto, NodeProto, StringStringEntryProto};
use trt_layernorm::onnx::{io, patch_file, patch_model, PatchOptions, PLUGIN_DOMAIN, RMS_PLUGIN_OP, SKIP_PLUGIN_OP};

fn load(p: &Path) -> ModelProto {
    io::read_model(p).unwrap_or_else(|e| panic!("{e}"))
}

fn attr<'a>(n: &'a NodeProto, name: &str) -> &'a trt_layernorm::onnx::proto::AttributeProto {
    n.attribute.iter().find(|a| a.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("no attribute {name}"))
}

/// Every fixture and the number of LayerNorms it contains (each one plugin
/// node: FP32LayerNorm, or FP32SkipLayerNorm with its residual Add fused in,
/// which tests/onnx_skip.rs counts).
const EXPECTED: &[(&str, usize)] = &[
    ("synthetic_bert_block_op13.onnx", 3),
    ("synthetic_bert_block_op17.onnx", 3),
    ("synthetic_gpt2_block_op13.onnx", 5),
    ("synthetic_gpt2_block_op17.onnx", 5),
    ("synthetic_gpt2_block_fp16_op13.onnx", 5),
    ("synthetic_gpt2_block_fp16_op17.onnx", 5),
    ("synthetic_vit_block_op13.onnx", 3),
    ("synthetic_vit_block_op17.onnx", 3),
    ("synthetic_variants_op18.onnx", 5),
    ("synthetic_tf_moments_op13.onnx", 2),
    // The LayerNorm and, since issue 12, its RMSNorm.
    ("synthetic_negatives_op13.onnx", 2),
];

/// Fixtures exported by tests/onnx/export_fixtures.py (real PyTorch output),
/// when present: `torch_<arch>[_fp16]_op<N>.onnx`, LayerNorm counts by arch.
fn torch_fixtures() -> Vec<(String, usize)> {
    let mut v = vec![];
    for e in std::fs::read_dir(fixtures()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if let Some(rest) = name.strip_prefix("torch_").filter(|n| n.ends_with(".onnx")) {
            let n = if rest.starts_with("bert") { 3 } else if rest.starts_with("gpt2") { 5 } else if rest.starts_with("vit") { 3 } else { continue };
            v.push((name, n));
        }
    }
    v.sort();
    v
}

fn all_fixtures() -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = EXPECTED.iter().map(|(f, n)| (f.to_string(), *n)).collect();
    v.extend(torch_fixtures());
    v
}

#[test]
fn every_fixture_layernorm_is_replaced_and_nothing_else() {
    let dir = tmpdir("onnx", "all");
    for (f, expected) in all_fixtures() {
        let input = fixtures().join(&f);
        let output = dir.join(&f);
        let summary = patch_file(&input, &output, &PatchOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        println!("{summary}");
        let orig = load(&input);
        let mut again = orig.clone();
        let report = patch_model(&mut again, &PatchOptions::default()).unwrap();
        let patched = load(&output);
        assert_eq!(patched, again, "{f}: file differs from the in-memory patch");

        let plugins = plugin_nodes(&patched);
        assert_eq!(plugins.len(), expected, "{f}: replaced LayerNorms\n{summary}");
        assert_eq!(report.replaced.len(), expected, "{f}");
        if !f.contains("negatives") {
            assert!(report.rejected.is_empty(), "{f}: unexpected rejections\n{summary}");
        }
        assert!(!patched.graph.node.iter().any(|n| n.op_type.as_deref() == Some("LayerNormalization")), "{f}");
        for p in &plugins {
            assert_eq!(p.domain.as_deref(), Some(PLUGIN_DOMAIN));
            assert_eq!(attr(p, "plugin_version").s.as_deref(), Some(&b"1"[..]));
            assert_eq!(attr(p, "plugin_namespace").s.as_deref(), Some(&b""[..]));
            assert!(attr(p, "epsilon").f.unwrap() > 0.0);
            assert!(attr(p, "axis").i.unwrap() < 0);
            assert!(!p.attribute.iter().any(|a| a.name.as_deref() == Some("output_type")), "{f}: output_type not asked");
            let rms = p.op_type.as_deref() == Some(RMS_PLUGIN_OP);
            if p.op_type.as_deref() == Some(SKIP_PLUGIN_OP) {
                // X, Skip, Scale, Bias[, ResidualBias]
                assert!((4..=5).contains(&p.input.len()) && p.input.iter().all(|i| !i.is_empty()), "{f}: {:?}", p.input);
            } else {
                assert!(p.input.len() == 3 || rms || f.contains("variants") || f.contains("tf_moments"), "{f}: scale and bias absorbed");
            }
        }

        assert_only_matches_changed(&orig, &patched, &report, &f);
        assert_eq!(patched.opset_import.last().unwrap().domain.as_deref(), Some(PLUGIN_DOMAIN));
        // value_info: the original entries minus the removed intermediates.
        let vi: HashSet<&str> = patched.graph.value_info.iter().filter_map(|v| v.name.as_deref()).collect();
        for v in &orig.graph.value_info {
            let name = v.name.as_deref().unwrap();
            let produced_by_kept = patched.graph.node.iter().any(|n| n.output.iter().any(|o| o == name));
            assert_eq!(vi.contains(name), produced_by_kept, "{f}: value_info of '{name}'");
        }
        assert_topological(&patched, &f);
        // Patching the patched model finds nothing more.
        let mut twice = patched.clone();
        let r2 = patch_model(&mut twice, &PatchOptions::default()).unwrap();
        assert!(r2.replaced.is_empty(), "{f}: second patch replaced more");
    }
}

#[test]
fn negatives_are_reported_with_reasons() {
    let mut m = load(&fixtures().join("synthetic_negatives_op13.onnx"));
    let report = patch_model(&mut m, &PatchOptions::default()).unwrap();
    let reasons: HashMap<&str, &str> = report.rejected.iter().map(|r| (r.anchor.as_str(), r.reason.as_str())).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons["/neg/shared/ReduceMean"].contains("is also used by '/neg/shared/Abs'"), "{reasons:?}");
    assert!(reasons["/neg/not_trailing/ReduceMean"].contains("not over the trailing axes"), "{reasons:?}");
    assert!(reasons["/neg/eps_input/ReduceMean"].contains("not a scalar constant"), "{reasons:?}");
    // The RMSNorm is an FP32RMSNorm now; the squares of the refused
    // LayerNorms are no RMSNorm candidates (they are centred).
    let names: Vec<&str> = report.replaced.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["/neg/rmsnorm/FP32RMSNorm", "/ok/ln/FP32LayerNorm"]);
    // The refused subgraphs are untouched.
    for op in ["Abs", "Sqrt", "Pow", "ReduceMean"] {
        assert!(m.graph.node.iter().any(|n| n.op_type.as_deref() == Some(op)), "{op} kept");
    }
}

#[test]
fn options_only_version_output_type_dry_run() {
    let f = fixtures().join("synthetic_gpt2_block_fp16_op13.onnx");
    let orig = load(&f);

    let mut m = orig.clone();
    let opts = PatchOptions { only: vec!["/ln_f/FP32LayerNorm".into(), "/h.0/ln_1/Sub".into()], ..Default::default() };
    let r = patch_model(&mut m, &opts).unwrap();
    let names: Vec<&str> = r.replaced.iter().map(|(_, n)| n.as_str()).collect();
    // ln_f reads the last residual sum: fused with it.
    assert_eq!(names, ["/h.0/ln_1/FP32LayerNorm", "/ln_f/FP32SkipLayerNorm"]);
    assert_eq!(r.rejected.iter().filter(|x| x.reason.contains("--only")).count(), 3);

    let mut m = orig.clone();
    let opts = PatchOptions { only: vec!["nothing/like/this".into()], ..Default::default() };
    let r = patch_model(&mut m, &opts).unwrap();
    assert!(r.replaced.is_empty());
    assert!(r.rejected.iter().any(|x| x.anchor == "nothing/like/this"));

    let mut m = orig.clone();
    let opts = PatchOptions { plugin_version: "2".into(), output_fp32: true, ..Default::default() };
    let r = patch_model(&mut m, &opts).unwrap();
    for p in plugin_nodes(&m) {
        assert_eq!(attr(p, "plugin_version").s.as_deref(), Some(&b"2"[..]));
        assert_eq!(attr(p, "output_type").i, Some(1));
    }
    assert!(r.stats.retyped_outputs.contains(&"logits".to_string()), "{:?}", r.stats.retyped_outputs);

    let mut m = orig.clone();
    assert!(patch_model(&mut m, &PatchOptions { plugin_version: "3".into(), ..Default::default() }).is_err());

    let dir = tmpdir("onnx", "dry");
    let out = dir.join("out.onnx");
    let s = patch_file(&f, &out, &PatchOptions { dry_run: true, ..Default::default() }).unwrap();
    assert!(s.starts_with("dry run on "), "{s}");
    assert!(s.contains("replaced 1 LayerNorm(s) with FP32LayerNorm, 4 LayerNorm(s) with FP32SkipLayerNorm"), "{s}");
    assert!(!out.exists());
}

/// Runs the patcher expecting an error; checks it is one line and that no
/// output (nor temporary file) was left.
fn expect_error(input: &Path, output: &Path, what: &str) -> String {
    let e = patch_file(input, output, &PatchOptions::default()).expect_err(what).to_string();
    assert!(!e.contains('\n'), "{what}: multi-line error: {e}");
    assert!(!output.exists() || io::same_file(input, output), "{what}: output written");
    if let Some(dir) = output.parent().filter(|d| d.exists()) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let n = entry.unwrap().file_name().to_string_lossy().to_string();
            assert!(!n.contains(".tmp-"), "{what}: temporary file {n} left");
        }
    }
    println!("{what}: {e}");
    e
}

#[test]
fn malformed_inputs_give_one_line_errors_and_no_output() {
    let dir = tmpdir("onnx", "bad");
    let good = std::fs::read(fixtures().join("synthetic_bert_block_op13.onnx")).unwrap();
    let out = dir.join("out.onnx");

    for cut in [good.len() / 2, good.len() - 7, 100, 3] {
        let p = dir.join(format!("trunc{cut}.onnx"));
        std::fs::write(&p, &good[..cut]).unwrap();
        let e = expect_error(&p, &out, &format!("truncated at {cut}"));
        assert!(e.contains("truncated") || e.contains("not an ONNX model"), "{e}");
    }
    let cases: [(&str, &[u8]); 4] = [
        ("png.onnx", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
        ("text.onnx", b"this is not a model\n"),
        ("empty.onnx", b""),
        ("zeros.onnx", &[0u8; 64]),
    ];
    for (name, bytes) in cases {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        let e = expect_error(&p, &out, name);
        assert!(e.contains("not an ONNX model") || e.contains("empty"), "{e}");
    }
    // Flipped bytes in the middle: any error is fine, but one line and no output.
    let mut corrupt = good.clone();
    for b in &mut corrupt[good.len() / 3..good.len() / 3 + 16] {
        *b = 0xff;
    }
    let p = dir.join("corrupt.onnx");
    std::fs::write(&p, &corrupt).unwrap();
    if patch_file(&p, &out, &PatchOptions::default()).is_err() {
        assert!(!out.exists());
    }
    let _ = std::fs::remove_file(&out);

    // Dangling external data.
    let mut m = ModelProto::parse_from_bytes(&good).unwrap();
    let t = &mut m.graph.as_mut().unwrap().initializer[0];
    t.raw_data = None;
    t.float_data.clear();
    t.data_location = Some(protobuf::EnumOrUnknown::new(tensor_proto::DataLocation::EXTERNAL));
    t.external_data = vec![entry("location", "weights_that_are_not_there.bin")];
    let p = dir.join("dangling.onnx");
    std::fs::write(&p, m.write_to_bytes().unwrap()).unwrap();
    let e = expect_error(&p, &out, "dangling external data");
    assert!(e.contains("weights_that_are_not_there.bin") && e.contains("does not exist"), "{e}");

    // Missing input, output over the input, output in a missing folder.
    expect_error(&dir.join("nope.onnx"), &out, "missing input");
    let p = dir.join("self.onnx");
    std::fs::write(&p, &good).unwrap();
    let e = expect_error(&p, &p, "output == input");
    assert!(e.contains("refusing"), "{e}");
    assert_eq!(std::fs::read(&p).unwrap(), good, "input untouched");
    let e = expect_error(&p, &dir.join("no/such/dir/out.onnx"), "output folder missing");
    assert!(e.contains("cannot write"), "{e}");
}

fn entry(k: &str, v: &str) -> StringStringEntryProto {
    StringStringEntryProto { key: Some(k.into()), value: Some(v.into()), ..Default::default() }
}

#[test]
fn external_data_and_unknown_fields_survive() {
    let dir = tmpdir("onnx", "ext");
    let mut m = load(&fixtures().join("synthetic_gpt2_block_op13.onnx"));
    // Move every initializer of more than 1 KiB to weights.bin, as onnx's
    // save_as_external_data does (location, offset, length).
    let mut blob: Vec<u8> = vec![];
    let mut moved = 0;
    for t in &mut m.graph.as_mut().unwrap().initializer {
        let raw = t.raw_data.clone().unwrap_or_default();
        if raw.len() > 1024 {
            let offset = blob.len();
            blob.extend_from_slice(&raw);
            t.raw_data = None;
            t.data_location = Some(protobuf::EnumOrUnknown::new(tensor_proto::DataLocation::EXTERNAL));
            t.external_data = vec![entry("location", "weights.bin"), entry("offset", &offset.to_string()), entry("length", &raw.len().to_string())];
            moved += 1;
        }
    }
    assert!(moved > 4);
    std::fs::write(dir.join("weights.bin"), &blob).unwrap();
    // Fields this schema does not know (as from a newer ONNX) in several messages.
    m.special_fields.mut_unknown_fields().add_varint(1000, 7);
    m.graph.as_mut().unwrap().special_fields.mut_unknown_fields().add_length_delimited(1001, b"future".to_vec());
    let kept = "/h.0/attn/query/MatMul";
    let node = m.graph.as_mut().unwrap().node.iter_mut().find(|n| n.name.as_deref() == Some(kept)).unwrap();
    node.special_fields.mut_unknown_fields().add_fixed32(1002, 42);
    let input = dir.join("model.onnx");
    std::fs::write(&input, m.write_to_bytes().unwrap()).unwrap();

    let output = dir.join("model.plugin.onnx");
    let s = patch_file(&input, &output, &PatchOptions::default()).unwrap();
    assert!(s.contains("replaced 1 LayerNorm(s) with FP32LayerNorm, 4 LayerNorm(s) with FP32SkipLayerNorm"), "{s}");
    let p = load(&output);
    assert_eq!(p.graph.initializer, m.graph.initializer, "external references kept as they were");
    assert!(p.special_fields.unknown_fields().get(1000).is_some());
    assert!(p.graph.special_fields.unknown_fields().get(1001).is_some());
    let node = p.graph.node.iter().find(|n| n.name.as_deref() == Some(kept)).unwrap();
    assert!(node.special_fields.unknown_fields().get(1002).is_some());
    assert_eq!(std::fs::read(dir.join("weights.bin")).unwrap(), blob);

    // Out of range external reference.
    let t = &mut m.graph.as_mut().unwrap().initializer.iter_mut().find(|t| io::is_external(t)).unwrap();
    t.external_data[2] = entry("length", &(blob.len() * 2).to_string());
    std::fs::write(&input, m.write_to_bytes().unwrap()).unwrap();
    let _ = std::fs::remove_file(&output);
    let e = expect_error(&input, &output, "external data out of range");
    assert!(e.contains("has only"), "{e}");
}

#[test]
fn patched_models_compute_what_the_originals_do() {
    let Some(py) = python_with_ort() else { return };
    let dir = tmpdir("onnx", "ort");
    for (f, _) in all_fixtures() {
        patch_file(&fixtures().join(&f), &dir.join(&f), &PatchOptions::default()).unwrap();
    }
    ort_check(&py, &dir);
}

// ---------------------------------------------------------------------------
// GPU: our kernel on the LayerNorm inputs ONNX Runtime saw.

mod gpu {
    use super::*;
    use cudarc::driver::CudaContext;
    use half::f16;
    use serde_json::Value;
    use trt_layernorm::reference::{layernorm_row, ulp_error};
    use trt_layernorm::{DType, DeviceParam, Element, LayerNorm};

    fn read_vals(path: &Path, dtype: &str) -> Vec<f64> {
        let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match dtype {
            "f32" => b.chunks_exact(4).map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap()))).collect(),
            "f16" => b.chunks_exact(2).map(|c| f16::from_bits(u16::from_le_bytes(c.try_into().unwrap())).to_f64()).collect(),
            other => panic!("dtype {other}"),
        }
    }

    struct Rec {
        name: String,
        x: Vec<f64>,
        y_ort: Vec<f64>,
        scale: Option<(Vec<f64>, String)>,
        bias: Option<(Vec<f64>, String)>,
        cols: usize,
        epsilon: f32,
        x_dtype: String,
        y_dtype: String,
    }

    fn run<X: Element, Y: Element + cudarc::driver::ValidAsZeroBits>(ln: &LayerNorm, stream: &std::sync::Arc<cudarc::driver::CudaStream>, r: &Rec) -> Vec<f64> {
        let x: Vec<X> = r.x.iter().map(|&v| X::from_f64(v)).collect();
        let dx = stream.clone_htod(&x).unwrap();
        let mut dy = stream.alloc_zeros::<Y>(x.len()).unwrap();
        let up = |p: &Option<(Vec<f64>, String)>| {
            p.as_ref().map(|(v, t)| match t.as_str() {
                "f16" => Err(stream.clone_htod(&v.iter().map(|&a| f16::from_f64(a)).collect::<Vec<_>>()).unwrap()),
                _ => Ok(stream.clone_htod(&v.iter().map(|&a| a as f32).collect::<Vec<_>>()).unwrap()),
            })
        };
        let (s, b) = (up(&r.scale), up(&r.bias));
        fn param(p: &Option<Result<cudarc::driver::CudaSlice<f32>, cudarc::driver::CudaSlice<f16>>>) -> Option<DeviceParam<'_>> {
            p.as_ref().map(|v| match v {
                Ok(a) => DeviceParam::from(a),
                Err(a) => DeviceParam::from(a),
            })
        }
        ln.forward(stream, &dx, &mut dy, r.cols, param(&s), param(&b), r.epsilon).unwrap();
        stream.clone_dtoh(&dy).unwrap().into_iter().map(Element::to_f64).collect()
    }

    #[test]
    fn kernel_matches_reference_and_ort_on_fixture_layernorms() {
        if let Err(e) = trt_layernorm::driver_ready() {
            let _ = writeln!(std::io::stderr(), "skipped: {e}");
            return;
        }
        let dir = fixtures().join("ln_io");
        let index: Value = serde_json::from_slice(&std::fs::read(dir.join("ln_io.json")).unwrap()).unwrap();
        // Attributes the patcher gives each node today, to check the dump is current.
        let mut patched: HashMap<(String, String), NodeProto> = HashMap::new();
        let ctx = CudaContext::new(0).expect("CUDA context");
        let stream = ctx.default_stream();
        let ln = LayerNorm::new(&ctx).expect("kernels load");
        let mut failures = vec![];
        for rec in index.as_array().unwrap() {
            let s = |k: &str| rec[k].as_str().unwrap().to_string();
            let model = s("model");
            if !patched.keys().any(|(m, _)| *m == model) {
                // The LayerNorms alone (the dump has each one's X and Y): no residual Add fused.
                let mut m = load(&fixtures().join(&model));
                patch_model(&mut m, &PatchOptions { fuse_skip: false, ..Default::default() }).unwrap();
                for n in plugin_nodes(&m) {
                    patched.insert((model.clone(), n.name.clone().unwrap()), n.clone());
                }
            }
            let node = &patched[&(model.clone(), s("node"))];
            let epsilon = attr(node, "epsilon").f.unwrap();
            let axis = attr(node, "axis").i.unwrap();
            assert_eq!(f64::from(epsilon), rec["epsilon"].as_f64().unwrap(), "{model} {}: epsilon", s("node"));
            assert_eq!(axis, rec["axis"].as_i64().unwrap());
            let shape: Vec<usize> = rec["x_shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
            let ax = if axis < 0 { shape.len() as i64 + axis } else { axis } as usize;
            let cols: usize = shape[ax..].iter().product();
            let opt = |role: &str| {
                rec.get(format!("{role}_file")).and_then(Value::as_str).map(|f| {
                    let t = s(&format!("{role}_dtype"));
                    (read_vals(&dir.join(f), &t), t)
                })
            };
            let r = Rec {
                name: format!("{model} {}", s("node")),
                x: read_vals(&dir.join(s("x_file")), &s("x_dtype")),
                y_ort: read_vals(&dir.join(s("y_file")), &s("y_dtype")),
                scale: opt("scale"),
                bias: opt("bias"),
                cols,
                epsilon,
                x_dtype: s("x_dtype"),
                y_dtype: s("y_dtype"),
            };
            let got = match (r.x_dtype.as_str(), r.y_dtype.as_str()) {
                ("f32", "f32") => run::<f32, f32>(&ln, &stream, &r),
                ("f16", "f16") => run::<f16, f16>(&ln, &stream, &r),
                ("f16", "f32") => run::<f16, f32>(&ln, &stream, &r),
                other => panic!("{}: dtypes {other:?}", r.name),
            };
            let ydt = if r.y_dtype == "f16" { DType::F16 } else { DType::F32 };
            let (mut max_ulp, mut max_rel, mut max_ort) = (0f64, 0f64, 0f64);
            let mut want = vec![0f64; cols];
            for (row, (xr, gr)) in r.x.chunks(cols).zip(got.chunks(cols)).enumerate() {
                layernorm_row(xr, r.scale.as_ref().map(|p| &p.0[..]), r.bias.as_ref().map(|p| &p.0[..]), f64::from(epsilon), &mut want);
                for (j, (&g, &w)) in gr.iter().zip(&want).enumerate() {
                    max_ulp = max_ulp.max(ulp_error(ydt, g, w));
                    max_rel = max_rel.max((g - w).abs() / w.abs().max(1.0));
                    max_ort = max_ort.max((g - r.y_ort[row * cols + j]).abs());
                }
            }
            let ok = match ydt {
                DType::F32 => max_rel <= 2f64.powi(-20),
                _ => max_ulp <= 1.0,
            };
            println!(
                "{} {:<60} {}->{} cols {cols:>4}: max_ulp {max_ulp:.2} max_rel {max_rel:.2e} | max |ours - ORT| {max_ort:.3e}",
                if ok { "ok  " } else { "FAIL" },
                r.name,
                r.x_dtype,
                r.y_dtype
            );
            if !ok {
                failures.push(r.name.clone());
            }
        }
        assert!(failures.is_empty(), "out of bounds: {failures:?}");
    }
}

/// Found by the `onnx_graph` fuzz target: a constant whose dims multiply past
/// i64 (or are negative) overflowed the element count (a panic with overflow
/// checks; without them, [2^62, 4] wrapped to 0 elements and an empty tensor
/// passed as that constant). Such a tensor is no constant, and `patch` refuses
/// what depends on it instead of panicking.
#[test]
fn constants_with_hostile_dims_are_not_constants() {
    use trt_layernorm::onnx::graph::decode_tensor;
    use trt_layernorm::onnx::proto::TensorProto;
    let tensor = |dims: Vec<i64>, values: usize| TensorProto { dims, data_type: Some(1), float_data: vec![2.0; values], ..Default::default() };
    for dims in [vec![1 << 62, 4], vec![i64::MAX, 2], vec![-1, -1], vec![-1], vec![i64::MIN, 0]] {
        assert!(decode_tensor(&tensor(dims.clone(), 0)).is_none(), "{dims:?}");
        assert!(decode_tensor(&tensor(dims.clone(), 1)).is_none(), "{dims:?}");
    }
    assert_eq!(decode_tensor(&tensor(vec![1, 1], 1)).map(|c| c.values), Some(vec![2.0]));
    assert_eq!(decode_tensor(&tensor(vec![0, 1 << 62], 0)).map(|c| c.values.len()), Some(0));

    // Every Constant of a fixture with hostile dims: patch refuses, never panics.
    let base = load(&fixtures().join("synthetic_negatives_op13.onnx"));
    for dims in [vec![1 << 62, 1 << 62], vec![i64::MAX, 2], vec![-1]] {
        let mut m = base.clone();
        for n in m.graph.mut_or_insert_default().node.iter_mut().filter(|n| n.op_type.as_deref() == Some("Constant")) {
            for a in &mut n.attribute {
                if let Some(t) = a.t.as_mut() {
                    t.dims = dims.clone();
                }
            }
        }
        let report = patch_model(&mut m, &PatchOptions::default()).unwrap();
        assert!(report.replaced.is_empty(), "{dims:?}: replaced {:?}", report.replaced.iter().map(|r| &r.1).collect::<Vec<_>>());
    }
}

/// Found by the `onnx_graph` fuzz target: a LayerNormalization with
/// `axis = i64::MIN` negated the axis with overflow (a panic with overflow
/// checks). It is refused with the reason, like every axis the plugin cannot take.
#[test]
fn layernormalization_with_hostile_axis_is_refused() {
    use trt_layernorm::onnx::proto::{attribute_proto::AttributeType, AttributeProto};
    let base = load(&fixtures().join("torch_vit_block_op17.onnx"));
    assert!(base.graph.node.iter().any(|n| n.op_type.as_deref() == Some("LayerNormalization")));
    for axis in [i64::MIN, i64::MIN + 1, i64::MAX, -(1 << 40), 1 << 40] {
        let mut m = base.clone();
        for n in m.graph.mut_or_insert_default().node.iter_mut().filter(|n| n.op_type.as_deref() == Some("LayerNormalization")) {
            n.attribute.retain(|a| a.name.as_deref() != Some("axis"));
            n.attribute.push(AttributeProto {
                name: Some("axis".into()),
                type_: Some(protobuf::EnumOrUnknown::new(AttributeType::INT)),
                i: Some(axis),
                ..Default::default()
            });
        }
        let report = patch_model(&mut m, &PatchOptions::default()).unwrap();
        assert!(report.replaced.iter().all(|(c, _)| c.label != "LayerNormalization"), "axis {axis}: a LayerNormalization was replaced");
        assert!(
            report.rejected.iter().any(|r| r.label == "LayerNormalization"),
            "axis {axis}: no LayerNormalization refused: {:?}",
            report.rejected
        );
    }
}

/// Node names whose common prefix ends inside a multi-byte character
/// ("/é/..." and "/ê/...": both start with the byte 0xC3) sliced a `str`
/// off a character boundary when naming the plugin node (a panic).
#[test]
fn plugin_names_from_non_ascii_node_names() {
    let mut m = load(&fixtures().join("synthetic_bert_block_op13.onnx"));
    let g = m.graph.mut_or_insert_default();
    for (k, n) in g.node.iter_mut().enumerate() {
        n.name = Some(format!("/{}/{}", if k % 2 == 0 { "é" } else { "ê" }, n.op_type.clone().unwrap_or_default()));
    }
    let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
    assert_eq!(r.replaced.len(), 3);
    for (c, name) in &r.replaced {
        assert_eq!(*name, format!("{}/{}", c.y, c.plugin_op()), "no common '/'-prefix: named after Y");
    }
}

/// `stash_type` says in which precision LayerNormalization computes its mean
/// and variance (default 1, float32). FP32LayerNorm computes them in float32
/// only, so a node asking for any other (11: float64) is refused with the
/// value in the reason, and left as it was; absent or 1, it is replaced.
#[test]
fn layernormalization_stash_type_other_than_float_is_refused() {
    use trt_layernorm::onnx::proto::{attribute_proto::AttributeType, AttributeProto};
    let base = load(&fixtures().join("synthetic_gpt2_block_op17.onnx"));
    let is_ln = |n: &NodeProto| n.op_type.as_deref() == Some("LayerNormalization");
    let lns: Vec<String> = base.graph.node.iter().filter(|n| is_ln(n)).map(|n| n.name.clone().unwrap()).collect();
    assert_eq!(lns.len(), 5);
    assert!(base.graph.node.iter().filter(|n| is_ln(n)).all(|n| n.attribute.iter().all(|a| a.name.as_deref() != Some("stash_type"))));
    // stash_type = `value` on the LayerNormalization nodes named in `on`.
    let with = |value: Option<i64>, on: &[String]| {
        let mut m = base.clone();
        for n in m.graph.mut_or_insert_default().node.iter_mut().filter(|n| is_ln(n) && on.contains(n.name.as_ref().unwrap())) {
            n.attribute.push(AttributeProto {
                name: Some("stash_type".into()),
                type_: Some(protobuf::EnumOrUnknown::new(AttributeType::INT)),
                i: value,
                ..Default::default()
            });
        }
        m
    };

    // Absent (the fixture) or 1: every one replaced.
    for m in [base.clone(), with(Some(1), &lns)] {
        let mut p = m.clone();
        let r = patch_model(&mut p, &PatchOptions::default()).unwrap();
        assert_eq!(r.replaced.len(), 5, "{:?}", r.rejected);
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        assert!(!p.graph.node.iter().any(is_ln));
    }

    // Anything else: refused, named with its value, the node left in the graph.
    for (value, ty) in [(11, "float64"), (10, "float16"), (16, "bfloat16"), (0, "type 0"), (-1, "type -1"), (1 << 40, "type 1099511627776")] {
        let orig = with(Some(value), &lns);
        let mut p = orig.clone();
        let r = patch_model(&mut p, &PatchOptions::default()).unwrap();
        assert!(r.replaced.is_empty(), "stash_type {value}: replaced {:?}", r.replaced.iter().map(|c| &c.1).collect::<Vec<_>>());
        assert_eq!(r.rejected.len(), 5, "stash_type {value}: {:?}", r.rejected);
        for (rej, name) in r.rejected.iter().zip(&lns) {
            assert_eq!(rej.label, "LayerNormalization");
            assert_eq!(&rej.anchor, name);
            let want = format!("stash_type = {value} ({ty}): FP32LayerNorm computes its statistics in float32 only");
            assert!(rej.reason.starts_with(&want), "stash_type {value}: {:?}", rej.reason);
        }
        assert_eq!(p.graph.node, orig.graph.node, "stash_type {value}: a refused node changed");
    }

    // An attribute without an integer value is refused too.
    let mut p = with(None, &lns);
    let r = patch_model(&mut p, &PatchOptions::default()).unwrap();
    assert!(r.replaced.is_empty());
    assert!(r.rejected.iter().all(|rej| rej.reason == "stash_type is not an integer attribute"), "{:?}", r.rejected);

    // Mixed: only the node asking for float64 stays; the rest are replaced as usual.
    let orig = with(Some(11), &lns[1..2]);
    let mut p = orig.clone();
    let r = patch_model(&mut p, &PatchOptions::default()).unwrap();
    assert_eq!(r.replaced.len(), 4);
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].anchor, lns[1]);
    assert!(r.rejected[0].reason.contains("stash_type = 11 (float64)"), "{}", r.rejected[0].reason);
    assert_only_matches_changed(&orig, &p, &r, "stash_type 11 on one node");
    assert_topological(&p, "stash_type 11 on one node");
    let kept: Vec<&NodeProto> = p.graph.node.iter().filter(|n| is_ln(n)).collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].name.as_ref(), Some(&lns[1]));
    assert_eq!(plugin_nodes(&p).len(), 4);
}
