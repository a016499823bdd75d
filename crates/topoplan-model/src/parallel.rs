//! The one thread pool of topoplan: a scoped map over a slice on every core (at most 8), the
//! results in the slice's order. Used where the work is large and independent per item:
//! parsing the pieces of a large topology, rendering and comparing the files of a bundle.

/// `f` of every item, on every core (at most 8 threads): each thread takes the next run of
/// neighbouring items when it is done with one, so uneven items still keep every core busy;
/// the results come back in the items' order. Fewer than `min_items` items (or one core) run on the calling thread.
pub fn map_in_order<T: Sync, R: Send>(
    items: &[T],
    min_items: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads();
    if threads < 2 || items.len() < min_items.max(2) {
        return items.iter().map(&f).collect();
    }
    // Runs of neighbouring items (a bundle's files of one folder stay on one thread, which
    // spares the folder's lock), eight per thread, so uneven runs still balance.
    let run = items.len().div_ceil(threads * 8).max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, Vec<R>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.min(items.len()))
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(chunk) = items.chunks(run).nth(k) else {
                            break;
                        };
                        mine.push((k, chunk.iter().map(&f).collect()));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_unstable_by_key(|(k, _)| *k);
    done.into_iter().flat_map(|(_, r)| r).collect()
}

/// The threads a map uses: the cores, at most 8 (beyond that the disk, not the CPU, bounds a
/// bundle).
pub fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<u32> = (0..1000).collect();
        let out = super::map_in_order(&items, 2, |x| x * 2);
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }
}
