//! The WAGI contract end to end over real TCP, in both isolation modes,
//! with identical responses: the environment, argv, the body on stdin,
//! header parsing, statuses, routing, and every error status.

mod common;

use common::{config, get, route, send, start, MODES};
use wasc_runtime::Isolation;

/// The routes every test here serves.
fn routes() -> Vec<wasc_serve::Route> {
    let mut exact = route("/exact");
    exact.argv = Some("probe env ${SCRIPT_NAME} ${ARGS}".into());
    vec![route("/probe/..."), exact]
}

/// Each request in each mode: the responses must be the same.
fn in_both_modes(
    requests: impl Fn(std::net::SocketAddr) -> Vec<common::Reply>,
) -> Vec<common::Reply> {
    let mut answers = Vec::new();
    for mode in MODES {
        let server = start(config(mode, routes()));
        answers.push(requests(server.addr));
        server.stop().expect("graceful stop");
    }
    let (vm, none) = (&answers[0], &answers[1]);
    for (v, n) in vm.iter().zip(none) {
        assert_eq!(
            (
                v.status,
                v.header("content-type"),
                v.header("location"),
                &v.body
            ),
            (
                n.status,
                n.header("content-type"),
                n.header("location"),
                &n.body
            ),
            "VM and in-process responses differ"
        );
    }
    answers.swap_remove(0)
}

#[test]
fn the_environment_argv_and_body_follow_cgi() {
    let replies = in_both_modes(|addr| {
        vec![send(
            addr,
            "POST",
            "/probe/a%20b/c?env&q=1+2&r=%2F",
            &[
                ("Host", "example.test:8123"),
                ("Content-Type", "text/plain"),
                ("Accept", "a"),
                ("Accept", "b"),
                ("Authorization", "Bearer secret"),
                ("X-Request-Id", "42"),
            ],
            b"the body",
        )]
    });
    let reply = &replies[0];
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), ["text/plain"]);
    let text = reply.text();
    for line in [
        "argv[0]=/probe/a b/c",
        "argv[1]=env",
        "argv[2]=q=1 2",
        "argv[3]=r=/",
        "REQUEST_METHOD=POST",
        "SCRIPT_NAME=/probe",
        "PATH_INFO=/a b/c",
        "PATH_TRANSLATED=/a b/c",
        "X_RAW_PATH_INFO=/a%20b/c",
        "QUERY_STRING=env&q=1+2&r=%2F",
        "CONTENT_LENGTH=8",
        "CONTENT_TYPE=text/plain",
        "GATEWAY_INTERFACE=CGI/1.1",
        "SERVER_NAME=example.test",
        "SERVER_PORT=8123",
        "SERVER_PROTOCOL=HTTP/1.1",
        "REMOTE_ADDR=127.0.0.1",
        "REMOTE_HOST=127.0.0.1",
        "AUTH_TYPE=",
        "REMOTE_USER=",
        "X_FULL_URL=http://example.test:8123/probe/a%20b/c?env&q=1+2&r=%2F",
        "X_MATCHED_ROUTE=/probe/...",
        "HTTP_ACCEPT=a, b",
        "HTTP_X_REQUEST_ID=42",
        "HTTP_HOST=example.test:8123",
        "ROUTE_VAR=from the route",
        "body:\nthe body",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(text.contains("SERVER_SOFTWARE=WaSC/"), "{text}");
    assert!(!text.contains("HTTP_AUTHORIZATION"), "{text}");
    assert!(!text.contains("HTTP_CONNECTION"), "{text}");
}

#[test]
fn routes_match_exactly_or_by_prefix_and_templates_shape_argv() {
    let replies = in_both_modes(|addr| {
        vec![
            get(addr, "/exact?x&y"),
            get(addr, "/exact/more"),
            get(addr, "/probe"),
            get(addr, "/probex"),
            get(addr, "/"),
        ]
    });
    let text = replies[0].text();
    for line in [
        "argv[0]=probe",
        "argv[1]=env",
        "argv[2]=/exact",
        "argv[3]=x",
        "argv[4]=y",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    assert!(text.contains("PATH_INFO=\n"), "{text}");
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 404, 200, 404, 404]);
    assert_eq!(replies[1].text(), "Not Found\n", "a generic body");
}

