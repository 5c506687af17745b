//! The all-in-one's embedded broker (no TLS, no users, no ACL) listens on loopback only: the
//! listening socket the kernel reports is bound to 127.0.0.1, and any other address is refused
//! at start-up.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

/// Local addresses (hex, as in /proc/net/tcp*) of LISTEN sockets on `port`.
fn listeners(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st ...; st 0A = LISTEN
            let (Some(local), Some(state)) = (f.get(1), f.get(3)) else {
                continue;
            };
            let Some((addr, p)) = local.rsplit_once(':') else {
                continue;
            };
            if *state == "0A" && u16::from_str_radix(p, 16).ok() == Some(port) {
                out.push(addr.to_string());
            }
        }
    }
    out
}

#[test]
fn all_in_one_broker_listens_on_loopback_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mqtt, http) = (free_port(), free_port());
    let log = std::fs::File::create(dir.path().join("aio.log")).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_hashward"))
        .env("HASHWARD_NO_COLLECTORS", "1")
        .args(["--mqtt-listen", &format!("127.0.0.1:{mqtt}")])
        .args(["--http", &format!("127.0.0.1:{http}")])
        .current_dir(dir.path())
        .stdout(log.try_clone().expect("clone"))
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut p = Proc {
        child,
        name: "hashward".into(),
    };
    assert!(
        wait_until(Duration::from_secs(15), || port_open(mqtt)),
        "broker not up"
    );
    let found = listeners(mqtt);
    // 0100007F = 127.0.0.1 in /proc's little-endian hex.
    assert_eq!(
        found,
        ["0100007F"],
        "listening sockets on the broker port: {found:?}"
    );
    p.stop(Duration::from_secs(15));

    for addr in ["0.0.0.0", "[::]"] {
        let out = Command::new(env!("CARGO_BIN_EXE_hashward"))
            .args(["--mqtt-listen", &format!("{addr}:{}", free_port())])
            .args(["--http", &format!("127.0.0.1:{}", free_port())])
            .current_dir(dir.path())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("loopback only"),
            "{addr}: {err}"
        );
    }
}
