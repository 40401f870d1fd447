//! The kernels, compiled by build.rs into one fatbin and embedded here.

/// GPU architectures with a cubin in the fatbin, and the PTX that rides along.
pub const ARCHS: &str = env!("TRT_LAYERNORM_FATBIN_ARCHS");

#[repr(C, align(64))]
struct Aligned<B: ?Sized>(B);

/// The driver reads the fatbin header in place: keep it aligned.
static FATBIN: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/layernorm.fatbin")));

/// The fatbin image, as `cuModuleLoadData` takes it.
pub fn image() -> &'static [u8] {
    &FATBIN.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn image_is_a_fatbin() {
        let img = super::image();
        // Fatbin magic 0xBA55ED50, little-endian.
        assert_eq!(&img[..4], &[0x50, 0xED, 0x55, 0xBA]);
        assert_eq!(img.as_ptr() as usize % 64, 0);
        assert!(super::ARCHS.contains("sm_"));
    }
}
