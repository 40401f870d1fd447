//! Writes the committed seed corpus: `cargo run --bin gen_corpus -- <fuzz dir>`
//! (default `.`) fills `seeds/wire` and `seeds/fields` with a few valid inputs
//! and edge cases, `seeds/onnx` with slimmed fixtures (large weights emptied)
//! and truncated, corrupted and hostile versions of them, and `seeds/onnx_graph`
//! with edit scripts over each base model.

use std::path::PathBuf;
use trt_layernorm::plugin::{wire, NormKind, PluginConfig};
use protobuf::Message;
use trt_layernorm_fuzz::onnx::{edit, slim, BASES};
use trt_layernorm_fuzz::{seal, write_field, FuzzField};

/// The records of an encoded blob, each as its bytes.
fn records(blob: &[u8]) -> Vec<Vec<u8>> {
    wire::split_records(blob).expect("an encoded blob's framing").into_iter().map(<[u8]>::to_vec).collect()
}

/// A payload of `recs`, leaving out the records named `without`.
fn payload_of(recs: &[Vec<u8>], without: &[&str]) -> Vec<u8> {
    let keep: Vec<&Vec<u8>> = recs.iter().filter(|r| !without.iter().any(|n| &r[1..1 + r[0] as usize] == n.as_bytes())).collect();
    let mut p = vec![keep.len() as u8];
    keep.iter().for_each(|r| p.extend_from_slice(r));
    p
}

/// The record named `name`, with its 4-byte value replaced by `v`.
fn record_with(recs: &[Vec<u8>], name: &str, v: i32) -> Vec<u8> {
    let mut r = recs.iter().find(|r| &r[1..1 + r[0] as usize] == name.as_bytes()).expect("record").clone();
    let at = r.len() - 4;
    r[at..].copy_from_slice(&v.to_le_bytes());
    r
}

/// A payload of `recs` with the value of the record `name` replaced by `v`.
fn payload_with(recs: &[Vec<u8>], name: &str, v: i32) -> Vec<u8> {
    let mut p = payload_of(recs, &[name]);
    p[0] += 1;
    p.extend_from_slice(&record_with(recs, name, v));
    p
}

/// A current FP32LayerNorm blob rewritten in format version 1: the same
/// records without `norm` and `workspace`, as releases before FP32RMSNorm wrote it.
fn version1(blob: &[u8]) -> Vec<u8> {
    wire::seal(1, &payload_of(&records(blob), &[wire::NORM, "workspace"]))
}

/// A current blob rewritten in format version 2: without `workspace`, as
/// releases before that field wrote it (read with `workspace` = 0).
fn version2(blob: &[u8]) -> Vec<u8> {
    wire::seal(2, &payload_of(&records(blob), &["workspace"]))
}

