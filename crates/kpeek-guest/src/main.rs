//! `kpeek-guest`: test programs run inside the qemu guest by vmtest (stress, fuzz, consistency).

use clap::Parser;

/// Guest-side test programs for kpeek.ko.
#[derive(Parser)]
#[command(name = "kpeek-guest")]
enum Cmd {}

fn main() -> anyhow::Result<()> {
    match Cmd::parse() {}
}
