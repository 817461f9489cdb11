//! SMTP greeting ("banner") probe.
//!
//! This module owns one question: when a client connects to a listening SMTP
//! socket, does a proper `220` greeting come back, and how quickly? It
//! connects, reads the complete (possibly multi-line) greeting without ever
//! speaking first, says `QUIT`, and classifies what it saw as a [`Finding`].
//!
//! Reply text is kept as received (lossy UTF-8, line endings stripped) and is
//! never sanitised here: it may contain escape sequences, and escaping them is
//! the display code's job.
//!
//! Everything is std-only and blocking. [`probe_all`] runs one probe per
//! target on scoped threads, so N targets cost about one timeout, not N.
//!
//! A port number proves nothing about TLS: Postfix and Exim usually serve
//! implicit TLS (smtps) on 465, but Exchange's 465 is plain SMTP. A port that
//! expects implicit TLS normally stays silent (the TLS client speaks first),
//! so it shows up as [`Finding::Timeout`]; only a server that volunteers TLS
//! bytes is reported as [`Finding::NotSmtp`] with a TLS hint.
#![forbid(unsafe_code)]

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// Most lines accepted in one reply; a longer reply is not a greeting.
pub const MAX_LINES: usize = 64;

/// Most bytes accepted in one reply; the probe never buffers more than one
/// byte past this, however much the server sends.
pub const MAX_BYTES: usize = 8 * 1024;

/// Share of asterisks, in percent of the visible greeting text, from which a
/// `220` greeting counts as [`Finding::Masked`]. Not 100: some PIX versions
/// leave a few original characters standing (`220 ****2*0**0***`).
pub const MASKED_PERCENT: usize = 60;

/// How long the probe waits to send `QUIT` and to read its reply.
const QUIT_WAIT: Duration = Duration::from_secs(1);

/// Longest wait honoured, so that deadline arithmetic cannot overflow.
const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// What a probe concluded about one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Finding {
    /// A complete `220` greeting arrived.
    Ok,
    /// No complete greeting before the greeting deadline, or no TCP
    /// connection within the connect timeout (then `connect_ms` is `None`).
    Timeout,
    /// The server closed or reset the connection before a complete greeting.
    Closed,
    /// The connection was refused, or the address was unreachable.
    Refused,
    /// A complete greeting with a 4xx or 5xx code: the server refuses service.
    Rejected,
    /// A `220` greeting whose text is mostly asterisks: the signature of a
    /// Cisco PIX/ASA "SMTP fixup" inspecting traffic in front of the server.
    Masked,
    /// Bytes that are not an SMTP greeting: binary, TLS, a reply code other
    /// than 220/4xx/5xx, mixed codes, or a reply too long.
    NotSmtp,
}

impl Finding {
    /// Stable lower-case name, for machine-readable output.
    pub fn as_str(&self) -> &'static str {
        match self {
            Finding::Ok => "ok",
            Finding::Timeout => "timeout",
            Finding::Closed => "closed",
            Finding::Refused => "refused",
            Finding::Rejected => "rejected",
            Finding::Masked => "masked",
            Finding::NotSmtp => "not-smtp",
        }
    }

    /// True for every finding except [`Finding::Ok`].
    pub fn is_failure(&self) -> bool {
        !matches!(self, Finding::Ok)
    }

    /// True when no greeting came back at all (timeout, closed, refused).
    pub fn is_no_banner(&self) -> bool {
        matches!(self, Finding::Timeout | Finding::Closed | Finding::Refused)
    }

    /// True when something came back but it is not a usable greeting
    /// (rejected, masked, not SMTP).
    pub fn is_bad_banner(&self) -> bool {
        matches!(self, Finding::Rejected | Finding::Masked | Finding::NotSmtp)
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Time limits for one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSettings {
    /// Bound on establishing the TCP connection.
    pub connect_timeout: Duration,
    /// Bound on the whole greeting, measured from the moment of connection.
    pub greeting_timeout: Duration,
    /// A complete greeting slower than this sets [`BannerReport::slow`].
    pub slow_after: Duration,
}

impl Default for ProbeSettings {
    /// 3 s to connect, 10 s for the greeting, slow after 5 s.
    fn default() -> Self {
        ProbeSettings {
            connect_timeout: Duration::from_secs(3),
            greeting_timeout: Duration::from_secs(10),
            slow_after: Duration::from_secs(5),
        }
    }
}

/// Everything one probe learned about one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BannerReport {
    /// The address that was connected to.
    pub target: SocketAddr,
    /// The verdict.
    pub finding: Finding,
    /// Reply code, when a complete reply with a valid code was parsed.
    pub code: Option<u16>,
    /// Reply lines as received: lossy UTF-8, CR/LF stripped, NOT sanitised.
    /// For an incomplete reply this includes the unterminated last line.
    pub lines: Vec<String>,
    /// Time to establish the TCP connection.
    pub connect_ms: Option<u64>,
    /// Time from connection to the complete greeting.
    pub greeting_ms: Option<u64>,
    /// Human explanation when the finding is not [`Finding::Ok`].
    pub error: Option<String>,
    /// The complete greeting took longer than `slow_after` (a warning only).
    pub slow: bool,
}

