//! `accord consolidate --known FILE` and `--drop-spammers THRESHOLD`: the
//! summary lines they add. The work is the library's
//! ([`accord::classification::known`], [`accord::classification::spammer`]).

use accord::classification::Labels;

/// Names listed in a summary line before "and N more".
const FIRST_FEW: usize = 5;

/// Workers listed in the known-item accuracy table.
const WORST_FEW: usize = 5;

/// `"a", "b", "c" and 4 more`.
fn first_few(names: impl ExactSizeIterator<Item = String>) -> String {
    let n = names.len();
    let shown: Vec<String> = names.take(FIRST_FEW).map(|s| format!("{s:?}")).collect();
    if n > FIRST_FEW {
        format!("{} and {} more", shown.join(", "), n - FIRST_FEW)
    } else {
        shown.join(", ")
    }
}

/// Prints what `--known` and `--drop-spammers` did.
pub fn print_summary(labels: &Labels) {
    if let Some(report) = &labels.known {
        say!(
            "accord: known labels: {} of {} item{} clamped (label from the file, confidence 1){}",
            report.used,
            report.given,
            if report.given == 1 { "" } else { "s" },
            if report.repeats > 0 {
                format!(
                    "; {} repeated row{} with the same label",
                    report.repeats,
                    if report.repeats == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            }
        );
        if !report.not_in_input.is_empty() {
            say!(
                "accord: known labels: {} item{} not in the input, ignored: {}",
                report.not_in_input.len(),
                if report.not_in_input.len() == 1 {
                    ""
                } else {
                    "s"
                },
                first_few(report.not_in_input.iter().cloned())
            );
        }
        print_known_accuracy(labels);
    }
    if let Some(drop) = &labels.spammers {
        let n = drop.n_dropped();
        if n == 0 {
            say!(
                "accord: --drop-spammers {}: no worker's spammer score reached it; one fit",
                drop.threshold
            );
        } else {
            let names = drop
                .dropped
                .iter()
                .enumerate()
                .filter(|(_, &d)| d)
                .map(|(w, _)| labels.data.worker_names.get(w).to_string())
                .collect::<Vec<_>>();
            say!(
                "accord: --drop-spammers {}: dropped {} of {} worker{} with spammer score ≥ {} ({}) and refit ({} iteration{} before)",
                drop.threshold,
                n,
                labels.data.n_workers(),
                if labels.data.n_workers() == 1 { "" } else { "s" },
                drop.threshold,
                first_few(names.into_iter()),
                drop.first_iterations,
                if drop.first_iterations == 1 { "" } else { "s" },
            );
        }
        if !drop.orphaned.is_empty() {
            say!(
                "accord: --drop-spammers: {} answered only by dropped workers: the first fit's label kept: {}",
                super::consolidate::count(drop.orphaned.len(), "item"),
                first_few(
                    drop.orphaned
                        .iter()
                        .map(|&i| labels.data.item_names.get(i as usize).to_string())
                        .collect::<Vec<_>>()
                        .into_iter()
                )
            );
        }
    }
}

/// The workers least accurate on the known items (the whole table is in
/// `--workers-out`).
fn print_known_accuracy(labels: &Labels) {
    let Some(tally) = labels.known_tally() else {
        return;
    };
    let mut answered: Vec<usize> = (0..tally.len())
        .filter(|&w| tally[w].answered > 0)
        .collect();
    if answered.is_empty() {
        say!("accord: known labels: no worker answered a known item");
        return;
    }
    let accuracy = |w: usize| tally[w].accuracy().unwrap_or(0.0);
    answered.sort_by(|&a, &b| {
        accuracy(a)
            .total_cmp(&accuracy(b))
            .then(tally[b].answered.cmp(&tally[a].answered))
    });
    let (right, all) = answered.iter().fold((0, 0), |(r, a), &w| {
        (r + tally[w].correct, a + tally[w].answered)
    });
    say!(
        "accord: known labels: {} worker{} answered known items, {right} of {all} answers right; least accurate (all in --workers-out):",
        answered.len(),
        if answered.len() == 1 { "" } else { "s" },
    );
    for &w in answered.iter().take(WORST_FEW) {
        let t = tally[w];
        say!(
            "accord:   {:<20} {:>3} of {:>3} right ({:.3})",
            labels.data.worker_names.get(w),
            t.correct,
            t.answered,
            accuracy(w)
        );
    }
}
