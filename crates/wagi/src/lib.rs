//! The WAGI contract (deislabs WAGI, Spin's `wagi` executor): how an HTTP
//! request becomes a command module's environment, argv and stdin, and how
//! its stdout becomes the response. Pure functions over plain data, so the
//! contract is tested without a server; the response parser reads
//! untrusted bytes (what a module printed) and is fuzzed.

use std::collections::BTreeMap;

/// What the contract needs of a request.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo<'a> {
    pub method: &'a str,
    /// The path as sent, percent-encoded, without the query.
    pub path: &'a str,
    /// The query, without `?`.
    pub query: &'a str,
    /// `HTTP/1.1` and the like.
    pub protocol: &'a str,
    /// Every header, names as sent, in order.
    pub headers: Vec<(&'a str, &'a [u8])>,
    /// The body's length in bytes.
    pub content_length: usize,
    /// The client's address.
    pub remote_addr: String,
    /// The port the server listens on (`SERVER_PORT` when `Host` has none).
    pub local_port: u16,
}

/// The part of a route the contract uses.
#[derive(Debug, Clone, Copy)]
pub struct RouteInfo<'a> {
    /// The route as configured (`/api/...` or `/hello`).
    pub pattern: &'a str,
    /// The route without `/...`: what `SCRIPT_NAME` holds.
    pub script_name: &'a str,
    /// An argv template (`${SCRIPT_NAME}`, `${ARGS}`), if the route has one.
    pub argv_template: Option<&'a str>,
}

/// The server's name in `SERVER_SOFTWARE`.
pub const SERVER_SOFTWARE: &str = concat!("WaSC/", env!("CARGO_PKG_VERSION"));

/// The CGI 1.1 environment (plus WAGI's `X_*` variables and one
/// `HTTP_NAME` per header other than `Authorization` and `Connection`), in
/// name order. The route's own variables come first; a request variable of
/// the same name replaces one.
pub fn environment(
    request: &RequestInfo<'_>,
    route: &RouteInfo<'_>,
    route_env: &[(String, String)],
) -> Vec<(String, String)> {
    let mut vars: BTreeMap<String, String> = route_env.iter().cloned().collect();
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    let host = header("host").unwrap_or_default();
    let (server_name, server_port) = split_host(&host, request.local_port);
    let rest = request
        .path
        .strip_prefix(route.script_name)
        .unwrap_or_default();
    let path_info = percent_decode(rest);
    let full_url = if request.query.is_empty() {
        format!("http://{host}{}", request.path)
    } else {
        format!("http://{host}{}?{}", request.path, request.query)
    };
    let fixed = [
        ("AUTH_TYPE", String::new()),
        ("CONTENT_LENGTH", request.content_length.to_string()),
        ("CONTENT_TYPE", header("content-type").unwrap_or_default()),
        ("GATEWAY_INTERFACE", "CGI/1.1".to_owned()),
        ("PATH_INFO", path_info.clone()),
        ("PATH_TRANSLATED", path_info),
        ("QUERY_STRING", request.query.to_owned()),
        ("REMOTE_ADDR", request.remote_addr.clone()),
        ("REMOTE_HOST", request.remote_addr.clone()),
        ("REMOTE_USER", String::new()),
        ("REQUEST_METHOD", request.method.to_owned()),
        ("SCRIPT_NAME", route.script_name.to_owned()),
        ("SERVER_NAME", server_name),
        ("SERVER_PORT", server_port),
        ("SERVER_PROTOCOL", request.protocol.to_owned()),
        ("SERVER_SOFTWARE", SERVER_SOFTWARE.to_owned()),
        ("X_FULL_URL", full_url),
        ("X_MATCHED_ROUTE", route.pattern.to_owned()),
        ("X_RAW_PATH_INFO", rest.to_owned()),
    ];
    for (name, value) in fixed {
        vars.insert(name.to_owned(), value);
    }
    // Repeated headers are joined, as HTTP allows.
    let mut from_headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("connection") {
            continue;
        }
        let key = format!("HTTP_{}", name.to_ascii_uppercase().replace('-', "_"));
        let value = String::from_utf8_lossy(value);
        from_headers
            .entry(key)
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    vars.extend(from_headers);
    vars.into_iter().collect()
}

/// `SERVER_NAME` and `SERVER_PORT` from a `Host` value.
fn split_host(host: &str, local_port: u16) -> (String, String) {
    // `[::1]:8080`, `[::1]`, `example.com:80`, `example.com`.
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (name, Some(port))
        }
        _ => (host, None),
    };
    let port = port.map_or_else(|| local_port.to_string(), str::to_owned);
    (name.to_owned(), port)
}

