//! The decomposed RMSNorm: `y = x / sqrt(mean(x^2) + eps) * scale`, as
//! exporters write HF Llama/Qwen2/Mistral/T5/Gemma RMSNorms and
//! `torch.nn.RMSNorm`.
//!
//! A candidate starts at a `ReduceMean` of a square of `t` (`Pow(t, 2)` or
//! `Mul(t, t)`) whose mean feeds an `Add` or a root; `t` must not be a
//! LayerNorm's centred `x - mean(x)` (that is the LayerNorm matcher's). Then:
//!
//! - `[Add(eps)]`: no `Add` is epsilon 0 (the plugin takes it);
//! - the inverse root: `Sqrt` then `Reciprocal`, `Div(1, ·)` or a division
//!   `Div(x, ·)`; or `Pow(·, -0.5)`;
//! - the normalization `Mul(x, 1/rms)` (or the `Div`), where `x` is `t` or
//!   holds the same values: the tensor `t` was cast from, or another `Cast` to
//!   FP32 of it (T5 multiplies the uncast `x`; a widening cast is exact);
//! - a `Cast` back to X's type and a `Mul(weight)`, in either order; the
//!   weight may be Gemma's `1 + w` (`Add(1, w)`), folded into a new
//!   initializer when `w` is a constant (through a `Cast`).
//!
//! X is the tensor before the `Cast`s to FP32 when only the match reads
//! them; the plugin then reads the 16-bit tensor, and writes FP32
//! (`output_type = 1`) where the graph has no `Cast` back.

use super::{
    absorb_support, add_epsilon, check_param, display, div_one, is_float_type, next_op, other_input, out0, plugin_name, private_intermediates,
    rank, reduce_axes, scalar_const, sole_consumer, square_of, trailing_axis, Candidate, FoldedScale, Found, NormKind, Rejected,
    EPS_FOLDED_NOTE, EPS_ZERO_NOTE,
};
use crate::onnx::graph::{attr_i, dt, onnx_op, GraphIndex};

/// Where a candidate starts: `ReduceMean(square(t))`.
struct Start {
    reduce: usize,
    square: usize,
    /// The `Cast` of the exponent constant of `Pow(t, 2)`, if any.
    exponent_cast: Option<usize>,
    /// "Pow" or "Mul", for the label.
    square_op: &'static str,
    t: String,
    /// The mean of the squares.
    ms: String,
}

/// `Some` when `r` starts an RMSNorm candidate: a matched one, or a refused
/// one with the reason. `None`: not an RMSNorm-like pattern at all.
pub(super) fn match_decomposed(ix: &GraphIndex, r: usize) -> Option<Found> {
    let start = find_start(ix, r)?;
    Some(match build(ix, &start) {
        Ok(c) => Found::Match(c),
        Err((label, reason)) => Found::Reject(Rejected { kind: Some(NormKind::RmsNorm), label, anchor: display(ix, r), reason }),
    })
}

fn find_start(ix: &GraphIndex, r: usize) -> Option<Start> {
    let square = ix.producer_node(ix.node(r).input.first()?)?;
    let sn = ix.node(square);
    let t = sn.input.first().filter(|t| !t.is_empty())?.clone();
    let Some(Ok(exponent_cast)) = square_of(ix, square, &t) else { return None };
    if is_centred(ix, &t) {
        return None;
    }
    let ms = out0(ix, r);
    // A mean of squares that is not followed by `+ eps` or a root is some
    // other statistic (a loss, a variance), not a candidate.
    let rooted = ix.consumer_nodes(&ms).into_iter().any(|c| matches!(onnx_op(ix.node(c)), "Add" | "Sqrt" | "Pow"));
    if !rooted {
        return None;
    }
    let square_op = if onnx_op(sn) == "Pow" { "Pow" } else { "Mul" };
    Some(Start { reduce: r, square, exponent_cast, square_op, t, ms })
}

