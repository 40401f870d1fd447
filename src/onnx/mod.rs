//! ONNX integration: rewriting a model's LayerNorms and RMSNorms into
//! `FP32LayerNorm` and `FP32RMSNorm` plugin nodes that TensorRT's ONNX parser
//! maps to this crate's plugins; a LayerNorm with the residual `Add` before it
//! becomes one `FP32SkipLayerNorm` node where that is exact
//! ([`matchers::skip`], on unless [`PatchOptions::fuse_skip`] is off).
//!
//! - [`io`]: model file I/O (validation, external-data checks, atomic writes);
//! - [`graph`]: producers/consumers, constants, declared types and shapes;
//! - [`matchers`]: the LayerNorm and RMSNorm patterns and the proofs that they are one,
//!   and the residual-Add fusion;
//! - [`rewrite`]: replacing matches with plugin nodes, removing dead constants;
//! - [`summary`]: what `trt-layernorm patch` prints.
//!
//! Entry points: [`patch_file`] (what the CLI calls) and [`patch_model`]
//! (in memory). Only the main graph is patched; subgraphs (If/Loop bodies)
//! are kept as they are.

pub mod graph;
pub mod io;
pub mod matchers;
pub mod proto;
pub mod rewrite;
pub mod summary;

use matchers::skip::SkipRefusal;
use matchers::{Candidate, Found, Rejected};
use proto::ModelProto;
use rewrite::{PluginAttrs, RewriteStats};
use std::path::{Path, PathBuf};

pub use matchers::NormKind;
pub use rewrite::{PLUGIN_DOMAIN, PLUGIN_OP, PLUGIN_OPS, RMS_PLUGIN_OP, SKIP_PLUGIN_OP};

/// What `trt-layernorm patch` was asked to do.
#[derive(Clone, Debug)]
pub struct PatchOptions {
    /// `"1"` (IPluginV2DynamicExt) or `"2"` (IPluginV3, TensorRT >= 10).
    pub plugin_version: String,
    /// Plugin namespace the creators are registered under (normally `""`).
    pub plugin_namespace: String,
    /// Every plugin node outputs FP32 (`output_type = 1`).
    pub output_fp32: bool,
    /// Replace only the norms named here (plugin node name, the name of
    /// any node of the match, or the output tensor name); empty = all.
    pub only: Vec<String>,
    /// Report only; write nothing.
    pub dry_run: bool,
    /// Fuse the residual `Add` before a LayerNorm into it
    /// (`FP32SkipLayerNorm`) where that is exact (default on; `--no-fuse-skip`).
    pub fuse_skip: bool,
}

impl Default for PatchOptions {
    fn default() -> Self {
        PatchOptions {
            plugin_version: "1".into(),
            plugin_namespace: String::new(),
            output_fp32: false,
            only: vec![],
            dry_run: false,
            fuse_skip: true,
        }
    }
}

/// Errors of the patcher. Each displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("{}: {action}: {msg}", path.display())]
    Io { path: PathBuf, action: &'static str, msg: String },
    #[error("{}: {why}", path.display())]
    Invalid { path: PathBuf, why: String },
    #[error("{}: refusing to write the output over the input model", path.display())]
    SameFile { path: PathBuf },
    #[error("{0}")]
    Options(String),
}

impl PatchError {
    pub(crate) fn io(path: &Path, action: &'static str, e: &std::io::Error) -> Self {
        PatchError::Io { path: path.to_path_buf(), action, msg: e.to_string().replace('\n', " ") }
    }
}

/// The outcome of patching one model.
#[derive(Debug)]
pub struct PatchReport {
    /// Replaced candidates with the plugin node names they got.
    pub replaced: Vec<(Candidate, String)>,
    pub rejected: Vec<Rejected>,
    /// Residual `Add`s before replaced LayerNorms that were not fused, and why.
    pub skip_refused: Vec<SkipRefusal>,
    pub stats: RewriteStats,
}

/// `trt-layernorm patch` arguments (the CLI adds this as a subcommand).
#[derive(Clone, Debug, clap::Args)]
pub struct PatchArgs {
    /// The ONNX model to patch (external data is kept by reference).
    pub input: PathBuf,
    /// Where to write the patched model (must differ from the input).
    #[arg(short, long, required_unless_present = "dry_run")]
    pub output: Option<PathBuf>,
    /// Plugin version: 1 = IPluginV2DynamicExt (TensorRT 8.6+), 2 = IPluginV3 (TensorRT 10+).
    #[arg(long, default_value = "1", value_parser = ["1", "2"])]
    pub plugin_version: String,
    /// Namespace the plugin creators are registered under.
    #[arg(long, default_value = "")]
    pub plugin_namespace: String,
    /// Output element type of the plugin nodes: same as X, or fp32.
    #[arg(long, default_value = "same", value_parser = ["same", "fp32"])]
    pub output_type: String,
    /// Replace only these norms (plugin node name, a replaced node's name, or the output tensor).
    #[arg(long, num_args = 1..)]
    pub only: Vec<String>,
    /// Print the summary without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep residual Adds as they are (by default an Add feeding a LayerNorm is fused
    /// into an FP32SkipLayerNorm node where that is bit-exact).
    #[arg(long)]
    pub no_fuse_skip: bool,
}

impl PatchArgs {
    /// Runs the command: prints the summary to stdout, returns the error to
    /// print (one line) and exit non-zero with.
    pub fn run(&self) -> Result<(), PatchError> {
        let options = PatchOptions {
            plugin_version: self.plugin_version.clone(),
            plugin_namespace: self.plugin_namespace.clone(),
            output_fp32: self.output_type == "fp32",
            only: self.only.clone(),
            dry_run: self.dry_run,
            fuse_skip: !self.no_fuse_skip,
        };
        let output = self.output.clone().unwrap_or_default();
        let summary = patch_file(&self.input, &output, &options)?;
        print!("{summary}");
        Ok(())
    }
}

