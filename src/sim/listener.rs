//! Accepting connections. While the `down` fault is on, a new connection is read just far
//! enough to see its request line: a control request (`/_sim/…`) is let through (with the bytes
//! already read replayed), anything else is closed unanswered. Every connection reads as closed
//! once the simulator shuts down, so idle keep-alive connections never outlive it.

use super::state::Shared;
use axum::serve::Listener;
use bytes::{Buf, Bytes};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// How long a connection may take to send its request line while the server is down.
const SCREEN_TIMEOUT: Duration = Duration::from_secs(2);
/// Most bytes read to find the request line.
const SCREEN_MAX: usize = 4096;

/// One accepted connection.
pub struct SimConn {
    /// Bytes read while screening, served before the socket's.
    prefix: Bytes,
    inner: TcpStream,
    stop: CancellationToken,
    stopped: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl SimConn {
    fn new(inner: TcpStream, prefix: Bytes, stop: CancellationToken) -> SimConn {
        SimConn {
            prefix,
            inner,
            stopped: Box::pin(stop.clone().cancelled_owned()),
            stop,
        }
    }
}

impl AsyncRead for SimConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Once the simulator stops, the connection reads as closed.
        if this.stop.is_cancelled() || this.stopped.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ok(()));
        }
        if !this.prefix.is_empty() {
            let n = buf.remaining().min(this.prefix.len());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The path of an HTTP/1 request line ("GET /_sim/faults HTTP/1.1"), if complete.
pub fn request_path(head: &[u8]) -> Option<&str> {
    let end = head.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&head[..end]).ok()?;
    let mut parts = line.split(' ');
    let _method = parts.next()?;
    let target = parts.next()?;
    Some(target.split('?').next().unwrap_or(target))
}

fn is_control(path: &str) -> bool {
    path == "/_sim" || path.starts_with("/_sim/")
}

/// The simulator's listener.
pub struct SimListener {
    tcp: TcpListener,
    shared: Arc<Shared>,
    screened_tx: mpsc::Sender<(SimConn, SocketAddr)>,
    screened_rx: mpsc::Receiver<(SimConn, SocketAddr)>,
}

impl SimListener {
    pub fn new(tcp: TcpListener, shared: Arc<Shared>) -> SimListener {
        let (screened_tx, screened_rx) = mpsc::channel(16);
        SimListener {
            tcp,
            shared,
            screened_tx,
            screened_rx,
        }
    }
}

/// Reads the request line of a connection made while the server is down and lets it through
/// only if it is a control request.
async fn screen(
    mut stream: TcpStream,
    addr: SocketAddr,
    tx: mpsc::Sender<(SimConn, SocketAddr)>,
    shared: Arc<Shared>,
) {
    let mut head = Vec::with_capacity(512);
    let read = async {
        let mut chunk = [0u8; 512];
        while head.len() < SCREEN_MAX && request_path(&head).is_none() {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&chunk[..n]);
        }
        Ok::<(), io::Error>(())
    };
    let finished = tokio::select! {
        r = tokio::time::timeout(SCREEN_TIMEOUT, read) => matches!(r, Ok(Ok(()))),
        _ = shared.token.cancelled() => false,
    };
    if finished && request_path(&head).is_some_and(is_control) {
        let conn = SimConn::new(stream, Bytes::from(head), shared.token.clone());
        let _ = tx.send((conn, addr)).await;
    } else {
        shared.core().0.stats.refused_connections += 1;
        drop(stream);
    }
}

impl Listener for SimListener {
    type Io = SimConn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (SimConn, SocketAddr) {
        loop {
            tokio::select! {
                Some(conn) = self.screened_rx.recv() => return conn,
                accepted = self.tcp.accept() => match accepted {
                    Ok((stream, addr)) => {
                        let _ = stream.set_nodelay(true);
                        if self.shared.faults().down {
                            tokio::spawn(screen(
                                stream,
                                addr,
                                self.screened_tx.clone(),
                                self.shared.clone(),
                            ));
                            continue;
                        }
                        return (SimConn::new(stream, Bytes::new(), self.shared.token.clone()), addr);
                    }
                    Err(e) => {
                        if !matches!(
                            e.kind(),
                            io::ErrorKind::ConnectionRefused
                                | io::ErrorKind::ConnectionAborted
                                | io::ErrorKind::ConnectionReset
                        ) {
                            // Out of file descriptors and the like: back off a little.
                            tracing::warn!(error = %e, "simulator cannot accept a connection");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                },
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(
            request_path(b"PUT /_sim/faults HTTP/1.1\r\nHost: x\r\n"),
            Some("/_sim/faults")
        );
        assert_eq!(
            request_path(b"GET /health?x=1 HTTP/1.1\r\n"),
            Some("/health")
        );
        assert_eq!(request_path(b"GET /health HTTP/1.1"), None);
        assert_eq!(request_path(b"\xff\xfe\r\n"), None);
        assert!(is_control("/_sim/gpus"));
        assert!(!is_control("/_simulate"));
    }
}
