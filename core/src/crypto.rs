//! Encryption at rest, the primitives: AES-256-GCM sealing under a data key per stream, data
//! keys wrapped by the master key, and a key check value that tells a wrong master key at
//! open. The engine's keyring (`engine/keys.rs`) stores the wrapped keys.
//!
//! Every sealed value is `nonce (12 bytes) || ciphertext || tag (16 bytes)`, with a fresh random
//! nonce per seal. With 96-bit random nonces, one key may seal about 2^32 values before the
//! chance of a repeated nonce stops being negligible (NIST SP 800-38D): a data key seals the
//! events of one stream, the master key only wraps data keys and the check value.
//!
//! The additional authenticated data names what a value is and where it belongs (a domain tag,
//! then the stream id, revision and position), so a sealed value copied to another place, or a
//! wrapped key given to another stream, fails to open instead of reading as valid.

use std::fmt;

pub use ring::aead::NONCE_LEN;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Bytes of a master key or a data key.
pub const KEY_LEN: usize = 32;
pub const TAG_LEN: usize = 16;
/// Bytes a sealed value has beyond its plaintext.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// A 256-bit key. Its bytes are wiped from memory when it is dropped, and never printed.
pub struct Key(Zeroizing<[u8; KEY_LEN]>);

impl Key {
    /// A key from its 32 bytes (INVALID_ARGUMENT otherwise).
    pub fn from_bytes(bytes: &[u8]) -> Result<Key> {
        let bytes: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| Error::InvalidArgument(format!("a key is {KEY_LEN} bytes, not {}", bytes.len())))?;
        Ok(Key(Zeroizing::new(bytes)))
    }

    /// A new random key, from the operating system's generator.
    pub fn generate() -> Result<Key> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| Error::Encryption("the system random generator failed".into()))?;
        Ok(Key(bytes))
    }

    fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The key's bytes, for handing it to a node or a binding. Copy them nowhere that lasts.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// Seals and opens values under one key.
pub struct Sealer {
    key: LessSafeKey,
    random: SystemRandom,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    pub fn new(key: &Key) -> Sealer {
        let unbound = UnboundKey::new(&AES_256_GCM, key.bytes()).expect("a 32-byte key fits AES-256-GCM");
        Sealer { key: LessSafeKey::new(unbound), random: SystemRandom::new() }
    }

    /// `plaintext` sealed, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| Error::Encryption("the system random generator failed".into()))?;
        let mut sealed = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut sealed[NONCE_LEN..],
            )
            .map_err(|_| Error::Encryption(format!("cannot seal {} bytes", plaintext.len())))?;
        sealed.extend_from_slice(tag.as_ref());
        Ok(sealed)
    }

    /// The plaintext of `sealed`, if it was sealed under this key with this `aad` and not
    /// changed since: ENCRYPTION otherwise (a wrong key and tampered bytes look the same).
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(Error::Encryption(format!(
                "a sealed value is at least {SEAL_OVERHEAD} bytes; this one has {}",
                sealed.len()
            )));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).expect("NONCE_LEN bytes");
        let mut buffer = ciphertext.to_vec();
        let plaintext = self.key.open_in_place(nonce, Aad::from(aad), &mut buffer).map_err(|_| {
            Error::Encryption("cannot open a sealed value: wrong key, or the bytes were changed".into())
        })?;
        let len = plaintext.len();
        buffer.truncate(len);
        Ok(buffer)
    }
}

impl Sealer {
    /// Seals `field` in place, bound to `aad`: `field` is `nonce room || plaintext || tag
    /// room` and becomes `nonce || ciphertext || tag`. For the writer, which lays events out
    /// before it knows their place and seals them where they lie.
    pub(crate) fn seal_field(&self, nonce: [u8; NONCE_LEN], aad: &[u8], field: &mut [u8]) -> Result<()> {
        if field.len() < SEAL_OVERHEAD {
            return Err(Error::Internal("a field to seal has no room for its nonce and tag".into()));
        }
        let tag_at = field.len() - TAG_LEN;
        field[..NONCE_LEN].copy_from_slice(&nonce);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut field[NONCE_LEN..tag_at],
            )
            .map_err(|_| Error::Encryption(format!("cannot seal {} bytes", tag_at - NONCE_LEN)))?;
        field[tag_at..].copy_from_slice(tag.as_ref());
        Ok(())
    }

    /// Undoes [`Sealer::seal_field`] in place: the plaintext back between the nonce and the tag.
    pub(crate) fn unseal_field(&self, aad: &[u8], field: &mut [u8]) -> Result<()> {
        if field.len() < SEAL_OVERHEAD {
            return Err(Error::Internal("a sealed field is shorter than its nonce and tag".into()));
        }
        let nonce = Nonce::try_assume_unique_for_key(&field[..NONCE_LEN]).expect("NONCE_LEN bytes");
        self.key
            .open_in_place(nonce, Aad::from(aad), &mut field[NONCE_LEN..])
            .map_err(|_| Error::Internal("a field this writer sealed does not open".into()))?;
        Ok(())
    }

    /// Opens a value sealed by [`Sealer::seal`] or [`Sealer::seal_field`] into `scratch`
    /// (reused between calls, so a scan allocates once) and returns the plaintext in it.
    pub(crate) fn open_into<'s>(
        &self,
        aad: &[u8],
        sealed: &[u8],
        scratch: &'s mut Vec<u8>,
    ) -> Result<&'s [u8]> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(Error::Encryption(format!(
                "a sealed value is at least {SEAL_OVERHEAD} bytes; this one has {}",
                sealed.len()
            )));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).expect("NONCE_LEN bytes");
        scratch.clear();
        scratch.extend_from_slice(ciphertext);
        let plaintext = self.key.open_in_place(nonce, Aad::from(aad), scratch).map_err(|_| {
            Error::Encryption("cannot open a sealed value: wrong key, or the bytes were changed".into())
        })?;
        Ok(plaintext)
    }
}

