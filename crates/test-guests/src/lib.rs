//! Paths of the WASI test guests, built for `wasm32-wasip1` by this crate's
//! build script, and the list of preview-1 functions they must cover.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// Every function of `wasi_snapshot_preview1`.
pub use wasc_wire::wasi::NAMES as PREVIEW1_FUNCTIONS;

/// The `wasi_snapshot_preview1` functions a guest module imports.
pub fn preview1_imports(wasm: &[u8]) -> Result<Vec<String>, wasmparser::BinaryReaderError> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::ImportSection(reader) = payload? {
            for import in reader.into_imports() {
                let import = import?;
                if import.module == "wasi_snapshot_preview1" {
                    names.push(import.name.to_owned());
                }
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The guest suite calls every preview-1 function somewhere; this prints
    /// the mapping and fails naming any function no guest imports.
    #[test]
    fn guests_cover_every_preview1_function() {
        let mut users: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (guest, path) in ALL {
            let wasm = std::fs::read(path).expect("guest artifact");
            for name in preview1_imports(&wasm).expect("valid guest module") {
                let known = PREVIEW1_FUNCTIONS
                    .iter()
                    .find(|f| **f == name)
                    .unwrap_or_else(|| panic!("{guest} imports unknown function {name}"));
                users.entry(known).or_default().push(guest);
            }
        }
        for (function, guests) in &users {
            println!("{function}: {}", guests.join(", "));
        }
        let missing: Vec<_> = PREVIEW1_FUNCTIONS
            .iter()
            .filter(|f| !users.contains_key(*f))
            .collect();
        assert!(missing.is_empty(), "no guest calls {missing:?}");
    }

    #[test]
    fn import_reader_finds_wasi_imports_only() {
        let wasm = wat::parse_str(
            r#"(module
                 (import "wasi_snapshot_preview1" "fd_write" (func))
                 (import "env" "other" (func)))"#,
        )
        .expect("valid text");
        assert_eq!(preview1_imports(&wasm).expect("valid"), ["fd_write"]);
    }
}
