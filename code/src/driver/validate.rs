//! Raft's rules for a message from the network: what a frame must satisfy before a server or a
//! client handles it.
//!
//! The Raft core ([`crate::coordination::raft`]) trusts its inputs, as the paper's servers do:
//! in the simulator every message was sent by a correct node of the cluster. A TCP port
//! accepts bytes from anyone, and a well-formed frame with a wrong number in it used to reach
//! code that indexes or asserts on that number. The tokio driver's frame gate
//! ([`super::tcp::decode_frame`]) only knows that a sender is *some* node; this module knows
//! which nodes are servers and which are clients, and what each message may contain.
//! [`check`] applies the rules, [`validator`] plugs them into the driver
//! ([`super::tcp::Hooks::validate`]), and a refused message is counted as
//! `bad_frames.<reason>` and dropped before any handler sees it.
//!
//! **The rules.** Nodes `0..servers` are servers, `servers..nodes` clients.
//! - Raft messages (`RequestVote`, `AppendEntries` and their responses) come from a server,
//!   never from the receiver itself; a candidate or leader named inside must be the sender.
//! - Terms and indexes stay below [`MAX_TERM`] and [`MAX_INDEX`] (2^48: a leader elected every
//!   millisecond takes about 8,900 years to get there), so no `+ 1` can overflow; a
//!   `RequestVote` or `AppendEntries` has a term of at least 1; the entries of an
//!   `AppendEntries` have terms that never decrease, from `prev_log_term` up to the message's.
//! - A `ClientRequest` comes from a client whose session id (`command.client`) is its own node
//!   number, with a sequence number from 1 and a key and value of bounded size; a
//!   `ClientResponse` comes from a server to a client, and a leader hint names a server.
//! - Two rules need the receiver's state ([`Receiver::Server`]): a leader refuses an
//!   `AppendEntries` of its own term (a second leader in one term cannot exist; the core
//!   asserts it), and a successful `AppendEntriesResponse` of the leader's term cannot
//!   acknowledge entries beyond the leader's log.
//! - A message kind this module does not know (added after it was written: snapshots, pre-votes,
//!   read heartbeats) gets the same rules by field name ([`check_fields`]): a message with a
//!   `term` comes from a server and its term is in range, a `leader` or `candidate` field names
//!   the sender, fields ending in `index` are in range, and a leader refuses a `leader`'s
//!   message of its own term.
//!
//! What the rules do not do: stop a server of the cluster that lies plausibly (a forged
//! `AppendEntries` with a believable term and log). Raft tolerates crashes, not lies; that
//! takes authenticated connections (chapter 3) or a Byzantine protocol.

use std::fmt;
use std::sync::Arc;

use super::tcp::{Rejected, Validator};
use crate::coordination::raft::history::KvInput;
use crate::coordination::raft::kv::Command;
use crate::coordination::raft::message::{ClientResponse, Message};
use crate::coordination::raft::{LogIndex, Role, Server, Term};
use crate::sim::{NodeId, Process};

/// The largest term a message may carry.
pub const MAX_TERM: Term = 1 << 48;
/// The largest log index a message may carry.
pub const MAX_INDEX: LogIndex = 1 << 48;
/// The longest key a client may send, in bytes.
pub const MAX_KEY_BYTES: usize = 4 * 1024;
/// The longest value a client may send, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Who is who: nodes `0..servers` are servers, `servers..nodes` are clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Membership {
    /// How many servers.
    pub servers: usize,
    /// How many nodes in all, servers and clients.
    pub nodes: usize,
}

/// The node a message is for, with what its check needs to know about it.
#[derive(Clone, Copy, Debug)]
pub enum Receiver<'a> {
    /// A Raft server.
    Server(&'a Server),
    /// A client.
    Client,
}

