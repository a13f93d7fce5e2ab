//! A primary-backup register, small enough to read in a minute, with a bug you can switch on.
//!
//! A client writes numbered values to the primary. The primary copies each write to the
//! backup and acknowledges it to the client. Correct order: copy, wait for the backup's
//! acknowledgement, then acknowledge the client ("write to a majority before you say yes", the
//! rule every replication protocol in chapter 10 obeys). Buggy order (`ack_early`): acknowledge
//! the client first and copy afterwards. The bug is invisible while nothing fails: it shows only
//! when the primary crashes after acknowledging a write and before its copy reached the
//! backup. Then the backup takes over without a write the client was told was safe.
//!
//! Simplifications: the backup takes over by an external decision (the fault schedule crashes
//! the primary; the invariant reads the backup), not by a failure detector. Copies from primary
//! to backup are retransmitted until acknowledged, so loss alone loses nothing on that link; but
//! the client never retransmits a write or an acknowledgement that was lost, so under loss it
//! simply stops after a few writes. That is enough for the invariants here, and keeps the
//! register short enough to read.

use std::time::Duration;

use crate::sim::{Ctx, NodeId, Process, Sim, TimerId};

/// The primary, the backup and the client.
pub const PRIMARY: NodeId = NodeId(0);
pub const BACKUP: NodeId = NodeId(1);
pub const CLIENT: NodeId = NodeId(2);

const RETRY: TimerId = TimerId(0);
const NEXT_WRITE: TimerId = TimerId(1);

/// What the register's nodes say to each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Client to primary: store `value`.
    Write { value: u64 },
    /// Primary to client: `value` is stored.
    WriteAck { value: u64 },
    /// Primary to backup: store `value` too.
    Copy { value: u64 },
    /// Backup to primary: I have `value`.
    CopyAck { value: u64 },
}

// ANCHOR: replica
/// One node of the register; its role is fixed by its id.
#[derive(Clone, Debug, Default)]
pub struct Replica {
    /// The planted bug: acknowledge the client before the backup has the write.
    pub ack_early: bool,
    /// Values this node stores, in order. On the client: values acknowledged to it.
    pub values: Vec<u64>,
    /// Primary: copies sent to the backup and not yet acknowledged.
    pending: Vec<u64>,
    /// Primary: whether the retransmission timer is running. Not reset by each new write,
    /// so that a steady stream of writes cannot postpone retransmission forever.
    retry_armed: bool,
    /// Client: the next value to write, and how many writes to make.
    next: u64,
    pub writes: u64,
}

impl Process for Replica {
    type Msg = Msg;
    type Durable = Vec<u64>;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if ctx.id() == CLIENT {
            ctx.set_timer(NEXT_WRITE, Duration::from_millis(1));
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::Write { value } => {
                self.values.push(value);
                self.pending.push(value);
                ctx.send(BACKUP, Msg::Copy { value });
                if !self.retry_armed {
                    self.retry_armed = true;
                    ctx.set_timer(RETRY, Duration::from_millis(20));
                }
                if self.ack_early {
                    ctx.send(CLIENT, Msg::WriteAck { value }); // BUG: the backup may not have it
                }
            }
            Msg::Copy { value } => {
                if !self.values.contains(&value) {
                    self.values.push(value);
                }
                ctx.send(PRIMARY, Msg::CopyAck { value });
            }
            Msg::CopyAck { value } => {
                if let Some(i) = self.pending.iter().position(|v| *v == value) {
                    self.pending.remove(i);
                    if !self.ack_early {
                        ctx.send(CLIENT, Msg::WriteAck { value }); // safe: two copies exist
                    }
                }
            }
            Msg::WriteAck { value } => {
                if !self.values.contains(&value) {
                    self.values.push(value);
                    ctx.set_timer(NEXT_WRITE, Duration::from_millis(1));
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: TimerId) {
        match timer {
            RETRY => {
                for value in self.pending.clone() {
                    ctx.send(BACKUP, Msg::Copy { value });
                }
                self.retry_armed = !self.pending.is_empty();
                if self.retry_armed {
                    ctx.set_timer(RETRY, Duration::from_millis(20));
                }
            }
            _ => {
                if self.next < self.writes {
                    self.next += 1;
                    ctx.send(PRIMARY, Msg::Write { value: self.next });
                }
            }
        }
    }

    fn durable(&self) -> Vec<u64> {
        self.values.clone()
    }
}
// ANCHOR_END: replica

/// The three nodes: primary (with or without the bug), backup, and a client making `writes`.
pub fn nodes(ack_early: bool, writes: u64) -> Vec<Replica> {
    let primary = Replica {
        ack_early,
        ..Replica::default()
    };
    let client = Replica {
        writes,
        ..Replica::default()
    };
    vec![primary, Replica::default(), client]
}

// ANCHOR: invariant
/// The register's promise, as an invariant: once the primary has crashed, every write the
/// client saw acknowledged is on the backup, which takes over.
pub fn acknowledged_writes_survive(sim: &Sim<Replica>) -> Result<(), String> {
    if sim.process(PRIMARY).is_some() {
        return Ok(()); // the primary is up and holds every write it acknowledged
    }
    let (Some(client), Some(backup)) = (sim.process(CLIENT), sim.process(BACKUP)) else {
        return Ok(()); // the scenarios here never crash these two
    };
    match client.values.iter().find(|v| !backup.values.contains(v)) {
        Some(lost) => Err(format!(
            "write {lost} was acknowledged but the backup lacks it"
        )),
        None => Ok(()),
    }
}
// ANCHOR_END: invariant
