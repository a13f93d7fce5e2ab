//! A write-ahead file: an append-only file of checksummed records, made durable before
//! `append` returns, and recovered after a crash that tore the last write.
//!
//! **What it guarantees.** [`Wal::append`] returns only after the records' bytes have reached
//! the disk (`fsync(2)`'s data half, [`std::fs::File::sync_data`]). So once a caller has seen
//! `Ok`, a crash at any later instant leaves those records in the file, and [`Wal::open`]
//! returns them, in order, exactly as written. A crash *during* an append may leave any prefix
//! of its bytes on disk (or, on some file systems, the right length filled with zeros): `open`
//! recognises such a torn tail, cuts it off, and says so in its [`Recovery`]. That is safe
//! because the interrupted append never returned, so nobody acted on it.
//!
//! **How.** Each record is one frame: a 4-byte little-endian length `n`, a 4-byte CRC-32 (the
//! IEEE polynomial, [`crc32fast`]) of the length and the body together, then `n` bytes of the
//! record serialised as JSON. The checksum covers the length too, so a flipped bit in a length
//! is caught rather than trusted. Recovery reads frames from the start; at the first frame that
//! is short, runs past the end of the file, or fails its checksum, it looks for any intact
//! frame *after* that point. None: the bad bytes are the tail of the last, interrupted append,
//! and the file is truncated there. One or more: a record in the middle is damaged (a bad disk,
//! or someone edited the file), which no crash can produce, so `open` fails with
//! [`WalError::Corrupt`] rather than silently skip records the caller acknowledged.
//!
//! **Compaction.** [`Wal::rewrite`] replaces the whole file atomically, as a snapshot needs
//! (the prefix it covers is dropped): write a temporary file next to it, `fsync` it, `rename`
//! it over the old one, `fsync` the directory so the rename itself is durable. A crash leaves
//! either the old file or the new one, never a mixture.
//!
//! Invariants: the file is always a sequence of whole frames after `open` and after every
//! successful `append`; `self.len` is its length. A failed append is rolled back by truncating
//! to the old length, so a later append never writes after garbage.
//!
//! Simplifications: one writer per file (nothing locks it against a second process); JSON
//! bodies (readable with a hex dump, not compact); no group commit across callers; a record is
//! at most [`MAX_RECORD_BYTES`]. The module knows nothing about Raft: what a record means is the
//! caller's business. The frame layout follows the usual shape of database logs (a length, a
//! checksum, the bytes), as in LevelDB's log format or etcd's WAL, simplified to one frame per
//! record.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest record body accepted, in bytes; a length above it is damage, not a record.
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// Bytes of a frame before its body: length and checksum.
pub const HEADER_BYTES: usize = 8;

/// An append-only, checksummed, fsynced file of records of type `R`.
#[derive(Debug)]
pub struct Wal<R> {
    path: PathBuf,
    file: File,
    /// The file's length: the end of its last whole frame.
    len: u64,
    records: u64,
    _records: PhantomData<fn(R) -> R>,
}

/// What [`Wal::open`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// Intact records read back.
    pub records: usize,
    /// Bytes of intact frames: the file's length after recovery.
    pub valid_bytes: u64,
    /// The torn tail cut off, if the last append had been interrupted.
    pub truncated: Option<Torn>,
    /// Whether the file did not exist and was created empty.
    pub created: bool,
}

/// A torn tail: where it started, how many bytes were dropped, and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Torn {
    /// The offset of the first byte dropped (the end of the last intact frame).
    pub offset: u64,
    /// How many bytes were dropped.
    pub bytes: u64,
    /// What was wrong with the frame at `offset`.
    pub reason: FrameProblem,
}

/// Why the bytes at some offset are not an intact frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameProblem {
    /// Fewer than [`HEADER_BYTES`] bytes left.
    ShortHeader,
    /// A length of zero or above [`MAX_RECORD_BYTES`].
    BadLength(u32),
    /// The body runs past the end of the file.
    ShortBody { len: u32, available: u64 },
    /// The checksum does not match the length and body.
    Checksum,
}

impl fmt::Display for FrameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameProblem::ShortHeader => write!(f, "header cut short"),
            FrameProblem::BadLength(len) => {
                write!(f, "length {len} outside 1..={MAX_RECORD_BYTES}")
            }
            FrameProblem::ShortBody { len, available } => {
                write!(f, "body of {len} bytes but only {available} left")
            }
            FrameProblem::Checksum => write!(f, "checksum mismatch"),
        }
    }
}