/// Patches `input` into `output` (ignored with `dry_run`); returns the summary
/// to print. Refuses to write over the input; writes through a temporary file
/// so a failure leaves no partial output.
pub fn patch_file(input: &Path, output: &Path, options: &PatchOptions) -> Result<String, PatchError> {
    if !options.dry_run && io::same_file(input, output) {
        return Err(PatchError::SameFile { path: output.to_path_buf() });
    }
    let mut model = io::read_model(input)?;
    let report = patch_model(&mut model, options)?;
    let out_display = output.display().to_string();
    if !options.dry_run {
        io::write_model_atomic(&model, output)?;
    }
    let attrs = plugin_attrs(options);
    let mut text = summary::render(&summary::SummaryInput {
        input: &input.display().to_string(),
        output: (!options.dry_run).then_some(out_display.as_str()),
        replaced: &report.replaced,
        rejected: &report.rejected,
        skip_refused: &report.skip_refused,
        stats: &report.stats,
        attrs: &attrs,
    });
    if !options.dry_run && has_external_data(&model) && !same_dir(input, output) {
        text.push_str("note: the model keeps its external-data references, relative to its folder: put the output beside the data files\n");
    }
    Ok(text)
}

fn plugin_attrs(options: &PatchOptions) -> PluginAttrs {
    PluginAttrs {
        plugin_version: options.plugin_version.clone(),
        plugin_namespace: options.plugin_namespace.clone(),
        output_fp32: options.output_fp32,
    }
}

fn has_external_data(model: &ModelProto) -> bool {
    let mut any = false;
    if let Some(g) = model.graph.as_ref() {
        io::visit_tensors(g, &mut |t, _| any |= io::is_external(t));
    }
    any
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let dir = |p: &Path| {
        let d = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::canonicalize(d).ok()
    };
    dir(a).is_some() && dir(a) == dir(b)
}

/// Finds and replaces the LayerNorms and RMSNorms of `model` in place (nothing is changed
/// when `options.dry_run`).
pub fn patch_model(model: &mut ModelProto, options: &PatchOptions) -> Result<PatchReport, PatchError> {
    if options.plugin_version != "1" && options.plugin_version != "2" {
        return Err(PatchError::Options(format!("plugin version must be 1 or 2, not '{}'", options.plugin_version)));
    }
    let graph = model.graph.as_ref().ok_or_else(|| PatchError::Options("the model has no graph".into()))?;
    let ix = graph::GraphIndex::new(graph);
    let mut chosen: Vec<Candidate> = vec![];
    let mut rejected = vec![];
    // `--only` names: the plugin node's name (either op type's), a node of the match, or Y.
    let named = |c: &Candidate, o: &str| {
        let skip_name = c.name.strip_suffix(PLUGIN_OP).map(|p| format!("{p}{SKIP_PLUGIN_OP}"));
        o == c.name || skip_name.as_deref() == Some(o) || o == c.anchor || o == c.y || c.nodes.iter().any(|&n| ix.node(n).name.as_deref() == Some(o))
    };
    for f in matchers::find_candidates(&ix) {
        match f {
            Found::Match(c) => {
                let selected = options.only.is_empty() || options.only.iter().any(|o| named(&c, o));
                if selected {
                    chosen.push(c);
                } else {
                    rejected.push(Rejected { kind: Some(c.kind), label: c.label, anchor: c.name, reason: "not selected by --only".into() });
                }
            }
            Found::Reject(r) => rejected.push(r),
        }
    }
    for o in &options.only {
        let known = chosen.iter().any(|c| named(c, o));
        if !known {
            rejected.push(Rejected { kind: None, label: "--only".into(), anchor: o.clone(), reason: "names no norm that can be replaced".into() });
        }
    }
    // A graph that is not in SSA form may have two matches produce one
    // tensor name: one plugin node per output (found by the onnx fuzz target).
    let mut outputs = std::collections::HashSet::new();
    chosen.retain(|c| {
        let first = outputs.insert(c.y.clone());
        if !first {
            rejected.push(Rejected {
                kind: Some(c.kind),
                label: c.label.clone(),
                anchor: c.name.clone(),
                reason: format!("its output '{}' is also produced by another node (the graph is not in SSA form)", c.y),
            });
        }
        first
    });
    // Residual Adds into the chosen LayerNorms (every refusal reported; with
    // `--no-fuse-skip`, each Add that could have been is named), then a Scale
    // of ones wherever a Bias would otherwise follow an empty Scale input.
    let mut names = matchers::NameSet::new(&ix);
    let skip_refused = matchers::skip::fuse(&ix, &mut chosen, options.fuse_skip, &mut names);
    rejected.extend(matchers::fill_scales(&ix, &mut chosen, &mut names));
    drop(ix);
    let attrs = plugin_attrs(options);
    let stats = if options.dry_run {
        RewriteStats::default()
    } else {
        rewrite::apply(model, &chosen, &attrs)
    };
    // The names the plugin nodes got (unique-ified by the rewrite).
    let names: Vec<String> = if options.dry_run {
        chosen.iter().map(|c| c.name.clone()).collect()
    } else {
        let g = model.graph.as_ref().expect("checked above");
        chosen
            .iter()
            .map(|c| {
                g.node
                    .iter()
                    .find(|n| n.op_type.as_deref() == Some(c.plugin_op()) && n.output.first() == Some(&c.y))
                    .and_then(|n| n.name.clone())
                    .unwrap_or_else(|| c.name.clone())
            })
            .collect()
    };
    Ok(PatchReport { replaced: chosen.into_iter().zip(names).collect(), rejected, skip_refused, stats })
}
