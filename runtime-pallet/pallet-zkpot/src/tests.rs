//! Tests of the ZKPoT pallet in the mock runtime, with real ezkl proofs
//! (`fixtures/digits`, made by `fixtures/generate.py`) verified by the native verifier.

use crate::{mock::*, *};
use codec::{Decode, Encode};
use frame_support::{
	assert_noop, assert_ok,
	dispatch::{GetDispatchInfo, Pays},
	traits::{Get, Hooks},
	BoundedVec,
};
use sp_runtime::{testing::UintAuthorityId, DispatchError};

const VKA: &[u8] = include_bytes!("../fixtures/digits/vka.bin");

/// A real proof of the fixture task: name in `fixtures/digits`.
struct Fixture {
	proof: Vec<u8>,
	instances: Vec<[u8; 32]>,
}

fn fixture(name: &str) -> Fixture {
	let (proof, instances): (&[u8], &[u8]) = match name {
		"w0" => (include_bytes!("../fixtures/digits/w0.proof"), include_bytes!("../fixtures/digits/w0.instances")),
		"w1" => (include_bytes!("../fixtures/digits/w1.proof"), include_bytes!("../fixtures/digits/w1.instances")),
		"w2" => (include_bytes!("../fixtures/digits/w2.proof"), include_bytes!("../fixtures/digits/w2.instances")),
		"w3" => (include_bytes!("../fixtures/digits/w3.proof"), include_bytes!("../fixtures/digits/w3.instances")),
		"w4" => (include_bytes!("../fixtures/digits/w4.proof"), include_bytes!("../fixtures/digits/w4.instances")),
		"w5" => (include_bytes!("../fixtures/digits/w5.proof"), include_bytes!("../fixtures/digits/w5.instances")),
		"weak" => (include_bytes!("../fixtures/digits/weak.proof"), include_bytes!("../fixtures/digits/weak.instances")),
		other => panic!("no fixture {other}"),
	};
	Fixture {
		proof: proof.to_vec(),
		instances: instances.chunks(32).map(|c| c.try_into().unwrap()).collect(),
	}
}

impl Fixture {
	fn score(&self) -> u32 {
		u32::from_be_bytes(self.instances[1][28..].try_into().unwrap())
	}
	fn commitment(&self) -> [u8; 32] {
		self.instances[0]
	}
}

const TASK: TaskId = 0;
const MIN_SCORE: u32 = 24;
const TIMING: RoundTiming = RoundTiming { commit_blocks: 3, reveal_blocks: 3, aggregation_blocks: 2 };

fn model(byte: u8) -> ModelRefOf<Test> {
	ModelRef { commitment: [byte; 32], uri: b"http://127.0.0.1/model".to_vec().try_into().unwrap() }
}

