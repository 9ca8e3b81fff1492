//! Native verifier for [ezkl] 23.0.5 Halo2 proofs: KZG on BN254, SHPLONK (BDFG21)
//! multi-opening, Keccak-256 EVM transcript, MV (log-derivative) lookups, multi-phase
//! circuits with challenges (ezkl's Freivalds-checked matrix products).
//!
//! One verifier serves every circuit: the circuit comes in as ezkl's *verifying key
//! artifact* (VKA, written by `ezkl.create_evm_vka`), which this crate interprets exactly
//! as ezkl's reusable Solidity verifier (`Halo2VerifierReusable.sol` of ezkl-verifier
//! a518a91) does, but parsed once into a typed program (see [`Vka::parse`]).
//!
//! ```no_run
//! # fn demo(vka_words: &[u8], proof_bytes: &[u8], instances: &[[u8; 32]]) -> Result<(), zkpot_verifier::VerifyError> {
//! use zkpot_verifier::{verify, Instances, Proof, Vka};
//! let vka = Vka::parse(vka_words)?;            // concatenated 32-byte big-endian words
//! let proof = Proof::parse(proof_bytes)?;      // ezkl's raw proof bytes
//! let instances = Instances::parse(instances)?; // 32-byte big-endian field elements
//! verify(&vka, &proof, &instances)?;            // Ok(()) = valid
//! # Ok(()) }
//! ```
//!
//! [`commitment`] reads model commitments (ezkl `polycommit` KZG commitments, G1 points) and
//! computes the commitment of a weighted sum of models from theirs.
//!
//! `no_std` (with `alloc`) for Substrate runtimes; the `std` feature (default) adds the
//! `zkpot-verify` command-line tool. The crate never panics on any input and bounds time
//! and memory by the limits below. See docs/verifier.md for the encoding, what is
//! rejected, limits, measurements and how the test fixtures are made.
//!
//! [ezkl]: https://github.com/zkonduit/ezkl
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

extern crate alloc;

mod backend;
pub mod commitment;
mod cost;
mod error;
mod expr;
mod input;
mod pcs;
mod transcript;
mod verify;
mod vka;
mod word;

pub use backend::{Arkworks, CurveBackend};
pub use commitment::{CommitmentBytes, CommitmentError};
pub use cost::VerifyCost;
pub use error::VerifyError;
pub use input::{Instances, Proof};
pub use verify::{verify, verify_with};
pub use vka::{ezkl_file_words, Vka};

/// Most VKA words accepted (64 KiB). Every pointer in a VKA is a 16-bit EVM address and the
/// VKA itself sits in that address space, so a usable VKA is always smaller.
pub const MAX_VKA_WORDS: usize = 2048;
/// Largest proof accepted, in bytes. Proof pointers are 16-bit calldata addresses starting
/// at 0x84, so no VKA can describe a longer proof.
pub const MAX_PROOF_BYTES: usize = 65536;
/// Most public instances accepted (each costs a Lagrange basis evaluation).
pub const MAX_INSTANCES: usize = 4096;
/// Most evaluations a VKA may declare for its proofs.
pub const MAX_EVALS: usize = 2048;
/// Most user challenges (multi-phase circuits); ezkl uses at most 10 per matrix product.
pub const MAX_USER_CHALLENGES: usize = 64;
/// Most transcript phases.
pub const MAX_PHASES: usize = 32;
/// Most words of the challenge schedule (the generator reserves 10).
pub const MAX_CHALLENGE_WORDS: usize = 10;
/// Most gate polynomials.
pub const MAX_GATES: usize = 2048;
/// Most permutation grand-product chunks.
pub const MAX_PERMUTATION_CHUNKS: usize = 256;
/// Most lookup arguments.
pub const MAX_LOOKUPS: usize = 1024;
/// Most input expression vectors of one log-derivative lookup.
pub const MAX_LOOKUP_INPUTS: usize = 16;
/// Most negative Lagrange rows (blinding factors + 1; ezkl uses 6).
pub const MAX_NEG_LAGRANGES: usize = 64;
/// Most operations, references and points decoded from one VKA in total: bounds the
/// parsed program's memory and every verification loop.
pub const MAX_DECODED_ITEMS: usize = 65536;

/// Keccak-256 of the VKA words (without any length prefix): the digest by which ezkl's
/// Solidity verifier registers a VKA (`registerVka`). Not used by the verification itself.
pub fn vka_digest(words: &[u8]) -> [u8; 32] {
    use sha3::{Digest, Keccak256};
    Keccak256::digest(words).into()
}
