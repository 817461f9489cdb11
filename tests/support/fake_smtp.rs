//! Fake SMTP server for tests: binds an ephemeral port on a loopback address,
//! plays one scripted [`Behaviour`] to every connection, and records what the
//! client did (connected, spoke before the greeting was complete, said QUIT).
//!
//! Every connection is served on its own thread, all of them polling a stop
//! flag, so [`FakeSmtp::finish`] and `Drop` (also while a failing test
//! unwinds) stop the threads and close the listener within tens of ms.
//!
//! "Spoke early" is detected by peeking for client bytes before every write
//! of the greeting and while pausing or holding; greeting scripts first pause
//! [`SETTLE`] so even an instant greeting gives an eager client time to show.
//! Resets use SO_LINGER 0 through the `socket2` dev-dependency: std's
//! `TcpStream::set_linger` is unstable, and the other trick (closing with
//! unread data pending) needs the client to talk first, which a well-behaved
//! probe never does.

// The lints that fixtures may break are allowed for the whole `support` module (mod.rs).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Granularity at which server threads notice the stop flag.
const POLL: Duration = Duration::from_millis(10);

/// Pause before any greeting, so a client that talks first gets caught.
pub const SETTLE: Duration = Duration::from_millis(50);

/// Greeting of [`Behaviour::Normal`].
pub const NORMAL_GREETING: &str = "220 fake.test ESMTP ready";

/// Lines of [`Behaviour::MultiLine`]; a pause separates the first from the rest.
pub const MULTI_LINE_GREETING: [&str; 3] = [
    "220-fake.test ESMTP postscreen-style",
    "220-still here",
    "220 fake.test ready",
];

/// What the fake server does with each connection.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// `220` greeting at once (after [`SETTLE`]), then serves QUIT.
    Normal,
    /// `220-` first line, `pause`, then the remaining lines (like postscreen).
    MultiLine { pause: Duration },
    /// Waits `delay`, then a `220` greeting.
    SlowGreeting { delay: Duration },
    /// Accepts and says nothing until the client leaves.
    Silence,
    /// Accepts and closes (FIN) without a greeting.
    CloseBeforeGreeting,
    /// Accepts and resets (RST, via SO_LINGER 0) without a greeting.
    Reset,
    /// `421` greeting, then closes, as a busy server does.
    Reply421,
    /// `554` greeting, then waits for QUIT (RFC 5321 §3.1).
    Reply554,
    /// `220` followed by asterisks only (Cisco PIX/ASA SMTP fixup).
    Masked,
    /// Binary bytes without a newline, then silence.
    BinaryGarbage,
    /// The start of a TLS ServerHello record, then silence.
    TlsHandshakeBytes,
    /// An endless `220-` continuation, one byte per `interval` (brief: 1 s).
    Trickle { interval: Duration },
    /// `220 ` and 1 MiB of `A` without a newline, then silence.
    HugeNoNewline,
    /// `220` greeting containing ANSI escapes, BEL and an OSC title sequence.
    EscapeSequences,
    /// `220-` line followed by a final `554` line in the same reply.
    MixedCodes,
}

/// What the server saw, collected after all its threads stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Connections accepted.
    pub connections: usize,
    /// Some client sent bytes before its greeting was complete.
    pub spoke_early: bool,
    /// Some client sent a `QUIT` line after the greeting.
    pub quit_received: bool,
    /// Every byte received from clients.
    pub received: Vec<u8>,
}

/// State shared by the accept thread and the connection threads.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    connections: AtomicUsize,
    spoke_early: AtomicBool,
    quit: AtomicBool,
    received: Mutex<Vec<u8>>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A running fake server; stops on [`FakeSmtp::finish`] or drop.
pub struct FakeSmtp {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl FakeSmtp {
    /// Binds `bind_ip` (a loopback address) on an ephemeral port and serves
    /// `script`. Panics if the address cannot be bound.
    pub fn start(bind_ip: IpAddr, script: Behaviour) -> FakeSmtp {
        Self::try_start(bind_ip, script)
            .unwrap_or_else(|err| panic!("fake SMTP cannot bind {bind_ip}: {err}"))
    }

