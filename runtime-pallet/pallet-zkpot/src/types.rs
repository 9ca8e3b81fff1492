//! Types stored by the pallet and carried in its calls and events.

use crate::pallet::{BalanceOf, Config};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	pallet_prelude::*, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;

/// Identifier of a task.
pub type TaskId = u32;
/// Index of a round within its task; the first round is 1.
pub type RoundIndex = u32;
/// A BN254 scalar field element, 32 bytes big-endian: a public instance of a proof.
pub type FieldElement = [u8; 32];
/// Commitment to a model: the KZG commitment of ezkl's `polycommit` parameter column, a
/// BN254 G1 affine point x ‖ y, 32-byte big-endian each — exactly the proof bytes
/// `[commitment_offset, commitment_offset + 64)`. Affine in the parameters, so the chain
/// computes the commitment of an aggregate from its contributions' commitments.
pub type Commitment = [u8; 64];

/// Where a task's proofs carry the score and the model commitment.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct InstanceLayout {
	/// Number of public instances every proof carries.
	pub num_instances: u32,
	/// Index of the score (samples of the test set classified correctly).
	pub score_index: u32,
	/// Byte offset in the proof of the model commitment (the `polycommit` column's G1
	/// point; 0 for ezkl, which writes it first).
	pub commitment_offset: u32,
}

/// How the contributions of an aggregate are weighted.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum Weighting {
	/// Weight 1 each.
	Equal,
	/// Each by its proven score (a score of 0 weighs 1, so the total is never 0).
	Score,
}

/// Which contributions make a round's aggregate, and with what weights.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct AggregationRule {
	/// The best `top` ranked contributions are aggregated (all, if fewer).
	pub top: u32,
	/// Their weights.
	pub weighting: Weighting,
	/// The publisher may leave out aggregated contributions it could not obtain or check
	/// (withheld, or not matching their commitments), but must include at least this
	/// percentage of them (1 to 100).
	pub min_included_percent: u8,
}

/// Lengths of a round's windows, in blocks.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct RoundTiming {
	/// Blocks in which workers commit the digest of their proof.
	pub commit_blocks: u32,
	/// Blocks in which workers reveal proof and instances.
	pub reveal_blocks: u32,
	/// Blocks each aggregator in turn has to publish the new global model.
	pub aggregation_blocks: u32,
}

/// SHA-256 hashes of the task's off-chain artifacts, so anyone can audit the bundle.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct ArtifactHashes {
	/// The ONNX network (architecture and scoring head).
	pub onnx: [u8; 32],
	/// ezkl's circuit settings.
	pub settings: [u8; 32],
	/// The fixed test set.
	pub test_set: [u8; 32],
}

/// A model everyone can fetch: its commitment and where its weights are served.
#[derive(
	Encode, Decode, DecodeWithMemTracking, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxUri))]
pub struct ModelRef<MaxUri: Get<u32>> {
	/// KZG commitment of the model's quantized parameters.
	pub commitment: Commitment,
	/// URI of the weights (e.g. `http://host:port/model/...`).
	pub uri: BoundedVec<u8, MaxUri>,
}

/// Lifecycle of a task.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum TaskStatus {
	/// Rounds open on schedule.
	Active,
	/// No new round opens; the current one finishes.
	Paused,
	/// Ended for good; the current round finishes, then the task stops.
	Retired,
}

/// A registered task.
#[derive(
	Encode, Decode, DecodeWithMemTracking, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct TaskInfo<T: Config> {
	/// blake2-256 of the VKA (the VKA itself is in `TaskVkas`).
	pub vka_hash: [u8; 32],
	/// Hashes of the off-chain artifacts.
	pub artifacts: ArtifactHashes,
	/// Meaning of the public instances.
	pub layout: InstanceLayout,
	/// Minimum score of a contribution.
	pub min_score: u32,
	/// Round windows.
	pub timing: RoundTiming,
	/// Lifecycle status.
	pub status: TaskStatus,
	/// The global model the next round trains from.
	pub global_model: ModelRef<T::MaxUriLen>,
	/// Commitment of the all-zero model (`C₀`), the affine part of every commitment.
	pub zero_commitment: Commitment,
	/// Which contributions the aggregate of a round is made of.
	pub aggregation: AggregationRule,
	/// Reference time of verifying one proof of this task, from the VKA.
	pub verify_weight: Weight,
	/// Block of registration.
	pub registered_at: BlockNumberFor<T>,
}

