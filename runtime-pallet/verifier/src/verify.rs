//! Verification: the Solidity's `_verifyProof`, step by step, on the parsed VKA.

use alloc::vec::Vec;

use ark_bn254::{Fr, G1Affine};
use ark_ec::CurveGroup;
use ark_ff::{Field, MontFp, One, Zero};

use crate::backend::{Arkworks, CurveBackend};
use crate::error::VerifyError;
use crate::expr::Env;
use crate::input::{Instances, Proof};
use crate::pcs::{self, batch_invert_slice, PcsInput};
use crate::transcript::Transcript;
use crate::vka::{PermChunk, PointRef, Vka};
use crate::word::{be32, fr_from_be, proof_g1};

type Result<T> = core::result::Result<T, VerifyError>;

/// halo2's `Fr::DELTA` = 7^(2^28): the coset shift between permutation columns.
pub(crate) const DELTA: Fr =
    MontFp!("4131629893567559867359510883348571134090853742863529169391034518566172092834");

/// Verifies `proof` for `instances` against `vka` with plain arkworks curve arithmetic.
///
/// Returns `Ok(())` exactly when ezkl's reusable Solidity verifier would accept the same
/// proof, instances and VKA (modulo the stricter input checks documented in
/// docs/verifier.md: exact proof length, well-formed VKA).
pub fn verify(vka: &Vka, proof: &Proof, instances: &Instances) -> Result<()> {
    verify_with::<Arkworks>(vka, proof, instances)
}

/// [`verify`] with the curve operations of backend `B`.
pub fn verify_with<B: CurveBackend>(vka: &Vka, proof: &Proof, instances: &Instances) -> Result<()> {
    let (lhs, rhs) = pairing_inputs::<B>(vka, proof, instances)?;
    if B::pairing_product_is_one([lhs, rhs], [vka.g2, vka.neg_s_g2]) {
        Ok(())
    } else {
        Err(VerifyError::PairingFailed)
    }
}

/// Values read from the proof while replaying the transcript.
struct Read {
    points: Vec<G1Affine>,
    evals: Vec<Fr>,
    challenges: Vec<Fr>,
    zeta: Fr,
    nu: Fr,
    mu: Fr,
}

/// Replays the Fiat–Shamir transcript: instances, then per phase its commitments and
/// challenges, the evaluations, ζ and ν, W, μ, W'.
fn read_proof(vka: &Vka, proof: &[u8], instances: &Instances) -> Result<Read> {
    let mut t = Transcript::new(&vka.vk_digest);
    for inst in &instances.raw {
        t.absorb(inst);
    }
    let mut points = Vec::with_capacity(vka.num_commitments + 2);
    let mut off = 0usize;
    let read_point = |t: &mut Transcript, off: &mut usize| -> Result<G1Affine> {
        let o = *off;
        let bad = VerifyError::NotOnCurve { offset: o as u32 };
        let (x, y) = (be32(proof, o).ok_or(bad)?, be32(proof, o + 32).ok_or(bad)?);
        let p = proof_g1(x, y).ok_or(bad)?;
        t.absorb(x);
        t.absorb(y);
        *off = o + 64;
        Ok(p)
    };
    let mut challenges = Vec::with_capacity(vka.num_user_challenges + 5);
    for phase in &vka.phases {
        for _ in 0..phase.commitments {
            points.push(read_point(&mut t, &mut off)?);
        }
        challenges.push(t.squeeze());
        for _ in 1..phase.challenges {
            challenges.push(t.squeeze_cont());
        }
    }
    let mut evals = Vec::with_capacity(vka.num_evals);
    for _ in 0..vka.num_evals {
        let bad = VerifyError::EvaluationNotInField { offset: off as u32 };
        let b = be32(proof, off).ok_or(bad)?;
        evals.push(fr_from_be(b).ok_or(bad)?);
        t.absorb(b);
        off += 32;
    }
    let zeta = t.squeeze();
    let nu = t.squeeze_cont();
    points.push(read_point(&mut t, &mut off)?);
    let mu = t.squeeze();
    points.push(read_point(&mut t, &mut off)?);
    Ok(Read { points, evals, challenges, zeta, nu, mu })
}

/// Lagrange basis values at x the verifier needs.
struct Lagrange {
    x_n: Fr,
    x_n_minus_1_inv: Fr,
    l_last: Fr,
    l_blind: Fr,
    l_0: Fr,
    instance_eval: Fr,
}

