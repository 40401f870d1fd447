//! The rewrite: each matched subgraph becomes one plugin node
//! (`FP32LayerNorm` or `FP32RMSNorm`, by the match's
//! [`NormKind`](super::matchers::NormKind); `FP32SkipLayerNorm` for a
//! LayerNorm with its residual `Add` fused in) placed
//! where its last node was, keeping its output tensor name (so consumers,
//! graph outputs and value_info need no change; a fused node's second output
//! keeps the `Add`'s output name). Constants and initializers
//! that only the replaced nodes used are removed; a scale the matcher folded
//! (Gemma's `1 + weight`) and the ones/zeros a fused node needs before its
//! ResidualBias are added as initializers; everything else is kept.

use super::graph::{attr_type, dt, GraphIndex};
use super::matchers::{Candidate, FoldedScale};
use super::proto::{attribute_proto::AttributeType, type_proto, AttributeProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto};
use std::collections::{HashMap, HashSet};

/// The LayerNorm plugin's `op_type`: the name its creators are registered under.
pub const PLUGIN_OP: &str = crate::plugin::PLUGIN_NAME;

/// The RMSNorm plugin's `op_type` (inputs X and an optional Scale; same
/// versions, namespace and fields as [`PLUGIN_OP`]).
pub const RMS_PLUGIN_OP: &str = crate::plugin::RMS_PLUGIN_NAME;

/// The skip LayerNorm plugin's `op_type`: inputs X, Skip, Scale, Bias,
/// ResidualBias; fields as [`PLUGIN_OP`]'s plus `sum_output`; outputs Y and,
/// with `sum_output = 1`, the sum S.
pub const SKIP_PLUGIN_OP: &str = super::matchers::skip::SKIP_PLUGIN_OP;

/// Every plugin `op_type` the rewrite writes.
pub const PLUGIN_OPS: [&str; 3] = [PLUGIN_OP, RMS_PLUGIN_OP, SKIP_PLUGIN_OP];

/// The domain of the plugin nodes.
///
/// TensorRT's ONNX parser (onnx-tensorrt `ModelImporter.cpp`, `parseNode`)
/// dispatches on `node.op_type()` alone: an op type without a builtin importer
/// goes to `FallbackPluginImporter` (`onnxOpImporters.cpp`), which looks the
/// creator up by (op_type, attribute `plugin_version` default "1", attribute
/// `plugin_namespace` default ""). The node's domain is not consulted, and
/// every `opset_import` entry is accepted (`importModel` only records it). We
/// still put the node in its own domain with an opset_import entry, so that
/// ONNX tooling (checker, shape inference, ORT) sees an unregistered custom
/// op rather than an unknown op of the standard domain.
///
/// The fallback importer turns the node's attributes into `PluginField`s for
/// the fields the creator lists: FLOAT → kFLOAT32, INT → kINT32 (narrowed from
/// int64), STRING → kCHAR. An empty input name becomes a null tensor, which
/// `addPluginV2`/`addPluginV3` refuse (TensorRT-RTX 1.7: "Parameter check
/// failed, condition: (input) != nullptr"), so no plugin node gets one: only
/// trailing inputs are left out, and an absent Scale before a Bias is a
/// constant of ones ([`Candidate::scale_fill`]).
pub const PLUGIN_DOMAIN: &str = "trt.plugins";

/// Attributes of the plugin node besides epsilon and axis.
#[derive(Clone, Debug)]
pub struct PluginAttrs {
    pub plugin_version: String,
    pub plugin_namespace: String,
    /// Ask every node for FP32 output (`output_type = 1`).
    pub output_fp32: bool,
}

/// What the rewrite did, for the summary.
#[derive(Default, Debug)]
pub struct RewriteStats {
    pub nodes_removed: usize,
    pub constants_removed: usize,
    pub initializers_removed: usize,
    pub opset_added: bool,
    /// Output tensors whose declared type was changed to float32 (`--output-type fp32`).
    pub retyped_outputs: Vec<String>,
}

fn attr_f(name: &str, v: f32) -> AttributeProto {
    AttributeProto { name: Some(name.into()), type_: Some(attr_type(AttributeType::FLOAT)), f: Some(v), ..Default::default() }
}
fn attr_i(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: Some(name.into()), type_: Some(attr_type(AttributeType::INT)), i: Some(v), ..Default::default() }
}
fn attr_s(name: &str, v: &str) -> AttributeProto {
    AttributeProto { name: Some(name.into()), type_: Some(attr_type(AttributeType::STRING)), s: Some(v.as_bytes().to_vec()), ..Default::default() }
}

