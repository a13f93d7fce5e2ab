//! The notes collection: the resource behind the HTTP API, with no HTTP in it.
//!
//! Three rules make the API safe to use over an unreliable network, and they live here, in a
//! plain struct that tests and the simulator drive directly:
//!
//! - **Ids increase.** A new note gets an id larger than every earlier one, so keyset
//!   pagination ([`Notes::page`]) never skips or repeats a note that exists during a scan.
//! - **Every change bumps the version**, and the entity tag (ETag) is the version. Two
//!   representations of a note with the same ETag are byte-for-byte the same, which is what a
//!   *strong* validator promises (RFC 9110 §8.8.1).
//! - **Writes are conditional.** [`Notes::replace`] and [`Notes::delete`] take the client's
//!   `If-Match` precondition and refuse to act on a version the client has not seen, so two
//!   clients editing one note cannot silently overwrite each other (the *lost update*).

use std::collections::BTreeMap;

use super::types::{Note, NoteInput};

// ANCHOR: precondition
/// An `If-Match` header, parsed (RFC 9110 §13.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfMatch {
    /// `If-Match: *`: the resource must exist, in any version.
    Any,
    /// `If-Match: "3", W/"4"`: the current entity tag must be one of these, compared strongly
    /// (a weak tag never matches). Each is stored with its quotes and any `W/` prefix.
    Tags(Vec<String>),
}

impl IfMatch {
    /// Parses a header value; `None` if it is not `*` or a list of entity tags.
    pub fn parse(value: &str) -> Option<IfMatch> {
        if value.trim() == "*" {
            return Some(IfMatch::Any);
        }
        let mut tags = Vec::new();
        for part in value.split(',') {
            let tag = part.trim();
            if tag.is_empty() {
                continue; // empty list elements are ignored (RFC 9110 §5.6.1)
            }
            let opaque = tag.strip_prefix("W/").unwrap_or(tag);
            let inner = opaque.strip_prefix('"')?.strip_suffix('"')?;
            // etagc = %x21 / %x23-7E / obs-text; we accept the visible ASCII subset.
            if !inner
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
            {
                return None;
            }
            tags.push(tag.to_string());
        }
        if tags.is_empty() {
            return None;
        }
        Some(IfMatch::Tags(tags))
    }

    /// Whether a resource whose current tag is `etag` passes this precondition.
    pub fn matches(&self, etag: &str) -> bool {
        match self {
            IfMatch::Any => true,
            // Strong comparison: both tags strong and identical (RFC 9110 §8.8.3.2).
            IfMatch::Tags(tags) => tags.iter().any(|t| !t.starts_with("W/") && t == etag),
        }
    }
}

/// The strong entity tag of a note's current version.
pub fn etag(note: &Note) -> String {
    format!("\"{}\"", note.version)
}
// ANCHOR_END: precondition

/// Why a write was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// No note has this id (never had, or deleted).
    NotFound,
    /// The precondition failed: the note changed since the client read it.
    PreconditionFailed {
        /// The entity tag the note has now.
        current: String,
    },
}

/// A page of notes and where the next one starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// Notes in increasing id order.
    pub items: Vec<Note>,
    /// The id of the last note of this page if more notes follow it, else `None`.
    pub next_after: Option<u64>,
}

/// The collection.
#[derive(Clone, Debug)]
pub struct Notes {
    /// Every live note by id.
    items: BTreeMap<u64, Note>,
    /// The id the next note gets. Invariant: larger than every id ever assigned.
    next_id: u64,
}

impl Default for Notes {
    fn default() -> Notes {
        Notes::new()
    }
}

impl Notes {
    /// An empty collection; the first note gets id 1.
    pub fn new() -> Notes {
        Notes {
            items: BTreeMap::new(),
            next_id: 1,
        }
    }

    /// Creates a note from validated input.
    pub fn create(&mut self, input: NoteInput) -> Note {
        let id = self.next_id;
        self.next_id += 1;
        let note = Note {
            id,
            title: input.title,
            body: input.body,
            version: 1,
        };
        self.items.insert(id, note.clone());
        note
    }

    /// The note with this id, if it exists.
    pub fn get(&self, id: u64) -> Option<&Note> {
        self.items.get(&id)
    }

