//! The files of `src/` import each other without a cycle, and the layers
//! point one way: `ffi` (the C ABI) → `object` (the objects behind the C
//! handles) → the protocol layers and the I/O driver. The graph is read
//! from the sources: every `use crate::…`/`use super::…` (braces expanded)
//! and every inline `crate::…`/`super::…` path, comments left out. A node is
//! `src/<file>` for the files at the top and `src/<dir>/<file>` below (a
//! deeper file counts as its directory at that level).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The source with `//` comments and string literals blanked, and
/// without its unit tests (`#[cfg(test)] mod …` to the end of the file, where
/// they sit): they are not part of the library's graph, and their `super`
/// is the file itself.
fn strip(src: &str) -> String {
    let src = match src.find("#[cfg(test)]\nmod ") {
        Some(i) => &src[..i],
        None => src,
    };
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_str = false;
                    out.push(' ');
                }
                '\n' => out.push('\n'),
                _ => {}
            }
            continue;
        }
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            // A char literal such as '"' must not open a string.
            '\'' => {
                out.push(c);
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with("\"'") {
                    chars.next();
                    chars.next();
                    out.push_str("_'");
                } else if rest.starts_with("\\\"'") {
                    chars.next();
                    chars.next();
                    chars.next();
                    out.push_str("_'");
                }
            }
            '"' => in_str = true,
            _ => out.push(c),
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Expands a `use` tree (`a::{b, c::{d, e}}`) into full paths.
fn expand(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim().trim_end_matches("::");
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let base = join(prefix, head);
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], &base, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], &base, out);
    } else if !tree.is_empty() {
        let path = tree.split(" as ").next().unwrap_or(tree).trim();
        out.push(join(prefix, path));
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}::{b}"),
    }
}

/// The child modules a source declares (`mod name;`).
fn child_modules(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in code.lines() {
        let line = line.trim();
        let line = line.strip_prefix("pub ").unwrap_or(line);
        let line = line.strip_prefix("pub(crate) ").unwrap_or(line);
        if let Some(name) = line.strip_prefix("mod ").and_then(|l| l.strip_suffix(';')) {
            out.push(name.trim().to_owned());
        }
    }
    out
}

/// Every `crate::`/`super::`/`self::` path a source mentions, and those
/// that start with one of its child modules (as `self::` paths).
fn paths(src: &str) -> Vec<String> {
    let code = strip(src);
    let children = child_modules(&code);
    let mut out = Vec::new();
    // `use` statements, braces expanded.
    let mut rest = code.as_str();
    while let Some(i) = rest.find("use ") {
        let before = rest[..i].chars().last();
        rest = &rest[i + 4..];
        if before.is_some_and(is_ident) {
            continue;
        }
        let Some(end) = rest.find(';') else { break };
        let tree = rest[..end].trim_start();
        let child = children.iter().any(|c| tree.starts_with(&format!("{c}::")));
        if tree.starts_with("crate::") || tree.starts_with("super::") || tree.starts_with("self::")
        {
            expand(tree, "", &mut out);
        } else if child {
            expand(tree, "self", &mut out);
        }
    }
    // Inline paths.
    let keys: Vec<String> = ["crate", "super", "self"]
        .iter()
        .map(|k| k.to_string())
        .chain(children.iter().cloned())
        .map(|k| format!("{k}::"))
        .collect();
    for key in &keys {
        let mut at = 0;
        while let Some(i) = code[at..].find(key) {
            let start = at + i;
            at = start + key.len();
            if code[..start]
                .chars()
                .last()
                .is_some_and(|c| is_ident(c) || c == ':')
            {
                continue;
            }
            let path: String = code[start..]
                .chars()
                .take_while(|&c| is_ident(c) || c == ':')
                .collect();
            let path = path.trim_end_matches(':');
            if key.starts_with("crate") || key.starts_with("super") || key.starts_with("self") {
                out.push(path.to_owned());
            } else {
                out.push(format!("self::{path}"));
            }
        }
    }
    out
}

/// The module path of a file (`src/ffi/mod.rs` → `[ffi]`).
fn module_of(rel: &Path) -> Vec<String> {
    let mut segs: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(segs.last().map(String::as_str), Some("mod" | "lib")) {
        segs.pop();
    }
    segs
}

/// The node of an absolute module path, as far as it names a file.
fn node_of(src: &Path, path: &[String]) -> String {
    let Some(top) = path.first() else {
        return "src/lib".to_owned();
    };
    if src.join(format!("{top}.rs")).is_file() {
        return format!("src/{top}");
    }
    if !src.join(top).is_dir() {
        return "src/lib".to_owned(); // a re-export of lib.rs
    }
    match path.get(1) {
        Some(second)
            if src.join(top).join(format!("{second}.rs")).is_file()
                || src.join(top).join(second).is_dir() =>
        {
            format!("src/{top}/{second}")
        }
        _ => format!("src/{top}/mod"),
    }
}

