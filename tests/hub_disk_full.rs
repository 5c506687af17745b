//! Full disks. The hub's store on a small tmpfs filled to the last page while records arrive
//! through a real mosquitto: the hub must not acknowledge what it could not commit, must not
//! crash, must say so in its log and in `/metrics` (`hashward_hub_store_errors_total`), and once
//! space returns (the filler deleted) must store everything, once. Mounting needs root; without
//! it the test skips with the reason, unless `HASHWARD_REQUIRE_TMPFS=1`.
//!
//! And the agent's spool cap: an agent with no broker and the smallest cap keeps producing; the
//! spool drops only its oldest records, counts them, and keeps the newest contiguous.

#[path = "support/publisher.rs"]
mod publisher;
mod support;

use publisher::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::*;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).map_err(|e| format!("mkdir {}: {e}", at.display()))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the filesystem refuses (ENOSPC); returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).expect("filler");
    let chunk = vec![0x5Au8; 16 * 1024];
    let mut written = 0u64;
    // Bounded: a tmpfs of a few MiB fills in a few hundred chunks.
    for _ in 0..100_000 {
        match f.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    // A partial page may still be free; a byte at a time takes the rest.
    for _ in 0..16 * 1024 {
        if !matches!(f.write(&[0]), Ok(1)) {
            break;
        }
        written += 1;
    }
    let _ = f.sync_all();
    written
}

#[test]
fn hub_on_a_full_disk_acks_nothing_and_resumes_when_space_returns() {
    let Some(bin) = mosquitto_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    // support::hub keeps its store in DIR/hub: that directory is the small disk.
    let fs = match Tmpfs::mount(&dir.path().join("hub"), "16m") {
        Ok(fs) => fs,
        Err(why) => {
            assert!(
                std::env::var("HASHWARD_REQUIRE_TMPFS").as_deref() != Ok("1"),
                "a tmpfs is required (HASHWARD_REQUIRE_TMPFS=1) but: {why}"
            );
            eprintln!("NOTICE: skipping the hub disk-full test: {why} (needs root)");
            return;
        }
    };
    let (mqtt, http) = (free_port(), free_port());
    let mut broker = Mosquitto::new(bin, dir.path(), mqtt, "");
    broker.start();
    let mut hub = hub(dir.path(), http, Some(mqtt), 0);
    wait_for_ingest(http);

    let rig = "disk-rig";
    let t0 = hashward_common::now_ms();
    let msgs = |seqs: std::ops::RangeInclusive<u64>| -> Vec<(String, Vec<u8>)> {
        seqs.map(|q| (tele_topic("s", rig), tele(rig, q, t0 + q * 1000)))
            .collect()
    };
    publish_all(mqtt, "disk-pub-1", &msgs(1..=200));
    assert!(
        wait_until(Duration::from_secs(20), || hub_seqs(http, rig).len() == 200),
        "the hub did not store the first records"
    );

    let filler = fs.0.join("filler");
    let filled = fill(&filler);
    assert!(filled > 0, "nothing could be written to the tmpfs");
    const TOTAL: u64 = 3_000;
    publish_all(mqtt, "disk-pub-2", &msgs(201..=TOTAL));
    // Several failed attempts: the hub keeps retrying the same batch and stays up.
    let errors = || metric(http, "hashward_hub_store_errors_total").unwrap_or(0);
    let ok = wait_until(Duration::from_secs(30), || errors() >= 3);
    let log = || std::fs::read_to_string(dir.path().join("hub.log")).unwrap_or_default();
    assert!(ok, "no store errors counted on a full disk; hub log:\n{}", log());
    assert!(
        matches!(hub.child.try_wait(), Ok(None)),
        "hub exited on a full disk:\n{}",
        log()
    );
    assert!(
        log().contains("store write failed, batch left unacknowledged"),
        "no clear error in the log:\n{}",
        log()
    );
    let held = hub_seqs(http, rig).len() as u64;
    assert!(
        held < TOTAL,
        "every record fitted: the disk was not full (held {held})"
    );

    std::fs::remove_file(&filler).expect("remove filler");
    let ok = wait_until(Duration::from_secs(40), || {
        hub_seqs(http, rig).len() as u64 >= TOTAL
    });
    let (missing, doubles) = gaps_and_doubles(hub_seqs(http, rig), TOTAL);
    assert!(
        ok && missing.is_empty() && doubles.is_empty(),
        "after space returned: {} missing (first {:?}), {} doubled; hub log:\n{}",
        missing.len(),
        &missing[..missing.len().min(10)],
        doubles.len(),
        log()
    );
    assert_eq!(metric(http, "hashward_hub_gaps"), Some(0));
    eprintln!(
        "hub_disk_full: filler {filled} bytes, {} store errors, {held} of {TOTAL} held while full, all {TOTAL} after",
        errors()
    );
    hub.stop(Duration::from_secs(10));
    broker.stop();
    drop(fs);
}

#[test]
fn agent_spool_cap_drops_only_the_oldest_and_counts_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No broker listens on this port: everything the agent produces stays in its spool.
    let dead = free_port();
    let spec = agent_spec(dir.path(), "site", "capped", dead, 100);
    let mut text = std::fs::read_to_string(&spec.config).expect("config");
    text.push_str("[spool]\nmax_bytes = 65536\n");
    std::fs::write(&spec.config, text).expect("config");

    // Nearly full before the agent starts (its own records are small; filling the smallest cap
    // with them alone would take a minute): these oldest records must be the first to go.
    let spool_path = spec.dir.join("data/spool.redb");
    std::fs::create_dir_all(spec.dir.join("data")).expect("mkdir");
    let filler = {
        let spool = hashward_agent::link::Spool::open(&spool_path, 65536).expect("spool");
        for _ in 0..58 {
            spool
                .append(|_| Ok(("hashward/v1/site/capped/tele".to_string(), vec![0u8; 1000])))
                .expect("append");
        }
        spool.stats().expect("stats").last_seq
    };

    let mut a = agent(&spec);
    let ok = wait_until(Duration::from_secs(40), || {
        agent_log(&spec).matches("spool full").count() >= 5
    });
    assert!(
        ok,
        "the spool never reached its cap; agent log:\n{}",
        agent_log(&spec)
    );
    a.stop(Duration::from_secs(15));

    let spool = hashward_agent::link::Spool::open(&spool_path, 65536).expect("spool");
    let st = spool.stats().expect("stats");
    let kept: Vec<u64> = spool
        .read_after(0, 1_000_000)
        .expect("read")
        .iter()
        .map(|r| r.seq)
        .collect();
    assert!(st.dropped >= 5, "fewer drops than the log reported: {st:?}");
    assert!(st.last_seq > filler, "the agent produced nothing: {st:?}");
    assert!(st.bytes <= 65536, "spool over its cap: {st:?}");
    assert_eq!(
        st.dropped + st.records,
        st.last_seq,
        "every record produced is either kept or counted as dropped: {st:?}"
    );
    let newest: Vec<u64> = (st.dropped + 1..=st.last_seq).collect();
    assert_eq!(
        kept, newest,
        "the spool must keep the newest records, contiguous: {st:?}"
    );
    eprintln!(
        "agent spool cap: {} produced, {} dropped (oldest), {} kept in {} bytes",
        st.last_seq, st.dropped, st.records, st.bytes
    );
}