impl BannerReport {
    /// An empty report, before anything is known.
    fn new(target: SocketAddr) -> Self {
        BannerReport {
            target,
            finding: Finding::Ok,
            code: None,
            lines: Vec::new(),
            connect_ms: None,
            greeting_ms: None,
            error: None,
            slow: false,
        }
    }

    /// Records a failed finding with its explanation.
    fn fail(&mut self, finding: Finding, error: String) {
        self.finding = finding;
        self.error = Some(error);
    }
}

/// What [`parse_reply`] made of the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Everything so far is a valid start of a reply; more bytes are needed.
    Incomplete,
    /// A complete reply: its code and its lines (lossy UTF-8, CR/LF stripped).
    /// Bytes after the final line are ignored.
    Complete {
        /// The reply code shared by all lines.
        code: u16,
        /// The lines up to and including the final one.
        lines: Vec<String>,
    },
    /// The bytes cannot be (the start of) an SMTP reply.
    NotSmtp {
        /// The bytes look like TLS: the port probably expects implicit TLS.
        tls: bool,
        /// Human explanation.
        reason: String,
    },
}

/// Maps a listening address to the address to probe: a wildcard listener is
/// reached through loopback of its own family; the port is kept.
pub fn probe_target(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_unspecified()) => {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
        _ => return listen,
    };
    SocketAddr::new(ip, listen.port())
}

/// The distinct addresses to probe for some listening addresses, in first-seen order
/// (`0.0.0.0:25` and `127.0.0.1:25` are probed once, at 127.0.0.1:25).
pub fn local_targets(listening: impl Iterator<Item = SocketAddr>) -> Vec<SocketAddr> {
    let mut targets: Vec<SocketAddr> = Vec::new();
    for target in listening.map(probe_target) {
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    targets
}

/// Probes one target: connect, read the complete greeting, `QUIT`, close.
///
/// Takes at most about `connect_timeout + greeting_timeout + 1 s`.
pub fn probe(target: SocketAddr, settings: &ProbeSettings) -> BannerReport {
    let mut report = BannerReport::new(target);
    let started = Instant::now();
    match TcpStream::connect_timeout(&target, settings.connect_timeout) {
        Ok(mut stream) => {
            let connected = Instant::now();
            report.connect_ms = Some(millis(connected.duration_since(started)));
            read_greeting(&mut stream, connected, settings, &mut report);
            // Best effort: the verdict is made, and drop closes the socket anyway.
            let _ = stream.shutdown(Shutdown::Both);
        }
        Err(err) => record_connect_error(&mut report, &err, settings.connect_timeout),
    }
    report
}

/// Probes all targets concurrently; reports come back in input order.
pub fn probe_all(targets: &[SocketAddr], settings: &ProbeSettings) -> Vec<BannerReport> {
    thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|&target| {
                let handle = thread::Builder::new()
                    .name(format!("banner-probe {target}"))
                    .spawn_scoped(scope, move || probe(target, settings));
                (target, handle)
            })
            .collect();
        handles
            .into_iter()
            .map(|(target, handle)| join_probe(target, handle, settings))
            .collect()
    })
}

