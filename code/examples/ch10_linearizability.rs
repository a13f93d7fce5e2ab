//! Chapter 10 listing: check two small key-value histories for linearizability.
//!
//! playground-bundle: coordination::linearizability
//!
//! Run: `cargo run -p uds --example ch10_linearizability`
use uds::coordination::linearizability::{
    KvInput, KvModel, KvOutput, Operation, check, render_history,
};

/// A put by `client` during `[call_ms, return_ms]`, acknowledged.
fn put(
    client: u64,
    key: &str,
    value: &str,
    call_ms: u64,
    return_ms: u64,
) -> Operation<KvInput, KvOutput> {
    let input = KvInput::Put {
        key: key.into(),
        value: value.into(),
    };
    Operation {
        client,
        input,
        output: Some(KvOutput::Ok),
        call_ns: call_ms * 1_000_000,
        return_ns: return_ms * 1_000_000,
    }
}

/// A get by `client` during `[call_ms, return_ms]` that returned `seen`.
fn get(
    client: u64,
    key: &str,
    seen: Option<&str>,
    call_ms: u64,
    return_ms: u64,
) -> Operation<KvInput, KvOutput> {
    let input = KvInput::Get { key: key.into() };
    let output = Some(KvOutput::Value(seen.map(String::from)));
    Operation {
        client,
        input,
        output,
        call_ns: call_ms * 1_000_000,
        return_ns: return_ms * 1_000_000,
    }
}

// ANCHOR: main
fn main() {
    // Two writes overlap, so either may win; the read that overlaps the second write may
    // see either value. A single copy could have done this.
    let good = vec![
        put(1, "x", "1", 0, 20),
        put(2, "x", "2", 10, 30),
        get(3, "x", Some("1"), 25, 35),
        get(3, "x", Some("2"), 40, 50),
    ];
    // The same, except that a read sees "2" and the next read, which began after it returned,
    // sees "1" again.
    let mut bad = good.clone();
    bad[2] = get(3, "x", Some("2"), 25, 35);
    bad[3] = get(3, "x", Some("1"), 40, 50);

    for (name, history) in [("good", &good), ("bad", &bad)] {
        println!("{name} history:");
        print!("{}", render_history(&KvModel, history));
        println!("verdict: {}", check(&KvModel, history));
    }
}
// ANCHOR_END: main
