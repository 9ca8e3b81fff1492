//! Tests of the ZKPoT pallet in the mock runtime, with real ezkl proofs
//! (`fixtures/digits`, made by `fixtures/generate.py`) verified by the native verifier.
//!
//! The fixtures' layout, the zero-model commitment and the aggregates ezkl computed come
//! from `fixtures/digits/meta.json`, so the tests follow the fixtures when they are
//! regenerated.

use crate::{mock::*, *};
use ark_bn254::{Fr, G1Projective};
use ark_ec::{CurveGroup, PrimeGroup};
use ark_ff::{BigInteger, PrimeField};
use codec::{Decode, Encode};
use frame_support::{
	assert_noop, assert_ok,
	dispatch::{GetDispatchInfo, Pays},
	traits::{Get, Hooks},
	weights::Weight,
	BoundedVec,
};
use sp_runtime::{testing::UintAuthorityId, DispatchError};
use std::path::PathBuf;
use zkpot_verifier::commitment;

const VKA: &[u8] = include_bytes!("../fixtures/digits/vka.bin");

fn fixtures_dir() -> PathBuf {
	// Read at run time, not with env!: a target directory shared by several checkouts
	// would keep the path of the checkout that compiled this.
	PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("fixtures/digits")
}

fn meta() -> serde_json::Value {
	let path = fixtures_dir().join("meta.json");
	serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The fixtures' layout (`meta.json` `layout`: `num_instances`, `score_index`,
/// `commitment_offset`).
fn layout() -> InstanceLayout {
	let l = &meta()["layout"];
	let get = |k: &str| l[k].as_u64().unwrap_or_else(|| panic!("fixtures/digits/meta.json has no layout.{k}")) as u32;
	InstanceLayout {
		num_instances: get("num_instances"),
		score_index: get("score_index"),
		commitment_offset: get("commitment_offset"),
	}
}

fn hex(s: &str) -> Vec<u8> {
	let s = s.strip_prefix("0x").unwrap_or(s);
	(0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn hex64(s: &str) -> Commitment {
	hex(s).try_into().unwrap_or_else(|_| panic!("{s} is not 64 bytes"))
}

/// `k·G`, encoded with arkworks directly (independently of the verifier's encoding).
fn point_fr(k: Fr) -> Commitment {
	let p = (G1Projective::generator() * k).into_affine();
	let mut out = [0u8; 64];
	out[..32].copy_from_slice(&p.x.into_bigint().to_bytes_be());
	out[32..].copy_from_slice(&p.y.into_bigint().to_bytes_be());
	out
}

fn point(k: u64) -> Commitment {
	point_fr(Fr::from(k))
}

/// `k` of the zero-model commitment the tests use with commitments `k·G`.
const Z: u64 = 1_000_003;

/// The zero-model commitment of the fixture task (`meta.json` `zero_commitment`).
fn zero_commitment() -> Commitment {
	hex64(
		meta()["zero_commitment"]
			.as_str()
			.expect("fixtures/digits/meta.json must give zero_commitment (C0) as 0x + 128 hex digits"),
	)
}

/// A real proof of the fixture task: name in `fixtures/digits`.
struct Fixture {
	proof: Vec<u8>,
	instances: Vec<[u8; 32]>,
}

fn fixture(name: &str) -> Fixture {
	let read = |ext: &str| {
		let path = fixtures_dir().join(format!("{name}.{ext}"));
		std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
	};
	let instances = read("instances");
	Fixture { proof: read("proof"), instances: instances.chunks(32).map(|c| c.try_into().unwrap()).collect() }
}

impl Fixture {
	fn score(&self) -> u32 {
		u32::from_be_bytes(self.instances[layout().score_index as usize][28..].try_into().unwrap())
	}
	fn commitment(&self) -> Commitment {
		commitment::from_proof(&self.proof, layout().commitment_offset as usize).unwrap()
	}
}

const TASK: TaskId = 0;
const MIN_SCORE: u32 = 24;
const TIMING: RoundTiming = RoundTiming { commit_blocks: 3, reveal_blocks: 3, aggregation_blocks: 2 };
/// Every contribution, weight 1 each.
const ALL_EQUAL: AggregationRule = AggregationRule { top: 16, weighting: Weighting::Equal, min_included_percent: 100 };

fn uri(byte: u8) -> BoundedVec<u8, <Test as Config>::MaxUriLen> {
	format!("http://127.0.0.1/model/{byte}").into_bytes().try_into().unwrap()
}

fn initial_model() -> ModelRefOf<Test> {
	ModelRef { commitment: point(0xaa), uri: uri(0xaa) }
}

fn register_task_with(aggregation: AggregationRule, zero: Commitment) {
	assert_ok!(Zkpot::register_task(
		RuntimeOrigin::root(),
		VKA.to_vec().try_into().unwrap(),
		ArtifactHashes { onnx: [1; 32], settings: [2; 32], test_set: [3; 32] },
		layout(),
		MIN_SCORE,
		initial_model(),
		zero,
		aggregation,
		TIMING,
	));
}

fn register_task() {
	register_task_with(ALL_EQUAL, zero_commitment());
}

/// Registers `who` as a worker with session keys.
fn worker(who: u64) {
	assert_ok!(Zkpot::register_worker(RuntimeOrigin::signed(who)));
	assert_ok!(Session::set_keys(RuntimeOrigin::signed(who), UintAuthorityId(who), vec![]));
}

fn round() -> RoundInfoOf<Test> {
	Rounds::<Test>::get(TASK).unwrap()
}

/// Runs to the block where the current phase ends.
fn run_to_reveal() {
	run_to_block(round().commit_end);
	assert_eq!(round().phase, RoundPhase::Reveal);
}

fn run_to_election() {
	run_to_block(round().reveal_end);
}

/// Runs to the first block of the next round (after a publication or a close).
fn run_to_next_round() {
	run_to_block(System::block_number() + 1);
	assert_eq!(round().phase, RoundPhase::Commit);
}

fn commit_ack(who: u64, f: &Fixture, ack: Option<u64>) {
	let r = round().index;
	let digest = Zkpot::digest(&who, TASK, r, &f.proof, &f.instances);
	assert_ok!(Zkpot::commit(RuntimeOrigin::signed(who), TASK, r, digest, ack));
}

fn commit(who: u64, f: &Fixture) {
	commit_ack(who, f, None);
}

/// A commit that is never revealed, only to ack the global model.
fn ack_only(who: u64, ack: Option<u64>) {
	let r = round().index;
	assert_ok!(Zkpot::commit(RuntimeOrigin::signed(who), TASK, r, [who as u8; 32], ack));
}

fn reveal(who: u64, f: &Fixture) -> frame_support::dispatch::DispatchResultWithPostInfo {
	Zkpot::reveal(
		RuntimeOrigin::signed(who),
		TASK,
		round().index,
		f.proof.clone().try_into().unwrap(),
		f.instances.clone().try_into().unwrap(),
		verify_bound(),
	)
}

/// The task's own verification weight: the bound a worker passes with its reveal.
fn verify_bound() -> Weight {
	Tasks::<Test>::get(TASK).unwrap().verify_weight
}

/// The accepted contributions of round `r`.
fn contributions(r: RoundIndex) -> usize {
	Contributions::<Test>::iter_prefix_values((TASK, r)).count()
}

/// Publishes the whole aggregated set of round `r`.
fn publish(who: u64, r: RoundIndex, byte: u8) -> frame_support::dispatch::DispatchResult {
	let all: Vec<u64> = Elections::<Test>::get((TASK, r))
		.and_then(|e| e.aggregate)
		.map(|a| a.included.iter().map(|(w, _)| *w).collect())
		.unwrap_or_default();
	publish_set(who, r, byte, &all)
}

/// Publishes the sum over `included` only.
fn publish_set(who: u64, r: RoundIndex, byte: u8, included: &[u64]) -> frame_support::dispatch::DispatchResult {
	Zkpot::publish_model(RuntimeOrigin::signed(who), TASK, r, uri(byte), included.to_vec().try_into().unwrap())
		.map(|_| ())
		.map_err(|e| e.error)
}

fn zkpot_events() -> Vec<Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| if let RuntimeEvent::Zkpot(e) = r.event { Some(e) } else { None })
		.collect()
}

/// Starts the fixture task and opens its first round.
fn setup_round_one() {
	register_task();
	run_to_block(2);
	assert_eq!(round().index, 1);
	assert_eq!(round().phase, RoundPhase::Commit);
}

fn record(r: RoundIndex) -> ElectionRecordOf<Test> {
	Elections::<Test>::get((TASK, r)).unwrap()
}

fn aggregate_of(r: RoundIndex) -> AggregateRecord<Test> {
	record(r).aggregate.expect("the election computed an aggregate")
}

#[test]
fn fixtures_are_what_the_tests_assume() {
	let meta = meta();
	for name in ["w0", "w1", "w2", "w3", "w4", "w5"] {
		assert!(fixture(name).score() >= MIN_SCORE, "{name}");
	}
	assert!(fixture("weak").score() < MIN_SCORE);
	let all = ["w0", "w1", "w2", "w3", "w4", "w5", "weak"];
	let commitments: std::collections::BTreeSet<_> = all.iter().map(|n| fixture(n).commitment()).collect();
	assert_eq!(commitments.len(), 7);
	for name in all {
		let f = fixture(name);
		assert_eq!(f.instances.len() as u32, layout().num_instances, "{name}");
		assert_eq!(meta["proofs"][name]["score"].as_u64(), Some(f.score() as u64), "{name}");
	}
}

#[test]
fn happy_path_over_several_rounds() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		for w in 1..=4 {
			worker(w);
		}
		let proofs = [(1, fixture("w0")), (2, fixture("w1")), (3, fixture("w2")), (4, fixture("w3"))];
		for (who, f) in proofs.iter() {
			commit(*who, f);
		}
		run_to_reveal();
		for (who, f) in proofs.iter() {
			assert_ok!(reveal(*who, f));
		}
		assert_eq!(contributions(1), 4);
		let before: Vec<u64> = (1..=4).map(Balances::free_balance).collect();
		run_to_election();

		// Ranked by score, then reveal block (all equal here), then account.
		let mut expected: Vec<(u64, u32)> = proofs.iter().map(|(w, f)| (*w, f.score())).collect();
		expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
		let record1 = record(1);
		assert_eq!(record1.ranking.to_vec(), expected);
		let leader = expected[0].0;
		let authors: Vec<u64> = expected.iter().take(3).map(|(w, _)| *w).collect();
		assert_eq!(record1.authors.to_vec(), authors);
		assert_eq!(record1.outcome, ElectionOutcome::AuthorsQueued);
		assert!(zkpot_events().contains(&Event::LeaderElected {
			task: TASK,
			round: 1,
			leader,
			score: expected[0].1,
			authors: authors.clone(),
		}));
		// Contributors were paid by score; the leader's share waits for the publication.
		let total: u64 = expected.iter().map(|(_, s)| *s as u64).sum();
		for (i, who) in (1..=4u64).enumerate() {
			let score = expected.iter().find(|(w, _)| *w == who).unwrap().1 as u64;
			assert_eq!(Balances::free_balance(who) - before[i], 800 * score / total);
		}

		// The chain aggregated the four proofs' commitments, equal weights.
		let agg = aggregate_of(1);
		let terms: Vec<(Commitment, u64)> =
			expected.iter().map(|(w, _)| (proofs[*w as usize - 1].1.commitment(), 1)).collect();
		assert_eq!(agg.commitment, commitment::aggregate(&terms, &zero_commitment()).unwrap());
		assert_eq!(agg.included.to_vec(), expected.iter().map(|(w, _)| (*w, 1)).collect::<Vec<_>>());
		assert_eq!(agg.total_weight, 4);

		// The leader publishes the URI; the aggregate becomes the global model.
		assert_noop!(publish(expected[1].0, 1, 0xbb), Error::<Test>::NotAggregator);
		let leader_before = Balances::free_balance(leader);
		assert_ok!(publish(leader, 1, 0xbb));
		let a1 = ModelRef { commitment: agg.commitment, uri: uri(0xbb) };
		assert_eq!(Tasks::<Test>::get(TASK).unwrap().global_model, a1);
		assert_eq!(record(1).published.unwrap().model, a1);
		assert_eq!(Balances::free_balance(leader), leader_before, "paid only on settlement");
		assert!(matches!(round().phase, RoundPhase::Closed { .. }));

		// Round 2 opens in the next block with the aggregate as its base.
		run_to_next_round();
		assert_eq!(round().index, 2);
		assert_eq!(round().base_model, agg.commitment);
		// Three of the four included contributors got the model from the leader.
		let second = [(1, fixture("w4")), (2, fixture("w5"))];
		for (who, f) in second.iter() {
			commit_ack(*who, f, Some(leader));
		}
		ack_only(3, Some(leader));
		run_to_reveal();
		assert_eq!(Balances::free_balance(leader) - leader_before, record1.aggregator_reward);
		assert!(zkpot_events().contains(&Event::AggregationConfirmed { task: TASK, round: 1, by: leader, acks: 3, of: 4 }));
		assert_eq!(record(1).settlement, Some(Settlement { acks: 3, of: 4, paid: Some(leader) }));
		for (who, f) in second.iter() {
			assert_ok!(reveal(*who, f));
		}
		run_to_election();
		let record2 = record(2);
		assert_eq!(record2.ranking.len(), 2);
		assert_ok!(publish(record2.ranking[0].0, 2, 0xcc));
		run_to_next_round();
		assert_eq!(round().index, 3);
		assert_eq!(round().base_model, aggregate_of(2).commitment);

		// Round 2's authors (the last election) author the session after the next.
		let mut want: Vec<u64> = record2.authors.to_vec();
		want.sort();
		run_to_block(System::block_number() + 2 * SESSION_PERIOD);
		let mut validators = Session::validators();
		validators.sort();
		assert_eq!(validators, want);
		assert!(zkpot_events().iter().any(|e| matches!(e, Event::AuthorsApplied { .. })));
	});
}

