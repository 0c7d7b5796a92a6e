//! edgegrad on a microcontroller: the kernel self-test, word2vec trained on a short
//! embedded text, and an attention language model trained and sampled — with models in
//! `static` storage, peak stack measured per part, and a non-zero exit on any failure.
#![no_std]
#![no_main]

use edgegrad_firmware::{exit, println, stack};

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    println!("edgegrad firmware: stack {} bytes", stack::size());
    stack::paint();
    let failed = edgegrad_firmware::checks::run_all();
    println!("part 1 (kernel self-test): peak stack {} bytes", stack::peak());
    exit(if failed == 0 { 0 } else { 1 })
}
