//! Instantiation: resolving imports from registered instances and the
//! [`Linker`] (or taking the module pre-linked with it), and enforcing the
//! instance limit.

use anywasm_core::{ErrorKind, Linker, Result};

use crate::Module;
use crate::convert::{func_type, kind_name};
use crate::error::{err, instantiate_error, tag};
use crate::host::host_func;
use crate::store::{Instance, Store, arm_deadline};

impl<T: Send + 'static> Store<T> {
    /// See [`anywasm_core::Store::instantiate`].
    ///
    /// Each import is taken from the instance registered under its module
    /// name if that instance exports the name with a matching kind (and,
    /// for functions, a compatible signature); otherwise from a linker
    /// function of the same name and exactly the same signature. Host
    /// functions are created only for the imports the module names.
    ///
    /// When every import is a linker function (and no registered instance
    /// could shadow one), the module is instantiated from its pre-linked
    /// form for this linker instead: made once, kept in the module (see
    /// `prelink.rs`), with the same outcome and no per-import work.
    ///
    /// The store's call timeout, if any, also bounds the start function.
    pub(crate) fn instantiate_module(
        &mut self,
        module: &Module,
        linker: &Linker<T>,
    ) -> Result<Instance> {
        if !wasmtime::Engine::same(module.raw().engine(), self.inner.engine()) {
            return Err(
                anywasm_core::Error::foreign_handle("module").with_backend(crate::error::BACKEND)
            );
        }
        if let Some(max) = self.max_instances
            && self.instance_count >= max
        {
            return Err(tag(anywasm_core::Error::instance_limit(max)));
        }

        // Registered exports take precedence over the linker, so a store
        // with one under a name the module imports from links per store.
        let shadowed = !self.registered.is_empty()
            && module
                .raw()
                .imports()
                .any(|i| self.registered.contains_key(i.module()));
        let pre = if shadowed {
            None
        } else {
            module.prelinked(linker)
        };
        let externs = if pre.is_some() {
            Vec::new()
        } else {
            self.resolve_imports(module, linker)?
        };

        if linker.has_async() {
            self.enter_async()?;
        }
        let data = self.inner.data_mut();
        // Before it runs: its start function may already call a host
        // function that re-enters it.
        data.reentry.add_module(module.raw());
        data.limiter.reset();
        let deadline = arm_deadline(&mut self.inner, &self.engine, self.timeout);
        let result = if self.async_imports {
            // Every entry into this store must be async (see `fiber.rs`).
            let inner = &mut self.inner;
            let fut = async {
                match &pre {
                    Some(pre) => pre.instantiate_async(&mut *inner).await,
                    None => {
                        wasmtime::Instance::new_async(&mut *inner, module.raw(), &externs).await
                    }
                }
            };
            anywasm_core::block_on(fut, self.timeout)
                .unwrap_or_else(|| Err(wasmtime::Error::new(wasmtime::Trap::Interrupt)))
        } else {
            match &pre {
                Some(pre) => pre.instantiate(&mut self.inner),
                None => wasmtime::Instance::new(&mut self.inner, module.raw(), &externs),
            }
        };
        drop(deadline);
        match result {
            Ok(inner) => {
                self.instance_count += 1;
                Ok(Instance {
                    inner,
                    store: self.id,
                })
            }
            Err(e) => {
                let data = self.inner.data();
                let e = instantiate_error(e, data.limiter.denied());
                // A start function can run out of gas too.
                let e = crate::gas::classify(&mut self.inner, e);
                // It ran (segments or start) and trapped: wasmtime keeps its
                // memories and tables in the store, so it takes a slot, as
                // on every engine.
                if matches!(e.kind(), ErrorKind::Trap(_)) {
                    self.instance_count += 1;
                }
                Err(e)
            }
        }
    }

    /// Every import of `module`, resolved for this store.
    fn resolve_imports(
        &mut self,
        module: &Module,
        linker: &Linker<T>,
    ) -> Result<Vec<wasmtime::Extern>> {
        let mut externs = Vec::with_capacity(module.raw().imports().len());
        for import in module.raw().imports() {
            let ty = import.ty();
            // The gas counter comes from the store, never from a registered
            // instance (instrumentation refuses modules importing it).
            if anywasm_gas::is_counter(import.module(), import.name())
                && let Some(counter) = self.inner.data().gas
            {
                externs.push(counter.into());
                continue;
            }
            if let Some(e) = self.resolve_registered(import.module(), import.name(), &ty) {
                externs.push(e);
                continue;
            }
            externs.push(self.resolve_host(linker, import.module(), import.name(), ty)?);
        }
        Ok(externs)
    }

    /// The export `module::name` of a registered instance, if there is one
    /// of the kind the import expects.
    fn resolve_registered(
        &mut self,
        module: &str,
        name: &str,
        ty: &wasmtime::ExternType,
    ) -> Option<wasmtime::Extern> {
        let instance = *self.registered.get(module)?;
        let export = instance.get_export(&mut self.inner, name)?;
        let fits = match (&export, ty) {
            (wasmtime::Extern::Func(f), wasmtime::ExternType::Func(t)) => {
                f.matches_ty(&self.inner, t)
            }
            // Limits and subtyping are checked by wasmtime at instantiation.
            (wasmtime::Extern::Global(_), wasmtime::ExternType::Global(_))
            | (wasmtime::Extern::Memory(_), wasmtime::ExternType::Memory(_))
            | (wasmtime::Extern::SharedMemory(_), wasmtime::ExternType::Memory(_))
            | (wasmtime::Extern::Table(_), wasmtime::ExternType::Table(_))
            | (wasmtime::Extern::Tag(_), wasmtime::ExternType::Tag(_)) => true,
            _ => false,
        };
        fits.then_some(export)
    }

    /// A host function for the import `module::name` from the linker.
    fn resolve_host(
        &mut self,
        linker: &Linker<T>,
        module: &str,
        name: &str,
        ty: wasmtime::ExternType,
    ) -> Result<wasmtime::Extern> {
        let wasmtime::ExternType::Func(fty) = ty else {
            return Err(err(
                ErrorKind::Unlinkable,
                format!(
                    "unknown import `{module}::{name}`: no registered instance exports a {} of that name",
                    kind_name(&ty)
                ),
            ));
        };
        let Some(host) = linker.get(module, name) else {
            return Err(err(
                ErrorKind::Unlinkable,
                format!("unknown import `{module}::{name}`: no host function or registered export"),
            ));
        };
        match func_type(&fty) {
            Some(wanted) if &wanted == host.ty() => {
                Ok(host_func(&mut self.inner, host, fty)?.into())
            }
            Some(wanted) => Err(err(
                ErrorKind::Unlinkable,
                format!(
                    "import `{module}::{name}` has type {wanted}, the host function has type {}",
                    host.ty()
                ),
            )),
            None => Err(err(
                ErrorKind::Unlinkable,
                format!("import `{module}::{name}` uses reference types no host function can have"),
            )),
        }
    }
}
