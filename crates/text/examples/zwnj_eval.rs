//! Measures `repair_zwnj` on Persian text that has its ZWNJs: each line
//! loses them, is repaired, and is compared with the original (see
//! `tests/support/zwnj_score.rs` for what is counted).
//!
//! ```text
//! cargo run --release -p tarjoman-text --example zwnj_eval -- test.fa [--lines A..B] [--show N]
//! ```
//!
//! The numbers in the crate's docs come from the Persian side of the
//! TICO-19 test set (`test.fa`, 2,100 lines).

use std::error::Error;

#[path = "../tests/support/zwnj_score.rs"]
mod zwnj_score;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut show = 0usize;
    let mut range = 0..usize::MAX;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--show" => show = args.next().ok_or("--show needs a number")?.parse()?,
            "--lines" => {
                let spec = args.next().ok_or("--lines needs A..B")?;
                let (a, b) = spec.split_once("..").ok_or("--lines needs A..B")?;
                range = a.parse()?..b.parse()?;
            }
            _ => path = Some(arg),
        }
    }
    let path = path.ok_or("usage: zwnj_eval FILE [--lines A..B] [--show N]")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let lines = text
        .lines()
        .skip(range.start)
        .take(range.end.saturating_sub(range.start));
    let score = zwnj_score::score(lines)?;

    let pct = |a, b| 100.0 * zwnj_score::share(a, b);
    println!("lines: {}", score.lines);
    println!(
        "ZWNJs between letters in the reference: {} ({} visible, after a joining letter)",
        score.reference, score.reference_visible
    );
    println!(
        "restored: {} = {:.1}% of all, {} = {:.1}% of visible",
        score.restored,
        pct(score.restored, score.reference),
        score.restored_visible,
        100.0 * score.restored_visible_share()
    );
    println!(
        "inserted: {}, false insertions (no ZWNJ there in the reference): {} = {:.1}% of insertions",
        score.inserted,
        score.false_insertions,
        100.0 * score.false_insertion_share()
    );
    println!(
        "after a word-initial می/نمی: {} in the reference, {} restored = {:.1}%, {} inserted, {} false",
        score.mi_reference,
        score.mi_restored,
        pct(score.mi_restored, score.mi_reference),
        score.mi_inserted,
        score.mi_false
    );
    for (title, table) in [
        ("false insertions", &score.false_words),
        ("missed (visible)", &score.missed),
    ] {
        if show == 0 {
            continue;
        }
        let mut rows: Vec<_> = table.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        println!("\n{title}, most frequent first:");
        for (word, n) in rows.into_iter().take(show) {
            println!("{n:5}  {word}");
        }
    }
    Ok(())
}
