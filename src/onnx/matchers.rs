//! Pattern matchers: find every LayerNorm and RMSNorm in a graph and prove it
//! is one. The norm kind ([`NormKind`]) is data on each match: it picks the
//! plugin node (`FP32LayerNorm` or `FP32RMSNorm`) the rewrite writes and the
//! words the summary prints; the checks are shared.
//!
//! LayerNorms recognized:
//! - `LayerNormalization` (opset >= 17), when its Mean/InvStdDev outputs are unused
//!   and its `stash_type` is absent or 1 (float32 statistics);
//! - the decomposition PyTorch's exporter emits below opset 17
//!   (`ReduceMean → Sub → Pow(2) → ReduceMean → Add(eps) → Sqrt → Div → [Mul(scale)] → [Add(bias)]`),
//!   with `Mul(d, d)` for the square, `Reciprocal` + `Mul` for the division, and
//!   `Cast` to FP32 before the statistics and back after them (mixed precision);
//! - the `tf.nn.moments` + `tf.nn.batch_normalization` form tf2onnx emits for
//!   Keras/TF LayerNorms (`Sub`, `Mul(d, d)`, `ReduceMean`, `Add(eps)`, `Sqrt`,
//!   `Reciprocal`, `[Mul(gamma)]`, `Mul(x, ·)`, `Mul(mean, ·)`, `Sub`/`Neg`, `Add`);
//! - `Div(1, Sqrt(var + eps))` then `Mul(x - mean, ·)`: `torch.rsqrt` as the
//!   TorchScript exporter writes it;
//! - ONNX's own LayerNormalization function body (`onnx.inliner`): `Flatten`,
//!   stash-type `Cast`s, the one-pass variance `ReduceMean(x·x) - mean·mean`,
//!   `Reshape(·, Shape(X))`; the summary says the variance formula changes.
//!
//! RMSNorms recognized ([`rms`]):
//! - `RMSNormalization` (opset >= 23) with `stash_type` float;
//! - the decomposition of HF Llama/Qwen2/Mistral/T5/Gemma RMSNorms and
//!   `torch.nn.RMSNorm` as the TorchScript and dynamo exporters write it:
//!   `[Cast(x, FLOAT)] → Pow(2) | Mul(x, x) → ReduceMean → Add(eps) → Sqrt →
//!   Reciprocal | Div(1, ·) → Mul(x, ·)` (or `Pow(·, -0.5)`, or `Div(x, Sqrt(·))`),
//!   then `Cast` back and `Mul(weight)` in either order; Gemma's
//!   `Mul(1 + weight)`, folded into a new scale initializer when the weight is
//!   a constant.
//!
//! Epsilon 0 (`Sqrt(var)` with no `Add`, or `Add(var, 0)`) is replaced
//! with `epsilon = 0` (the plugins take it and give the graph's NaN on
//! constant rows). Refused: any match the plugin's field checks would refuse,
//! and a `stash_type` other than float32 (native, or the function body's
//! `Cast` to it).
//!
//! After the norms are chosen, [`skip::fuse`] folds the residual `Add`
//! before each LayerNorm into it where that is exact (`FP32SkipLayerNorm`),
//! and [`fill_scales`] gives a LayerNorm with a Bias but no Scale a Scale of
//! ones (the plugins' inputs are positional; TensorRT's ONNX parser refuses
//! an empty input name).
//!
//! A decomposed LayerNorm candidate starts at a `ReduceMean` whose output feeds
//! `Sub(x, mean)` with the same `x` (the centring step); a decomposed RMSNorm
//! candidate at a `ReduceMean` of a square that is not such a centred `x`,
//! followed by `Add(eps)` or the root. Every candidate either becomes a
//! [`Candidate`] or a [`Rejected`] with the reason.

mod rms;
pub mod skip;

use super::graph::{attr, attr_f, attr_i, attr_ints, decode_tensor, dt, onnx_op, Dim, GraphIndex};
use crate::plugin::config::PluginConfig;
use std::collections::HashSet;

/// Which norm a match computes, and so which plugin node replaces it: the
/// kernels' and the plugins' own kind.
pub use crate::problem::NormKind;

/// What the patcher needs of a norm kind.
impl NormKind {
    /// The `op_type` of the plugin node (the name its creators are registered under).
    pub fn plugin_op(self) -> &'static str {
        crate::plugin::plugin_name(self)
    }

    /// What the summary calls one of them.
    pub fn noun(self) -> &'static str {
        match self {
            NormKind::LayerNorm => "LayerNorm",
            NormKind::RmsNorm => "RMSNorm",
            NormKind::SkipLayerNorm => "SkipLayerNorm",
        }
    }
}

/// A scale the rewrite stores as a new initializer, computed here: Gemma's
/// `1 + weight` with a constant weight, rounded once to the `Add`'s type
/// (what the graph's `Add` computes, since the exact sum rounds once).
#[derive(Clone, Debug, PartialEq)]
pub struct FoldedScale {
    /// The initializer's name: the output of the `Add` it replaces.
    pub name: String,
    pub dtype: i32,
    pub dims: Vec<i64>,
    pub values: Vec<f64>,
}

/// A proven norm, ready to be replaced by one plugin node.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub kind: NormKind,
    /// Pattern, for the summary ("LayerNormalization", "decomposed (Pow, Div)", ...).
    pub label: String,
    /// Name for the plugin node.
    pub name: String,
    /// The node the match started from (for messages and `--only`).
    pub anchor: String,
    /// Indices of the nodes the plugin node replaces.
    pub nodes: Vec<usize>,
    pub x: String,
    pub scale: Option<String>,
    /// Always `None` for an RMSNorm.
    pub bias: Option<String>,
    pub y: String,
    pub axis: i64,
    pub epsilon: f32,
    /// The pattern's output is FP32 while X is not (mixed-precision exports
    /// without the cast back): the node needs `output_type = 1`.
    pub output_fp32: bool,
    pub notes: Vec<String>,
    /// The graph computed the variance as E[x^2] - E[x]^2 (ONNX's function
    /// body); the plugin's two-pass variance differs where that cancelled.
    pub variance_changed: bool,
    /// `scale` names a new initializer with these values (the rewrite adds it).
    pub scale_fold: Option<Box<FoldedScale>>,
    /// A Scale of ones for a LayerNorm without one whose Bias (or, fused,
    /// ResidualBias) comes after it: the plugins' inputs are positional, and
    /// TensorRT's ONNX parser turns an empty input name into a null tensor,
    /// which `addPluginV2`/`addPluginV3` refuse. Set by [`fill_scales`]
    /// (and [`skip::fuse`]); written as a new initializer.
    pub scale_fill: Option<Box<FoldedScale>>,
    /// The residual `Add` fused in: the node is an `FP32SkipLayerNorm`
    /// ([`skip`]); `None` for every match until [`skip::fuse`] runs.
    pub skip: Option<Box<skip::SkipFusion>>,
}