#[test]
fn a_proof_copied_by_another_account_is_rejected() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		worker(2);
		let honest = fixture("w0");
		let own = fixture("w1");
		commit(1, &honest);
		commit(2, &own);
		run_to_reveal();
		assert_ok!(reveal(1, &honest));
		// Account 2 saw account 1's reveal; its commit does not match that proof.
		assert_noop!(reveal(2, &honest), Error::<Test>::DigestMismatch);
	});
}

#[test]
fn the_same_proof_committed_by_two_accounts_is_accepted_once() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		worker(2);
		let f = fixture("w0");
		commit(1, &f);
		commit(2, &f);
		run_to_reveal();
		assert_ok!(reveal(1, &f));
		assert_noop!(reveal(2, &f), Error::<Test>::DuplicateModel);
	});
}

#[test]
fn a_proof_from_an_earlier_round_cannot_be_replayed() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		worker(2);
		let f = fixture("w0");
		commit(1, &f);
		run_to_reveal();
		assert_ok!(reveal(1, &f));
		run_to_election();
		assert_ok!(publish(1, 1, 1));
		run_to_next_round();
		assert_eq!(round().index, 2);
		commit(2, &f);
		run_to_reveal();
		assert_noop!(reveal(2, &f), Error::<Test>::DuplicateModel);
	});
}

#[test]
fn commits_only_in_the_commit_window_and_reveals_only_in_the_reveal_window() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		worker(2);
		let f = fixture("w0");
		commit(1, &f);
		assert_noop!(reveal(1, &f), Error::<Test>::NotRevealPhase);
		run_to_reveal();
		// A commit made after reveals are open (so after seeing one) is refused.
		let g = fixture("w1");
		let digest = Zkpot::digest(&2, TASK, 1, &g.proof, &g.instances);
		assert_noop!(
			Zkpot::commit(RuntimeOrigin::signed(2), TASK, 1, digest, None),
			Error::<Test>::NotCommitPhase
		);
		run_to_election();
		assert_noop!(reveal(1, &f), Error::<Test>::NotRevealPhase);
	});
}

