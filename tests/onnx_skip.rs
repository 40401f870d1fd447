//! `trt-layernorm patch` fusing the residual `Add` before a LayerNorm into one
//! `FP32SkipLayerNorm` node (issue 12): the fixtures of
//! tests/onnx/make_skip_fixtures.py (pre-LN and post-LN BERT blocks, and the
//! Adds it must refuse: broadcasting, a Cast between Add and norm, sizes not
//! proven equal, mixed types), transformers' BERT and GPT-2 exported by the
//! TorchScript (opsets 13, 17) and dynamo exporters
//! (tests/onnx/export_fixtures.py), and the LayerNorm fixtures of
//! tests/onnx_patch.rs. Each fused node has the plugin's inputs and fields,
//! the counts follow from each model's structure, nothing else changes,
//! refusals carry their reason, and (where Python has numpy, onnx and
//! onnxruntime) the patched models compute what ONNX Runtime computes on the
//! originals, the plugin evaluated as an f64 reference (tests/onnx/ort_check.py).

mod onnx_support;
use onnx_support::{
    assert_only_matches_changed, assert_topological, drop_layernorm_scales, fixtures, ort_check, ort_check_against, plugin_nodes, plugin_nodes_of,
    python_with_ort, tmpdir,
};
use std::collections::HashSet;
use trt_layernorm::onnx::graph::GraphIndex;
use trt_layernorm::onnx::proto::{AttributeProto, ModelProto, NodeProto};
use trt_layernorm::onnx::{io, patch_file, patch_model, PatchOptions, PatchReport, PLUGIN_DOMAIN, PLUGIN_OP, RMS_PLUGIN_OP, SKIP_PLUGIN_OP};

/// A fixture and what `patch` must make of it: LayerNorms replaced, of them
/// fused with their residual Add, fused in the three-term form (with a
/// ResidualBias), fused keeping the sum (sum_output = 1), residual Adds not
/// fused, and new ones/zeros initializers.
struct Want {
    file: &'static str,
    norms: usize,
    fused: usize,
    three_term: usize,
    sum_output: usize,
    refused: usize,
    fills: usize,
}

const fn w(file: &'static str, norms: usize, fused: usize, three_term: usize, sum_output: usize, refused: usize, fills: usize) -> Want {
    Want { file, norms, fused, three_term, sum_output, refused, fills }
}

