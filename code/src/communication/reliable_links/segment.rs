//! The segment: what the two ends of a connection put on the wire.
//!
//! Like a TCP segment (RFC 9293 §3.1) it carries a sequence number (the position of its first
//! byte in the sender's byte stream), an acknowledgement number (the next byte its sender
//! expects), a receive window, two control flags and a payload. SYN and FIN each occupy one
//! sequence number, so that they are acknowledged like data. Simplifications: sequence numbers
//! are `u64` offsets that start at zero and never wrap (TCP uses 32-bit numbers that wrap and a
//! random initial sequence number), there is no checksum (the simulated link never corrupts a
//! bit) and no options (no SACK, no timestamps, no window scaling).

// ANCHOR: segment
/// One segment of the reliable transport.
#[derive(Clone, PartialEq, Eq)]
pub struct Segment {
    /// The sequence number of the first thing this segment carries (SYN, data or FIN).
    pub seq: u64,
    /// The next sequence number this segment's sender expects from its peer (cumulative:
    /// everything before it has arrived), or `None` on the very first SYN.
    pub ack: Option<u64>,
    /// How many more bytes, counted from `ack`, the sender of this segment can buffer.
    pub window: u64,
    /// Opens a connection; occupies one sequence number.
    pub syn: bool,
    /// Closes this direction of the connection; occupies one sequence number after the data.
    pub fin: bool,
    /// Reset: "I have no such connection". Sent by a closed end that receives a FIN.
    pub rst: bool,
    /// Application bytes, numbered from `seq` (or from `seq + 1` after a SYN).
    pub payload: Vec<u8>,
}
// ANCHOR_END: segment

/// A one-line summary (`SYN seq=0`, `seq=1001 ack=1 win=64000 len=1000`): the simulator
/// fingerprints every message through its `Debug` text, and a kilobyte of payload printed
/// byte by byte would dominate the cost of a run.
impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (flag, name) in [(self.syn, "SYN "), (self.fin, "FIN "), (self.rst, "RST ")] {
            if flag {
                f.write_str(name)?;
            }
        }
        write!(f, "seq={}", self.seq)?;
        if let Some(ack) = self.ack {
            write!(f, " ack={ack}")?;
        }
        write!(f, " win={} len={}", self.window, self.payload.len())
    }
}

/// Bytes of header we charge each segment on a bandwidth-limited link (IPv4 + TCP, no options).
pub const HEADER_BYTES: usize = 40;

impl Segment {
    /// A segment with no flags and no payload: a pure acknowledgement.
    pub fn ack(seq: u64, ack: u64, window: u64) -> Segment {
        Segment {
            seq,
            ack: Some(ack),
            window,
            syn: false,
            fin: false,
            rst: false,
            payload: Vec::new(),
        }
    }

    /// How many sequence numbers the segment occupies: its payload, plus one for SYN and FIN.
    pub fn seq_len(&self) -> u64 {
        self.payload.len() as u64 + u64::from(self.syn) + u64::from(self.fin)
    }

    /// The size of the segment on the wire, in bytes.
    pub fn wire_size(&self) -> usize {
        HEADER_BYTES + self.payload.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_and_fin_occupy_one_sequence_number_each() {
        let mut s = Segment::ack(7, 1, 100);
        assert_eq!(s.seq_len(), 0);
        s.syn = true;
        assert_eq!(s.seq_len(), 1);
        s.payload = vec![1, 2, 3];
        s.fin = true;
        assert_eq!(s.seq_len(), 5);
        assert_eq!(s.wire_size(), HEADER_BYTES + 3);
        assert_eq!(format!("{s:?}"), "SYN FIN seq=7 ack=1 win=100 len=3");
    }
}
