//! Benchmarks of pallet-zkpot (frame-benchmarking v2).
//!
//! Verification is measured with real ezkl proofs (`fixtures/digits`, the digits task's VKA
//! and proofs); `verify_proof` times the verifier alone, so that `reveal` minus
//! `verify_proof` is the cost of a reveal around its verification. See `docs/weights.md`.

use super::*;
use crate::Pallet as Zkpot;
use alloc::vec::Vec;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{Currency, Get, Hooks},
	BoundedVec,
};
use frame_system::RawOrigin;

const VKA: &[u8] = include_bytes!("../fixtures/digits/vka.bin");
const PROOF: &[u8] = include_bytes!("../fixtures/digits/w0.proof");
const INSTANCES: &[u8] = include_bytes!("../fixtures/digits/w0.instances");

fn instances() -> Vec<FieldElement> {
	INSTANCES
		.chunks(32)
		.map(|c| {
			let mut e = [0u8; 32];
			e.copy_from_slice(c);
			e
		})
		.collect()
}

fn uri<T: Config>() -> BoundedVec<u8, T::MaxUriLen> {
	let max = T::MaxUriLen::get() as usize;
	BoundedVec::truncate_from(alloc::vec![b'u'; max])
}

fn timing() -> RoundTiming {
	RoundTiming { commit_blocks: 2, reveal_blocks: 2, aggregation_blocks: 2 }
}

/// Registers the fixture task and opens its first round.
fn task_in_commit_phase<T: Config>() -> TaskId {
	let task = NextTaskId::<T>::get();
	Zkpot::<T>::register_task(
		RawOrigin::Root.into(),
		VKA.to_vec().try_into().expect("the fixture VKA fits MaxVkaLen"),
		ArtifactHashes { onnx: [1; 32], settings: [2; 32], test_set: [3; 32] },
		InstanceLayout { num_instances: 2, commitment_index: 0, score_index: 1 },
		0,
		ModelRef { commitment: [7; 32], uri: uri::<T>() },
		timing(),
	)
	.expect("the fixture task registers");
	advance::<T>(1);
	task
}

fn advance<T: Config>(blocks: u32) {
	for _ in 0..blocks {
		let n = frame_system::Pallet::<T>::block_number() + 1u32.into();
		frame_system::Pallet::<T>::set_block_number(n);
		Zkpot::<T>::on_initialize(n);
	}
}

fn funded_worker<T: Config>(index: u32) -> T::AccountId {
	let who: T::AccountId = account("worker", index, 0);
	let amount = T::WorkerDeposit::get() * 100u32.into();
	T::Currency::make_free_balance_be(&who, amount);
	Zkpot::<T>::register_worker(RawOrigin::Signed(who.clone()).into()).expect("worker registers");
	who
}

