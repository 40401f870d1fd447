//! The patch summary printed by `trt-layernorm patch`.

use super::matchers::{Candidate, Rejected};
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
        "replaced {} LayerNorm(s) with FP32LayerNorm (domain {PLUGIN_DOMAIN}, plugin_version \"{}\", plugin_namespace \"{}\", output {})",
        s.replaced.len(),
        s.attrs.plugin_version,
        s.attrs.plugin_namespace,
        if s.attrs.output_fp32 { "fp32" } else { "same type as input" }
    )
    .unwrap();
    let mut by_label: BTreeMap<&str, usize> = BTreeMap::new();
    for (c, _) in s.replaced {
        *by_label.entry(c.label.as_str()).or_default() += 1;
    }
    for (label, n) in &by_label {
        writeln!(out, "  {n:>4}  {label}").unwrap();
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
            "  + {name}: {} nodes -> 1, axis={} epsilon={:e} {params}{}, X='{}' Y='{}'{}",
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
        writeln!(out, "  - {} [{}]: {}", r.anchor, r.label, r.reason).unwrap();
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
