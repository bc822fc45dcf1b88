//! Raw TCP for tests where a misbehaving client is the point: connections that stay silent,
//! stall in their headers or body, or read one response at a time.

use super::{Server, EVENTUALLY};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub fn addr(s: &Server) -> String {
    s.url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_string()
}

pub async fn connect(s: &Server) -> TcpStream {
    TcpStream::connect(addr(s)).await.unwrap()
}

/// Reads until the server closes the connection; `true` if it did within `within` (EOF or
/// reset), `false` if it was still open. Whatever it sent before closing is ignored.
pub async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Sends a GET on a kept-alive connection and reads one response; returns its status line.
pub async fn get_on(stream: &mut TcpStream, path: &str) -> String {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: aqsha\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    // /healthz answers "ok" with a content-length: read up to the end of that small body.
    while !(got.ends_with(b"\r\n\r\nok") || got.ends_with(b"}")) {
        let n = tokio::time::timeout(EVENTUALLY, stream.read(&mut buf))
            .await
            .expect("no response")
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// Opens a transfer whose body never finishes: the request is in flight, reading its body.
pub async fn stalled_transfer(s: &Server) -> TcpStream {
    let mut c = connect(s).await;
    c.write_all(
        b"POST /payments/cards/auth HTTP/1.1\r\nHost: aqsha\r\nContent-Type: application/json\r\n\
          Authorization: Bearer x\r\nContent-Length: 1000\r\n\r\n{\"order\":",
    )
    .await
    .unwrap();
    c
}
