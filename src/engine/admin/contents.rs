//! What a restore target already holds, as a value whose `Display` is the
//! sentence a refused restore prints ("database shop holds 3 tables and 1
//! view"). Pure: the per-engine inspections fill it in.

use crate::units::human_bytes;
use std::fmt;

/// A kind of object a database can hold, with its names for the sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Schema,
    Table,
    ForeignTable,
    View,
    MaterializedView,
    Sequence,
    Function,
    Procedure,
    Type,
    Trigger,
    Event,
    LargeObject,
}

impl Kind {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Kind::Schema => ("schema", "schemas"),
            Kind::Table => ("table", "tables"),
            Kind::ForeignTable => ("foreign table", "foreign tables"),
            Kind::View => ("view", "views"),
            Kind::MaterializedView => ("materialized view", "materialized views"),
            Kind::Sequence => ("sequence", "sequences"),
            Kind::Function => ("function", "functions"),
            Kind::Procedure => ("procedure", "procedures"),
            Kind::Type => ("type", "types"),
            Kind::Trigger => ("trigger", "triggers"),
            Kind::Event => ("event", "events"),
            Kind::LargeObject => ("large object", "large objects"),
        }
    }
}

/// One thing found: a number of objects of a kind, or a data file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    Objects {
        kind: Kind,
        count: u64,
    },
    /// A file (relative to the place) and its size.
    File {
        name: String,
        bytes: u64,
    },
}

/// What `place` ("database shop", "data directory /data") holds; `note`
/// says what the files amount to ("an existing keyspace").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contents {
    pub place: String,
    pub found: Vec<Found>,
    pub note: Option<&'static str>,
}

impl Contents {
    /// Objects by kind, in a fixed order, leaving out kinds counted zero.
    pub fn of_objects(place: String, counts: impl IntoIterator<Item = (Kind, u64)>) -> Contents {
        let mut totals = std::collections::BTreeMap::<Kind, u64>::new();
        for (kind, count) in counts {
            *totals.entry(kind).or_default() += count;
        }
        let found = totals.into_iter().filter(|(_, n)| *n > 0).map(|(kind, count)| Found::Objects { kind, count });
        Contents { place, found: found.collect(), note: None }
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }
}

/// "a", "a and b", "a, b and c".
fn enumerate(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl fmt::Display for Contents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.found.is_empty() {
            return write!(f, "{} is empty", self.place);
        }
        let items: Vec<String> = self
            .found
            .iter()
            .map(|found| match found {
                Found::Objects { kind, count } => {
                    let (one, many) = kind.names();
                    format!("{count} {}", if *count == 1 { one } else { many })
                }
                Found::File { name, bytes } => format!("{name} of {}", human_bytes(*bytes)),
            })
            .collect();
        write!(f, "{} holds {}", self.place, enumerate(&items))?;
        match self.note {
            Some(note) => write!(f, " ({note})"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_kind_singular_and_plural() {
        let one = Contents::of_objects("database shop".into(), [(Kind::Table, 1)]);
        assert_eq!(one.to_string(), "database shop holds 1 table");
        let many = Contents::of_objects("database shop".into(), [(Kind::Table, 3)]);
        assert_eq!(many.to_string(), "database shop holds 3 tables");
    }

    #[test]
    fn several_kinds_in_a_fixed_order_without_zeros() {
        let contents = Contents::of_objects(
            "database shop".into(),
            [(Kind::View, 1), (Kind::Table, 2), (Kind::Trigger, 0), (Kind::Table, 1), (Kind::Function, 2)],
        );
        assert_eq!(contents.to_string(), "database shop holds 3 tables, 1 view and 2 functions");
        let two = Contents::of_objects("database shop".into(), [(Kind::Event, 1), (Kind::Procedure, 1)]);
        assert_eq!(two.to_string(), "database shop holds 1 procedure and 1 event");
    }

    #[test]
    fn nothing_found_is_empty() {
        let contents = Contents::of_objects("database orders".into(), [(Kind::Table, 0)]);
        assert!(contents.is_empty());
        assert_eq!(contents.to_string(), "database orders is empty");
    }

    #[test]
    fn files_with_sizes_and_a_note() {
        let contents = Contents {
            place: "data directory /data".into(),
            found: vec![Found::File { name: "dump.rdb".into(), bytes: 1_258_291 }],
            note: Some("an existing keyspace"),
        };
        assert_eq!(contents.to_string(), "data directory /data holds dump.rdb of 1.2 MiB (an existing keyspace)");
        let two = Contents {
            found: vec![
                Found::File { name: "a.rdb".into(), bytes: 89 },
                Found::File { name: "b.aof".into(), bytes: 2048 },
            ],
            ..contents
        };
        assert_eq!(
            two.to_string(),
            "data directory /data holds a.rdb of 89 B and b.aof of 2.0 KiB (an existing keyspace)"
        );
    }
}