/// What is wrong with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// The sender is not a node of the cluster.
    UnknownSender { from: NodeId },
    /// A Raft message, or an answer to a client, from a node that is not a server.
    NotAServer { from: NodeId },
    /// A client request from a node that is not a client.
    NotAClient { from: NodeId },
    /// A message claiming to come from its receiver.
    FromSelf { from: NodeId },
    /// An id inside the message (candidate, leader, session) that is not the sender's.
    Impersonation {
        field: &'static str,
        id: u64,
        from: NodeId,
    },
    /// A leader hint naming a node that is not a server.
    BadHint { leader: NodeId },
    /// A term out of range.
    Term { field: &'static str, term: Term },
    /// An index out of range.
    Index {
        field: &'static str,
        index: LogIndex,
    },
    /// Entry terms that decrease, or exceed the message's term.
    EntryTerms { at: usize, term: Term },
    /// A client sequence number of zero (they start at 1).
    ZeroSeq,
    /// A key or value longer than allowed.
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    /// A message this receiver never gets (a client request to a client, say).
    WrongReceiver { kind: &'static str },
    /// An `AppendEntries` of the receiving leader's own term: a second leader.
    SecondLeader { term: Term, from: NodeId },
    /// An acknowledgement of entries the leader does not have.
    BeyondLog {
        match_index: LogIndex,
        last: LogIndex,
    },
}

impl Invalid {
    /// The counter that counts this kind of refusal.
    pub fn counter(&self) -> &'static str {
        match self {
            Invalid::UnknownSender { .. } => "bad_frames.unknown_sender",
            Invalid::NotAServer { .. } => "bad_frames.not_a_server",
            Invalid::NotAClient { .. } => "bad_frames.not_a_client",
            Invalid::FromSelf { .. } => "bad_frames.from_self",
            Invalid::Impersonation { .. } => "bad_frames.impersonation",
            Invalid::BadHint { .. } => "bad_frames.bad_hint",
            Invalid::Term { .. } => "bad_frames.term",
            Invalid::Index { .. } => "bad_frames.index",
            Invalid::EntryTerms { .. } => "bad_frames.entry_terms",
            Invalid::ZeroSeq => "bad_frames.zero_seq",
            Invalid::TooLong { .. } => "bad_frames.too_long",
            Invalid::WrongReceiver { .. } => "bad_frames.wrong_receiver",
            Invalid::SecondLeader { .. } => "bad_frames.second_leader",
            Invalid::BeyondLog { .. } => "bad_frames.beyond_log",
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::UnknownSender { from } => write!(f, "{from} is not a node of the cluster"),
            Invalid::NotAServer { from } => write!(f, "{from} is not a server"),
            Invalid::NotAClient { from } => write!(f, "{from} is not a client"),
            Invalid::FromSelf { from } => write!(f, "a message from {from} to itself"),
            Invalid::Impersonation { field, id, from } => {
                write!(f, "{field} {id} in a message from {from}")
            }
            Invalid::BadHint { leader } => write!(f, "leader hint {leader} is not a server"),
            Invalid::Term { field, term } => write!(f, "{field} {term} out of range"),
            Invalid::Index { field, index } => write!(f, "{field} {index} out of range"),
            Invalid::EntryTerms { at, term } => {
                write!(f, "entry {at} has term {term}, out of order")
            }
            Invalid::ZeroSeq => write!(f, "sequence number 0"),
            Invalid::TooLong { what, len, max } => {
                write!(f, "{what} of {len} bytes, more than {max}")
            }
            Invalid::WrongReceiver { kind } => write!(f, "{kind} sent to a node that takes none"),
            Invalid::SecondLeader { term, from } => {
                write!(f, "AppendEntries of this leader's term {term} from {from}")
            }
            Invalid::BeyondLog { match_index, last } => {
                write!(
                    f,
                    "acknowledges index {match_index}, the log ends at {last}"
                )
            }
        }
    }
}

impl std::error::Error for Invalid {}

impl From<Invalid> for Rejected {
    fn from(invalid: Invalid) -> Rejected {
        Rejected::new(invalid.counter(), invalid.to_string())
    }
}

