//! Host access to an instance's exported memories, globals and tables:
//! the [`Memory`], [`Table`] and [`Global`] handles, resolved once.
//!
//! Every access checks the handle's store, takes a fresh view of the memory
//! (a grown memory is never seen through a stale view; a handle names the
//! memory, never its size), checks ranges in 64-bit arithmetic and types
//! before touching the engine, and maps failures to anywasm's kinds.

use std::sync::Arc;

use anywasm_core::{Error, ErrorKind, Resource, Val, check_range, export_not_found};
use wasmer::{Extern, Pages};

use crate::convert::{from_value, to_value, wasmer_type};
use crate::error::{err, tag};
use crate::limits::PAGE;
use crate::store::{Instance, Store, foreign};

/// Handle to an exported memory, valid in the [`Store`] that resolved it.
#[derive(Clone, Debug)]
pub struct Memory {
    inner: wasmer::Memory,
    store: u64,
    /// The export name, for error messages.
    name: Arc<str>,
}

/// Handle to an exported table, valid in the [`Store`] that resolved it.
#[derive(Clone, Debug)]
pub struct Table {
    inner: wasmer::Table,
    store: u64,
    /// The export name, for error messages.
    name: Arc<str>,
}

/// Handle to an exported global, valid in the [`Store`] that resolved it.
#[derive(Clone, Debug)]
pub struct Global {
    inner: wasmer::Global,
    store: u64,
    /// The export name, for error messages.
    name: Arc<str>,
}

