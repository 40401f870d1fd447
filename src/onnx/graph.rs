//! Read-only index over one ONNX graph: who produces and who consumes each
//! tensor, which tensors are graph outputs, constant values (initializers and
//! `Constant` nodes), the element types and shapes the model declares, the
//! shapes (ranks, and sizes where they follow) inferred forward from those
//! through the common ops, and which nodes are dead (reach no graph output).

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
    /// The `dim_param` of each declared dim (`None` for a size or nothing).
    dim_params: HashMap<&'g str, Vec<Option<&'g str>>>,
    /// Shapes inferred forward through the graph (see [`infer_shapes`]).
    inferred: HashMap<&'g str, Vec<Dim>>,
    /// Nodes none of whose outputs reaches a graph output (through any chain
    /// of consumers, subgraph reads included).
    pub dead: HashSet<usize>,
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
        let mut dim_params = HashMap::new();
        for vi in graph.value_info.iter().chain(graph.input.iter()).chain(graph.output.iter()) {
            let Some(name) = vi.name.as_deref() else { continue };
            if let Some(type_proto::Value::TensorType(t)) = vi.type_.as_ref().and_then(|t| t.value.as_ref()) {
                if let Some(s) = t.shape.as_ref() {
                    let params = s
                        .dim
                        .iter()
                        .map(|d| match &d.value {
                            Some(super::proto::tensor_shape_proto::dimension::Value::DimParam(p)) if !p.is_empty() => Some(p.as_str()),
                            _ => None,
                        })
                        .collect();
                    dim_params.insert(name, params);
                }
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
        let mut ix = GraphIndex {
            graph,
            producer,
            consumers,
            graph_outputs: graph.output.iter().filter_map(|o| o.name.as_deref()).collect(),
            graph_inputs: graph.input.iter().filter_map(|o| o.name.as_deref()).collect(),
            initializers: graph.initializer.iter().filter_map(|t| Some((t.name.as_deref()?, t))).collect(),
            declared,
            dim_params,
            inferred: HashMap::new(),
            dead: HashSet::new(),
        };
        ix.inferred = infer_shapes(&ix);
        ix.dead = dead_nodes(&ix);
        ix
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
    /// as stored (initializers, constants), completed by what shape inference
    /// found (see [`infer_shapes`]); a declared size wins over an inferred one.
    pub fn shape(&self, name: &str) -> Option<Vec<Dim>> {
        let known = self.stated_shape(name);
        match (known, self.inferred.get(name)) {
            (Some(d), Some(i)) if d.len() == i.len() => Some(d.iter().zip(i).map(|(a, b)| a.or(*b)).collect()),
            (Some(d), _) => Some(d),
            (None, Some(i)) => Some(i.clone()),
            (None, None) => None,
        }
    }

    /// Whether `a` and `b` provably have the same shape: the same rank, and
    /// each dim either a known size on both, or declared on both with the
    /// same `dim_param` (ONNX IR: a dimension variable denotes one value
    /// throughout the model). `Err` names what is not proven.
    pub fn same_shape(&self, a: &str, b: &str) -> Result<Vec<Dim>, String> {
        let (Some(sa), Some(sb)) = (self.shape(a), self.shape(b)) else {
            let which = if self.shape(a).is_none() { a } else { b };
            return Err(format!("the shape of '{which}' is unknown"));
        };
        if sa.len() != sb.len() {
            return Err(format!("rank {} against rank {}", sa.len(), sb.len()));
        }
        let param = |t: &str, j: usize| self.dim_params.get(t).filter(|p| p.len() == sa.len()).and_then(|p| p[j]);
        for j in 0..sa.len() {
            match (sa[j], sb[j]) {
                (Some(x), Some(y)) if x == y => {}
                (Some(x), Some(y)) => return Err(format!("dim {j} is {x} against {y}")),
                _ if param(a, j).is_some() && param(a, j) == param(b, j) => {}
                _ => return Err(format!("dim {j} is not known to be equal")),
            }
        }
        Ok(sa)
    }

    /// The shape the model states: stored (initializers, constants) or declared.
    fn stated_shape(&self, name: &str) -> Option<Vec<Dim>> {
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

    /// Whether the tensor's value depends on nothing but constants and the
    /// shapes of tensors (`Shape`, `Size` and ops over such values), so a node
    /// computing it reads no tensor data.
    pub fn is_shape_only(&self, name: &str) -> bool {
        self.shape_only_depth(name, 0)
    }

    fn shape_only_depth(&self, name: &str, depth: usize) -> bool {
        if self.constant(name).is_some() {
            return true;
        }
        if depth > 32 {
            return false;
        }
        let Some(p) = self.producer_node(name) else { return false };
        let n = self.node(p);
        if !n.attribute.iter().all(|a| a.g.is_none() && a.graphs.is_empty()) {
            return false;
        }
        match onnx_op(n) {
            "Shape" | "Size" => true,
            "" => false,
            _ => n.input.iter().filter(|i| !i.is_empty()).all(|i| self.shape_only_depth(i, depth + 1)),
        }
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
            | "LayerNormalization" | "RMSNormalization" | "Expand" | "Tile" | "Abs" | "Clip" | "Max" | "Min" | "HardSigmoid"
            | "Softplus" | "Selu" | "Elu" | "LeakyRelu" | "FP32LayerNorm" | "FP32RMSNorm" | "Conv" | "ConvTranspose" => {
                self.elem_type_depth(n.input.first()?, depth + 1)
            }
            "Where" => self.elem_type_depth(n.input.get(1)?, depth + 1),
            _ => None,
        }
    }
}

/// Which nodes are dead: none of their outputs reaches a graph output.
fn dead_nodes(ix: &GraphIndex) -> HashSet<usize> {
    let n = ix.graph.node.len();
    // Tensors each node reads (inputs and names its subgraphs read).
    let mut reads: Vec<Vec<&str>> = vec![vec![]; n];
    for (t, cs) in &ix.consumers {
        for &c in cs {
            reads[c].push(t);
        }
    }
    let mut live = vec![false; n];
    let mut work: Vec<usize> = ix.graph_outputs.iter().filter_map(|o| ix.producer_node(o)).collect();
    while let Some(i) = work.pop() {
        if std::mem::replace(&mut live[i], true) {
            continue;
        }
        work.extend(reads[i].iter().filter_map(|t| ix.producer_node(t)).filter(|&p| !live[p]));
    }
    (0..n).filter(|&i| !live[i]).collect()
}

/// Forward shape inference over the main graph, in node order (a node whose
/// inputs come later, as in a graph that is not sorted, learns nothing).
///
/// Only what follows for every input the model admits: a size is known when
/// it is computed from known sizes, else `None`; ranks follow from the ranks
/// of the inputs. Covered: elementwise and broadcasting ops, `Cast`,
/// `MatMul`, `Gemm`, `Reshape` with a constant shape, `Transpose`, `Flatten`,
/// reductions, `Unsqueeze`/`Squeeze`, `Concat`, `Shape`, `Size`, `Gather`,
/// `Expand`, `Slice`, `Split`, `Conv`, normalizations. Arithmetic is checked:
/// hostile sizes give `None`, never a panic.
///
/// The shape tensors those ops read may be computed: small integer tensors
/// (at most [`MAX_SHAPE_VALUES`] elements) are evaluated forward through
/// `Shape` of a known shape, `ConstantOfShape`, `Mul`/`Add`/`Sub`, `Equal`,
/// `Where`, `Concat`, `Gather`, `Cast` to an integer type, `Identity`,
/// `Unsqueeze`/`Squeeze` (the TorchScript exporter's `expand(B, -1, -1)`
/// writes `Where(Equal(shape, -1), 1, shape)`).
pub fn infer_shapes<'g>(ix: &GraphIndex<'g>) -> HashMap<&'g str, Vec<Dim>> {
    let mut out: HashMap<&'g str, Vec<Dim>> = HashMap::new();
    let mut vals: HashMap<&'g str, Vec<i64>> = HashMap::new();
    for n in &ix.graph.node {
        let get = |out: &HashMap<&'g str, Vec<Dim>>, i: usize| -> Option<Vec<Dim>> {
            let name = n.input.get(i).filter(|s| !s.is_empty())?;
            let stated = ix.stated_shape(name);
            match (stated, out.get(name.as_str())) {
                (Some(d), Some(inf)) if d.len() == inf.len() => Some(d.iter().zip(inf).map(|(a, b)| a.or(*b)).collect()),
                (Some(d), _) => Some(d),
                (None, inf) => inf.cloned(),
            }
        };
        let consts = |i: usize| -> Option<Vec<i64>> {
            let name = n.input.get(i).filter(|s| !s.is_empty())?;
            if let Some(v) = vals.get(name.as_str()) {
                return Some(v.clone());
            }
            let c = ix.constant(name)?;
            c.values.iter().map(|&v| (v.fract() == 0.0 && v.abs() < 9.0e15).then_some(v as i64)).collect()
        };
        let axes_of = |i: usize| -> Option<Option<Vec<i64>>> {
            match attr_ints(n, "axes").filter(|a| !a.is_empty()) {
                Some(a) => Some(Some(a)),
                None => match n.input.get(i).filter(|s| !s.is_empty()) {
                    Some(_) => consts(i).map(Some),
                    None => Some(None),
                },
            }
        };
        let shape = infer_node(n, &|i| get(&out, i), &consts, &axes_of);
        let value = eval_ints(n, &|i| get(&out, i), &consts);
        if let Some(results) = shape {
            for (k, s) in results.into_iter().enumerate() {
                if let (Some(o), Some(s)) = (n.output.get(k).filter(|o| !o.is_empty()), s) {
                    if s.len() <= MAX_INFER_RANK {
                        out.insert(o.as_str(), s);
                    }
                }
            }
        }
        if let (Some(v), Some(o)) = (value, n.output.first().filter(|o| !o.is_empty())) {
            if v.len() <= MAX_SHAPE_VALUES {
                vals.insert(o.as_str(), v);
            }
        }
    }
    out
}

