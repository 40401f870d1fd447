//! Writes the committed seed corpus: `cargo run --bin gen_corpus -- <fuzz dir>`
//! (default `.`) fills `seeds/wire` and `seeds/fields` with a few valid inputs
//! and edge cases.

use std::path::PathBuf;
use trt_layernorm::plugin::{wire, PluginConfig};
use trt_layernorm_fuzz::{seal, write_field, FuzzField};

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
    ];
    let mut wire_seeds: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, c, n) in configs {
        wire_seeds.push((format!("valid_{name}"), wire::encode(&c, n)));
    }
    let blob = wire::encode(&PluginConfig::default(), 3);
    let payload = &blob[12..blob.len() - 4];
    wire_seeds.push(("empty".into(), vec![]));
    wire_seeds.push(("header_only".into(), blob[..16].to_vec()));
    wire_seeds.push(("truncated".into(), blob[..blob.len() - 1].to_vec()));
    let mut b = blob.clone();
    b[4] = 2;
    wire_seeds.push(("version2".into(), b));
    let mut b = blob.clone();
    *b.last_mut().unwrap() ^= 1;
    wire_seeds.push(("bad_crc".into(), b));
    wire_seeds.push(("empty_payload_sealed".into(), seal(&[])));
    wire_seeds.push(("zero_records_sealed".into(), seal(&[0])));
    // Records reversed: still a valid blob (the reader takes any order).
    let records = {
        let mut recs = Vec::new();
        let mut p = 1;
        while p < payload.len() {
            let len = 1 + payload[p] as usize + 1 + 4;
            recs.push(payload[p..p + len].to_vec());
            p += len;
        }
        recs
    };
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
        ("unknown_type_code", vec![field("axis", 1000, [0; 4])]),
    ];
    for (name, set) in &sets {
        let mut bytes = Vec::new();
        set.iter().for_each(|f| write_field(&mut bytes, f));
        std::fs::write(fields_dir.join(name), bytes)?;
    }
    println!("{} wire seeds, {} field seeds under {}", wire_seeds.len(), sets.len(), root.display());
    Ok(())
}
