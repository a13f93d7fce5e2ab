//! Broadcast on the simulator: best-effort, reliable (eager relay) and gossip.
//!
//! *Broadcast* sends one message to every process of a group; what makes the variants differ is
//! what they promise when the sender, or the network, fails. Following Cachin, Guerraoui and
//! Rodrigues ("Introduction to Reliable and Secure Distributed Programming", 2nd ed., Springer,
//! 2011), from weakest to strongest:
//!
//! - **Best-effort** ([`reliable::Mode::BestEffort`]): the sender sends a copy to each process.
//!   If the sender is correct (never crashes), every correct process delivers the message. If
//!   the sender crashes halfway, some processes have it and others never will.
//! - **Reliable** ([`reliable::Mode::Reliable`]): adds *agreement*: if any correct process
//!   delivers a message, every correct process does, even if the sender crashed. The eager
//!   algorithm gets there by having every process relay a message to everyone the first time it
//!   sees it; the cost is `n²` messages per broadcast.
//! - **Gossip** ([`gossip`]): probabilistic dissemination. Each round, each process talks to a
//!   few random peers (`fanout`). No process sends to everyone, the load is spread, and the
//!   message reaches everyone with high probability in `O(log n)` rounds.
//! - **Total order** broadcast, where every process also delivers the messages *in the same
//!   order*, is equivalent to consensus (chapter 10's Raft log is one); no coordination-free
//!   algorithm can provide it.
//!
//! Both protocols are sans-I/O [`Process`](crate::sim::Process)es. Simplifications: one
//! message per broadcast identified by `(origin, sequence)`, no flow control, delivery is
//! recorded rather than handed to an application.

pub mod gossip;
pub mod reliable;
