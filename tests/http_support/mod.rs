//! Real servers on loopback for the HTTP probe tests: a std TcpListener answering with a
//! handler, one that accepts and never answers, a unix-socket server and `openssl s_server`.
//! Each stops (threads joined, processes killed) when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Reads a request head (up to the blank line) with a read timeout.
fn read_head(stream: &mut impl Read) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A request's head and its body (Content-Length bytes of it, whatever came with the head
/// included), bounded like the head.
fn read_request(stream: &mut impl Read) -> (String, String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 1024];
    let end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf) {
            Ok(n) if n > 0 && data.len() < 64 * 1024 => data.extend_from_slice(&buf[..n]),
            _ => return (String::from_utf8_lossy(&data).into_owned(), String::new()),
        }
    };
    let head = String::from_utf8_lossy(&data[..end]).into_owned();
    let want = header(&head, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(1024 * 1024);
    while data.len() - end < want {
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => data.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    let body = String::from_utf8_lossy(&data[end..]).into_owned();
    (head, body)
}

/// The value of a header in a request head, case-insensitive.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A response with the given status line and extra headers, and a short body.
pub fn response(status_line: &str, headers: &[(&str, &str)]) -> String {
    let mut out = format!("HTTP/1.1 {status_line}\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("Content-Length: 2\r\nConnection: close\r\n\r\nok");
    out
}

type Handler = Box<dyn Fn(&str) -> String + Send + 'static>;

/// A thread taking connections from `accept` until dropped: then the stop flag is set and
/// `wake` makes one connection, so the blocked accept() returns and the thread sees the flag.
struct Serving {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    wake: Box<dyn Fn() + Send>,
}

impl Serving {
    fn start<C>(
        mut accept: impl FnMut() -> std::io::Result<C> + Send + 'static,
        wake: impl Fn() + Send + 'static,
        mut each: impl FnMut(C) + Send + 'static,
    ) -> Serving {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || loop {
            let conn = accept();
            if s.load(Ordering::SeqCst) {
                break;
            }
            if let Ok(conn) = conn {
                each(conn);
            }
        });
        Serving {
            stop,
            thread: Some(thread),
            wake: Box::new(wake),
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        (self.wake)();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Wakes a TCP server's accept() with one connection.
fn wake_tcp(addr: SocketAddr) -> impl Fn() + Send {
    move || {
        let _ = TcpStream::connect(addr);
    }
}

pub struct HttpServer {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<String>>>,
    /// The body of each request (by its Content-Length), in the order of `requests`.
    pub bodies: Arc<Mutex<Vec<String>>>,
    _serving: Serving,
}

impl HttpServer {
    /// Answers every request with `handler(request_head)`, one connection at a time.
    pub fn start(handler: impl Fn(&str) -> String + Send + 'static) -> Self {
        let handler: Handler = Box::new(handler);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let (r, b) = (requests.clone(), bodies.clone());
        let serving = Serving::start(
            move || listener.accept().map(|(s, _)| s),
            wake_tcp(addr),
            move |mut stream: TcpStream| {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let (head, body) = read_request(&mut stream);
                let answer = handler(&head);
                r.lock().unwrap().push(head);
                b.lock().unwrap().push(body);
                let _ = stream.write_all(answer.as_bytes());
            },
        );
        HttpServer {
            addr,
            requests,
            bodies,
            _serving: serving,
        }
    }

    /// Always answers with the same status line and headers.
    pub fn fixed(status_line: &str, headers: &[(&str, &str)]) -> Self {
        let answer = response(status_line, headers);
        Self::start(move |_| answer.clone())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Accepts connections and never answers, like a backend stuck at a prompt.
pub struct SilentServer {
    pub addr: SocketAddr,
    _serving: Serving,
}

impl SilentServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut held = Vec::new();
        let serving = Serving::start(
            move || listener.accept().map(|(s, _)| s),
            wake_tcp(addr),
            move |stream| held.push(stream),
        );
        SilentServer {
            addr,
            _serving: serving,
        }
    }
}

/// A unix socket that listens with a backlog of 0 and whose accept queue is filled by
/// connections nobody accepts: the next connect fails with EAGAIN until it is dropped.
pub struct FullUnixSocket {
    pub path: PathBuf,
    _listener: rustix::fd::OwnedFd,
    _fillers: Vec<rustix::fd::OwnedFd>,
}

impl FullUnixSocket {
    pub fn new(dir: &Path) -> FullUnixSocket {
        use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
        let path = dir.join("full.sock");
        let addr = SocketAddrUnix::new(&path).unwrap();
        let fd = rustix::net::socket(AddressFamily::UNIX, SocketType::STREAM, None).unwrap();
        rustix::net::bind(&fd, &addr).unwrap();
        rustix::net::listen(&fd, 0).unwrap();
        let mut fillers = Vec::new();
        // Bounded: the queue of a backlog-0 listener fills after one or two connections.
        for _ in 0..8 {
            let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
            let s = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, flags, None)
                .unwrap();
            if rustix::net::connect(&s, &addr).is_err() {
                break;
            }
            fillers.push(s);
        }
        FullUnixSocket {
            path,
            _listener: fd,
            _fillers: fillers,
        }
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// A unix-socket server answering every request with the same response.
pub struct UnixServer {
    pub path: PathBuf,
    _serving: Serving,
}

impl UnixServer {
    pub fn start(dir: &Path, answer: String) -> Self {
        let path = dir.join("app.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let wake = path.clone();
        let serving = Serving::start(
            move || listener.accept().map(|(s, _)| s),
            move || {
                let _ = UnixStream::connect(&wake);
            },
            move |mut stream: UnixStream| {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                read_head(&mut stream);
                let _ = stream.write_all(answer.as_bytes());
            },
        );
        UnixServer {
            path,
            _serving: serving,
        }
    }
}

/// `openssl s_server -www` with a self-signed certificate for `fixer.test`, which refuses a
/// handshake naming any other server (so a passing probe proves the SNI it sent).
pub struct TlsServer {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl TlsServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        fixer::lab::make_cert(
            std::path::Path::new("openssl"),
            dir.path(),
            "fixer.test",
            "DNS:fixer.test",
        )
        .expect("openssl makes the test certificate");
        let port = closed_port().port();
        let mut child = Command::new("openssl")
            .args(["s_server", "-accept", &format!("127.0.0.1:{port}"), "-www"])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .arg("-cert2")
            .arg(&cert)
            .arg("-key2")
            .arg(&key)
            .args(["-servername", "fixer.test", "-servername_fatal"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl must be installed");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("ACCEPT") {
                    let _ = tx.send(());
                }
            }
        });
        let server = TlsServer {
            port,
            child,
            _dir: dir,
        };
        rx.recv_timeout(Duration::from_secs(10))
            .expect("s_server did not start listening");
        server
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
