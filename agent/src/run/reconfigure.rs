//! A new config in force (a verified fleet push merged over the local file): restart or
//! reconfigure only the parts whose settings changed, and write the result where an operator
//! can read it.
//!
//! Must never restart a part whose settings did not change, nor write a password to disk.

use super::miner_service::{self, MinerCommand};
use super::Agent;
use crate::config::Config;

/// The config in force, redacted, under the data dir.
pub(super) const CONFIG_IN_FORCE_FILE: &str = "config-in-force.toml";

impl Agent {
    /// Switches to `new`, touching only what changed. The new config is in force even when a
    /// part failed to restart with it (the error goes into the push's ack).
    pub(super) async fn on_config_applied(&mut self, new: Config) -> Result<(), String> {
        let applied = self.apply(&new).await;
        self.cfg = new;
        write_config_in_force(&self.cfg);
        applied
    }

    async fn apply(&mut self, new: &Config) -> Result<(), String> {
        let old = &self.cfg;
        if old.asic != new.asic {
            log::info!("asic: settings or ASIC list changed; restarting the poller");
            // A panic of the old poller is logged; the new one is the remedy.
            let _ = self.asic.stop().await;
            self.asic.start(&new.asic)?;
        }
        if old.depin != new.depin {
            log::info!("depin: node list or settings changed; restarting the poller");
            let _ = self.depin.stop().await;
            self.depin.start(&new.depin);
        }
        if old.telemetry.interval_ms != new.telemetry.interval_ms {
            log::info!(
                "telemetry interval {} ms -> {} ms",
                old.telemetry.interval_ms,
                new.telemetry.interval_ms
            );
            self.sample_every = super::interval(new.interval());
        }
        if old.miner != new.miner || old.tune != new.tune {
            if miner_service::needs_restart(old, new) {
                log::info!("miner: algorithm, pools, kernel, priority or hardware root changed; restarting the miner");
                self.miner
                    .restart(&new.miner, &new.tune)
                    .await
                    .map_err(|e| format!("miner did not restart: {e}"))?;
            } else if !self.miner.send(MinerCommand::Reconfigure {
                tune: Box::new(new.tune.clone()),
                miner: miner_service::miner_settings(&new.miner),
            }) && new.miner.is_enabled()
            {
                self.miner
                    .restart(&new.miner, &new.tune)
                    .await
                    .map_err(|e| format!("miner did not start: {e}"))?;
            }
        }
        Ok(())
    }
}

/// Writes the config in force to `data_dir/config-in-force.toml` (passwords redacted) so an
/// operator, and the tests, can see what the merge of local file and pushes produced.
pub(super) fn write_config_in_force(cfg: &Config) {
    let path = cfg.data_dir.join(CONFIG_IN_FORCE_FILE);
    let text = match toml::to_string(&redacted(cfg)) {
        Ok(t) => format!("# The config in force: defaults < local file < fleet < site < rig pushes.\n# Written by the agent; edit the local file, not this one.\n{t}"),
        Err(e) => {
            log::warn!("config in force not written: {e}");
            return;
        }
    };
    if let Err(e) = hashward_common::durable::write_atomic(&path, text.as_bytes()) {
        log::warn!("{}: {e}", path.display());
    }
}

/// `cfg` without its secrets: pool and broker passwords.
pub(super) fn redacted(cfg: &Config) -> Config {
    let mut shown = cfg.clone();
    for p in &mut shown.miner.pools {
        p.pass = "(redacted)".into();
    }
    if let Some(pw) = shown.broker.password.as_mut() {
        *pw = "(redacted)".into();
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_pool_and_broker_passwords_only() {
        let mut cfg: Config = toml::from_str(
            r#"
            site = "s1"
            rig = "r1"
            [broker]
            username = "u"
            password = "broker-secret"
            [[miner.pools]]
            url = "stratum+tcp://pool:3333"
            user = "wallet.w"
            pass = "pool-secret"
            "#,
        )
        .expect("config");
        let shown = redacted(&cfg);
        let text = toml::to_string(&shown).expect("toml");
        assert!(!text.contains("secret"), "{text}");
        assert_eq!(shown.broker.username.as_deref(), Some("u"));
        assert_eq!(shown.miner.pools[0].user, "wallet.w");
        cfg.miner.pools[0].pass = "(redacted)".into();
        cfg.broker.password = Some("(redacted)".into());
        assert_eq!(shown, cfg, "nothing else changes");
    }

    /// What the miner mines, with which kernel and priority, or where the hardware is read
    /// restarts it; limits and tuning settings reach the running one.
    #[test]
    fn only_what_the_engine_or_pool_client_holds_restarts_the_miner() {
        let base: Config = toml::from_str(
            "site = \"s\"\nrig = \"r\"\n[[miner.pools]]\nurl = \"stratum+tcp://p:3333\"\nuser = \"w\"\n",
        )
        .expect("config");
        let with = |f: &dyn Fn(&mut Config)| {
            let mut c = base.clone();
            f(&mut c);
            c
        };
        let restarts = [
            with(&|c| c.miner.enabled = Some(false)),
            with(&|c| c.miner.algo = crate::miner::hash::Algo::Scrypt),
            with(&|c| c.miner.pools[0].user = "w2".into()),
            with(&|c| c.miner.kernel = Some("scalar".into())),
            with(&|c| c.miner.priority = crate::miner::engine::Priority::Idle),
            with(&|c| c.tune.hardware_root = "/elsewhere".into()),
        ];
        for new in &restarts {
            assert!(miner_service::needs_restart(&base, new), "{new:?}");
        }
        let reconfigures = [
            with(&|c| c.miner.mining_threads = Some(2)),
            with(&|c| c.miner.simd_batch_size = 8),
            with(&|c| c.miner.cpus = vec![0, 1]),
            with(&|c| c.tune.thermal_soft_limit_c = 70.0),
            with(&|c| c.tune.max_batch_size = 16),
            with(&|c| c.tune.auto_tune_enabled = false),
        ];
        for new in &reconfigures {
            assert!(!miner_service::needs_restart(&base, new), "{new:?}");
        }
    }
}
