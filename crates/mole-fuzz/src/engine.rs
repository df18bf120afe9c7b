//! The fuzzing loop: pick a corpus entry, mutate it, execute the harness under a panic catcher,
//! a watchdog and the allocation counter, keep inputs with a new outcome, save crashes.

use crate::{HANG_SECONDS, Target, alloc, mutate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

/// How long and from where to fuzz.
#[derive(Clone, Debug)]
pub struct FuzzOptions {
    /// Seed of the mutations: the same seed, corpus and executions give the same inputs.
    pub seed: u64,
    /// Stop after this many executions (`None`: only the time limit).
    pub executions: Option<u64>,
    /// Stop after this long.
    pub seconds: f64,
    /// `shared/datasets`, where the seed corpus is read.
    pub datasets: PathBuf,
    /// Where crashing inputs are written (`<target>-<hash>.bin`); `None`: kept in the report only.
    pub crash_dir: Option<PathBuf>,
    /// Stop at the first crash.
    pub stop_at_crash: bool,
    /// Print each new outcome to stderr.
    pub show_outcomes: bool,
}

/// An input that made a harness panic, hang or allocate beyond its bound.
#[derive(Clone, Debug)]
pub struct Crash {
    /// `panic` or `allocation`.
    pub kind: &'static str,
    /// The panic message, or the bytes allocated against the bound.
    pub message: String,
    /// The input.
    pub input: Vec<u8>,
    /// Where it was saved.
    pub saved: Option<PathBuf>,
}

/// What a fuzzing run did.
#[derive(Clone, Debug)]
pub struct FuzzReport {
    /// The harness.
    pub target: &'static str,
    /// Inputs executed (seeds included).
    pub executions: u64,
    /// Corpus size at the end (seeds and kept mutants).
    pub corpus: usize,
    /// Distinct outcomes seen (accepted, or each kind of refusal).
    pub outcomes: usize,
    /// Inputs the harness accepted.
    pub accepted: u64,
    /// The largest allocation peak of one execution as a share of its bound.
    pub worst_bound_share: f64,
    /// Crashes, at most one per distinct message.
    pub crashes: Vec<Crash>,
    /// Wall time.
    pub seconds: f64,
}

thread_local! {
    static IN_HARNESS: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Installs (once) a panic hook that records a harness's panic message instead of printing it;
/// panics outside a harness go to the previous hook.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_HARNESS.with(Cell::get) {
                let msg = info.to_string();
                LAST_PANIC.with(|p| *p.borrow_mut() = msg);
            } else {
                previous(info);
            }
        }));
    });
}

