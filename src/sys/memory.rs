//! Large private working buffers: today only the Argon2 memory every LOGIN
//! fills (19 MiB). Owns the `mmap`, `madvise` and `munmap` calls for them;
//! never reads or writes their contents (wiping secrets is the owner's
//! job, before the buffer is dropped).

use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use nix::libc;

const PAGE: usize = 4096;
/// The size of a transparent huge page on x86-64 and most arm64 kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Types for which every byte being zero is a valid value, so a buffer of
/// them can be handed out straight from memory the kernel zeroed.
///
/// # Safety
///
/// Implement only for plain data without references, niches or padding
/// invariants: all-zero bytes must be a valid `Self`.
pub(crate) unsafe trait ZeroIsValid {}

// SAFETY: `argon2::Block` is `#[repr(align(64))] struct Block([u64; 128])`:
// 1 KiB of integers, for which zero bytes are a value (it is also what
// `Block::new()` returns).
unsafe impl ZeroIsValid for argon2::Block {}

// SAFETY: an integer; zero bytes are the value 0.
unsafe impl ZeroIsValid for u64 {}

/// `len` values of `T` in a private anonymous mapping of their own, which
/// the kernel hands over already zeroed, backed by transparent huge pages
/// where it can (`MADV_HUGEPAGE`) and mapped in one call
/// (`MADV_POPULATE_WRITE`, Linux 5.14) rather than one fault per 4 KiB
/// page. Unmapped when dropped, so the pages go back to the kernel and
/// never to another allocation in this process.
///
/// A buffer of at least one huge page is mapped whole huge pages long and
/// starting on a huge-page boundary. The kernel aligns only mappings whose
/// length is a multiple of the huge page size: the 19 MiB of Argon2 came
/// back 4 KiB-aligned, so only 8 of its 9.5 huge-page-sized stretches could
/// be huge pages and the rest, up to 3 MiB, was faulted in 4 KiB at a time
/// (about 700 page steps of `MADV_POPULATE_WRITE` per login) and walked
/// through 4 KiB TLB entries by Argon2; rounding up costs the kernel at
/// most one huge page more to zero (doc/benchmarks.md, branch `login13`).
///
/// Why not a `Vec`: a fresh session filling a `Vec` of 19 MiB first wrote
/// every byte of it (the initial value), then Argon2 wrote it all again;
/// the kernel's zeroing is the initialisation here. Faulting the same
/// 19 MiB in 4 KiB at a time cost about as much kernel time as Argon2's
/// compute (doc/benchmarks.md, issue 12).
pub(crate) struct FreshMemory<T: ZeroIsValid> {
    ptr: NonNull<T>,
    len: usize,
    bytes: usize,
}

impl<T: ZeroIsValid> FreshMemory<T> {
    /// Maps `len` zeroed values of `T`. Fails for an empty or overflowing
    /// size, a type aligned beyond a page, or when the kernel refuses the
    /// mapping (memory limits).
    pub(crate) fn new(len: usize) -> io::Result<FreshMemory<T>> {
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .filter(|&b| b > 0 && isize::try_from(b).is_ok())
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "buffer size out of range")
            })?;
        if std::mem::align_of::<T>() > PAGE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "alignment beyond a page",
            ));
        }
        let (map_bytes, align) = if bytes >= HUGE_PAGE {
            let rounded = bytes
                .checked_next_multiple_of(HUGE_PAGE)
                .filter(|&b| isize::try_from(b + HUGE_PAGE).is_ok())
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "buffer size out of range")
                })?;
            (rounded, HUGE_PAGE)
        } else {
            (bytes, PAGE)
        };
        let raw = map_aligned(map_bytes, align)?;
        let Some(ptr) = NonNull::new(raw.cast::<T>()) else {
            return Err(io::Error::other("mmap returned a null mapping"));
        };
        for advice in [libc::MADV_HUGEPAGE, libc::MADV_POPULATE_WRITE] {
            // SAFETY: [raw, raw + map_bytes) is the mapping just made,
            // owned by this value alone; MADV_HUGEPAGE changes only how it
            // is backed and MADV_POPULATE_WRITE maps it as a write fault
            // would, leaving it zero. Advice only: errors (older kernels,
            // THP disabled) leave the mapping as it was and are ignored.
            let _ = unsafe { libc::madvise(raw, map_bytes, advice) };
        }
        Ok(FreshMemory {
            ptr,
            len,
            bytes: map_bytes,
        })
    }
}

