//! `hashward-hub broker-acl`: turns a rigs file (`site/rig [password]` a line) into a mosquitto
//! ACL file and, optionally, a mosquitto password file, so that on a shared broker each rig can
//! only publish its own uplink topics and only read its own, its site's and the fleet's
//! config/command/hint/model topics. Whoever can publish a rig's config can redirect its
//! hashrate, so the ACL is generated from one validated list, never edited by hand.
//!
//! Users are rig ids (fleet-unique, and valid mosquitto user names by construction), plus the
//! hub user and an optional read-only dashboard user. Rules are per user with the site written
//! out, rather than one `pattern ... %u` rule: a `+` for the site in a pattern would let a rig
//! publish under any site's tree.
//!
//! Passwords are hashed the way mosquitto 2 stores them (`$7$`: PBKDF2-HMAC-SHA512, random
//! 12-byte salt, base64), so `mosquitto_passwd` is not needed. Must never: write a partial file
//! (files are replaced atomically), put a clear-text password in any output, or accept a rigs file
//! with a bad id, a duplicate rig or a user name that collides with the hub's.

use anyhow::Context;
use base64::Engine as _;
use hashward_protocol::{RigId, SiteId, TOPIC_PREFIX};
use rand::RngCore;
use std::fmt::Write as _;

use std::path::{Path, PathBuf};

/// mosquitto_passwd uses 101 iterations; more costs the broker ~1 ms per CONNECT and makes a
/// leaked password file much slower to brute-force.
pub const PBKDF2_ITERATIONS: u32 = 1000;
const SALT_LEN: usize = 12;
/// Length of the SHA-512 output mosquitto stores and compares.
const HASH_LEN: usize = 64;

#[derive(Debug, clap::Args)]
pub struct AclArgs {
    /// Rigs file: one `site/rig` a line, optionally followed by whitespace and the rig's broker
    /// password (everything to the end of the line). `#` starts a comment line.
    #[arg(long)]
    pub rigs: PathBuf,
    /// Where to write the ACL (mosquitto `acl_file`); standard output without it.
    #[arg(long)]
    pub acl_file: Option<PathBuf>,
    /// Also write a mosquitto `password_file` here (mode 0640). Every rig line then needs a
    /// password, and so do the hub user and the dashboard user.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// The hub's MQTT user: reads every rig's uplink, writes config, commands, hints, models and
    /// the dashboard topics.
    #[arg(long, default_value = "hashward-hub")]
    pub hub_user: String,
    /// The hub's password (for --password-file).
    #[arg(long, env = "HASHWARD_HUB_MQTT_PASSWORD", hide_env_values = true)]
    pub hub_password: Option<String>,
    /// Add a read-only user for dashboards (`hashward/json/#`, `homeassistant/#`).
    #[arg(long)]
    pub dashboard_user: Option<String>,
    /// The dashboard user's password (for --password-file).
    #[arg(long, env = "HASHWARD_DASHBOARD_MQTT_PASSWORD", hide_env_values = true)]
    pub dashboard_password: Option<String>,
    /// Add a user for Home Assistant: reads discovery and the JSON state, writes only
    /// `homeassistant/status` and the hub's control topics (`hashward/ha/...`), never a rig's
    /// command topic.
    #[arg(long)]
    pub ha_user: Option<String>,
    /// Home Assistant's password (for --password-file).
    #[arg(long, env = "HASHWARD_HA_MQTT_PASSWORD", hide_env_values = true)]
    pub ha_password: Option<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    #[error("line {line}: {why}")]
    Line { line: usize, why: String },
    #[error("line {line}: rig {rig:?} already listed on line {first}; rig ids are fleet-wide MQTT user names and must be unique")]
    Duplicate { line: usize, first: usize, rig: String },
    #[error(
        "line {line}: rig {rig:?} has the same name as the {role} user; it would get that user's rights"
    )]
    Collides {
        line: usize,
        rig: String,
        role: &'static str,
    },
    #[error("the rigs file lists no rig")]
    NoRigs,
    #[error("{role} user {name:?}: {why}")]
    BadUser {
        role: &'static str,
        name: String,
        why: String,
    },
    #[error("line {line}: rig {rig:?} has no password, and a password file was asked for")]
    RigPassword { line: usize, rig: String },
    #[error("a password file was asked for but the {role} user has no password ({hint})")]
    UserPassword { role: &'static str, hint: &'static str },
}

