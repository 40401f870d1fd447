//! `trt-layernorm patch` on the LayerNorm forms of issue 12, item 6
//! (fixtures from tests/onnx/make_more_forms_fixtures.py):
//! the TorchScript `rsqrt` form, a folded (zero) epsilon, replaced with
//! epsilon 0 (NaN on constant rows, as the graph), ranks known only through
//! shape inference, and ONNX's own LayerNormalization function body as
//! `onnx.inliner` writes it (refused with a float64 stash type, as the
//! native node is).
//! Each test checks the count replaced, the epsilon and axis read, and that
//! nothing else in the graph changed; an ONNX Runtime check runs where
//! Python has numpy, onnx and onnxruntime (`PYTHON=...`; scripts/with-cuda.sh sets it).

mod onnx_support;
use onnx_support::{assert_only_matches_changed, assert_topological, fixtures, plugin_nodes, ort_check, python_with_ort, tmpdir};
use std::collections::HashMap;
use trt_layernorm::onnx::graph::GraphIndex;
use trt_layernorm::onnx::matchers::{EPS_FOLDED_NOTE, EPS_ZERO_NOTE, VARIANCE_NOTE};
use trt_layernorm::onnx::proto::{ModelProto, NodeProto, ValueInfoProto};
use trt_layernorm::onnx::{io, patch_file, patch_model, PatchOptions, PatchReport, PLUGIN_OP};

