// SPDX-License-Identifier: GPL-2.0

//! Allocation-free HTTP/1.x request-head parsing.
//!
//! The front-end has to decide where a connection goes before any back-end
//! has seen it, so it reads the first request head itself. That happens in
//! the kernel, on bytes sent by an untrusted client, so this parser never
//! allocates, never panics, and is deliberately strict: anything whose
//! message framing is ambiguous (duplicate `Content-Length`, `Content-Length`
//! together with `Transfer-Encoding`, obsolete line folding, control bytes in
//! the target) is rejected instead of guessed at. The front-end and the
//! back-end HTTP server parse the same bytes; any disagreement about where a
//! request ends is a request-smuggling hole, and a connection that the front
//! end rejects can simply stay local or be reset.
//!
//! Two entry points are provided. [`head_status`] is cheap and is called
//! every time more bytes arrive, to learn whether the head is complete, can
//! never be HTTP, or has grown too large. [`parse_head`] then parses the
//! complete head into a [`Request`] whose slices borrow the input.

/// Maximum number of header fields accepted in one request head.
pub const MAX_HEADERS: usize = 64;

/// Longest method token accepted by [`head_status`] when sniffing the
/// request line; longer tokens are taken as "not HTTP".
pub const MAX_METHOD_LEN: usize = 32;

/// Progress of a request head that is still arriving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadStatus {
    /// The head is complete; it occupies the first `head_len` bytes of the
    /// buffer, including the terminating empty line.
    Complete {
        /// Length of the head including its terminating blank line.
        head_len: usize,
    },
    /// More bytes are needed.
    Incomplete,
    /// The buffer cannot be the start of an HTTP/1.x request (for example a
    /// TLS `ClientHello`).
    NotHttp,
    /// `max_head` bytes have arrived without the end of the head.
    TooLarge,
}

/// HTTP request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`.
    Head,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
    /// `OPTIONS`.
    Options,
    /// `PATCH`.
    Patch,
    /// `CONNECT`.
    Connect,
    /// `TRACE`.
    Trace,
    /// Any other syntactically valid method token; see
    /// [`Request::method_raw`] for its bytes.
    Other,
}

impl Method {
    /// The method's name, `None` for [`Method::Other`].
    pub fn name(self) -> Option<&'static [u8]> {
        Some(match self {
            Method::Get => b"GET",
            Method::Head => b"HEAD",
            Method::Post => b"POST",
            Method::Put => b"PUT",
            Method::Delete => b"DELETE",
            Method::Options => b"OPTIONS",
            Method::Patch => b"PATCH",
            Method::Connect => b"CONNECT",
            Method::Trace => b"TRACE",
            Method::Other => return None,
        })
    }

    /// Classifies a method token. Methods are case-sensitive (RFC 9110
    /// section 9.1), so `get` is [`Method::Other`].
    pub fn from_bytes(token: &[u8]) -> Method {
        match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"PATCH" => Method::Patch,
            b"CONNECT" => Method::Connect,
            b"TRACE" => Method::Trace,
            _ => Method::Other,
        }
    }
}

/// A parsed request head. All slices borrow the buffer given to
/// [`parse_head`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// Classified method.
    pub method: Method,
    /// Method token exactly as sent.
    pub method_raw: &'a [u8],
    /// Path part of the target, without the query, exactly as sent (no
    /// percent-decoding). For the absolute form it is the part after the
    /// authority (`/` when that is empty), for `OPTIONS *` it is `*`, and for
    /// `CONNECT`'s authority form it is empty.
    pub path: &'a [u8],
    /// Query string after the first `?`, without the `?`.
    pub query: Option<&'a [u8]>,
    /// Host with any port stripped, from the absolute-form target if there
    /// is one, else from the `Host` header; `None` when absent or empty. The
    /// case is left as sent: matchers compare case-insensitively.
    pub host: Option<&'a [u8]>,
    /// Minor version: `0` for HTTP/1.0, `1` for HTTP/1.1.
    pub version_minor: u8,
    /// Value of the `Content-Length` header, if present.
    pub content_length: Option<u64>,
    /// Whether the body uses chunked transfer coding.
    pub chunked: bool,
    /// Whether the client wants the connection kept open after this request
    /// (HTTP/1.1: unless `Connection: close`; HTTP/1.0: only with
    /// `Connection: keep-alive`).
    pub keep_alive: bool,
    /// Whether the request carries an `Upgrade` header: the server may
    /// switch the connection to another protocol, after which its bytes
    /// are no longer HTTP/1.x requests.
    pub upgrade: bool,
}

