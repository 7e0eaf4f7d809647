//! Small hostile HTTP servers on 127.0.0.1, written on raw TCP so that they can break the protocol
//! in ways a real framework never would: headers that never end, bodies that trickle or never
//! end, bodies past any cap, compression bombs, bytes that are not UTF-8 or JSON that is not
//! sane, redirect loops, proxy error pages, rate-limit answers, answers cut short, and plain HTTP
//! where TLS is expected. Each connection reads the request head (bounded) and then misbehaves.
#![allow(dead_code)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One way of answering badly.
#[derive(Debug, Clone)]
pub enum Hostile {
    /// A status line and one header, then nothing, with the connection held open.
    HeadersNeverFinish,
    /// A 200 with a Content-Length of 1000 whose body arrives one byte per `every`.
    TrickleBody { every: Duration },
    /// A chunked 200 whose chunks never stop.
    EndlessChunked,
    /// A Content-Length far over any cap (1 TiB), then a little of it.
    DeclaredOverCap,
    /// No Content-Length and no chunking: bytes until the client hangs up.
    UndeclaredOverCap,
    /// `Content-Encoding: gzip` over a small gzip stream that inflates to `inflated` bytes.
    GzipBomb { inflated: usize },
    /// A 200 whose JSON strings hold bytes that are not UTF-8.
    InvalidUtf8,
    /// A 200 whose JSON nests `depth` arrays deep.
    DeepJson { depth: usize },
    /// A 200 success body whose figures are numbers no double can hold.
    HugeNumbers,
    /// A 200 success body with "NaN", "-0", "inf" figures in strings.
    OddFigureStrings,
    /// 302 to the same path, forever.
    RedirectLoop,
    /// A proxy's HTML error page with this status (502, 504).
    ProxyHtml(u16),
    /// This status with a Retry-After header of this value.
    RetryAfter { status: u16, value: String },
    /// Headers with a Content-Length of 500, 50 bytes of body, then the connection closes.
    CloseMidAnswer,
    /// A well-formed 200 of the API's success shape.
    PlainSuccess,
    /// A 500 whose FastAPI detail quotes the whole request head back, headers and all (as a
    /// debugging proxy or a careless error handler does), and a status body that does the same.
    EchoRequest,
    /// Writes a plain HTTP answer as soon as a connection opens, before reading anything: what
    /// a client that starts a TLS handshake with a plain HTTP server gets back.
    PlainToTls,
}

/// A running hostile server.
pub struct HostileServer {
    pub addr: SocketAddr,
    /// Request heads received, in order (to check what the client asked for).
    pub heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl HostileServer {
    pub async fn start(behaviour: Hostile) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&heads);
        // The bomb is made once, before any request: compressing takes a while.
        let bomb: Arc<Vec<u8>> = Arc::new(match behaviour {
            Hostile::GzipBomb { inflated } => {
                tokio::task::spawn_blocking(move || gzip_zeros(inflated))
                    .await
                    .unwrap()
            }
            _ => Vec::new(),
        });
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let b = behaviour.clone();
                let seen = Arc::clone(&seen);
                let bomb = Arc::clone(&bomb);
                tokio::spawn(async move {
                    let _ = serve_one(sock, b, &bomb, seen).await;
                });
            }
        });
        HostileServer { addr, heads, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The same address with https:// (for the TLS case).
    pub fn https_url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The API's success body, written here.
pub const SUCCESS_BODY: &str = r#"{"status": "success", "message": "Image generated", "generation_time": "1.72s", "vram_usage_gb": "8.50GB", "image_url": "/images/x.png", "width": 512, "height": 512}"#;

/// Reads the request head and a declared body (both bounded); returns the head.
async fn read_request(sock: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return Err(std::io::Error::other("request head too long"));
        }
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut have = buf.len() - head_end;
    while have < length.min(1024 * 1024) {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        have += n;
    }
    Ok(head)
}

/// Holds the connection until the client closes it.
async fn hold(mut sock: TcpStream) -> std::io::Result<()> {
    let mut sink = [0u8; 1024];
    while sock.read(&mut sink).await? > 0 {}
    Ok(())
}

fn response(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn json_200(body: &[u8]) -> Vec<u8> {
    response(
        "200 OK",
        &[("Content-Type", "application/json".to_string())],
        body,
    )
}

/// gzip of `n` zero bytes, written through flate2.
fn gzip_zeros(n: usize) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 64 * 1024];
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len());
        enc.write_all(&block[..k]).unwrap();
        left -= k;
    }
    enc.finish().unwrap()
}

