//! A short fuzz run of every harness (fixed seed, bounded executions and time), the saved
//! crashes of earlier runs replayed as regression tests, and the allocation bound at work.

use mole_fuzz::alloc::ThreadCountingAlloc;
use mole_fuzz::{FuzzOptions, fuzz, replay, targets};
use std::path::PathBuf;

#[global_allocator]
static ALLOC: ThreadCountingAlloc<std::alloc::System> = ThreadCountingAlloc(std::alloc::System);

fn datasets() -> PathBuf {
    let manifest =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    PathBuf::from(manifest).join("../../../shared/datasets")
}

fn short_run(name: &str) {
    assert!(
        mole_fuzz::alloc::counting(),
        "the counting allocator is installed"
    );
    let t = targets().into_iter().find(|t| t.name == name).unwrap();
    let crash_dir = std::env::temp_dir().join(format!("mole-fuzz-crashes-{}", std::process::id()));
    let r = fuzz(
        &t,
        &FuzzOptions {
            seed: 20261204,
            executions: Some(1500),
            seconds: 4.0,
            datasets: datasets(),
            crash_dir: Some(crash_dir),
            stop_at_crash: false,
            show_outcomes: false,
        },
    );
    let crashes: Vec<String> = r
        .crashes
        .iter()
        .map(|c| format!("{} {} ({:?})", c.kind, c.message, c.saved))
        .collect();
    assert!(crashes.is_empty(), "{name}: {crashes:#?}");
    // The seeds are real files the parser accepts, and mutation reaches its refusals.
    assert!(r.accepted >= 1, "{name}: no input accepted: {r:?}");
    assert!(r.outcomes >= 3, "{name}: only {} outcomes", r.outcomes);
    assert!(r.executions >= 50, "{name}: {} executions", r.executions);

    let regressions = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(name);
    let still: Vec<String> = replay(&t, &regressions)
        .iter()
        .map(|c| format!("{:?}: {} {}", c.saved, c.kind, c.message))
        .collect();
    assert!(
        still.is_empty(),
        "{name}: regressions crash again: {still:#?}"
    );
}

#[test]
fn fuzz_idx() {
    short_run("idx");
}
#[test]
fn fuzz_csv() {
    short_run("csv");
}
#[test]
fn fuzz_cifar() {
    short_run("cifar");
}
#[test]
fn fuzz_linqs() {
    short_run("linqs");
}
#[test]
fn fuzz_tu() {
    short_run("tu");
}
#[test]
fn fuzz_config() {
    short_run("config");
}
#[test]
fn fuzz_snapshot() {
    short_run("snapshot");
}
#[test]
fn fuzz_checkpoint() {
    short_run("checkpoint");
}
#[test]
fn fuzz_wire() {
    short_run("wire");
}
#[test]
fn fuzz_run_dir() {
    short_run("run-dir");
}

/// A 16-byte IDX header that claims 10⁹ images of 28 × 28 is refused without allocating them.
#[test]
fn an_idx_header_claiming_a_billion_images_allocates_nothing_like_it() {
    let t = targets().into_iter().find(|t| t.name == "idx").unwrap();
    let mut images = vec![0, 0, 8, 3];
    for d in [1_000_000_000u32, 28, 28] {
        images.extend(d.to_be_bytes());
    }
    images.extend([0u8; 84]);
    let mut labels = vec![0, 0, 8, 1];
    labels.extend(1_000_000_000u32.to_be_bytes());
    let input = mole_fuzz::files::join(&[&images, &labels]);
    mole_fuzz::alloc::reset_peak();
    let base = mole_fuzz::alloc::live();
    let r = (t.run)(&input);
    let grown = (mole_fuzz::alloc::peak() - base) as usize;
    assert!(r.is_err(), "accepted");
    assert!(r.unwrap_err().contains("truncated"), "names the cause");
    assert!(grown < (t.bound)(&input), "{grown} bytes");
    assert!(grown < 1 << 20, "{grown} bytes for a 100-byte header");
}
