//! The verifier against real ezkl 23.0.5 proofs: acceptance, and rejection of every kind
//! of tampering, always as an error and never as a panic.

mod common;

use common::{all, load, Fixture};
use zkpot_verifier::{
    ezkl_file_words, verify, verify_with, Arkworks, CurveBackend, Instances, Proof, VerifyError, Vka,
    MAX_INSTANCES, MAX_PROOF_BYTES, MAX_VKA_WORDS,
};

/// BN254 scalar field modulus r, big-endian.
const R_BE: [u8; 32] = [
    0x30, 0x64, 0x4e, 0x72, 0xe1, 0x31, 0xa0, 0x29, 0xb8, 0x50, 0x45, 0xb6, 0x81, 0x81, 0x58, 0x5d, 0x28, 0x33, 0xe8,
    0x48, 0x79, 0xb9, 0x70, 0x91, 0x43, 0xe1, 0xf5, 0x93, 0xf0, 0x00, 0x00, 0x01,
];
/// BN254 base field modulus q, big-endian.
const Q_BE: [u8; 32] = [
    0x30, 0x64, 0x4e, 0x72, 0xe1, 0x31, 0xa0, 0x29, 0xb8, 0x50, 0x45, 0xb6, 0x81, 0x81, 0x58, 0x5d, 0x97, 0x81, 0x6a,
    0x91, 0x68, 0x71, 0xca, 0x8d, 0x3c, 0x20, 0x8c, 0x16, 0xd8, 0x7c, 0xfd, 0x47,
];

/// Full pipeline from bytes, as a runtime would run it.
fn check(words: &[u8], proof: &[u8], instances: &[[u8; 32]]) -> Result<(), VerifyError> {
    let vka = Vka::parse(words)?;
    verify(&vka, &Proof::parse(proof)?, &Instances::parse(instances)?)
}

fn check_fx(fx: &Fixture) -> Result<(), VerifyError> {
    check(&fx.words, &fx.proof, &fx.instances)
}

/// Adds `d` to a big-endian 256-bit number (wrapping).
fn add_be(mut v: [u8; 32], d: u8) -> [u8; 32] {
    let mut carry = d as u16;
    for b in v.iter_mut().rev() {
        let s = *b as u16 + carry;
        *b = s as u8;
        carry = s >> 8;
    }
    v
}

#[test]
fn every_fixture_verifies() {
    for fx in all() {
        let vka = Vka::from_ezkl_file(&fx.vka_file).unwrap();
        assert_eq!(vka.num_instances(), fx.instances.len(), "{}", fx.name);
        assert_eq!(vka.proof_len(), fx.proof.len(), "{}", fx.name);
        let proof = Proof::parse(&fx.proof).unwrap();
        let instances = Instances::parse(&fx.instances).unwrap();
        assert_eq!(verify(&vka, &proof, &instances), Ok(()), "{}", fx.name);
        // A parsed VKA is reusable.
        assert_eq!(verify(&vka, &proof, &instances), Ok(()), "{}", fx.name);
        assert_eq!(check_fx(&fx), Ok(()), "{}", fx.name);
    }
}

#[test]
fn the_zkpot_fixture_is_multi_phase_and_the_others_are_not() {
    // ezkl's Freivalds check of the batched matmuls adds a second advice phase whose
    // columns depend on user challenges squeezed after the first.
    let mlp = Vka::from_ezkl_file(&load("zkpot-mlp").vka_file).unwrap();
    assert!(mlp.num_user_challenges() > 0);
    // polycommit parameters: the score is the only instance, the model commitment is the
    // proof's first point.
    assert_eq!(mlp.num_instances(), 1);
    for name in ["cnn-public", "sigmoid-hashed"] {
        let vka = Vka::from_ezkl_file(&load(name).vka_file).unwrap();
        assert_eq!(vka.num_user_challenges(), 0, "{name}");
    }
}

