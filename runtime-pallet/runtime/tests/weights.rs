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
		// As declared by the call: the set checks plus a recomputed aggregate.
		("publish_model", Weights::publish_model(c).saturating_add(Weights::aggregate(c))),
		// The election hook adds the aggregate of up to `c` terms; the commit-to-reveal
		// transition adds the settlement of the previous publication.
		("elect", Weights::elect(c).saturating_add(Weights::aggregate(c))),
		("settle", Weights::settle(c)),
		("aggregator_missed", Weights::aggregator_missed(c)),
	] {
		assert!(w.all_lte(max_extrinsic()), "{name}: {w:?} > {:?}", max_extrinsic());
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
