//! libFuzzer target: the JSON model announcement on `fleet/models`.
#![no_main]
use hashward_protocol::models::ModelAnnouncement;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(ann) = ModelAnnouncement::from_payload(bytes) else { return };
    let again = ann.to_payload().expect("re-encodes");
    assert_eq!(ModelAnnouncement::from_payload(&again).expect("decodes"), ann);
});
