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
/// A BN254 scalar field element, 32 bytes big-endian: a model commitment (the Poseidon hash
/// of the model's quantized parameters) or a public instance of a proof.
pub type FieldElement = [u8; 32];
/// Commitment to a model.
pub type Commitment = FieldElement;

/// Which public instance of a task's proofs means what.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct InstanceLayout {
	/// Number of public instances every proof carries.
	pub num_instances: u32,
	/// Index of the model commitment (Poseidon hash of the parameters).
	pub commitment_index: u32,
	/// Index of the score (samples of the test set classified correctly).
	pub score_index: u32,
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
	/// Poseidon commitment of the model's quantized parameters.
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
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct CommitRecord {
	/// blake2-256 of `(account, task, round, proof, instances)` in SCALE.
	pub digest: [u8; 32],
	/// Whether the worker has revealed (successfully or not).
	pub revealed: bool,
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

/// Why a proof failed verification (coarse classes of the verifier's errors).
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum VerificationFailure {
	/// The proof bytes are malformed (length, encoding, points off the curve).
	MalformedProof,
	/// A public instance is malformed (not a field element) or their number is wrong.
	MalformedInstances,
	/// The proof is well formed but the final check fails.
	Rejected,
	/// The circuit's VKA uses something the verifier does not support.
	Unsupported,
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
}
