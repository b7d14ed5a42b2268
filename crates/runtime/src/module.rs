//! Loading and checking a function module (untrusted bytes from the user).

use std::path::Path;

use wasmtime::{Engine, ExternType, Module};

use crate::Error;

/// The largest module file `wasc` reads (text or binary).
pub const MAX_MODULE_BYTES: u64 = 256 << 20;

/// Reads a module file, refusing one over [`MAX_MODULE_BYTES`].
pub(crate) fn read_module(path: &Path) -> Result<Vec<u8>, Error> {
    let read_error = |source| Error::ReadModule {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    if size > MAX_MODULE_BYTES {
        return Err(Error::ModuleTooLarge {
            path: path.to_owned(),
            size,
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_MODULE_BYTES + 1),
        &mut bytes,
    )
    .map_err(read_error)?;
    if bytes.len() as u64 > MAX_MODULE_BYTES {
        return Err(Error::ModuleTooLarge {
            path: path.to_owned(),
            size: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

/// Compiles module bytes (binary, or text) and checks that they are a WASI
/// command: it must export `_start: [] -> []`. `name` stands for the module
/// in messages.
///
/// `wasmtime run` silently does nothing for a module without `_start`; wasc
/// refuses it, because a function that cannot be started is a deployment
/// mistake the user should hear about.
pub(crate) fn compile_module(engine: &Engine, name: &Path, bytes: &[u8]) -> Result<Module, Error> {
    if bytes.len() as u64 > MAX_MODULE_BYTES {
        return Err(Error::ModuleTooLarge {
            path: name.to_owned(),
            size: bytes.len() as u64,
        });
    }
    let binary = if wat::Detect::from_bytes(bytes).is_wasm() {
        std::borrow::Cow::Borrowed(bytes)
    } else {
        wat::parse_bytes(bytes).map_err(|error| Error::ParseText {
            path: name.to_owned(),
            message: text_error_line(error, name),
        })?
    };
    let module = Module::new(engine, &binary).map_err(|source| Error::CompileModule {
        path: name.to_owned(),
        source,
    })?;
    match module.get_export("_start") {
        Some(ExternType::Func(ty)) if ty.params().len() == 0 && ty.results().len() == 0 => {
            Ok(module)
        }
        Some(ty) => Err(Error::BadStartType {
            path: name.to_owned(),
            ty: format!("{ty:?}"),
        }),
        None => Err(Error::NoStartExport {
            path: name.to_owned(),
        }),
    }
}

/// wat renders errors as a message followed by a source snippet; keep the
/// message and the `file:line:col` location on one line.
fn text_error_line(mut error: wat::Error, path: &Path) -> String {
    error.set_path(path);
    let rendered = error.to_string();
    let mut lines = rendered.lines();
    let message = lines.next().unwrap_or("invalid text").trim();
    match lines.next().and_then(|l| l.trim().strip_prefix("--> ")) {
        Some(location) => format!("{message} (at {location})"),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load_text(text: &[u8]) -> Result<Module, Error> {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(text).expect("write module");
        let bytes = read_module(file.path())?;
        compile_module(&Engine::default(), file.path(), &bytes)
    }

    #[test]
    fn accepts_wat_command() {
        assert!(load_text(b"(module (func (export \"_start\")))").is_ok());
    }

    #[test]
    fn rejects_module_without_start() {
        let err = load_text(b"(module (func (export \"main\")))").expect_err("no _start");
        assert!(matches!(err, Error::NoStartExport { .. }), "{err}");
    }

    #[test]
    fn rejects_start_with_parameters() {
        let err =
            load_text(b"(module (func (export \"_start\") (param i32)))").expect_err("bad _start");
        assert!(matches!(err, Error::BadStartType { .. }), "{err}");
    }

    #[test]
    fn rejects_truncated_binary_with_one_line_message() {
        let err = load_text(b"\0asm\x01\0\0\0\x01").expect_err("truncated");
        assert!(matches!(err, Error::CompileModule { .. }), "{err}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
    }

    #[test]
    fn rejects_bad_text_with_one_line_message() {
        let err = load_text(b"this is not wasm").expect_err("bad text");
        assert!(matches!(err, Error::ParseText { .. }), "{err}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
        assert!(err.to_string().contains(":1:1"), "location: {err}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_module(Path::new("/nonexistent/m.wasm")).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/m.wasm"), "{err}");
    }
}