/// Reasons why [`parse_head`] rejects a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The buffer ends before the empty line that terminates the head.
    Incomplete,
    /// The request line is not `method SP target SP version`.
    BadRequestLine,
    /// The request target is malformed or contains control bytes, spaces or
    /// a fragment, or its form does not fit the method.
    BadTarget,
    /// The version is not `HTTP/1.<digit>`.
    BadVersion,
    /// A header line is malformed (no colon, bad name, control bytes in the
    /// value).
    BadHeader,
    /// A header line starts with whitespace (obsolete line folding).
    ObsFold,
    /// More than [`MAX_HEADERS`] header fields.
    TooManyHeaders,
    /// `Content-Length` is not a plain decimal number that fits in `u64`.
    BadContentLength,
    /// More than one `Content-Length` header field.
    DuplicateContentLength,
    /// Both `Content-Length` and `Transfer-Encoding` are present.
    ChunkedWithContentLength,
    /// `Transfer-Encoding` does not end in exactly one `chunked`, or appears
    /// in an HTTP/1.0 request.
    BadTransferEncoding,
    /// More than one `Host` header field.
    DuplicateHost,
    /// The host (in the `Host` header or the target) is malformed.
    BadHost,
    /// An HTTP/1.1 request without a `Host` header field.
    MissingHost,
}

/// Whether `b` may appear in a token (RFC 9110 section 5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Whether `b` is a control byte other than horizontal tab.
fn is_ctl_not_tab(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// Returns the length of the head (through the first empty line) if `buf`
/// contains one. Both `\r\n\r\n` and bare `\n\n` (and mixtures) end a head.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    for (i, &b) in buf.iter().enumerate() {
        if b != b'\n' {
            continue;
        }
        match (buf.get(i.wrapping_add(1)), buf.get(i.wrapping_add(2))) {
            (Some(b'\n'), _) => return i.checked_add(2),
            (Some(b'\r'), Some(b'\n')) => return i.checked_add(3),
            _ => {}
        }
    }
    None
}

/// Classifies the bytes received so far on a new connection.
///
/// Returns [`HeadStatus::NotHttp`] as soon as the buffer cannot start with a
/// request line (the first bytes must be a method token of at most
/// [`MAX_METHOD_LEN`] characters followed by a space), so that TLS and other
/// protocols are recognised after their first byte. A head is complete only
/// if its end lies within the first `max_head` bytes; otherwise, once
/// `buf.len() >= max_head`, the result is [`HeadStatus::TooLarge`]. Leading
/// empty lines before the request line are not tolerated.
pub fn head_status(buf: &[u8], max_head: usize) -> HeadStatus {
    for (i, &b) in buf.iter().enumerate() {
        if b == b' ' {
            if i == 0 {
                return HeadStatus::NotHttp;
            }
            break;
        }
        if !is_tchar(b) || i >= MAX_METHOD_LEN {
            return HeadStatus::NotHttp;
        }
    }
    let window = buf.get(..max_head).unwrap_or(buf);
    match find_head_end(window) {
        Some(head_len) => HeadStatus::Complete { head_len },
        None if buf.len() >= max_head => HeadStatus::TooLarge,
        None => HeadStatus::Incomplete,
    }
}

/// Splits `buf` at the first occurrence of `sep`.
fn split_once(buf: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let pos = buf.iter().position(|&b| b == sep)?;
    Some((buf.get(..pos)?, buf.get(pos.checked_add(1)?..)?))
}

/// Splits `buf` at the last occurrence of `sep`.
fn rsplit_once(buf: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let pos = buf.iter().rposition(|&b| b == sep)?;
    Some((buf.get(..pos)?, buf.get(pos.checked_add(1)?..)?))
}

/// Removes leading and trailing spaces and tabs.
fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let Some((&(b' ' | b'\t'), rest)) = v.split_first() {
        v = rest;
    }
    while let Some((&(b' ' | b'\t'), rest)) = v.split_last() {
        v = rest;
    }
    v
}

