//! Path resolution inside sysd. The executor only ever sees ONE component
//! beneath a directory handle it granted; sysd walks the rest: `.`, `..`
//! (which never leaves the starting directory: `PERM`, as wasmtime's
//! cap-std answers), symlinks (read through the executor and spliced into
//! the remaining path, at most [`MAX_LINKS`] times, then `LOOP`), repeated
//! and trailing slashes. A walk holds the directories it opened on a
//! stack; `..` closes the top one. Absolute paths and absolute symlink
//! targets are refused with `PERM`.
//!
//! One shortcut: a path whose directories are plain names (`a/b/c/file`)
//! has them opened in one host op (`LookupDir`, which fails on any
//! symlink); then the walk goes on from there, or, if that failed, from
//! the start one component at a time, exactly as without it. A `..` met
//! later (through a symlink's target) reopens the run minus its last
//! directory.

use wasc_wire::hostop::{lookup, NAME_MAX, SCRATCH_LEN, TARGET_MAX};

use super::errno::{ILSEQ, INVAL, LOOP, NAMETOOLONG, NOENT, NOTDIR, PERM};
use super::host;
use super::memory::{Memory, OutOfBounds};
use super::System;

/// The longest path sysd resolves (Linux's `PATH_MAX`).
pub const PATH_MAX: usize = 4096;
/// How many symlinks one resolution may follow (Linux's and cap-std's bound).
pub const MAX_LINKS: u32 = 40;
/// How deep one resolution may descend below its starting directory.
pub const MAX_DEPTH: usize = 128;

/// The final component of a path, and the directory it is in.
#[derive(Clone, Copy)]
pub(crate) struct Last {
    name: [u8; NAME_MAX],
    len: usize,
    /// The path ended in `/` after this component (or it was `.`/`..`).
    pub trailing: bool,
    /// Where the component ends in the walk's path, for [`Walk::follow`].
    end: usize,
}

impl Last {
    pub fn name(&self) -> &[u8] {
        &self.name[..self.len]
    }

    pub fn is_dot(&self) -> bool {
        self.name() == b"."
    }
}

/// One path being resolved.
pub(crate) struct Walk {
    path: [u8; PATH_MAX],
    len: usize,
    pos: usize,
    base: u32,
    stack: [u32; MAX_DEPTH],
    /// How many directories each stack entry stands for: 1, or (only the
    /// first) a run opened in one op.
    spans: [u8; MAX_DEPTH],
    depth: usize,
    /// Directories below `base`: the sum of `spans`.
    components: usize,
    /// The run of directories the first entry stands for when it spans
    /// several: their names joined by `/`.
    run: [u8; SCRATCH_LEN],
    run_len: usize,
    links: u32,
    /// Whether the path was found resolvable (on the first step).
    started: bool,
}

impl Walk {
    /// A walk of a path of `len` bytes (not yet copied in) beneath `base`,
    /// nothing opened.
    fn empty(base: u32, len: usize) -> Self {
        Walk {
            path: [0; PATH_MAX],
            len,
            pos: 0,
            base,
            stack: [0; MAX_DEPTH],
            spans: [0; MAX_DEPTH],
            depth: 0,
            components: 0,
            run: [0; SCRATCH_LEN],
            run_len: 0,
            links: 0,
            started: false,
        }
    }

    /// Reads a path of `len` bytes at `ptr` in linear memory (a bad range
    /// traps as in wasmtime), to be resolved beneath directory handle `base`.
    pub fn read<S: System>(
        memory: &mut Memory<'_, S>,
        base: u32,
        ptr: u64,
        len: u64,
    ) -> Result<Result<Self, u16>, OutOfBounds> {
        if len > wasc_wire::wasi::CALL_FUEL {
            return Ok(Err(super::errno::NOMEM));
        }
        memory.check(ptr, len)?;
        if len as usize > PATH_MAX {
            return Ok(Err(NAMETOOLONG));
        }
        let mut walk = Walk::empty(base, len as usize);
        memory.read(ptr, &mut walk.path[..len as usize])?;
        // wasmtime decodes the string as it reads it (ILSEQ); what the path
        // says is judged when it is resolved (`resolvable`, in `with_walk`).
        if core::str::from_utf8(&walk.path[..walk.len]).is_err() {
            return Ok(Err(ILSEQ));
        }
        Ok(Ok(walk))
    }