impl Candidate {
    /// The `op_type` of the plugin node: the kind's, or `FP32SkipLayerNorm`
    /// for a LayerNorm with its residual `Add` fused in.
    pub fn plugin_op(&self) -> &'static str {
        if self.skip.is_some() {
            skip::SKIP_PLUGIN_OP
        } else {
            self.kind.plugin_op()
        }
    }

    /// The initializers the rewrite adds for this node, in order: a folded
    /// scale, a Scale of ones before a Bias or ResidualBias, the zeros a fused
    /// node needs for a Bias before its ResidualBias.
    pub fn new_initializers(&self) -> Vec<&FoldedScale> {
        let mut v: Vec<&FoldedScale> = self.scale_fold.as_deref().into_iter().collect();
        v.extend(self.scale_fill.as_deref());
        if let Some(s) = &self.skip {
            v.extend(s.fill_bias.iter());
        }
        v
    }

    /// The Scale input the plugin node gets: the match's, or the ones written for it.
    pub fn scale_input(&self) -> Option<&str> {
        self.scale.as_deref().or(self.scale_fill.as_deref().map(|f| f.name.as_str()))
    }
}

/// A norm-like candidate that is not replaced, and why.
#[derive(Clone, Debug)]
pub struct Rejected {
    /// The norm it looked like (`None`: not a pattern, e.g. an unknown `--only` name).
    pub kind: Option<NormKind>,
    pub label: String,
    pub anchor: String,
    pub reason: String,
}

pub enum Found {
    Match(Candidate),
    Reject(Rejected),
}

/// All candidates of the graph, in node order; no node is in two matches.
pub fn find_candidates(ix: &GraphIndex) -> Vec<Found> {
    let mut out = Vec::new();
    let mut taken: HashSet<usize> = HashSet::new();
    for i in 0..ix.graph.node.len() {
        if taken.contains(&i) {
            continue;
        }
        // The matcher table: each anchor op, the matchers that start from it.
        let found = match onnx_op(ix.node(i)) {
            "LayerNormalization" => Some(match_native(ix, i, &LAYER_NORMALIZATION)),
            "RMSNormalization" => Some(match_native(ix, i, &RMS_NORMALIZATION)),
            "ReduceMean" => match_decomposed(ix, i).or_else(|| rms::match_decomposed(ix, i)),
            _ => None,
        };
        let found = found.map(validate);
        match found {
            Some(Found::Match(c)) if c.nodes.iter().any(|n| taken.contains(n)) => out.push(Found::Reject(Rejected {
                kind: Some(c.kind),
                label: c.label,
                anchor: c.anchor,
                reason: "overlaps a norm matched earlier".into(),
            })),
            Some(Found::Match(c)) => {
                taken.extend(c.nodes.iter().copied());
                out.push(Found::Match(c));
            }
            Some(r) => out.push(r),
            None => {}
        }
    }
    out
}

/// A match the plugin would refuse at build time (its field checks,
/// [`PluginConfig::new`]: epsilon finite and >= 0, axis in range) is
/// reported instead of replaced.
fn validate(f: Found) -> Found {
    let Found::Match(mut c) = f else { return f };
    // The plugins' own field checks: epsilon finite and >= 0 (0: their
    // kernels compute the graph's 0/0 = NaN on constant rows), axis in range.
    if c.epsilon == 0.0 {
        // -0 is 0: write +0.
        c.epsilon = 0.0;
    }
    let checked = i32::try_from(c.axis)
        .map_err(|_| format!("axis {} is out of range", c.axis))
        .and_then(|axis| PluginConfig::new(c.epsilon, axis, 0).map_err(|e| e.to_string()));
    match checked {
        Ok(_) => Found::Match(c),
        Err(e) => Found::Reject(Rejected {
            kind: Some(c.kind),
            label: c.label,
            anchor: c.anchor,
            reason: format!("{} would refuse it ({e}); not replaced", c.kind.plugin_op()),
        }),
    }
}

/// Gives each chosen LayerNorm that has a Bias but no Scale (a decomposed
/// form without the `Mul`, a native one whose ones scale was dropped) a Scale
/// of ones, [`Candidate::scale_fill`]: the plugin node's inputs are
/// positional (X, Scale, Bias), and an empty Scale name is refused by
/// TensorRT's ONNX parser (it passes a null tensor to `addPluginV2`/`addPluginV3`,
/// which refuse it). The ones have the Bias's shape (the normalized dims,
/// proven by the match) or X's normalized dims, in X's type (exact in any);
/// a norm for which neither is known is not replaced. Fused nodes got theirs
/// from [`skip::fuse`]. Returns the norms not replaced, and why.
pub fn fill_scales(ix: &GraphIndex, cands: &mut Vec<Candidate>, names: &mut NameSet) -> Vec<Rejected> {
    let mut rejected = vec![];
    cands.retain_mut(|c| {
        let Some(b) = c.bias.as_deref().filter(|_| c.kind == NormKind::LayerNorm && c.scale.is_none() && c.scale_fill.is_none()) else {
            return true;
        };
        let known = |t: &str, from: usize| ix.shape(t).and_then(|s| s.get(from..).and_then(|d| d.iter().copied().collect::<Option<Vec<i64>>>()));
        let x_dims = || {
            let rank = ix.shape(&c.x)?.len();
            let axis = if c.axis < 0 { rank.checked_sub(usize::try_from(c.axis.unsigned_abs()).ok()?)? } else { usize::try_from(c.axis).ok()? };
            known(&c.x, axis)
        };
        let dtype = [ix.elem_type(&c.x), ix.elem_type(b)].into_iter().flatten().find(|&t| is_float_type(t)).unwrap_or(dt::FLOAT);
        let dims = known(b, 0).or_else(x_dims);
        match dims.and_then(|d| Some((d.iter().try_fold(1usize, |acc, &v| acc.checked_mul(usize::try_from(v).ok()?))?, d))) {
            Some((count, dims)) => {
                let name = names.fresh(&format!("{}/scale_ones", c.name));
                c.scale_fill = Some(Box::new(FoldedScale { name, dtype, dims, values: vec![1.0; count] }));
                true
            }
            None => {
                rejected.push(Rejected {
                    kind: Some(c.kind),
                    label: c.label.clone(),
                    anchor: c.anchor.clone(),
                    reason: format!(
                        "bias '{b}' without a scale: the plugin node needs a Scale of ones before it (TensorRT's ONNX parser refuses an empty input name), and the normalized dims are unknown; not replaced"
                    ),
                });
                false
            }
        }
    });
    rejected
}

/// Tensor names in use in a graph, for new initializers.
pub struct NameSet(HashSet<String>);

impl NameSet {
    pub fn new(ix: &GraphIndex) -> Self {
        let mut s: HashSet<String> = HashSet::new();
        for n in &ix.graph.node {
            s.extend(n.input.iter().chain(n.output.iter()).cloned());
        }
        s.extend(ix.graph.initializer.iter().filter_map(|t| t.name.clone()));
        s.extend(ix.graph.input.iter().chain(ix.graph.output.iter()).chain(ix.graph.value_info.iter()).filter_map(|v| v.name.clone()));
        NameSet(s)
    }

