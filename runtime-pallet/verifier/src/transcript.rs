//! The Keccak-256 "EVM" transcript of ezkl's proofs, as the Solidity verifier runs it.

use ark_bn254::Fr;
use ark_ff::PrimeField;
use sha3::{Digest, Keccak256};

/// State: the last hash (initially the VK digest) followed by everything absorbed since.
/// Nothing but raw 32-byte words is absorbed: no domain separators, lengths or labels.
pub(crate) struct Transcript {
    state: [u8; 32],
    hasher: Keccak256,
}

impl Transcript {
    pub(crate) fn new(vk_digest: &[u8; 32]) -> Self {
        let mut hasher = Keccak256::new();
        hasher.update(vk_digest);
        Transcript { state: *vk_digest, hasher }
    }

    /// Appends bytes (an instance, a point's x‖y, an evaluation; all big-endian).
    pub(crate) fn absorb(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
    }

    /// `squeeze_challenge`: hash the state and the absorbed data; the hash becomes the new
    /// state and, reduced mod r, the challenge.
    pub(crate) fn squeeze(&mut self) -> Fr {
        let h: [u8; 32] = self.hasher.finalize_reset().into();
        self.state = h;
        self.hasher.update(h);
        Fr::from_be_bytes_mod_order(&h)
    }

    /// `squeeze_challenge_cont`: a further challenge with nothing absorbed in between is
    /// the hash of the state followed by one 0x01 byte.
    pub(crate) fn squeeze_cont(&mut self) -> Fr {
        let mut hasher = Keccak256::new();
        hasher.update(self.state);
        hasher.update([1u8]);
        let h: [u8; 32] = hasher.finalize().into();
        self.state = h;
        self.hasher = Keccak256::new();
        self.hasher.update(h);
        Fr::from_be_bytes_mod_order(&h)
    }
}
