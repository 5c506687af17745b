//! A real PostgreSQL for tests: finds the Debian server binaries
//! (`/usr/lib/postgresql/*/bin/{initdb,pg_ctl}`), makes a cluster in a temporary directory and
//! starts it on a free loopback port with its unix socket in that directory, then stops it
//! (immediate) when dropped. Postgres refuses to run as root, and CI runs as root: then the
//! directory is given to the `postgres` user and every server command runs through
//! `runuser -u postgres --`.
//!
//! Standalone on purpose (no `support` module needed): include it with
//! `#[path = ".../tests/support/postgres.rs"] mod postgres;`. Never touches a system service.
//! Without the binaries a test skips with the reason printed, unless
//! `HASHWARD_REQUIRE_POSTGRES=1` (CI), where that is a failure.

#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

/// The user every connection logs in as (trust authentication, loopback only).
pub const USER: &str = "hashward";

/// The newest installed server's bin directory, if any.
fn server_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn required() -> bool {
    std::env::var("HASHWARD_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Postgres {
    /// A running server, or `None` (printed why) when PostgreSQL is not installed and not
    /// required.
    pub fn start() -> Option<Postgres> {
        let Some(bin) = server_bin() else {
            let why = "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin \
                       (apt-get install postgresql)";
            if required() {
                panic!("HASHWARD_REQUIRE_POSTGRES=1 but {why}");
            }
            eprintln!("skipping: {why}");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("hashward-pg")
            .tempdir()
            .expect("tempdir");
        let as_postgres = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown")
                .success();
            assert!(ok, "chown of the test cluster's directory to postgres failed");
        }
        let pg = Postgres {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        let data = pg.data_dir();
        pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().expect("utf-8 path"),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        pg.pg_ctl_start();
        Some(pg)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs a server binary (as `postgres` when we are root); panics with its output on failure.
    fn run(&self, tool: &str, args: &[&str]) -> String {
        self.try_run(tool, args).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_run(&self, tool: &str, args: &[&str]) -> Result<String, String> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running {tool}: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!("{tool} {args:?} failed: {text}"))
        }
    }

    fn pg_ctl_start(&self) {
        let data = self.data_dir();
        let log = self.dir.path().join("postgres.log");
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        // -w: returns once the server accepts connections (or fails, with the log below).
        let started = self.try_run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("utf-8 path"),
                "-l",
                log.to_str().expect("utf-8 path"),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        if let Err(e) = started {
            panic!(
                "postgres did not start: {e}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
    }

    /// `postgres://hashward@127.0.0.1:PORT/DB`
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database and returns its URL.
    pub fn create_db(&self, db: &str) -> String {
        let port = self.port.to_string();
        self.run("createdb", &["-h", "127.0.0.1", "-p", &port, "-U", USER, db]);
        self.url(db)
    }

    /// Stops the server at once (as a crash would), keeping its data.
    pub fn kill(&self) {
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("utf-8 path"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// Starts the server again on the same port and data.
    pub fn restart(&self) {
        self.pg_ctl_start();
    }

    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data_dir();
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        // Already stopped (a test killed it) is fine.
        let _ = cmd
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
