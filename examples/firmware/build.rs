//! Puts the memory map of the target's real part in the linker's search path as
//! `memory.x`, so the linker refuses an image that would not fit that chip.
use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    // The Cortex-M0 board has 16 KiB of RAM in all; the others 128 KiB.
    println!("cargo::rustc-check-cfg=cfg(small_ram)");
    if target == "thumbv6m-none-eabi" {
        println!("cargo:rustc-cfg=small_ram");
    }
    let map = match target.as_str() {
        "thumbv6m-none-eabi" => "memory/nrf51-cortex-m0.x",
        "thumbv7em-none-eabihf" => "memory/cortex-m4f.x",
        "thumbv8m.main-none-eabihf" => "memory/cortex-m33.x",
        "riscv32imac-unknown-none-elf" => "memory/riscv32-virt.x",
        _ => return,
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    fs::copy(map, out.join("memory.x")).expect("copy memory map");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={map}");
    println!("cargo:rerun-if-changed=build.rs");
}
