//! Benchmarks of pallet-zkpot (frame-benchmarking v2).
//!
//! Every benchmark takes the worst case the pallet allows: full contribution lists, workers
//! that leave when their round closes, the pruning branch of `open_round`. Verification is
//! measured with real ezkl proofs (`fixtures/digits`, the digits task's VKA and proofs):
//! `verify_proof` times the verifier alone, so that `reveal` minus `verify_proof` is the
//! cost of a reveal around its verification (`WeightInfo::reveal_accepted`). `vka_read`
//! and `commit_digest` give the per-byte costs of the parts of a reveal that grow with the
//! VKA and the proof. `aggregate` times the aggregate commitment an election computes, and
//! `settle` the settlement of a publication by the next round's commits. See
//! `docs/weights.md` for how they are run and turned into `weights.rs`.

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
/// Public instances of the fixture proofs: the score is the last (ezkl puts public outputs
/// last); the model commitment is the proof's first point.
const NUM_INSTANCES: u32 = (INSTANCES.len() / 32) as u32;
const LAYOUT: InstanceLayout =
	InstanceLayout { num_instances: NUM_INSTANCES, score_index: NUM_INSTANCES - 1, commitment_offset: 0 };
/// The costliest aggregation: every contribution, weighted by score.
fn aggregation<T: Config>() -> AggregationRule {
	AggregationRule { top: T::MaxContributors::get(), weighting: Weighting::Score, min_included_percent: 67 }
}
const ARTIFACTS: ArtifactHashes = ArtifactHashes { onnx: [1; 32], settings: [2; 32], test_set: [3; 32] };
const TIMING: RoundTiming = RoundTiming { commit_blocks: 2, reveal_blocks: 2, aggregation_blocks: 2 };

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

/// `k·G`, a valid commitment distinct for each `k ≥ 1`.
fn point(k: u64) -> Commitment {
	zkpot_verifier::commitment::generator_multiple(k).expect("k >= 1")
}

/// The zero-model commitment of the benchmark tasks.
fn zero() -> Commitment {
	point(1_000_003)
}

fn model<T: Config>(k: u64) -> ModelRefOf<T> {
	ModelRef { commitment: point(k), uri: uri::<T>() }
}

fn fixture_vka<T: Config>() -> VkaOf<T> {
	VKA.to_vec().try_into().expect("the fixture VKA fits MaxVkaLen")
}

/// Registers the fixture task (its first round opens in the next block).
fn register_fixture_task<T: Config>() -> TaskId {
	let task = NextTaskId::<T>::get();
	Zkpot::<T>::register_task(
		RawOrigin::Root.into(),
		fixture_vka::<T>(),
		ARTIFACTS,
		LAYOUT,
		0,
		model::<T>(7),
		zero(),
		aggregation::<T>(),
		TIMING,
	)
	.expect("the fixture task registers");
	task
}