/// Integer tensors larger than this are not evaluated (shape computations are small).
pub const MAX_SHAPE_VALUES: usize = 64;

/// The values of a node's (first) output when it computes a small integer
/// tensor (rank <= 1) from small integer tensors: the shape computations
/// exporters leave in graphs. `None` for anything else.
fn eval_ints(n: &NodeProto, shape: &ShapeOf, consts: &ConstOf) -> Option<Vec<i64>> {
    // Only inputs known to be small are decoded (never a weight).
    let ints = |i: usize| -> Option<Vec<i64>> {
        let s = shape(i)?;
        let count = product(&s)?;
        (s.len() <= 1 && count <= MAX_SHAPE_VALUES as i64).then(|| consts(i)).flatten()
    };
    // Numpy broadcasting of 1-D values (a length 1 repeats).
    fn zip(a: &[i64], b: &[i64], f: impl Fn(i64, i64) -> Option<i64>) -> Option<Vec<i64>> {
        let len = match (a.len(), b.len()) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
        let at = |v: &[i64], k: usize| if v.len() == 1 { v[0] } else { v[k] };
        (0..len).map(|k| f(at(a, k), at(b, k))).collect()
    }
    match onnx_op(n) {
        "Shape" => {
            let s = shape(0)?;
            let r = s.len() as i64;
            let clamp = |v: i64| if v < 0 { (v + r).max(0) } else { v.min(r) };
            let (b, e) = (clamp(attr_i(n, "start").unwrap_or(0)), clamp(attr_i(n, "end").unwrap_or(r)));
            s.get(b as usize..e.max(b) as usize)?.iter().copied().collect()
        }
        "Identity" | "Unsqueeze" | "Squeeze" => ints(0),
        "Cast" if matches!(attr_i(n, "to").and_then(|t| i32::try_from(t).ok()), Some(dt::INT64 | dt::INT32)) => ints(0),
        "ConstantOfShape" => {
            let dims = ints(0)?;
            let count = dims.iter().try_fold(1i64, |acc, &d| if d < 0 { None } else { acc.checked_mul(d) })?;
            if count > MAX_SHAPE_VALUES as i64 {
                return None;
            }
            let value = match attr(n, "value") {
                Some(a) => decode_tensor(a.t.as_ref()?)?.scalar()?,
                None => 0.0,
            };
            (value.fract() == 0.0 && value.abs() < 9.0e15).then(|| vec![value as i64; count as usize])
        }
        "Add" => zip(&ints(0)?, &ints(1)?, i64::checked_add),
        "Sub" => zip(&ints(0)?, &ints(1)?, i64::checked_sub),
        "Mul" => zip(&ints(0)?, &ints(1)?, i64::checked_mul),
        "Equal" => zip(&ints(0)?, &ints(1)?, |a, b| Some(i64::from(a == b))),
        "Where" => {
            let (c, a, b) = (ints(0)?, ints(1)?, ints(2)?);
            let lens = [c.len(), a.len(), b.len()];
            let len = lens.into_iter().max()?;
            if lens.iter().any(|&l| l != len && l != 1) {
                return None;
            }
            let at = |v: &[i64], k: usize| if v.len() == 1 { v[0] } else { v[k] };
            Some((0..len).map(|k| if at(&c, k) != 0 { at(&a, k) } else { at(&b, k) }).collect())
        }
        "Concat" => {
            let mut v = vec![];
            for i in 0..n.input.len() {
                v.extend(ints(i)?);
            }
            (v.len() <= MAX_SHAPE_VALUES).then_some(v)
        }
        "Gather" if attr_i(n, "axis").unwrap_or(0) == 0 => {
            let (data, idx) = (ints(0)?, ints(1)?);
            let len = data.len() as i64;
            idx.iter().map(|&k| data.get(usize::try_from(if k < 0 { k.checked_add(len)? } else { k }).ok()?).copied()).collect()
        }
        _ => None,
    }
}

