//! `wasc bench`'s TCP echo: accepts one connection on the `--tcplisten`
//! socket (fd 3), blocking, and sends back every byte it receives until the
//! peer's end of stream.
use wasc_guests::wasi;

const LISTENER: wasi::Fd = 3;

fn main() {
    // SAFETY: plain WASI calls on live buffers.
    unsafe {
        wasi::fd_fdstat_set_flags(LISTENER, 0).expect("a blocking listener");
        let conn = wasi::sock_accept(LISTENER, 0).expect("accept");
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let iov = wasi::Iovec {
                buf: buf.as_mut_ptr(),
                buf_len: buf.len(),
            };
            let (n, _) = wasi::sock_recv(conn, &[iov], 0).expect("recv");
            if n == 0 {
                break;
            }
            // A blocking send sends everything.
            let ciov = wasi::Ciovec {
                buf: buf.as_ptr(),
                buf_len: n,
            };
            let sent = wasi::sock_send(conn, &[ciov], 0).expect("send");
            assert_eq!(sent, n, "a blocking send sends everything");
        }
        wasi::fd_close(conn).expect("close");
    }
}
