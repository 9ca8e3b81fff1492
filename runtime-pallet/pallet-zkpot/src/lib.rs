//! # ZKPoT pallet
//!
//! Zero-Knowledge Proof of Training consensus: block authors are chosen by proven, private
//! training performance instead of stake or hashing power. `docs/protocol.md` is the single
//! description of the protocol that this pallet and the off-chain workers follow.
//!
//! ## Overview
//!
//! - **Tasks.** A privileged origin registers a task: the verifying key artifact (VKA) of its
//!   circuit, which fixes the model architecture and the public test set; hashes of the
//!   off-chain artifacts; which public instance is the score and where in the proof the model
//!   commitment (a KZG commitment, a G1 point) is; the minimum score; the initial global
//!   model and the commitment of the all-zero model; how rounds aggregate; and the round
//!   windows. Tasks can be paused and retired.
//! - **Workers** register with a reserved deposit and may leave; the deposit returns once no
//!   round they committed in is open.
//! - **Rounds** open by themselves in `on_initialize`. In the commit window a worker submits
//!   `blake2_256(SCALE(account, task, round, proof, instances))`, and names the account it got
//!   the current global model from (its *ack*); in the reveal window it submits the proof and
//!   instances, which must match its own digest — nobody can copy a proof they first see in
//!   the reveal window. The proof is verified natively against the
//!   task's VKA. A valid proof with at least the minimum score becomes a contribution.
//! - **Election.** When the reveal window closes, contributions are ranked by score, then
//!   earlier reveal, then account. The first is the leader; the first `AuthorsPerRound`
//!   contributors with session keys become the block authors of the next session, through
//!   [`pallet_session::SessionManager`]. The author set is never empty: without a valid
//!   contribution or an eligible author it stays as it is.
//! - **Aggregation.** Model commitments are affine in the parameters, so the election itself
//!   computes the commitment of the aggregate of the best `top` contributions
//!   (`Σ wᵢ·Cᵢ − (W − 1)·C₀`). The leader publishes where that model is served (its URI)
//!   within the aggregation window; if it does not, it is penalised and the next in rank may.
//! - **Rewards.** Each elected round pays `RoundReward`: the rest after `LeaderShare` to the
//!   contributors in proportion to their scores at the election; `LeaderShare` to the
//!   publisher once most of the aggregate's contributors, committing in the next round, say
//!   they got the model from it. Otherwise the publisher is penalised, and the account a
//!   majority did get it from is paid instead.
//!
//! Every size an extrinsic carries is bounded, and oversized input is refused while decoding,
//! before any verification work. Nothing here panics: arithmetic is checked or saturating.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;
pub use types::*;
pub use verification::{NativeVerifier, ProofVerifier};
pub use weights::WeightInfo;

pub mod types;
pub mod verification;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

/// Log target of this pallet.
pub const LOG_TARGET: &str = "runtime::zkpot";

#[frame_support::pallet]
// For the `Call` enum the macro generates: `register_task` carries the whole task, two
// 64-byte commitments included.
#[allow(clippy::too_many_arguments, clippy::large_enum_variant)]
pub mod pallet {
	use super::*;
	use alloc::{
		collections::{BTreeMap, BTreeSet},
		vec::Vec,
	};
	use frame_support::{
		dispatch::{DispatchResultWithPostInfo, Pays, PostDispatchInfo},
		pallet_prelude::*,
		traits::{Currency, ReservableCurrency, ValidatorRegistration},
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::{
		traits::{One, Saturating, UniqueSaturatedInto, Zero},
		Perbill,
	};
	use zkpot_verifier::commitment;

	/// Bytes of a commitment in a proof.
	const COMMITMENT_LEN: u32 = zkpot_verifier::commitment::COMMITMENT_BYTES as u32;

	/// Balance of the currency that holds deposits and pays rewards.
	pub type BalanceOf<T> =
		<<T as Config>::Currency as Currency<<T as frame_system::Config>::AccountId>>::Balance;
	/// A model reference with this runtime's URI bound.
	pub type ModelRefOf<T> = ModelRef<<T as Config>::MaxUriLen>;
	/// A task with this runtime's types.
	pub type TaskInfoOf<T> = TaskInfo<T>;
	/// A round with this runtime's block number.
	pub type RoundInfoOf<T> = RoundInfo<BlockNumberFor<T>>;
	/// A contribution with this runtime's types.
	pub type ContributionOf<T> =
		Contribution<<T as frame_system::Config>::AccountId, BlockNumberFor<T>>;
	/// An election record with this runtime's types and bounds.
	pub type ElectionRecordOf<T> = ElectionRecord<T>;
	/// A commit with this runtime's account type.
	pub type CommitRecordOf<T> = CommitRecord<<T as frame_system::Config>::AccountId>;
	/// The VKA as stored and carried.
	pub type VkaOf<T> = BoundedVec<u8, <T as Config>::MaxVkaLen>;
	/// Proof bytes as carried.
	pub type ProofOf<T> = BoundedVec<u8, <T as Config>::MaxProofLen>;
	/// Public instances as carried.
	pub type InstancesOf<T> = BoundedVec<FieldElement, <T as Config>::MaxInstances>;

	/// The in-code storage version.
	/// 2: G1 model commitments, aggregates and settlements. No migration: the dev chain
	/// starts from genesis.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(2);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Configuration of the ZKPoT pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;
		/// Currency of deposits and rewards.
		type Currency: ReservableCurrency<Self::AccountId>;
		/// Origin that registers tasks and changes their status (root or governance).
		type TaskOrigin: EnsureOrigin<Self::RuntimeOrigin>;
		/// The proof verifier.
		type Verifier: ProofVerifier;
		/// Whether an account has session keys, i.e. can author blocks.
		type ValidatorRegistration: ValidatorRegistration<Self::AccountId>;
		/// Deposit reserved from an account while it is registered as a worker.
		#[pallet::constant]
		type WorkerDeposit: Get<BalanceOf<Self>>;
		/// Reward of one elected round, minted when paid.
		#[pallet::constant]
		type RoundReward: Get<BalanceOf<Self>>;
		/// Part of the round reward for whoever publishes the new global model.
		#[pallet::constant]
		type LeaderShare: Get<Perbill>;
		/// Invalid proofs a worker may reveal before each further one costs deposit.
		#[pallet::constant]
		type FreeInvalidProofs: Get<u32>;
		/// Part of the remaining deposit slashed for each invalid proof beyond the free ones.
		#[pallet::constant]
		type InvalidProofSlash: Get<Perbill>;
		/// Part of the remaining deposit slashed from an aggregator that misses its turn.
		#[pallet::constant]
		type AggregatorPenalty: Get<Perbill>;
		/// How many contributors become block authors (`K`).
		#[pallet::constant]
		type AuthorsPerRound: Get<u32>;
		/// Upper bound of `AuthorsPerRound`, for storage.
		#[pallet::constant]
		type MaxAuthors: Get<u32>;
		/// Most commits (and so contributions) in one round.
		#[pallet::constant]
		type MaxContributors: Get<u32>;
		/// Most tasks registered and not retired at once.
		#[pallet::constant]
		type MaxTasks: Get<u32>;
		/// Longest VKA in bytes.
		#[pallet::constant]
		type MaxVkaLen: Get<u32>;
		/// Longest proof in bytes.
		#[pallet::constant]
		type MaxProofLen: Get<u32>;
		/// Most public instances of a proof.
		#[pallet::constant]
		type MaxInstances: Get<u32>;
		/// Longest model URI in bytes.
		#[pallet::constant]
		type MaxUriLen: Get<u32>;
		/// Rounds of contributions and elections kept per task; older ones are pruned.
		#[pallet::constant]
		type HistoryDepth: Get<u32>;
		/// Shortest round window, in blocks.
		#[pallet::constant]
		type MinWindow: Get<u32>;
		/// Longest round window, in blocks.
		#[pallet::constant]
		type MaxWindow: Get<u32>;
		/// Most weight `on_initialize` spends moving rounds on in one block. A task whose due
		/// step (an election, a settlement, a missed aggregation, a new round) would go over
		/// it waits for the next block, where the tasks left waiting go first. At least the
		/// worst single step (`integrity_test` checks it), so that every block makes progress.
		#[pallet::constant]
		type MaxHookWeight: Get<Weight>;
		/// Weights of this pallet's calls and hooks.
		type WeightInfo: WeightInfo;
	}

