//! `trt-layernorm patch` on RMSNorms (issue 12, "More norms"): the fixtures
//! of tests/onnx/export_rmsnorm_fixtures.py (transformers LLaMA, Qwen2, T5
//! and Gemma blocks and torch.nn.RMSNorm, exported by the TorchScript and the
//! dynamo exporters; ONNX RMSNormalization; hand-written forms and
//! look-alikes). Each RMSNorm becomes one `FP32RMSNorm` node with the
//! contract's inputs and attributes, nothing else changes, refusals carry
//! their reason, and (where Python has numpy, onnx and onnxruntime:
//! `PYTHON=...`) the patched models compute what ONNX Runtime computes on
//! the originals, the plugin nodes evaluated as an f64 RMSNorm.

mod onnx_support;
use onnx_support::{assert_only_matches_changed, assert_topological, fixtures, plugin_nodes, plugin_nodes_of, ort_check, python_with_ort, tmpdir};
use std::collections::HashMap;
use trt_layernorm::onnx::graph::GraphIndex;
use trt_layernorm::onnx::matchers::{EPS_FOLDED_NOTE, EPS_ZERO_NOTE};
use trt_layernorm::onnx::proto::{attribute_proto::AttributeType, AttributeProto, ModelProto, NodeProto};
use trt_layernorm::onnx::{io, patch_file, patch_model, NormKind, PatchOptions, PatchReport, PLUGIN_DOMAIN, PLUGIN_OP, RMS_PLUGIN_OP};

/// Every RMSNorm fixture: RMSNorms replaced and refused. The transformers
/// blocks are one decoder layer (input and post-attention norms) plus the
/// final norm; T5's encoder layer has a norm before attention and before
/// the feed-forward, plus the final one; torch_nn has two nn.RMSNorm.
const FIXTURES: &[(&str, usize, usize)] = &[
    ("rms_llama_op13.onnx", 3, 0),
    ("rms_llama_op17.onnx", 3, 0),
    ("rms_llama_dynamo_op20.onnx", 3, 0),
    ("rms_llama_fp16_op13.onnx", 3, 0),
    ("rms_llama_fp16_op17.onnx", 3, 0),
    ("rms_llama_fp16_dynamo_op20.onnx", 3, 0),
    ("rms_qwen2_op13.onnx", 3, 0),
    ("rms_qwen2_op17.onnx", 3, 0),
    ("rms_qwen2_dynamo_op20.onnx", 3, 0),
    ("rms_t5_op13.onnx", 3, 0),
    ("rms_t5_op17.onnx", 3, 0),
    ("rms_t5_dynamo_op20.onnx", 3, 0),
    ("rms_gemma_op13.onnx", 3, 0),
    ("rms_gemma_op17.onnx", 3, 0),
    ("rms_gemma_dynamo_op20.onnx", 3, 0),
    ("rms_torch_nn_dynamo_op20.onnx", 2, 0),
    ("rms_torch_nn_dynamo_op23.onnx", 2, 0),
    ("rms_native_op23.onnx", 3, 2),
    // Epsilon 0 (folded away, Add(ms, 0)) is replaced since the plugins take it.
    ("rms_forms_op18.onnx", 5, 1),
];

