//! Host access to an instance's exported memories, globals and tables:
//! the [`Memory`], [`Table`] and [`Global`] handles, resolved once.
//!
//! Every access checks the handle's store, ranges in 64-bit arithmetic
//! (`check_range`) and types before touching the engine, and maps failures
//! to anywasm's kinds. A handle names the engine's memory, never its size
//! or base, so a grown memory is seen at its new size.

use alloc::format;
use alloc::sync::Arc;

use anywasm_core::{Error, ErrorKind, Resource, Result, Val, check_range, export_not_found};

use crate::convert::{from_ref, from_wasmi, to_ref, to_wasmi, val_type};
use crate::error::tag;
use crate::store::{Instance, Store, foreign};

/// Handle to an exported memory, valid in the [`Store`] that resolved it.
#[derive(Clone, Debug)]
pub struct Memory {
    raw: wasmi::Memory,
    store: u32,
    /// The export name, for error messages.
    name: Arc<str>,
}

/// Handle to an exported table, valid in the [`Store`] that resolved it.
#[derive(Clone, Debug)]
pub struct Table {
    raw: wasmi::Table,
    store: u32,
    /// The export name, for error messages.
    name: Arc<str>,
}

/// Handle to an exported global, valid in the [`Store`] that resolved it.
#[derive(Clone, Debug)]
pub struct Global {
    raw: wasmi::Global,
    store: u32,
    /// The export name, for error messages.
    name: Arc<str>,
}