    /// A walk of `path` (tests).
    #[cfg(test)]
    pub fn new(base: u32, path: &[u8]) -> Result<Self, u16> {
        if path.len() > PATH_MAX {
            return Err(NAMETOOLONG);
        }
        let mut walk = Walk::empty(base, path.len());
        walk.path[..path.len()].copy_from_slice(path);
        if core::str::from_utf8(path).is_err() {
            return Err(ILSEQ);
        }
        walk.resolvable().map(|()| walk)
    }

    /// Whether the path has a directory part (`a/b`, `./b`), trailing
    /// slashes aside. Ask before the walk starts: following a symlink
    /// rewrites the path.
    pub fn nested(&self) -> bool {
        let path = &self.path[..self.len];
        let end = path.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
        path[..end].contains(&b'/')
    }

    /// The same walk beneath another directory handle.
    pub fn with_base(mut self, base: u32) -> Self {
        self.base = base;
        self
    }

    /// Whether the path can be resolved at all: not empty, no NUL, not
    /// absolute.
    fn resolvable(&self) -> Result<(), u16> {
        let path = &self.path[..self.len];
        if path.is_empty() {
            return Err(NOENT);
        }
        // Linux's PATH_MAX counts the terminating NUL.
        if path.len() >= PATH_MAX {
            return Err(NAMETOOLONG);
        }
        if path.contains(&0) {
            return Err(INVAL);
        }
        if path[0] == b'/' {
            return Err(PERM);
        }
        Ok(())
    }

    /// The handle of the directory the walk is in.
    pub fn dir(&self) -> u32 {
        if self.depth == 0 {
            self.base
        } else {
            self.stack[self.depth - 1]
        }
    }

    /// Walks every component but the last, and hands back the last.
    pub fn parent<S: System>(&mut self, sys: &mut S) -> Result<Last, u16> {
        // What the path says is judged when its walk starts, as wasmtime
        // resolves a source path before it looks at a target path.
        if !self.started {
            self.resolvable()?;
            self.started = true;
            self.open_run(sys);
        }
        loop {
            while self.pos < self.len && self.path[self.pos] == b'/' {
                self.pos += 1;
            }
            if self.pos == self.len {
                // Only slashes were left (the path named a directory).
                return Ok(dot(self.len));
            }
            let start = self.pos;
            while self.pos < self.len && self.path[self.pos] != b'/' {
                self.pos += 1;
            }
            let end = self.pos;
            let mut rest = end;
            while rest < self.len && self.path[rest] == b'/' {
                rest += 1;
            }
            let comp_len = end - start;
            if comp_len > NAME_MAX {
                return Err(NAMETOOLONG);
            }
            let mut comp = [0u8; NAME_MAX];
            comp[..comp_len].copy_from_slice(&self.path[start..end]);
            let comp = &comp[..comp_len];
            let last = rest == self.len;
            match comp {
                b"." if !last => {}
                b".." => {
                    self.up(sys)?;
                    if last {
                        return Ok(dot(self.len));
                    }
                }
                _ if last => {
                    let mut name = [0u8; NAME_MAX];
                    name[..comp_len].copy_from_slice(comp);
                    return Ok(Last {
                        name,
                        len: comp_len,
                        trailing: end < self.len,
                        end,
                    });
                }
                _ => self.enter(sys, comp, end)?,
            }
        }
    }

    /// The last component may be a symlink to follow (an open of it failed
    /// with `failed`): splice its target in its place, then call
    /// [`Walk::parent`] again to go on. If it is not a symlink, `failed`
    /// stands.
    pub fn follow<S: System>(&mut self, sys: &mut S, last: &Last, failed: u16) -> Result<(), u16> {
        self.splice(sys, last.name(), last.end, failed)
    }

