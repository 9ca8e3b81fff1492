//! Parsing ezkl's verifying key artifact (VKA) into a typed verification program.
//!
//! The reusable Solidity verifier (`Halo2VerifierReusable.sol`, ezkl-verifier a518a91, the
//! version ezkl 23.0.5 pins) copies the VKA words to EVM memory at 0xa0 and interprets them:
//! nearly every field is a 16-bit memory or calldata address that is only meaningful under
//! that contract's exact memory layout. Nothing in that interpretation depends on the proof
//! or the instances, so this module walks the VKA exactly as the Yul does, once, and
//! resolves every address into what it denotes (a proof evaluation, a proof commitment, a
//! constant, a challenge, a scratch slot). Verification then runs the resulting typed
//! program without any address arithmetic.
//!
//! Where the Solidity would read something an ezkl-generated VKA never makes it read
//! (a stale or unwritten memory word, an address inside a different area, a value past the
//! end of a packed list), the VKA is rejected as malformed instead of emulating the EVM's
//! behaviour on it: such a VKA cannot verify honest proofs on chain either, and refusing it
//! keeps the native verifier from ever accepting what the contract would not.

use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;

use ark_bn254::{Fr, G1Affine, G2Affine};
use ark_ff::{Field, One};

use crate::error::VerifyError;
use crate::expr::{decode_expr, Expr, ExprMode, Operand};
use crate::pcs::Pcs;
use crate::word::{g1_from_words, g2_from_words, Word};
use crate::{
    MAX_CHALLENGE_WORDS, MAX_DECODED_ITEMS, MAX_EVALS, MAX_GATES, MAX_INSTANCES, MAX_LOOKUPS,
    MAX_LOOKUP_INPUTS, MAX_NEG_LAGRANGES, MAX_PERMUTATION_CHUNKS, MAX_PHASES, MAX_PROOF_BYTES,
    MAX_USER_CHALLENGES, MAX_VKA_WORDS,
};

type Result<T> = core::result::Result<T, VerifyError>;

/// Memory address of VKA word 0 (the Solidity ABI decoder places `bytes32[] vka` there).
pub(crate) const VKA_MPTR: usize = 0xa0;
/// Calldata address of proof byte 0 in `verifyProof(bytes,uint256[],bytes32[])` calldata.
pub(crate) const PROOF_CPTR: usize = 0x84;
/// Header words (see the module docs of [`crate`] and docs/verifier.md).
const H_VK_DIGEST: usize = 0;
const H_FSM: usize = 1;
const H_NUM_INSTANCES: usize = 2;
const H_NUM_EVALS: usize = 3;
const H_CHALLENGES_OFFSET: usize = 4;
const H_K: usize = 5;
const H_N_INV: usize = 6;
const H_OMEGA: usize = 7;
const H_OMEGA_INV: usize = 8;
const H_OMEGA_INV_TO_L: usize = 9;
const H_HAS_ACCUMULATOR: usize = 10;
const H_G1_X: usize = 14;
const H_G2: usize = 16;
const H_NEG_S_G2: usize = 20;
const H_LAST_QUOTIENT_X_CPTR: usize = 24;
const H_FIRST_QUOTIENT_X_CPTR: usize = 25;
const H_GATES: usize = 26;
const H_PERMUTATION: usize = 27;
const H_LOOKUPS: usize = 28;
const H_PCS: usize = 29;
const H_NUM_NEG_LAGRANGES: usize = 31;
const H_CHALLENGE_DATA: usize = 33;
/// The number of challenges halo2 squeezes after the user challenges and before the
/// evaluations: theta, beta, gamma, y, x.
const BUILTIN_CHALLENGES: usize = 5;
/// Largest supported log2 of the domain size: BN254's scalar field has 2-adicity 28.
const MAX_K: u64 = 28;
/// Smallest free static memory the generator ever writes (12 words: EC scratch of the
/// pairing step); also what the lookup and permutation steps assume.
const MIN_FSM: usize = 0x180;

/// One Fiat–Shamir phase of the transcript: `commitments` G1 points are read from the proof,
/// then `challenges` challenges are squeezed (the first one from the absorbed data, the
/// others by re-hashing with a 0x01 byte).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Phase {
    pub(crate) commitments: usize,
    pub(crate) challenges: usize,
}