    /// `base`, or `base_1`, `base_2`, ... : a name no tensor has, now taken.
    pub fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut k = 1;
        while self.0.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.0.insert(name.clone());
        name
    }
}

fn display(ix: &GraphIndex, i: usize) -> String {
    let n = ix.node(i);
    match n.name.as_deref() {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => format!("node #{i} ({})", n.op_type.as_deref().unwrap_or("?")),
    }
}

fn is_float_type(t: i32) -> bool {
    matches!(t, dt::FLOAT | dt::FLOAT16 | dt::BFLOAT16)
}

fn rank(ix: &GraphIndex, x: &str) -> Option<usize> {
    ix.shape(x).map(|s| s.len())
}

/// Checks that a scale or bias tensor has exactly the normalized shape of X
/// (its last `k` dims), so the plugin applies it as the original did.
fn check_param(ix: &GraphIndex, what: &str, p: &str, x: &str, k: Option<usize>) -> Result<(), String> {
    let Some(k) = k else {
        return Err(format!("{what} '{p}': the number of normalized dims is unknown (rank of X unknown)"));
    };
    if let Some(t) = ix.elem_type(p) {
        if !is_float_type(t) {
            return Err(format!("{what} '{p}' is {}, not float32/float16/bfloat16", dt::name(t)));
        }
    }
    let Some(ps) = ix.shape(p) else { return Err(format!("{what} '{p}' has no known shape")) };
    if ps.len() != k {
        return Err(format!("{what} '{p}' has shape {}, not the {k} normalized dim(s)", fmt_shape(&ps)));
    }
    let xs = ix.shape(x);
    for (j, pd) in ps.iter().enumerate() {
        let xd: Dim = xs.as_ref().and_then(|s| s.len().checked_sub(k).and_then(|off| s[off + j]));
        match (pd, xd) {
            (Some(a), Some(b)) if *a == b => {}
            (Some(a), None) if *a > 1 => {}
            _ => {
                return Err(format!(
                    "{what} '{p}' shape {} does not match the normalized dims of X{}",
                    fmt_shape(&ps),
                    xs.as_ref().map(|s| format!(" {}", fmt_shape(s))).unwrap_or_default()
                ))
            }
        }
    }
    Ok(())
}

fn fmt_shape(s: &[Dim]) -> String {
    let parts: Vec<String> = s.iter().map(|d| d.map_or("?".to_string(), |v| v.to_string())).collect();
    format!("[{}]", parts.join(", "))
}

/// What tells the native norm ops apart; [`match_native`] does the rest.
struct NativeOp {
    kind: NormKind,
    label: &'static str,
    /// The parameter inputs after X, by slot (1, 2, ...); any further input is refused.
    params: &'static [&'static str],
    /// Outputs besides Y, by slot: the plugin has none, so they must be unused.
    extra_outputs: &'static [(usize, &'static str)],
    /// Refuse a Scale of another type than X's: RMSNormalization's schema
    /// types Y as the Scale (`V`) while ONNX's shape inference (1.23) types
    /// it as X, so such a node has no one meaning to keep.
    scale_typed_like_x: bool,
}

const LAYER_NORMALIZATION: NativeOp = NativeOp {
    kind: NormKind::LayerNorm,
    label: "LayerNormalization",
    params: &["scale", "bias"],
    extra_outputs: &[(1, "Mean"), (2, "InvStdDev")],
    scale_typed_like_x: false,
};

const RMS_NORMALIZATION: NativeOp = NativeOp {
    kind: NormKind::RmsNorm,
    label: "RMSNormalization",
    params: &["scale"],
    extra_outputs: &[],
    scale_typed_like_x: true,
};

fn match_native(ix: &GraphIndex, i: usize, op: &NativeOp) -> Found {
    let n = ix.node(i);
    let anchor = display(ix, i);
    let label = op.label.to_string();
    let reject = |reason: String| Found::Reject(Rejected { kind: Some(op.kind), label: label.clone(), anchor: anchor.clone(), reason });
    let x = n.input.first().cloned().unwrap_or_default();
    let y = n.output.first().cloned().unwrap_or_default();
    if x.is_empty() || y.is_empty() {
        return reject("missing input X or output Y".into());
    }
    if let Some(extra) = n.input.get(op.params.len() + 1..).and_then(|rest| rest.iter().find(|s| !s.is_empty())) {
        return reject(format!("input '{extra}' is beyond X and {}; the plugin has no such input", op.params.join(", ")));
    }
    for &(slot, what) in op.extra_outputs {
        if let Some(o) = n.output.get(slot).filter(|o| !o.is_empty()) {
            if !ix.consumers(o).is_empty() || ix.graph_outputs.contains(o.as_str()) {
                return reject(format!("its {what} output '{o}' is used; the plugin has no such output"));
            }
        }
    }
    // stash_type: the precision of the statistics (ONNX default 1, float32).
    // The plugins have no other; 11 (float64) in particular asks for more than they give.
    if let Some(a) = attr(n, "stash_type") {
        match a.i {
            Some(1) => {}
            Some(t) => return reject(stash_refusal(t, op.kind)),
            None => return reject("stash_type is not an integer attribute".into()),
        }
    }
    let xt = ix.elem_type(&x);
    if let Some(t) = xt {
        if !is_float_type(t) {
            return reject(format!("X is {}, not float32/float16/bfloat16", dt::name(t)));
        }
    }
    let axis = attr_i(n, "axis").unwrap_or(-1);
    let epsilon = attr_f(n, "epsilon").unwrap_or(1e-5);
    // `unsigned_abs`: -i64::MIN overflows (found by the onnx_graph fuzz target); `validate` refuses such an axis.
    let k = if axis < 0 { usize::try_from(axis.unsigned_abs()).ok() } else { rank(ix, &x).and_then(|r| r.checked_sub(axis as usize)) };
    let param = |slot: usize| n.input.get(slot).filter(|s| !s.is_empty()).cloned();
    let mut params: Vec<Option<String>> = (1..=op.params.len()).map(param).collect();
    let mut nodes = vec![i];
    let mut notes = vec![];
    for (what, slot) in op.params.iter().zip(params.iter_mut()) {
        let Some(p) = slot.clone() else { continue };
        // Only refuse what is provably different; a native node with an
        // unknown-shaped parameter already has the plugin's semantics.
        if ix.shape(&p).is_some() && k.is_some() {
            if let Err(e) = check_param(ix, what, &p, &x, k) {
                // A scale of ones of another shape (torch's RMSNormalization
                // without weight: ConstantOfShape(Shape(X), 1)) scales nothing.
                match (*what == "scale").then(|| ones_tensor(ix, &p)).flatten() {
                    Some(producers) => {
                        notes.push(format!("scale '{p}' is all ones: dropped"));
                        nodes.extend(producers);
                        *slot = None;
                    }
                    None => return reject(e),
                }
            }
        }
    }
    let scale = params.first().cloned().flatten();
    let bias = params.get(1).cloned().flatten();
    if op.scale_typed_like_x {
        if let (Some(a), Some(b)) = (xt, scale.as_deref().and_then(|s| ix.elem_type(s))) {
            if a != b {
                return reject(format!(
                    "X is {} and its scale {}: ONNX types Y as the scale (schema) or as X (shape inference); not replaced",
                    dt::name(a),
                    dt::name(b)
                ));
            }
        }
    }
    let name = match n.name.as_deref() {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => format!("{y}/{}", op.kind.plugin_op()),
    };
    Found::Match(Candidate {
        kind: op.kind,
        label,
        name,
        anchor,
        nodes,
        x,
        scale,
        bias,
        y,
        axis,
        epsilon,
        output_fp32: false,
        notes,
        variance_changed: false,
        scale_fold: None,
        scale_fill: None,
        skip: None,
    })
}

