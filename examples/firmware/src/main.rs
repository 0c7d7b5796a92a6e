//! edgegrad on a microcontroller: the kernel self-test, word2vec trained on a short
//! embedded text, and an attention language model trained and sampled — with models in
//! `static` storage, then (on parts with the RAM for its KV cache) a larger model
//! trained on the host and run from flash; peak stack measured per part, and a
//! non-zero exit on any failure.
#![no_std]
#![no_main]

use edgegrad_firmware::{exit, gpt, parts, println, stack};

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    println!("edgegrad firmware: stack {} bytes", stack::size());
    stack::paint();
    let failed = edgegrad_firmware::checks::run_all();
    println!(
        "part 1 (kernel self-test): peak stack {} bytes",
        stack::peak()
    );
    stack::paint();
    let w2v = parts::word2vec();
    println!(
        "part 2 (word2vec): {}, peak stack {} bytes",
        if w2v { "ok" } else { "FAILED" },
        stack::peak()
    );
    stack::paint();
    let lm = parts::attention();
    println!(
        "part 3 (attention LM): {}, peak stack {} bytes",
        if lm { "ok" } else { "FAILED" },
        stack::peak()
    );
    stack::paint();
    #[cfg(not(small_ram))]
    let flash = parts::flash_inference();
    #[cfg(not(small_ram))]
    println!(
        "part 4 (inference from flash): {}, peak stack {} bytes",
        if flash { "ok" } else { "FAILED" },
        stack::peak()
    );
    // The 64-token model's KV cache alone needs 33 KB: more than this part's RAM.
    #[cfg(small_ram)]
    let flash = true;
    #[cfg(small_ram)]
    println!(
        "part 4 (inference from flash): skipped, the model's decoder needs more RAM than the part has"
    );
    stack::paint();
    #[cfg(not(small_ram))]
    let gpt_train = gpt::train();
    #[cfg(not(small_ram))]
    println!(
        "part 5 (GPT training): {}, peak stack {} bytes",
        if gpt_train { "ok" } else { "FAILED" },
        stack::peak()
    );
    // Parameters, gradients and activations need several times the part's RAM.
    #[cfg(small_ram)]
    let gpt_train = true;
    #[cfg(small_ram)]
    println!("part 5 (GPT training): skipped, training needs more RAM than the part has");
    stack::paint();
    let gpt_flash = gpt::flash();
    println!(
        "part 6 (GPT from flash): {}, peak stack {} bytes",
        if gpt_flash { "ok" } else { "FAILED" },
        stack::peak()
    );
    println!("shared model arena: {} bytes", parts::ARENA_BYTES);
    let ok = failed == 0 && w2v && lm && flash && gpt_train && gpt_flash;
    println!(
        "firmware: {}",
        if ok { "all parts passed" } else { "FAILED" }
    );
    exit(if ok { 0 } else { 1 })
}
