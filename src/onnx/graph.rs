//! Read-only index over one ONNX graph: who produces and who consumes each
//! tensor, which tensors are graph outputs, constant values (initializers and
//! `Constant` nodes), and the element types and shapes the model declares.

use super::io::is_external;
use super::proto::{attribute_proto::AttributeType, type_proto, GraphProto, NodeProto, TensorProto};
use std::collections::{HashMap, HashSet};

/// ONNX `TensorProto.DataType` codes used here.
pub mod dt {
    pub const FLOAT: i32 = 1;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const FLOAT16: i32 = 10;
    pub const DOUBLE: i32 = 11;
    pub const BFLOAT16: i32 = 16;

    pub fn name(t: i32) -> String {
        match t {
            FLOAT => "float32".into(),
            FLOAT16 => "float16".into(),
            BFLOAT16 => "bfloat16".into(),
            DOUBLE => "float64".into(),
            INT32 => "int32".into(),
            INT64 => "int64".into(),
            other => format!("type {other}"),
        }
    }
}

/// A constant tensor's values, decoded to f64 (exact for every type used here).
#[derive(Clone, Debug)]
pub struct Const {
    pub dtype: i32,
    pub dims: Vec<i64>,
    pub values: Vec<f64>,
}

impl Const {
    /// The single value of a one-element tensor (any rank).
    pub fn scalar(&self) -> Option<f64> {
        (self.values.len() == 1).then(|| self.values[0])
    }
}

/// A tensor's dimension: a known size, or unknown / symbolic.
pub type Dim = Option<i64>;

pub struct GraphIndex<'g> {
    pub graph: &'g GraphProto,
    pub producer: HashMap<&'g str, usize>,
    /// Consuming node indices per tensor (a node using a tensor twice appears
    /// twice; nodes whose subgraphs reference it appear once).
    pub consumers: HashMap<&'g str, Vec<usize>>,
    pub graph_outputs: HashSet<&'g str>,
    pub graph_inputs: HashSet<&'g str>,
    pub initializers: HashMap<&'g str, &'g TensorProto>,
    declared: HashMap<&'g str, (Option<i32>, Option<Vec<Dim>>)>,
}

