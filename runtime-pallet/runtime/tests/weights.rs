//! The pallet's weights against this runtime's block limits (see docs/weights.md).

use frame_support::{dispatch::DispatchClass, traits::Get, weights::Weight};
use pallet_zkpot::{NativeVerifier, ProofVerifier, WeightInfo};
use zkpot_runtime::Runtime;

type Weights = <Runtime as pallet_zkpot::Config>::WeightInfo;
type MaxVkaLen = <Runtime as pallet_zkpot::Config>::MaxVkaLen;
type MaxContributors = <Runtime as pallet_zkpot::Config>::MaxContributors;

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
	let c = MaxContributors::get();
	for (name, w) in [
		("reveal", reveal),
		("register_task", Weights::register_task(MaxVkaLen::get())),
		("publish_model", Weights::publish_model(c)),
		("elect", Weights::elect(c)),
		("aggregator_missed", Weights::aggregator_missed(c)),
	] {
		assert!(w.all_lte(max_extrinsic()), "{name}: {w:?} > {:?}", max_extrinsic());
		assert!(w.ref_time() > 0, "{name} has a measured weight");
	}
}

fn fixture_vkas() -> Vec<(&'static str, Vec<u8>, u32)> {
	let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
	let mut vkas = Vec::new();
	for (name, instances) in [("zkpot-mlp", 2), ("cnn-public", 39), ("sigmoid-hashed", 4)] {
		let file = std::fs::read(root.join("verifier/fixtures").join(name).join("vka.bin")).unwrap();
		vkas.push((name, file[8..].to_vec(), instances));
	}
	vkas.push(("digits", std::fs::read(root.join("pallet-zkpot/fixtures/digits/vka.bin")).unwrap(), 2));
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
