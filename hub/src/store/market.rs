//! The market aggregate: raw records as fetched (one row per coin, source timestamp and source),
//! hourly bars and daily closes rolled up from them as they arrive, daily history from chart
//! endpoints and imports, CoinMarketCap's global metrics, and the collectors' checkpoints.
//!
//! Retention (seed 002 §10.3): raw 30 days (high resolution), hourly 365 days (market price
//! data), daily kept unless configured (imported history feeds backtests and training).
//!
//! Must never store a row twice: every key is the natural key of what it holds, so a refetch or
//! a re-import overwrites or is skipped, never duplicates.

use super::{Store, StoreError};
use crate::collect::dates::{day_start, DAY_MS, HOUR_MS};
use crate::collect::scheduler::{BudgetUse, Checkpoint, Checkpoints};
use hashward_protocol::market::{DailyPoint, GlobalMarket, MarketData};
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

/// (coin, source timestamp ms, source) -> JSON `MarketData`.
const RAW: TableDefinition<(&str, u64, &str), &[u8]> = TableDefinition::new("market_raw");
/// (coin, hour start ms) -> JSON `Bar`.
const HOURLY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("market_hourly");
/// (coin, day start ms) -> JSON `DailyRow`.
const DAILY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("market_daily");
/// timestamp ms -> JSON `GlobalMarket`.
const GLOBAL: TableDefinition<u64, &[u8]> = TableDefinition::new("market_global");
/// (source, job) -> JSON `Checkpoint`; (source, "") -> JSON `BudgetUse`.
const CHECKPOINTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("collect_checkpoints");

/// An hourly price bar (USD) of one coin, over every source.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub start_ms: u64,
    pub open_usd: f64,
    pub high_usd: f64,
    pub low_usd: f64,
    pub close_usd: f64,
    pub samples: u64,
    first_ts_ms: u64,
    last_ts_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct DailyRow {
    point: DailyPoint,
    /// The instant the close is from: a later one replaces it, an earlier one does not.
    close_ts_ms: u64,
}

/// How long each tier is kept; `None` keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub raw_days: Option<u64>,
    pub hourly_days: Option<u64>,
    pub daily_days: Option<u64>,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            raw_days: Some(30),
            hourly_days: Some(365),
            daily_days: None,
        }
    }
}

/// Rows a prune deleted, per tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub raw: u64,
    pub hourly: u64,
    pub daily: u64,
    pub global: u64,
}

/// What one write of daily points did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DailyWrite {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// A history listing's resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Raw,
    Hourly,
    Daily,
}

/// One point of `/market/{coin}/history`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPoint {
    pub ts_ms: u64,
    pub price_usd: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market_cap_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

pub(super) fn create(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(RAW)?;
    tx.open_table(HOURLY)?;
    tx.open_table(DAILY)?;
    tx.open_table(GLOBAL)?;
    tx.open_table(CHECKPOINTS)?;
    Ok(())
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    // Plain data structs of numbers and strings: serialising cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

fn parse<T: for<'de> Deserialize<'de>>(what: &str, bytes: &[u8]) -> Option<T> {
    match serde_json::from_slice(bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            log::warn!("market store: unreadable {what} row skipped: {e}");
            None
        }
    }
}

fn upsert_daily(
    table: &mut redb::Table<'_, (&'static str, u64), &'static [u8]>,
    coin: &str,
    p: DailyPoint,
    close_ts_ms: u64,
) -> Result<Option<bool>, StoreError> {
    let old: Option<DailyRow> = table
        .get((coin, p.day_ms))?
        .and_then(|v| parse("daily", v.value()));
    let row = match old {
        Some(o) if o.close_ts_ms > close_ts_ms => return Ok(None),
        Some(o) => DailyRow {
            point: DailyPoint {
                market_cap_usd: p.market_cap_usd.or(o.point.market_cap_usd),
                volume_usd: p.volume_usd.or(o.point.volume_usd),
                ..p
            },
            close_ts_ms,
        },
        None => DailyRow {
            point: p,
            close_ts_ms,
        },
    };
    if old.is_some_and(|o| o == row) {
        return Ok(None);
    }
    table.insert((coin, p.day_ms), json(&row).as_slice())?;
    Ok(Some(old.is_none()))
}

