//! Residual Adds fused into the LayerNorm after them: `FP32SkipLayerNorm`.
//!
//! A replaced LayerNorm whose X is the output of `Add(A, B)` becomes one
//! `FP32SkipLayerNorm` node (inputs X, Skip, Scale, Bias, ResidualBias) when
//! that is provably what the graph computes:
//!
//! - `Add(A, B)`, A and B of one shape (X's: no broadcasting; sizes known,
//!   or declared with the same `dim_param`) and one element type, X's: X = A,
//!   Skip = B. The plugin's sum is one rounding in that type, as the `Add`'s.
//! - `Add(Add(P, bias), R)` (a dense layer's bias, then the residual, as
//!   BERT-style exports write it), the inner `Add` read by nothing else and
//!   `bias` a constant of the normalized dims in that type: X = P,
//!   ResidualBias = bias, Skip = R; the plugin rounds `P + bias`, then adds R
//!   and rounds again, as the two `Add`s do. Otherwise the outer `Add` alone
//!   is fused, its X the inner `Add`'s output.
//! - When the sum has readers besides the norm (pre-LN blocks feed it to the
//!   next residual) or is a graph output, the node gets `sum_output = 1` and
//!   its second output S takes the `Add`'s output name, so they are unchanged.
//!
//! Refused, with the reason: shapes not proven equal or broadcasting, element
//! types unknown or different, a `Cast` between the `Add` and the norm (the
//! norm reads the sum in another type), an `Add` that is part of another
//! match, a graph order with a reader of the sum before the norm's parameters.
//! RMSNorms are not fused (there is no skip RMSNorm plugin) and not reported.

use super::{display, fmt_shape, is_float_type, Candidate, FoldedScale, NameSet, NormKind};
use crate::onnx::graph::{attr_i, dt, onnx_op, GraphIndex};
use std::collections::HashSet;

/// The `op_type` of the fused node: the skip LayerNorm plugin's name (inputs
/// X, Skip, Scale, Bias, ResidualBias; fields as `FP32LayerNorm`'s plus
/// `sum_output`; versions "1" and "2").
pub const SKIP_PLUGIN_OP: &str = crate::plugin::SKIP_PLUGIN_NAME;

/// The residual `Add`(s) a LayerNorm candidate absorbs.
#[derive(Clone, Debug)]
pub struct SkipFusion {
    /// The `Add` whose output the LayerNorm reads.
    pub add: usize,
    /// Its name (for the summary).
    pub add_name: String,
    /// The three-term form's inner `Add(P, bias)`, also absorbed, and its name.
    pub bias_add: Option<usize>,
    pub bias_add_name: Option<String>,
    /// The plugin's Skip input.
    pub skip: String,
    /// The plugin's ResidualBias input (the three-term form's constant bias).
    pub residual_bias: Option<String>,
    /// The second output S (`sum_output = 1`): the `Add`'s output name,
    /// kept for its other readers or as a graph output.
    pub sum: Option<String>,
    /// Nodes besides the norm that read the sum.
    pub sum_readers: usize,
    /// The sum is a graph output.
    pub sum_is_output: bool,
    /// A bias of (negative) zeros for a LayerNorm without one, written so
    /// that ResidualBias is the fifth input (a missing Scale gets ones:
    /// [`Candidate::scale_fill`]).
    pub fill_bias: Option<FoldedScale>,
    /// The original node where the rewrite puts the plugin node.
    pub place: usize,
}

/// A residual `Add` before a replaced LayerNorm that was not fused, and why.
#[derive(Clone, Debug)]
pub struct SkipRefusal {
    /// The `Add` (or the node standing between it and the norm).
    pub add: String,
    /// The plugin node the norm became.
    pub norm: String,
    pub reason: String,
}