/// A G1 point the verification program uses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum PointRef {
    /// Commitment i of the proof, in proof order; `num_commitments` and `+1` are the
    /// SHPLONK opening points W and W'.
    Proof(u16),
    /// A commitment stored in the VKA (fixed and permutation columns), index into
    /// [`Vka::vka_points`].
    Vka(u16),
    /// The linearised quotient commitment Σ x_nⁱ·hᵢ computed from the quotient pieces.
    Quotient,
    /// The SRS generator [1]₁ (VKA header).
    G1,
}

/// A column of the permutation argument.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct PermColumn {
    /// Evaluation of the column at x; `None` for the instance column, whose evaluation is
    /// the verifier's own instance evaluation.
    pub(crate) eval: Option<u16>,
    /// Evaluation of the column's permutation polynomial σ at x.
    pub(crate) sigma: u16,
}

/// One chunk of the permutation argument: its grand product z and its columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PermChunk {
    /// z(x), z(ωx), z(ω^last·x) (the last only read for chunks other than the last).
    pub(crate) z: u16,
    pub(crate) z_next: u16,
    pub(crate) z_last: Option<u16>,
    pub(crate) columns: Vec<PermColumn>,
}

/// One log-derivative ("MV") lookup argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Lookup {
    /// φ(x), φ(ωx), m(x).
    pub(crate) phi: u16,
    pub(crate) phi_next: u16,
    pub(crate) m: u16,
    /// The table expressions (θ-compressed); `None` reuses the previous lookup's table.
    pub(crate) table: Option<Expr>,
    /// Input expression vectors (θ-compressed each).
    pub(crate) inputs: Vec<Expr>,
}

/// A parsed verifying key artifact: everything needed to verify proofs of one circuit.
///
/// Parse once with [`Vka::parse`] (or [`Vka::from_ezkl_file`]) and verify any number of
/// proofs with [`crate::verify`].
#[derive(Clone, Debug)]
pub struct Vka {
    pub(crate) num_words: usize,
    pub(crate) vk_digest: [u8; 32],
    pub(crate) num_instances: usize,
    pub(crate) num_evals: usize,
    pub(crate) num_user_challenges: usize,
    pub(crate) k: u32,
    pub(crate) n_inv: Fr,
    pub(crate) omega: Fr,
    pub(crate) omega_inv: Fr,
    pub(crate) omega_inv_to_l: Fr,
    pub(crate) num_neg_lagranges: usize,
    pub(crate) g1: G1Affine,
    pub(crate) g2: G2Affine,
    pub(crate) neg_s_g2: G2Affine,
    pub(crate) phases: Vec<Phase>,
    pub(crate) num_commitments: usize,
    /// Indices of the first and last quotient piece commitments.
    pub(crate) quotient_first: u16,
    pub(crate) quotient_last: u16,
    /// Field constants the expressions use (VKA words), by [`Operand::Const`] index.
    pub(crate) consts: Vec<Fr>,
    /// Commitments stored in the VKA that the opening uses, by [`PointRef::Vka`] index.
    pub(crate) vka_points: Vec<G1Affine>,
    pub(crate) gates: Vec<Expr>,
    pub(crate) permutation: Vec<PermChunk>,
    pub(crate) lookups: Vec<Lookup>,
    pub(crate) pcs: Pcs,
}

/// Read access to the VKA as the Solidity sees it in memory, plus the layout facts every
/// pointer is checked against. Remembers the last word read, for error messages.
pub(crate) struct Mem<'a> {
    bytes: &'a [u8],
    pub(crate) num_words: usize,
    pub(crate) vka_end: usize,
    pub(crate) fsm: usize,
    pub(crate) challenge_mptr: usize,
    pub(crate) theta_mptr: usize,
    pub(crate) num_commitments: usize,
    pub(crate) num_evals: usize,
    last_word: Cell<u32>,
}

impl<'a> Mem<'a> {
    /// The word index of an absolute memory address inside the VKA.
    pub(crate) fn word_index(&self, addr: usize) -> Result<usize> {
        let rel = addr.checked_sub(VKA_MPTR).ok_or_else(|| self.err("address below the VKA"))?;
        if rel % 32 != 0 {
            return Err(self.err("unaligned VKA address"));
        }
        let i = rel / 32;
        if i >= self.num_words {
            return Err(self.err("address past the end of the VKA"));
        }
        Ok(i)
    }

