//! Routes: which module serves which path, with its own grants and limits.
//! A route is exact (`/hello`), or a prefix when it ends in `/...`
//! (`/api/...` serves `/api` and everything under `/api/`); the longest
//! match wins. `wasc serve --routes FILE` reads them from TOML.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use wasc_runtime::{DirMapping, EnvVar, Limits, TmpfsMount};

/// One route: its pattern, its module, and what each of its instances gets.
#[derive(Debug, Clone)]
pub struct Route {
    /// As configured: `/hello` or `/api/...`.
    pub pattern: String,
    pub module: PathBuf,
    pub dirs: Vec<DirMapping>,
    pub tmpfs: Vec<TmpfsMount>,
    /// Resolved `NAME=value` pairs.
    pub env: Vec<(String, String)>,
    pub limits: Limits,
    /// The argv template (`${SCRIPT_NAME}`, `${ARGS}`), if any.
    pub argv: Option<String>,
}

impl Route {
    /// The pattern without `/...`: `SCRIPT_NAME`.
    pub fn script_name(&self) -> &str {
        self.pattern.strip_suffix("/...").unwrap_or(&self.pattern)
    }

    fn is_prefix(&self) -> bool {
        self.pattern.ends_with("/...")
    }

    /// Whether `path` (as sent, without the query) is this route's.
    pub fn matches(&self, path: &str) -> bool {
        let name = self.script_name();
        if !self.is_prefix() {
            return path == name;
        }
        // `/...` alone serves every path.
        name.is_empty()
            || path == name
            || path
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// The route serving `path`: the longest match.
pub fn find<'a>(routes: &'a [Route], path: &str) -> Option<(usize, &'a Route)> {
    routes
        .iter()
        .enumerate()
        .filter(|(_, route)| route.matches(path))
        .max_by_key(|(_, route)| (route.script_name().len(), !route.is_prefix()))
}

#[derive(Debug, thiserror::Error)]
pub enum RoutesError {
    #[error("failed to read the routes file `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the routes file `{}` is not valid: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("route `{route}`: {message}")]
    Route { route: String, message: String },
    #[error("no routes: give a module, or routes in --routes")]
    Empty,
}

/// Checks a pattern: it starts with `/`, and `...` appears only as a final
/// `/...`.
pub fn check_pattern(pattern: &str) -> Result<(), RoutesError> {
    let bad = |message: &str| RoutesError::Route {
        route: pattern.to_owned(),
        message: message.to_owned(),
    };
    if !pattern.starts_with('/') {
        return Err(bad("a route starts with `/`"));
    }
    let body = pattern.strip_suffix("/...").unwrap_or(pattern);
    if body.contains("...") {
        return Err(bad("`...` may only end a route, as `/...`"));
    }
    if pattern.contains(['?', '#']) || pattern.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(bad(
            "a route is a path: no query, fragment, spaces or control bytes",
        ));
    }
    Ok(())
}

/// The TOML file: `[[route]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutesFile {
    #[serde(default)]
    route: Vec<RouteEntry>,
}

/// One `[[route]]`: the same names as `wasc run`'s flags.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RouteEntry {
    path: String,
    module: PathBuf,
    #[serde(default)]
    dir: Vec<String>,
    #[serde(default)]
    tmpfs: Vec<String>,
    #[serde(default)]
    env: Vec<String>,
    max_memory: Option<String>,
    timeout: Option<String>,
    max_fds: Option<u32>,
    argv: Option<String>,
}

