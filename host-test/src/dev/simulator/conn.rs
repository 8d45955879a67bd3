//! The simulator's connections, each wrapped so a fault can drop it without an answer.
//!
//! axum hands a handler the request, never the socket, so a handler cannot close the
//! connection it came on. Instead every accepted stream carries a [`ConnControl`], given to the
//! request as `ConnectInfo`; a reset fault trips it, and the stream's next read or write fails.
//! hyper then drops the connection with nothing written, and the zero linger set on the way
//! makes the close an RST: the client sees a reset, not an empty answer.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A switch shared by one connection and the requests on it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnControl(Arc<AtomicBool>);

impl ConnControl {
    /// From now on the connection fails every read and write, so nothing more is sent on it.
    pub(crate) fn reset(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_reset(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Connected<IncomingStream<'_, FaultListener>> for ConnControl {
    fn connect_info(stream: IncomingStream<'_, FaultListener>) -> Self {
        stream.io().control.clone()
    }
}

/// A TCP listener whose streams can be reset from a handler.
pub(crate) struct FaultListener(pub(crate) TcpListener);

impl Listener for FaultListener {
    type Io = FaultStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, addr)) => {
                    let stream = FaultStream {
                        inner,
                        control: ConnControl::default(),
                    };
                    return (stream, addr);
                }
                // Per-connection errors (aborted handshakes) and running out of descriptors
                // alike: wait a little rather than spin, then accept again.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

pub(crate) struct FaultStream {
    inner: TcpStream,
    control: ConnControl,
}

impl FaultStream {
    /// Fails the operation if the connection was reset, arming an RST for the close.
    fn check(&self) -> io::Result<()> {
        if self.control.is_reset() {
            // Best effort: without it the close is a FIN, still a connection with no answer.
            let _ = self.inner.set_zero_linger();
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "reset by an injected fault",
            ));
        }
        Ok(())
    }
}

impl AsyncRead for FaultStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(error) = this.check() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(error) = this.check() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(error) = this.check() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(error) = this.check() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(error) = this.check() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
