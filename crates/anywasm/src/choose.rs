//! Choosing the engine at run time.

use alloc::boxed::Box;
use alloc::format;

use anywasm_core::{BackendKind, Config, DynRuntime, Error, ErrorKind, Result, Support};

/// The backends compiled into this build, in preference order.
pub fn compiled_backends() -> &'static [BackendKind] {
    &[
        #[cfg(feature = "wasmtime")]
        BackendKind::Wasmtime,
        #[cfg(feature = "wasmer")]
        BackendKind::Wasmer,
        #[cfg(feature = "wasmi")]
        BackendKind::Wasmi,
    ]
}

/// Create the engine `kind` behind the object-safe layer.
///
/// A backend that exists but is not compiled into this build is
/// [`ErrorKind::BackendUnavailable`], with the Cargo feature that adds it.
pub fn engine<T: Send + 'static>(
    kind: BackendKind,
    config: &Config,
) -> Result<Box<dyn DynRuntime<T>>> {
    let _ = config;
    match kind {
        #[cfg(feature = "wasmtime")]
        BackendKind::Wasmtime => Ok(Box::new(<anywasm_wasmtime::Engine as anywasm_core::Runtime>::new(config)?)),
        #[cfg(feature = "wasmer")]
        BackendKind::Wasmer => Ok(Box::new(<anywasm_wasmer::Engine as anywasm_core::Runtime>::new(config)?)),
        #[cfg(feature = "wasmi")]
        BackendKind::Wasmi => Ok(Box::new(<anywasm_wasmi::Engine as anywasm_core::Runtime>::new(config)?)),
        #[allow(unreachable_patterns)]
        other => Err(Error::new(
            ErrorKind::BackendUnavailable,
            format!(
                "backend `{other}` is not compiled into this build; enable the `{other}` feature of anywasm"
            ),
        )
        .with_backend(other)),
    }
}

/// What the backend `kind` declares it supports ([`Runtime::SUPPORT`](anywasm_core::Runtime::SUPPORT)),
/// without creating an engine; `None` if it is not compiled in.
///
/// ```
/// use anywasm::{BackendKind, Feature};
///
/// for &kind in anywasm::compiled_backends() {
///     let support = anywasm::support(kind).unwrap();
///     for &(feature, why) in support.gaps() {
///         println!("{kind} lacks {feature}: {why}");
///     }
/// }
/// # #[cfg(feature = "wasmtime")]
/// assert!(anywasm::support(BackendKind::Wasmtime).unwrap().supports(Feature::InstancePool));
/// ```
pub fn support(kind: BackendKind) -> Option<Support> {
    match kind {
        #[cfg(feature = "wasmtime")]
        BackendKind::Wasmtime => Some(<anywasm_wasmtime::Engine as anywasm_core::Runtime>::SUPPORT),
        #[cfg(feature = "wasmer")]
        BackendKind::Wasmer => Some(<anywasm_wasmer::Engine as anywasm_core::Runtime>::SUPPORT),
        #[cfg(feature = "wasmi")]
        BackendKind::Wasmi => Some(<anywasm_wasmi::Engine as anywasm_core::Runtime>::SUPPORT),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Create an engine from its name (`"wasmtime"`, `"wasmer"`, `"wasmi"`).
///
/// A name that is no backend at all is [`ErrorKind::UnknownBackend`]; a
/// backend anywasm knows but this build lacks is
/// [`ErrorKind::BackendUnavailable`].
pub fn engine_by_name<T: Send + 'static>(
    name: &str,
    config: &Config,
) -> Result<Box<dyn DynRuntime<T>>> {
    let kind: BackendKind = name.parse()?;
    engine(kind, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn a_typo_is_not_a_missing_feature() {
        let err = engine_by_name::<()>("wasmtim", &Config::new())
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::UnknownBackend, "{err}");
        for kind in BackendKind::ALL {
            let r = engine::<()>(kind, &Config::new());
            if compiled_backends().contains(&kind) {
                assert!(r.is_ok(), "{kind}");
            } else {
                // Only a build without every backend gets here: CI runs
                // these tests with wasmi alone.
                let err = r.err().unwrap();
                assert_eq!(err.kind(), ErrorKind::BackendUnavailable, "{err}");
                assert!(err.to_string().contains("feature"), "{err}");
                let by_name = engine_by_name::<()>(kind.name(), &Config::new()).err();
                assert_eq!(
                    by_name.map(|e| e.kind()),
                    Some(ErrorKind::BackendUnavailable)
                );
            }
        }
    }
}
