// SPDX-License-Identifier: GPL-2.0

//! An in-place heapsort.
//!
//! Why not `slice::sort_unstable`: in a kernel built without Rust overflow
//! checks, objtool rejects the object code of `core`'s small-sort merge
//! (a path ending in its "user-provided `Ord` is wrong" panic, which objtool
//! does not know never returns, "falls through to next function"), and a
//! module build with any warning fails. Heapsort needs no extra memory,
//! takes O(n log n) in the worst case, and every index below is in bounds
//! by construction (`get_mut`/`swap` on indices less than `len`).

/// Sorts `v` in ascending order (not stable).
pub fn heapsort<T: Ord>(v: &mut [T]) {
    let len = v.len();
    // Build a max-heap: sift down every inner node, the last one first.
    for start in (0..len / 2).rev() {
        sift_down(v, start, len);
    }
    // Move the maximum to the end, one at a time.
    for end in (1..len).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

/// Restores the heap property of `v[..end]` below `root`.
fn sift_down<T: Ord>(v: &mut [T], mut root: usize, end: usize) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && v.get(child) < v.get(child + 1) {
            child += 1;
        }
        if v.get(root) >= v.get(child) {
            return;
        }
        v.swap(root, child);
        root = child;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_rng::Rng;
    use super::heapsort;

    #[test]
    fn sorts_like_the_standard_library() {
        let mut rng = Rng(7);
        for len in 0..200 {
            let mut v: [(u32, u64); 200] = [(0, 0); 200];
            for x in v.iter_mut().take(len) {
                // Few distinct values, so equal keys are common.
                *x = (rng.u32() % 8, u64::from(rng.u32() % 16));
            }
            let v = &mut v[..len];
            let mut want = [(0u32, 0u64); 200];
            want[..len].copy_from_slice(v);
            let want = &mut want[..len];
            want.sort_unstable();
            heapsort(v);
            assert_eq!(v, want, "length {len}");
        }
    }
}
