//! sd_notify for hashward's daemons (`Type=notify`, `WatchdogSec=`): `READY=1`, `WATCHDOG=1`,
//! `STATUS=`, `STOPPING=1` datagrams to `$NOTIFY_SOCKET` (a path or an abstract `@name`) with
//! std's `UnixDatagram`, so static musl and armv7 builds need no libsystemd. Outside systemd
//! every call is a no-op.
//!
//! Must never: fail or block a daemon because systemd is absent or misconfigured. When to ping
//! is the caller's decision (only from its main loop, only while it makes progress).

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("NOTIFY_SOCKET {value:?}: {why}")]
    BadSocket { value: String, why: &'static str },
    #[error("sd_notify socket: {0}")]
    Socket(std::io::Error),
    #[error("sending {state:?} to NOTIFY_SOCKET {target}: {source}")]
    Send {
        state: String,
        target: String,
        source: std::io::Error,
    },
    #[error("WATCHDOG_USEC {0:?} is not a positive number of microseconds")]
    BadUsec(String),
    #[error("WATCHDOG_PID {0:?} is not a process id")]
    BadPid(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Path(PathBuf),
    /// Linux abstract namespace (`@name` in the variable), without the leading NUL.
    Abstract(Vec<u8>),
}

/// Sends sd_notify datagrams, or nothing when the agent is not run by systemd.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(Target, UnixDatagram)>,
}

impl Notifier {
    /// A notifier that sends nothing (not under systemd, or in tests).
    pub fn disabled() -> Notifier {
        Notifier { target: None }
    }

    /// From `$NOTIFY_SOCKET`; disabled when it is unset or empty.
    pub fn from_env() -> Result<Notifier, NotifyError> {
        match std::env::var_os("NOTIFY_SOCKET") {
            Some(v) if !v.is_empty() => match v.to_str() {
                Some(s) => Notifier::for_socket(s),
                None => Err(NotifyError::BadSocket {
                    value: v.to_string_lossy().into_owned(),
                    why: "not UTF-8",
                }),
            },
            _ => Ok(Notifier::disabled()),
        }
    }

