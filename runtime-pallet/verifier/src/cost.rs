//! What verification against a VKA costs, known from the VKA alone (for on-chain weights).

use crate::expr::Expr;
use crate::pcs::{PcsOp, REvalKind};
use crate::vka::{PointRef, Vka};

/// Size parameters that determine the time of [`crate::verify`] for a VKA, computed from
/// the parsed VKA without verifying anything.
///
/// Verification time is dominated by `pairings` (always 2, one multi-Miller loop and one
/// final exponentiation) and the `msm_terms`-term multi-scalar multiplication; then come the
/// `commitments` on-curve checks, `keccak_bytes` of hashing and `field_ops` field
/// multiplications. A weight formula can be fitted on these (see docs/verifier.md).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct VerifyCost {
    /// Words of the VKA.
    pub vka_words: u32,
    /// Public instances.
    pub instances: u32,
    /// Bytes of a proof.
    pub proof_bytes: u32,
    /// G1 points read from the proof (each checked on the curve).
    pub commitments: u32,
    /// Field elements read from the proof.
    pub evaluations: u32,
    /// Fiat–Shamir challenges squeezed.
    pub challenges: u32,
    /// Bytes hashed with Keccak-256 by the transcript.
    pub keccak_bytes: u32,
    /// Approximate count of field multiplications (expressions, permutation, lookups,
    /// Lagrange basis, opening), excluding the MSM and the pairing.
    pub field_ops: u32,
    /// Field inversions (each batch inversion costs one).
    pub inversions: u32,
    /// Terms of the G1 multi-scalar multiplication.
    pub msm_terms: u32,
    /// Pairings in the final check.
    pub pairings: u32,
}

fn expr_ops(e: &Expr) -> usize {
    e.ops.len() + e.accum.len()
}

impl Vka {
    /// The cost summary of verifying a proof against this VKA.
    pub fn cost(&self) -> VerifyCost {
        let mut keccak = 0usize;
        let mut challenges = 0usize;
        for (i, p) in self.phases.iter().enumerate() {
            keccak += 32 + 64 * p.commitments + if i == 0 { 32 * self.num_instances } else { 0 };
            keccak += 33 * (p.challenges - 1);
            challenges += p.challenges;
        }
        keccak += 32 + 32 * self.num_evals + 33 + 32 + 64;
        challenges += 3;

        let mut ops = self.gates.iter().map(expr_ops).sum::<usize>() + self.gates.len();
        let perm_cols: usize = self.permutation.iter().map(|c| c.columns.len()).sum();
        ops += 6 * perm_cols + 6 * self.permutation.len();
        for lk in &self.lookups {
            let n = lk.inputs.len();
            ops += lk.table.as_ref().map_or(0, expr_ops) + lk.inputs.iter().map(expr_ops).sum::<usize>();
            ops += 10 + n * n + n;
        }
        let rows = self.num_neg_lagranges + self.num_instances.max(1);
        ops += self.k as usize + 5 * rows + self.num_instances;
        let mut inversions = 1;
        for op in &self.pcs.ops {
            ops += match op {
                PcsOp::XRot { rot, .. } => rot.unsigned_abs() as usize + 1,
                PcsOp::One { .. } | PcsOp::Copy { .. } | PcsOp::MuMinus { .. } => 1,
                PcsOp::Prod { srcs, .. } => srcs.len(),
                PcsOp::Coeff { others, .. } => 2 * others.len() + 1,
                PcsOp::BatchInvert { count, .. } => {
                    inversions += 1;
                    3 * *count as usize
                }
                PcsOp::Normalize { more, .. } => *more as usize + 1,
                PcsOp::REval { kind: REvalKind::Single(t), .. } => 3 * t.len(),
                PcsOp::REval { kind: REvalKind::Multi(g), width, .. } => g.len() * (2 * *width as usize + 1),
                PcsOp::Sum { count, .. } => *count as usize,
            };
        }
        ops += 2 * self.pcs.r_count as usize + 2 * self.cost_msm_terms();

        let c = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        VerifyCost {
            vka_words: c(self.num_words),
            instances: c(self.num_instances),
            proof_bytes: c(self.proof_len()),
            commitments: c(self.num_commitments + 2),
            evaluations: c(self.num_evals),
            challenges: c(challenges),
            keccak_bytes: c(keccak),
            field_ops: c(ops),
            inversions: c(inversions),
            msm_terms: c(self.cost_msm_terms()),
            pairings: 2,
        }
    }

    /// Terms of the final MSM: every point of every rotation set (the computed quotient
    /// commitment expanded into its pieces), plus G1, W and W'.
    pub(crate) fn cost_msm_terms(&self) -> usize {
        let n_q = (self.quotient_last - self.quotient_first) as usize + 1;
        let points: usize = self
            .pcs
            .sets
            .iter()
            .flat_map(|s| s.points.iter())
            .map(|p| if *p == PointRef::Quotient { n_q } else { 1 })
            .sum();
        points + 3
    }
}
