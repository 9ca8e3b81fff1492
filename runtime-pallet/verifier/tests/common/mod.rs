//! Loading the committed ezkl fixtures (shared by the tests and the benchmark).
#![allow(dead_code)]

use std::path::PathBuf;

/// The committed fixtures (see fixtures/generate.py).
pub const NAMES: [&str; 3] = ["zkpot-mlp", "cnn-public", "sigmoid-hashed"];

/// One fixture as ezkl wrote it, decoded into what the verifier takes.
pub struct Fixture {
    pub name: &'static str,
    /// `vka.bin` as written by ezkl (with the bincode prefix).
    pub vka_file: Vec<u8>,
    /// The VKA words without the prefix (the chain encoding).
    pub words: Vec<u8>,
    pub proof: Vec<u8>,
    /// Instances as 32-byte big-endian field elements.
    pub instances: Vec<[u8; 32]>,
}

pub fn dir(name: &str) -> PathBuf {
    // Read at run time, not with env!: a target directory shared by several checkouts
    // would keep the path of the checkout that compiled this.
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("fixtures").join(name)
}

fn hex(s: &str) -> Vec<u8> {
    let s = s.trim_start_matches("0x");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

pub fn load(name: &'static str) -> Fixture {
    let d = dir(name);
    let vka_file = std::fs::read(d.join("vka.bin")).unwrap();
    let words = vka_file[8..].to_vec();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("proof.json")).unwrap()).unwrap();
    let proof = match &json["proof"] {
        serde_json::Value::Array(a) => a.iter().map(|b| b.as_u64().unwrap() as u8).collect(),
        serde_json::Value::String(s) => hex(s),
        _ => hex(json["hex_proof"].as_str().unwrap()),
    };
    let instances = json["instances"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c.as_array().unwrap().iter())
        .map(|v| {
            let mut b = hex(v.as_str().unwrap());
            b.reverse();
            b.try_into().unwrap()
        })
        .collect();
    Fixture { name, vka_file, words, proof, instances }
}

pub fn all() -> Vec<Fixture> {
    NAMES.iter().map(|n| load(n)).collect()
}