/// `t` is `x - ReduceMean(x)` (through one `Cast`, as PyTorch's FP16
/// exports upcast it): the square of a LayerNorm, reported by its matcher.
fn is_centred(ix: &GraphIndex, t: &str) -> bool {
    let mut t = t;
    if let Some(p) = ix.producer_node(t).filter(|&p| onnx_op(ix.node(p)) == "Cast") {
        match ix.node(p).input.first() {
            Some(src) => t = src,
            None => return false,
        }
    }
    let Some(sub) = ix.producer_node(t).map(|p| ix.node(p)).filter(|n| onnx_op(n) == "Sub") else { return false };
    let (Some(x), Some(mean)) = (sub.input.first(), sub.input.get(1)) else { return false };
    ix.producer_node(mean).map(|m| ix.node(m)).is_some_and(|m| onnx_op(m) == "ReduceMean" && m.input.first() == Some(x))
}

/// The reciprocal root of `mean(x^2) + eps`, as the graph computes it.
enum Root {
    /// `Sqrt(v)`: the match divides by it.
    Sqrt { sqrt: usize, rms: String },
    /// `1 / sqrt(v)` (`Reciprocal`, `Div(1, ·)` or `Pow(·, -0.5)`): the match multiplies by it.
    Inverse { nodes: Vec<usize>, inv: String, how: &'static str },
}

fn inverse_root(ix: &GraphIndex, v: &str, xrank: Option<usize>) -> Result<Root, String> {
    if let Some(sqrt) = next_op(ix, v, &["Sqrt"]) {
        let rms = out0(ix, sqrt);
        if let Some(rc) = next_op(ix, &rms, &["Reciprocal"]) {
            return Ok(Root::Inverse { nodes: vec![sqrt, rc], inv: out0(ix, rc), how: "Reciprocal+Mul" });
        }
        if let Some((d, cast)) = div_one(ix, &rms, xrank) {
            let mut nodes = vec![sqrt, d];
            nodes.extend(cast);
            return Ok(Root::Inverse { nodes, inv: out0(ix, d), how: "Div(1, ·)+Mul" });
        }
        return Ok(Root::Sqrt { sqrt, rms });
    }
    if let Some(p) = next_op(ix, v, &["Pow"]).filter(|&p| ix.node(p).input.first().map(String::as_str) == Some(v)) {
        return match ix.node(p).input.get(1).and_then(|e| scalar_const(ix, e)) {
            Some((-0.5, cast)) => {
                let mut nodes = vec![p];
                nodes.extend(cast);
                Ok(Root::Inverse { nodes, inv: out0(ix, p), how: "Pow(-0.5)+Mul" })
            }
            _ => Err("the mean of squares is raised to a power other than the constant -0.5".into()),
        };
    }
    Err("the mean of squares (+ eps) is not followed by Sqrt or Pow(·, -0.5)".into())
}

/// The tensor `t` was exactly widened from: `Cast(s, to = FLOAT)` of a
/// float32/float16/bfloat16 `s` gives `(s, Some(cast))`; otherwise `(t, None)`.
fn widened_from(ix: &GraphIndex, t: &str) -> (String, Option<usize>) {
    let cast = ix.producer_node(t).filter(|&p| {
        let n = ix.node(p);
        onnx_op(n) == "Cast" && attr_i(n, "to") == Some(i64::from(dt::FLOAT))
    });
    let src = cast.and_then(|c| ix.node(c).input.first()).filter(|s| ix.elem_type(s).is_some_and(is_float_type));
    match (src, cast) {
        (Some(s), Some(c)) => (s.clone(), Some(c)),
        _ => (t.to_string(), None),
    }
}

/// `a` holds the values of `t`: the same tensor, or both exact widenings
/// of one tensor (T5 squares `Cast(x)` and multiplies `x`).
fn same_values(ix: &GraphIndex, t: &str, a: &str) -> bool {
    a == t || widened_from(ix, a).0 == widened_from(ix, t).0
}

/// The normalization: `Div(a, rms)` or `Mul(a, inv)` with `a` holding the
/// values of `t`: the node and `a`.
fn normalization(ix: &GraphIndex, root: &Root, t: &str) -> Option<(usize, String)> {
    match root {
        Root::Sqrt { rms, .. } => ix.consumer_nodes(rms).into_iter().find_map(|c| {
            let n = ix.node(c);
            let a = n.input.first()?;
            (onnx_op(n) == "Div" && n.input.len() == 2 && n.input[1] == *rms && same_values(ix, t, a)).then(|| (c, a.clone()))
        }),
        Root::Inverse { inv, .. } => ix.consumer_nodes(inv).into_iter().find_map(|c| {
            let n = ix.node(c);
            let a = other_input(n, inv)?;
            (onnx_op(n) == "Mul" && same_values(ix, t, a)).then(|| (c, a.to_string()))
        }),
    }
}

/// What the plugin reads as X: the tensor before the `Cast`s to FP32 when
/// those casts feed only the given nodes (they are absorbed), else the
/// normalized operand `a` itself.
fn choose_x(ix: &GraphIndex, t: &str, a: &str, inside: &[usize]) -> (String, Vec<usize>) {
    let (src, cast_t) = widened_from(ix, t);
    let (src_a, cast_a) = widened_from(ix, a);
    let mut casts: Vec<usize> = cast_t.into_iter().chain(cast_a).collect();
    casts.dedup();
    let private = |c: usize| {
        ix.node(c).output.iter().filter(|o| !o.is_empty()).all(|o| !ix.graph_outputs.contains(o.as_str()) && ix.consumers(o).iter().all(|k| inside.contains(k)))
    };
    if !casts.is_empty() && src == src_a && casts.iter().all(|&c| private(c)) {
        (src, casts)
    } else {
        (a.to_string(), vec![])
    }
}

/// The weight of `Mul(cur, p)`: the scale input and the nodes it brings.
struct Weight {
    scale: String,
    nodes: Vec<usize>,
    fold: Option<Box<FoldedScale>>,
    /// Gemma's `1 + w`, for the label.
    one_plus: bool,
}

fn weight(ix: &GraphIndex, mul: usize, cur: &str, x: &str, k: Option<usize>) -> Result<Weight, String> {
    let p = other_input(ix.node(mul), cur).unwrap_or("").to_string();
    check_param(ix, "scale", &p, x, k)?;
    let Some((add, w, one_cast)) = one_plus(ix, &p) else {
        return Ok(Weight { scale: p, nodes: vec![], fold: None, one_plus: false });
    };
    match fold_one_plus(ix, &p, &w) {
        Some((fold, w_cast)) => {
            let mut nodes = vec![add];
            nodes.extend(one_cast);
            nodes.extend(w_cast);
            Ok(Weight { scale: p, nodes, fold: Some(Box::new(fold)), one_plus: true })
        }
        // A weight that is no constant: the `Add` stays and its output is Scale.
        None => Ok(Weight { scale: p, nodes: vec![], fold: None, one_plus: true }),
    }
}

/// `p = Add(1, w)` (either order) read by nothing else: the `Add`, `w`, and
/// the `Cast` of the constant one, if any.
fn one_plus(ix: &GraphIndex, p: &str) -> Option<(usize, String, Option<usize>)> {
    let add = ix.producer_node(p).filter(|&a| onnx_op(ix.node(a)) == "Add")?;
    if ix.consumer_nodes(p).len() != 1 || ix.graph_outputs.contains(p) {
        return None;
    }
    let n = ix.node(add);
    let (a, b) = (n.input.first()?, n.input.get(1)?);
    for (one, w) in [(a, b), (b, a)] {
        if let Some((1.0, cast)) = scalar_const(ix, one) {
            return Some((add, w.clone(), cast));
        }
    }
    None
}

/// `1 + w` computed here when `w` is a constant (or a `Cast` of one, read
/// only by the `Add`) of the output's size: the values rounded as the graph
/// rounds them (to the `Cast`'s type, then the sum to the `Add`'s type), and
/// the `Cast` of `w` to absorb.
fn fold_one_plus(ix: &GraphIndex, p: &str, w: &str) -> Option<(FoldedScale, Option<usize>)> {
    let dtype = ix.elem_type(p).filter(|&t| is_float_type(t))?;
    let dims: Vec<i64> = ix.shape(p)?.into_iter().collect::<Option<_>>()?;
    let (values, w_cast) = match ix.constant(w) {
        Some(c) => (c.values, None),
        None => {
            let c = ix.producer_node(w).filter(|&c| onnx_op(ix.node(c)) == "Cast" && ix.consumer_nodes(w).len() == 1)?;
            (ix.constant(ix.node(c).input.first()?)?.values, Some(c))
        }
    };
    let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?))?;
    if values.len() != count {
        return None;
    }
    let values = values.into_iter().map(|v| round_to(dtype, round_to(dtype, v) + 1.0)).collect();
    Some((FoldedScale { name: p.to_string(), dtype, dims, values }, w_cast))
}