    /// The number of live notes.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is no note.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    // ANCHOR: replace
    /// Replaces a note's title and body if `if_match` accepts its current version.
    pub fn replace(
        &mut self,
        id: u64,
        if_match: &IfMatch,
        input: NoteInput,
    ) -> Result<Note, WriteError> {
        let note = self.items.get_mut(&id).ok_or(WriteError::NotFound)?;
        let current = etag(note);
        if !if_match.matches(&current) {
            return Err(WriteError::PreconditionFailed { current });
        }
        note.title = input.title;
        note.body = input.body;
        note.version += 1;
        Ok(note.clone())
    }
    // ANCHOR_END: replace

    /// Deletes a note if `if_match` (when given) accepts its current version.
    pub fn delete(&mut self, id: u64, if_match: Option<&IfMatch>) -> Result<(), WriteError> {
        let note = self.items.get(&id).ok_or(WriteError::NotFound)?;
        let current = etag(note);
        if if_match.is_some_and(|p| !p.matches(&current)) {
            return Err(WriteError::PreconditionFailed { current });
        }
        self.items.remove(&id);
        Ok(())
    }

    // ANCHOR: page
    /// Up to `limit` notes with ids greater than `after` (from the start if `None`).
    pub fn page(&self, after: Option<u64>, limit: usize) -> Page {
        let start = after.map_or(0, |a| a.saturating_add(1));
        let mut rest = self.items.range(start..).map(|(_, note)| note);
        let items: Vec<Note> = rest.by_ref().take(limit).cloned().collect();
        let more = rest.next().is_some();
        let next_after = if more {
            items.last().map(|n| n.id)
        } else {
            None
        };
        Page { items, next_after }
    }
    // ANCHOR_END: page

    /// Up to `limit` notes starting at position `offset` in id order: offset pagination, kept
    /// only to show in tests how it skips notes when an earlier one is deleted.
    pub fn page_by_offset(&self, offset: usize, limit: usize) -> Vec<Note> {
        self.items
            .values()
            .skip(offset)
            .take(limit)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(title: &str) -> NoteInput {
        NoteInput {
            title: title.to_string(),
            body: String::new(),
        }
    }

    #[test]
    fn if_match_parses_tags_and_refuses_garbage() {
        assert_eq!(IfMatch::parse("*"), Some(IfMatch::Any));
        let tags = IfMatch::parse("\"1\", W/\"2\"").unwrap();
        assert!(tags.matches("\"1\""));
        assert!(!tags.matches("\"2\""), "a weak tag never matches strongly");
        assert!(IfMatch::parse("\"1\",,\"2\"").unwrap().matches("\"2\""));
        for bad in ["1", "\"1", "\"a\"b\"", "", " , "] {
            assert_eq!(IfMatch::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_stale_if_match_is_refused_and_the_note_is_unchanged() {
        let mut notes = Notes::new();
        let n = notes.create(input("a"));
        let seen = IfMatch::parse(&etag(&n)).unwrap();
        let updated = notes.replace(n.id, &seen, input("b")).unwrap();
        assert_eq!(updated.version, 2);
        let err = notes.replace(n.id, &seen, input("c")).unwrap_err();
        assert_eq!(
            err,
            WriteError::PreconditionFailed {
                current: "\"2\"".into()
            }
        );
        assert_eq!(notes.get(n.id).unwrap().title, "b");
    }

    #[test]
    fn keyset_pages_survive_a_delete_that_offset_pages_do_not() {
        let mut notes = Notes::new();
        for t in ["a", "b", "c", "d", "e"] {
            notes.create(input(t));
        }
        let first = notes.page(None, 2);
        let first_by_offset = notes.page_by_offset(0, 2);
        notes.delete(1, None).unwrap(); // note "a", already read
        let second = notes.page(first.next_after, 2);
        let second_by_offset = notes.page_by_offset(2, 2);
        let titles = |v: &[Note]| v.iter().map(|n| n.title.clone()).collect::<Vec<_>>();
        assert_eq!(titles(&first.items), ["a", "b"]);
        assert_eq!(titles(&first_by_offset), ["a", "b"]);
        assert_eq!(titles(&second.items), ["c", "d"]);
        assert_eq!(titles(&second_by_offset), ["d", "e"], "offset skipped c");
    }

    #[test]
    fn the_last_page_has_no_next_position() {
        let mut notes = Notes::new();
        notes.create(input("a"));
        notes.create(input("b"));
        assert_eq!(notes.page(None, 2).next_after, None);
        assert_eq!(notes.page(None, 1).next_after, Some(1));
        assert_eq!(notes.page(Some(u64::MAX), 5).items, vec![]);
    }
}
