//! Reading and writing ONNX model files: validation of what is read
//! (protobuf framing, a graph, opset imports, external-data files present)
//! and atomic writes (temporary file + rename, never over the input).
//!
//! External data is never loaded: tensors stored outside the `.onnx` keep
//! their `external_data` entries exactly as read, which is what lets the
//! patcher handle models larger than protobuf's 2 GiB limit.

use super::proto::{tensor_proto, GraphProto, ModelProto, TensorProto};
use super::PatchError;
use protobuf::Message;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Field numbers and wire types of `ModelProto` (onnx-ml.proto).
const MODEL_FIELDS: &[(u64, u64)] = &[
    (1, 0),  // ir_version
    (2, 2),  // producer_name
    (3, 2),  // producer_version
    (4, 2),  // domain
    (5, 0),  // model_version
    (6, 2),  // doc_string
    (7, 2),  // graph
    (8, 2),  // opset_import
    (14, 2), // metadata_props
    (20, 2), // training_info
    (25, 2), // functions
    (26, 2), // configuration
];

/// Reads and validates a model. Every error is one line naming the file.
pub fn read_model(path: &Path) -> Result<ModelProto, PatchError> {
    let bytes = fs::read(path).map_err(|e| PatchError::io(path, "cannot read", &e))?;
    let model = parse_model(&bytes).map_err(|why| PatchError::Invalid { path: path.to_path_buf(), why })?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    check_external_data(&model, &dir).map_err(|why| PatchError::Invalid { path: path.to_path_buf(), why })?;
    Ok(model)
}

/// Parses serialized bytes as a `ModelProto`, rejecting what is not one.
pub fn parse_model(bytes: &[u8]) -> Result<ModelProto, String> {
    if bytes.is_empty() {
        return Err("empty file, not an ONNX model".into());
    }
    // ONNX files have no magic number; the first protobuf tag is the closest
    // thing: it must be a field ModelProto has, with that field's wire type.
    match first_tag(bytes) {
        Some((field, wire)) if MODEL_FIELDS.contains(&(field, wire)) => {}
        _ => return Err(format!("not an ONNX model (starts with bytes {}, not a ModelProto field)", hex_prefix(bytes))),
    }
    let model = ModelProto::parse_from_bytes(bytes)
        .map_err(|e| format!("truncated or corrupt ONNX model ({})", one_line(&e.to_string())))?;
    if model.graph.is_none() {
        return Err("not an ONNX model (no graph; the file may be truncated)".into());
    }
    if model.opset_import.is_empty() {
        return Err("not an ONNX model (no opset_import; the file may be truncated)".into());
    }
    if model.ir_version.is_none() {
        return Err("not an ONNX model (no ir_version)".into());
    }
    Ok(model)
}

fn first_tag(bytes: &[u8]) -> Option<(u64, u64)> {
    let mut v = 0u64;
    for (i, b) in bytes.iter().take(10).enumerate() {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v >> 3, v & 7));
        }
    }
    None
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(4).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every tensor in `graph` and its subgraphs, with a description for messages.
pub fn visit_tensors<'g>(graph: &'g GraphProto, f: &mut dyn FnMut(&'g TensorProto, &str)) {
    for t in &graph.initializer {
        f(t, "initializer");
    }
    for s in &graph.sparse_initializer {
        if let Some(v) = s.values.as_ref() {
            f(v, "sparse initializer");
        }
        if let Some(i) = s.indices.as_ref() {
            f(i, "sparse initializer indices");
        }
    }
    for n in &graph.node {
        for a in &n.attribute {
            if let Some(t) = a.t.as_ref() {
                f(t, "constant tensor");
            }
            for t in &a.tensors {
                f(t, "constant tensor");
            }
            if let Some(g) = a.g.as_ref() {
                visit_tensors(g, f);
            }
            for g in &a.graphs {
                visit_tensors(g, f);
            }
        }
    }
}

/// Whether a tensor's data lives in an external file.
pub fn is_external(t: &TensorProto) -> bool {
    t.data_location.map(|l| l.value()) == Some(tensor_proto::DataLocation::EXTERNAL as i32)
}

/// Checks that every external-data reference names an existing file (relative
/// to the model's folder, as ONNX specifies) that is long enough. Reads no data.
pub fn check_external_data(model: &ModelProto, dir: &Path) -> Result<(), String> {
    let mut err: Option<String> = None;
    let Some(graph) = model.graph.as_ref() else { return Ok(()) };
    visit_tensors(graph, &mut |t, what| {
        if err.is_some() || !is_external(t) {
            return;
        }
        let name = t.name.as_deref().unwrap_or("");
        let get = |k: &str| t.external_data.iter().find(|e| e.key.as_deref() == Some(k)).and_then(|e| e.value.clone());
        let Some(location) = get("location") else {
            err = Some(format!("{what} '{name}' is stored externally but has no location"));
            return;
        };
        let file = dir.join(&location);
        let len = match fs::metadata(&file) {
            Ok(m) if m.is_file() => m.len(),
            _ => {
                err = Some(format!(
                    "{what} '{name}' references external data '{location}', which does not exist (looked for {})",
                    file.display()
                ));
                return;
            }
        };
        let offset = get("offset").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        if let Some(length) = get("length").and_then(|v| v.parse::<u64>().ok()) {
            if offset.saturating_add(length) > len {
                err = Some(format!(
                    "{what} '{name}' references bytes {offset}..{} of '{location}', which has only {len} bytes",
                    offset + length
                ));
            }
        }
    });
    err.map_or(Ok(()), Err)
}

/// Whether `a` and `b` name the same file (or would, once `b` is created).
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    match (canonical(a), canonical(b)) {
        (Some(ca), Some(cb)) => ca == cb,
        _ => false,
    }
}

fn canonical(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = fs::canonicalize(p) {
        return Some(c);
    }
    let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Some(fs::canonicalize(parent).ok()?.join(p.file_name()?))
}

/// Serializes `model` into `output` through a temporary file in the same
/// folder, renamed into place only once fully written and synced.
pub fn write_model_atomic(model: &ModelProto, output: &Path) -> Result<(), PatchError> {
    let size = model.compute_size();
    if size >= (1 << 31) {
        return Err(PatchError::Invalid {
            path: output.to_path_buf(),
            why: format!("the patched model would be {size} bytes, over protobuf's 2 GiB limit (store weights as external data)"),
        });
    }
    let bytes = model.write_to_bytes().map_err(|e| PatchError::Invalid {
        path: output.to_path_buf(),
        why: format!("cannot serialize the patched model ({})", one_line(&e.to_string())),
    })?;
    let dir = output.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = output.file_name().ok_or_else(|| PatchError::Invalid {
        path: output.to_path_buf(),
        why: "the output path names no file".into(),
    })?;
    let tmp = dir.join(format!(".{}.tmp-{}", file_name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, output)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(PatchError::io(output, "cannot write", &e));
    }
    Ok(())
}
