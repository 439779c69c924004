//! Stack high-water mark by painting: at start-up the unused part of the
//! stack is filled with a pattern, and at the end the first word from the
//! bottom that no longer holds it shows how deep the stack went.
//!
//! The stack is the region `memory.x` reserves below `_stack_start`, of
//! `_hart_stack_size` bytes (riscv-rt's symbols; one hart).

use core::ptr::addr_of;

/// What unused stack words hold.
const PAINT: u32 = 0x57AC_C0DE;

/// Bytes below the painting function's own stack pointer left unpainted, so
/// the writes stay clear of its frame.
const MARGIN: usize = 256;

unsafe extern "C" {
    /// Top of the stack (one past its highest byte), from riscv-rt's link.x.
    static _stack_start: u8;
    /// Size of the stack, from memory.x.
    static _hart_stack_size: u8;
}

fn top() -> usize {
    addr_of!(_stack_start) as usize
}

/// The stack's size in bytes.
pub fn size() -> usize {
    addr_of!(_hart_stack_size) as usize
}

fn bottom() -> usize {
    top() - size()
}

/// Paint the unused stack. Call once, first thing in `main`.
#[inline(never)]
pub fn paint() {
    let sp: usize;
    // SAFETY: reads the stack pointer into a register; no memory access.
    unsafe { core::arch::asm!("mv {0}, sp", out(reg) sp, options(nomem, nostack)) };
    let mut word = bottom() as *mut u32;
    let end = (sp - MARGIN) as *mut u32;
    while word < end {
        // SAFETY: [bottom, sp - MARGIN) is the part of the stack region below
        // this function's frame. The stack grows down and this function calls
        // nothing, so no frame lives there now, and nothing else (no heap, no
        // static, no interrupt handler) uses that memory. The addresses are
        // word aligned: memory.x keeps the stack's top and size multiples of
        // 16 and sp is 16-byte aligned by the RISC-V calling convention.
        unsafe {
            word.write_volatile(PAINT);
            word = word.add(1);
        }
    }
}

/// The most stack used since [`paint`], in bytes.
pub fn high_water() -> usize {
    let mut word = bottom() as *const u32;
    // SAFETY: reads words of the stack region from its bottom up, stopping
    // at the first one not holding the paint, which is at or below the
    // caller's frame; every address read is inside the region memory.x
    // reserves for the stack, and aligned (see `paint`). The values read are
    // plain u32s: any bit pattern is valid.
    unsafe {
        while (word as usize) < top() && word.read_volatile() == PAINT {
            word = word.add(1);
        }
    }
    top() - word as usize
}