async fn serve_one(
    mut sock: TcpStream,
    behaviour: Hostile,
    bomb: &[u8],
    seen: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    if let Hostile::PlainToTls = behaviour {
        sock.write_all(&response("400 Bad Request", &[], b"plain HTTP here"))
            .await?;
        return hold(sock).await;
    }
    let head = read_request(&mut sock).await?;
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    seen.lock().unwrap().push(head);
    match behaviour {
        Hostile::HeadersNeverFinish => {
            sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                .await?;
            hold(sock).await
        }
        Hostile::TrickleBody { every } => {
            sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
                .await?;
            for _ in 0..1000 {
                sock.write_all(b" ").await?;
                tokio::time::sleep(every).await;
            }
            Ok(())
        }
        Hostile::EndlessChunked => {
            sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await?;
            let chunk = format!("4000\r\n{}\r\n", " ".repeat(0x4000));
            loop {
                sock.write_all(chunk.as_bytes()).await?;
            }
        }
        Hostile::DeclaredOverCap => {
            sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1099511627776\r\n\r\n{\"status\": ")
                .await?;
            hold(sock).await
        }
        Hostile::UndeclaredOverCap => {
            sock.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
            )
            .await?;
            let block = vec![b' '; 64 * 1024];
            loop {
                sock.write_all(&block).await?;
            }
        }
        Hostile::GzipBomb { .. } => {
            sock.write_all(&response(
                "200 OK",
                &[
                    ("Content-Type", "application/json".to_string()),
                    ("Content-Encoding", "gzip".to_string()),
                ],
                bomb,
            ))
            .await
        }
        Hostile::InvalidUtf8 => {
            let mut body = b"{\"status\": \"success\", \"generation_time\": \"1.7".to_vec();
            body.extend_from_slice(&[0xff, 0xfe, 0xc3]);
            body.extend_from_slice(b"s\", \"image_url\": \"/x.png\"}");
            sock.write_all(&json_200(&body)).await
        }
        Hostile::DeepJson { depth } => {
            let body = format!(
                "{{\"status\": \"success\", \"x\": {}{}}}",
                "[".repeat(depth),
                "]".repeat(depth)
            );
            sock.write_all(&json_200(body.as_bytes())).await
        }
        Hostile::HugeNumbers => {
            let body = br#"{"status": "success", "generation_time": 1e400, "vram_usage_gb": -1e999, "width": 1e400, "height": 512, "image_url": "/x.png"}"#;
            sock.write_all(&json_200(body)).await
        }
        Hostile::OddFigureStrings => {
            let body = br#"{"status": "success", "generation_time": "NaN", "vram_usage_gb": "-0GB", "width": "inf", "height": "-0", "image_url": "/x.png"}"#;
            sock.write_all(&json_200(body)).await
        }
        Hostile::RedirectLoop => {
            sock.write_all(&response("302 Found", &[("Location", path)], b""))
                .await
        }
        Hostile::ProxyHtml(status) => {
            let reason = if status == 504 {
                "Gateway Time-out"
            } else {
                "Bad Gateway"
            };
            let body = format!(
                "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n{}</body>\r\n</html>\r\n",
                "<!-- padding -->\r\n".repeat(100)
            );
            sock.write_all(&response(
                &format!("{status} {reason}"),
                &[("Content-Type", "text/html".to_string())],
                body.as_bytes(),
            ))
            .await
        }
        Hostile::RetryAfter { status, value } => {
            let (reason, detail) = if status == 429 {
                ("Too Many Requests", "rate limited")
            } else {
                ("Service Unavailable", "overloaded")
            };
            let body = format!("{{\"detail\": \"{detail}\"}}");
            sock.write_all(&response(
                &format!("{status} {reason}"),
                &[
                    ("Content-Type", "application/json".to_string()),
                    ("Retry-After", value),
                ],
                body.as_bytes(),
            ))
            .await
        }
        Hostile::CloseMidAnswer => {
            sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"status\": \"success\", \"generation_time\": \"1.")
                .await?;
            sock.shutdown().await
        }
        Hostile::PlainSuccess => sock.write_all(&json_200(SUCCESS_BODY.as_bytes())).await,
        Hostile::EchoRequest => {
            let body = serde_json::json!({ "detail": seen.lock().unwrap().last().cloned() });
            sock.write_all(&response(
                "500 Internal Server Error",
                &[("Content-Type", "application/json".to_string())],
                body.to_string().as_bytes(),
            ))
            .await
        }
        // Answered above, before the request was read.
        Hostile::PlainToTls => Ok(()),
    }
}