/// The plugin node for one candidate (`output_type` only when FP32 is asked:
/// it types Y; a fused node's S has X's type whatever it is).
/// Its op type is the candidate's ([`Candidate::plugin_op`]); its inputs are
/// X, Scale, Bias with the absent trailing ones dropped (an RMSNorm has no
/// Bias, so X[, Scale]); a fused one's X, Skip, Scale, Bias, ResidualBias,
/// with `sum_output = 1` and the output S where the sum is kept. No input
/// name is empty: a Scale or Bias absent before a later input is a filled
/// constant (the matchers checked that each candidate has one).
pub fn plugin_node(c: &Candidate, name: &str, attrs: &PluginAttrs) -> NodeProto {
    let scale = c.scale_input().unwrap_or_default().to_string();
    let mut inputs = vec![c.x.clone(), scale.clone(), c.bias.clone().unwrap_or_default()];
    let mut output = vec![c.y.clone()];
    let mut sum_output = false;
    if let Some(s) = &c.skip {
        let bias = c.bias.clone().or_else(|| s.fill_bias.as_ref().map(|f| f.name.clone())).unwrap_or_default();
        inputs = vec![c.x.clone(), s.skip.clone(), scale, bias, s.residual_bias.clone().unwrap_or_default()];
        if let Some(sum) = &s.sum {
            output.push(sum.clone());
            sum_output = true;
        }
    }
    while inputs.last().is_some_and(String::is_empty) {
        inputs.pop();
    }
    debug_assert!(inputs.iter().all(|i| !i.is_empty()), "{name}: an empty input name before a given one: {inputs:?}");
    let mut attribute = vec![
        attr_f("epsilon", c.epsilon),
        attr_i("axis", c.axis),
        attr_s("plugin_version", &attrs.plugin_version),
        attr_s("plugin_namespace", &attrs.plugin_namespace),
    ];
    if attrs.output_fp32 || c.output_fp32 {
        attribute.push(attr_i("output_type", 1));
    }
    if sum_output {
        attribute.push(attr_i("sum_output", 1));
    }
    NodeProto {
        input: inputs,
        output,
        name: Some(name.to_string()),
        op_type: Some(c.plugin_op().into()),
        domain: Some(PLUGIN_DOMAIN.into()),
        attribute,
        ..Default::default()
    }
}