/// Ranks beyond this are not tracked (hostile graphs).
const MAX_INFER_RANK: usize = 64;

/// Normalizes an axis against `rank` (`None` when out of range).
fn norm_axis(a: i64, rank: usize) -> Option<usize> {
    let r = i64::try_from(rank).ok()?;
    let v = if a < 0 { a.checked_add(r)? } else { a };
    (0..r).contains(&v).then_some(v as usize)
}

/// Numpy broadcasting of known shapes.
fn broadcast(shapes: &[Vec<Dim>]) -> Option<Vec<Dim>> {
    let r = shapes.iter().map(Vec::len).max()?;
    let mut out = vec![Some(1i64); r];
    for (j, o) in out.iter_mut().enumerate() {
        let mut known: Option<i64> = Some(1);
        let mut unknown_not_one = false;
        for s in shapes {
            let off = r - s.len();
            if j < off {
                continue;
            }
            match s[j - off] {
                Some(1) => {}
                Some(v) => match known {
                    Some(1) => known = Some(v),
                    Some(k) if k == v => {}
                    _ => known = None,
                },
                None => unknown_not_one = true,
            }
        }
        // An unknown size broadcast with 1s only stays unknown; with a known
        // size > 1 it must be that size (or the model is invalid).
        *o = match known {
            Some(1) if unknown_not_one => None,
            k => k,
        };
    }
    Some(out)
}

