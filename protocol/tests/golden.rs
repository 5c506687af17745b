//! Golden byte vectors: they freeze the wire format. If one of these fails, a released type was
//! changed: put the change in a new variant instead. `HASHWARD_BLESS=1` writes missing files only;
//! an existing vector is never overwritten by the test.

use hashward_protocol::signed::{PayloadKind, Scope, SignedContent, SignedMessage};
use hashward_protocol::*;
use std::path::PathBuf;

fn rig() -> RigId {
    RigId::new("rig-01").expect("id")
}

fn samples() -> Vec<(&'static str, Envelope)> {
    let tele = RigTelemetry {
        uptime_s: 3600,
        load_1m: 1.5,
        load_5m: 1.25,
        load_15m: 1.0,
        cpu_usage_pct: 97.5,
        memory_used_bytes: 1 << 30,
        memory_total_bytes: 8 << 30,
        temperatures: vec![TempReading {
            label: "coretemp package".into(),
            celsius: Celsius(71.5),
        }],
        miner: Some(MinerTelemetry {
            algo: "sha256d".into(),
            kernel: "sha256d-avx512x16".into(),
            threads: 2,
            batch: 64,
            paused: false,
            hashrate_10s: Hashrate(60e6),
            hashrate_60s: Hashrate(59.5e6),
            hashrate_15m: Hashrate(59e6),
            pool: Some(PoolTelemetry {
                url: "stratum+tcp://pool.example:3333".into(),
                user: "wallet.rig01".into(),
                connected: true,
                difficulty: 16384.0,
                accepted: 120,
                rejected: 1,
                stale_dropped: 2,
                last_share_ts_ms: Some(1_790_000_000_000),
                latency_ms: Some(42),
            }),
            constraints: vec!["thermal: warm, 2 of 2 threads".into()],
        }),
        agent: AgentCounters {
            spool_records: 3,
            spool_bytes: 900,
            spool_dropped: 0,
            published: 1000,
            reconnects: 2,
            input_errors: 1,
        },
    };
    let asic = AsicTelemetry {
        miner_id: "s19-a".into(),
        ip_address: "10.0.0.21".into(),
        api: AsicApi::Vnish,
        reachable: true,
        model: Some("Antminer S19j Pro".into()),
        firmware_version: Some("1.2.6".into()),
        hashrate: AsicHashrate {
            total: Hashrate(104e12),
            average: Some(Hashrate(103.5e12)),
            nominal: Some(Hashrate(104e12)),
            per_hashboard: vec![BoardHashrate {
                board_id: 1,
                hashrate: Hashrate(34.7e12),
                ideal: Some(Hashrate(34.6e12)),
                frequency_mhz: Some(525.0),
                voltage_v: Some(13.8),
                chips: Some(126),
                status: "ok".into(),
            }],
        },
        temperature: AsicTemperature {
            ambient: Some(Celsius(24.0)),
            avg_chip: Some(Celsius(66.0)),
            max_chip: Some(Celsius(72.0)),
            inlet_water: None,
            outlet_water: None,
            per_hashboard: vec![BoardTemperature {
                board_id: 1,
                pcb_min: Some(Celsius(50.0)),
                pcb_max: Some(Celsius(58.0)),
                chip_min: Some(Celsius(62.0)),
                chip_max: Some(Celsius(72.0)),
            }],
        },
        power: AsicPower {
            consumption: Some(Watts(3068.0)),
            efficiency_j_th: Some(29.5),
            voltage_v: None,
        },
        fans: vec![Fan {
            fan_id: 1,
            rpm: Some(4320),
            speed_percent: Some(60.0),
            status: "ok".into(),
        }],
        pool: Some(AsicPool {
            url: "stratum+tcp://p:3333".into(),
            user: "w.s19".into(),
            status: "alive".into(),
        }),
        shares: Shares {
            accepted: 10,
            rejected: 0,
            stale: 1,
            last_share_ts_ms: None,
        },
        status: AsicStatus {
            mining_status: "mining".into(),
            uptime_s: Some(86_400),
            errors: vec![AsicError {
                code: "E1".into(),
                message: "fan slow".into(),
                severity: "low".into(),
            }],
        },
        config: AsicConfig {
            frequency_mhz: Some(525.0),
            overclock_profile: Some("3100W".into()),
            power_limit: None,
        },
        invalid: vec!["board 3 chip_temp -40".into()],
    };
    // Released as schema 1: a schema-2 build must still read these bytes as they are.
    let mut released = vec![
        (
            "state",
            Envelope::new(
                rig(),
                0,
                1_790_000_000_000,
                Body::State(RigState {
                    online: true,
                    boot: 4,
                    agent_version: "0.1.0".into(),
                    hardware: Some(Hardware {
                        cpu_model: "intel xeon".into(),
                        logical_cores: 2,
                        physical_cores: 1,
                        numa_nodes: 1,
                        memory_bytes: 24 << 30,
                        arch: "x86_64".into(),
                        os: "linux".into(),
                        hostname: "rig-01".into(),
                    }),
                    capabilities: vec![Capability::CpuMiner, Capability::SignedConfig],
                }),
            ),
        ),
        (
            "tele",
            Envelope::new(rig(), 17, 1_790_000_001_000, Body::Tele(tele)),
        ),
        (
            "asic",
            Envelope::new(rig(), 18, 1_790_000_002_000, Body::Asic(asic)),
        ),
        (
            "perf",
            Envelope::new(
                rig(),
                19,
                1_790_000_003_000,
                Body::Perf(TuningSnapshot {
                    cpu_model: "amd ryzen 9 5900x".into(),
                    logical_cores: 24,
                    physical_cores: 12,
                    pow_algo: "scrypt".into(),
                    profile: "balanced".into(),
                    threads: 12,
                    batch_size: 16,
                    numa_layout: "node0:24".into(),
                    avg_hashrate_hs: 280_000.0,
                    sample_count: 40,
                    client_version: "0.1.0".into(),
                }),
            ),
        ),
        (
            "alert",
            Envelope::new(
                rig(),
                20,
                1_790_000_004_000,
                Body::Alert(Alert {
                    subject: "s19-a".into(),
                    score: 0.93,
                    threat_type: ThreatType::FanFailure,
                    severity: Severity::Critical,
                    action: RecommendedAction {
                        action: "circuit_breaker".into(),
                        description: "Immediately freeze affected operations".into(),
                        auto_execute: true,
                    },
                    model_version: "sentinel_asic_v1.0.0_20261122_040000".into(),
                    message: "fan 2 at 0 rpm".into(),
                }),
            ),
        ),
        (
            "ack",
            Envelope::new(
                rig(),
                21,
                1_790_000_005_000,
                Body::Ack(Ack {
                    scope: "site:north".into(),
                    version: 3,
                    outcome: AckOutcome::Rejected(
                        "thermal.hard_limit_c 120 above the safe maximum 105".into(),
                    ),
                }),
            ),
        ),
    ];
    // A schema-2 build stamps them 1 still (the body's own schema), byte-for-byte as released.
    for (name, env) in &released {
        assert_eq!(env.schema, 1, "{name}");
    }
    released.push((
        "score",
        Envelope::new(
            rig(),
            22,
            1_790_000_006_000,
            Body::Score(Score {
                subject: "rig".into(),
                score: 0.12,
                threat_type: ThreatType::Overheat,
                severity: Severity::Low,
                model_version: "sentinel_rig_v1.0.0_20261122_040000".into(),
                sample_ts_ms: 1_790_000_005_500,
            }),
        ),
    ));
    // Schema 3: the power advice.
    let advice = PowerAdvice {
        asic_id: "s19-a".into(),
        model_version: "efficiency_asic_v1.0.0_20261122_040000".into(),
        current: OperatingPoint {
            frequency_mhz: 630.0,
            voltage_v: 14.2,
            expected_ths: 120.5,
            expected_w: 3900.0,
            j_per_th: 3900.0 / 120.5,
        },
        suggestion: Some(PowerSuggestion {
            target: OperatingPoint {
                frequency_mhz: 472.5,
                voltage_v: 12.5,
                expected_ths: 95.0,
                expected_w: 2650.0,
                j_per_th: 2650.0 / 95.0,
            },
            improvement_pct: 13.8,
            hashrate_change_ths: -25.5,
            power_savings_w: 1250.0,
            risk_level: RiskLevel::Low,
        }),
    };
    released.push((
        "advice",
        Envelope::new(rig(), 23, 1_790_000_007_000, Body::Advice(advice)),
    ));
    // Schema 4: a DePIN node's report, one that answered and one that did not.
    let storj = DepinReport {
        node: "storj-1".into(),
        kind: DepinKind::Storj,
        reachable: true,
        error_kind: None,
        error: None,
        poll_interval_s: 300,
        node_id: Some("12rfG3sh9NCWiX3ivPjq2HtdLmbqCrvHVEzJubnzFzosMuawymB".into()),
        version: Some("1.104.1".into()),
        uptime_s: Some(86_400),
        earnings: Some(DepinEarnings {
            period: EarningsPeriod::CurrentMonth,
            period_start_ms: 1_788_220_800_000,
            usd: Some(1.57),
            token_amount: None,
            token: None,
            estimated_period_usd: Some(3.12),
        }),
        earnings_unavailable: None,
        disk_used_bytes: Some(1_500_000_000_000),
        disk_available_bytes: Some(500_000_000_000),
        bandwidth_bytes: Some(80_000_000_000),
        cpu_share_pct: None,
        active_jobs: None,
    };
    released.push((
        "depin",
        Envelope::new(rig(), 24, 1_790_000_008_000, Body::Depin(storj)),
    ));
    let down = DepinReport {
        node: "golem".into(),
        kind: DepinKind::Golem,
        reachable: false,
        error_kind: Some("unreachable".into()),
        error: Some("cannot connect to 127.0.0.1:7465: connection refused".into()),
        poll_interval_s: 60,
        node_id: None,
        version: None,
        uptime_s: None,
        earnings: None,
        earnings_unavailable: Some("the node did not answer".into()),
        disk_used_bytes: None,
        disk_available_bytes: None,
        bandwidth_bytes: None,
        cpu_share_pct: None,
        active_jobs: None,
    };
    released.push((
        "depin_down",
        Envelope::new(rig(), 25, 1_790_000_009_000, Body::Depin(down)),
    ));
    assert_eq!(released.last().map(|(_, e)| e.schema), Some(4));
    // Schema 5: a tuning snapshot with its contribution id, on the same `perf` topic.
    released.push((
        "telem",
        Envelope::new(
            rig(),
            26,
            1_790_000_010_000,
            Body::Telem(TelemSnapshot {
                telemetry_id: TelemetryId::from_bytes(*b"0123456789abcdef"),
                snapshot: TuningSnapshot {
                    cpu_model: "amd ryzen 9 5900x".into(),
                    logical_cores: 24,
                    physical_cores: 12,
                    pow_algo: "scrypt".into(),
                    profile: "balanced".into(),
                    threads: 12,
                    batch_size: 16,
                    numa_layout: "node0:24".into(),
                    avg_hashrate_hs: 280_000.0,
                    sample_count: 40,
                    client_version: "0.1.0".into(),
                },
            }),
        ),
    ));
    assert_eq!(
        released.last().map(|(_, e)| (e.schema, e.body.kind())),
        Some((5, "perf"))
    );
    released
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.hex"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check(name: &str, bytes: &[u8]) {
    let path = golden_path(name);
    match std::fs::read_to_string(&path) {
        Ok(expected) => assert_eq!(
            hex(bytes),
            expected.trim(),
            "wire format of {name} changed: released variants are frozen"
        ),
        Err(_) if std::env::var_os("HASHWARD_BLESS").is_some() => {
            std::fs::write(&path, hex(bytes) + "\n").expect("write golden vector");
        }
        Err(e) => panic!(
            "missing golden vector {}: {e} (HASHWARD_BLESS=1 creates it)",
            path.display()
        ),
    }
}

