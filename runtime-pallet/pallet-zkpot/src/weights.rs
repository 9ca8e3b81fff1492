//! Weights of pallet-zkpot.
//!
//! The numbers come from the benchmarks in `benchmarking.rs` (frame-benchmarking v2); see
//! `docs/weights.md` for how they were measured, on which machine, and how to measure
//! again. Verification is weighed separately from the rest of a reveal, from the VKA
//! actually used: the reveal is charged the worst case of the largest allowed VKA up front
//! and refunded down to its task's cost.

#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use core::marker::PhantomData;
use frame_support::{
	traits::Get,
	weights::{constants::RocksDbWeight, RuntimeDbWeight, Weight},
};

/// Weight functions needed for pallet-zkpot.
pub trait WeightInfo {
	fn register_task(v: u32) -> Weight;
	fn set_task_status() -> Weight;
	fn register_worker() -> Weight;
	fn leave() -> Weight;
	fn set_endpoint() -> Weight;
	fn commit() -> Weight;
	/// A reveal without the proof verification itself; `v` is the VKA length in bytes.
	fn reveal_accepted(v: u32) -> Weight;
	fn publish_model(c: u32) -> Weight;
	fn open_round() -> Weight;
	/// The election of a round with `c` contributions (without its aggregate).
	fn elect(c: u32) -> Weight;
	/// The aggregate commitment of `c` contributions, charged by the election on top of
	/// `elect`.
	fn aggregate(c: u32) -> Weight;
	/// Settling a publication with the `c` commits of the round after it.
	fn settle(c: u32) -> Weight;
	fn aggregator_missed(c: u32) -> Weight;
}

/// Weights measured for the zkpot runtime, with the runtime's database weights.
pub type SubstrateWeight<T> = DbWeighted<<T as frame_system::Config>::DbWeight>;

/// Proof size of one storage read of a small value (a map entry and its trie nodes).
const READ_PROOF: u64 = 3_600;
/// Encoded size of a full election record of the runtime, rounded up: ranking and
/// aggregate of `MaxContributors` = 1024 entries of 36 bytes each (73,728), 16 authors
/// (512), a publication (account, commitment, 256-byte URI: 360) and the rest (under 200).
const FULL_ELECTION_PROOF: u64 = 75_000;
/// Encoded size of a full pending publication: 1024 included accounts and the rest.
const FULL_PENDING_PROOF: u64 = 1024 * 32 + 64;