#[test]
fn cost_matches_the_vka() {
    struct Counting;
    static TERMS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    impl CurveBackend for Counting {
        fn msm(b: &[ark_bn254::G1Affine], s: &[ark_bn254::Fr]) -> Result<ark_bn254::G1Projective, VerifyError> {
            TERMS.store(b.len(), std::sync::atomic::Ordering::SeqCst);
            Arkworks::msm(b, s)
        }
        fn pairing_product_is_one(a: [ark_bn254::G1Affine; 2], b: [ark_bn254::G2Affine; 2]) -> bool {
            Arkworks::pairing_product_is_one(a, b)
        }
    }
    for fx in all() {
        let vka = Vka::parse(&fx.words).unwrap();
        let cost = vka.cost();
        assert_eq!(cost.vka_words as usize, fx.words.len() / 32);
        assert_eq!(cost.instances as usize, fx.instances.len());
        assert_eq!(cost.proof_bytes as usize, fx.proof.len());
        assert_eq!(cost.pairings, 2);
        assert_eq!(cost.commitments as usize, vka.num_commitments() + 2);
        let r = verify_with::<Counting>(&vka, &Proof::parse(&fx.proof).unwrap(), &Instances::parse(&fx.instances).unwrap());
        assert_eq!(r, Ok(()));
        assert_eq!(TERMS.load(std::sync::atomic::Ordering::SeqCst), cost.msm_terms as usize, "{}", fx.name);
    }
}

/// Byte positions to flip: for small proofs every 3rd byte, for the largest one a sample
/// that still hits every commitment (first, middle and last byte of x and y), every
/// evaluation (first and last byte) and all of W and W'.
fn positions(vka: &Vka, len: usize, dense: bool) -> Vec<usize> {
    if dense {
        return (0..len).step_by(3).chain([len - 1]).collect();
    }
    let mut p = Vec::new();
    let c = vka.num_commitments();
    for i in 0..c {
        for o in [0, 17, 31, 32, 49, 63] {
            p.push(64 * i + o);
        }
    }
    let e0 = 64 * c;
    for i in 0..vka.num_evals() {
        p.extend([e0 + 32 * i, e0 + 32 * i + 31]);
    }
    p.extend(len - 128..len);
    p
}

#[test]
fn every_proof_byte_change_is_rejected() {
    let largest = all().into_iter().map(|f| f.proof.len()).max().unwrap();
    for fx in all() {
        let vka = Vka::parse(&fx.words).unwrap();
        let instances = Instances::parse(&fx.instances).unwrap();
        let dense = fx.proof.len() < largest;
        let mut kinds = std::collections::BTreeMap::new();
        for pos in positions(&vka, fx.proof.len(), dense) {
            for flip in [0x01u8, 0x80] {
                let mut p = fx.proof.clone();
                p[pos] ^= flip;
                let r = verify(&vka, &Proof::parse(&p).unwrap(), &instances);
                let e = r.expect_err(&format!("{}: flip {flip:#x} at byte {pos} accepted", fx.name));
                *kinds.entry(e.as_str()).or_insert(0) += 1;
            }
        }
        // Both the cheap checks and the pairing must have been exercised.
        assert!(kinds.contains_key("NotOnCurve") && kinds.contains_key("PairingFailed"), "{}: {kinds:?}", fx.name);
    }
}

#[test]
fn changed_instances_are_rejected() {
    for fx in all() {
        let vka = Vka::parse(&fx.words).unwrap();
        let proof = Proof::parse(&fx.proof).unwrap();
        for i in 0..fx.instances.len() {
            for d in [1u8, 2, 255] {
                let mut inst = fx.instances.clone();
                inst[i] = add_be(inst[i], d);
                match Instances::parse(&inst) {
                    Ok(parsed) => assert!(verify(&vka, &proof, &parsed).is_err(), "{}: instance {i} + {d}", fx.name),
                    Err(e) => assert_eq!(e, VerifyError::InstanceNotInField { index: i as u32 }),
                }
            }
        }
        if fx.instances.len() > 1 {
            let mut inst = fx.instances.clone();
            inst.swap(0, 1);
            assert!(check(&fx.words, &fx.proof, &inst).is_err(), "{}: swapped", fx.name);
        }
    }
}

#[test]
fn a_better_score_is_rejected() {
    let fx = load("zkpot-mlp");
    // Instance 0 is the score (31 of 32): claiming 32, or any other value, must fail.
    let score = u64::from_be_bytes(fx.instances[0][24..].try_into().unwrap());
    assert_eq!(score, 31);
    for claim in [score + 1, 32, 0, score - 1] {
        let mut inst = fx.instances.clone();
        inst[0] = [0; 32];
        inst[0][24..].copy_from_slice(&claim.to_be_bytes());
        assert_eq!(check(&fx.words, &fx.proof, &inst), Err(VerifyError::PairingFailed), "score {claim}");
    }
}

