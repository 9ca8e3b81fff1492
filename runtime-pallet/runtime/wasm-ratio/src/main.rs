//! Native counterpart of the wasm module, from the same code and profile:
//!
//! - `native verify DIR ITERATIONS ROUNDS`: `DIR` holds `vka`, `proof` and `instances`
//!   written by `measure.py`; prints the time of each round of `ITERATIONS` verifications;
//! - `native cost DIR`: prints the VKA's `VerifyCost`;
//! - `native unit OP N ITERATIONS ROUNDS`: prints the time of each round of `ITERATIONS`
//!   runs of unit operation `OP` of size `N` (see `zkpot_wasm_ratio::unit`);
//! - `native blake2 N ITERATIONS ROUNDS`: the same for blake2_256 of `N` bytes, which a
//!   runtime computes through a host function, natively.
//!
//! Times are in nanoseconds, one line per round.

fn main() {
	let args: Vec<String> = std::env::args().collect();
	let arg = |i: usize| -> u32 { args[i].parse().expect("number") };
	match args[1].as_str() {
		"verify" | "cost" => {
			let dir = std::path::Path::new(&args[2]);
			let read = |f: &str| std::fs::read(dir.join(f)).expect("input file");
			let (vka, proof, instances) = (read("vka"), read("proof"), read("instances"));
			if args[1] == "cost" {
				let cost = zkpot_verifier::Vka::parse(&vka).expect("VKA parses").cost();
				println!("{cost:?}");
				return;
			}
			let (iterations, rounds) = (arg(3), arg(4));
			assert_eq!(zkpot_wasm_ratio::run(&vka, &proof, &instances, 1), 1, "the proof verifies");
			for _ in 0..rounds {
				let start = std::time::Instant::now();
				let ok = zkpot_wasm_ratio::run(&vka, &proof, &instances, iterations);
				let elapsed = start.elapsed().as_nanos();
				assert_eq!(ok, iterations);
				println!("{elapsed}");
			}
		},
		"unit" => {
			let (op, n, iterations, rounds) = (arg(2), arg(3), arg(4), arg(5));
			let mut f = zkpot_wasm_ratio::unit(op, n);
			f();
			for _ in 0..rounds {
				let start = std::time::Instant::now();
				for _ in 0..iterations {
					f();
				}
				println!("{}", start.elapsed().as_nanos());
			}
		},
		"blake2" => {
			// `native blake2 N ITERATIONS ROUNDS`: blake2_256 of N bytes, as sp-io's host
			// function computes it.
			let (n, iterations, rounds) = (arg(2), arg(3), arg(4));
			let bytes = vec![0x5au8; n as usize];
			for _ in 0..rounds {
				let start = std::time::Instant::now();
				for _ in 0..iterations {
					std::hint::black_box(sp_crypto_hashing::blake2_256(std::hint::black_box(&bytes)));
				}
				println!("{}", start.elapsed().as_nanos());
			}
		},
		other => panic!("unknown mode {other}"),
	}
}