#[test]
fn one_commit_and_one_reveal_per_worker_and_round() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		let f = fixture("w0");
		commit(1, &f);
		let digest = Zkpot::digest(&1, TASK, 1, &f.proof, &f.instances);
		assert_noop!(
			Zkpot::commit(RuntimeOrigin::signed(1), TASK, 1, digest, Some(2)),
			Error::<Test>::AlreadyCommitted
		);
		run_to_reveal();
		assert_ok!(reveal(1, &f));
		assert_noop!(reveal(1, &f), Error::<Test>::AlreadyRevealed);
	});
}

#[test]
fn the_ack_is_stored_with_the_commit() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		worker(2);
		commit_ack(1, &fixture("w0"), Some(7));
		commit(2, &fixture("w1"));
		assert_eq!(Commits::<Test>::get((TASK, 1), 1).unwrap().ack, Some(7));
		assert_eq!(Commits::<Test>::get((TASK, 1), 2).unwrap().ack, None);
	});
}

#[test]
fn unregistered_accounts_wrong_tasks_and_wrong_rounds_are_refused() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		let f = fixture("w0");
		let c = |who, task, r| Zkpot::commit(RuntimeOrigin::signed(who), task, r, [0; 32], None);
		assert_noop!(c(5, TASK, 1), Error::<Test>::NotWorker);
		worker(1);
		assert_noop!(c(1, 7, 1), Error::<Test>::TaskNotFound);
		assert_noop!(c(1, TASK, 2), Error::<Test>::WrongRound);
		assert_noop!(c(1, TASK, 0), Error::<Test>::WrongRound);
		commit(1, &f);
		run_to_reveal();
		assert_noop!(
			Zkpot::reveal(
				RuntimeOrigin::signed(1),
				TASK,
				2,
				f.proof.clone().try_into().unwrap(),
				f.instances.clone().try_into().unwrap(),
				verify_bound()
			),
			Error::<Test>::WrongRound
		);
		assert_noop!(reveal(5, &f), Error::<Test>::NotWorker);
		assert_noop!(
			Zkpot::register_worker(RuntimeOrigin::signed(9)),
			Error::<Test>::InsufficientDeposit
		);
	});
}

#[test]
fn a_valid_proof_below_the_minimum_is_no_contribution() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		let f = fixture("weak");
		commit(1, &f);
		run_to_reveal();
		assert_ok!(reveal(1, &f));
		assert_eq!(contributions(1), 0);
		assert!(zkpot_events().contains(&Event::ProofRejected {
			task: TASK,
			round: 1,
			who: 1,
			reason: RejectReason::BelowMinimum { score: f.score(), min_score: MIN_SCORE },
		}));
		// Not a fault: no deposit lost.
		assert_eq!(Balances::reserved_balance(1), WorkerDeposit::get());
	});
}

#[test]
fn tampered_proofs_are_rejected_pay_full_weight_and_repeated_ones_cost_deposit() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		let mut f = fixture("w0");
		let mid = f.proof.len() / 2;
		f.proof[mid] ^= 1;
		commit(1, &f);
		run_to_reveal();
		let info = f_call_info(&f);
		let post = reveal(1, &f).unwrap();
		assert_eq!(post.actual_weight, None); // the full charged weight
		assert_eq!(post.pays_fee, Pays::Yes);
		assert!(info.call_weight.ref_time() > 0);
		assert!(zkpot_events().iter().any(|e| matches!(
			e,
			Event::ProofRejected { who: 1, reason: RejectReason::InvalidProof(_), .. }
		)));
		assert_eq!(contributions(1), 0);
		// The first invalid proof is free.
		assert_eq!(Balances::reserved_balance(1), 100);
		// A tampered score fails too, in the next round, and now costs 10% of the deposit.
		run_to_election();
		run_to_block(System::block_number() + 1);
		let mut g = fixture("w1");
		let s = layout().score_index as usize;
		g.instances[s][31] = g.instances[s][31].wrapping_add(1);
		commit(1, &g);
		run_to_reveal();
		assert_ok!(reveal(1, &g));
		// The verifier's own kind, not a coarse class: well formed, but the pairing fails.
		assert!(zkpot_events().contains(&Event::ProofRejected {
			task: TASK,
			round: 2,
			who: 1,
			reason: RejectReason::InvalidProof(VerificationFailure::PairingFailed),
		}));
		assert_eq!(Balances::reserved_balance(1), 90);
		assert_eq!(Workers::<Test>::get(1).unwrap().invalid_proofs, 2);
		assert!(zkpot_events().contains(&Event::WorkerSlashed {
			who: 1,
			amount: 10,
			reason: SlashReason::InvalidProofs
		}));
	});
}

#[test]
fn a_rejected_proof_says_what_the_verifier_found_and_where() {
	let cases: [(&str, fn(&mut Fixture) -> VerificationFailure); 2] = [
		("a second proof point off the curve", |f| {
			// The first point is the model commitment, checked before verification.
			f.proof[64..128].fill(0xff);
			VerificationFailure::NotOnCurve { offset: 64 }
		}),
		("a truncated proof", |f| {
			let expected = f.proof.len() as u32;
			f.proof.truncate(f.proof.len() - 32);
			VerificationFailure::ProofLength { expected, got: expected - 32 }
		}),
	];
	for (what, tamper) in cases {
		new_test_ext().execute_with(|| {
			setup_round_one();
			worker(1);
			let mut f = fixture("w0");
			let want = tamper(&mut f);
			commit(1, &f);
			run_to_reveal();
			assert_ok!(reveal(1, &f));
			let got = zkpot_events().into_iter().find_map(|e| match e {
				Event::ProofRejected { reason: RejectReason::InvalidProof(r), .. } => Some(r),
				_ => None,
			});
			assert_eq!(got, Some(want), "{what}");
		});
	}
}

fn f_call_info(f: &Fixture) -> frame_support::dispatch::DispatchInfo {
	call_info_with_bound(f, verify_bound())
}

fn call_info_with_bound(f: &Fixture, verify_weight_bound: Weight) -> frame_support::dispatch::DispatchInfo {
	RuntimeCall::Zkpot(crate::Call::reveal {
		task: TASK,
		round: 1,
		proof: f.proof.clone().try_into().unwrap(),
		instances: f.instances.clone().try_into().unwrap(),
		verify_weight_bound,
	})
	.get_dispatch_info()
}

#[test]
fn a_reveal_is_charged_for_its_own_tasks_verification_not_the_costliest() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		let f = fixture("w0");
		commit(1, &f);
		run_to_reveal();
		let own = call_info_with_bound(&f, verify_bound()).call_weight;
		let costliest = call_info_with_bound(&f, Zkpot::max_verify_weight()).call_weight;
		assert!(own.ref_time() * 5 < costliest.ref_time(), "{own:?} vs {costliest:?}");
		// Asking for more than the costliest task is capped at it.
		assert_eq!(call_info_with_bound(&f, Weight::MAX).call_weight, costliest);
		// A bound below the task's cost is refused before any work; the reveal stays unused.
		let low = verify_bound().saturating_sub(Weight::from_parts(1, 0));
		assert_noop!(
			Zkpot::reveal(
				RuntimeOrigin::signed(1),
				TASK,
				1,
				f.proof.clone().try_into().unwrap(),
				f.instances.clone().try_into().unwrap(),
				low
			),
			Error::<Test>::VerifyWeightBoundTooLow
		);
		assert_ok!(reveal(1, &f));
		assert_eq!(contributions(1), 1);
	});
}

