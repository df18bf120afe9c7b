//! How much memory a training run needs, measured two ways over a window that opens when
//! training starts (data loaded, network built):
//!
//! - **resident set size** (`VmRSS`, peak `VmHWM` from `/proc/self/status`): what the OS sees,
//!   including freed memory that the allocator keeps for reuse;
//! - **live heap**: the bytes the program holds, counted by [`CountingAlloc`] when the binary
//!   installs it as the global allocator (the `mole` binary does). Independent of how the
//!   allocator recycles memory, this is the number that says whether local training holds one
//!   module's activations or the whole network's.
//!
//! [`MemoryWindow::start`] resets both peaks, so the peaks read at the end are training's own;
//! `peak − at_start` is what training added to the data and the freshly built network.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static LIVE: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
/// The peak of the window's earlier stretches, before an excluded stretch restarted `PEAK`.
static EARLIER_PEAK: AtomicU64 = AtomicU64::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);
static RELEASE_FREE_MEMORY: OnceLock<fn()> = OnceLock::new();

/// A global allocator that forwards to `A` and counts the live heap and its peak:
/// `#[global_allocator] static A: CountingAlloc<System> = CountingAlloc(System);`.
pub struct CountingAlloc<A>(pub A);

fn grew(bytes: usize) {
    let now = LIVE.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    LIVE.fetch_sub(bytes as u64, Ordering::Relaxed);
}

// SAFETY: every call forwards to `A` with the caller's arguments unchanged; the counters are
// plain atomics and never allocate.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        COUNTING.store(true, Ordering::Relaxed);
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { self.0.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

/// Live heap bytes now; `None` unless [`CountingAlloc`] is the global allocator.
pub fn heap_bytes() -> Option<u64> {
    COUNTING
        .load(Ordering::Relaxed)
        .then(|| LIVE.load(Ordering::Relaxed))
}

/// Peak live heap bytes since the last [`MemoryWindow::start`] (or since the process started),
/// stretches run under [`excluded`] left out; `None` unless [`CountingAlloc`] is the global
/// allocator.
pub fn peak_heap_bytes() -> Option<u64> {
    COUNTING.load(Ordering::Relaxed).then(|| {
        PEAK.load(Ordering::Relaxed)
            .max(EARLIER_PEAK.load(Ordering::Relaxed))
    })
}

/// Runs `f` without counting its heap peak (the per-epoch evaluation: accuracies and the
/// dependence measures of every layer, which are diagnostics, not training). What `f` leaves
/// allocated still counts afterwards.
pub fn excluded<T>(f: impl FnOnce() -> T) -> T {
    EARLIER_PEAK.fetch_max(PEAK.load(Ordering::Relaxed), Ordering::Relaxed);
    let out = f();
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    out
}

/// Peak resident set size in bytes since the last [`MemoryWindow::start`] (or since the
/// process started); 0 where `/proc` is unavailable.
pub fn peak_rss_bytes() -> u64 {
    status_bytes("VmHWM:")
}

/// Resident memory of the process now (`VmRSS`), in bytes; 0 where `/proc` is unavailable.
pub fn rss_bytes() -> u64 {
    status_bytes("VmRSS:")
}

fn status_bytes(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Registers how the process's allocator hands freed memory back to the OS (the `mole` binary:
/// mimalloc's `mi_collect`). [`MemoryWindow::start`] calls it first, so that memory freed before
/// training (the full dataset before `--train-samples` subsets it, say), which an allocator may
/// keep resident and reuse, neither counts in the start nor hides training's own RSS peak.
pub fn set_memory_release(release: fn()) {
    let _ = RELEASE_FREE_MEMORY.set(release);
}

/// Memory when training started; the peaks are read against it.
#[derive(Clone, Copy, Debug)]
pub struct MemoryWindow {
    /// Resident memory at the start, bytes.
    pub rss_at_start: u64,
    /// Live heap at the start, bytes (`None` without [`CountingAlloc`]).
    pub heap_at_start: Option<u64>,
}

impl MemoryWindow {
    /// Opens the window: returns freed memory to the OS where a release is registered, resets
    /// the kernel's peak-RSS mark (writing 5 to `/proc/self/clear_refs`; where that fails the
    /// peak stays the process's) and the heap peak.
    pub fn start() -> MemoryWindow {
        if let Some(release) = RELEASE_FREE_MEMORY.get() {
            release();
        }
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
        EARLIER_PEAK.store(0, Ordering::Relaxed);
        MemoryWindow {
            rss_at_start: rss_bytes(),
            heap_at_start: heap_bytes(),
        }
    }

    /// The peaks since [`MemoryWindow::start`], read when training ends (before the final
    /// evaluation and the embeddings written for the report).
    pub fn end(&self) -> MemoryUse {
        MemoryUse {
            window: *self,
            peak_rss: peak_rss_bytes(),
            peak_heap: peak_heap_bytes(),
        }
    }
}

/// What a training window used.
#[derive(Clone, Copy, Debug)]
pub struct MemoryUse {
    /// The start of the window.
    pub window: MemoryWindow,
    /// Peak resident memory in the window, bytes.
    pub peak_rss: u64,
    /// Peak live heap in the window, evaluation excluded, bytes (`None` without
    /// [`CountingAlloc`]).
    pub peak_heap: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    fn touch(n: usize) -> usize {
        let v = vec![1u8; n * MIB];
        std::hint::black_box(v.iter().step_by(4096).map(|&b| b as usize).sum::<usize>())
    }

    /// The window forgets an earlier peak and sees the memory touched inside it.
    #[test]
    fn window_measures_the_resident_peak_inside_it() {
        touch(256); // a large block: mapped, touched and unmapped again
        let w = MemoryWindow::start();
        assert!(w.rss_at_start > 0);
        let before = peak_rss_bytes();
        assert!(before < w.rss_at_start + 128 * MIB as u64, "{before} {w:?}");
        touch(64);
        let peak = peak_rss_bytes();
        assert!(peak >= w.rss_at_start + 60 * MIB as u64, "{peak} {w:?}");
    }

    /// The counting allocator's arithmetic, driven directly (the test binary keeps the system
    /// allocator as its global one).
    #[test]
    fn counting_allocator_tracks_live_bytes_and_their_peak() {
        let a = CountingAlloc(std::alloc::System);
        let live = || LIVE.load(Ordering::Relaxed);
        let big = Layout::from_size_align(8 * MIB, 64).unwrap();
        let small = Layout::from_size_align(MIB, 8).unwrap();
        // Other tests allocate concurrently through the system allocator, not through `a`, so
        // the counters move only here.
        let start = live();
        // SAFETY: layouts are non-zero; every block is freed with the layout it has.
        unsafe {
            let p = a.alloc(big);
            let q = a.alloc_zeroed(small);
            assert_eq!(live() - start, (9 * MIB) as u64);
            let q = a.realloc(q, small, 3 * MIB);
            assert_eq!(live() - start, (11 * MIB) as u64);
            assert!(PEAK.load(Ordering::Relaxed) >= start + (11 * MIB) as u64);
            a.dealloc(p, big);
            a.dealloc(q, Layout::from_size_align(3 * MIB, 8).unwrap());
        }
        assert_eq!(live(), start);
        assert_eq!(
            heap_bytes(),
            Some(start),
            "counting once an allocation went through"
        );
    }
}