/// Collects one probe thread's report.
fn join_probe(
    target: SocketAddr,
    handle: io::Result<thread::ScopedJoinHandle<'_, BannerReport>>,
    settings: &ProbeSettings,
) -> BannerReport {
    match handle {
        Ok(handle) => handle.join().unwrap_or_else(|_| {
            // probe() does not panic by design; if it ever does, keep the
            // other reports rather than taking the whole run down.
            let mut report = BannerReport::new(target);
            report.fail(
                Finding::Closed,
                "internal error: the probe thread panicked".into(),
            );
            report
        }),
        // Out of threads: still answer, just without the concurrency.
        Err(_) => probe(target, settings),
    }
}

/// Turns a failed connect into a finding.
fn record_connect_error(report: &mut BannerReport, err: &io::Error, limit: Duration) {
    match err.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            let text = format!("no TCP connection within {}", fmt_duration(limit));
            report.fail(Finding::Timeout, text);
        }
        // Accepted by the kernel, then reset by the server before connect() returned.
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
            report.fail(
                Finding::Closed,
                format!("connection reset by the server: {err}"),
            );
        }
        ErrorKind::ConnectionRefused => {
            report.fail(
                Finding::Refused,
                "connection refused (nothing listening)".into(),
            );
        }
        _ => report.fail(Finding::Refused, format!("could not connect: {err}")),
    }
}

/// Reads the greeting into `report`, then says `QUIT` if it was SMTP.
fn read_greeting(
    stream: &mut TcpStream,
    connected: Instant,
    settings: &ProbeSettings,
    report: &mut BannerReport,
) {
    let mut buf = Vec::new();
    let end = read_reply(
        stream,
        deadline(connected, settings.greeting_timeout),
        &mut buf,
    );
    report.lines = received_lines(&buf);
    match end {
        ReadEnd::Parsed(Reply::Complete { code, lines }) => {
            record_greeting(
                report,
                code,
                lines,
                connected.elapsed(),
                settings.slow_after,
            );
            say_quit(stream);
        }
        ReadEnd::Parsed(Reply::NotSmtp { reason, .. }) => report.fail(Finding::NotSmtp, reason),
        ReadEnd::Parsed(Reply::Incomplete) | ReadEnd::Deadline => {
            report.fail(
                Finding::Timeout,
                timeout_text(settings.greeting_timeout, &buf),
            );
        }
        ReadEnd::Eof => report.fail(Finding::Closed, "connection closed by the server".into()),
        ReadEnd::Failed(err) => report.fail(Finding::Closed, read_error_text(&err)),
    }
}

/// Records a complete greeting and its timing, and classifies it.
fn record_greeting(
    report: &mut BannerReport,
    code: u16,
    lines: Vec<String>,
    took: Duration,
    slow_after: Duration,
) {
    report.code = Some(code);
    report.lines = lines;
    report.greeting_ms = Some(millis(took));
    report.slow = took > slow_after;
    classify(report);
}

/// Sets the finding for a complete reply from its code and text.
fn classify(report: &mut BannerReport) {
    match report.code {
        Some(220) if is_masked(&report.lines) => report.fail(
            Finding::Masked,
            "greeting text is masked with asterisks: a Cisco PIX/ASA SMTP fixup \
             (inspection) probably sits in front of the server"
                .into(),
        ),
        Some(220) => report.finding = Finding::Ok,
        Some(code @ 400..=499) => report.fail(
            Finding::Rejected,
            format!("server greeted with {code}: it temporarily refuses service"),
        ),
        Some(code @ 500..=599) => {
            report.fail(
                Finding::Rejected,
                format!("server greeted with {code}: it refuses service"),
            );
        }
        code => {
            let code = code.map_or_else(|| "none".to_string(), |c| c.to_string());
            let text = format!("greeting has reply code {code}; an SMTP server greets with 220");
            report.fail(Finding::NotSmtp, text);
        }
    }
}

/// True when the text after the reply codes is mostly asterisks (see
/// [`MASKED_PERCENT`]); whitespace is not counted, empty text is not masked.
fn is_masked(lines: &[String]) -> bool {
    // Lines passed validation, so each starts with 3 ASCII digits and a separator.
    let visible = lines
        .iter()
        .flat_map(|line| line.chars().skip(4))
        .filter(|c| !c.is_whitespace());
    let (stars, total) = visible.fold((0usize, 0usize), |(stars, total), c| {
        (stars + usize::from(c == '*'), total + 1)
    });
    total > 0 && stars * 100 >= total * MASKED_PERCENT
}

