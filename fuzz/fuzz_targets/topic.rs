//! libFuzzer target: the MQTT topic parser, the scope parser and broker URLs (all text).
#![no_main]
use hashward_protocol::signed::Scope;
use hashward_protocol::{BrokerAddr, Topic};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    if let Ok(t) = Topic::parse(text) {
        assert_eq!(Topic::parse(&t.to_string()).expect("printed topic parses"), t);
    }
    if let Ok(s) = text.parse::<Scope>() {
        assert_eq!(s.to_string().parse::<Scope>().expect("printed scope parses"), s);
    }
    if let Ok(a) = BrokerAddr::parse(text) {
        if !a.host.contains(':') {
            let scheme = if a.tls { "mqtts" } else { "mqtt" };
            let printed = format!("{scheme}://{}:{}", a.host, a.port);
            assert_eq!(BrokerAddr::parse(&printed).expect("printed address parses"), a);
        }
    }
});