fn load(name: &str) -> ModelProto {
    io::read_model(&fixtures().join(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name.as_deref() == Some(name))
}

fn eps_axis(n: &NodeProto) -> (f32, i64) {
    (attr(n, "epsilon").and_then(|a| a.f).expect("epsilon"), attr(n, "axis").and_then(|a| a.i).expect("axis"))
}

fn reasons(r: &PatchReport) -> HashMap<&str, &str> {
    r.rejected.iter().map(|x| (x.anchor.as_str(), x.reason.as_str())).collect()
}

/// RMSNorms by the model's structure: RMSNormalization nodes, and
/// ReduceMeans of a square (`Pow(t, 2)`, `Mul(t, t)`) of a `t` that is not
/// centred (`t - ReduceMean(t)`, a LayerNorm's).
fn structural_count(m: &ModelProto) -> usize {
    let g = m.graph.as_ref().unwrap();
    let ix = GraphIndex::new(g);
    let op = |t: &str| ix.producer_node(t).map(|p| ix.node(p));
    let is_square = |n: &NodeProto| match n.op_type.as_deref() {
        Some("Pow") => true,
        Some("Mul") => n.input.len() == 2 && n.input[0] == n.input[1],
        _ => false,
    };
    let centred = |t: &str| op(t).is_some_and(|s| s.op_type.as_deref() == Some("Sub") && op(&s.input[1]).is_some_and(|m| m.op_type.as_deref() == Some("ReduceMean")));
    let mean_of_square = g.node.iter().filter(|n| {
        n.op_type.as_deref() == Some("ReduceMean")
            && op(&n.input[0]).is_some_and(|sq| is_square(sq) && !centred(&sq.input[0]))
            && ix.consumer_nodes(&n.output[0]).iter().any(|&c| matches!(ix.node(c).op_type.as_deref(), Some("Add" | "Sqrt" | "Pow")))
    });
    mean_of_square.count() + g.node.iter().filter(|n| n.op_type.as_deref() == Some("RMSNormalization")).count()
}

#[test]
fn every_rmsnorm_is_replaced_and_nothing_else() {
    let dir = tmpdir("rms", "all");
    for &(f, want, refused) in FIXTURES {
        let orig = load(f);
        assert_eq!(structural_count(&orig), want + refused, "{f}: RMSNorms in the model");
        let summary = patch_file(&fixtures().join(f), &dir.join(f), &PatchOptions::default()).unwrap_or_else(|e| panic!("{f}: {e}"));
        println!("{summary}");
        let mut patched = orig.clone();
        let report = patch_model(&mut patched, &PatchOptions::default()).unwrap();
        assert_eq!(io::read_model(&dir.join(f)).unwrap(), patched, "{f}: file differs from the in-memory patch");

        assert_eq!(plugin_nodes_of(&patched, RMS_PLUGIN_OP).len(), want, "{f}: FP32RMSNorm nodes\n{summary}");
        assert!(plugin_nodes_of(&patched, PLUGIN_OP).is_empty(), "{f}: no LayerNorm in these models");
        assert_eq!(report.replaced.len(), want, "{f}");
        assert!(report.replaced.iter().all(|(c, _)| c.kind == NormKind::RmsNorm && c.bias.is_none()), "{f}");
        assert_eq!(report.rejected.len(), refused, "{f}: {:?}", report.rejected);
        assert!(report.rejected.iter().all(|r| r.kind == Some(NormKind::RmsNorm) && !r.reason.is_empty()), "{f}");
        if refused == 0 {
            let left: Vec<&str> = patched.graph.node.iter().filter_map(|n| n.op_type.as_deref()).filter(|op| ["ReduceMean", "RMSNormalization", "Sqrt"].contains(op)).collect();
            assert!(left.is_empty(), "{f}: {left:?} left");
        }
        for p in plugin_nodes(&patched) {
            assert_eq!(p.domain.as_deref(), Some(PLUGIN_DOMAIN));
            assert_eq!(attr(p, "plugin_version").and_then(|a| a.s.as_deref()), Some(&b"1"[..]));
            assert_eq!(attr(p, "plugin_namespace").and_then(|a| a.s.as_deref()), Some(&b""[..]));
            assert_eq!(attr(p, "epsilon").and_then(|a| a.type_.map(|t| t.enum_value())), Some(Ok(AttributeType::FLOAT)));
            assert_eq!(attr(p, "axis").and_then(|a| a.type_.map(|t| t.enum_value())), Some(Ok(AttributeType::INT)));
            let (eps, axis) = eps_axis(p);
            assert!((eps > 0.0 || (f.contains("forms") && eps.to_bits() == 0)) && axis < 0, "{f}: {:?}", p.name);
            assert!((1..=2).contains(&p.input.len()) && p.input.iter().all(|i| !i.is_empty()), "{f}: X[, Scale]: {:?}", p.input);
            assert_eq!(p.output.len(), 1);
            if let Some(t) = attr(p, "output_type") {
                assert_eq!(t.i, Some(1), "{f}");
            }
        }
        assert_only_matches_changed(&orig, &patched, &report, f);
        assert_topological(&patched, f);
        let mut twice = patched.clone();
        assert!(patch_model(&mut twice, &PatchOptions::default()).unwrap().replaced.is_empty(), "{f}: second patch replaced more");
    }
}

/// A plugin node as (X, Scale, epsilon, axis, output_type).
type NodeSummary = (String, Option<String>, f32, i64, Option<i64>);

/// The patched `name`, its report, and each FP32RMSNorm node, in graph order.
fn nodes_of(name: &str) -> (ModelProto, PatchReport, Vec<NodeSummary>) {
    let mut m = load(name);
    let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
    let v = plugin_nodes_of(&m, RMS_PLUGIN_OP)
        .into_iter()
        .map(|p| {
            let (e, a) = eps_axis(p);
            (p.input[0].clone(), p.input.get(1).cloned(), e, a, attr(p, "output_type").and_then(|t| t.i))
        })
        .collect();
    (m, r, v)
}

fn s(v: &str) -> String {
    v.to_string()
}

#[test]
fn llama_qwen2_nodes_read_the_block_tensors() {
    for f in ["rms_llama_op13.onnx", "rms_llama_op17.onnx", "rms_qwen2_op13.onnx", "rms_llama_fp16_op13.onnx", "rms_llama_fp16_op17.onnx"] {
        let (_, r, v) = nodes_of(f);
        // FP16: the Casts to float and back are absorbed, X is the block's
        // FP16 tensor (the plugin writes FP16, no output_type). FP32: the
        // exporter's Cast(x, FLOAT) of the layer's input is also the residual
        // the layer adds back, so it stays and X is its output.
        let x = |norm: &str, fp16_x: &str| if f.contains("fp16") { s(fp16_x) } else { format!("/layer/{norm}/Cast_output_0") };
        let want = vec![
            (x("input_layernorm", "hidden_states"), Some(s("layer.input_layernorm.weight")), 1e-6, -1, None),
            (x("post_attention_layernorm", "/layer/Add_output_0"), Some(s("layer.post_attention_layernorm.weight")), 1e-6, -1, None),
            (s("/layer/Add_1_output_0"), Some(s("norm.weight")), 1e-6, -1, None),
        ];
        assert_eq!(v, want, "{f}");
        let names: Vec<&str> = r.replaced.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, ["/layer/input_layernorm/FP32RMSNorm", "/layer/post_attention_layernorm/FP32RMSNorm", "/norm/FP32RMSNorm"], "{f}");
        assert!(r.replaced.iter().all(|(c, _)| c.label == "decomposed (Pow, Div(1, ·)+Mul, Cast)"), "{f}");
    }
    // The dynamo exporter: Sqrt, Reciprocal, Mul; in FP16 with the Casts.
    let (_, r, v) = nodes_of("rms_llama_fp16_dynamo_op20.onnx");
    assert!(v.iter().all(|n| n.1.is_some() && n.4.is_none()), "{v:?}");
    assert_eq!(v[0].0, "hidden_states");
    assert!(r.replaced.iter().all(|(c, _)| c.label == "decomposed (Pow, Reciprocal+Mul, Cast)"));
}

