//! A plugin's stdout and stderr: each line goes to the log (`tracing`,
//! target `weir::plugin`, with the node's name and the stream), clipped and
//! rate-limited, so a plugin that prints in a loop cannot flood the log or
//! grow the host's memory.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Longest line kept; the rest of a longer line is dropped.
const MAX_LINE: usize = 4096;
/// Lines logged in a burst before the rate limit applies.
const BURST_LINES: f64 = 100.0;
/// Lines per second logged once a burst is spent.
const LINES_PER_SECOND: f64 = 10.0;

/// One of a plugin instance's output streams.
#[derive(Clone)]
pub(crate) struct LogStream {
    inner: Arc<Mutex<Lines>>,
}

struct Lines {
    node: String,
    stream: &'static str,
    /// The unfinished last line.
    pending: Vec<u8>,
    rate: RateLimit,
}

/// A token bucket of log records: [`BURST_LINES`] at once, then
/// [`LINES_PER_SECOND`], counting the records it refuses. Each of a
/// plugin's output streams has one, and so do its `log` calls.
#[derive(Debug)]
pub(crate) struct RateLimit {
    allowance: f64,
    refilled: Instant,
    /// Records refused since the last one allowed.
    pub(crate) dropped: u64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            allowance: BURST_LINES,
            refilled: Instant::now(),
            dropped: 0,
        }
    }
}

impl RateLimit {
    /// Takes a token for one more record: `Some(records refused since the
    /// last one allowed)`, or `None` when this one is refused too.
    pub(crate) fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.allowance = (self.allowance + elapsed * LINES_PER_SECOND).min(BURST_LINES);
        self.refilled = now;
        if self.allowance < 1.0 {
            self.dropped += 1;
            return None;
        }
        self.allowance -= 1.0;
        Some(std::mem::take(&mut self.dropped))
    }
}

impl LogStream {
    /// The `stream` (`stdout` or `stderr`) of the plugin running as `node`.
    pub(crate) fn new(node: &str, stream: &'static str) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Lines {
                node: node.to_string(),
                stream,
                pending: Vec::new(),
                rate: RateLimit::default(),
            })),
        }
    }

    fn write_bytes(&self, bytes: &[u8]) {
        self.inner.lock().expect("log stream lock").write(bytes);
    }
}

impl Lines {
    fn write(&mut self, mut bytes: &[u8]) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            self.keep(&bytes[..end]);
            let line = std::mem::take(&mut self.pending);
            self.log(&line);
            bytes = &bytes[end + 1..];
        }
        self.keep(bytes);
    }

    /// Appends to the pending line, up to [`MAX_LINE`] bytes.
    fn keep(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.pending.len());
        self.pending
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn log(&mut self, line: &[u8]) {
        let Some(dropped) = self.rate.allow() else {
            return;
        };
        let (node, stream) = (self.node.as_str(), self.stream);
        let text = String::from_utf8_lossy(line);
        match dropped {
            0 => tracing::info!(target: "weir::plugin", node, stream, "{text}"),
            _ => tracing::info!(target: "weir::plugin", node, stream, dropped, "{text}"),
        }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.log(&line);
        }
        if self.rate.dropped > 0 {
            let (node, stream, dropped) = (self.node.as_str(), self.stream, self.rate.dropped);
            tracing::warn!(target: "weir::plugin", node, stream, dropped, "plugin output lines dropped by the rate limit");
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogStream {
    async fn ready(&mut self) {}
}

impl OutputStream for LogStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for LogStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_clipped_and_rate_limited() {
        let stream = LogStream::new("node", "stdout");
        stream.write_bytes(b"hel");
        stream.write_bytes(b"lo\nworld\n");
        let long = vec![b'x'; MAX_LINE * 3];
        stream.write_bytes(&long);
        let inner = stream.inner.lock().unwrap();
        assert_eq!(inner.pending.len(), MAX_LINE, "a long line is clipped");
        assert_eq!(inner.rate.allowance.floor(), BURST_LINES - 2.0);
        drop(inner);
        for _ in 0..1000 {
            stream.write_bytes(b"spam\n");
        }
        let inner = stream.inner.lock().unwrap();
        assert!(inner.rate.dropped >= 800, "dropped {}", inner.rate.dropped);
    }
}
