//! sock_accept, sock_recv, sock_send, sock_shutdown on descriptors that are
//! not sockets and on ones that do not exist.
use wasc_guests::{status, wasi};

fn main() {
    let mut buf = [0u8; 8];
    for fd in [0u32, 1, 99] {
        // SAFETY: WASI calls on live buffers.
        unsafe {
            status(&format!("sock_accept({fd})"), wasi::sock_accept(fd, 0));
            let iov = wasi::Iovec {
                buf: buf.as_mut_ptr(),
                buf_len: buf.len(),
            };
            status(&format!("sock_recv({fd})"), wasi::sock_recv(fd, &[iov], 0));
            let ciov = wasi::Ciovec {
                buf: buf.as_ptr(),
                buf_len: buf.len(),
            };
            status(&format!("sock_send({fd})"), wasi::sock_send(fd, &[ciov], 0));
            status(
                &format!("sock_shutdown({fd})"),
                wasi::sock_shutdown(fd, wasi::SDFLAGS_WR),
            );
        }
    }
}