/// By structure: pre-LN blocks (GPT-2, ViT) fuse every LayerNorm but the
/// first of the block, and keep the sum wherever the next residual reads it
/// (all but the last); post-LN blocks (BERT) fuse the layer's two; a Linear
/// written as Add(MatMul, bias) before the residual is the three-term form
/// (transformers' GPT-2 Conv1D is a Gemm with its bias inside: two terms);
/// embeddings added to a [1, S, H] table broadcast (refused).
const FIXTURES: &[Want] = &[
    w("skip_preln_op17.onnx", 3, 2, 1, 2, 0, 0),
    w("skip_bert_op13.onnx", 4, 3, 3, 0, 0, 3),
    w("skip_broadcast_op17.onnx", 2, 0, 0, 0, 2, 0),
    w("skip_cast_between_op17.onnx", 2, 0, 0, 0, 2, 0),
    w("skip_dim_param_op17.onnx", 2, 1, 0, 0, 1, 0),
    w("skip_type_mismatch_op17.onnx", 1, 0, 0, 0, 1, 0),
    w("hf_bert_op13.onnx", 3, 2, 2, 0, 1, 0),
    w("hf_bert_op17.onnx", 3, 2, 2, 0, 1, 0),
    w("hf_bert_dynamo_op20.onnx", 3, 2, 2, 0, 1, 0),
    w("hf_gpt2_op13.onnx", 5, 4, 0, 3, 0, 0),
    w("hf_gpt2_op17.onnx", 5, 4, 0, 3, 0, 0),
    w("hf_gpt2_dynamo_op20.onnx", 5, 4, 0, 3, 0, 0),
    w("torch_bert_block_op13.onnx", 3, 2, 2, 0, 0, 0),
    w("torch_bert_block_op17.onnx", 3, 2, 2, 0, 0, 0),
    w("torch_gpt2_block_op13.onnx", 5, 4, 4, 3, 0, 0),
    w("torch_gpt2_block_op17.onnx", 5, 4, 4, 3, 0, 0),
    w("torch_gpt2_block_fp16_op13.onnx", 5, 4, 4, 3, 0, 0),
    w("torch_gpt2_block_fp16_op17.onnx", 5, 4, 4, 3, 0, 0),
    w("torch_vit_block_op13.onnx", 3, 2, 2, 1, 1, 0),
    w("torch_vit_block_op17.onnx", 3, 2, 2, 1, 1, 0),
    w("synthetic_bert_block_op13.onnx", 3, 2, 2, 0, 0, 0),
    w("synthetic_bert_block_op17.onnx", 3, 2, 2, 0, 0, 0),
    w("synthetic_gpt2_block_op13.onnx", 5, 4, 4, 3, 0, 0),
    w("synthetic_gpt2_block_op17.onnx", 5, 4, 4, 3, 0, 0),
    w("synthetic_gpt2_block_fp16_op13.onnx", 5, 4, 4, 3, 0, 0),
    w("synthetic_gpt2_block_fp16_op17.onnx", 5, 4, 4, 3, 0, 0),
    w("synthetic_vit_block_op13.onnx", 3, 2, 2, 1, 1, 0),
    w("synthetic_vit_block_op17.onnx", 3, 2, 2, 1, 1, 0),
];