/// The measured weights with the database weights `D`.
pub struct DbWeighted<D>(PhantomData<D>);
impl<D: Get<RuntimeDbWeight>> WeightInfo for DbWeighted<D> {
	/// Reads `LiveTasks`, `NextTaskId`; writes `LiveTasks`, `Tasks`, `TaskVkas`, `Rounds`,
	/// `NextTaskId`. Checking, costing and hashing the VKA grow with its length `v`.
	fn register_task(v: u32) -> Weight {
		Weight::from_parts(REGISTER_TASK_BASE, 2 * READ_PROOF)
			.saturating_add(Weight::from_parts(REGISTER_TASK_PER_BYTE, 1).saturating_mul(v.into()))
			.saturating_add(D::get().reads_writes(2, 5))
	}
	/// Reads and writes `Tasks`.
	fn set_task_status() -> Weight {
		Weight::from_parts(SET_TASK_STATUS, READ_PROOF).saturating_add(D::get().reads_writes(1, 1))
	}
	/// Reads `Workers`, `System::Account`; writes both.
	fn register_worker() -> Weight {
		Weight::from_parts(REGISTER_WORKER, 2 * READ_PROOF).saturating_add(D::get().reads_writes(2, 2))
	}
	/// Reads `Workers`, `System::Account`; writes `System::Account` and removes `Workers`
	/// and `WorkerEndpoints` (the release, the costlier branch).
	fn leave() -> Weight {
		Weight::from_parts(LEAVE, 2 * READ_PROOF).saturating_add(D::get().reads_writes(2, 3))
	}
	/// Reads `Workers`; writes `WorkerEndpoints`.
	fn set_endpoint() -> Weight {
		Weight::from_parts(SET_ENDPOINT, READ_PROOF).saturating_add(D::get().reads_writes(1, 1))
	}
	/// Reads `Workers`, `Tasks`, `Rounds`, `Commits`, `CommitCount`; writes `Commits` (with
	/// the ack), `CommitCount`, `Workers`.
	fn commit() -> Weight {
		Weight::from_parts(COMMIT, 5 * READ_PROOF).saturating_add(D::get().reads_writes(6, 3))
	}
	/// Reads `Workers`, `Tasks`, `Rounds`, `Commits`, `AcceptedCommitments` and the task's
	/// VKA (`v` bytes); writes `Commits`, its own `Contributions` entry (one entry, however
	/// many the round has), `AcceptedCommitments`. Two reads and a write more are charged for the rejection
	/// branch (`Workers`, `System::Account` and total issuance of a slash), so that the
	/// up-front charge covers a rejected reveal too. The commit digest is charged for a
	/// proof of 32 KiB, the runtime's `MaxProofLen`.
	fn reveal_accepted(v: u32) -> Weight {
		Weight::from_parts(REVEAL_BASE, 9 * READ_PROOF)
			.saturating_add(Weight::from_parts(REVEAL_PER_VKA_BYTE, 1).saturating_mul(v.into()))
			.saturating_add(D::get().reads_writes(9, 4))
	}
	/// Reads `Rounds`, `Elections`, `PendingPublications`, `Tasks`; writes them and
	/// removes `CommitCount` (no reward is paid here). Closing the round reads each of the
	/// `c` commits, its worker and (releasing a leaving worker) its account, and writes or
	/// removes four entries.
	fn publish_model(c: u32) -> Weight {
		Weight::from_parts(PUBLISH_BASE, 4 * READ_PROOF + FULL_ELECTION_PROOF + FULL_PENDING_PROOF)
			.saturating_add(Weight::from_parts(CLOSE_PER_COMMIT, 3 * READ_PROOF).saturating_mul(c.into()))
			.saturating_add(D::get().reads_writes(4, 5))
			.saturating_add(D::get().reads_writes(3, 4).saturating_mul(c.into()))
	}
	/// Removes the `Elections` of the round `HistoryDepth` back (the hook's own read and
	/// write of `Rounds` included); the hook adds a write per pruned contribution.
	fn open_round() -> Weight {
		Weight::from_parts(OPEN_ROUND, READ_PROOF).saturating_add(D::get().reads_writes(1, 3))
	}
	/// Writes `QueuedAuthors` and `Elections`. For each of the `c` contributions: its
	/// `Contributions` entry, its session keys, and the reward paid to its account (account
	/// and total issuance read and written).
	fn elect(c: u32) -> Weight {
		Weight::from_parts(ELECT_BASE, READ_PROOF)
			.saturating_add(Weight::from_parts(ELECT_PER_CONTRIBUTION, 4 * READ_PROOF).saturating_mul(c.into()))
			.saturating_add(D::get().reads_writes(2, 3))
			.saturating_add(D::get().reads_writes(4, 2).saturating_mul(c.into()))
	}
	/// Curve arithmetic only, no storage: `c` point checks and double-and-adds with 32-bit
	/// weights, one more for `C₀`, one inversion.
	fn aggregate(c: u32) -> Weight {
		Weight::from_parts(AGGREGATE_BASE, 0)
			.saturating_add(Weight::from_parts(AGGREGATE_PER_TERM, 0).saturating_mul(c.into()))
	}
	/// Reads and removes `PendingPublications`; reads each of the `c` commits of the round;
	/// the costliest outcome: the publisher's worker record, account and total issuance
	/// read and written (slash), the paid account read and written, and the election
	/// record read and written.
	fn settle(c: u32) -> Weight {
		Weight::from_parts(SETTLE_BASE, 4 * READ_PROOF + FULL_ELECTION_PROOF + FULL_PENDING_PROOF)
			.saturating_add(Weight::from_parts(SETTLE_PER_COMMIT, READ_PROOF).saturating_mul(c.into()))
			.saturating_add(D::get().reads_writes(6, 6))
			.saturating_add(D::get().reads(1).saturating_mul(c.into()))
	}
	/// Reads `Elections`, the missed aggregator's worker record, account and total
	/// issuance; writes the last three and removes `CommitCount`. Closing the round costs
	/// as in `publish_model`.
	fn aggregator_missed(c: u32) -> Weight {
		Weight::from_parts(MISSED_BASE, 4 * READ_PROOF)
			.saturating_add(Weight::from_parts(MISSED_PER_COMMIT, 3 * READ_PROOF).saturating_mul(c.into()))
			.saturating_add(D::get().reads_writes(4, 4))
			.saturating_add(D::get().reads_writes(3, 4).saturating_mul(c.into()))
	}
}

/// For tests and mocks: the measured weights with RocksDB's database weights.
impl WeightInfo for () {
	fn register_task(v: u32) -> Weight {
		DbWeighted::<RocksDbWeight>::register_task(v)
	}
	fn set_task_status() -> Weight {
		DbWeighted::<RocksDbWeight>::set_task_status()
	}
	fn register_worker() -> Weight {
		DbWeighted::<RocksDbWeight>::register_worker()
	}
	fn leave() -> Weight {
		DbWeighted::<RocksDbWeight>::leave()
	}
	fn set_endpoint() -> Weight {
		DbWeighted::<RocksDbWeight>::set_endpoint()
	}
	fn commit() -> Weight {
		DbWeighted::<RocksDbWeight>::commit()
	}
	fn reveal_accepted(v: u32) -> Weight {
		DbWeighted::<RocksDbWeight>::reveal_accepted(v)
	}
	fn publish_model(c: u32) -> Weight {
		DbWeighted::<RocksDbWeight>::publish_model(c)
	}
	fn open_round() -> Weight {
		DbWeighted::<RocksDbWeight>::open_round()
	}
	fn elect(c: u32) -> Weight {
		DbWeighted::<RocksDbWeight>::elect(c)
	}
	fn aggregate(c: u32) -> Weight {
		DbWeighted::<RocksDbWeight>::aggregate(c)
	}
	fn settle(c: u32) -> Weight {
		DbWeighted::<RocksDbWeight>::settle(c)
	}
	fn aggregator_missed(c: u32) -> Weight {
		DbWeighted::<RocksDbWeight>::aggregator_missed(c)
	}
}