/// `c` workers with accepted contributions in round 1 (the fixture proof for the first;
/// the others are recorded as a reveal would, with distinct commitments).
fn round_with_contributions<T: Config>(task: TaskId, c: u32) -> Vec<T::AccountId> {
	let mut workers = Vec::new();
	for i in 0..c {
		let who = funded_worker::<T>(i);
		let digest = Zkpot::<T>::digest(&who, task, 1, PROOF, &instances());
		Zkpot::<T>::commit(RawOrigin::Signed(who.clone()).into(), task, 1, digest).expect("commit");
		workers.push(who);
	}
	advance::<T>(timing().commit_blocks);
	let now = frame_system::Pallet::<T>::block_number();
	Contributions::<T>::mutate((task, 1), |list| {
		for (i, who) in workers.iter().enumerate() {
			let mut commitment = [0u8; 32];
			commitment[..4].copy_from_slice(&(i as u32).to_le_bytes());
			let _ = list.try_push(Contribution {
				who: who.clone(),
				commitment,
				score: 20 + (i as u32 % 12),
				revealed_at: now,
			});
		}
	});
	workers
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_task() {
		let vka: VkaOf<T> = VKA.to_vec().try_into().expect("fits");
		let model = ModelRef { commitment: [7; 32], uri: uri::<T>() };
		#[extrinsic_call]
		_(
			RawOrigin::Root,
			vka,
			ArtifactHashes { onnx: [1; 32], settings: [2; 32], test_set: [3; 32] },
			InstanceLayout { num_instances: 2, commitment_index: 0, score_index: 1 },
			0,
			model,
			timing(),
		);
		assert!(Tasks::<T>::contains_key(0));
	}

	#[benchmark]
	fn set_task_status() {
		let task = task_in_commit_phase::<T>();
		#[extrinsic_call]
		_(RawOrigin::Root, task, TaskStatus::Paused);
		assert_eq!(Tasks::<T>::get(task).map(|t| t.status), Some(TaskStatus::Paused));
	}

	#[benchmark]
	fn register_worker() {
		let who: T::AccountId = account("worker", 0, 0);
		T::Currency::make_free_balance_be(&who, T::WorkerDeposit::get() * 10u32.into());
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));
		assert!(Workers::<T>::contains_key(&who));
	}

	#[benchmark]
	fn leave() {
		let who = funded_worker::<T>(0);
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));
		assert!(!Workers::<T>::contains_key(&who));
	}

	#[benchmark]
	fn set_endpoint() {
		let who = funded_worker::<T>(0);
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), uri::<T>());
		assert!(WorkerEndpoints::<T>::contains_key(&who));
	}

	#[benchmark]
	fn commit() {
		let task = task_in_commit_phase::<T>();
		let who = funded_worker::<T>(0);
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), task, 1, [9u8; 32]);
		assert!(Commits::<T>::contains_key((task, 1), &who));
	}

	/// A full reveal of a real proof: digest check, verification, contribution.
	#[benchmark]
	fn reveal() {
		let task = task_in_commit_phase::<T>();
		let who = funded_worker::<T>(0);
		let digest = Zkpot::<T>::digest(&who, task, 1, PROOF, &instances());
		Zkpot::<T>::commit(RawOrigin::Signed(who.clone()).into(), task, 1, digest).expect("commit");
		advance::<T>(timing().commit_blocks);
		let proof: ProofOf<T> = PROOF.to_vec().try_into().expect("fits");
		let inst: InstancesOf<T> = instances().try_into().expect("fits");
		#[extrinsic_call]
		_(RawOrigin::Signed(who), task, 1, proof, inst);
		assert_eq!(Contributions::<T>::get((task, 1)).len(), 1);
	}

	/// The verifier alone, on the same proof.
	#[benchmark]
	fn verify_proof() {
		let inst = instances();
		#[block]
		{
			T::Verifier::verify(VKA, PROOF, &inst).expect("the fixture proof verifies");
		}
	}

	#[benchmark]
	fn publish_model(c: Linear<1, { T::MaxContributors::get() }>) {
		let task = task_in_commit_phase::<T>();
		let workers = round_with_contributions::<T>(task, c);
		advance::<T>(timing().reveal_blocks);
		let leader = Elections::<T>::get((task, 1)).expect("elected").ranking[0].0.clone();
		assert!(workers.contains(&leader));
		#[extrinsic_call]
		_(RawOrigin::Signed(leader), task, 1, ModelRef { commitment: [8; 32], uri: uri::<T>() });
		assert!(matches!(Rounds::<T>::get(task).map(|r| r.phase), Some(RoundPhase::Closed { .. })));
	}

	#[benchmark]
	fn open_round() {
		register_task_only::<T>();
		let mut round = Rounds::<T>::get(0).expect("round");
		let info = Tasks::<T>::get(0).expect("task");
		let now = frame_system::Pallet::<T>::block_number() + 1u32.into();
		#[block]
		{
			Zkpot::<T>::open_round(0, &info, &mut round, now);
		}
		assert_eq!(round.index, 1);
	}

	#[benchmark]
	fn elect(c: Linear<0, { T::MaxContributors::get() }>) {
		let task = task_in_commit_phase::<T>();
		round_with_contributions::<T>(task, c);
		advance::<T>(timing().reveal_blocks - 1);
		let mut round = Rounds::<T>::get(task).expect("round");
		let info = Tasks::<T>::get(task).expect("task");
		let now = round.reveal_end;
		#[block]
		{
			Zkpot::<T>::elect(task, &info, &mut round, now);
		}
		assert!(c == 0 || Elections::<T>::contains_key((task, 1)));
	}

	#[benchmark]
	fn aggregator_missed(c: Linear<1, { T::MaxContributors::get() }>) {
		let task = task_in_commit_phase::<T>();
		round_with_contributions::<T>(task, c);
		advance::<T>(timing().reveal_blocks);
		let mut round = Rounds::<T>::get(task).expect("round");
		let info = Tasks::<T>::get(task).expect("task");
		let now = frame_system::Pallet::<T>::block_number() + timing().aggregation_blocks.into();
		#[block]
		{
			Zkpot::<T>::aggregator_missed(task, &info, &mut round, 0, now);
		}
	}

	impl_benchmark_test_suite!(Zkpot, crate::mock::new_test_ext(), crate::mock::Test);
}

fn register_task_only<T: Config>() {
	Zkpot::<T>::register_task(
		RawOrigin::Root.into(),
		VKA.to_vec().try_into().expect("fits"),
		ArtifactHashes { onnx: [1; 32], settings: [2; 32], test_set: [3; 32] },
		InstanceLayout { num_instances: 2, commitment_index: 0, score_index: 1 },
		0,
		ModelRef { commitment: [7; 32], uri: uri::<T>() },
		timing(),
	)
	.expect("registers");
}
