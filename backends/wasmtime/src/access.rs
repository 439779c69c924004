//! Host access to an instance's exported memories, globals and tables:
//! the [`Memory`], [`Table`] and [`Global`] handles, resolved once.
//!
//! Every access checks the handle's store, ranges in 64-bit arithmetic
//! (`check_range`) and types before touching the engine, and maps failures
//! to anywasm's kinds. A handle names the engine's memory, never its size or
//! base, so a grown memory is seen at its new size.

use std::sync::Arc;

use anywasm_core::{ErrorKind, Resource, Result, Val, check_range, export_not_found};
use wasmtime::{AsContextMut, RootScope};

use crate::convert::{from_engine, from_engine_ref, to_engine, to_engine_ref};
use crate::error::{chain_message, err, tag};
use crate::store::{Instance, Store, foreign};

/// Handle to an exported memory, valid in the [`Store`] that resolved it.
#[derive(Clone, Debug)]
pub struct Memory {
    inner: wasmtime::Memory,
    store: u64,
}

/// Handle to an exported table, valid in the [`Store`] that resolved it.
#[derive(Clone, Debug)]
pub struct Table {
    inner: wasmtime::Table,
    store: u64,
    /// The export name, for error messages.
    name: Arc<str>,
}

/// Handle to an exported global, valid in the [`Store`] that resolved it.
#[derive(Clone, Debug)]
pub struct Global {
    inner: wasmtime::Global,
    store: u64,
    /// The export name, for error messages.
    name: Arc<str>,
}

