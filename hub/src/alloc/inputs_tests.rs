use super::*;
use crate::alloc::config::AllocationConfig;
use crate::alloc::service::ServiceState;
use hashward_econ::alloc::{decide, Verdict};

fn settings(extra: &str) -> Settings {
    let text = format!(
        "asic_presets_w = [2200, 3068, 3400]\n\
         [[pools]]\nname = \"ltc-a\"\ncoin = \"litecoin\"\nurl = \"stratum+tcp://a:1\"\nuser = \"w.{{rig}}\"\nfee_pct = 1.0\n\
         [[pools]]\nname = \"doge-b\"\ncoin = \"dogecoin\"\nurl = \"stratum+tcp://b:2\"\nuser = \"w.{{rig}}\"\n\
         [[pools]]\nname = \"btc-c\"\ncoin = \"bitcoin\"\nurl = \"stratum+tcp://c:3\"\nuser = \"w\"\n{extra}"
    );
    toml::from_str::<AllocationConfig>(&text)
        .expect("toml")
        .settings()
        .expect("valid")
}

fn net(difficulty: f64) -> NetworkState {
    NetworkState {
        difficulty,
        height: 870_000,
        fees_per_block_coin: 0.0,
        epoch_start_unix_s: None,
        tip_unix_s: None,
    }
}

fn observed() -> Observed {
    Observed {
        now_unix: 1_800_000_000,
        rigs: vec![ObservedRig {
            id: "cpu-1".into(),
            site: "home".into(),
            algo: "scrypt".into(),
            pool_url: Some("stratum+tcp://a:1".into()),
            paused: false,
            hashrate_ths: 2.0,
            power_w: 100.0,
        }],
        asics: vec![ObservedAsic {
            id: "ctl-1/s19".into(),
            site: "farm".into(),
            coin: Coin::Bitcoin,
            presets: true,
            hashrate_ths: 104.0,
            power_w: 3068.0,
        }],
        excluded: Vec::new(),
        tariffs: [("home".to_string(), Ok(0.1)), ("farm".to_string(), Ok(0.05))]
            .into_iter()
            .collect(),
        coins: [
            ("litecoin".to_string(), Ok((100.0, net(4.0e7)))),
            ("dogecoin".to_string(), Ok((0.2, net(2.0e7)))),
            ("bitcoin".to_string(), Ok((100_000.0, net(9.0e13)))),
        ]
        .into_iter()
        .collect(),
    }
}

fn hashprice(coin: Coin, price: f64, d: f64, fee: f64) -> f64 {
    hashward_econ::alloc::target::usd_per_th_day(coin, d, price, 870_000, 0.0, fee).expect("v")
}

#[test]
fn rigs_get_their_algorithms_pools_and_asics_their_presets_with_values() {
    let s = settings("[sites.farm]\npower_cap_kw = 2.5\n");
    let mut memory = BTreeMap::new();
    let b = build(&s, &observed(), &mut memory, &BTreeMap::new());
    let rig = b.inputs.rigs.iter().find(|r| r.id == "cpu-1").expect("rig");
    // Only the scrypt pools: the bitcoin pool needs another algorithm.
    let names: Vec<&str> = rig.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["ltc-a", "doge-b"]);
    assert_eq!(
        (
            rig.targets[0].units,
            rig.targets[0].power_w,
            rig.targets[0].restart_s
        ),
        (2.0, 100.0, 30.0)
    );
    assert_eq!(
        b.inputs.current["cpu-1"].target, "ltc-a",
        "its telemetry's pool URL"
    );
    // The pool's fee is in its series; the ASIC's coin series has none.
    let m = &b.inputs.market;
    assert!((m["pool:ltc-a"] - hashprice(Coin::Litecoin, 100.0, 4.0e7, 1.0)).abs() < 1e-12);
    assert!((m["pool:doge-b"] - hashprice(Coin::Dogecoin, 0.2, 2.0e7, 0.0)).abs() < 1e-12);
    assert!((m["coin:bitcoin"] - hashprice(Coin::Bitcoin, 100_000.0, 9.0e13, 0.0)).abs() < 1e-15);
    let asic = b.inputs.rigs.iter().find(|r| r.id == "ctl-1/s19").expect("asic");
    let presets: Vec<(&str, f64, f64)> = asic
        .targets
        .iter()
        .map(|t| (t.name.as_str(), t.power_w, t.units))
        .collect();
    assert_eq!(presets[0], ("2200w", 2200.0, 104.0 * 2200.0 / 3068.0));
    assert_eq!(presets[1], ("3068w", 3068.0, 104.0));
    assert_eq!(b.inputs.current["ctl-1/s19"].target, "3068w");
    assert_eq!(b.actions["ctl-1/s19"]["2200w"], Action::Preset(2200));
    assert_eq!(b.inputs.sites["farm"].power_cap_kw, Some(2.5));
    assert_eq!(b.inputs.sites["home"].tariff_usd_kwh, 0.1);
    assert_eq!(memory.get("cpu-1"), Some(&2.0));
}

