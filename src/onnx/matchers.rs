//! Pattern matchers: find every LayerNorm in a graph and prove it is one.
//!
//! Recognized:
//! - `LayerNormalization` (opset >= 17), when its Mean/InvStdDev outputs are unused;
//! - the decomposition PyTorch's exporter emits below opset 17
//!   (`ReduceMean → Sub → Pow(2) → ReduceMean → Add(eps) → Sqrt → Div → [Mul(scale)] → [Add(bias)]`),
//!   with `Mul(d, d)` for the square, `Reciprocal` + `Mul` for the division, and
//!   `Cast` to FP32 before the statistics and back after them (mixed precision);
//! - the `tf.nn.moments` + `tf.nn.batch_normalization` form tf2onnx emits for
//!   Keras/TF LayerNorms (`Sub`, `Mul(d, d)`, `ReduceMean`, `Add(eps)`, `Sqrt`,
//!   `Reciprocal`, `[Mul(gamma)]`, `Mul(x, ·)`, `Mul(mean, ·)`, `Sub`/`Neg`, `Add`).
//!
//! A decomposed candidate starts at a `ReduceMean` whose output feeds
//! `Sub(x, mean)` with the same `x` (the centring step). Every candidate either
//! becomes a [`Candidate`] or a [`Rejected`] with the reason.

use super::graph::{attr_f, attr_i, attr_ints, dt, onnx_op, Dim, GraphIndex};
use std::collections::HashSet;

/// A proven LayerNorm, ready to be replaced by one plugin node.
#[derive(Clone, Debug)]
pub struct Candidate {
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
    pub bias: Option<String>,
    pub y: String,
    pub axis: i64,
    pub epsilon: f32,
    /// The pattern's output is FP32 while X is not (mixed-precision exports
    /// without the cast back): the node needs `output_type = 1`.
    pub output_fp32: bool,
    pub notes: Vec<String>,
}