fn product(dims: &[Dim]) -> Dim {
    dims.iter().try_fold(1i64, |acc, d| acc.checked_mul((*d)?).filter(|v| *v >= 0))
}

type ShapeOf<'a> = dyn Fn(usize) -> Option<Vec<Dim>> + 'a;
type ConstOf<'a> = dyn Fn(usize) -> Option<Vec<i64>> + 'a;
type AxesOf<'a> = dyn Fn(usize) -> Option<Option<Vec<i64>>> + 'a;

/// The output shapes of one node (per output; `None` where unknown).
fn infer_node(n: &NodeProto, shape: &ShapeOf, consts: &ConstOf, axes_of: &AxesOf) -> Option<Vec<Option<Vec<Dim>>>> {
    let one = |s: Option<Vec<Dim>>| Some(vec![s]);
    let op = onnx_op(n);
    match op {
        "Cast" | "CastLike" | "Relu" | "Tanh" | "Sigmoid" | "Gelu" | "Erf" | "Neg" | "Abs" | "Sqrt" | "Reciprocal" | "Exp"
        | "Log" | "Identity" | "Dropout" | "Softmax" | "LogSoftmax" | "Clip" | "LeakyRelu" | "Elu" | "Selu"
        | "HardSigmoid" | "HardSwish" | "Softplus" | "Mish" | "Not" | "Floor" | "Ceil" | "Round" | "Sign" | "Sin"
        | "Cos" | "IsNaN" | "IsInf" | "LayerNormalization" | "RMSNormalization" | "InstanceNormalization" | "BatchNormalization"
        | "LpNormalization" => one(shape(0)),
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Max" | "Min" | "Sum" | "Mean" | "Where" | "Equal" | "Less"
        | "LessOrEqual" | "Greater" | "GreaterOrEqual" | "And" | "Or" | "Xor" | "PRelu" | "Mod" | "BitShift" => {
            let shapes: Option<Vec<Vec<Dim>>> = (0..n.input.len()).map(shape).collect();
            one(broadcast(&shapes?))
        }
        "MatMul" => {
            let (a, b) = (shape(0)?, shape(1)?);
            let r = match (a.len(), b.len()) {
                (0, _) | (_, 0) => return None,
                (1, 1) => vec![],
                (1, _) => {
                    let mut v = b.clone();
                    v.remove(v.len() - 2);
                    v
                }
                (_, 1) => a[..a.len() - 1].to_vec(),
                _ => {
                    let mut v = broadcast(&[a[..a.len() - 2].to_vec(), b[..b.len() - 2].to_vec()])?;
                    v.push(a[a.len() - 2]);
                    v.push(b[b.len() - 1]);
                    v
                }
            };
            one(Some(r))
        }
        "Gemm" => {
            let (a, b) = (shape(0)?, shape(1)?);
            if a.len() != 2 || b.len() != 2 {
                return None;
            }
            let m = if attr_i(n, "transA").unwrap_or(0) != 0 { a[1] } else { a[0] };
            let nn = if attr_i(n, "transB").unwrap_or(0) != 0 { b[0] } else { b[1] };
            one(Some(vec![m, nn]))
        }
        "Reshape" => {
            let target = consts(1)?;
            let input = shape(0);
            let allowzero = attr_i(n, "allowzero").unwrap_or(0) != 0;
            let mut dims: Vec<Dim> = Vec::with_capacity(target.len());
            let mut infer_at = None;
            for (j, &v) in target.iter().enumerate() {
                dims.push(match v {
                    -1 if infer_at.is_none() => {
                        infer_at = Some(j);
                        None
                    }
                    0 if allowzero => Some(0),
                    0 => input.as_ref().and_then(|s| s.get(j).copied().flatten()),
                    v if v > 0 => Some(v),
                    _ => return None,
                });
            }
            if let Some(j) = infer_at {
                // Dims copied by 0 appear on both sides and cancel (an unknown
                // batch size copied through still lets -1 be computed).
                let copied = |k: usize| !allowzero && target.get(k) == Some(&0);
                let total = input.as_ref().and_then(|s| product(&s.iter().enumerate().filter(|(k, _)| !copied(*k)).map(|(_, d)| *d).collect::<Vec<_>>()));
                let rest = product(&dims.iter().enumerate().filter(|(k, _)| *k != j && !copied(*k)).map(|(_, d)| *d).collect::<Vec<_>>());
                dims[j] = match (total, rest) {
                    (Some(t), Some(r)) if r > 0 && t % r == 0 => Some(t / r),
                    _ => None,
                };
            }
            one(Some(dims))
        }
        "Transpose" => {
            let s = shape(0)?;
            let perm: Vec<i64> = attr_ints(n, "perm").filter(|p| !p.is_empty()).unwrap_or_else(|| (0..s.len() as i64).rev().collect());
            let mut seen = vec![false; s.len()];
            let mut out = Vec::with_capacity(s.len());
            if perm.len() != s.len() {
                return None;
            }
            for &p in &perm {
                let p = norm_axis(p, s.len())?;
                if std::mem::replace(&mut seen[p], true) {
                    return None;
                }
                out.push(s[p]);
            }
            one(Some(out))
        }
        "Flatten" => {
            let a = attr_i(n, "axis").unwrap_or(1);
            match shape(0) {
                Some(s) => {
                    let r = s.len() as i64;
                    let a = if a < 0 { a + r } else { a };
                    if !(0..=r).contains(&a) {
                        return None;
                    }
                    let (head, tail) = s.split_at(a as usize);
                    one(Some(vec![product(head), product(tail)]))
                }
                // Rank 2 whatever the input.
                None => one(Some(vec![None, None])),
            }
        }
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL1" | "ReduceL2"
        | "ReduceSumSquare" | "ReduceLogSum" | "ReduceLogSumExp" => {
            let s = shape(0)?;
            let keep = attr_i(n, "keepdims").unwrap_or(1) != 0;
            let axes: Vec<usize> = match axes_of(1)? {
                Some(a) => a.iter().map(|&v| norm_axis(v, s.len())).collect::<Option<_>>()?,
                None if attr_i(n, "noop_with_empty_axes").unwrap_or(0) != 0 => return one(Some(s)),
                None => (0..s.len()).collect(),
            };
            let out = s
                .iter()
                .enumerate()
                .filter_map(|(j, d)| match (axes.contains(&j), keep) {
                    (true, true) => Some(Some(1)),
                    (true, false) => None,
                    (false, _) => Some(*d),
                })
                .collect();
            one(Some(out))
        }
        "Unsqueeze" => {
            let s = shape(0)?;
            let axes = axes_of(1)??;
            let r = s.len().checked_add(axes.len())?;
            let mut ones = vec![false; r];
            for &a in &axes {
                if std::mem::replace(&mut ones[norm_axis(a, r)?], true) {
                    return None;
                }
            }
            let mut it = s.into_iter();
            let out = ones.iter().map(|&one| if one { Some(Some(1)) } else { it.next() }).collect::<Option<Vec<Dim>>>()?;
            one(Some(out))
        }
        "Squeeze" => {
            let s = shape(0)?;
            let axes: Vec<usize> = match axes_of(1)? {
                Some(a) => a.iter().map(|&v| norm_axis(v, s.len())).collect::<Option<_>>()?,
                None if s.iter().all(Option::is_some) => (0..s.len()).filter(|&j| s[j] == Some(1)).collect(),
                None => return None,
            };
            one(Some(s.iter().enumerate().filter(|(j, _)| !axes.contains(j)).map(|(_, d)| *d).collect()))
        }
        "Concat" => {
            let shapes: Vec<Vec<Dim>> = (0..n.input.len()).map(shape).collect::<Option<_>>()?;
            let r = shapes.first()?.len();
            if shapes.iter().any(|s| s.len() != r) {
                return None;
            }
            let a = norm_axis(attr_i(n, "axis")?, r)?;
            let out = (0..r)
                .map(|j| {
                    if j == a {
                        shapes.iter().try_fold(0i64, |acc, s| acc.checked_add(s[j]?))
                    } else {
                        shapes.iter().find_map(|s| s[j])
                    }
                })
                .collect();
            one(Some(out))
        }
        "Shape" => {
            let len = match (shape(0), attr_i(n, "start"), attr_i(n, "end")) {
                (Some(s), start, end) => {
                    let r = s.len() as i64;
                    let clamp = |v: i64| if v < 0 { (v + r).max(0) } else { v.min(r) };
                    let (b, e) = (clamp(start.unwrap_or(0)), clamp(end.unwrap_or(r)));
                    Some((e - b).max(0))
                }
                (None, ..) => None,
            };
            one(Some(vec![len]))
        }
        "Size" => one(Some(vec![])),
        "ConstantOfShape" => {
            let dims: Vec<Dim> = consts(0)?.into_iter().map(|v| (v >= 0).then_some(v)).collect();
            one(Some(dims))
        }
        "GatherElements" => one(shape(1)),
        "Gather" => {
            let (data, idx) = (shape(0)?, shape(1)?);
            let a = norm_axis(attr_i(n, "axis").unwrap_or(0), data.len())?;
            let mut out = data[..a].to_vec();
            out.extend(idx);
            out.extend_from_slice(&data[a + 1..]);
            one(Some(out))
        }
        "Expand" => {
            let s = shape(0)?;
            let target: Vec<Dim> = consts(1)?.into_iter().map(|v| (v >= 0).then_some(v)).collect();
            one(broadcast(&[s, target]))
        }
        "Slice" => {
            let s = shape(0)?;
            // Sizes of the axes not sliced stay; the sliced ones are not computed.
            let out = match consts(3) {
                Some(axes) => {
                    let axes: Vec<usize> = axes.iter().map(|&a| norm_axis(a, s.len())).collect::<Option<_>>()?;
                    s.iter().enumerate().map(|(j, d)| if axes.contains(&j) { None } else { *d }).collect()
                }
                None if n.input.get(3).is_none_or(|a| a.is_empty()) => {
                    let k = consts(1).map_or(s.len(), |v| v.len());
                    s.iter().enumerate().map(|(j, d)| if j < k { None } else { *d }).collect()
                }
                None => vec![None; s.len()],
            };
            one(Some(out))
        }
        "Split" => {
            let s = shape(0)?;
            let a = norm_axis(attr_i(n, "axis").unwrap_or(0), s.len())?;
            let mut base = s.clone();
            base[a] = None;
            Some(vec![Some(base); n.output.len()])
        }
        "Conv" | "ConvTranspose" | "MaxPool" | "AveragePool" => {
            let s = shape(0)?;
            one(Some(vec![None; s.len()]))
        }
        _ => None,
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
    // Hostile dims (negative, or a product past i64) describe no tensor: not a constant.
    let count = t.dims.iter().try_fold(1i64, |acc, &d| if d < 0 { None } else { acc.checked_mul(d) })?;
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
