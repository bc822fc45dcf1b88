//! The bench's lean HTTP/1.1 client: one keep-alive connection per simulated client.

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::Arc;

/// Where the bench sends its requests: the socket address and the `Host` header.
pub(crate) struct Target {
    pub(crate) addr: String,
    pub(crate) host: HeaderValue,
}

impl Target {
    pub(crate) fn parse(url: &str) -> anyhow::Result<Target> {
        let url = reqwest::Url::parse(url).with_context(|| format!("bad --url {url:?}"))?;
        if url.scheme() != "http" {
            bail!(
                "the bench speaks plain http:// (the load generator stays on the server's network)"
            );
        }
        let host = url.host_str().context("--url has no host")?;
        let port = url.port_or_known_default().unwrap_or(80);
        let addr = format!("{host}:{port}");
        Ok(Target {
            host: HeaderValue::from_str(&addr)?,
            addr,
        })
    }
}

/// One bench client's keep-alive HTTP/1.1 connection. The load generator shares the machine
/// with the server, so it talks through hyper's connection API directly: no pool, no URL
/// parsing or redirect policy per request. A failed exchange drops the connection, and the
/// next request opens a new one.
pub(crate) struct Conn {
    pub(crate) target: Arc<Target>,
    pub(crate) send: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub(crate) fn new(target: Arc<Target>) -> Conn {
        Conn { target, send: None }
    }

    pub(crate) async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = tokio::net::TcpStream::connect(&self.target.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", self.target.addr))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        Ok(send)
    }

    /// Sends one request and reads the whole answer.
    pub(crate) async fn exchange(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, &str)],
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), String> {
        let mut send = match self.send.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.target.host.clone());
        for (name, value) in headers {
            req = req.header(name, *value);
        }
        let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
        send.ready().await.map_err(|e| e.to_string())?;
        let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        self.send = Some(send);
        Ok((status, body))
    }
}
