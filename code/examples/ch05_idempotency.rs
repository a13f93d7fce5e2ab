//! Chapter 5 listing: the idempotency-key store turning a retry into a replay.
//!
//! playground-bundle: communication::apis::idempotency
//!
//! Run: `cargo run -p uds --example ch05_idempotency`
use uds::communication::apis::idempotency::{Begin, IdempotencyStore, fingerprint};

// ANCHOR: main
/// The server's side effects: an order book that must not take an order twice.
struct Shop {
    keys: IdempotencyStore<String>,
    orders: Vec<String>,
}

impl Shop {
    /// Handles `POST /orders` with an idempotency key; returns the response.
    fn post_order(&mut self, key: &str, body: &str) -> String {
        match self.keys.begin(key, fingerprint(body.as_bytes())) {
            Begin::Execute => {
                self.orders.push(body.to_string());
                let response = format!("201 Created: order #{}", self.orders.len());
                self.keys.complete(key, response.clone());
                response
            }
            Begin::Replay(stored) => stored,
            Begin::InProgress => "409 Conflict: still processing".to_string(),
            Begin::Mismatch { .. } => "422: key reused for another order".to_string(),
        }
    }
}

fn main() {
    let mut shop = Shop {
        keys: IdempotencyStore::new(),
        orders: Vec::new(),
    };
    let body = r#"{"item": "book", "qty": 1}"#;
    // The first attempt runs; its response is lost on the way back to the client.
    let lost = shop.post_order("key-7f3a", body);
    println!("attempt 1: server sent {lost:?}, the network dropped it");
    // The client times out and retries with the same key and body.
    let retry = shop.post_order("key-7f3a", body);
    println!("attempt 2: client got   {retry:?} (replayed)");
    // A buggy client reuses the key for a different order.
    let reused = shop.post_order("key-7f3a", r#"{"item": "pen", "qty": 9}"#);
    println!("key reused:             {reused:?}");
    // A new operation gets a new key.
    let second = shop.post_order("key-91c2", r#"{"item": "pen", "qty": 9}"#);
    println!("new key:                {second:?}");
    println!("orders taken: {}", shop.orders.len());
    assert_eq!(
        shop.orders.len(),
        2,
        "the retry must not take a second order"
    );
}
// ANCHOR_END: main