/// `L_i(x) = ωⁱ·(xⁿ − 1) / (n·(x − ωⁱ))` for rows i = −l … num_instances−1.
fn lagrange(vka: &Vka, x: Fr, instances: &[Fr]) -> Result<Lagrange> {
    let mut x_n = x;
    for _ in 0..vka.k {
        x_n.square_in_place();
    }
    let l = vka.num_neg_lagranges;
    // The Solidity computes one more row when there are no instances, so that row 0
    // (l_0) is always among the computed ones.
    let rows = l + instances.len().max(1);
    let mut omegas = Vec::with_capacity(rows);
    let mut w = vka.omega_inv_to_l;
    for _ in 0..rows {
        omegas.push(w);
        w *= vka.omega;
    }
    let mut denoms: Vec<Fr> = omegas.iter().map(|w| x - w).collect();
    let x_n_minus_1 = x_n - Fr::one();
    denoms.push(x_n_minus_1);
    batch_invert_slice(&mut denoms)?;
    let x_n_minus_1_inv = denoms.pop().ok_or(VerifyError::DegenerateChallenge)?;
    let common = x_n_minus_1 * vka.n_inv;
    let ls: Vec<Fr> = denoms.iter().zip(&omegas).map(|(d, w)| common * *d * w).collect();
    let get = |i: usize| ls.get(i).copied().ok_or(VerifyError::DegenerateChallenge);
    let l_blind = ls.get(1..l).ok_or(VerifyError::DegenerateChallenge)?.iter().sum();
    let mut instance_eval = Fr::zero();
    for (i, v) in instances.iter().enumerate() {
        instance_eval += get(l + i)? * v;
    }
    Ok(Lagrange { x_n, x_n_minus_1_inv, l_last: get(0)?, l_blind, l_0: get(l)?, instance_eval })
}

fn ev(evals: &[Fr], i: u16) -> Result<Fr> {
    evals.get(i as usize).copied().ok_or(VerifyError::malformed(0, "evaluation index out of range"))
}

/// Challenges the quotient numerator uses.
struct Ch {
    theta: Fr,
    beta: Fr,
    gamma: Fr,
    y: Fr,
    x: Fr,
}

/// The numerator of the vanishing argument at x: gates, permutation, lookups, combined by
/// Horner in y in that order (as halo2 and the Solidity do).
fn quotient_numerator(vka: &Vka, env: &Env, ch: &Ch, lg: &Lagrange) -> Result<Fr> {
    let evals = env.evals;
    let y = ch.y;
    let mut slots = Vec::new();
    let mut q = Fr::zero();
    for (i, gate) in vka.gates.iter().enumerate() {
        let v = env.eval(gate, &mut slots)?;
        q = if i == 0 { v } else { q * y + v };
    }

    // Permutation: l_0·(1 − z_0(x)), l_last·(z_L(x)² − z_L(x)), the chunk transitions,
    // then each chunk's grand-product step.
    let first = vka.permutation.first().ok_or(VerifyError::malformed(0, "no permutation chunk"))?;
    let last = vka.permutation.last().ok_or(VerifyError::malformed(0, "no permutation chunk"))?;
    let z0 = ev(evals, first.z)?;
    q = q * y + (lg.l_0 - lg.l_0 * z0);
    let zl = ev(evals, last.z)?;
    q = q * y + lg.l_last * (zl * zl - zl);
    let mut running = ch.beta * ch.x;
    let mut steps = Vec::with_capacity(vka.permutation.len());
    for (c, next) in vka.permutation.iter().zip(vka.permutation.iter().skip(1)) {
        let z_last = c.z_last.ok_or(VerifyError::malformed(0, "permutation chunk without z(ω^last x)"))?;
        q = q * y + lg.l_0 * (ev(evals, next.z)? - ev(evals, z_last)?);
        steps.push(chunk_step(c, env, ch, lg, &mut running)?);
    }
    steps.push(chunk_step(last, env, ch, lg, &mut running)?);
    for s in steps {
        q = q * y + s;
    }

    // Log-derivative lookups: φ(ωx) − φ(x) = Σ 1/(fᵢ+β) − m/(t+β), multiplied out.
    let mut table = Fr::zero();
    let one_minus_blind_last = Fr::one() - (lg.l_blind + lg.l_last);
    let mut inputs = Vec::new();
    for lk in &vka.lookups {
        let phi = ev(evals, lk.phi)?;
        q = q * y + lg.l_0 * phi;
        q = q * y + lg.l_last * phi;
        if let Some(t) = &lk.table {
            table = env.eval(t, &mut slots)? + ch.beta;
        }
        inputs.clear();
        for input in &lk.inputs {
            inputs.push(env.eval(input, &mut slots)? + ch.beta);
        }
        let mut rhs = if inputs.len() == 1 {
            table
        } else {
            let mut sum = Fr::zero();
            for i in 0..inputs.len() {
                let mut p = Fr::one();
                for (j, f) in inputs.iter().enumerate() {
                    if i != j {
                        p *= f;
                    }
                }
                sum += p;
            }
            sum * table
        };
        let prod: Fr = inputs.iter().product();
        rhs -= ev(evals, lk.m)? * prod;
        let lhs = table * prod * (ev(evals, lk.phi_next)? - phi);
        q = q * y + one_minus_blind_last * (lhs - rhs);
    }
    Ok(q)
}

