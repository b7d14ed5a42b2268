//! A file-tree tool written in Zig and built with Zig's own toolchain (its
//! std calls WASI directly, not through wasi-libc): it lists the tree under
//! the first preopen with a SHA-256 of every file, writes that listing into
//! the tree, renames, links, stats and removes what it made, and prints the
//! error names of calls expected to fail. The differential test runs it in
//! both isolation modes and compares stdout and the final trees.

const std = @import("std");
const Io = std.Io;
const Dir = Io.Dir;

const Item = struct {
    path: []const u8,
    kind: Io.File.Kind,
};

fn lessThan(_: void, a: Item, b: Item) bool {
    return std.mem.lessThan(u8, a.path, b.path);
}

pub fn main(init: std.process.Init) !void {
    const io = init.io;
    const arena = init.arena.allocator();
    var buffer: [4096]u8 = undefined;
    var stdout_writer = Io.File.stdout().writer(io, &buffer);
    const out = &stdout_writer.interface;

    const args = try init.minimal.args.toSlice(arena);
    for (args[1..], 1..) |arg, i| try out.print("arg {d}: {s}\n", .{ i, arg });
    try out.print("ZTREE_MODE={s}\n", .{init.environ_map.get("ZTREE_MODE") orelse "(unset)"});

    const root = Dir.cwd();
    var tree = try root.openDir(io, ".", .{ .iterate = true });
    defer tree.close(io);

    // Walk and list, sorted: the order of directory entries is the file
    // system's, not part of the comparison.
    var items: std.ArrayList(Item) = .empty;
    var walker = try tree.walk(arena);
    defer walker.deinit();
    while (try walker.next(io)) |entry| {
        try items.append(arena, .{ .path = try arena.dupe(u8, entry.path), .kind = entry.kind });
    }
    std.mem.sort(Item, items.items, {}, lessThan);

    var listing: std.ArrayList(u8) = .empty;
    for (items.items) |item| {
        switch (item.kind) {
            .file => {
                const data = try tree.readFileAlloc(io, item.path, arena, .limited(1 << 24));
                var digest: [32]u8 = undefined;
                std.crypto.hash.sha2.Sha256.hash(data, &digest, .{});
                const st = try tree.statFile(io, item.path, .{});
                try listing.print(arena, "file {s} {d} {x} nlink={d}\n", .{ item.path, data.len, digest, st.nlink });
            },
            .sym_link => {
                var target: [256]u8 = undefined;
                const n = try tree.readLink(io, item.path, &target);
                try listing.print(arena, "link {s} -> {s}\n", .{ item.path, target[0..n] });
            },
            .directory => try listing.print(arena, "dir  {s}\n", .{item.path}),
            else => try listing.print(arena, "other {s} {s}\n", .{ item.path, @tagName(item.kind) }),
        }
    }
    try out.writeAll(listing.items);

    // Write the listing into the tree, then rename, link and stat it.
    try tree.createDirPath(io, "ztree-out/deep/er");
    try tree.writeFile(io, .{ .sub_path = "ztree-out/listing.tmp", .data = listing.items });
    try tree.rename("ztree-out/listing.tmp", tree, "ztree-out/LISTING", io);
    try tree.hardLink("ztree-out/LISTING", tree, "ztree-out/LISTING.hard", io, .{});
    try tree.symLink(io, "LISTING", "ztree-out/latest", .{});
    const st = try tree.statFile(io, "ztree-out/latest", .{});
    try out.print("latest: {d} bytes, {s}, nlink={d}\n", .{ st.size, @tagName(st.kind), st.nlink });
    const back = try tree.readFileAlloc(io, "ztree-out/LISTING.hard", arena, .limited(1 << 24));
    try out.print("hard link reads back: {}\n", .{std.mem.eql(u8, back, listing.items)});

    // Append through an opened file, positioned reads, truncation.
    {
        var file = try tree.openFile(io, "ztree-out/LISTING", .{ .mode = .read_write });
        defer file.close(io);
        const len = try file.length(io);
        var head: [16]u8 = undefined;
        const n = try file.readPositionalAll(io, &head, 0);
        try out.print("head ({d} of {d}): {s}\n", .{ n, len, head[0..@min(n, 4)] });
        try file.setLength(io, len / 2);
        try out.print("after truncation: {d}\n", .{try file.length(io)});
    }

    // Calls that must fail, by error name.
    const missing = tree.openFile(io, "no/such/file", .{});
    try out.print("open missing: {s}\n", .{if (missing) |_| "ok" else |e| @errorName(e)});
    const exclusive = tree.createFile(io, "ztree-out/LISTING", .{ .exclusive = true });
    try out.print("create existing exclusively: {s}\n", .{if (exclusive) |_| "ok" else |e| @errorName(e)});
    const rmdir = tree.deleteDir(io, "ztree-out");
    try out.print("rmdir non-empty: {s}\n", .{if (rmdir) |_| "ok" else |e| @errorName(e)});
    const escape = tree.openFile(io, "../outside", .{});
    try out.print("open ../outside: {s}\n", .{if (escape) |_| "ok" else |e| @errorName(e)});
    const unlink_dir = tree.deleteFile(io, "ztree-out/deep");
    try out.print("unlink a directory: {s}\n", .{if (unlink_dir) |_| "ok" else |e| @errorName(e)});

    // Remove what was made but the listing and its links.
    try tree.deleteTree(io, "ztree-out/deep");
    try tree.deleteFile(io, "ztree-out/latest");
    try out.print("done\n", .{});
    try out.flush();
}