    /// Like [`FakeSmtp::start`], returning the bind error instead.
    pub fn try_start(bind_ip: IpAddr, script: Behaviour) -> io::Result<FakeSmtp> {
        assert!(
            bind_ip.is_loopback(),
            "fake SMTP binds loopback only, not {bind_ip}"
        );
        let listener = TcpListener::bind(SocketAddr::new(bind_ip, 0))?;
        // Non-blocking accept lets the thread notice the stop flag.
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let for_thread = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name(format!("fake-smtp {addr}"))
            .spawn(move || accept_loop(listener, script, for_thread))?;
        Ok(FakeSmtp {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server, waits for all its threads, and returns what it saw.
    pub fn finish(mut self) -> Record {
        self.stop();
        let shared = &self.shared;
        Record {
            connections: shared.connections.load(Ordering::SeqCst),
            spoke_early: shared.spoke_early.load(Ordering::SeqCst),
            quit_received: shared.quit.load(Ordering::SeqCst),
            received: shared
                .received
                .lock()
                .map(|r| r.clone())
                .unwrap_or_default(),
        }
    }

    /// Sets the stop flag and joins the accept thread (which joins the rest).
    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            // A panicked server thread must not turn into a double panic here.
            let _ = thread.join();
        }
    }
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Accepts connections until stopped, then closes the listener and joins.
fn accept_loop(listener: TcpListener, script: Behaviour, shared: Arc<Shared>) {
    let mut conns = Vec::new();
    while !shared.stopped() {
        match listener.accept() {
            Ok((stream, _)) => {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let (script, shared) = (script.clone(), Arc::clone(&shared));
                conns.push(thread::spawn(move || serve(stream, &script, &shared)));
            }
            Err(_) => thread::sleep(POLL),
        }
    }
    drop(listener);
    for conn in conns {
        let _ = conn.join();
    }
}

/// One step of a connection script.
enum Step {
    Send(Vec<u8>),
    Pause(Duration),
    /// The greeting is complete from here on: client bytes are no longer early.
    Greeted,
    AwaitQuit,
    Hold,
    Close,
    Reset,
    /// Sends the bytes forever, cyclically, one per interval.
    Trickle(Vec<u8>, Duration),
}

/// The steps that make up a behaviour.
fn plan(script: &Behaviour) -> Vec<Step> {
    use Step::*;
    let text = |s: &str| Send(format!("{s}\r\n").into_bytes());
    let greet = |s: &str| vec![Pause(SETTLE), text(s), Greeted, AwaitQuit];
    match script {
        Behaviour::Normal => greet(NORMAL_GREETING),
        Behaviour::MultiLine { pause } => {
            let [first, second, last] = MULTI_LINE_GREETING;
            let rest = format!("{second}\r\n{last}\r\n").into_bytes();
            vec![
                Pause(SETTLE),
                text(first),
                Pause(*pause),
                Send(rest),
                Greeted,
                AwaitQuit,
            ]
        }
        Behaviour::SlowGreeting { delay } => {
            vec![
                Pause(*delay),
                text("220 slow.test ESMTP"),
                Greeted,
                AwaitQuit,
            ]
        }
        Behaviour::Silence => vec![Hold],
        Behaviour::CloseBeforeGreeting => vec![Pause(SETTLE), Close],
        Behaviour::Reset => vec![Pause(SETTLE), Reset],
        Behaviour::Reply421 => {
            vec![
                Pause(SETTLE),
                text("421 4.3.2 fake.test busy, try later"),
                Greeted,
                Close,
            ]
        }
        Behaviour::Reply554 => greet("554 5.7.1 fake.test no SMTP service here"),
        Behaviour::Masked => greet("220 *********************************************"),
        Behaviour::BinaryGarbage => {
            vec![
                Pause(SETTLE),
                Send(b"\x00\x9c\xff\xfe\x01garbage\x7f\x80".to_vec()),
                Hold,
            ]
        }
        Behaviour::TlsHandshakeBytes => {
            let hello = [
                0x16, 0x03, 0x01, 0x00, 0x2a, 0x02, 0x00, 0x00, 0x26, 0x03, 0x03,
            ];
            vec![Pause(SETTLE), Send(hello.to_vec()), Hold]
        }
        Behaviour::Trickle { interval } => {
            vec![Trickle(
                b"220-trickle.test one byte at a time\r\n".to_vec(),
                *interval,
            )]
        }
        Behaviour::HugeNoNewline => {
            let mut huge = b"220 ".to_vec();
            huge.resize(4 + (1 << 20), b'A');
            vec![Pause(SETTLE), Send(huge), Hold]
        }
        Behaviour::EscapeSequences => {
            greet("220 fake.test \x1b[31mRED\x1b[0m \x07bell \x1b]0;pwned\x07 ready")
        }
        Behaviour::MixedCodes => {
            let reply = b"220-fake.test hello\r\n554 5.3.2 changed my mind\r\n".to_vec();
            vec![Pause(SETTLE), Send(reply), Greeted, AwaitQuit]
        }
    }
}

/// Plays the script on one connection.
fn serve(stream: TcpStream, script: &Behaviour, shared: &Shared) {
    // Accepted sockets must block (with timeouts), whatever the listener does.
    let _ = stream.set_nonblocking(false);
    let mut conn = Conn {
        stream,
        shared,
        greeted: false,
    };
    for step in plan(script) {
        if !conn.run(step) {
            return;
        }
    }
}

/// One served connection.
struct Conn<'a> {
    stream: TcpStream,
    shared: &'a Shared,
    greeted: bool,
}

impl Conn<'_> {
    /// Runs one step; false ends the connection.
    fn run(&mut self, step: Step) -> bool {
        match step {
            Step::Send(bytes) => self.alive() && self.send(&bytes),
            Step::Pause(pause) => self.pause(pause),
            Step::Greeted => {
                self.greeted = true;
                true
            }
            Step::AwaitQuit => self.await_quit(),
            Step::Hold => self.hold(),
            Step::Close => {
                self.alive();
                false
            }
            Step::Reset => {
                self.alive();
                socket2::SockRef::from(&self.stream)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                false
            }
            Step::Trickle(bytes, interval) => self.trickle(&bytes, interval),
        }
    }

