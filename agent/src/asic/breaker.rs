//! The ASICs the inference circuit breaker has paused, and until when: kept in the data dir,
//! because a paused ASIC stays paused until someone resumes it, and an agent restarted in the
//! meantime (crash, upgrade, reboot) must still be that someone.
//!
//! Must never: lose a paused miner (the file is written before the pause is sent, atomically), or
//! fail to start because the file is damaged (a damaged file is logged and treated as empty).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The file in the data dir: `{"miner id": until_unix_ms, ...}`.
pub const FILE: &str = "asic-breakers.json";

#[derive(Debug)]
pub struct Breakers {
    path: PathBuf,
    until_ms: BTreeMap<String, u64>,
    /// Due miners whose resume is in flight: kept on record until it succeeds.
    releasing: BTreeSet<String>,
}

impl Breakers {
    /// Loads the record from `data_dir` (empty when there is none or it cannot be read).
    pub fn load(data_dir: &Path) -> Breakers {
        let path = data_dir.join(FILE);
        let until_ms = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            read => read
                .map_err(|e| e.to_string())
                .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string())),
        }
        .unwrap_or_else(|e| {
            log::error!(
                "{}: {e}; paused ASICs it named must be resumed by hand",
                path.display()
            );
            BTreeMap::new()
        });
        Breakers {
            path,
            until_ms,
            releasing: BTreeSet::new(),
        }
    }

    /// Miners held now, with their release time.
    pub fn held(&self) -> &BTreeMap<String, u64> {
        &self.until_ms
    }

    /// Trips (or extends) the breaker on `id` until `until_ms`, saved before returning. True
    /// when the caller must send the pause: `id` was not held, or its resume is in flight.
    pub fn trip(&mut self, id: &str, until_ms: u64) -> std::io::Result<bool> {
        let mut next = self.until_ms.clone();
        let new = next.insert(id.to_string(), until_ms).is_none();
        self.commit(next)?;
        Ok(new || self.releasing.remove(id))
    }

    /// The miners whose time is up at `now_ms` and whose resume is not yet in flight; they stay
    /// on record until [`Breakers::resumed`] (the caller sends the resume).
    pub fn due(&mut self, now_ms: u64) -> Vec<String> {
        let due: Vec<String> = self
            .until_ms
            .iter()
            .filter(|(id, until)| **until <= now_ms && !self.releasing.contains(*id))
            .map(|(id, _)| id.clone())
            .collect();
        self.releasing.extend(due.iter().cloned());
        due
    }

    /// The resume of `id` went through: off the record (unless it was tripped again since).
    pub fn resumed(&mut self, id: &str) -> std::io::Result<()> {
        if !self.releasing.contains(id) {
            return Ok(());
        }
        let mut next = self.until_ms.clone();
        next.remove(id);
        self.commit(next)?;
        self.releasing.remove(id);
        Ok(())
    }

    /// The resume of `id` failed: try again at `retry_at_ms`.
    pub fn resume_failed(&mut self, id: &str, retry_at_ms: u64) -> std::io::Result<()> {
        self.releasing.remove(id);
        let mut next = self.until_ms.clone();
        if let Some(until) = next.get_mut(id) {
            *until = (*until).max(retry_at_ms);
        }
        self.commit(next)
    }

    /// The pause of `id` did not go through: off the record, so the next critical sample pauses
    /// again (and nothing later resumes a miner that was never paused).
    pub fn pause_failed(&mut self, id: &str) -> std::io::Result<()> {
        let mut next = self.until_ms.clone();
        next.remove(id);
        self.releasing.remove(id);
        self.commit(next)
    }

    /// Writes `next` durably and only then makes it the record: on an error nothing changed,
    /// so the same step is tried again.
    fn commit(&mut self, next: BTreeMap<String, u64>) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(&next).map_err(std::io::Error::other)?;
        hashward_common::durable::write_atomic(&self.path, &bytes)?;
        self.until_ms = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trip_survives_a_reload_and_leaves_the_record_only_once_resumed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = Breakers::load(dir.path());
        assert!(b.trip("s19-a", 1_000).expect("save"));
        assert!(
            !b.trip("s19-a", 2_000).expect("save"),
            "extending is not a new pause"
        );
        assert!(b.trip("s19-b", 5_000).expect("save"));
        let mut again = Breakers::load(dir.path());
        assert_eq!(again.held().len(), 2);
        assert!(again.due(1_999).is_empty());
        assert_eq!(again.due(2_000), vec!["s19-a".to_string()]);
        // In flight: not handed out twice, still on record (a crash now resumes it next start).
        assert!(again.due(2_500).is_empty());
        assert_eq!(Breakers::load(dir.path()).held().len(), 2);
        again.resumed("s19-a").expect("save");
        assert_eq!(
            Breakers::load(dir.path()).held().keys().collect::<Vec<_>>(),
            vec!["s19-b"]
        );
    }

    #[test]
    fn failed_resumes_are_retried_and_failed_pauses_forgotten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = Breakers::load(dir.path());
        b.trip("a", 1_000).expect("save");
        b.trip("b", 1_000).expect("save");
        assert_eq!(b.due(1_000).len(), 2);
        b.resume_failed("a", 61_000).expect("save");
        assert!(b.due(60_999).is_empty());
        assert_eq!(b.due(61_000), vec!["a".to_string()]);
        // Tripped again while its resume is in flight: pause again, and the late success of
        // the old resume does not drop the new hold.
        assert!(b.trip("b", 9_000).expect("save"));
        b.resumed("b").expect("save");
        assert_eq!(b.held().get("b"), Some(&9_000));
        b.pause_failed("b").expect("save");
        assert!(!Breakers::load(dir.path()).held().contains_key("b"));
    }

    #[test]
    fn a_damaged_file_is_an_empty_record_not_a_failed_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE), b"{not json").expect("write");
        let mut b = Breakers::load(dir.path());
        assert!(b.held().is_empty());
        assert!(b.trip("x", 1).expect("save"));
        assert_eq!(Breakers::load(dir.path()).held().len(), 1);
    }
}