/// `v` rounded to the nearest value of a float element type.
pub(crate) fn round_to(dtype: i32, v: f64) -> f64 {
    match dtype {
        dt::FLOAT16 => half::f16::from_f64(v).to_f64(),
        dt::BFLOAT16 => half::bf16::from_f64(v).to_f64(),
        dt::FLOAT => f64::from(v as f32),
        _ => v,
    }
}

/// The steps after the normalization: a `Cast` back to X's type and the
/// weight `Mul`, each at most once, in either order.
struct Tail {
    nodes: Vec<usize>,
    y: String,
    cast_back: bool,
    weight: Option<Weight>,
    notes: Vec<String>,
}

fn tail(ix: &GraphIndex, from: String, x: &str, k: Option<usize>) -> Tail {
    let mut out = Tail { nodes: vec![], y: from, cast_back: false, weight: None, notes: vec![] };
    let x_type = ix.elem_type(x);
    loop {
        let cast = sole_consumer(ix, &out.y, "Cast").filter(|&c| !out.cast_back && x_type.is_some() && attr_i(ix.node(c), "to") == x_type.map(i64::from));
        if let Some(c) = cast {
            out.cast_back = true;
            out.nodes.push(c);
            out.y = out0(ix, c);
            continue;
        }
        if out.weight.is_some() {
            break;
        }
        let Some(m) = sole_consumer(ix, &out.y, "Mul") else { break };
        match weight(ix, m, &out.y, x, k) {
            Ok(w) => {
                out.nodes.push(m);
                out.nodes.extend(w.nodes.iter().copied());
                out.y = out0(ix, m);
                out.weight = Some(w);
            }
            Err(e) => {
                out.notes.push(format!("matched without scale; the Mul after it stays: {e}"));
                break;
            }
        }
    }
    out
}