    /// For a `NOTIFY_SOCKET` value: an absolute path, or `@name` for an abstract socket.
    pub fn for_socket(value: &str) -> Result<Notifier, NotifyError> {
        let bad = |why| NotifyError::BadSocket {
            value: value.to_string(),
            why,
        };
        let target = if let Some(name) = value.strip_prefix('@') {
            if name.is_empty() {
                return Err(bad("empty abstract socket name"));
            }
            if !cfg!(any(target_os = "linux", target_os = "android")) {
                return Err(bad("abstract sockets exist only on Linux"));
            }
            Target::Abstract(name.as_bytes().to_vec())
        } else if value.starts_with('/') {
            Target::Path(PathBuf::from(value))
        } else {
            // systemd also knows vsock: addresses; the agent only ever runs on the same host.
            return Err(bad("expected an absolute path or @abstract-name"));
        };
        let sock = UnixDatagram::unbound().map_err(NotifyError::Socket)?;
        Ok(Notifier {
            target: Some((target, sock)),
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends one notification (newline-separated `KEY=VALUE` assignments).
    pub fn notify(&self, state: &str) -> Result<(), NotifyError> {
        let Some((target, sock)) = &self.target else {
            return Ok(());
        };
        let sent = match target {
            Target::Path(p) => sock.send_to(state.as_bytes(), p),
            Target::Abstract(name) => send_abstract(sock, name, state.as_bytes()),
        };
        sent.map(|_| ()).map_err(|source| NotifyError::Send {
            state: state.to_string(),
            target: match target {
                Target::Path(p) => p.display().to_string(),
                Target::Abstract(n) => format!("@{}", String::from_utf8_lossy(n)),
            },
            source,
        })
    }

    pub fn ready(&self, status: &str) -> Result<(), NotifyError> {
        self.notify(&format!("READY=1\nSTATUS={}", one_line(status)))
    }

    pub fn watchdog(&self) -> Result<(), NotifyError> {
        self.notify("WATCHDOG=1")
    }

    pub fn status(&self, status: &str) -> Result<(), NotifyError> {
        self.notify(&format!("STATUS={}", one_line(status)))
    }

    pub fn stopping(&self) -> Result<(), NotifyError> {
        self.notify("STOPPING=1")
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_abstract(sock: &UnixDatagram, name: &[u8], msg: &[u8]) -> std::io::Result<usize> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    sock.send_to_addr(msg, &addr)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_abstract(_: &UnixDatagram, _: &[u8], _: &[u8]) -> std::io::Result<usize> {
    Err(std::io::Error::other("abstract sockets exist only on Linux"))
}

/// A STATUS= value is one line: a newline would start a new (bogus) assignment.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// How often to ping, from `WATCHDOG_USEC` / `WATCHDOG_PID` (half the timeout, as systemd
/// recommends). `None` when systemd asked for no watchdog, or asked another process
/// (`WATCHDOG_PID` not ours).
pub fn ping_interval(
    usec: Option<&str>,
    pid: Option<&str>,
    my_pid: u32,
) -> Result<Option<Duration>, NotifyError> {
    let Some(usec) = usec.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let micros: u64 = usec
        .parse()
        .ok()
        .filter(|&m| m > 0)
        .ok_or_else(|| NotifyError::BadUsec(usec.to_string()))?;
    if let Some(pid) = pid.map(str::trim).filter(|s| !s.is_empty()) {
        let pid: u32 = pid.parse().map_err(|_| NotifyError::BadPid(pid.to_string()))?;
        if pid != my_pid {
            return Ok(None);
        }
    }
    Ok(Some(Duration::from_micros(micros / 2)))
}

/// [`ping_interval`] from this process's environment.
pub fn ping_interval_from_env() -> Result<Option<Duration>, NotifyError> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    ping_interval(usec.as_deref(), pid.as_deref(), std::process::id())
}

/// For tests of crates that notify (built with the `test-support` feature, and in this
/// crate's own tests): a real datagram socket standing in for systemd's `NOTIFY_SOCKET`.
#[cfg(any(test, feature = "test-support"))]
pub mod test_support {
    use std::os::unix::net::UnixDatagram;
    use std::time::Duration;

    /// The socket, the temp dir holding it (keep it alive) and the `NOTIFY_SOCKET` value.
    pub fn systemd_stand_in() -> (tempfile::TempDir, UnixDatagram, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&path).expect("bind");
        sock.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let value = path.to_str().expect("utf8").to_string();
        (dir, sock, value)
    }

    /// The next datagram, or `None` after the read timeout (2 s) or when non-blocking and empty.
    pub fn recv(sock: &UnixDatagram) -> Option<String> {
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{recv, systemd_stand_in};
    use super::*;

    #[test]
    fn ping_interval_is_half_the_timeout_and_ours_only() {
        assert_eq!(ping_interval(None, None, 7).expect("ok"), None);
        assert_eq!(
            ping_interval(Some("30000000"), None, 7).expect("ok"),
            Some(Duration::from_secs(15))
        );
        assert_eq!(
            ping_interval(Some("30000000"), Some("7"), 7).expect("ok"),
            Some(Duration::from_secs(15))
        );
        assert_eq!(ping_interval(Some("30000000"), Some("8"), 7).expect("ok"), None);
        for bad in ["0", "-5", "x", "1.5"] {
            assert!(ping_interval(Some(bad), None, 7).is_err(), "{bad}");
        }
        assert!(ping_interval(Some("10"), Some("pid"), 7).is_err());
    }

    #[test]
    fn socket_values() {
        assert!(!Notifier::disabled().is_enabled());
        Notifier::disabled().watchdog().expect("no-op");
        assert!(Notifier::for_socket("/run/systemd/notify")
            .expect("path")
            .is_enabled());
        assert!(Notifier::for_socket("@sd-notify").expect("abstract").is_enabled());
        for bad in ["relative/path", "@", "vsock:2:1234"] {
            assert!(Notifier::for_socket(bad).is_err(), "{bad}");
        }
        assert_eq!(one_line("a\nb\r\tc"), "a b  c");
    }

    #[test]
    fn datagrams_reach_a_notify_socket() {
        let (_dir, sock, value) = systemd_stand_in();
        let n = Notifier::for_socket(&value).expect("notifier");
        n.ready("mining\nsha256d").expect("ready");
        assert_eq!(recv(&sock).as_deref(), Some("READY=1\nSTATUS=mining sha256d"));
        n.watchdog().expect("ping");
        assert_eq!(recv(&sock).as_deref(), Some("WATCHDOG=1"));
        n.status("link offline").expect("status");
        assert_eq!(recv(&sock).as_deref(), Some("STATUS=link offline"));
        n.stopping().expect("stopping");
        assert_eq!(recv(&sock).as_deref(), Some("STOPPING=1"));
        drop(sock);
        let e = n.watchdog().expect_err("nobody listening").to_string();
        assert!(e.contains("WATCHDOG=1") && e.contains("notify.sock"), "{e}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn datagrams_reach_an_abstract_notify_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!(
            "hashward-test-{}-{:?}",
            std::process::id(),
            std::time::Instant::now()
        );
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        let sock = UnixDatagram::bind_addr(&addr).expect("bind abstract");
        sock.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let n = Notifier::for_socket(&format!("@{name}")).expect("notifier");
        n.watchdog().expect("ping");
        assert_eq!(recv(&sock).as_deref(), Some("WATCHDOG=1"));
    }
}