#[test]
fn envelopes_match_golden_bytes_and_round_trip() {
    for (name, env) in samples() {
        let bytes = encode(&env).expect("encode");
        check(name, &bytes);
        assert_eq!(decode(&bytes).expect("decode"), env, "{name}");
    }
}

#[test]
fn signed_message_matches_golden_bytes() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let msg = SignedMessage::sign(
        SignedContent {
            kind: PayloadKind::Config,
            scope: Scope::Site(SiteId::new("north").expect("id")),
            version: 3,
            issued_ms: 1_790_000_000_000,
            expires_ms: None,
            payload: b"[miner]\nthreads = 2\n".to_vec(),
        },
        &key,
    )
    .expect("sign");
    let bytes = encode(&msg).expect("encode");
    check("signed_config", &bytes);
    let back: SignedMessage = codec::decode_value(&bytes).expect("decode");
    assert!(back.verify(&key.verifying_key()).is_ok());
}

#[test]
fn fleet_hints_match_golden_bytes() {
    let hints = FleetHints {
        generated_ms: 1_790_000_000_000,
        hints: vec![TuningHint {
            cpu_model: "amd ryzen 9 5900x".into(),
            logical_cores: 24,
            pow_algo: "sha256d".into(),
            profile: "balanced".into(),
            threads: 12,
            batch_size: 32,
            expected_hashrate_hs: 3.4e8,
            confidence: 0.82,
            rigs: 5,
        }],
    };
    let bytes = encode(&hints).expect("encode");
    check("fleet_hints", &bytes);
    let back: FleetHints = codec::decode_value(&bytes).expect("decode");
    assert_eq!(back, hints);
    assert!(back
        .find("amd ryzen 9 5900x", 24, "sha256d", "balanced")
        .is_some());
    assert!(back.find("amd ryzen 9 5900x", 24, "scrypt", "balanced").is_none());
}

#[test]
fn commands_match_golden_bytes_and_round_trip() {
    // The released commands are one byte each, their variant index: a change moves every byte.
    let released = [
        Command::RestartMiner,
        Command::PauseMining,
        Command::ResumeMining,
        Command::Retune,
        Command::RepollAsics,
        Command::Diagnostics,
    ];
    let bytes: Vec<u8> = released
        .iter()
        .flat_map(|c| postcard::to_stdvec(c).expect("encode"))
        .collect();
    check("commands", &bytes);
    let set = Command::SetPowerTarget {
        asic: "s19-a".into(),
        watts: 3250,
    };
    let bytes = postcard::to_stdvec(&set).expect("encode");
    check("set_power_target", &bytes);
    assert_eq!(postcard::from_bytes::<Command>(&bytes).expect("decode"), set);
}

#[test]
fn newer_schema_is_refused_by_number() {
    assert_eq!(SCHEMA, 5, "a schema bump needs a golden vector of what it added");
    let (_, mut env) = samples().remove(1);
    env.schema = SCHEMA + 1;
    let bytes = encode(&env).expect("encode");
    assert!(matches!(decode(&bytes), Err(DecodeError::UnknownSchema(s)) if s == SCHEMA + 1));
}
