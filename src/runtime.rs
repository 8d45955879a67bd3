//! What std provided the component and `no_std` must (wasm only): the panic handler, the
//! global allocator and the canonical ABI's `cabi_realloc`.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::Cell;

/// Without std, a panic (a bug: outside input never panics) traps at once, as std's abort did;
/// std printed the message to stderr first, which the host discards.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    wasm32::unreachable()
}

// wasi-libc gives `memcpy`, `memcmp` and the like (as it did with std); its malloc is no longer
// used, so the linker leaves it out.
#[link(name = "c")]
unsafe extern "C" {}

/// A bump allocator over pages taken with `memory.grow`.
///
/// The host runs every call in a fresh instance and throws its memory away afterwards, so the
/// guest's memory lives for one call: a general-purpose malloc (wasi-libc's dlmalloc, used
/// before) cost about 15% of a call's fuel keeping free lists that are never needed for long.
/// Here an allocation moves a pointer; the most recent block can be freed,
/// shrunk or grown in place (a `Vec` or `String` being built, a temporary); any other freed
/// block stays unused until the instance is dropped. The peak is bounded by what one call
/// allocates in all (BENCHMARKS.md, "Guest work, after").
///
/// Only memory this allocator grew itself is handed out: the data, the stack and anything below
/// the memory's size at the first allocation are never touched.
struct BumpAllocator {
    /// The first free byte.
    top: Cell<usize>,
    /// The end of the pages this allocator owns (0 before the first allocation).
    end: Cell<usize>,
}

// SAFETY: the component is single-threaded (wasm32-wasip2 without threads): the cells are never
// touched from two threads.
unsafe impl Sync for BumpAllocator {}

#[global_allocator]
static ALLOCATOR: BumpAllocator = BumpAllocator {
    top: Cell::new(0),
    end: Cell::new(0),
};

/// The size of a wasm page.
const PAGE: usize = 65_536;

/// What growing the memory gave.
enum Grown {
    /// Pages right after the owned ones.
    Contiguous,
    /// Pages after some that something else grew: owned from their start on, `top` moved there.
    Elsewhere,
    /// None: the memory cannot grow (or the sizes overflow).
    Failed,
}

impl BumpAllocator {
    /// Grows the memory so that, if the new pages follow the owned ones, `[.., new_top)` is
    /// owned (`new_top` is past `end`).
    fn grow(&self, new_top: usize) -> Grown {
        let end = self.end.get();
        let pages = (new_top - end).div_ceil(PAGE);
        let old_pages = wasm32::memory_grow::<0>(pages);
        if old_pages == usize::MAX {
            return Grown::Failed;
        }
        let new_end = old_pages
            .checked_mul(PAGE)
            .and_then(|old_end| Some((old_end, old_end.checked_add(pages.checked_mul(PAGE)?)?)));
        let Some((old_end, new_end)) = new_end else {
            return Grown::Failed;
        };
        self.end.set(new_end);
        if old_end == end {
            Grown::Contiguous
        } else {
            self.top.set(old_end);
            Grown::Elsewhere
        }
    }

    /// A new block for `layout`, or null.
    fn bump(&self, layout: Layout) -> *mut u8 {
        if self.end.get() == 0 {
            // The first allocation: the pages from here on are grown by this allocator.
            let size = wasm32::memory_size::<0>().saturating_mul(PAGE);
            self.top.set(size);
            self.end.set(size);
        }
        loop {
            let start = self.top.get().checked_next_multiple_of(layout.align());
            let Some((start, new_top)) =
                start.and_then(|start| Some((start, start.checked_add(layout.size())?)))
            else {
                return core::ptr::null_mut();
            };
            if new_top <= self.end.get() {
                self.top.set(new_top);
                return core::ptr::with_exposed_provenance_mut(start);
            }
            // Grown either way, the next turn fits or grows again: this ends.
            if let Grown::Failed = self.grow(new_top) {
                return core::ptr::null_mut();
            }
        }
    }

    /// Whether the block `[ptr, ptr + size)` is the most recent one.
    fn is_last(&self, ptr: *mut u8, size: usize) -> bool {
        (ptr.expose_provenance()).wrapping_add(size) == self.top.get()
    }
}

// SAFETY: `alloc` returns null or a block of `layout.size()` bytes aligned to `layout.align()`
// that no other live block overlaps (`top` only moves past it, or back to a block's start when
// that block, the most recent one, is freed or resized); the block lies in pages this allocator
// grew, so neither the stack nor the data nor another allocator's memory. `realloc` keeps the
// first `min(old, new)` bytes, in place or copied.
unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.bump(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // The most recent block goes back; any other stays unused until the call ends.
        if self.is_last(ptr, layout.size()) {
            self.top.set(ptr.expose_provenance());
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = ptr.expose_provenance();
        if self.is_last(ptr, layout.size()) {
            // The most recent block shrinks or grows in place (it is already aligned).
            let Some(new_top) = start.checked_add(new_size) else {
                return core::ptr::null_mut();
            };
            if new_top <= self.end.get() {
                self.top.set(new_top);
                return ptr;
            }
            match self.grow(new_top) {
                Grown::Contiguous => {
                    self.top.set(new_top);
                    return ptr;
                }
                Grown::Failed => return core::ptr::null_mut(),
                // The block can no longer grow in place: moved below.
                Grown::Elsewhere => {}
            }
        } else if new_size <= layout.size() {
            // A shrink of an older block: it stays where it is.
            return ptr;
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return core::ptr::null_mut();
        };
        let new_ptr = self.bump(new_layout);
        if !new_ptr.is_null() {
            // SAFETY: both blocks are valid for `min(old, new)` bytes and do not overlap (the
            // new one starts at or after `top`, past the old one).
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
            }
        }
        new_ptr
    }
}

/// The canonical ABI's allocation entry point, which std exports on WASI preview 2 (and
/// wit-bindgen expects from it there); the same code as std's.
///
/// # Safety
/// Called by the host per the canonical ABI: `old_ptr`/`old_len` from an earlier call, `align`
/// a power of two.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    use alloc::alloc::{alloc, realloc};
    // SAFETY: per the canonical ABI, `align` is a power of two and the sizes fit the memory;
    // `old_ptr` is a block allocated with `old_len` and `align` when `old_len` is not zero.
    let ptr = unsafe {
        if old_len == 0 {
            if new_len == 0 {
                return core::ptr::without_provenance_mut(align);
            }
            alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            realloc(
                old_ptr,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        }
    };
    if ptr.is_null() {
        wasm32::unreachable();
    }
    ptr
}
