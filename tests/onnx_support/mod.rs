//! What the ONNX test files share: the fixtures, scratch directories, the
//! plugin nodes of a model, and the Python that checks against ONNX Runtime.
#![allow(dead_code)] // each test file uses its own subset

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use trt_layernorm::onnx::proto::{ModelProto, NodeProto};
use trt_layernorm::onnx::{PatchReport, PLUGIN_OPS};

/// tests/fixtures/onnx; TLN_SOURCE_DIR names the checkout where a staged test
/// binary runs away from its build tree.
pub fn fixtures() -> PathBuf {
    let root = std::env::var_os("TLN_SOURCE_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    root.join("tests/fixtures/onnx")
}

/// A fresh scratch directory for this process, `prefix` and `name` telling tests apart.
pub fn tmpdir(prefix: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tln-{prefix}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn is_plugin(n: &NodeProto) -> bool {
    n.op_type.as_deref().is_some_and(|op| PLUGIN_OPS.contains(&op))
}

/// The plugin nodes of every kind (FP32LayerNorm, FP32RMSNorm, FP32SkipLayerNorm), in graph order.
pub fn plugin_nodes(m: &ModelProto) -> Vec<&NodeProto> {
    m.graph.node.iter().filter(|n| is_plugin(n)).collect()
}

/// The plugin nodes of one op type, in graph order.
pub fn plugin_nodes_of<'m>(m: &'m ModelProto, op: &str) -> Vec<&'m NodeProto> {
    m.graph.node.iter().filter(|n| n.op_type.as_deref() == Some(op)).collect()
}

/// Python with numpy, onnx and onnxruntime (`PYTHON`, default python3; run
/// under scripts/with-cuda.sh, `PYTHON` is its pinned venv), if this machine
/// has it; otherwise None, after one `skipped: ...` line on stderr.
pub fn python_with_ort() -> Option<String> {
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let why = match std::process::Command::new(&py).args(["-c", "import numpy, onnx, onnxruntime"]).output() {
        Ok(o) if o.status.success() => return Some(py),
        Ok(_) => format!("{py} lacks numpy/onnx/onnxruntime (scripts/with-cuda.sh provides a Python that has them)"),
        Err(e) => format!("no {py}: {e}"),
    };
    // Straight to stderr: the test harness captures print macros of passing tests.
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
    None
}

/// Runs tests/onnx/ort_check.py with `py` on the patched models in `dir`
/// against their originals in the fixtures; asserts it succeeded and every
/// output matched, and returns its report.
pub fn ort_check(py: &str, dir: &std::path::Path) -> String {
    ort_check_against(py, &fixtures(), dir)
}

/// [`ort_check`] with the originals in `originals` (same file names) instead of the fixtures.
pub fn ort_check_against(py: &str, originals: &std::path::Path, dir: &std::path::Path) -> String {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/onnx/ort_check.py");
    let out = std::process::Command::new(py).arg(script).arg("check").arg(originals).arg(dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "patched models differ from the originals:\n{text}");
    assert!(text.contains("all outputs match"), "{text}");
    text
}