impl Store {
    /// Stores market records; returns how many were new. A record seen before (same coin,
    /// source timestamp and source) changes nothing, so a re-poll never double-counts a bar.
    pub fn store_market(&self, records: &[MarketData]) -> Result<usize, StoreError> {
        let tx = self.write_tx()?;
        let mut new = 0;
        {
            let mut raw = tx.open_table(RAW)?;
            let mut hourly = tx.open_table(HOURLY)?;
            let mut daily = tx.open_table(DAILY)?;
            for r in records {
                let Some(usd) = r.price.usd else { continue };
                let coin = r.coin.id.as_str();
                let key = (coin, r.timestamp_ms, r.source.as_str());
                if raw.get(key)?.is_some() {
                    continue;
                }
                raw.insert(key, json(r).as_slice())?;
                new += 1;
                let ts = r.timestamp_ms;
                let hour = ts - ts % HOUR_MS;
                let old: Option<Bar> = hourly.get((coin, hour))?.and_then(|v| parse("hourly", v.value()));
                let bar = match old {
                    None => Bar {
                        start_ms: hour,
                        open_usd: usd,
                        high_usd: usd,
                        low_usd: usd,
                        close_usd: usd,
                        samples: 1,
                        first_ts_ms: ts,
                        last_ts_ms: ts,
                    },
                    Some(b) => Bar {
                        open_usd: if ts < b.first_ts_ms { usd } else { b.open_usd },
                        close_usd: if ts >= b.last_ts_ms { usd } else { b.close_usd },
                        high_usd: b.high_usd.max(usd),
                        low_usd: b.low_usd.min(usd),
                        samples: b.samples + 1,
                        first_ts_ms: b.first_ts_ms.min(ts),
                        last_ts_ms: b.last_ts_ms.max(ts),
                        ..b
                    },
                };
                hourly.insert((coin, hour), json(&bar).as_slice())?;
                let point = DailyPoint {
                    day_ms: day_start(ts),
                    price_usd: usd,
                    market_cap_usd: r.market_cap.usd,
                    volume_usd: r.volume_24h.usd,
                };
                upsert_daily(&mut daily, coin, point, ts)?;
            }
        }
        tx.commit()?;
        Ok(new)
    }

    /// Stores daily points of `coin` (a chart or an import). A day's close is replaced only by
    /// one from a later instant: past days count as closed at their last millisecond, and the
    /// current day (at `now_ms`) at `now_ms`.
    pub fn store_daily(
        &self,
        coin: &str,
        points: &[DailyPoint],
        now_ms: u64,
    ) -> Result<DailyWrite, StoreError> {
        let tx = self.write_tx()?;
        let mut w = DailyWrite::default();
        {
            let mut daily = tx.open_table(DAILY)?;
            for p in points {
                let close_ts = (p.day_ms + DAY_MS - 1).min(now_ms.max(p.day_ms));
                match upsert_daily(&mut daily, coin, *p, close_ts)? {
                    Some(true) => w.inserted += 1,
                    Some(false) => w.updated += 1,
                    None => w.unchanged += 1,
                }
            }
        }
        tx.commit()?;
        Ok(w)
    }