/// Replaces `cands` (all from `model`'s main graph, disjoint) in place.
pub fn apply(model: &mut ModelProto, cands: &[Candidate], attrs: &PluginAttrs) -> RewriteStats {
    let mut stats = RewriteStats::default();
    let graph = model.graph.as_mut().expect("validated on read");

    // Names already used by nodes that stay, to keep plugin node names unique.
    let removed: HashSet<usize> = cands.iter().flat_map(|c| c.nodes.iter().copied()).collect();
    let mut used_names: HashSet<String> = graph
        .node
        .iter()
        .enumerate()
        .filter(|(i, _)| !removed.contains(i))
        .filter_map(|(_, n)| n.name.clone())
        .collect();
    let mut at: HashMap<usize, NodeProto> = HashMap::new();
    for c in cands {
        let mut name = c.name.clone();
        let mut k = 1;
        while used_names.contains(&name) {
            name = format!("{}_{k}", c.name);
            k += 1;
        }
        used_names.insert(name.clone());
        // Where the node producing Y was: after everything Y depends on and
        // before every consumer of Y (dead nodes of the match may lie later);
        // for a fused node, where the fusion found every input ready and
        // every reader of Y and S later.
        let place = c.skip.as_ref().map(|s| s.place).or_else(|| c.nodes.iter().copied().find(|&n| graph.node[n].output.contains(&c.y)));
        let Some(place) = place.or_else(|| c.nodes.iter().copied().max()) else { continue };
        at.insert(place, plugin_node(c, &name, attrs));
    }

    // Tensors the removed nodes read: candidates for dead constants/initializers.
    let mut read_by_removed: HashSet<String> = HashSet::new();
    let mut dropped_tensors: HashSet<String> = HashSet::new();
    let old_nodes = std::mem::take(&mut graph.node);
    for (i, n) in old_nodes.into_iter().enumerate() {
        if let Some(p) = at.remove(&i) {
            graph.node.push(p);
        }
        if removed.contains(&i) {
            read_by_removed.extend(n.input.iter().filter(|s| !s.is_empty()).cloned());
            dropped_tensors.extend(n.output.iter().cloned());
            stats.nodes_removed += 1;
        } else {
            graph.node.push(n);
        }
    }
    for c in cands {
        dropped_tensors.remove(&c.y);
        if let Some(sum) = c.skip.as_ref().and_then(|s| s.sum.as_ref()) {
            dropped_tensors.remove(sum);
        }
    }
    // Folded scales and fills: the plugin node reads them, so they stay live below.
    for f in cands.iter().flat_map(|c| c.new_initializers()) {
        graph.initializer.push(folded_initializer(f));
        dropped_tensors.remove(&f.name);
    }

    // Remove Constant nodes and initializers used only by the replaced nodes.
    loop {
        let live: HashSet<String> = {
            let ix = GraphIndex::new(graph);
            let mut live: HashSet<String> = ix.consumers.keys().map(|s| s.to_string()).collect();
            live.extend(ix.graph_outputs.iter().map(|s| s.to_string()));
            live
        };
        let before = graph.node.len();
        let mut newly = vec![];
        graph.node.retain(|n| {
            let dead = n.op_type.as_deref() == Some("Constant")
                && n.domain.as_deref().unwrap_or("").is_empty()
                && n.output.iter().all(|o| read_by_removed.contains(o) && !live.contains(o));
            if dead {
                newly.extend(n.output.iter().cloned());
                newly.extend(n.input.iter().cloned());
            }
            !dead
        });
        stats.constants_removed += before - graph.node.len();
        let inputs: HashSet<String> = graph.input.iter().filter_map(|v| v.name.clone()).collect();
        let before = graph.initializer.len();
        graph.initializer.retain(|t| {
            let name = t.name.clone().unwrap_or_default();
            let dead = read_by_removed.contains(&name) && !live.contains(&name) && !inputs.contains(&name);
            if dead {
                newly.push(name);
            }
            !dead
        });
        stats.initializers_removed += before - graph.initializer.len();
        if newly.is_empty() {
            break;
        }
        dropped_tensors.extend(newly);
    }
    graph.value_info.retain(|v| !v.name.as_deref().is_some_and(|n| dropped_tensors.contains(n)));

    // `--output-type fp32`: the outputs are float32 now; say so in the model.
    if attrs.output_fp32 {
        let ys: HashSet<&str> = cands.iter().map(|c| c.y.as_str()).collect();
        for v in graph.value_info.iter_mut().chain(graph.output.iter_mut()) {
            if let Some(name) = v.name.as_deref() {
                if ys.contains(name) {
                    if let Some(type_proto::Value::TensorType(t)) = v.type_.as_mut().and_then(|t| t.value.as_mut()) {
                        if t.elem_type != Some(dt::FLOAT) {
                            t.elem_type = Some(dt::FLOAT);
                            stats.retyped_outputs.push(name.to_string());
                        }
                    }
                }
            }
        }
    }

    if !cands.is_empty() && !model.opset_import.iter().any(|o| o.domain.as_deref() == Some(PLUGIN_DOMAIN)) {
        model.opset_import.push(OperatorSetIdProto { domain: Some(PLUGIN_DOMAIN.into()), version: Some(1), ..Default::default() });
        stats.opset_added = true;
    }
    stats
}

/// The initializer of a folded scale, its values encoded little-endian in
/// its element type (they are already rounded to it).
fn folded_initializer(f: &FoldedScale) -> TensorProto {
    let raw: Vec<u8> = match f.dtype {
        dt::FLOAT16 => f.values.iter().flat_map(|&v| half::f16::from_f64(v).to_bits().to_le_bytes()).collect(),
        dt::BFLOAT16 => f.values.iter().flat_map(|&v| half::bf16::from_f64(v).to_bits().to_le_bytes()).collect(),
        dt::DOUBLE => f.values.iter().flat_map(|&v| v.to_le_bytes()).collect(),
        _ => f.values.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect(),
    };
    TensorProto { name: Some(f.name.clone()), data_type: Some(f.dtype), dims: f.dims.clone(), raw_data: Some(raw), ..Default::default() }
}
