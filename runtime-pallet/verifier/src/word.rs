//! 256-bit words as the VKA stores them, and conversions of 32-byte big-endian strings
//! into field elements and curve points.

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ff::{BigInt, PrimeField, Zero};

/// A VKA word: an EVM uint256, kept as four little-endian 64-bit limbs so that the bit
/// fields the Solidity verifier extracts with `shr`/`and` can be read the same way.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Word([u64; 4]);

impl Word {
    /// The word encoded by 32 big-endian bytes.
    pub(crate) fn from_be(bytes: &[u8; 32]) -> Self {
        let mut limbs = [0u64; 4];
        // The most significant limb comes first in the big-endian string.
        for (limb, chunk) in limbs.iter_mut().rev().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *limb = u64::from_be_bytes(b);
        }
        Word(limbs)
    }

    /// `self >> n` as the EVM's `shr` (0 once n ≥ 256).
    pub(crate) fn shr(self, n: u32) -> Self {
        if n >= 256 {
            return Word::default();
        }
        let limb_shift = (n / 64) as usize;
        let bit_shift = n % 64;
        let mut out = [0u64; 4];
        for (i, o) in out.iter_mut().enumerate() {
            let src = i + limb_shift;
            let lo = self.0.get(src).copied().unwrap_or(0);
            let hi = self.0.get(src + 1).copied().unwrap_or(0);
            *o = if bit_shift == 0 { lo } else { (lo >> bit_shift) | (hi << (64 - bit_shift)) };
        }
        Word(out)
    }

    /// Shifts right in place (the stream readers' `w := shr(n, w)`).
    pub(crate) fn consume(&mut self, n: u32) {
        *self = self.shr(n);
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.0 == [0; 4]
    }

    /// The low 8 bits (`and(w, 0xFF)`).
    pub(crate) fn u8(&self) -> u8 {
        (self.0[0] & 0xFF) as u8
    }

    /// The low 16 bits (`and(w, 0xFFFF)`): a pointer.
    pub(crate) fn u16(&self) -> u16 {
        (self.0[0] & 0xFFFF) as u16
    }

    /// Bits `[offset, offset + 16)`.
    pub(crate) fn u16_at(&self, offset: u32) -> u16 {
        self.shr(offset).u16()
    }

    /// The value if it is at most `max` (header counts and sizes).
    pub(crate) fn small(&self, max: u64) -> Option<u64> {
        if self.0[1] != 0 || self.0[2] != 0 || self.0[3] != 0 || self.0[0] > max {
            None
        } else {
            Some(self.0[0])
        }
    }

    /// The word as a canonical scalar field element, if it is below the modulus.
    pub(crate) fn fr(&self) -> Option<Fr> {
        Fr::from_bigint(BigInt::new(self.0))
    }

    /// The word as a canonical base field element, if it is below the modulus.
    pub(crate) fn fq(&self) -> Option<Fq> {
        Fq::from_bigint(BigInt::new(self.0))
    }
}

/// The 32 big-endian bytes at `offset` of `bytes`, if they are all there.
pub(crate) fn be32(bytes: &[u8], offset: usize) -> Option<&[u8; 32]> {
    let end = offset.checked_add(32)?;
    bytes.get(offset..end)?.try_into().ok()
}

/// A scalar field element from 32 big-endian bytes; `None` if not below the modulus.
pub(crate) fn fr_from_be(bytes: &[u8; 32]) -> Option<Fr> {
    Word::from_be(bytes).fr()
}

/// A G1 point from two words (x, y) as the EVM precompiles read them: (0,0) is the point
/// at infinity; otherwise both coordinates must be below the base field modulus and on
/// y² = x³ + 3. BN254 G1 has cofactor 1, so every curve point is in the prime-order group.
pub(crate) fn g1_from_words(x: &Word, y: &Word) -> Option<G1Affine> {
    if x.is_zero() && y.is_zero() {
        return Some(G1Affine::identity());
    }
    let p = G1Affine::new_unchecked(x.fq()?, y.fq()?);
    p.is_on_curve().then_some(p)
}

/// A G1 point as the Solidity verifier reads it *from the proof*: the same checks as the
/// precompiles except that (0,0) is rejected too, because `read_ec_point` tests the curve
/// equation on it and 0 ≠ 3.
pub(crate) fn proof_g1(x: &[u8; 32], y: &[u8; 32]) -> Option<G1Affine> {
    let (x, y) = (Word::from_be(x), Word::from_be(y));
    if x.is_zero() && y.is_zero() {
        return None;
    }
    g1_from_words(&x, &y)
}

/// A G2 point from the four words of the EIP-197 encoding (x.c1, x.c0, y.c1, y.c0), checked
/// on the twist and in the prime-order subgroup as the pairing precompile does. The
/// identity is refused: a VKA whose [1]₂ or −[s]₂ is the identity makes the pairing check
/// meaningless.
pub(crate) fn g2_from_words(w: [&Word; 4]) -> Option<G2Affine> {
    let [x1, x0, y1, y0] = w;
    let x = Fq2::new(x0.fq()?, x1.fq()?);
    let y = Fq2::new(y0.fq()?, y1.fq()?);
    if x.is_zero() && y.is_zero() {
        return None;
    }
    let p = G2Affine::new_unchecked(x, y);
    (p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve()).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_match_evm() {
        let mut b = [0u8; 32];
        b[31] = 0x34;
        b[30] = 0x12;
        b[0] = 0x80;
        let w = Word::from_be(&b);
        assert_eq!(w.u16(), 0x1234);
        assert_eq!(w.u8(), 0x34);
        assert_eq!(w.shr(8).u8(), 0x12);
        assert_eq!(w.shr(255).u8(), 1);
        assert!(w.shr(256).is_zero());
        assert_eq!(w.shr(248).u8(), 0x80);
        assert_eq!(w.shr(120).shr(128).u8(), 0x80);
        assert_eq!(w.small(0x1234), None);
    }
}
