//! Host access to linear memory and tables.

use anywasm::{ErrorKind, Val};

use super::check;
use super::values::sandbox as values_sandbox;
use crate::harness::{expect_call, expect_eq, expect_kind, ok};
use crate::{Check, Ctx};

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "memory/read_write",
            "host writes are seen by guest loads and vice versa",
            |cx: &Ctx| {
                let mut sb = values_sandbox(cx)?;
                let inst = sb.instance();
                ok(
                    "write",
                    sb.store_mut()
                        .memory_write(inst, "memory", 100, &0x1122_3344u32.to_le_bytes()),
                )?;
                expect_call(
                    &mut sb,
                    "load_i32",
                    &[Val::I32(100)],
                    &[Val::I32(0x1122_3344)],
                )?;
                expect_call(&mut sb, "store_i32", &[Val::I32(65532), Val::I32(-2)], &[])?;
                let mut buf = [0u8; 4];
                ok(
                    "read",
                    sb.store_mut().memory_read(inst, "memory", 65532, &mut buf),
                )?;
                expect_eq("bytes", buf, (-2i32).to_le_bytes())
            }
        ),
        check!(
            "memory/grow_and_size",
            "host growth is visible to the guest; sizes in bytes",
            |cx: &Ctx| {
                let mut sb = values_sandbox(cx)?;
                let inst = sb.instance();
                expect_eq(
                    "size",
                    ok("size", sb.store_mut().memory_size(inst, "memory"))?,
                    65536,
                )?;
                expect_eq(
                    "old pages",
                    ok("grow", sb.store_mut().memory_grow(inst, "memory", 2))?,
                    1,
                )?;
                expect_eq(
                    "size",
                    ok("size", sb.store_mut().memory_size(inst, "memory"))?,
                    3 * 65536,
                )?;
                expect_call(
                    &mut sb,
                    "store_i32",
                    &[Val::I32(3 * 65536 - 4), Val::I32(9)],
                    &[],
                )?;
                expect_call(
                    &mut sb,
                    "load_i32",
                    &[Val::I32(3 * 65536 - 4)],
                    &[Val::I32(9)],
                )
            }
        ),
        check!(
            "memory/host_out_of_bounds",
            "host accesses past the end, or wrapping 64 bits, are OutOfBounds",
            |cx: &Ctx| {
                let mut sb = values_sandbox(cx)?;
                let inst = sb.instance();
                let mut buf = [0u8; 8];
                expect_kind(
                    "read past end",
                    sb.store_mut().memory_read(inst, "memory", 65532, &mut buf),
                    ErrorKind::OutOfBounds,
                )?;
                expect_kind(
                    "read at u64::MAX",
                    sb.store_mut()
                        .memory_read(inst, "memory", u64::MAX, &mut buf),
                    ErrorKind::OutOfBounds,
                )?;
                expect_kind(
                    "write past end",
                    sb.store_mut().memory_write(inst, "memory", 65536, &[1]),
                    ErrorKind::OutOfBounds,
                )?;
                expect_kind(
                    "read at u64::MAX - 1",
                    sb.store_mut()
                        .memory_read(inst, "memory", u64::MAX - 1, &mut buf),
                    ErrorKind::OutOfBounds,
                )?;
                expect_kind(
                    "write straddling the end",
                    sb.store_mut().memory_write(inst, "memory", 65535, b"zz"),
                    ErrorKind::OutOfBounds,
                )?;
                // Nothing changed by the refused write.
                let mut last = [1u8];
                ok(
                    "read last byte",
                    sb.store_mut().memory_read(inst, "memory", 65535, &mut last),
                )?;
                expect_eq("last byte", last, [0])?;
                ok(
                    "zero-length read at the end",
                    sb.store_mut().memory_read(inst, "memory", 65536, &mut []),
                )?;
                ok(
                    "zero-length write at the end",
                    sb.store_mut().memory_write(inst, "memory", 65536, &[]),
                )?;
                for name in ["nope", "load_i32", "funcs", "g_i64"] {
                    expect_kind(
                        name,
                        sb.store_mut().memory_size(inst, name),
                        ErrorKind::ExportNotFound,
                    )?;
                }
                Ok(())
            }
        ),
        check!(
            "table/get_set_grow",
            "tables read, written and grown from the host",
            |cx: &Ctx| {
                let mut sb = values_sandbox(cx)?;
                let inst = sb.instance();
                expect_eq(
                    "size",
                    ok("size", sb.store_mut().table_size(inst, "funcs"))?,
                    2,
                )?;
                expect_eq(
                    "null slot",
                    ok("get", sb.store_mut().table_get(inst, "funcs", 1))?,
                    Val::FuncRef(None),
                )?;
                let f = ok("get", sb.store_mut().table_get(inst, "funcs", 0))?;
                expect_eq(
                    "old size",
                    ok("grow", sb.store_mut().table_grow(inst, "funcs", 3, f))?,
                    2,
                )?;
                expect_eq(
                    "size",
                    ok("size", sb.store_mut().table_size(inst, "funcs"))?,
                    5,
                )?;
                expect_call(&mut sb, "call_table", &[Val::I32(4)], &[Val::I32(99)])?;
                expect_kind(
                    "get past end",
                    sb.store_mut().table_get(inst, "funcs", 5),
                    ErrorKind::OutOfBounds,
                )?;
                expect_kind(
                    "get at u64::MAX",
                    sb.store_mut().table_get(inst, "funcs", u64::MAX),
                    ErrorKind::OutOfBounds,
                )?;
                expect_kind(
                    "set past end",
                    sb.store_mut().table_set(inst, "funcs", 5, f),
                    ErrorKind::OutOfBounds,
                )?;
                expect_kind(
                    "wrong element type",
                    sb.store_mut().table_set(inst, "funcs", 0, Val::I32(1)),
                    ErrorKind::TypeMismatch,
                )?;
                expect_kind(
                    "externref into a funcref table",
                    sb.store_mut()
                        .table_set(inst, "funcs", 0, Val::ExternRef(None)),
                    ErrorKind::TypeMismatch,
                )?;
                for name in ["nope", "memory", "call_table"] {
                    expect_kind(
                        name,
                        sb.store_mut().table_size(inst, name),
                        ErrorKind::ExportNotFound,
                    )?;
                }
                Ok(())
            }
        ),
    ]
}
