//! Turns the zkpot-mlp fixture into the bytes the chain carries, for `include_bytes!`:
//! the VKA words (ezkl's u64 prefix dropped), the raw proof, and the instances as 32-byte
//! big-endian field elements (proof.json lists them little-endian).

use std::path::PathBuf;

fn main() {
    let fixture = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../fixtures/zkpot-mlp");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for f in ["vka.bin", "proof.json"] {
        println!("cargo:rerun-if-changed={}", fixture.join(f).display());
    }
    let vka = std::fs::read(fixture.join("vka.bin")).unwrap();
    std::fs::write(out.join("vka_words.bin"), &vka[8..]).unwrap();

    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture.join("proof.json")).unwrap()).unwrap();
    let proof: Vec<u8> = doc["proof"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
    std::fs::write(out.join("proof.bin"), proof).unwrap();
    let mut instances = Vec::new();
    for col in doc["instances"].as_array().unwrap() {
        for v in col.as_array().unwrap() {
            let s = v.as_str().unwrap();
            let mut le: Vec<u8> = (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
            assert_eq!(le.len(), 32);
            le.reverse();
            instances.extend(le);
        }
    }
    std::fs::write(out.join("instances.bin"), instances).unwrap();
}
