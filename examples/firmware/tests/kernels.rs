//! On-target kernel tests: run by `cargo test --target <mcu>` through the QEMU runner,
//! printing libtest-style lines and exiting non-zero on any failure.
#![no_std]
#![no_main]

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    let failed = edgegrad_firmware::checks::run_all();
    edgegrad_firmware::exit(if failed == 0 { 0 } else { 1 })
}