/// `p` is all ones: a constant, or `ConstantOfShape` with the value 1. The
/// nodes that computed it only for this use (the `ConstantOfShape`), to be
/// replaced with the match; a `Constant` goes with the rewrite's dead constants.
fn ones_tensor(ix: &GraphIndex, p: &str) -> Option<Vec<usize>> {
    if let Some(c) = ix.constant(p) {
        return (!c.values.is_empty() && c.values.iter().all(|&v| v == 1.0)).then(Vec::new);
    }
    let n = ix.producer_node(p)?;
    let node = ix.node(n);
    // Without a value attribute ConstantOfShape fills with 0.
    let value = (onnx_op(node) == "ConstantOfShape").then(|| attr(node, "value")?.t.as_ref().and_then(decode_tensor)).flatten()?;
    if value.values != [1.0] {
        return None;
    }
    let private = ix.consumer_nodes(p).len() == 1 && !ix.graph_outputs.contains(p);
    Some(if private { vec![n] } else { vec![] })
}

/// Reduction axes of a ReduceMean: `Ok(None)` for all axes.
fn reduce_axes(ix: &GraphIndex, i: usize) -> Result<Option<Vec<i64>>, String> {
    let n = ix.node(i);
    if attr_i(n, "keepdims").unwrap_or(1) != 1 {
        return Err(format!("'{}' has keepdims=0", display(ix, i)));
    }
    if let Some(a) = attr_ints(n, "axes") {
        return Ok(Some(a));
    }
    match n.input.get(1).filter(|s| !s.is_empty()) {
        Some(t) => match ix.constant(t) {
            Some(c) => Ok(Some(c.values.iter().map(|&v| v as i64).collect())),
            None => Err(format!("the axes of '{}' are not a constant", display(ix, i))),
        },
        None if attr_i(n, "noop_with_empty_axes").unwrap_or(0) != 0 => {
            Err(format!("'{}' reduces nothing (noop_with_empty_axes)", display(ix, i)))
        }
        None => Ok(None),
    }
}

/// Turns reduction axes into the plugin's `axis` and the normalized-dims count.
fn trailing_axis(axes: &Option<Vec<i64>>, rank: Option<usize>) -> Result<(i64, Option<usize>), String> {
    let Some(axes) = axes else { return Ok((0, rank)) };
    if axes.is_empty() {
        return Err("empty reduction axes".into());
    }
    let k = axes.len();
    let norm: Vec<i64> = if axes.iter().all(|&a| a < 0) {
        axes.clone()
    } else {
        let r = rank.ok_or_else(|| format!("reduction axes {axes:?} are not negative and the rank of X is unknown"))? as i64;
        axes.iter().map(|&a| if a >= 0 { a - r } else { a }).collect()
    };
    let mut sorted = norm.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let want: Vec<i64> = (-(k as i64)..0).collect();
    if sorted.len() != k || sorted != want {
        return Err(format!("reduction over axes {axes:?} is not over the trailing axes"));
    }
    if let Some(r) = rank {
        if k > r {
            return Err(format!("reduction axes {axes:?} exceed the rank {r} of X"));
        }
    }
    Ok((-(k as i64), Some(k)))
}

/// Scalar value of a constant, looking through one `Cast` of a constant.
fn scalar_const(ix: &GraphIndex, t: &str) -> Option<(f64, Option<usize>)> {
    if let Some(c) = ix.constant(t) {
        return c.scalar().map(|v| (v, None));
    }
    let p = ix.producer_node(t)?;
    let n = ix.node(p);
    if onnx_op(n) == "Cast" {
        let c = ix.constant(n.input.first()?)?;
        return c.scalar().map(|v| (v, Some(p)));
    }
    None
}

/// The other input of a binary node, given one of them.
fn other_input<'a>(n: &'a super::proto::NodeProto, t: &str) -> Option<&'a str> {
    if n.input.len() != 2 {
        return None;
    }
    if n.input[0] == t {
        Some(&n.input[1])
    } else if n.input[1] == t {
        Some(&n.input[0])
    } else {
        None
    }
}

/// The single consumer of `t` with the given op type, if it has exactly one
/// consumer node with that op.
fn next_op(ix: &GraphIndex, t: &str, ops: &[&str]) -> Option<usize> {
    let v: Vec<usize> = ix.consumer_nodes(t).into_iter().filter(|&c| ops.contains(&onnx_op(ix.node(c)))).collect();
    (v.len() == 1).then(|| v[0])
}

/// The only consumer of `t`, when it is an `op` node and `t` is no graph output.
fn sole_consumer(ix: &GraphIndex, t: &str, op: &str) -> Option<usize> {
    let cs = ix.consumer_nodes(t);
    match cs.as_slice() {
        [c] if onnx_op(ix.node(*c)) == op && !ix.graph_outputs.contains(t) => Some(*c),
        _ => None,
    }
}

fn out0(ix: &GraphIndex, i: usize) -> String {
    ix.node(i).output.first().cloned().unwrap_or_default()
}

/// The node `n` squares `t`: `Mul(t, t)` or `Pow(t, 2)`. `Some(cast)` with
/// the `Cast` of the exponent constant, if any; `Err` for a `Pow` of `t`
/// whose exponent is not the constant 2.
fn square_of(ix: &GraphIndex, n: usize, t: &str) -> Option<Result<Option<usize>, String>> {
    let node = ix.node(n);
    match onnx_op(node) {
        "Mul" if node.input.len() == 2 && node.input[0] == t && node.input[1] == t => Some(Ok(None)),
        "Pow" if node.input.first().map(String::as_str) == Some(t) => Some(match node.input.get(1).and_then(|e| scalar_const(ix, e)) {
            Some((2.0, cast)) => Ok(cast),
            _ => Err("Pow exponent is not the constant 2".into()),
        }),
        _ => None,
    }
}