/// One permutation chunk: `(z(ωx)·Π(v + β·σ + γ) − z(x)·Π(v + β·δʲ·x + γ))·(1 − l_last − l_blind)`.
fn chunk_step(c: &PermChunk, env: &Env, ch: &Ch, lg: &Lagrange, running: &mut Fr) -> Result<Fr> {
    let mut lhs = ev(env.evals, c.z_next)?;
    let mut rhs = ev(env.evals, c.z)?;
    for col in &c.columns {
        let v = match col.eval {
            Some(i) => ev(env.evals, i)?,
            None => env.instance_eval,
        };
        lhs *= v + ch.beta * ev(env.evals, col.sigma)? + ch.gamma;
        rhs *= v + *running + ch.gamma;
        *running *= DELTA;
    }
    let d = lhs - rhs;
    Ok(d - d * (lg.l_last + lg.l_blind))
}

/// Everything up to the pairing: returns the two G1 arguments (LHS, RHS = W') of
/// `e(LHS, [1]₂)·e(RHS, −[s]₂) = 1`.
pub(crate) fn pairing_inputs<B: CurveBackend>(
    vka: &Vka,
    proof: &Proof,
    instances: &Instances,
) -> Result<(G1Affine, G1Affine)> {
    if instances.len() != vka.num_instances {
        return Err(VerifyError::InstanceCount { expected: vka.num_instances as u32, got: instances.len() as u32 });
    }
    if proof.bytes.len() != vka.proof_len() {
        return Err(VerifyError::ProofLength { expected: vka.proof_len() as u32, got: proof.bytes.len() as u32 });
    }
    let r = read_proof(vka, &proof.bytes, instances)?;
    let u = vka.num_user_challenges;
    let c = |i: usize| r.challenges.get(u + i).copied().ok_or(VerifyError::malformed(0, "challenge schedule"));
    let ch = Ch { theta: c(0)?, beta: c(1)?, gamma: c(2)?, y: c(3)?, x: c(4)? };
    let user = r.challenges.get(..u).ok_or(VerifyError::malformed(0, "challenge schedule"))?;

    let lg = lagrange(vka, ch.x, &instances.values)?;
    let env = Env { evals: &r.evals, consts: &vka.consts, challenges: user, instance_eval: lg.instance_eval, theta: ch.theta };
    let quotient_eval = quotient_numerator(vka, &env, &ch, &lg)? * lg.x_n_minus_1_inv;

    let out = pcs::run(
        &vka.pcs,
        &PcsInput {
            x: ch.x,
            omega: vka.omega,
            omega_inv: vka.omega_inv,
            zeta: r.zeta,
            nu: r.nu,
            mu: r.mu,
            quotient_eval,
            evals: &r.evals,
        },
    )?;

    // LHS = Σ_i ν^i·s_i·(Σ_j ζ^{m_i−1−j}·C_ij) − r·G1 − Z_{T_0}(μ)·W + μ·W', as one MSM.
    let slot = |i: u16| out.scratch.get(i as usize).copied().ok_or(VerifyError::malformed(0, "PCS slot"));
    let point = |p: PointRef| -> Result<G1Affine> {
        match p {
            PointRef::Proof(i) => r.points.get(i as usize).copied(),
            PointRef::Vka(i) => vka.vka_points.get(i as usize).copied(),
            PointRef::G1 => Some(vka.g1),
            PointRef::Quotient => None,
        }
        .ok_or(VerifyError::malformed(0, "point reference"))
    };
    let mut bases = Vec::with_capacity(vka.cost_msm_terms());
    let mut scalars = Vec::with_capacity(bases.capacity());
    let mut push = |p: PointRef, s: Fr| -> Result<()> {
        if p == PointRef::Quotient {
            // H = Σ_i x_nⁱ·h_i over the quotient pieces, first piece lowest.
            let mut f = s;
            for i in vka.quotient_first..=vka.quotient_last {
                bases.push(point(PointRef::Proof(i))?);
                scalars.push(f);
                f *= lg.x_n;
            }
        } else {
            bases.push(point(p)?);
            scalars.push(s);
        }
        Ok(())
    };
    let mut nu_pow = r.nu;
    for set in &vka.pcs.sets {
        let mut f = match set.scale {
            None => Fr::one(),
            Some(s) => {
                let f = nu_pow * slot(s)?;
                nu_pow *= r.nu;
                f
            }
        };
        for p in set.points.iter().rev() {
            push(*p, f)?;
            f *= r.zeta;
        }
    }
    push(PointRef::G1, -out.r_eval)?;
    push(vka.pcs.w, -slot(vka.pcs.vanishing)?)?;
    push(vka.pcs.w_prime, r.mu)?;
    let lhs = B::msm(&bases, &scalars)?.into_affine();
    let rhs = point(vka.pcs.w_prime)?;
    Ok((lhs, rhs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_is_halo2s() {
        let seven = Fr::from(7u64);
        let mut d = seven;
        for _ in 0..28 {
            d.square_in_place();
        }
        assert_eq!(d, DELTA);
    }
}