#[test]
fn an_accepted_reveal_is_refunded_down_to_its_tasks_verification_cost() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		let f = fixture("w0");
		commit(1, &f);
		run_to_reveal();
		let charged = f_call_info(&f).call_weight;
		let post = reveal(1, &f).unwrap();
		let used = post.actual_weight.unwrap();
		let task = Tasks::<Test>::get(TASK).unwrap();
		assert_eq!(
			used,
			<() as WeightInfo>::reveal_accepted(VKA.len() as u32).saturating_add(task.verify_weight)
		);
		assert!(used.all_lte(charged));
	});
}

#[test]
fn a_commitment_that_is_no_g1_point_is_refused_and_leaves_the_reveal_unused() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		for w in 1..=3 {
			worker(w);
		}
		// The identity where the commitment is.
		let mut zeroed = fixture("w0");
		let at = layout().commitment_offset as usize;
		zeroed.proof[at..at + 64].fill(0);
		// Off the curve: y + 1.
		let mut off = fixture("w1");
		off.proof[at + 63] ^= 1;
		// Too short to hold a commitment.
		let short = Fixture { proof: vec![1; 16], instances: fixture("w2").instances };
		commit(1, &zeroed);
		commit(2, &off);
		commit(3, &short);
		run_to_reveal();
		for (who, f) in [(1, &zeroed), (2, &off), (3, &short)] {
			assert_noop!(reveal(who, f), Error::<Test>::InvalidCommitment);
			assert!(!Commits::<Test>::get((TASK, 1), who).unwrap().revealed);
		}
		assert_eq!(Workers::<Test>::get(1).unwrap().invalid_proofs, 0);
	});
}

#[test]
fn the_commitment_is_read_at_the_layouts_offset() {
	new_test_ext().execute_with(|| {
		// The same proofs with the commitment taken 32 bytes later (y of the first point,
		// x of the second): not a point.
		let shifted = InstanceLayout { commitment_offset: layout().commitment_offset + 32, ..layout() };
		assert_ok!(Zkpot::register_task(
			RuntimeOrigin::root(),
			VKA.to_vec().try_into().unwrap(),
			ArtifactHashes { onnx: [1; 32], settings: [2; 32], test_set: [3; 32] },
			shifted,
			MIN_SCORE,
			initial_model(),
			zero_commitment(),
			ALL_EQUAL,
			TIMING,
		));
		run_to_block(2);
		worker(1);
		let f = fixture("w0");
		commit(1, &f);
		run_to_reveal();
		assert_noop!(reveal(1, &f), Error::<Test>::InvalidCommitment);
	});
}

/// A `Zkpot::reveal` call as the chain receives it: pallet index, call index, arguments.
fn encoded_reveal(proof_len: usize, instances: usize) -> Vec<u8> {
	let mut call = vec![3u8, 5u8]; // Zkpot's index in the mock runtime, `reveal`'s call index
	(TASK, 1u32, vec![0u8; proof_len], vec![[0u8; 32]; instances], Weight::zero()).encode_to(&mut call);
	call
}

#[test]
fn oversized_input_is_refused_while_decoding() {
	let max_proof = <<Test as Config>::MaxProofLen as Get<u32>>::get() as usize;
	let max_instances = <<Test as Config>::MaxInstances as Get<u32>>::get() as usize;
	assert!(RuntimeCall::decode(&mut &encoded_reveal(max_proof, max_instances)[..]).is_ok());
	assert!(RuntimeCall::decode(&mut &encoded_reveal(max_proof + 1, 2)[..]).is_err());
	assert!(RuntimeCall::decode(&mut &encoded_reveal(16, max_instances + 1)[..]).is_err());
	let mut long_vka = vec![3u8, 0u8];
	vec![0u8; <<Test as Config>::MaxVkaLen as Get<u32>>::get() as usize + 1].encode_to(&mut long_vka);
	assert!(RuntimeCall::decode(&mut &long_vka[..]).is_err());
}

#[test]
fn wrong_instance_counts_and_out_of_range_scores_are_refused_before_verification() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		worker(2);
		let mut f = fixture("w0");
		f.instances.push([0; 32]);
		commit(1, &f);
		let mut g = fixture("w1");
		g.instances[layout().score_index as usize][0] = 1; // far beyond any number of samples
		commit(2, &g);
		run_to_reveal();
		assert_noop!(reveal(1, &f), Error::<Test>::WrongInstanceCount);
		assert_noop!(reveal(2, &g), Error::<Test>::ScoreOutOfRange);
	});
}

#[test]
fn a_round_without_valid_proofs_keeps_the_authors() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		commit(1, &fixture("weak"));
		run_to_reveal();
		assert_ok!(reveal(1, &fixture("weak")));
		run_to_election();
		assert!(zkpot_events().contains(&Event::AuthorSetKept {
			task: TASK,
			round: 1,
			reason: KeptReason::NoValidContribution
		}));
		assert!(Elections::<Test>::get((TASK, 1)).is_none());
		run_to_block(System::block_number() + 2 * SESSION_PERIOD);
		assert_eq!(Session::validators(), vec![GENESIS_AUTHOR]);
		// The next round opens anyway.
		assert!(round().index >= 2);
	});
}

#[test]
fn elected_accounts_without_session_keys_are_skipped() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		// 1 has the best score but no keys.
		assert_ok!(Zkpot::register_worker(RuntimeOrigin::signed(1)));
		worker(2);
		let (a, b) = best_and_other();
		commit(1, &a);
		commit(2, &b);
		run_to_reveal();
		assert_ok!(reveal(1, &a));
		assert_ok!(reveal(2, &b));
		run_to_election();
		let record = record(1);
		assert_eq!(record.ranking[0].0, 1); // still the leader, who aggregates
		assert_eq!(record.authors.to_vec(), vec![2]);
	});
}

#[test]
fn with_no_eligible_author_the_set_is_kept() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		assert_ok!(Zkpot::register_worker(RuntimeOrigin::signed(1)));
		commit(1, &fixture("w0"));
		run_to_reveal();
		assert_ok!(reveal(1, &fixture("w0")));
		run_to_election();
		let record = record(1);
		assert_eq!(record.outcome, ElectionOutcome::AuthorSetKept(KeptReason::NoEligibleAuthor));
		assert!(QueuedAuthors::<Test>::get().is_none());
		run_to_block(System::block_number() + 2 * SESSION_PERIOD);
		assert_eq!(Session::validators(), vec![GENESIS_AUTHOR]);
	});
}

/// The proof with the highest score and another with a lower one.
fn best_and_other() -> (Fixture, Fixture) {
	let mut all: Vec<Fixture> = ["w0", "w1", "w2", "w3", "w4", "w5"].iter().map(|n| fixture(n)).collect();
	all.sort_by_key(|f| std::cmp::Reverse(f.score()));
	let best = all.remove(0);
	let other = all.into_iter().find(|f| f.score() < best.score()).expect("two distinct scores");
	(best, other)
}

#[test]
fn a_leader_that_never_publishes_is_penalised_and_the_next_in_rank_publishes() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		worker(2);
		let (a, b) = best_and_other();
		commit(1, &a);
		commit(2, &b);
		run_to_reveal();
		assert_ok!(reveal(1, &a));
		assert_ok!(reveal(2, &b));
		run_to_election();
		let deadline = match round().phase {
			RoundPhase::Aggregation { turn: 0, deadline } => deadline,
			p => panic!("unexpected phase {p:?}"),
		};
		run_to_block(deadline);
		assert!(zkpot_events().contains(&Event::AggregatorMissed {
			task: TASK,
			round: 1,
			who: 1,
			next: Some(2)
		}));
		assert_eq!(Balances::reserved_balance(1), 50);
		assert_noop!(publish(1, 1, 9), Error::<Test>::NotAggregator);
		assert_ok!(publish(2, 1, 9));
		let global = Tasks::<Test>::get(TASK).unwrap().global_model;
		assert_eq!(global, ModelRef { commitment: aggregate_of(1).commitment, uri: uri(9) });
		assert_eq!(PendingPublications::<Test>::get(TASK).unwrap().by, 2);
	});
}

