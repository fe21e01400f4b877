//! A global allocator that counts the heap allocations of each thread, shared by the
//! allocation tests (`tests/alloc.rs`) and the examples that prove their loops allocate
//! nothing. Include it with `#[path = ".../support/counting.rs"] mod counting;` and install it
//! with `#[global_allocator] static GLOBAL: counting::Counting = counting::Counting;`.
//!
//! Only the calling thread's allocations count, so that a poller thread's work does not show
//! up in the figures of the evaluating thread. The largest single allocation is tracked across
//! all threads (for the decompression bound).

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The counting allocator: `System`, plus a per-thread count of allocations and reallocations.
pub struct Counting;

thread_local! {
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

/// The largest single allocation (or reallocation) of any thread since the last reset.
static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn count() {
    // `try_with`: the allocator also runs while thread-locals are torn down, when the count
    // is gone; those allocations are not counted. A const-initialised `Cell` needs no
    // allocation of its own, so counting cannot recurse.
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the only other things done are bumping a thread-local counter and
// an atomic maximum, which neither allocate nor unwind.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's `layout` is passed on as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` through this allocator with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` through this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations (and reallocations) made so far by the calling thread.
pub fn allocations_so_far() -> u64 {
    COUNT.with(Cell::get)
}

/// Runs `f` and returns how many allocations it made on this thread, with its result.
pub fn allocations<T>(f: impl FnOnce() -> T) -> (u64, T) {
    let before = allocations_so_far();
    let out = f();
    (allocations_so_far() - before, out)
}

/// The largest single allocation any thread made since the last [`reset_largest`], in bytes.
pub fn largest_allocation() -> usize {
    LARGEST.load(Ordering::Relaxed)
}

/// Starts [`largest_allocation`] over.
pub fn reset_largest() {
    LARGEST.store(0, Ordering::Relaxed);
}