/// The one-pass variance `Sub(ReduceMean(x·x), mean·mean)` of ONNX's own
/// LayerNormalization function body (`MeanOfSquare - SquareOfMean`), with
/// the squares as `Mul(t, t)` or `Pow(t, 2)`: its nodes, the second
/// ReduceMean, and the variance tensor.
fn one_pass_variance(ix: &GraphIndex, x: &str, mean: &str) -> Option<(Vec<usize>, usize, String)> {
    for sqm in ix.consumer_nodes(mean) {
        let Some(Ok(c1)) = square_of(ix, sqm, mean) else { continue };
        let sm = out0(ix, sqm);
        let Some(vsub) = ix.consumer_nodes(&sm).into_iter().find(|&c| {
            let n = ix.node(c);
            onnx_op(n) == "Sub" && n.input.len() == 2 && n.input[1] == sm
        }) else {
            continue;
        };
        let Some(r2) = ix.producer_node(&ix.node(vsub).input[0]).filter(|&p| onnx_op(ix.node(p)) == "ReduceMean") else { continue };
        let Some(sqx) = ix.node(r2).input.first().and_then(|t| ix.producer_node(t)) else { continue };
        let Some(Ok(c2)) = square_of(ix, sqx, x) else { continue };
        let mut nodes = vec![sqm, vsub, r2, sqx];
        nodes.extend(c1);
        nodes.extend(c2);
        return Some((nodes, r2, out0(ix, vsub)));
    }
    None
}

/// `Div(1, t)` with a constant one of at most the rank of `x` (the TorchScript
/// exporter's `rsqrt`: `Div(Constant([1.]), Sqrt(·))`): the node and the
/// `Cast` of the constant, if any.
fn div_one(ix: &GraphIndex, t: &str, xrank: Option<usize>) -> Option<(usize, Option<usize>)> {
    ix.consumer_nodes(t).into_iter().find_map(|c| {
        let n = ix.node(c);
        if onnx_op(n) != "Div" || n.input.len() != 2 || n.input[1] != t {
            return None;
        }
        let (v, cast) = scalar_const(ix, &n.input[0])?;
        let dims = ix.shape(&n.input[0])?.len();
        (v == 1.0 && (dims <= 1 || xrank.is_some_and(|r| dims <= r))).then_some((c, cast))
    })
}

/// ONNX's LayerNormalization function body wraps the statistics in
/// `Flatten(X, axis)` ... `Reshape(·, Shape(X))`: X, the Flatten node, and
/// the plugin axis and normalized-dims count in terms of X.
struct FlattenWrap {
    flatten: usize,
    x: String,
    axis: Result<(i64, usize), String>,
}

fn flatten_wrap(ix: &GraphIndex, x2d: &str) -> Option<FlattenWrap> {
    let f = ix.producer_node(x2d)?;
    let n = ix.node(f);
    if onnx_op(n) != "Flatten" {
        return None;
    }
    let x = n.input.first().filter(|s| !s.is_empty())?.clone();
    let a = attr_i(n, "axis").unwrap_or(1);
    let r = rank(ix, &x);
    let axis = match (a, r) {
        (a, Some(r)) if a < 0 && a >= -(r as i64) => Ok((a, (-a) as usize)),
        (a, Some(r)) if a >= 0 && (a as u64) < r as u64 => Ok((a - r as i64, r - a as usize)),
        (a, None) if a < 0 => Ok((a, (-a) as usize)),
        (a, None) => Err(format!("Flatten axis {a} is not negative and the rank of X is unknown")),
        (a, Some(r)) => Err(format!("Flatten axis {a} normalizes no dims of the rank-{r} X")),
    };
    Some(FlattenWrap { flatten: f, x, axis })
}

/// `Reshape(t, Shape(x))` (whole shape) as the single consumer of `t`,
/// after an optional `Identity`: the nodes (Identity, Reshape, Shape) and the output.
fn reshape_back(ix: &GraphIndex, t: &str, x: &str) -> Option<(Vec<usize>, String)> {
    let single = |t: &str, op: &str| sole_consumer(ix, t, op);
    let mut nodes = vec![];
    let mut cur = t.to_string();
    if let Some(i) = single(&cur, "Identity") {
        nodes.push(i);
        cur = out0(ix, i);
    }
    let rs = single(&cur, "Reshape")?;
    let rn = ix.node(rs);
    if rn.input.len() != 2 || rn.input[0] != cur || attr_i(rn, "allowzero").unwrap_or(0) != 0 {
        return None;
    }
    let sh = ix.producer_node(&rn.input[1])?;
    let sn = ix.node(sh);
    let whole = attr_i(sn, "start").unwrap_or(0) == 0 && attr_i(sn, "end").is_none();
    if onnx_op(sn) != "Shape" || sn.input.first().map(String::as_str) != Some(x) || !whole {
        return None;
    }
    nodes.extend([rs, sh]);
    Some((nodes, out0(ix, rs)))
}

/// Adds to `nodes` what only they need: dead nodes (reaching no graph
/// output) that read their outputs, and producers of their inputs that are
/// dead or compute only from shapes (`Shape(X)` and the like) and whose every
/// consumer is in the set or dead. Never a producer of `keep` (the plugin's
/// inputs) or a `Constant` (the rewrite removes dead constants itself).
fn absorb_support(ix: &GraphIndex, nodes: &mut Vec<usize>, keep: &[&str]) {
    let mut set: HashSet<usize> = nodes.iter().copied().collect();
    loop {
        let mut added = vec![];
        for &d in &ix.dead {
            if !set.contains(&d) && ix.node(d).input.iter().any(|t| ix.producer_node(t).is_some_and(|p| set.contains(&p))) {
                added.push(d);
            }
        }
        for &n in &set {
            for t in &ix.node(n).input {
                let Some(p) = ix.producer_node(t) else { continue };
                if set.contains(&p) || added.contains(&p) || onnx_op(ix.node(p)) == "Constant" {
                    continue;
                }
                let pn = ix.node(p);
                let outs: Vec<&String> = pn.output.iter().filter(|o| !o.is_empty()).collect();
                let ok = outs.iter().all(|o| {
                    !keep.contains(&o.as_str())
                        && !ix.graph_outputs.contains(o.as_str())
                        && ix.consumers(o).iter().all(|c| set.contains(c) || ix.dead.contains(c))
                }) && (ix.dead.contains(&p) || outs.iter().all(|o| ix.is_shape_only(o)));
                if ok {
                    added.push(p);
                }
            }
        }
        if added.is_empty() {
            break;
        }
        for a in added {
            if set.insert(a) {
                nodes.push(a);
            }
        }
    }
}

