//! The ONNX side of the fuzz crate: what the `onnx` and `onnx_graph` targets
//! check, the graph edits `onnx_graph` applies, and the slimmed fixtures both
//! start from.
//!
//! `onnx_graph` input: one byte choosing a base model (one of [`BASES`]),
//! then 4-byte edits `op, a, b, c` ([`edit`]) applied in order to its main
//! graph: rewired inputs (cycles, forward references, dangling names), removed
//! or duplicated nodes and initializers, shuffled node order, hostile dims and
//! attributes (huge, negative, i64::MIN), changed op types and element types,
//! nested subgraphs. A trailing partial edit is dropped.

use protobuf::Message;
use std::sync::OnceLock;
use trt_layernorm::onnx::proto::{
    attribute_proto::AttributeType, tensor_shape_proto::dimension, type_proto, AttributeProto, GraphProto, ModelProto,
    NodeProto, TensorProto,
};
use trt_layernorm::onnx::{io, patch_model, summary, PatchOptions};

/// The fixtures the structured target starts from (`tests/fixtures/onnx/`):
/// every LayerNorm form `patch` knows (native, decomposed with Pow/Mul, Div and
/// Reciprocal, Casts, tf.nn.moments) and the negatives it refuses.
pub const BASES: &[(&str, &[u8])] = &[
    ("synthetic_negatives_op13", include_bytes!("../../tests/fixtures/onnx/synthetic_negatives_op13.onnx")),
    ("synthetic_tf_moments_op13", include_bytes!("../../tests/fixtures/onnx/synthetic_tf_moments_op13.onnx")),
    ("synthetic_variants_op18", include_bytes!("../../tests/fixtures/onnx/synthetic_variants_op18.onnx")),
    ("torch_vit_block_op13", include_bytes!("../../tests/fixtures/onnx/torch_vit_block_op13.onnx")),
    ("torch_vit_block_op17", include_bytes!("../../tests/fixtures/onnx/torch_vit_block_op17.onnx")),
    ("torch_gpt2_block_fp16_op13", include_bytes!("../../tests/fixtures/onnx/torch_gpt2_block_fp16_op13.onnx")),
];

/// Initializers larger than this lose their data in [`slim`] (matrix weights:
/// no matcher reads them; LayerNorm scales, biases and epsilons are smaller).
const SLIM_BYTES: usize = 2048;

/// A fixture with its large weights emptied (dims kept), so seeds are a few KB
/// and each run parses little.
pub fn slim(bytes: &[u8]) -> ModelProto {
    let mut m = io::parse_model(bytes).expect("fixture parses");
    for t in &mut m.graph.mut_or_insert_default().initializer {
        if t.raw_data.as_ref().is_some_and(|r| r.len() > SLIM_BYTES) || t.float_data.len() * 4 > SLIM_BYTES {
            t.raw_data = Some(vec![]);
            t.float_data.clear();
        }
    }
    m
}

fn bases() -> &'static [ModelProto] {
    static B: OnceLock<Vec<ModelProto>> = OnceLock::new();
    B.get_or_init(|| BASES.iter().map(|(_, b)| slim(b)).collect())
}

/// The `onnx` target: bytes as a model file's contents.
pub fn check_bytes(data: &[u8]) {
    match io::parse_model(data) {
        Ok(m) => check_model(&m),
        Err(e) => assert!(!e.contains('\n'), "parse error is not one line: {e}"),
    }
}

/// The `onnx_graph` target: a base model edited by the input.
pub fn check_edits(data: &[u8]) {
    let Some((&which, script)) = data.split_first() else { return };
    let b = bases();
    let mut m = b[which as usize % b.len()].clone();
    if let Some(g) = m.graph.as_mut() {
        for e in script.chunks_exact(4) {
            edit(g, e[0], e[1], e[2], e[3]);
        }
    }
    // The edited model as a file, what the CLI reads (the edits keep the
    // graph, opset_import and ir_version `parse_model` asks for).
    let bytes = m.write_to_bytes().expect("an in-memory model serializes");
    let read = io::parse_model(&bytes).expect("an edited fixture reads back");
    check_model(&read);
}