fn load(name: &str) -> ModelProto {
    io::read_model(&fixtures().join(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name.as_deref() == Some(name))
}

fn ins(n: &NodeProto) -> Vec<&str> {
    n.input.iter().map(String::as_str).collect()
}

fn reasons(r: &PatchReport) -> Vec<(&str, &str)> {
    r.skip_refused.iter().map(|x| (x.add.as_str(), x.reason.as_str())).collect()
}

/// LayerNorms whose input is an `Add`'s output, directly or through a
/// `Cast`, by structure: the input of `LayerNormalization`, or the `x` of a
/// `ReduceMean(x)` read by `Sub(x, mean)`.
fn add_fed_layernorms(m: &ModelProto) -> usize {
    let g = m.graph.as_ref().unwrap();
    let ix = GraphIndex::new(g);
    let op = |t: &str| ix.producer_node(t).map(|p| ix.node(p));
    let is = |n: Option<&NodeProto>, o: &str| n.is_some_and(|n| n.op_type.as_deref() == Some(o));
    let ln_inputs = g.node.iter().filter_map(|n| match n.op_type.as_deref() {
        Some("LayerNormalization") => Some(n.input[0].as_str()),
        Some("ReduceMean") => ix.consumer_nodes(&n.output[0]).into_iter().any(|c| {
            let s = ix.node(c);
            s.op_type.as_deref() == Some("Sub") && s.input[0] == n.input[0] && s.input[1] == n.output[0]
        })
        .then_some(n.input[0].as_str()),
        _ => None,
    });
    ln_inputs
        .filter(|x| {
            let p = op(x);
            is(p, "Add") || (is(p, "Cast") && is(op(&p.unwrap().input[0]), "Add"))
        })
        .count()
}

#[test]
fn residual_adds_are_fused_where_exact_and_nothing_else_changes() {
    let dir = tmpdir("skip", "all");
    for want in FIXTURES {
        let f = want.file;
        let orig = load(f);
        assert_eq!(add_fed_layernorms(&orig), want.fused + want.refused, "{f}: LayerNorms after an Add");
        let summary = patch_file(&fixtures().join(f), &dir.join(f), &PatchOptions::default()).unwrap_or_else(|e| panic!("{f}: {e}"));
        println!("{summary}");
        let mut patched = orig.clone();
        let r = patch_model(&mut patched, &PatchOptions::default()).unwrap();
        assert_eq!(io::read_model(&dir.join(f)).unwrap(), patched, "{f}: file differs from the in-memory patch");

        assert_eq!(r.replaced.len(), want.norms, "{f}: replaced\n{summary}");
        assert!(r.rejected.is_empty(), "{f}: {:?}", r.rejected);
        let skips = plugin_nodes_of(&patched, SKIP_PLUGIN_OP);
        assert_eq!(skips.len(), want.fused, "{f}: FP32SkipLayerNorm nodes\n{summary}");
        assert_eq!(plugin_nodes_of(&patched, PLUGIN_OP).len(), want.norms - want.fused, "{f}: FP32LayerNorm nodes");
        assert_eq!(r.skip_refused.len(), want.refused, "{f}: {:?}", r.skip_refused);
        let fused: Vec<_> = r.replaced.iter().filter_map(|(c, _)| c.skip.as_deref()).collect();
        assert_eq!(fused.iter().filter(|s| s.residual_bias.is_some()).count(), want.three_term, "{f}: three-term");
        assert_eq!(fused.iter().filter(|s| s.sum.is_some()).count(), want.sum_output, "{f}: sum_output");
        assert_eq!(r.replaced.iter().map(|(c, _)| c.new_initializers().len()).sum::<usize>(), want.fills, "{f}: fills");
        // No plugin node has an empty input name (TensorRT's ONNX parser refuses one).
        for p in plugin_nodes(&patched) {
            assert!(p.input.iter().all(|i| !i.is_empty()), "{f}: {:?} {:?}", p.name, p.input);
        }
        // No Add is left feeding a plugin node's X where one was fused.
        let outputs: HashSet<&str> = patched.graph.output.iter().filter_map(|o| o.name.as_deref()).collect();
        for p in &skips {
            assert_eq!(p.domain.as_deref(), Some(PLUGIN_DOMAIN));
            assert!((2..=5).contains(&p.input.len()) && !p.input[0].is_empty() && !p.input[1].is_empty(), "{f}: {:?}", p.input);
            assert!(attr(p, "epsilon").and_then(|a| a.f).is_some_and(|e| e > 0.0));
            assert!(attr(p, "axis").and_then(|a| a.i).is_some_and(|a| a < 0));
            assert_eq!(attr(p, "plugin_version").and_then(|a| a.s.as_deref()), Some(&b"1"[..]));
            match attr(p, "sum_output") {
                Some(a) => {
                    assert_eq!((a.i, p.output.len()), (Some(1), 2), "{f}: {:?}", p.name);
                    // S keeps the Add's output name: read by other nodes or a graph output.
                    let s = p.output[1].as_str();
                    let read = patched.graph.node.iter().any(|n| n.input.iter().any(|i| i == s));
                    assert!(read || outputs.contains(s), "{f}: S '{s}' read by nothing");
                }
                None => assert_eq!(p.output.len(), 1, "{f}: {:?}", p.name),
            }
            // X and Skip of one type and shape, as the Add's inputs were.
            let ix = GraphIndex::new(orig.graph.as_ref().unwrap());
            assert_eq!(ix.elem_type(&p.input[0]), ix.elem_type(&p.input[1]), "{f}: {:?}", p.name);
            assert!(ix.same_shape(&p.input[0], &p.input[1]).is_ok(), "{f}: {:?}", p.name);
        }
        assert_only_matches_changed(&orig, &patched, &r, f);
        assert_topological(&patched, f);
        let vi: HashSet<&str> = patched.graph.value_info.iter().filter_map(|v| v.name.as_deref()).collect();
        for v in &orig.graph.value_info {
            // Kept: what a kept node produces, and what no node produces (initializers).
            let name = v.name.as_deref().unwrap();
            let produced = |m: &ModelProto| m.graph.node.iter().any(|n| n.output.iter().any(|o| o == name));
            assert_eq!(vi.contains(name), produced(&patched) || !produced(&orig), "{f}: value_info of '{name}'");
        }
        let mut twice = patched.clone();
        let r2 = patch_model(&mut twice, &PatchOptions::default()).unwrap();
        assert!(r2.replaced.is_empty() && r2.skip_refused.is_empty(), "{f}: second patch did more");
    }
}

#[test]
fn no_fuse_skip_gives_the_plain_layernorms_and_names_each_add() {
    let opts = PatchOptions { fuse_skip: false, ..Default::default() };
    for want in FIXTURES {
        let f = want.file;
        let mut m = load(f);
        let r = patch_model(&mut m, &opts).unwrap();
        assert_eq!(plugin_nodes_of(&m, PLUGIN_OP).len(), want.norms, "{f}");
        assert!(plugin_nodes_of(&m, SKIP_PLUGIN_OP).is_empty(), "{f}");
        assert!(r.replaced.iter().all(|(c, _)| c.skip.is_none() && !c.name.ends_with(SKIP_PLUGIN_OP)), "{f}");
        // Each Add that would have been fused is named with the option; the
        // Casts between an Add and its norm are still reported as such.
        let off = r.skip_refused.iter().filter(|x| x.reason == "--no-fuse-skip").count();
        let cast = r.skip_refused.iter().filter(|x| x.reason.starts_with("a Cast to")).count();
        assert_eq!(off + cast, want.fused + want.refused, "{f}: {:?}", r.skip_refused);
        assert!(off >= want.fused, "{f}");
    }
    let dir = tmpdir("skip", "off");
    let s = patch_file(&fixtures().join("skip_preln_op17.onnx"), &dir.join("p.onnx"), &opts).unwrap();
    assert!(s.contains("replaced 3 LayerNorm(s) with FP32LayerNorm (domain"), "{s}");
    assert!(s.contains("residual Adds not fused: 2\n  - /h.0/Add -> /h.0/ln_2/LayerNormalization: --no-fuse-skip\n"), "{s}");
}

#[test]
fn pre_ln_block_keeps_the_sum() {
    let orig = load("skip_preln_op17.onnx");
    let mut m = orig.clone();
    let r = patch_model(&mut m, &PatchOptions { plugin_version: "2".into(), ..Default::default() }).unwrap();
    let p = plugin_nodes(&m);
    let ops: Vec<&str> = p.iter().map(|n| n.op_type.as_deref().unwrap()).collect();
    assert_eq!(ops, [PLUGIN_OP, SKIP_PLUGIN_OP, SKIP_PLUGIN_OP]);
    // ln_2: Add(input, Add(MatMul, bias)) -> X = the MatMul, Skip = input, ResidualBias = bias; S = the sum.
    assert_eq!(ins(p[1]), ["/h.0/attn/output/MatMul_output_0", "input", "h.0.ln_2.weight", "h.0.ln_2.bias", "h.0.attn.output.bias"]);
    assert_eq!(p[1].output, ["/h.0/ln_2/LayerNormalization_output_0", "/h.0/Add_output_0"]);
    // ln_f: Add(r1, MatMul) (no bias) -> X = r1, Skip = the MatMul; S = the graph output `residual`.
    assert_eq!(ins(p[2]), ["/h.0/Add_output_0", "/h.0/mlp/c_proj/MatMul_output_0", "ln_f.weight", "ln_f.bias"]);
    assert_eq!(p[2].output, ["output", "residual"]);
    for n in &p[1..] {
        assert_eq!(attr(n, "sum_output").and_then(|a| a.i), Some(1));
        assert_eq!(attr(n, "plugin_version").and_then(|a| a.s.as_deref()), Some(&b"2"[..]));
    }
    // The Relu reading r1 comes before ln_2's nodes: the node goes where the Add was.
    let at = |name: &str| m.graph.node.iter().position(|n| n.name.as_deref() == Some(name)).unwrap();
    assert!(at("/h.0/ln_2/LayerNormalization") < at("/h.0/side/Relu"), "placed before the sum's first reader");
    assert_eq!(r.replaced[1].0.skip.as_ref().unwrap().sum_readers, 2);
    let names: Vec<&str> = r.replaced.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["/h.0/ln_1/LayerNormalization", "/h.0/ln_2/LayerNormalization", "/ln_f/LayerNormalization"]);
    assert_topological(&m, "preln");
}

