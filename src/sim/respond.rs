//! HTTP answers, intact or broken on purpose: JSON bodies, a connection dropped before or in the
//! middle of an answer (the client sees a transport error), malformed bodies, and huge bodies
//! streamed chunk by chunk so that their size costs no memory.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use std::io;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Chunk size of streamed bodies.
const CHUNK: usize = 64 * 1024;
static PADDING: [u8; CHUNK] = [b'x'; CHUNK];

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn with_type(mut r: Response, content_type: &'static str) -> Response {
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn with_length(mut r: Response, len: usize) -> Response {
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len as u64));
    r
}

/// Serialises a JSON body compactly, as Starlette's JSONResponse does.
pub fn json_bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec()))
}

/// An intact answer.
pub fn raw(code: u16, content_type: &'static str, body: Bytes) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status(code);
    with_type(r, content_type)
}

/// An intact JSON answer.
pub fn json(code: u16, v: &Value) -> Response {
    raw(code, "application/json", json_bytes(v))
}

fn broken(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, why)
}

/// No answer at all: the connection is dropped before anything is written.
pub fn kill() -> Response {
    let stream = futures::stream::once(async { Err::<Bytes, io::Error>(broken("dropped")) });
    Response::new(Body::from_stream(stream))
}

/// The status line, the headers (announcing the full length) and the first half of the body,
/// then the connection is dropped.
pub fn reset(code: u16, content_type: &'static str, body: Bytes) -> Response {
    let len = body.len();
    let half = body.slice(..len / 2);
    let stream =
        futures::stream::iter([Ok::<Bytes, io::Error>(half)]).chain(futures::stream::once(async {
            // Let the server flush what was written before the connection goes.
            tokio::time::sleep(Duration::from_millis(5)).await;
            Err(broken("reset mid-answer"))
        }));
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = status(code);
    with_length(with_type(r, content_type), len)
}

/// 200 with a body that is not the expected JSON: the first half of it (`truncate`), or an HTML
/// error page such as a proxy would send.
pub fn malformed(body: Bytes, truncate: bool) -> Response {
    let bad = if truncate {
        body.slice(..body.len() / 2)
    } else {
        Bytes::from_static(b"<html><body><h1>Internal Server Error</h1></body></html>")
    };
    raw(200, "application/json", bad)
}

/// 200 with a body of exactly `total` bytes: the real JSON body with a long `padding` string
/// spliced in before its closing brace (still valid JSON), or the first `total` bytes of the
/// body when it is shorter than that. Streamed in 64 KiB chunks; stops when `stop` fires.
pub fn huge(body: Bytes, total: usize, stop: CancellationToken) -> Response {
    let head: Bytes;
    let tail: &'static [u8] = b"\"}";
    let pad: usize;
    let open = b",\"padding\":\"";
    if body.ends_with(b"}") && body.len() - 1 + open.len() + tail.len() <= total {
        let mut h = body[..body.len() - 1].to_vec();
        h.extend_from_slice(open);
        pad = total - h.len() - tail.len();
        head = Bytes::from(h);
    } else {
        head = body.slice(..body.len().min(total));
        pad = 0;
    }
    let with_tail = pad > 0 || head.len() + tail.len() == total;
    let stream = futures::stream::unfold(
        (Some(head), pad, with_tail),
        move |(head, pad, with_tail)| {
            let stop = stop.clone();
            async move {
                if stop.is_cancelled() {
                    return Some((Err(broken("shutting down")), (None, 0, false)));
                }
                if let Some(h) = head {
                    return Some((Ok(h), (None, pad, with_tail)));
                }
                if pad > 0 {
                    let n = pad.min(CHUNK);
                    let chunk = Bytes::from_static(&PADDING[..n]);
                    return Some((Ok(chunk), (None, pad - n, with_tail)));
                }
                if with_tail {
                    return Some((Ok(Bytes::from_static(tail)), (None, 0, false)));
                }
                None
            }
        },
    );
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = StatusCode::OK;
    with_length(with_type(r, "application/json"), total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    #[tokio::test]
    async fn huge_bodies_have_the_exact_size_and_stay_json() {
        let body = json_bytes(&serde_json::json!({"generation_time": "1.72s"}));
        for total in [body.len() + 14, 100_000, 3 * CHUNK + 7] {
            let r = huge(body.clone(), total, CancellationToken::new());
            assert_eq!(
                r.headers()[header::CONTENT_LENGTH],
                total.to_string().as_str()
            );
            let got = to_bytes(r.into_body(), usize::MAX).await.unwrap();
            assert_eq!(got.len(), total);
            let v: Value = serde_json::from_slice(&got).unwrap();
            assert_eq!(v["generation_time"], "1.72s");
        }
        // Shorter than the body: a cut.
        let r = huge(body.clone(), 5, CancellationToken::new());
        let got = to_bytes(r.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&got[..], &body[..5]);
    }

    #[tokio::test]
    async fn a_stopped_huge_body_errors() {
        let stop = CancellationToken::new();
        stop.cancel();
        let r = huge(Bytes::from_static(b"{}"), 1000, stop);
        assert!(to_bytes(r.into_body(), usize::MAX).await.is_err());
    }

    #[tokio::test]
    async fn malformed_bodies_are_not_json() {
        let body = json_bytes(&serde_json::json!({"message": "Generated", "seed": null}));
        for truncate in [true, false] {
            let got = to_bytes(malformed(body.clone(), truncate).into_body(), usize::MAX)
                .await
                .unwrap();
            assert!(serde_json::from_slice::<Value>(&got).is_err());
        }
    }

    #[tokio::test]
    async fn reset_and_kill_bodies_fail() {
        let r = reset(200, "application/json", Bytes::from_static(b"{\"a\":1}"));
        assert_eq!(r.headers()[header::CONTENT_LENGTH], "7");
        assert!(to_bytes(r.into_body(), usize::MAX).await.is_err());
        assert!(to_bytes(kill().into_body(), usize::MAX).await.is_err());
    }
}
