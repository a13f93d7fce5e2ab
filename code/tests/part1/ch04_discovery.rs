//! Chapter 4's claims about DNS resolution, checked on the simulator and over real UDP.
//!
//! The simulator tests inject a client's question straight into the resolver at a chosen
//! instant (`Sim::inject`), so that the cache's boundary can be probed to the nanosecond. The
//! real-server tests start the chapter's server on 127.0.0.1 port 0 themselves.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::RecordType as WireType;
use hickory_resolver::net::{DnsError, NetError};
use rand::{RngExt, SeedableRng};
use uds::communication::discovery::resolver::{
    Client, DnsMsg, DnsNode, NameServer, Observation, Outcome, ResolveError, Resolver,
    ResolverConfig,
};
use uds::communication::discovery::scenario::{
    EXAMPLE, FIRST_CLIENT, RESOLVER, ROOT, book_sim, poisson_schedule,
};
use uds::communication::discovery::server::{dig, exchange, handle_packet, resolver_for, start};
use uds::communication::discovery::zone::{RData, RecordType, Zone, book_zones};
use uds::sim::{Campaign, LinkConfig, NodeId, Sim, SimRng, Time};

const CLIENT: NodeId = NodeId(FIRST_CLIENT);

/// The book's hierarchy with one silent client whose questions the test injects.
fn quiet_sim(www_ttl: u32) -> Sim<DnsNode> {
    book_sim(1, www_ttl, vec![Client::new(RESOLVER, vec![])])
}

/// Delivers questions from the client to the resolver at the given instants, runs a second
/// past the last, and returns the client's observations of them, in the order asked.
fn ask_all(sim: &mut Sim<DnsNode>, questions: &[(Time, &str, RecordType)]) -> Vec<Observation> {
    let first = sim
        .process(CLIENT)
        .and_then(DnsNode::as_client)
        .expect("client")
        .log
        .len();
    for (i, &(at, qname, qtype)) in questions.iter().enumerate() {
        assert!(at >= sim.now(), "questions are asked in time order");
        let id = 1_000 + (first + i) as u32;
        let client = sim.process_mut(CLIENT).and_then(DnsNode::as_client_mut);
        client.expect("client").expect_reply(id, at, qname);
        let qname = qname.to_string();
        sim.inject(at, CLIENT, RESOLVER, DnsMsg::Resolve { id, qname, qtype });
    }
    let last = questions.last().expect("at least one question").0;
    sim.run_until(last + Duration::from_secs(1))
        .expect("no invariants");
    let client = sim.process(CLIENT).and_then(DnsNode::as_client);
    let mut log = client.expect("client").log[first..].to_vec();
    assert_eq!(log.len(), questions.len(), "one reply per question");
    log.sort_by_key(|o| o.sent_at);
    log
}

/// One question, see [`ask_all`].
fn ask(sim: &mut Sim<DnsNode>, at: Time, qname: &str, qtype: RecordType) -> Observation {
    ask_all(sim, &[(at, qname, qtype)]).remove(0)
}

fn resolver(sim: &Sim<DnsNode>) -> &Resolver {
    sim.process(RESOLVER)
        .and_then(DnsNode::as_resolver)
        .expect("resolver")
}

/// When the resolver's entry for the question stops being fresh, as a simulated instant.
fn expiry(sim: &Sim<DnsNode>, qname: &str, qtype: RecordType) -> Time {
    let key = (qname.to_string(), qtype);
    let at = resolver(sim).answers.expires_at(&key).expect("cached");
    Time(at.as_nanos() as u64)
}

/// The time an uncached resolution takes in the scenario: root, com and example.com round trips.
const COLD_MS: u64 = 2 * (20 + 30 + 40);

