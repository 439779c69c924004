//! The pass itself: re-encode a module with the counter imported and every
//! function body charging per segment (wasm-encoder's `Reencode`, so every
//! section and index the pass does not touch is copied as it was).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use wasm_encoder::reencode::{Error as ReencodeError, Reencode, utils};
use wasm_encoder::{
    BlockType, CodeSection, EntityType, Function, FunctionSection, GlobalType, ImportSection,
    Instruction, MemorySection, Module, SectionId, TableSection, TypeSection, ValType,
};
use wasmparser::{CompositeInnerType, FunctionBody, Operator, TypeRef};

use crate::cost::{self, BYTES_PER_GAS, Dynamic, ELEMENT_COST, PAGE_COST};
use crate::{GAS_GLOBAL, GAS_MODULE};

/// Why the pass refused a module (mapped to an anywasm error by the caller).
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A feature the pass does not meter (exception handling, 64-bit
    /// memories or tables).
    Unsupported(String),
    /// The module imports from the counter's reserved module itself.
    Reserved(String),
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Refusal::Unsupported(m) | Refusal::Reserved(m) => f.write_str(m),
        }
    }
}

type Result<T> = core::result::Result<T, ReencodeError<Refusal>>;

fn refuse<T>(r: Refusal) -> Result<T> {
    Err(ReencodeError::UserError(r))
}

/// State carried across sections.
#[derive(Default)]
pub(crate) struct Injector {
    /// Globals imported by the original module: the counter's index.
    imported_globals: u32,
    /// Whether the counter's import was written.
    import_added: bool,
    /// Parameter count of each type index (0 for non-function types).
    params: Vec<u32>,
    /// Type index of each defined function, in order.
    func_types: Vec<u32>,
    /// Which defined function's body comes next.
    next_body: usize,
}

impl Injector {
    fn counter(&self) -> u32 {
        self.imported_globals
    }

    fn counter_import(imports: &mut ImportSection) {
        imports.import(
            GAS_MODULE,
            GAS_GLOBAL,
            EntityType::Global(GlobalType {
                val_type: ValType::I64,
                mutable: true,
                shared: false,
            }),
        );
    }
}

impl Reencode for Injector {
    type Error = Refusal;

    fn global_index(&mut self, global: u32) -> u32 {
        // The counter is appended to the imported globals: every defined
        // global moves up by one.
        if global >= self.imported_globals {
            global + 1
        } else {
            global
        }
    }