	/// Registered tasks.
	#[pallet::storage]
	pub type Tasks<T: Config> = StorageMap<_, Twox64Concat, TaskId, TaskInfoOf<T>, OptionQuery>;

	/// The verifying key artifact of each task (32-byte big-endian words).
	#[pallet::storage]
	pub type TaskVkas<T: Config> = StorageMap<_, Twox64Concat, TaskId, VkaOf<T>, OptionQuery>;

	/// Identifier the next registered task gets.
	#[pallet::storage]
	pub type NextTaskId<T: Config> = StorageValue<_, TaskId, ValueQuery>;

	/// Tasks whose rounds `on_initialize` drives (active, paused, or retired with a round
	/// still open).
	#[pallet::storage]
	pub type LiveTasks<T: Config> = StorageValue<_, BoundedVec<TaskId, T::MaxTasks>, ValueQuery>;

	/// The current round of each task.
	#[pallet::storage]
	pub type Rounds<T: Config> = StorageMap<_, Twox64Concat, TaskId, RoundInfoOf<T>, OptionQuery>;

	/// Commits of the open round of a task, by worker. Cleared when the round closes.
	#[pallet::storage]
	pub type Commits<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		(TaskId, RoundIndex),
		Blake2_128Concat,
		T::AccountId,
		CommitRecordOf<T>,
		OptionQuery,
	>;

	/// Number of commits of a round.
	#[pallet::storage]
	pub type CommitCount<T: Config> =
		StorageMap<_, Twox64Concat, (TaskId, RoundIndex), u32, ValueQuery>;

	/// Contributions (valid proofs with enough score) of a round, by worker: at most one
	/// per commit, so at most `MaxContributors` a round. One entry each, so that a reveal
	/// reads and writes its own contribution only, whatever the size of the round. Kept for
	/// `HistoryDepth` rounds.
	#[pallet::storage]
	pub type Contributions<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		(TaskId, RoundIndex),
		Blake2_128Concat,
		T::AccountId,
		ContributionOf<T>,
		OptionQuery,
	>;

	/// The live task whose round `on_initialize` looks at first: one that had to wait for
	/// lack of weight in the last block goes first in the next.
	#[pallet::storage]
	pub type HookCursor<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// The election record of each round, kept for `HistoryDepth` rounds.
	#[pallet::storage]
	pub type Elections<T: Config> =
		StorageMap<_, Twox64Concat, (TaskId, RoundIndex), ElectionRecordOf<T>, OptionQuery>;

	/// Model commitments already accepted in a task, with the round and the worker, so that
	/// no proof can be accepted twice (in the same round or replayed in a later one).
	/// Hashed: a prover can grind models for commitments with a common prefix.
	#[pallet::storage]
	pub type AcceptedCommitments<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		TaskId,
		Blake2_128Concat,
		Commitment,
		(RoundIndex, T::AccountId),
		OptionQuery,
	>;

	/// Registered workers.
	#[pallet::storage]
	pub type Workers<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, WorkerInfo<BalanceOf<T>>, OptionQuery>;

	/// Where each worker serves its models (its HTTP base URL), for the round's aggregator.
	#[pallet::storage]
	pub type WorkerEndpoints<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		BoundedVec<u8, T::MaxUriLen>,
		OptionQuery,
	>;

	/// Each task's last publication, until the next round's commits settle it.
	#[pallet::storage]
	pub type PendingPublications<T: Config> =
		StorageMap<_, Twox64Concat, TaskId, PendingPublication<T>, OptionQuery>;

	/// Authors elected for the next session, taken by the session manager.
	#[pallet::storage]
	pub type QueuedAuthors<T: Config> =
		StorageValue<_, BoundedVec<T::AccountId, T::MaxAuthors>, OptionQuery>;

