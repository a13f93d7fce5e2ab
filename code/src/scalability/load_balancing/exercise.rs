//! Chapter 18's coding exercise: Maglev's population loop.
//!
//! Given each backend's preference list as `(offset, skip)` (its `j`-th choice is slot
//! `(offset + j * skip) % m`), fill a table of `m` slots: in rounds, each backend in turn takes
//! its most preferred slot that is still empty, until every slot is taken. Return the table,
//! entry `e` holding the index of the backend that owns slot `e`. The claims
//! ([`check_populate`]) compare the result with [`super::maglev::populate`] and check balance.
//!
//! Run: `cargo test -p uds --release --lib exercise_maglev_populate -- --ignored`

/// The signature the exercise asks for.
pub trait Populate {
    /// Fills a table of `m` slots (`m` prime, larger than `prefs.len()`) from the backends'
    /// preference lists.
    fn populate(prefs: &[(usize, usize)], m: usize) -> Vec<usize>;
}

pub mod starter {
    /// Your version.
    pub struct Maglev;

    impl super::Populate for Maglev {
        fn populate(prefs: &[(usize, usize)], m: usize) -> Vec<usize> {
            let _ = (prefs, m);
            todo!("fill the table in rounds, each backend taking its next empty preference")
        }
    }
}

pub mod solution {
    /// One answer.
    pub struct Maglev;

    impl super::Populate for Maglev {
        fn populate(prefs: &[(usize, usize)], m: usize) -> Vec<usize> {
            let mut table: Vec<Option<usize>> = vec![None; m];
            let mut next = vec![0usize; prefs.len()];
            let mut empty = m;
            'rounds: loop {
                for (backend, &(offset, skip)) in prefs.iter().enumerate() {
                    loop {
                        let slot = (offset + next[backend] * skip) % m;
                        next[backend] += 1;
                        if table[slot].is_none() {
                            table[slot] = Some(backend);
                            empty -= 1;
                            break;
                        }
                    }
                    if empty == 0 {
                        break 'rounds;
                    }
                }
            }
            table
                .into_iter()
                .map(|e| e.expect("every slot filled"))
                .collect()
        }
    }
}

/// The claims: the table equals the library's for several backend sets and sizes, and it is
/// balanced (counts differ by at most one).
pub fn check_populate<P: Populate>() {
    use super::maglev;
    for (n, m) in [(1, 2), (3, 7), (5, 251), (13, 1_009), (40, 4_093)] {
        let names: Vec<String> = (0..n).map(|i| format!("10.0.{i}.1:80")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let prefs: Vec<(usize, usize)> =
            refs.iter().map(|b| maglev::offset_and_skip(b, m)).collect();
        let table = P::populate(&prefs, m);
        assert_eq!(table.len(), m, "table of {n} backends has the wrong size");
        let expected = maglev::populate(&refs, m).expect("valid parameters");
        assert_eq!(table, expected, "{n} backends, m = {m}: tables differ");
        let counts = maglev::entries_per_backend(&table, n);
        let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(hi - lo <= 1, "{n} backends, m = {m}: counts {lo}..{hi}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_solution_meets_the_claims() {
        check_populate::<solution::Maglev>();
    }

    #[test]
    #[ignore = "exercise: implement starter::Maglev, then run \
                `cargo test -p uds --release --lib exercise_maglev_populate -- --ignored`"]
    fn exercise_maglev_populate() {
        crate::exercise::starter_or_solution(
            check_populate::<starter::Maglev>,
            check_populate::<solution::Maglev>,
        );
    }
}
