//! Small models in the shapes FP16 conversion gives LayerNorms (an FP16 export, or a
//! converter such as NVIDIA ModelOpt's AutoCast that keeps some nodes in FP32 and
//! inserts `Cast`s around them), built with the crate's ONNX protobuf types.
//! Shared by `tests/onnx_fp16.rs` (what `patch` does with them) and
//! `tests/engine_rtx.rs` (what a real builder makes of them).
#![allow(dead_code)]

use half::f16;
use protobuf::MessageField;
use trt_layernorm::onnx::proto::{
    attribute_proto::AttributeType, tensor_shape_proto, type_proto, AttributeProto, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

pub const FLOAT: i32 = 1;
pub const FLOAT16: i32 = 10;
/// X is [2, 8, H].
pub const H: i64 = 32;
pub const EPS: f32 = 1e-5;

pub struct Fp16Model {
    pub name: &'static str,
    pub what: &'static str,
    pub model: ModelProto,
    /// LayerNorms `patch` must replace.
    pub layernorms: usize,
}

fn vi(name: &str, elem: i32, dims: &[i64]) -> ValueInfoProto {
    let shape = TensorShapeProto {
        dim: dims
            .iter()
            .map(|&d| tensor_shape_proto::Dimension { value: Some(tensor_shape_proto::dimension::Value::DimValue(d)), ..Default::default() })
            .collect(),
        ..Default::default()
    };
    let tensor = type_proto::Tensor { elem_type: Some(elem), shape: MessageField::some(shape), ..Default::default() };
    ValueInfoProto {
        name: Some(name.into()),
        type_: MessageField::some(TypeProto { value: Some(type_proto::Value::TensorType(tensor)), ..Default::default() }),
        ..Default::default()
    }
}

/// An initializer of `elem` (FLOAT or FLOAT16) holding `values`.
fn init(name: &str, elem: i32, dims: &[i64], values: &[f32]) -> TensorProto {
    let raw: Vec<u8> = if elem == FLOAT16 {
        values.iter().flat_map(|&v| f16::from_f32(v).to_le_bytes()).collect()
    } else {
        values.iter().flat_map(|&v| v.to_le_bytes()).collect()
    };
    TensorProto { name: Some(name.into()), data_type: Some(elem), dims: dims.to_vec(), raw_data: Some(raw), ..Default::default() }
}

fn attr_i(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: Some(name.into()), type_: Some(AttributeType::INT.into()), i: Some(v), ..Default::default() }
}

fn attr_f(name: &str, v: f32) -> AttributeProto {
    AttributeProto { name: Some(name.into()), type_: Some(AttributeType::FLOAT.into()), f: Some(v), ..Default::default() }
}

fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: Some(name.into()), type_: Some(AttributeType::INTS.into()), ints: v.to_vec(), ..Default::default() }
}

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(name.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

fn cast(name: &str, from: &str, to: &str, elem: i32) -> NodeProto {
    node("Cast", name, &[from], &[to], vec![attr_i("to", i64::from(elem))])
}

fn params(elem: i32) -> Vec<TensorProto> {
    let scale: Vec<f32> = (0..H).map(|i| 0.5 + i as f32 / H as f32).collect();
    let bias: Vec<f32> = (0..H).map(|i| (i as f32 - 16.0) / 64.0).collect();
    vec![init("ln.weight", elem, &[H], &scale), init("ln.bias", elem, &[H], &bias)]
}

/// A MatMul on each side, as in a transformer, so the LayerNorm has neighbours to fuse with.
fn model(nodes: Vec<NodeProto>, mut initializers: Vec<TensorProto>, opset: i64) -> ModelProto {
    let w: Vec<f32> = (0..H * H).map(|i| ((i * 7919 % 113) as f32 - 56.0) / 512.0).collect();
    initializers.push(init("w_in", FLOAT16, &[H, H], &w));
    initializers.push(init("w_out", FLOAT16, &[H, H], &w));
    let mut all = vec![node("MatMul", "/in/MatMul", &["input", "w_in"], &["x"], vec![])];
    all.extend(nodes);
    all.push(node("MatMul", "/out/MatMul", &["y", "w_out"], &["output"], vec![]));
    let graph = GraphProto {
        name: Some("fp16_layernorm".into()),
        node: all,
        initializer: initializers,
        input: vec![vi("input", FLOAT16, &[2, 8, H])],
        output: vec![vi("output", FLOAT16, &[2, 8, H])],
        ..Default::default()
    };
    ModelProto {
        ir_version: Some(8),
        producer_name: Some("trt-layernorm tests/fp16_models".into()),
        opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(opset), ..Default::default() }],
        graph: MessageField::some(graph),
        ..Default::default()
    }
}