/// Whether `buf` starts with `prefix`, ignoring ASCII case.
fn starts_with_ignore_case(buf: &[u8], prefix: &[u8]) -> bool {
    buf.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Iterator over the elements of a comma-separated header list, with
/// whitespace trimmed and empty elements skipped.
fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|item| !item.is_empty())
}

/// Strips the port from an authority (`host`, `host:port`, `[v6]:port`)
/// and checks that the host contains nothing that would let two parsers
/// disagree about it.
fn host_of_authority(auth: &[u8]) -> Result<&[u8], ParseError> {
    let (host, port) = if auth.first() == Some(&b'[') {
        let close = auth
            .iter()
            .position(|&b| b == b']')
            .ok_or(ParseError::BadHost)?;
        let end = close.checked_add(1).ok_or(ParseError::BadHost)?;
        let host = auth.get(..end).ok_or(ParseError::BadHost)?;
        let after = auth.get(end..).ok_or(ParseError::BadHost)?;
        let port = match after.split_first() {
            None => None,
            Some((&b':', port)) => Some(port),
            Some(_) => return Err(ParseError::BadHost),
        };
        (host, port)
    } else {
        match split_once(auth, b':') {
            Some((host, port)) => (host, Some(port)),
            None => (auth, None),
        }
    };
    if let Some(port) = port {
        if port.len() > 5 || !port.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::BadHost);
        }
    }
    let bad = |b: &u8| {
        is_ctl_not_tab(*b) || matches!(*b, b' ' | b'\t' | b'/' | b'?' | b'#' | b'@' | b',' | b'\\')
    };
    if host.iter().any(bad) || (host.first() != Some(&b'[') && host.contains(&b'[')) {
        return Err(ParseError::BadHost);
    }
    Ok(host)
}

/// Request target split into its parts.
struct Target<'a> {
    path: &'a [u8],
    query: Option<&'a [u8]>,
    host: Option<&'a [u8]>,
}

/// Splits `path?query`.
fn split_query(pq: &[u8]) -> (&[u8], Option<&[u8]>) {
    match split_once(pq, b'?') {
        Some((path, query)) => (path, Some(query)),
        None => (pq, None),
    }
}

/// Parses the request target according to its form (RFC 9112 section 3.2).
fn parse_target(method: Method, target: &[u8]) -> Result<Target<'_>, ParseError> {
    if target.is_empty() || target.iter().any(|&b| b <= b' ' || b == 0x7f || b == b'#') {
        return Err(ParseError::BadTarget);
    }
    if method == Method::Connect {
        let host = host_of_authority(target).map_err(|_| ParseError::BadTarget)?;
        if host.is_empty() || target.contains(&b'/') {
            return Err(ParseError::BadTarget);
        }
        return Ok(Target {
            path: &[],
            query: None,
            host: Some(host),
        });
    }
    match target.first() {
        Some(b'/') => {
            let (path, query) = split_query(target);
            Ok(Target {
                path,
                query,
                host: None,
            })
        }
        Some(b'*') if target.len() == 1 && method == Method::Options => Ok(Target {
            path: target,
            query: None,
            host: None,
        }),
        _ => {
            let rest = if starts_with_ignore_case(target, b"http://") {
                target.get(7..)
            } else if starts_with_ignore_case(target, b"https://") {
                target.get(8..)
            } else {
                None
            }
            .ok_or(ParseError::BadTarget)?;
            let auth_end = rest
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .unwrap_or(rest.len());
            let auth = rest.get(..auth_end).ok_or(ParseError::BadTarget)?;
            let pq = rest.get(auth_end..).ok_or(ParseError::BadTarget)?;
            let host = host_of_authority(auth).map_err(|_| ParseError::BadTarget)?;
            if host.is_empty() {
                return Err(ParseError::BadTarget);
            }
            let (path, query) = split_query(pq);
            let path: &[u8] = if path.is_empty() { b"/" } else { path };
            Ok(Target {
                path,
                query,
                host: Some(host),
            })
        }
    }
}

/// Parses a decimal `Content-Length` value.
fn parse_content_length(v: &[u8]) -> Result<u64, ParseError> {
    if v.is_empty() {
        return Err(ParseError::BadContentLength);
    }
    v.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return Err(ParseError::BadContentLength);
        }
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(u64::from(b.wrapping_sub(b'0'))))
            .ok_or(ParseError::BadContentLength)
    })
}

