//! Two entry points: [`run`] verifies a proof `iterations` times, [`unit`] repeats one of
//! the operations verification is made of. Compiled to wasm they are driven by `measure.py`
//! through wasmtime (the engine Substrate executes runtimes with), compiled natively by
//! `src/main.rs`.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::vec::Vec;
use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::{Field, PrimeField};
use core::hint::black_box;
use zkpot_verifier::{Arkworks, CurveBackend};

/// Full-width pseudo-random scalars (a fixed LCG, so runs are comparable).
fn scalars(n: usize) -> Vec<Fr> {
	let mut state = 0x9e37_79b9_7f4a_7c15u64;
	(0..n)
		.map(|_| {
			let mut bytes = [0u8; 32];
			for chunk in bytes.chunks_mut(8) {
				state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
				chunk.copy_from_slice(&state.to_le_bytes());
			}
			Fr::from_le_bytes_mod_order(&bytes)
		})
		.collect()
}

/// Operations for [`unit`].
pub const PAIRING_CHECK: u32 = 0;
/// An `n`-term G1 MSM.
pub const MSM: u32 = 1;
/// `n` field multiplications.
pub const FIELD_MUL: u32 = 2;
/// `n` field inversions.
pub const FIELD_INVERSE: u32 = 3;
/// Keccak-256 of `n` bytes.
pub const KECCAK: u32 = 4;
/// `n` on-curve checks of G1 points.
pub const ON_CURVE: u32 = 5;

/// Prepares the inputs of operation `op` of size `n` and returns a closure that runs it once.
pub fn unit(op: u32, n: u32) -> impl FnMut() {
	let n = n as usize;
	let xs = scalars(n.max(2));
	let bases: Vec<G1Affine> = if op == MSM || op == ON_CURVE {
		let mut p = G1Projective::generator();
		let projective: Vec<G1Projective> = xs
			.iter()
			.map(|s| {
				p += G1Projective::generator() * s;
				p
			})
			.collect();
		G1Projective::normalize_batch(&projective)
	} else {
		Vec::new()
	};
	let bytes = alloc::vec![0x5au8; if op == KECCAK { n } else { 0 }];
	move || match op {
		PAIRING_CHECK => {
			let (g1, g2) = (G1Affine::generator(), G2Affine::generator());
			black_box(Arkworks::pairing_product_is_one(black_box([g1, g1]), [g2, g2]));
		},
		MSM => {
			black_box(Arkworks::msm(black_box(&bases[..n]), &xs[..n]).ok());
		},
		FIELD_MUL => {
			let mut a = xs[0];
			for _ in 0..n {
				a *= black_box(xs[1]);
			}
			black_box(a);
		},
		FIELD_INVERSE => {
			let mut a = xs[0];
			for _ in 0..n {
				a = black_box(a).inverse().unwrap_or(a) + Fr::ONE;
			}
			black_box(a);
		},
		KECCAK => {
			black_box(zkpot_verifier::vka_digest(black_box(&bytes)));
		},
		_ => {
			for p in &bases {
				let q = G1Affine::new_unchecked(p.x, p.y);
				black_box(q.is_on_curve() && q.is_in_correct_subgroup_assuming_on_curve());
			}
		},
	}
}

/// Verifies `proof` with `instances` (32-byte big-endian elements) against the VKA words
/// `iterations` times, parsing the VKA each time as a reveal does. Returns how many
/// verifications succeeded.
pub fn run(vka: &[u8], proof: &[u8], instances: &[u8], iterations: u32) -> u32 {
	let elements: Vec<[u8; 32]> = instances
		.chunks_exact(32)
		.map(|c| {
			let mut e = [0u8; 32];
			e.copy_from_slice(c);
			e
		})
		.collect();
	let mut ok = 0;
	for _ in 0..iterations {
		let valid = (|| {
			let vka = zkpot_verifier::Vka::parse(vka).ok()?;
			let proof = zkpot_verifier::Proof::parse(proof).ok()?;
			let instances = zkpot_verifier::Instances::parse(&elements).ok()?;
			zkpot_verifier::verify(&vka, &proof, &instances).ok()
		})();
		if valid.is_some() {
			ok += 1;
		}
	}
	ok
}

#[cfg(target_arch = "wasm32")]
mod wasm {
	//! A bump allocator over a static arena, rewound after each verification, and the
	//! exports `measure.py` calls.
	use core::alloc::{GlobalAlloc, Layout};
	use core::cell::UnsafeCell;

	const ARENA: usize = 128 << 20;

	struct Bump {
		arena: UnsafeCell<[u8; ARENA]>,
		next: UnsafeCell<usize>,
		mark: UnsafeCell<usize>,
	}

	// Single-threaded wasm.
	unsafe impl Sync for Bump {}

	#[global_allocator]
	static HEAP: Bump = Bump {
		arena: UnsafeCell::new([0; ARENA]),
		next: UnsafeCell::new(0),
		mark: UnsafeCell::new(0),
	};

	unsafe impl GlobalAlloc for Bump {
		unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
			let next = &mut *self.next.get();
			let start = (*next + layout.align() - 1) & !(layout.align() - 1);
			let end = start + layout.size();
			if end > ARENA {
				return core::ptr::null_mut();
			}
			*next = end;
			(self.arena.get() as *mut u8).add(start)
		}
		unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
	}

	/// Forgets everything allocated since the inputs were.
	pub fn reset() {
		unsafe { *HEAP.next.get() = *HEAP.mark.get() }
	}

	/// A buffer of `len` bytes for an input, kept across [`super::run`] calls.
	#[no_mangle]
	pub extern "C" fn input(len: u32) -> *mut u8 {
		let ptr = unsafe { HEAP.alloc(Layout::from_size_align(len as usize, 32).expect("layout")) };
		unsafe { *HEAP.mark.get() = *HEAP.next.get() };
		ptr
	}

	#[no_mangle]
	pub extern "C" fn verify_n(
		vka: *const u8,
		vka_len: u32,
		proof: *const u8,
		proof_len: u32,
		instances: *const u8,
		instances_len: u32,
		iterations: u32,
	) -> u32 {
		let (vka, proof, instances) = unsafe {
			(
				core::slice::from_raw_parts(vka, vka_len as usize),
				core::slice::from_raw_parts(proof, proof_len as usize),
				core::slice::from_raw_parts(instances, instances_len as usize),
			)
		};
		let mut ok = 0;
		for _ in 0..iterations {
			ok += super::run(vka, proof, instances, 1);
			reset();
		}
		ok
	}

	/// Prepares operation `op` of size `n` and runs it `iterations` times; the caller
	/// subtracts the time of a call with 0 iterations to leave the preparation out.
	#[no_mangle]
	pub extern "C" fn unit_n(op: u32, n: u32, iterations: u32) {
		let mut f = super::unit(op, n);
		for _ in 0..iterations {
			f();
		}
		reset();
	}

	#[panic_handler]
	fn panic(_: &core::panic::PanicInfo) -> ! {
		core::arch::wasm32::unreachable()
	}
}