#[test]
fn when_nobody_publishes_the_round_closes_with_the_old_model() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		commit(1, &fixture("w0"));
		run_to_reveal();
		assert_ok!(reveal(1, &fixture("w0")));
		run_to_election();
		run_to_block(System::block_number() + TIMING.aggregation_blocks as u64);
		assert!(zkpot_events().contains(&Event::RoundClosed { task: TASK, round: 1, published: false }));
		assert_eq!(Tasks::<Test>::get(TASK).unwrap().global_model, initial_model());
		assert!(PendingPublications::<Test>::get(TASK).is_none());
		run_to_next_round();
		assert_eq!(round().index, 2);
		assert_eq!(round().base_model, initial_model().commitment);
	});
}

/// Puts contributions in storage as reveals would, for election tests independent of
/// which scores the fixtures happen to have. Commitment of `who`: `(10 + who)·G`.
fn contribute(who: u64, score: u32, block: u64) {
	Contributions::<Test>::insert(
		(TASK, 1),
		who,
		Contribution { who, commitment: point(10 + who), score, revealed_at: block },
	);
}

/// `(Σ wᵢkᵢ − (W − 1)·Z)·G` for contributions `(who, weight)` made by [`contribute`].
fn expected_aggregate(terms: &[(u64, u64)]) -> Commitment {
	let mut k = Fr::from(0u64);
	let mut total = Fr::from(0u64);
	for (who, w) in terms {
		k += Fr::from(10 + who) * Fr::from(*w);
		total += Fr::from(*w);
	}
	point_fr(k - (total - Fr::from(1u64)) * Fr::from(Z))
}

#[test]
fn election_order_is_score_then_earlier_reveal_then_account() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		for w in 1..=6 {
			worker(w);
		}
		contribute(6, 30, 5);
		contribute(5, 31, 6);
		contribute(4, 30, 4);
		contribute(3, 30, 5);
		contribute(2, 29, 4);
		contribute(1, 31, 6);
		run_to_election();
		let record = record(1);
		assert_eq!(
			record.ranking.to_vec(),
			vec![(1, 31), (5, 31), (4, 30), (3, 30), (6, 30), (2, 29)]
		);
		assert_eq!(record.authors.to_vec(), vec![1, 5, 4]); // K = 3
	});
}

#[test]
fn the_election_aggregates_with_equal_weights() {
	new_test_ext().execute_with(|| {
		register_task_with(ALL_EQUAL, point(Z));
		run_to_block(2);
		for w in 1..=3 {
			worker(w);
		}
		contribute(1, 31, 4);
		contribute(2, 29, 4);
		contribute(3, 30, 4);
		run_to_election();
		let agg = aggregate_of(1);
		// (11 + 12 + 13 − 2Z)·G, by rank.
		assert_eq!(agg.commitment, expected_aggregate(&[(1, 1), (2, 1), (3, 1)]));
		let direct = commitment::aggregate(&[(point(11), 1), (point(13), 1), (point(12), 1)], &point(Z)).unwrap();
		assert_eq!(agg.commitment, direct);
		assert_eq!(agg.included.to_vec(), vec![(1, 1), (3, 1), (2, 1)]);
		assert_eq!(agg.total_weight, 3);
		assert!(zkpot_events().contains(&Event::AggregateComputed {
			task: TASK,
			round: 1,
			commitment: agg.commitment,
			included: vec![(1, 1), (3, 1), (2, 1)],
			total_weight: 3,
		}));
	});
}

#[test]
fn the_election_aggregates_with_score_weights_and_a_zero_score_weighs_one() {
	new_test_ext().execute_with(|| {
		register_task_with(AggregationRule { top: 16, weighting: Weighting::Score, min_included_percent: 100 }, point(Z));
		run_to_block(2);
		Tasks::<Test>::mutate(TASK, |t| t.as_mut().unwrap().min_score = 0);
		for w in 1..=3 {
			worker(w);
		}
		contribute(1, 31, 4);
		contribute(2, 0, 4);
		contribute(3, 30, 4);
		run_to_election();
		let agg = aggregate_of(1);
		assert_eq!(agg.included.to_vec(), vec![(1, 31), (3, 30), (2, 1)]);
		assert_eq!(agg.total_weight, 62);
		assert_eq!(agg.commitment, expected_aggregate(&[(1, 31), (3, 30), (2, 1)]));
		let direct =
			commitment::aggregate(&[(point(11), 31), (point(13), 30), (point(12), 1)], &point(Z)).unwrap();
		assert_eq!(agg.commitment, direct);
	});
}

#[test]
fn only_the_top_ranked_contributions_are_aggregated() {
	new_test_ext().execute_with(|| {
		register_task_with(AggregationRule { top: 2, weighting: Weighting::Equal, min_included_percent: 100 }, point(Z));
		run_to_block(2);
		for w in 1..=4 {
			worker(w);
		}
		contribute(1, 28, 4);
		contribute(2, 31, 4);
		contribute(3, 30, 4);
		contribute(4, 31, 5);
		run_to_election();
		let record = record(1);
		assert_eq!(record.ranking.to_vec(), vec![(2, 31), (4, 31), (3, 30), (1, 28)]);
		let agg = record.aggregate.unwrap();
		assert_eq!(agg.included.to_vec(), vec![(2, 1), (4, 1)]);
		assert_eq!(agg.total_weight, 2);
		// C(a) + C(b) − C₀.
		assert_eq!(agg.commitment, point_fr(Fr::from(12u64) + Fr::from(14u64) - Fr::from(Z)));
		assert_ok!(publish(2, 1, 1));
		assert_eq!(PendingPublications::<Test>::get(TASK).unwrap().included.to_vec(), vec![2, 4]);
	});
}

#[test]
fn an_aggregate_at_infinity_cannot_be_published_and_its_turns_pass_unpunished() {
	new_test_ext().execute_with(|| {
		// C₀ = C₁ + C₂, so C₁ + C₂ − C₀ is the identity.
		register_task_with(ALL_EQUAL, point(11 + 12));
		run_to_block(2);
		worker(1);
		worker(2);
		contribute(1, 31, 4);
		contribute(2, 30, 4);
		run_to_election();
		let record = record(1);
		assert!(record.aggregate.is_none());
		assert!(!zkpot_events().iter().any(|e| matches!(e, Event::AggregateComputed { .. })));
		assert_noop!(publish(1, 1, 1), Error::<Test>::NotAggregationPhase);
		run_to_block(System::block_number() + 2 * TIMING.aggregation_blocks as u64);
		assert!(zkpot_events().contains(&Event::RoundClosed { task: TASK, round: 1, published: false }));
		assert_eq!(Balances::reserved_balance(1), 100);
		assert_eq!(Balances::reserved_balance(2), 100);
	});
}

