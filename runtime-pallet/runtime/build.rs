//! Builds the runtime to wasm with substrate-wasm-builder (see `scripts/rust-env.sh` for the
//! toolchain it uses on machines where rustup has no wasm target).

fn main() {
	#[cfg(feature = "std")]
	substrate_wasm_builder::WasmBuilder::build_using_defaults();
}
