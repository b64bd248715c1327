//! The architecture, checked: modules import only from their own layer or
//! the layers below (the order is written once, here and in the README's
//! "Architecture" section), no module imports another that imports it back
//! (directly or around a cycle), and every HTTP handler stays short.
//!
//! Imports are read from the source: every `crate::…` and `super::…` path
//! outside test modules and comments, `use` lines and inline paths alike.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module may import from its own layer and the
/// ones listed before it. Every top-level module of `src/` must be listed.
const LAYERS: &[(&str, &[&str])] = &[
    ("helpers", &["crypto", "epoch_cache", "histogram", "logctx", "net", "outbound", "rate_limit"]),
    ("storage", &["db", "store"]),
    ("registry and keys", &["config", "error", "keys", "metrics", "registry", "session"]),
    ("protocol rules", &["oauth"]),
    ("wiring", &["app"]),
    ("HTTP edge", &["http"]),
    ("command line", &["cli"]),
];

/// The longest a handler in `src/http/` may be, in lines.
const HANDLER_MAX_LINES: usize = 40;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/oauth/grants/mod.rs` → `oauth::grants`; `src/lib.rs` → "".
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src").with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib" || l == "main") {
        parts.pop();
    }
    parts.join("::")
}

/// The source without comments and without its test module.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

fn ident_end(s: &str) -> usize {
    s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len())
}

/// Expand the path that starts at `s` (after `crate::` or `super::`) into
/// every full path it names, braces included: `a::{b, c::d}` → `a::b`, `a::c::d`.
fn paths_at(s: &str, prefix: &str, out: &mut Vec<String>) {
    let mut path = prefix.to_string();
    let mut rest = s;
    loop {
        let rest_trim = rest.trim_start();
        if let Some(inner) = rest_trim.strip_prefix('{') {
            let mut depth = 1;
            let mut end = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            let mut depth = 0;
            let mut start = 0;
            let body = &inner[..end];
            for (i, c) in body.char_indices().chain(std::iter::once((body.len(), ','))) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let item = body[start..i].trim();
                        if !item.is_empty() && item != "self" {
                            paths_at(item, &path, out);
                        } else if item == "self" {
                            out.push(path.clone());
                        }
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            return;
        }
        let n = ident_end(rest_trim);
        if n == 0 {
            break;
        }
        let seg = &rest_trim[..n];
        path = if path.is_empty() { seg.to_string() } else { format!("{path}::{seg}") };
        rest = &rest_trim[n..];
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    out.push(path);
}

/// Every module `code` (of module `me`) imports, resolved to the deepest known module.
fn imports_of(me: &str, code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut raw = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        paths_at(&code[i + "crate::".len()..], "", &mut raw);
    }
    for (i, _) in code.match_indices("super::") {
        let before = code[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let parent = me.rsplit_once("::").map(|(p, _)| p).unwrap_or("");
        paths_at(&code[i + "super::".len()..], parent, &mut raw);
    }
    raw.into_iter()
        .filter_map(|p| {
            let segs: Vec<&str> = p.split("::").collect();
            (1..=segs.len()).rev().map(|n| segs[..n].join("::")).find(|m| modules.contains(m))
        })
        .filter(|m| m != me && !me.starts_with(&format!("{m}::")))
        .collect()
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

fn rank(top: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&top))
}

/// Imports that point up the layers, as "importer → imported" lines.
fn upward(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut bad = Vec::new();
    for (from, tos) in graph {
        let Some(r) = rank(top(from)) else { continue };
        for to in tos {
            if rank(top(to)).is_some_and(|t| t > r) {
                bad.push(format!("{from} → {to}"));
            }
        }
    }
    bad
}

/// The import cycles of `graph`, each as its modules in order.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's strongly connected components; a component of two or more is a cycle.
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    impl<'a> T<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on.insert(v);
            for w in self.g.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on.remove(w);
                    comp.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.reverse();
                    self.out.push(comp);
                }
            }
        }
    }
    let mut t = T { g: graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on: BTreeSet::new(), out: Vec::new() };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out
}

/// The crate's import graph: module → the modules it imports.
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).filter(|m| !m.is_empty()).collect();
    files
        .iter()
        .map(|f| {
            let me = module_of(&src, f);
            let code = code_of(&std::fs::read_to_string(f).expect("read source"));
            let imports = imports_of(&me, &code, &modules);
            (me, imports)
        })
        .filter(|(m, _)| !m.is_empty())
        .collect()
}

#[test]
fn every_module_has_a_layer_and_imports_only_downward() {
    let graph = import_graph();
    assert!(graph.len() > 40, "the source was read ({} modules)", graph.len());
    let unplaced: BTreeSet<&str> = graph.keys().map(|m| top(m)).filter(|t| rank(t).is_none()).collect();
    assert!(unplaced.is_empty(), "modules without a layer (add them to LAYERS and the README): {unplaced:?}");
    let bad = upward(&graph);
    assert!(bad.is_empty(), "imports against the layers:\n{}", bad.join("\n"));
}

#[test]
fn no_import_cycles() {
    let found = cycles(&import_graph());
    assert!(found.is_empty(), "import cycles: {found:?}");
}

#[test]
fn the_checks_catch_what_they_look_for() {
    let modules: BTreeSet<String> =
        ["oauth", "oauth::gate", "app", "registry", "registry::clients", "http", "http::token"].into_iter().map(String::from).collect();
    let code = "use crate::app::Tessera;\nuse crate::registry::{clients::{self, Client}, audit};\nuse super::gate::Ask;\nfn f() { crate::http::token::x() }";
    let got = imports_of("oauth::grants", code, &modules);
    let want: BTreeSet<String> = ["app", "registry::clients", "registry", "oauth::gate", "http::token"].into_iter().map(String::from).collect();
    assert_eq!(got, want);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.insert("oauth::grants".into(), got);
    g.insert("app".into(), ["oauth::grants".to_string()].into());
    let up = upward(&g);
    assert!(up.contains(&"oauth::grants → app".to_string()) && up.contains(&"oauth::grants → http::token".to_string()), "{up:?}");
    assert_eq!(cycles(&g), vec![vec!["app".to_string(), "oauth::grants".to_string()]]);
}

/// Each `pub async fn` of `src/http/` (the handlers) with its length in lines.
fn handler_lengths() -> Vec<(String, usize)> {
    let dir = src_dir().join("http");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read handler file");
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if !l.starts_with("pub async fn ") {
                continue;
            }
            let end = lines[i..].iter().position(|l| *l == "}").map(|n| n + 1).unwrap_or(lines.len() - i);
            let name = l["pub async fn ".len()..].split('(').next().unwrap_or("?");
            out.push((format!("{}::{name}", f.file_stem().map(|s| s.to_string_lossy()).unwrap_or_default()), end));
        }
    }
    out
}

#[test]
fn handlers_are_short() {
    let all = handler_lengths();
    assert!(all.len() > 30, "the handlers were found ({})", all.len());
    let long: Vec<_> = all.into_iter().filter(|(_, n)| *n > HANDLER_MAX_LINES).collect();
    assert!(long.is_empty(), "handlers over {HANDLER_MAX_LINES} lines: {long:?}");
}