/// Patches `m` (dry run, default, plugin v2 with FP32 output, and without
/// residual-Add fusion): never a panic; errors are one line; a patched model
/// serializes, reads back, and patches again.
pub fn check_model(m: &ModelProto) {
    let options = [
        PatchOptions { dry_run: true, ..Default::default() },
        PatchOptions::default(),
        PatchOptions { plugin_version: "2".into(), output_fp32: true, ..Default::default() },
        PatchOptions { fuse_skip: false, ..Default::default() },
    ];
    for (k, opts) in options.iter().enumerate() {
        let mut p = m.clone();
        let report = match patch_model(&mut p, opts) {
            Ok(r) => r,
            Err(e) => {
                let msg = e.to_string();
                assert!(!msg.contains('\n'), "patch error is not one line: {msg}");
                continue;
            }
        };
        let attrs = trt_layernorm::onnx::rewrite::PluginAttrs {
            plugin_version: opts.plugin_version.clone(),
            plugin_namespace: opts.plugin_namespace.clone(),
            output_fp32: opts.output_fp32,
        };
        let text = summary::render(&summary::SummaryInput {
            input: "fuzz.onnx",
            output: (!opts.dry_run).then_some("out.onnx"),
            replaced: &report.replaced,
            rejected: &report.rejected,
            skip_refused: &report.skip_refused,
            stats: &report.stats,
            attrs: &attrs,
        });
        assert!(!text.is_empty());
        if opts.dry_run {
            // Bytes, not `==`: a NaN attribute is unequal to itself.
            assert!(p.write_to_bytes().ok() == m.write_to_bytes().ok(), "a dry run changed the model");
            continue;
        }
        let g = p.graph.as_ref().expect("patched model has its graph");
        // Each replaced norm is one plugin node of its op type, under the
        // name the report gives, producing its output (and a fused node's S).
        // (Not a count of plugin nodes: dead nodes a match absorbs, an
        // existing plugin node among them, may go.)
        for (c, name) in &report.replaced {
            let op = c.plugin_op();
            let found = g.node.iter().filter(|n| n.op_type.as_deref() == Some(op) && n.name.as_deref() == Some(name.as_str()));
            let outs: Vec<_> = found.map(|n| n.output.clone()).collect();
            let mut want = vec![c.y.clone()];
            want.extend(c.skip.as_ref().and_then(|s| s.sum.clone()));
            assert!(outs == [want], "replaced '{name}' ({}, output '{}'): plugin nodes so named output {outs:?}", c.label, c.y);
        }
        let bytes = p.write_to_bytes().expect("a patched model serializes");
        if k == 1 {
            // Read back only where the original was a model file `parse_model` accepts.
            let readable = m.write_to_bytes().ok().is_some_and(|b| io::parse_model(&b).is_ok());
            if readable {
                let mut again = io::parse_model(&bytes).expect("a patched model reads back");
                let _ = patch_model(&mut again, opts);
            }
        }
    }
}

/// Hostile dimension values.
const DIMS: &[i64] = &[i64::MAX, i64::MIN, -1, 0, 1, 3, 768, 1 << 31, 1 << 62, -(1 << 40)];
/// Hostile axis values.
const AXES: &[i64] = &[i64::MIN, i64::MAX, -1, -2, -3, 0, 1, 2, 64, -64, i64::MIN + 1, 1 << 40];
const EPS: &[f32] = &[0.0, 1e-5, -1e-5, f32::NAN, f32::INFINITY, f32::MIN_POSITIVE, 1e30];
/// Op types the matchers and shape inference look at.
const OPS: &[&str] = &[
    "ReduceMean", "Sub", "Pow", "Mul", "Add", "Sqrt", "Div", "Reciprocal", "Cast", "LayerNormalization", "Neg",
    "Constant", "Reshape", "Transpose", "Flatten", "Unsqueeze", "Squeeze", "Concat", "Shape", "Gather", "Expand",
    "Slice", "Split", "MatMul", "Gemm", "Identity", "If", "FP32LayerNorm", "RMSNormalization", "FP32RMSNorm",
    "ConstantOfShape", "FP32SkipLayerNorm", "Equal", "Where", "GatherElements",
];
/// Element types (valid, unsupported, invalid).
const TYPES: &[i32] = &[1, 10, 16, 11, 7, 6, 0, -1, 99, i32::MAX];

fn pick<T: Copy>(v: &[T], b: u8) -> T {
    v[b as usize % v.len()]
}

/// Every tensor name the graph mentions, in a stable order.
fn names(g: &GraphProto) -> Vec<String> {
    let mut v: Vec<String> = vec![];
    for n in &g.node {
        v.extend(n.input.iter().chain(n.output.iter()).cloned());
    }
    v.extend(g.initializer.iter().filter_map(|t| t.name.clone()));
    v.extend(g.input.iter().chain(g.output.iter()).filter_map(|t| t.name.clone()));
    v
}

fn name_for(g: &GraphProto, c: u8) -> String {
    let v = names(g);
    if c >= 0xF0 || v.is_empty() {
        return if c & 1 == 0 { format!("dangling_{c}") } else { String::new() };
    }
    v[c as usize % v.len()].clone()
}

fn set_attr_i(n: &mut NodeProto, name: &str, v: i64) {
    n.attribute.retain(|a| a.name.as_deref() != Some(name));
    n.attribute.push(AttributeProto {
        name: Some(name.into()),
        type_: Some(protobuf::EnumOrUnknown::new(AttributeType::INT)),
        i: Some(v),
        ..Default::default()
    });
}

