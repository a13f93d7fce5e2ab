//! Reading and writing the length-prefixed fields of handshake messages, with every read
//! checked: a short buffer is a [`SecureLinkError::Truncated`], never a panic.

use super::error::SecureLinkError;

/// A cursor over a received message.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `bytes` from the start.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    /// The next `n` bytes, for the field `what`.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SecureLinkError> {
        if self.bytes.len() < n {
            return Err(SecureLinkError::Truncated {
                what,
                needed: n,
                got: self.bytes.len(),
            });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], SecureLinkError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, SecureLinkError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, SecureLinkError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// A string of at most 255 bytes, preceded by its length in one byte.
    pub fn name(&mut self, what: &'static str) -> Result<String, SecureLinkError> {
        let len = self.take(1, what)?[0] as usize;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| SecureLinkError::Malformed(format!("{what} is not UTF-8")))
    }

    /// Fails unless every byte was read.
    pub fn finish(self, what: &'static str) -> Result<(), SecureLinkError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            let extra = self.bytes.len();
            Err(SecureLinkError::Malformed(format!(
                "{extra} bytes after {what}"
            )))
        }
    }
}

/// Appends `name` with a one-byte length. Names are chosen by our own code (certificate
/// subjects, server names), so a longer one is a programming error.
pub fn put_name(out: &mut Vec<u8>, name: &str) {
    assert!(name.len() <= 255, "names are at most 255 bytes: {name:?}");
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
}
