//! Inputs the ONNX fuzz targets found, kept as seeds (fuzz/seeds/onnx) and
//! checked here on every `cargo test`.

use trt_layernorm::onnx::{io, patch_model, PatchOptions};

/// A mutated GPT-2 block in which two LayerNorm matches produce one tensor
/// name (not SSA). Once, both were "replaced" by one plugin node and the
/// report disagreed with the graph; now the second is refused with a reason,
/// and every replaced norm is exactly one plugin node producing its output.
#[test]
fn two_norms_with_one_output_name_give_one_plugin_node() {
    let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/onnx/regression_two_norms_one_output")).unwrap();
    let m = io::parse_model(&data).expect("the seed is a model file");
    let mut p = m.clone();
    let r = patch_model(&mut p, &PatchOptions::default()).unwrap();
    assert!(r.rejected.iter().any(|x| x.reason.contains("is also produced by another node")), "{:?}", r.rejected);
    let g = p.graph.as_ref().unwrap();
    for (c, name) in &r.replaced {
        let outs: Vec<_> = g.node.iter().filter(|n| n.name.as_deref() == Some(name.as_str())).map(|n| n.output.clone()).collect();
        let mut want = vec![c.y.clone()];
        want.extend(c.skip.as_ref().and_then(|s| s.sum.clone()));
        assert_eq!(outs, [want], "{name}");
    }
}
