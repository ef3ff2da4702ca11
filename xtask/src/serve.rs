//! A small static file server for `dist/` on 127.0.0.1: the right content types (wasm must be
//! `application/wasm` to stream-compile), the page's Content-Security-Policy as a header, no
//! directory listings, nothing outside `dist/`. Good enough for a demo and for tests; any
//! static host serves `dist/` the same way.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};

/// The page's Content-Security-Policy (also a `<meta>` in index.html for hosts that cannot
/// set headers): no `unsafe-eval`, only `wasm-unsafe-eval` to compile the wasm.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; \
connect-src 'self'; img-src 'self' data: blob:; style-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'";

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

/// The file a request path names inside `root`, refusing anything that leaves it.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let rel = Path::new(path.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let mut p = root.join(rel);
    if p.is_dir() {
        p = p.join("index.html");
    }
    p.is_file().then_some(p)
}

fn respond(mut stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut line = String::new();
    let mut reader = BufReader::new(stream.try_clone()?);
    reader.read_line(&mut line)?;
    // The headers: only If-None-Match matters (revalidation against the ETag).
    let mut h = String::new();
    let mut if_none_match = None;
    while reader.read_line(&mut h)? > 2 {
        if let Some((name, value)) = h.split_once(':')
            && name.trim().eq_ignore_ascii_case("if-none-match")
        {
            if_none_match = Some(value.trim().to_string());
        }
        h.clear();
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let (mut status, mut body, ctype) = match (method, resolve(root, target)) {
        ("GET" | "HEAD", Some(p)) => ("200 OK", std::fs::read(&p)?, content_type(&p)),
        ("GET" | "HEAD", None) => ("404 Not Found", b"not found\n".to_vec(), "text/plain"),
        _ => (
            "405 Method Not Allowed",
            b"GET only\n".to_vec(),
            "text/plain",
        ),
    };
    // `no-cache` with an ETag, as static hosts do: browsers revalidate every file and get
    // a body-less 304 when it has not changed (the service worker's install, after a first
    // visit, then costs no second download).
    let etag = etag(&body);
    let mut cache = format!("Cache-Control: no-cache\r\nETag: {etag}\r\n");
    if status == "200 OK" && if_none_match.as_deref() == Some(etag.as_str()) {
        status = "304 Not Modified";
        body.clear();
    } else if status != "200 OK" {
        cache = "Cache-Control: no-store\r\n".to_string();
    }
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Content-Security-Policy: {CSP}\r\nX-Content-Type-Options: nosniff\r\n\
         {cache}Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if method != "HEAD" {
        stream.write_all(&body)?;
    }
    stream.flush()
}

/// A strong validator of a file's bytes.
fn etag(body: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:016x}-{:x}\"", h.finish(), body.len())
}

/// Binds `127.0.0.1:port` (0 picks a free port) and serves `root` from background threads.
pub fn start(root: PathBuf, port: u16) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let _ = respond(stream, &root);
            });
        }
    });
    Ok(addr)
}