/// The module's argv: the route's template, or the request path followed
/// by each `&`-separated query item (percent-decoded; empty items left
/// out).
pub fn argv(request: &RequestInfo<'_>, route: &RouteInfo<'_>) -> Vec<String> {
    let items: Vec<String> = request
        .query
        .split('&')
        .filter(|item| !item.is_empty())
        .map(|item| percent_decode(&item.replace('+', " ")))
        .collect();
    match route.argv_template {
        None => std::iter::once(percent_decode(request.path))
            .chain(items)
            .collect(),
        Some(template) => {
            let mut argv = Vec::new();
            for word in template.split_whitespace() {
                if word == "${ARGS}" {
                    argv.extend(items.iter().cloned());
                } else {
                    argv.push(word.replace("${SCRIPT_NAME}", route.script_name));
                }
            }
            argv
        }
    }
}

/// `%XX` sequences decoded; a result that is not UTF-8, or a malformed
/// sequence, is left as it was.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

/// A response as the module printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgiResponse {
    pub status: u16,
    /// Headers to send, in the order printed (repeats kept), without
    /// `Status` and the framing headers the server sets itself.
    pub headers: Vec<(String, String)>,
    /// Where the body starts in stdout.
    pub body_start: usize,
}

/// Why stdout is not a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// No blank line ends the header block, a line is not `Name: value`,
    /// or no line says what the response is (500).
    #[error("the module's output has no valid header block: {0}")]
    NoHeaderBlock(&'static str),
    /// `Status` is not `NNN [reason]` with NNN in 100–599 (502).
    #[error("the module's Status header is malformed")]
    BadStatus,
}

/// The header lines the server owns: framing and connection management.
const SERVER_HEADERS: [&str; 4] = [
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
];

/// The most header bytes a response may have.
pub const MAX_HEADER_BLOCK: usize = 64 << 10;

/// Splits stdout into a header block and a body, and reads the headers:
/// `Content-Type`, `Status: NNN [reason]` (default 200), `Location` (302
/// unless `Status` says otherwise), and any other header, copied. Lines
/// end with `\n` or `\r\n`; the block ends at the first empty line.
pub fn parse_response(stdout: &[u8]) -> Result<CgiResponse, ResponseError> {
    let mut at = 0;
    let mut status = None;
    let mut location = false;
    let mut content_type = false;
    let mut headers = Vec::new();
    loop {
        let Some(end) = stdout[at..].iter().position(|&b| b == b'\n') else {
            return Err(ResponseError::NoHeaderBlock(
                "no blank line after the headers",
            ));
        };
        let line = &stdout[at..at + end];
        at += end + 1;
        if at > MAX_HEADER_BLOCK {
            return Err(ResponseError::NoHeaderBlock("the header block is too long"));
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let line = std::str::from_utf8(line)
            .map_err(|_| ResponseError::NoHeaderBlock("a header line is not UTF-8"))?;
        let (name, value) = line
            .split_once(':')
            .ok_or(ResponseError::NoHeaderBlock("a header line has no colon"))?;
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(ResponseError::NoHeaderBlock("a header name is not a token"));
        }
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(ResponseError::NoHeaderBlock(
                "a header value has control bytes",
            ));
        }
        if name.eq_ignore_ascii_case("status") {
            status = Some(parse_status(value)?);
            continue;
        }
        if SERVER_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            continue;
        }
        location |= name.eq_ignore_ascii_case("location");
        content_type |= name.eq_ignore_ascii_case("content-type");
        headers.push((name.to_owned(), value.to_owned()));
    }
    if status.is_none() && !location && !content_type {
        return Err(ResponseError::NoHeaderBlock(
            "none of Content-Type, Status or Location",
        ));
    }
    let status = status.unwrap_or(if location { 302 } else { 200 });
    Ok(CgiResponse {
        status,
        headers,
        body_start: at,
    })
}

fn parse_status(value: &str) -> Result<u16, ResponseError> {
    let code = value.split_whitespace().next().unwrap_or("");
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ResponseError::BadStatus);
    }
    let code: u16 = code.parse().map_err(|_| ResponseError::BadStatus)?;
    if !(100..=599).contains(&code) {
        return Err(ResponseError::BadStatus);
    }
    Ok(code)
}

