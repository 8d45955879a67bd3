//! Small maps keyed by a value from Ingrid (a status, a currency), kept in key order like a
//! `BTreeMap` and serialised as the same JSON object. A sorted `Vec` costs the component far
//! less code than a `BTreeMap` instantiated for each value type.

use crate::prelude::*;

use serde::{Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally<V> {
    /// Sorted by key, each key once.
    entries: Vec<(String, V)>,
}

impl<V> Default for Tally<V> {
    fn default() -> Self {
        Tally {
            entries: Vec::new(),
        }
    }
}

impl<V> Tally<V> {
    /// The value for `key`, inserted as `V::default()` when missing.
    pub fn entry(&mut self, key: &str) -> &mut V
    where
        V: Default,
    {
        let index = match self
            .entries
            .binary_search_by(|(existing, _)| existing.as_str().cmp(key))
        {
            Ok(index) => index,
            Err(index) => {
                self.entries.insert(index, (key.to_string(), V::default()));
                index
            }
        };
        &mut self.entries[index].1
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// In key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value))
    }

    /// The same keys with each value mapped.
    pub fn map<W>(self, mut f: impl FnMut(V) -> W) -> Tally<W> {
        Tally {
            entries: self
                .entries
                .into_iter()
                .map(|(key, value)| (key, f(value)))
                .collect(),
        }
    }
}

impl<V: Serialize> Serialize for Tally<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;

    #[test]
    fn keys_stay_sorted_and_serialise_as_a_btree_map_does() {
        let keys = [
            "SEK", "EUR", "sek", "", "ÅÄÖ", "EUR", "A", "SEK", "Z9", "SEK",
        ];
        let mut tally = Tally::default();
        let mut map = BTreeMap::new();
        for key in keys {
            *tally.entry(key) += 1;
            *map.entry(key.to_string()).or_insert(0) += 1;
        }
        assert_eq!(
            serde_json::to_string(&tally).unwrap_or_default(),
            serde_json::to_string(&map).unwrap_or_default()
        );
        let listed: Vec<(&str, &usize)> = tally.iter().collect();
        let expected: Vec<(&str, &usize)> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(listed, expected);
        assert_eq!(
            serde_json::to_string(&tally.map(|count| count * 2)).unwrap_or_default(),
            r#"{"":2,"A":2,"EUR":4,"SEK":6,"Z9":2,"sek":2,"ÅÄÖ":2}"#
        );
        assert!(Tally::<usize>::default().is_empty());
    }
}
