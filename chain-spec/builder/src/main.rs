//! `zkpot-chain-spec`: makes the raw chain specification of the zkpot chain.
//!
//! Genesis storage is computed natively from the runtime crate: the preset's JSON patch is
//! merged into the runtime's default genesis config, which is then built into storage the
//! same way the runtime's `GenesisBuilder::build_state` does. The runtime wasm goes under
//! `:code`. The output is the JSON format of `sc-chain-spec` with `genesis.raw`, which a
//! node (`--chain`) and Chopsticks (`genesis:`) both read.
//!
//! ```text
//! zkpot-chain-spec --spec chain-spec/dev.json --out dev.raw.json [--wasm runtime.wasm]
//! ```

use std::{collections::BTreeMap, path::PathBuf, process::ExitCode};

use frame_support::genesis_builder_helper::{build_state, get_preset};
use serde_json::{json, Map, Value};
use sp_core::{bytes::to_hex, storage::well_known_keys};
use sp_state_machine::BasicExternalities;
use zkpot_runtime::{genesis_config_presets, RuntimeGenesisConfig};

/// Command-line options.
struct Args {
	spec: PathBuf,
	out: PathBuf,
	wasm: Option<PathBuf>,
}

fn usage() -> String {
	"usage: zkpot-chain-spec --spec SPEC.json --out RAW.json [--wasm RUNTIME.wasm]".into()
}

fn parse_args() -> Result<Args, String> {
	let mut spec = None;
	let mut out = None;
	let mut wasm = None;
	let mut it = std::env::args().skip(1);
	while let Some(flag) = it.next() {
		let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value\n{}", usage()));
		match flag.as_str() {
			"--spec" => spec = Some(PathBuf::from(value()?)),
			"--out" => out = Some(PathBuf::from(value()?)),
			"--wasm" => wasm = Some(PathBuf::from(value()?)),
			"-h" | "--help" => return Err(usage()),
			other => return Err(format!("unknown argument {other}\n{}", usage())),
		}
	}
	Ok(Args {
		spec: spec.ok_or_else(|| format!("--spec is required\n{}", usage()))?,
		out: out.ok_or_else(|| format!("--out is required\n{}", usage()))?,
		wasm,
	})
}

/// Merges `patch` into `base` the way `sc-chain-spec` applies genesis presets: objects are
/// merged key by key, every other value replaces what was there.
fn merge(base: &mut Value, patch: Value) {
	match (base, patch) {
		(Value::Object(base), Value::Object(patch)) =>
			for (key, value) in patch {
				merge(base.entry(key).or_insert(Value::Null), value);
			},
		(base, patch) => *base = patch,
	}
}

/// Genesis storage (top trie only: the runtime has no child tries at genesis).
fn genesis_storage(preset: &str, code: Vec<u8>) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, String> {
	let default = get_preset::<RuntimeGenesisConfig>(&None, |_| None)
		.ok_or("the runtime has no default genesis config")?;
	let mut config: Value =
		serde_json::from_slice(&default).map_err(|e| format!("default genesis config: {e}"))?;
	let patch = genesis_config_presets::get_preset(&preset.into()).ok_or_else(|| {
		let names: Vec<String> = genesis_config_presets::preset_names()
			.into_iter()
			.map(|n| String::from_utf8_lossy(n.as_ref()).into_owned())
			.collect();
		format!("unknown preset {preset:?}; the runtime has {}", names.join(", "))
	})?;
	let patch: Value =
		serde_json::from_slice(&patch).map_err(|e| format!("preset {preset}: {e}"))?;
	merge(&mut config, patch);
	let config = serde_json::to_vec(&config).map_err(|e| e.to_string())?;

	let mut ext = BasicExternalities::new_empty();
	ext.execute_with(|| build_state::<RuntimeGenesisConfig>(config))
		.map_err(|e| format!("building genesis state: {e}"))?;
	let mut storage = ext.into_storages();
	if !storage.children_default.is_empty() {
		return Err("genesis has child tries, which this tool does not write".into());
	}
	storage.top.insert(well_known_keys::CODE.to_vec(), code);
	Ok(storage.top)
}

fn run(args: Args) -> Result<(), String> {
	let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
	let spec: Value = serde_json::from_slice(&read(&args.spec)?)
		.map_err(|e| format!("{}: {e}", args.spec.display()))?;
	let field = |k: &str| {
		spec.get(k).cloned().ok_or_else(|| format!("{}: missing {k:?}", args.spec.display()))
	};
	let preset = field("preset")?;
	let preset = preset.as_str().ok_or("\"preset\" must be a string")?;
	let code = match &args.wasm {
		Some(path) => read(path)?,
		None => zkpot_runtime::WASM_BINARY
			.ok_or("this build has no wasm runtime (SKIP_WASM_BUILD was set); pass --wasm")?
			.to_vec(),
	};

	let top: Map<String, Value> = genesis_storage(preset, code)?
		.into_iter()
		.map(|(k, v)| (to_hex(&k, false), Value::String(to_hex(&v, false))))
		.collect();
	let raw = json!({
		"name": field("name")?,
		"id": field("id")?,
		"chainType": field("chainType")?,
		"bootNodes": [],
		"telemetryEndpoints": null,
		"protocolId": spec.get("protocolId").cloned().unwrap_or(Value::Null),
		"properties": field("properties")?,
		"codeSubstitutes": {},
		"genesis": { "raw": { "top": top, "childrenDefault": {} } },
	});
	let text = serde_json::to_string_pretty(&raw).map_err(|e| e.to_string())?;
	std::fs::write(&args.out, text).map_err(|e| format!("{}: {e}", args.out.display()))?;
	eprintln!("wrote {} (preset {preset}, {} keys)", args.out.display(), raw["genesis"]["raw"]["top"].as_object().map_or(0, |m| m.len()));
	Ok(())
}

fn main() -> ExitCode {
	match parse_args().and_then(run) {
		Ok(()) => ExitCode::SUCCESS,
		Err(e) => {
			eprintln!("zkpot-chain-spec: {e}");
			ExitCode::from(2)
		},
	}
}