    /// Closes every directory the walk opened.
    pub fn release<S: System>(&mut self, sys: &mut S) {
        while self.depth > 0 {
            self.depth -= 1;
            host::close(sys, self.stack[self.depth]);
        }
        self.components = 0;
    }

    fn up<S: System>(&mut self, sys: &mut S) -> Result<(), u16> {
        if self.depth == 0 {
            return Err(PERM);
        }
        let top = self.depth - 1;
        host::close(sys, self.stack[top]);
        let span = usize::from(self.spans[top]);
        self.components -= 1;
        if span == 1 {
            self.depth -= 1;
            return Ok(());
        }
        // A run opened in one op (the first entry, beneath `base`): open
        // it again without its last directory.
        let end = self.run[..self.run_len]
            .iter()
            .rposition(|&b| b == b'/')
            .unwrap_or(0);
        let reopened = if span > 2 {
            host::open_dir_path(sys, self.base, &self.run[..end])
        } else {
            match host::open(sys, self.base, &self.run[..end], lookup::DIRECTORY) {
                Ok((handle, true)) => Ok(handle),
                Ok((handle, false)) => {
                    host::close(sys, handle);
                    Err(NOTDIR)
                }
                Err(errno) => Err(errno),
            }
        };
        match reopened {
            Ok(handle) => {
                self.stack[top] = handle;
                self.spans[top] -= 1;
                self.run_len = end;
                Ok(())
            }
            Err(errno) => {
                // The run is closed: nothing of it is left to release.
                self.depth -= 1;
                self.components -= span - 1;
                Err(errno)
            }
        }
    }

    /// The shortcut: when every component before the last is a plain name
    /// (no `.` or `..`, and the last is not `..` either) and there are at
    /// least two of them beneath a host directory, opens them in one op.
    /// On failure (a symlink on the way, a missing directory …) nothing
    /// changes and the walk goes one component at a time.
    fn open_run<S: System>(&mut self, sys: &mut S) {
        if self.depth != 0 || self.links != 0 || super::tmpfs::owns(u64::from(self.base)) {
            return;
        }
        let path = &self.path[..self.len];
        let mut end = path.len();
        while end > 0 && path[end - 1] == b'/' {
            end -= 1;
        }
        let last_start = path[..end]
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(0, |i| i + 1);
        if &path[last_start..end] == b".." {
            return;
        }
        let (mut len, mut count) = (0, 0);
        for component in path[..last_start].split(|&b| b == b'/') {
            if component.is_empty() {
                continue;
            }
            let separator = usize::from(count > 0);
            if component == b"."
                || component == b".."
                || component.len() > NAME_MAX
                || len + separator + component.len() > SCRATCH_LEN
                || count == MAX_DEPTH
            {
                return;
            }
            if separator == 1 {
                self.run[len] = b'/';
            }
            self.run[len + separator..len + separator + component.len()].copy_from_slice(component);
            len += separator + component.len();
            count += 1;
        }
        if count < 2 {
            return;
        }
        if let Ok(handle) = host::open_dir_path(sys, self.base, &self.run[..len]) {
            self.stack[0] = handle;
            self.spans[0] = count as u8;
            self.depth = 1;
            self.components = count;
            self.run_len = len;
            self.pos = last_start;
        }
    }

    /// Descends into directory `comp`, or follows it if it is a symlink.
    fn enter<S: System>(&mut self, sys: &mut S, comp: &[u8], end: usize) -> Result<(), u16> {
        match host::open(sys, self.dir(), comp, lookup::DIRECTORY) {
            Ok((handle, true)) => {
                if self.components == MAX_DEPTH {
                    host::close(sys, handle);
                    return Err(NAMETOOLONG);
                }
                self.stack[self.depth] = handle;
                self.spans[self.depth] = 1;
                self.depth += 1;
                self.components += 1;
                Ok(())
            }
            Ok((handle, false)) => {
                host::close(sys, handle);
                Err(NOTDIR)
            }
            // A symlink: `O_NOFOLLOW` refuses it with one or the other.
            Err(errno @ (LOOP | NOTDIR)) => self.splice(sys, comp, end, errno),
            Err(errno) => Err(errno),
        }
    }

