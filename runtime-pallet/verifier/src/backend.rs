//! The two elliptic-curve operations verification needs, behind a trait so that a
//! Substrate runtime can route them to host functions (e.g. `sp-crypto-ec-utils`-style
//! BN254 MSM and pairing calls) instead of running them in wasm.

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::VariableBaseMSM;
use ark_ff::One;

use crate::error::VerifyError;

/// BN254 operations used by [`crate::verify_with`].
///
/// Implementations must compute exactly these functions; everything else (transcript,
/// field arithmetic, input checks) stays in the verifier.
pub trait CurveBackend {
    /// `Σ scalars[i] · bases[i]` (same lengths, at most a few thousand terms).
    fn msm(bases: &[G1Affine], scalars: &[Fr]) -> Result<G1Projective, VerifyError>;

    /// Whether `e(a[0], b[0]) · e(a[1], b[1]) = 1` in the target group.
    fn pairing_product_is_one(a: [G1Affine; 2], b: [G2Affine; 2]) -> bool;
}

/// Plain arkworks, in whatever the crate is compiled to (native or wasm).
#[derive(Copy, Clone, Debug, Default)]
pub struct Arkworks;

impl CurveBackend for Arkworks {
    fn msm(bases: &[G1Affine], scalars: &[Fr]) -> Result<G1Projective, VerifyError> {
        <G1Projective as VariableBaseMSM>::msm(bases, scalars)
            .map_err(|_| VerifyError::malformed(0, "MSM bases and scalars differ in length"))
    }

    fn pairing_product_is_one(a: [G1Affine; 2], b: [G2Affine; 2]) -> bool {
        Bn254::multi_pairing(a, b).0.is_one()
    }
}
