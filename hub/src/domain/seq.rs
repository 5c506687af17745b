//! Per-rig sequence accounting: duplicates and gaps, from the sequence numbers alone.
//! Pure; the store decides whether a record is new and feeds the result here.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqStats {
    /// Lowest and highest sequence number seen (0 = none yet).
    pub first: u64,
    pub last: u64,
    /// Distinct records stored.
    pub received: u64,
    /// Records that arrived again after being stored (redelivery after a reconnect).
    pub duplicates: u64,
}

impl SeqStats {
    pub fn observe(&mut self, seq: u64, is_new: bool) {
        if !is_new {
            self.duplicates += 1;
            return;
        }
        if self.received == 0 {
            self.first = seq;
            self.last = seq;
        } else {
            self.first = self.first.min(seq);
            self.last = self.last.max(seq);
        }
        self.received += 1;
    }

    /// Sequence numbers between the first and the last seen that never arrived: lost messages
    /// (or ones still in an agent's spool, which fill the gap when they come).
    pub fn missing(&self) -> u64 {
        if self.received == 0 {
            return 0;
        }
        (self.last - self.first + 1).saturating_sub(self.received)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_open_and_close_duplicates_count() {
        let mut s = SeqStats::default();
        assert_eq!(s.missing(), 0);
        for seq in [1, 2, 3, 7] {
            s.observe(seq, true);
        }
        assert_eq!(s.missing(), 3);
        s.observe(3, false);
        assert_eq!(s.duplicates, 1);
        for seq in [4, 5, 6] {
            s.observe(seq, true);
        }
        assert_eq!((s.first, s.last, s.received, s.missing()), (1, 7, 7, 0));
    }

    #[test]
    fn a_late_older_record_extends_the_range() {
        let mut s = SeqStats::default();
        s.observe(10, true);
        s.observe(8, true);
        assert_eq!((s.first, s.last, s.missing()), (8, 10, 1));
    }
}
