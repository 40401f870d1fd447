//! The patch summary printed by `trt-layernorm patch`: what was replaced
//! (counted per plugin op and pattern, then one line per plugin node, each
//! naming its kind, a fused node's Skip, ResidualBias and S), what was not and
//! why (norms, then residual Adds not fused), and what the rewrite removed.

use super::matchers::skip::SkipRefusal;
use super::matchers::{Candidate, NormKind, Rejected};
use super::rewrite::{PluginAttrs, RewriteStats, PLUGIN_DOMAIN};
use std::collections::BTreeMap;
use std::fmt::Write;

pub struct SummaryInput<'a> {
    pub input: &'a str,
    pub output: Option<&'a str>,
    pub replaced: &'a [(Candidate, String)],
    pub rejected: &'a [Rejected],
    /// Residual `Add`s before replaced LayerNorms left unfused.
    pub skip_refused: &'a [SkipRefusal],
    pub stats: &'a RewriteStats,
    pub attrs: &'a PluginAttrs,
}

pub fn render(s: &SummaryInput) -> String {
    let mut out = String::new();
    match s.output {
        Some(o) => writeln!(out, "patched {} -> {}", s.input, o).unwrap(),
        None => writeln!(out, "dry run on {} (nothing written)", s.input).unwrap(),
    }
    writeln!(
        out,
        "replaced {} (domain {PLUGIN_DOMAIN}, plugin_version \"{}\", plugin_namespace \"{}\", output {})",
        replaced_counts(s.replaced),
        s.attrs.plugin_version,
        s.attrs.plugin_namespace,
        if s.attrs.output_fp32 { "fp32" } else { "same type as input" }
    )
    .unwrap();
    let mut by_label: BTreeMap<(NormKind, &str), usize> = BTreeMap::new();
    for (c, _) in s.replaced {
        *by_label.entry((c.kind, c.label.as_str())).or_default() += 1;
    }
    let several_kinds = by_label.keys().any(|(k, _)| *k != NormKind::LayerNorm);
    for ((kind, label), n) in &by_label {
        // A LayerNorm-only model keeps the lines it always had.
        let kind = if several_kinds { format!("{:<9}  ", kind.noun()) } else { String::new() };
        writeln!(out, "  {n:>4}  {kind}{label}").unwrap();
    }
    for (c, name) in s.replaced {
        let params = match (&c.scale, &c.bias) {
            (Some(_), Some(_)) => "scale+bias",
            (Some(_), None) => "scale",
            (None, Some(_)) => "bias",
            (None, None) => "no affine",
        };
        let (skip_in, sum_out) = match &c.skip {
            Some(s) => (
                format!(
                    " Skip='{}'{}",
                    s.skip,
                    s.residual_bias.as_ref().map(|b| format!(" ResidualBias='{b}'")).unwrap_or_default()
                ),
                s.sum.as_ref().map(|t| format!(" S='{t}'")).unwrap_or_default(),
            ),
            None => (String::new(), String::new()),
        };
        writeln!(
            out,
            "  + {name}: {}{} nodes -> 1, axis={} epsilon={:e} {params}{}, X='{}'{skip_in} Y='{}'{sum_out}{}",
            if c.kind == NormKind::LayerNorm { String::new() } else { format!("{}, ", c.kind.noun()) },
            c.nodes.len(),
            c.axis,
            c.epsilon,
            if c.output_fp32 { ", output_type=1 (pattern output is fp32)" } else { "" },
            c.x,
            c.y,
            if c.variance_changed { format!("; {}", super::matchers::VARIANCE_NOTE) } else { String::new() }
        )
        .unwrap();
        if let Some(s) = &c.skip {
            let mut line = format!("fused the residual Add '{}'", s.add_name);
            if let Some(b) = &s.bias_add_name {
                write!(line, " and the bias Add '{b}' before it").unwrap();
            }
            if s.sum.is_some() {
                let readers = match (s.sum_readers, s.sum_is_output) {
                    (0, _) => "as a graph output".to_string(),
                    (n, false) => format!("for {n} other reader(s)"),
                    (n, true) => format!("for {n} other reader(s) and as a graph output"),
                };
                write!(line, "; sum_output=1: S keeps the sum {readers}").unwrap();
            }
            for f in c.scale_fill.iter().map(|f| &**f).chain(s.fill_bias.iter()) {
                write!(line, "; new initializer '{}'", f.name).unwrap();
            }
            writeln!(out, "      note: {line}").unwrap();
        } else if let Some(f) = &c.scale_fill {
            writeln!(out, "      note: bias without scale: new initializer '{}' of ones as the Scale input (the plugin's inputs are positional)", f.name).unwrap();
        }
        for note in &c.notes {
            writeln!(out, "      note: {note}").unwrap();
        }
    }
    writeln!(out, "not replaced: {}", s.rejected.len()).unwrap();
    for r in s.rejected {
        let label = match r.kind {
            Some(NormKind::RmsNorm) => format!("RMSNorm {}", r.label),
            _ => r.label.clone(),
        };
        writeln!(out, "  - {} [{label}]: {}", r.anchor, r.reason).unwrap();
    }
    if !s.skip_refused.is_empty() {
        writeln!(out, "residual Adds not fused: {}", s.skip_refused.len()).unwrap();
        for r in s.skip_refused {
            writeln!(out, "  - {} -> {}: {}", r.add, r.norm, r.reason).unwrap();
        }
    }
    if s.output.is_some() {
        let st = s.stats;
        write!(
            out,
            "removed {} nodes, {} dead constants, {} dead initializers",
            st.nodes_removed, st.constants_removed, st.initializers_removed
        )
        .unwrap();
        if st.opset_added {
            write!(out, "; added opset_import {PLUGIN_DOMAIN} v1").unwrap();
        }
        writeln!(out).unwrap();
    }
    if !s.stats.retyped_outputs.is_empty() {
        writeln!(
            out,
            "note: --output-type fp32 changed the declared type of {} tensor(s) to float32; downstream ops now receive FP32",
            s.stats.retyped_outputs.len()
        )
        .unwrap();
    }
    out
}

/// "1 LayerNorm(s) with FP32LayerNorm, 2 LayerNorm(s) with
/// FP32SkipLayerNorm, 2 RMSNorm(s) with FP32RMSNorm": each plugin op written
/// at least once; with none, "0 LayerNorm(s) with FP32LayerNorm", as the
/// summary has always said.
fn replaced_counts(replaced: &[(Candidate, String)]) -> String {
    let ops = [
        (NormKind::LayerNorm, NormKind::LayerNorm.plugin_op()),
        (NormKind::LayerNorm, super::SKIP_PLUGIN_OP),
        (NormKind::RmsNorm, NormKind::RmsNorm.plugin_op()),
    ];
    let parts: Vec<String> = ops
        .into_iter()
        .map(|(k, op)| (k, op, replaced.iter().filter(|(c, _)| c.kind == k && c.plugin_op() == op).count()))
        .filter(|&(_, _, n)| n > 0)
        .map(|(k, op, n)| format!("{n} {}(s) with {op}", k.noun()))
        .collect();
    if parts.is_empty() {
        format!("0 LayerNorm(s) with {}", NormKind::LayerNorm.plugin_op())
    } else {
        parts.join(", ")
    }
}