/// Raft's rules as a driver hook; `receiver` says what kind of node a process is.
pub fn validator<P>(members: Membership, receiver: fn(&P) -> Receiver<'_>) -> Validator<P>
where
    P: Process<Msg = Message> + 'static,
{
    Arc::new(move |from: NodeId, msg: &Message, process: &P| {
        Ok(check(members, receiver(process), from, msg)?)
    })
}

// ANCHOR: check
/// Checks message `msg` from `from` for `receiver`: the rules of the module's documentation.
pub fn check(
    members: Membership,
    receiver: Receiver<'_>,
    from: NodeId,
    msg: &Message,
) -> Result<(), Invalid> {
    let server = |from: NodeId| match from.0 {
        n if n >= members.nodes => Err(Invalid::UnknownSender { from }),
        n if n >= members.servers => Err(Invalid::NotAServer { from }),
        _ => Ok(()),
    };
    if from.0 >= members.nodes {
        return Err(Invalid::UnknownSender { from });
    }
    if let Receiver::Server(me) = receiver
        && me.id() == from
    {
        return Err(Invalid::FromSelf { from });
    }
    if let Some(term) = msg.term() {
        server(from)?;
        in_range("term", term, MAX_TERM, |field, term| Invalid::Term {
            field,
            term,
        })?;
    }
    if let Message::RequestVote(m) = msg {
        same("candidate", m.candidate.0 as u64, from)?;
        at_least_one(m.term)?;
        index("last_log_index", m.last_log_index)?;
        in_range("last_log_term", m.last_log_term, m.term, term_err)?;
    }
    if let Message::AppendEntries(m) = msg {
        same("leader", m.leader.0 as u64, from)?;
        at_least_one(m.term)?;
        index("prev_log_index", m.prev_log_index)?;
        index("leader_commit", m.leader_commit)?;
        index(
            "last new index",
            m.prev_log_index + m.entries.len() as LogIndex,
        )?;
        in_range("prev_log_term", m.prev_log_term, m.term, term_err)?;
        let mut floor = m.prev_log_term;
        for (at, entry) in m.entries.iter().enumerate() {
            if entry.term < floor || entry.term > m.term {
                return Err(Invalid::EntryTerms {
                    at,
                    term: entry.term,
                });
            }
            floor = entry.term;
            if let Some(command) = &entry.command {
                sizes(command)?;
            }
        }
    }
    if let Message::AppendEntriesResponse(m) = msg {
        index("match_index", m.match_index)?;
        index("conflict_index", m.conflict_index)?;
    }
    if let Message::ClientRequest(command) = msg {
        if from.0 < members.servers {
            return Err(Invalid::NotAClient { from });
        }
        same("client", command.client, from)?;
        if command.seq == 0 {
            return Err(Invalid::ZeroSeq);
        }
        sizes(command)?;
    }
    if kind(msg) == UNKNOWN {
        let value = serde_json::to_value(msg).unwrap_or_default();
        let payload = value.as_object().and_then(|o| o.values().next());
        if let Some(fields) = payload.and_then(|p| p.as_object()) {
            check_fields(members, receiver, from, fields)?;
        }
    }
    if let Message::ClientResponse(response) = msg {
        server(from)?;
        if let ClientResponse::NotLeader {
            leader: Some(leader),
            ..
        } = response
            && leader.0 >= members.servers
        {
            return Err(Invalid::BadHint { leader: *leader });
        }
    }
    match receiver {
        Receiver::Server(me) => check_server_state(me, from, msg),
        // Clients take no Raft message and no request; other kinds pass (a client ignores them).
        Receiver::Client if msg.term().is_some() || matches!(msg, Message::ClientRequest(_)) => {
            Err(Invalid::WrongReceiver { kind: kind(msg) })
        }
        Receiver::Client => Ok(()),
    }
}
// ANCHOR_END: check

/// Raft's rules by field name, for a message kind this module does not list: `fields` are the
/// message's top-level fields as JSON.
pub fn check_fields(
    members: Membership,
    receiver: Receiver<'_>,
    from: NodeId,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), Invalid> {
    let number = |name: &str| fields.get(name).and_then(|v| v.as_u64());
    let term = fields.get("term").map(|v| v.as_u64().unwrap_or(u64::MAX));
    if let Some(term) = term {
        if from.0 >= members.servers {
            return Err(Invalid::NotAServer { from });
        }
        in_range("term", term, MAX_TERM, term_err)?;
    }
    for field in ["leader", "candidate"] {
        if let Some(id) = fields.get(field) {
            same(field, id.as_u64().unwrap_or(u64::MAX), from)?;
        }
    }
    for value in fields
        .iter()
        .filter(|(name, _)| name.ends_with("index"))
        .map(|(_, value)| value)
    {
        let index = value.as_u64().unwrap_or(u64::MAX);
        if index > MAX_INDEX {
            return Err(Invalid::Index {
                field: "an index",
                index,
            });
        }
    }
    if let (Receiver::Server(me), Some(term), Some(_)) = (receiver, term, number("leader"))
        && me.role() == Role::Leader
        && term == me.current_term()
    {
        return Err(Invalid::SecondLeader { term, from });
    }
    Ok(())
}

/// The two rules that need the receiving server's state.
fn check_server_state(me: &Server, from: NodeId, msg: &Message) -> Result<(), Invalid> {
    let leading = me.role() == Role::Leader;
    match msg {
        Message::AppendEntries(m) if leading && m.term == me.current_term() => {
            Err(Invalid::SecondLeader { term: m.term, from })
        }
        Message::AppendEntriesResponse(m)
            if leading
                && m.success
                && m.term == me.current_term()
                && m.match_index > me.log().last_index() =>
        {
            let (match_index, last) = (m.match_index, me.log().last_index());
            Err(Invalid::BeyondLog { match_index, last })
        }
        Message::ClientResponse(_) => Err(Invalid::WrongReceiver { kind: kind(msg) }),
        _ => Ok(()),
    }
}

/// What [`kind`] calls a message kind this module does not list.
const UNKNOWN: &str = "a message";

fn kind(msg: &Message) -> &'static str {
    match msg {
        Message::RequestVote(_) => "RequestVote",
        Message::RequestVoteResponse(_) => "RequestVoteResponse",
        Message::AppendEntries(_) => "AppendEntries",
        Message::AppendEntriesResponse(_) => "AppendEntriesResponse",
        Message::ClientRequest(_) => "ClientRequest",
        Message::ClientResponse(_) => "ClientResponse",
        #[allow(unreachable_patterns)] // message kinds added later by other modules
        _ => UNKNOWN,
    }
}

