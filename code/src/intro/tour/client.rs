//! The tour's client: think, ask, wait, retry, measure.

use super::server::{answer_for, reply_tag};
use super::{SERVER, TourConfig, TourMsg};
use crate::sim::{Ctx, Exponential, NodeId, Time, TimerId};
use rand::RngExt;
use std::time::Duration;

const THINK: TimerId = TimerId(0);
const TIMEOUT: TimerId = TimerId(1);

// ANCHOR: client
/// A client that makes a fixed number of requests, one at a time.
#[derive(Clone, Debug)]
pub struct Client {
    config: TourConfig,
    attacker: NodeId,
    /// The request being waited for, if any.
    current: Option<u64>,
    /// How many times the current request has been sent. Invariant: `<= max_attempts`.
    attempt: u32,
    /// When the current request was first sent (local clock).
    first_sent: Time,
    /// Requests finished (answered or given up).
    done: u32,
}

impl Client {
    pub fn new(config: &TourConfig, attacker: NodeId) -> Client {
        Client {
            config: config.clone(),
            attacker,
            current: None,
            attempt: 0,
            first_sent: Time::ZERO,
            done: 0,
        }
    }

    pub fn on_start(&mut self, ctx: &mut Ctx<'_, TourMsg>) {
        self.think(ctx);
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, TourMsg>, timer: TimerId) {
        match timer {
            THINK => {
                // Request ids are unique across clients: client number in the high bits.
                let id = ((ctx.id().0 as u64) << 32) | u64::from(self.done);
                self.current = Some(id);
                self.attempt = 0;
                self.first_sent = ctx.now();
                self.send(ctx, id);
            }
            TIMEOUT => {
                let Some(id) = self.current else { return };
                if self.attempt < self.config.max_attempts {
                    ctx.count("retries");
                    self.send(ctx, id);
                } else {
                    ctx.count("failed");
                    self.finish(ctx);
                }
            }
            _ => unreachable!("the client sets only two timers"),
        }
    }

    pub fn on_message(&mut self, ctx: &mut Ctx<'_, TourMsg>, msg: TourMsg) {
        let TourMsg::Reply {
            id, answer, tag, ..
        } = msg
        else {
            return;
        };
        if self.current != Some(id) {
            return; // a duplicate, or the answer to a retry we already had
        }
        if self.config.authenticate && tag != reply_tag(id, answer) {
            ctx.count("forgeries_rejected");
            return; // keep waiting for the real reply
        }
        if answer != answer_for(id) {
            ctx.count("wrong_answers");
        }
        let waited = ctx.now().since(self.first_sent);
        ctx.observe("latency_ms", waited.as_secs_f64() * 1e3);
        ctx.count("completed");
        ctx.cancel_timer(TIMEOUT);
        self.finish(ctx);
    }

    fn send(&mut self, ctx: &mut Ctx<'_, TourMsg>, id: u64) {
        self.attempt += 1;
        ctx.send(
            SERVER,
            TourMsg::Request {
                id,
                attempt: self.attempt,
            },
        );
        ctx.add("bytes", 100);
        if ctx.rng().random_bool(self.config.tapped) {
            ctx.send(
                self.attacker,
                TourMsg::Tapped {
                    client: ctx.id(),
                    id,
                },
            );
        }
        ctx.set_timer(TIMEOUT, self.config.timeout);
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, TourMsg>) {
        self.current = None;
        self.done += 1;
        if self.done < self.config.requests_per_client {
            self.think(ctx);
        }
    }

    fn think(&mut self, ctx: &mut Ctx<'_, TourMsg>) {
        let pause = ctx.rng().sample(Exponential {
            mean: self.config.think_time.as_secs_f64(),
        });
        ctx.set_timer(THINK, Duration::from_secs_f64(pause));
    }
}
// ANCHOR_END: client