/// Politely ends the session. Errors are ignored: the verdict is already made.
fn say_quit(stream: &mut TcpStream) {
    let until = deadline(Instant::now(), QUIT_WAIT);
    let _ = stream.set_write_timeout(Some(QUIT_WAIT));
    if stream.write_all(b"QUIT\r\n").is_ok() {
        let _ = read_reply(stream, until, &mut Vec::new());
    }
}

/// How reading one reply ended.
enum ReadEnd {
    /// [`parse_reply`] reached a verdict (complete, or not SMTP).
    Parsed(Reply),
    /// The deadline passed first.
    Deadline,
    /// The peer closed the connection.
    Eof,
    /// A read failed, e.g. the connection was reset.
    Failed(io::Error),
}

/// Reads until [`parse_reply`] has a verdict, EOF, an error, or `until`.
///
/// Each read waits only for the time left, so a server trickling bytes
/// cannot stretch the deadline.
fn read_reply(stream: &mut TcpStream, until: Instant, buf: &mut Vec<u8>) -> ReadEnd {
    loop {
        let reply = parse_reply(buf);
        if reply != Reply::Incomplete {
            return ReadEnd::Parsed(reply);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return ReadEnd::Deadline;
        }
        if let Err(err) = stream.set_read_timeout(Some(left)) {
            return ReadEnd::Failed(err);
        }
        match read_chunk(stream, buf) {
            Ok(0) => return ReadEnd::Eof,
            Ok(_) => {}
            Err(err) if is_retryable(&err) => {}
            Err(err) => return ReadEnd::Failed(err),
        }
    }
}

/// Appends one read's worth of bytes, never growing `buf` past
/// `MAX_BYTES + 1` (one byte over is enough for parse_reply to say "too long").
fn read_chunk(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let room = (MAX_BYTES + 1).saturating_sub(buf.len());
    if room == 0 {
        // Unreachable while parse_reply rejects oversize input; never report
        // a full buffer as EOF.
        return Err(io::Error::other("reply buffer full"));
    }
    let mut chunk = [0u8; 1024];
    let limit = u64::try_from(room).unwrap_or(u64::MAX);
    let n = stream.take(limit).read(&mut chunk)?;
    buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    Ok(n)
}

