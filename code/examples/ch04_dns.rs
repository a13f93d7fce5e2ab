//! Chapter 4, for real: the `example.com.` zone served over UDP on 127.0.0.1 by our server
//! (`uds::communication::discovery::server`), queried by hickory-resolver and by the chapter's
//! `dig`-style client, including a name that does not exist and a malformed packet.
//!
//! The answers do not depend on the machine; only the port does, so it is printed but not
//! written to the output file.
//!
//! outputs: code/outputs/ch04_dns.txt
//!
//! Run: `cargo run --release -p uds --example ch04_dns`
use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Parser;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_resolver::net::{DnsError, NetError};
use uds::communication::discovery::server::{dig, exchange, resolver_for, start};
use uds::communication::discovery::zone::book_zones;
use uds::experiment::ExperimentArgs;

/// Start the DNS server on 127.0.0.1 and resolve names through it.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match uds::experiment::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(session()) {
        Ok(text) => {
            print!("{text}");
            if let Err(e) = args.common.emit("code/outputs/ch04_dns.txt", &text) {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: session
async fn session() -> Result<String, Box<dyn std::error::Error>> {
    let (_, _, example) = book_zones(300);
    let (addr, server) = start(vec![example]).await?;
    println!("authoritative server for example.com. listening on udp://{addr}");
    let mut out = String::new();

    writeln!(out, "hickory-resolver, configured with only our server:")?;
    let resolver = resolver_for(addr)?;
    let ips = resolver.lookup_ip("www.example.com.").await?;
    let mut ips: Vec<String> = ips.iter().map(|ip| ip.to_string()).collect();
    ips.sort();
    writeln!(out, "  lookup_ip www.example.com.   -> {}", ips.join(", "))?;
    match resolver.lookup("nope.example.com.", RecordType::A).await {
        Ok(found) => writeln!(out, "  nope.example.com. A -> unexpected {found:?}")?,
        Err(e) if e.is_nx_domain() => {
            // The negative TTL hickory-resolver computed itself: min(SOA TTL, SOA MINIMUM).
            let ttl = match &e {
                NetError::Dns(DnsError::NoRecordsFound(no)) => no.negative_ttl,
                _ => None,
            };
            let ttl = ttl.map_or("none".to_string(), |t| format!("{t} s"));
            writeln!(
                out,
                "  lookup nope.example.com. A  -> NXDOMAIN, negative TTL {ttl}"
            )?
        }
        Err(e) => writeln!(out, "  nope.example.com. A -> error {e}")?,
    }

    writeln!(
        out,
        "dig-style queries (our client, hickory-proto messages):"
    )?;
    for (name, qtype) in [
        ("www.example.com.", RecordType::AAAA),
        ("example.com.", RecordType::NS),
        ("www.example.com.", RecordType::MX),
        ("nope.example.com.", RecordType::A),
        ("example.org.", RecordType::A),
    ] {
        let reply = dig(addr, name, qtype).await?;
        writeln!(out, "  {name} {qtype}: {}", summary(&reply))?;
    }

    // A header that promises one question, followed by only two bytes of it (a label length
    // of 3 and one letter): the id can be read, the question cannot.
    let malformed = [0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w'];
    let reply = Message::from_vec(&exchange(addr, &malformed).await?)?;
    writeln!(
        out,
        "malformed query, id 0xbeef: id {:#06x}, {}",
        reply.metadata.id,
        summary(&reply)
    )?;
    server.abort();
    Ok(out)
}
// ANCHOR_END: session

/// "NOERROR aa, 1 answer: ... | authority: ..." for a response.
fn summary(m: &Message) -> String {
    let aa = if m.metadata.authoritative { " aa" } else { "" };
    let code = match m.metadata.response_code {
        ResponseCode::NoError => "NOERROR".to_string(),
        ResponseCode::NXDomain => "NXDOMAIN".to_string(),
        ResponseCode::FormErr => "FORMERR".to_string(),
        ResponseCode::Refused => "REFUSED".to_string(),
        ResponseCode::NotImp => "NOTIMP".to_string(),
        ResponseCode::ServFail => "SERVFAIL".to_string(),
        other => other.to_string(),
    };
    let mut s = format!("{code}{aa}");
    for (section, records) in [("answer", &m.answers), ("authority", &m.authorities)] {
        for r in records.iter() {
            write!(
                s,
                "\n      {section}: {} {} {} {}",
                r.name,
                r.ttl,
                r.record_type(),
                r.data
            )
            .expect("writing to a String");
        }
    }
    s
}
