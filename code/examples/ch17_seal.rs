//! Chapter 17 listing: three replicas of an extent take appends down a chain, one replica
//! stops in the middle of an append, and the extent is sealed at the length the others agree
//! on, without losing an acknowledged byte.
//!
//! playground-bundle: scalability::file_storage::extent
//!
//! Run: `cargo run -p uds --example ch17_seal`
use uds::scalability::file_storage::extent::{
    AckRule, AppendOutcome, ExtentReplica, may_acknowledge, seal_length,
};

/// The size limit of the extent, in bytes.
const LIMIT: u64 = 64;

// ANCHOR: main
fn main() {
    // Primary, secondary, tail. `up[i]` says whether replica i is still running.
    let mut replicas = vec![ExtentReplica::default(); 3];
    let mut up = [true; 3];
    let mut acknowledged: Vec<(u64, &str)> = Vec::new();
    let blobs = ["cat.jpg", "dog.png", "owl.gif", "fox.svg"];
    for (i, blob) in blobs.iter().enumerate() {
        if i == 2 {
            up[2] = false; // the tail stops before the third append reaches it
            println!("-- the tail stops");
        }
        // The append travels down the chain; each running replica writes it at the offset the
        // primary chose. The primary acknowledges only if every replica wrote it.
        let offset = replicas[0].len();
        let mut holders = 0;
        for (r, replica) in replicas.iter_mut().enumerate() {
            if !up[r] {
                break; // the chain is broken here: the append goes no further
            }
            match replica.append(offset, blob.as_bytes(), LIMIT) {
                AppendOutcome::Appended { .. } => holders += 1,
                other => println!("replica {r} refuses {blob}: {other:?}"),
            }
        }
        if may_acknowledge(AckRule::AllReplicas, holders, replicas.len()) {
            acknowledged.push((offset, blob));
            println!("{blob:>8} at offset {offset:>2}: acknowledged ({holders} of 3 replicas)");
        } else {
            println!("{blob:>8} at offset {offset:>2}: NOT acknowledged ({holders} of 3)");
            break; // the writer asks the stream manager to seal this extent
        }
    }
    // Sealing: ask every replica its length; the stopped one does not answer.
    let reported: Vec<Option<u64>> = replicas
        .iter()
        .zip(up)
        .map(|(r, up)| up.then(|| r.len()))
        .collect();
    let length = seal_length(&reported).expect("two replicas answered");
    println!("-- lengths reported {reported:?}: seal at {length}");
    for (r, replica) in replicas.iter_mut().enumerate().filter(|(r, _)| up[*r]) {
        assert!(replica.seal(length));
        println!(
            "replica {r} sealed: {:?}",
            String::from_utf8_lossy(&replica.data)
        );
    }
    for (offset, blob) in acknowledged {
        let bytes = replicas[1].read(offset, blob.len() as u64);
        assert_eq!(
            bytes,
            Some(blob.as_bytes()),
            "an acknowledged blob survives the seal"
        );
    }
    println!("every acknowledged blob reads back from the sealed extent");
    println!("(owl.gif's bytes survived too, but unacknowledged: no index entry points at them)");
}
// ANCHOR_END: main
