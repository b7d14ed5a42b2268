//! `wasc image`: a plain OCI image tarball holding one module, for
//! `ctr image import` and the containerd shim (docs/containerd.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

/// Make an OCI image of a module, without Docker.
#[derive(Debug, Args)]
pub struct ImageCommand {
    /// The image's reference, `NAME[:TAG]` (`:latest` by default).
    #[arg(long)]
    name: String,
    /// Where to write the image tarball.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// The module (`.wasm`, or `.wat` text, which is compiled to binary).
    module: PathBuf,
}

impl ImageCommand {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let bytes = std::fs::read(&self.module)
            .with_context(|| format!("failed to read `{}`", self.module.display()))?;
        let bytes = wat::parse_bytes(&bytes)
            .map_err(|e| anyhow::anyhow!("`{}`: {e}", self.module.display()))?
            .into_owned();
        let engine = wasmtime::Engine::new(&wasc_runtime::engine_config(false))
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        wasmtime::Module::validate(&engine, &bytes).map_err(|e| {
            anyhow::anyhow!("`{}` is not a valid module: {e:#}", self.module.display())
        })?;
        let stem = self
            .module
            .file_stem()
            .and_then(|s| s.to_str())
            .context("the module's file name is not UTF-8")?;
        let file_name = format!("{stem}.wasm");
        let spec = wasc_oci::ImageSpec {
            name: &self.name,
            file_name: &file_name,
            module: &bytes,
        };
        // Written beside the output and renamed over it: a failure leaves
        // no partial tarball.
        let dir = match self.output.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut file = tempfile::NamedTempFile::new_in(&dir)
            .with_context(|| format!("failed to create a file in `{}`", dir.display()))?;
        wasc_oci::write_image(&spec, std::io::BufWriter::new(file.as_file_mut()))?;
        file.as_file().sync_all()?;
        file.persist(&self.output)
            .with_context(|| format!("failed to write `{}`", self.output.display()))?;
        eprintln!(
            "wrote {} ({}, entrypoint /{file_name})",
            self.output.display(),
            wasc_oci::reference(&self.name)?
        );
        Ok(ExitCode::SUCCESS)
    }
}
