//! The `[asic]` section and the credentials file: validation names the bad key, the file is
//! refused unless it is mode 0600, and each miner gets the right credentials.

use hashward_agent::asic::client::AsicKind;
use hashward_agent::asic::config::{AsicSection, CredentialStore};
use hashward_agent::asic::error::ConfigError;
use hashward_agent::asic::target::Scheme;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

const EXAMPLE: &str = r#"
[asic]
credentials_file = "/etc/hashward/asic-credentials.toml"
max_concurrency = 16
request_timeout_ms = 4000
telemetry_interval_s = 60
telemetry_max_interval_s = 300
config_interval_s = 1200

[[asic.miners]]
id = "s19jpro-21"
ip = "192.0.2.21"
kind = "vnish"

[[asic.miners]]
id = "s9-old"
url = "tcp://192.0.2.30:4028"
kind = "cgminer"

[[asic.miners]]
id = "am-stock-3"
url = "http://192.0.2.33"
kind = "antminer"
credentials = "stock"

[[asic.miners]]
id = "unknown-7"
ip = "192.0.2.37"
"#;

fn parse(text: &str) -> Result<AsicSection, ConfigError> {
    AsicSection::from_toml(text, Path::new("agent.toml"))
}

#[test]
fn the_documented_example_parses() {
    let s = parse(EXAMPLE).expect("example");
    assert_eq!(s.miners.len(), 4);
    assert_eq!(s.miners[3].kind, AsicKind::Auto, "kind defaults to auto");
    let o = s.poller_options();
    assert_eq!(o.max_concurrency, 16);
    assert_eq!(o.request_timeout, Duration::from_millis(4000));
    assert_eq!(o.schedule.fast, Duration::from_secs(60));
    assert_eq!(o.schedule.slow, Duration::from_secs(300));
    assert_eq!(o.schedule.config_interval, Duration::from_secs(1200));
    let specs = s.asic_specs(&CredentialStore::default()).unwrap_err();
    assert!(specs.to_string().contains("no [stock]"), "{specs}");
}

#[test]
fn bad_sections_are_refused_naming_the_key() {
    let cases = [
        (
            EXAMPLE.replace("max_concurrency = 16", "max_concurrency = 0"),
            "max_concurrency",
        ),
        (
            EXAMPLE.replace("telemetry_max_interval_s = 300", "telemetry_max_interval_s = 30"),
            "telemetry_max_interval_s",
        ),
        (
            EXAMPLE.replace("id = \"s9-old\"", "id = \"s19jpro-21\""),
            "listed twice",
        ),
        (
            EXAMPLE.replace("id = \"s9-old\"", "id = \"s9 old/x\""),
            "miners[1].id",
        ),
        (
            EXAMPLE.replace(
                "ip = \"192.0.2.37\"",
                "ip = \"192.0.2.37\"\nurl = \"http://192.0.2.37\"",
            ),
            "exactly one of ip or url",
        ),
        (
            EXAMPLE.replace("url = \"tcp://192.0.2.30:4028\"", "url = \"https://192.0.2.30\""),
            "plain HTTP",
        ),
        (
            EXAMPLE.replace("kind = \"vnish\"", "kind = \"whatsminer\""),
            "unknown variant",
        ),
        (
            EXAMPLE.replace("max_concurrency", "max_concurency"),
            "unknown field",
        ),
    ];
    for (text, needle) in cases {
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains(needle), "want {needle:?} in: {e}");
    }
}

fn write_creds(mode: u32) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("tmp");
    write!(
        f,
        "[default]\npassword = \"admin\"\n\n[s19jpro-21]\napi_key = \"key-21\"\n\n[stock]\nusername = \"root\"\npassword = \"s3cret\"\n"
    )
    .expect("write");
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).expect("chmod");
    f
}

#[test]
fn credentials_file_must_be_0600() {
    for mode in [0o644, 0o640, 0o604, 0o666] {
        let f = write_creds(mode);
        match CredentialStore::load(f.path()) {
            Err(ConfigError::Permissions { mode: m, .. }) => assert_eq!(m, mode),
            other => panic!("mode {mode:o} accepted: {other:?}"),
        }
    }
    let f = write_creds(0o600);
    CredentialStore::load(f.path()).expect("0600 is fine");
    let f = write_creds(0o400);
    CredentialStore::load(f.path()).expect("0400 is stricter, fine");
    assert!(matches!(
        CredentialStore::load(Path::new("/nonexistent/creds.toml")),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn credential_errors_do_not_echo_secrets() {
    let mut f = tempfile::NamedTempFile::new().expect("tmp");
    write!(f, "[default]\npasword = \"hunter2\"\n").expect("write");
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let e = CredentialStore::load(f.path()).unwrap_err().to_string();
    assert!(e.contains("unknown field"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn each_miner_gets_its_named_or_own_or_default_credentials() {
    let f = write_creds(0o600);
    let store = CredentialStore::load(f.path()).expect("load");
    let s = parse(EXAMPLE).expect("example");
    let specs = s.asic_specs(&store).expect("specs");
    let by: std::collections::HashMap<_, _> = specs.iter().map(|s| (s.id.as_str(), s)).collect();
    assert_eq!(
        by["s19jpro-21"].credentials.api_key.as_deref(),
        Some("key-21"),
        "own table"
    );
    assert_eq!(
        by["am-stock-3"].credentials.password.as_deref(),
        Some("s3cret"),
        "named table"
    );
    assert_eq!(
        by["unknown-7"].credentials.password.as_deref(),
        Some("admin"),
        "default table"
    );
    assert_eq!(by["s9-old"].endpoint.scheme, Scheme::Tcp);
    assert_eq!(by["s9-old"].endpoint.port, Some(4028));
    assert!(
        !format!("{:?}", by["am-stock-3"]).contains("s3cret"),
        "Debug masks secrets"
    );
}