#[test]
fn a_publisher_may_leave_out_contributions_down_to_the_tasks_minimum() {
	new_test_ext().execute_with(|| {
		register_task_with(
			AggregationRule { top: 16, weighting: Weighting::Score, min_included_percent: 67 },
			point(Z),
		);
		run_to_block(2);
		for w in 1..=4 {
			worker(w);
		}
		contribute(1, 31, 4);
		contribute(2, 30, 4);
		contribute(3, 29, 4);
		contribute(4, 28, 4);
		run_to_election();
		let elected = aggregate_of(1);
		// Names outside the aggregate, or twice, are refused; so is keeping under 67 %.
		assert_noop!(publish_set(1, 1, 1, &[1, 2, 5]), Error::<Test>::NotAggregated);
		assert_noop!(publish_set(1, 1, 1, &[1, 2, 2]), Error::<Test>::NotAggregated);
		assert_noop!(publish_set(1, 1, 1, &[1, 2]), Error::<Test>::TooFewIncluded);
		assert_noop!(publish_set(1, 1, 1, &[]), Error::<Test>::TooFewIncluded);
		// Three of four (75 %): the chain recomputes A over exactly those three.
		assert_ok!(publish_set(1, 1, 0xbb, &[4, 1, 2]));
		let record = record(1);
		let agg = record.aggregate.clone().unwrap();
		assert_eq!(agg.included.to_vec(), vec![(1, 31), (2, 30), (4, 28)]);
		assert_eq!(agg.total_weight, 89);
		assert_eq!(agg.commitment, expected_aggregate(&[(1, 31), (2, 30), (4, 28)]));
		assert_ne!(agg.commitment, elected.commitment);
		assert_eq!(record.left_out.to_vec(), vec![3]);
		assert_eq!(Tasks::<Test>::get(TASK).unwrap().global_model.commitment, agg.commitment);
		assert!(zkpot_events().contains(&Event::GlobalModelPublished {
			task: TASK,
			round: 1,
			by: 1,
			commitment: agg.commitment,
			uri: uri(0xbb).into_inner(),
			left_out: vec![3],
		}));
		// Everyone aggregated at the election needs the model, and may acknowledge it.
		assert_eq!(PendingPublications::<Test>::get(TASK).unwrap().included.to_vec(), vec![1, 2, 3, 4]);
	});
}

/// Round 1 with contributors 1..=4 aggregated and published by 1; returns in round 2's
/// commit phase.
fn published_round_one() {
	register_task_with(ALL_EQUAL, point(Z));
	run_to_block(2);
	for w in 1..=6 {
		worker(w);
	}
	contribute(1, 31, 4);
	contribute(2, 30, 4);
	contribute(3, 29, 4);
	contribute(4, 28, 4);
	run_to_election();
	assert_ok!(publish(1, 1, 0xbb));
	let pending = PendingPublications::<Test>::get(TASK).unwrap();
	assert_eq!(pending.round, 1);
	assert_eq!(pending.by, 1);
	assert_eq!(pending.reward, record(1).aggregator_reward);
	assert_eq!(pending.included.to_vec(), vec![1, 2, 3, 4]);
	run_to_next_round();
}

#[test]
fn publishing_takes_only_a_uri_and_makes_the_aggregate_the_global_model() {
	new_test_ext().execute_with(|| {
		register_task_with(ALL_EQUAL, point(Z));
		run_to_block(2);
		for w in 1..=2 {
			worker(w);
		}
		contribute(1, 31, 4);
		contribute(2, 30, 4);
		run_to_election();
		let issuance = Balances::total_issuance();
		assert_ok!(publish(1, 1, 0xbb));
		let a = expected_aggregate(&[(1, 1), (2, 1)]);
		assert_eq!(Tasks::<Test>::get(TASK).unwrap().global_model, ModelRef { commitment: a, uri: uri(0xbb) });
		assert!(zkpot_events().contains(&Event::GlobalModelPublished {
			task: TASK,
			round: 1,
			by: 1,
			commitment: a,
			uri: uri(0xbb).into_inner(),
			left_out: vec![],
		}));
		assert_eq!(Balances::total_issuance(), issuance, "the reward waits for the settlement");
		run_to_next_round();
		assert_eq!(round().base_model, a);
	});
}

#[test]
fn a_publication_confirmed_by_a_majority_of_included_contributors_is_paid() {
	new_test_ext().execute_with(|| {
		published_round_one();
		let reward = record(1).aggregator_reward;
		let before = Balances::free_balance(1);
		// 1, 2, 3 of the four included ack the publisher; 5 and 6 are not included.
		ack_only(1, Some(1));
		ack_only(2, Some(1));
		ack_only(3, Some(1));
		ack_only(4, Some(5));
		ack_only(5, Some(5));
		ack_only(6, Some(5));
		run_to_reveal();
		assert_eq!(Balances::free_balance(1) - before, reward);
		assert!(zkpot_events().contains(&Event::RewardPaid { task: TASK, round: 1, who: 1, amount: reward }));
		assert!(zkpot_events().contains(&Event::AggregationConfirmed { task: TASK, round: 1, by: 1, acks: 3, of: 4 }));
		assert_eq!(record(1).settlement, Some(Settlement { acks: 3, of: 4, paid: Some(1) }));
		assert!(PendingPublications::<Test>::get(TASK).is_none());
		assert_eq!(Balances::reserved_balance(1), 100);
	});
}

#[test]
fn an_unconfirmed_publication_is_penalised_and_the_account_that_served_the_model_paid() {
	new_test_ext().execute_with(|| {
		published_round_one();
		let reward = record(1).aggregator_reward;
		let before = Balances::free_balance(6);
		// Half is not a majority: 2 of 4 name the publisher, 3 of 4 name account 6.
		ack_only(1, Some(1));
		ack_only(2, Some(6));
		ack_only(3, Some(6));
		ack_only(4, Some(6));
		ack_only(5, Some(1));
		run_to_reveal();
		assert_eq!(Balances::reserved_balance(1), 50);
		assert!(zkpot_events().contains(&Event::WorkerSlashed {
			who: 1,
			amount: 50,
			reason: SlashReason::UnconfirmedAggregation
		}));
		assert_eq!(Balances::free_balance(6) - before, reward);
		assert!(zkpot_events().contains(&Event::AggregationUnconfirmed {
			task: TASK,
			round: 1,
			by: 1,
			acks: 1,
			of: 4,
			served_by: Some(6),
		}));
		assert_eq!(record(1).settlement, Some(Settlement { acks: 1, of: 4, paid: Some(6) }));
		assert!(PendingPublications::<Test>::get(TASK).is_none());
	});
}

#[test]
fn without_any_majority_nobody_is_paid_and_missing_contributors_count_against() {
	new_test_ext().execute_with(|| {
		published_round_one();
		let issuance = Balances::total_issuance();
		// 2 of 4 for the publisher (3 and 4 do not commit at all): not a strict majority.
		ack_only(1, Some(1));
		ack_only(2, Some(1));
		run_to_reveal();
		assert_eq!(Balances::reserved_balance(1), 50);
		assert!(zkpot_events().contains(&Event::AggregationUnconfirmed {
			task: TASK,
			round: 1,
			by: 1,
			acks: 2,
			of: 4,
			served_by: None,
		}));
		assert_eq!(record(1).settlement, Some(Settlement { acks: 2, of: 4, paid: None }));
		// Only the slash changed the issuance: no reward was minted.
		assert_eq!(Balances::total_issuance(), issuance - 50);
	});
}

#[test]
fn a_publication_of_a_retired_task_is_dropped_unsettled() {
	new_test_ext().execute_with(|| {
		published_round_one();
		ack_only(2, Some(1));
		// Round 2 opened before the retirement: it settles round 1 as usual.
		assert_ok!(Zkpot::set_task_status(RuntimeOrigin::root(), TASK, TaskStatus::Retired));
		run_to_reveal();
		assert!(PendingPublications::<Test>::get(TASK).is_none());
		run_to_election();
		run_to_block(System::block_number() + 1);
		assert!(LiveTasks::<Test>::get().is_empty());

		// A task retired right after a publication drops it when it leaves.
		let task = 1;
		assert_ok!(Zkpot::register_task(
			RuntimeOrigin::root(),
			VKA.to_vec().try_into().unwrap(),
			ArtifactHashes { onnx: [1; 32], settings: [2; 32], test_set: [3; 32] },
			layout(),
			0,
			initial_model(),
			point(Z),
			ALL_EQUAL,
			TIMING,
		));
		PendingPublications::<Test>::insert(
			task,
			PendingPublication { round: 1, by: 3, reward: 5, included: BoundedVec::truncate_from(vec![3]) },
		);
		assert_ok!(Zkpot::set_task_status(RuntimeOrigin::root(), task, TaskStatus::Retired));
		run_to_block(System::block_number() + 2);
		assert!(PendingPublications::<Test>::get(task).is_none());
		assert!(zkpot_events().contains(&Event::PendingPublicationDropped { task, round: 1, by: 3 }));
	});
}

