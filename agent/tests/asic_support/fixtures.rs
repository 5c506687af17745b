//! Fixture replies (see `tests/data/asic/`), compiled in so the benchmark example can serve them too.

pub const VNISH_126_SUMMARY: &str = include_str!("../data/asic/vnish_126_summary.json");
pub const VNISH_126_INFO: &str = include_str!("../data/asic/vnish_126_info.json");
pub const VNISH_120_SUMMARY: &str = include_str!("../data/asic/vnish_120_summary.json");
/// Firmware before `hr_measure` existed: `/info` without it.
pub const VNISH_120_INFO: &str = r#"{"miner":"Antminer S19","fw_name":"Vnish","fw_version":"1.2.0-beta10"}"#;
pub const VNISH_HYDRO_SUMMARY: &str = include_str!("../data/asic/vnish_hydro_summary.json");
pub const VNISH_HYDRO_INFO: &str = include_str!("../data/asic/vnish_hydro_info.json");
pub const VNISH_SETTINGS: &str = include_str!("../data/asic/vnish_126_settings.json");
pub const VNISH_PRESETS: &str = include_str!("../data/asic/vnish_126_presets.json");
pub const VNISH_STATUS: &str = include_str!("../data/asic/vnish_126_status.json");

pub const CGMINER_S19_SUMMARY: &str = include_str!("../data/asic/cgminer_s19_summary.json");
pub const CGMINER_S19_STATS: &str = include_str!("../data/asic/cgminer_s19_stats.json");
pub const CGMINER_S19_POOLS: &str = include_str!("../data/asic/cgminer_s19_pools.json");
pub const CGMINER_S9_SUMMARY: &str = include_str!("../data/asic/cgminer_s9_summary.json");
/// Carries bmminer's real `}{` bug between STATS entries.
pub const CGMINER_S9_STATS: &str = include_str!("../data/asic/cgminer_s9_stats.json");
pub const CGMINER_L7_SUMMARY: &str = include_str!("../data/asic/cgminer_l7_summary.json");
/// Keys say `GHS 5s`, `rate_unit` says MH/s (scrypt).
pub const CGMINER_L7_STATS: &str = include_str!("../data/asic/cgminer_l7_stats.json");

pub const ANTMINER_STATS: &str = include_str!("../data/asic/antminer_stats.json");
pub const ANTMINER_SUMMARY: &str = include_str!("../data/asic/antminer_summary.json");
pub const ANTMINER_POOLS: &str = include_str!("../data/asic/antminer_pools.json");
