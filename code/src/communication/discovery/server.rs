//! The real thing: an authoritative DNS server over UDP on 127.0.0.1, speaking the DNS wire
//! format (RFC 1035 §4) through hickory-proto, and a `dig`-style client.
//!
//! The server is [`zone::answer`], the function the simulated name servers call, behind a
//! socket. [`handle_packet`] is the whole server logic as a pure function from request bytes to
//! response bytes, so that a test can feed it thousands of random and mutated packets:
//!
//! - a packet too short to hold a header (12 bytes) is dropped: there is no id to answer to;
//! - a packet whose header says it is a response is dropped (answering responses is how two
//!   servers end up bouncing packets forever);
//! - a query that does not parse gets FORMERR with the id copied from its first two bytes;
//! - an opcode other than QUERY gets NOTIMP; a query with no question or several gets FORMERR;
//! - a name outside our zones gets REFUSED; otherwise NOERROR with an answer, a referral, or
//!   NODATA (SOA in the authority section), or NXDOMAIN (SOA in the authority section).
//!
//! - EDNS(0) (RFC 6891), which hickory-resolver uses by default: a query with an OPT record gets
//!   one back, carrying our version (0) and buffer size, and a query of a later EDNS version gets
//!   BADVERS (§6.1.3). A response is truncated (TC set) above the smaller of the two buffer
//!   sizes, or above 512 bytes for a query without OPT (RFC 1035 §4.2.1).
//!
//! Simplifications: no TCP, class IN only, and EDNS options are ignored.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{self, DNSClass, Name};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::zone::{self, Lookup, RData, Record, RecordType, Zone};

/// The largest DNS message over UDP without EDNS (RFC 1035 §4.2.1).
pub const MAX_UDP_PAYLOAD: usize = 512;

/// The largest UDP response we send to a client that offers a larger buffer with EDNS(0):
/// 1280 bytes (the smallest IPv6 link MTU) minus the IPv6 and UDP headers, so that a response
/// is never fragmented.
pub const EDNS_UDP_PAYLOAD: u16 = 1232;

/// Our record type for a wire type.
pub fn record_type_of(t: rr::RecordType) -> RecordType {
    match t {
        rr::RecordType::A => RecordType::A,
        rr::RecordType::AAAA => RecordType::Aaaa,
        rr::RecordType::NS => RecordType::Ns,
        rr::RecordType::SOA => RecordType::Soa,
        other => RecordType::Other(u16::from(other)),
    }
}

/// A wire record for one of ours.
fn to_wire(r: &Record) -> Result<rr::Record, String> {
    let name = |n: &str| Name::from_ascii(n).map_err(|e| format!("bad name {n:?}: {e}"));
    let data = match &r.data {
        RData::A(a) => rr::RData::A(rr::rdata::A(*a)),
        RData::Aaaa(a) => rr::RData::AAAA(rr::rdata::AAAA(*a)),
        RData::Ns(n) => rr::RData::NS(rr::rdata::NS(name(n)?)),
        RData::Soa(s) => {
            let int = |v: u32| i32::try_from(v).map_err(|_| format!("SOA field {v} too large"));
            rr::RData::SOA(rr::rdata::SOA::new(
                name(&s.mname)?,
                name(&s.rname)?,
                s.serial,
                int(s.refresh)?,
                int(s.retry)?,
                int(s.expire)?,
                s.minimum,
            ))
        }
    };
    Ok(rr::Record::from_rdata(name(&r.name)?, r.ttl, data))
}

// ANCHOR: handle_packet
/// The server's answer to one UDP payload, or `None` to drop it. Never panics.
pub fn handle_packet(zones: &[Zone], packet: &[u8]) -> Option<Vec<u8>> {
    if packet.len() < 12 {
        return None; // no header, no id to answer to
    }
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    let is_response = packet[2] & 0x80 != 0;
    if is_response {
        return None;
    }
    let request = match Message::from_vec(packet) {
        Ok(request) => request,
        Err(_) => {
            return encode(
                &Message::error_msg(id, OpCode::Query, ResponseCode::FormErr),
                MAX_UDP_PAYLOAD,
            );
        }
    };
    let mut response = respond(zones, &request);
    let limit = negotiate_edns(&request, &mut response);
    encode(&response, limit)
}
// ANCHOR_END: handle_packet