/// Random nonces drawn from the operating system in blocks: one `getrandom` call per 64
/// nonces instead of one per seal (a syscall per event cost the writer 9% of its time before).
/// Each nonce is still 96 fresh random bits.
pub(crate) struct Nonces {
    random: SystemRandom,
    block: [u8; NONCE_LEN * 64],
    used: usize,
}

impl Nonces {
    pub(crate) fn new() -> Nonces {
        Nonces { random: SystemRandom::new(), block: [0; NONCE_LEN * 64], used: NONCE_LEN * 64 }
    }

    pub(crate) fn next(&mut self) -> Result<[u8; NONCE_LEN]> {
        if self.used == self.block.len() {
            self.random
                .fill(&mut self.block)
                .map_err(|_| Error::Encryption("the system random generator failed".into()))?;
            self.used = 0;
        }
        let nonce: [u8; NONCE_LEN] =
            self.block[self.used..self.used + NONCE_LEN].try_into().expect("NONCE_LEN");
        // Never handed out twice, and not left in memory.
        self.block[self.used..self.used + NONCE_LEN].fill(0);
        self.used += NONCE_LEN;
        Ok(nonce)
    }
}

const EVENT_DOMAIN: &[u8; 8] = b"gy-evt01";
const SNAPSHOT_DOMAIN: &[u8; 8] = b"gy-snp01";
const KEY_DOMAIN: &[u8; 8] = b"gy-key01";
const CHECK_DOMAIN: &[u8; 8] = b"gy-kcv01";
/// What the key check value seals: any fixed text does, this one says what it is.
const CHECK_PLAINTEXT: &[u8] = b"GraveyardDB master key check";

/// The additional data of an event's data and metadata: they open only as that event.
pub fn event_aad(stream_id: u64, revision: u64, position: u64) -> [u8; 32] {
    let mut aad = [0u8; 32];
    aad[..8].copy_from_slice(EVENT_DOMAIN);
    aad[8..16].copy_from_slice(&stream_id.to_be_bytes());
    aad[16..24].copy_from_slice(&revision.to_be_bytes());
    aad[24..].copy_from_slice(&position.to_be_bytes());
    aad
}

/// The additional data of a stream's snapshot taken at `revision`.
pub fn snapshot_aad(stream_id: u64, revision: u64) -> [u8; 24] {
    let mut aad = [0u8; 24];
    aad[..8].copy_from_slice(SNAPSHOT_DOMAIN);
    aad[8..16].copy_from_slice(&stream_id.to_be_bytes());
    aad[16..].copy_from_slice(&revision.to_be_bytes());
    aad
}

fn key_aad(stream_id: u64) -> [u8; 16] {
    let mut aad = [0u8; 16];
    aad[..8].copy_from_slice(KEY_DOMAIN);
    aad[8..].copy_from_slice(&stream_id.to_be_bytes());
    aad
}

/// A stream's data key, sealed by the master key for that stream alone.
pub fn wrap_key(master: &Sealer, stream_id: u64, data_key: &Key) -> Result<Vec<u8>> {
    master.seal(&key_aad(stream_id), data_key.bytes())
}

/// The data key of stream `stream_id` from its wrapped form.
pub fn unwrap_key(master: &Sealer, stream_id: u64, wrapped: &[u8]) -> Result<Key> {
    let bytes = Zeroizing::new(master.open(&key_aad(stream_id), wrapped)?);
    Key::from_bytes(&bytes)
        .map_err(|_| Error::Corruption(format!("the data key of stream {stream_id} has a wrong length")))
}

/// A value stored with an encrypted store, by which a master key is checked at open.
pub fn key_check_value(master: &Sealer) -> Result<Vec<u8>> {
    master.seal(CHECK_DOMAIN, CHECK_PLAINTEXT)
}