/// Watches one fuzzing thread: aborts the process when an execution runs past
/// [`HANG_SECONDS`], after saving its input.
struct Watchdog {
    started_ms: Arc<AtomicU64>,
    input: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(target: &'static str, crash_dir: Option<PathBuf>) -> Watchdog {
        let started_ms = Arc::new(AtomicU64::new(0));
        let input = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let epoch = Instant::now();
        let (s, i, st) = (started_ms.clone(), input.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                let began = s.load(Ordering::Relaxed);
                let now = epoch.elapsed().as_millis() as u64 + 1;
                if began > 0 && now.saturating_sub(began) > HANG_SECONDS * 1000 {
                    let bytes = i.lock().map(|b| b.clone()).unwrap_or_default();
                    let saved = save(crash_dir.as_deref(), target, "hang", &bytes);
                    eprintln!(
                        "mole-fuzz: {target}: an execution ran over {HANG_SECONDS} s (a hang); \
                         input saved to {}",
                        saved.map_or("nowhere".into(), |p| p.display().to_string())
                    );
                    std::process::abort();
                }
            }
        });
        Watchdog {
            started_ms,
            input,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn save(dir: Option<&Path>, target: &str, kind: &str, input: &[u8]) -> Option<PathBuf> {
    let dir = dir?;
    std::fs::create_dir_all(dir).ok()?;
    let path = dir.join(format!("{target}-{kind}-{:016x}.bin", fnv(input)));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

/// The outcome class of a refusal: the first eight template words of its message's first line,
/// where a template word is lowercase ASCII letters only, not a quoted value and not a long run
/// of hex digits — so that "line 3" and "line 4", or two different bad values, are one
/// outcome, "line 3: bad header" and "line 3: bad label" two.
fn outcome(result: &Result<(), String>) -> String {
    let Err(m) = result else {
        return "ok".into();
    };
    let mut unquoted = String::with_capacity(m.len());
    let mut quote = None;
    for c in m.lines().next().unwrap_or("").chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '\'' | '"' | '`') => quote = Some(c),
            None => unquoted.push(c),
        }
    }
    unquoted
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| {
            w.len() >= 2
                && w.chars().all(|c| c.is_ascii_lowercase())
                && !(w.len() > 4 && w.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .take(8)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Most outcomes kept in the corpus that share their first word: a message that still embeds
/// input text cannot fill the corpus with copies of one refusal.
const PER_FAMILY: usize = 48;

fn family(outcome: &str) -> String {
    outcome.split(' ').next().unwrap_or("").to_string()
}

enum Executed {
    Outcome(Result<(), String>, f64),
    Crash(Crash),
}

fn execute(target: &Target, input: &[u8], watchdog: &Watchdog, epoch: Instant) -> Executed {
    if let Ok(mut slot) = watchdog.input.lock() {
        slot.clear();
        slot.extend_from_slice(input);
    }
    let bound = (target.bound)(input);
    watchdog
        .started_ms
        .store(epoch.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
    alloc::reset_peak();
    let base = alloc::live();
    IN_HARNESS.with(|h| h.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (target.run)(input)));
    IN_HARNESS.with(|h| h.set(false));
    let grown = (alloc::peak() - base).max(0) as usize;
    watchdog.started_ms.store(0, Ordering::Relaxed);
    match result {
        Err(_) => Executed::Crash(Crash {
            kind: "panic",
            message: LAST_PANIC.with(|p| p.borrow().clone()),
            input: input.to_vec(),
            saved: None,
        }),
        Ok(_) if grown > bound => Executed::Crash(Crash {
            kind: "allocation",
            message: format!(
                "{grown} bytes allocated for a {}-byte input (bound {bound})",
                input.len()
            ),
            input: input.to_vec(),
            saved: None,
        }),
        Ok(r) => Executed::Outcome(r, grown as f64 / bound.max(1) as f64),
    }
}

/// Fuzzes `target` as `opts` says. The seeds run first, then mutants until the time or
/// execution limit.
pub fn fuzz(target: &Target, opts: &FuzzOptions) -> FuzzReport {
    install_panic_hook();
    let start = Instant::now();
    let watchdog = Watchdog::start(target.name, opts.crash_dir.clone());
    let mut rng = StdRng::seed_from_u64(opts.seed ^ fnv(target.name.as_bytes()));
    let mut corpus: Vec<Vec<u8>> = (target.seeds)(&opts.datasets);
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let max_len = corpus
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .saturating_mul(2)
        .clamp(4096, 1 << 20);
    let mut seen = HashSet::new();
    let mut families = std::collections::HashMap::new();
    let mut report = FuzzReport {
        target: target.name,
        executions: 0,
        corpus: 0,
        outcomes: 0,
        accepted: 0,
        worst_bound_share: 0.0,
        crashes: Vec::new(),
        seconds: 0.0,
    };
    let mut crash_messages = HashSet::new();
    let seeds = corpus.len();
    let mut next = 0usize;
    loop {
        if report.executions >= opts.executions.unwrap_or(u64::MAX)
            || start.elapsed().as_secs_f64() >= opts.seconds
            || (opts.stop_at_crash && !report.crashes.is_empty())
        {
            break;
        }
        let input = if next < seeds {
            next += 1;
            corpus[next - 1].clone()
        } else {
            let a = rng.random_range(0..corpus.len());
            let b = rng.random_range(0..corpus.len());
            mutate::mutate(&mut rng, &corpus[a], &corpus[b], target.dictionary, max_len)
        };
        report.executions += 1;
        match execute(target, &input, &watchdog, start) {
            Executed::Outcome(r, share) => {
                report.accepted += u64::from(r.is_ok());
                report.worst_bound_share = report.worst_bound_share.max(share);
                let o = outcome(&r);
                if !seen.contains(&o) {
                    if opts.show_outcomes {
                        eprintln!(
                            "{}: {o}  <=  {}",
                            target.name,
                            r.as_ref()
                                .err()
                                .map_or("ok", |e| e.lines().next().unwrap_or(""))
                        );
                    }
                    let f = families.entry(family(&o)).or_insert(0usize);
                    *f += 1;
                    if *f <= PER_FAMILY && corpus.len() < 4096 && next >= seeds {
                        corpus.push(input);
                    }
                    seen.insert(o);
                }
            }
            Executed::Crash(mut c) => {
                let key = format!("{}{}", c.kind, outcome(&Err(c.message.clone())));
                if crash_messages.insert(key) {
                    c.saved = save(opts.crash_dir.as_deref(), target.name, c.kind, &c.input);
                    report.crashes.push(c);
                }
            }
        }
    }
    report.corpus = corpus.len();
    report.outcomes = seen.len();
    report.seconds = start.elapsed().as_secs_f64();
    report
}

/// Runs every file of `dir` (saved crashes, now regression inputs) through `target`; returns the
/// ones that still crash.
pub fn replay(target: &Target, dir: &Path) -> Vec<Crash> {
    install_panic_hook();
    let watchdog = Watchdog::start(target.name, None);
    let start = Instant::now();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    let mut crashes = Vec::new();
    for f in files {
        let Ok(input) = std::fs::read(&f) else {
            continue;
        };
        if let Executed::Crash(mut c) = execute(target, &input, &watchdog, start) {
            c.saved = Some(f);
            crashes.push(c);
        }
    }
    crashes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_that_differ_only_in_numbers_are_one_outcome() {
        assert_eq!(
            outcome(&Err("line 3: bad".into())),
            outcome(&Err("line 41: bad".into()))
        );
        assert_ne!(
            outcome(&Err("line 3: bad header".into())),
            outcome(&Err("line 3: bad label".into()))
        );
        assert_eq!(
            outcome(&Err(
                "/tmp/x/a.csv: line 2: cell 'abc' is not a number".into()
            )),
            outcome(&Err("/tmp/y/a.csv: line 9: cell 'q' is not a number".into()))
        );
        assert_eq!(
            outcome(&Err("bad IDX magic ebfffffb: expected 0000".into())),
            outcome(&Err("bad IDX magic 0a1fbcde: expected 0000".into()))
        );
        assert_eq!(outcome(&Ok(())), "ok");
    }
}
