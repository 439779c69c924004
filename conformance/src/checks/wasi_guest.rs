//! A guest for the WASI checks: a module that imports every preview 1
//! function and re-exports each under its own name, so a check can call
//! any WASI function with any arguments (hostile ones included) from the
//! host, through a real guest, on every engine. Two loops test limits
//! inside WASI calls: `sleep_forever` (a poll with the subscription at
//! address 0) and `write_forever` (an `fd_write` with the iovec at 0).

use anywasm::{Config, Limits, Linker, Result as AwResult, Sandbox, Val, ValType};
use anywasm_wasi::{WasiCtx, add_to_linker, capability};

use crate::Ctx;

/// Scratch addresses in the guest's single 64 KiB page.
pub(crate) const OUT: u32 = 512;
pub(crate) const PATH: u32 = 1024;
pub(crate) const PATH2: u32 = 2048;
pub(crate) const DATA: u32 = 4096;

/// The shim's text.
pub(crate) fn shim() -> String {
    let mut s = String::from("(module\n");
    let mut exports = String::new();
    for (name, ty, _) in anywasm_wasi::signatures() {
        let params: Vec<&str> = ty
            .params()
            .iter()
            .map(|t| if *t == ValType::I64 { "i64" } else { "i32" })
            .collect();
        let params = params.join(" ");
        let result = if ty.results().is_empty() {
            ""
        } else {
            "(result i32)"
        };
        s.push_str(&format!(
            "  (import \"wasi_snapshot_preview1\" \"{name}\" (func ${name} (param {params}) {result}))\n"
        ));
        let gets: String = (0..ty.params().len())
            .map(|i| format!("local.get {i} "))
            .collect();
        exports.push_str(&format!(
            "  (func (export \"{name}\") (param {params}) {result} {gets} call ${name})\n"
        ));
    }
    s.push_str(&exports);
    s.push_str(
        r#"  (memory (export "memory") 1)
  (func (export "sleep_forever")
    (loop (drop (call $poll_oneoff (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128))) (br 0)))
  (func (export "write_forever")
    (loop (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) (br 0)))
)"#,
    );
    s
}

/// The shim instantiated with a context, on one engine.
pub(crate) struct Guest {
    pub(crate) sb: Sandbox<WasiCtx>,
}

impl Guest {
    pub(crate) fn with(cx: &Ctx, ctx: WasiCtx, config: &Config, limits: &Limits) -> AwResult<Self> {
        let mut linker = Linker::new();
        add_to_linker(&mut linker);
        let engine = anywasm::engine::<WasiCtx>(cx.backend(), config)?;
        let wasm = crate::harness::wasm(&shim());
        Ok(Self {
            sb: Sandbox::builder(&*engine)
                .linker(&linker)
                .capabilities(&capability::ALL.into_iter().collect())
                .data(ctx)
                .limits(limits)
                .build(&wasm)?,
        })
    }

    pub(crate) fn new(cx: &Ctx, ctx: WasiCtx) -> Result<Self, String> {
        Self::with(cx, ctx, &Config::new(), &Limits::new()).map_err(|e| format!("shim: {e}"))
    }

    pub(crate) fn put(&mut self, at: u32, bytes: &[u8]) -> Result<(), String> {
        let inst = self.sb.instance();
        self.sb
            .store_mut()
            .memory_write(inst, "memory", u64::from(at), bytes)
            .map_err(|e| e.to_string())
    }

    pub(crate) fn get(&mut self, at: u32, len: usize) -> Result<Vec<u8>, String> {
        let inst = self.sb.instance();
        let mut buf = vec![0; len];
        self.sb
            .store_mut()
            .memory_read(inst, "memory", u64::from(at), &mut buf)
            .map_err(|e| e.to_string())?;
        Ok(buf)
    }

    pub(crate) fn u32_at(&mut self, at: u32) -> Result<u32, String> {
        let b = self.get(at, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Call a WASI function; its errno.
    pub(crate) fn call(&mut self, name: &str, args: &[Val]) -> Result<u16, String> {
        let out = self
            .sb
            .call(name, args)
            .map_err(|e| format!("{name}: {e}"))?;
        Ok(out.first().and_then(Val::as_i32).unwrap_or(-1) as u16)
    }

    /// `path_open` of `path` under `dirfd`: the new fd, or the errno.
    pub(crate) fn open(
        &mut self,
        dirfd: u32,
        path: &str,
        oflags: u32,
        rights: u64,
    ) -> Result<Result<u32, u16>, String> {
        self.put(PATH, path.as_bytes())?;
        let errno = self.call(
            "path_open",
            &[
                i(dirfd),
                i(1),
                i(PATH),
                i(path.len() as u32),
                i(oflags),
                Val::I64(rights as i64),
                Val::I64(rights as i64),
                i(0),
                i(OUT),
            ],
        )?;
        Ok(if errno == 0 {
            Ok(self.u32_at(OUT)?)
        } else {
            Err(errno)
        })
    }

    /// A path call taking `(fd, path, len)`.
    pub(crate) fn path_call(&mut self, name: &str, fd: u32, path: &str) -> Result<u16, String> {
        self.put(PATH, path.as_bytes())?;
        self.call(name, &[i(fd), i(PATH), i(path.len() as u32)])
    }

    /// Read up to `len` bytes from `fd` (one iovec at `DATA`).
    pub(crate) fn read(&mut self, fd: u32, len: u32) -> Result<Result<Vec<u8>, u16>, String> {
        let mut iov = DATA.to_le_bytes().to_vec();
        iov.extend_from_slice(&len.to_le_bytes());
        self.put(OUT + 64, &iov)?;
        let errno = self.call("fd_read", &[i(fd), i(OUT + 64), i(1), i(OUT)])?;
        if errno != 0 {
            return Ok(Err(errno));
        }
        let n = self.u32_at(OUT)?;
        Ok(Ok(self.get(DATA, n as usize)?))
    }
}

/// An `i32` argument from the unsigned value the ABI means.
pub(crate) fn i(v: u32) -> Val {
    Val::I32(v as i32)
}