impl<T: Send + 'static> Store<T> {
    /// The export `name` of `instance`, picked by kind.
    pub(crate) fn export<R>(
        &self,
        instance: &Instance,
        name: &str,
        what: &str,
        pick: impl FnOnce(&Extern) -> Option<R>,
    ) -> Result<R, Error> {
        self.own_instance(instance)?;
        self.state()
            .export(instance.slot, name)
            .and_then(pick)
            .ok_or_else(|| tag(export_not_found(name, what)))
    }

    pub(crate) fn resolve_memory(&self, instance: &Instance, name: &str) -> Result<Memory, Error> {
        let inner = self.export(instance, name, "memory", |e| match e {
            Extern::Memory(m) => Some(m.clone()),
            _ => None,
        })?;
        Ok(Memory {
            inner,
            store: self.id,
            name: name.into(),
        })
    }

    pub(crate) fn resolve_table(&self, instance: &Instance, name: &str) -> Result<Table, Error> {
        let inner = self.export(instance, name, "table", |e| match e {
            Extern::Table(t) => Some(t.clone()),
            _ => None,
        })?;
        Ok(Table {
            inner,
            store: self.id,
            name: name.into(),
        })
    }

    pub(crate) fn resolve_global(&self, instance: &Instance, name: &str) -> Result<Global, Error> {
        let inner = self.export(instance, name, "global", |e| match e {
            Extern::Global(g) => Some(g.clone()),
            _ => None,
        })?;
        Ok(Global {
            inner,
            store: self.id,
            name: name.into(),
        })
    }

    fn own_memory<'h>(&self, memory: &'h Memory) -> Result<&'h wasmer::Memory, Error> {
        if memory.store == self.id {
            Ok(&memory.inner)
        } else {
            Err(foreign("memory"))
        }
    }

    fn own_table<'h>(&self, table: &'h Table) -> Result<&'h wasmer::Table, Error> {
        if table.store == self.id {
            Ok(&table.inner)
        } else {
            Err(foreign("table"))
        }
    }

    fn own_global<'h>(&self, global: &'h Global) -> Result<&'h wasmer::Global, Error> {
        if global.store == self.id {
            Ok(&global.inner)
        } else {
            Err(foreign("global"))
        }
    }

    pub(crate) fn mem_size(&mut self, memory: &Memory) -> Result<u64, Error> {
        let mem = self.own_memory(memory)?;
        Ok(mem.view(&self.store).data_size())
    }

    pub(crate) fn mem_read(
        &mut self,
        memory: &Memory,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), Error> {
        let mem = self.own_memory(memory)?;
        let view = mem.view(&self.store);
        check_range(offset, buf.len(), view.data_size()).map_err(tag)?;
        view.read(offset, buf)
            .map_err(|e| err(ErrorKind::OutOfBounds, e.to_string()))
    }

    pub(crate) fn mem_write(
        &mut self,
        memory: &Memory,
        offset: u64,
        data: &[u8],
    ) -> Result<(), Error> {
        let mem = self.own_memory(memory)?;
        let view = mem.view(&self.store);
        check_range(offset, data.len(), view.data_size()).map_err(tag)?;
        view.write(offset, data)
            .map_err(|e| err(ErrorKind::OutOfBounds, e.to_string()))
    }

    pub(crate) fn mem_grow(&mut self, handle: &Memory, pages: u64) -> Result<u64, Error> {
        let mem = self.own_memory(handle)?;
        let memory = &*handle.name;
        let old = u64::from(mem.view(&self.store).size().0);
        let limit = |msg: String| err(ErrorKind::LimitExceeded(Resource::Memory), msg);
        let new = old.saturating_add(pages);
        if let Some(cap) = self.state().limits.get_memory_bytes()
            && new.saturating_mul(PAGE) > cap
        {
            return Err(limit(format!(
                "growing memory `{memory}` to {new} pages exceeds the store's limit of {cap} bytes"
            )));
        }
        let delta = u32::try_from(pages)
            .map_err(|_| limit(format!("cannot grow memory `{memory}` by {pages} pages")))?;
        mem.grow(&mut self.store, Pages(delta))
            .map(|p| u64::from(p.0))
            .map_err(|e| limit(e.to_string()))
    }

    pub(crate) fn glob_get(&mut self, handle: &Global) -> Result<Val, Error> {
        let global = self.own_global(handle)?;
        self.with_parts(|data, store| {
            let v = global.get(store);
            from_value(data, store, &v)
        })
    }

    pub(crate) fn glob_set(&mut self, handle: &Global, value: Val) -> Result<(), Error> {
        let global = self.own_global(handle)?;
        let name = &*handle.name;
        let ty = global.ty(&self.store);
        if ty.mutability != wasmer::Mutability::Var {
            return Err(err(
                ErrorKind::TypeMismatch,
                format!("global `{name}` is immutable"),
            ));
        }
        if wasmer_type(value.ty()) != ty.ty {
            return Err(err(
                ErrorKind::TypeMismatch,
                format!("global `{name}` has type {}, got a {}", ty.ty, value.ty()),
            ));
        }
        self.with_parts(|data, store| {
            let v = to_value(data, store, &value)?;
            global
                .set(store, v)
                .map_err(|e| err(ErrorKind::TypeMismatch, e.message()))
        })
    }

    pub(crate) fn tab_size(&mut self, handle: &Table) -> Result<u64, Error> {
        let table = self.own_table(handle)?;
        Ok(u64::from(table.size(&self.store)))
    }

    pub(crate) fn tab_get(&mut self, handle: &Table, index: u64) -> Result<Val, Error> {
        let table = self.own_table(handle)?;
        let name = &*handle.name;
        let size = table.size(&self.store);
        let out_of_bounds = || {
            err(
                ErrorKind::OutOfBounds,
                format!("index {index} outside table `{name}` of {size} elements"),
            )
        };
        let index = u32::try_from(index).map_err(|_| out_of_bounds())?;
        if index >= size {
            return Err(out_of_bounds());
        }
        self.with_parts(|data, store| {
            let v = table.get(store, index).ok_or_else(out_of_bounds)?;
            from_value(data, store, &v)
        })
    }

    pub(crate) fn tab_set(&mut self, handle: &Table, index: u64, value: Val) -> Result<(), Error> {
        let table = self.own_table(handle)?;
        let name = &*handle.name;
        let ty = table.ty(&self.store);
        if wasmer_type(value.ty()) != ty.ty {
            return Err(err(
                ErrorKind::TypeMismatch,
                format!("table `{name}` holds {}, got a {}", ty.ty, value.ty()),
            ));
        }
        let size = table.size(&self.store);
        let out_of_bounds = || {
            err(
                ErrorKind::OutOfBounds,
                format!("index {index} outside table `{name}` of {size} elements"),
            )
        };
        let index = u32::try_from(index).map_err(|_| out_of_bounds())?;
        if index >= size {
            return Err(out_of_bounds());
        }
        self.with_parts(|data, store| {
            let v = to_value(data, store, &value)?;
            table
                .set(store, index, v)
                .map_err(|e| err(ErrorKind::OutOfBounds, e.message()))
        })
    }

    pub(crate) fn tab_grow(&mut self, handle: &Table, delta: u64, init: Val) -> Result<u64, Error> {
        let table = self.own_table(handle)?;
        let name = &*handle.name;
        let ty = table.ty(&self.store);
        if wasmer_type(init.ty()) != ty.ty {
            return Err(err(
                ErrorKind::TypeMismatch,
                format!("table `{name}` holds {}, got a {}", ty.ty, init.ty()),
            ));
        }
        let old = u64::from(table.size(&self.store));
        let limit = |msg: String| err(ErrorKind::LimitExceeded(Resource::Table), msg);
        let new = old.saturating_add(delta);
        if let Some(cap) = self.state().limits.get_table_elements()
            && new > cap
        {
            return Err(limit(format!(
                "growing table `{name}` to {new} elements exceeds the store's limit of {cap}"
            )));
        }
        let delta = u32::try_from(delta)
            .map_err(|_| limit(format!("cannot grow table `{name}` by {delta} elements")))?;
        self.with_parts(|data, store| {
            let v = to_value(data, store, &init)?;
            table
                .grow(store, delta, v)
                .map(u64::from)
                .map_err(|e| limit(e.message()))
        })
    }
}