#[test]
fn t5_multiplies_the_tensor_it_squared() {
    let (_, r, v) = nodes_of("rms_t5_op17.onnx");
    // T5's first two norms read a Cast of their input that the residual Add
    // also reads: X is that cast tensor, kept; the final one absorbs its Cast.
    assert_eq!(v.len(), 3);
    assert!(v[0].0.ends_with("layer.0/layer_norm/Cast_output_0"), "{v:?}");
    assert_eq!(v[2].0, "/m/encoder/block.0/layer.1/Add_output_0");
    assert!(v.iter().all(|n| n.1.as_deref().is_some_and(|w| w.ends_with("layer_norm.weight")) && n.2 == 1e-6), "{v:?}");
    assert!(r.rejected.is_empty());
}

#[test]
fn gemma_one_plus_weight_is_folded_when_constant() {
    let orig = load("rms_gemma_op13.onnx");
    let (m, r, v) = nodes_of("rms_gemma_op13.onnx");
    let folded: Vec<_> = r.replaced.iter().filter_map(|(c, _)| c.scale_fold.clone()).collect();
    assert_eq!(folded.len(), 3);
    for ((_, scale, ..), f) in v.iter().zip(&folded) {
        assert_eq!(scale.as_deref(), Some(f.name.as_str()));
        // The new initializer holds 1 + w, w read from the original model.
        let t = m.graph.initializer.iter().find(|t| t.name.as_deref() == Some(f.name.as_str())).expect("folded scale stored");
        let got: Vec<f32> = t.raw_data.as_ref().unwrap().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        let add = orig.graph.node.iter().find(|n| n.output.first() == Some(&f.name)).unwrap();
        let ix = GraphIndex::new(orig.graph.as_ref().unwrap());
        let w = add.input.iter().find_map(|i| {
            let c = ix.constant(i).or_else(|| ix.producer_node(i).and_then(|p| ix.constant(&ix.node(p).input[0])))?;
            (c.values.len() > 1).then_some(c.values)
        });
        let want: Vec<f32> = w.expect("the weight").iter().map(|&x| 1.0 + x as f32).collect();
        assert_eq!(got, want, "{}", f.name);
    }
    // The weights the Adds read are gone with them.
    assert!(!m.graph.initializer.iter().any(|t| t.name.as_deref() == Some("layer.input_layernorm.weight")));

    // A weight that is a graph input is no constant: the Add stays and is the Scale.
    let (m, r, v) = nodes_of("rms_forms_op18.onnx");
    let gemma = v.last().unwrap();
    assert_eq!(gemma.1.as_deref(), Some("/gemma_fp16/Add_1_output_0"));
    assert!(m.graph.node.iter().any(|n| n.name.as_deref() == Some("/gemma_fp16/Add_1")), "the Add stays");
    assert!(r.replaced.iter().all(|(c, _)| c.scale_fold.is_none()));
}

