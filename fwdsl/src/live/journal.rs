//! The journal of a switch: before the families' transactions run (each family has its
//! own `iptables-restore`, so no single transaction can hold both), an apply writes
//! which generation each family and direction goes from and to, and removes the note
//! once every transaction has committed or been taken back. A note found later, with
//! no operation running, means the apply was killed between the families' commits:
//! status and plan compare it with what serves and say when the families now serve
//! different policies, until the next apply puts one policy everywhere.
//!
//! ```text
//! v4 input FWDSL-G-0123456789ABCDEF FWDSL-G-FEDCBA9876543210
//! v6 out - FWDSL-G-00112233445566FF
//! ```

use super::state::{NsKey, StateDir};
use fwdsl_core::{Direction, Family};

/// One family and direction the switch changes: from which generation to which (`None`:
/// none served before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub family: Family,
    pub direction: Direction,
    pub from: Option<String>,
    pub to: String,
}

fn family_word(family: Family) -> &'static str {
    match family {
        Family::V4 => "v4",
        Family::V6 => "v6",
    }
}

fn path(state: &StateDir, ns: NsKey) -> std::path::PathBuf {
    state.of(ns, "switch")
}

/// A note of a switch under way, removed when dropped (after the families' commits or
/// their rollback; a killed process leaves it).
#[derive(Debug)]
pub(crate) struct Note {
    path: std::path::PathBuf,
}

impl Note {
    /// Notes the switch about to run (an old note is replaced).
    pub(crate) fn begin(
        state: &StateDir,
        ns: NsKey,
        entries: &[Entry],
    ) -> Result<Note, crate::Error> {
        let text: String = entries
            .iter()
            .map(|e| {
                format!(
                    "{} {} {} {}\n",
                    family_word(e.family),
                    e.direction.name(),
                    e.from.as_deref().unwrap_or("-"),
                    e.to
                )
            })
            .collect();
        let path = path(state, ns);
        let _ = std::fs::remove_file(&path);
        state.create(&path, text.as_bytes())?;
        Ok(Note { path })
    }
}

impl Drop for Note {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The entries of a note left behind, if there is one.
pub(crate) fn left(state: &StateDir, ns: NsKey) -> Vec<Entry> {
    let Some(text) = state.read(&path(state, ns)) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split(' ').collect();
            let [family, direction, from, to] = words[..] else {
                return None;
            };
            Some(Entry {
                family: match family {
                    "v4" => Family::V4,
                    "v6" => Family::V6,
                    _ => return None,
                },
                direction: Direction::ALL.into_iter().find(|d| d.name() == direction)?,
                from: (from != "-").then(|| from.to_string()),
                to: to.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_reads_back() {
        let dir = std::env::temp_dir().join(format!("fwdsl-journal-{}", std::process::id()));
        let state = StateDir::open(&dir).unwrap();
        let ns = NsKey {
            inode: 9,
            cookie: 1,
        };
        let entries = vec![
            Entry {
                family: Family::V4,
                direction: Direction::In,
                from: Some("FWDSL-G-1".into()),
                to: "FWDSL-G-2".into(),
            },
            Entry {
                family: Family::V6,
                direction: Direction::Out,
                from: None,
                to: "FWDSL-G-3".into(),
            },
        ];
        let note = Note::begin(&state, ns, &entries).unwrap();
        assert_eq!(left(&state, ns), entries);
        std::mem::forget(note); // as a killed process leaves it
        let note = Note::begin(&state, ns, &entries[..1]).unwrap();
        assert_eq!(left(&state, ns), entries[..1]);
        drop(note);
        assert!(left(&state, ns).is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