/// Sets a dim of a declared shape (input, output or value_info).
/// Points input `b` (modulo the inputs) of `n` at `name`; a node without inputs gets it as its first.
fn set_input(n: &mut NodeProto, b: u8, name: String) {
    if n.input.is_empty() {
        n.input.push(name);
    } else {
        let j = b as usize % n.input.len();
        n.input[j] = name;
    }
}

fn set_declared_dim(g: &mut GraphProto, a: u8, b: u8, v: i64) {
    let total = g.input.len() + g.output.len() + g.value_info.len();
    if total == 0 {
        return;
    }
    let k = a as usize % total;
    let vi = if k < g.input.len() {
        &mut g.input[k]
    } else if k < g.input.len() + g.output.len() {
        &mut g.output[k - g.input.len()]
    } else {
        &mut g.value_info[k - g.input.len() - g.output.len()]
    };
    if let Some(type_proto::Value::TensorType(t)) = vi.type_.as_mut().and_then(|t| t.value.as_mut()) {
        let shape = t.shape.mut_or_insert_default();
        if shape.dim.is_empty() || b & 0x80 != 0 {
            shape.dim.push(Default::default());
        }
        let j = b as usize % shape.dim.len();
        shape.dim[j].value = Some(dimension::Value::DimValue(v));
    }
}

