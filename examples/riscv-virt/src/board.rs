//! The two devices of QEMU's `virt` machine the firmware uses: the NS16550A
//! UART at `0x1000_0000` for output, and the SiFive test finisher at
//! `0x10_0000` to end the run with an exit code.
//!
//! Both are driven with a handful of volatile MMIO accesses rather than a
//! HAL crate: QEMU's UART needs no setup (no baud rate, no FIFO
//! configuration) to transmit, and the finisher is a single register.

use core::fmt;

/// The UART's registers (QEMU `virt`: `VIRT_UART0`).
const UART_BASE: usize = 0x1000_0000;
/// Transmit holding register (write).
const UART_THR: usize = 0;
/// Line status register (read).
const UART_LSR: usize = 5;
/// LSR bit: the transmit holding register is empty.
const LSR_THR_EMPTY: u8 = 1 << 5;

/// The test finisher (QEMU `virt`: `VIRT_TEST`, a `sifive_test` device).
const FINISHER: usize = 0x10_0000;
/// Finisher command: QEMU exits with status 0.
const FINISHER_PASS: u32 = 0x5555;
/// Finisher command in the low 16 bits; the exit status goes in the high 16.
const FINISHER_FAIL: u32 = 0x3333;

/// The serial console; `write!` to it.
#[derive(Debug)]
pub struct Uart;

impl Uart {
    fn put(&mut self, byte: u8) {
        let base = UART_BASE as *mut u8;
        // SAFETY: on QEMU `virt` the NS16550A's byte-wide registers are
        // mapped at UART_BASE for the whole run, and no other code in this
        // single-hart firmware touches them (no interrupt handler writes the
        // console), so these volatile MMIO accesses race with nothing and
        // alias no Rust object. Reading LSR has no side effect on transmit.
        unsafe {
            while base.add(UART_LSR).read_volatile() & LSR_THR_EMPTY == 0 {}
            base.add(UART_THR).write_volatile(byte);
        }
    }
}

impl fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.put(b'\r');
            }
            self.put(byte);
        }
        Ok(())
    }
}

/// `println!` to the UART.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::board::Uart, $($arg)*);
    }};
}

/// End the run: QEMU exits with status 0 for `Ok`, `code` (1..=0xFFFF) for `Err`.
pub fn exit(result: Result<(), u16>) -> ! {
    let command = match result {
        Ok(()) => FINISHER_PASS,
        Err(code) => (u32::from(code.max(1)) << 16) | FINISHER_FAIL,
    };
    // SAFETY: the finisher's 32-bit register is mapped at FINISHER on QEMU
    // `virt`; writing a command there stops the machine, touching no memory.
    unsafe { (FINISHER as *mut u32).write_volatile(command) };
    // Outside QEMU (or if the write did not stop the machine) wait forever.
    loop {
        core::hint::spin_loop();
    }
}