#[test]
fn cached_answers_are_served_until_just_before_the_ttl_and_refetched_at_it() {
    let mut sim = quiet_sim(30);
    let first = ask(&mut sim, Time::ZERO, "www.example.com.", RecordType::A);
    assert_eq!(
        first.upstream_queries, 3,
        "cold cache: root, com, example.com"
    );
    let expires = expiry(&sim, "www.example.com.", RecordType::A);
    assert_eq!(
        expires,
        Time::from_millis(COLD_MS) + Duration::from_secs(30)
    );

    let www = |at| (at, "www.example.com.", RecordType::A);
    let both = ask_all(
        &mut sim,
        &[www(expires - Duration::from_nanos(1)), www(expires)],
    );
    let (before, at) = (&both[0], &both[1]);
    assert_eq!(
        before.upstream_queries, 0,
        "fresh at expiry - 1 ns: served from the cache"
    );
    assert_eq!(
        at.upstream_queries, 1,
        "at expiry: refetched (delegations still cached)"
    );
    assert!(matches!(at.outcome, Outcome::Answer(_)));
}

#[test]
fn a_zero_ttl_answer_is_never_served_from_the_cache() {
    let mut sim = quiet_sim(0);
    // The first answer reaches the resolver at COLD_MS; the second question comes 1 ns later,
    // the third and fourth seconds later: each one goes upstream again.
    let stored = Time::from_millis(COLD_MS);
    let www = |at| (at, "www.example.com.", RecordType::A);
    let log = ask_all(
        &mut sim,
        &[
            www(Time::ZERO),
            www(stored + Duration::from_nanos(1)),
            www(Time::from_millis(2_000)),
            www(Time::from_millis(4_000)),
        ],
    );
    let queries: Vec<u32> = log.iter().map(|o| o.upstream_queries).collect();
    assert_eq!(
        queries,
        [3, 1, 1, 1],
        "a question was served from the cache"
    );
    // The last entry expires at the very instant it was stored: no clamp to a minimum TTL.
    let last_stored = Time::from_millis(4_000 + 2 * 40);
    assert_eq!(expiry(&sim, "www.example.com.", RecordType::A), last_stored);
}

#[test]
fn negative_answers_are_cached_for_the_soa_minimum() {
    // The zone's SOA has TTL 3600 and MINIMUM 60: the negative TTL is 60 s (RFC 2308 §3, §5).
    let mut sim = quiet_sim(300);
    let first = ask(&mut sim, Time::ZERO, "nope.example.com.", RecordType::A);
    assert_eq!(first.outcome, Outcome::NxDomain);
    let expires = expiry(&sim, "nope.example.com.", RecordType::A);
    assert_eq!(
        expires,
        Time::from_millis(COLD_MS) + Duration::from_secs(60)
    );
    let nope = |at| (at, "nope.example.com.", RecordType::A);
    let both = ask_all(
        &mut sim,
        &[nope(expires - Duration::from_nanos(1)), nope(expires)],
    );
    assert_eq!(
        (both[0].upstream_queries, &both[0].outcome),
        (0, &Outcome::NxDomain),
        "fresh at expiry - 1 ns"
    );
    assert_eq!(
        (both[1].upstream_queries, &both[1].outcome),
        (1, &Outcome::NxDomain),
        "refetched at expiry"
    );

    // NODATA (the name exists, not the type) is cached for the same time, as NODATA.
    let nodata = ask(
        &mut sim,
        Time::from_secs_f64(100.0),
        "www.example.com.",
        RecordType::Ns,
    );
    assert_eq!(nodata.outcome, Outcome::NoData);
    let expires = expiry(&sim, "www.example.com.", RecordType::Ns);
    let one_round_trip = Duration::from_millis(2 * 40); // delegations cached: example.com only
    assert_eq!(
        expires,
        Time::from_secs_f64(100.0) + one_round_trip + Duration::from_secs(60),
        "NODATA is cached for the same 60 s"
    );
    let again = ask(
        &mut sim,
        expires - Duration::from_nanos(1),
        "www.example.com.",
        RecordType::Ns,
    );
    assert_eq!(
        (again.upstream_queries, again.outcome),
        (0, Outcome::NoData)
    );
}