#[test]
fn what_cannot_be_priced_or_moved_is_excluded_with_the_reason() {
    let s = settings("");
    let mut obs = observed();
    obs.rigs.push(ObservedRig {
        id: "cpu-2".into(),
        pool_url: Some("stratum+tcp://elsewhere:9".into()),
        ..obs.rigs[0].clone()
    });
    obs.rigs.push(ObservedRig {
        id: "cpu-3".into(),
        algo: "randomx".into(),
        ..obs.rigs[0].clone()
    });
    obs.rigs.push(ObservedRig {
        id: "cpu-4".into(),
        hashrate_ths: 0.0,
        ..obs.rigs[0].clone()
    });
    obs.tariffs.insert(
        "farm".into(),
        Err("no electricity tariff for site \"farm\"".into()),
    );
    obs.coins
        .insert("dogecoin".into(), Err("no price for dogecoin".into()));
    let b = build(&s, &obs, &mut BTreeMap::new(), &BTreeMap::new());
    let why = |id: &str| {
        b.excluded
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.reason.clone())
            .unwrap_or_default()
    };
    assert!(
        why("cpu-2").contains("not in [[allocation.pools]]"),
        "{}",
        why("cpu-2")
    );
    assert!(why("cpu-3").contains("mines randomx"), "{}", why("cpu-3"));
    assert!(why("cpu-4").contains("no hashrate"), "{}", why("cpu-4"));
    assert!(why("ctl-1/s19").contains("tariff"), "{}", why("ctl-1/s19"));
    assert!(
        !b.inputs.market.contains_key("pool:doge-b"),
        "a missing price is no value"
    );
    assert!(b.missing.iter().any(|m| m.contains("dogecoin")));
    assert_eq!(b.inputs.rigs.len(), 1);
}

#[test]
fn a_paused_rig_is_priced_with_its_last_hashrate_and_an_assumed_target_wins() {
    let s = settings("");
    let mut memory = BTreeMap::new();
    build(&s, &observed(), &mut memory, &BTreeMap::new());
    let mut obs = observed();
    obs.rigs[0].paused = true;
    obs.rigs[0].hashrate_ths = 0.0;
    let b = build(&s, &obs, &mut memory, &BTreeMap::new());
    assert_eq!(b.inputs.current["cpu-1"].target, PAUSE);
    assert_eq!(b.inputs.rigs[0].targets[0].units, 2.0, "the last hashrate seen");
    let assumed = BTreeMap::from([("cpu-1".to_string(), "doge-b".to_string())]);
    let b = build(&s, &obs, &mut memory, &assumed);
    assert_eq!(b.inputs.current["cpu-1"].target, "doge-b");
}

#[test]
fn the_built_inputs_drive_decide_and_the_state_round_trips() {
    // Dogecoin 3x as profitable per TH as the pool in use, a cap below the ASIC's draw.
    let s = settings(
        "[rebalance]\nmin_net_usd_h = 0.0\nrise_confirm_cycles = 1\n[sites.farm]\npower_cap_kw = 2.5\n",
    );
    let mut obs = observed();
    obs.tariffs.insert("home".into(), Ok(0.0));
    let ltc = hashprice(Coin::Litecoin, 100.0, 4.0e7, 1.0);
    let doge_price = 0.2 * 3.0 * ltc / hashprice(Coin::Dogecoin, 0.2, 2.0e7, 0.0);
    obs.coins.insert("dogecoin".into(), Ok((doge_price, net(2.0e7))));
    let mut st = ServiceState::default();
    let b = build(&s, &obs, &mut st.hashrate_ths, &BTreeMap::new());
    let d = decide(&b.inputs, &mut st.decide, &s.policy);
    assert_eq!(d.allocation["cpu-1"].target, "doge-b");
    assert_eq!(d.allocation["ctl-1/s19"].target, "2200w", "{:?}", d.sites["farm"]);
    assert_eq!(d.sites["farm"].verdict, Verdict::SwitchForCap);
    // The state as stored and read back decides the next cycle the same way.
    let json = serde_json::to_vec(&st).expect("encode");
    let mut back: ServiceState = serde_json::from_slice(&json).expect("decode");
    assert_eq!(back, st);
    let mut again = obs.clone();
    again.now_unix += 900;
    let b2 = build(&s, &again, &mut back.hashrate_ths, &BTreeMap::new());
    let mut st2 = st.clone();
    let d1 = decide(&b2.inputs, &mut st2.decide, &s.policy);
    let d2 = decide(&b2.inputs, &mut back.decide, &s.policy);
    assert_eq!(d1, d2);
    assert_eq!(st2.decide, back.decide);
}