/// The model commitment (bytes 0..64 of a polycommit proof) is bound by the proof: another
/// model's commitment, a point off the curve, or the identity in its place is rejected.
#[test]
fn the_model_commitment_cannot_be_swapped() {
    let fx = load("zkpot-mlp");
    let vka = Vka::parse(&fx.words).unwrap();
    let instances = Instances::parse(&fx.instances).unwrap();
    let run = |first: &[u8]| {
        let mut p = fx.proof.clone();
        p[..64].copy_from_slice(first);
        Proof::parse(&p).and_then(|proof| verify(&vka, &proof, &instances))
    };
    // Another valid point: the commitment of another model is just another point; the
    // generator (1, 2) stands for it.
    let mut generator = [0u8; 64];
    generator[31] = 1;
    generator[63] = 2;
    assert_eq!(run(&generator), Err(VerifyError::PairingFailed));
    // The proof's second point, a valid commitment of another column.
    let second = fx.proof[64..128].to_vec();
    assert_eq!(run(&second), Err(VerifyError::PairingFailed));
    let mut off_curve = generator;
    off_curve[63] = 3;
    assert!(matches!(run(&off_curve), Err(VerifyError::NotOnCurve { .. })));
    // The identity (all zero in ezkl's encoding) is no model's commitment.
    assert!(run(&[0u8; 64]).is_err());
}

#[test]
fn wrong_instance_counts_and_values_are_rejected() {
    for fx in all() {
        let n = fx.instances.len() as u32;
        let mut more = fx.instances.clone();
        more.push([0; 32]);
        assert_eq!(check(&fx.words, &fx.proof, &more), Err(VerifyError::InstanceCount { expected: n, got: n + 1 }));
        let fewer = &fx.instances[..fx.instances.len() - 1];
        assert_eq!(check(&fx.words, &fx.proof, fewer), Err(VerifyError::InstanceCount { expected: n, got: n - 1 }));
        assert_eq!(check(&fx.words, &fx.proof, &[]), Err(VerifyError::InstanceCount { expected: n, got: 0 }));
        for bad in [R_BE, add_be(R_BE, 1), [0xff; 32]] {
            let mut inst = fx.instances.clone();
            inst[0] = bad;
            assert_eq!(Instances::parse(&inst), Err(VerifyError::InstanceNotInField { index: 0 }));
        }
        // r - 1 is a field element: parses, but does not verify.
        let mut inst = fx.instances.clone();
        let mut r_minus_1 = R_BE;
        r_minus_1[31] -= 1;
        inst[0] = r_minus_1;
        assert_eq!(check(&fx.words, &fx.proof, &inst), Err(VerifyError::PairingFailed));
    }
    assert_eq!(Instances::parse(&vec![[0u8; 32]; MAX_INSTANCES + 1]), Err(VerifyError::TooManyInstances));
}

#[test]
fn proofs_against_another_circuits_vka_are_rejected() {
    let fxs = all();
    for a in &fxs {
        for b in &fxs {
            if a.name == b.name {
                continue;
            }
            let r = check(&b.words, &a.proof, &a.instances);
            assert!(r.is_err(), "{} proof accepted by {} VKA", a.name, b.name);
            // Even with the instance count and proof length made to fit.
            let vka = Vka::parse(&b.words).unwrap();
            let mut proof = a.proof.clone();
            proof.resize(vka.proof_len(), 0);
            let mut inst = a.instances.clone();
            inst.resize(vka.num_instances(), [0; 32]);
            assert!(check(&b.words, &proof, &inst).is_err(), "{} proof (resized) accepted by {} VKA", a.name, b.name);
        }
        // Same circuit, different verifying key digest (another setup): rejected.
        let mut words = a.words.clone();
        words[31] ^= 1;
        assert_eq!(check(&words, &a.proof, &a.instances), Err(VerifyError::PairingFailed));
    }
}