#[test]
fn a_soa_ttl_below_the_minimum_bounds_negative_caching() {
    let mut sim = quiet_sim(300);
    let server = sim
        .process_mut(EXAMPLE)
        .and_then(DnsNode::as_server_mut)
        .expect("server");
    server.zones[0].soa_ttl = 30; // below MINIMUM = 60
    ask(&mut sim, Time::ZERO, "nope.example.com.", RecordType::A);
    let expires = expiry(&sim, "nope.example.com.", RecordType::A);
    assert_eq!(
        expires,
        Time::from_millis(COLD_MS) + Duration::from_secs(30)
    );
}

/// A hierarchy whose example.com server (node 2) holds `zones` instead of example.com.
fn broken_sim(zones: Vec<Zone>) -> Sim<DnsNode> {
    let (root, com, _) = book_zones(300);
    let nodes = vec![
        DnsNode::Server(NameServer { zones: vec![root] }),
        DnsNode::Server(NameServer { zones: vec![com] }),
        DnsNode::Server(NameServer { zones }),
        DnsNode::Resolver(Box::new(Resolver::new(ResolverConfig::new(ROOT)))),
        DnsNode::Client(Client::new(RESOLVER, vec![])),
    ];
    Sim::new(7, LinkConfig::constant(Duration::from_millis(5)), nodes)
}

#[test]
fn referral_loops_and_lame_delegations_end_with_an_error_not_a_hang() {
    let (root, com, _) = book_zones(300);
    let cases = [
        // Sends the resolver back up to `com.`: a referral that is not below example.com.
        (vec![root], ResolveError::ReferralLoop),
        // Refers example.com. to itself again: not strictly closer.
        (vec![com], ResolveError::ReferralLoop),
        // Knows nothing of example.com.: REFUSED from every server of the zone.
        (
            vec![Zone::new("example.org.", 60, 60)],
            ResolveError::LameDelegation,
        ),
    ];
    for (zones, expected) in cases {
        let mut sim = broken_sim(zones);
        let o = ask(&mut sim, Time::ZERO, "www.example.com.", RecordType::A);
        assert_eq!(o.outcome, Outcome::Failed(expected));
        assert_eq!(resolver(&sim).in_flight(), 0, "nothing left pending");
    }
}

#[test]
fn a_silent_server_ends_with_a_timeout_after_the_allowed_tries() {
    let mut sim = quiet_sim(300);
    sim.set_link(
        RESOLVER,
        EXAMPLE,
        LinkConfig::constant(Duration::ZERO).with_loss(1.0),
    );
    let id = 5;
    let msg = DnsMsg::Resolve {
        id,
        qname: "www.example.com.".into(),
        qtype: RecordType::A,
    };
    let client = sim.process_mut(CLIENT).and_then(DnsNode::as_client_mut);
    client
        .expect("client")
        .expect_reply(id, Time::ZERO, "www.example.com.");
    sim.inject(Time::ZERO, CLIENT, RESOLVER, msg);
    sim.run_until(Time::from_millis(60_000))
        .expect("no invariants");
    let client = sim
        .process(CLIENT)
        .and_then(DnsNode::as_client)
        .expect("client");
    let o = client.log.last().expect("an answer, even a failure");
    assert_eq!(o.outcome, Outcome::Failed(ResolveError::Timeout));
    // Two referrals, then three tries at example.com, each waiting 2 s.
    assert_eq!(o.upstream_queries, 5);
    assert!(o.received_at < Time::from_millis(COLD_MS + 6_000 + 100));
}

/// Seeds from `UDS_SEED` (one seed, to replay a failure) or `0..seeds`.
fn campaign(name: &str, seeds: u64) -> Campaign {
    let mut c = Campaign::for_test("part1", name, seeds);
    c.replay = format!("UDS_SEED={{seed}} cargo test -p uds --release --test part1 {name}");
    if let Some(seed) = std::env::var("UDS_SEED").ok().and_then(|s| s.parse().ok()) {
        (c.first_seed, c.seeds) = (seed, 1);
    }
    c
}