/// Where a round is.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum RoundPhase<BlockNumber> {
	/// Commits accepted until `commit_end`.
	Commit,
	/// Reveals accepted until `reveal_end`.
	Reveal,
	/// Ranked contributor number `turn` (0 = the leader) may publish the new global model
	/// until `deadline`.
	Aggregation {
		/// Position in the ranking of whoever may publish now.
		turn: u32,
		/// Last block (exclusive) of that turn.
		deadline: BlockNumber,
	},
	/// Finished; the next round opens at `next_round_at` (if the task is active).
	Closed {
		/// Block at which the next round opens.
		next_round_at: BlockNumber,
	},
}

/// The current round of a task.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct RoundInfo<BlockNumber> {
	/// Round number (0 before the first round opens).
	pub index: RoundIndex,
	/// Block the round opened in.
	pub opened_at: BlockNumber,
	/// Commits are accepted in `[opened_at, commit_end)`.
	pub commit_end: BlockNumber,
	/// Reveals are accepted in `[commit_end, reveal_end)`.
	pub reveal_end: BlockNumber,
	/// Current phase.
	pub phase: RoundPhase<BlockNumber>,
	/// Commitment of the global model this round trains from.
	pub base_model: Commitment,
}

/// A worker's commit in a round.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct CommitRecord<AccountId> {
	/// blake2-256 of `(account, task, round, proof, instances)` in SCALE.
	pub digest: [u8; 32],
	/// Whether the worker has revealed (successfully or not).
	pub revealed: bool,
	/// The account the worker got the task's current global model from, having found it
	/// to match the on-chain commitment; settles the previous publication.
	pub ack: Option<AccountId>,
}

/// A valid proof with enough score: a contribution to its round.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct Contribution<AccountId, BlockNumber> {
	/// The worker.
	pub who: AccountId,
	/// Its model commitment.
	pub commitment: Commitment,
	/// Its proven score.
	pub score: u32,
	/// Block of the reveal.
	pub revealed_at: BlockNumber,
}

/// A registered worker.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct WorkerInfo<Balance> {
	/// Deposit still reserved.
	pub deposit: Balance,
	/// Rounds the worker committed in that have not closed yet.
	pub open_rounds: u32,
	/// Invalid proofs revealed so far.
	pub invalid_proofs: u32,
	/// Asked to leave: the deposit returns once `open_rounds` reaches 0.
	pub leaving: bool,
}

/// Why the author set was not changed by a round.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum KeptReason {
	/// No valid contribution was revealed.
	NoValidContribution,
	/// No contributor has session keys.
	NoEligibleAuthor,
}

/// What a round's election decided.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum ElectionOutcome {
	/// The round's authors become the block authors of the next session.
	AuthorsQueued,
	/// The author set stays as it is.
	AuthorSetKept(KeptReason),
}

/// The model published for a round.
#[derive(
	Encode, Decode, DecodeWithMemTracking, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct Publication<T: Config> {
	/// Who published it (the leader or the next in rank).
	pub by: T::AccountId,
	/// The new global model.
	pub model: ModelRef<T::MaxUriLen>,
	/// Block of publication.
	pub at: BlockNumberFor<T>,
}

/// The aggregate of a round's best contributions, computed by the chain at the election.
#[derive(
	Encode, Decode, DecodeWithMemTracking, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct AggregateRecord<T: Config> {
	/// `Σ wᵢ·Cᵢ − (W − 1)·C₀`: the commitment of the weighted sum of the included models.
	pub commitment: Commitment,
	/// The included contributors, by rank, with their weights.
	pub included: BoundedVec<(T::AccountId, u32), T::MaxContributors>,
	/// `W`, the sum of the weights.
	pub total_weight: u64,
}

/// How a publication was settled by the commits of the round after it.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct Settlement<AccountId> {
	/// Commits of included contributors whose `ack` names the publisher.
	pub acks: u32,
	/// Number of included contributors.
	pub of: u32,
	/// Who got the aggregator's reward: the publisher if confirmed, otherwise the account a
	/// strict majority of included contributors got the model from, if any.
	pub paid: Option<AccountId>,
}