fn load(name: &str) -> ModelProto {
    io::read_model(&fixtures().join(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn eps_axis(n: &NodeProto) -> (f32, i64) {
    let a = |k: &str| n.attribute.iter().find(|a| a.name.as_deref() == Some(k)).unwrap_or_else(|| panic!("no {k}"));
    (a("epsilon").f.unwrap(), a("axis").i.unwrap())
}

/// Patches `name`; checks that the plugin nodes have `want` (epsilon, axis,
/// inputs) in graph order, and that nothing else changed: the other nodes
/// are the original ones in their order, a node disappeared only if it was
/// in a match or was a Constant only a match used, and inputs, outputs,
/// initializers and metadata are untouched; every node input is produced.
fn patch_and_check(name: &str, want: &[(f32, i64, &[&str])]) -> (ModelProto, ModelProto, PatchReport) {
    let orig = load(name);
    let mut patched = orig.clone();
    let report = patch_model(&mut patched, &PatchOptions::default()).unwrap();
    assert_eq!(report.replaced.len(), want.len(), "{name}: replaced");
    let plugins = plugin_nodes(&patched);
    assert_eq!(plugins.len(), want.len(), "{name}: plugin nodes");
    for (p, (eps, axis, inputs)) in plugins.iter().zip(want) {
        assert_eq!(eps_axis(p), (*eps, *axis), "{name}: {:?}", p.name);
        assert_eq!(p.input.iter().map(String::as_str).collect::<Vec<_>>(), *inputs, "{name}: {:?}", p.name);
    }
    assert_only_matches_changed(&orig, &patched, &report, name);
    assert_topological(&patched, name);
    // Patching again finds nothing more.
    let mut twice = patched.clone();
    assert!(patch_model(&mut twice, &PatchOptions::default()).unwrap().replaced.is_empty(), "{name}");
    (orig, patched, report)
}

fn reasons(r: &PatchReport) -> HashMap<&str, &str> {
    r.rejected.iter().map(|x| (x.anchor.as_str(), x.reason.as_str())).collect()
}

#[test]
fn torchscript_rsqrt_is_replaced() {
    let (_, _, r) = patch_and_check(
        "synthetic_torch_rsqrt_op13.onnx",
        &[(1e-5, -1, &["input", "ln_a.weight", "ln_a.bias"]), (1e-6, -1, &["/act/Tanh_output_0"])],
    );
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    for (c, _) in &r.replaced {
        assert_eq!(c.label, "decomposed (Pow, Div(1, ·)+Mul)");
        assert!(!c.variance_changed);
    }
    // Div(1, Sqrt) and the Mul, with the two statistics, Pow, Add(eps), Sqrt, affine.
    assert_eq!(r.replaced[0].0.nodes.len(), 10);
    assert_eq!(r.replaced[1].0.nodes.len(), 8);
}

#[test]
fn folded_epsilon_is_replaced_with_epsilon_zero() {
    let (_, patched, r) = patch_and_check(
        "synthetic_eps_folded_op13.onnx",
        &[
            (0.0, -1, &["input", "folded.weight", "folded.bias"]),
            (0.0, -1, &["/act/Relu_output_0", "zero.weight", "zero.bias"]),
            (1e-5, -1, &["/act/Tanh_output_0", "ok.weight", "ok.bias"]),
        ],
    );
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    let notes: Vec<&[String]> = r.replaced.iter().map(|(c, _)| c.notes.as_slice()).collect();
    assert_eq!(notes, [&[EPS_FOLDED_NOTE.to_string()][..], &[EPS_ZERO_NOTE.to_string()][..], &[][..]]);
    // Epsilon +0, not -0, whatever the graph wrote.
    for p in plugin_nodes(&patched).iter().take(2) {
        assert_eq!(eps_axis(p).0.to_bits(), 0, "{:?}", p.name);
    }
    assert!(!patched.graph.node.iter().any(|x| x.op_type.as_deref() == Some("Sqrt")), "no LayerNorm left");
}

#[test]
fn epsilon_zero_gives_nan_on_constant_rows_as_the_graph() {
    // Two LayerNorms and an RMSNorm with epsilon 0 on rows of zeros (the ONNX
    // Runtime check below sees NaN on both sides there).
    let orig = load("synthetic_eps0_rows_op13.onnx");
    let mut m = orig.clone();
    let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    let got: Vec<(&str, f32, &str)> = plugin_nodes(&m).iter().map(|p| (p.op_type.as_deref().unwrap(), eps_axis(p).0, p.output[0].as_str())).collect();
    assert_eq!(got, [(PLUGIN_OP, 0.0, "out_ln_folded"), (PLUGIN_OP, 0.0, "out_ln_zero"), ("FP32RMSNorm", 0.0, "out_rms_folded")]);
    assert_only_matches_changed(&orig, &m, &r, "eps0_rows");
}

#[test]
fn native_layernorm_with_epsilon_zero_is_replaced() {
    let mut m = load("synthetic_bert_block_op17.onnx");
    let g = m.graph.as_mut().unwrap();
    let ln = g.node.iter_mut().find(|n| n.op_type.as_deref() == Some("LayerNormalization")).unwrap();
    let y = ln.output[0].clone();
    ln.attribute.iter_mut().find(|a| a.name.as_deref() == Some("epsilon")).unwrap().f = Some(0.0);
    let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
    assert_eq!(r.replaced.len(), 3);
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    let p = plugin_nodes(&m).into_iter().find(|p| p.output[0] == y).unwrap();
    assert_eq!(eps_axis(p), (0.0, -1));
    // Negative or not finite: still refused, by the plugin's field range.
    for eps in [-1e-5, f32::NAN, f32::INFINITY] {
        let mut m = load("synthetic_bert_block_op17.onnx");
        let g = m.graph.as_mut().unwrap();
        let ln = g.node.iter_mut().find(|n| n.op_type.as_deref() == Some("LayerNormalization")).unwrap();
        let name = ln.name.clone().unwrap();
        ln.attribute.iter_mut().find(|a| a.name.as_deref() == Some("epsilon")).unwrap().f = Some(eps);
        let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
        assert_eq!(r.replaced.len(), 2, "{eps}");
        let why = reasons(&r);
        assert!(why[name.as_str()].contains("FP32LayerNorm would refuse it (plugin field `epsilon` = ") && why[name.as_str()].contains("must be finite and >= 0") && why[name.as_str()].contains("not replaced"), "{why:?}");
    }
}

/// ONNX's function body of a LayerNormalization with `stash_type = 11`
/// (Cast of Flatten(X) to float64) is refused as the native node is, with
/// the same reason; the other (stash type 1) LayerNorm of the model is replaced.
#[test]
fn function_body_with_a_float64_stash_is_refused_as_the_native_node() {
    let (_, patched, r) = patch_and_check("onnx_ln_function_stash64_op17.onnx", &[(1e-6, -2, &["act_out", "ln_2.weight"])]);
    assert_eq!(r.rejected.len(), 1, "{:?}", r.rejected);
    assert_eq!(r.rejected[0].reason, "stash_type = 11 (float64): FP32LayerNorm computes its statistics in float32 only (stash_type 1)");
    assert!(r.rejected[0].label.starts_with("LayerNormalization function body"), "{}", r.rejected[0].label);
    // The native node with that stash_type: the same words.
    let mut m = load("synthetic_bert_block_op17.onnx");
    for n in m.graph.as_mut().unwrap().node.iter_mut().filter(|n| n.op_type.as_deref() == Some("LayerNormalization")) {
        n.attribute.push(trt_layernorm::onnx::proto::AttributeProto {
            name: Some("stash_type".into()),
            type_: Some(protobuf::EnumOrUnknown::new(trt_layernorm::onnx::proto::attribute_proto::AttributeType::INT)),
            i: Some(11),
            ..Default::default()
        });
    }
    let native = patch_model(&mut m, &PatchOptions::default()).unwrap();
    assert!(native.rejected.iter().all(|x| x.reason == r.rejected[0].reason), "{:?}", native.rejected);
    // The refused body is all there: its Cast to float64 among it.
    assert!(patched.graph.node.iter().any(|n| n.op_type.as_deref() == Some("Cast") && n.output[0] == "XU__1"));
}

#[test]
fn ranks_are_inferred_through_the_graph() {
    let m = load("synthetic_rank_inferred_op13.onnx");
    assert!(m.graph.value_info.is_empty(), "the fixture declares no intermediate shapes");
    let ix = GraphIndex::new(m.graph.as_ref().unwrap());
    // MatMul, Add, Reshape([0, 0, 2, 16]), Transpose([0, 2, 1, 3]) of a [batch, 4, 16] input.
    assert_eq!(ix.shape("/proj/MatMul_output_0"), Some(vec![None, Some(4), Some(32)]));
    assert_eq!(ix.shape("/split/Reshape_output_0"), Some(vec![None, Some(4), Some(2), Some(16)]));
    assert_eq!(ix.shape("/split/Transpose_output_0"), Some(vec![None, Some(2), Some(4), Some(16)]));
    assert_eq!(ix.shape("/merge/Reshape_output_0"), Some(vec![None, Some(4), Some(32)]));
    let (_, _, r) = patch_and_check(
        "synthetic_rank_inferred_op13.onnx",
        &[
            (1e-5, -1, &["/split/Transpose_output_0", "ln_pos.weight", "ln_pos.bias"]),
            (1e-5, -2, &["/act/Relu_output_0", "ln_two.weight", "ln_two.bias"]),
            (1e-5, -1, &["/merge/Reshape_output_0", "ln_out.weight", "ln_out.bias"]),
        ],
    );
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);

    // Without the input's declared shape, the Reshape to a constant shape still gives rank 4 ...
    let mut m = load("synthetic_rank_inferred_op13.onnx");
    let g = m.graph.as_mut().unwrap();
    g.input[0] = ValueInfoProto { name: g.input[0].name.clone(), ..Default::default() };
    let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
    assert_eq!(r.replaced.len(), 3, "{:?}", r.rejected);

    // ... but where nothing fixes the rank, a positive axis is still refused, with the reason.
    let mut m = load("synthetic_variants_op18.onnx");
    let g = m.graph.as_mut().unwrap();
    g.value_info.clear();
    g.input[0] = ValueInfoProto { name: g.input[0].name.clone(), ..Default::default() };
    let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
    assert_eq!(r.replaced.len(), 4);
    let why = reasons(&r);
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(why["/v/ln_positive_axis/ReduceMean"].contains("rank of X is unknown"), "{why:?}");
}

#[test]
fn shape_inference_survives_hostile_graphs() {
    use trt_layernorm::onnx::proto::{GraphProto, TensorProto};
    let node = |op: &str, ins: &[&str], out: &str| NodeProto {
        op_type: Some(op.into()),
        input: ins.iter().map(|s| s.to_string()).collect(),
        output: vec![out.into()],
        ..Default::default()
    };
    let shape = TensorProto {
        name: Some("shape".into()),
        data_type: Some(7),
        dims: vec![3],
        int64_data: vec![i64::MAX, -1, i64::MAX],
        ..Default::default()
    };
    // A cycle (a -> b -> a), a Reshape to huge sizes, a Flatten of it, a
    // Transpose with no known input.
    let g = GraphProto {
        node: vec![
            node("Add", &["b", "c"], "a"),
            node("Relu", &["a"], "b"),
            node("Reshape", &["a", "shape"], "r"),
            node("Flatten", &["r"], "f"),
            node("Transpose", &["zz"], "t"),
            node("ReduceMean", &["f"], "m"),
            node("Sub", &["f", "m"], "d"),
        ],
        initializer: vec![shape],
        ..Default::default()
    };
    let ix = GraphIndex::new(&g);
    assert_eq!(ix.shape("f").map(|s| s.len()), Some(2));
    assert_eq!(ix.shape("t"), None);
    let mut m = ModelProto { graph: Some(g).into(), ..Default::default() };
    let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
    assert!(r.replaced.is_empty());
}

#[test]
fn onnx_function_body_is_replaced() {
    for f in ["onnx_ln_function_op17.onnx", "onnx_ln_function_fp16_op18.onnx"] {
        let (orig, patched, r) = patch_and_check(
            f,
            &[(1e-5, -1, &["input", "ln_1.weight", "ln_1.bias"]), (1e-6, -2, &["act_out", "ln_2.weight"])],
        );
        assert!(r.rejected.is_empty(), "{f}: {:?}", r.rejected);
        assert!(!orig.graph.node.iter().any(|n| n.op_type.as_deref() == Some("LayerNormalization")));
        // Only the Relu between them is left; the unused Mean/InvStdDev nodes went with them.
        let ops: Vec<&str> = patched.graph.node.iter().map(|n| n.op_type.as_deref().unwrap()).collect();
        assert_eq!(ops, [PLUGIN_OP, "Relu", PLUGIN_OP], "{f}");
        for (c, _) in &r.replaced {
            assert!(c.variance_changed, "{f}");
            assert!(c.label.starts_with("LayerNormalization function body (E[x^2]-E[x]^2, Div, Cast"), "{}", c.label);
        }
        let dir = tmpdir("forms", "fb");
        let s = patch_file(&fixtures().join(f), &dir.join(f), &PatchOptions::default()).unwrap();
        println!("{s}");
        assert_eq!(s.lines().filter(|l| l.starts_with("  + ") && l.ends_with(VARIANCE_NOTE)).count(), 2, "{s}");
    }
}

#[test]
fn function_body_with_a_used_statistic_is_refused() {
    // The InvStdDev branch (Reciprocal of StdDev) made a graph output: the plugin has no such output.
    let mut m = load("onnx_ln_function_op17.onnx");
    let g = m.graph.as_mut().unwrap();
    let rc = g.node.iter().find(|n| n.op_type.as_deref() == Some("Reciprocal")).unwrap().output[0].clone();
    g.output.push(ValueInfoProto { name: Some(rc.clone()), ..Default::default() });
    let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
    assert_eq!(r.replaced.len(), 1);
    assert_eq!(r.rejected.len(), 1);
    assert!(r.rejected[0].reason.contains("is also used by"), "{:?}", r.rejected);
}

#[test]
fn patched_forms_compute_what_the_originals_do() {
    let Some(py) = python_with_ort() else { return };
    let dir = tmpdir("forms", "ort");
    let files = [
        "synthetic_torch_rsqrt_op13.onnx",
        "synthetic_eps_folded_op13.onnx",
        "synthetic_eps0_rows_op13.onnx",
        "synthetic_rank_inferred_op13.onnx",
        "onnx_ln_function_op17.onnx",
        "onnx_ln_function_fp16_op18.onnx",
        "onnx_ln_function_stash64_op17.onnx",
    ];
    for f in files {
        patch_file(&fixtures().join(f), &dir.join(f), &PatchOptions::default()).unwrap();
    }
    let text = ort_check(&py, &dir);
    // One line per output: eps0_rows has three, each with NaN rows on both sides.
    assert_eq!(text.matches("ok ").count(), files.len() + 2, "{text}");
    assert_eq!(text.matches("NaN on both sides").count(), 3, "{text}");
}