/// The decomposed LayerNorm of PyTorch's opset-13 export, on tensors of `elem`
/// (constants of that type), from `x` to `y`.
fn decomposed(x: &str, y: &str, elem: i32) -> (Vec<NodeProto>, Vec<TensorProto>) {
    let nodes = vec![
        node("ReduceMean", "/ln/ReduceMean", &[x], &["mean"], vec![attr_ints("axes", &[-1])]),
        node("Sub", "/ln/Sub", &[x, "mean"], &["d"], vec![]),
        node("Pow", "/ln/Pow", &["d", "two"], &["d2"], vec![]),
        node("ReduceMean", "/ln/ReduceMean_1", &["d2"], &["var"], vec![attr_ints("axes", &[-1])]),
        node("Add", "/ln/Add", &["var", "eps"], &["var_eps"], vec![]),
        node("Sqrt", "/ln/Sqrt", &["var_eps"], &["std"], vec![]),
        node("Div", "/ln/Div", &["d", "std"], &["xhat"], vec![]),
        node("Mul", "/ln/Mul", &["xhat", "ln.weight"], &["scaled"], vec![]),
        node("Add", "/ln/Add_1", &["scaled", "ln.bias"], &[y], vec![]),
    ];
    let mut inits = vec![init("two", elem, &[], &[2.0]), init("eps", elem, &[], &[EPS])];
    inits.extend(params(elem));
    (nodes, inits)
}

/// The models, each with the number of LayerNorms `patch` must replace.
pub fn all() -> Vec<Fp16Model> {
    let mut v = Vec::new();

    // An FP16 export at opset 17: LayerNormalization on FP16 X, Scale, Bias.
    let ln = node("LayerNormalization", "/ln/LayerNormalization", &["x", "ln.weight", "ln.bias"], &["y"], vec![attr_i("axis", -1), attr_f("epsilon", EPS)]);
    v.push(Fp16Model { name: "fp16_layernorm_op17", what: "LayerNormalization on FP16 tensors", model: model(vec![ln], params(FLOAT16), 17), layernorms: 1 });

    // A converter's FP32 island: Cast(fp16->fp32) -> LayerNormalization (FP32 params) -> Cast(fp32->fp16).
    let nodes = vec![
        cast("/ln/Cast_in", "x", "x32", FLOAT),
        node("LayerNormalization", "/ln/LayerNormalization", &["x32", "ln.weight", "ln.bias"], &["y32"], vec![attr_i("axis", -1), attr_f("epsilon", EPS)]),
        cast("/ln/Cast_out", "y32", "y", FLOAT16),
    ];
    v.push(Fp16Model { name: "cast_island_layernorm_op17", what: "Cast -> LayerNormalization (FP32) -> Cast", model: model(nodes, params(FLOAT), 17), layernorms: 1 });

    // The same island with FP16 parameters cast up too (converters that turn every initializer into FP16).
    let nodes = vec![
        cast("/ln/Cast_in", "x", "x32", FLOAT),
        cast("/ln/Cast_w", "ln.weight", "w32", FLOAT),
        cast("/ln/Cast_b", "ln.bias", "b32", FLOAT),
        node("LayerNormalization", "/ln/LayerNormalization", &["x32", "w32", "b32"], &["y32"], vec![attr_i("axis", -1), attr_f("epsilon", EPS)]),
        cast("/ln/Cast_out", "y32", "y", FLOAT16),
    ];
    v.push(Fp16Model {
        name: "cast_island_fp16_params_op17",
        what: "Cast -> LayerNormalization (FP32, Scale/Bias cast from FP16) -> Cast",
        model: model(nodes, params(FLOAT16), 17),
        layernorms: 1,
    });

    // The opset-13 decomposition entirely on FP16 tensors (FP16 constants, no Casts).
    let (nodes, inits) = decomposed("x", "y", FLOAT16);
    v.push(Fp16Model { name: "fp16_decomposed_op13", what: "decomposed LayerNorm on FP16 tensors", model: model(nodes, inits, 13), layernorms: 1 });

    // The decomposition kept in FP32 by a converter: Cast -> decomposed (FP32) -> Cast.
    let (mut nodes, inits) = decomposed("x32", "y32", FLOAT);
    nodes.insert(0, cast("/ln/Cast_in", "x", "x32", FLOAT));
    nodes.push(cast("/ln/Cast_out", "y32", "y", FLOAT16));
    v.push(Fp16Model { name: "cast_island_decomposed_op13", what: "Cast -> decomposed LayerNorm (FP32) -> Cast", model: model(nodes, inits, 13), layernorms: 1 });
    v
}