/// A LayerNorm-like candidate that is not replaced, and why.
#[derive(Clone, Debug)]
pub struct Rejected {
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
        let found = match onnx_op(ix.node(i)) {
            "LayerNormalization" => Some(match_native(ix, i)),
            "ReduceMean" => match_decomposed(ix, i),
            _ => None,
        };
        match found {
            Some(Found::Match(c)) if c.nodes.iter().any(|n| taken.contains(n)) => out.push(Found::Reject(Rejected {
                label: c.label,
                anchor: c.anchor,
                reason: "overlaps a LayerNorm matched earlier".into(),
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

fn match_native(ix: &GraphIndex, i: usize) -> Found {
    let n = ix.node(i);
    let anchor = display(ix, i);
    let label = "LayerNormalization".to_string();
    let reject = |reason: String| Found::Reject(Rejected { label: label.clone(), anchor: anchor.clone(), reason });
    let x = n.input.first().cloned().unwrap_or_default();
    let y = n.output.first().cloned().unwrap_or_default();
    if x.is_empty() || y.is_empty() {
        return reject("missing input X or output Y".into());
    }
    for (slot, what) in [(1, "Mean"), (2, "InvStdDev")] {
        if let Some(o) = n.output.get(slot).filter(|o| !o.is_empty()) {
            if !ix.consumers(o).is_empty() || ix.graph_outputs.contains(o.as_str()) {
                return reject(format!("its {what} output '{o}' is used; the plugin has no such output"));
            }
        }
    }
    if let Some(t) = ix.elem_type(&x) {
        if !is_float_type(t) {
            return reject(format!("X is {}, not float32/float16/bfloat16", dt::name(t)));
        }
    }
    let axis = attr_i(n, "axis").unwrap_or(-1);
    let epsilon = attr_f(n, "epsilon").unwrap_or(1e-5);
    let k = if axis < 0 { Some((-axis) as usize) } else { rank(ix, &x).and_then(|r| r.checked_sub(axis as usize)) };
    let param = |slot: usize| n.input.get(slot).filter(|s| !s.is_empty()).cloned();
    let (scale, bias) = (param(1), param(2));
    for (what, p) in [("scale", &scale), ("bias", &bias)] {
        if let Some(p) = p {
            // Only refuse what is provably different; a native node with an
            // unknown-shaped parameter already has the plugin's semantics.
            if ix.shape(p).is_some() && k.is_some() {
                if let Err(e) = check_param(ix, what, p, &x, k) {
                    return reject(e);
                }
            }
        }
    }
    let name = match n.name.as_deref() {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => format!("{y}/FP32LayerNorm"),
    };
    Found::Match(Candidate {
        label,
        name,
        anchor,
        nodes: vec![i],
        x,
        scale,
        bias,
        y,
        axis,
        epsilon,
        output_fp32: false,
        notes: vec![],
    })
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

fn out0(ix: &GraphIndex, i: usize) -> String {
    ix.node(i).output.first().cloned().unwrap_or_default()
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
    let rej = |label: &str, reason: String| Some(Found::Reject(Rejected { label: label.to_string(), anchor: anchor.clone(), reason }));

    // Square: Pow(d, 2) or Mul(d, d).
    let sq = ix.consumer_nodes(&d).into_iter().find(|&c| {
        let n = ix.node(c);
        match onnx_op(n) {
            "Pow" => n.input.first() == Some(&d),
            "Mul" => n.input.len() == 2 && n.input[0] == d && n.input[1] == d,
            _ => false,
        }
    });
    let Some(sq) = sq else { return rej(&label, "no square of x - mean (Pow(d, 2) or Mul(d, d))".into()) };
    let mut nodes = vec![r1, sub];
    nodes.extend(head_nodes);
    nodes.push(sq);
    let sq_kind = onnx_op(ix.node(sq)).to_string();
    if sq_kind == "Pow" {
        let e = ix.node(sq).input.get(1).and_then(|t| scalar_const(ix, t));
        match e {
            Some((v, cast)) if v == 2.0 => nodes.extend(cast),
            _ => return rej(&label, "Pow exponent is not the constant 2".into()),
        }
    }
    let Some(r2) = next_op(ix, &out0(ix, sq), &["ReduceMean"]) else {
        return rej(&label, "the square is not averaged by a ReduceMean".into());
    };
    nodes.push(r2);
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
    let var = out0(ix, r2);
    let Some(add_eps) = next_op(ix, &var, &["Add"]) else { return rej(&label, "variance is not followed by Add(eps)".into()) };
    nodes.push(add_eps);
    let eps_t = other_input(ix.node(add_eps), &var).unwrap_or("").to_string();
    let epsilon = match scalar_const(ix, &eps_t) {
        Some((v, cast)) if v.is_finite() && v >= 0.0 => {
            nodes.extend(cast);
            v as f32
        }
        _ => return rej(&label, format!("epsilon '{eps_t}' is not a scalar constant")),
    };
    let Some(sqrt) = next_op(ix, &out0(ix, add_eps), &["Sqrt"]) else { return rej(&label, "variance + eps is not followed by Sqrt".into()) };
    nodes.push(sqrt);
    let std = out0(ix, sqrt);

    // Torch: Div(d, std) or Mul(d, Reciprocal(std)). Moments: Reciprocal → [Mul(gamma)] → Mul(x, ·), Mul(mean, ·).
    let mut scale = None;
    let mut bias = None;
    let mut notes = vec![];
    let y: String;
    let div = ix.consumer_nodes(&std).into_iter().find(|&c| onnx_op(ix.node(c)) == "Div" && ix.node(c).input.len() == 2 && ix.node(c).input[0] == d && ix.node(c).input[1] == std);
    let recip = next_op(ix, &std, &["Reciprocal"]);
    let mut torch_norm: Option<usize> = None;
    let mut moments = false;
    let norm_kind;
    if let Some(div) = div {
        torch_norm = Some(div);
        norm_kind = "Div";
    } else if let Some(rc) = recip {
        nodes.push(rc);
        let inv = out0(ix, rc);
        if let Some(m) = ix.consumer_nodes(&inv).into_iter().find(|&c| onnx_op(ix.node(c)) == "Mul" && other_input(ix.node(c), &inv) == Some(d.as_str())) {
            torch_norm = Some(m);
            norm_kind = "Reciprocal+Mul";
        } else {
            moments = true;
            norm_kind = "moments";
        }
    } else {
        return rej(&label, "the standard deviation is not divided into x - mean".into());
    }
    let mut head_cast: Option<usize> = None;
    let mut tail_cast: Option<usize> = None;

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
        let single = |t: &str, op: &str| -> Option<usize> {
            let cs = ix.consumer_nodes(t);
            (cs.len() == 1 && onnx_op(ix.node(cs[0])) == op && !ix.graph_outputs.contains(t)).then(|| cs[0])
        };
        if let Some(m) = single(&cur, "Mul") {
            let p = other_input(ix.node(m), &cur).unwrap_or("").to_string();
            match check_param(ix, "scale", &p, &xin, k) {
                Ok(()) => {
                    scale = Some(p);
                    nodes.push(m);
                    cur = out0(ix, m);
                }
                Err(e) => notes.push(format!("scale left as a separate Mul: {e}")),
            }
        }
        if let Some(a) = single(&cur, "Add") {
            let p = other_input(ix.node(a), &cur).unwrap_or("").to_string();
            match check_param(ix, "bias", &p, &xin, k) {
                Ok(()) => {
                    bias = Some(p);
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
        let rc = *nodes.last().unwrap();
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
    label.push(')');

    // No intermediate may be used outside the pattern or be a graph output.
    let set: HashSet<usize> = nodes.iter().copied().collect();
    for &n in &nodes {
        for o in &ix.node(n).output {
            if o.is_empty() || *o == y {
                continue;
            }
            if ix.graph_outputs.contains(o.as_str()) {
                return rej(&label, format!("intermediate '{o}' is a graph output"));
            }
            if let Some(&c) = ix.consumers(o).iter().find(|c| !set.contains(c)) {
                return rej(&label, format!("intermediate '{o}' is also used by '{}'", display(ix, c)));
            }
        }
    }

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
    nodes.sort_unstable();
    nodes.dedup();
    let name = plugin_name(ix, &nodes, &y);
    if !notes.is_empty() && scale.is_none() && bias.is_none() {
        notes.insert(0, "matched without affine".into());
    }
    Some(Found::Match(Candidate { label, name, anchor, nodes, x, scale, bias, y, axis, epsilon, output_fp32, notes }))
}

/// `/prefix/FP32LayerNorm` when the replaced nodes share a `/`-scoped prefix
/// (as PyTorch names them), else `Y/FP32LayerNorm`.
fn plugin_name(ix: &GraphIndex, nodes: &[usize], y: &str) -> String {
    let names: Vec<&str> = nodes.iter().filter_map(|&n| ix.node(n).name.as_deref()).filter(|s| !s.is_empty()).collect();
    if names.len() == nodes.len() {
        let first = names[0];
        let mut len = first.len();
        for s in &names[1..] {
            len = len.min(first.bytes().zip(s.bytes()).take_while(|(a, b)| a == b).count());
        }
        if let Some(slash) = first[..len].rfind('/') {
            if slash > 0 {
                return format!("{}FP32LayerNorm", &first[..=slash]);
            }
        }
    }
    format!("{y}/FP32LayerNorm")
}