/// Why the write-ahead file could not be opened or written.
#[derive(Debug)]
pub enum WalError {
    /// The operating system refused (permissions, disk full, ...).
    Io(io::Error),
    /// A damaged frame with intact frames after it: not a torn tail. Nothing was truncated.
    Corrupt {
        path: PathBuf,
        offset: u64,
        problem: FrameProblem,
        /// The offset of the first intact frame found after the damage.
        next_good: u64,
    },
    /// A frame whose checksum is right but whose body is not a record of this type.
    Decode {
        path: PathBuf,
        offset: u64,
        message: String,
    },
    /// A record that cannot be written: it does not serialise, or is too large.
    Encode(String),
}

impl fmt::Display for WalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalError::Io(e) => write!(f, "write-ahead file: {e}"),
            WalError::Corrupt {
                path,
                offset,
                problem,
                next_good,
            } => write!(
                f,
                "{}: damaged record at byte {offset} ({problem}) followed by an intact one at \
                 byte {next_good}; refusing to skip acknowledged records",
                path.display()
            ),
            WalError::Decode {
                path,
                offset,
                message,
            } => write!(
                f,
                "{}: the record at byte {offset} is intact but does not decode: {message}",
                path.display()
            ),
            WalError::Encode(e) => write!(f, "cannot write record: {e}"),
        }
    }
}

impl std::error::Error for WalError {}

impl From<io::Error> for WalError {
    fn from(e: io::Error) -> WalError {
        WalError::Io(e)
    }
}

// ANCHOR: frame
/// Appends one frame holding `body` to `out`: length, CRC-32 of length and body, body.
fn encode_frame(body: &[u8], out: &mut Vec<u8>) -> Result<(), WalError> {
    if body.is_empty() || body.len() > MAX_RECORD_BYTES {
        let len = body.len();
        return Err(WalError::Encode(format!(
            "a record of {len} bytes is outside 1..={MAX_RECORD_BYTES}"
        )));
    }
    let len = (body.len() as u32).to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len);
    crc.update(body);
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(body);
    Ok(())
}

/// The intact frame at the start of `bytes`: its body, or what is wrong with it.
fn decode_frame(bytes: &[u8]) -> Result<&[u8], FrameProblem> {
    let Some((header, rest)) = bytes.split_first_chunk::<HEADER_BYTES>() else {
        return Err(FrameProblem::ShortHeader);
    };
    let [l0, l1, l2, l3, c0, c1, c2, c3] = *header;
    let len = u32::from_le_bytes([l0, l1, l2, l3]);
    if len == 0 || len as usize > MAX_RECORD_BYTES {
        return Err(FrameProblem::BadLength(len));
    }
    let Some(body) = rest.get(..len as usize) else {
        let available = rest.len() as u64;
        return Err(FrameProblem::ShortBody { len, available });
    };
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[l0, l1, l2, l3]);
    crc.update(body);
    if crc.finalize() != u32::from_le_bytes([c0, c1, c2, c3]) {
        return Err(FrameProblem::Checksum);
    }
    Ok(body)
}
// ANCHOR_END: frame

