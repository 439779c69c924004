//! The guest's standard streams: where stdin comes from and where stdout and
//! stderr go.
//!
//! Everything is denied by default: stdin is empty and output is discarded.
//! A host grants the rest with [`Stdin`] and [`Output`]. Captured output
//! is bounded ([`Capture::new`]): past the cap the bytes are dropped and
//! [`Capture::truncated`] says so, while the guest is told its write
//! succeeded in full (a guest writing forever therefore runs until its own
//! fuel or deadline stops it, and never grows the host's memory).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::abi::Errno;

/// Where the guest's stdin comes from.
#[derive(Clone, Debug, Default)]
pub enum Stdin {
    /// Nothing: reads return end of file at once (the default).
    #[default]
    Empty,
    /// These bytes, then end of file.
    Bytes(Vec<u8>),
    /// The host process's own stdin (a read blocks until input arrives, at
    /// most until the call's deadline).
    Inherit,
}

/// Where one of the guest's output streams goes.
#[derive(Clone, Debug, Default)]
pub enum Output {
    /// Nowhere: writes succeed and the bytes are dropped (the default).
    #[default]
    Discard,
    /// Into a bounded in-memory buffer the host keeps a handle to.
    Capture(Capture),
    /// The host process's own stdout or stderr (the same stream).
    Inherit,
    /// Line by line into `tracing` events (target `anywasm_wasi::guest`,
    /// level INFO for stdout and WARN for stderr), each with the field
    /// `plugin` set to this name. A line longer than 4 KiB is split.
    Tracing(String),
}

/// A bounded buffer that collects a guest's output. Cloning shares it.
#[derive(Clone, Debug)]
pub struct Capture {
    inner: Arc<Mutex<CaptureInner>>,
}

#[derive(Debug)]
struct CaptureInner {
    bytes: Vec<u8>,
    limit: usize,
    truncated: bool,
}

impl Capture {
    /// A capture keeping at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(CaptureInner {
                bytes: Vec::new(),
                limit,
                truncated: false,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, CaptureInner> {
        // A panic while holding the lock cannot leave the buffer invalid.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the guest wrote, up to the limit.
    pub fn contents(&self) -> Vec<u8> {
        self.lock().bytes.clone()
    }

    /// What the guest wrote, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock().bytes).into_owned()
    }

    /// Whether the guest wrote more than the limit (the rest was dropped).
    pub fn truncated(&self) -> bool {
        self.lock().truncated
    }

    fn push(&self, data: &[u8]) {
        let mut c = self.lock();
        let room = c.limit.saturating_sub(c.bytes.len());
        let n = room.min(data.len());
        c.bytes.extend_from_slice(&data[..n]);
        if n < data.len() {
            c.truncated = true;
        }
    }
}

/// Longest line [`Output::Tracing`] buffers before emitting it anyway.
const MAX_LINE: usize = 4096;

/// An open output stream.
#[derive(Debug)]
pub(crate) struct OutputStream {
    sink: Output,
    stderr: bool,
    line: Vec<u8>,
}

impl OutputStream {
    pub(crate) fn new(sink: Output, stderr: bool) -> Self {
        Self {
            sink,
            stderr,
            line: Vec::new(),
        }
    }

    /// Write all of `data`; the count the guest sees is always `data.len()`.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<usize, Errno> {
        match &self.sink {
            Output::Discard => {}
            Output::Capture(c) => c.push(data),
            Output::Inherit => {
                let r = if self.stderr {
                    std::io::stderr().lock().write_all(data)
                } else {
                    let mut out = std::io::stdout().lock();
                    out.write_all(data).and_then(|()| out.flush())
                };
                r.map_err(Errno::from)?;
            }
            Output::Tracing(_) => {
                for &b in data {
                    if b == b'\n' {
                        self.emit();
                    } else {
                        self.line.push(b);
                        if self.line.len() >= MAX_LINE {
                            self.emit();
                        }
                    }
                }
            }
        }
        Ok(data.len())
    }

    fn emit(&mut self) {
        if let Output::Tracing(name) = &self.sink {
            let text = String::from_utf8_lossy(&self.line);
            if self.stderr {
                tracing::warn!(target: "anywasm_wasi::guest", plugin = %name, stream = "stderr", "{text}");
            } else {
                tracing::info!(target: "anywasm_wasi::guest", plugin = %name, stream = "stdout", "{text}");
            }
        }
        self.line.clear();
    }

    /// Whether this is a terminal (only an inherited stream can be).
    pub(crate) fn is_tty(&self) -> bool {
        matches!(self.sink, Output::Inherit)
            && if self.stderr {
                rustix::termios::isatty(std::io::stderr())
            } else {
                rustix::termios::isatty(std::io::stdout())
            }
    }
}