fn match_decomposed(ix: &GraphIndex, r1: usize) -> Option<Found> {
    let rn = ix.node(r1);
    let xin = rn.input.first()?.clone();
    let mean = out0(ix, r1);
    // The signature of a candidate: Sub(x, mean(x)).
    let sub = ix
        .consumer_nodes(&mean)
        .into_iter()
        .find(|&c| onnx_op(ix.node(c)) == "Sub" && ix.node(c).input.len() == 2 && ix.node(c).input[0] == xin && ix.node(c).input[1] == mean)?;
    let anchor = display(ix, r1);
    let mut d = out0(ix, sub);
    // PyTorch's FP16 export at opset < 17 upcasts the deviation once,
    // Cast(x - mean) to double, and squares and divides the cast value
    // (seen in tests/fixtures/onnx/torch_gpt2_block_fp16_op13.onnx).
    let mut head_nodes = vec![];
    if let Some(c) = next_op(ix, &d, &["Cast"]).filter(|_| ix.consumer_nodes(&d).len() == 1) {
        head_nodes.push(c);
        d = out0(ix, c);
    }
    let mut label = String::from("decomposed");
    let rej = |label: &str, reason: String| {
        Some(Found::Reject(Rejected { kind: Some(NormKind::LayerNorm), label: label.to_string(), anchor: anchor.clone(), reason }))
    };

    // Variance: the mean of the squared deviation, Pow(d, 2) or Mul(d, d);
    // or E[x^2] - E[x]^2 (ONNX's own LayerNormalization function body).
    let mut nodes = vec![r1, sub];
    nodes.extend(head_nodes);
    let sq = ix.consumer_nodes(&d).into_iter().find_map(|c| square_of(ix, c, &d).map(|r| (c, r)));
    let (sq_kind, r2, one_pass, var) = match sq {
        Some((_, Err(e))) => return rej(&label, e),
        Some((sq, Ok(cast))) => {
            nodes.push(sq);
            nodes.extend(cast);
            let Some(r2) = next_op(ix, &out0(ix, sq), &["ReduceMean"]) else {
                return rej(&label, "the square is not averaged by a ReduceMean".into());
            };
            nodes.push(r2);
            (onnx_op(ix.node(sq)).to_string(), r2, false, out0(ix, r2))
        }
        None => match one_pass_variance(ix, &xin, &mean) {
            Some((vn, r2, var)) => {
                nodes.extend(vn);
                ("E[x^2]-E[x]^2".to_string(), r2, true, var)
            }
            None => return rej(&label, "no square of x - mean (Pow(d, 2) or Mul(d, d)) nor E[x^2] - E[x]^2".into()),
        },
    };
    // ONNX's function body casts Flatten(X) to the stash type before the
    // statistics: a stash type other than float32 is refused as a native
    // LayerNormalization's `stash_type` is.
    if one_pass {
        if let Some(err) = function_body_stash(ix, &xin) {
            return rej("LayerNormalization function body (E[x^2]-E[x]^2)", err);
        }
    }
    let axes1 = match reduce_axes(ix, r1) {
        Ok(a) => a,
        Err(e) => return rej(&label, e),
    };
    let axes2 = match reduce_axes(ix, r2) {
        Ok(a) => a,
        Err(e) => return rej(&label, e),
    };
    let xrank = rank(ix, &xin);
    let (axis, k) = match trailing_axis(&axes1, xrank) {
        Ok(v) => v,
        Err(e) => return rej(&label, e),
    };
    if trailing_axis(&axes2, xrank).map(|v| v.0) != Ok(axis) {
        return rej(&label, "mean and variance reduce over different axes".into());
    }
    // Epsilon: Add(var, eps); an exporter's optimizer may have folded a zero
    // epsilon away (Sqrt(var)): recognised, then refused below.
    let (std_in, epsilon, folded) = match add_epsilon(ix, &var) {
        Some(Ok(eps)) => {
            nodes.extend(eps.nodes);
            (eps.sum, eps.value, false)
        }
        Some(Err(e)) => return rej(&label, e),
        None if next_op(ix, &var, &["Sqrt"]).is_some() => (var.clone(), 0.0, true),
        None => return rej(&label, "variance is not followed by Add(eps)".into()),
    };
    let Some(sqrt) = next_op(ix, &std_in, &["Sqrt"]) else { return rej(&label, "variance + eps is not followed by Sqrt".into()) };
    nodes.push(sqrt);
    let std = out0(ix, sqrt);

    // Torch: Div(d, std), Mul(d, Reciprocal(std)) or Mul(d, Div(1, std)) (rsqrt).
    // Moments: Reciprocal → [Mul(gamma)] → Mul(x, ·), Mul(mean, ·).
    let mut scale = None;
    let mut bias = None;
    let mut notes = vec![];
    let mut y: String;
    let div = ix.consumer_nodes(&std).into_iter().find(|&c| onnx_op(ix.node(c)) == "Div" && ix.node(c).input.len() == 2 && ix.node(c).input[0] == d && ix.node(c).input[1] == std);
    let recip = next_op(ix, &std, &["Reciprocal"]).map(|r| (r, None, "Reciprocal+Mul")).or_else(|| div_one(ix, &std, xrank).map(|(r, c)| (r, c, "Div(1, ·)+Mul")));
    let mut torch_norm: Option<usize> = None;
    let mut moments = false;
    let norm_kind;
    if let Some(div) = div {
        torch_norm = Some(div);
        norm_kind = "Div";
    } else if let Some((rc, cast, kind)) = recip {
        nodes.push(rc);
        nodes.extend(cast);
        let inv = out0(ix, rc);
        if let Some(m) = ix.consumer_nodes(&inv).into_iter().find(|&c| onnx_op(ix.node(c)) == "Mul" && other_input(ix.node(c), &inv) == Some(d.as_str())) {
            torch_norm = Some(m);
            norm_kind = kind;
        } else {
            moments = true;
            norm_kind = "moments";
        }
    } else {
        return rej(&label, "the standard deviation is not divided into x - mean".into());
    }
    let mut head_cast: Option<usize> = None;
    let mut tail_cast: Option<usize> = None;
    // ONNX's function body: X2D = Flatten(X, axis), XU = Cast(X2D), ... Reshape(·, Shape(X)).
    let x2d = match ix.producer_node(&xin) {
        Some(p) if onnx_op(ix.node(p)) == "Cast" => ix.node(p).input.first().cloned().unwrap_or_default(),
        _ => xin.clone(),
    };
    let wrap = if axis == -1 && xrank == Some(2) { flatten_wrap(ix, &x2d) } else { None };
    // A parameter that is Flatten(P, axis = 0) of the normalized shape of the
    // wrapped X (the function body's Scale2D, B2D), and the Flatten node.
    let mut flat_params = vec![];

    if let Some(nm) = torch_norm {
        label = format!("decomposed ({sq_kind}, {norm_kind}");
        nodes.push(nm);
        let mut cur = out0(ix, nm);
        // Mixed precision: Cast back after the statistics.
        if let Some(c) = next_op(ix, &cur, &["Cast"]).filter(|_| ix.consumer_nodes(&cur).len() == 1) {
            tail_cast = Some(c);
            nodes.push(c);
            cur = out0(ix, c);
        }
        // Affine: Mul(scale) then Add(bias), each absorbed when provably per-column.
        let single = |t: &str, op: &str| sole_consumer(ix, t, op);
        let param = |what: &str, p: String| -> Result<(String, Option<usize>), String> {
            let direct = check_param(ix, what, &p, &xin, k);
            if direct.is_ok() {
                return Ok((p, None));
            }
            if let Some(FlattenWrap { x, axis: Ok((_, k0)), .. }) = &wrap {
                if let Some(f) = ix.producer_node(&p).filter(|&f| onnx_op(ix.node(f)) == "Flatten" && attr_i(ix.node(f), "axis") == Some(0)) {
                    let p0 = ix.node(f).input.first().cloned().unwrap_or_default();
                    if ix.consumer_nodes(&p).len() == 1 && check_param(ix, what, &p0, x, Some(*k0)).is_ok() {
                        return Ok((p0, Some(f)));
                    }
                }
            }
            direct.map(|()| (p, None))
        };
        if let Some(m) = single(&cur, "Mul") {
            let p = other_input(ix.node(m), &cur).unwrap_or("").to_string();
            match param("scale", p) {
                Ok((p, f)) => {
                    scale = Some(p);
                    flat_params.extend(f);
                    nodes.push(m);
                    cur = out0(ix, m);
                }
                Err(e) => notes.push(format!("scale left as a separate Mul: {e}")),
            }
        }
        if let Some(a) = single(&cur, "Add") {
            let p = other_input(ix.node(a), &cur).unwrap_or("").to_string();
            match param("bias", p) {
                Ok((p, f)) => {
                    bias = Some(p);
                    flat_params.extend(f);
                    nodes.push(a);
                    cur = out0(ix, a);
                }
                Err(e) => notes.push(format!("bias left as a separate Add: {e}")),
            }
        }
        y = cur;
    } else {
        debug_assert!(moments);
        label = "moments (tf.nn.moments + batch_normalization".to_string();
        let rc = *nodes.last()?;
        let mut inv = out0(ix, rc);
        // Optional Mul(inv, gamma): the Mul whose other input is not x or mean.
        let inv_cons = ix.consumer_nodes(&inv);
        if inv_cons.len() == 1 && onnx_op(ix.node(inv_cons[0])) == "Mul" {
            let g = inv_cons[0];
            let p = other_input(ix.node(g), &inv).unwrap_or("").to_string();
            if p != xin && p != mean {
                if let Err(e) = check_param(ix, "scale", &p, &xin, k) {
                    return rej(&label, e);
                }
                scale = Some(p);
                nodes.push(g);
                inv = out0(ix, g);
            }
        }
        let muls = ix.consumer_nodes(&inv);
        let mx = muls.iter().copied().find(|&c| onnx_op(ix.node(c)) == "Mul" && other_input(ix.node(c), &inv) == Some(xin.as_str()));
        let mm = muls.iter().copied().find(|&c| onnx_op(ix.node(c)) == "Mul" && other_input(ix.node(c), &inv) == Some(mean.as_str()));
        let (Some(mx), Some(mm)) = (mx, mm) else {
            return rej(&label, "1/std is not applied as x·inv + (beta - mean·inv)".into());
        };
        nodes.extend([mx, mm]);
        let (xo, mo) = (out0(ix, mx), out0(ix, mm));
        let mo_cons = ix.consumer_nodes(&mo);
        if mo_cons.len() != 1 {
            return rej(&label, format!("intermediate '{mo}' is used by {} nodes", mo_cons.len()));
        }
        let c = mo_cons[0];
        let cn = ix.node(c);
        match onnx_op(cn) {
            // beta - mean·inv, then x·inv + that
            "Sub" if cn.input.len() == 2 && cn.input[1] == mo && cn.input[0] != xo => {
                let p = cn.input[0].clone();
                if let Err(e) = check_param(ix, "bias", &p, &xin, k) {
                    return rej(&label, e);
                }
                let Some(a) = next_op(ix, &out0(ix, c), &["Add"]).filter(|&a| other_input(ix.node(a), &out0(ix, c)) == Some(xo.as_str())) else {
                    return rej(&label, "beta - mean·inv is not added to x·inv".into());
                };
                bias = Some(p);
                nodes.extend([c, a]);
                y = out0(ix, a);
            }
            // x·inv - mean·inv
            "Sub" if cn.input.len() == 2 && cn.input[0] == xo && cn.input[1] == mo => {
                nodes.push(c);
                y = out0(ix, c);
            }
            // x·inv + (-mean·inv)
            "Neg" => {
                let Some(a) = next_op(ix, &out0(ix, c), &["Add"]).filter(|&a| other_input(ix.node(a), &out0(ix, c)) == Some(xo.as_str())) else {
                    return rej(&label, "-mean·inv is not added to x·inv".into());
                };
                nodes.extend([c, a]);
                y = out0(ix, a);
            }
            _ => return rej(&label, "mean·inv is not subtracted from x·inv".into()),
        }
    }

    // Mixed precision: Cast to FP32 before the statistics.
    if let Some(p) = ix.producer_node(&xin) {
        let pn = ix.node(p);
        if onnx_op(pn) == "Cast" && attr_i(pn, "to") == Some(i64::from(dt::FLOAT)) {
            let cons: HashSet<usize> = ix.consumer_nodes(&xin).into_iter().collect();
            if cons.iter().all(|c| nodes.contains(c)) && !ix.graph_outputs.contains(xin.as_str()) {
                head_cast = Some(p);
            }
        }
    }
    if head_cast.is_some() || tail_cast.is_some() {
        label.push_str(", Cast");
    }
    if one_pass {
        label = label.replacen("decomposed (", "LayerNormalization function body (", 1);
    }
    label.push(')');

    // Element types: X as the plugin sees it, and the pattern's output type.
    let mut x = xin.clone();
    let mut output_fp32 = false;
    let stats_type = ix.elem_type(&xin);
    if let Some(t) = stats_type {
        if !is_float_type(t) {
            return rej(&label, format!("X is {}, not float32/float16/bfloat16", dt::name(t)));
        }
    }
    let out_type = match tail_cast {
        Some(c) => attr_i(ix.node(c), "to").map(|v| v as i32),
        None => stats_type,
    };
    if let Some(hc) = head_cast {
        let orig = ix.node(hc).input.first().cloned().unwrap_or_default();
        match (ix.elem_type(&orig), out_type) {
            (Some(o), Some(t)) if is_float_type(o) && o == t => {
                x = orig;
                nodes.push(hc);
            }
            (Some(o), Some(dt::FLOAT)) if is_float_type(o) => {
                x = orig;
                nodes.push(hc);
                output_fp32 = o != dt::FLOAT;
            }
            _ => {}
        }
    }
    if x == xin && tail_cast.is_some() && out_type != stats_type {
        // The statistics run in FP32 and the cast back has no matching cast in.
        match (stats_type, out_type) {
            (Some(dt::FLOAT), _) | (None, _) => {
                return rej(&label, "the Cast after the statistics does not undo a Cast of X (element types unknown or different)".into());
            }
            _ => return rej(&label, "unsupported Cast around the statistics".into()),
        }
    }

    // The function body's Flatten(X) ... Reshape(·, Shape(X)): the plugin
    // takes X itself and normalizes its trailing dims from the Flatten axis.
    let mut axis = axis;
    let back = wrap.as_ref().filter(|w| x == x2d && ix.node(w.flatten).output.first() == Some(&x2d)).and_then(|w| reshape_back(ix, &y, &w.x).map(|b| (w, b)));
    match back {
        Some((w, (extra, y2))) => match &w.axis {
            Ok((a, _)) => {
                axis = *a;
                x = w.x.clone();
                y = y2;
                nodes.extend(extra);
                nodes.push(w.flatten);
                nodes.extend(flat_params.iter().copied());
            }
            Err(e) => return rej(&label, e.clone()),
        },
        None if !flat_params.is_empty() => {
            return rej(&label, "the Flatten of X is not undone by Reshape(·, Shape(X)), so its flattened scale/bias cannot be absorbed".into());
        }
        None => {}
    }
    let keep: Vec<&str> = [Some(x.as_str()), scale.as_deref(), bias.as_deref()].into_iter().flatten().collect();
    absorb_support(ix, &mut nodes, &keep);

    if let Err(e) = private_intermediates(ix, &nodes, &y) {
        return rej(&label, e);
    }

    // Epsilon 0 (folded away, or `Add(var, 0)`): the plugin takes it and,
    // like the graph, gives 0/0 = NaN on a constant row.
    let epsilon = epsilon as f32;
    if folded {
        notes.push(EPS_FOLDED_NOTE.into());
    } else if epsilon == 0.0 {
        notes.push(EPS_ZERO_NOTE.into());
    }
    nodes.sort_unstable();
    nodes.dedup();
    let name = plugin_name(ix, &nodes, &y, NormKind::LayerNorm);
    if notes.iter().any(|n| n.contains("left as a separate")) && scale.is_none() && bias.is_none() {
        notes.insert(0, "matched without affine".into());
    }
    Some(Found::Match(Candidate {
        kind: NormKind::LayerNorm,
        label,
        name,
        anchor,
        nodes,
        x,
        scale,
        bias,
        y,
        axis,
        epsilon,
        output_fp32,
        notes,
        variance_changed: one_pass,
        scale_fold: None,
        scale_fill: None,
        skip: None,
    }))
}