// Reference times in picoseconds (ref_time). How each is derived, and the measurements,
// are in docs/weights.md; in short:
// - calls and hooks: the median of the benchmarks run natively in an unoptimised build
//   (`measure_weights` in benchmarking.rs), times 2 (never below an earlier measurement
//   of the same code); hashing at the host's optimised speed;
// - the aggregate commitment: its MSM measured in wasm (wasmtime), times 1.5;
// - verification: unit costs of the verifier's operations measured in wasm (wasmtime),
//   times 1.5, checked against whole verifications of the four real fixtures in wasm.
const REGISTER_TASK_BASE: u64 = 6_000_000_000;
const REGISTER_TASK_PER_BYTE: u64 = 5_000;
const SET_TASK_STATUS: u64 = 220_000_000;
const REGISTER_WORKER: u64 = 960_000_000;
const LEAVE: u64 = 870_000_000;
const SET_ENDPOINT: u64 = 320_000_000;
const COMMIT: u64 = 610_000_000;
const REVEAL_BASE: u64 = 1_200_000_000;
const REVEAL_PER_VKA_BYTE: u64 = 500;
const PUBLISH_BASE: u64 = 1_630_000_000;
const CLOSE_PER_COMMIT: u64 = 700_000_000;
const OPEN_ROUND: u64 = 110_000_000;
const ELECT_BASE: u64 = 480_000_000;
const ELECT_PER_CONTRIBUTION: u64 = 560_000_000;
const MISSED_BASE: u64 = 870_000_000;
const MISSED_PER_COMMIT: u64 = 830_000_000;
/// The aggregate's curve arithmetic, measured in wasm (not natively) like verification.
const AGGREGATE_BASE: u64 = 1_400_000_000;
const AGGREGATE_PER_TERM: u64 = 55_000_000;
const SETTLE_BASE: u64 = 650_000_000;
const SETTLE_PER_COMMIT: u64 = 100_000_000;
/// Parsing the VKA and the MSM's fixed part.
const VERIFY_BASE: u64 = 13_000_000_000;
const VERIFY_PER_PAIRING: u64 = 3_900_000_000;
const VERIFY_PER_MSM_TERM: u64 = 150_000_000;
const VERIFY_PER_FIELD_OP: u64 = 250_000;
const VERIFY_PER_INVERSION: u64 = 20_000_000;
const VERIFY_PER_KECCAK_BYTE: u64 = 60_000;
const VERIFY_PER_VKA_WORD: u64 = 3_000_000;
/// The cap on verification per VKA word: with the runtime's 64 KiB `MaxVkaLen`,
/// verification is capped at 0.49 s, about twelve times the costliest fixture, and a
/// reveal's up-front charge stays well inside a block's normal-dispatch extrinsic limit.
const VERIFY_BOUND_PER_WORD: u64 = 230_000_000;

/// Reference time of one proof verification, from the VKA's cost summary: a linear model
/// in the quantities that dominate verification (see `docs/weights.md`).
pub fn verification_weight(cost: &zkpot_verifier::VerifyCost) -> Weight {
	let per = |n: u32, ps: u64| ps.saturating_mul(n as u64);
	let ref_time = VERIFY_BASE
		.saturating_add(per(cost.pairings, VERIFY_PER_PAIRING))
		.saturating_add(per(cost.msm_terms, VERIFY_PER_MSM_TERM))
		.saturating_add(per(cost.field_ops, VERIFY_PER_FIELD_OP))
		.saturating_add(per(cost.inversions, VERIFY_PER_INVERSION))
		.saturating_add(per(cost.keccak_bytes, VERIFY_PER_KECCAK_BYTE))
		.saturating_add(per(cost.vka_words, VERIFY_PER_VKA_WORD));
	// Verification reads nothing from storage beyond the VKA, charged with the reveal.
	Weight::from_parts(ref_time, 0)
}

/// Upper bound of one verification for any task whose VKA has at most `max_vka_len`
/// bytes. It is a cap, not the worst case of every conceivable VKA of that length: tasks
/// whose verification (by [`verification_weight`]) would cost more are refused at
/// registration (`VkaTooExpensive`), so charging this bound before a reveal is always
/// enough for every registered task.
pub fn max_verification_weight(max_vka_len: u32) -> Weight {
	let words = (max_vka_len / 32) as u64;
	Weight::from_parts(
		VERIFY_BASE
			.saturating_add(VERIFY_PER_PAIRING.saturating_mul(2))
			.saturating_add(VERIFY_BOUND_PER_WORD.saturating_mul(words)),
		0,
	)
}
