//! Per-store memory and table caps on top of wasmer's per-engine `Tunables`.
//!
//! wasmer asks the engine's `Tunables` to create every memory and table, but
//! the caps are per store. [`LimitTunables`] therefore reads the caps of the
//! store that is instantiating from a thread-local set by [`CapsGuard`] for
//! exactly the duration of `Instance::new`:
//!
//! - each memory's/table's maximum is clamped to the cap, so a guest
//!   `memory.grow`/`table.grow` past it returns -1;
//! - an initial size already past the cap fails creation, and the guard
//!   records which resource was denied so `instantiate` reports
//!   `LimitExceeded(Memory | Table)` rather than a generic link error.
//!
//! The same `Tunables` carries the engine's wasm stack size
//! (`Config::max_stack_bytes`) in its `VMConfig`.

use std::cell::Cell;
use std::ptr::NonNull;

use anywasm_core::{Limits, Resource};
use wasmer::sys::vm::{
    MemoryError, MemoryStyle, TableStyle, VMConfig, VMMemory, VMMemoryDefinition, VMTable,
    VMTableDefinition,
};
use wasmer::sys::{BaseTunables, Tunables};
use wasmer::{MemoryType, Pages, TableType};

/// Bytes in one wasm page.
pub(crate) const PAGE: u64 = 65_536;
/// Pages in the largest 32-bit memory.
const MAX_PAGES: u32 = 65_536;
/// Smallest wasm stack we ask wasmer for (it rounds smaller requests up to 8 KiB).
pub(crate) const MIN_STACK: usize = 8 << 10;
/// Largest wasm stack wasmer accepts as a default (`wasmer_vm::MAX_STACK_SIZE`).
pub(crate) const MAX_STACK: usize = 100 << 20;

/// The caps of the store currently instantiating on this thread.
#[derive(Clone, Copy, Debug)]
struct Caps {
    memory_pages: Option<u32>,
    table_elements: Option<u32>,
}

thread_local! {
    static CAPS: Cell<Option<Caps>> = const { Cell::new(None) };
    static DENIED: Cell<Option<Resource>> = const { Cell::new(None) };
}

/// Installs a store's caps for the current thread; restores the previous
/// ones on drop.
#[derive(Debug)]
pub(crate) struct CapsGuard {
    prev: Option<Caps>,
    prev_denied: Option<Resource>,
}

impl CapsGuard {
    /// Apply `limits` to memories and tables created on this thread until dropped.
    pub(crate) fn new(limits: &Limits) -> Self {
        let caps = Caps {
            memory_pages: limits
                .get_memory_bytes()
                .map(|b| (b / PAGE).min(u64::from(MAX_PAGES)) as u32),
            table_elements: limits
                .get_table_elements()
                .map(|n| n.min(u64::from(u32::MAX)) as u32),
        };
        Self {
            prev: CAPS.with(|c| c.replace(Some(caps))),
            prev_denied: DENIED.with(|d| d.replace(None)),
        }
    }

    /// The resource whose cap was exceeded by an initial size, if any.
    pub(crate) fn denied(&self) -> Option<Resource> {
        DENIED.with(Cell::get)
    }
}

impl Drop for CapsGuard {
    fn drop(&mut self) {
        CAPS.with(|c| c.set(self.prev));
        DENIED.with(|d| d.set(self.prev_denied));
    }
}

fn caps() -> Option<Caps> {
    CAPS.with(Cell::get)
}

fn deny(resource: Resource) {
    DENIED.with(|d| d.set(Some(resource)));
}

fn clamp_memory(ty: &MemoryType) -> Result<MemoryType, MemoryError> {
    let Some(cap) = caps().and_then(|c| c.memory_pages) else {
        return Ok(*ty);
    };
    if ty.minimum.0 > cap {
        deny(Resource::Memory);
        return Err(MemoryError::Generic(format!(
            "initial memory of {} pages exceeds the store's limit of {cap} pages",
            ty.minimum.0
        )));
    }
    let max = ty.maximum.map_or(cap, |m| m.0.min(cap));
    Ok(MemoryType {
        maximum: Some(Pages(max)),
        ..*ty
    })
}

/// The largest table maximum wasmer's `VMTable` accepts: it refuses to
/// create a table whose *declared* maximum is larger, even with a small
/// initial size, so an unlimited store still clamps the maximum to this
/// (growing past it returns -1, as the spec allows).
const WASMER_TABLE_MAX: u32 = 1 << 27;

fn clamp_table(ty: &TableType) -> Result<TableType, String> {
    let Some(cap) = caps().and_then(|c| c.table_elements) else {
        return Ok(TableType {
            maximum: Some(
                ty.maximum
                    .map_or(WASMER_TABLE_MAX, |m| m.min(WASMER_TABLE_MAX)),
            ),
            ..*ty
        });
    };
    if ty.minimum > cap {
        deny(Resource::Table);
        return Err(format!(
            "initial table of {} elements exceeds the store's limit of {cap} elements",
            ty.minimum
        ));
    }
    let max = ty.maximum.map_or(cap, |m| m.min(cap)).min(WASMER_TABLE_MAX);
    Ok(TableType {
        maximum: Some(max),
        ..*ty
    })
}

/// `BaseTunables` plus per-store caps and the engine's stack size.
pub(crate) struct LimitTunables {
    base: BaseTunables,
    vmconfig: VMConfig,
}

impl LimitTunables {
    /// Tunables with the wasm stack size `stack` (bytes, clamped to what
    /// wasmer accepts), or wasmer's default (1 MiB) if `None`.
    pub(crate) fn new(stack: Option<usize>) -> Self {
        Self {
            base: BaseTunables::new(),
            vmconfig: VMConfig {
                wasm_stack_size: stack.map(|s| s.clamp(MIN_STACK, MAX_STACK)),
            },
        }
    }
}

impl Tunables for LimitTunables {
    fn memory_style(&self, memory: &MemoryType) -> MemoryStyle {
        self.base.memory_style(memory)
    }

    fn table_style(&self, table: &TableType) -> TableStyle {
        self.base.table_style(table)
    }

    fn create_host_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
    ) -> Result<VMMemory, MemoryError> {
        self.base.create_host_memory(&clamp_memory(ty)?, style)
    }

    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        vm_definition_location: NonNull<VMMemoryDefinition>,
    ) -> Result<VMMemory, MemoryError> {
        let ty = clamp_memory(ty)?;
        // SAFETY: forwarded unchanged from wasmer, which upholds the contract.
        unsafe {
            self.base
                .create_vm_memory(&ty, style, vm_definition_location)
        }
    }

    fn create_host_table(&self, ty: &TableType, style: &TableStyle) -> Result<VMTable, String> {
        self.base.create_host_table(&clamp_table(ty)?, style)
    }

    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        vm_definition_location: NonNull<VMTableDefinition>,
    ) -> Result<VMTable, String> {
        let ty = clamp_table(ty)?;
        // SAFETY: forwarded unchanged from wasmer, which upholds the contract.
        unsafe {
            self.base
                .create_vm_table(&ty, style, vm_definition_location)
        }
    }

    fn vmconfig(&self) -> &VMConfig {
        &self.vmconfig
    }
}
