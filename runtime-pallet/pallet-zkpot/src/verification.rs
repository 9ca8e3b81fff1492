//! How the pallet verifies proofs: a small trait, so the runtime can choose the
//! implementation (natively compiled Rust, or later the same code with the curve operations
//! behind host functions), and the native implementation on `zkpot-verifier`.

use crate::types::{FieldElement, VerificationFailure};
use frame_support::weights::Weight;

/// Verifies Halo2 proofs against a verifying key artifact (VKA).
pub trait ProofVerifier {
	/// Checks that `vka` is a VKA this verifier can use for proofs with `num_instances`
	/// public instances, and returns the reference time of one verification with it.
	fn check_vka(vka: &[u8], num_instances: u32) -> Result<Weight, VerificationFailure>;

	/// Verifies `proof` with public `instances` (32-byte big-endian field elements).
	fn verify(vka: &[u8], proof: &[u8], instances: &[FieldElement]) -> Result<(), VerificationFailure>;
}

/// The native verifier of `zkpot-verifier`, compiled into the runtime.
pub struct NativeVerifier;

impl NativeVerifier {
	fn failure(e: zkpot_verifier::VerifyError) -> VerificationFailure {
		use zkpot_verifier::VerifyError as E;
		use VerificationFailure as F;
		match e {
			E::VkaLength | E::MalformedVka { .. } | E::Unsupported { .. } => F::Unsupported,
			E::ProofSize => F::ProofSize,
			E::ProofLength { expected, got } => F::ProofLength { expected, got },
			E::TooManyInstances => F::TooManyInstances,
			E::InstanceCount { expected, got } => F::InstanceCount { expected, got },
			E::InstanceNotInField { index } => F::InstanceNotInField { index },
			E::EvaluationNotInField { offset } => F::EvaluationNotInField { offset },
			E::NotOnCurve { offset } => F::NotOnCurve { offset },
			E::DegenerateChallenge => F::DegenerateChallenge,
			E::PairingFailed => F::PairingFailed,
		}
	}
}

impl ProofVerifier for NativeVerifier {
	fn check_vka(vka: &[u8], num_instances: u32) -> Result<Weight, VerificationFailure> {
		let parsed = zkpot_verifier::Vka::parse(vka).map_err(|_| VerificationFailure::Unsupported)?;
		let cost = parsed.cost();
		if cost.instances != num_instances {
			return Err(VerificationFailure::InstanceCount { expected: cost.instances, got: num_instances });
		}
		Ok(crate::weights::verification_weight(&cost))
	}

	fn verify(vka: &[u8], proof: &[u8], instances: &[FieldElement]) -> Result<(), VerificationFailure> {
		let vka = zkpot_verifier::Vka::parse(vka).map_err(Self::failure)?;
		let proof = zkpot_verifier::Proof::parse(proof).map_err(Self::failure)?;
		let instances = zkpot_verifier::Instances::parse(instances).map_err(Self::failure)?;
		zkpot_verifier::verify(&vka, &proof, &instances).map_err(Self::failure)
	}
}