#[test]
fn hand_written_forms_and_look_alikes() {
    let (_, r, v) = nodes_of("rms_forms_op18.onnx");
    let want = vec![
        (s("input"), Some(s("pow_half.weight")), 1e-6, -1, None),
        (s("/pow_half/Mul_2_output_0"), Some(s("div_2d.weight")), 1e-5, -2, None),
        // Epsilon 0: folded away (Sqrt(mean(x^2)) with no Add), and Add(ms, 0).
        (s("/div_2d/Mul_output_0"), None, 0.0, -1, None),
        (s("/folded/Div_output_0"), None, 0.0, -1, None),
        // float16 X (the Cast to float absorbed), no Cast back: FP32 output.
        (s("/to16/Cast_output_0"), Some(s("/gemma_fp16/Add_1_output_0")), 1e-6, -1, Some(1)),
    ];
    assert_eq!(v, want);
    let labels: Vec<&str> = r.replaced.iter().map(|(c, _)| c.label.as_str()).collect();
    assert_eq!(
        labels,
        ["decomposed (Mul, Pow(-0.5)+Mul)", "decomposed (Pow, Div)", "decomposed (Pow, Div)", "decomposed (Pow, Div)", "decomposed (Pow, Reciprocal+Mul, Cast, 1 + w)"]
    );
    let notes: Vec<&[String]> = r.replaced[2..4].iter().map(|(c, _)| c.notes.as_slice()).collect();
    assert_eq!(notes, [&[EPS_FOLDED_NOTE.to_string()][..], &[EPS_ZERO_NOTE.to_string()][..]]);
    let why = reasons(&r);
    assert_eq!(why.len(), 1, "{why:?}");
    assert_eq!(why["/not_trailing/ReduceMean"], "reduction over axes [1] is not over the trailing axes");
}