#[test]
fn status_location_and_headers_come_from_the_header_block() {
    let replies = in_both_modes(|addr| {
        vec![
            get(addr, "/probe?status=404+Gone"),
            get(addr, "/probe?location=/elsewhere"),
            get(addr, "/probe?location=/moved&status=301"),
            get(
                addr,
                "/probe?status=200&header=X-Twice:+1&header=X-Twice:+2&header=Content-Type:+a/b",
            ),
            get(addr, "/probe?raw=Content-Type:+text/x%0D%0A%0D%0Acrlf+body"),
        ]
    });
    assert_eq!(replies[0].status, 404);
    assert_eq!(replies[0].text(), "done");
    assert_eq!(
        (replies[1].status, replies[1].header("location")),
        (302, vec!["/elsewhere"])
    );
    assert_eq!(replies[2].status, 301);
    assert_eq!(replies[3].header("x-twice"), ["1", "2"]);
    assert_eq!(replies[3].header("content-type"), ["a/b"]);
    assert_eq!(
        (replies[4].header("content-type"), replies[4].text()),
        (vec!["text/x"], "crlf body".into())
    );
}

#[test]
fn failures_become_generic_error_statuses() {
    let replies = in_both_modes(|addr| {
        vec![
            get(addr, "/probe?raw=no+header+block"),
            get(addr, "/probe?raw=X-Only:+1%0A%0A"),
            get(addr, "/probe?raw=Status:+abc%0A%0A"),
            get(addr, "/probe?trap"),
            get(addr, "/probe?exit=3"),
            get(addr, "/probe?spin"),
            send(addr, "POST", "/probe?env", &[], &vec![b'x'; (64 << 10) + 1]),
            get(addr, "/probe?huge=2000000"),
        ]
    });
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 502, 500, 500, 504, 413, 500]);
    assert_eq!(replies[5].text(), "Gateway Timeout\n");
    for reply in &replies {
        assert!(
            !reply.text().contains("probe"),
            "no details leak: {reply:?}"
        );
    }
}

#[test]
fn every_request_gets_a_fresh_instance() {
    let replies = in_both_modes(|addr| (0..3).map(|_| get(addr, "/probe?count")).collect());
    for reply in replies {
        assert_eq!(
            reply.text(),
            "count=1 earlier=\"\"",
            "state leaked between requests"
        );
    }
}

/// A route's `--dir` is opened once at start; every instance — on a
/// confined worker with VM isolation — gets its own copy.
#[test]
fn a_routes_directory_reaches_every_instance() {
    let data = tempfile::tempdir().expect("temp dir");
    std::fs::write(data.path().join("a.txt"), "from the host").expect("write");
    let mut answers = Vec::new();
    for mode in MODES {
        let mut files = route("/files/...");
        files.dirs = vec![format!("{}::/data", data.path().display())
            .parse()
            .expect("dir")];
        let server = start(config(mode, vec![files]));
        for _ in 0..3 {
            answers.push((mode, get(server.addr, "/files?read=/data/a.txt")));
        }
        answers.push((mode, get(server.addr, "/files?read=/data/missing")));
        server.stop().expect("stop");
    }
    for (mode, reply) in answers.iter().filter(|(_, r)| r.status == 200) {
        assert_eq!(reply.text(), "from the host", "{mode:?}");
    }
    let statuses: Vec<u16> = answers.iter().map(|(_, r)| r.status).collect();
    assert_eq!(statuses, [200, 200, 200, 404, 200, 200, 200, 404]);
}

#[test]
fn a_full_queue_is_503_and_the_rest_are_served() {
    for mode in [Isolation::Vm, Isolation::None] {
        let mut one_worker = config(mode, routes());
        one_worker.workers = 1;
        one_worker.queue = 1;
        let server = start(one_worker);
        let addr = server.addr;
        let replies: Vec<common::Reply> = std::thread::scope(|scope| {
            let first = scope.spawn(move || get(addr, "/probe?sleep=400"));
            std::thread::sleep(std::time::Duration::from_millis(100));
            let rest: Vec<_> = (0..3)
                .map(|_| scope.spawn(move || get(addr, "/probe?sleep=400")))
                .collect();
            std::iter::once(first)
                .chain(rest)
                .map(|t| t.join().expect("client"))
                .collect()
        });
        let busy = replies.iter().filter(|r| r.status == 503).count();
        assert!(busy >= 1, "{mode:?}: {replies:?}");
        for reply in replies.iter().filter(|r| r.status != 503) {
            assert_eq!(
                (reply.status, reply.text()),
                (200, "slept".into()),
                "{mode:?}"
            );
        }
        server.stop().expect("stop");
    }
}

#[test]
fn a_stop_lets_requests_in_flight_finish() {
    for mode in [Isolation::Vm, Isolation::None] {
        let server = start(config(mode, routes()));
        let addr = server.addr;
        let in_flight = std::thread::spawn(move || get(addr, "/probe?sleep=300"));
        std::thread::sleep(std::time::Duration::from_millis(100));
        server.stop().expect("graceful stop");
        let reply = in_flight.join().expect("client");
        assert_eq!(
            (reply.status, reply.text()),
            (200, "slept".into()),
            "{mode:?}"
        );
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "{mode:?}: still accepting after the stop"
        );
    }
}
