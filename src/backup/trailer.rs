//! A reader that holds back the last bytes of a stream and, at its end,
//! drops those the engine says are not part of the dump.

use crate::engine::Trailer;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, ReadBuf};

pub struct TrimTrailer<R> {
    inner: R,
    trailer: Trailer,
    held: Vec<u8>,
    ended: bool,
}

impl<R> TrimTrailer<R> {
    pub fn new(inner: R, trailer: Trailer) -> Self {
        TrimTrailer { inner, trailer, held: Vec::new(), ended: false }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for TrimTrailer<R> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            // Bytes that can no longer be part of the trailer go out.
            let releasable =
                if this.ended { this.held.len() } else { this.held.len().saturating_sub(this.trailer.window) };
            if releasable > 0 || this.ended {
                let n = releasable.min(out.remaining());
                out.put_slice(&this.held[..n]);
                this.held.drain(..n);
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 16 << 10];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                let excess = (this.trailer.excess)(&this.held).min(this.held.len());
                this.held.truncate(this.held.len() - excess);
                this.ended = true;
            } else {
                this.held.extend_from_slice(read.filled());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn last_three_if_xyz(tail: &[u8]) -> usize {
        if tail.ends_with(b"xyz") { 3 } else { 0 }
    }

    async fn through(input: &[u8]) -> Vec<u8> {
        let trailer = Trailer { window: 3, excess: last_three_if_xyz };
        let mut out = Vec::new();
        TrimTrailer::new(input, trailer).read_to_end(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn drops_only_a_matching_trailer() {
        let long: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(through(&[&long[..], b"xyz"].concat()).await, long);
        assert_eq!(through(&long).await, long);
        assert_eq!(through(b"xy").await, b"xy");
        assert_eq!(through(b"").await, b"");
    }
}