fn register_task() {
	assert_ok!(Zkpot::register_task(
		RuntimeOrigin::root(),
		VKA.to_vec().try_into().unwrap(),
		ArtifactHashes { onnx: [1; 32], settings: [2; 32], test_set: [3; 32] },
		InstanceLayout { num_instances: 2, commitment_index: 0, score_index: 1 },
		MIN_SCORE,
		model(0xaa),
		TIMING,
	));
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

fn commit(who: u64, f: &Fixture) {
	let r = round().index;
	let digest = Zkpot::digest(&who, TASK, r, &f.proof, &f.instances);
	assert_ok!(Zkpot::commit(RuntimeOrigin::signed(who), TASK, r, digest));
}

fn reveal(who: u64, f: &Fixture) -> frame_support::dispatch::DispatchResultWithPostInfo {
	Zkpot::reveal(
		RuntimeOrigin::signed(who),
		TASK,
		round().index,
		f.proof.clone().try_into().unwrap(),
		f.instances.clone().try_into().unwrap(),
	)
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

#[test]
fn fixtures_are_what_the_tests_assume() {
	for name in ["w0", "w1", "w2", "w3", "w4", "w5"] {
		assert!(fixture(name).score() >= MIN_SCORE, "{name}");
	}
	assert!(fixture("weak").score() < MIN_SCORE);
	let commitments: std::collections::BTreeSet<_> =
		["w0", "w1", "w2", "w3", "w4", "w5", "weak"].iter().map(|n| fixture(n).commitment()).collect();
	assert_eq!(commitments.len(), 7);
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
		assert_eq!(Contributions::<Test>::get((TASK, 1)).len(), 4);
		let before: Vec<u64> = (1..=4).map(Balances::free_balance).collect();
		run_to_election();

		// Ranked by score, then reveal block (all equal here), then account.
		let mut expected: Vec<(u64, u32)> = proofs.iter().map(|(w, f)| (*w, f.score())).collect();
		expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
		let record = Elections::<Test>::get((TASK, 1)).unwrap();
		assert_eq!(record.ranking.to_vec(), expected);
		let leader = expected[0].0;
		let authors: Vec<u64> = expected.iter().take(3).map(|(w, _)| *w).collect();
		assert_eq!(record.authors.to_vec(), authors);
		assert_eq!(record.outcome, ElectionOutcome::AuthorsQueued);
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

		// The leader publishes; the next round trains from the new model.
		assert_noop!(
			Zkpot::publish_model(RuntimeOrigin::signed(expected[1].0), TASK, 1, model(0xbb)),
			Error::<Test>::NotAggregator
		);
		let leader_before = Balances::free_balance(leader);
		assert_ok!(Zkpot::publish_model(RuntimeOrigin::signed(leader), TASK, 1, model(0xbb)));
		assert_eq!(Balances::free_balance(leader) - leader_before, record.aggregator_reward);
		assert_eq!(Tasks::<Test>::get(TASK).unwrap().global_model, model(0xbb));
		assert!(matches!(round().phase, RoundPhase::Closed { .. }));

		// Round 2 opens in the next block with the published model as its base.
		run_to_block(System::block_number() + 1);
		assert_eq!(round().index, 2);
		assert_eq!(round().base_model, [0xbb; 32]);
		let second = [(1, fixture("w4")), (2, fixture("w5"))];
		for (who, f) in second.iter() {
			commit(*who, f);
		}
		run_to_reveal();
		for (who, f) in second.iter() {
			assert_ok!(reveal(*who, f));
		}
		run_to_election();
		let record = Elections::<Test>::get((TASK, 2)).unwrap();
		assert_eq!(record.ranking.len(), 2);
		assert_ok!(Zkpot::publish_model(
			RuntimeOrigin::signed(record.ranking[0].0),
			TASK,
			2,
			model(0xcc)
		));
		run_to_block(System::block_number() + 1);
		assert_eq!(round().index, 3);
		assert_eq!(round().base_model, [0xcc; 32]);

		// Round 2's authors (the last election) author the session after the next.
		let mut want: Vec<u64> = record.authors.to_vec();
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
		assert_ok!(Zkpot::publish_model(RuntimeOrigin::signed(1), TASK, 1, model(1)));
		run_to_block(System::block_number() + 1);
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
			Zkpot::commit(RuntimeOrigin::signed(2), TASK, 1, digest),
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
			Zkpot::commit(RuntimeOrigin::signed(1), TASK, 1, digest),
			Error::<Test>::AlreadyCommitted
		);
		run_to_reveal();
		assert_ok!(reveal(1, &f));
		assert_noop!(reveal(1, &f), Error::<Test>::AlreadyRevealed);
	});
}

