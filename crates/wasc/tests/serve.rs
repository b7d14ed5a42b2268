//! `wasc serve` as users start it: the process serves on loopback, stops
//! gracefully on SIGTERM (finishing the request in flight, exit 0), and
//! refuses bad set-ups with one line before serving anything.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn wasc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wasc"))
}

/// `GET target` on a new connection: status line and body.
fn get(addr: &str, target: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

/// A `wasc serve` child on an ephemeral loopback port serving the probe at
/// every path: the child, its log, and the address it announced.
fn serve(
    args: &[&str],
) -> (
    std::process::Child,
    BufReader<std::process::ChildStderr>,
    String,
) {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    all.push(std::ffi::OsStr::new(wasc_test_guests::WAGI_PROBE));
    start(&all)
}

/// `wasc serve --listen 127.0.0.1:0 ARGS…`, once it has said where it
/// listens.
fn start(
    args: &[&std::ffi::OsStr],
) -> (
    std::process::Child,
    BufReader<std::process::ChildStderr>,
    String,
) {
    let mut child = wasc()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wasc serve");
    let mut log = BufReader::new(child.stderr.take().expect("stderr"));
    let mut first = String::new();
    log.read_line(&mut first).expect("first log line");
    let addr = first
        .trim()
        .strip_prefix("wasc serve: listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    (child, log, addr)
}

/// Sends `signal` to the child this test started, by its pid.
fn signal(child: &std::process::Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: kill with the pid of our own child.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

#[test]
fn sigterm_stops_gracefully_after_the_request_in_flight() {
    // Poll too: its pooled VMs keep their vCPU threads, which the stop
    // must end under the confined threads' filters.
    let modes: [&[&str]; 3] = [
        &["--isolation", "vm"],
        &["--isolation", "vm", "--transport", "poll"],
        &["--isolation", "none"],
    ];
    for mode in modes {
        let isolation = mode.join(" ");
        let (mut child, mut log, addr) = serve(mode);
        let hello = get(&addr, "/hello?env");
        assert!(hello.starts_with("HTTP/1.1 200"), "{isolation}: {hello}");
        assert!(hello.contains("PATH_INFO=/hello"), "{isolation}: {hello}");

        let in_flight = {
            let addr = addr.clone();
            std::thread::spawn(move || get(&addr, "/slow?sleep=500"))
        };
        std::thread::sleep(Duration::from_millis(150));
        signal(&child, libc::SIGTERM);
        let answered = in_flight.join().expect("client");
        assert!(
            answered.starts_with("HTTP/1.1 200"),
            "{isolation}: {answered}"
        );
        assert!(answered.ends_with("slept"), "{isolation}: {answered}");
        let status = child.wait().expect("wait");
        let mut rest = String::new();
        log.read_to_string(&mut rest).expect("log");
        assert_eq!(status.code(), Some(0), "{isolation}: {rest}");
        assert!(
            rest.contains("\"GET /slow\" 200"),
            "{isolation}: access log: {rest}"
        );
        assert!(rest.contains("wasc serve: stopped"), "{isolation}: {rest}");
    }
}

/// One `Error:` line and status 1, before anything is served.
fn refused(args: &[&str], expect: &str) {
    let out = wasc()
        .arg("serve")
        .args(args)
        .output()
        .expect("run wasc serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.starts_with("Error: ") && stderr.contains(expect),
        "{args:?}: {stderr}"
    );
}

#[test]
fn bad_set_ups_are_refused_in_one_line() {
    refused(
        &["--listen", "127.0.0.1:0", "/nonexistent/m.wasm"],
        "/nonexistent/m.wasm",
    );
    refused(
        &[
            "--listen",
            "127.0.0.1:0",
            "--kvm-device",
            "/nonexistent/kvm",
            wasc_test_guests::WAGI_PROBE,
        ],
        "KVM",
    );
    refused(
        &["--listen", "not an address", wasc_test_guests::WAGI_PROBE],
        "not an address",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let routes = dir.path().join("routes.toml");
    std::fs::write(&routes, "[[route]]\npath = \"nope\"\nmodule = \"m.wasm\"\n").expect("write");
    refused(
        &["--routes", routes.to_str().expect("utf-8")],
        "starts with `/`",
    );
}

/// While `wasc serve` serves with VM isolation, every thread of the process
/// that runs user code — main, network, workers, epoch ticker — is under a
/// seccomp filter.
#[test]
fn every_thread_of_a_vm_server_is_confined() {
    let (mut child, _log, addr) = serve(&[]);
    // A request: every kind of thread has started and done its work once.
    assert!(get(&addr, "/probe?env").starts_with("HTTP/1.1 200"));
    let threads = wasc_seccomp::user_threads_of(child.id()).expect("read /proc");
    signal(&child, libc::SIGTERM);
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    let names: Vec<&str> = threads.iter().map(|t| t.name.as_str()).collect();
    for expected in ["wasc", "wasc-net", "wasc-worker-0", "wasc-epoch"] {
        assert!(
            names.iter().any(|n| n.starts_with(expected)),
            "{expected} missing: {names:?}"
        );
    }
    for task in &threads {
        assert_eq!(task.seccomp, 2, "thread {task:?} is not confined");
    }
}

/// A stopped and continued server (job control, a cgroup freezer) serves
/// on: its threads' interrupted sleeps resume through `restart_syscall`,
/// which every policy allows.
#[test]
fn a_server_survives_sigstop_and_sigcont() {
    let (mut child, mut log, addr) = serve(&[]);
    for stop_or_go in [libc::SIGSTOP, libc::SIGCONT] {
        signal(&child, stop_or_go);
        std::thread::sleep(Duration::from_millis(200));
    }
    let answer = get(&addr, "/probe?env");
    signal(&child, libc::SIGTERM);
    let status = child.wait().expect("wait");
    let mut rest = String::new();
    log.read_to_string(&mut rest).expect("log");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}\n{rest}");
    assert_eq!(status.code(), Some(0), "{rest}");
}

/// A server whose log reader is gone (stderr closed) serves on: a log line
/// that cannot be written is lost, not a failed request.
#[test]
fn a_closed_log_does_not_stop_requests() {
    let (mut child, log, addr) = serve(&[]);
    drop(log);
    for _ in 0..3 {
        let answer = get(&addr, "/probe?stderr");
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("logged"),
            "{answer}"
        );
    }
    signal(&child, libc::SIGTERM);
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}

/// `--routes FILE`: two routes with their own env, directory (relative to
/// the file) and argv template, served by one process.
#[test]
fn a_routes_file_serves_each_route_with_its_own_grants() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("data")).expect("data dir");
    std::fs::write(dir.path().join("data/x.txt"), "route data").expect("write");
    let routes = dir.path().join("routes.toml");
    std::fs::write(
        &routes,
        format!(
            "[[route]]\npath = \"/env\"\nmodule = {probe:?}\nenv = [\"WHO=env route\"]\nargv = \"probe env ${{ARGS}} end\"\n\n\
             [[route]]\npath = \"/files/...\"\nmodule = {probe:?}\ndir = [\"data::/data\"]\ntimeout = \"5s\"\n",
            probe = wasc_test_guests::WAGI_PROBE
        ),
    )
    .expect("write routes");
    let (mut child, _log, addr) = start(&["--routes".as_ref(), routes.as_os_str()]);
    let env = get(&addr, "/env?a=1");
    let file = get(&addr, "/files/any?read=/data/x.txt");
    let missing = get(&addr, "/elsewhere");
    signal(&child, libc::SIGTERM);
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    assert!(env.starts_with("HTTP/1.1 200"), "{env}");
    for line in [
        "argv[0]=probe",
        "argv[2]=a=1",
        "argv[3]=end",
        "WHO=env route",
        "X_MATCHED_ROUTE=/env",
    ] {
        assert!(env.contains(line), "{line}: {env}");
    }
    assert!(
        file.starts_with("HTTP/1.1 200") && file.ends_with("route data"),
        "{file}"
    );
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}
