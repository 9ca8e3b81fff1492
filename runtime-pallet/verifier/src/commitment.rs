//! Model commitments: the KZG commitment of ezkl's `polycommit` parameter column, a BN254 G1
//! point carried as 64 bytes, x ‖ y, each 32-byte big-endian (the encoding of proof points).
//!
//! Such commitments are affine in the committed parameters: `C(m) = L(m) + C₀` with `L`
//! linear and `C₀ = C(0)` the commitment of the all-zero model (not the identity). Hence
//! the commitment of a weighted sum of models follows from the models' commitments alone:
//!
//! ```text
//! C(Σ wᵢ·mᵢ) = Σ wᵢ·C(mᵢ) − (W − 1)·C₀,   W = Σ wᵢ
//! ```
//!
//! which [`aggregate`] computes, so that a chain can fix the commitment of an aggregated
//! model without seeing any weights.

use alloc::vec::Vec;
use ark_bn254::{Fq, Fr, G1Affine, G1Projective};
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup, VariableBaseMSM};
use ark_ff::{BigInteger, Field, PrimeField};
use core::fmt;

use crate::word::Word;

/// Bytes of an encoded commitment.
pub const COMMITMENT_BYTES: usize = 64;

/// An encoded commitment: x ‖ y, 32-byte big-endian each.
pub type CommitmentBytes = [u8; COMMITMENT_BYTES];

/// Why bytes are not a usable commitment, or a sum of commitments cannot be encoded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CommitmentError {
    /// Fewer than 64 bytes where the commitment should be.
    Length,
    /// A coordinate is not below the BN254 base field modulus.
    NotInField,
    /// The coordinates are not a point of y² = x³ + 3.
    NotOnCurve,
    /// The all-zero encoding, which stands for the identity: no KZG commitment of a real
    /// column (nor `C₀`, which commits to the column's fixed part) is the identity.
    Identity,
    /// The aggregate is the identity, which has no 64-byte affine encoding (reaching it
    /// from valid commitments means knowing a discrete-log relation between SRS points).
    AtInfinity,
}

impl CommitmentError {
    /// A short, stable name of the error.
    pub const fn as_str(&self) -> &'static str {
        match self {
            CommitmentError::Length => "Length",
            CommitmentError::NotInField => "NotInField",
            CommitmentError::NotOnCurve => "NotOnCurve",
            CommitmentError::Identity => "Identity",
            CommitmentError::AtInfinity => "AtInfinity",
        }
    }
}

impl fmt::Display for CommitmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommitmentError::Length => "commitment: fewer than 64 bytes",
            CommitmentError::NotInField => "commitment: coordinate not below the BN254 base field modulus",
            CommitmentError::NotOnCurve => "commitment: not a point of BN254 G1",
            CommitmentError::Identity => "commitment: the identity (all-zero encoding)",
            CommitmentError::AtInfinity => "aggregate commitment is the identity",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CommitmentError {}

/// The G1 point of an encoded commitment, checked: both coordinates canonical (below the
/// base field modulus), on the curve, not the identity. BN254 G1 has cofactor 1, so every
/// curve point is in the prime-order group and no subgroup check is needed.
pub fn parse(bytes: &CommitmentBytes) -> Result<G1Affine, CommitmentError> {
    let (x, y) = bytes.split_at(32);
    let (x, y) = (word(x)?, word(y)?);
    if x.is_zero() && y.is_zero() {
        return Err(CommitmentError::Identity);
    }
    let (Some(x), Some(y)) = (x.fq(), y.fq()) else {
        return Err(CommitmentError::NotInField);
    };
    let p = G1Affine::new_unchecked(x, y);
    if p.is_on_curve() {
        Ok(p)
    } else {
        Err(CommitmentError::NotOnCurve)
    }
}

fn word(bytes: &[u8]) -> Result<Word, CommitmentError> {
    let bytes: &[u8; 32] = bytes.try_into().map_err(|_| CommitmentError::Length)?;
    Ok(Word::from_be(bytes))
}

/// The 64-byte encoding of a point; the identity has none.
pub fn encode(p: &G1Affine) -> Result<CommitmentBytes, CommitmentError> {
    let Some((x, y)) = p.xy() else {
        return Err(CommitmentError::AtInfinity);
    };
    let mut out = [0u8; COMMITMENT_BYTES];
    let (ox, oy) = out.split_at_mut(32);
    ox.copy_from_slice(&fq_be(&x));
    oy.copy_from_slice(&fq_be(&y));
    Ok(out)
}

fn fq_be(v: &Fq) -> [u8; 32] {
    let mut out = [0u8; 32];
    // A BN254 base field element is 4 limbs: exactly 32 bytes.
    for (o, b) in out.iter_mut().zip(v.into_bigint().to_bytes_be()) {
        *o = b;
    }
    out
}