impl<'g> GraphIndex<'g> {
    pub fn new(graph: &'g GraphProto) -> Self {
        let mut producer = HashMap::new();
        let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, n) in graph.node.iter().enumerate() {
            for o in &n.output {
                if !o.is_empty() {
                    producer.insert(o.as_str(), i);
                }
            }
            for inp in &n.input {
                if !inp.is_empty() {
                    consumers.entry(inp.as_str()).or_default().push(i);
                }
            }
            // Subgraphs (If/Loop/Scan bodies) may use outer tensors without
            // listing them as inputs: count every name they read as used here.
            let mut inner = HashSet::new();
            for a in &n.attribute {
                for g in a.g.as_ref().into_iter().chain(a.graphs.iter()) {
                    subgraph_reads(g, &mut inner);
                }
            }
            for name in inner {
                consumers.entry(name).or_default().push(i);
            }
        }
        let mut declared = HashMap::new();
        for vi in graph.value_info.iter().chain(graph.input.iter()).chain(graph.output.iter()) {
            let Some(name) = vi.name.as_deref() else { continue };
            if let Some(type_proto::Value::TensorType(t)) = vi.type_.as_ref().and_then(|t| t.value.as_ref()) {
                let shape = t.shape.as_ref().map(|s| {
                    s.dim
                        .iter()
                        .map(|d| match d.value {
                            Some(super::proto::tensor_shape_proto::dimension::Value::DimValue(v)) => Some(v),
                            _ => None,
                        })
                        .collect()
                });
                declared.insert(name, (t.elem_type, shape));
            }
        }
        GraphIndex {
            graph,
            producer,
            consumers,
            graph_outputs: graph.output.iter().filter_map(|o| o.name.as_deref()).collect(),
            graph_inputs: graph.input.iter().filter_map(|o| o.name.as_deref()).collect(),
            initializers: graph.initializer.iter().filter_map(|t| Some((t.name.as_deref()?, t))).collect(),
            declared,
        }
    }

    pub fn node(&self, i: usize) -> &'g NodeProto {
        &self.graph.node[i]
    }

    pub fn consumers(&self, tensor: &str) -> &[usize] {
        self.consumers.get(tensor).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The distinct nodes consuming `tensor`.
    pub fn consumer_nodes(&self, tensor: &str) -> Vec<usize> {
        let mut v = self.consumers(tensor).to_vec();
        v.dedup();
        v
    }

    pub fn producer_node(&self, tensor: &str) -> Option<usize> {
        self.producer.get(tensor).copied()
    }

    /// The value of a constant tensor: an initializer that is not also a graph
    /// input (an input could override it), or the output of a `Constant` node.
    pub fn constant(&self, name: &str) -> Option<Const> {
        if let Some(t) = self.initializers.get(name) {
            if self.graph_inputs.contains(name) {
                return None;
            }
            return decode_tensor(t);
        }
        let n = self.node(self.producer_node(name)?);
        if n.op_type.as_deref() != Some("Constant") {
            return None;
        }
        let a = n.attribute.first()?;
        match a.name.as_deref()? {
            "value" => decode_tensor(a.t.as_ref()?),
            "value_float" => Some(Const { dtype: dt::FLOAT, dims: vec![], values: vec![f64::from(a.f?)] }),
            "value_floats" => Some(Const {
                dtype: dt::FLOAT,
                dims: vec![a.floats.len() as i64],
                values: a.floats.iter().map(|&v| f64::from(v)).collect(),
            }),
            "value_int" => Some(Const { dtype: dt::INT64, dims: vec![], values: vec![a.i? as f64] }),
            "value_ints" => Some(Const {
                dtype: dt::INT64,
                dims: vec![a.ints.len() as i64],
                values: a.ints.iter().map(|&v| v as f64).collect(),
            }),
            _ => None,
        }
    }

    /// The shape of a tensor as declared (value_info, graph inputs/outputs) or
    /// as stored (initializers, constants).
    pub fn shape(&self, name: &str) -> Option<Vec<Dim>> {
        if let Some(t) = self.initializers.get(name) {
            return Some(t.dims.iter().map(|&d| Some(d)).collect());
        }
        if let Some((_, Some(s))) = self.declared.get(name) {
            return Some(s.clone());
        }
        if let Some(c) = self.constant(name) {
            return Some(c.dims.iter().map(|&d| Some(d)).collect());
        }
        None
    }

    /// The element type of a tensor: declared, stored, or followed back
    /// through a few type-preserving producers.
    pub fn elem_type(&self, name: &str) -> Option<i32> {
        self.elem_type_depth(name, 0)
    }

    fn elem_type_depth(&self, name: &str, depth: usize) -> Option<i32> {
        if let Some(t) = self.initializers.get(name) {
            return t.data_type;
        }
        if let Some((Some(t), _)) = self.declared.get(name) {
            if *t != 0 {
                return Some(*t);
            }
        }
        if depth > 64 {
            return None;
        }
        let n = self.node(self.producer_node(name)?);
        let attr_i = |k: &str| n.attribute.iter().find(|a| a.name.as_deref() == Some(k)).and_then(|a| a.i);
        match n.op_type.as_deref()? {
            "Cast" => attr_i("to").map(|v| v as i32),
            "Constant" => self.constant(name).map(|c| c.dtype),
            "Add" | "Sub" | "Mul" | "Div" | "Relu" | "Tanh" | "Sigmoid" | "Gelu" | "Erf" | "Softmax" | "MatMul"
            | "Gemm" | "Reshape" | "Transpose" | "Identity" | "Dropout" | "Squeeze" | "Unsqueeze" | "Flatten"
            | "Slice" | "Gather" | "Split" | "Concat" | "Neg" | "Sqrt" | "Pow" | "Reciprocal" | "ReduceMean"
            | "LayerNormalization" | "Expand" | "Tile" | "Abs" | "Clip" | "Max" | "Min" | "HardSigmoid"
            | "Softplus" | "Selu" | "Elu" | "LeakyRelu" | "FP32LayerNorm" | "Conv" | "ConvTranspose" => {
                self.elem_type_depth(n.input.first()?, depth + 1)
            }
            "Where" => self.elem_type_depth(n.input.get(1)?, depth + 1),
            _ => None,
        }
    }
}