impl<T: Send + 'static> Store<T> {
    pub(crate) fn resolve_memory(&self, instance: &Instance, name: &str) -> Result<Memory> {
        let raw = self
            .inst(instance)?
            .get_memory(&self.raw, name)
            .ok_or_else(|| tag(export_not_found(name, "memory")))?;
        Ok(Memory {
            raw,
            store: self.id,
            name: name.into(),
        })
    }

    pub(crate) fn resolve_table(&self, instance: &Instance, name: &str) -> Result<Table> {
        let raw = self
            .inst(instance)?
            .get_table(&self.raw, name)
            .ok_or_else(|| tag(export_not_found(name, "table")))?;
        Ok(Table {
            raw,
            store: self.id,
            name: name.into(),
        })
    }

    pub(crate) fn resolve_global(&self, instance: &Instance, name: &str) -> Result<Global> {
        let raw = self
            .inst(instance)?
            .get_global(&self.raw, name)
            .ok_or_else(|| tag(export_not_found(name, "global")))?;
        Ok(Global {
            raw,
            store: self.id,
            name: name.into(),
        })
    }

    fn own_memory(&self, memory: &Memory) -> Result<wasmi::Memory> {
        if memory.store == self.id {
            Ok(memory.raw)
        } else {
            Err(foreign("memory"))
        }
    }

    fn own_table(&self, table: &Table) -> Result<wasmi::Table> {
        if table.store == self.id {
            Ok(table.raw)
        } else {
            Err(foreign("table"))
        }
    }

    fn own_global(&self, global: &Global) -> Result<wasmi::Global> {
        if global.store == self.id {
            Ok(global.raw)
        } else {
            Err(foreign("global"))
        }
    }

    fn check_ref_type(element: wasmi::RefType, value: &Val) -> Result<()> {
        let want = val_type(match element {
            wasmi::RefType::Func => wasmi::ValType::FuncRef,
            wasmi::RefType::Extern => wasmi::ValType::ExternRef,
        });
        if value.ty() == want {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::TypeMismatch,
                format!("table of {want} cannot hold a {}", value.ty()),
            ))
        }
    }

    pub(crate) fn mem_size(&mut self, memory: &Memory) -> Result<u64> {
        let mem = self.own_memory(memory)?;
        Ok(mem.data_size(&self.raw) as u64)
    }

    pub(crate) fn mem_read(&mut self, memory: &Memory, offset: u64, buf: &mut [u8]) -> Result<()> {
        let mem = self.own_memory(memory)?;
        let data = mem.data(&self.raw);
        let range = check_range(offset, buf.len(), data.len() as u64).map_err(tag)?;
        buf.copy_from_slice(&data[range]);
        Ok(())
    }

    pub(crate) fn mem_write(&mut self, memory: &Memory, offset: u64, data: &[u8]) -> Result<()> {
        let mem = self.own_memory(memory)?;
        let bytes = mem.data_mut(&mut self.raw);
        let range = check_range(offset, data.len(), bytes.len() as u64).map_err(tag)?;
        bytes[range].copy_from_slice(data);
        Ok(())
    }

    pub(crate) fn mem_grow(&mut self, handle: &Memory, pages: u64) -> Result<u64> {
        let mem = self.own_memory(handle)?;
        let memory = &*handle.name;
        self.raw.data_mut().limiter.take_denied();
        match mem.grow(&mut self.raw, pages) {
            Ok(old) => Ok(old),
            Err(_) => {
                let limiter = &mut self.raw.data_mut().limiter;
                let message = match (limiter.take_denied(), limiter.max_memory_bytes()) {
                    (Some(Resource::Memory), Some(max)) => format!(
                        "growing memory `{memory}` by {pages} pages would pass the store's limit of {max} bytes"
                    ),
                    _ => {
                        format!("memory `{memory}` cannot grow by {pages} pages (past its maximum)")
                    }
                };
                Err(tag(Error::new(
                    ErrorKind::LimitExceeded(Resource::Memory),
                    message,
                )))
            }
        }
    }

    pub(crate) fn glob_get(&mut self, handle: &Global) -> Result<Val> {
        let global = self.own_global(handle)?;
        let value = global.get(&self.raw);
        from_wasmi(&mut self.raw, &value).map_err(tag)
    }

    pub(crate) fn glob_set(&mut self, handle: &Global, value: Val) -> Result<()> {
        let global = self.own_global(handle)?;
        let name = &*handle.name;
        (|| {
            let ty = global.ty(&self.raw);
            if !ty.mutability().is_mut() {
                return Err(Error::new(
                    ErrorKind::TypeMismatch,
                    format!("global `{name}` is immutable"),
                ));
            }
            let want = val_type(ty.content());
            if value.ty() != want {
                return Err(Error::new(
                    ErrorKind::TypeMismatch,
                    format!("global `{name}` holds a {want}, not a {}", value.ty()),
                ));
            }
            let v = to_wasmi(&mut self.raw, value)?;
            global.set(&mut self.raw, v).map_err(|e| {
                Error::new(
                    ErrorKind::TypeMismatch,
                    alloc::string::ToString::to_string(&e),
                )
            })
        })()
        .map_err(tag)
    }

    pub(crate) fn tab_size(&mut self, handle: &Table) -> Result<u64> {
        let table = self.own_table(handle)?;
        Ok(table.size(&self.raw))
    }

    pub(crate) fn tab_get(&mut self, handle: &Table, index: u64) -> Result<Val> {
        let table = self.own_table(handle)?;
        let name = &*handle.name;
        (|| {
            let Some(r) = table.get(&self.raw, index) else {
                return Err(Error::new(
                    ErrorKind::OutOfBounds,
                    format!(
                        "index {index} outside table `{name}` of {} elements",
                        table.size(&self.raw)
                    ),
                ));
            };
            from_ref(&mut self.raw, &r)
        })()
        .map_err(tag)
    }

    pub(crate) fn tab_set(&mut self, handle: &Table, index: u64, value: Val) -> Result<()> {
        let table = self.own_table(handle)?;
        let name = &*handle.name;
        (|| {
            Self::check_ref_type(table.ty(&self.raw).element(), &value)?;
            let r = to_ref(&mut self.raw, value)?;
            table.set(&mut self.raw, index, r).map_err(|e| match e {
                wasmi::errors::TableError::SetOutOfBounds => Error::new(
                    ErrorKind::OutOfBounds,
                    format!("index {index} outside table `{name}`"),
                ),
                other => Error::new(
                    ErrorKind::TypeMismatch,
                    alloc::string::ToString::to_string(&other),
                ),
            })
        })()
        .map_err(tag)
    }

    pub(crate) fn tab_grow(&mut self, handle: &Table, delta: u64, init: Val) -> Result<u64> {
        let table = self.own_table(handle)?;
        let name = &*handle.name;
        (|| {
            Self::check_ref_type(table.ty(&self.raw).element(), &init)?;
            let r = to_ref(&mut self.raw, init)?;
            self.raw.data_mut().limiter.take_denied();
            table.grow(&mut self.raw, delta, r).map_err(|_| {
                let limiter = &mut self.raw.data_mut().limiter;
                let message = match (limiter.take_denied(), limiter.max_table_elements()) {
                    (Some(Resource::Table), Some(max)) => format!(
                        "growing table `{name}` by {delta} would pass the store's limit of {max} elements"
                    ),
                    _ => format!("table `{name}` cannot grow by {delta} (past its maximum)"),
                };
                Error::new(ErrorKind::LimitExceeded(Resource::Table), message)
            })
        })()
        .map_err(tag)
    }
}
