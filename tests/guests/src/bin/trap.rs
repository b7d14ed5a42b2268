//! Prints a line, then executes `unreachable`.
fn main() {
    println!("about to trap");
    core::arch::wasm32::unreachable();
}