#[test]
fn unregistered_accounts_wrong_tasks_and_wrong_rounds_are_refused() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		let f = fixture("w0");
		assert_noop!(Zkpot::commit(RuntimeOrigin::signed(5), TASK, 1, [0; 32]), Error::<Test>::NotWorker);
		worker(1);
		assert_noop!(Zkpot::commit(RuntimeOrigin::signed(1), 7, 1, [0; 32]), Error::<Test>::TaskNotFound);
		assert_noop!(Zkpot::commit(RuntimeOrigin::signed(1), TASK, 2, [0; 32]), Error::<Test>::WrongRound);
		assert_noop!(Zkpot::commit(RuntimeOrigin::signed(1), TASK, 0, [0; 32]), Error::<Test>::WrongRound);
		commit(1, &f);
		run_to_reveal();
		assert_noop!(
			Zkpot::reveal(
				RuntimeOrigin::signed(1),
				TASK,
				2,
				f.proof.clone().try_into().unwrap(),
				f.instances.clone().try_into().unwrap()
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
		assert!(Contributions::<Test>::get((TASK, 1)).is_empty());
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
		assert!(Contributions::<Test>::get((TASK, 1)).is_empty());
		// The first invalid proof is free.
		assert_eq!(Balances::reserved_balance(1), 100);
		// A tampered score fails too, in the next round, and now costs 10% of the deposit.
		run_to_election();
		run_to_block(System::block_number() + 1);
		let mut g = fixture("w1");
		g.instances[1][31] = g.instances[1][31].wrapping_add(1);
		commit(1, &g);
		run_to_reveal();
		assert_ok!(reveal(1, &g));
		assert_eq!(Balances::reserved_balance(1), 90);
		assert_eq!(Workers::<Test>::get(1).unwrap().invalid_proofs, 2);
		assert!(zkpot_events().contains(&Event::WorkerSlashed {
			who: 1,
			amount: 10,
			reason: SlashReason::InvalidProofs
		}));
	});
}

fn f_call_info(f: &Fixture) -> frame_support::dispatch::DispatchInfo {
	RuntimeCall::Zkpot(crate::Call::reveal {
		task: TASK,
		round: 1,
		proof: f.proof.clone().try_into().unwrap(),
		instances: f.instances.clone().try_into().unwrap(),
	})
	.get_dispatch_info()
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

/// A `Zkpot::reveal` call as the chain receives it: pallet index, call index, arguments.
fn encoded_reveal(proof_len: usize, instances: usize) -> Vec<u8> {
	let mut call = vec![3u8, 5u8]; // Zkpot's index in the mock runtime, `reveal`'s call index
	(TASK, 1u32, vec![0u8; proof_len], vec![[0u8; 32]; instances]).encode_to(&mut call);
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
		g.instances[1][0] = 1; // far beyond any number of samples
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
		let record = Elections::<Test>::get((TASK, 1)).unwrap();
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
		let record = Elections::<Test>::get((TASK, 1)).unwrap();
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
		assert_noop!(
			Zkpot::publish_model(RuntimeOrigin::signed(1), TASK, 1, model(9)),
			Error::<Test>::NotAggregator
		);
		assert_ok!(Zkpot::publish_model(RuntimeOrigin::signed(2), TASK, 1, model(9)));
		assert_eq!(Tasks::<Test>::get(TASK).unwrap().global_model, model(9));
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
		assert_eq!(Tasks::<Test>::get(TASK).unwrap().global_model, model(0xaa));
		run_to_block(System::block_number() + 1);
		assert_eq!(round().index, 2);
		assert_eq!(round().base_model, [0xaa; 32]);
	});
}

/// Puts contributions in storage as reveals would, for election tests independent of
/// which scores the fixtures happen to have.
fn contribute(who: u64, score: u32, block: u64) {
	let mut c = [0u8; 32];
	c[..8].copy_from_slice(&who.to_le_bytes());
	Contributions::<Test>::mutate((TASK, 1), |l| {
		l.try_push(Contribution { who, commitment: c, score, revealed_at: block }).unwrap()
	});
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
		let record = Elections::<Test>::get((TASK, 1)).unwrap();
		assert_eq!(
			record.ranking.to_vec(),
			vec![(1, 31), (5, 31), (4, 30), (3, 30), (6, 30), (2, 29)]
		);
		assert_eq!(record.authors.to_vec(), vec![1, 5, 4]); // K = 3
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
		let record = Elections::<Test>::get((TASK, 1)).unwrap();
		assert_eq!(record.aggregator_reward, 200 + 2);
		let issuance = Balances::total_issuance();
		assert_ok!(Zkpot::publish_model(RuntimeOrigin::signed(1), TASK, 1, model(1)));
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
		assert_eq!(Elections::<Test>::get((TASK, 1)).unwrap().aggregator_reward, 1000);
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
		assert_ok!(Zkpot::publish_model(RuntimeOrigin::signed(1), TASK, 1, model(1)));
		assert_eq!(Balances::reserved_balance(1), 0);
		assert!(Workers::<Test>::get(1).is_none());
		assert!(zkpot_events().contains(&Event::WorkerLeft { who: 1, deposit: 100 }));
		run_to_block(System::block_number() + 1);
		assert_noop!(
			Zkpot::commit(RuntimeOrigin::signed(1), TASK, 2, [0; 32]),
			Error::<Test>::NotWorker
		);
	});
}