fn term_err(field: &'static str, term: Term) -> Invalid {
    Invalid::Term { field, term }
}

fn in_range(
    field: &'static str,
    value: u64,
    max: u64,
    err: fn(&'static str, u64) -> Invalid,
) -> Result<(), Invalid> {
    if value > max {
        return Err(err(field, value));
    }
    Ok(())
}

fn index(field: &'static str, index: LogIndex) -> Result<(), Invalid> {
    in_range(field, index, MAX_INDEX, |field, index| Invalid::Index {
        field,
        index,
    })
}

fn at_least_one(term: Term) -> Result<(), Invalid> {
    if term == 0 {
        return Err(Invalid::Term {
            field: "term",
            term,
        });
    }
    Ok(())
}

fn same(field: &'static str, id: u64, from: NodeId) -> Result<(), Invalid> {
    if id != from.0 as u64 {
        return Err(Invalid::Impersonation { field, id, from });
    }
    Ok(())
}

fn sizes(command: &Command) -> Result<(), Invalid> {
    let (key, value) = match &command.input {
        KvInput::Get { key } => (key, None),
        KvInput::Put { key, value } | KvInput::Append { key, value } => (key, Some(value)),
    };
    let long = |what, len, max| Invalid::TooLong { what, len, max };
    if key.len() > MAX_KEY_BYTES {
        return Err(long("key", key.len(), MAX_KEY_BYTES));
    }
    match value {
        Some(v) if v.len() > MAX_VALUE_BYTES => Err(long("value", v.len(), MAX_VALUE_BYTES)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordination::raft::Config;

    fn fields(json: &str) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn unknown_message_kinds_get_the_rules_by_field_name() {
        let members = Membership {
            servers: 3,
            nodes: 4,
        };
        let server = Server::new(NodeId(0), 3, Config::default());
        let me = Receiver::Server(&server);
        let check = |from, json| check_fields(members, me, NodeId(from), &fields(json));
        assert_eq!(check(1, r#"{"term":3,"leader":1,"round":2}"#), Ok(()));
        assert_eq!(check(1, r#"{"term":3,"last_index":7}"#), Ok(()));
        assert!(matches!(
            check(3, r#"{"term":3}"#),
            Err(Invalid::NotAServer { .. })
        ));
        assert!(matches!(
            check(1, r#"{"term":3,"leader":99}"#),
            Err(Invalid::Impersonation { .. })
        ));
        assert!(matches!(
            check(1, r#"{"term":3,"candidate":2}"#),
            Err(Invalid::Impersonation { .. })
        ));
        assert!(matches!(
            check(1, r#"{"term":18446744073709551615}"#),
            Err(Invalid::Term { .. })
        ));
        assert!(matches!(
            check(1, r#"{"term":3,"last_index":-1}"#),
            Err(Invalid::Index { .. })
        ));
        assert_eq!(
            check(3, r#"{"seq":1}"#),
            Ok(()),
            "no term: a client's message"
        );
    }
}
