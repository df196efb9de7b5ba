//! The one hash whose values may outlive a process or cross the network: the placement of
//! streams on cluster nodes (client and server must agree, whatever their versions) and the
//! assignment of streams to consumer-group members. `std`'s hashers are randomly seeded or
//! free to change between releases, so they cannot be used for either.

/// FNV-1a over the bytes, then the 64-bit finaliser of MurmurHash3 so that inputs differing in
/// their last byte (`order-1`, `order-2`) spread over the whole range, not a narrow band.
/// Frozen: changing it moves streams between nodes. `tests::values_are_frozen` pins it.
pub(crate) fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h = bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::stable_hash;

    #[test]
    fn values_are_frozen() {
        // If this fails, the hash changed: every cluster would re-home its streams and mixed
        // versions would disagree on owners. Do not update these numbers; revert the change.
        assert_eq!(stable_hash(b""), 0xefd0_1f60_ba99_2926);
        assert_eq!(stable_hash(b"order-1"), 0x491b_422e_3af0_d9a5);
        assert_eq!(stable_hash(b"order-2"), 0xaaca_0c2a_eae3_9bab);
        assert_eq!(stable_hash(b"node-a#0"), 0xac32_1eca_c879_4ee8);
    }
}
