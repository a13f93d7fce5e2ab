//! Chapter 11 listing: two replicas diverge during a partition and converge after it heals.
//!
//! playground-bundle: coordination::time::vector coordination::crdt
//!
//! Replicas `a` (0) and `b` (1) of a shared shopping list each hold an OR-Set of items, a
//! PN-Counter of tickets left, an LWW-Register and an MV-Register for the list's title. While
//! partitioned they accept conflicting updates; then each merges the other's state.
//! `--skew-ms N` sets b's clock N ms behind a's (default 0), for the LWW exercise.
//!
//! Run: `cargo run --release -p uds --example ch11_crdt` (or `-- --skew-ms 50`)
use uds::coordination::crdt::StateCrdt;
use uds::coordination::crdt::lww::LwwRegister;
use uds::coordination::crdt::mvregister::MvRegister;
use uds::coordination::crdt::orset::OrSet;
use uds::coordination::crdt::pncounter::PnCounter;

/// One replica's state: four CRDTs side by side.
#[derive(Clone, Debug)]
struct Replica {
    id: usize,
    items: OrSet<&'static str>,
    tickets: PnCounter,
    title_lww: LwwRegister<&'static str>,
    title_mv: MvRegister<&'static str>,
}

impl Replica {
    fn new(id: usize) -> Replica {
        Replica {
            id,
            items: OrSet::new(),
            tickets: PnCounter::new(),
            title_lww: LwwRegister::new(),
            title_mv: MvRegister::new(),
        }
    }

    /// Sets the title in both registers, at this replica's clock reading `now_ms`.
    fn set_title(&mut self, now_ms: u64, title: &'static str) {
        self.title_lww.set(self.id, now_ms, title);
        self.title_mv.set(self.id, title);
    }

    /// Takes in everything `other` knows: one merge per CRDT.
    fn merge(&mut self, other: &Replica) {
        self.items.merge(&other.items);
        self.tickets.merge(&other.tickets);
        self.title_lww.merge(&other.title_lww);
        self.title_mv.merge(&other.title_mv);
    }

    fn show(&self, name: &str) {
        println!(
            "{name}: items {:?}, tickets {}, title (LWW) {:?}, title (MV) {:?}",
            self.items.value(),
            self.tickets.value(),
            self.title_lww.value(),
            self.title_mv.value()
        );
    }
}

// ANCHOR: main
fn main() {
    let skew_ms = match skew_from_args() {
        Ok(skew) => skew,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let (mut a, mut b) = (Replica::new(0), Replica::new(1));
    a.items.add(a.id, "milk");
    a.tickets.increment(a.id, 10);
    a.set_title(1_000, "groceries");
    b.merge(&a); // in sync before the partition

    println!("-- partition: a and b cannot talk --");
    a.items.remove(&"milk");
    a.items.add(a.id, "eggs");
    a.tickets.decrement(a.id, 3);
    a.set_title(1_010, "weekend"); // a's clock reads 1010 ms
    b.items.add(b.id, "milk"); // concurrent with a's remove of milk
    b.tickets.decrement(b.id, 2);
    b.set_title(1_020 - skew_ms, "party"); // 10 ms later in real time
    a.show("a");
    b.show("b");

    println!("-- healed: each merges the other's state --");
    let a_before = a.clone();
    a.merge(&b);
    b.merge(&a_before);
    a.show("a");
    b.show("b");
    assert_eq!(a.items.value(), b.items.value(), "OR-Sets must converge");
    assert_eq!(
        a.tickets.value(),
        b.tickets.value(),
        "counters must converge"
    );
    assert_eq!(
        a.title_lww.value(),
        b.title_lww.value(),
        "LWW must converge"
    );
    assert_eq!(a.title_mv.value(), b.title_mv.value(), "MV must converge");
}
// ANCHOR_END: main

/// `--skew-ms N` (0 to 1000), or 0 without the flag.
fn skew_from_args() -> Result<u64, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(0),
        [flag, n] if flag == "--skew-ms" => match n.parse::<u64>() {
            Ok(n) if n <= 1_000 => Ok(n),
            _ => Err(format!(
                "--skew-ms takes a whole number of ms from 0 to 1000, got {n}"
            )),
        },
        _ => Err(format!("usage: ch11_crdt [--skew-ms N], got {args:?}")),
    }
}
