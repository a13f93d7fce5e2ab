//! Opaque pagination cursors.
//!
//! A cursor names a position in the collection: "after note 41". Keyset pagination (the next
//! page is the notes whose id is greater than the cursor's) stays correct while notes are
//! inserted and deleted, because a position is a key, not a count: an insertion or a deletion
//! before the cursor does not move it. Offset pagination (`?offset=40`) counts, so a deletion
//! on an earlier page shifts every later note one place forward and the next page skips one.
//!
//! The cursor is *opaque*: clients must pass back what they received, never build or edit one.
//! That keeps the encoding ours to change (a sort key, a filter or a snapshot could be added
//! later). We make the promise checkable: the id is followed by a check value, so a truncated,
//! mistyped or hand-made cursor is refused with a clear error instead of silently meaning some
//! other position. A check value is not a signature: a determined client can still forge one,
//! which is harmless here because every position is one it could reach by paging.

use super::idempotency::fingerprint;

/// The characters of a cursor: 16 hex digits of the id, 8 of the check value.
const CURSOR_LEN: usize = 24;

/// Why a cursor was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CursorError {
    /// Not 24 lowercase hex digits.
    Malformed,
    /// Well-formed, but its check value does not match its id.
    Tampered,
}

// ANCHOR: cursor
/// The 32-bit check value of a cursor position.
fn check(after_id: u64) -> u32 {
    let salted = [b"uds-cursor-v1:".as_slice(), &after_id.to_be_bytes()].concat();
    (fingerprint(&salted) >> 32) as u32
}

/// The cursor for the page after note `after_id`.
pub fn encode_cursor(after_id: u64) -> String {
    format!("{after_id:016x}{:08x}", check(after_id))
}

/// The position named by a cursor that [`encode_cursor`] made.
pub fn decode_cursor(cursor: &str) -> Result<u64, CursorError> {
    let is_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if cursor.len() != CURSOR_LEN || !cursor.chars().all(is_hex) {
        return Err(CursorError::Malformed);
    }
    let after_id = u64::from_str_radix(&cursor[..16], 16).map_err(|_| CursorError::Malformed)?;
    let sent = u32::from_str_radix(&cursor[16..], 16).map_err(|_| CursorError::Malformed)?;
    if sent != check(after_id) {
        return Err(CursorError::Tampered);
    }
    Ok(after_id)
}
// ANCHOR_END: cursor

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for id in [0, 1, 41, u64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(id)), Ok(id));
        }
    }

    #[test]
    fn edited_or_malformed_cursors_are_refused() {
        let good = encode_cursor(41);
        let mut edited = good.clone();
        edited.replace_range(15..16, "a"); // id 42 with 41's check value
        assert_eq!(decode_cursor(&edited), Err(CursorError::Tampered));
        for bad in [
            "",
            "41",
            &good[..23],
            &format!("{good}0"),
            &good.replace(|c: char| c.is_ascii_digit(), "A"),
        ] {
            assert_eq!(decode_cursor(bad), Err(CursorError::Malformed), "{bad:?}");
        }
        assert_eq!(
            decode_cursor("zzzzzzzzzzzzzzzzzzzzzzzz"),
            Err(CursorError::Malformed)
        );
    }
}
