//! Two choices the kernels make at build time.
//!
//! **Lanes.** `cfg(edgegrad_lanes = "4" | "8" | "16")` is the width of `simd::Vector`:
//! 16 on x86-64 when the build enables AVX-512F (e.g. `-C target-cpu=native` on such a
//! CPU), 8 on other x86 and on aarch64, 4 elsewhere (microcontrollers). Setting it by
//! hand (`RUSTFLAGS='--cfg edgegrad_lanes="4"'`) selects any of the three on any target,
//! which is how CI tests every configuration on one machine.
//!
//! **Code for size.** With `opt-level = "s"` or `"z"` in the profile that builds
//! edgegrad, `cfg(edgegrad_size)` makes the kernels use one register-tile shape for every
//! product, keep `exp` out of line and traverse slices without unrolling — the same math,
//! in a fraction of the flash and slower. Builds at other levels are unchanged.
//! `RUSTFLAGS="--cfg edgegrad_size"` selects it by hand (the test suite runs that way in
//! CI).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(edgegrad_size)");
    println!("cargo::rustc-check-cfg=cfg(edgegrad_lanes, values(\"4\", \"8\", \"16\"))");
    println!("cargo::rerun-if-env-changed=OPT_LEVEL");
    if matches!(std::env::var("OPT_LEVEL").as_deref(), Ok("s" | "z")) {
        println!("cargo::rustc-cfg=edgegrad_size");
    }
    // Cargo passes the target's cfg, RUSTFLAGS' `--cfg` included, as CARGO_CFG_*.
    match std::env::var("CARGO_CFG_EDGEGRAD_LANES").ok().as_deref() {
        Some("4" | "8" | "16") => {} // set by hand: the compiler already has it
        Some(other) => {
            println!("cargo::error=edgegrad_lanes must be \"4\", \"8\" or \"16\", not \"{other}\"");
        }
        None => {
            let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
            let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
            let avx512f = features.split(',').any(|f| f == "avx512f");
            let lanes = match arch.as_str() {
                "x86_64" if avx512f => 16,
                "x86_64" | "x86" | "aarch64" => 8,
                _ => 4,
            };
            println!("cargo::rustc-cfg=edgegrad_lanes=\"{lanes}\"");
        }
    }
}
