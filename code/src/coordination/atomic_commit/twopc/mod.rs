//! Two-phase commit on the simulator: a coordinator and participants with durable logs, message
//! loss, crashes and restarts.
//!
//! - `message.rs`: the messages, the log records of each side, the settings.
//! - `participant.rs`: work, vote (log PREPARED first), obey the decision; in doubt, ask.
//! - `coordinator.rs`: run transactions, force the decision before sending it, presume abort.
//! - `run.rs`: a cluster on the simulator, the agreement check, the campaign run and the
//!   blocking-window measurement.
//!
//! The node is [`Node`], one `Process` type for both roles, so that one simulation holds them.
//! What survives a crash is each role's log ([`Disk`]), and a restarted node is rebuilt from it
//! alone.

mod coordinator;
mod message;
mod participant;
mod run;

pub use coordinator::{Coordinator, Phase, Round};
pub use message::{Config, CoordinatorRecord, Msg, ParticipantRecord};
pub use participant::{Participant, TxnState};
pub use run::{
    BlockingRun, CampaignRun, CrashPoint, Faults, blocking_run, campaign_run, check_agreement,
    check_locks, cluster, in_doubt_times,
};

use crate::sim::{Ctx, NodeId, Process, TimerId};

/// A node of two-phase commit: node 0 coordinates, the others participate.
#[derive(Clone, Debug)]
pub enum Node {
    Coordinator(Coordinator),
    Participant(Participant),
}

/// What a node keeps across a crash: its log.
#[derive(Clone, Debug)]
pub enum Disk {
    Coordinator(Vec<CoordinatorRecord>),
    Participant(Vec<ParticipantRecord>),
}

impl Process for Node {
    type Msg = Msg;
    type Durable = Disk;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        match self {
            Node::Coordinator(c) => c.on_start(ctx),
            Node::Participant(p) => p.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match self {
            Node::Coordinator(c) => c.on_message(ctx, from, msg),
            Node::Participant(p) => match msg {
                Msg::Work { txn } => p.on_work(ctx, txn),
                Msg::Prepare { txn } => p.on_prepare(ctx, txn),
                Msg::Decision { txn, commit } => p.on_decision(ctx, txn, commit),
                _ => {} // coordinator-bound messages are never sent to a participant
            },
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: TimerId) {
        match self {
            Node::Coordinator(c) => c.on_timer(ctx, timer),
            Node::Participant(p) => p.on_timer(ctx, timer),
        }
    }

    fn durable(&self) -> Disk {
        match self {
            Node::Coordinator(c) => Disk::Coordinator(c.log.clone()),
            Node::Participant(p) => Disk::Participant(p.log.clone()),
        }
    }
}
