//! Chapter 18 listing: the power of two choices on a toy fleet of counters.
//!
//! playground-bundle: scalability::load_balancing::p2c
//!
//! Run: `cargo run -p uds --example ch18_p2c`
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

use uds::scalability::load_balancing::p2c::max_load;

// ANCHOR: main
fn main() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(18);
    println!("n requests on n servers: the busiest server's load");
    println!("{:>7} {:>8} {:>8} {:>8}", "n", "d = 1", "d = 2", "d = 3");
    for n in [10, 100, 1_000, 10_000, 100_000] {
        let busiest: Vec<u64> = (1..=3)
            .map(|d| max_load(n, n as u64, d, &mut rng))
            .collect();
        println!(
            "{n:>7} {:>8} {:>8} {:>8}",
            busiest[0], busiest[1], busiest[2]
        );
    }
}
// ANCHOR_END: main
