//! Pre-linked modules: a wasmtime `InstancePre` kept per (module, linker),
//! so instantiating a module again with the same [`Linker`] skips import
//! resolution and the creation of a host `Func` per import per store.
//!
//! The linker's host functions a module imports are defined once in an
//! engine-level `wasmtime::Linker`, with the same trampolines the per-store
//! path uses, and wasmtime type-checks the imports once. Instantiating from
//! the result only copies prepared function references into the store,
//! which is what raw wasmtime's fastest non-pooled path does.
//!
//! It applies only where the result cannot differ from resolving imports
//! one by one (`link.rs`): every import is a function the linker defines
//! with exactly the import's signature, named once. A module importing
//! anything else (the store's gas counter, a memory, a global, a function
//! the linker lacks or types differently, or one name twice) is remembered
//! as not pre-linkable and always takes the per-store path, which also
//! reports why an import does not link. So does any instantiation in a
//! store with a registered instance under a module name the module imports
//! from, since registered exports take precedence over the linker.
//!
//! The cache lives in the [`Module`](crate::Module) (shared by its clones)
//! and holds at most [`CAPACITY`] linkers, least recently used evicted
//! first, and entries of linkers that are gone or changed evicted before
//! any live one: a host that makes a linker per plugin keeps a few entries
//! per module, not one per linker it ever made. An entry keeps its host
//! closures alive until it is evicted or the module is dropped; a closure
//! that owns the module it is cached in therefore keeps both alive.

use std::any::Any;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use anywasm_core::{Linker, LinkerId};

use crate::convert::func_type;
use crate::host::define_host;
use crate::store::StoreData;

/// How many linkers one module keeps pre-linked state for.
pub(crate) const CAPACITY: usize = 4;

/// A module pre-linked for stores holding `T`.
pub(crate) type Pre<T> = wasmtime::InstancePre<StoreData<T>>;

/// The pre-linked states of one module, by linker.
#[derive(Default)]
pub(crate) struct PreCache {
    /// Least recently used first.
    entries: Mutex<Vec<Entry>>,
}

struct Entry {
    linker: LinkerId,
    /// A [`Pre<T>`] for the linker's `T`, or `None` if the module cannot be
    /// pre-linked with this linker.
    pre: Option<Box<dyn Any + Send>>,
}

impl fmt::Debug for PreCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.lock();
        f.debug_struct("PreCache")
            .field("linkers", &entries.len())
            .finish()
    }
}

impl PreCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        // Every update leaves the list valid; a panic elsewhere cannot
        // leave it half-changed.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `module` pre-linked with `linker`, made on first use; `None` if it
    /// cannot be (see the module docs).
    pub(crate) fn get<T: Send + 'static>(
        &self,
        module: &wasmtime::Module,
        linker: &Linker<T>,
    ) -> Option<Pre<T>> {
        {
            let mut entries = self.lock();
            if let Some(i) = entries.iter().position(|e| e.linker.is_of(linker)) {
                let last = entries.len() - 1;
                if i != last {
                    let entry = entries.remove(i);
                    entries.push(entry);
                }
                return entries[last]
                    .pre
                    .as_ref()
                    .and_then(|p| p.downcast_ref::<Pre<T>>())
                    .cloned();
            }
        }
        // Built unlocked: other instantiations of the module go on
        // meanwhile (two threads may both build it; the first one stays).
        let pre = pre_link(module, linker);
        let mut entries = self.lock();
        if !entries.iter().any(|e| e.linker.is_of(linker)) {
            entries.retain(|e| e.linker.is_live());
            if entries.len() >= CAPACITY {
                entries.remove(0);
            }
            entries.push(Entry {
                linker: linker.id(),
                pre: pre.clone().map(|p| Box::new(p) as Box<dyn Any + Send>),
            });
        }
        pre
    }

    /// How many linkers have an entry.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// `module` with every import defined from `linker`, if each import is a
/// function the linker has with exactly the import's type, named once.
fn pre_link<T: Send + 'static>(module: &wasmtime::Module, linker: &Linker<T>) -> Option<Pre<T>> {
    let mut raw = wasmtime::Linker::new(module.engine());
    for import in module.imports() {
        if anywasm_gas::is_counter(import.module(), import.name()) {
            return None;
        }
        let wasmtime::ExternType::Func(ty) = import.ty() else {
            return None;
        };
        let host = linker.get(import.module(), import.name())?;
        if func_type(&ty).as_ref() != Some(host.ty()) {
            return None;
        }
        // A second import of the same name fails here (the linker does not
        // allow shadowing): the per-store path gives each its own function.
        define_host(&mut raw, host, ty).ok()?;
    }
    raw.instantiate_pre(module).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anywasm_core::{FuncType, ValType};

    fn module(engine: &wasmtime::Engine) -> wasmtime::Module {
        // (module (import "host" "f" (func (param i32))))
        let wasm = [
            0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
            0x01, 0x05, 0x01, 0x60, 0x01, 0x7f, 0x00, // type (i32) -> ()
            0x02, 0x0a, 0x01, 0x04, b'h', b'o', b's', b't', 0x01, b'f', 0x00, 0x00, // import
        ];
        wasmtime::Module::new(engine, wasm).expect("module")
    }

    fn linker(param: ValType) -> Linker<()> {
        let mut l = Linker::new();
        l.func("host", "f", FuncType::new([param], []), |_, _, _| Ok(()));
        l
    }

    #[test]
    fn a_changed_linker_is_linked_again() {
        let engine = wasmtime::Engine::default();
        let module = module(&engine);
        let cache = PreCache::default();
        let mut l = linker(ValType::I32);
        assert!(cache.get(&module, &l).is_some());
        // Redefined with a type the import does not have: the old entry
        // must not be used.
        l.func("host", "f", FuncType::new([ValType::I64], []), |_, _, _| {
            Ok(())
        });
        assert!(cache.get(&module, &l).is_none());
        assert_eq!(cache.len(), 1, "the stale entry was evicted");
    }

    #[test]
    fn a_clone_shares_the_entry() {
        let engine = wasmtime::Engine::default();
        let module = module(&engine);
        let cache = PreCache::default();
        let l = linker(ValType::I32);
        assert!(cache.get(&module, &l).is_some());
        assert!(cache.get(&module, &l.clone()).is_some());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_cache_is_bounded_by_live_linkers() {
        let engine = wasmtime::Engine::default();
        let module = module(&engine);
        let cache = PreCache::default();
        let live: Vec<_> = (0..CAPACITY + 3).map(|_| linker(ValType::I32)).collect();
        for l in &live {
            assert!(cache.get(&module, l).is_some());
        }
        assert_eq!(cache.len(), CAPACITY);
        // The most recent ones stayed.
        let kept = cache.lock();
        for (entry, l) in kept.iter().zip(&live[live.len() - CAPACITY..]) {
            assert!(entry.linker.is_of(l));
        }
    }

    #[test]
    fn a_missing_import_is_not_pre_linked() {
        let engine = wasmtime::Engine::default();
        let module = module(&engine);
        let cache = PreCache::default();
        assert!(cache.get(&module, &Linker::<()>::new()).is_none());
        assert!(cache.get(&module, &linker(ValType::F32)).is_none());
    }
}
