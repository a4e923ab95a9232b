//! Prints the README's accuracy tables: accord's methods on every set in
//! ../shared/datasets (or $ACCORD_DATASETS) beside crowd-kit's per-set
//! best, then crowd-kit's methods as measured in
//! tests/data/crowdkit_reference.csv.
//!
//!     cargo run --release --example accuracy_table

use std::collections::HashMap;
use std::path::PathBuf;

use accord::classification::read::ReadOptions;
use accord::engine::backend::cpu::CpuBackend;
use accord::engine::pack::{self, DuplicatePolicy};
use accord::eval::{gold_accuracy, read_gold};
use accord::{
    classification::Method,
    classification::Params,
    classification::{self},
};

/// The default first, then the rest of the method table in its order.
fn methods() -> Vec<Method> {
    std::iter::once(Method::default())
        .chain(
            classification::METHODS
                .iter()
                .map(|m| m.method)
                .filter(|&m| m != Method::default()),
        )
        .collect()
}
const PEERS: [&str; 9] = [
    "MV",
    "DS",
    "OneCoinDS",
    "Wawa",
    "ZBS",
    "GLAD",
    "MACE",
    "KOS",
    "MMSR",
];

fn cell(value: Option<f64>) -> String {
    value.map_or("–".into(), |v| format!("{v:.4}"))
}

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let datasets = std::env::var_os("ACCORD_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/datasets"));
    if !datasets.is_dir() {
        anyhow::bail!("{} not found: set ACCORD_DATASETS", datasets.display());
    }
    let mut reference: HashMap<(String, String), f64> = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(root.join("tests/data/crowdkit_reference.csv")) {
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            if let (3.., Ok(acc)) = (f.len(), f[2].parse()) {
                reference.insert((f[0].into(), f[1].into()), acc);
            }
        }
    }
    let mut names: Vec<_> = std::fs::read_dir(&datasets)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("labels.csv").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();

    let methods = methods();
    let header: Vec<String> = methods.iter().map(|m| m.name().to_owned()).collect();
    println!(
        "| dataset | K | annotations | {} | crowd-kit best |",
        header.join(" | ")
    );
    println!("|---|---|---|{}---|", "---|".repeat(methods.len()));
    // Per column: (sum, sets) over the sets where the method applies.
    let mut sums = vec![(0f64, 0usize); methods.len() + 1];
    let mut peer_rows = Vec::new();
    for name in &names {
        let dir = datasets.join(name);
        let input = accord::classification::read::read(
            &dir.join("labels.csv"),
            &ReadOptions::default(),
            &|_| {},
        )?;
        let data = pack::pack(input.annotations, DuplicatePolicy::Keep)?;
        let gold = read_gold(&dir.join("gold.csv"))?;
        let mut cells = Vec::new();
        for (m, method) in methods.iter().enumerate() {
            let accuracy = match classification::fit(
                &data,
                &CpuBackend,
                &Params::new(*method),
                &mut |_, _| {},
            ) {
                Ok(fit) => {
                    let (correct, scored) = gold_accuracy(&data, &fit.labels, &gold);
                    Some(correct as f64 / scored as f64)
                }
                // KOS on more than two classes.
                Err(accord::Error::Usage(_)) => None,
                Err(e) => return Err(e.into()),
            };
            if let Some(a) = accuracy {
                sums[m].0 += a;
                sums[m].1 += 1;
            }
            cells.push(cell(accuracy));
        }
        let peers: Vec<Option<f64>> = PEERS
            .iter()
            .map(|p| reference.get(&(name.clone(), p.to_string())).copied())
            .collect();
        let best = peers
            .iter()
            .flatten()
            .copied()
            .fold(None, |b: Option<f64>, a| Some(b.map_or(a, |b| b.max(a))));
        if let Some(b) = best {
            sums[methods.len()].0 += b;
            sums[methods.len()].1 += 1;
        }
        println!(
            "| {name} | {} | {} | {} | {} |",
            data.n_classes(),
            data.n_annotations(),
            cells.join(" | "),
            cell(best)
        );
        peer_rows.push((name.clone(), peers));
    }
    let means: Vec<String> = sums
        .iter()
        .map(|&(s, n)| {
            if n == names.len() {
                format!("**{:.4}**", s / n as f64)
            } else {
                format!("({:.4} over {n})", s / n.max(1) as f64)
            }
        })
        .collect();
    println!("| mean | | | {} |", means.join(" | "));

    println!();
    println!(
        "| dataset | {} |",
        PEERS.map(|p| format!("crowd-kit {p}")).join(" | ")
    );
    println!("|---|{}", "---|".repeat(PEERS.len()));
    for (name, peers) in &peer_rows {
        let cells: Vec<String> = peers.iter().map(|&p| cell(p)).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    Ok(())
}
