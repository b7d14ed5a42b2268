// The runc baseline: a static (musl) hello, or with `sleep`, a process that
// waits until it is stopped. Built by benches/containerd.rs.
fn main() {
    if std::env::args().nth(1).as_deref() == Some("sleep") {
        println!("ready");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    println!("hello from wasc");
    eprintln!("to stderr");
}