/// Reads a routes file. Module and `--dir` paths are relative to the
/// file's directory; every route's limits start from `defaults`.
pub fn read(path: &Path, defaults: Limits) -> Result<Vec<Route>, RoutesError> {
    let text = std::fs::read_to_string(path).map_err(|source| RoutesError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file: RoutesFile = toml::from_str(&text).map_err(|e| RoutesError::Parse {
        path: path.to_owned(),
        message: e.message().to_owned(),
    })?;
    if file.route.is_empty() {
        return Err(RoutesError::Empty);
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut routes: Vec<Route> = Vec::new();
    for entry in file.route {
        let route = route(entry, base, defaults)?;
        if routes.iter().any(|r| r.pattern == route.pattern) {
            return Err(RoutesError::Route {
                route: route.pattern,
                message: "listed twice".into(),
            });
        }
        routes.push(route);
    }
    Ok(routes)
}

fn route(entry: RouteEntry, base: &Path, defaults: Limits) -> Result<Route, RoutesError> {
    check_pattern(&entry.path)?;
    let bad = |message: String| RoutesError::Route {
        route: entry.path.clone(),
        message,
    };
    let mut dirs = Vec::new();
    for dir in &entry.dir {
        let mut mapping: DirMapping = dir.parse().map_err(bad)?;
        mapping.host = base.join(&mapping.host);
        dirs.push(mapping);
    }
    let tmpfs = entry
        .tmpfs
        .iter()
        .map(|t| t.parse::<TmpfsMount>())
        .collect::<Result<_, _>>()
        .map_err(bad)?;
    let env = entry
        .env
        .iter()
        .map(|var| var.parse::<EnvVar>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let env = resolve_env(&env).map_err(bad)?;
    let mut limits = defaults;
    if let Some(size) = &entry.max_memory {
        limits.max_memory = wasc_runtime::parse_size(size).map_err(bad)?;
    }
    if let Some(timeout) = &entry.timeout {
        limits.timeout = wasc_runtime::parse_timeout(timeout).map_err(bad)?;
    }
    if let Some(n) = entry.max_fds {
        limits.max_fds = wasc_runtime::parse_max_fds(&n.to_string()).map_err(bad)?;
    }
    Ok(Route {
        pattern: entry.path.clone(),
        module: base.join(&entry.module),
        dirs,
        tmpfs,
        env,
        limits,
        argv: entry.argv,
    })
}

/// `NAME=value` pairs, and `NAME` passed through from the server's own
/// environment if it has one (as `--env NAME` does for `wasc run`).
pub fn resolve_env(vars: &[EnvVar]) -> Result<Vec<(String, String)>, String> {
    let mut resolved = Vec::new();
    for var in vars {
        let value = match &var.value {
            Some(value) => value.clone(),
            None => match std::env::var(&var.name) {
                Ok(value) => value,
                Err(std::env::VarError::NotPresent) => continue,
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(format!("environment variable `{}` is not UTF-8", var.name))
                }
            },
        };
        resolved.push((var.name.clone(), value));
    }
    Ok(resolved)
}

/// Per-request `--timeout` unless a route says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    fn route(pattern: &str) -> Route {
        Route {
            pattern: pattern.into(),
            module: "m.wasm".into(),
            dirs: Vec::new(),
            tmpfs: Vec::new(),
            env: Vec::new(),
            limits: Limits::default(),
            argv: None,
        }
    }

    #[test]
    fn exact_and_prefix_routes_match_and_the_longest_wins() {
        let routes = [
            route("/hello"),
            route("/api/..."),
            route("/api/v2/..."),
            route("/..."),
        ];
        let served = |path: &str| find(&routes, path).map(|(_, r)| r.pattern.as_str());
        assert_eq!(served("/hello"), Some("/hello"));
        assert_eq!(served("/hello/x"), Some("/..."));
        assert_eq!(served("/api"), Some("/api/..."));
        assert_eq!(served("/api/x/y"), Some("/api/..."));
        assert_eq!(served("/apix"), Some("/..."));
        assert_eq!(served("/api/v2"), Some("/api/v2/..."));
        assert_eq!(served("/api/v2/z"), Some("/api/v2/..."));
        let without_catch_all = &routes[..3];
        assert_eq!(find(without_catch_all, "/nope").map(|(i, _)| i), None);
    }

    #[test]
    fn patterns_are_checked() {
        for good in ["/", "/a", "/a/...", "/..."] {
            assert!(check_pattern(good).is_ok(), "{good}");
        }
        for bad in ["a", "/a...", "/a/.../b", "/a?b", "/a b", ""] {
            assert!(check_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_routes_file_is_read_relative_to_itself() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("routes.toml");
        std::fs::write(
            &file,
            r#"
[[route]]
path = "/hello"
module = "hello.wasm"
env = ["GREETING=hi"]
timeout = "2s"

[[route]]
path = "/files/..."
module = "files.wasm"
dir = ["data::/data"]
tmpfs = ["/tmp:2M"]
max-memory = "64M"
max-fds = 32
argv = "files ${ARGS}"
"#,
        )
        .expect("write");
        let routes = read(&file, Limits::default()).expect("valid");
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].module, dir.path().join("hello.wasm"));
        assert_eq!(routes[0].env, [("GREETING".to_owned(), "hi".to_owned())]);
        assert_eq!(routes[0].limits.timeout, Some(Duration::from_secs(2)));
        assert_eq!(routes[1].dirs[0].host, dir.path().join("data"));
        assert_eq!(routes[1].dirs[0].guest, "/data");
        assert_eq!(routes[1].tmpfs[0].size, 2 << 20);
        assert_eq!(routes[1].limits.max_memory, 64 << 20);
        assert_eq!(routes[1].limits.max_fds, 32);
        assert_eq!(routes[1].argv.as_deref(), Some("files ${ARGS}"));
    }

    #[test]
    fn bad_routes_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("routes.toml");
        for (text, expect) in [
            ("", "no routes"),
            ("[[route]]\npath = \"/a\"\n", "module"),
            ("[[route]]\npath = \"a\"\nmodule = \"m\"\n", "starts with"),
            ("[[route]]\npath = \"/a\"\nmodule = \"m\"\nspeed = 1\n", "speed"),
            ("[[route]]\npath = \"/a\"\nmodule = \"m\"\ntimeout = \"soon\"\n", "duration"),
            ("[[route]]\npath = \"/a\"\nmodule = \"m\"\n[[route]]\npath = \"/a\"\nmodule = \"n\"\n", "twice"),
        ] {
            std::fs::write(&file, text).expect("write");
            let error = read(&file, Limits::default()).expect_err(text).to_string();
            assert!(error.contains(expect), "{text:?}: {error}");
        }
    }
}
