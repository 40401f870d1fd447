//! `patch` on the forms FP16 conversion gives LayerNorms (tests/fp16_models):
//! every LayerNorm becomes one FP32LayerNorm node; a LayerNormalization inside a
//! converter's Casts keeps them (the plugin reads the FP32 tensor), a decomposed
//! LayerNorm absorbs the Cast in (FP16 X, FP32 statistics); the graph stays sorted.
//! `tests/engine_rtx.rs` builds the same models with a real builder.

mod fp16_models;

use std::collections::HashSet;
use trt_layernorm::onnx::proto::{ModelProto, NodeProto};
use trt_layernorm::onnx::{patch_model, PatchOptions, PLUGIN_OP};

fn plugins(m: &ModelProto) -> Vec<&NodeProto> {
    m.graph.node.iter().filter(|n| n.op_type.as_deref() == Some(PLUGIN_OP)).collect()
}

fn attr_f(n: &NodeProto, name: &str) -> Option<f32> {
    n.attribute.iter().find(|a| a.name.as_deref() == Some(name))?.f
}

fn ops(m: &ModelProto) -> Vec<&str> {
    m.graph.node.iter().map(|n| n.op_type.as_deref().unwrap_or("")).collect()
}

#[test]
fn fp16_converted_layernorms_are_replaced() {
    for case in fp16_models::all() {
        let mut m = case.model.clone();
        let report = patch_model(&mut m, &PatchOptions { plugin_version: "2".into(), ..Default::default() })
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let rejected: Vec<String> = report.rejected.iter().map(|r| format!("{}: {}", r.anchor, r.reason)).collect();
        assert!(rejected.is_empty(), "{} ({}): rejected {rejected:?}", case.name, case.what);
        let p = plugins(&m);
        assert_eq!(p.len(), case.layernorms, "{} ({}): plugin nodes; ops now {:?}", case.name, case.what, ops(&m));
        let node = p[0];

        // What the plugin node reads and writes, and the Casts left: a LayerNormalization
        // inside a converter's Casts keeps them (the plugin runs on the FP32 tensors).
        let casts_before = case.model.graph.node.iter().filter(|n| n.op_type.as_deref() == Some("Cast")).count();
        let (x, y, casts) = match case.name {
            "cast_island_layernorm_op17" | "cast_island_fp16_params_op17" => ("x32", "y32", casts_before),
            // The Cast in is absorbed (the plugin reads FP16 X and writes FP32, output_type = 1);
            // the Cast back after the affine stays.
            "cast_island_decomposed_op13" => ("x", "y32", 1),
            _ => ("x", "y", 0),
        };
        assert_eq!(node.input.first().map(String::as_str), Some(x), "{}: X; ops now {:?}", case.name, ops(&m));
        assert_eq!(node.output.as_slice(), [y], "{}: Y", case.name);
        assert_eq!(node.input.len(), 3, "{}: scale and bias absorbed: {:?}", case.name, node.input);
        let casts_after = m.graph.node.iter().filter(|n| n.op_type.as_deref() == Some("Cast")).count();
        assert_eq!(casts_after, casts, "{}: Casts left: {:?}", case.name, ops(&m));

        let output_type = node.attribute.iter().find(|a| a.name.as_deref() == Some("output_type")).and_then(|a| a.i);
        let want_type = if case.name == "cast_island_decomposed_op13" { Some(1) } else { None };
        assert_eq!(output_type, want_type, "{}: output_type", case.name);

        // Epsilon: 1e-5 as the model stores it (an FP16 constant rounds it).
        let eps = attr_f(node, "epsilon").expect("epsilon");
        let want = if case.name.starts_with("fp16_decomposed") { half::f16::from_f32(fp16_models::EPS).to_f32() } else { fp16_models::EPS };
        assert_eq!(eps, want, "{}: epsilon", case.name);

        for gone in ["LayerNormalization", "ReduceMean", "Pow", "Sqrt", "Div"] {
            assert!(!ops(&m).contains(&gone), "{}: {gone} left: {:?}", case.name, ops(&m));
        }

        // Topological order: every input produced before it is read.
        let mut known: HashSet<&str> = m.graph.input.iter().filter_map(|v| v.name.as_deref()).collect();
        known.extend(m.graph.initializer.iter().filter_map(|t| t.name.as_deref()));
        for n in &m.graph.node {
            for i in n.input.iter().filter(|i| !i.is_empty()) {
                assert!(known.contains(i.as_str()), "{}: {:?} reads '{i}' before it is produced", case.name, n.name);
            }
            known.extend(n.output.iter().map(String::as_str));
        }
        println!("{} ({}): {:?}", case.name, case.what, ops(&m));
    }
}
