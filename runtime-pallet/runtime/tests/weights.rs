//! The pallet's weights against this runtime's block limits (see docs/weights.md).

use frame_support::{dispatch::DispatchClass, traits::Get, weights::Weight};
use pallet_zkpot::{NativeVerifier, ProofVerifier, WeightInfo};
use zkpot_runtime::Runtime;

type Weights = <Runtime as pallet_zkpot::Config>::WeightInfo;
type MaxVkaLen = <Runtime as pallet_zkpot::Config>::MaxVkaLen;
type MaxContributors = <Runtime as pallet_zkpot::Config>::MaxContributors;
type MaxHookWeight = <Runtime as pallet_zkpot::Config>::MaxHookWeight;
type Zkpot = pallet_zkpot::Pallet<Runtime>;

/// Weight normal transactions may fill in a block, and what each one costs beyond its call.
fn normal_room() -> (Weight, Weight) {
	let weights = <Runtime as frame_system::Config>::BlockWeights::get();
	let normal = weights.get(DispatchClass::Normal);
	(normal.max_total.expect("normal extrinsics have a total limit"), normal.base_extrinsic)
}

/// How many transactions fit the normal part of one block by weight, when each must find
/// `upfront` free before it is applied and then uses `used` (after its refund).
fn per_block(upfront: Weight, used: Weight) -> u64 {
	let (room, base) = normal_room();
	let (upfront, used) = (upfront.saturating_add(base).ref_time(), used.saturating_add(base).ref_time());
	if upfront > room.ref_time() {
		return 0;
	}
	(room.ref_time() - upfront) / used + 1
}

fn max_extrinsic() -> Weight {
	<Runtime as frame_system::Config>::BlockWeights::get()
		.get(DispatchClass::Normal)
		.max_extrinsic
		.expect("normal extrinsics have a limit")
}

#[test]
fn every_call_fits_a_block() {
	let reveal = Weights::reveal_accepted(MaxVkaLen::get())
		.saturating_add(pallet_zkpot::Pallet::<Runtime>::max_verify_weight());
	let c: u32 = MaxContributors::get();
	let db = <Runtime as frame_system::Config>::DbWeight::get();
	// Extrinsics, with the most any caller can make them declare.
	for (name, w) in [
		("reveal", reveal),
		("register_task", Weights::register_task(MaxVkaLen::get())),
		// As declared by the call: the set checks, closing a round of `c` commits, and a
		// recomputed aggregate with its contributions read.
		(
			"publish_model",
			Weights::publish_model(c).saturating_add(Weights::aggregate(c)).saturating_add(db.reads(c.into())),
		),
	] {
		assert!(w.all_lte(max_extrinsic()), "{name}: {w:?} > {:?}", max_extrinsic());
		assert!(w.ref_time() > 0, "{name} has a measured weight");
	}
	// Hook steps: each within the hook's budget, which is within a block.
	let max_block = <Runtime as frame_system::Config>::BlockWeights::get().max_block;
	assert!(MaxHookWeight::get().all_lte(max_block));
	for (name, w) in [
		// The election adds the aggregate of up to `c` terms.
		("elect", Weights::elect(c).saturating_add(Weights::aggregate(c))),
		("settle", Weights::settle(c)),
		("aggregator_missed", Weights::aggregator_missed(c)),
		("open_round", Weights::open_round().saturating_add(db.writes(c.into()))),
	] {
		assert!(w.all_lte(MaxHookWeight::get()), "{name}: {w:?} > {:?}", MaxHookWeight::get());
		assert!(w.ref_time() > 0, "{name} has a measured weight");
	}
}

fn fixture_vkas() -> Vec<(&'static str, Vec<u8>, u32)> {
	// Read at run time, not with env!: a target directory shared by several checkouts
	// would keep the path of the checkout that compiled this.
	let root = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("..");
	// Instance counts from the fixtures' meta.json, so that regenerated fixtures keep working.
	let meta = |path: std::path::PathBuf| -> serde_json::Value {
		serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
	};
	let mut vkas = Vec::new();
	for name in ["zkpot-mlp", "cnn-public", "sigmoid-hashed"] {
		let dir = root.join("verifier/fixtures").join(name);
		let file = std::fs::read(dir.join("vka.bin")).unwrap();
		let instances = meta(dir.join("meta.json"))["num_instances"].as_u64().unwrap() as u32;
		vkas.push((name, file[8..].to_vec(), instances));
	}
	let digits = root.join("pallet-zkpot/fixtures/digits");
	let instances = meta(digits.join("meta.json"))["layout"]["num_instances"].as_u64().unwrap() as u32;
	vkas.push(("digits", std::fs::read(digits.join("vka.bin")).unwrap(), instances));
	vkas
}

