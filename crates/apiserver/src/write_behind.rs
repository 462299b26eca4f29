//! A connection whose writes are handed to a writer task, so that what several HTTP/2 streams
//! send at about the same time leaves in one TLS record and one system call.
//!
//! HTTP/2 (the `h2` crate) flushes after every data frame over 256 bytes, and each flush is a
//! TLS record and a `writev`. When one change reaches a thousand watchers spread over fifty
//! connections, that is a thousand records and syscalls, and the last watcher waits for all of
//! them. Here a write only copies into the connection's buffer; the writer task, woken by the
//! first byte, lets the tasks that are ready run first (one scheduling round), then writes
//! everything gathered so far at once. Reads go straight to the stream.

use bytes::BytesMut;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};
use tokio::sync::Notify;

/// Bytes a connection may hold unwritten before its writes wait for the writer (the peer is
/// slow): about sixteen HTTP/2 frames of the default size.
const MAX_PENDING: usize = 256 * 1024;

/// The stream's read half plus the buffer its writer task drains.
pub struct WriteBehind<T> {
    read: ReadHalf<T>,
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer task: there is something to write, or the connection is closing.
    wake_writer: Notify,
}

#[derive(Default)]
struct State {
    pending: BytesMut,
    /// The writer failed: later writes fail with this kind.
    failed: Option<io::ErrorKind>,
    /// No more writes will come: write what is pending, then shut the stream down.
    closing: bool,
    /// The writer has shut the stream down (or failed) and exited.
    closed: bool,
    /// A writer waiting for room in `pending`, or for the shutdown to finish.
    waiting: Option<Waker>,
}

impl<T: AsyncRead + AsyncWrite + Send + 'static> WriteBehind<T> {
    /// Split `stream` and start its writer task (on the current Tokio runtime).
    pub fn new(stream: T) -> Self {
        let (read, write) = tokio::io::split(stream);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake_writer: Notify::new(),
        });
        tokio::spawn(write_loop(write, shared.clone()));
        Self { read, shared }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Drain the buffer whenever woken, after letting the other ready tasks add to it.
async fn write_loop<T: AsyncWrite>(mut out: WriteHalf<T>, shared: Arc<Shared>) {
    let mut spare = BytesMut::new();
    loop {
        shared.wake_writer.notified().await;
        tokio::task::yield_now().await;
        loop {
            let (mut chunk, closing) = {
                let mut s = shared.lock();
                std::mem::swap(&mut s.pending, &mut spare);
                (std::mem::take(&mut spare), s.closing)
            };
            if chunk.is_empty() {
                spare = chunk;
                if closing {
                    let _ = out.shutdown().await;
                    finish(&shared, None);
                    return;
                }
                break;
            }
            let written = match out.write_all(&chunk).await {
                Ok(()) => out.flush().await,
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                finish(&shared, Some(e.kind()));
                return;
            }
            chunk.clear();
            spare = chunk;
            if let Some(w) = shared.lock().waiting.take() {
                w.wake();
            }
        }
    }
}

/// The writer is done: record why and wake whoever waits on it.
fn finish(shared: &Shared, failed: Option<io::ErrorKind>) {
    let mut s = shared.lock();
    s.closed = true;
    s.failed = s.failed.or(failed);
    s.pending = BytesMut::new();
    if let Some(w) = s.waiting.take() {
        w.wake();
    }
}

impl<T> WriteBehind<T> {
    /// Queue `bufs` for the writer, all or nothing.
    fn queue(&self, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let mut s = self.shared.lock();
        if let Some(kind) = s.failed {
            return Poll::Ready(Err(kind.into()));
        }
        if s.closing || s.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if s.pending.len() >= MAX_PENDING {
            s.waiting = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let was_empty = s.pending.is_empty();
        let mut n = 0;
        for b in bufs {
            s.pending.extend_from_slice(b);
            n += b.len();
        }
        drop(s);
        if was_empty && n > 0 {
            self.shared.wake_writer.notify_one();
        }
        Poll::Ready(Ok(n))
    }
}

impl<T> Drop for WriteBehind<T> {
    fn drop(&mut self) {
        // The writer still writes what is pending, then shuts the stream down.
        self.shared.lock().closing = true;
        self.shared.wake_writer.notify_one();
    }
}

impl<T: AsyncRead> AsyncRead for WriteBehind<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite> AsyncWrite for WriteBehind<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.queue(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.queue(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// Data handed to the writer counts as flushed: the writer sends it within one
    /// scheduling round.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.shared.lock().failed {
            Some(kind) => Poll::Ready(Err(kind.into())),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Waits until the writer has written everything and shut the stream down.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = self.shared.lock();
        if s.closed {
            return Poll::Ready(Ok(()));
        }
        s.waiting = Some(cx.waker().clone());
        if !s.closing {
            s.closing = true;
            drop(s);
            self.shared.wake_writer.notify_one();
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn writes_arrive_in_order_and_shutdown_flushes_them() {
        let (a, mut b) = tokio::io::duplex(1024);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            b.read_to_end(&mut got).await.unwrap();
            got
        });
        let mut w = WriteBehind::new(a);
        let mut expected = Vec::new();
        for i in 0..2000u32 {
            let line = format!("line {i}\n");
            w.write_all(line.as_bytes()).await.unwrap();
            expected.extend_from_slice(line.as_bytes());
        }
        w.shutdown().await.unwrap();
        assert_eq!(reader.await.unwrap(), expected);
    }

    #[tokio::test]
    async fn a_slow_reader_holds_writes_back_instead_of_buffering_without_end() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut w = WriteBehind::new(a);
        let chunk = vec![7u8; 64 * 1024];
        // Nobody reads: the writes stop once the pending bytes reach the limit.
        let blocked = tokio::time::timeout(std::time::Duration::from_millis(200), async {
            loop {
                w.write_all(&chunk).await.unwrap();
            }
        })
        .await;
        assert!(blocked.is_err(), "writes never waited for the reader");
        let pending = w.shared.lock().pending.len();
        assert!(
            pending <= MAX_PENDING + chunk.len(),
            "{pending} bytes pending"
        );
        let mut buf = vec![0u8; 4096];
        assert!(b.read(&mut buf).await.unwrap() > 0);
    }

    #[tokio::test]
    async fn reads_pass_through_and_a_closed_peer_fails_later_writes() {
        let (a, mut b) = tokio::io::duplex(1024);
        let mut w = WriteBehind::new(a);
        b.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        w.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        drop(b);
        let mut failed = false;
        for _ in 0..100 {
            if w.write_all(b"x").await.is_err() {
                failed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(failed, "writes to a closed peer kept succeeding");
    }
}