/// One validated line of the rigs file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RigEntry {
    /// 1-based line number, for error messages.
    pub line: usize,
    pub site: SiteId,
    pub rig: RigId,
    pub password: Option<String>,
}

/// The non-rig users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Users {
    pub hub: String,
    pub dashboard: Option<String>,
    /// Home Assistant's user (see [`Users::with_ha`]).
    pub ha: Option<String>,
}

impl Users {
    /// Checks the names: valid ids (so they are safe ACL user names) and distinct.
    pub fn new(hub: &str, dashboard: Option<&str>) -> Result<Users, AclError> {
        let check = |role, name: &str| {
            RigId::new(name).map(|_| ()).map_err(|e| AclError::BadUser {
                role,
                name: name.to_string(),
                why: e.to_string(),
            })
        };
        check("hub", hub)?;
        if let Some(d) = dashboard {
            check("dashboard", d)?;
            if d == hub {
                return Err(AclError::BadUser {
                    role: "dashboard",
                    name: d.to_string(),
                    why: "same as the hub user".into(),
                });
            }
        }
        Ok(Users {
            hub: hub.to_string(),
            dashboard: dashboard.map(str::to_string),
            ha: None,
        })
    }

    /// Adds Home Assistant's user: a valid id, distinct from the hub and dashboard users.
    pub fn with_ha(mut self, ha: Option<&str>) -> Result<Users, AclError> {
        if let Some(h) = ha {
            let bad = |why: String| AclError::BadUser {
                role: "home assistant",
                name: h.to_string(),
                why,
            };
            RigId::new(h).map_err(|e| bad(e.to_string()))?;
            if h == self.hub || self.dashboard.as_deref() == Some(h) {
                return Err(bad("same as the hub or dashboard user".into()));
            }
        }
        self.ha = ha.map(str::to_string);
        Ok(self)
    }
}

/// Parses and validates a rigs file: every problem names its line.
pub fn parse_rigs(text: &str, users: &Users) -> Result<Vec<RigEntry>, AclError> {
    let mut out: Vec<RigEntry> = Vec::new();
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let bad = |why: String| AclError::Line { line, why };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (id, password) = match trimmed.split_once(char::is_whitespace) {
            Some((id, pw)) => (id, Some(pw.trim().to_string())),
            None => (trimmed, None),
        };
        if let Some(pw) = &password {
            if pw.chars().any(char::is_control) {
                return Err(bad("password contains a control character".into()));
            }
        }
        let (site, rig) = id
            .split_once('/')
            .ok_or_else(|| bad(format!("expected site/rig, got {id:?}")))?;
        let site = SiteId::new(site).map_err(|e| bad(format!("site: {e}")))?;
        let rig = RigId::new(rig).map_err(|e| bad(format!("rig: {e}")))?;
        if site.as_str() == "fleet" {
            return Err(bad("site \"fleet\" is reserved for fleet-wide topics".into()));
        }
        for (role, name) in [
            ("hub", Some(&users.hub)),
            ("dashboard", users.dashboard.as_ref()),
            ("home assistant", users.ha.as_ref()),
        ] {
            if name.is_some_and(|n| n == rig.as_str()) {
                return Err(AclError::Collides {
                    line,
                    rig: rig.to_string(),
                    role,
                });
            }
        }
        if let Some(&first) = seen.get(rig.as_str()) {
            return Err(AclError::Duplicate {
                line,
                first,
                rig: rig.to_string(),
            });
        }
        seen.insert(rig.to_string(), line);
        out.push(RigEntry {
            line,
            site,
            rig,
            password,
        });
    }
    if out.is_empty() {
        return Err(AclError::NoRigs);
    }
    Ok(out)
}