fn subgraph_reads<'g>(g: &'g GraphProto, out: &mut HashSet<&'g str>) {
    for n in &g.node {
        for i in &n.input {
            if !i.is_empty() {
                out.insert(i.as_str());
            }
        }
        for a in &n.attribute {
            for sg in a.g.as_ref().into_iter().chain(a.graphs.iter()) {
                subgraph_reads(sg, out);
            }
        }
    }
    for o in &g.output {
        if let Some(name) = o.name.as_deref() {
            out.insert(name);
        }
    }
}

/// Decodes a (small, in-file) tensor's values. External data is not read.
pub fn decode_tensor(t: &TensorProto) -> Option<Const> {
    if is_external(t) {
        return None;
    }
    let dtype = t.data_type?;
    let count: i64 = t.dims.iter().product();
    let raw = t.raw_data.as_deref();
    let values: Vec<f64> = match dtype {
        dt::FLOAT => match raw {
            Some(r) => r.chunks_exact(4).map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap()))).collect(),
            None => t.float_data.iter().map(|&v| f64::from(v)).collect(),
        },
        dt::DOUBLE => match raw {
            Some(r) => r.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
            None => t.double_data.clone(),
        },
        dt::FLOAT16 | dt::BFLOAT16 => {
            let bits: Vec<u16> = match raw {
                Some(r) => r.chunks_exact(2).map(|c| u16::from_le_bytes(c.try_into().unwrap())).collect(),
                None => t.int32_data.iter().map(|&v| v as u16).collect(),
            };
            bits.into_iter()
                .map(|b| {
                    if dtype == dt::FLOAT16 {
                        half::f16::from_bits(b).to_f64()
                    } else {
                        half::bf16::from_bits(b).to_f64()
                    }
                })
                .collect()
        }
        dt::INT64 => match raw {
            Some(r) => r.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
            None => t.int64_data.iter().map(|&v| v as f64).collect(),
        },
        dt::INT32 => match raw {
            Some(r) => r.chunks_exact(4).map(|c| f64::from(i32::from_le_bytes(c.try_into().unwrap()))).collect(),
            None => t.int32_data.iter().map(|&v| f64::from(v)).collect(),
        },
        _ => return None,
    };
    (values.len() as i64 == count).then(|| Const { dtype, dims: t.dims.clone(), values })
}

/// An attribute of a node, by name.
pub fn attr<'n>(n: &'n NodeProto, name: &str) -> Option<&'n super::proto::AttributeProto> {
    n.attribute.iter().find(|a| a.name.as_deref() == Some(name))
}

pub fn attr_i(n: &NodeProto, name: &str) -> Option<i64> {
    attr(n, name).and_then(|a| a.i)
}

pub fn attr_f(n: &NodeProto, name: &str) -> Option<f32> {
    attr(n, name).and_then(|a| a.f)
}

pub fn attr_ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}

/// `op_type` when the node is in the default ONNX domain.
pub fn onnx_op(n: &NodeProto) -> &str {
    match n.domain.as_deref() {
        None | Some("") | Some("ai.onnx") => n.op_type.as_deref().unwrap_or(""),
        _ => "",
    }
}

pub fn attr_type(t: AttributeType) -> protobuf::EnumOrUnknown<AttributeType> {
    protobuf::EnumOrUnknown::new(t)
}