/// The refusal of a stash type other than float32, worded as for the native ops.
fn stash_refusal(t: i64, kind: NormKind) -> String {
    let ty = i32::try_from(t).map_or_else(|_| format!("type {t}"), dt::name);
    format!("stash_type = {t} ({ty}): {} computes its statistics in float32 only (stash_type 1)", kind.plugin_op())
}

/// `xin = Cast(Flatten(X), to)` with `to` not float32: the function body of
/// a LayerNormalization with that `stash_type`, refused with its reason.
fn function_body_stash(ix: &GraphIndex, xin: &str) -> Option<String> {
    let c = ix.producer_node(xin).map(|c| ix.node(c)).filter(|c| onnx_op(c) == "Cast")?;
    let flat = c.input.first().and_then(|t| ix.producer_node(t)).filter(|&f| onnx_op(ix.node(f)) == "Flatten");
    let to = attr_i(c, "to")?;
    (flat.is_some() && to != i64::from(dt::FLOAT)).then(|| stash_refusal(to, NormKind::LayerNorm))
}

/// `Add(var, eps)`, the single `Add` consuming `var`, with a scalar constant
/// epsilon (possibly through a `Cast`); `None` when `var` feeds no such `Add`.
struct Epsilon {
    /// The `Add`'s output, `var + eps`.
    sum: String,
    value: f64,
    /// The `Add` and the `Cast` of the constant, if any.
    nodes: Vec<usize>,
}