#[test]
fn rmsnormalization_nodes() {
    let (_, r, v) = nodes_of("rms_native_op23.onnx");
    let want = vec![
        (s("x"), Some(s("n1.weight")), 1e-5, -1, None),
        (s("r1"), Some(s("n2.weight")), 1e-6, -2, None),
        (s("h16"), Some(s("n3.weight")), 1e-6, -1, None),
    ];
    assert_eq!(v, want);
    let names: Vec<&str> = r.replaced.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["/n1/RMSNormalization", "/n2/RMSNormalization", "/n3/RMSNormalization"]);
    let why = reasons(&r);
    assert_eq!(why["/n4/RMSNormalization"], "stash_type = 11 (float64): FP32RMSNorm computes its statistics in float32 only (stash_type 1)");
    assert_eq!(why["/n5/RMSNormalization"], "scale 'n5.weight' has shape [8, 32], not the 1 normalized dim(s)");

    // torch's own RMSNormalization without weight: a ConstantOfShape of ones is no scale.
    let (m, r, v) = nodes_of("rms_torch_nn_dynamo_op23.onnx");
    assert_eq!(v[0].1.as_deref(), Some("norm_in.weight"));
    assert_eq!((v[1].1.clone(), v[1].2), (None, f32::EPSILON));
    assert!(!m.graph.node.iter().any(|n| n.op_type.as_deref() == Some("ConstantOfShape")), "its ones go with it");
    assert!(r.replaced[1].0.notes.iter().any(|n| n.contains("all ones")));
}

#[test]
fn rmsnormalization_the_plugin_would_refuse_is_reported() {
    let base = load("rms_native_op23.onnx");
    let set = |m: &mut ModelProto, name: &str, a: AttributeProto| {
        for n in m.graph.mut_or_insert_default().node.iter_mut().filter(|n| n.op_type.as_deref() == Some("RMSNormalization")) {
            n.attribute.retain(|x| x.name.as_deref() != Some(name));
            n.attribute.push(AttributeProto { name: Some(name.into()), ..a.clone() });
        }
    };
    let int = |v: i64| AttributeProto { type_: Some(protobuf::EnumOrUnknown::new(AttributeType::INT)), i: Some(v), ..Default::default() };
    let float = |v: f32| AttributeProto { type_: Some(protobuf::EnumOrUnknown::new(AttributeType::FLOAT)), f: Some(v), ..Default::default() };
    for (what, a) in [("axis", int(i64::MIN)), ("axis", int(1 << 40)), ("axis", int(-9)), ("epsilon", float(f32::NAN)), ("epsilon", float(-1e-5))] {
        let mut m = base.clone();
        set(&mut m, what, a.clone());
        let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
        assert!(r.replaced.is_empty(), "{what} {a:?}: replaced {:?}", r.replaced.iter().map(|x| &x.1).collect::<Vec<_>>());
        assert!(r.rejected.iter().any(|x| x.reason.contains("FP32RMSNorm would refuse it") || x.reason.contains("normalized dim")), "{what}: {:?}", r.rejected);
    }
    // Epsilon 0 is in the plugin's field range: replaced, with epsilon 0.
    let mut m = base.clone();
    set(&mut m, "epsilon", float(0.0));
    let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
    assert_eq!(r.replaced.len(), 3, "{:?}", r.rejected);
    assert!(plugin_nodes_of(&m, RMS_PLUGIN_OP).iter().all(|p| eps_axis(p).0 == 0.0));
    // A float32 scale on a float16 X: ONNX gives Y two types; refused.
    let mut m = base.clone();
    let g = m.graph.mut_or_insert_default();
    let n3 = g.initializer.iter_mut().find(|t| t.name.as_deref() == Some("n3.weight")).unwrap();
    let vals: Vec<u8> = n3.raw_data.clone().unwrap().chunks_exact(2).flat_map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32().to_le_bytes()).collect();
    n3.data_type = Some(1);
    n3.raw_data = Some(vals);
    g.value_info.clear();
    let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
    assert!(reasons(&r)["/n3/RMSNormalization"].starts_with("X is float16 and its scale float32"), "{:?}", r.rejected);
}