/// The mosquitto ACL text. Anonymous clients and users not named here get nothing.
pub fn acl_text(rigs: &[RigEntry], users: &Users) -> String {
    let p = TOPIC_PREFIX;
    let json = hashward_protocol::topic::JSON_PREFIX;
    let mut s = String::new();
    // Infallible: writing to a String.
    let mut w = |line: String| {
        let _ = writeln!(s, "{line}");
    };
    w("# Generated by `hashward-hub broker-acl`; regenerate rather than edit.".into());
    w(format!(
        "# {} rigs. Anonymous clients and users not listed here get no access.",
        rigs.len()
    ));
    w(String::new());
    w("# The hub: reads all rig uplink, writes config, commands, hints, models, dashboards.".into());
    w(format!("user {}", users.hub));
    w(format!("topic read {p}/#"));
    // `+` in the site level also covers `fleet/cfg`.
    w(format!("topic write {p}/+/cfg"));
    w(format!("topic write {p}/+/+/cfg"));
    w(format!("topic write {p}/+/+/cmd"));
    w(format!("topic write {p}/fleet/hints"));
    w(format!("topic write {p}/fleet/models"));
    w(format!("topic readwrite {json}/#"));
    w("topic readwrite homeassistant/#".into());
    w(format!("topic read {}/#", crate::ha::discovery::HA_PREFIX));
    if let Some(d) = &users.dashboard {
        w(String::new());
        w("# Dashboards: read-only JSON summaries and Home Assistant discovery.".into());
        w(format!("user {d}"));
        w(format!("topic read {json}/#"));
        w("topic read homeassistant/#".into());
    }
    if let Some(h) = &users.ha {
        let ha = crate::ha::discovery::HA_PREFIX;
        w(String::new());
        w("# Home Assistant: reads discovery and state; writes its birth message and the hub's".into());
        w("# control topics only (the hub signs what it asks for). Never a rig's cmd topic.".into());
        w(format!("user {h}"));
        w(format!("topic read {json}/#"));
        w("topic read homeassistant/#".into());
        w("topic write homeassistant/status".into());
        w(format!("topic write {ha}/+/+/pause"));
        w(format!("topic write {ha}/+/+/resume"));
        w(format!("topic write {ha}/+/+/asic/+/power_target"));
    }
    for r in rigs {
        w(String::new());
        w(format!("# {}/{}", r.site, r.rig));
        w(format!("user {}", r.rig));
        // Topic levels write a dotted id encoded; agents from before the encoding publish it
        // raw, so a dotted id gets both forms.
        let raw = (r.site.to_string(), r.rig.to_string());
        let encoded = (
            r.site.topic_level().into_owned(),
            r.rig.topic_level().into_owned(),
        );
        let forms = if raw == encoded {
            vec![raw]
        } else {
            vec![encoded, raw]
        };
        for (site, rig) in &forms {
            for leaf in hashward_protocol::topic::UPLINK_LEAVES {
                w(format!("topic write {p}/{site}/{rig}/{leaf}"));
            }
            w(format!("topic read {p}/{site}/{rig}/cfg"));
            w(format!("topic read {p}/{site}/{rig}/cmd"));
            w(format!("topic read {p}/{site}/cfg"));
        }
        w(format!("topic read {p}/fleet/cfg"));
        w(format!("topic read {p}/fleet/hints"));
        w(format!("topic read {p}/fleet/models"));
    }
    s
}

/// One mosquitto 2 password-file line: `user:$7$iterations$base64(salt)$base64(hash)`.
pub fn password_line(user: &str, password: &str, salt: &[u8], iterations: u32) -> String {
    let mut hash = [0u8; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password.as_bytes(), salt, iterations, &mut hash);
    let b64 = base64::engine::general_purpose::STANDARD;
    format!("{user}:$7${iterations}${}${}", b64.encode(salt), b64.encode(hash))
}