    /// The word at absolute memory address `addr` (must be a word of the VKA).
    pub(crate) fn word_at(&self, addr: usize) -> Result<Word> {
        let i = self.word_index(addr)?;
        self.word(i)
    }

    /// VKA word `i`.
    pub(crate) fn word(&self, i: usize) -> Result<Word> {
        let start = i.checked_mul(32).ok_or(VerifyError::VkaLength)?;
        let bytes = crate::word::be32(self.bytes, start).ok_or_else(|| self.err("word index past the end"))?;
        self.last_word.set(u32::try_from(i).unwrap_or(u32::MAX));
        Ok(Word::from_be(bytes))
    }

    /// A malformed-VKA error located at the last word read.
    pub(crate) fn err(&self, reason: &'static str) -> VerifyError {
        VerifyError::malformed(self.last_word.get(), reason)
    }

    /// The proof byte offset of calldata pointer `cptr`.
    fn proof_offset(&self, cptr: u16) -> Result<usize> {
        (cptr as usize).checked_sub(PROOF_CPTR).ok_or_else(|| self.err("calldata pointer before the proof"))
    }

    /// The index of the proof evaluation at calldata pointer `cptr`.
    pub(crate) fn eval(&self, cptr: u16) -> Result<u16> {
        let off = self.proof_offset(cptr)?;
        let rel = off
            .checked_sub(self.num_commitments * 64)
            .ok_or_else(|| self.err("evaluation pointer into the commitments"))?;
        if rel % 32 != 0 || rel / 32 >= self.num_evals {
            return Err(self.err("evaluation pointer outside the evaluations"));
        }
        u16::try_from(rel / 32).map_err(|_| self.err("evaluation index"))
    }

    /// The proof point whose x and y are at calldata pointers `x` and `y`.
    pub(crate) fn proof_point(&self, x: u16, y: u16) -> Result<PointRef> {
        if y as usize != x as usize + 32 {
            return Err(self.err("point y pointer is not x + 32"));
        }
        let off = self.proof_offset(x)?;
        let comm_bytes = self.num_commitments * 64;
        let w_off = comm_bytes + self.num_evals * 32;
        let idx = if off < comm_bytes && off % 64 == 0 {
            off / 64
        } else if off == w_off {
            self.num_commitments
        } else if off == w_off + 64 {
            self.num_commitments + 1
        } else {
            return Err(self.err("point pointer is not a proof commitment"));
        };
        u16::try_from(idx).map(PointRef::Proof).map_err(|_| self.err("commitment index"))
    }

    /// The scratch slot of a pointer relative to the end of the VKA (PCS sections): slots
    /// are the words of the free static memory `[vka_end, vka_end + fsm)`.
    pub(crate) fn slot(&self, rel: u16) -> Result<u16> {
        let rel = rel as usize;
        if !rel.is_multiple_of(32) || rel >= self.fsm {
            return Err(self.err("scratch pointer outside the free static memory"));
        }
        Ok((rel / 32) as u16)
    }
}

/// Mutable state of one parse: the constant and point pools and a work budget that bounds
/// the size of what a hostile VKA can make us build.
pub(crate) struct Decoder<'a> {
    pub(crate) mem: Mem<'a>,
    consts: Vec<Fr>,
    const_of_word: Vec<u16>,
    points: Vec<G1Affine>,
    point_of_word: Vec<u16>,
    budget: usize,
}

const NONE16: u16 = u16::MAX;

impl<'a> Decoder<'a> {
    /// Charges `n` items against [`MAX_DECODED_ITEMS`].
    pub(crate) fn charge(&mut self, n: usize) -> Result<()> {
        self.budget = self
            .budget
            .checked_sub(n)
            .ok_or_else(|| self.mem.err("VKA describes more work than the decode limit"))?;
        Ok(())
    }