fn field(name: &str, type_code: i32, value: [u8; 4]) -> FuzzField {
    FuzzField { name: Some(name.as_bytes().to_vec()), type_code, length: 1, has_data: true, value }
}
fn eps(v: f32) -> FuzzField {
    field("epsilon", 1, v.to_le_bytes())
}
fn int(name: &str, v: i32) -> FuzzField {
    field(name, 5, v.to_le_bytes())
}

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into())).join("seeds");
    let (wire_dir, fields_dir) = (root.join("wire"), root.join("fields"));
    std::fs::create_dir_all(&wire_dir)?;
    std::fs::create_dir_all(&fields_dir)?;

    // wire: valid blobs, then edge cases.
    let configs = [
        ("default", PluginConfig::default(), 0),
        ("eps1e-12_axis-8_fp32", PluginConfig::new(1e-12, -8, 1).unwrap(), 3),
        ("eps0.5_axis7", PluginConfig::new(0.5, 7, 0).unwrap(), 1),
        ("epsmax_axis0_fp32", PluginConfig::new(f32::MAX, 0, 1).unwrap(), 2),
        ("eps_subnormal", PluginConfig::new(f32::from_bits(1), -1, 0).unwrap(), 3),
        ("eps0", PluginConfig::new(0.0, -1, 0).unwrap(), 2),
    ];
    let mut wire_seeds: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, c, n) in configs {
        let blob = wire::encode(&c, n);
        wire_seeds.push((format!("valid_{name}"), blob.clone()));
        // The same in format version 1 (FP32LayerNorm before FP32RMSNorm existed) and 2
        // (before `workspace`): still read.
        wire_seeds.push((format!("valid_v1_{name}"), version1(&blob)));
        wire_seeds.push((format!("valid_v2_{name}"), version2(&blob)));
        wire_seeds.push((format!("valid_no_workspace_{name}"), wire::encode(&c.with_workspace(0).unwrap(), n)));
        // FP32RMSNorm (at most 2 inputs).
        wire_seeds.push((format!("valid_rms_{name}"), wire::encode(&c.with_norm(NormKind::RmsNorm), n.min(2))));
        // FP32SkipLayerNorm (2 to 5 inputs), without and with the sum output.
        let skip = c.with_norm(NormKind::SkipLayerNorm);
        let skip_n = if n == 1 { 5 } else { n };
        wire_seeds.push((format!("valid_skip_{name}"), wire::encode(&skip, skip_n)));
        wire_seeds.push((format!("valid_skip_sum_{name}"), wire::encode(&skip.with_sum_output(1).unwrap(), skip_n)));
    }
    let blob = wire::encode(&PluginConfig::default(), 3);
    let payload = &blob[12..blob.len() - 4];
    wire_seeds.push(("empty".into(), vec![]));
    wire_seeds.push(("header_only".into(), blob[..16].to_vec()));
    wire_seeds.push(("truncated".into(), blob[..blob.len() - 1].to_vec()));
    let mut b = blob.clone();
    b[4] = 4;
    wire_seeds.push(("version4".into(), b));
    let recs = records(&blob);
    // `workspace` 2 (refused), and a version-2 blob that has a `workspace` record (refused).
    wire_seeds.push(("workspace2_sealed".into(), seal(&payload_with(&recs, "workspace", 2))));
    wire_seeds.push(("v2_with_workspace_record_sealed".into(), wire::seal(2, payload)));
    // FP32RMSNorm configured with 3 inputs (it has 2): refused.
    wire_seeds.push(("rms_num_inputs3".into(), wire::encode(&PluginConfig::default().with_norm(NormKind::RmsNorm), 3)));
    // An FP32LayerNorm payload relabelled FP32SkipLayerNorm (no sum_output record: refused),
    // a norm code that names no plugin, and a version-1 blob with a norm record.
    wire_seeds.push(("norm_code2_sealed".into(), seal(&payload_with(&recs, wire::NORM, 2))));
    wire_seeds.push(("norm_code3_sealed".into(), seal(&payload_with(&recs, wire::NORM, 3))));
    // FP32SkipLayerNorm: 1 input (it has 2 to 5), sum_output 2, and an FP32LayerNorm blob with a sum_output record.
    let skip_blob = wire::encode(&PluginConfig::default().with_norm(NormKind::SkipLayerNorm).with_sum_output(1).unwrap(), 5);
    wire_seeds.push(("skip_num_inputs1".into(), wire::encode(&PluginConfig::default().with_norm(NormKind::SkipLayerNorm), 1)));
    let skip_recs = records(&skip_blob);
    wire_seeds.push(("skip_sum_output2_sealed".into(), seal(&payload_with(&skip_recs, "sum_output", 2))));
    let mut b = payload.to_vec();
    b[0] += 1;
    b.extend_from_slice(&record_with(&skip_recs, "sum_output", 1));
    wire_seeds.push(("ln_with_sum_output_sealed".into(), seal(&b)));
    wire_seeds.push(("v1_with_norm_record_sealed".into(), wire::seal(1, payload)));
    let mut b = blob.clone();
    *b.last_mut().unwrap() ^= 1;
    wire_seeds.push(("bad_crc".into(), b));
    wire_seeds.push(("empty_payload_sealed".into(), seal(&[])));
    wire_seeds.push(("zero_records_sealed".into(), seal(&[0])));
    // Records reversed: still a valid blob (the reader takes any order).
    let records = recs;
    let mut reversed = vec![records.len() as u8];
    records.iter().rev().for_each(|r| reversed.extend_from_slice(r));
    wire_seeds.push(("records_reversed_sealed".into(), seal(&reversed)));
    let mut dup = vec![records.len() as u8 + 1];
    records.iter().chain(&records[..1]).for_each(|r| dup.extend_from_slice(r));
    wire_seeds.push(("duplicate_epsilon_sealed".into(), seal(&dup)));
    let mut tolerated = payload.to_vec();
    tolerated[0] += 1;
    tolerated.push(14);
    tolerated.extend_from_slice(b"plugin_version");
    tolerated.push(5);
    tolerated.extend_from_slice(&1i32.to_le_bytes());
    wire_seeds.push(("plugin_version_record_sealed".into(), seal(&tolerated)));
    wire_seeds.push(("too_long".into(), vec![0; wire::MAX_LEN + 1]));
    for (name, bytes) in &wire_seeds {
        std::fs::write(wire_dir.join(name), bytes)?;
    }

    // fields: valid collections, then edge cases.
    let sets: Vec<(&str, Vec<FuzzField>)> = vec![
        ("empty", vec![]),
        ("all_three", vec![eps(1e-6), int("axis", -2), int("output_type", 1)]),
        ("axis_only", vec![int("axis", 7)]),
        (
            "onnx_pass_through",
            vec![
                FuzzField { name: Some(b"plugin_version".to_vec()), type_code: 6, length: 1, has_data: true, value: *b"1\0\0\0" },
                FuzzField { name: Some(b"plugin_namespace".to_vec()), type_code: 6, length: 0, has_data: false, value: [0; 4] },
                eps(1e-5),
            ],
        ),
        ("unknown_name", vec![eps(1e-5), int("stash_type", 1)]),
        ("wrong_type", vec![field("epsilon", 2, [0; 4])]),
        ("null_name", vec![FuzzField { name: None, ..int("axis", 0) }]),
        ("non_utf8_name", vec![FuzzField { name: Some(vec![0xFF, 0xFE, b'a']), ..int("axis", 0) }]),
        ("duplicate", vec![int("axis", 1), int("axis", 1)]),
        ("length0", vec![FuzzField { length: 0, ..eps(1e-5) }]),
        ("null_data", vec![FuzzField { has_data: false, ..int("output_type", 0) }]),
        ("eps_nan", vec![eps(f32::NAN)]),
        ("eps_negative", vec![eps(-1e-5)]),
        ("axis_out_of_range", vec![int("axis", 8)]),
        ("output_type_2", vec![int("output_type", 2)]),
        ("eps_zero", vec![eps(0.0)]),
        ("sum_output_1", vec![eps(1e-6), int("axis", -1), int("output_type", 0), int("sum_output", 1)]),
        ("sum_output_2", vec![int("sum_output", 2)]),
        ("workspace_0", vec![eps(1e-6), int("workspace", 0)]),
        ("workspace_2", vec![int("workspace", 2)]),
        ("workspace_float", vec![field("workspace", 1, 1f32.to_le_bytes())]),
        ("sum_output_float", vec![field("sum_output", 1, 1f32.to_le_bytes())]),
        ("sum_output_then_bad_axis", vec![int("sum_output", 1), int("axis", 9)]),
        ("unknown_type_code", vec![field("axis", 1000, [0; 4])]),
    ];
    for (name, set) in &sets {
        let mut bytes = Vec::new();
        set.iter().for_each(|f| write_field(&mut bytes, f));
        std::fs::write(fields_dir.join(name), bytes)?;
    }

    // onnx: the slimmed fixtures, then truncated, corrupted and hostile versions.
    let (onnx_dir, graph_dir) = (root.join("onnx"), root.join("onnx_graph"));
    std::fs::create_dir_all(&onnx_dir)?;
    std::fs::create_dir_all(&graph_dir)?;
    // Edit scripts (see trt_layernorm_fuzz::onnx::edit): op, a, b, c.
    let scripts: &[(&str, &[u8])] = &[
        ("none", &[]),
        ("cycle", &[1, 0, 0, 5, 1, 3, 1, 9]),
        ("self_loop", &[2, 1, 0, 0, 2, 4, 1, 0]),
        ("dangling", &[0, 2, 1, 0xF0, 7, 1, 0, 0]),
        ("missing_initializers", &[3, 0, 0, 0, 3, 1, 0, 0, 3, 2, 0, 0]),
        ("huge_dims", &[4, 0, 0, 0, 4, 1, 0x81, 1, 5, 0, 0, 8, 17, 0, 1, 3]),
        ("hostile_attrs", &[6, 0, 0, 0, 6, 1, 4, 0xC0, 6, 2, 5, 3, 6, 3, 1, 1]),
        ("unsorted", &[9, 0, 7, 0, 9, 2, 5, 0, 8, 1, 0, 0]),
        ("nested", &[15, 0, 7, 0, 14, 0, 0, 3]),
        ("types", &[12, 0, 0, 4, 12, 1, 1, 2, 10, 2, 9, 0, 11, 0, 0, 0, 11, 1, 0, 0]),
    ];
    let mut onnx_seeds = 0;
    for (k, (name, bytes)) in BASES.iter().enumerate() {
        let model = slim(bytes);
        let valid = model.write_to_bytes().expect("serializes");
        std::fs::write(onnx_dir.join(format!("{name}.onnx")), &valid)?;
        onnx_seeds += 1;
        if k < 3 {
            for (what, cut) in [("half", valid.len() / 2), ("minus1", valid.len() - 1), ("head", 24)] {
                std::fs::write(onnx_dir.join(format!("{name}.truncated_{what}")), &valid[..cut])?;
                onnx_seeds += 1;
            }
            let mut flipped = valid.clone();
            for i in (7..flipped.len()).step_by(97) {
                flipped[i] ^= 0x5A;
            }
            std::fs::write(onnx_dir.join(format!("{name}.corrupted")), flipped)?;
            onnx_seeds += 1;
        }
        for (sname, script) in scripts {
            let mut seed = vec![k as u8];
            seed.extend_from_slice(script);
            std::fs::write(graph_dir.join(format!("{name}.{sname}")), &seed)?;
            if k < 2 && !script.is_empty() {
                let mut m = model.clone();
                for e in script.chunks_exact(4) {
                    edit(m.graph.as_mut().expect("graph"), e[0], e[1], e[2], e[3]);
                }
                std::fs::write(onnx_dir.join(format!("{name}.{sname}.onnx")), m.write_to_bytes().expect("serializes"))?;
                onnx_seeds += 1;
            }
        }
    }
    std::fs::write(onnx_dir.join("empty"), b"")?;
    std::fs::write(onnx_dir.join("png"), b"\x89PNG\r\n\x1a\n")?;
    println!(
        "{} wire seeds, {} field seeds, {onnx_seeds} onnx seeds, {} onnx_graph seeds under {}",
        wire_seeds.len(),
        sets.len(),
        BASES.len() * scripts.len(),
        root.display()
    );
    Ok(())
}
