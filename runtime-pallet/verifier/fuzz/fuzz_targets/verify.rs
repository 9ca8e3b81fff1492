//! Fuzz target: the whole verifier, from bytes, as a runtime runs it.
//!
//! The input is split into the three things an extrinsic carries:
//!
//! ```text
//! [u16 LE: VKA words n][u16 LE: instances m][n × 32 bytes VKA][m × 32 bytes instances][proof …]
//! ```
//!
//! (counts larger than the input are cut to what is there). `seed.py` writes the committed
//! fixtures in this form. The verifier must return `Ok` or `Err` for every input: any panic,
//! overflow (checks are on) or runaway allocation is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zkpot_verifier::{verify, Instances, Proof, Vka};

fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = data.split_at(n.min(data.len()));
    *data = tail;
    head
}

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    let header = take(&mut data, 4);
    if header.len() < 4 {
        return;
    }
    let n_words = u16::from_le_bytes([header[0], header[1]]) as usize;
    let n_instances = u16::from_le_bytes([header[2], header[3]]) as usize;
    let words = take(&mut data, n_words * 32);
    let instances: Vec<[u8; 32]> = take(&mut data, n_instances * 32)
        .chunks_exact(32)
        .map(|c| <[u8; 32]>::try_from(c).unwrap_or([0; 32]))
        .collect();
    let proof = data;

    let Ok(vka) = Vka::parse(words) else { return };
    let _ = vka.cost();
    let (Ok(proof), Ok(instances)) = (Proof::parse(proof), Instances::parse(&instances)) else {
        return;
    };
    let _ = verify(&vka, &proof, &instances);
});
