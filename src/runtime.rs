//! What std provided the component and `no_std` must (wasm only): the panic handler, the
//! global allocator and the canonical ABI's `cabi_realloc`, each doing what std's did.

/// Without std, a panic (a bug: outside input never panics) traps at once, as std's abort did;
/// std printed the message to stderr first, which the host discards.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// std's allocator on WASI, kept without std: wasi-libc's malloc, called as std called it.
struct LibcAllocator;

#[global_allocator]
static ALLOCATOR: LibcAllocator = LibcAllocator;

/// The alignment wasi-libc's malloc guarantees, as std assumes it on wasm32.
const MIN_ALIGN: usize = 8;

#[link(name = "c")]
unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn calloc(count: usize, size: usize) -> *mut u8;
    fn aligned_alloc(align: usize, size: usize) -> *mut u8;
    fn realloc(ptr: *mut u8, size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

// SAFETY: each method forwards to the libc function with the contract GlobalAlloc asks for,
// exactly as std's `System` does on WASI.
unsafe impl core::alloc::GlobalAlloc for LibcAllocator {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        if layout.align() <= MIN_ALIGN && layout.align() <= layout.size() {
            unsafe { malloc(layout.size()) }
        } else {
            unsafe { aligned_alloc(layout.align(), layout.size()) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: core::alloc::Layout) -> *mut u8 {
        if layout.align() <= MIN_ALIGN && layout.align() <= layout.size() {
            unsafe { calloc(layout.size(), 1) }
        } else {
            let ptr = unsafe { self.alloc(layout) };
            if !ptr.is_null() {
                unsafe { core::ptr::write_bytes(ptr, 0, layout.size()) };
            }
            ptr
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: core::alloc::Layout) {
        unsafe { free(ptr) }
    }

    unsafe fn realloc(
        &self,
        ptr: *mut u8,
        layout: core::alloc::Layout,
        new_size: usize,
    ) -> *mut u8 {
        if layout.align() <= MIN_ALIGN && layout.align() <= new_size {
            unsafe { realloc(ptr, new_size) }
        } else {
            // Over-aligned: a new block, the bytes copied, the old one freed (std's fallback).
            let Ok(new_layout) = core::alloc::Layout::from_size_align(new_size, layout.align())
            else {
                return core::ptr::null_mut();
            };
            let new_ptr = unsafe { self.alloc(new_layout) };
            if !new_ptr.is_null() {
                let size = core::cmp::min(layout.size(), new_size);
                unsafe {
                    core::ptr::copy_nonoverlapping(ptr, new_ptr, size);
                    self.dealloc(ptr, layout);
                }
            }
            new_ptr
        }
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
    use alloc::alloc::{Layout, alloc, realloc};
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
        core::arch::wasm32::unreachable();
    }
    ptr
}
