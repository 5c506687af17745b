//! The calls a pool makes to the session: new work, difficulty, extranonce and version mask
//! changes, `client.reconnect`, and the informational `client.*` methods.
//!
//! What it is for: keeping the session's job window and work epoch in step with what the pool
//! announces, and answering the pool's requests.
//! What it must never do: I/O, follow a `client.reconnect` to another host, or emit a job
//! built on an extranonce or difficulty the pool did not send.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::super::generations::lock_gens;
use super::super::job::{JobContext, MiningJob};
use super::super::message::{self, MessageError, Notify, RpcError, Subscribed};
use super::super::target::target_from_difficulty;
use super::super::PoolEvent;
use super::{Session, SessionEnd, Stop, MAX_JOBS};

impl Session {
    pub(super) fn on_call(
        &mut self,
        id: Option<Value>,
        method: &str,
        params: &[Value],
        line: &str,
    ) -> Result<(), Stop> {
        match method {
            "mining.notify" => match message::parse_notify(params) {
                Ok(n) => {
                    if self.active {
                        self.new_job(&n, n.clean_jobs);
                    } else {
                        self.pending_notify = Some(n);
                    }
                }
                Err(e) => self.malformed("mining.notify", &e, line),
            },
            "mining.set_difficulty" => match message::parse_set_difficulty(params) {
                Ok(d) => {
                    log::debug!("pool {}: difficulty {d} (applies from the next job)", self.pool);
                    self.difficulty = d;
                    self.shared.stats.update(self.pool, |s| s.difficulty = Some(d));
                }
                Err(e) => self.malformed("mining.set_difficulty", &e, line),
            },
            "mining.set_extranonce" => match message::parse_set_extranonce(params) {
                Ok(sub) => self.set_extranonce(sub),
                Err(e) => self.malformed("mining.set_extranonce", &e, line),
            },
            "mining.set_version_mask" => self.set_version_mask(params, line),
            "client.reconnect" => match message::parse_reconnect(params) {
                Ok(r) => return self.reconnect(&r),
                Err(e) => self.malformed("client.reconnect", &e, line),
            },
            "client.get_version" => {
                if let Some(id) = id {
                    let ua = self.shared.config.user_agent.clone();
                    self.reply(&id, Value::String(ua), None);
                }
            }
            "client.show_message" => {
                let text = params.first().and_then(Value::as_str).unwrap_or("");
                log::info!(
                    "pool {} says: {}",
                    self.pool,
                    text.chars().take(500).collect::<String>()
                );
                if let Some(id) = id {
                    self.reply(&id, Value::Bool(true), None);
                }
            }
            other => {
                let shown: String = other.chars().take(64).collect();
                log::warn!("pool {}: unknown method {shown:?} skipped", self.pool);
                self.shared.stats.update(self.pool, |s| s.unknown_methods += 1);
                if let Some(id) = id {
                    let err = RpcError {
                        code: 20,
                        message: "Method not supported".into(),
                    };
                    self.reply(&id, Value::Null, Some(&err));
                }
            }
        }
        Ok(())
    }

    fn set_version_mask(&mut self, params: &[Value], line: &str) {
        match params
            .first()
            .and_then(Value::as_str)
            .map(|s| message::decode_u32_be(s, "version mask"))
        {
            Some(Ok(mask)) => {
                // Only a pool that granted rolling in `mining.configure` may change the mask.
                if self.version_mask.is_some() {
                    self.version_mask = (mask != 0).then_some(mask);
                    let m = self.version_mask;
                    self.shared.stats.update(self.pool, |s| s.version_mask = m);
                }
            }
            Some(Err(e)) => self.malformed("mining.set_version_mask", &e, line),
            None => self.malformed(
                "mining.set_version_mask",
                &MessageError::WrongType {
                    what: "mask",
                    expected: "a hex string",
                },
                line,
            ),
        }
    }

    fn reconnect(&mut self, r: &message::Reconnect) -> Result<(), Stop> {
        if let Some(h) = &r.host {
            // Another host would be an unconfigured pool: a hijacked or misconfigured pool
            // must not redirect our hashrate.
            if !h.eq_ignore_ascii_case(&self.url.host) {
                log::warn!(
                    "pool {}: client.reconnect to another host {h:?} refused",
                    self.pool
                );
                return Ok(());
            }
        }
        let mut url = self.url.clone();
        if let Some(p) = r.port {
            url.port = p;
        }
        let wait = Duration::from_secs(r.wait_secs).min(self.shared.config.max_reconnect_wait);
        log::info!("pool {}: pool asked to reconnect to {url} in {wait:?}", self.pool);
        Err(Stop::End(SessionEnd::Reconnect { url, wait }))
    }

    fn set_extranonce(&mut self, sub: Subscribed) {
        log::info!(
            "pool {}: new extranonce1 {} size {}",
            self.pool,
            hex::encode(&sub.extranonce1),
            sub.extranonce2_size
        );
        self.extranonce = Some(sub.clone());
        if !self.active {
            return;
        }
        // Old jobs' coinbases no longer match what the pool will check: new epoch, and the
        // latest job re-keyed so the engine does not idle until the next notify.
        self.generation = lock_gens(&self.shared.generations).alloc(self.pool);
        self.jobs.clear();
        self.job_order.clear();
        if let Some(latest) = self.latest_job.take() {
            let job = Arc::new(latest.with_extranonce(&sub, self.generation));
            self.insert_job(job.clone());
            self.emit(PoolEvent::NewJob(job));
        }
    }

    pub(super) fn new_job(&mut self, n: &Notify, clean: bool) {
        let Some(extranonce) = self.extranonce.clone() else {
            log::warn!("pool {}: mining.notify before subscribe; skipped", self.pool);
            return;
        };
        let target = match target_from_difficulty(&self.shared.config.diff1, self.difficulty) {
            Ok(t) => t,
            Err(e) => {
                log::warn!("pool {}: {e}; job {} skipped", self.pool, n.job_id);
                return;
            }
        };
        if clean {
            self.generation = lock_gens(&self.shared.generations).alloc(self.pool);
            self.jobs.clear();
            self.job_order.clear();
        }
        let job = Arc::new(MiningJob::new(
            n,
            &extranonce,
            JobContext {
                pool: self.pool,
                generation: self.generation,
                clean,
                target,
                difficulty: self.difficulty,
                version_mask: self.version_mask,
            },
        ));
        log::debug!(
            "pool {}: job {} clean={clean} generation {} difficulty {}",
            self.pool,
            n.job_id,
            self.generation,
            self.difficulty
        );
        self.insert_job(job.clone());
        self.emit(PoolEvent::NewJob(job));
    }

    fn insert_job(&mut self, job: Arc<MiningJob>) {
        if self.jobs.insert(job.job_id.clone(), job.clone()).is_none() {
            self.job_order.push_back(job.job_id.clone());
        }
        while self.job_order.len() > MAX_JOBS {
            if let Some(old) = self.job_order.pop_front() {
                self.jobs.remove(&old);
            }
        }
        self.latest_job = Some(job);
    }
}