/// Registers the fixture task and opens its first round.
fn task_in_commit_phase<T: Config>() -> TaskId {
	let task = register_fixture_task::<T>();
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

/// A contribution as a reveal records it, with a commitment distinct for each `i`.
fn contribution<T: Config>(who: T::AccountId, i: u32) -> ContributionOf<T> {
	Contribution {
		who,
		commitment: point(u64::from(i) + 2),
		score: 20 + (i % 12),
		revealed_at: frame_system::Pallet::<T>::block_number(),
	}
}

/// `c` workers that committed in round 1 of `task` and asked to leave (so that closing the
/// round releases them all, the costliest close), with accepted contributions recorded as
/// a reveal would record them. Returns in the reveal phase.
fn round_with_contributions<T: Config>(task: TaskId, c: u32) -> Vec<T::AccountId> {
	let mut workers = Vec::new();
	for i in 0..c {
		let who = funded_worker::<T>(i);
		Zkpot::<T>::set_endpoint(RawOrigin::Signed(who.clone()).into(), uri::<T>()).expect("endpoint");
		let digest = Zkpot::<T>::digest(&who, task, 1, PROOF, &instances());
		Zkpot::<T>::commit(RawOrigin::Signed(who.clone()).into(), task, 1, digest, Some(who.clone()))
			.expect("commit");
		Zkpot::<T>::leave(RawOrigin::Signed(who.clone()).into()).expect("leaving");
		workers.push(who);
	}
	advance::<T>(TIMING.commit_blocks);
	for (i, who) in workers.iter().enumerate() {
		Contributions::<T>::insert((task, 1), who, contribution::<T>(who.clone(), i as u32));
	}
	workers
}

#[benchmarks]
mod benchmarks {
	use super::*;

	/// Registration of the digits task: checking and costing its VKA, hashing and storing it.
	#[benchmark]
	fn register_task() {
		// The live-task list is as long as it can be before this one.
		for _ in 1..T::MaxTasks::get() {
			register_fixture_task::<T>();
		}
		let task = NextTaskId::<T>::get();
		#[extrinsic_call]
		_(RawOrigin::Root, fixture_vka::<T>(), ARTIFACTS, LAYOUT, 0, model::<T>(7), zero(), aggregation::<T>(), TIMING);
		assert!(Tasks::<T>::contains_key(task));
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

	/// Leaving with no open round: the deposit is returned and the records removed.
	#[benchmark]
	fn leave() {
		let who = funded_worker::<T>(0);
		Zkpot::<T>::set_endpoint(RawOrigin::Signed(who.clone()).into(), uri::<T>()).expect("endpoint");
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
		let ack: T::AccountId = account("server", 0, 0);
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), task, 1, [9u8; 32], Some(ack));
		assert!(Commits::<T>::contains_key((task, 1), &who));
	}

	/// A full reveal of a real proof, accepted as the last contribution a round can take:
	/// digest check, verification, contribution.
	#[benchmark]
	fn reveal() {
		let task = task_in_commit_phase::<T>();
		let who = funded_worker::<T>(0);
		let digest = Zkpot::<T>::digest(&who, task, 1, PROOF, &instances());
		Zkpot::<T>::commit(RawOrigin::Signed(who.clone()).into(), task, 1, digest, None).expect("commit");
		advance::<T>(TIMING.commit_blocks);
		let others = T::MaxContributors::get().saturating_sub(1);
		for i in 0..others {
			let other: T::AccountId = account("other", i, 0);
			Contributions::<T>::insert((task, 1), &other, contribution::<T>(other.clone(), i));
		}
		let proof: ProofOf<T> = PROOF.to_vec().try_into().expect("fits");
		let inst: InstancesOf<T> = instances().try_into().expect("fits");
		let bound = Tasks::<T>::get(task).expect("task").verify_weight;
		#[extrinsic_call]
		_(RawOrigin::Signed(who), task, 1, proof, inst, bound);
		assert_eq!(Contributions::<T>::iter_prefix((task, 1)).count() as u32, others + 1);
	}

	/// The verifier alone, on the same proof (parsing the VKA included, as in a reveal).
	#[benchmark]
	fn verify_proof() {
		let inst = instances();
		#[block]
		{
			T::Verifier::verify(VKA, PROOF, &inst).expect("the fixture proof verifies");
		}
	}

	/// Reading a task's VKA of `v` bytes from storage, as a reveal does.
	#[benchmark]
	fn vka_read(v: Linear<32, { T::MaxVkaLen::get() }>) {
		let vka: VkaOf<T> = alloc::vec![0x5a; v as usize].try_into().expect("v <= MaxVkaLen");
		TaskVkas::<T>::insert(0, vka);
		#[block]
		{
			let read = TaskVkas::<T>::get(0);
			assert_eq!(read.map(|r| r.len() as u32), Some(v));
		}
	}

	/// The commit digest of a reveal with a proof of `p` bytes.
	#[benchmark]
	fn commit_digest(p: Linear<0, { T::MaxProofLen::get() }>) {
		let who: T::AccountId = account("worker", 0, 0);
		let proof = alloc::vec![0xa5u8; p as usize];
		let inst = instances();
		#[block]
		{
			let _ = Zkpot::<T>::digest(&who, 0, 1, &proof, &inst);
		}
	}

	#[benchmark]
	fn publish_model(c: Linear<1, { T::MaxContributors::get() }>) {
		let task = task_in_commit_phase::<T>();
		let workers = round_with_contributions::<T>(task, c);
		advance::<T>(TIMING.reveal_blocks);
		let record = Elections::<T>::get((task, 1)).expect("elected");
		let leader = record.ranking[0].0.clone();
		assert!(workers.contains(&leader));
		// The whole aggregated set: checking it is what grows with `c`; a smaller set's
		// recomputed aggregate is charged on top as `aggregate(n)`.
		let included: BoundedVec<T::AccountId, T::MaxContributors> = BoundedVec::truncate_from(
			record.ranking.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>(),
		);
		#[extrinsic_call]
		_(RawOrigin::Signed(leader), task, 1, uri::<T>(), included);
		assert!(matches!(Rounds::<T>::get(task).map(|r| r.phase), Some(RoundPhase::Closed { .. })));
		assert!(PendingPublications::<T>::contains_key(task));
	}

	/// Opening a round, with the pruning of the round `HistoryDepth` back.
	#[benchmark]
	fn open_round() {
		let task = register_fixture_task::<T>();
		let mut round = Rounds::<T>::get(task).expect("round");
		round.index = T::HistoryDepth::get();
		let info = Tasks::<T>::get(task).expect("task");
		let now = frame_system::Pallet::<T>::block_number() + 1u32.into();
		#[block]
		{
			Zkpot::<T>::open_round(task, &info, &mut round, now);
		}
		assert_eq!(round.index, T::HistoryDepth::get() + 1);
	}

	/// The election of a round with `c` contributions (all aggregated, so the aggregate of
	/// `c` terms is included; `elect` charges it again separately as `aggregate(c)`).
	#[benchmark]
	fn elect(c: Linear<0, { T::MaxContributors::get() }>) {
		let task = task_in_commit_phase::<T>();
		round_with_contributions::<T>(task, c);
		advance::<T>(TIMING.reveal_blocks - 1);
		let mut round = Rounds::<T>::get(task).expect("round");
		assert_eq!(round.phase, RoundPhase::Reveal);
		let info = Tasks::<T>::get(task).expect("task");
		let now = round.reveal_end;
		#[block]
		{
			Zkpot::<T>::elect(task, &info, &mut round, now);
		}
		assert!(c == 0 || Elections::<T>::contains_key((task, 1)));
	}

	/// The aggregate commitment of `c` contributions, each with the largest weight a score
	/// can have (32 bits, all set: the longest double-and-add).
	#[benchmark]
	fn aggregate(c: Linear<1, { T::MaxContributors::get() }>) {
		let terms: Vec<(Commitment, u64)> =
			(0..c).map(|i| (point(u64::from(i) + 2), u64::from(u32::MAX))).collect();
		let zero = zero();
		let result;
		#[block]
		{
			result = zkpot_verifier::commitment::aggregate(&terms, &zero);
		}
		assert!(result.is_ok());
	}

	/// Settling a publication with `c` commits of included contributors, its costliest
	/// branch: none names the publisher, so it is penalised, and all name another account,
	/// which is paid; the election record of the publication is updated.
	#[benchmark]
	fn settle(c: Linear<0, { T::MaxContributors::get() }>) {
		let task = task_in_commit_phase::<T>();
		let publisher = funded_worker::<T>(u32::MAX);
		let server: T::AccountId = account("server", 0, 0);
		let mut included = Vec::new();
		for i in 0..c {
			let who = funded_worker::<T>(i);
			Zkpot::<T>::commit(RawOrigin::Signed(who.clone()).into(), task, 1, [1u8; 32], Some(server.clone()))
				.expect("commit");
			included.push(who);
		}
		// Included contributors who did not commit count against the publisher all the same.
		let max = T::MaxContributors::get();
		while (included.len() as u32) < max {
			included.push(account("absent", included.len() as u32, 0));
		}
		let ranked: Vec<(T::AccountId, u32)> = included.iter().map(|a| (a.clone(), u32::MAX)).collect();
		let ranking: BoundedVec<_, T::MaxContributors> = BoundedVec::truncate_from(ranked.clone());
		Elections::<T>::insert(
			(task, 0),
			ElectionRecord {
				elected_at: frame_system::Pallet::<T>::block_number(),
				ranking: ranking.clone(),
				authors: BoundedVec::new(),
				outcome: ElectionOutcome::AuthorSetKept(KeptReason::NoEligibleAuthor),
				aggregator_reward: T::RoundReward::get(),
				published: Some(Publication {
					by: publisher.clone(),
					model: model::<T>(9),
					at: frame_system::Pallet::<T>::block_number(),
				}),
				aggregate: Some(AggregateRecord { commitment: point(9), included: ranking, total_weight: u64::MAX }),
				settlement: None,
				left_out: BoundedVec::new(),
			},
		);
		PendingPublications::<T>::insert(
			task,
			PendingPublication {
				round: 0,
				by: publisher,
				reward: T::RoundReward::get(),
				included: BoundedVec::truncate_from(included),
			},
		);
		#[block]
		{
			Zkpot::<T>::settle(task, 1);
		}
		assert!(!PendingPublications::<T>::contains_key(task));
		let settled = Elections::<T>::get((task, 0)).and_then(|r| r.settlement);
		let paid = if c * 2 > max { Some(server) } else { None };
		assert_eq!(settled, Some(Settlement { acks: 0, of: max, paid }));
	}

	/// The last aggregator of a round with `c` contributions misses its turn: it is
	/// penalised and the round closes, releasing all `c` (leaving) workers.
	#[benchmark]
	fn aggregator_missed(c: Linear<1, { T::MaxContributors::get() }>) {
		let task = task_in_commit_phase::<T>();
		round_with_contributions::<T>(task, c);
		advance::<T>(TIMING.reveal_blocks);
		let mut round = Rounds::<T>::get(task).expect("round");
		let info = Tasks::<T>::get(task).expect("task");
		let now = frame_system::Pallet::<T>::block_number() + TIMING.aggregation_blocks.into();
		#[block]
		{
			Zkpot::<T>::aggregator_missed(task, &info, &mut round, c - 1, now);
		}
		assert!(matches!(round.phase, RoundPhase::Closed { .. }));
	}

	/// Runs benchmark `name` once with `components` in the current externalities and
	/// returns the time of its measured part in nanoseconds, for native measurement outside
	/// a node (`measure_weights` below). The generated `run_benchmark` needs a node's
	/// benchmarking database; this runs the same generated setup, call and verification.
	#[cfg(test)]
	pub fn time_benchmark<T: Config>(
		name: &str,
		components: &[(BenchmarkParameter, u32)],
	) -> Result<u128, BenchmarkError> {
		struct Timer(Option<std::time::Instant>, u128);
		impl Recording for Timer {
			fn start(&mut self) {
				self.0 = Some(std::time::Instant::now());
			}
			fn stop(&mut self) {
				if let Some(start) = self.0.take() {
					self.1 = start.elapsed().as_nanos();
				}
			}
		}
		let selected = match name {
			"register_task" => SelectedBenchmark::register_task,
			"set_task_status" => SelectedBenchmark::set_task_status,
			"register_worker" => SelectedBenchmark::register_worker,
			"leave" => SelectedBenchmark::leave,
			"set_endpoint" => SelectedBenchmark::set_endpoint,
			"commit" => SelectedBenchmark::commit,
			"reveal" => SelectedBenchmark::reveal,
			"verify_proof" => SelectedBenchmark::verify_proof,
			"vka_read" => SelectedBenchmark::vka_read,
			"commit_digest" => SelectedBenchmark::commit_digest,
			"publish_model" => SelectedBenchmark::publish_model,
			"open_round" => SelectedBenchmark::open_round,
			"elect" => SelectedBenchmark::elect,
			"aggregate" => SelectedBenchmark::aggregate,
			"settle" => SelectedBenchmark::settle,
			"aggregator_missed" => SelectedBenchmark::aggregator_missed,
			_ => return Err(BenchmarkError::Stop("no such benchmark")),
		};
		let mut timer = Timer(None, 0);
		<SelectedBenchmark as BenchmarkingSetup<T>>::instance(&selected, &mut timer, components, true)?;
		Ok(timer.1)
	}

	impl_benchmark_test_suite!(Zkpot, crate::mock::new_test_ext(), crate::mock::Test);
}

