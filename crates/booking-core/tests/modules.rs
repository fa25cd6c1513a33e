//! The crate's modules form no import circle: shared units live in modules of their own that
//! depend on nothing that depends on them, so each module can be read after the ones it uses.
#![expect(clippy::unwrap_used, reason = "test code")]

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

/// The top-level modules each module's code (its tests left out) names through `crate::`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for entry in fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.push((
                path.file_name().unwrap().to_str().unwrap().to_owned(),
                path.join("mod.rs"),
            ));
        } else if path.file_stem().unwrap() != "lib" {
            files.push((path.file_stem().unwrap().to_str().unwrap().to_owned(), path));
        }
    }
    let modules: BTreeSet<String> = files.iter().map(|(name, _)| name.clone()).collect();
    files
        .into_iter()
        .map(|(name, path)| {
            let text = fs::read_to_string(path).unwrap();
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
            let used = named_modules(code)
                .into_iter()
                .filter(|used| *used != name && modules.contains(used))
                .collect();
            (name, used)
        })
        .collect()
}

/// The first path segment after every `crate::`, including each one inside `crate::{...}`.
fn named_modules(code: &str) -> BTreeSet<String> {
    let ident = |text: &str| -> String {
        text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
    };
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut start_of_item) = (1, true);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 1 => break,
                    '}' => depth -= 1,
                    ',' if depth == 1 => start_of_item = true,
                    c if c.is_whitespace() => {}
                    _ if start_of_item && depth == 1 => {
                        found.insert(ident(&group[i..]));
                        start_of_item = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found
}

/// A circle of modules, if there is one.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut circle = path[at..].to_vec();
            circle.push(module.to_owned());
            return Some(circle);
        }
        if !done.insert(module.to_owned()) {
            return None;
        }
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_one_that_imports_it() {
    let graph = imports();
    assert!(graph["schedule"].contains("units"), "the graph was read: {graph:?}");
    if let Some(circle) = find_circle(&graph) {
        panic!("import circle: {}", circle.join(" -> "));
    }
}

#[test]
fn the_check_finds_a_circle() {
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(find_circle(&graph).unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(
        named_modules("use crate::{\n    a::{B, C},\n    d::E,\n};\nfn f() { crate::g::h() }"),
        BTreeSet::from(["a".to_owned(), "d".to_owned(), "g".to_owned()])
    );
}