    /// The operand an absolute memory pointer denotes inside an expression evaluated with
    /// result slots at `fsmp`, of which `written` have been written so far.
    pub(crate) fn operand(&mut self, ptr: u16, fsmp: usize, written: usize) -> Result<Operand> {
        let a = ptr as usize;
        let m = &self.mem;
        if a >= fsmp && (a - fsmp).is_multiple_of(32) && (a - fsmp) / 32 < written {
            return Ok(Operand::Slot(((a - fsmp) / 32) as u16));
        }
        if a >= VKA_MPTR && a < m.vka_end {
            let i = m.word_index(a)?;
            return self.constant(i).map(Operand::Const);
        }
        if a >= m.challenge_mptr && a < m.theta_mptr && (a - m.challenge_mptr).is_multiple_of(32) {
            return Ok(Operand::Challenge(((a - m.challenge_mptr) / 32) as u16));
        }
        if a == m.theta_mptr + 0x220 {
            return Ok(Operand::InstanceEval);
        }
        Err(m.err("expression operand points to no value the verifier defines there"))
    }

    /// The constant-pool index of VKA word `i` read as a field element.
    fn constant(&mut self, i: usize) -> Result<u16> {
        let cached = self.const_of_word.get(i).copied().ok_or_else(|| self.mem.err("constant index"))?;
        if cached != NONE16 {
            return Ok(cached);
        }
        let v = self.mem.word(i)?.fr().ok_or_else(|| self.mem.err("constant not below the field modulus"))?;
        let idx = u16::try_from(self.consts.len()).map_err(|_| self.mem.err("too many constants"))?;
        self.consts.push(v);
        if let Some(slot) = self.const_of_word.get_mut(i) {
            *slot = idx;
        }
        Ok(idx)
    }

    /// A point the opening reads from memory: a commitment stored in the VKA at `x`, `y`.
    pub(crate) fn vka_point(&mut self, x: u16, y: u16) -> Result<PointRef> {
        if y as usize != x as usize + 32 {
            return Err(self.mem.err("point y pointer is not x + 32"));
        }
        let i = self.mem.word_index(x as usize)?;
        let cached = self.point_of_word.get(i).copied().ok_or_else(|| self.mem.err("point index"))?;
        if cached != NONE16 {
            return Ok(PointRef::Vka(cached));
        }
        let (wx, wy) = (self.mem.word(i)?, self.mem.word(i + 1)?);
        let p = g1_from_words(&wx, &wy).ok_or_else(|| self.mem.err("VKA commitment not on BN254 G1"))?;
        let idx = u16::try_from(self.points.len()).map_err(|_| self.mem.err("too many VKA points"))?;
        self.points.push(p);
        if let Some(slot) = self.point_of_word.get_mut(i) {
            *slot = idx;
        }
        Ok(PointRef::Vka(idx))
    }
}

impl Vka {
    /// Parses a VKA given as the chain carries it: the concatenation of its 32-byte
    /// big-endian words, without a length prefix (ezkl's `vka.bin` minus its first 8 bytes).
    ///
    /// Every size the VKA declares is checked against this crate's limits and every pointer
    /// against the area it must point into; the result is a self-contained program that
    /// [`crate::verify`] runs for each proof.
    pub fn parse(words: &[u8]) -> Result<Vka> {
        if words.is_empty() || !words.len().is_multiple_of(32) || words.len() / 32 > MAX_VKA_WORDS {
            return Err(VerifyError::VkaLength);
        }
        let num_words = words.len() / 32;
        if num_words <= H_CHALLENGE_DATA {
            return Err(VerifyError::malformed(0, "shorter than the VKA header"));
        }
        let vka_end = VKA_MPTR + 32 * num_words;
        let mut mem = Mem {
            bytes: words,
            num_words,
            vka_end,
            fsm: 0,
            challenge_mptr: 0,
            theta_mptr: 0,
            num_commitments: 0,
            num_evals: 0,
            last_word: Cell::new(0),
        };
        let small = |mem: &Mem, i: usize, max: u64, what: &'static str| -> Result<usize> {
            let w = mem.word(i)?;
            w.small(max).map(|v| v as usize).ok_or_else(|| mem.err(what))
        };
        let fr = |mem: &Mem, i: usize| -> Result<Fr> {
            mem.word(i)?.fr().ok_or_else(|| mem.err("header constant not below the field modulus"))
        };

