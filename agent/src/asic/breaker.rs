//! The ASICs the inference circuit breaker has paused, and until when: kept in the data dir,
//! because a paused ASIC stays paused until someone resumes it, and an agent restarted in the
//! meantime (crash, upgrade, reboot) must still be that someone.
//!
//! Must never: lose a paused miner (the file is written before the pause is sent, atomically), or
//! fail to start because the file is damaged (a damaged file is logged and treated as empty).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file in the data dir: `{"miner id": until_unix_ms, ...}`.
pub const FILE: &str = "asic-breakers.json";

#[derive(Debug)]
pub struct Breakers {
    path: PathBuf,
    until_ms: BTreeMap<String, u64>,
}

impl Breakers {
    /// Loads the record from `data_dir` (empty when there is none or it cannot be read).
    pub fn load(data_dir: &Path) -> Breakers {
        let path = data_dir.join(FILE);
        let until_ms = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                log::error!(
                    "{}: {e}; paused ASICs it named must be resumed by hand",
                    path.display()
                );
                BTreeMap::new()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                log::error!(
                    "{}: {e}; paused ASICs it named must be resumed by hand",
                    path.display()
                );
                BTreeMap::new()
            }
        };
        Breakers { path, until_ms }
    }

    /// Miners held now, with their release time.
    pub fn held(&self) -> &BTreeMap<String, u64> {
        &self.until_ms
    }

    /// Trips (or extends) the breaker on `id` until `until_ms`, saved before returning. True
    /// when `id` was not held: then the caller pauses it.
    pub fn trip(&mut self, id: &str, until_ms: u64) -> std::io::Result<bool> {
        let mut next = self.until_ms.clone();
        let new = next.insert(id.to_string(), until_ms).is_none();
        self.commit(next)?;
        Ok(new)
    }

    /// Removes and returns the miners whose time is up at `now_ms` (the caller resumes them).
    pub fn release_due(&mut self, now_ms: u64) -> std::io::Result<Vec<String>> {
        let due: Vec<String> = self
            .until_ms
            .iter()
            .filter(|(_, until)| **until <= now_ms)
            .map(|(id, _)| id.clone())
            .collect();
        if !due.is_empty() {
            let mut next = self.until_ms.clone();
            for id in &due {
                next.remove(id);
            }
            self.commit(next)?;
        }
        Ok(due)
    }

    /// Writes `next` (temp file, fsync, rename) and only then makes it the record: on an error
    /// nothing changed, so the same trip or release is tried again.
    fn commit(&mut self, next: BTreeMap<String, u64>) -> std::io::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec(&next).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, bytes)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        self.until_ms = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trip_survives_a_reload_and_is_released_once_due() {
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
        assert!(again.release_due(1_999).expect("save").is_empty());
        assert_eq!(again.release_due(2_000).expect("save"), vec!["s19-a".to_string()]);
        let last = Breakers::load(dir.path());
        assert_eq!(last.held().keys().collect::<Vec<_>>(), vec!["s19-b"]);
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