#[test]
fn tasks_are_checked_at_registration_and_only_by_the_task_origin() {
	new_test_ext().execute_with(|| {
		let vka = || -> VkaOf<Test> { VKA.to_vec().try_into().unwrap() };
		let art = ArtifactHashes { onnx: [0; 32], settings: [0; 32], test_set: [0; 32] };
		let layout = InstanceLayout { num_instances: 2, commitment_index: 0, score_index: 1 };
		assert_noop!(
			Zkpot::register_task(RuntimeOrigin::signed(1), vka(), art, layout, 1, model(1), TIMING),
			DispatchError::BadOrigin
		);
		let mut broken = VKA.to_vec();
		broken.truncate(broken.len() - 32 * 5);
		assert_noop!(
			Zkpot::register_task(RuntimeOrigin::root(), broken.try_into().unwrap(), art, layout, 1, model(1), TIMING),
			Error::<Test>::InvalidVka
		);
		let three = InstanceLayout { num_instances: 3, commitment_index: 0, score_index: 1 };
		assert_noop!(
			Zkpot::register_task(RuntimeOrigin::root(), vka(), art, three, 1, model(1), TIMING),
			Error::<Test>::InvalidVka
		);
		let same = InstanceLayout { num_instances: 2, commitment_index: 1, score_index: 1 };
		assert_noop!(
			Zkpot::register_task(RuntimeOrigin::root(), vka(), art, same, 1, model(1), TIMING),
			Error::<Test>::InvalidLayout
		);
		let zero = RoundTiming { commit_blocks: 0, ..TIMING };
		assert_noop!(
			Zkpot::register_task(RuntimeOrigin::root(), vka(), art, layout, 1, model(1), zero),
			Error::<Test>::InvalidTiming
		);
		for _ in 0..4 {
			assert_ok!(Zkpot::register_task(RuntimeOrigin::root(), vka(), art, layout, 1, model(1), TIMING));
		}
		assert_noop!(
			Zkpot::register_task(RuntimeOrigin::root(), vka(), art, layout, 1, model(1), TIMING),
			Error::<Test>::TooManyTasks
		);
	});
}

#[test]
fn paused_tasks_finish_their_round_and_retired_ones_stop() {
	new_test_ext().execute_with(|| {
		setup_round_one();
		worker(1);
		assert_ok!(Zkpot::set_task_status(RuntimeOrigin::root(), TASK, TaskStatus::Paused));
		assert_noop!(
			Zkpot::commit(RuntimeOrigin::signed(1), TASK, 1, [0; 32]),
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
			commit(1, &fixture(name));
			run_to_reveal();
			assert_ok!(reveal(1, &fixture(name)));
			run_to_election();
			assert_ok!(Zkpot::publish_model(RuntimeOrigin::signed(1), TASK, r, model(r as u8)));
			run_to_block(System::block_number() + 1);
		}
		// Round 6 is open; with HistoryDepth = 3, rounds 1..=3 are gone, 4 and 5 kept.
		assert_eq!(round().index, 6);
		for r in 1..=3 {
			assert!(Elections::<Test>::get((TASK, r)).is_none(), "round {r}");
			assert!(Contributions::<Test>::get((TASK, r)).is_empty(), "round {r}");
		}
		for r in 4..=5 {
			assert!(Elections::<Test>::get((TASK, r)).is_some(), "round {r}");
		}
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