	/// Events of the ZKPoT pallet.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A task was registered; its first round opens in the next block.
		TaskRegistered {
			/// The new task.
			task: TaskId,
			/// blake2-256 of its VKA.
			vka_hash: [u8; 32],
			/// Minimum score of a contribution.
			min_score: u32,
		},
		/// A task's status changed.
		TaskStatusChanged {
			/// The task.
			task: TaskId,
			/// Its new status.
			status: TaskStatus,
		},
		/// An account registered as a worker and reserved its deposit.
		WorkerRegistered {
			/// The new worker.
			who: T::AccountId,
			/// The deposit reserved from it.
			deposit: BalanceOf<T>,
		},
		/// A worker announced where it serves its models.
		EndpointSet {
			/// The worker.
			who: T::AccountId,
			/// Its HTTP base URL.
			endpoint: Vec<u8>,
		},
		/// A worker asked to leave; its deposit returns when its open rounds close.
		WorkerLeaving {
			/// The worker.
			who: T::AccountId,
		},
		/// A worker left and got its remaining deposit back.
		WorkerLeft {
			/// The former worker.
			who: T::AccountId,
			/// Deposit returned.
			deposit: BalanceOf<T>,
		},
		/// A round opened: commits are accepted until `commit_end`, reveals until `reveal_end`.
		RoundOpened {
			/// The task.
			task: TaskId,
			/// The new round.
			round: RoundIndex,
			/// First block in which commits are refused and reveals accepted.
			commit_end: BlockNumberFor<T>,
			/// First block in which reveals are refused.
			reveal_end: BlockNumberFor<T>,
			/// Commitment of the global model to train from.
			base_model: Commitment,
		},
		/// A worker's commit was accepted.
		CommitAccepted {
			/// The task.
			task: TaskId,
			/// The round.
			round: RoundIndex,
			/// The worker.
			who: T::AccountId,
		},
		/// A revealed proof verified and became a contribution.
		ProofAccepted {
			/// The task.
			task: TaskId,
			/// The round.
			round: RoundIndex,
			/// The worker.
			who: T::AccountId,
			/// Its model commitment.
			commitment: Commitment,
			/// Its proven score.
			score: u32,
		},
		/// A revealed proof was rejected; the reveal is used up.
		ProofRejected {
			/// The task.
			task: TaskId,
			/// The round.
			round: RoundIndex,
			/// The worker.
			who: T::AccountId,
			/// Why.
			reason: RejectReason,
		},
		/// Part of a worker's deposit was slashed.
		WorkerSlashed {
			/// The worker.
			who: T::AccountId,
			/// Amount slashed.
			amount: BalanceOf<T>,
			/// Why.
			reason: SlashReason,
		},
		/// A round's election chose its leader and the block authors of the next session.
		LeaderElected {
			/// The task.
			task: TaskId,
			/// The round.
			round: RoundIndex,
			/// The best contributor, who aggregates the new global model.
			leader: T::AccountId,
			/// The leader's score.
			score: u32,
			/// The next session's block authors.
			authors: Vec<T::AccountId>,
		},
		/// A round left the block authors as they were.
		AuthorSetKept {
			/// The task.
			task: TaskId,
			/// The round.
			round: RoundIndex,
			/// Why.
			reason: KeptReason,
		},
		/// An aggregator's turn passed without a publication; the next in rank may publish.
		AggregatorMissed {
			/// The task.
			task: TaskId,
			/// The round.
			round: RoundIndex,
			/// Who missed its turn.
			who: T::AccountId,
			/// Who may publish now, if anyone.
			next: Option<T::AccountId>,
		},
		/// The election computed the commitment of the round's aggregate, which the
		/// aggregator must serve.
		AggregateComputed {
			/// The task.
			task: TaskId,
			/// The round.
			round: RoundIndex,
			/// `Σ wᵢ·Cᵢ − (W − 1)·C₀`.
			commitment: Commitment,
			/// The included contributors, by rank, with their weights.
			included: Vec<(T::AccountId, u32)>,
			/// `W`, the sum of the weights.
			total_weight: u64,
		},
		/// The new global model of a round was published: the round's aggregate, served at
		/// `uri`. Its reward waits for the next round's commits.
		GlobalModelPublished {
			/// The task.
			task: TaskId,
			/// The round.
			round: RoundIndex,
			/// The publisher.
			by: T::AccountId,
			/// Commitment of the new global model (the round's aggregate over the published
			/// set).
			commitment: Commitment,
			/// Where its weights are served.
			uri: Vec<u8>,
			/// Aggregated contributors the publisher left out.
			left_out: Vec<T::AccountId>,
		},
		/// A strict majority of the aggregate's contributors got the published model from
		/// its publisher, which is paid the aggregator's reward.
		AggregationConfirmed {
			/// The task.
			task: TaskId,
			/// The round of the publication.
			round: RoundIndex,
			/// The publisher.
			by: T::AccountId,
			/// Included contributors that named the publisher.
			acks: u32,
			/// Included contributors.
			of: u32,
		},
		/// Most of the aggregate's contributors did not name the publisher: it is penalised;
		/// the reward goes to `served_by` if a strict majority named that account instead.
		AggregationUnconfirmed {
			/// The task.
			task: TaskId,
			/// The round of the publication.
			round: RoundIndex,
			/// The publisher.
			by: T::AccountId,
			/// Included contributors that named the publisher.
			acks: u32,
			/// Included contributors.
			of: u32,
			/// The account a strict majority named, paid the reward.
			served_by: Option<T::AccountId>,
		},
		/// A publication was never settled (its task retired, or a newer publication
		/// replaced it): nobody is paid or penalised for it.
		PendingPublicationDropped {
			/// The task.
			task: TaskId,
			/// The round of the publication.
			round: RoundIndex,
			/// The publisher.
			by: T::AccountId,
		},
		/// A round closed.
		RoundClosed {
			/// The task.
			task: TaskId,
			/// The round.
			round: RoundIndex,
			/// Whether a new global model was published.
			published: bool,
		},
		/// A reward was paid.
		RewardPaid {
			/// The task.
			task: TaskId,
			/// The round.
			round: RoundIndex,
			/// The receiver.
			who: T::AccountId,
			/// Amount minted to it.
			amount: BalanceOf<T>,
		},
		/// The session manager handed a new author set to pallet-session.
		AuthorsApplied {
			/// The session the authors are for.
			session: u32,
			/// The authors.
			authors: Vec<T::AccountId>,
		},
	}

	/// Errors of the ZKPoT pallet.
	#[pallet::error]
	pub enum Error<T> {
		/// No task with this identifier.
		TaskNotFound,
		/// The task does not accept work now (paused or retired).
		TaskNotActive,
		/// The task is retired; its status cannot change any more.
		TaskRetired,
		/// The maximum number of live tasks is reached.
		TooManyTasks,
		/// The VKA is malformed, unsupported, or does not match the instance layout.
		InvalidVka,
		/// Verifying proofs of this VKA would cost more than any reveal is charged.
		VkaTooExpensive,
		/// The instance layout is inconsistent (no instances, more than `MaxInstances`, score
		/// index out of range, or a commitment beyond `MaxProofLen`).
		InvalidLayout,
		/// A commitment is not a valid G1 point (too short, coordinates not canonical, off
		/// the curve, or the identity).
		InvalidCommitment,
		/// The aggregation rule takes no contributions or more than `MaxContributors`.
		InvalidAggregation,
		/// The published set names an account that is not among the round's aggregated
		/// contributors, or names one twice.
		NotAggregated,
		/// The published set leaves out more aggregated contributions than the task allows.
		TooFewIncluded,
		/// A round window is outside the allowed bounds.
		InvalidTiming,
		/// The account is already a registered worker.
		AlreadyRegistered,
		/// The account cannot reserve the worker deposit.
		InsufficientDeposit,
		/// The account is not a registered worker.
		NotWorker,
		/// The worker is leaving and takes part in no new round.
		WorkerLeaving,
		/// The given round is not the task's current round.
		WrongRound,
		/// The round does not accept commits now.
		NotCommitPhase,
		/// The round does not accept reveals now.
		NotRevealPhase,
		/// The worker already committed in this round.
		AlreadyCommitted,
		/// The round has the maximum number of commits.
		RoundFull,
		/// The worker did not commit in this round.
		NotCommitted,
		/// The worker already revealed in this round.
		AlreadyRevealed,
		/// Proof and instances do not match the worker's commit.
		DigestMismatch,
		/// The number of public instances differs from the task's layout.
		WrongInstanceCount,
		/// The score instance is not a number of samples.
		ScoreOutOfRange,
		/// This model commitment was already accepted in this task.
		DuplicateModel,
		/// The round is not waiting for a new global model, or has no aggregate to publish.
		NotAggregationPhase,
		/// It is not this account's turn to publish the global model.
		NotAggregator,
		/// The worker still has open rounds or is already leaving.
		CannotLeaveYet,
		/// The reveal's verification weight bound is below its task's verification weight.
		VerifyWeightBoundTooLow,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		/// Drives every live task's round through its phases, within `MaxHookWeight`: a
		/// task whose due step does not fit what is left waits for the next block, where it
		/// goes first.
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			let db = T::DbWeight::get();
			let tasks = LiveTasks::<T>::get();
			let mut weight = db.reads(2);
			if tasks.is_empty() {
				return weight;
			}
			let limit = T::MaxHookWeight::get();
			let start = HookCursor::<T>::get() as usize % tasks.len();
			let mut retired = Vec::new();
			let mut deferred = None;
			for i in 0..tasks.len() {
				let at = (start + i) % tasks.len();
				let task = tasks[at];
				match Self::advance(task, now, limit.saturating_sub(weight), i == 0) {
					Advance::Done(w, finished) => {
						weight.saturating_accrue(w);
						if finished {
							retired.push(task);
						}
					},
					Advance::Deferred(w) => {
						weight.saturating_accrue(w);
						deferred = Some(at as u32);
						break;
					},
				}
			}
			let cursor = deferred.unwrap_or(start as u32);
			if cursor != start as u32 {
				HookCursor::<T>::put(cursor);
				weight.saturating_accrue(db.writes(1));
			}
			if !retired.is_empty() {
				LiveTasks::<T>::mutate(|live| live.retain(|t| !retired.contains(t)));
				weight.saturating_accrue(db.writes(1));
				// No round will settle their last publication.
				for task in retired {
					if let Some(pending) = PendingPublications::<T>::take(task) {
						Self::deposit_event(Event::PendingPublicationDropped {
							task,
							round: pending.round,
							by: pending.by,
						});
					}
					weight.saturating_accrue(db.reads_writes(1, 1));
				}
			}
			weight
		}

		fn integrity_test() {
			assert!(T::AuthorsPerRound::get() >= 1, "AuthorsPerRound must be at least 1");
			assert!(T::AuthorsPerRound::get() <= T::MaxAuthors::get());
			assert!(T::MinWindow::get() >= 1 && T::MinWindow::get() <= T::MaxWindow::get());
			assert!(T::HistoryDepth::get() >= 1);
			assert!(
				Pallet::<T>::worst_step_weight().all_lte(T::MaxHookWeight::get()),
				"MaxHookWeight must hold the worst single round step"
			);
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Register a task. Its first round opens in the next block.
		///
		/// `vka` is the circuit's verifying key artifact (ezkl `create_evm_vka`, as 32-byte
		/// words); it is checked here and its verification cost recorded. `initial_model` is
		/// the global model the first round trains from; `zero_commitment` the commitment of
		/// the all-zero model (`C₀`) under the same circuit; both must be G1 points.
		/// `aggregation` says which contributions each round's aggregate is made of.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_task(vka.len() as u32))]
		pub fn register_task(
			origin: OriginFor<T>,
			vka: VkaOf<T>,
			artifacts: ArtifactHashes,
			layout: InstanceLayout,
			min_score: u32,
			initial_model: ModelRefOf<T>,
			zero_commitment: Commitment,
			aggregation: AggregationRule,
			timing: RoundTiming,
		) -> DispatchResult {
			T::TaskOrigin::ensure_origin(origin)?;
			let commitment_end = layout.commitment_offset.checked_add(COMMITMENT_LEN);
			ensure!(
				layout.num_instances >= 1 &&
					layout.num_instances <= T::MaxInstances::get() &&
					layout.score_index < layout.num_instances &&
					commitment_end.is_some_and(|end| end <= T::MaxProofLen::get()),
				Error::<T>::InvalidLayout
			);
			ensure!(
				aggregation.top >= 1 &&
					aggregation.top <= T::MaxContributors::get() &&
					(1..=100).contains(&aggregation.min_included_percent),
				Error::<T>::InvalidAggregation
			);
			ensure!(
				commitment::parse(&initial_model.commitment).is_ok() &&
					commitment::parse(&zero_commitment).is_ok(),
				Error::<T>::InvalidCommitment
			);
			let window_ok = |w: u32| w >= T::MinWindow::get() && w <= T::MaxWindow::get();
			ensure!(
				window_ok(timing.commit_blocks) &&
					window_ok(timing.reveal_blocks) &&
					window_ok(timing.aggregation_blocks),
				Error::<T>::InvalidTiming
			);
			let verify_weight = T::Verifier::check_vka(&vka, layout.num_instances)
				.map_err(|_| Error::<T>::InvalidVka)?;
			// The reveal is charged the bound up front: no task may cost more.
			ensure!(verify_weight.all_lte(Self::max_verify_weight()), Error::<T>::VkaTooExpensive);

			let task = NextTaskId::<T>::get();
			let next = task.checked_add(1).ok_or(Error::<T>::TooManyTasks)?;
			LiveTasks::<T>::try_mutate(|live| live.try_push(task))
				.map_err(|_| Error::<T>::TooManyTasks)?;
			let now = frame_system::Pallet::<T>::block_number();
			let vka_hash = sp_io::hashing::blake2_256(&vka);
			let base_model = initial_model.commitment;
			Tasks::<T>::insert(
				task,
				TaskInfo {
					vka_hash,
					artifacts,
					layout,
					min_score,
					timing,
					status: TaskStatus::Active,
					global_model: initial_model,
					zero_commitment,
					aggregation,
					verify_weight,
					registered_at: now,
				},
			);
			TaskVkas::<T>::insert(task, vka);
			Rounds::<T>::insert(
				task,
				RoundInfo {
					index: 0,
					opened_at: now,
					commit_end: now,
					reveal_end: now,
					phase: RoundPhase::Closed { next_round_at: now.saturating_add(One::one()) },
					base_model,
				},
			);
			NextTaskId::<T>::put(next);
			Self::deposit_event(Event::TaskRegistered { task, vka_hash, min_score });
			Ok(())
		}

		/// Pause, resume or retire a task. Pausing and retiring let the current round
		/// finish; a retired task never resumes.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::set_task_status())]
		pub fn set_task_status(origin: OriginFor<T>, task: TaskId, status: TaskStatus) -> DispatchResult {
			T::TaskOrigin::ensure_origin(origin)?;
			Tasks::<T>::try_mutate(task, |info| -> DispatchResult {
				let info = info.as_mut().ok_or(Error::<T>::TaskNotFound)?;
				ensure!(info.status != TaskStatus::Retired, Error::<T>::TaskRetired);
				info.status = status;
				Ok(())
			})?;
			Self::deposit_event(Event::TaskStatusChanged { task, status });
			Ok(())
		}

		/// Register the signer as a worker, reserving `WorkerDeposit`.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::register_worker())]
		pub fn register_worker(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(!Workers::<T>::contains_key(&who), Error::<T>::AlreadyRegistered);
			let deposit = T::WorkerDeposit::get();
			T::Currency::reserve(&who, deposit).map_err(|_| Error::<T>::InsufficientDeposit)?;
			Workers::<T>::insert(
				&who,
				WorkerInfo { deposit, open_rounds: 0, invalid_proofs: 0, leaving: false },
			);
			Self::deposit_event(Event::WorkerRegistered { who, deposit });
			Ok(())
		}

		/// Stop being a worker. The deposit returns now if no round the worker committed
		/// in is open, otherwise when the last of them closes.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::leave())]
		pub fn leave(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let info = Workers::<T>::get(&who).ok_or(Error::<T>::NotWorker)?;
			ensure!(!info.leaving, Error::<T>::CannotLeaveYet);
			if info.open_rounds == 0 {
				Self::release_worker(&who, info.deposit);
			} else {
				Workers::<T>::insert(&who, WorkerInfo { leaving: true, ..info });
				Self::deposit_event(Event::WorkerLeaving { who });
			}
			Ok(())
		}

		/// Announce the HTTP base URL where the signer, a worker, serves its models to the
		/// round's aggregator.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::set_endpoint())]
		pub fn set_endpoint(origin: OriginFor<T>, endpoint: BoundedVec<u8, T::MaxUriLen>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(Workers::<T>::contains_key(&who), Error::<T>::NotWorker);
			WorkerEndpoints::<T>::insert(&who, &endpoint);
			Self::deposit_event(Event::EndpointSet { who, endpoint: endpoint.into_inner() });
			Ok(())
		}

		/// Commit to a proof in the commit window: `digest` is
		/// `blake2_256(SCALE((account, task, round, proof, instances)))`. `ack` is the account
		/// the worker got the task's current global model from, having checked it against its
		/// on-chain commitment (`None` if it did not); the acks of the aggregate's
		/// contributors settle the previous round's publication.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::commit())]
		pub fn commit(
			origin: OriginFor<T>,
			task: TaskId,
			round: RoundIndex,
			digest: [u8; 32],
			ack: Option<T::AccountId>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let worker = Workers::<T>::get(&who).ok_or(Error::<T>::NotWorker)?;
			ensure!(!worker.leaving, Error::<T>::WorkerLeaving);
			let info = Tasks::<T>::get(task).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(info.status == TaskStatus::Active, Error::<T>::TaskNotActive);
			let current = Rounds::<T>::get(task).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(current.index == round && round > 0, Error::<T>::WrongRound);
			ensure!(current.phase == RoundPhase::Commit, Error::<T>::NotCommitPhase);
			let key = (task, round);
			ensure!(!Commits::<T>::contains_key(key, &who), Error::<T>::AlreadyCommitted);
			let count = CommitCount::<T>::get(key);
			ensure!(count < T::MaxContributors::get(), Error::<T>::RoundFull);

			Commits::<T>::insert(key, &who, CommitRecord { digest, revealed: false, ack });
			CommitCount::<T>::insert(key, count.saturating_add(1));
			Workers::<T>::insert(
				&who,
				WorkerInfo { open_rounds: worker.open_rounds.saturating_add(1), ..worker },
			);
			Self::deposit_event(Event::CommitAccepted { task, round, who });
			Ok(())
		}

		/// Reveal the committed proof and its public instances in the reveal window. The
		/// model commitment is read from the proof at the layout's offset; one that is not a
		/// G1 point is refused (`InvalidCommitment`) before the reveal is used up. The proof
		/// is verified against the task's VKA. A valid proof with at least the minimum score
		/// becomes a contribution; otherwise `ProofRejected` says why, the reveal is used up,
		/// the full weight is paid, and repeated invalid proofs cost deposit.
		///
		/// `verify_weight_bound` is what the caller lets the verification cost: at least the
		/// task's `verify_weight` (read it from `Tasks`), and the reveal is charged up front
		/// for that bound (at most the cost of the costliest task), not for the costliest
		/// task, so a block holds as many reveals as their tasks' real costs allow.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::reveal_accepted(T::MaxVkaLen::get())
			.saturating_add(Pallet::<T>::bounded_verify_weight(*verify_weight_bound)))]
		pub fn reveal(
			origin: OriginFor<T>,
			task: TaskId,
			round: RoundIndex,
			proof: ProofOf<T>,
			instances: InstancesOf<T>,
			verify_weight_bound: Weight,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			ensure!(Workers::<T>::contains_key(&who), Error::<T>::NotWorker);
			let info = Tasks::<T>::get(task).ok_or(Error::<T>::TaskNotFound)?;
			// Before any costly work: the charge must cover this task's verification.
			ensure!(
				info.verify_weight.all_lte(Self::bounded_verify_weight(verify_weight_bound)),
				Error::<T>::VerifyWeightBoundTooLow
			);
			let current = Rounds::<T>::get(task).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(current.index == round && round > 0, Error::<T>::WrongRound);
			ensure!(current.phase == RoundPhase::Reveal, Error::<T>::NotRevealPhase);
			let key = (task, round);
			let mut record = Commits::<T>::get(key, &who).ok_or(Error::<T>::NotCommitted)?;
			ensure!(!record.revealed, Error::<T>::AlreadyRevealed);
			ensure!(
				instances.len() as u32 == info.layout.num_instances,
				Error::<T>::WrongInstanceCount
			);
			ensure!(
				Self::digest(&who, task, round, &proof, &instances) == record.digest,
				Error::<T>::DigestMismatch
			);
			let commitment =
				commitment::from_proof(&proof, info.layout.commitment_offset as usize)
					.map_err(|_| Error::<T>::InvalidCommitment)?;
			let score = Self::score_of(
				instances.get(info.layout.score_index as usize).ok_or(Error::<T>::WrongInstanceCount)?,
			)
			.ok_or(Error::<T>::ScoreOutOfRange)?;
			ensure!(
				!AcceptedCommitments::<T>::contains_key(task, commitment),
				Error::<T>::DuplicateModel
			);

			// From here on the reveal is used up, whatever the outcome.
			record.revealed = true;
			Commits::<T>::insert(key, &who, record);
			let vka = TaskVkas::<T>::get(task).ok_or(Error::<T>::TaskNotFound)?;
			let used = T::WeightInfo::reveal_accepted(vka.len() as u32)
				.saturating_add(info.verify_weight);

			if let Err(failure) = T::Verifier::verify(&vka, &proof, &instances) {
				Self::reject(task, round, &who, RejectReason::InvalidProof(failure));
				Self::punish_invalid_proof(&who);
				// The caller pays for all the work it made the chain do, and more.
				return Ok(PostDispatchInfo { actual_weight: None, pays_fee: Pays::Yes });
			}
			if score < info.min_score {
				Self::reject(
					task,
					round,
					&who,
					RejectReason::BelowMinimum { score, min_score: info.min_score },
				);
				return Ok(PostDispatchInfo { actual_weight: Some(used), pays_fee: Pays::Yes });
			}

			let now = frame_system::Pallet::<T>::block_number();
			// At most one per commit, so the round's bound holds.
			Contributions::<T>::insert(
				key,
				&who,
				Contribution { who: who.clone(), commitment, score, revealed_at: now },
			);
			AcceptedCommitments::<T>::insert(task, commitment, (round, who.clone()));
			Self::deposit_event(Event::ProofAccepted { task, round, who, commitment, score });
			Ok(PostDispatchInfo { actual_weight: Some(used), pays_fee: Pays::Yes })
		}

		/// Publish where the round's global model is served: allowed to the ranked
		/// contributor whose turn it is (the leader first), once the election has computed
		/// the aggregate. `included` is the set of aggregated contributors whose models the
		/// publisher summed: it may leave out some it could not obtain or check, down to the
		/// task's `min_included_percent`, and the chain then recomputes the aggregate over
		/// exactly that set. The aggregate, with this URI, becomes the task's global model
		/// and the round closes. The aggregator's reward waits in `PendingPublications`
		/// until the next round's commits settle it.
		#[pallet::call_index(6)]
		#[pallet::weight(
			T::WeightInfo::publish_model(T::MaxContributors::get())
				.saturating_add(T::WeightInfo::aggregate(T::MaxContributors::get()))
				.saturating_add(T::DbWeight::get().reads(T::MaxContributors::get().into()))
		)]
		pub fn publish_model(
			origin: OriginFor<T>,
			task: TaskId,
			round: RoundIndex,
			uri: BoundedVec<u8, T::MaxUriLen>,
			included: BoundedVec<T::AccountId, T::MaxContributors>,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let mut current = Rounds::<T>::get(task).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(current.index == round && round > 0, Error::<T>::WrongRound);
			let RoundPhase::Aggregation { turn, .. } = current.phase else {
				return Err(Error::<T>::NotAggregationPhase.into());
			};
			let key = (task, round);
			let mut record = Elections::<T>::get(key).ok_or(Error::<T>::NotAggregationPhase)?;
			let aggregator = record.ranking.get(turn as usize).map(|(a, _)| a.clone());
			ensure!(aggregator.as_ref() == Some(&who), Error::<T>::NotAggregator);
			let elected = record.aggregate.clone().ok_or(Error::<T>::NotAggregationPhase)?;
			let info = Tasks::<T>::get(task).ok_or(Error::<T>::TaskNotFound)?;

			// The published set: aggregated accounts, each once (sets keep this linear in
			// the round's size).
			let wanted: BTreeSet<&T::AccountId> = included.iter().collect();
			ensure!(wanted.len() == included.len(), Error::<T>::NotAggregated);
			let kept = included.len() as u64;
			let all = elected.included.len() as u64;
			ensure!(
				kept >= 1 &&
					kept.saturating_mul(100) >=
						u64::from(info.aggregation.min_included_percent).saturating_mul(all),
				Error::<T>::TooFewIncluded
			);
			let mut chosen = Vec::new();
			let mut dropped = Vec::new();
			for (a, w) in elected.included.iter() {
				if wanted.contains(a) {
					chosen.push((a.clone(), *w));
				} else {
					dropped.push(a.clone());
				}
			}
			ensure!(chosen.len() == included.len(), Error::<T>::NotAggregated);
			let mut recomputed = 0u32;
			let (aggregate, left_out) = if dropped.is_empty() {
				(elected.clone(), BoundedVec::new())
			} else {
				let mut terms = Vec::with_capacity(chosen.len());
				for (a, w) in chosen.iter() {
					let c = Contributions::<T>::get(key, a).ok_or(Error::<T>::NotAggregated)?;
					terms.push((c.commitment, u64::from(*w)));
				}
				recomputed = terms.len() as u32;
				// Only an aggregate at infinity can fail here; then nothing can be served.
				let commitment = commitment::aggregate(&terms, &info.zero_commitment)
					.map_err(|_| Error::<T>::InvalidCommitment)?;
				let total_weight = terms.iter().map(|(_, w)| *w).fold(0u64, u64::saturating_add);
				(
					AggregateRecord {
						commitment,
						included: BoundedVec::truncate_from(chosen),
						total_weight,
					},
					BoundedVec::truncate_from(dropped),
				)
			};

			let now = frame_system::Pallet::<T>::block_number();
			let model = ModelRef { commitment: aggregate.commitment, uri };
			// Every aggregated contributor, left out or not, needs the model and so may
			// acknowledge it.
			let electorate: BoundedVec<T::AccountId, T::MaxContributors> = BoundedVec::truncate_from(
				elected.included.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>(),
			);
			// Unreachable in order (the next round's commit phase settles a publication
			// before that round can publish), kept safe anyway: the older one is dropped.
			if let Some(old) = PendingPublications::<T>::get(task) {
				Self::deposit_event(Event::PendingPublicationDropped {
					task,
					round: old.round,
					by: old.by,
				});
			}
			PendingPublications::<T>::insert(
				task,
				PendingPublication {
					round,
					by: who.clone(),
					reward: record.aggregator_reward,
					included: electorate,
				},
			);
			record.published = Some(Publication { by: who.clone(), model: model.clone(), at: now });
			record.aggregate = Some(aggregate);
			record.left_out = left_out.clone();
			Elections::<T>::insert(key, record);
			Tasks::<T>::mutate(task, |info| {
				if let Some(info) = info {
					info.global_model = model.clone();
				}
			});
			Self::deposit_event(Event::GlobalModelPublished {
				task,
				round,
				by: who,
				commitment: model.commitment,
				uri: model.uri.into_inner(),
				left_out: left_out.into_inner(),
			});
			Self::close_round(task, &mut current, now, true);
			Rounds::<T>::insert(task, current);
			let used = T::WeightInfo::publish_model(T::MaxContributors::get()).saturating_add(
				if recomputed > 0 {
					T::WeightInfo::aggregate(recomputed)
						.saturating_add(T::DbWeight::get().reads(recomputed.into()))
				} else {
					Weight::zero()
				},
			);
			Ok(PostDispatchInfo { actual_weight: Some(used), pays_fee: Pays::Yes })
		}
	}

	impl<T: Config> Pallet<T> {
		/// The digest a worker commits: `blake2_256` of the SCALE encoding of
		/// `(account, task, round, proof, instances)`.
		pub fn digest(
			who: &T::AccountId,
			task: TaskId,
			round: RoundIndex,
			proof: &[u8],
			instances: &[FieldElement],
		) -> [u8; 32] {
			(who, task, round, proof, instances).using_encoded(sp_io::hashing::blake2_256)
		}

		/// The score in a public instance (32 bytes big-endian), if it fits a `u32`.
		fn score_of(instance: &FieldElement) -> Option<u32> {
			let (high, low) = instance.split_at(28);
			if high.iter().any(|b| *b != 0) {
				return None;
			}
			let mut bytes = [0u8; 4];
			bytes.copy_from_slice(low);
			Some(u32::from_be_bytes(bytes))
		}

		/// Upper bound of one verification: the most a task may cost (`register_task`
		/// refuses a costlier VKA).
		pub fn max_verify_weight() -> Weight {
			weights::max_verification_weight(T::MaxVkaLen::get())
		}

		/// A reveal's verification weight bound, capped at the costliest task's.
		pub fn bounded_verify_weight(bound: Weight) -> Weight {
			bound.min(Self::max_verify_weight())
		}

		/// The costliest single step `on_initialize` may take for one task, at the bounds.
		pub fn worst_step_weight() -> Weight {
			let c = T::MaxContributors::get();
			Self::step_weight(Step::Elect, c)
				.max(Self::step_weight(Step::Settle, c))
				.max(Self::step_weight(Step::Missed, c))
				.max(Self::step_weight(Step::Open, c))
		}

		/// Upper bound of a due step of a round with `commits` commits (contributions are
		/// at most as many; a new round prunes at most `MaxContributors` old ones).
		fn step_weight(step: Step, commits: u32) -> Weight {
			let db = T::DbWeight::get();
			match step {
				Step::Settle => T::WeightInfo::settle(commits),
				// An election without contributions closes the round instead, charged as
				// a missed aggregation of its commits.
				Step::Elect => T::WeightInfo::elect(commits)
					.saturating_add(T::WeightInfo::aggregate(commits))
					.max(T::WeightInfo::elect(0).saturating_add(T::WeightInfo::aggregator_missed(commits))),
				Step::Missed => T::WeightInfo::aggregator_missed(commits),
				Step::Open =>
					T::WeightInfo::open_round().saturating_add(db.writes(T::MaxContributors::get().into())),
			}
			.saturating_add(db.reads(1))
		}

		fn reject(task: TaskId, round: RoundIndex, who: &T::AccountId, reason: RejectReason) {
			log::debug!(target: LOG_TARGET, "task {task} round {round}: proof rejected: {reason:?}");
			Self::deposit_event(Event::ProofRejected { task, round, who: who.clone(), reason });
		}

		fn punish_invalid_proof(who: &T::AccountId) {
			let Some(mut info) = Workers::<T>::get(who) else { return };
			info.invalid_proofs = info.invalid_proofs.saturating_add(1);
			if info.invalid_proofs > T::FreeInvalidProofs::get() {
				let amount = Self::slash(who, T::InvalidProofSlash::get() * info.deposit);
				info.deposit = info.deposit.saturating_sub(amount);
				Self::deposit_event(Event::WorkerSlashed {
					who: who.clone(),
					amount,
					reason: SlashReason::InvalidProofs,
				});
			}
			Workers::<T>::insert(who, info);
		}

		/// Slashes up to `amount` of `who`'s reserved deposit (burnt); returns what was taken.
		fn slash(who: &T::AccountId, amount: BalanceOf<T>) -> BalanceOf<T> {
			let (_burnt, missing) = T::Currency::slash_reserved(who, amount);
			amount.saturating_sub(missing)
		}

		fn release_worker(who: &T::AccountId, deposit: BalanceOf<T>) {
			let missing = T::Currency::unreserve(who, deposit);
			Workers::<T>::remove(who);
			WorkerEndpoints::<T>::remove(who);
			Self::deposit_event(Event::WorkerLeft {
				who: who.clone(),
				deposit: deposit.saturating_sub(missing),
			});
		}

		fn pay(task: TaskId, round: RoundIndex, who: &T::AccountId, amount: BalanceOf<T>) {
			if amount.is_zero() {
				return;
			}
			drop(T::Currency::deposit_creating(who, amount));
			Self::deposit_event(Event::RewardPaid { task, round, who: who.clone(), amount });
		}

		/// Moves a task's round on by what block `now` requires, if its due step fits in
		/// `budget` (or `first`: the first task looked at in a block always moves, so that a
		/// step larger than the budget cannot stall a task).
		fn advance(task: TaskId, now: BlockNumberFor<T>, budget: Weight, first: bool) -> Advance {
			let db = T::DbWeight::get();
			let mut weight = db.reads(2);
			let (Some(info), Some(mut round)) = (Tasks::<T>::get(task), Rounds::<T>::get(task))
			else {
				return Advance::Done(weight, true);
			};
			let step = match round.phase {
				RoundPhase::Commit if now >= round.commit_end => Some(Step::Settle),
				RoundPhase::Reveal if now >= round.reveal_end => Some(Step::Elect),
				RoundPhase::Aggregation { deadline, .. } if now >= deadline => Some(Step::Missed),
				RoundPhase::Closed { next_round_at } => match info.status {
					TaskStatus::Active if now >= next_round_at => Some(Step::Open),
					TaskStatus::Retired => return Advance::Done(weight, true),
					_ => None,
				},
				_ => None,
			};
			let Some(step) = step else { return Advance::Done(weight, false) };
			let bound = Self::step_weight(step, CommitCount::<T>::get((task, round.index)));
			weight.saturating_accrue(db.reads(1));
			if !first && !bound.all_lte(budget.saturating_sub(weight)) {
				return Advance::Deferred(weight);
			}
			let before = round;
			match (step, round.phase) {
				(Step::Settle, _) => {
					round.phase = RoundPhase::Reveal;
					weight.saturating_accrue(Self::settle(task, round.index));
				},
				(Step::Elect, _) => {
					weight.saturating_accrue(Self::elect(task, &info, &mut round, now));
				},
				(Step::Missed, RoundPhase::Aggregation { turn, .. }) => {
					weight.saturating_accrue(Self::aggregator_missed(task, &info, &mut round, turn, now));
				},
				(Step::Open, _) => {
					weight.saturating_accrue(Self::open_round(task, &info, &mut round, now));
				},
				_ => {},
			}
			if round != before {
				Rounds::<T>::insert(task, round);
				weight.saturating_accrue(db.writes(1));
			}
			Advance::Done(weight, false)
		}

		pub(crate) fn open_round(
			task: TaskId,
			info: &TaskInfoOf<T>,
			round: &mut RoundInfoOf<T>,
			now: BlockNumberFor<T>,
		) -> Weight {
			let index = round.index.saturating_add(1);
			let commit_end = now.saturating_add(info.timing.commit_blocks.into());
			let reveal_end = commit_end.saturating_add(info.timing.reveal_blocks.into());
			*round = RoundInfo {
				index,
				opened_at: now,
				commit_end,
				reveal_end,
				phase: RoundPhase::Commit,
				base_model: info.global_model.commitment,
			};
			// Bounded history: the round `HistoryDepth` back leaves storage (at most
			// `MaxContributors` contributions: one per commit).
			let mut pruned = 0u32;
			if let Some(old) = index.checked_sub(T::HistoryDepth::get()).filter(|r| *r > 0) {
				Elections::<T>::remove((task, old));
				pruned = Contributions::<T>::clear_prefix((task, old), T::MaxContributors::get(), None)
					.unique;
			}
			Self::deposit_event(Event::RoundOpened {
				task,
				round: index,
				commit_end,
				reveal_end,
				base_model: round.base_model,
			});
			T::WeightInfo::open_round().saturating_add(T::DbWeight::get().writes(pruned.into()))
		}

		/// Ranks a round's contributions, queues its authors, pays the contributors and
		/// computes the commitment of the aggregate the aggregator must serve.
		pub(crate) fn elect(
			task: TaskId,
			info: &TaskInfoOf<T>,
			round: &mut RoundInfoOf<T>,
			now: BlockNumberFor<T>,
		) -> Weight {
			let key = (task, round.index);
			// At most `MaxContributors`: one contribution per commit.
			let mut ranked: Vec<ContributionOf<T>> = Contributions::<T>::iter_prefix_values(key).collect();
			let contributors = ranked.len() as u32;
			ranked.sort_by(|a, b| {
				b.score
					.cmp(&a.score)
					.then(a.revealed_at.cmp(&b.revealed_at))
					.then(a.who.cmp(&b.who))
			});
			let Some(leader) = ranked.first().cloned() else {
				Self::deposit_event(Event::AuthorSetKept {
					task,
					round: round.index,
					reason: KeptReason::NoValidContribution,
				});
				// Closing releases every commit of the round: charged like the close that
				// follows a missed aggregation, which is the same work and more.
				let commits = CommitCount::<T>::get(key);
				Self::close_round(task, round, now, false);
				return T::WeightInfo::elect(0)
					.saturating_add(T::WeightInfo::aggregator_missed(commits));
			};

			let mut authors: BoundedVec<T::AccountId, T::MaxAuthors> = BoundedVec::new();
			for c in ranked.iter() {
				if authors.len() as u32 >= T::AuthorsPerRound::get() {
					break;
				}
				if T::ValidatorRegistration::is_registered(&c.who) && !authors.contains(&c.who) {
					// Cannot fail: the length is checked against AuthorsPerRound <= MaxAuthors.
					let _ = authors.try_push(c.who.clone());
				}
			}
			let outcome = if authors.is_empty() {
				Self::deposit_event(Event::AuthorSetKept {
					task,
					round: round.index,
					reason: KeptReason::NoEligibleAuthor,
				});
				ElectionOutcome::AuthorSetKept(KeptReason::NoEligibleAuthor)
			} else {
				QueuedAuthors::<T>::put(authors.clone());
				ElectionOutcome::AuthorsQueued
			};
			Self::deposit_event(Event::LeaderElected {
				task,
				round: round.index,
				leader: leader.who.clone(),
				score: leader.score,
				authors: authors.to_vec(),
			});

			let aggregator_reward = Self::pay_contributors(task, round.index, &ranked);
			let (aggregate, terms) = Self::aggregate(task, round.index, info, &ranked);
			let ranking: BoundedVec<_, T::MaxContributors> = BoundedVec::truncate_from(
				ranked.iter().map(|c| (c.who.clone(), c.score)).collect::<Vec<_>>(),
			);
			Elections::<T>::insert(
				key,
				ElectionRecord {
					elected_at: now,
					ranking,
					authors,
					outcome,
					aggregator_reward,
					published: None,
					aggregate,
					settlement: None,
					left_out: BoundedVec::new(),
				},
			);
			round.phase = RoundPhase::Aggregation {
				turn: 0,
				deadline: now.saturating_add(info.timing.aggregation_blocks.into()),
			};
			T::WeightInfo::elect(contributors).saturating_add(T::WeightInfo::aggregate(terms))
		}

		/// The aggregate of the first `top` ranked contributions with the task's weighting,
		/// and its number of terms. `None` (logged) if it cannot be computed, which with
		/// commitments checked at reveal means only an aggregate at infinity.
		pub(crate) fn aggregate(
			task: TaskId,
			round: RoundIndex,
			info: &TaskInfoOf<T>,
			ranked: &[ContributionOf<T>],
		) -> (Option<AggregateRecord<T>>, u32) {
			let weighted: Vec<(&ContributionOf<T>, u32)> = ranked
				.iter()
				.take(info.aggregation.top as usize)
				.map(|c| {
					let weight = match info.aggregation.weighting {
						Weighting::Equal => 1,
						Weighting::Score => c.score.max(1),
					};
					(c, weight)
				})
				.collect();
			let terms: Vec<(Commitment, u64)> =
				weighted.iter().map(|(c, w)| (c.commitment, u64::from(*w))).collect();
			let count = terms.len() as u32;
			let commitment = match commitment::aggregate(&terms, &info.zero_commitment) {
				Ok(c) => c,
				Err(e) => {
					log::warn!(
						target: LOG_TARGET,
						"task {task} round {round}: no aggregate ({}); nobody can publish",
						e.as_str()
					);
					return (None, count);
				},
			};
			let total_weight = terms.iter().map(|(_, w)| *w).fold(0u64, u64::saturating_add);
			let included: BoundedVec<(T::AccountId, u32), T::MaxContributors> = BoundedVec::truncate_from(
				weighted.iter().map(|(c, w)| (c.who.clone(), *w)).collect::<Vec<_>>(),
			);
			Self::deposit_event(Event::AggregateComputed {
				task,
				round,
				commitment,
				included: included.to_vec(),
				total_weight,
			});
			(Some(AggregateRecord { commitment, included, total_weight }), count)
		}

		/// Settles the task's pending publication, if it is of a round before `round`, with
		/// the commits of `round` (whose commit window just closed): counts the acks of the
		/// aggregate's contributors. A strict majority naming the publisher pays it the
		/// aggregator's reward; otherwise it is penalised, and an account a strict majority
		/// named instead (which did serve the model) is paid.
		pub(crate) fn settle(task: TaskId, round: RoundIndex) -> Weight {
			let db = T::DbWeight::get();
			let Some(pending) = PendingPublications::<T>::get(task).filter(|p| p.round < round) else {
				return db.reads(1);
			};
			PendingPublications::<T>::remove(task);
			// Acks per named account, of included contributors only (sets and maps keep this
			// linear in the round's size, up to a logarithm).
			let included: BTreeSet<&T::AccountId> = pending.included.iter().collect();
			let mut named: BTreeMap<T::AccountId, u32> = BTreeMap::new();
			let mut commits: u32 = 0;
			for (who, record) in Commits::<T>::iter_prefix((task, round)) {
				commits = commits.saturating_add(1);
				let Some(ack) = record.ack else { continue };
				if !included.contains(&who) {
					continue;
				}
				let n = named.entry(ack).or_insert(0);
				*n = n.saturating_add(1);
			}
			let of = pending.included.len() as u32;
			let majority = |n: u32| n.saturating_mul(2) > of;
			let acks = named.get(&pending.by).copied().unwrap_or(0);
			let paid = if majority(acks) {
				Self::pay(task, pending.round, &pending.by, pending.reward);
				Self::deposit_event(Event::AggregationConfirmed {
					task,
					round: pending.round,
					by: pending.by.clone(),
					acks,
					of,
				});
				Some(pending.by.clone())
			} else {
				if let Some(mut worker) = Workers::<T>::get(&pending.by) {
					let amount = Self::slash(&pending.by, T::AggregatorPenalty::get() * worker.deposit);
					worker.deposit = worker.deposit.saturating_sub(amount);
					Workers::<T>::insert(&pending.by, worker);
					Self::deposit_event(Event::WorkerSlashed {
						who: pending.by.clone(),
						amount,
						reason: SlashReason::UnconfirmedAggregation,
					});
				}
				// At most one account has a strict majority; never the publisher here.
				let served_by = named.into_iter().find(|(_, n)| majority(*n)).map(|(a, _)| a);
				if let Some(server) = &served_by {
					Self::pay(task, pending.round, server, pending.reward);
				}
				Self::deposit_event(Event::AggregationUnconfirmed {
					task,
					round: pending.round,
					by: pending.by.clone(),
					acks,
					of,
					served_by: served_by.clone(),
				});
				served_by
			};
			Elections::<T>::mutate((task, pending.round), |record| {
				if let Some(record) = record {
					record.settlement = Some(Settlement { acks, of, paid });
				}
			});
			T::WeightInfo::settle(commits)
		}

		/// Pays each contributor its share of the round reward (the part left after the
		/// aggregator's share) in proportion to its score, rounding down. Returns the
		/// aggregator's reward: its share plus what rounding left over.
		fn pay_contributors(
			task: TaskId,
			round: RoundIndex,
			ranked: &[ContributionOf<T>],
		) -> BalanceOf<T> {
			let reward: u128 = T::RoundReward::get().unique_saturated_into();
			let aggregator_share: u128 =
				(T::LeaderShare::get() * T::RoundReward::get()).unique_saturated_into();
			let pool = reward.saturating_sub(aggregator_share);
			let total: u128 = ranked.iter().map(|c| c.score as u128).sum();
			let mut paid: u128 = 0;
			if total > 0 {
				for c in ranked {
					let share = sp_runtime::helpers_128bit::multiply_by_rational_with_rounding(
						pool,
						c.score as u128,
						total,
						sp_runtime::Rounding::Down,
					)
					.unwrap_or(0);
					paid = paid.saturating_add(share);
					Self::pay(task, round, &c.who, share.unique_saturated_into());
				}
			}
			reward.saturating_sub(paid).unique_saturated_into()
		}

		/// The aggregator whose turn it was did not publish: penalise it and pass the turn
		/// to the next in rank, or close the round without a new model.
		pub(crate) fn aggregator_missed(
			task: TaskId,
			info: &TaskInfoOf<T>,
			round: &mut RoundInfoOf<T>,
			turn: u32,
			now: BlockNumberFor<T>,
		) -> Weight {
			let key = (task, round.index);
			let (ranking, publishable) = Elections::<T>::get(key)
				.map(|r| (r.ranking, r.aggregate.is_some()))
				.unwrap_or_default();
			let next_turn = turn.saturating_add(1);
			let next = ranking.get(next_turn as usize).map(|(a, _)| a.clone());
			if let Some((missed, _)) = ranking.get(turn as usize) {
				// Without an aggregate nobody could publish: the turn passes unpunished.
				let penalised = if publishable { Workers::<T>::get(missed) } else { None };
				if let Some(mut worker) = penalised {
					let amount = Self::slash(missed, T::AggregatorPenalty::get() * worker.deposit);
					worker.deposit = worker.deposit.saturating_sub(amount);
					Workers::<T>::insert(missed, worker);
					Self::deposit_event(Event::WorkerSlashed {
						who: missed.clone(),
						amount,
						reason: SlashReason::MissedAggregation,
					});
				}
				Self::deposit_event(Event::AggregatorMissed {
					task,
					round: round.index,
					who: missed.clone(),
					next: next.clone(),
				});
			}
			if next.is_some() {
				round.phase = RoundPhase::Aggregation {
					turn: next_turn,
					deadline: now.saturating_add(info.timing.aggregation_blocks.into()),
				};
			} else {
				Self::close_round(task, round, now, false);
			}
			T::WeightInfo::aggregator_missed(T::MaxContributors::get())
		}

		/// Closes a round: clears its commits, releases workers that were waiting to leave,
		/// and schedules the next round for the next block.
		fn close_round(task: TaskId, round: &mut RoundInfoOf<T>, now: BlockNumberFor<T>, published: bool) {
			let key = (task, round.index);
			for (who, _) in Commits::<T>::drain_prefix(key) {
				let Some(mut worker) = Workers::<T>::get(&who) else { continue };
				worker.open_rounds = worker.open_rounds.saturating_sub(1);
				if worker.leaving && worker.open_rounds == 0 {
					Self::release_worker(&who, worker.deposit);
				} else {
					Workers::<T>::insert(&who, worker);
				}
			}
			CommitCount::<T>::remove(key);
			round.phase = RoundPhase::Closed { next_round_at: now.saturating_add(One::one()) };
			Self::deposit_event(Event::RoundClosed { task, round: round.index, published });
		}
	}

	/// A step of a round that `on_initialize` takes when it is due.
	#[derive(Clone, Copy, PartialEq, Eq, Debug)]
	pub(crate) enum Step {
		/// Commit window over: settle the last publication, open the reveals.
		Settle,
		/// Reveal window over: the election and the aggregate.
		Elect,
		/// An aggregator missed its turn.
		Missed,
		/// A new round opens (and an old one is pruned).
		Open,
	}

	/// What `advance` did with a task in a block.
	pub(crate) enum Advance {
		/// Its due step (if any) was taken: weight used, and whether the task is finished.
		Done(Weight, bool),
		/// Its due step did not fit the block's hook budget: weight used to find out.
		Deferred(Weight),
	}

	/// The elected authors become the validators (Aura authorities) of the next session;
	/// without a new election the set stays as it is.
	impl<T: Config> pallet_session::SessionManager<T::AccountId> for Pallet<T> {
		fn new_session(new_index: u32) -> Option<Vec<T::AccountId>> {
			let authors = QueuedAuthors::<T>::take()?.into_inner();
			// Defensive: an empty set would stop block production.
			if authors.is_empty() {
				return None;
			}
			Self::deposit_event(Event::AuthorsApplied { session: new_index, authors: authors.clone() });
			Some(authors)
		}

		fn end_session(_: u32) {}

		fn start_session(_: u32) {}
	}
}