        let mut vk_digest = [0u8; 32];
        vk_digest.copy_from_slice(crate::word::be32(words, 32 * H_VK_DIGEST).ok_or(VerifyError::VkaLength)?);

        let fsm = small(&mem, H_FSM, 0x10000, "free static memory size over 64 KiB")?;
        if fsm % 32 != 0 || fsm < MIN_FSM {
            return Err(mem.err("free static memory size not a word multiple of at least 12 words"));
        }
        let num_instances = small(&mem, H_NUM_INSTANCES, MAX_INSTANCES as u64, "more instances than the limit")?;
        let num_evals = small(&mem, H_NUM_EVALS, MAX_EVALS as u64, "more evaluations than the limit")?;
        let challenges_offset =
            small(&mem, H_CHALLENGES_OFFSET, 32 * MAX_USER_CHALLENGES as u64, "more user challenges than the limit")?;
        if challenges_offset % 32 != 0 {
            return Err(mem.err("challenges offset not a word multiple"));
        }
        let num_user_challenges = challenges_offset / 32;
        let k = small(&mem, H_K, MAX_K, "log2 domain size over 28")? as u32;
        if k == 0 {
            return Err(mem.err("log2 domain size 0"));
        }
        if !mem.word(H_HAS_ACCUMULATOR)?.is_zero() {
            return Err(VerifyError::Unsupported { feature: "accumulator (aggregated proofs)" });
        }
        let (n_inv, omega, omega_inv, omega_inv_to_l) =
            (fr(&mem, H_N_INV)?, fr(&mem, H_OMEGA)?, fr(&mem, H_OMEGA_INV)?, fr(&mem, H_OMEGA_INV_TO_L)?);
        let num_neg_lagranges = small(&mem, H_NUM_NEG_LAGRANGES, MAX_NEG_LAGRANGES as u64, "too many blinding rows")?;
        // The Solidity sums l_blind over rows 1..l-1 starting from row 1 unconditionally and
        // places instance i at row max(2, l)+i: right only for l >= 2 (ezkl always has l = 6).
        if num_neg_lagranges < 2 {
            return Err(mem.err("fewer than 2 negative Lagrange rows"));
        }
        check_domain(k, n_inv, omega, omega_inv, omega_inv_to_l, num_neg_lagranges)?;

        let g1 = g1_from_words(&mem.word(H_G1_X)?, &mem.word(H_G1_X + 1)?)
            .filter(|p| !ark_ec::AffineRepr::is_zero(p))
            .ok_or_else(|| mem.err("G1 generator not a point of BN254 G1"))?;
        let g2w = [mem.word(H_G2)?, mem.word(H_G2 + 1)?, mem.word(H_G2 + 2)?, mem.word(H_G2 + 3)?];
        let g2 = g2_from_words([&g2w[0], &g2w[1], &g2w[2], &g2w[3]])
            .ok_or_else(|| mem.err("[1]2 not a point of the BN254 G2 subgroup"))?;
        let sw = [mem.word(H_NEG_S_G2)?, mem.word(H_NEG_S_G2 + 1)?, mem.word(H_NEG_S_G2 + 2)?, mem.word(H_NEG_S_G2 + 3)?];
        let neg_s_g2 = g2_from_words([&sw[0], &sw[1], &sw[2], &sw[3]])
            .ok_or_else(|| mem.err("-[s]2 not a point of the BN254 G2 subgroup"))?;

        let phases = decode_phases(&mem, num_user_challenges)?;
        let num_commitments: usize = phases.iter().map(|p| p.commitments).sum();
        let proof_len = num_commitments * 64 + num_evals * 32 + 128;
        if proof_len > MAX_PROOF_BYTES {
            return Err(mem.err("the proof this VKA describes is over the proof size limit"));
        }
        // Transcript buffers of phases after the first and of the evaluations are written
        // at vka_end+0x20 once challenges exist at vka_end+fsm: they must not reach them
        // (the generator sizes fsm for this; the first phase's buffer may run over since
        // nothing is stored beyond it yet).
        let evals_buf = 0x20 + 32 * num_evals;
        let later_buf = phases.iter().skip(1).map(|p| 0x20 + 64 * p.commitments).max().unwrap_or(0);
        if evals_buf.max(later_buf).max(0x60) > fsm {
            return Err(mem.err("transcript buffer overlaps the challenges"));
        }

