//! Host access to an instance's exported memories, globals and tables.
//!
//! Every access checks ranges in 64-bit arithmetic (`check_range`) and
//! types before touching the engine, and maps failures to anywasm's kinds;
//! the memory handle looked up last is cached per store.

use anywasm_core::{ErrorKind, Resource, Result, Val, check_range, export_not_found};
use wasmtime::{AsContextMut, RootScope};

use crate::convert::{from_engine, from_engine_ref, to_engine, to_engine_ref};
use crate::error::{chain_message, err, tag};
use crate::store::{Instance, Store};

impl<T: Send + 'static> Store<T> {
    fn memory(&mut self, instance: &Instance, name: &str) -> Result<wasmtime::Memory> {
        let i = self.own(instance)?;
        if let Some((ci, cname, m)) = &self.memory_cache
            && *ci == i
            && **cname == *name
        {
            return Ok(*m);
        }
        let m = i
            .get_memory(&mut self.inner, name)
            .ok_or_else(|| tag(export_not_found(name, "memory")))?;
        self.memory_cache = Some((i, name.into(), m));
        Ok(m)
    }

    fn global(&mut self, instance: &Instance, name: &str) -> Result<wasmtime::Global> {
        let i = self.own(instance)?;
        i.get_global(&mut self.inner, name)
            .ok_or_else(|| tag(export_not_found(name, "global")))
    }

    fn table(&mut self, instance: &Instance, name: &str) -> Result<wasmtime::Table> {
        let i = self.own(instance)?;
        i.get_table(&mut self.inner, name)
            .ok_or_else(|| tag(export_not_found(name, "table")))
    }

    pub(crate) fn mem_size(&mut self, instance: &Instance, memory: &str) -> Result<u64> {
        let m = self.memory(instance, memory)?;
        Ok(m.data_size(&self.inner) as u64)
    }

    pub(crate) fn mem_read(
        &mut self,
        instance: &Instance,
        memory: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<()> {
        let m = self.memory(instance, memory)?;
        let data = m.data(&self.inner);
        let range = check_range(offset, buf.len(), data.len() as u64).map_err(tag)?;
        buf.copy_from_slice(&data[range]);
        Ok(())
    }

    pub(crate) fn mem_write(
        &mut self,
        instance: &Instance,
        memory: &str,
        offset: u64,
        data: &[u8],
    ) -> Result<()> {
        let m = self.memory(instance, memory)?;
        let mem = m.data_mut(&mut self.inner);
        let range = check_range(offset, data.len(), mem.len() as u64).map_err(tag)?;
        mem[range].copy_from_slice(data);
        Ok(())
    }

    pub(crate) fn mem_grow(
        &mut self,
        instance: &Instance,
        memory: &str,
        pages: u64,
    ) -> Result<u64> {
        let m = self.memory(instance, memory)?;
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

    pub(crate) fn glob_get(&mut self, instance: &Instance, name: &str) -> Result<Val> {
        let g = self.global(instance, name)?;
        let mut scope = RootScope::new(&mut self.inner);
        let mut cx = scope.as_context_mut();
        let v = g.get(&mut cx);
        from_engine(&mut cx, &v)
    }

    pub(crate) fn glob_set(&mut self, instance: &Instance, name: &str, value: Val) -> Result<()> {
        let g = self.global(instance, name)?;
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

    pub(crate) fn tab_size(&mut self, instance: &Instance, name: &str) -> Result<u64> {
        let t = self.table(instance, name)?;
        Ok(t.size(&self.inner))
    }

    pub(crate) fn tab_get(&mut self, instance: &Instance, name: &str, index: u64) -> Result<Val> {
        let t = self.table(instance, name)?;
        let mut scope = RootScope::new(&mut self.inner);
        let mut cx = scope.as_context_mut();
        let size = t.size(&cx);
        let r = t
            .get(&mut cx, index)
            .ok_or_else(|| table_oob(name, index, size))?;
        from_engine_ref(&mut cx, &r)
    }

    pub(crate) fn tab_set(
        &mut self,
        instance: &Instance,
        name: &str,
        index: u64,
        value: Val,
    ) -> Result<()> {
        let t = self.table(instance, name)?;
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

    pub(crate) fn tab_grow(
        &mut self,
        instance: &Instance,
        name: &str,
        delta: u64,
        init: Val,
    ) -> Result<u64> {
        let t = self.table(instance, name)?;
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