impl<T: Send + 'static> Store<T> {
    pub(crate) fn resolve_memory(&mut self, instance: &Instance, name: &str) -> Result<Memory> {
        let i = self.own(instance)?;
        let inner = i
            .get_memory(&mut self.inner, name)
            .ok_or_else(|| tag(export_not_found(name, "memory")))?;
        Ok(Memory {
            inner,
            store: self.id,
        })
    }

    pub(crate) fn resolve_global(&mut self, instance: &Instance, name: &str) -> Result<Global> {
        let i = self.own(instance)?;
        let inner = i
            .get_global(&mut self.inner, name)
            .ok_or_else(|| tag(export_not_found(name, "global")))?;
        Ok(Global {
            inner,
            store: self.id,
            name: name.into(),
        })
    }

    pub(crate) fn resolve_table(&mut self, instance: &Instance, name: &str) -> Result<Table> {
        let i = self.own(instance)?;
        let inner = i
            .get_table(&mut self.inner, name)
            .ok_or_else(|| tag(export_not_found(name, "table")))?;
        Ok(Table {
            inner,
            store: self.id,
            name: name.into(),
        })
    }

    fn own_memory(&self, memory: &Memory) -> Result<wasmtime::Memory> {
        if memory.store == self.id {
            Ok(memory.inner)
        } else {
            Err(foreign("memory"))
        }
    }

    fn own_global(&self, global: &Global) -> Result<wasmtime::Global> {
        if global.store == self.id {
            Ok(global.inner)
        } else {
            Err(foreign("global"))
        }
    }

    fn own_table(&self, table: &Table) -> Result<wasmtime::Table> {
        if table.store == self.id {
            Ok(table.inner)
        } else {
            Err(foreign("table"))
        }
    }

    pub(crate) fn mem_size(&mut self, memory: &Memory) -> Result<u64> {
        let m = self.own_memory(memory)?;
        Ok(m.data_size(&self.inner) as u64)
    }

    pub(crate) fn mem_read(&mut self, memory: &Memory, offset: u64, buf: &mut [u8]) -> Result<()> {
        let m = self.own_memory(memory)?;
        let data = m.data(&self.inner);
        let range = check_range(offset, buf.len(), data.len() as u64).map_err(tag)?;
        buf.copy_from_slice(&data[range]);
        Ok(())
    }

    pub(crate) fn mem_write(&mut self, memory: &Memory, offset: u64, data: &[u8]) -> Result<()> {
        let m = self.own_memory(memory)?;
        let mem = m.data_mut(&mut self.inner);
        let range = check_range(offset, data.len(), mem.len() as u64).map_err(tag)?;
        mem[range].copy_from_slice(data);
        Ok(())
    }

    pub(crate) fn mem_grow(&mut self, memory: &Memory, pages: u64) -> Result<u64> {
        let m = self.own_memory(memory)?;
        self.inner.data_mut().limiter.reset();
        m.grow(&mut self.inner, pages).map_err(|e| {
            // Past the store's cap (the limiter said no) or past the
            // memory's own declared maximum: both are a memory limit.
            err(
                ErrorKind::LimitExceeded(Resource::Memory),
                chain_message(&e),
            )
        })
    }

    pub(crate) fn glob_get(&mut self, global: &Global) -> Result<Val> {
        let g = self.own_global(global)?;
        let mut scope = RootScope::new(&mut self.inner);
        let mut cx = scope.as_context_mut();
        let v = g.get(&mut cx);
        from_engine(&mut cx, &v)
    }

    pub(crate) fn glob_set(&mut self, global: &Global, value: Val) -> Result<()> {
        let g = self.own_global(global)?;
        let name = &*global.name;
        let ty = g.ty(&self.inner);
        if ty.mutability() != wasmtime::Mutability::Var {
            return Err(err(
                ErrorKind::TypeMismatch,
                format!("global `{name}` is immutable"),
            ));
        }
        match crate::convert::val_type(ty.content()) {
            Some(t) if t == value.ty() => {}
            Some(t) => {
                return Err(err(
                    ErrorKind::TypeMismatch,
                    format!(
                        "global `{name}` holds {t}, cannot set it to a {}",
                        value.ty()
                    ),
                ));
            }
            None => {
                return Err(err(
                    ErrorKind::Unsupported,
                    format!("global `{name}` has a type anywasm cannot represent"),
                ));
            }
        }
        let mut scope = RootScope::new(&mut self.inner);
        let mut cx = scope.as_context_mut();
        let v = to_engine(&mut cx, &value, ty.content())?;
        g.set(&mut cx, v)
            .map_err(|e| err(ErrorKind::TypeMismatch, chain_message(&e)))
    }

    pub(crate) fn tab_size(&mut self, table: &Table) -> Result<u64> {
        let t = self.own_table(table)?;
        Ok(t.size(&self.inner))
    }

    pub(crate) fn tab_get(&mut self, table: &Table, index: u64) -> Result<Val> {
        let t = self.own_table(table)?;
        let name = &*table.name;
        let mut scope = RootScope::new(&mut self.inner);
        let mut cx = scope.as_context_mut();
        let size = t.size(&cx);
        let r = t
            .get(&mut cx, index)
            .ok_or_else(|| table_oob(name, index, size))?;
        from_engine_ref(&mut cx, &r)
    }

    pub(crate) fn tab_set(&mut self, table: &Table, index: u64, value: Val) -> Result<()> {
        let t = self.own_table(table)?;
        let name = &*table.name;
        let ty = t.ty(&self.inner);
        let size = t.size(&self.inner);
        let mut scope = RootScope::new(&mut self.inner);
        let mut cx = scope.as_context_mut();
        let r = to_engine_ref(&mut cx, &value, ty.element())?;
        if index >= size {
            return Err(table_oob(name, index, size));
        }
        t.set(&mut cx, index, r)
            .map_err(|e| err(ErrorKind::Engine, chain_message(&e)))
    }

    pub(crate) fn tab_grow(&mut self, table: &Table, delta: u64, init: Val) -> Result<u64> {
        let t = self.own_table(table)?;
        let ty = t.ty(&self.inner);
        self.inner.data_mut().limiter.reset();
        let mut scope = RootScope::new(&mut self.inner);
        let mut cx = scope.as_context_mut();
        let r = to_engine_ref(&mut cx, &init, ty.element())?;
        t.grow(&mut cx, delta, r)
            .map_err(|e| err(ErrorKind::LimitExceeded(Resource::Table), chain_message(&e)))
    }
}

fn table_oob(name: &str, index: u64, size: u64) -> anywasm_core::Error {
    err(
        ErrorKind::OutOfBounds,
        format!("index {index} is outside table `{name}` of {size} elements"),
    )
}