/// ENCRYPTION unless `master` is the key `check` was made with.
pub fn verify_key_check(master: &Sealer, check: &[u8]) -> Result<()> {
    match master.open(CHECK_DOMAIN, check) {
        Ok(plaintext) if plaintext == CHECK_PLAINTEXT => Ok(()),
        _ => Err(Error::Encryption("the master key given is not the key of this store".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn sealer() -> Sealer {
        Sealer::new(&Key::generate().unwrap())
    }

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_its_place() {
        let key = Key::generate().unwrap();
        let sealer = Sealer::new(&key);
        for size in [0, 1, 100, 2048, 4096, 70_000] {
            let plaintext: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let aad = event_aad(7, 3, 42);
            let sealed = sealer.seal(&aad, &plaintext).unwrap();
            assert_eq!(sealed.len(), size + SEAL_OVERHEAD);
            if size >= 16 {
                assert!(
                    !sealed.windows(16).any(|w| w == &plaintext[..16]),
                    "no plaintext in the sealed bytes"
                );
            }
            assert_eq!(sealer.open(&aad, &sealed).unwrap(), plaintext);
            // Another place: another stream, revision or position, or another kind of value.
            for other in [event_aad(8, 3, 42), event_aad(7, 4, 42), event_aad(7, 3, 43)] {
                assert_eq!(sealer.open(&other, &sealed).unwrap_err().code(), ErrorCode::Encryption);
            }
            assert_eq!(sealer.open(&snapshot_aad(7, 3), &sealed).unwrap_err().code(), ErrorCode::Encryption);
            // Another key.
            assert_eq!(super::tests::sealer().open(&aad, &sealed).unwrap_err().code(), ErrorCode::Encryption);
            // Any changed byte, nonce and tag included.
            for at in [0, NONCE_LEN, sealed.len() / 2, sealed.len() - 1] {
                let mut tampered = sealed.clone();
                tampered[at] ^= 0x01;
                assert_eq!(sealer.open(&aad, &tampered).unwrap_err().code(), ErrorCode::Encryption);
            }
            // Cut short.
            assert_eq!(
                sealer.open(&aad, &sealed[..sealed.len() - 1]).unwrap_err().code(),
                ErrorCode::Encryption
            );
        }
        assert_eq!(sealer.open(b"", &[0; SEAL_OVERHEAD - 1]).unwrap_err().code(), ErrorCode::Encryption);
    }

    #[test]
    fn every_seal_takes_a_fresh_nonce() {
        let sealer = sealer();
        let mut nonces = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let sealed = sealer.seal(b"a", b"same plaintext").unwrap();
            assert!(nonces.insert(sealed[..NONCE_LEN].to_vec()), "a nonce came twice");
        }
    }

    #[test]
    fn data_keys_are_wrapped_for_one_stream() {
        let master = sealer();
        let data_key = Key::generate().unwrap();
        let wrapped = wrap_key(&master, 5, &data_key).unwrap();
        assert!(
            !wrapped.windows(KEY_LEN).any(|w| w == data_key.bytes()),
            "the key is not in its wrapped form"
        );
        let unwrapped = unwrap_key(&master, 5, &wrapped).unwrap();
        assert_eq!(unwrapped.bytes(), data_key.bytes());
        assert_eq!(unwrap_key(&master, 6, &wrapped).unwrap_err().code(), ErrorCode::Encryption);
        assert_eq!(unwrap_key(&sealer(), 5, &wrapped).unwrap_err().code(), ErrorCode::Encryption);
        // A sealed value that is not a key of the right length is corruption, not a key.
        let short = master.seal(&key_aad(5), &[1; 16]).unwrap();
        assert_eq!(unwrap_key(&master, 5, &short).unwrap_err().code(), ErrorCode::Corruption);
    }

    #[test]
    fn the_key_check_tells_the_right_master_key() {
        let key = Key::from_bytes(&[9; KEY_LEN]).unwrap();
        let check = key_check_value(&Sealer::new(&key)).unwrap();
        verify_key_check(&Sealer::new(&Key::from_bytes(&[9; KEY_LEN]).unwrap()), &check).unwrap();
        let wrong = verify_key_check(&Sealer::new(&Key::from_bytes(&[8; KEY_LEN]).unwrap()), &check);
        assert_eq!(wrong.unwrap_err().code(), ErrorCode::Encryption);
        assert_eq!(
            verify_key_check(&Sealer::new(&key), b"garbage").unwrap_err().code(),
            ErrorCode::Encryption
        );
    }

    #[test]
    fn keys_have_32_bytes_and_never_print() {
        assert_eq!(Key::from_bytes(&[0; 31]).unwrap_err().code(), ErrorCode::InvalidArgument);
        assert_eq!(Key::from_bytes(&[0; 33]).unwrap_err().code(), ErrorCode::InvalidArgument);
        let key = Key::from_bytes(&[0xAB; KEY_LEN]).unwrap();
        assert_eq!(format!("{key:?}"), "Key(<redacted>)");
        assert_eq!(format!("{:?}", Sealer::new(&key)), "Sealer(<redacted>)");
    }
}
