//! Platform glue shared by the firmware image and its on-target tests: exit codes,
//! stack measurement, fault handlers, instruction-count markers, and the model sizes
//! chosen for each target's RAM.
#![no_std]

pub mod checks;
pub mod expected;
pub mod gpt;
pub mod parts;

pub use semihosting::{print, println};

/// Ends the program with `code` as QEMU's (and so cargo's) exit status.
pub fn exit(code: i32) -> ! {
    semihosting::process::exit(code)
}

/// Peak stack use, measured by painting the free stack with a pattern and later finding
/// the deepest word that changed.
pub mod stack {
    const PATTERN: u32 = 0xC0DE_5AFE;

    unsafe extern "C" {
        /// Top of the stack (highest address), from both runtimes' linker scripts.
        static _stack_start: u32;
        /// Lowest address the stack may grow to.
        #[cfg(target_arch = "arm")]
        #[link_name = "_stack_end"]
        static STACK_BOTTOM: u32;
        #[cfg(target_arch = "riscv32")]
        #[link_name = "__estack"]
        static STACK_BOTTOM: u32;
    }

    fn bottom() -> usize {
        core::ptr::addr_of!(STACK_BOTTOM) as usize
    }

    fn top() -> usize {
        core::ptr::addr_of!(_stack_start) as usize
    }

    /// Bytes of RAM reserved for the stack (everything above the statics).
    pub fn size() -> usize {
        top() - bottom()
    }

    /// Paints the free stack below the caller's frame (minus a safety margin).
    #[inline(never)]
    pub fn paint() {
        let here = core::hint::black_box(0_u32);
        let sp = core::ptr::addr_of!(here) as usize;
        let mut p = bottom();
        while p + 256 < sp {
            // SAFETY: [bottom, sp - 256) is unused stack memory below every live frame.
            unsafe { core::ptr::write_volatile(p as *mut u32, PATTERN) };
            p += 4;
        }
    }

    /// Bytes of stack used at the deepest point since [`paint`], counted from the top.
    pub fn peak() -> usize {
        let mut p = bottom();
        // SAFETY: reads of the stack region, which is RAM.
        while p < top() && unsafe { core::ptr::read_volatile(p as *const u32) } == PATTERN {
            p += 4;
        }
        top() - p
    }
}

/// Marks the start of a region whose executed instructions the QEMU plugin counts
/// (`tools/qemu-insns`). Kept out of line and distinct so LTO keeps it.
#[inline(never)]
#[unsafe(no_mangle)]
pub extern "C" fn fw_bench_start() {
    static mut MARK: u32 = 0;
    // SAFETY: a single-threaded write the optimiser must keep.
    unsafe { core::ptr::write_volatile(core::ptr::addr_of_mut!(MARK), 1) };
}

/// Marks the end of a counted region.
#[inline(never)]
#[unsafe(no_mangle)]
pub extern "C" fn fw_bench_stop() {
    static mut MARK: u32 = 0;
    // SAFETY: as above.
    unsafe { core::ptr::write_volatile(core::ptr::addr_of_mut!(MARK), 2) };
}

#[cfg(target_arch = "arm")]
mod faults {
    use cortex_m_rt::{ExceptionFrame, exception};

    #[exception]
    unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
        crate::println!("hard fault at pc {:#010x}", frame.pc());
        crate::exit(3)
    }
}

#[cfg(target_arch = "riscv32")]
mod faults {
    #[unsafe(export_name = "ExceptionHandler")]
    fn exception_handler(frame: &riscv_rt::TrapFrame) -> ! {
        crate::println!("exception, ra {:#010x}", frame.ra);
        crate::exit(3)
    }
}