    /// Replaces the component ending at `end` (named `comp`, in the current
    /// directory) with its symlink target; `failed` if it is not a symlink.
    fn splice<S: System>(
        &mut self,
        sys: &mut S,
        comp: &[u8],
        end: usize,
        failed: u16,
    ) -> Result<(), u16> {
        self.links += 1;
        if self.links > MAX_LINKS {
            return Err(LOOP);
        }
        let mut target = [0u8; TARGET_MAX];
        let n = match host::read_link(sys, self.dir(), comp, &mut target) {
            Ok(n) => n,
            // Not a symlink after all: the first error stands.
            Err(INVAL) => return Err(failed),
            Err(errno) => return Err(errno),
        };
        let target = &target[..n];
        if target.is_empty() {
            return Err(NOENT);
        }
        // No file system stores a NUL in a link target: the host is lying.
        if target.contains(&0) {
            return Err(super::errno::IO);
        }
        if target[0] == b'/' {
            return Err(PERM);
        }
        let rest = self.len - end;
        if n + rest > PATH_MAX {
            return Err(NAMETOOLONG);
        }
        self.path.copy_within(end..self.len, n);
        self.path[..n].copy_from_slice(target);
        self.len = n + rest;
        self.pos = 0;
        Ok(())
    }
}

/// The directory itself as a last component.
fn dot(end: usize) -> Last {
    let mut name = [0u8; NAME_MAX];
    name[0] = b'.';
    Last {
        name,
        len: 1,
        trailing: true,
        end,
    }
}

/// Runs `body` on a walk and closes what it opened, whatever the outcome.
pub(crate) fn with_walk<S: System, T>(
    sys: &mut S,
    walk: &mut Walk,
    body: impl FnOnce(&mut S, &mut Walk) -> Result<T, u16>,
) -> Result<T, u16> {
    let result = body(sys, walk);
    walk.release(sys);
    result
}

/// Follows the last component while it is a symlink (for stat-like calls
/// that follow): the final directory and a last component that is not one.
#[cfg(test)]
pub(crate) fn resolve_following<S: System>(
    sys: &mut S,
    walk: &mut Walk,
) -> Result<(Last, wasc_wire::hostop::Stat), u16> {
    let last = walk.parent(sys)?;
    follow_last(sys, walk, last)
}