#[test]
fn every_reply_is_correct_and_nothing_stays_pending_on_a_lossy_duplicating_network() {
    campaign("every_reply_is_correct_and_nothing_stays_pending", 1_000)
        .run(|seed| {
            let until = Time::from_millis(30_000);
            let clients = (0..2)
                .map(|i| Client::new(RESOLVER, poisson_schedule(seed, i, 1.0, until, 0.2)))
                .collect();
            let mut sim = book_sim(seed, [0, 5, 30][seed as usize % 3], clients);
            let link = LinkConfig::constant(Duration::from_millis(10))
                .with_loss(0.1)
                .with_duplicate(0.05);
            for n in 0..sim.node_count() {
                for m in 0..sim.node_count() {
                    sim.set_link(NodeId(n), NodeId(m), link.clone());
                }
            }
            sim.run_until(until + Duration::from_secs(60))
                .map_err(|e| e.to_string())?;
            for i in 0..2 {
                let c = sim
                    .process(NodeId(FIRST_CLIENT + i))
                    .and_then(DnsNode::as_client);
                let c = c.ok_or("no client")?;
                // Questions or replies the network lost are never answered; every answer that
                // arrives must be right.
                if c.log.len() > c.schedule.len() {
                    return Err(format!(
                        "{} replies to {} questions",
                        c.log.len(),
                        c.schedule.len()
                    ));
                }
                for o in &c.log {
                    let ok = match (o.qname.as_str(), &o.outcome) {
                        ("www.example.com.", Outcome::Answer(rs)) => rs
                            .iter()
                            .all(|r| r.data == RData::A(Ipv4Addr::new(192, 0, 2, 1))),
                        ("nope.example.com.", Outcome::NxDomain) => true,
                        (_, Outcome::Failed(ResolveError::Timeout)) => true,
                        _ => false,
                    };
                    if !ok {
                        return Err(format!("wrong reply {o:?}"));
                    }
                }
            }
            let r = sim
                .process(RESOLVER)
                .and_then(DnsNode::as_resolver)
                .ok_or("no resolver")?;
            if r.in_flight() != 0 {
                return Err(format!("{} resolutions still pending", r.in_flight()));
            }
            Ok(())
        })
        .assert_passed();
}

// ---------------------------------------------------------------------------------------------
// The real server, over UDP on 127.0.0.1.

fn runtime() -> tokio::runtime::Runtime {
    uds::experiment::runtime().expect("tokio starts")
}

fn all_zones() -> Vec<Zone> {
    let (root, com, example) = book_zones(300);
    vec![root, com, example]
}

#[test]
fn hickory_resolver_gets_the_real_servers_answers() {
    runtime().block_on(async {
        let (_, _, example) = book_zones(300);
        let (addr, server) = start(vec![example]).await.expect(
            "cannot bind 127.0.0.1:0/udp; start it by hand with \
             `cargo run --release -p uds --example ch04_dns`",
        );
        let resolver = resolver_for(addr).expect("a resolver");
        let ips = resolver
            .lookup_ip("www.example.com.")
            .await
            .expect("www resolves");
        let mut ips: Vec<std::net::IpAddr> = ips.iter().collect();
        ips.sort();
        let v6: Ipv6Addr = "2001:db8::1".parse().expect("literal");
        let expected: Vec<std::net::IpAddr> = vec![Ipv4Addr::new(192, 0, 2, 1).into(), v6.into()];
        assert_eq!(ips, expected);
        let err = resolver
            .lookup("nope.example.com.", WireType::A)
            .await
            .expect_err("nope does not exist");
        assert!(err.is_nx_domain(), "{err}");
        let hickory_negative_ttl = match &err {
            NetError::Dns(DnsError::NoRecordsFound(no)) => no.negative_ttl,
            _ => None,
        };
        assert_eq!(
            hickory_negative_ttl,
            Some(60),
            "hickory's min(SOA TTL, MINIMUM)"
        );
        assert_eq!(err.into_soa().expect("SOA in authority").ttl, 60);
        server.abort();
    });
}