#[test]
fn points_off_the_curve_and_out_of_range_values_are_rejected() {
    for fx in all() {
        let vka = Vka::parse(&fx.words).unwrap();
        let c = vka.num_commitments();
        let evals = 64 * c;
        let w = evals + 32 * vka.num_evals();
        for at in [0, 64 * (c - 1), w, w + 64] {
            let mut p = fx.proof.clone();
            p[at..at + 64].fill(0); // (0,0): the EVM's infinity, never valid in a proof
            assert_eq!(check(&fx.words, &p, &fx.instances), Err(VerifyError::NotOnCurve { offset: at as u32 }));
            let mut p = fx.proof.clone();
            p[at + 32..at + 64].copy_from_slice(&Q_BE); // y = q
            assert_eq!(check(&fx.words, &p, &fx.instances), Err(VerifyError::NotOnCurve { offset: at as u32 }));
            let mut p = fx.proof.clone();
            let y: [u8; 32] = p[at + 32..at + 64].try_into().unwrap();
            p[at + 32..at + 64].copy_from_slice(&add_be(y, 1)); // off the curve
            assert_eq!(check(&fx.words, &p, &fx.instances), Err(VerifyError::NotOnCurve { offset: at as u32 }));
        }
        for at in [evals, w - 32] {
            let mut p = fx.proof.clone();
            p[at..at + 32].copy_from_slice(&R_BE);
            assert_eq!(check(&fx.words, &p, &fx.instances), Err(VerifyError::EvaluationNotInField { offset: at as u32 }));
        }
    }
}

#[test]
fn truncated_empty_and_oversized_inputs_are_rejected() {
    for fx in all() {
        let len = fx.proof.len() as u32;
        assert_eq!(Proof::parse(&[]), Err(VerifyError::ProofSize));
        assert_eq!(Proof::parse(&vec![0; MAX_PROOF_BYTES + 1]), Err(VerifyError::ProofSize));
        for cut in [1usize, 31, 32, 64, fx.proof.len() - 1] {
            let r = check(&fx.words, &fx.proof[..fx.proof.len() - cut], &fx.instances);
            assert_eq!(r, Err(VerifyError::ProofLength { expected: len, got: len - cut as u32 }));
        }
        for extra in [1usize, 32, 64] {
            let mut p = fx.proof.clone();
            p.extend(std::iter::repeat_n(0, extra));
            let r = check(&fx.words, &p, &fx.instances);
            assert_eq!(r, Err(VerifyError::ProofLength { expected: len, got: len + extra as u32 }));
        }

        assert_eq!(Vka::parse(&[]).err(), Some(VerifyError::VkaLength));
        assert_eq!(Vka::parse(&fx.words[..fx.words.len() - 1]).err(), Some(VerifyError::VkaLength));
        assert_eq!(Vka::parse(&vec![0; 32 * (MAX_VKA_WORDS + 1)]).err(), Some(VerifyError::VkaLength));
        for words in [1, 10, 33, 34, fx.words.len() / 32 - 1] {
            assert!(Vka::parse(&fx.words[..32 * words]).is_err(), "{} truncated to {words} words", fx.name);
        }
        let mut longer = fx.words.clone();
        longer.extend([0u8; 32]);
        // One more word moves the end of the VKA in EVM memory, and with it every scratch,
        // challenge and instance-evaluation address the expressions point to.
        assert!(matches!(check(&longer, &fx.proof, &fx.instances), Err(VerifyError::MalformedVka { .. })));

        // vka.bin: the word count prefix must match the length.
        assert_eq!(ezkl_file_words(&fx.vka_file), Ok(&fx.words[..]));
        for bad in [&fx.vka_file[..7], &fx.vka_file[..fx.vka_file.len() - 1], &fx.vka_file[..fx.vka_file.len() - 32]] {
            assert_eq!(Vka::from_ezkl_file(bad).err(), Some(VerifyError::VkaLength));
        }
        let mut f = fx.vka_file.clone();
        f[0] ^= 1;
        assert_eq!(Vka::from_ezkl_file(&f).err(), Some(VerifyError::VkaLength));
        let mut f = fx.vka_file.clone();
        f[7] = 0xff;
        assert_eq!(Vka::from_ezkl_file(&f).err(), Some(VerifyError::VkaLength));
    }
}

/// VKA words the proof check provably never reads (accumulator limbs' layout, rescaling
/// offset, fixed-commitment count): corrupting them may leave verification intact.
const IGNORED_HEADER_WORDS: [usize; 5] = [11, 12, 13, 30, 32];

