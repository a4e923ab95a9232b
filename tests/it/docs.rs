//! The README and ARCHITECTURE.md say what the code does.

use std::path::Path;

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

/// The `--method` names of the README's table under `heading`.
fn table_names(readme: &str, heading: &str) -> Vec<String> {
    let section = readme
        .split(heading)
        .nth(1)
        .unwrap_or_else(|| panic!("README has no {heading:?}"));
    let mut names: Vec<String> = section
        .lines()
        .skip_while(|l| !l.starts_with("| `--method`"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.split('`').nth(1).expect("a `name` cell").to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn the_readme_method_table_lists_exactly_the_methods_of_the_table() {
    let mut expected: Vec<String> = accord::classification::METHODS
        .iter()
        .map(|m| m.name.to_string())
        .collect();
    expected.sort();
    assert_eq!(table_names(&read("README.md"), "\n## Methods\n"), expected);
}

#[test]
fn the_readme_multilabel_method_table_lists_exactly_its_methods() {
    let mut expected: Vec<String> = accord::multilabel::MultiMethod::ALL
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    expected.sort();
    assert_eq!(
        table_names(&read("README.md"), "\n## Multi-label classification\n"),
        expected
    );
}

#[test]
fn architecture_names_folders_that_exist() {
    let text = read("ARCHITECTURE.md");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for word in text.split(['`', ' ', '(', ')', ',']) {
        let path = word.trim_end_matches(['.', ':']);
        if (path.starts_with("src/") || path.starts_with("shaders/") || path.starts_with("tests/"))
            && !path.contains('<')
            && !path.contains("first.rs")
        {
            assert!(
                root.join(path).exists(),
                "ARCHITECTURE.md names {path}, which does not exist"
            );
            checked += 1;
        }
    }
    assert!(
        checked > 10,
        "only {checked} paths found in ARCHITECTURE.md"
    );
}