/// The node of a file.
fn file_node(rel: &Path) -> String {
    let segs: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    match segs.len() {
        1 => format!("src/{}", segs[0]),
        _ => format!("src/{}/{}", segs[0], segs[1]),
    }
}

/// Resolves a `crate::`/`super::` path seen in the module `here`.
fn absolute(here: &[String], path: &str) -> Vec<String> {
    let mut segs: Vec<&str> = path.split("::").collect();
    let mut base: Vec<String> = here.to_vec();
    if segs.first() == Some(&"crate") {
        base.clear();
        segs.remove(0);
    } else if segs.first() == Some(&"self") {
        segs.remove(0);
    } else {
        while segs.first() == Some(&"super") {
            base.pop();
            segs.remove(0);
        }
    }
    base.extend(segs.iter().filter(|s| **s != "self").map(|s| s.to_string()));
    base
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
            out.push(path);
        }
    }
}

/// Splits the re-exports of its child modules (`pub use child::…;`) off a
/// module file's source: they are the module's front door, not a
/// dependency of it; so are private aliases of a child's submodules
/// (`use backend::{cert, session};`, for the `pub use` after them; `is_module`
/// says whether a `self::…` path names a module file). Returns the rest of
/// the source and the re-exported paths (`self::child::Name`).
fn split_reexports(src: &str, is_module: impl Fn(&str) -> bool) -> (String, Vec<String>) {
    let code = strip(src);
    let children = child_modules(&code);
    let mut rest = String::new();
    let mut reexported = Vec::new();
    let mut tail = code.as_str();
    loop {
        let next = ["pub use ", "pub(crate) use ", "\nuse "]
            .iter()
            .filter_map(|k| tail.find(k).map(|i| (i, k.len())))
            .min();
        let Some((i, klen)) = next else {
            rest.push_str(tail);
            break;
        };
        let Some(end) = tail[i..].find(';').map(|e| i + e) else {
            rest.push_str(tail);
            break;
        };
        let tree = tail[i + klen..end].trim();
        let private = tail[i..].starts_with('\n');
        let mut paths = Vec::new();
        expand(tree, "self", &mut paths);
        let door = children.iter().any(|c| tree.starts_with(&format!("{c}::")))
            && (!private || paths.iter().all(|p| is_module(p)));
        if door {
            rest.push_str(&tail[..i]);
            reexported.extend(paths);
        } else {
            rest.push_str(&tail[..=end]);
        }
        tail = &tail[end + 1..];
    }
    (rest, reexported)
}

fn graph(src: &Path) -> Graph {
    let mut all = Vec::new();
    files(src, &mut all);
    // First the front doors: which file defines what a module re-exports.
    let mut sources = Vec::new();
    let mut doors: BTreeMap<(String, String), String> = BTreeMap::new();
    for file in all {
        let rel = file.strip_prefix(src).expect("under src").to_path_buf();
        let here = module_of(&rel);
        let text = fs::read_to_string(&file).expect("read source");
        let is_door = matches!(
            rel.file_name().and_then(|n| n.to_str()),
            Some("mod.rs" | "lib.rs")
        );
        let text = if is_door {
            let is_module = |p: &str| {
                let node = node_of(src, &absolute(&here, p));
                let abs = absolute(&here, p);
                let file = abs.join("/");
                node != "src/lib"
                    && (src.join(format!("{file}.rs")).is_file() || src.join(&file).is_dir())
            };
            let (rest, reexported) = split_reexports(&text, is_module);
            for p in reexported {
                let abs = absolute(&here, &p);
                if let Some(name) = abs.last() {
                    let door = file_node(&rel);
                    doors.insert((door, name.clone()), node_of(src, &abs));
                }
            }
            rest
        } else {
            text
        };
        sources.push((rel, here, text));
    }
    let mut g = Graph::new();
    for (rel, here, text) in sources {
        let from = file_node(&rel);
        let edges = g.entry(from.clone()).or_default();
        for p in paths(&text) {
            let abs = absolute(&here, &p);
            let mut to = node_of(src, &abs);
            // Through a front door to the file that defines the item.
            let depth = if to == "src/lib" { 0 } else { 1 };
            if to.ends_with("/mod") || to == "src/lib" {
                if let Some(name) = abs.get(depth) {
                    if let Some(def) = doors.get(&(to.clone(), name.clone())) {
                        to = def.clone();
                    }
                }
            }
            if to != from {
                edges.insert(to);
            }
        }
    }
    g
}