#[test]
fn the_real_server_gives_nxdomain_nodata_referrals_and_refusals() {
    runtime().block_on(async {
        let (_, com, example) = book_zones(300);
        let (addr, server) = start(vec![com, example]).await.expect("bind 127.0.0.1:0");
        let nx = dig(addr, "nope.example.com.", WireType::A)
            .await
            .expect("reply");
        assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
        assert!(nx.metadata.authoritative && nx.answers.is_empty());
        assert_eq!(nx.authorities[0].record_type(), WireType::SOA);
        let nodata = dig(addr, "www.example.com.", WireType::MX)
            .await
            .expect("reply");
        assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
        assert!(nodata.answers.is_empty());
        assert_eq!(nodata.authorities[0].record_type(), WireType::SOA);
        let refused = dig(addr, "example.org.", WireType::A).await.expect("reply");
        assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
        server.abort();

        let (root, _, _) = book_zones(300);
        let (addr, server) = start(vec![root]).await.expect("bind 127.0.0.1:0");
        let referral = dig(addr, "www.example.com.", WireType::A)
            .await
            .expect("reply");
        assert!(
            !referral.metadata.authoritative,
            "a referral is not authoritative"
        );
        assert_eq!(referral.authorities[0].record_type(), WireType::NS);
        assert_eq!(referral.additionals[0].record_type(), WireType::A, "glue");
        server.abort();
    });
}

/// A valid query for `name`/`qtype` with id `id`, as bytes.
fn query_bytes(id: u16, name: &str, qtype: WireType) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, hickory_proto::op::OpCode::Query);
    let name = hickory_proto::rr::Name::from_ascii(name).expect("name");
    m.add_query(hickory_proto::op::Query::query(name, qtype));
    m.to_vec().expect("encodes")
}

/// EDNS(0), RFC 6891: a query without OPT gets none back; a version-0 OPT gets ours (version 0,
/// 1232-byte buffer) with the normal answer; a later version gets BADVERS (§6.1.3), still with
/// an OPT record, since the extended response code lives in it.
#[test]
fn edns_queries_get_an_opt_record_back_and_later_versions_get_badvers() {
    let zones = all_zones();
    let ask = |edns: Option<u8>| {
        let mut m = Message::new(7, MessageType::Query, hickory_proto::op::OpCode::Query);
        let name = hickory_proto::rr::Name::from_ascii("www.example.com.").expect("name");
        m.add_query(hickory_proto::op::Query::query(name, WireType::A));
        if let Some(version) = edns {
            let mut opt = hickory_proto::op::Edns::new();
            opt.set_version(version).set_max_payload(4096);
            m.set_edns(opt);
        }
        let reply = handle_packet(&zones, &m.to_vec().expect("encodes")).expect("a reply");
        Message::from_vec(&reply).expect("reply parses")
    };
    let plain = ask(None);
    assert!(plain.edns.is_none(), "no OPT asked, none given");
    assert_eq!(plain.metadata.response_code, ResponseCode::NoError);
    assert_eq!(plain.answers.len(), 1);

    let v0 = ask(Some(0));
    let opt = v0.edns.as_ref().expect("an OPT record back");
    assert_eq!((opt.version(), opt.max_payload()), (0, 1232));
    assert_eq!(v0.metadata.response_code, ResponseCode::NoError);
    assert_eq!(v0.answers, plain.answers);

    let v1 = ask(Some(1));
    // Code 16 (its high bits travel in the OPT record); hickory decodes 16 as BADSIG, which
    // shares the number, so compare numbers.
    let code = u16::from(v1.metadata.response_code);
    assert_eq!(code, u16::from(ResponseCode::BADVERS), "got {code}");
    assert_eq!(v1.edns.as_ref().map(|e| e.version()), Some(0));
    assert!(v1.answers.is_empty());
}

