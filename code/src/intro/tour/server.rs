//! The tour's server, and the attacker that impersonates it.

use std::collections::VecDeque;
use std::time::Duration;

use super::{TourConfig, TourMsg};
use rand::Rng;

use crate::sim::{Ctx, Fnv64, NodeId, TimerId};

/// The secret the server shares with its clients (and the attacker does not know).
const SERVER_KEY: u64 = 0x5EC2_E7AB_CDEF_0123;

/// The tag that vouches for `answer` to request `id`: a keyed hash, standing in for a MAC.
pub fn reply_tag(id: u64, answer: u64) -> u64 {
    let mut h = Fnv64::default();
    h.u64(SERVER_KEY);
    h.u64(id);
    h.u64(answer);
    h.0
}

/// The answer a request deserves. Any deterministic function would do.
pub fn answer_for(id: u64) -> u64 {
    id.wrapping_mul(2_654_435_761)
}

// ANCHOR: server
/// Answers requests one at a time, in arrival order.
#[derive(Clone, Debug)]
pub struct Server {
    /// Requests waiting, in arrival order, with who sent them. The front one is in service.
    queue: VecDeque<(NodeId, u64)>,
    /// Time to handle one request, serialisation of the reply included.
    service: Duration,
    reply_bytes: usize,
}

impl Server {
    pub fn new(config: &TourConfig) -> Server {
        let serialize = config.serialize_ns_per_byte * config.reply_bytes as u64;
        Server {
            queue: VecDeque::new(),
            service: config.service_time + Duration::from_nanos(serialize),
            reply_bytes: config.reply_bytes,
        }
    }

    pub fn on_message(&mut self, ctx: &mut Ctx<'_, TourMsg>, from: NodeId, msg: TourMsg) {
        if let TourMsg::Request { id, .. } = msg {
            self.queue.push_back((from, id));
            if self.queue.len() == 1 {
                ctx.set_timer(TimerId(0), self.service); // idle: start serving at once
            }
        }
    }

    /// The request at the front is done: reply, then start on the next one.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, TourMsg>) {
        let (client, id) = self
            .queue
            .pop_front()
            .expect("a service timer means a request");
        let answer = answer_for(id);
        let reply = TourMsg::Reply {
            id,
            answer,
            tag: reply_tag(id, answer),
            bytes: self.reply_bytes,
        };
        ctx.count("served");
        ctx.add("bytes", self.reply_bytes as u64);
        ctx.send(client, reply);
        if !self.queue.is_empty() {
            ctx.set_timer(TimerId(0), self.service);
        }
    }
}
// ANCHOR_END: server

/// An on-path attacker: sees some requests and races a forged reply to the client.
#[derive(Clone, Debug)]
pub struct Attacker;

impl Attacker {
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, TourMsg>, msg: TourMsg) {
        if let TourMsg::Tapped { client, id } = msg {
            // It does not know the key, so its tag is a guess; its answer is whatever it likes.
            let forged = TourMsg::Reply {
                id,
                answer: 666,
                tag: ctx.rng().next_u64(),
                bytes: 100,
            };
            ctx.send(client, forged);
        }
    }
}
