//! Congestion control: how much the sender may have in flight, as RFC 5681 specifies.
//!
//! The receive window protects the receiver; the congestion window `cwnd` protects the network
//! between the two. Nobody tells the sender the network's capacity, so it probes: it grows
//! `cwnd` until a segment is lost, takes the loss as a sign of a full queue somewhere on the
//! path, and shrinks. The rules, all in bytes, with `smss` the largest segment:
//!
//! - the initial window is 2 to 4 segments depending on `smss` (RFC 5681 §3.1);
//! - **slow start** (`cwnd < ssthresh`): each ACK of new data adds at most one `smss`, so the
//!   window doubles every round trip (§3.1);
//! - **congestion avoidance**: each ACK adds `smss * smss / cwnd`, about one segment per round
//!   trip: additive increase (§3.1, equation 3);
//! - **a loss** halves the flight into `ssthresh` (equation 4, multiplicative decrease). A
//!   timeout also drops `cwnd` to one segment and starts slow start again; three duplicate ACKs
//!   instead trigger fast retransmit and fast recovery, which keeps the ACK clock running (§3.2).
//!
//! Together: additive increase, multiplicative decrease (AIMD), the sawtooth of the chapter's
//! figure. These functions are the pure rules; [`super::sender`] decides when each applies.

// ANCHOR: initial_window
/// The initial congestion window for a largest segment of `smss` bytes (RFC 5681 §3.1).
pub fn initial_window(smss: u64) -> u64 {
    let segments = if smss > 2190 {
        2
    } else if smss > 1095 {
        3
    } else {
        4
    };
    segments * smss
}
// ANCHOR_END: initial_window

// ANCHOR: on_ack
/// The congestion window after an ACK that acknowledges `acked` new bytes, outside recovery.
pub fn grow(cwnd: u64, ssthresh: u64, acked: u64, smss: u64) -> u64 {
    if cwnd < ssthresh {
        cwnd + acked.min(smss) // slow start
    } else {
        cwnd + (smss * smss / cwnd).max(1) // congestion avoidance
    }
}

/// The slow-start threshold after a loss with `flight` bytes outstanding (RFC 5681 eq. 4).
pub fn ssthresh_after_loss(flight: u64, smss: u64) -> u64 {
    (flight / 2).max(2 * smss)
}
// ANCHOR_END: on_ack

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_window_follows_rfc_5681_section_3_1() {
        assert_eq!(initial_window(536), 4 * 536);
        assert_eq!(initial_window(1095), 4 * 1095);
        assert_eq!(initial_window(1096), 3 * 1096);
        assert_eq!(initial_window(1460), 3 * 1460);
        assert_eq!(initial_window(2190), 3 * 2190);
        assert_eq!(initial_window(2191), 2 * 2191);
    }

    #[test]
    fn slow_start_doubles_per_round_trip_and_avoidance_adds_one_segment() {
        let smss = 1000;
        // One round trip of slow start: one ACK per segment of the window.
        let mut cwnd = 4000;
        for _ in 0..4 {
            cwnd = grow(cwnd, u64::MAX, smss, smss);
        }
        assert_eq!(cwnd, 8000);
        // One round trip of congestion avoidance: 10 ACKs add about one segment.
        let mut cwnd = 10_000;
        for _ in 0..10 {
            cwnd = grow(cwnd, 5000, smss, smss);
        }
        assert!((10_900..=11_000).contains(&cwnd), "cwnd {cwnd}");
    }

    #[test]
    fn a_loss_halves_the_flight_but_never_below_two_segments() {
        assert_eq!(ssthresh_after_loss(20_000, 1000), 10_000);
        assert_eq!(ssthresh_after_loss(3000, 1000), 2000);
    }
}
