//! Prints the README's accuracy table: accord's methods on every set in
//! ../shared/datasets (or $ACCORD_DATASETS), beside crowd-kit's measured
//! accuracy from tests/data/crowdkit_reference.csv.
//!
//!     cargo run --release --example accuracy_table

use std::collections::HashMap;
use std::path::PathBuf;

use accord::algo::{self, Method, Params};
use accord::backend::cpu::CpuBackend;
use accord::eval::{gold_accuracy, read_gold};
use accord::io::{self, ReadOptions};
use accord::pack::{self, DuplicatePolicy};

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let datasets = std::env::var_os("ACCORD_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/datasets"));
    if !datasets.is_dir() {
        anyhow::bail!("{} not found: set ACCORD_DATASETS", datasets.display());
    }
    let mut reference: HashMap<(String, String), String> = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(root.join("tests/data/crowdkit_reference.csv")) {
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() >= 3 {
                reference.insert((f[0].into(), f[1].into()), f[2].into());
            }
        }
    }
    let methods = [
        Method::Hds,
        Method::Mv,
        Method::Ds,
        Method::Mds,
        Method::OneCoin,
        Method::Wawa,
        Method::Zbs,
    ];
    let peers = ["MV", "DS", "OneCoinDS", "Wawa", "ZBS"];
    let columns: Vec<String> = methods
        .iter()
        .map(|m| format!("accord {}", m.name()))
        .chain(peers.iter().map(|p| format!("crowd-kit {p}")))
        .collect();
    println!("| dataset | K | annotations | {} |", columns.join(" | "));
    println!("|---|---|---|{}", "---|".repeat(columns.len()));
    let mut names: Vec<_> = std::fs::read_dir(&datasets)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("labels.csv").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut sums = vec![0f64; methods.len() + peers.len()];
    for name in &names {
        let dir = datasets.join(name);
        let input = io::read(&dir.join("labels.csv"), &ReadOptions::default(), &|_| {})?;
        let data = pack::pack(input.annotations, DuplicatePolicy::Keep)?;
        let gold = read_gold(&dir.join("gold.csv"))?;
        let mut cells = Vec::new();
        for (m, method) in methods.iter().enumerate() {
            let fit = algo::fit(&data, &CpuBackend, &Params::new(*method), &mut |_, _| {})?;
            let (correct, scored) = gold_accuracy(&data, &fit.labels, &gold);
            let acc = correct as f64 / scored as f64;
            sums[m] += acc;
            cells.push(format!("{acc:.4}"));
        }
        for (p, ck) in peers.iter().enumerate() {
            let cell = reference.get(&(name.clone(), ck.to_string())).cloned();
            sums[methods.len() + p] += cell
                .as_deref()
                .and_then(|c| c.parse().ok())
                .unwrap_or(f64::NAN);
            cells.push(cell.unwrap_or("–".into()));
        }
        println!(
            "| {name} | {} | {} | {} |",
            data.n_classes(),
            data.n_annotations(),
            cells.join(" | ")
        );
    }
    let means: Vec<String> = sums
        .iter()
        .enumerate()
        .map(|(c, s)| {
            let mean = s / names.len() as f64;
            if c < methods.len() {
                format!("**{mean:.4}**")
            } else {
                format!("{mean:.4}")
            }
        })
        .collect();
    println!("| mean | | | {} |", means.join(" | "));
    Ok(())
}
