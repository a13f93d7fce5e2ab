//! Hybrid logical clocks: Lamport's guarantee, in timestamps that stay close to physical time.
//!
//! Kulkarni, Demirbas, Madappa, Avva and Leone, "Logical Physical Clocks" (OPODIS 2014),
//! pair a physical reading with a logical counter. A timestamp is `(l, c)`: `l` is the largest
//! physical time the process has heard of (its own clock's reading or one carried by a
//! message), and `c` counts events that happened while `l` stood still. Their algorithm
//! (Figure 5 of the paper), with `pt` the process's physical clock at the event:
//!
//! - **send or local event:** `l = max(l, pt)`; `c = c + 1` if `l` did not change, else `0`;
//! - **receive of `(l_m, c_m)`:** `l = max(l, l_m, pt)`; `c` is one more than the largest `c`
//!   among the sources (own state, message) whose `l` equals the new `l`, or `0` if only `pt`
//!   reached it.
//!
//! What it guarantees (§3 of the paper), all checked by the chapter's tests:
//!
//! 1. `a -> b` implies `hlc(a) < hlc(b)` in lexicographic order: the Clock Condition.
//! 2. `l >= pt` always (Theorem 2), and `l - pt` is bounded by the largest offset between
//!    clocks: `l` is some process's physical reading from the past, so it can exceed the local
//!    clock only by how far the fastest clock runs ahead of this one (the paper's corollary
//!    `|l - pt| <= epsilon`, with `epsilon` the clock synchronisation bound).
//! 3. `c` stays small (the paper bounds it in terms of the number of processes and
//!    `epsilon`), so the paper packs `(l, c)` into the 64 bits of an NTP timestamp.
//!    CockroachDB and YugabyteDB timestamp transactions with HLCs.
//!
//! What it does not give: like a Lamport clock, `hlc(a) < hlc(b)` does not imply `a -> b`.
//! And it trusts every `l` it receives: a peer with a clock an hour fast drags everyone's `l`
//! an hour ahead. Production systems reject messages too far ahead of their own clock (the
//! chapter's exercise adds that guard).
//!
//! Physical times are nanoseconds as `u64`. The physical clock is passed in (sans-I/O).

// ANCHOR: hlc
/// A hybrid logical timestamp: compared by `l`, then by `c` (derived `Ord` is lexicographic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HlcTimestamp {
    /// The largest physical time (ns) known when the event happened.
    pub l: u64,
    /// Events since `l` last changed. Invariant: 0 when `l` was just taken from `pt`.
    pub c: u64,
}

/// The hybrid logical clock of one process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hlc {
    /// The timestamp of this process's latest event. Invariant: never decreases, and
    /// `latest.l` is at least every physical reading passed in so far.
    pub latest: HlcTimestamp,
}

impl Hlc {
    /// A send or local event at physical time `pt`: returns its timestamp.
    pub fn tick(&mut self, pt: u64) -> HlcTimestamp {
        let old = self.latest;
        let l = old.l.max(pt);
        let c = if l == old.l { old.c + 1 } else { 0 };
        self.latest = HlcTimestamp { l, c };
        self.latest
    }

    /// The receipt, at physical time `pt`, of a message stamped `m`: returns its timestamp.
    pub fn receive(&mut self, pt: u64, m: HlcTimestamp) -> HlcTimestamp {
        let old = self.latest;
        let l = old.l.max(m.l).max(pt);
        let c = if l == old.l && l == m.l {
            old.c.max(m.c) + 1
        } else if l == old.l {
            old.c + 1
        } else if l == m.l {
            m.c + 1
        } else {
            0
        };
        self.latest = HlcTimestamp { l, c };
        self.latest
    }
}
// ANCHOR_END: hlc

impl std::fmt::Display for HlcTimestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({},{})", self.l, self.c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(l: u64, c: u64) -> HlcTimestamp {
        HlcTimestamp { l, c }
    }

    #[test]
    fn a_local_event_takes_physical_time_when_it_is_ahead() {
        let mut h = Hlc::default();
        assert_eq!(h.tick(10), ts(10, 0));
        assert_eq!(h.tick(10), ts(10, 1), "clock did not advance: count");
        assert_eq!(h.tick(8), ts(10, 2), "clock stepped back: l holds");
        assert_eq!(h.tick(11), ts(11, 0));
    }

    /// The four cases of the receive rule, Kulkarni et al. 2014, Figure 5.
    #[test]
    fn receive_follows_the_four_cases_of_figure_5() {
        let at = |l, c| Hlc { latest: ts(l, c) };
        // l, l_m and pt all tie below l: max of the counters, plus one.
        assert_eq!(at(20, 3).receive(5, ts(20, 7)), ts(20, 8));
        // Own l wins.
        assert_eq!(at(20, 3).receive(5, ts(15, 7)), ts(20, 4));
        // The message's l wins.
        assert_eq!(at(15, 3).receive(5, ts(20, 7)), ts(20, 8));
        // Physical time wins.
        assert_eq!(at(15, 3).receive(30, ts(20, 7)), ts(30, 0));
    }

    #[test]
    fn a_receive_is_later_than_the_send_even_from_a_fast_clock() {
        let (mut fast, mut slow) = (Hlc::default(), Hlc::default());
        let sent = fast.tick(1_000);
        let got = slow.receive(100, sent);
        assert!(sent < got);
        assert_eq!(got, ts(1_000, 1));
    }
}
