//! The three roles as one simulator process type.
//!
//! The simulator runs processes of a single type, so the lock service, the storage and the
//! clients are the variants of [`LeaseNode`], which forwards each input to its role. No role
//! keeps durable state: the service and the storage never crash in this chapter's runs, and a
//! crashed client would simply lose its lease, which is the case a lease already handles.

use super::client::Client;
use super::lock_service::LockService;
use super::messages::LeaseMsg;
use super::storage::Storage;
use crate::sim::{Ctx, NodeId, Process, TimerId};

/// A node of a lease-lock run.
#[derive(Clone, Debug)]
pub enum LeaseNode {
    /// The lock service (a stand-in for etcd, ZooKeeper or Chubby).
    Service(LockService),
    /// The storage service the leader writes to.
    Storage(Storage),
    /// A would-be leader.
    Client(Client),
}

impl Process for LeaseNode {
    type Msg = LeaseMsg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, LeaseMsg>) {
        if let LeaseNode::Client(c) = self {
            c.on_start(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, from: NodeId, msg: LeaseMsg) {
        match self {
            LeaseNode::Service(s) => s.on_message(ctx, from, msg),
            LeaseNode::Storage(s) => s.on_message(ctx, from, msg),
            LeaseNode::Client(c) => c.on_message(ctx, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, timer: TimerId) {
        match self {
            LeaseNode::Client(c) => c.on_timer(ctx, timer),
            _ => unreachable!("only clients set timers"),
        }
    }

    fn durable(&self) {}
}

impl LeaseNode {
    /// The client, if this node is one.
    pub fn as_client(&self) -> Option<&Client> {
        match self {
            LeaseNode::Client(c) => Some(c),
            _ => None,
        }
    }

    /// The storage, if this node is it.
    pub fn as_storage(&self) -> Option<&Storage> {
        match self {
            LeaseNode::Storage(s) => Some(s),
            _ => None,
        }
    }

    /// The lock service, if this node is it.
    pub fn as_service(&self) -> Option<&LockService> {
        match self {
            LeaseNode::Service(s) => Some(s),
            _ => None,
        }
    }
}