// ANCHOR: respond
/// The response to a parsed request.
pub fn respond(zones: &[Zone], request: &Message) -> Message {
    let id = request.metadata.id;
    let op_code = request.metadata.op_code;
    if op_code != OpCode::Query {
        return Message::error_msg(id, op_code, ResponseCode::NotImp);
    }
    let [query] = request.queries.as_slice() else {
        return Message::error_msg(id, op_code, ResponseCode::FormErr);
    };
    let mut response = Message::response(id, op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.add_query(query.clone());
    if query.query_class() != DNSClass::IN {
        response.metadata.response_code = ResponseCode::NotImp;
        return response;
    }
    let qname = query.name().to_lowercase().to_ascii();
    let lookup = zone::answer(zones, &qname, record_type_of(query.query_type()));
    let (code, answers, authorities, additionals) = match lookup {
        Lookup::Answer(rs) => (ResponseCode::NoError, rs, vec![], vec![]),
        Lookup::Referral { ns, glue } => (ResponseCode::NoError, vec![], ns, glue),
        Lookup::NoData { soa } => (ResponseCode::NoError, vec![], vec![soa], vec![]),
        Lookup::NxDomain { soa } => (ResponseCode::NXDomain, vec![], vec![soa], vec![]),
        Lookup::NotAuthoritative => (ResponseCode::Refused, vec![], vec![], vec![]),
    };
    // Authoritative for its own data; a referral points elsewhere (RFC 1034 §4.3.2).
    response.metadata.authoritative =
        code != ResponseCode::Refused && authorities_not_ns(&answers, &authorities);
    response.metadata.response_code = code;
    let convert = |rs: Vec<Record>| rs.iter().map(to_wire).collect::<Result<Vec<_>, _>>();
    match (convert(answers), convert(authorities), convert(additionals)) {
        (Ok(an), Ok(ns), Ok(ad)) => {
            response
                .add_answers(an)
                .add_authorities(ns)
                .add_additionals(ad);
            response
        }
        _ => Message::error_msg(id, op_code, ResponseCode::ServFail),
    }
}
// ANCHOR_END: respond

/// Whether the response is not a referral (a referral has only NS records in authority).
fn authorities_not_ns(answers: &[Record], authorities: &[Record]) -> bool {
    !answers.is_empty()
        || authorities.is_empty()
        || authorities
            .iter()
            .any(|r| r.data.record_type() != RecordType::Ns)
}

/// EDNS(0) (RFC 6891): a request with an OPT record gets one back with our version (0) and
/// buffer size, and BADVERS if it asked for a later version (§6.1.3). Returns the largest
/// response the client can take: 512 bytes without OPT, else the smaller of the two buffers.
pub fn negotiate_edns(request: &Message, response: &mut Message) -> usize {
    let Some(theirs) = &request.edns else {
        return MAX_UDP_PAYLOAD;
    };
    if theirs.version() > 0 {
        let (id, op_code) = (request.metadata.id, request.metadata.op_code);
        *response = Message::error_msg(id, op_code, ResponseCode::BADVERS);
    }
    let mut ours = Edns::new();
    ours.set_version(0).set_max_payload(EDNS_UDP_PAYLOAD);
    response.set_edns(ours);
    usize::from(theirs.max_payload().clamp(512, EDNS_UDP_PAYLOAD))
}

/// The wire bytes of `message`, truncated (TC set) if over `limit` bytes; `None` if it cannot
/// be encoded, which our zones never cause.
fn encode(message: &Message, limit: usize) -> Option<Vec<u8>> {
    let bytes = message.to_vec().ok()?;
    if bytes.len() <= limit {
        return Some(bytes);
    }
    message.truncate().to_vec().ok()
}

// ANCHOR: serve
/// Binds 127.0.0.1 on an ephemeral port and answers from `zones` until the task is aborted.
/// Returns the address the server listens on.
pub async fn start(zones: Vec<Zone>) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = socket.local_addr()?;
    let zones = Arc::new(zones);
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 4_096];
        loop {
            let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
                continue; // e.g. an ICMP error reported on the socket: keep serving
            };
            if let Some(reply) = handle_packet(&zones, &buf[..len]) {
                let _ = socket.send_to(&reply, peer).await; // UDP: a lost reply is retried
            }
        }
    });
    Ok((addr, task))
}
// ANCHOR_END: serve

// ANCHOR: dig
/// A `dig`-style query: sends one question to `server` and returns the parsed response.
pub async fn dig(server: SocketAddr, qname: &str, qtype: rr::RecordType) -> io::Result<Message> {
    let name = Name::from_ascii(zone::fqdn(qname))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let mut query = Message::new(0x4242, MessageType::Query, OpCode::Query);
    query.add_query(Query::query(name, qtype));
    let bytes = query.to_vec().map_err(io::Error::other)?;
    let reply = exchange(server, &bytes).await?;
    Message::from_vec(&reply).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Sends raw bytes to `server` and waits up to two seconds for one datagram back.
pub async fn exchange(server: SocketAddr, bytes: &[u8]) -> io::Result<Vec<u8>> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    socket.send_to(bytes, server).await?;
    let mut buf = vec![0u8; 4_096];
    let wait = tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf));
    let (len, _) = wait
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no DNS response in 2 s"))??;
    buf.truncate(len);
    Ok(buf)
}
// ANCHOR_END: dig

// ANCHOR: resolver_for
/// A real stub resolver (hickory-resolver) that asks only the server at `addr`, over UDP.
pub fn resolver_for(addr: SocketAddr) -> io::Result<hickory_resolver::TokioResolver> {
    use hickory_resolver::config::{NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    let mut server = NameServerConfig::udp(addr.ip());
    for connection in &mut server.connections {
        connection.port = addr.port();
    }
    let config = ResolverConfig::from_name_servers(vec![server]);
    hickory_resolver::TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .build()
        .map_err(io::Error::other)
}
// ANCHOR_END: resolver_for