/// Native measurement of the benchmarks above, without a node: every benchmark with
/// `ZKPOT_BENCH_STEPS` values of its component and `ZKPOT_BENCH_REPEATS` runs of each (the
/// setup and measured part that the benchmark macros generate, each run in a fresh mock
/// externalities), fitted with frame-benchmarking's own `Analysis::min_squares_iqr`; then
/// the registration check of every fixture VKA. Run in release (docs/weights.md):
///
/// ```text
/// cargo test --release -p pallet-zkpot --features runtime-benchmarks -- \
///     --ignored --nocapture measure_weights
/// ```
#[cfg(test)]
mod measure {
	use super::benchmarks::time_benchmark;
	use crate::mock::{new_test_ext, Test};
	use crate::{NativeVerifier, ProofVerifier};
	use frame_benchmarking::{
		Analysis, BenchmarkParameter, BenchmarkResult, BenchmarkSelector, Benchmarking,
	};
	use std::time::Instant;

	fn env(name: &str, default: u32) -> u32 {
		std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
	}

	fn median(v: &mut [u128]) -> u128 {
		v.sort_unstable();
		v[v.len() / 2]
	}

	/// The round benchmarks at the runtime's `MaxContributors` (1024), once each: the code
	/// paths of a thousand-contributor round run to the end with their checks (the mock's
	/// bound is raised for this test only). Prints each time next to its weight.
	#[test]
	fn round_benchmarks_run_at_1024_contributors() {
		use crate::weights::WeightInfo;
		crate::mock::MaxContributors::set(1024);
		let c = 1024u32;
		for (name, weight) in [
			("elect", <() as WeightInfo>::elect(c)),
			("aggregate", <() as WeightInfo>::aggregate(c)),
			("settle", <() as WeightInfo>::settle(c)),
			("publish_model", <() as WeightInfo>::publish_model(c)),
			("aggregator_missed", <() as WeightInfo>::aggregator_missed(c)),
		] {
			let ns = new_test_ext()
				.execute_with(|| time_benchmark::<Test>(name, &[(BenchmarkParameter::c, c)]))
				.unwrap_or_else(|e| panic!("{name} at {c}: {e:?}"));
			println!("{name}({c}): {:.1} ms measured (this build), weight {:.1} ms", ns as f64 / 1e6,
				weight.ref_time() as f64 / 1e9);
		}
	}

