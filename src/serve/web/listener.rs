//! Serving the daemon's router: over plain TCP, or over TLS with handshakes done apart from the
//! accept loop (a client that never finishes its handshake holds up no one, and is dropped after
//! [`HANDSHAKE_TIMEOUT`]). Each handshake uses the TLS configuration in force when it starts, so
//! a rotated certificate is served to the next connection.

use super::WebState;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// A TLS handshake that takes longer is abandoned.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at most; accepting waits beyond that.
const MAX_HANDSHAKES: usize = 256;

/// Connections whose TLS handshake is done, for `axum::serve`.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Accepts on `tcp` until `stop`, handshaking with the web configuration's TLS settings.
    pub fn start(
        tcp: TcpListener,
        web: Arc<WebState>,
        stop: CancellationToken,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(accept_loop(tcp, web, stop, tx));
        Ok(TlsListener { ready, local })
    }
}

async fn accept_loop(
    tcp: TcpListener,
    web: Arc<WebState>,
    stop: CancellationToken,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            r = tcp.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors and the like: back off rather than spin.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
                    }
                }
            },
        };
        let Some(config) = web.current().tls.clone() else {
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!("TLS handshake from {peer} failed: {e}"),
                Err(_) => tracing::debug!("TLS handshake from {peer} timed out"),
            }
            drop(permit);
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept loop ended (the daemon is stopping): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Serves `app` on `tcp` (TLS when the web configuration has it) until `stop`.
pub fn serve(
    tcp: TcpListener,
    app: Router,
    web: Arc<WebState>,
    stop: CancellationToken,
) -> std::io::Result<JoinHandle<()>> {
    let shutdown = stop.clone();
    let task = if web.tls() {
        let listener = TlsListener::start(tcp, web, stop)?;
        tokio::spawn(async move {
            let r = axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
            if let Err(e) = r {
                tracing::error!("HTTPS server: {e}");
            }
        })
    } else {
        tokio::spawn(async move {
            let r = axum::serve(tcp, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
            if let Err(e) = r {
                tracing::error!("HTTP server: {e}");
            }
        })
    };
    Ok(task)
}
