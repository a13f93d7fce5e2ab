//! Chapter 8 listing: Lamport, vector and hybrid logical clocks on a little exchange.
//!
//! playground-bundle: sim coordination::time
//!
//! Three processes, a, b and c; c's physical clock runs 40 ms ahead of the others. a sends to
//! b, c sends to b, b replies to a. Each event prints its three timestamps, and then the
//! program asks each clock how two events are related.
//!
//! Run: `cargo run -p uds --example ch08_clocks`
use uds::coordination::time::hlc::{Hlc, HlcTimestamp};
use uds::coordination::time::lamport::LamportClock;
use uds::coordination::time::vector::VectorClock;

/// One process with its three clocks.
struct Proc {
    id: usize,
    lamport: LamportClock,
    vector: VectorClock,
    hlc: Hlc,
}

/// The timestamps an event got (and a message carries).
#[derive(Clone, Debug)]
struct Stamp {
    lamport: u64,
    vector: VectorClock,
    hlc: HlcTimestamp,
}

impl Proc {
    fn new(id: usize) -> Proc {
        let vector = VectorClock::new(3);
        let (lamport, hlc) = (LamportClock::default(), Hlc::default());
        Proc {
            id,
            lamport,
            vector,
            hlc,
        }
    }

    /// A local event or a send at physical time `pt_ms`.
    fn tick(&mut self, pt_ms: u64, what: &str) -> Stamp {
        self.vector.increment(self.id);
        let stamp = Stamp {
            lamport: self.lamport.tick(),
            vector: self.vector.clone(),
            hlc: self.hlc.tick(pt_ms),
        };
        show(self.id, pt_ms, what, &stamp)
    }

    /// The receipt of a message stamped `m` at physical time `pt_ms`.
    fn receive(&mut self, pt_ms: u64, m: &Stamp, what: &str) -> Stamp {
        self.vector.merge(&m.vector);
        self.vector.increment(self.id);
        let stamp = Stamp {
            lamport: self.lamport.receive(m.lamport),
            vector: self.vector.clone(),
            hlc: self.hlc.receive(pt_ms, m.hlc),
        };
        show(self.id, pt_ms, what, &stamp)
    }
}

fn show(id: usize, pt_ms: u64, what: &str, s: &Stamp) -> Stamp {
    let name = ["a", "b", "c"][id];
    println!(
        "{name} {what:<14} pt {pt_ms:>3} ms  Lamport {:>2}  vector {:<8} HLC {}",
        s.lamport, s.vector, s.hlc
    );
    s.clone()
}

// ANCHOR: main
fn main() {
    let (mut a, mut b, mut c) = (Proc::new(0), Proc::new(1), Proc::new(2));
    // Physical clocks in milliseconds; c's runs 40 ms ahead.
    let a1 = a.tick(10, "send to b");
    let c1 = c.tick(52, "send to b");
    let b1 = b.receive(14, &a1, "recv from a");
    let b2 = b.receive(15, &c1, "recv from c");
    let a2 = a.tick(16, "local");
    let b3 = b.tick(17, "send to a");
    let a3 = a.receive(21, &b3, "recv from b");

    println!();
    let pairs = [
        ("a1", &a1, "b2", &b2),
        ("a2", &a2, "b2", &b2),
        ("c1", &c1, "b1", &b1),
        ("c1", &c1, "a3", &a3),
    ];
    for (x, sx, y, sy) in pairs {
        println!(
            "{x} vs {y}: vector says {:?}; Lamport {} vs {}; HLC {} vs {}",
            sx.vector.compare(&sy.vector),
            sx.lamport,
            sy.lamport,
            sx.hlc,
            sy.hlc
        );
    }
}
// ANCHOR_END: main