#[test]
fn options_apply_to_rmsnorm_nodes() {
    let mut m = load("rms_llama_fp16_op13.onnx");
    let opts = PatchOptions { plugin_version: "2".into(), plugin_namespace: "ns".into(), output_fp32: true, only: vec!["/norm/FP32RMSNorm".into()], ..Default::default() };
    let r = patch_model(&mut m, &opts).unwrap();
    assert_eq!(r.replaced.len(), 1);
    assert_eq!(r.rejected.iter().filter(|x| x.reason == "not selected by --only").count(), 2);
    let p = plugin_nodes(&m);
    assert_eq!(p.len(), 1);
    assert_eq!(attr(p[0], "plugin_version").and_then(|a| a.s.as_deref()), Some(&b"2"[..]));
    assert_eq!(attr(p[0], "plugin_namespace").and_then(|a| a.s.as_deref()), Some(&b"ns"[..]));
    assert_eq!(attr(p[0], "output_type").and_then(|a| a.i), Some(1));
    assert_eq!(r.stats.retyped_outputs, ["output"]);
}

#[test]
fn summary_names_the_norm_kind() {
    let dir = tmpdir("rms", "summary");
    let s = patch_file(&fixtures().join("rms_forms_op18.onnx"), &dir.join("forms.onnx"), &PatchOptions::default()).unwrap();
    println!("{s}");
    assert!(s.contains("replaced 5 RMSNorm(s) with FP32RMSNorm (domain trt.plugins"), "{s}");
    assert!(s.contains("     3  RMSNorm    decomposed (Pow, Div)\n"), "{s}");
    assert!(s.contains("  + /div_2d/FP32RMSNorm: RMSNorm, 6 nodes -> 1, axis=-2 epsilon=1e-5 scale, X="), "{s}");
    assert!(s.contains("  + /zero/FP32RMSNorm: RMSNorm, 5 nodes -> 1, axis=-1 epsilon=0e0 no affine, X="), "{s}");
    assert!(s.contains("  - /not_trailing/ReduceMean [RMSNorm decomposed (Pow)]: reduction over axes [1]"), "{s}");
    // A model with both kinds counts each.
    let s = patch_file(&fixtures().join("synthetic_negatives_op13.onnx"), &dir.join("neg.onnx"), &PatchOptions::default()).unwrap();
    println!("{s}");
    assert!(s.contains("replaced 1 LayerNorm(s) with FP32LayerNorm, 1 RMSNorm(s) with FP32RMSNorm (domain"), "{s}");
    assert!(s.contains("     1  LayerNorm  decomposed (Pow, Div)\n     1  RMSNorm    decomposed (Pow, Div)\n"), "{s}");
}

#[test]
fn patched_rmsnorm_models_compute_what_the_originals_do() {
    let Some(py) = python_with_ort() else { return };
    let dir = tmpdir("rms", "ort");
    for &(f, ..) in FIXTURES {
        patch_file(&fixtures().join(f), &dir.join(f), &PatchOptions::default()).unwrap();
    }
    let text = ort_check(&py, &dir);
    assert_eq!(text.matches("ok ").count(), FIXTURES.len(), "{text}");
    assert_eq!(text.matches("FP32RMSNorm):").count(), FIXTURES.len(), "{text}");
}
