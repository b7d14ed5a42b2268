//! A plain OCI image (image-layout tarball) that holds one Wasm module as
//! its entrypoint: what `wasc image` writes and `ctr image import` reads.
//!
//! The image has one uncompressed layer with the module at
//! `/<file name>`, a config whose `Entrypoint` is that path, and the
//! host's platform, so `ctr run` picks it without `--platform`: the
//! containerd shim, not the platform, decides that it is Wasm. Every byte
//! is deterministic (no timestamps, owner 0), so the same module and name
//! give the same digests.

use std::io::Write;

use serde_json::json;
use sha2::{Digest, Sha256};

/// A Wasm module starts with these four bytes.
const WASM_MAGIC: &[u8; 4] = b"\0asm";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{0}` is not a WebAssembly binary (no `\\0asm` header); compile text modules first")]
    NotWasm(String),
    #[error("invalid image name `{name}`: {why}")]
    BadName { name: String, why: &'static str },
    #[error("invalid entrypoint file name `{0}`: it must be one plain file name")]
    BadEntrypoint(String),
    #[error("failed to write the image: {0}")]
    Write(#[from] std::io::Error),
}

/// What goes into the image.
#[derive(Debug, Clone)]
pub struct ImageSpec<'a> {
    /// The reference `ctr` will know it by (`NAME:TAG`; `:latest` is added
    /// when there is no tag).
    pub name: &'a str,
    /// The module's file name in the image's root, e.g. `hello.wasm`.
    pub file_name: &'a str,
    /// The module's bytes: a Wasm binary.
    pub module: &'a [u8],
}

/// The image's reference as it will be stored: the name with `:latest`
/// when it has no tag. Names are refused when containerd would be.
pub fn reference(name: &str) -> Result<String, Error> {
    let bad = |why| Error::BadName {
        name: name.to_owned(),
        why,
    };
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name.len() > 255 {
        return Err(bad("it is longer than 255 bytes"));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains white space or a control character"));
    }
    if name.contains('@') {
        return Err(bad("digests are given by the image, not chosen"));
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.is_empty() {
        return Err(bad("it ends in `/`"));
    }
    // A tag is what follows `:` in the last path segment (a `:` before it
    // is a registry's port); tags may have capitals, repositories not.
    let tag_at = last.rfind(':').map(|i| name.len() - last.len() + i);
    let repository = &name[..tag_at.unwrap_or(name.len())];
    if repository.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(bad("repository names are lower case"));
    }
    Ok(match tag_at {
        Some(_) => name.to_owned(),
        None => format!("{name}:latest"),
    })
}

/// The OCI platform names of the machine this runs on.
fn platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "riscv64" => "riscv64",
        other => other,
    };
    ("linux", arch)
}

/// A content-addressed blob.
struct Blob {
    digest: String,
    bytes: Vec<u8>,
}

impl Blob {
    fn new(bytes: Vec<u8>) -> Self {
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        Self { digest, bytes }
    }

    fn path(&self) -> String {
        format!("blobs/sha256/{}", &self.digest["sha256:".len()..])
    }
}

/// Appends one regular file with fixed metadata.
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    mode: u32,
    data: &[u8],
) -> Result<(), Error> {
    let mut header = tar::Header::new_ustar();
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, data)?;
    Ok(())
}

fn tarball(files: &[(&str, u32, &[u8])]) -> Result<Vec<u8>, Error> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, mode, data) in files {
        append(&mut tar, path, *mode, data)?;
    }
    Ok(tar.into_inner()?)
}

/// Writes the image-layout tarball for `spec` to `out`. Everything is
/// checked before the first byte is written.
pub fn write_image<W: Write>(spec: &ImageSpec<'_>, out: W) -> Result<(), Error> {
    if !spec.module.starts_with(WASM_MAGIC) {
        return Err(Error::NotWasm(spec.file_name.to_owned()));
    }
    write_entrypoint_image(spec.name, spec.file_name, spec.module, 0o644, out)
}

/// An image of the same shape with any one file as its entrypoint — the
/// benchmark's native baseline (a static binary, mode 0755, run by runc).
pub fn write_entrypoint_image<W: Write>(
    name: &str,
    file_name: &str,
    bytes: &[u8],
    mode: u32,
    out: W,
) -> Result<(), Error> {
    if file_name.is_empty() || file_name.contains('/') || file_name == "." || file_name == ".." {
        return Err(Error::BadEntrypoint(file_name.to_owned()));
    }
    let reference = reference(name)?;
    let tag = reference.rsplit(':').next().unwrap_or("latest");
    let entrypoint = format!("/{file_name}");

    let layer = Blob::new(tarball(&[(file_name, mode, bytes)])?);
    let (os, arch) = platform();
    let config = Blob::new(
        serde_json::to_vec(&json!({
            "architecture": arch,
            "os": os,
            "config": { "Entrypoint": [entrypoint] },
            "rootfs": { "type": "layers", "diff_ids": [layer.digest] },
        }))
        .map_err(std::io::Error::other)?,
    );
    let manifest = Blob::new(
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config.digest,
                "size": config.bytes.len(),
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer.digest,
                "size": layer.bytes.len(),
            }],
        }))
        .map_err(std::io::Error::other)?,
    );
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest.digest,
            "size": manifest.bytes.len(),
            "platform": { "os": os, "architecture": arch },
            "annotations": {
                "io.containerd.image.name": reference,
                "org.opencontainers.image.ref.name": tag,
            },
        }],
    }))
    .map_err(std::io::Error::other)?;
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;

    let mut tar = tar::Builder::new(out);
    append(&mut tar, "oci-layout", 0o644, layout)?;
    append(&mut tar, "index.json", 0o644, &index)?;
    for blob in [&layer, &config, &manifest] {
        append(&mut tar, &blob.path(), 0o644, &blob.bytes)?;
    }
    tar.into_inner()?.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE: &[u8] = b"\0asm\x01\0\0\0";

    fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut archive = tar::Archive::new(bytes);
        let mut out = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let path = entry.path().expect("path").to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).expect("read");
            out.push((path, data));
        }
        out
    }

    fn json_of(entries: &[(String, Vec<u8>)], path: &str) -> serde_json::Value {
        let (_, data) = entries.iter().find(|(p, _)| p == path).expect(path);
        serde_json::from_slice(data).expect("json")
    }

    fn blob_path(digest: &serde_json::Value) -> String {
        let digest = digest.as_str().expect("digest string");
        format!(
            "blobs/sha256/{}",
            digest.strip_prefix("sha256:").expect("sha256")
        )
    }

    #[test]
    fn the_layout_links_index_manifest_config_and_layer_by_digest() {
        let mut out = Vec::new();
        let spec = ImageSpec {
            name: "hello",
            file_name: "hello.wasm",
            module: MODULE,
        };
        write_image(&spec, &mut out).expect("image");
        let entries = entries(&out);
        let index = json_of(&entries, "index.json");
        let descriptor = &index["manifests"][0];
        assert_eq!(
            descriptor["annotations"]["io.containerd.image.name"],
            "hello:latest"
        );
        let manifest = json_of(&entries, &blob_path(&descriptor["digest"]));
        let config = json_of(&entries, &blob_path(&manifest["config"]["digest"]));
        assert_eq!(config["config"]["Entrypoint"][0], "/hello.wasm");
        let layer_path = blob_path(&manifest["layers"][0]["digest"]);
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            manifest["layers"][0]["digest"]
        );
        // Every blob's name is its content's digest, and sizes match.
        for (path, data) in entries.iter().filter(|(p, _)| p.starts_with("blobs/")) {
            assert_eq!(path, &format!("blobs/sha256/{:x}", Sha256::digest(data)));
        }
        let (_, layer) = entries
            .iter()
            .find(|(p, _)| *p == layer_path)
            .expect("layer");
        assert_eq!(manifest["layers"][0]["size"], layer.len());
        let files = self::entries(layer);
        assert_eq!(files, [("hello.wasm".to_owned(), MODULE.to_vec())]);
    }

    #[test]
    fn the_same_input_gives_the_same_bytes() {
        let spec = ImageSpec {
            name: "a/b:1",
            file_name: "m.wasm",
            module: MODULE,
        };
        let (mut one, mut two) = (Vec::new(), Vec::new());
        write_image(&spec, &mut one).expect("image");
        write_image(&spec, &mut two).expect("image");
        assert_eq!(one, two);
    }

    #[test]
    fn bad_input_is_refused_before_anything_is_written() {
        let mut out = Vec::new();
        let text = ImageSpec {
            name: "x",
            file_name: "m.wat",
            module: b"(module)",
        };
        assert!(matches!(
            write_image(&text, &mut out),
            Err(Error::NotWasm(_))
        ));
        let nested = ImageSpec {
            name: "x",
            file_name: "a/m.wasm",
            module: MODULE,
        };
        assert!(matches!(
            write_image(&nested, &mut out),
            Err(Error::BadEntrypoint(_))
        ));
        for name in ["", "Upper", "a b", "x@sha256:00", "x/"] {
            let spec = ImageSpec {
                name,
                file_name: "m.wasm",
                module: MODULE,
            };
            assert!(
                matches!(write_image(&spec, &mut out), Err(Error::BadName { .. })),
                "{name:?}"
            );
        }
        assert!(out.is_empty());
    }

    #[test]
    fn tags_are_kept_and_latest_is_the_default() {
        assert_eq!(
            reference("reg.io:5000/x/y").expect("ok"),
            "reg.io:5000/x/y:latest"
        );
        assert_eq!(reference("x/y:v2").expect("ok"), "x/y:v2");
        assert_eq!(reference("x/y:V2-RC").expect("ok"), "x/y:V2-RC");
        assert!(reference("X/y:v2").is_err());
    }
}
