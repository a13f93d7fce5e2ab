//! Log records and their frames: the bytes a write-ahead log appends, and how recovery reads
//! them back.
//!
//! A frame is `length (u32, little-endian) | checksum (u32, CRC-32 of the payload) | payload`.
//! The payload is a tag byte, the transaction id (u64) and, for a write, the key and the value,
//! each prefixed by its length. Decoding is total: any byte string is either a record followed by
//! the rest, or a [`FrameError`] saying why not, never a panic (a property test feeds it random
//! bytes). The distinction recovery needs is between a frame that is *incomplete* (the log ends
//! inside it: a torn write at the tail) and one that is *corrupt* (its bytes are all there but
//! the checksum or the payload is wrong). Both end the scan: nothing after the first bad frame
//! can be trusted, because the writer appends frames in order and syncs prefixes.
//!
//! Two details matter. A payload may not be empty: a tail of zeros (a file whose length was
//! extended before its data reached the disk) would otherwise read as an endless run of valid
//! empty frames, because the CRC-32 of no bytes is 0. And a length above [`MAX_PAYLOAD`] is
//! corrupt rather than incomplete, so a garbled length cannot make recovery wait for (or
//! allocate) gigabytes.

use super::crc::crc32;

/// A transaction's number, unique within one log.
pub type TxnId = u64;

/// The largest payload a frame may carry, in bytes.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// Bytes of the frame header: length and checksum.
pub const HEADER: usize = 8;

// ANCHOR: record
/// One entry of the write-ahead log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// Transaction `txn` started.
    Begin { txn: TxnId },
    /// Transaction `txn` sets `key` to `value` (not yet visible to anyone else).
    Write {
        txn: TxnId,
        key: String,
        value: String,
    },
    /// Transaction `txn` committed: once this record is on disk, its writes must survive.
    Commit { txn: TxnId },
    /// Transaction `txn` gave up: its writes must never become visible.
    Abort { txn: TxnId },
}
// ANCHOR_END: record

impl Record {
    /// The transaction this record belongs to.
    pub fn txn(&self) -> TxnId {
        match self {
            Record::Begin { txn }
            | Record::Write { txn, .. }
            | Record::Commit { txn }
            | Record::Abort { txn } => *txn,
        }
    }
}

/// Why the bytes at some offset are not a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The bytes end inside the frame: a torn (partial) write at the tail of the log.
    Incomplete { have: usize, need: usize },
    /// The length field is zero or larger than [`MAX_PAYLOAD`].
    BadLength(u32),
    /// The payload's CRC-32 differs from the checksum in the header.
    BadChecksum { stored: u32, computed: u32 },
    /// The checksum matches but the payload does not parse (unknown tag, bad lengths, not UTF-8).
    BadPayload(&'static str),
}

const BEGIN: u8 = 1;
const WRITE: u8 = 2;
const COMMIT: u8 = 3;
const ABORT: u8 = 4;

// ANCHOR: encode
/// The frame of `record`: length, CRC-32 of the payload, payload.
pub fn encode(record: &Record) -> Vec<u8> {
    let mut payload = Vec::new();
    let (tag, txn) = match record {
        Record::Begin { txn } => (BEGIN, txn),
        Record::Write { txn, .. } => (WRITE, txn),
        Record::Commit { txn } => (COMMIT, txn),
        Record::Abort { txn } => (ABORT, txn),
    };
    payload.push(tag);
    payload.extend_from_slice(&txn.to_le_bytes());
    if let Record::Write { key, value, .. } = record {
        for field in [key, value] {
            payload.extend_from_slice(&(field.len() as u32).to_le_bytes());
            payload.extend_from_slice(field.as_bytes());
        }
    }
    assert!(payload.len() <= MAX_PAYLOAD, "record too large to log");
    let mut frame = Vec::with_capacity(HEADER + payload.len());
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&crc32(&payload).to_le_bytes());
    frame.extend_from_slice(&payload);
    frame
}
// ANCHOR_END: encode

// ANCHOR: decode
/// The record framed at the start of `bytes`, and the frame's length.
pub fn decode(bytes: &[u8]) -> Result<(Record, usize), FrameError> {
    if bytes.len() < HEADER {
        let need = HEADER;
        return Err(FrameError::Incomplete {
            have: bytes.len(),
            need,
        });
    }
    let length = u32_at(bytes, 0);
    if length == 0 || length as usize > MAX_PAYLOAD {
        return Err(FrameError::BadLength(length));
    }
    let need = HEADER + length as usize;
    if bytes.len() < need {
        return Err(FrameError::Incomplete {
            have: bytes.len(),
            need,
        });
    }
    let stored = u32_at(bytes, 4);
    let payload = &bytes[HEADER..need];
    let computed = crc32(payload);
    if stored != computed {
        return Err(FrameError::BadChecksum { stored, computed });
    }
    Ok((parse_payload(payload)?, need))
}
// ANCHOR_END: decode

