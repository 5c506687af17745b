//! Persistent spool (redb): records wait here, in sequence order, until the broker acknowledged
//! them. The per-rig sequence counter and the boot counter live in the same file, so `seq` is
//! assigned and the record stored in one transaction and both survive a power cut.
//!
//! Must never: hand out a sequence number twice, lose an appended record except by the disk cap
//! (oldest first, counted), or block the sampler on the network.

use redb::{Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::Path;

/// seq -> (topic, payload)
const RECORDS: TableDefinition<u64, (&str, &[u8])> = TableDefinition::new("records");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const NEXT_SEQ: &str = "next_seq";
const BYTES: &str = "bytes";
const DROPPED: &str = "dropped";
const BOOT: &str = "boot";
/// Bookkeeping per record on top of topic and payload, so the cap counts many tiny records too.
const RECORD_OVERHEAD: u64 = 32;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool database: {0}")]
    Db(#[from] redb::Error),
    #[error("record of {0} bytes does not fit a spool capped at {1} bytes")]
    TooLarge(u64, u64),
    #[error("record could not be built: {0}")]
    Build(String),
}

hashward_common::redb_errors!(SpoolError::Db);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledRecord {
    pub seq: u64,
    pub topic: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    pub records: u64,
    pub bytes: u64,
    pub dropped: u64,
    /// The last sequence number handed out (0 if none yet).
    pub last_seq: u64,
}

pub struct Spool {
    db: Database,
    max_bytes: u64,
}

fn record_size(topic: &str, payload: &[u8]) -> u64 {
    topic.len() as u64 + payload.len() as u64 + RECORD_OVERHEAD
}

fn meta_get(table: &impl ReadableTable<&'static str, u64>, key: &str) -> Result<u64, SpoolError> {
    Ok(table.get(key)?.map(|v| v.value()).unwrap_or(0))
}

impl Spool {
    pub fn open(path: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tx.open_table(RECORDS)?;
        tx.open_table(META)?;
        tx.commit()?;
        Ok(Spool { db, max_bytes })
    }

    /// Increments and returns the persistent boot counter (1 on the first start).
    pub fn next_boot(&self) -> Result<u64, SpoolError> {
        let tx = self.db.begin_write()?;
        let boot = {
            let mut meta = tx.open_table(META)?;
            let boot = meta_get(&meta, BOOT)? + 1;
            meta.insert(BOOT, boot)?;
            boot
        };
        tx.commit()?;
        Ok(boot)
    }

    /// Assigns the next sequence number, lets `build` make the record for it, and stores it
    /// durably. Drops the oldest records first if the cap would be exceeded.
    pub fn append<F>(&self, build: F) -> Result<u64, SpoolError>
    where
        F: FnOnce(u64) -> Result<(String, Vec<u8>), String>,
    {
        let tx = self.db.begin_write()?;
        let seq = {
            let mut meta = tx.open_table(META)?;
            let mut records = tx.open_table(RECORDS)?;
            let seq = meta_get(&meta, NEXT_SEQ)?.max(1);
            let (topic, payload) = build(seq).map_err(SpoolError::Build)?;
            let size = record_size(&topic, &payload);
            if size > self.max_bytes {
                return Err(SpoolError::TooLarge(size, self.max_bytes));
            }
            let mut bytes = meta_get(&meta, BYTES)?;
            let mut dropped = 0u64;
            while bytes + size > self.max_bytes {
                let Some((_, old)) = records.pop_first()? else {
                    break;
                };
                let (t, p) = old.value();
                bytes = bytes.saturating_sub(record_size(t, p));
                dropped += 1;
            }
            records.insert(seq, (topic.as_str(), payload.as_slice()))?;
            meta.insert(BYTES, bytes + size)?;
            meta.insert(NEXT_SEQ, seq + 1)?;
            if dropped > 0 {
                let total = meta_get(&meta, DROPPED)? + dropped;
                meta.insert(DROPPED, total)?;
                log::warn!(
                    "spool full ({} bytes): dropped the {dropped} oldest record(s)",
                    self.max_bytes
                );
            }
            seq
        };
        tx.commit()?;
        Ok(seq)
    }

    /// Up to `limit` records with a sequence number above `after`, in order.
    pub fn read_after(&self, after: u64, limit: usize) -> Result<Vec<SpooledRecord>, SpoolError> {
        let tx = self.db.begin_read()?;
        let records = tx.open_table(RECORDS)?;
        let mut out = Vec::new();
        for entry in records.range(after.saturating_add(1)..)?.take(limit) {
            let (k, v) = entry?;
            let (topic, payload) = v.value();
            out.push(SpooledRecord {
                seq: k.value(),
                topic: topic.to_string(),
                payload: payload.to_vec(),
            });
        }
        Ok(out)
    }

    /// Removes acknowledged records. Not fsynced on its own: if the power fails first, the
    /// records are sent again and the hub drops them as duplicates, which loses nothing.
    pub fn remove(&self, seqs: &[u64]) -> Result<(), SpoolError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::None)?;
        {
            let mut meta = tx.open_table(META)?;
            let mut records = tx.open_table(RECORDS)?;
            let mut freed = 0;
            for seq in seqs {
                if let Some(old) = records.remove(seq)? {
                    let (t, p) = old.value();
                    freed += record_size(t, p);
                }
            }
            let bytes = meta_get(&meta, BYTES)?.saturating_sub(freed);
            meta.insert(BYTES, bytes)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn stats(&self) -> Result<SpoolStats, SpoolError> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        let records = tx.open_table(RECORDS)?;
        Ok(SpoolStats {
            records: records.len()?,
            bytes: meta_get(&meta, BYTES)?,
            dropped: meta_get(&meta, DROPPED)?,
            last_seq: meta_get(&meta, NEXT_SEQ)?.saturating_sub(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64) -> Result<(String, Vec<u8>), String> {
        Ok(("t".to_string(), seq.to_le_bytes().to_vec()))
    }

    #[test]
    fn sequence_and_records_survive_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.redb");
        {
            let s = Spool::open(&path, 1 << 20).expect("open");
            assert_eq!(s.next_boot().expect("boot"), 1);
            for want in 1..=5 {
                assert_eq!(s.append(rec).expect("append"), want);
            }
            s.remove(&[1, 2]).expect("remove");
        }
        let s = Spool::open(&path, 1 << 20).expect("reopen");
        assert_eq!(s.next_boot().expect("boot"), 2);
        let left: Vec<u64> = s
            .read_after(0, 100)
            .expect("read")
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(left, vec![3, 4, 5]);
        assert_eq!(s.append(rec).expect("append"), 6, "seq continues after reopen");
        assert_eq!(s.read_after(4, 1).expect("read")[0].seq, 5);
    }

    #[test]
    fn cap_drops_oldest_and_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Spool::open(&dir.path().join("s.redb"), 1000).expect("open");
        let size = record_size("t", &[0; 8]);
        let fit = 1000 / size;
        for _ in 0..fit + 3 {
            s.append(rec).expect("append");
        }
        let st = s.stats().expect("stats");
        assert_eq!(st.records, fit);
        assert_eq!(st.dropped, 3);
        assert_eq!(st.bytes, fit * size);
        assert_eq!(s.read_after(0, 1).expect("read")[0].seq, 4, "oldest went first");
        assert!(matches!(
            s.append(|_| Ok(("t".into(), vec![0; 2000]))),
            Err(SpoolError::TooLarge(..))
        ));
        assert!(matches!(
            s.append(|_| Err("no".into())),
            Err(SpoolError::Build(_))
        ));
        assert_eq!(
            s.stats().expect("stats").last_seq,
            fit + 3,
            "failed appends use no seq"
        );
    }
}