        mem.fsm = fsm;
        mem.challenge_mptr = vka_end + fsm;
        mem.theta_mptr = mem.challenge_mptr + challenges_offset;
        mem.num_commitments = num_commitments;
        mem.num_evals = num_evals;

        let quotient_last = quotient_ptr(&mem, H_LAST_QUOTIENT_X_CPTR)?;
        let quotient_first = quotient_ptr(&mem, H_FIRST_QUOTIENT_X_CPTR)?;
        if quotient_first > quotient_last {
            return Err(mem.err("first quotient piece after the last"));
        }

        let section = |mem: &Mem, i: usize| -> Result<usize> {
            let addr = small(mem, i, u64::MAX >> 1, "section address")?;
            mem.word_index(addr).map(|_| addr)
        };
        let gates_addr = section(&mem, H_GATES)?;
        let perm_addr = section(&mem, H_PERMUTATION)?;
        let lookups_addr = section(&mem, H_LOOKUPS)?;
        let pcs_addr = section(&mem, H_PCS)?;

        let mut dec = Decoder {
            mem,
            consts: Vec::new(),
            const_of_word: vec![NONE16; num_words],
            points: Vec::new(),
            point_of_word: vec![NONE16; num_words],
            budget: MAX_DECODED_ITEMS,
        };
        let gates = decode_gates(&mut dec, gates_addr)?;
        let permutation = decode_permutation(&mut dec, perm_addr)?;
        let lookups = decode_lookups(&mut dec, lookups_addr)?;
        let pcs = crate::pcs::decode(&mut dec, pcs_addr)?;

        Ok(Vka {
            num_words,
            vk_digest,
            num_instances,
            num_evals,
            num_user_challenges,
            k,
            n_inv,
            omega,
            omega_inv,
            omega_inv_to_l,
            num_neg_lagranges,
            g1,
            g2,
            neg_s_g2,
            phases,
            num_commitments,
            quotient_first,
            quotient_last,
            consts: dec.consts,
            vka_points: dec.points,
            gates,
            permutation,
            lookups,
            pcs,
        })
    }

    /// Parses ezkl's on-disk `vka.bin` (as written by `ezkl.create_evm_vka`): bincode's
    /// encoding of `Vec<[u8; 32]>`, i.e. a little-endian u64 word count followed by the
    /// words. The count must match the length exactly.
    pub fn from_ezkl_file(bytes: &[u8]) -> Result<Vka> {
        Vka::parse(ezkl_file_words(bytes)?)
    }

    /// Number of 32-byte words of the VKA.
    pub fn num_words(&self) -> usize {
        self.num_words
    }

    /// Number of public instances a proof must come with.
    pub fn num_instances(&self) -> usize {
        self.num_instances
    }

    /// Exact length in bytes of this circuit's proofs.
    pub fn proof_len(&self) -> usize {
        self.num_commitments * 64 + self.num_evals * 32 + 128
    }

    /// Number of G1 commitments at the start of a proof (before the evaluations; W and W'
    /// at the end are not counted).
    pub fn num_commitments(&self) -> usize {
        self.num_commitments
    }

    /// Number of 32-byte evaluations in a proof, after the commitments.
    pub fn num_evals(&self) -> usize {
        self.num_evals
    }

    /// log2 of the circuit's number of rows.
    pub fn k(&self) -> u32 {
        self.k
    }

    /// Number of user challenges (non-zero for multi-phase circuits, e.g. ezkl's
    /// Freivalds-checked matrix products).
    pub fn num_user_challenges(&self) -> usize {
        self.num_user_challenges
    }

    /// The halo2 verifying-key digest (VKA word 0) that seeds the transcript.
    pub fn vk_digest(&self) -> [u8; 32] {
        self.vk_digest
    }
}

/// The words of an ezkl `vka.bin` file (bincode `Vec<[u8; 32]>`), without the prefix.
pub fn ezkl_file_words(bytes: &[u8]) -> Result<&[u8]> {
    let (prefix, rest) = bytes.split_first_chunk::<8>().ok_or(VerifyError::VkaLength)?;
    let count = u64::from_le_bytes(*prefix);
    let expected = usize::try_from(count).ok().and_then(|c| c.checked_mul(32)).ok_or(VerifyError::VkaLength)?;
    if rest.len() != expected {
        return Err(VerifyError::VkaLength);
    }
    Ok(rest)
}