/// The commitment at byte `offset` of `proof` (ezkl puts the `polycommit` column's first),
/// checked as by [`parse`].
pub fn from_proof(proof: &[u8], offset: usize) -> Result<CommitmentBytes, CommitmentError> {
    let end = offset.checked_add(COMMITMENT_BYTES).ok_or(CommitmentError::Length)?;
    let bytes: CommitmentBytes =
        proof.get(offset..end).and_then(|b| b.try_into().ok()).ok_or(CommitmentError::Length)?;
    parse(&bytes).map(|_| bytes)
}

/// `Σ wᵢ·Cᵢ − (W − 1)·C₀` with `W = Σ wᵢ`: the commitment of the weighted sum of the models
/// committed by `terms` (`(Cᵢ, wᵢ)`), given the commitment `zero` (`C₀`) of the all-zero
/// model. Every input is checked as by [`parse`]. No terms (W = 0) gives `C₀`.
///
/// One multi-scalar multiplication over the terms and `C₀` (with the scalar `1 − W`): with
/// weights of up to 32 bits it beats a double-and-add per term from about 16 terms on,
/// and below that both take well under a millisecond (docs/weights.md).
pub fn aggregate(terms: &[(CommitmentBytes, u64)], zero: &CommitmentBytes) -> Result<CommitmentBytes, CommitmentError> {
    let mut bases = Vec::with_capacity(terms.len().saturating_add(1));
    let mut scalars = Vec::with_capacity(terms.len().saturating_add(1));
    // 1 − W in the scalar field: exact, as W < 2^128 < r and C₀ has order r.
    let mut one_minus_total = Fr::ONE;
    for (c, w) in terms {
        bases.push(parse(c)?);
        let w = Fr::from(*w);
        scalars.push(w);
        one_minus_total -= w;
    }
    bases.push(parse(zero)?);
    scalars.push(one_minus_total);
    // Same lengths by construction.
    encode(&G1Projective::msm_unchecked(&bases, &scalars).into_affine())
}

