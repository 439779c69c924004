//! Keep wasmer's interrupt signal out of host code that runs on a guest stack.
//!
//! wasmer's `experimental-host-interrupt` handler acts on a `SIGUSR1` whenever
//! the interrupted thread's stack pointer lies inside a guest stack, whatever
//! instruction it interrupted, and it acts by unwinding the guest call from
//! inside the signal handler. Host code runs on guest stacks too: wasmer's
//! libcalls (`table.init`, `memory.copy`, ...) and the epilogue of every host
//! function call, which looks the store up in a locked map
//! (`interrupt_registry::is_interrupted`) and raises traps, capturing a
//! backtrace (it allocates). A signal landing there
//! - unwinds out of a held lock (a `DashMap` shard of wasmer's interrupt
//!   registry; the watchdog's next `interrupt` then blocks forever, and with it
//!   every call that registers a deadline), or
//! - lands inside `malloc` and allocates again from the handler (wasmer
//!   captures a backtrace there), which deadlocks the thread on malloc's own
//!   lock and, soon after, every thread that allocates.
//!
//! Seen as a whole test run hanging, rarely, under timeouts on wasmer.
//!
//! So this module puts a handler in front of wasmer's, installed when the
//! first timeout is registered (after wasmer's own). It passes the signal on
//! unchanged when the interrupted instruction lies outside every object file
//! loaded at start-up (the program, libc, the loader, the vDSO): on a guest
//! stack that is compiled guest code, which holds no locks. When the
//! instruction is host code, it still calls wasmer's handler, so that wasmer
//! does its book-keeping (the interrupt is recorded and the next one can be
//! sent), but with the stack pointer hidden for the length of the call: wasmer
//! then sees no guest stack and does not unwind. The call still stops: wasmer
//! traps with `HostInterrupt` when a host function returns, and the watchdog
//! signals again (see `watchdog.rs`) until one lands in guest code.
//!
//! Only on Linux on x86-64 and AArch64, where this crate knows where the
//! signal context keeps the program counter and stack pointer; elsewhere
//! wasmer's handler runs alone.

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod imp {
    use std::ffi::{c_int, c_void};
    use std::sync::Once;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Executable segments of the object files loaded at start-up.
    const MAX_RANGES: usize = 512;
    static STARTS: [AtomicUsize; MAX_RANGES] = [const { AtomicUsize::new(0) }; MAX_RANGES];
    static ENDS: [AtomicUsize; MAX_RANGES] = [const { AtomicUsize::new(0) }; MAX_RANGES];
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    /// wasmer's `SIGUSR1` handler (`SA_SIGINFO` form).
    static WASMER: AtomicUsize = AtomicUsize::new(0);

    type SigAction = unsafe extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void);

    /// Install the filter once per process. Idempotent; does nothing if
    /// wasmer's handler is not what `SIGUSR1` runs.
    pub(crate) fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            wasmer::sys::vm::init_traps();
            collect_ranges();
            // SAFETY: plain sigaction calls with zero-initialised structs.
            unsafe {
                let mut current: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGUSR1, std::ptr::null(), &mut current) != 0 {
                    return;
                }
                let handler = current.sa_sigaction;
                if handler == libc::SIG_DFL
                    || handler == libc::SIG_IGN
                    || current.sa_flags & libc::SA_SIGINFO == 0
                {
                    return;
                }
                WASMER.store(handler, Ordering::Release);
                let mut filter = current;
                filter.sa_sigaction = on_sigusr1 as *const () as usize;
                libc::sigaction(libc::SIGUSR1, &filter, std::ptr::null_mut());
            }
        });
    }

    fn collect_ranges() {
        unsafe extern "C" fn each(
            info: *mut libc::dl_phdr_info,
            _size: usize,
            _data: *mut c_void,
        ) -> c_int {
            // SAFETY: the loader hands us a valid `dl_phdr_info` whose
            // `dlpi_phdr` points at `dlpi_phnum` program headers.
            unsafe {
                let info = &*info;
                let headers =
                    std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum));
                for header in headers {
                    if header.p_type != libc::PT_LOAD || header.p_flags & libc::PF_X == 0 {
                        continue;
                    }
                    let start = (info.dlpi_addr as usize).wrapping_add(header.p_vaddr as usize);
                    let end = start.wrapping_add(header.p_memsz as usize);
                    let i = COUNT.load(Ordering::Relaxed);
                    if i == MAX_RANGES {
                        return 1;
                    }
                    STARTS[i].store(start, Ordering::Relaxed);
                    ENDS[i].store(end, Ordering::Relaxed);
                    COUNT.store(i + 1, Ordering::Release);
                }
            }
            0
        }
        // SAFETY: `each` only reads what the loader hands it.
        unsafe {
            libc::dl_iterate_phdr(Some(each), std::ptr::null_mut());
        }
    }

    /// Whether `pc` lies in one of the object files loaded at start-up.
    fn is_host_code(pc: usize) -> bool {
        let count = COUNT.load(Ordering::Acquire);
        (0..count).any(|i| {
            STARTS[i].load(Ordering::Relaxed) <= pc && pc < ENDS[i].load(Ordering::Relaxed)
        })
    }

    /// The interrupted program counter.
    ///
    /// # Safety
    /// `context` is the `ucontext_t` the kernel passed to a signal handler.
    unsafe fn pc(context: *mut c_void) -> usize {
        // SAFETY: per the contract above.
        let context = unsafe { &*context.cast::<libc::ucontext_t>() };
        #[cfg(target_arch = "x86_64")]
        return context.uc_mcontext.gregs[libc::REG_RIP as usize] as usize;
        #[cfg(target_arch = "aarch64")]
        return context.uc_mcontext.pc as usize;
    }

    /// Replace the interrupted stack pointer; returns the old one.
    ///
    /// # Safety
    /// As for [`pc`].
    unsafe fn swap_sp(context: *mut c_void, sp: usize) -> usize {
        // SAFETY: per the contract above.
        let context = unsafe { &mut *context.cast::<libc::ucontext_t>() };
        #[cfg(target_arch = "x86_64")]
        return std::mem::replace(
            &mut context.uc_mcontext.gregs[libc::REG_RSP as usize],
            sp as i64,
        ) as usize;
        #[cfg(target_arch = "aarch64")]
        return std::mem::replace(&mut context.uc_mcontext.sp, sp as u64) as usize;
    }

    unsafe extern "C" fn on_sigusr1(
        signum: c_int,
        info: *mut libc::siginfo_t,
        context: *mut c_void,
    ) {
        let wasmer = WASMER.load(Ordering::Acquire);
        if wasmer == 0 {
            return;
        }
        // SAFETY: `WASMER` holds the `SA_SIGINFO` handler wasmer installed,
        // and `context` is the kernel's signal context.
        unsafe {
            let wasmer: SigAction = std::mem::transmute::<usize, SigAction>(wasmer);
            if is_host_code(pc(context)) {
                // A stack pointer of 0 lies in no guest stack: wasmer records
                // the interrupt and returns without touching the context.
                let saved = swap_sp(context, 0);
                wasmer(signum, info, context);
                swap_sp(context, saved);
            } else {
                wasmer(signum, info, context);
            }
        }
    }
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub(crate) use imp::install;

/// Nothing to install on this platform (see the module docs).
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub(crate) fn install() {}