/// Fuses the residual `Add` before each LayerNorm of `cands` where it is
/// provably exact (when `enabled`); returns the ones not fused and why.
pub fn fuse(ix: &GraphIndex, cands: &mut [Candidate], enabled: bool, names: &mut NameSet) -> Vec<SkipRefusal> {
    let mut taken: HashSet<usize> = cands.iter().flat_map(|c| c.nodes.iter().copied()).collect();
    let mut refused = vec![];
    for c in cands.iter_mut().filter(|c| c.kind == NormKind::LayerNorm) {
        let Some(p) = ix.producer_node(&c.x) else { continue };
        let node = ix.node(p);
        match onnx_op(node) {
            "Add" => {}
            "Cast" => {
                // Add → Cast → norm: the norm reads the sum rounded again (or
                // widened) into another type; the plugin would add in X's type.
                let sum = node.input.first().map(String::as_str).unwrap_or("");
                if let Some(a) = ix.producer_node(sum).filter(|&a| onnx_op(ix.node(a)) == "Add") {
                    let to = attr_i(node, "to").and_then(|t| i32::try_from(t).ok()).map_or_else(|| "?".into(), dt::name);
                    let from = ix.elem_type(sum).map_or_else(|| "an unknown type".into(), dt::name);
                    refused.push(SkipRefusal {
                        add: display(ix, a),
                        norm: c.name.clone(),
                        reason: format!(
                            "a Cast to {to} ('{}') lies between the Add and the LayerNorm: the Add rounds the sum to {from}, the plugin would round it to the norm's X type; not fused",
                            display(ix, p)
                        ),
                    });
                }
                continue;
            }
            _ => continue,
        }
        if !enabled {
            refused.push(SkipRefusal { add: display(ix, p), norm: c.name.clone(), reason: "--no-fuse-skip".into() });
            continue;
        }
        // The fused node's name: `.../FP32SkipLayerNorm` where the match was `.../FP32LayerNorm`.
        let name = match c.name.strip_suffix(NormKind::LayerNorm.plugin_op()) {
            Some(prefix) => format!("{prefix}{SKIP_PLUGIN_OP}"),
            None => c.name.clone(),
        };
        match plan(ix, c, p, &name, &taken, names) {
            Ok((x, f, scale_fill)) => {
                taken.insert(f.add);
                taken.extend(f.bias_add);
                c.nodes.push(f.add);
                c.nodes.extend(f.bias_add);
                c.nodes.sort_unstable();
                c.nodes.dedup();
                c.x = x;
                c.name = name;
                c.scale_fill = scale_fill.map(Box::new);
                c.skip = Some(Box::new(f));
            }
            Err(reason) => refused.push(SkipRefusal { add: display(ix, p), norm: c.name.clone(), reason }),
        }
    }
    refused
}