/// `output_type = 1` when the match's output is FP32 and X is 16-bit;
/// refused when the output is of another type than X's or FP32.
fn output_fp32(ix: &GraphIndex, x: &str, y: &str, any_cast: bool) -> Result<bool, String> {
    let xt = ix.elem_type(x);
    if let Some(t) = xt.filter(|&t| !is_float_type(t)) {
        return Err(format!("X is {}, not float32/float16/bfloat16", dt::name(t)));
    }
    if !any_cast {
        // No Cast in the match: every op keeps X's element type.
        return Ok(false);
    }
    match (xt, ix.elem_type(y)) {
        (Some(a), Some(b)) if a == b => Ok(false),
        (Some(_), Some(dt::FLOAT)) => Ok(true),
        (Some(a), Some(b)) => Err(format!("the output is {} for X in {}; the plugin writes X's type or float32", dt::name(b), dt::name(a))),
        _ => Err("the element types around the Casts are unknown".into()),
    }
}

type Refusal = (String, String);

fn build(ix: &GraphIndex, s: &Start) -> Result<Candidate, Refusal> {
    let mut label = format!("decomposed ({}", s.square_op);
    let fail = |label: &str, e: String| (format!("{label})"), e);
    let mut nodes = vec![s.reduce, s.square];
    nodes.extend(s.exponent_cast);
    let xrank = rank(ix, &s.t);
    let axes = reduce_axes(ix, s.reduce).map_err(|e| fail(&label, e))?;
    let (axis, k) = trailing_axis(&axes, xrank).map_err(|e| fail(&label, e))?;

    let (root_in, epsilon, folded) = match add_epsilon(ix, &s.ms) {
        Some(Ok(eps)) => {
            nodes.extend(eps.nodes);
            (eps.sum, eps.value, false)
        }
        Some(Err(e)) => return Err(fail(&label, e)),
        None => (s.ms.clone(), 0.0, true),
    };
    let root = inverse_root(ix, &root_in, xrank).map_err(|e| fail(&label, e))?;
    match &root {
        Root::Sqrt { sqrt, .. } => {
            label.push_str(", Div");
            nodes.push(*sqrt);
        }
        Root::Inverse { nodes: n, how, .. } => {
            label.push_str(", ");
            label.push_str(how);
            nodes.extend(n.iter().copied());
        }
    }
    let (norm, a) = normalization(ix, &root, &s.t).ok_or_else(|| fail(&label, "the root is not divided into x (Div(x, ·) or Mul(x, 1/·))".into()))?;
    nodes.push(norm);

    let (x, head_casts) = choose_x(ix, &s.t, &a, &nodes);
    nodes.extend(head_casts.iter().copied());
    let t = tail(ix, out0(ix, norm), &x, k);
    nodes.extend(t.nodes.iter().copied());
    if !head_casts.is_empty() || t.cast_back {
        label.push_str(", Cast");
    }
    if t.weight.as_ref().is_some_and(|w| w.one_plus) {
        label.push_str(", 1 + w");
    }
    label.push(')');
    let y = t.y.clone();
    let output_fp32 = output_fp32(ix, &x, &y, !head_casts.is_empty() || t.cast_back).map_err(|e| (label.clone(), e))?;
    let (scale, scale_fold) = match t.weight {
        Some(w) => (Some(w.scale), w.fold),
        None => (None, None),
    };
    let keep: Vec<&str> = [Some(x.as_str()), scale.as_deref()].into_iter().flatten().collect();
    absorb_support(ix, &mut nodes, &keep);
    private_intermediates(ix, &nodes, &y).map_err(|e| (label.clone(), e))?;

    // Epsilon 0: the plugin takes it and, like the graph, gives 0/0 = NaN on an all-zero row.
    let epsilon = epsilon as f32;
    nodes.sort_unstable();
    nodes.dedup();
    let mut notes = t.notes;
    if folded {
        notes.push(EPS_FOLDED_NOTE.into());
    } else if epsilon == 0.0 {
        notes.push(EPS_ZERO_NOTE.into());
    }
    if let Some(f) = &scale_fold {
        notes.push(format!("scale = 1 + weight folded into the new initializer '{}'", f.name));
    }
    Ok(Candidate {
        kind: NormKind::RmsNorm,
        label,
        name: plugin_name(ix, &nodes, &y, NormKind::RmsNorm),
        anchor: display(ix, s.reduce),
        nodes,
        x,
        scale,
        bias: None,
        y,
        axis,
        epsilon,
        output_fp32,
        notes,
        variance_changed: false,
        scale_fold,
        scale_fill: None,
        skip: None,
    })
}