/// A publication whose reward waits for the next round's commits to confirm that the
/// publisher served the model.
#[derive(
	Encode, Decode, DecodeWithMemTracking, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct PendingPublication<T: Config> {
	/// The round the model was published for.
	pub round: RoundIndex,
	/// The publisher.
	pub by: T::AccountId,
	/// The aggregator's reward, paid on settlement.
	pub reward: BalanceOf<T>,
	/// The contributors of that round's aggregate, whose acks count.
	pub included: BoundedVec<T::AccountId, T::MaxContributors>,
}

/// The record of a round's election, kept for `HistoryDepth` rounds.
#[derive(
	Encode, Decode, DecodeWithMemTracking, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct ElectionRecord<T: Config> {
	/// Block of the election.
	pub elected_at: BlockNumberFor<T>,
	/// Contributors by rank: score, then earlier reveal, then account.
	pub ranking: BoundedVec<(T::AccountId, u32), T::MaxContributors>,
	/// The round's block authors (ranked contributors with session keys, at most K).
	pub authors: BoundedVec<T::AccountId, T::MaxAuthors>,
	/// What happened to the author set.
	pub outcome: ElectionOutcome,
	/// Reward kept for whoever publishes the new global model.
	pub aggregator_reward: BalanceOf<T>,
	/// The published model, once there is one.
	pub published: Option<Publication<T>>,
	/// The aggregate the publisher must serve (`None` only if it could not be computed, and
	/// then nobody can publish).
	pub aggregate: Option<AggregateRecord<T>>,
	/// How the publication was settled, once the next round's commits are in.
	pub settlement: Option<Settlement<T::AccountId>>,
	/// Aggregated contributors the publisher left out of the published sum (`aggregate`
	/// is then recomputed over the rest).
	pub left_out: BoundedVec<T::AccountId, T::MaxContributors>,
}

/// Why a revealed proof did not become a contribution.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum RejectReason {
	/// The proof does not verify against the task's VKA.
	InvalidProof(VerificationFailure),
	/// The proof is valid but its score is below the task's minimum.
	BelowMinimum {
		/// Proven score.
		score: u32,
		/// Required score.
		min_score: u32,
	},
}

/// Why a proof failed verification: the verifier's own error kind, with the position it
/// names, so that a worker (or anyone reading events in polkadot.js) can tell a forged
/// proof (`PairingFailed`) from a damaged or mismatched one.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum VerificationFailure {
	/// The task's VKA cannot be used: a malformed word, a wrong length, or a feature the
	/// verifier does not support.
	Unsupported,
	/// The proof is larger than any proof the verifier accepts.
	ProofSize,
	/// The proof's length is not the one the VKA implies.
	ProofLength {
		/// Bytes the VKA implies.
		expected: u32,
		/// Bytes received.
		got: u32,
	},
	/// More public instances than any circuit has.
	TooManyInstances,
	/// Another number of public instances than the VKA's.
	InstanceCount {
		/// The VKA's number.
		expected: u32,
		/// The number received.
		got: u32,
	},
	/// A public instance is not a canonical field element.
	InstanceNotInField {
		/// Its index.
		index: u32,
	},
	/// A proof evaluation is not a canonical field element.
	EvaluationNotInField {
		/// Its byte offset in the proof.
		offset: u32,
	},
	/// A proof commitment is not a point of BN254 G1.
	NotOnCurve {
		/// Its byte offset in the proof.
		offset: u32,
	},
	/// A Fiat–Shamir challenge made a denominator zero (negligible for honest proofs).
	DegenerateChallenge,
	/// Every input is well formed but the final pairing equation does not hold: the proof is
	/// not valid for these instances and this VKA (a forged or altered proof, or a claim
	/// the proof does not support).
	PairingFailed,
}

/// Why a worker's deposit was slashed.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum SlashReason {
	/// Repeated invalid proofs.
	InvalidProofs,
	/// Its turn to publish the global model passed without a publication.
	MissedAggregation,
	/// It published, but most included contributors did not get the model from it.
	UnconfirmedAggregation,
}
