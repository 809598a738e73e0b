//! Advice to the kernel about large private buffers: today only the
//! Argon2 working memory every LOGIN fills (19 MiB). Owns the `madvise`
//! calls; never allocates, frees or reads the memory it advises on.

use std::mem::MaybeUninit;

use nix::libc;

const PAGE: usize = 4096;

/// Asks the kernel to back the not yet touched buffer `buf` with huge
/// pages (`MADV_HUGEPAGE`, for the transparent huge pages "madvise"
/// mode) and to map all of it now in one call (`MADV_POPULATE_WRITE`,
/// Linux 5.14) rather than one page fault per 4 KiB page as it is first
/// written. A fresh session process faulting in 19 MiB that way spent
/// about as much time in the kernel as Argon2 spends computing. Advice
/// only: where the kernel does not support it nothing changes.
pub(crate) fn prefault_large<T>(buf: &mut [MaybeUninit<T>]) {
    let start = buf.as_mut_ptr() as usize;
    let Some(end) = std::mem::size_of_val(buf).checked_add(start) else {
        return;
    };
    // Whole pages inside the buffer only: advice never reaches memory that
    // is not ours.
    let (first, last) = ((start + PAGE - 1) & !(PAGE - 1), end & !(PAGE - 1));
    if last <= first {
        return;
    }
    for advice in [libc::MADV_HUGEPAGE, libc::MADV_POPULATE_WRITE] {
        // SAFETY: [first, last) is a page-aligned range inside `buf`, which
        // this function borrows mutably, so no other reference can observe
        // it; MADV_HUGEPAGE changes only how it is backed, and
        // MADV_POPULATE_WRITE maps it as a write fault would, leaving the
        // contents as they are (uninitialised memory stays uninitialised
        // to the caller, who writes it before reading). Errors are ignored.
        let _ = unsafe { libc::madvise(first as *mut libc::c_void, last - first, advice) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advised_memory_stays_usable() {
        let n = 5 * 1024 * 1024;
        let mut v: Vec<u64> = Vec::with_capacity(n);
        prefault_large(v.spare_capacity_mut());
        v.resize(n, 7);
        assert!(v.iter().all(|x| *x == 7));
        // Empty and sub-page buffers are left alone.
        prefault_large::<u8>(&mut []);
        let mut small: Vec<u8> = Vec::with_capacity(10);
        prefault_large(small.spare_capacity_mut());
    }
}
