//! The serialized form of a version-1 (IPluginV2DynamicExt) plugin: what a
//! TensorRT engine stores for each FP32LayerNorm, FP32RMSNorm or
//! FP32SkipLayerNorm layer and hands back to `deserializePlugin`.
//!
//! Layout (little-endian), self-describing and checked end to end:
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0 | 4 | magic `TLNP` |
//! | 4 | 2 | format version (3; versions 1 and 2 are still read) |
//! | 6 | 2 | reserved, 0 |
//! | 8 | 4 | payload length P |
//! | 12 | P | payload: record count (u8), then per record: name length (u8), name (ASCII), `PluginFieldType` code (u8), value (4 bytes) |
//!
//! | 12+P | 4 | CRC-32 (IEEE) of bytes 0..12+P |
//!
//! Records, in this order: the fields `epsilon` (float32), `axis` (int32),
//! `output_type` (int32), then `num_inputs` (int32: the inputs the plugin was
//! configured with, 0 = not configured yet, else an input count of the
//! plugin: 1 to 3, 1 to 2, 2 to 5), so that a deserialized plugin can enqueue
//! even before TensorRT configures it again, then `norm` (int32: 0 =
//! FP32LayerNorm, 1 = FP32RMSNorm, 2 = FP32SkipLayerNorm), the plugin the
//! blob belongs to, in FP32SkipLayerNorm blobs only its field `sum_output`
//! (int32), and last the field `workspace` (int32: 1 = TensorRT was asked
//! for a workspace when the engine was built). A `sum_output` record in an
//! FP32LayerNorm or FP32RMSNorm blob is an unknown field, refused.
//!
//! Version 2 (written before `workspace` existed) is the same without the
//! `workspace` record and is read with `workspace` = 0: those engines never
//! asked TensorRT for a workspace, so the plugin must not use one. Version 1
//! (written before FP32RMSNorm existed) also lacks the `norm` record and is
//! read as FP32LayerNorm.
//! A creator reads blobs of its own plugin only ([`decode_as`]): a blob of
//! one plugin handed to another plugin's creator is refused, never
//! reinterpreted.
//!
//! The records are the plugin's fields by name, so a blob can be read (and
//! explained) without this crate; decoding runs them through the same field
//! checks as a field collection. Every truncation and every bit flip fails
//! the length or the CRC check (CRC-32 detects all 1-, 2- and 3-bit errors
//! and every burst up to 32 bits), and the parser checks each byte anyway.

use super::config::{max_inputs, min_inputs, PluginConfig, MAX_INPUTS};
use super::fields::{self, FieldError, FieldType, FieldValue, RawField};
use super::plugin_name;
use crate::problem::NormKind;

pub const MAGIC: [u8; 4] = *b"TLNP";
/// The version this build writes.
pub const FORMAT_VERSION: u16 = 3;
/// The version before `workspace` (read with `workspace` = 0).
pub const FORMAT_VERSION_NO_WORKSPACE: u16 = 2;
/// The first version, FP32LayerNorm only (no `norm` record); still read.
pub const FORMAT_VERSION_LAYERNORM_ONLY: u16 = 1;
const HEADER_LEN: usize = 12;
/// The record that is plugin state, not a plugin field.
pub const NUM_INPUTS: &str = "num_inputs";
/// The record naming the plugin (norm kind) the blob belongs to (version 2).
pub const NORM: &str = "norm";
const TRAILER_LEN: usize = 4;
/// No valid blob is anywhere near this long; anything longer is refused before reading.
pub const MAX_LEN: usize = 1024;

/// Why a byte string is not a serialized plugin of this library (of the kind asked for).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WireError {
    #[error("serialized plugin is {len} bytes; at least {min} expected")]
    TooShort { len: usize, min: usize },
    #[error("serialized plugin is {len} bytes; at most {MAX_LEN} expected")]
    TooLong { len: usize },
    #[error("not a serialized plugin of this library (FP32LayerNorm, FP32RMSNorm, FP32SkipLayerNorm): magic {found:02x?}, expected \"TLNP\"")]
    BadMagic { found: [u8; 4] },
    #[error("serialized plugin has format version {0}; this build reads versions {FORMAT_VERSION_LAYERNORM_ONLY} to {FORMAT_VERSION}")]
    UnsupportedVersion(u16),
    #[error("serialized plugin has non-zero reserved bits {0:#06x}")]
    Reserved(u16),
    #[error("serialized plugin declares a {declared}-byte payload but carries {actual}")]
    Length { declared: u32, actual: usize },
    #[error("serialized plugin is corrupt: CRC-32 {computed:#010x} does not match the stored {stored:#010x}")]
    Checksum { stored: u32, computed: u32 },
    #[error("serialized plugin payload is malformed at byte {offset}: {reason}")]
    Malformed { offset: usize, reason: &'static str },
    #[error("serialized plugin lacks the field `{0}`")]
    Missing(&'static str),
    #[error("serialized plugin: {0}")]
    Field(#[from] FieldError),
    #[error("the serialized plugin is a {} and cannot be read by the {} creator", plugin_name(*found), plugin_name(*expected))]
    WrongPlugin { expected: NormKind, found: NormKind },
}

/// The `norm` record's value for a kind (stable: engines store it).
pub fn norm_code(kind: NormKind) -> i32 {
    match kind {
        NormKind::LayerNorm => 0,
        NormKind::RmsNorm => 1,
        NormKind::SkipLayerNorm => 2,
    }
}

/// The kind a `norm` record's value names, if any.
pub fn norm_from_code(code: i32) -> Option<NormKind> {
    NormKind::ALL.into_iter().find(|&k| norm_code(k) == code)
}

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it).
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |c, &b| TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8))
}