/// Checks the domain constants against each other: they come from the same halo2 domain
/// in every real VKA, and a VKA where they do not is refused early instead of failing (or
/// worse) later.
fn check_domain(k: u32, n_inv: Fr, omega: Fr, omega_inv: Fr, omega_inv_to_l: Fr, l: usize) -> Result<()> {
    let n = Fr::from(1u64 << k);
    let mut w = omega;
    for _ in 0..k - 1 {
        w.square_in_place();
    }
    // ω^(2^(k-1)) = -1 exactly when ω has order 2^k.
    let ok = n * n_inv == Fr::one()
        && omega * omega_inv == Fr::one()
        && w == -Fr::one()
        && omega_inv.pow([l as u64]) == omega_inv_to_l;
    if ok {
        Ok(())
    } else {
        Err(VerifyError::malformed(H_N_INV as u32, "inconsistent evaluation domain constants"))
    }
}

/// The commitment index of a quotient piece pointer (header word `i`).
fn quotient_ptr(mem: &Mem, i: usize) -> Result<u16> {
    let cptr = mem.word(i)?.small(0xFFFF).ok_or_else(|| mem.err("quotient pointer over 16 bits"))? as u16;
    match mem.proof_point(cptr, cptr.wrapping_add(32))? {
        PointRef::Proof(idx) if (idx as usize) < mem.num_commitments => Ok(idx),
        _ => Err(mem.err("quotient pointer is not a proof commitment")),
    }
}

/// The transcript schedule (header words 33..): a stream of 24-bit entries
/// `commitment bytes:16 | challenges:8`, word count in the low byte of the first word.
fn decode_phases(mem: &Mem, num_user_challenges: usize) -> Result<Vec<Phase>> {
    let mut w = mem.word(H_CHALLENGE_DATA)?;
    let num_words = w.u8() as usize;
    if num_words > MAX_CHALLENGE_WORDS {
        return Err(mem.err("challenge data over its word limit"));
    }
    w.consume(8);
    let mut phases = Vec::new();
    for i in 0..num_words {
        while !w.is_zero() {
            let bytes = w.u16() as usize;
            w.consume(16);
            let challenges = w.u8() as usize;
            w.consume(8);
            if !bytes.is_multiple_of(64) {
                return Err(mem.err("phase commitment bytes not a multiple of 64"));
            }
            // The Solidity squeezes once per phase even for 0 challenges; halo2 does not,
            // so such a schedule cannot describe a halo2 transcript.
            if challenges == 0 {
                return Err(mem.err("phase without challenges"));
            }
            if phases.len() == MAX_PHASES {
                return Err(mem.err("more phases than the limit"));
            }
            phases.push(Phase { commitments: bytes / 64, challenges });
        }
        if i + 1 < num_words {
            w = mem.word(H_CHALLENGE_DATA + i + 1)?;
        }
    }
    let total: usize = phases.iter().map(|p| p.challenges).sum();
    if total != num_user_challenges + BUILTIN_CHALLENGES {
        return Err(mem.err("challenge schedule disagrees with the challenges offset"));
    }
    Ok(phases)
}

/// The gate section: `32·G` then G packed expressions evaluated at `vka_end`.
fn decode_gates(dec: &mut Decoder, addr: usize) -> Result<Vec<Expr>> {
    let len = dec.mem.word_at(addr)?.small(u64::from(u32::MAX)).ok_or_else(|| dec.mem.err("gate count"))? as usize;
    if !len.is_multiple_of(32) || len / 32 > MAX_GATES {
        return Err(dec.mem.err("gate count not a word multiple or over the limit"));
    }
    let mut ptr = addr + 32;
    let mut gates = Vec::with_capacity(len / 32);
    for _ in 0..len / 32 {
        let w = dec.mem.word_at(ptr)?;
        let fsmp = dec.mem.vka_end;
        let (expr, next) = decode_expr(dec, ptr, w, fsmp, ExprMode::Gate)?;
        gates.push(expr);
        ptr = next;
    }
    Ok(gates)
}