/// A new private anonymous mapping of `bytes` (a multiple of `align`, a
/// power of two, at least a page) starting at a multiple of `align`: one
/// `align` more is mapped and the ends beyond the aligned stretch are
/// unmapped again.
fn map_aligned(bytes: usize, align: usize) -> io::Result<*mut libc::c_void> {
    let slack = if align > PAGE { align } else { 0 };
    // SAFETY: a new private anonymous mapping at an address the kernel
    // chooses: it aliases nothing in this process. The result is checked
    // against MAP_FAILED before use.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes + slack,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    if slack == 0 {
        return Ok(raw);
    }
    let start = raw as usize;
    let head = start.next_multiple_of(align) - start;
    let tail = slack - head;
    if head > 0 {
        // SAFETY: the first `head` bytes of the mapping just made, which
        // nothing refers to.
        let _ = unsafe { libc::munmap(raw, head) };
    }
    // SAFETY: `head <= slack`, so `raw + head` lies within the mapping
    // just made.
    let aligned = unsafe { raw.cast::<u8>().add(head) }.cast::<libc::c_void>();
    if tail > 0 {
        // SAFETY: the last `tail` bytes of the mapping just made, past the
        // `bytes` kept from `aligned`; nothing refers to them.
        let _ = unsafe { libc::munmap(aligned.cast::<u8>().add(bytes).cast(), tail) };
    }
    Ok(aligned)
}

impl<T: ZeroIsValid> Deref for FreshMemory<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` starts a live mapping of `len * size_of::<T>()`
        // bytes, page-aligned (so aligned for `T`), zeroed by the kernel
        // (a valid `[T]` by `ZeroIsValid`) or since written through
        // `deref_mut`; it lives as long as `self`, and this borrow of
        // `self` rules out a `&mut` alias.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: ZeroIsValid> DerefMut for FreshMemory<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`; the exclusive borrow of `self` makes this
        // the only reference to the mapping.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: ZeroIsValid> Drop for FreshMemory<T> {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, of exactly `bytes` bytes,
        // unmapped once; no reference to it outlives `self`.
        let _ = unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.bytes) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_memory_starts_zeroed_and_stays_usable() {
        let n = 5 * 1024 * 1024;
        let mut v = FreshMemory::<u64>::new(n).unwrap();
        assert_eq!(v.len(), n);
        assert!(v.iter().all(|x| *x == 0));
        v.iter_mut().for_each(|x| *x = 7);
        assert!(v.iter().all(|x| *x == 7));
        let blocks = FreshMemory::<argon2::Block>::new(3).unwrap();
        assert!(blocks.iter().all(|b| b.as_ref().iter().all(|w| *w == 0)));
    }

    #[test]
    fn a_buffer_of_huge_pages_starts_on_a_huge_page_boundary() {
        // 19 MiB, the production Argon2 memory: not a multiple of 2 MiB.
        let v = FreshMemory::<u64>::new(19 << 17).unwrap();
        assert_eq!(v.as_ptr() as usize % HUGE_PAGE, 0);
        assert_eq!(v.bytes, 20 << 20);
        assert_eq!(v.len(), 19 << 17);
        let small = FreshMemory::<u64>::new(100).unwrap();
        assert_eq!(small.as_ptr() as usize % PAGE, 0);
    }

    #[test]
    fn empty_and_overflowing_sizes_are_refused() {
        assert!(FreshMemory::<u64>::new(0).is_err());
        assert!(FreshMemory::<u64>::new(usize::MAX / 4).is_err());
    }
}