/// Serializes a configuration (its kind included) in the current format version.
pub fn encode(config: &PluginConfig, num_inputs: u8) -> Vec<u8> {
    let mut records: Vec<(&str, FieldType, [u8; 4])> = vec![
        (fields::EPSILON, FieldType::Float32, config.epsilon().to_bits().to_le_bytes()),
        (fields::AXIS, FieldType::Int32, config.axis().to_le_bytes()),
        (fields::OUTPUT_TYPE, FieldType::Int32, config.output_type().code().to_le_bytes()),
        (NUM_INPUTS, FieldType::Int32, (num_inputs as i32).to_le_bytes()),
        (NORM, FieldType::Int32, norm_code(config.norm()).to_le_bytes()),
    ];
    if config.norm() == NormKind::SkipLayerNorm {
        records.push((fields::SUM_OUTPUT, FieldType::Int32, i32::from(config.sum_output()).to_le_bytes()));
    }
    records.push((fields::WORKSPACE, FieldType::Int32, i32::from(config.workspace()).to_le_bytes()));
    let mut payload = vec![records.len() as u8];
    for (name, t, value) in records {
        payload.push(name.len() as u8);
        payload.extend_from_slice(name.as_bytes());
        payload.push(t.code() as u8);
        payload.extend_from_slice(&value);
    }
    seal(FORMAT_VERSION, &payload)
}

/// A blob of format `version` around `payload` (the record count, then the
/// records): magic, version, reserved bits, length and CRC, as [`encode`]
/// writes them. Nothing in the payload is checked: tools and tests seal
/// hand-made payloads with it, valid or not, and [`decode`] judges them.
pub fn seal(version: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + TRAILER_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A blob's records as stored (name length, name, type code, 4-byte value
/// each), split by their framing alone: no magic, version, length, CRC or
/// value checked. None where the framing does not hold (a blob shorter than
/// its header and CRC, a record running past the payload, a record count
/// that disagrees). For tools and tests that edit serialized plugins (with
/// [`seal`]); [`decode`] is the reader.
pub fn split_records(blob: &[u8]) -> Option<Vec<&[u8]>> {
    let payload = blob.get(HEADER_LEN..blob.len().checked_sub(TRAILER_LEN)?)?;
    let (&count, mut rest) = payload.split_first()?;
    let mut records = Vec::with_capacity(count as usize);
    while let Some(&name_len) = rest.first() {
        let (record, tail) = rest.split_at_checked(1 + name_len as usize + 1 + 4)?;
        records.push(record);
        rest = tail;
    }
    (records.len() == count as usize).then_some(records)
}

/// A cursor over the payload that names the offset of whatever is wrong.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(WireError::Malformed { offset: self.base + self.pos, reason: what })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }
}

fn le_u16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}
fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Reads a serialized configuration of a plugin of `kind` and the configured
/// input count, checking every byte; a blob of another plugin is an error.
pub fn decode_as(kind: NormKind, blob: &[u8]) -> Result<(PluginConfig, u8), WireError> {
    let (config, num_inputs) = decode(blob)?;
    if config.norm() != kind {
        return Err(WireError::WrongPlugin { expected: kind, found: config.norm() });
    }
    Ok((config, num_inputs))
}