/// The permutation section: a meta word and one record per grand-product chunk.
fn decode_permutation(dec: &mut Decoder, addr: usize) -> Result<Vec<PermChunk>> {
    let meta = dec.mem.word_at(addr)?;
    let last_idx = meta.u8() as usize;
    let nw = meta.u16_at(8) as usize;
    let nw_last = meta.u16_at(24) as usize;
    if !nw.is_multiple_of(32) || !nw_last.is_multiple_of(32) || (last_idx > 0 && nw == 0) {
        return Err(dec.mem.err("permutation record sizes"));
    }
    if last_idx + 1 > MAX_PERMUTATION_CHUNKS {
        return Err(dec.mem.err("more permutation chunks than the limit"));
    }
    let first = addr + 32;
    let mut chunks = Vec::with_capacity(last_idx + 1);
    for c in 0..=last_idx {
        let rec = first + c * nw;
        let words = if c == last_idx { nw_last } else { nw } / 32;
        let z = dec.mem.word_at(rec)?;
        let mem = &dec.mem;
        let z_last = if c < last_idx { Some(mem.eval(z.u16_at(32))?) } else { None };
        let mut chunk = PermChunk { z: mem.eval(z.u16())?, z_next: mem.eval(z.u16_at(16))?, z_last, columns: Vec::new() };
        let mut w = z.shr(48);
        for j in 0..words {
            while !w.is_zero() {
                let flag = w.u8();
                let eval = if flag == 0 { Some(dec.mem.eval(w.u16_at(8))?) } else { None };
                let sigma = dec.mem.eval(w.u16_at(24))?;
                chunk.columns.push(PermColumn { eval, sigma });
                dec.charge(1)?;
                w.consume(40);
            }
            if j + 1 < words {
                w = dec.mem.word_at(rec + 32 * (j + 1))?;
            }
        }
        chunks.push(chunk);
    }
    Ok(chunks)
}

/// The lookup section: a meta word (0, or end pointer and kind) and one record per lookup.
fn decode_lookups(dec: &mut Decoder, addr: usize) -> Result<Vec<Lookup>> {
    let meta = dec.mem.word_at(addr)?;
    if meta.is_zero() {
        return Ok(Vec::new());
    }
    let end = meta.u16() as usize;
    match meta.shr(16).u8() {
        0 => {}
        1 => return Err(VerifyError::Unsupported { feature: "classic (non log-derivative) lookups" }),
        _ => return Err(dec.mem.err("unknown lookup kind")),
    }
    let base = dec.mem.vka_end + 0xa0;
    let mut lookups = Vec::new();
    let mut ptr = addr + 32;
    while ptr < end {
        if lookups.len() == MAX_LOOKUPS {
            return Err(dec.mem.err("more lookups than the limit"));
        }
        let ev = dec.mem.word_at(ptr)?;
        let new_table = ev.u8() != 0;
        let ev = ev.shr(8);
        let mem = &dec.mem;
        let (phi, phi_next, m) = (mem.eval(ev.u16())?, mem.eval(ev.u16_at(16))?, mem.eval(ev.u16_at(32))?);
        ptr += 32;
        let mut w = dec.mem.word_at(ptr)?;
        let table = if new_table {
            let (t, next) = decode_expr(dec, ptr, w, base, ExprMode::Lookup)?;
            ptr = next;
            w = dec.mem.word_at(ptr)?;
            Some(t)
        } else {
            None
        };
        let inputs_len = w.u16() as usize;
        if !inputs_len.is_multiple_of(32) || inputs_len == 0 || inputs_len / 32 > MAX_LOOKUP_INPUTS {
            return Err(dec.mem.err("lookup input count"));
        }
        w.consume(16);
        let mut inputs = Vec::with_capacity(inputs_len / 32);
        for j in 0..inputs_len / 32 {
            if j > 0 {
                w = dec.mem.word_at(ptr)?;
            }
            let (input, next) = decode_expr(dec, ptr, w, base + 32 * j, ExprMode::Lookup)?;
            inputs.push(input);
            ptr = next;
        }
        lookups.push(Lookup { phi, phi_next, m, table, inputs });
    }
    Ok(lookups)
}