/// A cycle of `g`, if it has one.
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        g: &Graph,
        n: &str,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(n) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let at = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut cycle = stack[at..].to_vec();
                cycle.push(n.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(n.to_owned(), Mark::Open);
        stack.push(n.to_owned());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(g, m, marks, stack) {
                return Some(c);
            }
        }
        stack.pop();
        marks.insert(n.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for n in g.keys() {
        if let Some(c) = visit(g, n, &mut marks, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

/// Every group of files that import each other in a circle (the strongly
/// connected components with more than one file).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    // Reachability by repeated search: small graphs, simple code.
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(n) = todo.pop() {
            for m in g.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    todo.push(m.clone());
                }
            }
        }
        seen
    };
    let all: BTreeMap<&String, BTreeSet<String>> = g.keys().map(|n| (n, reach(n))).collect();
    let mut groups: Vec<Vec<String>> = Vec::new();
    for (n, r) in &all {
        if !r.contains(*n) || groups.iter().any(|grp| grp.contains(n)) {
            continue;
        }
        let grp: Vec<String> = r
            .iter()
            .filter(|m| all.get(m).is_some_and(|rm| rm.contains(*n)))
            .cloned()
            .collect();
        groups.push(grp);
    }
    groups
}

/// Edges that point up a layer: into `ffi` from outside it, into `object`
/// from outside `ffi` and `object`.
fn upward_edges(g: &Graph) -> Vec<String> {
    let mut bad = Vec::new();
    for (from, tos) in g {
        for to in tos {
            let into_ffi = to.starts_with("src/ffi/") && !from.starts_with("src/ffi/");
            let into_object = to.starts_with("src/object/")
                && !from.starts_with("src/ffi/")
                && !from.starts_with("src/object/");
            if into_ffi || into_object {
                bad.push(format!("{from} -> {to}"));
            }
        }
    }
    bad
}

/// `src/` of this crate, or the tree `XP2P_MODULE_GRAPH_SRC` names (to
/// check another checkout).
fn src_dir() -> PathBuf {
    match std::env::var_os("XP2P_MODULE_GRAPH_SRC") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
    }
}

#[test]
fn the_files_of_src_import_each_other_without_a_cycle() {
    let g = graph(&src_dir());
    let edges: usize = g.values().map(BTreeSet::len).sum();
    assert!(
        g.len() > 50 && edges > 100,
        "{} files, {edges} edges",
        g.len()
    );
    let groups: Vec<Vec<String>> = cycles(&g)
        .into_iter()
        .filter(|grp| !KNOWN_CYCLES.iter().any(|k| k.iter().eq(grp.iter())))
        .collect();
    let text: Vec<String> = groups.iter().map(|grp| grp.join(" <-> ")).collect();
    assert!(
        groups.is_empty(),
        "files in an import cycle:\n{}",
        text.join("\n")
    );
    assert!(
        g["src/ffi/peer_connection"].contains("src/object/pc"),
        "the scanner sees `use crate::object::pc`"
    );
}

/// Cycles allowed between files of one directory: none (`stun/attr`
/// and `stun/msg` were one until `RawAttr` moved to `stun/attr`). Keep it
/// empty.
const KNOWN_CYCLES: &[&[&str]] = &[];

#[test]
fn the_top_modules_import_each_other_without_a_cycle() {
    let mut top = Graph::new();
    let module = |n: &str| n.split('/').take(2).collect::<Vec<_>>().join("/");
    for (from, tos) in graph(&src_dir()) {
        let edges = top.entry(module(&from)).or_default();
        for to in tos {
            if module(&to) != module(&from) {
                edges.insert(module(&to));
            }
        }
    }
    if let Some(cycle) = find_cycle(&top) {
        panic!("modules in an import cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn ffi_is_only_imported_by_ffi_and_object_only_by_ffi_and_object() {
    let bad = upward_edges(&graph(&src_dir()));
    assert!(
        bad.is_empty(),
        "imports against the layering:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_checks_catch_a_cycle_and_an_upward_import() {
    let text = r#"
        use crate::a::{b::{C, D as E}, f};
        mod kid;
        use super::g; // use crate::commented::out;
        use kid::Thing;
        fn x() { let s = "crate::in_a_string"; crate::h::i(); super::super::j::k(); kid::f(); }
    "#;
    let mut p = paths(text);
    p.sort();
    p.dedup();
    assert_eq!(
        p,
        [
            "crate::a",
            "crate::a::b::C",
            "crate::a::b::D",
            "crate::a::f",
            "crate::h::i",
            "self::kid::Thing",
            "self::kid::f",
            "super::g",
            "super::super::j::k"
        ]
    );
    let here = vec!["ffi".to_owned(), "x".to_owned()];
    assert_eq!(absolute(&here, "super::y::Z"), ["ffi", "y", "Z"]);
    assert_eq!(absolute(&here, "crate::peer::P"), ["peer", "P"]);

    let mut g = Graph::new();
    fn edge(g: &mut Graph, a: &str, b: &str) {
        g.entry(a.to_owned()).or_default().insert(b.to_owned());
    }
    edge(&mut g, "src/ffi/a", "src/object/b");
    edge(&mut g, "src/object/b", "src/peer/c");
    assert!(find_cycle(&g).is_none());
    assert!(upward_edges(&g).is_empty());
    edge(&mut g, "src/peer/c", "src/ffi/a");
    let cycle = find_cycle(&g).expect("a cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycles(&g), [["src/ffi/a", "src/object/b", "src/peer/c"]]);
    assert_eq!(upward_edges(&g), ["src/peer/c -> src/ffi/a"]);
}