/// RFC 9110's `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(
        path: &'a str,
        query: &'a str,
        headers: Vec<(&'a str, &'a [u8])>,
    ) -> RequestInfo<'a> {
        RequestInfo {
            method: "POST",
            path,
            query,
            protocol: "HTTP/1.1",
            headers,
            content_length: 5,
            remote_addr: "127.0.0.1".into(),
            local_port: 8080,
        }
    }

    const PREFIX: RouteInfo<'static> = RouteInfo {
        pattern: "/api/...",
        script_name: "/api",
        argv_template: None,
    };

    fn var<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
        env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn cgi_variables_come_from_the_request_and_route() {
        let req = request(
            "/api/a%20b/c",
            "x=1&y=%41",
            vec![
                ("Host", b"example.com:9000"),
                ("Content-Type", b"text/plain"),
                ("Accept", b"a"),
                ("accept", b"b"),
                ("Authorization", b"Bearer secret"),
                ("Connection", b"keep-alive"),
                ("X-Trace-Id", b"t1"),
            ],
        );
        let env = environment(
            &req,
            &PREFIX,
            &[
                ("REQUEST_METHOD".into(), "x".into()),
                ("MINE".into(), "1".into()),
            ],
        );
        let expect = [
            ("REQUEST_METHOD", "POST"),
            ("SCRIPT_NAME", "/api"),
            ("PATH_INFO", "/a b/c"),
            ("PATH_TRANSLATED", "/a b/c"),
            ("X_RAW_PATH_INFO", "/a%20b/c"),
            ("QUERY_STRING", "x=1&y=%41"),
            ("CONTENT_LENGTH", "5"),
            ("CONTENT_TYPE", "text/plain"),
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            ("SERVER_NAME", "example.com"),
            ("SERVER_PORT", "9000"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("REMOTE_ADDR", "127.0.0.1"),
            (
                "X_FULL_URL",
                "http://example.com:9000/api/a%20b/c?x=1&y=%41",
            ),
            ("X_MATCHED_ROUTE", "/api/..."),
            ("HTTP_ACCEPT", "a, b"),
            ("HTTP_X_TRACE_ID", "t1"),
            ("HTTP_HOST", "example.com:9000"),
            ("MINE", "1"),
        ];
        for (name, value) in expect {
            assert_eq!(var(&env, name), Some(value), "{name}");
        }
        assert_eq!(var(&env, "HTTP_AUTHORIZATION"), None);
        assert_eq!(var(&env, "HTTP_CONNECTION"), None);
        let names: Vec<_> = env.iter().map(|(n, _)| n).collect();
        let mut sorted = names.clone();
        sorted.dedup();
        assert_eq!(names, sorted, "one value per name");
    }

    #[test]
    fn server_port_defaults_to_the_listener() {
        let req = request("/api", "", vec![("Host", b"[::1]")]);
        let env = environment(&req, &PREFIX, &[]);
        assert_eq!(var(&env, "SERVER_NAME"), Some("[::1]"));
        assert_eq!(var(&env, "SERVER_PORT"), Some("8080"));
        assert_eq!(var(&env, "PATH_INFO"), Some(""));
    }

    #[test]
    fn argv_is_the_path_and_the_query_items_or_the_template() {
        let req = request("/api/x", "a=1&&b+c=%2F", vec![]);
        assert_eq!(argv(&req, &PREFIX), ["/api/x", "a=1", "b c=/"]);
        let templated = RouteInfo {
            argv_template: Some("handler ${SCRIPT_NAME} --args ${ARGS} end"),
            ..PREFIX
        };
        assert_eq!(
            argv(&req, &templated),
            ["handler", "/api", "--args", "a=1", "b c=/", "end"]
        );
    }

    #[test]
    fn percent_decoding_keeps_what_it_cannot_decode() {
        assert_eq!(percent_decode("a%2Fb"), "a/b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%ff"), "%ff", "not UTF-8");
    }

    #[test]
    fn responses_parse_with_either_line_ending() {
        let out = b"Content-Type: text/plain\r\nX-One: 1\nX-One: 2\r\n\r\nbody";
        let response = parse_response(out).expect("valid");
        assert_eq!(response.status, 200);
        assert_eq!(
            response.headers,
            [
                ("Content-Type".to_owned(), "text/plain".to_owned()),
                ("X-One".to_owned(), "1".to_owned()),
                ("X-One".to_owned(), "2".to_owned()),
            ]
        );
        assert_eq!(&out[response.body_start..], b"body");
    }

    #[test]
    fn status_and_location_set_the_code() {
        let r = parse_response(b"Location: /x\n\n").expect("valid");
        assert_eq!((r.status, r.headers.len()), (302, 1));
        let r = parse_response(b"Location: /x\nStatus: 301 Moved\n\n").expect("valid");
        assert_eq!(r.status, 301);
        let r = parse_response(b"Status: 404\n\nnope").expect("valid");
        assert_eq!(r.status, 404);
        for bad in [
            "Status: 20\n\n",
            "Status: abc\n\n",
            "Status: 600\n\n",
            "Status:\n\n",
        ] {
            assert_eq!(
                parse_response(bad.as_bytes()),
                Err(ResponseError::BadStatus),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn framing_headers_are_the_servers() {
        let r = parse_response(b"Content-Type: a\nContent-Length: 99\nConnection: close\n\n")
            .expect("valid");
        assert_eq!(r.headers, [("Content-Type".to_owned(), "a".to_owned())]);
    }

    #[test]
    fn output_without_a_header_block_is_refused() {
        for bad in [
            &b"hello world"[..],
            b"Content-Type: text/plain",
            b"\nbody",
            b"X-Only: 1\n\n",
            b"no colon here\n\n",
            b"Bad Name: 1\n\n",
            b"Content-Type: a\x01b\n\n",
            b"Content-Type: \xff\n\n",
        ] {
            assert!(
                matches!(parse_response(bad), Err(ResponseError::NoHeaderBlock(_))),
                "{bad:?}"
            );
        }
        let mut long = b"Content-Type: a\n".to_vec();
        long.extend(std::iter::repeat_n(b"X: 1\n".as_slice(), MAX_HEADER_BLOCK / 5 + 1).flatten());
        long.extend(b"\n");
        assert!(parse_response(&long).is_err());
    }
}
