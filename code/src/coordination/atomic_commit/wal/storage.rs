//! Where a log lives: an append-only byte store with an explicit sync.
//!
//! The contract is the one an operating system gives a file. `append` hands bytes to the store
//! and returns; they may sit in a cache. `sync` returns only once everything appended so far is
//! on stable storage (`fsync`/`fdatasync` on Linux, `File::sync_data` in Rust). After a crash,
//! everything synced is still there; of what was appended since the last sync, any prefix may
//! have survived, and the last surviving frame may be cut in the middle: a *torn* write.
//!
//! [`MemDisk`] is that contract in memory, with a crash you can aim: it stops accepting writes
//! after a chosen number of appends, and [`MemDisk::crash`] returns the disk as a reboot would
//! find it, keeping any chosen prefix of the unsynced bytes. [`FileDisk`] is the same contract
//! on a real file.
//!
//! Simplification: a real disk may also lose or reorder unsynced *pages* (not just cut a suffix),
//! and a file system may persist a file's new length before its data, leaving zeros or garbage
//! at the tail. The prefix model covers the torn tail that a write-ahead log must survive; the
//! checksum in every frame (see `record.rs`) is what also catches garbage and zeros, and the
//! record tests feed the decoder both.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

// ANCHOR: storage
/// An append-only log device with explicit durability.
pub trait Storage {
    /// Appends `bytes`; they are not durable until [`Storage::sync`] returns.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable.
    fn sync(&mut self) -> io::Result<()>;
    /// The whole log as stored now.
    fn read_all(&mut self) -> io::Result<Vec<u8>>;
    /// Cuts the log to `len` bytes, durably (recovery drops a torn tail this way).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}
// ANCHOR_END: storage

/// The error a crashed [`MemDisk`] returns: the machine is off.
fn power_off() -> io::Error {
    io::Error::other("the machine crashed: the disk accepts no more writes")
}

// ANCHOR: mem_disk
/// A disk in memory that can crash after a chosen number of appends.
#[derive(Clone, Debug, Default)]
pub struct MemDisk {
    /// Bytes that survive any crash.
    synced: Vec<u8>,
    /// Bytes appended since the last sync: a crash keeps some prefix of them.
    unsynced: Vec<u8>,
    /// Appends so far.
    writes: usize,
    /// If set, the machine crashes right after this many appends.
    crash_after: Option<usize>,
    /// Invariant: once true, every append and sync fails.
    crashed: bool,
}
// ANCHOR_END: mem_disk

impl MemDisk {
    /// An empty disk that never crashes by itself.
    pub fn new() -> MemDisk {
        MemDisk::default()
    }

    /// An empty disk whose machine crashes right after the `n`-th append.
    pub fn crashing_after(n: usize) -> MemDisk {
        MemDisk {
            crash_after: Some(n),
            ..MemDisk::default()
        }
    }

    /// A disk holding `bytes`, all durable.
    pub fn with_bytes(bytes: Vec<u8>) -> MemDisk {
        MemDisk {
            synced: bytes,
            ..MemDisk::default()
        }
    }

    /// Appends so far.
    pub fn writes(&self) -> usize {
        self.writes
    }

    /// Whether the machine has crashed.
    pub fn has_crashed(&self) -> bool {
        self.crashed
    }

    /// Bytes appended but not yet synced.
    pub fn unsynced_len(&self) -> usize {
        self.unsynced.len()
    }

    // ANCHOR: crash
    /// The disk as a reboot finds it if the first `keep` unsynced bytes reached the platter
    /// (`keep` is capped at what was unsynced).
    pub fn crash(&self, keep: usize) -> MemDisk {
        let mut bytes = self.synced.clone();
        bytes.extend_from_slice(&self.unsynced[..keep.min(self.unsynced.len())]);
        MemDisk::with_bytes(bytes)
    }
    // ANCHOR_END: crash
}

impl Storage for MemDisk {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.crashed {
            return Err(power_off());
        }
        self.unsynced.extend_from_slice(bytes);
        self.writes += 1;
        if self.crash_after == Some(self.writes) {
            self.crashed = true;
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.crashed {
            return Err(power_off());
        }
        self.synced.append(&mut self.unsynced);
        Ok(())
    }

    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        let mut bytes = self.synced.clone();
        bytes.extend_from_slice(&self.unsynced);
        Ok(bytes)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.sync()?;
        self.synced.truncate(len as usize);
        Ok(())
    }
}

/// A log in a real file: `sync` is `File::sync_data` (`fdatasync` on Linux).
#[derive(Debug)]
pub struct FileDisk {
    path: PathBuf,
    file: File,
}

impl FileDisk {
    /// Opens (or creates) the log file at `path`, appending at its end.
    pub fn open(path: &Path) -> io::Result<FileDisk> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(FileDisk {
            path: path.to_path_buf(),
            file,
        })
    }
}

impl Storage for FileDisk {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        std::fs::read(&self.path)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_keeps_what_was_synced_and_a_chosen_prefix_of_the_rest() {
        let mut disk = MemDisk::crashing_after(3);
        disk.append(b"ab").unwrap();
        disk.sync().unwrap();
        disk.append(b"cd").unwrap();
        disk.append(b"ef").unwrap();
        assert!(disk.has_crashed());
        assert!(disk.append(b"gh").is_err());
        assert!(disk.sync().is_err());
        assert_eq!(disk.crash(0).read_all().unwrap(), b"ab");
        assert_eq!(disk.crash(3).read_all().unwrap(), b"abcde");
        assert_eq!(disk.crash(99).read_all().unwrap(), b"abcdef");
    }
}
