//! A tiny HTTP/1.1 file server on 127.0.0.1 for the Hub tests: serves files
//! the test wrote, honours `Range: bytes=a-b`, logs every request, and can
//! gate files behind a token, redirect safetensors downloads, ignore ranges,
//! stay silent, or drip its answers. Each connection has its own thread, and
//! the most connections open at once is recorded.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What a path serves.
#[derive(Clone)]
pub enum Source {
    Bytes(Vec<u8>),
    /// A file on disk (possibly sparse), read only where asked.
    Path(PathBuf),
}

impl Source {
    fn len(&self) -> u64 {
        match self {
            Source::Bytes(b) => b.len() as u64,
            Source::Path(p) => std::fs::metadata(p).unwrap().len(),
        }
    }
    fn read(&self, start: u64, len: u64) -> Vec<u8> {
        match self {
            Source::Bytes(b) => b[start as usize..(start + len) as usize].to_vec(),
            Source::Path(p) => {
                let mut f = File::open(p).unwrap();
                f.seek(SeekFrom::Start(start)).unwrap();
                let mut buf = Vec::new();
                f.take(len).read_to_end(&mut buf).unwrap();
                buf
            }
        }
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Logged {
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

#[derive(Clone, Default)]
pub struct Options {
    /// Answer 401 unless `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Redirect `*.safetensors` to `/cdn/…` (as the Hub does for LFS files).
    pub redirect_safetensors: bool,
    /// Answer 200 with the whole file to range requests.
    pub ignore_ranges: bool,
    /// Read the request, then say nothing for this long before closing.
    pub silent: Option<Duration>,
    /// Send every answer one byte at a time, with this pause between bytes.
    pub drip: Option<Duration>,
}

pub struct Server {
    pub endpoint: String,
    log: Arc<Mutex<Vec<Logged>>>,
    open: Arc<(AtomicUsize, AtomicUsize)>,
}

impl Server {
    /// Serve `files` (keys like `org/name/resolve/main/config.json`) until the
    /// test process ends; only loopback connections are possible.
    pub fn start(files: HashMap<String, Source>, options: Options) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let open = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
        let (log2, endpoint2, open2) = (log.clone(), endpoint.clone(), open.clone());
        let (files, options) = (Arc::new(files), Arc::new(options));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (files, options) = (files.clone(), options.clone());
                let (log, endpoint, open) = (log2.clone(), endpoint2.clone(), open2.clone());
                thread::spawn(move || {
                    let _ = handle(stream, &files, &options, &log, &endpoint, &open);
                });
            }
        });
        Server {
            endpoint,
            log,
            open,
        }
    }

    /// The most requests in service at the same time, each counted from its
    /// receipt for [`HOLD`] and released before its answer is written: a client
    /// cannot send its next request on the same slot before reading that answer,
    /// so the count never sees a finishing request beside its successor.
    pub fn most_open(&self) -> usize {
        self.open.1.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.log.lock().unwrap().clear();
    }
}

/// How long a received request is held in [`Server::most_open`]'s count.
const HOLD: Duration = Duration::from_millis(5);

fn handle(
    stream: TcpStream,
    files: &HashMap<String, Source>,
    options: &Options,
    log: &Mutex<Vec<Logged>>,
    endpoint: &str,
    open: &(AtomicUsize, AtomicUsize),
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (mut range, mut authorization) = (None, None);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.to_ascii_lowercase().as_str() {
                "range" => range = Some(v.trim().to_string()),
                "authorization" => authorization = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    log.lock().unwrap().push(Logged {
        path: path.clone(),
        range: range.clone(),
        authorization: authorization.clone(),
    });
    let now = open.0.fetch_add(1, Ordering::SeqCst) + 1;
    open.1.fetch_max(now, Ordering::SeqCst);
    thread::sleep(HOLD);
    open.0.fetch_sub(1, Ordering::SeqCst);
    if let Some(wait) = options.silent {
        thread::sleep(wait);
        return Ok(());
    }
    let mut stream = Drip {
        stream,
        pause: options.drip,
    };
    let (key, via_cdn) = match path.strip_prefix("/cdn/") {
        Some(k) => (k.to_string(), true),
        None => (path.trim_start_matches('/').to_string(), false),
    };
    if !via_cdn {
        if let Some(token) = &options.token {
            if authorization.as_deref() != Some(&format!("Bearer {token}")) {
                return respond(&mut stream, "401 Unauthorized", &[], b"");
            }
        }
        if options.redirect_safetensors && key.ends_with(".safetensors") && files.contains_key(&key)
        {
            let location = format!("Location: {endpoint}/cdn/{key}");
            return respond(&mut stream, "302 Found", &[location], b"");
        }
    }
    let Some(source) = files.get(&key) else {
        return respond(&mut stream, "404 Not Found", &[], b"");
    };
    let len = source.len();
    let asked = range
        .as_deref()
        .filter(|_| !options.ignore_ranges)
        .and_then(|r| {
            let (a, b) = r.strip_prefix("bytes=")?.split_once('-')?;
            Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?))
        });
    match asked {
        Some((a, _)) if a >= len => respond(
            &mut stream,
            "416 Range Not Satisfiable",
            &[format!("Content-Range: bytes */{len}")],
            b"",
        ),
        Some((a, b)) => {
            let b = b.min(len - 1);
            let body = source.read(a, b - a + 1);
            respond(
                &mut stream,
                "206 Partial Content",
                &[format!("Content-Range: bytes {a}-{b}/{len}")],
                &body,
            )
        }
        None => {
            // stream the whole file; a client that stops reading just closes
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
            )?;
            let mut at = 0;
            while at < len {
                let n = (len - at).min(1 << 16);
                stream.write_all(&source.read(at, n))?;
                at += n;
            }
            Ok(())
        }
    }
}

/// A stream that may write one byte at a time, slowly.
struct Drip {
    stream: TcpStream,
    pause: Option<Duration>,
}

impl Write for Drip {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match (self.pause, buf.first()) {
            (Some(pause), Some(b)) => {
                thread::sleep(pause);
                self.stream.write(std::slice::from_ref(b))
            }
            _ => self.stream.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

fn respond(
    stream: &mut impl Write,
    status: &str,
    headers: &[String],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)
}