impl<R: Serialize + DeserializeOwned> Wal<R> {
    // ANCHOR: open
    /// Opens (or creates) the file at `path` and reads back every record. A torn tail (the
    /// last append interrupted by a crash) is truncated and reported; damage before intact
    /// records is [`WalError::Corrupt`], and the file is left untouched.
    pub fn open(path: impl AsRef<Path>) -> Result<(Wal<R>, Vec<R>, Recovery), WalError> {
        let path = path.as_ref().to_path_buf();
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        if created {
            sync_dir(&path)?; // the new file's name is durable too
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let mut records = Vec::new();
        let mut offset = 0;
        let mut truncated = None;
        while offset < bytes.len() {
            match decode_frame(&bytes[offset..]) {
                Ok(body) => {
                    let record = serde_json::from_slice(body).map_err(|e| WalError::Decode {
                        path: path.clone(),
                        offset: offset as u64,
                        message: e.to_string(),
                    })?;
                    records.push(record);
                    offset += HEADER_BYTES + body.len();
                }
                Err(problem) => {
                    if let Some(next_good) = next_intact_frame(&bytes, offset + 1) {
                        return Err(WalError::Corrupt {
                            path,
                            offset: offset as u64,
                            problem,
                            next_good: next_good as u64,
                        });
                    }
                    let dropped = (bytes.len() - offset) as u64;
                    truncated = Some(Torn {
                        offset: offset as u64,
                        bytes: dropped,
                        reason: problem,
                    });
                    file.set_len(offset as u64)?;
                    file.sync_all()?;
                    break;
                }
            }
        }
        let len = offset as u64;
        file.seek(SeekFrom::Start(len))?;
        let recovery = Recovery {
            records: records.len(),
            valid_bytes: len,
            truncated,
            created,
        };
        let wal = Wal {
            path,
            file,
            len,
            records: records.len() as u64,
            _records: PhantomData,
        };
        Ok((wal, records, recovery))
    }
    // ANCHOR_END: open

    // ANCHOR: append
    /// Appends `records` in one write and returns once they are on disk (`sync_data`). On an
    /// error nothing is acknowledged and the file is cut back to its previous length.
    pub fn append(&mut self, records: &[R]) -> Result<(), WalError> {
        if records.is_empty() {
            return Ok(());
        }
        let buf = encode_all(records)?;
        let written = self
            .file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Roll back whatever part reached the file, so the next append starts clean.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(e.into());
        }
        self.len += buf.len() as u64;
        self.records += records.len() as u64;
        Ok(())
    }
    // ANCHOR_END: append

    /// Atomically replaces the file's contents by `records` (for compaction after a snapshot):
    /// temporary file, `fsync`, `rename`, `fsync` of the directory. A crash at any point leaves
    /// the old file or the new one.
    pub fn rewrite(&mut self, records: &[R]) -> Result<(), WalError> {
        let buf = encode_all(records)?;
        let mut tmp_name = self.path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".rewrite");
        let tmp = self.path.with_file_name(tmp_name);
        {
            let mut out = File::create(&tmp)?;
            out.write_all(&buf)?;
            out.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        sync_dir(&self.path)?;
        let mut file = OpenOptions::new().read(true).write(true).open(&self.path)?;
        file.seek(SeekFrom::End(0))?;
        self.file = file;
        self.len = buf.len() as u64;
        self.records = records.len() as u64;
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's length in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.len
    }

    /// How many records the file holds.
    pub fn records(&self) -> u64 {
        self.records
    }
}

/// Frames for every record, in order, as one buffer.
fn encode_all<R: Serialize>(records: &[R]) -> Result<Vec<u8>, WalError> {
    let mut buf = Vec::new();
    for record in records {
        let body = serde_json::to_vec(record).map_err(|e| WalError::Encode(e.to_string()))?;
        encode_frame(&body, &mut buf)?;
    }
    Ok(buf)
}

/// The first offset at or after `from` where an intact frame starts, if any.
fn next_intact_frame(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len()).find(|&at| decode_frame(&bytes[at..]).is_ok())
}