/// The plugin's X, the fusion of `Add` node `add` into `c` and the Scale of
/// ones it needs (if any), or why not.
fn plan(
    ix: &GraphIndex,
    c: &Candidate,
    add: usize,
    name: &str,
    taken: &HashSet<usize>,
    names: &mut NameSet,
) -> Result<(String, SkipFusion, Option<FoldedScale>), String> {
    let n = ix.node(add);
    if taken.contains(&add) {
        return Err("the Add is part of another replaced norm".into());
    }
    let (a, b) = match n.input.as_slice() {
        [a, b] if !a.is_empty() && !b.is_empty() => (a.as_str(), b.as_str()),
        _ => return Err("the Add does not have two inputs".into()),
    };
    let sum = c.x.as_str();
    let ty = |t: &str| ix.elem_type(t).ok_or_else(|| format!("the element type of '{t}' is unknown"));
    let (t, ta, tb) = (ty(sum)?, ty(a)?, ty(b)?);
    if ta != t || tb != t {
        return Err(format!("'{a}' is {}, '{b}' {} and the sum {}: the plugin adds tensors of X's type only", dt::name(ta), dt::name(tb), dt::name(t)));
    }
    if !is_float_type(t) {
        return Err(format!("the sum is {}, not float32/float16/bfloat16", dt::name(t)));
    }
    let shape = same_full_shape(ix, a, b)?;
    // The normalized dims: the ResidualBias of the three-term form has exactly these.
    let rank = shape.len();
    let k = if c.axis < 0 { usize::try_from(c.axis.unsigned_abs()).ok() } else { usize::try_from(c.axis).ok().and_then(|ax| rank.checked_sub(ax)) };
    let norm_dims: Option<Vec<i64>> = k.filter(|&k| k <= rank).and_then(|k| shape[rank - k..].iter().copied().collect());

    // Three-term: Add(Add(P, bias), R), either way round.
    let mut x = a.to_string();
    let mut skip = b.to_string();
    let mut bias_add = None;
    let mut residual_bias = None;
    'outer: for (inner_t, other) in [(a, b), (b, a)] {
        let Some(q) = ix.producer_node(inner_t).filter(|&q| q != add && !taken.contains(&q) && onnx_op(ix.node(q)) == "Add") else { continue };
        if ix.consumers(inner_t) != [add] || ix.graph_outputs.contains(inner_t) {
            continue;
        }
        let [u, v] = ix.node(q).input.as_slice() else { continue };
        for (p, bias) in [(u, v), (v, u)] {
            let Some(cst) = constant_through_identity(ix, bias) else { continue };
            let dims_ok = norm_dims.as_ref().is_some_and(|d| *d == cst.dims);
            if cst.dtype == t && dims_ok && ix.elem_type(p) == Some(t) && same_full_shape(ix, p, other).is_ok() {
                x = p.clone();
                skip = other.to_string();
                bias_add = Some(q);
                residual_bias = Some(bias.clone());
                break 'outer;
            }
        }
    }

    // The sum's other readers keep it through the plugin's second output.
    let readers: Vec<usize> = ix.consumer_nodes(sum).into_iter().filter(|r| !c.nodes.contains(r)).collect();
    let sum_is_output = ix.graph_outputs.contains(sum);
    let keep_sum = !readers.is_empty() || sum_is_output;

    // Where the node goes: where Y was produced, unless a reader of S comes
    // before that; then where the Add was, if every input is ready there.
    let ypos = c.nodes.iter().copied().find(|&i| ix.node(i).output.contains(&c.y)).or_else(|| c.nodes.iter().copied().max()).unwrap_or(add);
    let place = if readers.iter().all(|&r| r > ypos) {
        ypos
    } else {
        let inputs = [Some(&x), Some(&skip), residual_bias.as_ref(), c.scale.as_ref(), c.bias.as_ref()];
        let ready = inputs.into_iter().flatten().all(|t| ix.producer_node(t).is_none_or(|p| p < add));
        if !ready {
            return Err("a reader of the sum comes before the LayerNorm's parameters are computed (graph order)".into());
        }
        add
    };

    // The inputs are positional (X, Skip, Scale, Bias, ResidualBias) and an
    // empty name is refused by TensorRT's ONNX parser: before a Bias or a
    // ResidualBias a missing Scale is a constant of ones, before a
    // ResidualBias a missing Bias one of -0 (x + -0 = x for every x, -0 included).
    let fill_dims = norm_dims.clone().or_else(|| c.bias.as_deref().and_then(|b| ix.shape(b)?.into_iter().collect()));
    let fill = |what: &str, value: f64, names: &mut NameSet| -> Result<FoldedScale, String> {
        let dims = fill_dims.clone().ok_or("the normalized dims are unknown")?;
        let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?)).ok_or("the normalized dims are too large")?;
        Ok(FoldedScale { name: names.fresh(&format!("{name}/{what}")), dtype: t, dims, values: vec![value; count] })
    };
    let (mut fill_scale, mut fill_bias) = (None, None);
    if c.scale.is_none() && (residual_bias.is_some() || c.bias.is_some()) {
        fill_scale = Some(fill("scale_ones", 1.0, names)?);
    }
    if c.bias.is_none() && residual_bias.is_some() {
        fill_bias = Some(fill("bias_zeros", -0.0, names)?);
    }
    Ok((
        x,
        SkipFusion {
            add,
            add_name: display(ix, add),
            bias_add,
            bias_add_name: bias_add.map(|q| display(ix, q)),
            skip,
            residual_bias,
            sum: keep_sum.then(|| sum.to_string()),
            sum_readers: readers.len(),
            sum_is_output,
            fill_bias,
            place,
        },
        fill_scale,
    ))
}

/// A constant, possibly behind `Identity` nodes (exporters alias equal
/// initializers so: the TorchScript exporter's deduplicated zero biases).
fn constant_through_identity(ix: &GraphIndex, t: &str) -> Option<crate::onnx::graph::Const> {
    let mut t = t;
    for _ in 0..8 {
        if let Some(c) = ix.constant(t) {
            return Some(c);
        }
        let n = ix.node(ix.producer_node(t)?);
        if onnx_op(n) != "Identity" {
            return None;
        }
        t = n.input.first()?;
    }
    None
}

/// `a` and `b` have one shape, provably; otherwise why not (broadcasting,
/// or sizes not known to be equal).
fn same_full_shape(ix: &GraphIndex, a: &str, b: &str) -> Result<Vec<Option<i64>>, String> {
    ix.same_shape(a, b).map_err(|why| {
        let (sa, sb) = (ix.shape(a), ix.shape(b));
        let known = |s: &Option<Vec<Option<i64>>>| s.as_ref().is_some_and(|s| s.iter().all(Option::is_some));
        match (&sa, &sb) {
            (Some(x), Some(y)) if known(&sa) && known(&sb) => format!("broadcasting Add: '{a}' {} + '{b}' {}; the plugin's X and Skip have one shape", fmt_shape(x), fmt_shape(y)),
            (Some(x), Some(y)) => format!("shapes not proven equal: '{a}' {} + '{b}' {} ({why})", fmt_shape(x), fmt_shape(y)),
            _ => format!("shapes not proven equal: {why}"),
        }
    })
}
