//! A global allocator that counts, per thread, the bytes live and their peak, so that a harness
//! can check an execution's allocations against a bound set by the input's size.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

/// Forwards to `A` and counts the calling thread's live heap and its peak:
/// `#[global_allocator] static A: ThreadCountingAlloc<System> = ThreadCountingAlloc(System);`.
/// Memory freed by another thread than the one that allocated it is counted on the freeing
/// thread; the harnesses are single-threaded.
pub struct ThreadCountingAlloc<A>(pub A);

/// A single allocation above this fails (the process then aborts, as on a real out-of-memory);
/// anything below is served and counted, so that the harness's bound, far lower, catches it
/// after the execution without the machine paying for it (untouched pages are not resident).
pub const HARD_CAP: usize = 8 << 30;

fn add(bytes: isize) {
    // `try_with`: during thread teardown the cells may be gone; the count is then dropped.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + bytes;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call forwards to `A` with the caller's arguments; the counters are
// constant-initialised thread-locals without destructors, which never allocate.
unsafe impl<A: GlobalAlloc> GlobalAlloc for ThreadCountingAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > HARD_CAP {
            return std::ptr::null_mut();
        }
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > HARD_CAP {
            return std::ptr::null_mut();
        }
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.0.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > HARD_CAP {
            return std::ptr::null_mut();
        }
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Starts a measurement on this thread: the peak is set to the live heap now.
pub fn reset_peak() {
    let live = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(live));
}

/// Bytes live on this thread now.
pub fn live() -> isize {
    LIVE.with(Cell::get)
}

/// The peak of this thread's live heap since [`reset_peak`].
pub fn peak() -> isize {
    PEAK.with(Cell::get)
}

/// Whether the allocator is installed (any allocation has been counted on this thread).
pub fn counting() -> bool {
    reset_peak();
    let before = peak();
    let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(64));
    let counted = peak() > before;
    drop(std::hint::black_box(v));
    counted
}