impl Drop for OutputStream {
    /// A last line without a newline is still emitted.
    fn drop(&mut self) {
        if !self.line.is_empty() {
            self.emit();
        }
    }
}

/// An open stdin.
#[derive(Debug)]
pub(crate) struct InputStream {
    source: Stdin,
    pos: usize,
}

impl InputStream {
    pub(crate) fn new(source: Stdin) -> Self {
        Self { source, pos: 0 }
    }

    /// Read at most `max` bytes, waiting at most `wait` for inherited input
    /// (`None`: as long as it takes). Nothing arriving in time is `EAGAIN`.
    pub(crate) fn read(&mut self, max: usize, wait: Option<Duration>) -> Result<Vec<u8>, Errno> {
        match &self.source {
            Stdin::Empty => Ok(Vec::new()),
            Stdin::Bytes(b) => {
                let rest = &b[self.pos.min(b.len())..];
                let n = rest.len().min(max);
                let out = rest[..n].to_vec();
                self.pos += n;
                Ok(out)
            }
            Stdin::Inherit => {
                if !self.ready(wait)? {
                    return Err(Errno::AGAIN);
                }
                let mut buf = vec![0; max];
                let n = std::io::stdin()
                    .lock()
                    .read(&mut buf)
                    .map_err(Errno::from)?;
                buf.truncate(n);
                Ok(buf)
            }
        }
    }

    /// Whether a read would not block, waiting at most `wait`.
    pub(crate) fn ready(&self, wait: Option<Duration>) -> Result<bool, Errno> {
        match self.source {
            Stdin::Empty | Stdin::Bytes(_) => Ok(true),
            Stdin::Inherit => {
                use rustix::event::{PollFd, PollFlags, Timespec, poll};
                let stdin = std::io::stdin();
                let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
                let timeout = wait.map(|d| Timespec {
                    tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
                    tv_nsec: i64::from(d.subsec_nanos()),
                });
                loop {
                    match poll(&mut fds, timeout.as_ref()) {
                        Ok(n) => return Ok(n > 0),
                        Err(rustix::io::Errno::INTR) => continue,
                        Err(e) => return Err(Errno::from(std::io::Error::from(e))),
                    }
                }
            }
        }
    }

    /// Whether this is a terminal.
    pub(crate) fn is_tty(&self) -> bool {
        matches!(self.source, Stdin::Inherit) && rustix::termios::isatty(std::io::stdin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_the_first_bytes_and_reports_truncation() {
        let c = Capture::new(5);
        let mut s = OutputStream::new(Output::Capture(c.clone()), false);
        assert_eq!(s.write(b"hel"), Ok(3));
        assert!(!c.truncated());
        assert_eq!(s.write(b"lo world"), Ok(8));
        assert_eq!(c.contents(), b"hello");
        assert!(c.truncated());
    }

    /// Collects each event's fields as `name=value` text.
    struct Collect(std::sync::Arc<Mutex<Vec<String>>>);

    impl tracing::Subscriber for Collect {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            struct Fields(String);
            impl tracing::field::Visit for Fields {
                fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                    self.0.push_str(&format!("{}={v:?} ", f.name()));
                }
            }
            let mut fields = Fields(format!("{} ", event.metadata().level()));
            event.record(&mut fields);
            self.0.lock().unwrap().push(fields.0.trim_end().to_string());
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn tracing_output_is_one_event_per_line_with_the_plugin_name() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::with_default(Collect(seen.clone()), || {
            let mut out = OutputStream::new(Output::Tracing("greeter".into()), false);
            out.write(b"one\ntw").unwrap();
            out.write(b"o\nthree").unwrap();
            let mut err = OutputStream::new(Output::Tracing("greeter".into()), true);
            err.write(b"oops\n").unwrap();
            drop(out);
        });
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            [
                "INFO message=one plugin=greeter stream=\"stdout\"",
                "INFO message=two plugin=greeter stream=\"stdout\"",
                "WARN message=oops plugin=greeter stream=\"stderr\"",
                "INFO message=three plugin=greeter stream=\"stdout\"",
            ]
        );
    }

    #[test]
    fn bytes_stdin_ends() {
        let mut s = InputStream::new(Stdin::Bytes(b"abc".to_vec()));
        assert_eq!(s.read(2, None).unwrap(), b"ab");
        assert_eq!(s.read(2, None).unwrap(), b"c");
        assert!(s.read(2, None).unwrap().is_empty());
    }
}
