//! `zkpot-verify --vka VKA.bin --proof PROOF.json [--cost] [--commitment]`
//!
//! Verifies an ezkl 23.0.5 proof file against an ezkl VKA file with the native verifier.
//! Reads the files exactly as ezkl writes them: `vka.bin` from `create_evm_vka` (bincode:
//! u64 LE word count + 32-byte words) and `proof.json` from `ezkl.prove` (the proof as a
//! byte array or hex string, the instances as little-endian hex field elements).
//!
//! Prints `valid` (exit 0) or `invalid: <reason>` (exit 1). Input that cannot be read or
//! understood — a missing file, bad JSON, bad hex, a malformed or unsupported VKA —
//! prints `error: <reason>` to stderr and exits 2. `--commitment` first prints the model
//! commitment a task reads from the proof (its first G1 point, bytes [0, 64)) as
//! `commitment 0x<128 hex digits>`, or `commitment invalid: <reason>`.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;
use zkpot_verifier::{verify, Instances, Proof, Vka};

const USAGE: &str = "usage: zkpot-verify --vka VKA.bin --proof PROOF.json [--cost] [--commitment]";

struct Args {
    vka: PathBuf,
    proof: PathBuf,
    cost: bool,
    commitment: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut vka = None;
    let mut proof = None;
    let mut cost = false;
    let mut commitment = false;
    let mut it = std::env::args_os().skip(1);
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--vka") => vka = it.next().map(PathBuf::from),
            Some("--proof") => proof = it.next().map(PathBuf::from),
            Some("--cost") => cost = true,
            Some("--commitment") => commitment = true,
            Some("-h" | "--help") => return Err(USAGE.to_string()),
            _ => return Err(format!("unexpected argument {a:?}\n{USAGE}")),
        }
    }
    match (vka, proof) {
        (Some(vka), Some(proof)) => Ok(Args { vka, proof, cost, commitment }),
        _ => Err(USAGE.to_string()),
    }
}

fn hex_decode(s: &str) -> Result<Vec<u8>, String> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if !s.len().is_multiple_of(2) {
        return Err("odd-length hex string".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(|| format!("bad hex at character {i}"))
        })
        .collect()
}

/// The proof bytes and big-endian instances of an ezkl `proof.json`.
fn read_proof_json(text: &str) -> Result<(Vec<u8>, Vec<[u8; 32]>), String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("proof file is not JSON: {e}"))?;
    let proof = match (v.get("proof"), v.get("hex_proof")) {
        (Some(Value::Array(items)), _) => items
            .iter()
            .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()).ok_or("proof array holds a non-byte"))
            .collect::<Result<Vec<u8>, _>>()?,
        (Some(Value::String(s)), _) | (None | Some(Value::Null), Some(Value::String(s))) => {
            hex_decode(s).map_err(|e| format!("proof hex: {e}"))?
        }
        _ => return Err("proof file has no proof".into()),
    };
    let cols = v.get("instances").and_then(Value::as_array).ok_or("proof file has no instances")?;
    let mut instances = Vec::new();
    for col in cols {
        for item in col.as_array().ok_or("instances is not a list of lists")? {
            let s = item.as_str().ok_or("instance is not a string")?;
            let mut le = hex_decode(s).map_err(|e| format!("instance hex: {e}"))?;
            if le.len() != 32 {
                return Err(format!("instance of {} bytes, expected 32", le.len()));
            }
            // proof.json holds little-endian field elements; the verifier takes big-endian.
            le.reverse();
            let mut be = [0u8; 32];
            be.copy_from_slice(&le);
            instances.push(be);
        }
    }
    Ok((proof, instances))
}

fn run(args: &Args) -> Result<Result<(), String>, String> {
    let vka_bytes = std::fs::read(&args.vka).map_err(|e| format!("cannot read {}: {e}", args.vka.display()))?;
    let proof_text =
        std::fs::read_to_string(&args.proof).map_err(|e| format!("cannot read {}: {e}", args.proof.display()))?;
    let vka = Vka::from_ezkl_file(&vka_bytes).map_err(|e| format!("VKA {}: {e}", args.vka.display()))?;
    if args.cost {
        eprintln!("{:?}", vka.cost());
    }
    let (proof, instances) = read_proof_json(&proof_text)?;
    if args.commitment {
        match zkpot_verifier::commitment::from_proof(&proof, 0) {
            Ok(c) => println!("commitment 0x{}", c.iter().map(|b| format!("{b:02x}")).collect::<String>()),
            Err(e) => println!("commitment invalid: {e}"),
        }
    }
    let outcome = Proof::parse(&proof)
        .and_then(|p| Instances::parse(&instances).map(|i| (p, i)))
        .and_then(|(p, i)| verify(&vka, &p, &i));
    Ok(outcome.map_err(|e| e.to_string()))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(Ok(())) => {
            println!("valid");
            ExitCode::SUCCESS
        }
        Ok(Err(reason)) => {
            println!("invalid: {reason}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
