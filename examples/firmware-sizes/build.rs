//! Puts the target part's memory map (shared with ../firmware) where the linker finds
//! it as memory.x.
use std::{env, fs, path::PathBuf};

fn main() {
    let map = match env::var("TARGET").unwrap_or_default().as_str() {
        "thumbv6m-none-eabi" => "../firmware/memory/nrf51-cortex-m0.x",
        "thumbv7em-none-eabihf" => "../firmware/memory/cortex-m4f.x",
        _ => return,
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy(map, out.join("memory.x")).expect("the memory map exists");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={map}");
}