/// One edit of the graph (see the module docs).
pub fn edit(g: &mut GraphProto, op: u8, a: u8, b: u8, c: u8) {
    let nn = g.node.len();
    let node = |a: u8| (nn > 0).then(|| a as usize % nn);
    match op % 18 {
        // Rewire an input to any name (cycles, forward references, dangling names, empty).
        0 => {
            let name = name_for(g, c);
            if let Some(i) = node(a) {
                set_input(&mut g.node[i], b, name);
            }
        }
        // A cycle through a later node: node a reads node c's output, c >= a.
        1 => {
            if let (Some(i), Some(j)) = (node(a), node(c)) {
                let (lo, hi) = (i.min(j), i.max(j));
                if let Some(o) = g.node[hi].output.first().cloned() {
                    set_input(&mut g.node[lo], b, o);
                }
            }
        }
        // Self-loop: a node reads its own output.
        2 => {
            if let Some(i) = node(a) {
                if let Some(o) = g.node[i].output.first().cloned() {
                    set_input(&mut g.node[i], b, o);
                }
            }
        }
        // Missing initializer.
        3 => {
            if !g.initializer.is_empty() {
                let k = a as usize % g.initializer.len();
                g.initializer.remove(k);
            }
        }
        // Huge / negative dims: declared shapes, or an initializer's dims.
        4 => set_declared_dim(g, a, b, pick(DIMS, c)),
        5 => {
            if !g.initializer.is_empty() {
                let k = a as usize % g.initializer.len();
                let t = &mut g.initializer[k];
                if t.dims.is_empty() || b & 0x80 != 0 {
                    t.dims.push(1);
                }
                let j = b as usize % t.dims.len();
                t.dims[j] = pick(DIMS, c);
            }
        }
        // Hostile attributes.
        6 => {
            if let Some(i) = node(a) {
                let n = &mut g.node[i];
                match b % 6 {
                    0 => set_attr_i(n, "axis", pick(AXES, c)),
                    1 => set_attr_i(n, "keepdims", pick(AXES, c)),
                    2 => set_attr_i(n, "to", i64::from(pick(TYPES, c))),
                    3 => set_attr_i(n, "noop_with_empty_axes", i64::from(c & 1)),
                    4 => {
                        n.attribute.retain(|x| x.name.as_deref() != Some("axes"));
                        let axes = [pick(AXES, c), pick(AXES, c.wrapping_mul(7))];
                        let len = 1 + (c as usize >> 6).min(axes.len() - 1);
                        n.attribute.push(AttributeProto {
                            name: Some("axes".into()),
                            type_: Some(protobuf::EnumOrUnknown::new(AttributeType::INTS)),
                            ints: axes[..len].to_vec(),
                            ..Default::default()
                        });
                    }
                    _ => {
                        n.attribute.retain(|x| x.name.as_deref() != Some("epsilon"));
                        n.attribute.push(AttributeProto {
                            name: Some("epsilon".into()),
                            type_: Some(protobuf::EnumOrUnknown::new(AttributeType::FLOAT)),
                            f: Some(pick(EPS, c)),
                            ..Default::default()
                        });
                    }
                }
            }
        }
        // Remove a node (dangling consumers).
        7 => {
            if let Some(i) = node(a) {
                g.node.remove(i);
            }
        }
        // Duplicate a node (two producers of one name).
        8 => {
            if let Some(i) = node(a) {
                let n = g.node[i].clone();
                let at = b as usize % (nn + 1);
                g.node.insert(at, n);
            }
        }
        // Swap two nodes (a graph that is not sorted).
        9 => {
            if let (Some(i), Some(j)) = (node(a), node(b)) {
                g.node.swap(i, j);
            }
        }
        // Change an op type.
        10 => {
            if let Some(i) = node(a) {
                g.node[i].op_type = Some(pick(OPS, b).into());
                if c & 1 != 0 {
                    g.node[i].domain = Some(if c & 2 != 0 { "com.microsoft".into() } else { "ai.onnx".into() });
                }
            }
        }
        // Forget declared types and shapes (unknown ranks).
        11 => match a % 3 {
            0 if !g.value_info.is_empty() => {
                let k = b as usize % g.value_info.len();
                g.value_info.remove(k);
            }
            1 if !g.input.is_empty() => {
                let k = b as usize % g.input.len();
                g.input[k].type_.clear();
            }
            2 if !g.output.is_empty() => {
                let k = b as usize % g.output.len();
                g.output.remove(k);
            }
            _ => {}
        },
        // Initializer data: element type, truncated or missing data, external.
        12 => {
            if !g.initializer.is_empty() {
                let k = a as usize % g.initializer.len();
                let t = &mut g.initializer[k];
                match b % 4 {
                    0 => t.data_type = Some(pick(TYPES, c)),
                    1 => {
                        if let Some(r) = t.raw_data.as_mut() {
                            r.truncate(c as usize % (r.len() + 1));
                        }
                    }
                    2 => {
                        t.raw_data = None;
                        t.float_data = vec![f32::from_bits(u32::from(c) * 0x0101_0101); c as usize % 4];
                    }
                    _ => t.data_location = Some(protobuf::EnumOrUnknown::from_i32(i32::from(c % 3))),
                }
            }
        }
        // Add or drop inputs of a node.
        13 => {
            if let Some(i) = node(a) {
                let name = name_for(g, c);
                let n = &mut g.node[i];
                if b & 1 == 0 {
                    n.input.push(name);
                } else {
                    n.input.pop();
                }
            }
        }
        // Make an intermediate a graph output, or an initializer a graph input.
        14 => {
            let name = name_for(g, c);
            let vi = trt_layernorm::onnx::proto::ValueInfoProto { name: Some(name), ..Default::default() };
            if b & 1 == 0 {
                g.output.push(vi);
            } else {
                g.input.push(vi);
            }
        }
        // Nest: a node gets a subgraph (nested `depth` times) reading a name of the outer graph.
        15 => {
            if let Some(i) = node(a) {
                let name = name_for(g, c);
                let mut sub = GraphProto {
                    node: vec![NodeProto { input: vec![name.clone()], output: vec![format!("{name}_inner")], op_type: Some("Identity".into()), ..Default::default() }],
                    ..Default::default()
                };
                for _ in 0..(b % 8) {
                    let wrap = NodeProto {
                        op_type: Some("If".into()),
                        input: vec![name.clone()],
                        attribute: vec![AttributeProto {
                            name: Some("then_branch".into()),
                            type_: Some(protobuf::EnumOrUnknown::new(AttributeType::GRAPH)),
                            g: protobuf::MessageField::some(sub),
                            ..Default::default()
                        }],
                        ..Default::default()
                    };
                    sub = GraphProto { node: vec![wrap], ..Default::default() };
                }
                g.node[i].attribute.push(AttributeProto {
                    name: Some("body".into()),
                    type_: Some(protobuf::EnumOrUnknown::new(AttributeType::GRAPH)),
                    g: protobuf::MessageField::some(sub),
                    ..Default::default()
                });
            }
        }
        // Rename a node's output (collisions with other tensors, empty names).
        16 => {
            let name = name_for(g, c);
            if let Some(i) = node(a) {
                let n = &mut g.node[i];
                if n.output.is_empty() {
                    n.output.push(name);
                } else {
                    let j = b as usize % n.output.len();
                    n.output[j] = name;
                }
            }
        }
        // A Constant node with a hostile tensor (huge dims, few values).
        _ => {
            let name = name_for(g, c);
            let t = TensorProto {
                dims: vec![pick(DIMS, a), pick(DIMS, b)][..1 + (c as usize & 1)].to_vec(),
                data_type: Some(pick(TYPES, c >> 1)),
                float_data: vec![2.0; (a % 3) as usize],
                ..Default::default()
            };
            let n = NodeProto {
                op_type: Some("Constant".into()),
                output: vec![name],
                attribute: vec![AttributeProto {
                    name: Some("value".into()),
                    type_: Some(protobuf::EnumOrUnknown::new(AttributeType::TENSOR)),
                    t: protobuf::MessageField::some(t),
                    ..Default::default()
                }],
                ..Default::default()
            };
            let at = b as usize % (nn + 1);
            g.node.insert(at, n);
        }
    }
}