fn add_epsilon(ix: &GraphIndex, var: &str) -> Option<Result<Epsilon, String>> {
    let add = next_op(ix, var, &["Add"])?;
    let eps_t = other_input(ix.node(add), var).unwrap_or("").to_string();
    Some(match scalar_const(ix, &eps_t) {
        Some((v, cast)) if v.is_finite() && v >= 0.0 => {
            let mut nodes = vec![add];
            nodes.extend(cast);
            Ok(Epsilon { sum: out0(ix, add), value: v, nodes })
        }
        Some((v, _)) => Err(format!("epsilon '{eps_t}' = {v:e} is negative or not finite")),
        None => Err(format!("epsilon '{eps_t}' is not a scalar constant")),
    })
}

/// No intermediate of the match (every output but `y`) may be used outside
/// it or be a graph output: the plugin node computes only `y`.
fn private_intermediates(ix: &GraphIndex, nodes: &[usize], y: &str) -> Result<(), String> {
    let set: HashSet<usize> = nodes.iter().copied().collect();
    for &n in nodes {
        for o in &ix.node(n).output {
            if o.is_empty() || o == y {
                continue;
            }
            if ix.graph_outputs.contains(o.as_str()) {
                return Err(format!("intermediate '{o}' is a graph output"));
            }
            if let Some(&c) = ix.consumers(o).iter().find(|c| !set.contains(c)) {
                return Err(format!("intermediate '{o}' is also used by '{}'", display(ix, c)));
            }
        }
    }
    Ok(())
}

/// The note on a norm whose epsilon an exporter folded away (`Sqrt(var)`, no `Add`).
pub const EPS_FOLDED_NOTE: &str = "epsilon folded away (no Add before the root): epsilon = 0; a constant row gives NaN (0/0), as in the graph";
/// The note on a norm with `Add(var, 0)` (an epsilon that is 0 in float32).
pub const EPS_ZERO_NOTE: &str = "epsilon is 0 in float32: a constant row gives NaN (0/0), as in the graph";

/// What the summary line of a replaced one-pass variance says.
pub const VARIANCE_NOTE: &str =
    "variance formula changed: the graph's E[x^2] - E[x]^2 (cancels when |mean| >> std) becomes the plugin's mean of (x - mean)^2";

/// `/prefix/FP32LayerNorm` (or `FP32RMSNorm`) when the replaced nodes share
/// a `/`-scoped prefix (as PyTorch names them), else `Y/FP32LayerNorm`.
fn plugin_name(ix: &GraphIndex, nodes: &[usize], y: &str, kind: NormKind) -> String {
    let names: Vec<&str> = nodes.iter().filter_map(|&n| ix.node(n).name.as_deref()).filter(|s| !s.is_empty()).collect();
    if let Some((first, rest)) = names.split_first().filter(|_| names.len() == nodes.len()) {
        let mut len = first.len();
        for s in rest {
            len = len.min(first.bytes().zip(s.bytes()).take_while(|(a, b)| a == b).count());
        }
        // Bytes, not `str` slicing: the common prefix of two names may end
        // inside a multi-byte character ("/é" and "/ê"); a '/' found in it
        // is ASCII, so `..=slash` is a character boundary.
        if let Some(slash) = first.as_bytes()[..len].iter().rposition(|&b| b == b'/') {
            if slash > 0 {
                return format!("{}{}", &first[..=slash], kind.plugin_op());
            }
        }
    }
    format!("{y}/{}", kind.plugin_op())
}
