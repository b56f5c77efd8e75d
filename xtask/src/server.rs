//! A small static file server for `dist/` (std only): GET and HEAD, correct MIME types for
//! `.wasm` and friends, no directory listing, no path traversal.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::thread;

/// Serves the files under one directory on a loopback port.
pub struct StaticServer {
    listener: TcpListener,
    root: PathBuf,
}

impl StaticServer {
    /// Binds `127.0.0.1:port` (port 0 picks a free one).
    pub fn bind(root: PathBuf, port: u16) -> Result<StaticServer, String> {
        if !root.join("index.html").is_file() {
            return Err(format!("{} has no index.html; build the app first", root.display()));
        }
        let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|error| {
            format!("cannot listen on 127.0.0.1:{port}: {error} (is the port in use? pass --port N)")
        })?;
        Ok(StaticServer { listener, root })
    }

    /// The base URL, e.g. `http://127.0.0.1:8080/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.listener.local_addr().expect("bound socket"))
    }

    /// Serves until the process ends, one thread per connection.
    pub fn serve_forever(self) {
        for stream in self.listener.incoming().flatten() {
            let root = self.root.clone();
            thread::spawn(move || {
                let _ = handle(stream, &root);
            });
        }
    }

    /// Serves on a background thread for the rest of the process; returns the base URL.
    pub fn spawn(self) -> String {
        let url = self.url();
        thread::spawn(move || self.serve_forever());
        url
    }
}

fn handle(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain the headers; nothing in them changes the answer.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let mut stream = stream;
    if method != "GET" && method != "HEAD" {
        return respond(&mut stream, "405 Method Not Allowed", "text/plain", b"method not allowed\n", true);
    }
    let Some(path) = resolve(root, target) else {
        return respond(&mut stream, "404 Not Found", "text/plain", b"not found\n", true);
    };
    match std::fs::read(&path) {
        Ok(body) => respond(&mut stream, "200 OK", content_type(&path), &body, method == "GET"),
        Err(_) => respond(&mut stream, "404 Not Found", "text/plain", b"not found\n", true),
    }
}

/// Maps a request target to a file under `root`, refusing anything that could escape it.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let decoded = percent_decode(path)?;
    let relative = Path::new(decoded.trim_start_matches('/'));
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = root.join(relative);
    let full = if full.is_dir() { full.join("index.html") } else { full };
    full.is_file().then_some(full)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "jsonl" => "application/x-ndjson",
        "csv" => "text/csv; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "md" | "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
    with_body: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_inside_the_root_only() {
        let root = std::env::temp_dir().join(format!("xtask-server-test-{}", std::process::id()));
        std::fs::create_dir_all(root.join("samples")).unwrap();
        std::fs::write(root.join("index.html"), "<html>").unwrap();
        std::fs::write(root.join("samples/a b.csv"), "x").unwrap();
        assert_eq!(resolve(&root, "/"), Some(root.join("index.html")));
        assert_eq!(resolve(&root, "/?x=1#s=1.abc"), Some(root.join("index.html")));
        assert_eq!(resolve(&root, "/samples/a%20b.csv"), Some(root.join("samples/a b.csv")));
        assert_eq!(resolve(&root, "/../etc/passwd"), None);
        assert_eq!(resolve(&root, "/samples/%2e%2e/%2e%2e/etc/passwd"), None);
        assert_eq!(resolve(&root, "/missing.js"), None);
        assert_eq!(content_type(Path::new("x_bg.wasm")), "application/wasm");
        std::fs::remove_dir_all(root).unwrap();
    }
}