/// [`resolve_following`] from a last component already walked to.
pub(crate) fn follow_last<S: System>(
    sys: &mut S,
    walk: &mut Walk,
    mut last: Last,
) -> Result<(Last, wasc_wire::hostop::Stat), u16> {
    loop {
        let stat = host::stat_at(sys, walk.dir(), last.name())?;
        if stat.filetype != host::filetype::SYMBOLIC_LINK {
            return Ok((last, stat));
        }
        walk.follow(sys, &last, LOOP)?;
        last = walk.parent(sys)?;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;
    use std::vec::Vec;

    use wasc_wire::hostop::{HostOp, OpCode, Stat, SCRATCH_LEN, SECOND_OFFSET};

    use super::*;
    use crate::wasi::testing::{Host, Machine};

    /// A tiny file tree behind the executor's one-component ops, counting
    /// open handles so tests can check a walk closes what it opened.
    pub(crate) struct Tree {
        /// Node → (kind, children by name or symlink target).
        nodes: Vec<Node>,
        handles: Vec<Option<usize>>,
        pub ops: usize,
    }

    pub(crate) enum Node {
        Dir(BTreeMap<Vec<u8>, usize>),
        File,
        Link(Vec<u8>),
    }

    impl Tree {
        /// Root (handle 3) holding `d/f`, `file`, and symlinks `s -> d`,
        /// `loop -> loop`, `abs -> /etc`, `up -> ../x`, `chain -> s`.
        pub fn new() -> Self {
            let mut tree = Tree {
                nodes: Vec::new(),
                handles: std::vec![None, None, None],
                ops: 0,
            };
            let root = tree.add(Node::Dir(BTreeMap::new()));
            let d = tree.add(Node::Dir(BTreeMap::new()));
            let f = tree.add(Node::File);
            tree.link(d, "f", f);
            tree.link(root, "d", d);
            let file = tree.add(Node::File);
            tree.link(root, "file", file);
            for (name, target) in [
                ("s", "d"),
                ("loop", "loop"),
                ("abs", "/etc"),
                ("up", "../x"),
                ("chain", "s/"),
                ("nul", "d\0f"),
            ] {
                let node = tree.add(Node::Link(target.as_bytes().to_vec()));
                tree.link(root, name, node);
            }
            // `d/g/h/x`, and in `h` a symlink `l -> ../..` (to `d`).
            let g = tree.add(Node::Dir(BTreeMap::new()));
            let h = tree.add(Node::Dir(BTreeMap::new()));
            let x = tree.add(Node::File);
            let l = tree.add(Node::Link(b"../..".to_vec()));
            tree.link(d, "g", g);
            tree.link(g, "h", h);
            tree.link(h, "x", x);
            tree.link(h, "l", l);
            tree.handles.push(Some(root));
            tree
        }

        fn add(&mut self, node: Node) -> usize {
            self.nodes.push(node);
            self.nodes.len() - 1
        }

        fn link(&mut self, dir: usize, name: &str, node: usize) {
            if let Node::Dir(children) = &mut self.nodes[dir] {
                children.insert(name.as_bytes().to_vec(), node);
            }
        }

        pub fn open_handles(&self) -> usize {
            self.handles.iter().filter(|h| h.is_some()).count()
        }

        fn child(
            &self,
            scratch: &[u8; SCRATCH_LEN],
            handle: u64,
            len: u64,
        ) -> Result<Option<usize>, u32> {
            let dir = self
                .handles
                .get(handle as usize)
                .copied()
                .flatten()
                .ok_or(8u32)?;
            let name = &scratch[..len as usize];
            assert!(!name.contains(&b'/') && name != b".." && !name.is_empty());
            if name == b"." {
                return Ok(Some(dir));
            }
            match &self.nodes[dir] {
                Node::Dir(children) => Ok(children.get(name).copied()),
                _ => Err(u32::from(NOTDIR)),
            }
        }
    }

    /// [`Tree`] on the shared test machine (no linear memory).
    pub(crate) fn machine() -> Machine<Tree> {
        let mut sys = Machine::new(0, Tree::new());
        sys.preopens = b"/\0";
        sys
    }

    impl Host for Tree {
        fn op(&mut self, op: HostOp, scratch: &mut [u8; SCRATCH_LEN]) -> Result<u64, u32> {
            self.ops += 1;
            let [a0, a1, a2, ..] = op.args;
            match OpCode::from_raw(op.op).expect("known op") {
                OpCode::Lookup => {
                    let node = self.child(scratch, a0, a1)?.ok_or(u32::from(NOENT))?;
                    let is_dir = matches!(self.nodes[node], Node::Dir(_));
                    match self.nodes[node] {
                        // O_NOFOLLOW with O_DIRECTORY: NOTDIR; without: LOOP.
                        Node::Link(_) if a2 & lookup::DIRECTORY != 0 => {
                            return Err(u32::from(NOTDIR))
                        }
                        Node::Link(_) => return Err(u32::from(LOOP)),
                        Node::File if a2 & lookup::DIRECTORY != 0 => return Err(u32::from(NOTDIR)),
                        _ => {}
                    }
                    self.handles.push(Some(node));
                    let handle = (self.handles.len() - 1) as u64;
                    Ok(handle | if is_dir { lookup::RESULT_DIRECTORY } else { 0 })
                }
                OpCode::LookupDir => {
                    let mut node = self
                        .handles
                        .get(a0 as usize)
                        .copied()
                        .flatten()
                        .ok_or(8u32)?;
                    let path = &scratch[..a1 as usize];
                    let components: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
                    assert!(components.len() >= 2, "a run of one");
                    for (i, name) in components.iter().enumerate() {
                        assert!(!name.is_empty() && *name != b"." && *name != b"..");
                        let Node::Dir(children) = &self.nodes[node] else {
                            return Err(u32::from(NOTDIR));
                        };
                        let child = *children.get(*name).ok_or(u32::from(NOENT))?;
                        match self.nodes[child] {
                            Node::Dir(_) => node = child,
                            Node::Link(_) if i + 1 < components.len() => {
                                return Err(u32::from(LOOP))
                            }
                            _ => return Err(u32::from(NOTDIR)),
                        }
                    }
                    self.handles.push(Some(node));
                    Ok((self.handles.len() - 1) as u64)
                }
                OpCode::ReadLink => {
                    let node = self.child(scratch, a0, a1)?.ok_or(u32::from(NOENT))?;
                    let Node::Link(target) = &self.nodes[node] else {
                        return Err(u32::from(INVAL));
                    };
                    let target = target.clone();
                    scratch[SECOND_OFFSET..SECOND_OFFSET + target.len()].copy_from_slice(&target);
                    Ok(target.len() as u64)
                }
                OpCode::StatAt => {
                    let node = self.child(scratch, a0, a1)?.ok_or(u32::from(NOENT))?;
                    let filetype = match self.nodes[node] {
                        Node::Dir(_) => 3,
                        Node::File => 4,
                        Node::Link(_) => 7,
                    };
                    let stat = Stat {
                        filetype,
                        ino: node as u64,
                        ..Default::default()
                    };
                    scratch[16] = stat.filetype;
                    Ok(0)
                }
                OpCode::Close => {
                    let slot = self.handles.get_mut(a0 as usize).ok_or(8u32)?;
                    slot.take().map(|_| 0).ok_or(8)
                }
                other => panic!("unexpected op {other:?}"),
            }
        }
    }

    /// Walks `path` from the root to its last component: the directory's
    /// node, the name and the trailing flag; checks every handle the walk
    /// opened is closed again.
    fn walk(path: &str) -> Result<(usize, std::string::String, bool), u16> {
        let mut tree = machine();
        let before = tree.host.open_handles();
        let mut walk = Walk::new(3, path.as_bytes())?;
        let result = with_walk(&mut tree, &mut walk, |sys, walk| {
            let last = walk.parent(sys)?;
            let dir = sys.host.handles[walk.dir() as usize].expect("open");
            Ok((
                dir,
                std::string::String::from_utf8(last.name().to_vec()).expect("utf-8"),
                last.trailing,
            ))
        });
        assert_eq!(tree.host.open_handles(), before, "{path}: handles leaked");
        result
    }

    #[test]
    fn components_dots_and_slashes() {
        assert_eq!(walk("file"), Ok((0, "file".into(), false)));
        assert_eq!(walk("d/f"), Ok((1, "f".into(), false)));
        assert_eq!(walk("./d//./f"), Ok((1, "f".into(), false)));
        assert_eq!(walk("d/../file"), Ok((0, "file".into(), false)));
        assert_eq!(walk("d/"), Ok((0, "d".into(), true)));
        assert_eq!(walk("d/.."), Ok((0, ".".into(), true)));
        assert_eq!(walk("."), Ok((0, ".".into(), false)));
        assert_eq!(walk("file/x"), Err(NOTDIR));
        assert_eq!(walk("missing/x"), Err(NOENT));
    }

    /// Host ops a walk of `path` makes.
    fn ops(path: &str) -> usize {
        let mut tree = machine();
        let mut walk = Walk::new(3, path.as_bytes()).expect("path");
        let _ = with_walk(&mut tree, &mut walk, |sys, walk| walk.parent(sys).map(drop));
        tree.host.ops
    }

    #[test]
    fn plain_directories_are_opened_in_one_op() {
        // `d/g` is node 10, `d/g/h` node 11.
        assert_eq!(walk("d/g/h/x"), Ok((11, "x".into(), false)));
        assert_eq!(walk("d//g/h/"), Ok((10, "h".into(), true)));
        assert_eq!(walk("d/g/h/."), Ok((11, ".".into(), false)));
        assert_eq!(ops("d/g/h/x"), 2, "one lookup, one close");
        assert_eq!(ops("d/g/x"), 2);
        assert_eq!(ops("d/x"), 2, "one directory: a plain lookup");
        // Not plain: walked a component at a time.
        assert_eq!(ops("d/./g/h/x"), 6);
        assert_eq!(ops("d/g/h/.."), 6);
        // A symlink on the way: the run fails, the walk follows it.
        assert_eq!(walk("s/g/h/x"), Ok((11, "x".into(), false)));
        assert_eq!(walk("d/g/missing/x"), Err(NOENT));
        assert_eq!(walk("d/g/h/x/y"), Err(NOTDIR));
    }

    #[test]
    fn dot_dot_after_a_run_reopens_its_parents() {
        // `l -> ../..` from `d/g/h`: back up to `d`, then `f` in it.
        assert_eq!(walk("d/g/h/l/f"), Ok((1, "f".into(), false)));
        assert_eq!(walk("d/g/h/l/g/h/x"), Ok((11, "x".into(), false)));
        assert_eq!(walk("d/g/h/l/../file"), Ok((0, "file".into(), false)));
        assert_eq!(walk("d/g/h/l/../../x"), Err(PERM));
    }

    #[test]
    fn dot_dot_never_leaves_the_start() {
        assert_eq!(walk(".."), Err(PERM));
        assert_eq!(walk("../file"), Err(PERM));
        assert_eq!(walk("d/../../file"), Err(PERM));
        assert_eq!(walk("up/y"), Err(PERM), "a symlink to ../x");
        assert_eq!(walk("/etc/passwd"), Err(PERM));
        assert_eq!(walk("abs/x"), Err(PERM), "a symlink to /etc");
    }

    #[test]
    fn symlinks_in_the_middle_are_followed_and_bounded() {
        assert_eq!(walk("s/f"), Ok((1, "f".into(), false)));
        assert_eq!(walk("chain/f"), Ok((1, "f".into(), false)));
        assert_eq!(walk("loop/x"), Err(LOOP));
        assert_eq!(
            walk("nul/x"),
            Err(crate::wasi::errno::IO),
            "a NUL in a target"
        );
    }

    #[test]
    fn bad_paths_are_refused_before_any_op() {
        assert_eq!(walk("").map(drop), Err(NOENT));
        assert_eq!(Walk::new(3, b"a\xffb").map(drop), Err(ILSEQ));
        assert_eq!(Walk::new(3, b"a\0b").map(drop), Err(INVAL));
        assert_eq!(
            Walk::new(3, &[b'a'; PATH_MAX + 1]).map(drop),
            Err(NAMETOOLONG)
        );
        let long = std::format!("{}/x", "n".repeat(NAME_MAX + 1));
        assert_eq!(walk(&long), Err(NAMETOOLONG));
    }

    #[test]
    fn the_last_component_is_followed_only_when_asked() {
        let mut tree = machine();
        let mut walk = Walk::new(3, b"chain").expect("path");
        let (last, stat) = with_walk(&mut tree, &mut walk, |sys, walk| {
            let (last, stat) = resolve_following(sys, walk)?;
            Ok((std::string::String::from_utf8(last.name().to_vec()), stat))
        })
        .expect("resolves");
        assert_eq!((last.expect("utf-8").as_str(), stat.filetype), ("d", 3));
        let mut walk = Walk::new(3, b"loop").expect("path");
        let looped = with_walk(&mut tree, &mut walk, |sys, walk| {
            resolve_following(sys, walk).map(drop)
        });
        assert_eq!(looped, Err(LOOP));
        assert_eq!(tree.host.open_handles(), 1, "only the root");
    }
}