	#[test]
	#[ignore = "measurement, run in release by hand"]
	fn measure_weights() {
		// ZKPOT_BENCH_CONTRIBUTORS=1024 measures the round benchmarks up to the runtime's bound.
		crate::mock::MaxContributors::set(env("ZKPOT_BENCH_CONTRIBUTORS", 16));
		let steps = env("ZKPOT_BENCH_STEPS", 10).max(2);
		let repeats = env("ZKPOT_BENCH_REPEATS", 20).max(1);
		println!("# pallet-zkpot benchmarks: steps {steps} repeats {repeats} (ns per run; fits in ps)");
		// ZKPOT_BENCH_ONLY=elect,settle measures only those.
		let only = std::env::var("ZKPOT_BENCH_ONLY").ok();
		for meta in <crate::Pallet<Test> as Benchmarking>::benchmarks(false) {
			let name = String::from_utf8(meta.name.clone()).expect("utf8");
			if only.as_ref().is_some_and(|o| !o.split(',').any(|n| n == name)) {
				continue;
			}
			let points: Vec<Vec<(BenchmarkParameter, u32)>> = match meta.components.as_slice() {
				[] => vec![vec![]],
				[(param, low, high)] => {
					let mut values: Vec<u32> = (0..steps)
						.map(|k| low + ((high - low) as u64 * k as u64 / (steps - 1) as u64) as u32)
						.collect();
					values.dedup();
					values.into_iter().map(|v| vec![(*param, v)]).collect()
				},
				_ => panic!("{name}: more than one component"),
			};
			// One unmeasured run first: caches and lazy statics.
			new_test_ext().execute_with(|| time_benchmark::<Test>(&name, &points[0])).expect("warm-up");
			let mut results = Vec::new();
			for point in &points {
				let mut times: Vec<u128> = (0..repeats)
					.map(|_| {
						new_test_ext()
							.execute_with(|| time_benchmark::<Test>(&name, point))
							.unwrap_or_else(|e| panic!("{name} {point:?}: {e:?}"))
					})
					.collect();
				results.extend(times.iter().map(|t| BenchmarkResult {
					components: point.clone(),
					extrinsic_time: *t,
					..Default::default()
				}));
				let (min, max) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
				println!("point {name} {point:?} min {min} median {} max {max}", median(&mut times));
			}
			let fit = Analysis::min_squares_iqr(&results, BenchmarkSelector::ExtrinsicTime)
				.expect("analysis");
			let slopes: Vec<String> =
				fit.names.iter().zip(&fit.slopes).map(|(n, s)| format!("{n}={s}")).collect();
			println!("fit {name} base_ps {} slopes_ps [{}]", fit.base, slopes.join(", "));
		}

		println!("# registration check of the fixture VKAs (NativeVerifier::check_vka, ns)");
		// Read at run time, not with env!: a target directory shared by several checkouts
		// would keep the path of the checkout that compiled this.
		let root = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("..");
		let mut vkas = Vec::new();
		for name in ["zkpot-mlp", "cnn-public", "sigmoid-hashed"] {
			let dir = root.join("verifier/fixtures").join(name);
			let file = std::fs::read(dir.join("vka.bin")).unwrap();
			let meta: serde_json::Value =
				serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
			vkas.push((name, file[8..].to_vec(), meta["num_instances"].as_u64().unwrap() as u32));
		}
		vkas.push(("digits", super::VKA.to_vec(), super::NUM_INSTANCES));
		for (name, words, instances) in vkas {
			let weight = NativeVerifier::check_vka(&words, instances).expect("usable VKA");
			let mut times: Vec<u128> = (0..repeats.max(10))
				.map(|_| {
					let start = Instant::now();
					std::hint::black_box(NativeVerifier::check_vka(std::hint::black_box(&words), instances).ok());
					start.elapsed().as_nanos()
				})
				.collect();
			let max = *times.iter().max().unwrap();
			println!(
				"vka {name} bytes {} check_median {} check_max {max} verification_weight {}",
				words.len(),
				median(&mut times),
				weight.ref_time()
			);
		}
	}
}
