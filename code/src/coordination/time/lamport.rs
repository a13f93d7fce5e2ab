//! Lamport clocks: a counter per process that never lets an effect carry a smaller number than
//! its cause.
//!
//! Lamport, "Time, clocks, and the ordering of events in a distributed system" (CACM 21(7),
//! 1978), defines *happened-before* (`a -> b`) as the smallest relation in which (1) events of
//! one process are ordered as they happen, (2) sending a message happens before receiving it,
//! and (3) the relation is transitive. His *Clock Condition* asks only one direction:
//! if `a -> b` then `C(a) < C(b)`. Two rules (his IR1 and IR2) achieve it:
//!
//! - **IR1.** A process increments its counter between any two of its events (we increment
//!   before each local event and each send, and stamp the message with the new value).
//! - **IR2.** On receiving a message stamped `t`, a process sets its counter to
//!   `max(own, t)` and then increments it, so the receive event is larger than the send.
//!
//! The converse does not hold: `C(a) < C(b)` says nothing about whether `a` caused `b`. Ties
//! between processes are broken by process id to get a total order ([`LamportClock::stamp`]);
//! that order is consistent with causality but otherwise arbitrary.
//!
//! Invariant: the counter only grows. Overflow of a `u64` counter is treated as a broken
//! invariant (it would take 585 years at one event per nanosecond).

// ANCHOR: lamport
/// A Lamport clock: one counter per process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LamportClock {
    /// The timestamp of this process's latest event (0 before its first).
    /// Invariant: never decreases.
    pub time: u64,
}

impl LamportClock {
    /// A local event or a send (IR1): returns the event's timestamp, to put on the message.
    pub fn tick(&mut self) -> u64 {
        self.time = self.time.checked_add(1).expect("Lamport clock overflow");
        self.time
    }

    /// The receipt of a message stamped `sent` (IR2): returns the receive event's timestamp.
    pub fn receive(&mut self, sent: u64) -> u64 {
        self.time = self.time.max(sent);
        self.tick()
    }

    /// The event's position in Lamport's total order: timestamp first, process id second.
    pub fn stamp(time: u64, process: usize) -> (u64, usize) {
        (time, process)
    }
}
// ANCHOR_END: lamport

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receive_is_later_than_the_send_and_than_the_receivers_past() {
        let (mut a, mut b) = (LamportClock::default(), LamportClock::default());
        let sent = a.tick(); // a: 1
        for _ in 0..5 {
            b.tick(); // b: 5
        }
        assert_eq!(b.receive(sent), 6, "max(5, 1) + 1");
        let reply = b.tick();
        assert_eq!(a.receive(reply), 8, "max(1, 7) + 1");
    }

    #[test]
    fn ties_are_broken_by_process_id() {
        assert!(LamportClock::stamp(3, 0) < LamportClock::stamp(3, 1));
        assert!(LamportClock::stamp(2, 9) < LamportClock::stamp(3, 0));
    }
}