fn mutations(w: &[u8]) -> Vec<[u8; 32]> {
    let w: [u8; 32] = w.try_into().unwrap();
    let mut low = w;
    low[31] ^= 1;
    let mut byte30 = w;
    byte30[30] ^= 0x20;
    let mut high = w;
    high[0] ^= 0x80;
    vec![low, byte30, high, [0; 32], [0xff; 32], add_be(w, 32)]
}

#[test]
fn corrupted_vka_header_words_are_errors_not_panics() {
    for fx in all() {
        let vka = Vka::parse(&fx.words).unwrap();
        let header = 34 + fx.words[33 * 32 + 31] as usize; // 33 + challenge words (+1 to cover the word after)
        for i in 0..header {
            for m in mutations(&fx.words[32 * i..32 * i + 32]) {
                if m[..] == fx.words[32 * i..32 * i + 32] {
                    continue;
                }
                let mut words = fx.words.clone();
                words[32 * i..32 * i + 32].copy_from_slice(&m);
                let r = check(&words, &fx.proof, &fx.instances);
                let neutral = IGNORED_HEADER_WORDS.contains(&i)
                    // Without user challenges the free-memory size and challenge offset only
                    // move scratch memory around, which may be harmless.
                    || ((i == 1 || i == 4) && vka.num_user_challenges() == 0)
                    || (i == 1 && m > fx.words[32 * i..32 * i + 32].try_into().unwrap())
                    // The word after the challenge data is the first fixed commitment.
                    || i == header - 1;
                if !neutral {
                    assert!(r.is_err(), "{}: header word {i} = {m:02x?} accepted", fx.name);
                }
            }
        }
    }
}

#[test]
fn corrupted_vka_words_anywhere_never_panic() {
    // Every word of the smallest VKA, several corruptions each: any result but a panic.
    let fx = load("cnn-public");
    let mut accepted = 0;
    for i in 0..fx.words.len() / 32 {
        for m in mutations(&fx.words[32 * i..32 * i + 32]) {
            let mut words = fx.words.clone();
            words[32 * i..32 * i + 32].copy_from_slice(&m);
            if check(&words, &fx.proof, &fx.instances).is_ok() {
                accepted += 1;
            }
        }
    }
    // Some corruptions are legitimately harmless: words never read (unused header fields,
    // the rescaling data), bits above fixed-position fields, a word set to the value it
    // had, and operations inside gates multiplied by an all-zero selector column (their
    // fixed evaluation is 0 at every point). Everything else must be rejected.
    let total = 6 * fx.words.len() / 32;
    assert!(accepted * 8 < total, "{accepted} of {total} corrupted VKAs accepted");
}

#[test]
fn errors_have_short_names_and_precise_messages() {
    let errors = [
        VerifyError::VkaLength,
        VerifyError::MalformedVka { word: 3, reason: "x" },
        VerifyError::Unsupported { feature: "y" },
        VerifyError::ProofSize,
        VerifyError::ProofLength { expected: 1, got: 2 },
        VerifyError::TooManyInstances,
        VerifyError::InstanceCount { expected: 1, got: 2 },
        VerifyError::InstanceNotInField { index: 1 },
        VerifyError::EvaluationNotInField { offset: 1 },
        VerifyError::NotOnCurve { offset: 1 },
        VerifyError::DegenerateChallenge,
        VerifyError::PairingFailed,
    ];
    let names: std::collections::BTreeSet<_> = errors.iter().map(|e| e.as_str()).collect();
    assert_eq!(names.len(), errors.len());
    for e in errors {
        assert!(!e.to_string().is_empty());
        assert!(e.as_str().len() < 24);
    }
    assert!(VerifyError::MalformedVka { word: 0, reason: "" }.is_vka_error());
    assert!(!VerifyError::PairingFailed.is_vka_error());
}

#[test]
fn vka_digest_is_keccak_of_the_words() {
    // registerVka's digest of ex. an empty word list is keccak256("") .
    assert_eq!(
        zkpot_verifier::vka_digest(&[]),
        [
            0xc5, 0xd2, 0x46, 0x01, 0x86, 0xf7, 0x23, 0x3c, 0x92, 0x7e, 0x7d, 0xb2, 0xdc, 0xc7, 0x03, 0xc0, 0xe5, 0x00,
            0xb6, 0x53, 0xca, 0x82, 0x27, 0x3b, 0x7b, 0xfa, 0xd8, 0x04, 0x5d, 0x85, 0xa4, 0x70
        ]
    );
}
