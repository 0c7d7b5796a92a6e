//! Chooses code for size when the build optimises for size: with `opt-level = "s"` or
//! `"z"` in the profile that builds edgegrad, `cfg(edgegrad_size)` makes the kernels use
//! one register-tile shape for every product, keep `exp` out of line and traverse slices
//! without unrolling — the same math, in a fraction of the flash and slower. Builds at
//! other levels are unchanged. `RUSTFLAGS="--cfg edgegrad_size"` selects it by hand
//! (the test suite runs that way in CI).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(edgegrad_size)");
    println!("cargo::rerun-if-env-changed=OPT_LEVEL");
    if matches!(std::env::var("OPT_LEVEL").as_deref(), Ok("s" | "z")) {
        println!("cargo::rustc-cfg=edgegrad_size");
    }
}