    pub fn store_global(&self, g: &GlobalMarket) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.open_table(GLOBAL)?
            .insert(g.timestamp_ms, json(g).as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// `coin`'s daily points with `from_ms <= day <= to_ms`, oldest first, at most `limit`
    /// (the newest `limit` when there are more).
    pub fn daily(
        &self,
        coin: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<DailyPoint>, StoreError> {
        let tx = self.read_tx()?;
        let t = tx.open_table(DAILY)?;
        let mut out = Vec::new();
        for e in t.range((coin, from_ms)..=(coin, to_ms))?.rev() {
            let (_, v) = e?;
            if let Some(r) = parse::<DailyRow>("daily", v.value()) {
                out.push(r.point);
                if out.len() >= limit {
                    break;
                }
            }
        }
        out.reverse();
        Ok(out)
    }

    /// `/market/{coin}/history` at one resolution: oldest first, and when more than `limit`
    /// points are in range, the newest `limit` of them.
    pub fn market_history(
        &self,
        coin: &str,
        from_ms: u64,
        to_ms: u64,
        interval: Interval,
        limit: usize,
    ) -> Result<Vec<HistoryPoint>, StoreError> {
        match interval {
            Interval::Daily => Ok(self
                .daily(coin, from_ms, to_ms, limit)?
                .into_iter()
                .map(|p| HistoryPoint {
                    ts_ms: p.day_ms,
                    price_usd: p.price_usd,
                    high_usd: None,
                    low_usd: None,
                    market_cap_usd: p.market_cap_usd,
                    volume_usd: p.volume_usd,
                    source: None,
                })
                .collect()),
            Interval::Hourly => {
                let tx = self.read_tx()?;
                let t = tx.open_table(HOURLY)?;
                let mut out = Vec::new();
                for e in t.range((coin, from_ms)..=(coin, to_ms))?.rev() {
                    let (_, v) = e?;
                    if let Some(b) = parse::<Bar>("hourly", v.value()) {
                        out.push(HistoryPoint {
                            ts_ms: b.start_ms,
                            price_usd: b.close_usd,
                            high_usd: Some(b.high_usd),
                            low_usd: Some(b.low_usd),
                            market_cap_usd: None,
                            volume_usd: None,
                            source: None,
                        });
                        if out.len() >= limit {
                            break;
                        }
                    }
                }
                out.reverse();
                Ok(out)
            }
            Interval::Raw => {
                let tx = self.read_tx()?;
                let t = tx.open_table(RAW)?;
                let mut out = Vec::new();
                for e in t.range((coin, from_ms, "")..=(coin, to_ms, "\u{10FFFF}"))?.rev() {
                    let (_, v) = e?;
                    if let Some(d) = parse::<MarketData>("raw", v.value()) {
                        let Some(price_usd) = d.price.usd else { continue };
                        out.push(HistoryPoint {
                            ts_ms: d.timestamp_ms,
                            price_usd,
                            high_usd: None,
                            low_usd: None,
                            market_cap_usd: d.market_cap.usd,
                            volume_usd: d.volume_24h.usd,
                            source: Some(d.source),
                        });
                        if out.len() >= limit {
                            break;
                        }
                    }
                }
                out.reverse();
                Ok(out)
            }
        }
    }

    /// The newest raw record of each (coin, source): what a restarted hub serves (as stale
    /// until its source answers again).
    pub fn latest_market(&self) -> Result<Vec<MarketData>, StoreError> {
        let tx = self.read_tx()?;
        let t = tx.open_table(RAW)?;
        let mut newest: std::collections::BTreeMap<(String, String), MarketData> = Default::default();
        for e in t.iter()? {
            let (_, v) = e?;
            if let Some(d) = parse::<MarketData>("raw", v.value()) {
                let k = (d.coin.id.clone(), d.source.clone());
                if newest.get(&k).is_none_or(|o| o.timestamp_ms <= d.timestamp_ms) {
                    newest.insert(k, d);
                }
            }
        }
        Ok(newest.into_values().collect())
    }

    /// Counts rows per tier (tests and the restart check).
    pub fn market_counts(&self) -> Result<(u64, u64, u64), StoreError> {
        let tx = self.read_tx()?;
        Ok((
            tx.open_table(RAW)?.len()?,
            tx.open_table(HOURLY)?.len()?,
            tx.open_table(DAILY)?.len()?,
        ))
    }

    /// Deletes rows older than their tier's retention at `now_ms`.
    pub fn prune_market(&self, now_ms: u64, r: Retention) -> Result<Pruned, StoreError> {
        let cutoff = |days: Option<u64>| days.map(|d| now_ms.saturating_sub(d.saturating_mul(DAY_MS)));
        let tx = self.write_tx()?;
        let mut p = Pruned::default();
        {
            if let Some(c) = cutoff(r.raw_days) {
                let mut t = tx.open_table(RAW)?;
                p.raw = t.extract_if(|(_, ts, _), _| ts < c)?.count() as u64;
            }
            if let Some(c) = cutoff(r.hourly_days) {
                let mut t = tx.open_table(HOURLY)?;
                p.hourly = t.extract_if(|(_, ts), _| ts < c)?.count() as u64;
            }
            if let Some(c) = cutoff(r.daily_days) {
                let mut t = tx.open_table(DAILY)?;
                p.daily = t.extract_if(|(_, ts), _| ts < c)?.count() as u64;
            }
            if let Some(c) = cutoff(r.raw_days) {
                let mut t = tx.open_table(GLOBAL)?;
                p.global = t.extract_if(|ts, _| ts < c)?.count() as u64;
            }
        }
        tx.commit()?;
        Ok(p)
    }
}

impl Checkpoints for Store {
    fn load(&self, source: &str, job: &str) -> Option<Checkpoint> {
        let read = || -> Result<Option<Checkpoint>, StoreError> {
            let tx = self.read_tx()?;
            let t = tx.open_table(CHECKPOINTS)?;
            Ok(t.get((source, job))?.and_then(|v| parse("checkpoint", v.value())))
        };
        read().unwrap_or_else(|e| {
            log::warn!("checkpoint {source}/{job} unreadable, starting fresh: {e}");
            None
        })
    }

    fn save(&self, source: &str, job: &str, cp: Checkpoint) {
        let write = || -> Result<(), StoreError> {
            let tx = self.write_tx()?;
            tx.open_table(CHECKPOINTS)?
                .insert((source, job), json(&cp).as_slice())?;
            tx.commit()?;
            Ok(())
        };
        if let Err(e) = write() {
            log::warn!("checkpoint {source}/{job} not saved: {e}");
        }
    }

    fn load_budget(&self, source: &str) -> Option<BudgetUse> {
        let read = || -> Result<Option<BudgetUse>, StoreError> {
            let tx = self.read_tx()?;
            let t = tx.open_table(CHECKPOINTS)?;
            Ok(t.get((source, ""))?.and_then(|v| parse("budget", v.value())))
        };
        read().unwrap_or_else(|e| {
            log::warn!("budget count of {source} unreadable, starting at 0: {e}");
            None
        })
    }

    fn save_budget(&self, source: &str, b: &BudgetUse) {
        let write = || -> Result<(), StoreError> {
            let tx = self.write_tx()?;
            tx.open_table(CHECKPOINTS)?
                .insert((source, ""), json(b).as_slice())?;
            tx.commit()?;
            Ok(())
        };
        if let Err(e) = write() {
            log::warn!("budget count of {source} not saved: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::coins::lookup;
    use crate::collect::market::blank;

    fn rec(source: &str, ts: u64, usd: f64) -> MarketData {
        let mut d = blank(lookup("bitcoin").expect("btc"), source, ts, ts);
        d.price.usd = Some(usd);
        d
    }

    fn point(day: u64, usd: f64) -> DailyPoint {
        DailyPoint {
            day_ms: day * DAY_MS,
            price_usd: usd,
            market_cap_usd: None,
            volume_usd: None,
        }
    }

    #[test]
    fn raw_rows_are_stored_once_and_roll_up_into_bars_and_closes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("hub.redb")).expect("open");
        let h = 20_000 * DAY_MS + 5 * HOUR_MS;
        // Arrival order is not time order: the bar's open/close follow the timestamps.
        let batch = [
            rec("coingecko", h + 600_000, 101.0),
            rec("coingecko", h + 60_000, 100.0),
            rec("coinmarketcap", h + 120_000, 103.0),
        ];
        assert_eq!(s.store_market(&batch).expect("store"), 3);
        // A re-poll of the same source timestamps adds nothing and does not count twice.
        assert_eq!(s.store_market(&batch).expect("store"), 0);
        let bars = s
            .market_history("bitcoin", 0, u64::MAX, Interval::Hourly, 10)
            .expect("bars");
        assert_eq!(bars.len(), 1);
        assert_eq!(
            (bars[0].price_usd, bars[0].high_usd, bars[0].low_usd),
            (101.0, Some(103.0), Some(100.0))
        );
        let days = s.daily("bitcoin", 0, u64::MAX, 10).expect("daily");
        assert_eq!((days.len(), days[0].price_usd), (1, 101.0));
        assert_eq!(s.market_counts().expect("counts"), (3, 1, 1));
        let raw = s
            .market_history("bitcoin", 0, u64::MAX, Interval::Raw, 10)
            .expect("raw");
        assert_eq!(
            raw.iter().map(|p| p.price_usd).collect::<Vec<_>>(),
            vec![100.0, 103.0, 101.0]
        );
        // Over the limit: the newest points, still oldest first.
        let newest = s
            .market_history("bitcoin", 0, u64::MAX, Interval::Raw, 2)
            .expect("raw");
        assert_eq!(
            newest.iter().map(|p| p.price_usd).collect::<Vec<_>>(),
            vec![103.0, 101.0]
        );
        let latest = s.latest_market().expect("latest");
        assert_eq!(latest.len(), 2);
    }

    #[test]
    fn daily_writes_are_idempotent_and_later_closes_win() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("hub.redb")).expect("open");
        let now = 100 * DAY_MS + HOUR_MS;
        let w = s
            .store_daily("bitcoin", &[point(98, 1.0), point(99, 2.0), point(100, 3.0)], now)
            .expect("write");
        assert_eq!(
            w,
            DailyWrite {
                inserted: 3,
                updated: 0,
                unchanged: 0
            }
        );
        let w = s
            .store_daily("bitcoin", &[point(98, 1.0), point(99, 2.0), point(100, 3.0)], now)
            .expect("write");
        assert_eq!(
            w,
            DailyWrite {
                inserted: 0,
                updated: 0,
                unchanged: 3
            }
        );
        // Later today the close moved: today's row is updated; a closed day is not replaced by
        // an earlier instant's value.
        let w = s
            .store_daily("bitcoin", &[point(100, 4.0)], now + HOUR_MS)
            .expect("write");
        assert_eq!(w.updated, 1);
        assert_eq!(
            s.store_market(&[rec("coingecko", 99 * DAY_MS + HOUR_MS, 9.0)])
                .expect("raw"),
            1
        );
        let closes: Vec<f64> = s
            .daily("bitcoin", 0, u64::MAX, 10)
            .expect("daily")
            .iter()
            .map(|p| p.price_usd)
            .collect();
        assert_eq!(closes, vec![1.0, 2.0, 4.0]);
        assert_eq!(s.daily("bitcoin", 0, u64::MAX, 2).expect("daily").len(), 2);
    }

    #[test]
    fn the_pruner_deletes_by_tier_and_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("hub.redb")).expect("open");
        let now = 1000 * DAY_MS;
        let old = now - 40 * DAY_MS;
        let ancient = now - 400 * DAY_MS;
        s.store_market(&[
            rec("coingecko", ancient, 1.0),
            rec("coingecko", old, 2.0),
            rec("coingecko", now - DAY_MS, 3.0),
        ])
        .expect("store");
        let p = s.prune_market(now, Retention::default()).expect("prune");
        // Raw keeps 30 days, hourly 365, daily everything.
        assert_eq!(
            p,
            Pruned {
                raw: 2,
                hourly: 1,
                daily: 0,
                global: 0
            }
        );
        assert_eq!(s.market_counts().expect("counts"), (1, 2, 3));
        assert_eq!(
            s.prune_market(now, Retention::default()).expect("again"),
            Pruned::default()
        );
    }
}