/// The password file for every rig and user, with fresh random salts.
pub fn password_text(
    rigs: &[RigEntry],
    users: &Users,
    hub_password: Option<&str>,
    dashboard_password: Option<&str>,
    rng: &mut impl RngCore,
) -> Result<String, AclError> {
    let mut lines = Vec::with_capacity(rigs.len() + 2);
    let mut add = |user: &str, pw: &str| {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        lines.push(password_line(user, pw, &salt, PBKDF2_ITERATIONS));
    };
    let hub_pw = hub_password
        .filter(|p| !p.is_empty())
        .ok_or(AclError::UserPassword {
            role: "hub",
            hint: "--hub-password or HASHWARD_HUB_MQTT_PASSWORD",
        })?;
    add(&users.hub, hub_pw);
    if let Some(d) = &users.dashboard {
        let pw = dashboard_password
            .filter(|p| !p.is_empty())
            .ok_or(AclError::UserPassword {
                role: "dashboard",
                hint: "--dashboard-password or HASHWARD_DASHBOARD_MQTT_PASSWORD",
            })?;
        add(d, pw);
    }
    for r in rigs {
        let pw = r.password.as_deref().ok_or_else(|| AclError::RigPassword {
            line: r.line,
            rig: r.rig.to_string(),
        })?;
        add(r.rig.as_str(), pw);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    Ok(text)
}

/// Home Assistant's password-file line (empty without an HA user).
fn ha_password_line(users: &Users, password: Option<&str>) -> Result<String, AclError> {
    let Some(h) = &users.ha else {
        return Ok(String::new());
    };
    let pw = password.filter(|p| !p.is_empty()).ok_or(AclError::UserPassword {
        role: "home assistant",
        hint: "--ha-password or HASHWARD_HA_MQTT_PASSWORD",
    })?;
    let mut salt = [0u8; SALT_LEN];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    Ok(password_line(h, pw, &salt, PBKDF2_ITERATIONS) + "\n")
}

/// Temp file + fsync + rename + directory fsync, so mosquitto (re)loading on SIGHUP never
/// reads half a file.
fn write_atomic(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    hashward_common::durable::write_atomic_mode(path, text.as_bytes(), mode)
        .with_context(|| format!("writing {}", path.display()))
}

/// The `broker-acl` subcommand.
pub fn main(args: AclArgs) -> anyhow::Result<()> {
    let users =
        Users::new(&args.hub_user, args.dashboard_user.as_deref())?.with_ha(args.ha_user.as_deref())?;
    let text = std::fs::read_to_string(&args.rigs)
        .with_context(|| format!("reading rigs file {}", args.rigs.display()))?;
    let rigs = parse_rigs(&text, &users).with_context(|| format!("rigs file {}", args.rigs.display()))?;
    // Passwords first: a missing one must fail before any file is replaced.
    let passwords = match &args.password_file {
        Some(_) => Some(
            password_text(
                &rigs,
                &users,
                args.hub_password.as_deref(),
                args.dashboard_password.as_deref(),
                &mut rand::rngs::OsRng,
            )
            .with_context(|| format!("rigs file {}", args.rigs.display()))?
                + &ha_password_line(&users, args.ha_password.as_deref())?,
        ),
        None => None,
    };
    let acl = acl_text(&rigs, &users);
    match &args.acl_file {
        Some(path) => {
            write_atomic(path, &acl, 0o644)?;
            eprintln!("wrote {} ({} rigs)", path.display(), rigs.len());
        }
        None => print!("{acl}"),
    }
    if let (Some(path), Some(text)) = (&args.password_file, passwords) {
        // Group-readable so a broker running as group `mosquitto` can read it once chowned.
        write_atomic(path, &text, 0o640)?;
        eprintln!(
            "wrote {} (PBKDF2-SHA512; `chown root:mosquitto` it if the broker runs as mosquitto)",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Users {
        Users::new("hashward-hub", Some("dash")).expect("users")
    }

    #[test]
    fn home_assistant_gets_exactly_its_topics() {
        let users = users().with_ha(Some("ha")).expect("ha user");
        let rigs = parse_rigs("s1/r1\n", &users).expect("rigs");
        let acl = acl_text(&rigs, &users);
        let block: Vec<&str> = acl
            .split("\nuser ha\n")
            .nth(1)
            .expect("ha block")
            .split("\n\n")
            .next()
            .expect("block")
            .lines()
            .collect();
        assert_eq!(
            block,
            [
                "topic read hashward/json/#",
                "topic read homeassistant/#",
                "topic write homeassistant/status",
                "topic write hashward/ha/+/+/pause",
                "topic write hashward/ha/+/+/resume",
                "topic write hashward/ha/+/+/asic/+/power_target",
            ]
        );
        assert!(acl.contains("user hashward-hub\n") && acl.contains("topic read hashward/ha/#"));
        assert!(users.clone().with_ha(Some("dash")).is_err());
        assert!(matches!(
            parse_rigs("s1/ha\n", &users),
            Err(AclError::Collides { .. })
        ));
        let line = ha_password_line(&users, Some("pw")).expect("line");
        assert!(line.starts_with("ha:$7$") && !line.contains("pw\n"));
        assert!(ha_password_line(&users, None).is_err());
    }

    #[test]
    fn parses_rigs_with_and_without_passwords() {
        let text = "# fleet\n\ns1/rig-a  secret one \ns2/rig-b\n";
        let rigs = parse_rigs(text, &users()).expect("valid");
        assert_eq!(rigs.len(), 2);
        assert_eq!((rigs[0].line, rigs[0].rig.as_str()), (3, "rig-a"));
        assert_eq!(rigs[0].password.as_deref(), Some("secret one"));
        assert_eq!((rigs[1].site.as_str(), rigs[1].password.as_deref()), ("s2", None));
    }

    #[test]
    fn bad_lines_are_named() {
        let cases: [(&str, &str); 8] = [
            ("s1/r1\nnoslash\n", "line 2: expected site/rig"),
            ("s1/r+1\n", "line 1: rig:"),
            ("s 1/r1\n", "line 1: expected site/rig"),
            ("/r1\n", "line 1: site: id is empty"),
            ("fleet/r1\n", "line 1: site \"fleet\" is reserved"),
            (
                "s1/r1\ns2/r2\ns3/r1\n",
                "line 3: rig \"r1\" already listed on line 1",
            ),
            ("s1/hashward-hub\n", "same name as the hub user"),
            ("# nothing\n\n", "lists no rig"),
        ];
        for (text, needle) in cases {
            let e = parse_rigs(text, &users()).expect_err(text).to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
        assert!(parse_rigs("s1/dash\n", &users()).is_err());
        assert!(Users::new("hub/x", None).is_err());
        assert!(Users::new("h", Some("h")).is_err());
    }

    #[test]
    fn each_rig_writes_only_its_own_uplink() {
        let rigs = parse_rigs("s1/r1\ns2/r2\n", &users()).expect("valid");
        let acl = acl_text(&rigs, &users());
        let block = |user: &str| -> Vec<String> {
            acl.split("\n\n")
                .find(|b| b.lines().any(|l| l == format!("user {user}")))
                .map(|b| {
                    b.lines()
                        .filter(|l| l.starts_with("topic"))
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        let r1 = block("r1");
        assert!(
            r1.contains(&"topic write hashward/v1/s1/r1/tele".to_string()),
            "{acl}"
        );
        assert!(r1.contains(&"topic write hashward/v1/s1/r1/asic/+".to_string()));
        assert!(r1.contains(&"topic write hashward/v1/s1/r1/score".to_string()));
        assert!(r1.contains(&"topic read hashward/v1/s1/cfg".to_string()));
        assert!(r1.contains(&"topic read hashward/v1/fleet/cfg".to_string()));
        // Nothing of r1's mentions another rig or site, and it writes no cfg/cmd or wildcard.
        assert!(
            r1.iter().all(|l| !l.contains("r2") && !l.contains("/s2/")),
            "{r1:?}"
        );
        assert!(r1
            .iter()
            .filter(|l| l.starts_with("topic write"))
            .all(|l| !l.ends_with("/cfg") && !l.ends_with("/cmd") && !l.contains('#')));
        let dash = block("dash");
        assert!(dash.iter().all(|l| l.starts_with("topic read ")), "{dash:?}");
        let hub = block("hashward-hub");
        assert!(hub.contains(&"topic write hashward/v1/+/+/cmd".to_string()));
        assert!(hub
            .iter()
            .all(|l| !l.starts_with("topic write hashward/v1/+/+/tele")));
    }

    #[test]
    fn password_lines_are_mosquitto_pbkdf2_sha512() {
        // PBKDF2-HMAC-SHA512 test vector (password "password", salt "salt", 1 iteration).
        let line = password_line("u", "password", b"salt", 1);
        let b64 = base64::engine::general_purpose::STANDARD;
        let hash = b64.encode(
            hex_bytes(
                "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252\
                 c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce",
            )
            .as_slice(),
        );
        assert_eq!(line, format!("u:$7$1${}${hash}", b64.encode(b"salt")));
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
            .collect()
    }

    #[test]
    fn password_file_needs_every_password() {
        let mut rng = rand::thread_rng();
        let rigs = parse_rigs("s1/r1 pw1\ns1/r2\n", &users()).expect("valid");
        let e = password_text(&rigs, &users(), Some("h"), Some("d"), &mut rng).expect_err("r2");
        assert_eq!(
            e,
            AclError::RigPassword {
                line: 2,
                rig: "r2".into()
            }
        );
        let rigs = parse_rigs("s1/r1 pw1\n", &users()).expect("valid");
        let e = password_text(&rigs, &users(), None, Some("d"), &mut rng).expect_err("hub");
        assert!(e.to_string().contains("HASHWARD_HUB_MQTT_PASSWORD"), "{e}");
        let text = password_text(&rigs, &users(), Some("h"), Some("d"), &mut rng).expect("ok");
        let users_in: Vec<&str> = text.lines().filter_map(|l| l.split(':').next()).collect();
        assert_eq!(users_in, ["hashward-hub", "dash", "r1"]);
        assert!(!text.contains("pw1"), "no clear text");
        assert!(text.lines().all(|l| l.contains(":$7$1000$")));
    }
}