/// Read errors that only mean "nothing yet": the loop re-checks the deadline.
fn is_retryable(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// Parses the bytes received so far as one SMTP reply (RFC 5321 §4.2).
///
/// Each line is a 3-digit code followed by `-` (more lines follow), a space,
/// or the end of the line; lines end in CRLF or bare LF. Rules beyond the RFC:
/// - first byte 0x16 (TLS handshake) or 0x15 0x03 (TLS alert): `NotSmtp`,
///   `tls: true`;
/// - more than [`MAX_LINES`] lines or [`MAX_BYTES`] bytes without a final
///   line: `NotSmtp` ("reply too long");
/// - different codes on lines of one reply (`220-` then `554`): `NotSmtp`.
///   RFC 5321 §4.2.1 requires one code per reply, and picking either code
///   would claim to know what the server meant; the reason names both.
///
/// Pure and total: never panics, whatever the input.
pub fn parse_reply(bytes: &[u8]) -> Reply {
    if let Some(reply) = tls_reply(bytes) {
        return reply;
    }
    let mut lines = Vec::new();
    let mut first_code = None;
    let mut consumed = 0;
    for raw in bytes.split_inclusive(|&b| b == b'\n') {
        consumed += raw.len();
        if lines.len() >= MAX_LINES || consumed > MAX_BYTES {
            return too_long();
        }
        let Some(line) = raw.strip_suffix(b"\n") else {
            return check_partial(raw, lines.len() + 1);
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (code, last) = match parse_line(line) {
            Ok(parsed) => parsed,
            Err(why) => return not_smtp(lines.len() + 1, why),
        };
        if let Some(first) = first_code.filter(|&first| first != code) {
            return mixed_codes(first, code);
        }
        first_code = Some(code);
        lines.push(String::from_utf8_lossy(line).into_owned());
        if last {
            return Reply::Complete { code, lines };
        }
    }
    Reply::Incomplete
}

/// Recognises a TLS record where a greeting should be.
fn tls_reply(bytes: &[u8]) -> Option<Reply> {
    let what = match bytes {
        [0x16, ..] => "a TLS handshake",
        // A lone 0x15 is no SMTP either; call it an alert rather than wait.
        [0x15] | [0x15, 0x03, ..] => "a TLS alert",
        _ => return None,
    };
    let reason = format!(
        "looks like {what}: the port probably expects implicit TLS \
         (smtps; on Postfix/Exim usually port 465)"
    );
    Some(Reply::NotSmtp { tls: true, reason })
}

/// Parses one complete line (without CR/LF) into its code and "is last".
fn parse_line(line: &[u8]) -> Result<(u16, bool), &'static str> {
    let Some((digits, rest)) = line.split_at_checked(3) else {
        return Err("is too short for a reply code");
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err("does not start with a 3-digit reply code");
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    match rest.first() {
        None | Some(b' ') => Ok((code, true)),
        Some(b'-') => Ok((code, false)),
        Some(_) => Err("has a reply code not followed by space, '-' or end of line"),
    }
}

/// Judges an unterminated last line by the part that has arrived, so binary
/// garbage without a newline is rejected at once instead of at the deadline.
fn check_partial(fragment: &[u8], line_no: usize) -> Reply {
    if !fragment.iter().take(3).all(u8::is_ascii_digit) {
        return not_smtp(line_no, "does not start with a 3-digit reply code");
    }
    match fragment.get(3) {
        // '\r' may be the start of the CRLF ending a bare "220".
        None | Some(b' ' | b'-' | b'\r') => Reply::Incomplete,
        Some(_) => not_smtp(
            line_no,
            "has a reply code not followed by space, '-' or end of line",
        ),
    }
}

/// A `NotSmtp` reply for a malformed line.
fn not_smtp(line_no: usize, why: &str) -> Reply {
    Reply::NotSmtp {
        tls: false,
        reason: format!("not an SMTP reply: line {line_no} {why}"),
    }
}

/// A `NotSmtp` reply for a reply over [`MAX_LINES`] or [`MAX_BYTES`].
fn too_long() -> Reply {
    let reason = format!(
        "reply too long: no final line within {MAX_LINES} lines or {} KiB",
        MAX_BYTES / 1024
    );
    Reply::NotSmtp { tls: false, reason }
}

/// A `NotSmtp` reply for a reply whose lines carry different codes.
fn mixed_codes(first: u16, then: u16) -> Reply {
    let reason = format!(
        "reply code changed within one reply ({first} then {then}); \
         RFC 5321 requires the same code on every line"
    );
    Reply::NotSmtp { tls: false, reason }
}

/// Splits raw received bytes into report lines, including an unterminated
/// last line, at most [`MAX_LINES`].
fn received_lines(bytes: &[u8]) -> Vec<String> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .take(MAX_LINES)
        .map(|raw| {
            let line = raw.strip_suffix(b"\n").unwrap_or(raw);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            String::from_utf8_lossy(line).into_owned()
        })
        .collect()
}

/// Explains a greeting timeout, saying whether anything arrived at all.
fn timeout_text(limit: Duration, received: &[u8]) -> String {
    let base = format!("no complete greeting within {}", fmt_duration(limit));
    if received.is_empty() {
        format!("{base}; nothing received (a port expecting implicit TLS also stays silent)")
    } else {
        format!(
            "{base}; {} bytes of an incomplete reply received",
            received.len()
        )
    }
}

/// Explains a failed read during the greeting.
fn read_error_text(err: &io::Error) -> String {
    match err.kind() {
        ErrorKind::ConnectionReset => "connection reset by peer".into(),
        _ => format!("read failed: {err}"),
    }
}

/// `from + after`, with `after` capped so the addition cannot overflow.
fn deadline(from: Instant, after: Duration) -> Instant {
    from.checked_add(after.min(MAX_WAIT)).unwrap_or(from)
}

/// Whole milliseconds, saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// "10 s", "1.5 s" or "250 ms", for messages.
fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn complete(code: u16, lines: &[&str]) -> Reply {
        Reply::Complete {
            code,
            lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn reason_of(reply: &Reply) -> (bool, &str) {
        match reply {
            Reply::NotSmtp { tls, reason } => (*tls, reason.as_str()),
            other => panic!("expected NotSmtp, got {other:?}"),
        }
    }

    #[test]
    fn parse_reply_valid_and_incomplete() {
        let cases: &[(&[u8], Reply)] = &[
            (b"", Reply::Incomplete),
            (b"2", Reply::Incomplete),
            (b"220", Reply::Incomplete),
            (b"220\r", Reply::Incomplete),
            (b"220 mx.example ESMTP", Reply::Incomplete),
            (b"220-first\r\n", Reply::Incomplete),
            (b"220-first\r\n220", Reply::Incomplete),
            (
                b"220 mx.example ESMTP\r\n",
                complete(220, &["220 mx.example ESMTP"]),
            ),
            (b"220 bare lf\n", complete(220, &["220 bare lf"])),
            (b"220\r\n", complete(220, &["220"])),
            (b"220\n", complete(220, &["220"])),
            (
                b"220-a\r\n220-b\n220 c\r\n",
                complete(220, &["220-a", "220-b", "220 c"]),
            ),
            (b"220 done\r\ntrailing junk", complete(220, &["220 done"])),
            (b"421 4.3.2 busy\r\n", complete(421, &["421 4.3.2 busy"])),
            (b"554 go away\r\n", complete(554, &["554 go away"])),
            (b"250 odd\r\n", complete(250, &["250 odd"])),
            (
                b"220 caf\xc3\xa9 \xff\r\n",
                complete(220, &["220 café \u{fffd}"]),
            ),
            (
                b"220 \x1b[31mred\x07\r\n",
                complete(220, &["220 \x1b[31mred\x07"]),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                &parse_reply(input),
                expected,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn parse_reply_not_smtp() {
        let cases: &[(&[u8], bool, &str)] = &[
            (
                b"HTTP/1.1 400 Bad Request\r\n",
                false,
                "line 1 does not start",
            ),
            (b"SSH-2.0-OpenSSH_9.6\r\n", false, "3-digit"),
            (b"\x00\xff\xfe", false, "line 1 does not start"),
            (b"22x", false, "3-digit"),
            (b"2200", false, "not followed by"),
            (b"220x hi\r\n", false, "not followed by"),
            (b"\r\n", false, "too short"),
            (b"22\r\n", false, "too short"),
            (b"220-ok\r\nbogus\r\n", false, "line 2"),
            (b"220-hello\r\n554 no\r\n", false, "220 then 554"),
            (b"\x16\x03\x01\x00\x2f\x02", true, "TLS handshake"),
            (b"\x16", true, "implicit TLS"),
            (b"\x15\x03\x03\x00\x02\x02\x28", true, "TLS alert"),
            (b"\x15", true, "TLS alert"),
        ];
        for (input, tls, needle) in cases {
            let reply = parse_reply(input);
            let (got_tls, reason) = reason_of(&reply);
            assert_eq!(got_tls, *tls, "input {input:?}");
            assert!(
                reason.contains(needle),
                "input {input:?}: reason {reason:?}"
            );
        }
    }

    #[test]
    fn parse_reply_bounds() {
        let many = "220-x\r\n".repeat(MAX_LINES);
        assert_eq!(parse_reply(many.as_bytes()), Reply::Incomplete);
        let too_many = format!("{many}220 last\r\n");
        assert!(
            reason_of(&parse_reply(too_many.as_bytes()))
                .1
                .contains("too long")
        );
        let max_ok = format!("{}220 end\r\n", "220-x\r\n".repeat(MAX_LINES - 1));
        assert!(matches!(
            parse_reply(max_ok.as_bytes()),
            Reply::Complete { code: 220, .. }
        ));

        let mut huge = b"220 ".to_vec();
        huge.resize(MAX_BYTES, b'A');
        assert_eq!(parse_reply(&huge), Reply::Incomplete);
        huge.push(b'A');
        assert!(reason_of(&parse_reply(&huge)).1.contains("too long"));
        let mut exact = b"220 ".to_vec();
        exact.resize(MAX_BYTES - 2, b'A');
        exact.extend_from_slice(b"\r\n");
        assert!(matches!(
            parse_reply(&exact),
            Reply::Complete { code: 220, .. }
        ));
        exact.insert(5, b'A');
        assert!(reason_of(&parse_reply(&exact)).1.contains("too long"));
    }

    #[test]
    fn parse_reply_never_panics_on_arbitrary_prefixes() {
        let mut seed: u32 = 0x1234_5678;
        for len in 0..600 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    b"0123456789 -\r\n\x16\x15*A\xff"[(seed >> 24) as usize % 18]
                })
                .collect();
            let _ = parse_reply(&bytes);
        }
    }

    #[test]
    fn masked_rule() {
        let lines = |s: &[&str]| s.iter().map(|l| l.to_string()).collect::<Vec<_>>();
        assert!(is_masked(&lines(&["220 ****************"])));
        assert!(is_masked(&lines(&["220 ***** ** ******"])));
        assert!(is_masked(&lines(&["220 ******************2*0**0****"])));
        assert!(is_masked(&lines(&["220-*********", "220 ****** **"])));
        assert!(!is_masked(&lines(&[
            "220 mx.example.org ESMTP *** welcome ***"
        ])));
        assert!(!is_masked(&lines(&["220"])));
        assert!(!is_masked(&lines(&["220    "])));
        // The boundary: 3 of 5 visible characters is exactly 60 %.
        assert!(is_masked(&lines(&["220 ab***"])));
        assert!(!is_masked(&lines(&["220 abc**"])));
    }

    #[test]
    fn classify_codes() {
        let target: SocketAddr = "127.0.0.1:25".parse().unwrap();
        let run = |code: u16, line: &str| {
            let mut report = BannerReport::new(target);
            report.code = Some(code);
            report.lines = vec![line.to_string()];
            classify(&mut report);
            report
        };
        assert_eq!(run(220, "220 hi").finding, Finding::Ok);
        assert_eq!(run(220, "220 hi").error, None);
        assert_eq!(run(220, "220 ********").finding, Finding::Masked);
        assert_eq!(run(421, "421 busy").finding, Finding::Rejected);
        assert_eq!(run(554, "554 no").finding, Finding::Rejected);
        assert_eq!(run(250, "250 hi").finding, Finding::NotSmtp);
        assert_eq!(run(354, "354 hi").finding, Finding::NotSmtp);
        assert!(run(554, "554 no").error.unwrap().contains("554"));
    }

    #[test]
    fn probe_target_mapping() {
        let cases = [
            ("0.0.0.0:25", "127.0.0.1:25"),
            ("[::]:25", "[::1]:25"),
            ("[::ffff:0.0.0.0]:587", "127.0.0.1:587"),
            ("192.0.2.7:25", "192.0.2.7:25"),
            ("127.0.0.2:2525", "127.0.0.2:2525"),
            ("[2001:db8::1]:25", "[2001:db8::1]:25"),
            ("[::1]:25", "[::1]:25"),
            ("[::ffff:127.0.0.1]:25", "[::ffff:127.0.0.1]:25"),
        ];
        for (listen, want) in cases {
            let listen: SocketAddr = listen.parse().unwrap();
            assert_eq!(
                probe_target(listen),
                want.parse::<SocketAddr>().unwrap(),
                "{listen}"
            );
        }
    }

    #[test]
    fn finding_names_and_groups() {
        use Finding::*;
        let all = [Ok, Timeout, Closed, Refused, Rejected, Masked, NotSmtp];
        let names: Vec<_> = all.iter().map(Finding::as_str).collect();
        let want = [
            "ok", "timeout", "closed", "refused", "rejected", "masked", "not-smtp",
        ];
        assert_eq!(names, want);
        assert!(!Ok.is_failure() && !Ok.is_no_banner() && !Ok.is_bad_banner());
        for f in &all[1..] {
            assert!(f.is_failure());
            assert_ne!(f.is_no_banner(), f.is_bad_banner(), "{f}");
        }
        assert!(Timeout.is_no_banner() && Closed.is_no_banner() && Refused.is_no_banner());
        assert_eq!(NotSmtp.to_string(), "not-smtp");
    }

    #[test]
    fn helpers() {
        assert_eq!(fmt_duration(Duration::from_secs(10)), "10 s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(received_lines(b"220-a\r\n220 b"), ["220-a", "220 b"]);
        assert_eq!(received_lines(b"220-a\n"), ["220-a"]);
        assert!(received_lines(b"").is_empty());
        let now = Instant::now();
        assert!(deadline(now, Duration::MAX) > now);
        let defaults = ProbeSettings::default();
        assert_eq!(defaults.connect_timeout, Duration::from_secs(3));
        assert_eq!(defaults.greeting_timeout, Duration::from_secs(10));
        assert_eq!(defaults.slow_after, Duration::from_secs(5));
    }
}
