//! One page of the rig registry, filtered: what `/rigs?site=&online=&q=&limit=&cursor=` asks the
//! store for. Pages are in rig-id order and the cursor is the last rig id of the page before, so
//! a page costs a range read from the cursor (stopping once `limit` rigs matched), never a read
//! of the whole registry. The matching is pure and shared by every store implementation.
//!
//! Must never skip or repeat a rig between consecutive pages of an unchanged registry.

use crate::domain::rig::RigEntry;
use serde::Serialize;

/// Rigs per page when `limit` is not given, and at most.
pub const DEFAULT_PAGE: usize = 100;
pub const MAX_PAGE: usize = 10_000;

/// A filtered page request. `None` filters match every rig.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RigQuery {
    pub site: Option<String>,
    pub online: Option<bool>,
    /// Case-insensitive substring of the rig id, its site or its CPU model.
    pub text: Option<String>,
    /// Only rigs whose id sorts after this one (the previous page's `next_cursor`).
    pub after: Option<String>,
    pub limit: usize,
}

/// One page; `next_cursor` is `None` on the last.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RigPage {
    pub rigs: Vec<RigEntry>,
    pub next_cursor: Option<String>,
}

impl RigQuery {
    /// Whether a rig with these fields is in the answer (the cursor is the caller's range).
    pub fn matches(&self, site: &str, online: bool, rig: &str, cpu_model: Option<&str>) -> bool {
        if self.site.as_deref().is_some_and(|s| s != site) {
            return false;
        }
        if self.online.is_some_and(|o| o != online) {
            return false;
        }
        match self.text.as_deref().map(str::to_lowercase) {
            None => true,
            Some(t) if t.is_empty() => true,
            Some(t) => {
                rig.to_lowercase().contains(&t)
                    || site.to_lowercase().contains(&t)
                    || cpu_model.is_some_and(|c| c.to_lowercase().contains(&t))
            }
        }
    }

    pub fn matches_entry(&self, e: &RigEntry) -> bool {
        self.matches(
            e.site.as_str(),
            e.online,
            e.rig.as_str(),
            e.hardware.as_ref().map(|h| h.cpu_model.as_str()),
        )
    }

    /// A cheap test on a registry entry's JSON bytes before decoding it: false only when the
    /// entry cannot match (its site is not the one asked for, or the text appears nowhere in
    /// it, in any ASCII case). Skips the test for text JSON would have escaped.
    pub fn may_match_json(&self, json: &[u8]) -> bool {
        if let Some(site) = &self.site {
            let needle = format!("\"site\":\"{site}\"");
            if !contains(json, needle.as_bytes(), false) {
                return false;
            }
        }
        if let Some(t) = self.text.as_deref().filter(|t| !t.is_empty()) {
            let plain = t
                .bytes()
                .all(|b| b.is_ascii() && !b.is_ascii_control() && b != b'"' && b != b'\\');
            if plain && !contains(json, t.as_bytes(), true) {
                return false;
            }
        }
        true
    }

    /// The page from entries in any order (for stores without an ordered scan).
    pub fn page_of(&self, mut entries: Vec<RigEntry>) -> RigPage {
        entries.retain(|e| self.after.as_deref().is_none_or(|a| e.rig.as_str() > a) && self.matches_entry(e));
        entries.sort_by(|a, b| a.rig.as_str().cmp(b.rig.as_str()));
        let more = entries.len() > self.limit;
        entries.truncate(self.limit);
        let next_cursor = if more {
            entries.last().map(|e| e.rig.as_str().to_string())
        } else {
            None
        };
        RigPage {
            rigs: entries,
            next_cursor,
        }
    }
}

fn contains(hay: &[u8], needle: &[u8], ignore_ascii_case: bool) -> bool {
    let Some(&first) = needle.first() else { return true };
    if needle.len() > hay.len() {
        return false;
    }
    (0..=hay.len() - needle.len()).any(|i| {
        let b = hay[i];
        let starts = if ignore_ascii_case {
            b.eq_ignore_ascii_case(&first)
        } else {
            b == first
        };
        starts && {
            let w = &hay[i..i + needle.len()];
            if ignore_ascii_case {
                w.eq_ignore_ascii_case(needle)
            } else {
                w == needle
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::RigQuery;

    #[test]
    fn the_json_prefilter_never_rejects_a_match() {
        let json =
            br#"{"rig":"Sim-0042","site":"site042","online":true,"hardware":{"cpu_model":"amd ryzen 9"}}"#;
        let q = |site: Option<&str>, text: Option<&str>| RigQuery {
            site: site.map(String::from),
            text: text.map(String::from),
            limit: 1,
            ..RigQuery::default()
        };
        assert!(q(Some("site042"), None).may_match_json(json));
        assert!(!q(Some("site04"), None).may_match_json(json));
        assert!(q(None, Some("sim-00")).may_match_json(json));
        assert!(q(None, Some("RYZEN")).may_match_json(json));
        assert!(!q(None, Some("xeon")).may_match_json(json));
        // Text JSON escapes is left to the decode.
        assert!(q(None, Some("a\"b")).may_match_json(json));
        assert!(q(None, Some("")).may_match_json(json));
        // The decoded check agrees on the fields.
        let r = q(Some("site042"), Some("RYZEN"));
        assert!(r.matches("site042", true, "Sim-0042", Some("amd ryzen 9")));
        assert!(!r.matches("site041", true, "Sim-0042", Some("amd ryzen 9")));
        let online = RigQuery {
            online: Some(false),
            limit: 1,
            ..RigQuery::default()
        };
        assert!(!online.matches("s", true, "r", None));
    }
}