/// Reads a serialized configuration (of whichever plugin it names) and the
/// configured input count, checking every byte.
pub fn decode(blob: &[u8]) -> Result<(PluginConfig, u8), WireError> {
    let min = HEADER_LEN + TRAILER_LEN;
    if blob.len() < min {
        return Err(WireError::TooShort { len: blob.len(), min });
    }
    if blob.len() > MAX_LEN {
        return Err(WireError::TooLong { len: blob.len() });
    }
    let magic: [u8; 4] = blob[0..4].try_into().expect("4 bytes");
    if magic != MAGIC {
        return Err(WireError::BadMagic { found: magic });
    }
    let version = le_u16(&blob[4..6]);
    if !(FORMAT_VERSION_LAYERNORM_ONLY..=FORMAT_VERSION).contains(&version) {
        return Err(WireError::UnsupportedVersion(version));
    }
    let reserved = le_u16(&blob[6..8]);
    if reserved != 0 {
        return Err(WireError::Reserved(reserved));
    }
    let declared = le_u32(&blob[8..12]);
    let actual = blob.len() - min;
    if declared as usize != actual {
        return Err(WireError::Length { declared, actual });
    }
    let body_end = HEADER_LEN + actual;
    let stored = le_u32(&blob[body_end..]);
    let computed = crc32(&blob[..body_end]);
    if stored != computed {
        return Err(WireError::Checksum { stored, computed });
    }

    let mut r = Reader { bytes: &blob[HEADER_LEN..body_end], pos: 0, base: HEADER_LEN };
    let count = r.u8("record count")? as usize;
    let mut raw = Vec::with_capacity(count);
    let mut num_inputs = None;
    let mut norm = None;
    for _ in 0..count {
        let name_len = r.u8("name length")? as usize;
        let at = HEADER_LEN + r.pos;
        let name = std::str::from_utf8(r.take(name_len, "name")?)
            .ok()
            .filter(|n| n.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or(WireError::Malformed { offset: at, reason: "field name is not printable ASCII" })?;
        let field_type = FieldType::from_code(r.u8("type code")? as i32);
        let value = r.take(4, "value")?;
        let value = match field_type {
            FieldType::Float32 => FieldValue::F32(f32::from_bits(le_u32(value))),
            FieldType::Int32 => FieldValue::I32(le_u32(value) as i32),
            _ => return Err(WireError::Malformed { offset: HEADER_LEN + r.pos - 5, reason: "record type is not float32 or int32" }),
        };
        if name == NUM_INPUTS {
            if num_inputs.is_some() {
                return Err(WireError::Malformed { offset: at, reason: "num_inputs given twice" });
            }
            num_inputs = Some(match value {
                FieldValue::I32(n) if (0..=MAX_INPUTS as i32).contains(&n) => (n as u8, at),
                _ => return Err(WireError::Malformed { offset: at, reason: "num_inputs must be an int32 from 0 to 5" }),
            });
            continue;
        }
        if name == NORM {
            if version == FORMAT_VERSION_LAYERNORM_ONLY {
                return Err(WireError::Malformed { offset: at, reason: "a version-1 blob has no norm record" });
            }
            if norm.is_some() {
                return Err(WireError::Malformed { offset: at, reason: "norm given twice" });
            }
            norm = Some(match value {
                FieldValue::I32(code) => norm_from_code(code),
                FieldValue::F32(_) => None,
            }
            .ok_or(WireError::Malformed { offset: at, reason: "norm must be an int32: 0 (FP32LayerNorm), 1 (FP32RMSNorm) or 2 (FP32SkipLayerNorm)" })?);
            continue;
        }
        raw.push(RawField { name: Some(name), field_type, length: 1, value: Some(value) });
    }
    if r.pos != r.bytes.len() {
        return Err(WireError::Malformed { offset: HEADER_LEN + r.pos, reason: "bytes after the last record" });
    }
    if raw.iter().any(|f| f.name.is_some_and(|n| fields::TOLERATED.contains(&n))) {
        return Err(WireError::Malformed { offset: HEADER_LEN, reason: "ONNX pass-through attributes are never serialized" });
    }
    let kind = match version {
        FORMAT_VERSION_LAYERNORM_ONLY => NormKind::LayerNorm,
        _ => norm.ok_or(WireError::Missing(NORM))?,
    };
    let given = fields::collect(kind, &raw)?;
    let epsilon = given.epsilon.ok_or(WireError::Missing(fields::EPSILON))?;
    let axis = given.axis.ok_or(WireError::Missing(fields::AXIS))?;
    let output_type = given.output_type.ok_or(WireError::Missing(fields::OUTPUT_TYPE))?;
    let sum_output = match kind {
        NormKind::SkipLayerNorm => given.sum_output.ok_or(WireError::Missing(fields::SUM_OUTPUT))?,
        _ => 0, // another kind's collect refused the record as an unknown field
    };
    let workspace = match (version, given.workspace) {
        (FORMAT_VERSION, w) => w.ok_or(WireError::Missing(fields::WORKSPACE))?,
        (_, None) => 0,
        (_, Some(_)) => return Err(WireError::Malformed { offset: HEADER_LEN, reason: "a blob of version 1 or 2 has no workspace record" }),
    };
    let (num_inputs, at) = num_inputs.ok_or(WireError::Missing(NUM_INPUTS))?;
    if num_inputs != 0 && !(min_inputs(kind)..=max_inputs(kind)).contains(&i32::from(num_inputs)) {
        return Err(WireError::Malformed {
            offset: at,
            reason: "num_inputs is not an input count of the plugin (0, or FP32LayerNorm 1 to 3, FP32RMSNorm 1 to 2, FP32SkipLayerNorm 2 to 5)",
        });
    }
    let config = PluginConfig::new(epsilon, axis, output_type)?.with_norm(kind).with_sum_output(sum_output)?.with_workspace(workspace)?;
    Ok((config, num_inputs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LN: NormKind = NormKind::LayerNorm;
    const RMS: NormKind = NormKind::RmsNorm;
    const SKIP: NormKind = NormKind::SkipLayerNorm;

    fn configs() -> Vec<PluginConfig> {
        let ln = vec![
            PluginConfig::default(),
            PluginConfig::new(1e-12, -8, 1).unwrap(),
            PluginConfig::new(0.5, 7, 0).unwrap(),
            PluginConfig::new(f32::MAX, 0, 1).unwrap(),
            PluginConfig::new(0.0, -1, 0).unwrap(),
        ];
        let rms = ln.iter().map(|c| c.with_norm(RMS));
        let skip = ln.iter().flat_map(|c| [0, 1].map(|s| c.with_norm(SKIP).with_sum_output(s).unwrap()));
        let no_workspace: Vec<PluginConfig> = ln.iter().chain(&[PluginConfig::default().with_norm(SKIP)]).map(|c| c.with_workspace(0).unwrap()).collect();
        ln.clone().into_iter().chain(rms).chain(skip).chain(no_workspace).collect()
    }

    /// The input counts a configuration can have been configured with.
    fn counts(c: &PluginConfig) -> impl Iterator<Item = u8> {
        std::iter::once(0).chain(c.min_inputs() as u8..=c.max_inputs() as u8)
    }

    /// Re-seals a hand-edited blob with a correct length and CRC, so the
    /// checks behind them are reached.
    fn reseal(mut blob: Vec<u8>) -> Vec<u8> {
        blob.truncate(blob.len() - 4);
        let len = (blob.len() - HEADER_LEN) as u32;
        blob[8..12].copy_from_slice(&len.to_le_bytes());
        let crc = crc32(&blob);
        blob.extend_from_slice(&crc.to_le_bytes());
        blob
    }

    /// The records of an encoded blob, each as its bytes.
    fn records(blob: &[u8]) -> Vec<Vec<u8>> {
        split_records(blob).expect("an encoded blob's framing").into_iter().map(<[u8]>::to_vec).collect()
    }

    /// A sealed blob of format `version` holding `recs`.
    fn blob_of(version: u16, recs: &[Vec<u8>]) -> Vec<u8> {
        let mut payload = vec![recs.len() as u8];
        recs.iter().for_each(|r| payload.extend_from_slice(r));
        seal(version, &payload)
    }

    /// `blob` without the records named `names`.
    fn without(blob: &[u8], names: &[&str]) -> Vec<u8> {
        let keep: Vec<Vec<u8>> = records(blob).into_iter().filter(|r| !names.iter().any(|n| &r[1..1 + r[0] as usize] == n.as_bytes())).collect();
        blob_of(le_u16(&blob[4..6]), &keep)
    }

    /// One int32 record.
    fn int_record(name: &str, v: i32) -> Vec<u8> {
        let mut r = vec![name.len() as u8];
        r.extend_from_slice(name.as_bytes());
        r.push(FieldType::Int32.code() as u8);
        r.extend_from_slice(&v.to_le_bytes());
        r
    }

    /// Offset of the 4-byte value of the record `name` in an encoded blob.
    fn value_at(blob: &[u8], name: &str) -> usize {
        let mut at = HEADER_LEN + 1;
        loop {
            let len = blob[at] as usize;
            if &blob[at + 1..at + 1 + len] == name.as_bytes() {
                return at + 1 + len + 1;
            }
            at += 1 + len + 1 + 4;
        }
    }

    /// A version-1 blob exactly as the releases before FP32RMSNorm wrote it
    /// (the same records without `norm`), byte for byte.
    fn version1_blob(epsilon: f32, axis: i32, output_type: i32, num_inputs: i32) -> Vec<u8> {
        let mut payload = vec![4u8];
        for (name, t, v) in [
            ("epsilon", 1u8, epsilon.to_bits().to_le_bytes()),
            ("axis", 5, axis.to_le_bytes()),
            ("output_type", 5, output_type.to_le_bytes()),
            ("num_inputs", 5, num_inputs.to_le_bytes()),
        ] {
            payload.push(name.len() as u8);
            payload.extend_from_slice(name.as_bytes());
            payload.push(t);
            payload.extend_from_slice(&v);
        }
        let mut out = b"TLNP".to_vec();
        out.extend_from_slice(&[1, 0, 0, 0]);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&payload);
        let crc = crc32(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// split_records and seal are encode's framing: an encoded blob splits
    /// into its records and reseals to itself; framing that does not hold is
    /// None, never a panic.
    #[test]
    fn records_split_and_seal_back() {
        for c in configs() {
            let blob = encode(&c, 2);
            let recs = split_records(&blob).unwrap();
            assert_eq!(recs.len(), blob[HEADER_LEN] as usize);
            assert_eq!(recs.iter().map(|r| r.len()).sum::<usize>() + HEADER_LEN + 1 + TRAILER_LEN, blob.len());
            assert!(recs.iter().all(|r| r.len() == 1 + r[0] as usize + 1 + 4));
            assert_eq!(seal(FORMAT_VERSION, &blob[HEADER_LEN..blob.len() - TRAILER_LEN]), blob);
            for cut in 0..blob.len() {
                assert_eq!(split_records(&blob[..cut]).filter(|r| r.len() == recs.len()), None, "cut at {cut}");
            }
        }
        let blob = encode(&PluginConfig::default(), 1);
        let mut miscounted = blob[..HEADER_LEN + 1 + TRAILER_LEN].to_vec();
        miscounted[HEADER_LEN] = 1;
        assert_eq!(split_records(&miscounted), None);
        assert_eq!(split_records(&seal(FORMAT_VERSION, &[0])), Some(vec![]));
        assert_eq!(split_records(&seal(FORMAT_VERSION, &[])), None);
    }

    #[test]
    fn crc_matches_zlib() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn round_trip() {
        for c in configs() {
            for n in counts(&c) {
                assert_eq!(decode(&encode(&c, n)), Ok((c, n)));
                assert_eq!(decode_as(c.norm(), &encode(&c, n)), Ok((c, n)));
            }
            let blob = encode(&c, 2);
            assert!(blob.len() <= MAX_LEN);
        }
    }

    #[test]
    fn layout_is_stable() {
        let blob = encode(&PluginConfig::default(), 1);
        assert_eq!(&blob[..4], b"TLNP");
        assert_eq!(le_u16(&blob[4..6]), 3);
        assert_eq!(blob.len(), 12 + 1 + (1 + 7 + 1 + 4) + (1 + 4 + 1 + 4) + (1 + 11 + 1 + 4) + (1 + 10 + 1 + 4) + (1 + 4 + 1 + 4) + (1 + 9 + 1 + 4) + 4);
        // `workspace` is the last record, in every plugin's blob.
        let ws_at = value_at(&blob, fields::WORKSPACE);
        assert_eq!(ws_at, blob.len() - 8);
        assert_eq!(&blob[ws_at - 11..ws_at], b"\x09workspace\x05");
        assert_eq!(&blob[ws_at..ws_at + 4], &1i32.to_le_bytes());
        let none = encode(&PluginConfig::default().with_workspace(0).unwrap(), 1);
        assert_eq!(&none[ws_at..ws_at + 4], &0i32.to_le_bytes());
        let at = value_at(&blob, NORM);
        assert_eq!(&blob[at - 6..at - 1], b"\x04norm");
        assert_eq!(&blob[at..at + 4], &0i32.to_le_bytes(), "FP32LayerNorm is norm 0");
        let rms = encode(&PluginConfig::default().with_norm(RMS), 1);
        assert_eq!(&rms[at..at + 4], &1i32.to_le_bytes(), "FP32RMSNorm is norm 1");
        assert_eq!(rms.len(), blob.len());
        // FP32SkipLayerNorm: the same records (norm 2), `sum_output` before `workspace`.
        for s in [0, 1] {
            let skip = encode(&PluginConfig::default().with_norm(SKIP).with_sum_output(s).unwrap(), 2);
            assert_eq!(skip.len(), blob.len() + 1 + 10 + 1 + 4);
            assert_eq!(skip[HEADER_LEN], 7, "seven records");
            assert_eq!(&skip[at..at + 4], &2i32.to_le_bytes(), "FP32SkipLayerNorm is norm 2");
            let sum_at = value_at(&skip, fields::SUM_OUTPUT);
            assert_eq!(sum_at, at + 4 + 1 + 10 + 1, "sum_output follows norm");
            assert_eq!(value_at(&skip, fields::WORKSPACE), skip.len() - 8);
            assert_eq!(&skip[sum_at - 12..sum_at], b"\x0asum_output\x05");
            assert_eq!(&skip[sum_at..sum_at + 4], &s.to_le_bytes());
        }
    }

    #[test]
    fn version_1_blobs_still_read_as_layernorm() {
        for (e, a, o, n) in [(1e-5f32, -1, 0, 3), (1e-12, -8, 1, 0), (0.5, 7, 0, 1)] {
            let old = version1_blob(e, a, o, n);
            let expected = (PluginConfig::new(e, a, o).unwrap().with_workspace(0).unwrap(), n as u8);
            assert_eq!(decode(&old), Ok(expected));
            assert_eq!(decode_as(NormKind::LayerNorm, &old), Ok(expected));
            for other in [RMS, SKIP] {
                assert_eq!(decode_as(other, &old), Err(WireError::WrongPlugin { expected: other, found: NormKind::LayerNorm }));
            }
        }
        // A version-1 blob never names a norm: a `norm` record there is refused.
        let mut b = encode(&PluginConfig::default(), 1);
        b[4] = 1;
        assert!(matches!(decode(&reseal(b)), Err(WireError::Malformed { reason: "a version-1 blob has no norm record", .. })));
        // ... nor has a sum_output: an unknown field of FP32LayerNorm.
        let mut recs = records(&version1_blob(1e-5, -1, 0, 3));
        recs.push(int_record("sum_output", 0));
        assert_eq!(decode(&blob_of(1, &recs)), Err(WireError::Field(FieldError::Unknown { name: "sum_output".into(), kind: LN })));
        // Version 1 still checks everything else.
        let mut old = version1_blob(1e-5, -1, 0, 3);
        let at = value_at(&old, fields::AXIS);
        old[at..at + 4].copy_from_slice(&9i32.to_le_bytes());
        assert!(matches!(decode(&reseal(old)), Err(WireError::Field(FieldError::OutOfRange { name: "axis", .. }))));
    }

    #[test]
    fn version_2_blobs_read_with_no_workspace() {
        for c in configs() {
            for n in counts(&c) {
                // Version 2: what the releases before `workspace` wrote (the same records without it).
                let v2 = without(&blob_of(2, &records(&encode(&c, n))), &[fields::WORKSPACE]);
                assert_eq!(decode(&v2), Ok((c.with_workspace(0).unwrap(), n)), "engines built then asked TensorRT for no workspace");
                assert_eq!(decode_as(c.norm(), &v2), Ok((c.with_workspace(0).unwrap(), n)));
            }
        }
        let blob = encode(&PluginConfig::default().with_norm(SKIP), 2);
        // Version 2 has no `workspace` record; version 3 must have one.
        assert!(matches!(
            decode(&blob_of(2, &records(&blob))),
            Err(WireError::Malformed { reason: "a blob of version 1 or 2 has no workspace record", .. })
        ));
        assert_eq!(decode(&without(&blob, &[fields::WORKSPACE])), Err(WireError::Missing("workspace")));
        let at = value_at(&blob, fields::WORKSPACE);
        for v in [2, -1, i32::MAX] {
            let mut b = blob.clone();
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            assert!(matches!(decode(&reseal(b)), Err(WireError::Field(FieldError::OutOfRange { name: "workspace", .. }))));
        }
        let mut recs = records(&blob);
        recs.push(int_record("workspace", 1));
        assert_eq!(decode(&blob_of(FORMAT_VERSION, &recs)), Err(WireError::Field(FieldError::Duplicate { name: "workspace" })));
    }

    #[test]
    fn a_blob_of_one_plugin_is_refused_by_the_others() {
        for c in configs() {
            for other in NormKind::ALL.into_iter().filter(|&k| k != c.norm()) {
                let err = decode_as(other, &encode(&c, 2)).unwrap_err();
                assert_eq!(err, WireError::WrongPlugin { expected: other, found: c.norm() });
                let msg = err.to_string();
                assert!(msg.contains(plugin_name(c.norm())) && msg.contains(plugin_name(other)), "{msg}");
            }
        }
        assert_eq!(
            decode_as(NormKind::LayerNorm, &encode(&PluginConfig::default().with_norm(RMS), 2)).unwrap_err().to_string(),
            "the serialized plugin is a FP32RMSNorm and cannot be read by the FP32LayerNorm creator"
        );
        assert_eq!(
            decode_as(NormKind::LayerNorm, &encode(&PluginConfig::default().with_norm(SKIP), 2)).unwrap_err().to_string(),
            "the serialized plugin is a FP32SkipLayerNorm and cannot be read by the FP32LayerNorm creator"
        );
    }

    #[test]
    fn norm_and_num_inputs_are_checked_against_each_other() {
        // Input counts the plugin cannot have: refused.
        let is_count_err = |r: Result<(PluginConfig, u8), WireError>| matches!(r, Err(WireError::Malformed { reason, .. }) if reason.starts_with("num_inputs is not an input count"));
        assert!(is_count_err(decode(&encode(&PluginConfig::default().with_norm(RMS), 3))));
        for n in [4, 5] {
            assert!(is_count_err(decode(&encode(&PluginConfig::default(), n))));
            assert!(decode(&encode(&PluginConfig::default().with_norm(SKIP), n)).is_ok());
        }
        assert!(is_count_err(decode(&encode(&PluginConfig::default().with_norm(SKIP), 1))), "FP32SkipLayerNorm has at least 2 inputs");
        assert!(decode(&encode(&PluginConfig::default().with_norm(SKIP), 0)).is_ok(), "0 = not configured yet");
        assert!(decode(&encode(&PluginConfig::default(), 3)).is_ok());
        let mut b = encode(&PluginConfig::default().with_norm(SKIP), 5);
        let at = value_at(&b, NUM_INPUTS);
        b[at..at + 4].copy_from_slice(&6i32.to_le_bytes());
        assert!(matches!(decode(&reseal(b)), Err(WireError::Malformed { reason: "num_inputs must be an int32 from 0 to 5", .. })));
        // Unknown, float or repeated norm records, and a missing one.
        let blob = encode(&PluginConfig::default(), 1);
        let at = value_at(&blob, NORM);
        for code in [3, -1, i32::MAX] {
            let mut b = blob.clone();
            b[at..at + 4].copy_from_slice(&code.to_le_bytes());
            assert!(matches!(decode(&reseal(b)), Err(WireError::Malformed { reason, .. }) if reason.starts_with("norm must be")));
        }
        let mut b = blob.clone();
        b[at - 1] = FieldType::Float32.code() as u8;
        assert!(matches!(decode(&reseal(b)), Err(WireError::Malformed { reason, .. }) if reason.starts_with("norm must be")));
        let mut b = blob.clone();
        b[HEADER_LEN] += 1;
        b.truncate(b.len() - 4);
        b.extend_from_slice(&blob[at - 6..at + 4]);
        b.extend_from_slice(&[0; 4]);
        assert!(matches!(decode(&reseal(b)), Err(WireError::Malformed { reason: "norm given twice", .. })));
        assert_eq!(decode(&without(&blob, &[NORM])), Err(WireError::Missing("norm")));
        // An FP32LayerNorm blob relabelled as FP32SkipLayerNorm lacks its sum_output.
        let mut b = blob.clone();
        b[at..at + 4].copy_from_slice(&2i32.to_le_bytes());
        assert_eq!(decode(&reseal(b)), Err(WireError::Missing("sum_output")));
    }

    #[test]
    fn sum_output_is_checked() {
        let skip = encode(&PluginConfig::default().with_norm(SKIP).with_sum_output(1).unwrap(), 3);
        assert_eq!(decode(&without(&skip, &["sum_output"])), Err(WireError::Missing("sum_output")));
        let at = value_at(&skip, fields::SUM_OUTPUT);
        for v in [2, -1, i32::MIN] {
            let mut b = skip.clone();
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            assert!(matches!(decode(&reseal(b)), Err(WireError::Field(FieldError::OutOfRange { name: "sum_output", .. }))));
        }
        let mut b = skip.clone();
        b[at - 1] = FieldType::Float32.code() as u8;
        assert!(matches!(decode(&reseal(b)), Err(WireError::Field(FieldError::WrongType { name: "sum_output", .. }))));
        let mut recs = records(&skip);
        recs.push(int_record("sum_output", 1));
        assert_eq!(decode(&blob_of(FORMAT_VERSION, &recs)), Err(WireError::Field(FieldError::Duplicate { name: "sum_output" })));
        // The other plugins have no such field: a sum_output record in their blobs is refused.
        for kind in [LN, RMS] {
            let mut recs = records(&encode(&PluginConfig::default().with_norm(kind), 1));
            recs.push(int_record("sum_output", 0));
            assert_eq!(decode(&blob_of(FORMAT_VERSION, &recs)), Err(WireError::Field(FieldError::Unknown { name: "sum_output".into(), kind })));
        }
        // Any record order: the same configuration.
        let mut recs = records(&skip);
        recs.reverse();
        assert_eq!(decode(&blob_of(FORMAT_VERSION, &recs)), decode(&skip));
        assert_eq!(decode(&skip).unwrap().0.nb_outputs(), 2);
    }

    #[test]
    fn every_truncation_is_rejected() {
        for c in configs() {
            let blob = encode(&c, 2);
            for len in 0..blob.len() {
                assert!(decode(&blob[..len]).is_err(), "truncated to {len} bytes was accepted");
            }
            let mut longer = blob.clone();
            longer.push(0);
            assert!(decode(&longer).is_err(), "an extra byte was accepted");
        }
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        for c in configs() {
            let blob = encode(&c, 2);
            for byte in 0..blob.len() {
                for bit in 0..8 {
                    let mut b = blob.clone();
                    b[byte] ^= 1 << bit;
                    assert!(decode(&b).is_err(), "flip of bit {bit} in byte {byte} was accepted");
                }
            }
        }
        let old = version1_blob(1e-5, -1, 0, 3);
        for byte in 0..old.len() {
            for bit in 0..8 {
                let mut b = old.clone();
                b[byte] ^= 1 << bit;
                assert!(decode(&b).is_err(), "version 1: flip of bit {bit} in byte {byte} was accepted");
            }
        }
    }

    #[test]
    fn header_errors_are_typed() {
        let blob = encode(&PluginConfig::default(), 1);
        assert!(matches!(decode(&[]), Err(WireError::TooShort { len: 0, .. })));
        assert!(matches!(decode(&vec![0; MAX_LEN + 1]), Err(WireError::TooLong { .. })));
        let mut b = blob.clone();
        b[0] = b'X';
        assert!(matches!(decode(&b), Err(WireError::BadMagic { .. })));
        for v in [0u8, 4, 0xFF] {
            let mut b = blob.clone();
            b[4] = v;
            assert_eq!(decode(&b), Err(WireError::UnsupportedVersion(v as u16)));
        }
        let mut b = blob.clone();
        b[7] = 1;
        assert_eq!(decode(&b), Err(WireError::Reserved(0x100)));
        let mut b = blob.clone();
        b[8] ^= 1;
        assert!(matches!(decode(&b), Err(WireError::Length { .. })));
        let mut b = blob.clone();
        let n = b.len();
        b[n - 1] ^= 0x80;
        assert!(matches!(decode(&b), Err(WireError::Checksum { .. })));
    }

    #[test]
    fn payload_errors_are_typed_even_with_a_valid_crc() {
        for kind in NormKind::ALL {
            let blob = encode(&PluginConfig::default().with_norm(kind), 2);
            let nrec = blob[HEADER_LEN];
            // An out-of-range value behind a valid checksum: refused by the field checks, naming the field.
            let mut b = blob.clone();
            let eps_at = HEADER_LEN + 1 + 1 + 7 + 1;
            assert_eq!(eps_at, value_at(&blob, fields::EPSILON));
            b[eps_at..eps_at + 4].copy_from_slice(&(-1.0f32).to_bits().to_le_bytes());
            let err = decode(&reseal(b)).unwrap_err();
            assert!(matches!(err, WireError::Field(FieldError::OutOfRange { name: "epsilon", .. })), "{err:?}");
            // epsilon = 0 is in range.
            let mut b = blob.clone();
            b[eps_at..eps_at + 4].copy_from_slice(&0f32.to_bits().to_le_bytes());
            assert_eq!(decode(&reseal(b)).unwrap().0.epsilon(), 0.0);
            // Record count larger than the records present.
            let mut b = blob.clone();
            b[HEADER_LEN] = nrec + 1;
            assert!(matches!(decode(&reseal(b)), Err(WireError::Malformed { reason: "name length", .. })));
            // Fewer records: bytes are left over.
            let mut b = blob.clone();
            b[HEADER_LEN] = nrec - 1;
            assert!(matches!(decode(&reseal(b)), Err(WireError::Malformed { reason: "bytes after the last record", .. })));
            // Missing records, each named.
            assert_eq!(decode(&without(&blob, &[NORM, NUM_INPUTS])), Err(WireError::Missing(NORM)));
            assert_eq!(decode(&without(&blob, &[NUM_INPUTS])), Err(WireError::Missing(NUM_INPUTS)));
            for f in [fields::EPSILON, fields::AXIS, fields::OUTPUT_TYPE] {
                assert_eq!(decode(&without(&blob, &[f])), Err(WireError::Missing(f)));
            }
            let old = version1_blob(1e-5, -1, 0, 1);
            assert_eq!(decode(&without(&old, &[NUM_INPUTS])), Err(WireError::Missing("num_inputs")));
            assert_eq!(decode(&without(&old, &[NUM_INPUTS, fields::OUTPUT_TYPE])), Err(WireError::Missing("output_type")));
            // num_inputs out of range.
            let mut b = blob.clone();
            let at = value_at(&blob, NUM_INPUTS);
            b[at..at + 4].copy_from_slice(&6i32.to_le_bytes());
            assert!(matches!(decode(&reseal(b)), Err(WireError::Malformed { reason: "num_inputs must be an int32 from 0 to 5", .. })));
            // A renamed record is an unknown field, named with the blob's plugin.
            let mut b = blob.clone();
            b[HEADER_LEN + 2] = b'E';
            let err = decode(&reseal(b)).unwrap_err();
            assert_eq!(err, WireError::Field(FieldError::Unknown { name: "Epsilon".into(), kind }));
            assert!(err.to_string().contains(plugin_name(kind)), "{err}");
            // A retyped record.
            let mut b = blob.clone();
            b[HEADER_LEN + 1 + 1 + 7] = FieldType::Int32.code() as u8;
            assert!(matches!(decode(&reseal(b)), Err(WireError::Field(FieldError::WrongType { name: "epsilon", .. }))));
            let mut b = blob.clone();
            b[HEADER_LEN + 1 + 1 + 7] = 2;
            assert!(matches!(decode(&reseal(b)), Err(WireError::Malformed { .. })));
            // A non-ASCII name.
            let mut b = blob.clone();
            b[HEADER_LEN + 2] = 0xFF;
            assert!(matches!(decode(&reseal(b)), Err(WireError::Malformed { reason: "field name is not printable ASCII", .. })));
        }
    }
}