    /// Peeks for client bytes without consuming them; marks them early if the
    /// greeting is incomplete. False when the client has gone.
    fn alive(&mut self) -> bool {
        let _ = self.stream.set_nonblocking(true);
        let peeked = self.stream.peek(&mut [0u8; 1]);
        let _ = self.stream.set_nonblocking(false);
        match peeked {
            Ok(0) => false,
            Ok(_) => {
                self.note_early();
                true
            }
            Err(err) => err.kind() == ErrorKind::WouldBlock,
        }
    }

    fn note_early(&self) {
        if !self.greeted {
            self.shared.spoke_early.store(true, Ordering::SeqCst);
        }
    }

    /// Writes all bytes, giving up when stopped or when the client has gone.
    fn send(&mut self, mut bytes: &[u8]) -> bool {
        let _ = self.stream.set_write_timeout(Some(POLL));
        while !bytes.is_empty() {
            if self.shared.stopped() {
                return false;
            }
            match self.stream.write(bytes) {
                Ok(0) => return false,
                Ok(n) => bytes = &bytes[n..],
                Err(err) if is_retry(&err) => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// Sleeps, watching for early client bytes, the client leaving, or stop.
    fn pause(&mut self, pause: Duration) -> bool {
        let until = Instant::now() + pause;
        while Instant::now() < until {
            if !self.alive() || self.shared.stopped() {
                return false;
            }
            thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
        }
        true
    }

    /// Reads one poll's worth of client bytes into the record.
    /// `Some(bytes)` (possibly empty) while the client is there, `None` after.
    fn read_some(&mut self) -> Option<Vec<u8>> {
        let _ = self.stream.set_read_timeout(Some(POLL));
        let mut buf = [0u8; 4096];
        match self.stream.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                self.note_early();
                self.shared
                    .received
                    .lock()
                    .unwrap()
                    .extend_from_slice(&buf[..n]);
                Some(buf[..n].to_vec())
            }
            Err(err) if is_retry(&err) => Some(Vec::new()),
            Err(_) => None,
        }
    }

    /// Keeps the connection open, saying nothing, until the client leaves or
    /// the server stops. Reads before checking stop, so bytes already sent by
    /// a client that has returned are still recorded.
    fn hold(&mut self) -> bool {
        while self.read_some().is_some() {
            if self.shared.stopped() {
                break;
            }
        }
        false
    }

    /// Answers commands after the greeting: 221 to QUIT, 502 to anything else.
    fn await_quit(&mut self) -> bool {
        let mut pending = Vec::new();
        while let Some(bytes) = self.read_some() {
            pending.extend_from_slice(&bytes);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                if line.trim_ascii().eq_ignore_ascii_case(b"QUIT") {
                    self.shared.quit.store(true, Ordering::SeqCst);
                    self.send(b"221 2.0.0 fake.test bye\r\n");
                    return false;
                }
                self.send(b"502 5.5.2 not implemented\r\n");
            }
            if self.shared.stopped() {
                break;
            }
        }
        false
    }

    /// Sends `bytes` cyclically, one byte per `interval`, until stopped or
    /// the client leaves.
    fn trickle(&mut self, bytes: &[u8], interval: Duration) -> bool {
        for byte in bytes.iter().cycle() {
            if !self.alive() || !self.send(&[*byte]) || !self.pause(interval) {
                break;
            }
        }
        false
    }
}

fn is_retry(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}