#[test]
fn rewards_are_split_by_score_rounding_down_and_the_rest_goes_to_the_aggregator() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		for w in 1..=3 {
			worker(w);
		}
		contribute(1, 31, 4);
		contribute(2, 30, 4);
		contribute(3, 29, 4);
		let before: Vec<u64> = (1..=3).map(Balances::free_balance).collect();
		run_to_election();
		// Pool 800 = 1000 - 20%: 800*31/90 = 275.5, 800*30/90 = 266.6, 800*29/90 = 257.7.
		let paid: Vec<u64> = (1..=3).map(|w| Balances::free_balance(w) - before[w as usize - 1]).collect();
		assert_eq!(paid, vec![275, 266, 257]);
		assert_eq!(record(1).aggregator_reward, 200 + 2);
		assert_ok!(publish(1, 1, 1));
		assert_eq!(PendingPublications::<Test>::get(TASK).unwrap().reward, 202);
		// Settled by round 2: two of the three included contributors ack the publisher.
		run_to_next_round();
		let issuance = Balances::total_issuance();
		ack_only(2, Some(1));
		ack_only(3, Some(1));
		run_to_reveal();
		assert_eq!(Balances::total_issuance() - issuance, 202);
	});
}

#[test]
fn a_single_contributor_takes_the_whole_reward_and_zero_scores_do_not_divide_by_zero() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		Tasks::<Test>::mutate(TASK, |t| t.as_mut().unwrap().min_score = 0);
		worker(1);
		contribute(1, 0, 4);
		let before = Balances::free_balance(1);
		run_to_election();
		assert_eq!(Balances::free_balance(1), before);
		assert_eq!(record(1).aggregator_reward, 1000);
	});
}

#[test]
fn workers_leave_now_or_when_their_last_round_closes() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		worker(2);
		assert_ok!(Zkpot::leave(RuntimeOrigin::signed(2)));
		assert_eq!(Balances::reserved_balance(2), 0);
		assert!(Workers::<Test>::get(2).is_none());

		commit(1, &fixture("w0"));
		assert_ok!(Zkpot::leave(RuntimeOrigin::signed(1)));
		assert_eq!(Balances::reserved_balance(1), 100);
		assert_noop!(Zkpot::leave(RuntimeOrigin::signed(1)), Error::<Test>::CannotLeaveYet);
		run_to_reveal();
		assert_ok!(reveal(1, &fixture("w0")));
		run_to_election();
		assert_ok!(publish(1, 1, 1));
		assert_eq!(Balances::reserved_balance(1), 0);
		assert!(Workers::<Test>::get(1).is_none());
		assert!(zkpot_events().contains(&Event::WorkerLeft { who: 1, deposit: 100 }));
		run_to_next_round();
		assert_noop!(
			Zkpot::commit(RuntimeOrigin::signed(1), TASK, 2, [0; 32], None),
			Error::<Test>::NotWorker
		);
		// Its publication is unconfirmed (it left, nobody acks): nothing left to slash.
		run_to_reveal();
		assert!(zkpot_events().contains(&Event::AggregationUnconfirmed {
			task: TASK,
			round: 1,
			by: 1,
			acks: 0,
			of: 1,
			served_by: None,
		}));
	});
}

#[test]
fn tasks_are_checked_at_registration_and_only_by_the_task_origin() {
	new_test_ext().execute_with(|| {
		let vka = || -> VkaOf<Test> { VKA.to_vec().try_into().unwrap() };
		let art = ArtifactHashes { onnx: [0; 32], settings: [0; 32], test_set: [0; 32] };
		let good = layout();
		let register = |origin: RuntimeOrigin,
		                vka: VkaOf<Test>,
		                layout: InstanceLayout,
		                initial: Commitment,
		                zero: Commitment,
		                aggregation: AggregationRule,
		                timing: RoundTiming| {
			Zkpot::register_task(
				origin,
				vka,
				art,
				layout,
				1,
				ModelRef { commitment: initial, uri: uri(1) },
				zero,
				aggregation,
				timing,
			)
		};
		let ok = |layout| register(RuntimeOrigin::root(), vka(), layout, point(1), point(Z), ALL_EQUAL, TIMING);
		assert_noop!(
			register(RuntimeOrigin::signed(1), vka(), good, point(1), point(Z), ALL_EQUAL, TIMING),
			DispatchError::BadOrigin
		);
		let mut broken = VKA.to_vec();
		broken.truncate(broken.len() - 32 * 5);
		assert_noop!(
			register(RuntimeOrigin::root(), broken.try_into().unwrap(), good, point(1), point(Z), ALL_EQUAL, TIMING),
			Error::<Test>::InvalidVka
		);
		let more = InstanceLayout { num_instances: good.num_instances + 1, ..good };
		assert_noop!(ok(more), Error::<Test>::InvalidVka);

		// Layouts.
		let none = InstanceLayout { num_instances: 0, score_index: 0, ..good };
		assert_noop!(ok(none), Error::<Test>::InvalidLayout);
		let score_out = InstanceLayout { score_index: good.num_instances, ..good };
		assert_noop!(ok(score_out), Error::<Test>::InvalidLayout);
		let too_many = InstanceLayout { num_instances: 9, ..good }; // MaxInstances 8
		assert_noop!(ok(too_many), Error::<Test>::InvalidLayout);
		let max_proof = <<Test as Config>::MaxProofLen as Get<u32>>::get();
		let past_end = InstanceLayout { commitment_offset: max_proof - 63, ..good };
		assert_noop!(ok(past_end), Error::<Test>::InvalidLayout);
		let overflow = InstanceLayout { commitment_offset: u32::MAX - 10, ..good };
		assert_noop!(ok(overflow), Error::<Test>::InvalidLayout);

		// Commitments: the identity, off the curve, not canonical.
		let mut off_curve = point(1);
		off_curve[63] ^= 1;
		let mut not_canonical = [0xff; 64];
		not_canonical[32..].copy_from_slice(&point(1)[32..]);
		for bad in [[0u8; 64], off_curve, not_canonical] {
			assert_noop!(
				register(RuntimeOrigin::root(), vka(), good, point(1), bad, ALL_EQUAL, TIMING),
				Error::<Test>::InvalidCommitment
			);
			assert_noop!(
				register(RuntimeOrigin::root(), vka(), good, bad, point(Z), ALL_EQUAL, TIMING),
				Error::<Test>::InvalidCommitment
			);
		}

		// Aggregation rules.
		for (top, min_included_percent) in [(0, 100), (17, 100), (16, 0), (16, 101)] {
			let rule = AggregationRule { top, weighting: Weighting::Score, min_included_percent };
			assert_noop!(
				register(RuntimeOrigin::root(), vka(), good, point(1), point(Z), rule, TIMING),
				Error::<Test>::InvalidAggregation
			);
		}
		let zero = RoundTiming { commit_blocks: 0, ..TIMING };
		assert_noop!(
			register(RuntimeOrigin::root(), vka(), good, point(1), point(Z), ALL_EQUAL, zero),
			Error::<Test>::InvalidTiming
		);
		let last = InstanceLayout { commitment_offset: max_proof - 64, ..good };
		assert_ok!(ok(last));
		let task = Tasks::<Test>::get(0).unwrap();
		assert_eq!(task.zero_commitment, point(Z));
		assert_eq!(task.aggregation, ALL_EQUAL);
		for _ in 0..3 {
			assert_ok!(ok(good));
		}
		assert_noop!(ok(good), Error::<Test>::TooManyTasks);
	});
}