/// Nothing but the matches changed: the other nodes are the original ones, in
/// the original order (a node disappeared only if it was in a match, or was a
/// Constant only the match used); initializers are the original ones (less
/// those only the replaced nodes read, plus the scales a match folded and the
/// ones/zeros a fused node needs, at the end); inputs, outputs, metadata,
/// producer and IR version are identical; the opsets are the original ones plus ours.
pub fn assert_only_matches_changed(orig: &ModelProto, patched: &ModelProto, report: &PatchReport, what: &str) {
    let replaced: HashSet<usize> = report.replaced.iter().flat_map(|(c, _)| c.nodes.iter().copied()).collect();
    let kept: Vec<&NodeProto> = patched.graph.node.iter().filter(|n| !is_plugin(n)).collect();
    let mut it = kept.iter().peekable();
    for (i, n) in orig.graph.node.iter().enumerate() {
        if it.peek().is_some_and(|k| **k == n) {
            it.next();
        } else {
            assert!(replaced.contains(&i) || n.op_type.as_deref() == Some("Constant"), "{what}: node #{i} {:?} ({:?}) removed", n.name, n.op_type);
        }
    }
    assert!(it.next().is_none(), "{what}: nodes reordered or changed");
    let read_by_replaced: HashSet<&str> =
        replaced.iter().flat_map(|&i| orig.graph.node[i].input.iter().map(String::as_str)).collect();
    let read_now: HashSet<&str> = patched.graph.node.iter().flat_map(|n| n.input.iter().map(String::as_str)).collect();
    let dead = |name: &str| read_by_replaced.contains(name) && !read_now.contains(name);
    let want: Vec<_> = orig.graph.initializer.iter().filter(|t| !dead(t.name.as_deref().unwrap_or(""))).collect();
    let folded: Vec<&str> = report.replaced.iter().flat_map(|(c, _)| c.new_initializers()).map(|f| f.name.as_str()).collect();
    let got: Vec<_> = patched.graph.initializer.iter().filter(|t| !folded.contains(&t.name.as_deref().unwrap_or(""))).collect();
    assert_eq!(got, want, "{what}: initializers");
    let tail: Vec<&str> = patched.graph.initializer[got.len()..].iter().map(|t| t.name.as_deref().unwrap_or("")).collect();
    assert_eq!(tail, folded, "{what}: folded scales and fills appended");
    assert_eq!(patched.graph.input, orig.graph.input, "{what}");
    assert_eq!(patched.graph.output, orig.graph.output, "{what}");
    assert_eq!(patched.metadata_props, orig.metadata_props, "{what}");
    assert_eq!(patched.producer_name, orig.producer_name, "{what}");
    assert_eq!(patched.ir_version, orig.ir_version, "{what}");
    assert_eq!(&patched.opset_import[..orig.opset_import.len()], &orig.opset_import[..], "{what}");
}

/// Every input of every node is a graph input, an initializer, or an output
/// of an earlier node.
pub fn assert_topological(m: &ModelProto, what: &str) {
    let g = &m.graph;
    let mut known: HashSet<&str> = g.input.iter().filter_map(|v| v.name.as_deref()).collect();
    known.extend(g.initializer.iter().filter_map(|t| t.name.as_deref()));
    for n in &g.node {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            assert!(known.contains(i.as_str()), "{what}: node {:?} reads '{i}' before it is produced", n.name);
        }
        known.extend(n.output.iter().map(String::as_str));
    }
    for o in &g.output {
        assert!(known.contains(o.name.as_deref().unwrap()), "{what}: graph output {:?} is produced by no node", o.name);
    }
}

/// Drops the scale of every decomposed LayerNorm whose affine is `Mul(·, <p>.weight)`
/// then `Add(·, <p>.bias)`, both initializers (PyTorch's exports below opset 17): the
/// `Add` reads the `Mul`'s input, the `Mul` and the weight go. Returns how many. The
/// result: LayerNorms with a Bias and no Scale.
pub fn drop_layernorm_scales(m: &mut ModelProto) -> usize {
    let g = m.graph.as_mut().expect("a graph");
    let inits: HashSet<String> = g.initializer.iter().filter_map(|t| t.name.clone()).collect();
    let mut dropped = vec![];
    for (i, mul) in g.node.iter().enumerate() {
        let [a, w] = mul.input.as_slice() else { continue };
        let Some(prefix) = w.strip_suffix(".weight").filter(|_| mul.op_type.as_deref() == Some("Mul") && inits.contains(w)) else { continue };
        let bias = format!("{prefix}.bias");
        let out = &mul.output[0];
        let readers: Vec<usize> = g.node.iter().enumerate().filter(|(_, n)| n.input.contains(out)).map(|(j, _)| j).collect();
        if let [j] = readers[..] {
            let add = &g.node[j];
            if add.op_type.as_deref() == Some("Add") && add.input.contains(&bias) && inits.contains(&bias) {
                dropped.push((i, j, a.clone(), w.clone()));
            }
        }
    }
    let mut gone: HashSet<String> = HashSet::new();
    for (i, j, a, _) in &dropped {
        let out = g.node[*i].output[0].clone();
        for input in g.node[*j].input.iter_mut().filter(|x| **x == out) {
            *input = a.clone();
        }
        gone.insert(out);
    }
    gone.extend(dropped.iter().map(|d| d.3.clone()));
    let muls: HashSet<usize> = dropped.iter().map(|d| d.0).collect();
    let mut k = 0;
    g.node.retain(|_| {
        k += 1;
        !muls.contains(&(k - 1))
    });
    g.initializer.retain(|t| !gone.contains(t.name.as_deref().unwrap_or("")));
    g.value_info.retain(|v| !gone.contains(v.name.as_deref().unwrap_or("")));
    dropped.len()
}
