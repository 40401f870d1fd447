//! The patch summary printed by `trt-layernorm patch`: what was replaced
//! (counted per norm kind and pattern, then one line per plugin node, each
//! naming its kind), what was not and why, and what the rewrite removed.

use super::matchers::{Candidate, NormKind, Rejected};
use super::rewrite::{PluginAttrs, RewriteStats, PLUGIN_DOMAIN};
use std::collections::BTreeMap;
use std::fmt::Write;

pub struct SummaryInput<'a> {
    pub input: &'a str,
    pub output: Option<&'a str>,
    pub replaced: &'a [(Candidate, String)],
    pub rejected: &'a [Rejected],
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
        writeln!(
            out,
            "  + {name}: {}{} nodes -> 1, axis={} epsilon={:e} {params}{}, X='{}' Y='{}'{}",
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

/// "3 LayerNorm(s) with FP32LayerNorm, 2 RMSNorm(s) with FP32RMSNorm": each
/// kind replaced at least once; with none, "0 LayerNorm(s) with
/// FP32LayerNorm", as the summary has always said.
fn replaced_counts(replaced: &[(Candidate, String)]) -> String {
    let parts: Vec<String> = [NormKind::LayerNorm, NormKind::RmsNorm]
        .into_iter()
        .map(|k| (k, replaced.iter().filter(|(c, _)| c.kind == k).count()))
        .filter(|&(_, n)| n > 0)
        .map(|(k, n)| format!("{n} {}(s) with {}", k.noun(), k.plugin_op()))
        .collect();
    if parts.is_empty() {
        format!("0 LayerNorm(s) with {}", NormKind::LayerNorm.plugin_op())
    } else {
        parts.join(", ")
    }
}