#[test]
fn paused_tasks_finish_their_round_and_retired_ones_stop() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		assert_ok!(Zkpot::set_task_status(RuntimeOrigin::root(), TASK, TaskStatus::Paused));
		assert_noop!(
			Zkpot::commit(RuntimeOrigin::signed(1), TASK, 1, [0; 32], None),
			Error::<Test>::TaskNotActive
		);
		run_to_election();
		run_to_block(System::block_number() + 5);
		assert_eq!(round().index, 1); // no new round while paused
		assert_ok!(Zkpot::set_task_status(RuntimeOrigin::root(), TASK, TaskStatus::Active));
		run_to_block(System::block_number() + 1);
		assert_eq!(round().index, 2);
		assert_ok!(Zkpot::set_task_status(RuntimeOrigin::root(), TASK, TaskStatus::Retired));
		assert_noop!(
			Zkpot::set_task_status(RuntimeOrigin::root(), TASK, TaskStatus::Active),
			Error::<Test>::TaskRetired
		);
		run_to_block(round().reveal_end + 1);
		assert!(LiveTasks::<Test>::get().is_empty());
	});
}

#[test]
fn history_is_pruned_after_history_depth_rounds() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		let names = ["w0", "w1", "w2", "w3", "w4"];
		for (i, name) in names.iter().enumerate() {
			let r = i as u32 + 1;
			assert_eq!(round().index, r);
			commit_ack(1, &fixture(name), Some(1));
			run_to_reveal();
			assert_ok!(reveal(1, &fixture(name)));
			run_to_election();
			assert_ok!(publish(1, r, r as u8));
			run_to_block(System::block_number() + 1);
		}
		// Round 6 is open; with HistoryDepth = 3, rounds 1..=3 are gone, 4 and 5 kept.
		assert_eq!(round().index, 6);
		for r in 1..=3 {
			assert!(Elections::<Test>::get((TASK, r)).is_none(), "round {r}");
			assert_eq!(contributions(r), 0, "round {r}");
		}
		for r in 4..=5 {
			assert!(Elections::<Test>::get((TASK, r)).is_some(), "round {r}");
		}
		// Rounds 1..=3 were settled (confirmed) before they were pruned; 4 too.
		assert_eq!(record(4).settlement, Some(Settlement { acks: 1, of: 1, paid: Some(1) }));
		// Accepted commitments stay, so old proofs can never be replayed.
		assert!(AcceptedCommitments::<Test>::contains_key(TASK, fixture("w0").commitment()));
	});
}

#[test]
fn hooks_drop_a_task_without_round_instead_of_panicking() {
	new_test_ext().execute_with(|| {
		register_task();
		Rounds::<Test>::remove(TASK);
		Zkpot::on_initialize(5);
		assert!(LiveTasks::<Test>::get().is_empty());
	});
}

#[test]
fn workers_announce_their_endpoint_and_lose_it_when_leaving() {
	new_test_ext().execute_with(|| {
		let url: BoundedVec<u8, _> = b"http://10.0.0.1:8700".to_vec().try_into().unwrap();
		assert_noop!(Zkpot::set_endpoint(RuntimeOrigin::signed(1), url.clone()), Error::<Test>::NotWorker);
		worker(1);
		assert_ok!(Zkpot::set_endpoint(RuntimeOrigin::signed(1), url.clone()));
		assert_eq!(WorkerEndpoints::<Test>::get(1), Some(url));
		assert_ok!(Zkpot::leave(RuntimeOrigin::signed(1)));
		assert!(WorkerEndpoints::<Test>::get(1).is_none());
	});
}

/// The aggregates ezkl computed for the polycommit fixtures (`meta.json` `aggregates`):
/// the chain's aggregate of the members' proof commitments must equal ezkl's commitment of
/// the weighted sum of their quantized parameters, both directly and through an election.
#[test]
fn real_fixture_aggregates_match_ezkl() {
	let meta = meta();
	let zero = zero_commitment();
	for (name, p) in meta["proofs"].as_object().expect("meta.json proofs") {
		let want = p["commitment"].as_str().unwrap_or_else(|| panic!("meta.json proofs.{name}.commitment"));
		assert_eq!(fixture(name).commitment(), hex64(want), "{name}: commitment in the proof vs meta.json");
	}
	let aggregates = meta["aggregates"]
		.as_array()
		.expect("fixtures/digits/meta.json must list aggregates [{members, weights, commitment}]");
	assert!(!aggregates.is_empty(), "meta.json aggregates is empty");
	let mut through_election = 0;
	for (i, agg) in aggregates.iter().enumerate() {
		let members: Vec<String> = agg["members"]
			.as_array()
			.unwrap_or_else(|| panic!("aggregates[{i}].members"))
			.iter()
			.map(|m| m.as_str().unwrap().to_string())
			.collect();
		let weights: Vec<u64> = agg["weights"]
			.as_array()
			.unwrap_or_else(|| panic!("aggregates[{i}].weights"))
			.iter()
			.map(|w| w.as_u64().unwrap())
			.collect();
		assert_eq!(members.len(), weights.len(), "aggregates[{i}]");
		let want = hex64(agg["commitment"].as_str().unwrap_or_else(|| panic!("aggregates[{i}].commitment")));
		let terms: Vec<(Commitment, u64)> =
			members.iter().zip(&weights).map(|(m, w)| (fixture(m).commitment(), *w)).collect();
		assert_eq!(commitment::aggregate(&terms, &zero).unwrap(), want, "aggregates[{i}] {members:?}");

		// Through an election, where the task's weighting can express these weights.
		let scores: Vec<u64> = members.iter().map(|m| fixture(m).score().max(1) as u64).collect();
		let weighting = if weights.iter().all(|w| *w == 1) {
			Weighting::Equal
		} else if weights == scores {
			Weighting::Score
		} else {
			continue;
		};
		through_election += 1;
		new_test_ext().execute_with(|| {
			register_task_with(AggregationRule { top: members.len() as u32, weighting, min_included_percent: 100 }, zero);
			Tasks::<Test>::mutate(TASK, |t| t.as_mut().unwrap().min_score = 0);
			run_to_block(2);
			let accounts: Vec<u64> = (1..=members.len() as u64).collect();
			for (who, m) in accounts.iter().zip(&members) {
				worker(*who);
				commit(*who, &fixture(m));
			}
			run_to_reveal();
			for (who, m) in accounts.iter().zip(&members) {
				assert_ok!(reveal(*who, &fixture(m)));
			}
			run_to_election();
			let agg = aggregate_of(1);
			assert_eq!(agg.included.len(), members.len());
			assert_eq!(agg.commitment, want, "aggregates[{i}] through the election");
			assert_ok!(publish(agg.included[0].0, 1, 1));
			assert_eq!(Tasks::<Test>::get(TASK).unwrap().global_model.commitment, want);
		});
	}
	assert!(through_election > 0, "no aggregate of meta.json has equal or score weights");
}

#[test]
fn round_steps_over_the_hook_budget_wait_for_the_next_block() {
	new_test_ext().execute_with(|| {
		// Room for one step a block: the first task looked at moves, the other waits.
		MaxHookWeight::set(Weight::from_parts(1, 1));
		register_task();
		register_task();
		let opened = |t: TaskId| Rounds::<Test>::get(t).filter(|r| r.index > 0).map(|r| r.opened_at);
		run_to_block(2);
		assert_eq!((opened(0), opened(1)), (Some(2), None));
		// The waiting task goes first in the next block.
		assert_eq!(HookCursor::<Test>::get(), 1);
		run_to_block(3);
		assert_eq!((opened(0), opened(1)), (Some(2), Some(3)));
		// Both keep moving, one step a block, nobody starves.
		run_to_block(3 + 2 * (TIMING.commit_blocks + TIMING.reveal_blocks) as u64 + 4);
		for t in [0, 1] {
			assert!(Rounds::<Test>::get(t).unwrap().index >= 2, "task {t}");
		}
	});
}

#[test]
fn with_room_every_due_step_is_taken_in_its_block() {
	new_test_ext().execute_with(|| {
		register_task();
		register_task();
		run_to_block(2);
		for t in [0, 1] {
			assert_eq!(Rounds::<Test>::get(t).unwrap().opened_at, 2, "task {t}");
		}
	});
}