/// Makes a change to the directory holding `path` (a creation, a rename) durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Entry = (u64, String);

    fn entries(n: u64) -> Vec<Entry> {
        (1..=n).map(|i| (i, format!("value {i}"))).collect()
    }

    fn written(dir: &Path, records: &[Entry]) -> (PathBuf, Vec<u64>) {
        let path = dir.join("wal");
        let (mut wal, got, recovery) = Wal::<Entry>::open(&path).unwrap();
        assert!(got.is_empty() && recovery.created);
        let mut ends = Vec::new();
        for r in records {
            wal.append(std::slice::from_ref(r)).unwrap();
            ends.push(wal.len_bytes());
        }
        (path, ends)
    }

    #[test]
    fn round_trip_and_reopen_appends() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = written(dir.path(), &entries(3));
        let (mut wal, got, recovery) = Wal::<Entry>::open(&path).unwrap();
        assert_eq!(got, entries(3));
        assert_eq!(recovery.truncated, None);
        assert!(!recovery.created);
        wal.append(&entries(5)[3..]).unwrap();
        drop(wal);
        let (_, got, _) = Wal::<Entry>::open(&path).unwrap();
        assert_eq!(got, entries(5));
    }

    #[test]
    fn empty_file_opens_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        File::create(&path).unwrap();
        let (wal, got, recovery) = Wal::<Entry>::open(&path).unwrap();
        assert!(got.is_empty());
        assert_eq!(wal.len_bytes(), 0);
        assert_eq!(recovery.truncated, None);
        assert!(!recovery.created);
    }

    #[test]
    fn torn_last_record_at_every_offset_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let (path, ends) = written(dir.path(), &entries(3));
        let full = fs::read(&path).unwrap();
        let start = ends[1] as usize;
        for cut in start + 1..full.len() {
            fs::write(&path, &full[..cut]).unwrap();
            let (mut wal, got, recovery) = Wal::<Entry>::open(&path).unwrap();
            assert_eq!(got, entries(2), "cut at {cut}");
            let torn = recovery.truncated.expect("a torn tail");
            assert_eq!(
                (torn.offset, torn.bytes),
                (start as u64, (cut - start) as u64)
            );
            assert_eq!(fs::metadata(&path).unwrap().len(), start as u64);
            // The file is whole again: appending and reopening give every record.
            wal.append(&entries(3)[2..]).unwrap();
            drop(wal);
            assert_eq!(Wal::<Entry>::open(&path).unwrap().1, entries(3));
        }
    }

    #[test]
    fn zero_filled_or_flipped_tail_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let (path, ends) = written(dir.path(), &entries(3));
        let full = fs::read(&path).unwrap();
        let start = ends[1] as usize;
        let mut zeroed = full.clone();
        zeroed[start..].fill(0);
        fs::write(&path, &zeroed).unwrap();
        let (_, got, recovery) = Wal::<Entry>::open(&path).unwrap();
        assert_eq!(got, entries(2));
        assert_eq!(
            recovery.truncated.unwrap().reason,
            FrameProblem::BadLength(0)
        );
        let mut flipped = full;
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        fs::write(&path, &flipped).unwrap();
        let (_, got, recovery) = Wal::<Entry>::open(&path).unwrap();
        assert_eq!(got, entries(2));
        assert_eq!(recovery.truncated.unwrap().reason, FrameProblem::Checksum);
    }

    #[test]
    fn bit_flip_in_a_middle_record_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (path, ends) = written(dir.path(), &entries(3));
        let full = fs::read(&path).unwrap();
        // Every bit of the middle record: its length, checksum and body.
        for byte in ends[0] as usize..ends[1] as usize {
            for bit in 0..8 {
                let mut bad = full.clone();
                bad[byte] ^= 1 << bit;
                fs::write(&path, &bad).unwrap();
                match Wal::<Entry>::open(&path) {
                    Err(WalError::Corrupt { offset, .. }) => assert_eq!(offset, ends[0]),
                    other => panic!("flip of bit {bit} of byte {byte}: {other:?}"),
                }
                assert_eq!(fs::read(&path).unwrap(), bad, "nothing truncated");
            }
        }
    }

    #[test]
    fn intact_record_of_another_type_is_a_decode_error() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = written(dir.path(), &entries(1));
        let err = Wal::<Vec<bool>>::open(&path).unwrap_err();
        assert!(matches!(err, WalError::Decode { offset: 0, .. }), "{err}");
    }

    #[test]
    fn rewrite_replaces_the_contents() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = written(dir.path(), &entries(4));
        let (mut wal, _, _) = Wal::<Entry>::open(&path).unwrap();
        wal.rewrite(&entries(4)[2..]).unwrap();
        wal.append(&[(9, "after".into())]).unwrap();
        assert_eq!(wal.records(), 3);
        drop(wal);
        let (_, got, recovery) = Wal::<Entry>::open(&path).unwrap();
        assert_eq!(
            got,
            vec![
                entries(4)[2].clone(),
                entries(4)[3].clone(),
                (9, "after".into())
            ]
        );
        assert_eq!(recovery.truncated, None);
        assert!(!dir.path().join("wal.rewrite").exists());
    }

    #[test]
    fn empty_and_oversized_records_are_refused() {
        assert!(matches!(
            encode_frame(&[], &mut Vec::new()),
            Err(WalError::Encode(_))
        ));
        let big = vec![b'x'; MAX_RECORD_BYTES + 1];
        assert!(matches!(
            encode_frame(&big, &mut Vec::new()),
            Err(WalError::Encode(_))
        ));
    }
}
