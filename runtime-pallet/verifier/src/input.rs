//! Proofs and public instances.

use alloc::vec::Vec;

use ark_bn254::Fr;

use crate::error::VerifyError;
use crate::word::fr_from_be;
use crate::{MAX_INSTANCES, MAX_PROOF_BYTES};

/// The raw proof bytes: ezkl's halo2 transcript (`proof.json`'s `proof`, or `hex_proof`
/// decoded). Commitments are 64-byte x‖y, evaluations 32 bytes, all big-endian.
///
/// Parsing only bounds the size; the layout depends on the circuit and is checked against
/// the VKA by [`crate::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    pub(crate) bytes: Vec<u8>,
}

impl Proof {
    /// Takes the proof bytes: non-empty and at most [`MAX_PROOF_BYTES`].
    pub fn parse(bytes: &[u8]) -> Result<Proof, VerifyError> {
        if bytes.is_empty() || bytes.len() > MAX_PROOF_BYTES {
            return Err(VerifyError::ProofSize);
        }
        Ok(Proof { bytes: bytes.to_vec() })
    }

    /// The proof bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The public instances, in the order the circuit exposes them (for ezkl: Poseidon hashes
/// first, then public inputs, then public outputs, flattened).
///
/// Each instance is a BN254 scalar field element as 32 **big-endian** bytes, the uint256
/// the Solidity verifier takes. (ezkl's `proof.json` lists them as little-endian hex:
/// reverse the bytes.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instances {
    pub(crate) raw: Vec<[u8; 32]>,
    pub(crate) values: Vec<Fr>,
}

impl Instances {
    /// Checks each instance is a canonical field element (below the modulus) and the count
    /// is at most [`MAX_INSTANCES`].
    pub fn parse(instances: &[[u8; 32]]) -> Result<Instances, VerifyError> {
        if instances.len() > MAX_INSTANCES {
            return Err(VerifyError::TooManyInstances);
        }
        let values = instances
            .iter()
            .enumerate()
            .map(|(i, b)| fr_from_be(b).ok_or(VerifyError::InstanceNotInField { index: i as u32 }))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Instances { raw: instances.to_vec(), values })
    }

    /// Number of instances.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The instances as given (32-byte big-endian).
    pub fn as_slice(&self) -> &[[u8; 32]] {
        &self.raw
    }
}