/// The record in a payload whose checksum matched.
fn parse_payload(payload: &[u8]) -> Result<Record, FrameError> {
    let mut reader = Reader { rest: payload };
    let tag = reader.take(1)?[0];
    let txn = u64::from_le_bytes(reader.take(8)?.try_into().expect("took 8 bytes"));
    let record = match tag {
        BEGIN => Record::Begin { txn },
        COMMIT => Record::Commit { txn },
        ABORT => Record::Abort { txn },
        WRITE => {
            let key = reader.string()?;
            let value = reader.string()?;
            Record::Write { txn, key, value }
        }
        _ => return Err(FrameError::BadPayload("unknown record tag")),
    };
    if !reader.rest.is_empty() {
        return Err(FrameError::BadPayload("bytes after the record"));
    }
    Ok(record)
}

/// Reads fields off the front of a payload, failing (not panicking) when it runs short.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if self.rest.len() < n {
            return Err(FrameError::BadPayload("payload shorter than its fields"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn string(&mut self) -> Result<String, FrameError> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().expect("took 4 bytes"));
        let bytes = self.take(len as usize)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| FrameError::BadPayload("not UTF-8"))
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

// ANCHOR: scan
/// What recovery found in a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    /// Every record before the first bad frame, in log order.
    pub records: Vec<Record>,
    /// How many bytes those records take: the log is truncated to this length.
    pub valid_len: usize,
    /// Why the scan stopped early, if it did (`None`: the log ended on a frame boundary).
    pub stopped: Option<FrameError>,
}

/// Reads frames from the start of `log` until the end or the first bad frame.
pub fn scan(log: &[u8]) -> Scan {
    let mut records = Vec::new();
    let mut at = 0;
    while at < log.len() {
        match decode(&log[at..]) {
            Ok((record, len)) => {
                records.push(record);
                at += len;
            }
            Err(e) => {
                return Scan {
                    records,
                    valid_len: at,
                    stopped: Some(e),
                };
            }
        }
    }
    Scan {
        records,
        valid_len: at,
        stopped: None,
    }
}
// ANCHOR_END: scan

#[cfg(test)]
mod tests {
    use super::*;

    fn write(txn: TxnId, key: &str, value: &str) -> Record {
        Record::Write {
            txn,
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn every_kind_of_record_round_trips() {
        let records = [
            Record::Begin { txn: 1 },
            write(1, "x", "1"),
            write(u64::MAX, "", ""),
            write(7, "clé", "värde"),
            Record::Commit { txn: 1 },
            Record::Abort { txn: 2 },
        ];
        for record in records {
            let frame = encode(&record);
            assert_eq!(decode(&frame), Ok((record, frame.len())));
        }
    }

    #[test]
    fn decoding_damaged_frames_table() {
        let frame = encode(&write(3, "key", "value"));
        let mut flipped = frame.clone();
        flipped[HEADER + 2] ^= 0x01;
        let mut long = frame.clone();
        long[..4].copy_from_slice(&(MAX_PAYLOAD as u32 + 1).to_le_bytes());
        type Case = (&'static str, Vec<u8>, fn(&FrameError) -> bool);
        let cases: Vec<Case> = vec![
            ("empty", vec![], |e| {
                matches!(e, FrameError::Incomplete { have: 0, .. })
            }),
            ("half a header", frame[..5].to_vec(), |e| {
                matches!(
                    e,
                    FrameError::Incomplete {
                        have: 5,
                        need: HEADER
                    }
                )
            }),
            ("torn payload", frame[..frame.len() - 1].to_vec(), |e| {
                matches!(e, FrameError::Incomplete { .. })
            }),
            ("one flipped bit", flipped, |e| {
                matches!(e, FrameError::BadChecksum { .. })
            }),
            ("zeros", vec![0; 64], |e| {
                matches!(e, FrameError::BadLength(0))
            }),
            ("huge length", long, |e| {
                matches!(e, FrameError::BadLength(_))
            }),
        ];
        for (name, bytes, expected) in cases {
            let got = decode(&bytes).expect_err(name);
            assert!(expected(&got), "{name}: got {got:?}");
        }
    }

    #[test]
    fn a_valid_checksum_over_a_bad_payload_is_still_rejected() {
        let payload = [9u8; 9]; // tag 9 does not exist
        let mut frame = (payload.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(&crc32(&payload).to_le_bytes());
        frame.extend_from_slice(&payload);
        assert_eq!(
            decode(&frame),
            Err(FrameError::BadPayload("unknown record tag"))
        );
    }

    #[test]
    fn scan_stops_at_the_first_bad_frame_and_reports_the_valid_prefix() {
        let mut log = encode(&Record::Begin { txn: 1 });
        let first = log.len();
        log.extend(encode(&write(1, "a", "b")));
        let second = log.len();
        log.extend(encode(&Record::Commit { txn: 1 }));
        let whole = scan(&log);
        assert_eq!(
            (whole.records.len(), whole.valid_len, whole.stopped),
            (3, log.len(), None)
        );
        let torn = scan(&log[..log.len() - 3]);
        assert_eq!((torn.records.len(), torn.valid_len), (2, second));
        assert!(matches!(torn.stopped, Some(FrameError::Incomplete { .. })));
        let mut garbled = log.clone();
        garbled[first + HEADER] ^= 0xFF;
        let garbled = scan(&garbled);
        assert_eq!((garbled.records.len(), garbled.valid_len), (1, first));
        assert!(matches!(
            garbled.stopped,
            Some(FrameError::BadChecksum { .. })
        ));
    }
}
