//! The one error type of the crate.

use core::fmt;

/// Why a VKA, proof or instance list was rejected.
///
/// Small and `Copy` so that a runtime can turn it into an on-chain reason with
/// [`VerifyError::as_str`]; [`fmt::Display`] gives the precise reason for logs and the CLI.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The VKA bytes are not a whole, non-empty number of 32-byte words, exceed
    /// [`crate::MAX_VKA_WORDS`], or (for `vka.bin`) disagree with their word-count prefix.
    VkaLength,
    /// A VKA word is inconsistent with the format ezkl's reusable verifier reads: a pointer
    /// outside the area it must point into, a count over a limit, an unknown opcode, a
    /// constant not below the field modulus, a read of scratch memory never written, ...
    MalformedVka {
        /// Index of the VKA word being decoded when the problem was found (0 = header).
        word: u32,
        /// What was wrong, in a few words.
        reason: &'static str,
    },
    /// The VKA uses a feature this verifier (like ezkl's reusable Solidity verifier it
    /// follows) does not support, e.g. an accumulator or classic (non log-derivative) lookups.
    Unsupported {
        /// The feature.
        feature: &'static str,
    },
    /// The proof bytes are empty or longer than [`crate::MAX_PROOF_BYTES`].
    ProofSize,
    /// The proof length differs from the length the VKA implies.
    ProofLength {
        /// Bytes the VKA's circuit produces.
        expected: u32,
        /// Bytes given.
        got: u32,
    },
    /// More instances than [`crate::MAX_INSTANCES`].
    TooManyInstances,
    /// The number of public instances differs from the VKA's.
    InstanceCount {
        /// Instances the circuit has.
        expected: u32,
        /// Instances given.
        got: u32,
    },
    /// A public instance is not a canonical field element (it is ≥ the BN254 scalar modulus).
    InstanceNotInField {
        /// Index of the instance.
        index: u32,
    },
    /// A proof evaluation is not a canonical field element (≥ the BN254 scalar modulus).
    EvaluationNotInField {
        /// Byte offset of the evaluation in the proof.
        offset: u32,
    },
    /// A proof commitment is not a point of BN254 G1 (coordinates ≥ the base field modulus,
    /// off the curve, or the (0,0) encoding, which a proof never contains).
    NotOnCurve {
        /// Byte offset of the point in the proof.
        offset: u32,
    },
    /// A Fiat–Shamir challenge hit a value that makes a denominator zero (probability
    /// negligible for honest proofs); the proof is rejected rather than guessed at.
    DegenerateChallenge,
    /// All checks on the inputs passed but the final KZG pairing equation does not hold:
    /// the proof is not valid for these instances and this VKA.
    PairingFailed,
}

impl VerifyError {
    /// A short, stable name of the error kind (no details), e.g. for an on-chain reason.
    pub const fn as_str(&self) -> &'static str {
        match self {
            VerifyError::VkaLength => "VkaLength",
            VerifyError::MalformedVka { .. } => "MalformedVka",
            VerifyError::Unsupported { .. } => "Unsupported",
            VerifyError::ProofSize => "ProofSize",
            VerifyError::ProofLength { .. } => "ProofLength",
            VerifyError::TooManyInstances => "TooManyInstances",
            VerifyError::InstanceCount { .. } => "InstanceCount",
            VerifyError::InstanceNotInField { .. } => "InstanceNotInField",
            VerifyError::EvaluationNotInField { .. } => "EvaluationNotInField",
            VerifyError::NotOnCurve { .. } => "NotOnCurve",
            VerifyError::DegenerateChallenge => "DegenerateChallenge",
            VerifyError::PairingFailed => "PairingFailed",
        }
    }

    /// Whether the error is about the VKA itself (as opposed to the proof or the instances):
    /// a registry can refuse such a VKA once instead of failing every proof against it.
    pub const fn is_vka_error(&self) -> bool {
        matches!(
            self,
            VerifyError::VkaLength | VerifyError::MalformedVka { .. } | VerifyError::Unsupported { .. }
        )
    }

    pub(crate) const fn malformed(word: u32, reason: &'static str) -> Self {
        VerifyError::MalformedVka { word, reason }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::VkaLength => f.write_str(
                "VKA length: not a non-empty whole number of 32-byte words within the limit, or word count prefix mismatch",
            ),
            VerifyError::MalformedVka { word, reason } => write!(f, "malformed VKA at word {word}: {reason}"),
            VerifyError::Unsupported { feature } => write!(f, "unsupported circuit feature: {feature}"),
            VerifyError::ProofSize => f.write_str("proof is empty or larger than the limit"),
            VerifyError::ProofLength { expected, got } => {
                write!(f, "proof length {got} bytes, the VKA's circuit makes {expected}")
            }
            VerifyError::TooManyInstances => f.write_str("more public instances than the limit"),
            VerifyError::InstanceCount { expected, got } => {
                write!(f, "{got} public instances given, the circuit has {expected}")
            }
            VerifyError::InstanceNotInField { index } => {
                write!(f, "public instance {index} is not below the BN254 scalar field modulus")
            }
            VerifyError::EvaluationNotInField { offset } => {
                write!(f, "proof evaluation at byte {offset} is not below the BN254 scalar field modulus")
            }
            VerifyError::NotOnCurve { offset } => write!(f, "proof point at byte {offset} is not on BN254 G1"),
            VerifyError::DegenerateChallenge => f.write_str("degenerate Fiat-Shamir challenge (zero denominator)"),
            VerifyError::PairingFailed => f.write_str("pairing check failed: the proof is not valid"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for VerifyError {}