/// `k·G` for the group generator `G`, encoded: distinct valid commitments for tests and
/// benchmarks. `k = 0` is the identity and has no encoding.
pub fn generator_multiple(k: u64) -> Result<CommitmentBytes, CommitmentError> {
    encode(&G1Projective::generator().mul_bigint([k]).into_affine())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BN254 base field modulus q, big-endian.
    const Q_BE: [u8; 32] = [
        0x30, 0x64, 0x4e, 0x72, 0xe1, 0x31, 0xa0, 0x29, 0xb8, 0x50, 0x45, 0xb6, 0x81, 0x81, 0x58, 0x5d, 0x97, 0x81,
        0x6a, 0x91, 0x68, 0x71, 0xca, 0x8d, 0x3c, 0x20, 0x8c, 0x16, 0xd8, 0x7c, 0xfd, 0x47,
    ];

    fn g(k: u64) -> CommitmentBytes {
        generator_multiple(k).unwrap()
    }

    /// `k·G` for a scalar of the full field (for negative coefficients).
    fn gs(k: Fr) -> CommitmentBytes {
        encode(&(G1Projective::generator() * k).into_affine()).unwrap()
    }

    #[test]
    fn the_generator_encodes_as_ethereum_does() {
        // G = (1, 2), as in EIP-196.
        let mut want = [0u8; 64];
        want[31] = 1;
        want[63] = 2;
        assert_eq!(g(1), want);
        assert_eq!(parse(&want).unwrap(), G1Affine::generator());
    }

    #[test]
    fn encode_and_parse_round_trip() {
        for k in [1u64, 2, 3, 1000, u64::MAX] {
            let b = g(k);
            assert_eq!(encode(&parse(&b).unwrap()).unwrap(), b);
        }
    }

    #[test]
    fn aggregate_matches_scalar_arithmetic() {
        // Cᵢ = kᵢ·G and C₀ = z·G: the aggregate is (Σ wᵢkᵢ − (W − 1)z)·G.
        let z = 7u64;
        let cases: &[&[(u64, u64)]] = &[
            &[(11, 1)],
            &[(11, 1), (13, 1)],
            &[(11, 1), (13, 1), (5, 1), (1_000_003, 1)],
            &[(11, 29), (13, 30), (17, 27)],
            &[(3, 0), (5, 2)],
            &[(u64::MAX, u64::MAX), (2, u64::MAX)],
        ];
        for terms in cases {
            let enc: Vec<(CommitmentBytes, u64)> = terms.iter().map(|(k, w)| (g(*k), *w)).collect();
            let mut want = Fr::from(0u64);
            let mut total = Fr::from(0u64);
            for (k, w) in terms.iter() {
                want += Fr::from(*k) * Fr::from(*w);
                total += Fr::from(*w);
            }
            want -= (total - Fr::from(1u64)) * Fr::from(z);
            assert_eq!(aggregate(&enc, &g(z)).unwrap(), gs(want), "{terms:?}");
        }
    }

    #[test]
    fn aggregate_of_affine_commitments_is_the_commitment_of_the_sum() {
        // A toy affine commitment C(m) = m₁·G₁ + m₂·G₂ + C₀ with G₁ = 3G, G₂ = 5G, C₀ = 11G:
        // the aggregate of C(a), C(b) with weights 2, 3 is C(2a + 3b).
        let commit = |m: (u64, u64)| g(3 * m.0 + 5 * m.1 + 11);
        let (a, b) = ((4, 9), (6, 1));
        let agg = aggregate(&[(commit(a), 2), (commit(b), 3)], &g(11)).unwrap();
        assert_eq!(agg, commit((2 * a.0 + 3 * b.0, 2 * a.1 + 3 * b.1)));
        // Equal weights: C(a) + C(b) = C(a + b) + C₀.
        let agg = aggregate(&[(commit(a), 1), (commit(b), 1)], &g(11)).unwrap();
        assert_eq!(agg, commit((a.0 + b.0, a.1 + b.1)));
    }

    #[test]
    fn no_terms_give_the_zero_commitment() {
        assert_eq!(aggregate(&[], &g(7)).unwrap(), g(7));
        assert_eq!(aggregate(&[(g(9), 0)], &g(7)).unwrap(), g(7));
    }

    #[test]
    fn an_aggregate_at_infinity_is_an_error() {
        // 2·(1·G) − (2 − 1)·(2·G) = 0.
        assert_eq!(aggregate(&[(g(1), 2)], &g(2)), Err(CommitmentError::AtInfinity));
        assert_eq!(generator_multiple(0), Err(CommitmentError::AtInfinity));
    }

    #[test]
    fn invalid_encodings_are_refused() {
        assert_eq!(parse(&[0u8; 64]), Err(CommitmentError::Identity));
        // (1, 3) is not on y² = x³ + 3.
        let mut off = g(1);
        off[63] = 3;
        assert_eq!(parse(&off), Err(CommitmentError::NotOnCurve));
        // x = q + 1 ≡ 1: the generator's coordinates but not canonical.
        let mut big = g(1);
        big[..32].copy_from_slice(&Q_BE);
        big[31] = big[31].wrapping_add(1);
        assert_eq!(parse(&big), Err(CommitmentError::NotInField));
        let mut y_big = g(1);
        y_big[32..].copy_from_slice(&[0xff; 32]);
        assert_eq!(parse(&y_big), Err(CommitmentError::NotInField));
        // Every invalid input of an aggregate is reported.
        assert_eq!(aggregate(&[(g(2), 1)], &[0u8; 64]), Err(CommitmentError::Identity));
        assert_eq!(aggregate(&[(g(2), 1), (off, 1)], &g(3)), Err(CommitmentError::NotOnCurve));
    }

    #[test]
    fn commitments_are_read_from_the_proof_at_an_offset() {
        let mut proof = vec![0u8; 10];
        proof.extend_from_slice(&g(42));
        proof.extend_from_slice(&[1, 2, 3]);
        assert_eq!(from_proof(&proof, 10), Ok(g(42)));
        // Misaligned: not a point.
        assert!(matches!(from_proof(&proof, 0), Err(CommitmentError::NotOnCurve | CommitmentError::NotInField)));
        assert_eq!(from_proof(&proof, 14), Err(CommitmentError::Length));
        assert_eq!(from_proof(&proof, usize::MAX), Err(CommitmentError::Length));
        assert_eq!(from_proof(&proof[..73], 10), Err(CommitmentError::Length));
        assert_eq!(from_proof(&[0u8; 64], 0), Err(CommitmentError::Identity));
    }

    /// Every real ezkl proof fixture of this crate starts with a valid G1 point, the
    /// commitment a task reads at offset 0; where `meta.json` names the fixture's
    /// commitment, it must be that point.
    #[test]
    fn the_first_point_of_every_fixture_proof_is_a_commitment() {
        // Read at run time, not with env!: a target directory shared by several checkouts
        // would keep the path of the checkout that compiled this.
        let root = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("fixtures");
        let mut seen = 0;
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.join("proof.json").exists() {
                continue;
            }
            let proof: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("proof.json")).unwrap()).unwrap();
            let bytes: Vec<u8> = match &proof["proof"] {
                serde_json::Value::Array(a) => a.iter().map(|b| b.as_u64().unwrap() as u8).collect(),
                _ => hex(proof["hex_proof"].as_str().unwrap()),
            };
            let c = from_proof(&bytes, 0).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let meta: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
            if let Some(want) = meta.get("commitment").and_then(|v| v.as_str()) {
                assert_eq!(c.to_vec(), hex(want), "{}", dir.display());
            }
            seen += 1;
        }
        assert!(seen >= 3, "fixtures not found in {}", root.display());
    }

    fn hex(s: &str) -> Vec<u8> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
}
