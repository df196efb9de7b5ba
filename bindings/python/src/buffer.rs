//! `Buffer`: a `Vec<u8>` that crosses uniffi as Python `bytes` without being copied a byte at a
//! time.
//!
//! uniffi 0.32 passes `Vec<u8>` as a sequence: lowering writes it one `put_u8` at a time and
//! lifting reads it one `get_u8` at a time (its `Vec<T>` converters), about 300 MB/s here, which
//! was 45 of the 72 ms of reading a 20 MB page of 100,000 events. The Python side of `bytes` is
//! already a slice (`i32` length, then the bytes). So `Buffer` declares itself to the bindings
//! as `Vec<u8>` (the same type id: Python sees `bytes`, the generated code is unchanged) and
//! converts in bulk: a returned buffer becomes the RustBuffer itself after its 4-byte length is
//! put in front (one memmove, no second allocation when the vector has room), a buffer inside a
//! record is appended with one copy, and a buffer from Python is read with one copy.

use uniffi::{FfiConverter, MetadataBuffer, RustBuffer, TypeId};

/// Bytes for the Python side; see the module.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Buffer(pub Vec<u8>);

impl From<Vec<u8>> for Buffer {
    fn from(v: Vec<u8>) -> Buffer {
        Buffer(v)
    }
}

/// uniffi's length prefix of a sequence: a big-endian `i32` (a JVM limit it keeps everywhere).
fn length_prefix(len: usize) -> [u8; 4] {
    // A page is bounded far below 2 GiB by the core's page limits; a larger one is a bug.
    i32::try_from(len).expect("a buffer for Python of 2 GiB or more").to_be_bytes()
}

// SAFETY: `lower` returns a RustBuffer made by `RustBuffer::from_vec` from a Vec this code owns,
// which is what uniffi frees with `rustbuffer_free`; its contents are the serialized form of
// `Vec<u8>` (`i32` BE length, then the bytes), exactly what `write` produces and what the
// generated Python code reads for the type id declared below.
unsafe impl FfiConverter<crate::UniFfiTag> for Buffer {
    type FfiType = RustBuffer;

    fn lower(obj: Buffer) -> RustBuffer {
        let mut v = obj.0;
        let prefix = length_prefix(v.len());
        v.splice(0..0, prefix);
        RustBuffer::from_vec(v)
    }

    fn try_lift(buf: RustBuffer) -> uniffi::Result<Buffer> {
        let v = buf.destroy_into_vec();
        let mut rest = v.as_slice();
        let out = <Self as FfiConverter<crate::UniFfiTag>>::try_read(&mut rest)?;
        if !rest.is_empty() {
            uniffi::deps::anyhow::bail!("{} bytes left after a buffer from Python", rest.len());
        }
        Ok(out)
    }

    fn write(obj: Buffer, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&length_prefix(obj.0.len()));
        buf.extend_from_slice(&obj.0);
    }

    fn try_read(buf: &mut &[u8]) -> uniffi::Result<Buffer> {
        let Some((prefix, rest)) = buf.split_first_chunk::<4>() else {
            uniffi::deps::anyhow::bail!("a buffer from Python without its length");
        };
        let len = usize::try_from(i32::from_be_bytes(*prefix))?;
        let Some((bytes, rest)) = rest.split_at_checked(len) else {
            uniffi::deps::anyhow::bail!("a buffer from Python of {len} bytes with {} left", rest.len());
        };
        *buf = rest;
        Ok(Buffer(bytes.to_vec()))
    }

    const TYPE_ID_META: MetadataBuffer = <Vec<u8> as TypeId<crate::UniFfiTag>>::TYPE_ID_META;
}

uniffi::derive_ffi_traits!(local Buffer);

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) {
        let lowered = <Buffer as FfiConverter<crate::UniFfiTag>>::lower(Buffer(bytes.to_vec()));
        // What uniffi's own Vec<u8> converter makes, byte for byte.
        let reference = <Vec<u8> as uniffi::Lower<crate::UniFfiTag>>::lower(bytes.to_vec());
        let (ours, theirs) = (lowered.destroy_into_vec(), reference.destroy_into_vec());
        assert_eq!(ours, theirs);
        let lifted =
            <Buffer as FfiConverter<crate::UniFfiTag>>::try_lift(RustBuffer::from_vec(ours)).unwrap();
        assert_eq!(lifted.0, bytes);
        let mut inside = Vec::new();
        <Buffer as FfiConverter<crate::UniFfiTag>>::write(Buffer(bytes.to_vec()), &mut inside);
        assert_eq!(inside, theirs);
    }

    #[test]
    fn the_same_bytes_as_uniffis_vec_u8() {
        round_trip(b"");
        round_trip(b"\x00\xff packed");
        round_trip(&vec![7u8; 100_000]);
    }

    #[test]
    fn refuses_short_and_long_buffers() {
        let lift = |v: Vec<u8>| <Buffer as FfiConverter<crate::UniFfiTag>>::try_lift(RustBuffer::from_vec(v));
        assert!(lift(vec![0, 0]).is_err());
        assert!(lift(vec![0, 0, 0, 5, 1, 2]).is_err());
        assert!(lift(vec![0, 0, 0, 1, 1, 2]).is_err());
        assert!(lift(vec![0xff, 0xff, 0xff, 0xff]).is_err());
        assert_eq!(lift(vec![0, 0, 0, 2, 1, 2]).unwrap().0, vec![1, 2]);
    }
}
