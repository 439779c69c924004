//! What a check gets: one backend, ways to make engines and sandboxes, and
//! assertions that turn mismatches into readable failures.

use anywasm::{
    BackendKind, Config, DynRuntime, DynStore, ErrorKind, InstanceId, Limits, Linker, Result,
    Sandbox, TrapCode, Val,
};

/// Host state used by every check's store.
#[derive(Debug, Default)]
pub struct Host {
    /// A counter host functions bump.
    pub counter: i64,
}

/// One backend, as seen by a check.
#[derive(Debug)]
pub struct Ctx {
    backend: BackendKind,
}

impl Ctx {
    pub(crate) fn new(backend: BackendKind) -> Self {
        Self { backend }
    }

    /// The backend under test.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// An engine of this backend.
    pub fn engine(&self, config: &Config) -> Result<Box<dyn DynRuntime<Host>>> {
        anywasm::engine(self.backend, config)
    }

    /// A sandbox running the text module `wat`.
    pub fn sandbox(
        &self,
        wat: &str,
        config: &Config,
        linker: &Linker<Host>,
        limits: &Limits,
    ) -> Result<Sandbox<Host>> {
        let engine = self.engine(config)?;
        Sandbox::new(&*engine, &wasm(wat), linker, Host::default(), limits)
    }

    /// A store and an instance of `wat` in it.
    pub fn instance(
        &self,
        wat: &str,
        config: &Config,
        limits: &Limits,
    ) -> Result<(Box<dyn DynStore<Host>>, InstanceId)> {
        let engine = self.engine(config)?;
        let module = engine.compile(&wasm(wat))?;
        let mut store = engine.store(Host::default(), limits)?;
        let inst = store.instantiate(&module, &Linker::new())?;
        Ok((store, inst))
    }
}

/// Text to binary; fixtures are ours, so a parse error is a bug in the suite.
pub fn wasm(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).expect("conformance fixture must parse")
}

/// Turn an anywasm error into a check failure with context.
pub fn ok<T>(what: &str, r: Result<T>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: unexpected error: {e}"))
}

thread_local! {
    /// The backend the running check is for: [`expect_kind`] requires errors
    /// to be tagged with it.
    static EXPECTED_BACKEND: std::cell::Cell<Option<BackendKind>> =
        const { std::cell::Cell::new(None) };
}

/// Until the guard drops, [`expect_kind`] on this thread also requires the
/// error's [`backend`](anywasm::Error::backend) to be `backend`.
pub(crate) fn expect_backend(backend: BackendKind) -> impl Drop {
    struct Reset(Option<BackendKind>);
    impl Drop for Reset {
        fn drop(&mut self) {
            EXPECTED_BACKEND.with(|b| b.set(self.0));
        }
    }
    Reset(EXPECTED_BACKEND.with(|b| b.replace(Some(backend))))
}

/// Expect an error of `kind`, tagged with the backend under test (every
/// error an engine's API returns says which engine it came from).
pub fn expect_kind<T: std::fmt::Debug>(
    what: &str,
    r: Result<T>,
    kind: ErrorKind,
) -> Result<(), String> {
    match r {
        Ok(v) => Err(format!("{what}: expected {kind:?}, got Ok({v:?})")),
        Err(e) if e.kind() == kind => match EXPECTED_BACKEND.with(|b| b.get()) {
            Some(backend) if e.backend() != Some(backend) => Err(format!(
                "{what}: {kind:?} as expected, but tagged {:?}, not {backend:?}: {e}",
                e.backend()
            )),
            _ => Ok(()),
        },
        Err(e) => Err(format!(
            "{what}: expected {kind:?}, got {:?}: {e}",
            e.kind()
        )),
    }
}

/// Expect a trap with `code`.
pub fn expect_trap<T: std::fmt::Debug>(
    what: &str,
    r: Result<T>,
    code: TrapCode,
) -> Result<(), String> {
    expect_kind(what, r, ErrorKind::Trap(code))
}

/// Expect equal values.
pub fn expect_eq<T: PartialEq + std::fmt::Debug>(
    what: &str,
    got: T,
    want: T,
) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// Call `name` on a sandbox and expect `want`.
pub fn expect_call(
    sb: &mut Sandbox<Host>,
    name: &str,
    args: &[Val],
    want: &[Val],
) -> Result<(), String> {
    let got = ok(name, sb.call(name, args))?;
    expect_eq(name, got.as_slice(), want)
}

/// The host side every ABI guest test uses: `anywasm::add`, a typed host
/// function behind the `math` capability, counting calls in hosts whose state
/// is [`Host`]. Returns the linker and the capability set that grants it.
pub fn abi_linker<T: 'static>(count: fn(&mut T)) -> (Linker<T>, anywasm::Capabilities) {
    let mut l = Linker::<T>::new();
    l.abi_func("add", move |caller, (a, b): (i32, i32)| {
        count(caller.data_mut());
        a.checked_add(b)
            .ok_or_else(|| anywasm::HostError::new(format!("{a} + {b} overflows")))
    })
    .capability("math");
    (l, anywasm::Capabilities::none().grant("math"))
}

std::thread_local! {
    /// The panic message the current thread's check expects, if any.
    static EXPECTED_PANIC: std::cell::Cell<Option<&'static str>> =
        const { std::cell::Cell::new(None) };
}

/// Run `f`, in which a panic with exactly `message` is deliberate (a host
/// function that panics on purpose): that panic is kept off stderr. Any other
/// panic, on this thread or another, still goes to the panic hook that was
/// installed before (the default one prints it), so real bugs stay visible.
pub fn expecting_panic<R>(message: &'static str, f: impl FnOnce() -> R) -> R {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let text = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            let expected = EXPECTED_PANIC.with(std::cell::Cell::get);
            if expected.is_none() || text != expected {
                previous(info);
            }
        }));
    });
    struct Reset(Option<&'static str>);
    impl Drop for Reset {
        fn drop(&mut self) {
            EXPECTED_PANIC.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(EXPECTED_PANIC.with(|c| c.replace(Some(message))));
    f()
}
