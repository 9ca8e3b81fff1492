//! zkpot-verifier in wasm: exports that verify the embedded zkpot-mlp fixture `n` times.
//!
//! Every export returns 0 when each run gave the expected result, otherwise a code naming
//! the first error (see [`code`]). Memory comes from a bump allocator that takes pages with
//! `memory.grow` and is rewound after every run, so `n` runs need the memory of one.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use zkpot_verifier::{verify, Instances, Proof, VerifyError, Vka};

static VKA_WORDS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vka_words.bin"));
static PROOF: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/proof.bin"));
static INSTANCES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/instances.bin"));

const PAGE: usize = 65536;

/// Bump allocator: `NEXT` is the first free byte, `END` the end of the pages taken so far.
struct Bump;

static NEXT: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);
/// First heap byte (the end of memory at the first allocation).
static BASE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if END.load(Relaxed) == 0 {
            let end = wasm32::memory_size(0) * PAGE;
            BASE.store(end, Relaxed);
            NEXT.store(end, Relaxed);
            END.store(end, Relaxed);
        }
        let start = (NEXT.load(Relaxed) + layout.align() - 1) & !(layout.align() - 1);
        let Some(stop) = start.checked_add(layout.size()) else { return core::ptr::null_mut() };
        let end = END.load(Relaxed);
        if stop > end {
            let pages = (stop - end).div_ceil(PAGE);
            if wasm32::memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
            END.store(end + pages * PAGE, Relaxed);
        }
        NEXT.store(stop, Relaxed);
        start as *mut u8
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOC: Bump = Bump;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Runs `f` and then frees everything it allocated (nothing it made may outlive it).
fn scoped<T: Copy>(f: impl FnOnce() -> T) -> T {
    let mark = NEXT.load(Relaxed);
    let r = f();
    if mark != 0 {
        NEXT.store(mark, Relaxed);
    }
    r
}

/// 0 for `Ok`, otherwise 1 + the error kind's index.
fn code(r: Result<(), VerifyError>) -> u32 {
    match r {
        Ok(()) => 0,
        Err(e) => match e {
            VerifyError::VkaLength => 1,
            VerifyError::MalformedVka { .. } => 2,
            VerifyError::Unsupported { .. } => 3,
            VerifyError::ProofSize => 4,
            VerifyError::ProofLength { .. } => 5,
            VerifyError::TooManyInstances => 6,
            VerifyError::InstanceCount { .. } => 7,
            VerifyError::InstanceNotInField { .. } => 8,
            VerifyError::EvaluationNotInField { .. } => 9,
            VerifyError::NotOnCurve { .. } => 10,
            VerifyError::DegenerateChallenge => 11,
            VerifyError::PairingFailed => 12,
        },
    }
}

fn instances() -> Vec<[u8; 32]> {
    INSTANCES.chunks_exact(32).map(|c| <[u8; 32]>::try_from(c).unwrap_or([0; 32])).collect()
}

fn parse_and_verify(tamper: bool) -> Result<(), VerifyError> {
    let vka = Vka::parse(VKA_WORDS)?;
    let mut inst = instances();
    if tamper {
        // The score instance + 1 (it is small, no carry).
        if let Some(last) = inst.last_mut() {
            last[31] = last[31].wrapping_add(1);
        }
    }
    verify(&vka, &Proof::parse(PROOF)?, &Instances::parse(&inst)?)
}

/// Parses the VKA words, the proof and the instances, and verifies: `n` times.
#[no_mangle]
pub extern "C" fn parse_and_verify_n(n: u32) -> u32 {
    for _ in 0..n {
        let c = scoped(|| code(parse_and_verify(false)));
        if c != 0 {
            return c;
        }
    }
    0
}

/// Parses once, then verifies `n` times with the parsed VKA (the per-proof cost when the
/// runtime keeps parsed VKAs; the native criterion bench's `verify`).
#[no_mangle]
pub extern "C" fn verify_n(n: u32) -> u32 {
    scoped(|| {
        let (vka, proof, inst) = match (|| Ok((Vka::parse(VKA_WORDS)?, Proof::parse(PROOF)?, Instances::parse(&instances())?)))() {
            Ok(t) => t,
            Err(e) => return code(Err(e)),
        };
        for _ in 0..n {
            let c = scoped(|| code(verify(&vka, &proof, &inst)));
            if c != 0 {
                return c;
            }
        }
        0
    })
}

/// Parses the VKA words `n` times.
#[no_mangle]
pub extern "C" fn parse_vka_n(n: u32) -> u32 {
    for _ in 0..n {
        let c = scoped(|| code(Vka::parse(VKA_WORDS).map(|_| ())));
        if c != 0 {
            return c;
        }
    }
    0
}

/// Verifies the fixture with its score instance changed: must return 12 (PairingFailed).
#[no_mangle]
pub extern "C" fn verify_tampered() -> u32 {
    scoped(|| code(parse_and_verify(true)))
}

/// Bytes of heap taken so far (the most any run needed).
#[no_mangle]
pub extern "C" fn heap_bytes() -> u32 {
    (END.load(Relaxed) - BASE.load(Relaxed)) as u32
}