    fn parse_type_section(
        &mut self,
        types: &mut TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<()> {
        for group in section.clone() {
            for sub in group?.into_types() {
                self.params.push(match &sub.composite_type.inner {
                    CompositeInnerType::Func(f) => f.params().len() as u32,
                    _ => 0,
                });
            }
        }
        utils::parse_type_section(self, types, section)
    }

    fn parse_import_section(
        &mut self,
        imports: &mut ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<()> {
        for import in section.clone() {
            let import = import?;
            if import.module == GAS_MODULE {
                return refuse(Refusal::Reserved(format!(
                    "the module imports `{}::{}`; the module name `{GAS_MODULE}` is reserved for the gas counter",
                    import.module, import.name
                )));
            }
            match import.ty {
                TypeRef::Global(_) => self.imported_globals += 1,
                TypeRef::Memory(m) if m.memory64 => return refuse(sixty_four("memory")),
                TypeRef::Table(t) if t.table64 => return refuse(sixty_four("table")),
                _ => {}
            }
        }
        utils::parse_import_section(self, imports, section)?;
        Self::counter_import(imports);
        self.import_added = true;
        Ok(())
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<()> {
        // A module without imports gets an import section holding only the
        // counter, where the import section belongs.
        let past_imports = !matches!(before, Some(SectionId::Type | SectionId::Import));
        if !self.import_added && past_imports {
            let mut imports = ImportSection::new();
            Self::counter_import(&mut imports);
            module.section(&imports);
            self.import_added = true;
        }
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<()> {
        for ty in section.clone() {
            self.func_types.push(ty?);
        }
        utils::parse_function_section(self, functions, section)
    }

    fn parse_memory_section(
        &mut self,
        memories: &mut MemorySection,
        section: wasmparser::MemorySectionReader<'_>,
    ) -> Result<()> {
        for memory in section.clone() {
            if memory?.memory64 {
                return refuse(sixty_four("memory"));
            }
        }
        utils::parse_memory_section(self, memories, section)
    }

    fn parse_table_section(
        &mut self,
        tables: &mut TableSection,
        section: wasmparser::TableSectionReader<'_>,
    ) -> Result<()> {
        for table in section.clone() {
            if table?.ty.table64 {
                return refuse(sixty_four("table"));
            }
        }
        utils::parse_table_section(self, tables, section)
    }

    fn parse_function_body(
        &mut self,
        code: &mut CodeSection,
        body: FunctionBody<'_>,
    ) -> Result<()> {
        let ty = self.func_types.get(self.next_body).copied().unwrap_or(0);
        self.next_body += 1;
        let params = self.params.get(ty as usize).copied().unwrap_or(0);

        let mut locals = Vec::new();
        let mut declared: u32 = 0;
        for pair in body.get_locals_reader()? {
            let (count, ty) = pair?;
            declared = declared.saturating_add(count);
            locals.push((count, self.val_type(ty)?));
        }
        let mut ops = Vec::new();
        let mut reader = body.get_operators_reader()?;
        while !reader.eof() {
            let op = reader.read()?;
            if let Some(what) = cost::unsupported(&op) {
                return refuse(Refusal::Unsupported(format!(
                    "gas metering does not support {what}"
                )));
            }
            ops.push(op);
        }
        // Two scratch locals after the function's own, for size-dependent
        // charges: the operand (i32) and the charge (i64).
        let scratch = params.saturating_add(declared);
        if ops.iter().any(|op| cost::dynamic(op).is_some()) {
            locals.push((1, ValType::I32));
            locals.push((1, ValType::I64));
        }

        let mut f = Function::new(locals);
        let mut segment: Vec<Operator<'_>> = Vec::new();
        let mut weight: u64 = 0;
        for op in ops {
            weight = weight.saturating_add(cost::weight(&op));
            let ends = cost::ends_segment(&op);
            segment.push(op);
            if ends {
                self.flush(&mut f, &mut segment, weight, scratch)?;
                weight = 0;
            }
        }
        self.flush(&mut f, &mut segment, weight, scratch)?;
        code.function(&f);
        Ok(())
    }
}

impl Injector {
    /// Emit one segment: its static charge first, then its operators, each
    /// size-dependent one preceded by its own charge.
    fn flush<'a>(
        &mut self,
        f: &mut Function,
        segment: &mut Vec<Operator<'a>>,
        weight: u64,
        scratch: u32,
    ) -> Result<()> {
        if weight > 0 {
            let g = self.counter();
            charge(
                f,
                g,
                &Instruction::I64Const(weight.min(i64::MAX as u64) as i64),
            );
        }
        let (operand, amount) = (scratch, scratch + 1);
        for op in segment.drain(..) {
            let grows = cost::grows(&op);
            let Some(kind) = cost::dynamic(&op) else {
                f.instruction(&self.instruction(op)?);
                continue;
            };
            // Keep the size operand (left on the stack for the operation).
            f.instruction(&Instruction::LocalTee(operand));
            if !grows {
                // A bulk operation is charged before it runs.
                amount_of(f, kind, operand, amount);
                charge(f, self.counter(), &Instruction::LocalGet(amount));
                f.instruction(&self.instruction(op)?);
                continue;
            }
            // A grow is charged after, and only if it grew: one a limit
            // refused returned -1 and cost its static weight alone.
            f.instruction(&self.instruction(op)?);
            amount_of(f, kind, operand, amount);
            // The result, still on the stack for the guest: -1 or the old size.
            f.instruction(&Instruction::LocalTee(operand));
            f.instruction(&Instruction::LocalGet(operand));
            f.instruction(&Instruction::I32Const(-1));
            f.instruction(&Instruction::I32Ne);
            f.instruction(&Instruction::If(BlockType::Empty));
            charge(f, self.counter(), &Instruction::LocalGet(amount));
            f.instruction(&Instruction::End);
        }
        Ok(())
    }
}

/// `amount = price(operand)`: the size-dependent charge for the size in the
/// `operand` local.
fn amount_of(f: &mut Function, kind: Dynamic, operand: u32, amount: u32) {
    f.instruction(&Instruction::LocalGet(operand));
    f.instruction(&Instruction::I64ExtendI32U);
    match kind {
        Dynamic::Bytes => {
            // ceil(n / BYTES_PER_GAS), BYTES_PER_GAS a power of two.
            f.instruction(&Instruction::I64Const(BYTES_PER_GAS as i64 - 1));
            f.instruction(&Instruction::I64Add);
            f.instruction(&Instruction::I64Const(i64::from(
                BYTES_PER_GAS.trailing_zeros(),
            )));
            f.instruction(&Instruction::I64ShrU);
        }
        Dynamic::Elements => {
            f.instruction(&Instruction::I64Const(ELEMENT_COST as i64));
            f.instruction(&Instruction::I64Mul);
        }
        Dynamic::Pages => {
            f.instruction(&Instruction::I64Const(PAGE_COST as i64));
            f.instruction(&Instruction::I64Mul);
        }
    }
    f.instruction(&Instruction::LocalSet(amount));
}

const _: () = assert!(BYTES_PER_GAS.is_power_of_two());

/// `if counter < amount { counter = EXHAUSTED; unreachable }; counter -= amount`,
/// with `amount` pushed by `push` (a constant or a local).
fn charge(f: &mut Function, counter: u32, push: &Instruction<'_>) {
    f.instruction(&Instruction::GlobalGet(counter));
    f.instruction(push);
    f.instruction(&Instruction::I64LtS);
    f.instruction(&Instruction::If(BlockType::Empty));
    f.instruction(&Instruction::I64Const(crate::EXHAUSTED));
    f.instruction(&Instruction::GlobalSet(counter));
    f.instruction(&Instruction::Unreachable);
    f.instruction(&Instruction::End);
    f.instruction(&Instruction::GlobalGet(counter));
    f.instruction(push);
    f.instruction(&Instruction::I64Sub);
    f.instruction(&Instruction::GlobalSet(counter));
}

fn sixty_four(what: &str) -> Refusal {
    Refusal::Unsupported(format!(
        "gas metering does not support 64-bit {what} indices (memory64)"
    ))
}