#[test]
fn post_ln_bert_three_terms_and_fills() {
    let mut m = load("skip_bert_op13.onnx");
    let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
    let p = plugin_nodes(&m);
    let names: Vec<&str> = p.iter().map(|n| n.name.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        [
            "/embeddings/LayerNorm/FP32LayerNorm",
            "/encoder/layer.0/attention/output/LayerNorm/FP32SkipLayerNorm",
            "/encoder/layer.0/output/LayerNorm/FP32SkipLayerNorm",
            "/head/LayerNorm/FP32SkipLayerNorm"
        ]
    );
    let e = "/embeddings/LayerNorm/Add_1_output_0";
    assert_eq!(
        ins(p[1]),
        [
            "/encoder/layer.0/attention/output/MatMul_output_0",
            e,
            "encoder.layer.0.attention.output.LayerNorm.weight",
            "encoder.layer.0.attention.output.LayerNorm.bias",
            "encoder.layer.0.attention.output.bias"
        ]
    );
    // No affine: a scale of ones and a bias of -0 put the ResidualBias fifth.
    let ones = "/encoder/layer.0/output/LayerNorm/FP32SkipLayerNorm/scale_ones";
    let zeros = "/encoder/layer.0/output/LayerNorm/FP32SkipLayerNorm/bias_zeros";
    assert_eq!(ins(p[2])[2..], [ones, zeros, "encoder.layer.0.output.dense.bias"]);
    // Scale only: a bias of -0. The residual is the Add's first input here.
    assert_eq!(ins(p[3])[1..], ["/encoder/layer.0/output/LayerNorm/Div_output_0", "head.LayerNorm.weight", "/head/LayerNorm/FP32SkipLayerNorm/bias_zeros", "head.dense.bias"]);
    for (name, bits) in [(ones, 1.0f32.to_bits()), (zeros, (-0.0f32).to_bits()), ("/head/LayerNorm/FP32SkipLayerNorm/bias_zeros", (-0.0f32).to_bits())] {
        let t = m.graph.initializer.iter().find(|t| t.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!((t.data_type, t.dims.clone()), (Some(1), vec![32]), "{name}");
        let v: Vec<u32> = t.raw_data.as_ref().unwrap().chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
        assert!(v.len() == 32 && v.iter().all(|&b| b == bits), "{name}: {v:?}");
    }
    assert!(p.iter().all(|n| attr(n, "sum_output").is_none() && n.output.len() == 1));
    // The dense Adds and the residual Adds are gone; their MatMuls stay.
    for gone in ["/encoder/layer.0/attention/output/Add", "/encoder/layer.0/attention/output/Add_1", "/head/Add", "/head/dense/Add"] {
        assert!(!m.graph.node.iter().any(|n| n.name.as_deref() == Some(gone)), "{gone}");
    }
    assert!(m.graph.node.iter().any(|n| n.name.as_deref() == Some("/head/dense/MatMul")));
    assert!(r.replaced.iter().all(|(c, _)| c.skip.as_ref().is_none_or(|s| s.bias_add.is_some())));
}

/// A LayerNorm with a Bias and no Scale (transformers' GPT-2 with its scales
/// dropped), fused or not: the plugins' inputs are positional, and TensorRT's
/// ONNX parser hands `addPluginV3` a null tensor for an empty input name, which
/// it refuses ("Parameter check failed, condition: (input) != nullptr", seen
/// with TensorRT-RTX 1.7). So the Scale input is a new initializer of ones, of
/// the Bias's shape, and the patched model computes what the original does.
#[test]
fn bias_without_scale_gets_a_scale_of_ones_not_an_empty_input() {
    let mut orig = load("hf_gpt2_op13.onnx");
    assert_eq!(drop_layernorm_scales(&mut orig), 5);
    let init = |m: &ModelProto, name: &str| m.graph.initializer.iter().find(|t| t.name.as_deref() == Some(name)).cloned();
    for (fuse_skip, fused) in [(true, 4), (false, 0)] {
        let mut m = orig.clone();
        let r = patch_model(&mut m, &PatchOptions { fuse_skip, ..Default::default() }).unwrap();
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        assert_eq!((r.replaced.len(), plugin_nodes_of(&m, SKIP_PLUGIN_OP).len()), (5, fused), "fuse_skip {fuse_skip}");
        assert!(r.replaced.iter().all(|(c, _)| c.scale.is_none() && c.bias.is_some()));
        for p in plugin_nodes(&m) {
            let name = p.name.as_deref().unwrap();
            // X[, Skip], Scale, Bias: no ResidualBias in this export (its Conv1D bias is inside a Gemm).
            let at = if p.op_type.as_deref() == Some(SKIP_PLUGIN_OP) { 2 } else { 1 };
            assert_eq!(p.input.len(), at + 2, "{name}: {:?}", p.input);
            assert_eq!(p.input[at], format!("{name}/scale_ones"), "{name}: {:?}", p.input);
            assert!(p.input[at + 1].ends_with(".bias") && p.input.iter().all(|i| !i.is_empty()), "{name}: {:?}", p.input);
            let ones = init(&m, &p.input[at]).unwrap_or_else(|| panic!("no initializer {}", p.input[at]));
            let bias = init(&orig, &p.input[at + 1]).unwrap();
            assert_eq!((ones.data_type, &ones.dims), (Some(1), &bias.dims), "{name}");
            let raw = ones.raw_data.as_deref().unwrap();
            assert!(raw.len() == 4 * bias.dims.iter().product::<i64>() as usize && raw.chunks_exact(4).all(|c| c == 1.0f32.to_le_bytes()), "{name}");
        }
        assert_eq!(r.replaced.iter().map(|(c, _)| c.new_initializers().len()).sum::<usize>(), 5);
        assert_only_matches_changed(&orig, &m, &r, "scaleless");
        assert_topological(&m, "scaleless");
    }
    let dir = tmpdir("skip", "scaleless");
    let (odir, pdir) = (dir.join("orig"), dir.join("patched"));
    std::fs::create_dir_all(&odir).unwrap();
    std::fs::create_dir_all(&pdir).unwrap();
    io::write_model_atomic(&orig, &odir.join("gpt2_scaleless.onnx")).unwrap();
    let s = patch_file(&odir.join("gpt2_scaleless.onnx"), &pdir.join("gpt2_scaleless.onnx"), &PatchOptions::default()).unwrap();
    assert!(s.contains("epsilon=1e-5 bias, X='inputs_embeds'"), "{s}");
    assert!(s.contains("note: bias without scale: new initializer '/h.0/ln_1/FP32LayerNorm/scale_ones' of ones as the Scale input"), "{s}");
    assert!(s.contains("; new initializer '/ln_f/FP32SkipLayerNorm/scale_ones'"), "{s}");
    if let Some(py) = python_with_ort() {
        ort_check_against(&py, &odir, &pdir);
    }
}

#[test]
fn refusals_carry_their_reason() {
    let refused = |f: &str| {
        let mut m = load(f);
        let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
        reasons(&r).into_iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>()
    };
    assert_eq!(
        refused("skip_broadcast_op17.onnx"),
        [
            (
                "/embeddings/Add".into(),
                "broadcasting Add: 'input' [2, 8, 32] + 'embeddings.position_embeddings' [1, 8, 32]; the plugin's X and Skip have one shape".into()
            ),
            ("/dense/Add".into(), "broadcasting Add: '/dense/MatMul_output_0' [2, 8, 32] + 'dense.bias' [32]; the plugin's X and Skip have one shape".into()),
        ]
    );
    let cast = refused("skip_cast_between_op17.onnx");
    assert_eq!(cast.len(), 2);
    assert!(cast[0].1.starts_with("a Cast to float32 ('/a/Cast') lies between the Add and the LayerNorm"), "{cast:?}");
    assert!(cast[1].1.starts_with("a Cast to float16 ('/b/Cast') lies between the Add and the LayerNorm"), "{cast:?}");
    assert_eq!(
        refused("skip_dim_param_op17.onnx"),
        [(
            "/res_2/Add".into(),
            "shapes not proven equal: '/ln_1/LayerNormalization_output_0' [?, 8, 32] + 'z' [?, 8, 32] (dim 0 is not known to be equal)".into()
        )]
    );
    assert_eq!(
        refused("skip_type_mismatch_op17.onnx"),
        [("/res/Add".into(), "'x' is float32, 'y' float16 and the sum float32: the plugin adds tensors of X's type only".into())]
    );
    // Sizes the model does not state: refused with the tensor named.
    let mut m = load("skip_dim_param_op17.onnx");
    let g = m.graph.as_mut().unwrap();
    g.value_info.clear();
    match g.input[1].type_.as_mut().and_then(|t| t.value.as_mut()) {
        Some(trt_layernorm::onnx::proto::type_proto::Value::TensorType(t)) => t.shape = Default::default(),
        _ => panic!("input y has a tensor type"),
    }
    let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
    assert_eq!(reasons(&r)[0], ("/res_1/Add", "shapes not proven equal: the shape of 'y' is unknown"), "{:?}", r.skip_refused);
}

#[test]
fn one_dim_param_is_one_size() {
    let mut m = load("skip_dim_param_op17.onnx");
    patch_model(&mut m, &PatchOptions::default()).unwrap();
    let p = plugin_nodes_of(&m, SKIP_PLUGIN_OP);
    assert_eq!(p.len(), 1);
    assert_eq!(ins(p[0])[..2], ["x", "y"]);
}

#[test]
fn rmsnorms_are_not_fused_nor_reported() {
    for f in ["rms_llama_op13.onnx", "rms_llama_fp16_op17.onnx", "rms_qwen2_dynamo_op20.onnx", "rms_t5_op17.onnx", "rms_gemma_op13.onnx"] {
        let mut m = load(f);
        let r = patch_model(&mut m, &PatchOptions::default()).unwrap();
        assert_eq!(plugin_nodes_of(&m, RMS_PLUGIN_OP).len(), 3, "{f}");
        assert!(plugin_nodes_of(&m, SKIP_PLUGIN_OP).is_empty(), "{f}");
        assert!(r.skip_refused.is_empty(), "{f}: {:?}", r.skip_refused);
    }
}

#[test]
fn summary_and_only() {
    let dir = tmpdir("skip", "summary");
    let s = patch_file(&fixtures().join("skip_preln_op17.onnx"), &dir.join("p.onnx"), &PatchOptions::default()).unwrap();
    println!("{s}");
    assert!(s.contains("replaced 1 LayerNorm(s) with FP32LayerNorm, 2 LayerNorm(s) with FP32SkipLayerNorm (domain trt.plugins"), "{s}");
    assert!(s.contains(
        "  + /ln_f/LayerNormalization: 2 nodes -> 1, axis=-1 epsilon=1e-5 scale+bias, X='/h.0/Add_output_0' Skip='/h.0/mlp/c_proj/MatMul_output_0' Y='output' S='residual'\n      note: fused the residual Add '/h.0/Add_1'; sum_output=1: S keeps the sum as a graph output\n"
    ), "{s}");
    assert!(s.contains("note: fused the residual Add '/h.0/Add' and the bias Add '/h.0/attn/output/Add' before it; sum_output=1: S keeps the sum for 2 other reader(s)"), "{s}");
    assert!(!s.contains("residual Adds not fused"), "{s}");
    let s = patch_file(&fixtures().join("skip_broadcast_op17.onnx"), &dir.join("b.onnx"), &PatchOptions::default()).unwrap();
    assert!(s.contains("not replaced: 0\nresidual Adds not fused: 2\n  - /embeddings/Add -> /embeddings/LayerNorm/LayerNormalization: broadcasting Add"), "{s}");

    // --only takes the fused node's name (either op type's) and fuses it alone.
    for name in ["/head/LayerNorm/FP32SkipLayerNorm", "/head/LayerNorm/FP32LayerNorm", "/head/Add"] {
        let mut m = load("skip_bert_op13.onnx");
        let r = patch_model(&mut m, &PatchOptions { only: vec![name.into()], ..Default::default() }).unwrap();
        let names: Vec<&str> = r.replaced.iter().map(|(_, n)| n.as_str()).collect();
        if name == "/head/Add" {
            // The Add is no node of the norm's match: it names nothing.
            assert!(names.is_empty() && r.rejected.iter().any(|x| x.anchor == name), "{name}: {names:?}");
        } else {
            assert_eq!(names, ["/head/LayerNorm/FP32SkipLayerNorm"], "{name}");
        }
    }
}

#[test]
fn patched_models_compute_what_the_originals_do() {
    let Some(py) = python_with_ort() else { return };
    let dir = tmpdir("skip", "ort");
    let mut outputs = 0;
    // Not the Add of float32 and float16: ONNX Runtime refuses that model.
    for want in FIXTURES.iter().filter(|w| !w.file.contains("type_mismatch")) {
        patch_file(&fixtures().join(want.file), &dir.join(want.file), &PatchOptions::default()).unwrap();
        outputs += load(want.file).graph.output.len();
    }
    let text = ort_check(&py, &dir);
    assert_eq!(text.matches("ok ").count(), outputs, "{text}");
    assert!(text.contains("FP32SkipLayerNorm)"), "{text}");
}

/// The shapes that prove the Adds' operands equal come through the shape
/// tensors the TorchScript exporter computes: ViT's `cls.expand(B, -1, -1)`
/// is `Expand(cls, Where(Equal([2, -1, -1], -1 * ConstantOfShape([3], 1)), ...))`,
/// BERT's token types `Expand(GatherElements(...), Where(...))`.
#[test]
fn computed_shape_tensors_are_evaluated() {
    let m = load("torch_vit_block_op17.onnx");
    let ix = GraphIndex::new(m.graph.as_ref().unwrap());
    assert_eq!(ix.shape("/Expand_output_0"), Some(vec![Some(2), Some(1), Some(32)]));
    assert_eq!(ix.shape("/Concat_output_0"), Some(vec![Some(2), Some(5), Some(32)]));
    let m = load("hf_bert_op17.onnx");
    let ix = GraphIndex::new(m.graph.as_ref().unwrap());
    assert_eq!(ix.shape("/m/embeddings/GatherElements_output_0"), Some(vec![Some(1), Some(8)]));
    assert_eq!(ix.shape("/m/embeddings/Expand_1_output_0"), Some(vec![Some(2), Some(8)]));
    assert_eq!(ix.shape("/m/embeddings/Add_output_0"), Some(vec![Some(2), Some(8), Some(32)]));
}