/// Splits off the next line, without its `\n` and an optional `\r` before
/// it. Returns `None` when no complete line is left.
fn next_line<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (line, tail) = split_once(rest, b'\n')?;
    *rest = tail;
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// Parses a complete request head.
///
/// `head` should be the first `head_len` bytes reported by [`head_status`];
/// anything after the first empty line is ignored (it is the body or the
/// next pipelined request). See [`ParseError`] for what is rejected.
pub fn parse_head(head: &[u8]) -> Result<Request<'_>, ParseError> {
    let mut rest = head;
    let line = next_line(&mut rest).ok_or(ParseError::Incomplete)?;

    let (method_raw, after_method) = split_once(line, b' ').ok_or(ParseError::BadRequestLine)?;
    let (target, version) = rsplit_once(after_method, b' ').ok_or(ParseError::BadRequestLine)?;
    if method_raw.is_empty() || !method_raw.iter().all(|&b| is_tchar(b)) {
        return Err(ParseError::BadRequestLine);
    }
    if target.contains(&b' ') {
        return Err(ParseError::BadRequestLine);
    }
    let version_minor = match version {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => {
            minor.wrapping_sub(b'0')
        }
        _ => return Err(ParseError::BadVersion),
    };
    let method = Method::from_bytes(method_raw);
    let target = parse_target(method, target)?;

    let mut header_host: Option<&[u8]> = None;
    let mut content_length = None;
    let mut te_seen = false;
    let mut chunked = false;
    let mut conn_close = false;
    let mut conn_keep_alive = false;
    let mut upgrade = false;
    let mut count = 0usize;

    loop {
        let line = next_line(&mut rest).ok_or(ParseError::Incomplete)?;
        if line.is_empty() {
            break;
        }
        count = count.saturating_add(1);
        if count > MAX_HEADERS {
            return Err(ParseError::TooManyHeaders);
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            return Err(ParseError::ObsFold);
        }
        let (name, value) = split_once(line, b':').ok_or(ParseError::BadHeader)?;
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(ParseError::BadHeader);
        }
        let value = trim_ows(value);
        if value.iter().any(|&b| is_ctl_not_tab(b)) {
            return Err(ParseError::BadHeader);
        }

        if name.eq_ignore_ascii_case(b"host") {
            if header_host.is_some() {
                return Err(ParseError::DuplicateHost);
            }
            header_host = Some(host_of_authority(value)?);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            if content_length.is_some() {
                return Err(ParseError::DuplicateContentLength);
            }
            content_length = Some(parse_content_length(value)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            te_seen = true;
            for item in list_items(value) {
                // `chunked` must be the last coding and appear only once.
                if chunked {
                    return Err(ParseError::BadTransferEncoding);
                }
                let coding = trim_ows(split_once(item, b';').map_or(item, |(c, _)| c));
                chunked = coding.eq_ignore_ascii_case(b"chunked");
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for item in list_items(value) {
                if item.eq_ignore_ascii_case(b"close") {
                    conn_close = true;
                } else if item.eq_ignore_ascii_case(b"keep-alive") {
                    conn_keep_alive = true;
                }
            }
        }
    }

    if te_seen {
        if content_length.is_some() {
            return Err(ParseError::ChunkedWithContentLength);
        }
        if !chunked || version_minor == 0 {
            return Err(ParseError::BadTransferEncoding);
        }
    }
    if version_minor >= 1 && header_host.is_none() {
        return Err(ParseError::MissingHost);
    }
    let host = target.host.or(header_host).filter(|host| !host.is_empty());
    let keep_alive = if version_minor >= 1 {
        !conn_close
    } else {
        conn_keep_alive && !conn_close
    };

    Ok(Request {
        method,
        method_raw,
        path: target.path,
        query: target.query,
        host,
        version_minor,
        content_length,
        chunked,
        keep_alive,
        upgrade,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::test_rng::Rng;

    const SIMPLE: &[u8] =
        b"GET /index.html?x=1 HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: t\r\n\r\n";

    fn parse(s: &[u8]) -> Result<Request<'_>, ParseError> {
        parse_head(s)
    }

    #[test]
    fn simple_get() {
        let r = parse(SIMPLE).unwrap();
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.method_raw, b"GET");
        assert_eq!(r.path, b"/index.html");
        assert_eq!(r.query, Some(&b"x=1"[..]));
        assert_eq!(r.host, Some(&b"Example.COM"[..]));
        assert_eq!(r.version_minor, 1);
        assert_eq!(r.content_length, None);
        assert!(!r.chunked);
        assert!(r.keep_alive);
        assert_eq!(
            head_status(SIMPLE, 8192),
            HeadStatus::Complete {
                head_len: SIMPLE.len()
            }
        );
    }

    #[test]
    fn methods() {
        for (raw, m) in [
            (&b"GET"[..], Method::Get),
            (b"HEAD", Method::Head),
            (b"POST", Method::Post),
            (b"PUT", Method::Put),
            (b"DELETE", Method::Delete),
            (b"OPTIONS", Method::Options),
            (b"PATCH", Method::Patch),
            (b"CONNECT", Method::Connect),
            (b"TRACE", Method::Trace),
            (b"PROPFIND", Method::Other),
            (b"get", Method::Other),
        ] {
            assert_eq!(Method::from_bytes(raw), m);
            if m != Method::Other {
                assert_eq!(m.name(), Some(raw));
            }
        }
        assert_eq!(Method::Other.name(), None);
        let r = parse(b"PROPFIND /dav HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(r.method, Method::Other);
        assert_eq!(r.method_raw, b"PROPFIND");
    }

    #[test]
    fn bare_lf_and_incremental_feed() {
        let head = b"GET / HTTP/1.0\nHost: a\n\n";
        assert_eq!(
            head_status(head, 1000),
            HeadStatus::Complete {
                head_len: head.len()
            }
        );
        let r = parse(head).unwrap();
        assert_eq!(r.version_minor, 0);
        assert!(!r.keep_alive);
        for src in [SIMPLE, &head[..]] {
            for n in 0..src.len() {
                assert_eq!(
                    head_status(&src[..n], 1000),
                    HeadStatus::Incomplete,
                    "n={n}"
                );
                assert_eq!(parse(&src[..n]), Err(ParseError::Incomplete));
            }
            assert_eq!(
                head_status(src, 1000),
                HeadStatus::Complete {
                    head_len: src.len()
                }
            );
        }
    }

    #[test]
    fn pipelined_stops_at_first_head() {
        let two = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n";
        let first = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n".len();
        assert_eq!(
            head_status(two, 4096),
            HeadStatus::Complete { head_len: first }
        );
        let r = parse(two).unwrap();
        assert_eq!(r.path, b"/a");
        let body = b"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab\r\n";
        let r = parse(body).unwrap();
        assert_eq!(r.content_length, Some(4));
    }

    #[test]
    fn not_http_and_too_large() {
        assert_eq!(head_status(b"", 10), HeadStatus::Incomplete);
        assert_eq!(head_status(b"G", 10), HeadStatus::Incomplete);
        assert_eq!(
            head_status(b"\x16\x03\x01\x02\x00", 100),
            HeadStatus::NotHttp
        );
        assert_eq!(head_status(b"\x16", 100), HeadStatus::NotHttp);
        assert_eq!(head_status(b" GET /", 100), HeadStatus::NotHttp);
        assert_eq!(head_status(b"\r\nGET /", 100), HeadStatus::NotHttp);
        assert_eq!(head_status(b"GET\r\n\r\n", 100), HeadStatus::NotHttp);
        assert_eq!(
            head_status(b"SSH-2.0-OpenSSH\r\n", 100),
            HeadStatus::NotHttp
        );
        let long = [b'A'; 40];
        assert_eq!(head_status(&long, 100), HeadStatus::NotHttp);
        assert_eq!(head_status(&long[..32], 100), HeadStatus::Incomplete);
        assert_eq!(head_status(b"GET /aaaaaaaa", 10), HeadStatus::TooLarge);
        // The end must lie within max_head.
        let h = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(head_status(h, h.len() - 1), HeadStatus::TooLarge);
        assert_eq!(
            head_status(h, h.len()),
            HeadStatus::Complete { head_len: h.len() }
        );
        assert_eq!(head_status(h, 0), HeadStatus::TooLarge);
    }

    #[test]
    fn keep_alive_rules() {
        let cases: [(&[u8], bool); 6] = [
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                false,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n",
                false,
            ),
            (b"GET / HTTP/1.0\r\n\r\n", false),
            (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            (
                b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
                false,
            ),
        ];
        for (head, ka) in cases {
            assert_eq!(parse(head).unwrap().keep_alive, ka);
        }
    }

    #[test]
    fn host_handling() {
        let r = parse(b"GET / HTTP/1.1\r\nhOsT:   www.a.b  \r\n\r\n").unwrap();
        assert_eq!(r.host, Some(&b"www.a.b"[..]));
        let r = parse(b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n").unwrap();
        assert_eq!(r.host, Some(&b"[::1]"[..]));
        let r = parse(b"GET / HTTP/1.1\r\nHost:\r\n\r\n").unwrap();
        assert_eq!(r.host, None);
        let r = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(r.host, None);
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\n\r\n"),
            Err(ParseError::MissingHost)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            Err(ParseError::DuplicateHost)
        );
        for bad in [
            &b"a b"[..],
            b"a/b",
            b"a@b",
            b"a,b",
            b"a:80x",
            b"a:1:2",
            b"[::1",
            b"[::1]x",
            b"a:123456",
        ] {
            let mut buf = [0u8; 128];
            let mut n = 0;
            for part in [&b"GET / HTTP/1.1\r\nHost: "[..], bad, b"\r\n\r\n"] {
                buf[n..n + part.len()].copy_from_slice(part);
                n += part.len();
            }
            assert_eq!(parse(&buf[..n]), Err(ParseError::BadHost), "{bad:?}");
        }
    }

    #[test]
    fn target_forms() {
        let r = parse(b"GET http://Ex.com:81/p/q?z HTTP/1.1\r\nHost: other\r\n\r\n").unwrap();
        assert_eq!(r.host, Some(&b"Ex.com"[..]));
        assert_eq!(r.path, b"/p/q");
        assert_eq!(r.query, Some(&b"z"[..]));
        let r = parse(b"GET HTTPS://ex.com HTTP/1.1\r\nHost: ex.com\r\n\r\n").unwrap();
        assert_eq!(r.path, b"/");
        assert_eq!(r.query, None);
        let r = parse(b"GET http://ex.com?q HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!((r.path, r.query), (&b"/"[..], Some(&b"q"[..])));
        let r = parse(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(r.path, b"*");
        let r = parse(b"CONNECT ex.com:443 HTTP/1.1\r\nHost: ex.com:443\r\n\r\n").unwrap();
        assert_eq!(r.host, Some(&b"ex.com"[..]));
        assert_eq!(r.path, b"");
        let r = parse(b"GET /?a?b HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!((r.path, r.query), (&b"/"[..], Some(&b"a?b"[..])));
        for bad in [
            &b"GET * HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET http://u@a/x HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET index.html HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n",
            b"CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            assert_eq!(parse(bad), Err(ParseError::BadTarget), "{bad:?}");
        }
    }

    #[test]
    fn request_line_errors() {
        for (bad, err) in [
            (
                &b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n"[..],
                ParseError::BadRequestLine,
            ),
            (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", ParseError::BadVersion),
            (b"GET / HTTP/1.x\r\nHost: a\r\n\r\n", ParseError::BadVersion),
            (b"GET / http/1.1\r\nHost: a\r\n\r\n", ParseError::BadVersion),
            (
                b"GET / HTTP/1.11\r\nHost: a\r\n\r\n",
                ParseError::BadVersion,
            ),
            (b"GET /\r\nHost: a\r\n\r\n", ParseError::BadRequestLine),
            (
                b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
                ParseError::BadRequestLine,
            ),
            (
                b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
                ParseError::BadRequestLine,
            ),
            (
                b" GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                ParseError::BadRequestLine,
            ),
            (
                b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
                ParseError::BadRequestLine,
            ),
            (b"\r\n\r\n", ParseError::BadRequestLine),
        ] {
            assert_eq!(parse(bad), Err(err), "{bad:?}");
        }
    }

    #[test]
    fn header_errors() {
        for (bad, err) in [
            (
                &b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"[..],
                ParseError::ObsFold,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\n\tx\r\n\r\n",
                ParseError::ObsFold,
            ),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", ParseError::BadHeader),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
                ParseError::BadHeader,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n",
                ParseError::BadHeader,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
                ParseError::BadHeader,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
                ParseError::BadHeader,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nX: ab\r\r\n\r\n",
                ParseError::BadHeader,
            ),
        ] {
            assert_eq!(parse(bad), Err(err), "{bad:?}");
        }
        // Tabs and obs-text are fine in values.
        let r = parse(b"GET / HTTP/1.1\r\nHost: a\r\nX: \ta\tb\xff\r\n\r\n");
        assert!(r.is_ok());
    }

    #[test]
    fn body_framing() {
        let r = parse(b"POST / HTTP/1.1\r\nHost: a\r\ncontent-length:  0042 \r\n\r\n").unwrap();
        assert_eq!(r.content_length, Some(42));
        let r = parse(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n")
            .unwrap();
        assert!(r.chunked);
        let r = parse(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        assert!(r.chunked);
        let r =
            parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n")
                .unwrap();
        assert_eq!(r.content_length, Some(u64::MAX));
        for (bad, err) in [
            (
                &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"[..],
                ParseError::DuplicateContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                ParseError::DuplicateContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n",
                ParseError::BadContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n",
                ParseError::BadContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
                ParseError::BadContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n",
                ParseError::BadContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                ParseError::ChunkedWithContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                ParseError::ChunkedWithContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                ParseError::BadTransferEncoding,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                ParseError::BadTransferEncoding,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
                ParseError::BadTransferEncoding,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
                ParseError::BadTransferEncoding,
            ),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                ParseError::BadTransferEncoding,
            ),
        ] {
            assert_eq!(parse(bad), Err(err), "{:?}", core::str::from_utf8(bad));
        }
    }

    /// Writes a head with `Host` plus `extra` more header fields.
    fn head_with_headers(extra: usize, buf: &mut [u8]) -> usize {
        let mut n = 0;
        let mut push = |s: &[u8]| {
            buf[n..n + s.len()].copy_from_slice(s);
            n += s.len();
        };
        push(b"GET / HTTP/1.1\r\nHost: a\r\n");
        for _ in 0..extra {
            push(b"X-A: b\r\n");
        }
        push(b"\r\n");
        n
    }

    #[test]
    fn header_count_cap() {
        let mut buf = [0u8; 2048];
        let n = head_with_headers(MAX_HEADERS - 1, &mut buf);
        assert!(parse(&buf[..n]).is_ok());
        let n = head_with_headers(MAX_HEADERS, &mut buf);
        assert_eq!(parse(&buf[..n]), Err(ParseError::TooManyHeaders));
    }

    fn check_no_panic(buf: &[u8]) {
        let st = head_status(buf, 512);
        if let HeadStatus::Complete { head_len } = st {
            assert!(head_len <= buf.len() && head_len <= 512);
            let _ = parse_head(&buf[..head_len]);
        }
        if let Ok(r) = parse_head(buf) {
            // Every slice must lie inside the input, except for the static "/".
            for s in [r.method_raw, r.path] {
                assert!(s.len() <= buf.len());
            }
        }
    }

    #[test]
    fn fuzz_no_panic() {
        let seeds: [&[u8]; 4] = [
            SIMPLE,
            b"POST http://a.b:1/x?y HTTP/1.0\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n",
            b"PUT /u HTTP/1.1\r\nHost: [::1]:9\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"CONNECT a:1 HTTP/1.1\nHost: a\n\n",
        ];
        let alphabet = b"\r\n :/?#@[],;\t\x00\x7f\x80GETHTP1.0chunkedHost";
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut buf = [0u8; 256];
        for i in 0..10_000 {
            let len;
            if i % 3 == 0 {
                len = rng.below(buf.len());
                for b in &mut buf[..len] {
                    *b = if rng.next() & 1 == 0 {
                        rng.next() as u8
                    } else {
                        alphabet[rng.below(alphabet.len())]
                    };
                }
            } else {
                let seed = seeds[rng.below(seeds.len())];
                buf[..seed.len()].copy_from_slice(seed);
                len = seed.len();
                for _ in 0..1 + rng.below(4) {
                    let pos = rng.below(len);
                    buf[pos] = match rng.below(3) {
                        0 => rng.next() as u8,
                        1 => alphabet[rng.below(alphabet.len())],
                        _ => buf[rng.below(len)],
                    };
                }
            }
            check_no_panic(&buf[..len]);
            let cut = rng.below(len + 1);
            check_no_panic(&buf[..cut]);
        }
    }
}