/// The fuzz property for one input: never a panic (a panic fails the test), and a reply exactly
/// when a header with the query bit was readable, with the same id, as a response; FORMERR
/// when the query does not parse.
fn check_reply(zones: &[Zone], packet: &[u8]) -> Result<(), String> {
    let reply = handle_packet(zones, packet);
    let answerable = packet.len() >= 12 && packet[2] & 0x80 == 0;
    match (answerable, reply) {
        (false, None) => Ok(()),
        (false, Some(_)) => Err("replied to a packet without a query header".into()),
        (true, None) => Err("dropped a packet whose id could be read".into()),
        (true, Some(bytes)) => {
            let m = Message::from_vec(&bytes).map_err(|e| format!("reply does not parse: {e}"))?;
            let id = u16::from_be_bytes([packet[0], packet[1]]);
            if m.metadata.id != id || m.metadata.message_type != MessageType::Response {
                return Err(format!(
                    "reply id {} type {:?}",
                    m.metadata.id, m.metadata.message_type
                ));
            }
            if Message::from_vec(packet).is_err()
                && m.metadata.response_code != ResponseCode::FormErr
            {
                return Err(format!("unparsable query got {}", m.metadata.response_code));
            }
            // 512 bytes without EDNS; with it, the smaller of the two advertised buffers.
            let limit = Message::from_vec(packet)
                .ok()
                .and_then(|q| {
                    q.edns
                        .map(|e| usize::from(e.max_payload().clamp(512, 1232)))
                })
                .unwrap_or(512);
            if bytes.len() > limit {
                return Err(format!(
                    "{}-byte reply over UDP (limit {limit})",
                    bytes.len()
                ));
            }
            Ok(())
        }
    }
}

/// Fuzz cases per seed; `UDS_FUZZ_CASES` raises it for a longer run.
fn fuzz_cases() -> u64 {
    std::env::var("UDS_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

#[test]
fn random_and_mutated_packets_get_formerr_or_are_dropped_never_a_panic() {
    let zones = all_zones();
    let names = [
        "www.example.com.",
        "nope.example.com.",
        "example.com.",
        "com.",
        ".",
    ];
    let types = [
        WireType::A,
        WireType::AAAA,
        WireType::NS,
        WireType::SOA,
        WireType::MX,
    ];
    let cases = fuzz_cases();
    campaign("random_and_mutated_packets_get_formerr", 1_000)
        .run(|seed| {
            let mut rng = SimRng::seed_from_u64(seed);
            for case in 0..cases {
                let packet: Vec<u8> = if case % 2 == 0 {
                    let len = rng.random_range(0..600);
                    (0..len).map(|_| rng.random::<u8>()).collect()
                } else {
                    let name = names[rng.random_range(0..names.len())];
                    let qtype = types[rng.random_range(0..types.len())];
                    let mut p = query_bytes(rng.random(), name, qtype);
                    for _ in 0..rng.random_range(1..4) {
                        if p.is_empty() {
                            p.push(rng.random());
                        }
                        match rng.random_range(0..3) {
                            0 => {
                                let i = rng.random_range(0..p.len());
                                p[i] = rng.random();
                            }
                            1 => p.truncate(rng.random_range(0..p.len())),
                            _ => p.push(rng.random()),
                        }
                    }
                    p
                };
                check_reply(&zones, &packet)
                    .map_err(|e| format!("case {case} {packet:02x?}: {e}"))?;
            }
            Ok(())
        })
        .assert_passed();
}

#[test]
fn the_real_server_survives_garbage_and_answers_the_next_query() {
    runtime().block_on(async {
        let (addr, server) = start(all_zones()).await.expect("bind 127.0.0.1:0");
        let formerr = exchange(
            addr,
            &[0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w'],
        )
        .await
        .expect("a FORMERR reply");
        let m = Message::from_vec(&formerr).expect("parses");
        assert_eq!(
            (m.metadata.id, m.metadata.response_code),
            (0xbeef, ResponseCode::FormErr)
        );
        // Too short for a header: dropped, so no reply comes back.
        let silent = exchange(addr, &[1, 2, 3]).await;
        assert!(silent.is_err(), "a 3-byte packet got a reply");
        let ok = dig(addr, "www.example.com.", WireType::A)
            .await
            .expect("still serving");
        assert_eq!(ok.answers.len(), 1);
        server.abort();
    });
}