#[test]
fn the_real_vkas_cost_well_under_the_bound() {
	let bound = pallet_zkpot::Pallet::<Runtime>::max_verify_weight();
	for (name, words, instances) in fixture_vkas() {
		let w = NativeVerifier::check_vka(&words, instances).expect("the fixture VKA is usable");
		assert!(w.ref_time() > 0, "{name}");
		// Room for circuits several times larger than the fixtures.
		assert!(w.ref_time().saturating_mul(4) <= bound.ref_time(), "{name}: {w:?} vs {bound:?}");
	}
}

/// The verification weight of the digits task as `register_task` records it.
fn digits_verify_weight() -> Weight {
	let (_, words, instances) =
		fixture_vkas().into_iter().find(|(n, _, _)| *n == "digits").expect("digits fixture");
	NativeVerifier::check_vka(&words, instances).expect("the digits VKA is usable")
}

#[test]
fn reveals_are_charged_for_their_own_task_so_more_fit_a_block() {
	let digits_vka = fixture_vkas().into_iter().find(|(n, _, _)| *n == "digits").unwrap().1.len() as u32;
	// What a digits reveal uses after its refund.
	let used = Weights::reveal_accepted(digits_vka).saturating_add(digits_verify_weight());
	let declared = |bound: Weight| {
		Weights::reveal_accepted(MaxVkaLen::get()).saturating_add(Zkpot::bounded_verify_weight(bound))
	};
	// Before: every reveal needed the costliest task's verification free before it ran.
	let before = per_block(declared(Zkpot::max_verify_weight()), used);
	// After: a digits reveal names the digits task's verification weight as its bound.
	let after = per_block(declared(digits_verify_weight()), used);
	println!("digits reveals per block by weight: {before} before, {after} after");
	assert!(after > before, "{after} vs {before}");
}

#[test]
fn a_round_of_1024_contributors_fits_the_blocks() {
	let c: u32 = MaxContributors::get();
	assert_eq!(c, 1024);
	let max_block = <Runtime as frame_system::Config>::BlockWeights::get().max_block;
	// Every step the hook takes for one task, at 1024, fits its budget and the block; the
	// hook defers other tasks' steps that would go over.
	let worst = Zkpot::worst_step_weight();
	assert!(worst.all_lte(MaxHookWeight::get()), "{worst:?} > {:?}", MaxHookWeight::get());
	assert!(MaxHookWeight::get().all_lte(max_block));
	// 1024 commits and 1024 digits reveals, by weight: the windows a task needs.
	let commits_per_block = per_block(Weights::commit(), Weights::commit());
	let reveal = Weights::reveal_accepted(MaxVkaLen::get()).saturating_add(digits_verify_weight());
	let reveals_per_block = per_block(reveal, reveal);
	let commit_blocks = u64::from(c).div_ceil(commits_per_block);
	let reveal_blocks = u64::from(c).div_ceil(reveals_per_block);
	println!(
		"1024 contributors: worst hook step {:.1} ms of {:.1} ms; commits {commits_per_block}/block \
		 ({commit_blocks} blocks), digits reveals {reveals_per_block}/block ({reveal_blocks} blocks)",
		worst.ref_time() as f64 / 1e9,
		MaxHookWeight::get().ref_time() as f64 / 1e9,
	);
	assert!(commit_blocks <= 2 && reveal_blocks <= 64, "{commit_blocks} / {reveal_blocks}");
	// A commit window of a few blocks and a reveal window of a minute and a half of
	// six-second blocks are allowed windows.
	assert!(reveal_blocks as u32 <= <Runtime as pallet_zkpot::Config>::MaxWindow::get());
}
