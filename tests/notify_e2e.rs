//! Alerts that reach a person, end to end with real servers on loopback: a real SMTP server
//! (aiosmtpd, STARTTLS and AUTH, trusting a CA made here), a webhook endpoint, and fakes of the
//! Telegram Bot API and ntfy speaking their request shapes. The agents' alerts arrive as agents
//! publish them (envelopes on `hashward/v1/{site}/{rig}/alert` over MQTT into the hub).
//!
//! Shown: a thermal runaway on three rigs of one site is ONE grouped critical message per
//! receiver, then an escalation of the unacknowledged alerts, then one resolved message; a
//! silence suppresses a planned maintenance; the SMTP server down delays but loses no mail,
//! across a hub killed and restarted; a receiver answering 4xx is reported, not retried; a site
//! going dark is one `site_offline` message (its rigs' `rig_offline` inhibited) and a rig back
//! within its grace period is none; bad receiver config stops the start naming the key.

#[path = "support/notify.rs"]
mod notify;
#[path = "support/receivers.rs"]
mod receivers;
mod support;

use notify::*;
use receivers::*;
use serde_json::{json, Value};
use std::time::Duration;
use support::*;

const BOT_TOKEN: &str = "777001:AAE-secret-bot-token";
const HMAC_KEY: &str = "webhook-signing-secret";

#[test]
fn a_thermal_runaway_is_one_message_per_receiver_then_escalated_then_resolved() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (hook, pager, tg, push) = (
        FakeHttp::webhook(),
        FakeHttp::webhook(),
        FakeHttp::telegram(BOT_TOKEN),
        FakeHttp::ntfy(),
    );
    let (ca, cert, key) = smtp_certs(dir.path());
    let smtp_port = free_port();
    let smtpd = Smtpd::start(dir.path(), smtp_port, &cert, &key, SMTP_USER, SMTP_PASSWORD);
    let config = format!(
        "[notify]\ntick_ms = 100\n\
         [[notify.receivers]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}/hashward\"\nsecret = \"{HMAC_KEY}\"\n\
         [[notify.receivers]]\nname = \"pager\"\ntype = \"webhook\"\nurl = \"{}/page\"\n\
         [[notify.receivers]]\nname = \"tg\"\ntype = \"telegram\"\napi_base = \"{}\"\nbot_token = \"{BOT_TOKEN}\"\nchat_id = \"-10042\"\n\
         [[notify.receivers]]\nname = \"push\"\ntype = \"ntfy\"\nurl = \"{}\"\ntopic = \"rigs\"\n{}\
         [[notify.routes]]\nlevels = [\"critical\"]\nreceivers = [\"hook\", \"tg\", \"push\", \"mail\"]\n\
         group_by = [\"site\", \"kind\"]\ngroup_wait_ms = 2000\ngroup_interval_ms = 500\nrepeat_interval_ms = 3600000\n\
         escalate_to = [\"pager\"]\nescalate_after_ms = 2000\n\
         [notify.delivery]\nretry_min_ms = 100\nretry_max_ms = 1000\ntimeout_ms = 5000\n",
        hook.url(),
        pager.url(),
        tg.url(),
        push.url(),
        email_receiver(smtp_port, &ca),
    );
    let cfg = write_config(dir.path(), &config);
    let (mqtt, http) = (free_port(), free_port());
    let mut hub = hub_with(
        dir.path(),
        http,
        None,
        mqtt,
        &["--config", cfg.to_str().expect("utf8")],
    );
    wait_for_http(http);

    // Three rigs of site "lab" overheat, each alerting twice as its temperature climbs.
    let mut msgs = Vec::new();
    for rig in ["rack1-a", "rack1-b", "rack1-c"] {
        msgs.push((topic("lab", rig, "state"), birth(rig)));
    }
    for (i, rig) in ["rack1-a", "rack1-b", "rack1-c"].iter().enumerate() {
        msgs.push((topic("lab", rig, "alert"), alert(rig, 1, 96 + i as u32)));
        msgs.push((topic("lab", rig, "alert"), alert(rig, 2, 99 + i as u32)));
    }
    publish(mqtt, &msgs);
    let all_told = wait_until(Duration::from_secs(30), || {
        !by_status(&hook.requests(), "firing").is_empty()
            && !tg.requests().is_empty()
            && !push.requests().is_empty()
            && !smtpd.messages().is_empty()
    });
    assert!(
        all_told,
        "not every receiver was told; hub log:\n{}",
        hub_log(dir.path())
    );

    // ONE grouped message each, naming the three rigs.
    let firing = by_status(&hook.requests(), "firing");
    assert_eq!(firing.len(), 1, "{firing:?}");
    let m = &firing[0];
    assert_eq!(
        (m["level"].as_str(), m["receiver"].as_str()),
        (Some("critical"), Some("hook"))
    );
    assert_eq!(m["alerts"].as_array().map(Vec::len), Some(3), "{m}");
    assert!(m["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .all(|a| a["count"] == 2 && a["subject"]["site"] == "lab"));
    let req = &hook.requests()[0];
    let sig = req.header("x-hashward-signature").expect("signed");
    assert_eq!(
        sig,
        format!("sha256={}", hmac_sha256_hex(HMAC_KEY.as_bytes(), &req.body))
    );
    assert_eq!(tg.requests().len(), 1);
    let t = tg.requests()[0].json();
    assert_eq!(t["chat_id"], "-10042");
    assert!(
        t["text"]
            .as_str()
            .is_some_and(|s| s.contains("[CRITICAL]") && s.contains("rack1-c")),
        "{t}"
    );
    assert_eq!(push.requests().len(), 1);
    let p = &push.requests()[0];
    assert_eq!((p.path.as_str(), p.header("priority")), ("/rigs", Some("5")));
    assert!(
        p.header("title").is_some_and(|t| t.contains("3 firing")),
        "{:?}",
        p.headers
    );
    let mails = smtpd.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(
        (mails[0]["tls"].as_bool(), mails[0]["login"].as_bool()),
        (Some(true), Some(true)),
        "STARTTLS and AUTH"
    );
    assert!(
        mails[0]["data"]
            .as_str()
            .is_some_and(|d| d.contains("Subject: [CRITICAL] overheat: 3 firing")),
        "{}",
        mails[0]
    );

    // Nobody acknowledges: the pager gets one escalation with the three alerts.
    let escalated = wait_until(Duration::from_secs(20), || !pager.requests().is_empty());
    assert!(escalated, "no escalation; hub log:\n{}", hub_log(dir.path()));
    let e = pager.requests()[0].json();
    assert_eq!(
        (e["status"].as_str(), e["alerts"].as_array().map(Vec::len)),
        (Some("escalation"), Some(3)),
        "{e}"
    );
    let open = alerts(http, "kind=overheat&site=lab&state=firing");
    assert_eq!(open.len(), 3);
    for a in &open {
        let (status, body) = post(
            &format!("http://127.0.0.1:{http}/alerts/{}/ack", a["id"]),
            json!({"by": "alice"}),
        );
        assert_eq!(
            (status, body["state"].as_str()),
            (200, Some("acknowledged")),
            "{body}"
        );
    }
    assert_eq!(alerts(http, "state=acknowledged&site=lab").len(), 3);

    // The racks cool down: a low score per rig resolves its alert; one resolved message each.
    let cool: Vec<(String, Vec<u8>)> = ["rack1-a", "rack1-b", "rack1-c"]
        .iter()
        .map(|rig| (topic("lab", rig, "score"), low_score(rig, 3)))
        .collect();
    publish(mqtt, &cool);
    let resolved = wait_until(Duration::from_secs(20), || {
        !by_status(&hook.requests(), "resolved").is_empty()
            && tg.requests().len() >= 2
            && push.requests().len() >= 2
            && smtpd.messages().len() >= 2
    });
    assert!(
        resolved,
        "no resolved message everywhere; hub log:\n{}",
        hub_log(dir.path())
    );
    let r = by_status(&hook.requests(), "resolved");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["alerts"].as_array().map(Vec::len), Some(3));
    assert!(tg.requests()[1].json()["text"]
        .as_str()
        .is_some_and(|s| s.starts_with("[RESOLVED]")));
    assert_eq!(push.requests()[1].header("tags"), Some("white_check_mark"));
    assert!(smtpd.messages()[1]["data"]
        .as_str()
        .is_some_and(|d| d.contains("Subject: [RESOLVED]")));
    assert_eq!(alerts(http, "state=resolved&site=lab").len(), 3);

    // A planned maintenance on site "dc2": silenced, nobody told. An alert on another site
    // raised after it is told, so the silenced one had its chance to be sent first.
    let (status, s) = post(
        &format!("http://127.0.0.1:{http}/silences"),
        json!({"matchers": {"site": "dc2"}, "duration_ms": 600000, "created_by": "bob", "comment": "planned maintenance"}),
    );
    assert_eq!(status, 201, "{s}");
    publish(
        mqtt,
        &[(topic("dc2", "rack9-a", "alert"), alert("rack9-a", 1, 97))],
    );
    let silenced = wait_until(Duration::from_secs(10), || {
        alerts(http, "site=dc2")
            .first()
            .is_some_and(|a| a["state"] == "silenced")
    });
    assert!(silenced, "{:?}", alerts(http, "site=dc2"));
    publish(
        mqtt,
        &[(topic("lab2", "rack2-a", "alert"), alert("rack2-a", 1, 97))],
    );
    let later = wait_until(Duration::from_secs(20), || {
        by_status(&hook.requests(), "firing")
            .iter()
            .any(|m| m["group"].as_str().is_some_and(|g| g.contains("lab2")))
    });
    assert!(later, "the alert after the silence was not sent");
    let everything: String = hook
        .requests()
        .iter()
        .map(Request::text)
        .chain(tg.requests().iter().map(Request::text))
        .collect();
    assert!(
        !everything.contains("dc2"),
        "the silenced maintenance was notified"
    );
    let silences = get_json(&format!("http://127.0.0.1:{http}/silences")).expect("silences");
    assert_eq!(silences["silences"][0]["active"], true);
    assert_eq!(silences["silences"][0]["comment"], "planned maintenance");

    // A test message on demand; an unknown receiver is a 404.
    let (status, _) = post(
        &format!("http://127.0.0.1:{http}/notifications/test/tg"),
        json!({}),
    );
    assert_eq!(status, 202);
    assert!(wait_until(Duration::from_secs(10), || tg.requests().iter().any(
        |r| r.json()["text"].as_str().is_some_and(|t| t.starts_with("[TEST]"))
    )));
    assert_eq!(
        post(
            &format!("http://127.0.0.1:{http}/notifications/test/nope"),
            json!({})
        )
        .0,
        404
    );

    // Counted per receiver; no secret in the log or the API.
    // (The fake records a request before the hub has its answer: poll for the count.)
    let counted = wait_until(Duration::from_secs(10), || {
        metric_line(http, "hashward_hub_notifications_sent_total{receiver=\"hook\"}") == Some(3)
            && metric_line(http, "hashward_hub_notifications_sent_total{receiver=\"mail\"}") == Some(3)
    });
    let metrics = get_text(&format!("http://127.0.0.1:{http}/metrics")).expect("metrics");
    assert!(counted, "{metrics}");

    assert!(
        metrics.contains("hashward_hub_notifications_failed_total{receiver=\"mail\"} 0"),
        "{metrics}"
    );
    let api = get_text(&format!("http://127.0.0.1:{http}/notifications")).expect("outbox");
    let log = hub_log(dir.path());
    for secret in [BOT_TOKEN, HMAC_KEY, SMTP_PASSWORD] {
        assert!(!log.contains(secret) && !api.contains(secret), "{secret} leaked");
    }
    hub.stop(Duration::from_secs(10));
}

#[test]
fn the_smtp_server_down_delays_but_loses_no_mail_across_a_hub_restart() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = smtp_certs(dir.path());
    let smtp_port = free_port();
    let config = format!(
        "[notify]\ntick_ms = 100\n{}\
         [[notify.routes]]\nreceivers = [\"mail\"]\ngroup_wait_ms = 200\n\
         [notify.delivery]\nretry_min_ms = 200\nretry_max_ms = 1000\ntimeout_ms = 3000\n",
        email_receiver(smtp_port, &ca)
    );
    let cfg = write_config(dir.path(), &config);
    let cfg_arg = ["--config", cfg.to_str().expect("utf8")];
    let (mqtt, http) = (free_port(), free_port());
    let mut hub = hub_with(dir.path(), http, None, mqtt, &cfg_arg);
    wait_for_http(http);
    publish(
        mqtt,
        &[(topic("lab", "rack1-a", "alert"), alert("rack1-a", 1, 97))],
    );
    // Queued, tried, failing: the server is not there.
    let retrying = wait_until(Duration::from_secs(20), || {
        get_json(&format!("http://127.0.0.1:{http}/notifications"))
            .and_then(|v| v["notifications"].as_array().cloned())
            .is_some_and(|n| {
                n.iter()
                    .any(|e| e["status"] == "queued" && e["attempts"].as_u64() >= Some(2))
            })
    });
    assert!(
        retrying,
        "no failing attempt recorded; hub log:\n{}",
        hub_log(dir.path())
    );
    assert!(metric_line(http, "hashward_hub_notifications_queued{receiver=\"mail\"}") == Some(1));
    // The hub dies without warning, and comes back; then the mail server does.
    hub.kill9();
    let mut hub = hub_with(dir.path(), http, None, mqtt, &cfg_arg);
    wait_for_http(http);
    let smtpd = Smtpd::start(dir.path(), smtp_port, &cert, &key, SMTP_USER, SMTP_PASSWORD);
    let delivered = wait_until(Duration::from_secs(30), || !smtpd.messages().is_empty());
    assert!(
        delivered,
        "the queued mail was lost; hub log:\n{}",
        hub_log(dir.path())
    );
    let mails = smtpd.messages();
    assert_eq!(mails.len(), 1, "sent once");
    assert!(mails[0]["data"].as_str().is_some_and(|d| d.contains("rack1-a")));
    let sent = get_json(&format!("http://127.0.0.1:{http}/notifications")).expect("outbox");
    assert_eq!(sent["notifications"][0]["status"], "sent", "{sent}");
    hub.stop(Duration::from_secs(10));
}

#[test]
fn a_receiver_answering_4xx_is_reported_and_not_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = FakeHttp::webhook();
    hook.force_status.store(403, std::sync::atomic::Ordering::SeqCst);
    let config = format!(
        "[notify]\ntick_ms = 100\n[[notify.receivers]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}/x\"\n\
         [[notify.routes]]\nreceivers = [\"hook\"]\ngroup_wait_ms = 100\n\
         [notify.delivery]\nretry_min_ms = 100\nretry_max_ms = 200\n",
        hook.url()
    );
    let cfg = write_config(dir.path(), &config);
    let (mqtt, http) = (free_port(), free_port());
    let mut hub = hub_with(
        dir.path(),
        http,
        None,
        mqtt,
        &["--config", cfg.to_str().expect("utf8")],
    );
    wait_for_http(http);
    publish(
        mqtt,
        &[(topic("lab", "rack1-a", "alert"), alert("rack1-a", 1, 97))],
    );
    let failed = wait_until(Duration::from_secs(20), || {
        metric_line(http, "hashward_hub_notifications_failed_total{receiver=\"hook\"}") == Some(1)
    });
    assert!(failed, "hub log:\n{}", hub_log(dir.path()));
    let outbox = get_json(&format!("http://127.0.0.1:{http}/notifications")).expect("outbox");
    let e = &outbox["notifications"][0];
    assert_eq!(
        (e["status"].as_str(), e["attempts"].as_u64()),
        (Some("failed"), Some(1)),
        "{e}"
    );
    assert!(
        e["last_error"].as_str().is_some_and(|s| s.contains("HTTP 403")),
        "{e}"
    );
    // A later message still goes out (the receiver is not blocked), and the refused one was
    // asked once only.
    hook.force_status.store(0, std::sync::atomic::Ordering::SeqCst);
    let (status, _) = post(
        &format!("http://127.0.0.1:{http}/notifications/test/hook"),
        json!({}),
    );
    assert_eq!(status, 202);
    assert!(wait_until(Duration::from_secs(10), || hook.requests().len() == 2));
    assert_eq!(by_status(&hook.requests(), "firing").len(), 1);
    assert!(hub_log(dir.path()).contains("failed for good"));
    // Bad requests are named, not 500s.
    let bad = ureq::get(&format!("http://127.0.0.1:{http}/alerts?state=burning"))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .expect("get");
    assert_eq!(bad.status().as_u16(), 400);
    let (status, body) = post(&format!("http://127.0.0.1:{http}/alerts/999/ack"), json!({}));
    assert_eq!((status, body["alert"].as_u64()), (404, Some(999)), "{body}");
    let (status, body) = post(
        &format!("http://127.0.0.1:{http}/silences"),
        json!({"matchers": {}, "duration_ms": 1000}),
    );
    assert_eq!(
        (status, body["parameter"].as_str()),
        (400, Some("matchers")),
        "{body}"
    );
    hub.stop(Duration::from_secs(10));
}

#[test]
fn a_site_going_dark_is_one_site_offline_message_and_a_blip_is_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = FakeHttp::webhook();
    let config = format!(
        "[notify]\ntick_ms = 100\n[[notify.receivers]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}/x\"\n\
         [[notify.routes]]\nreceivers = [\"hook\"]\ngroup_wait_ms = 300\ngroup_interval_ms = 300\n\
         [notify.sources]\nrig_offline_grace_ms = 1500\nsite_offline_min_rigs = 2\n",
        hook.url()
    );
    let cfg = write_config(dir.path(), &config);
    let (mqtt, http) = (free_port(), free_port());
    let mut hub = hub_with(
        dir.path(),
        http,
        None,
        mqtt,
        &["--config", cfg.to_str().expect("utf8")],
    );
    wait_for_http(http);
    let rigs = [("dc3", "d1"), ("dc3", "d2"), ("lab", "l1"), ("lab", "l2")];
    let births: Vec<_> = rigs
        .iter()
        .map(|(s, r)| (topic(s, r, "state"), birth(r)))
        .collect();
    publish(mqtt, &births);
    // l1 drops and is back within the grace period: nobody is told.
    publish(
        mqtt,
        &[
            (topic("lab", "l1", "state"), state("l1", false)),
            (topic("lab", "l1", "state"), state("l1", true)),
        ],
    );
    // Every rig of dc3 goes dark: one site_offline, its rigs' rig_offline inhibited.
    publish(
        mqtt,
        &[
            (topic("dc3", "d1", "state"), state("d1", false)),
            (topic("dc3", "d2", "state"), state("d2", false)),
        ],
    );
    let site = wait_until(Duration::from_secs(20), || {
        hook.requests()
            .iter()
            .any(|r| r.json()["alerts"][0]["kind"] == "site_offline")
    });
    assert!(site, "no site_offline; hub log:\n{}", hub_log(dir.path()));
    let inhibited = wait_until(Duration::from_secs(20), || {
        let a = alerts(http, "kind=rig_offline&site=dc3");
        a.len() == 2
            && a.iter().all(|a| {
                a["state"] == "silenced"
                    && a["silenced_by"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("inhibited_by:"))
            })
    });
    assert!(inhibited, "{:?}", alerts(http, "kind=rig_offline"));
    // l2 drops for good: its rig_offline is sent after the grace period, and is the only one.
    publish(mqtt, &[(topic("lab", "l2", "state"), state("l2", false))]);
    let l2 = wait_until(Duration::from_secs(20), || {
        hook.requests()
            .iter()
            .any(|r| r.json()["alerts"][0]["kind"] == "rig_offline")
    });
    assert!(l2, "no rig_offline for l2; hub log:\n{}", hub_log(dir.path()));
    let offline: Vec<Value> = hook
        .requests()
        .iter()
        .map(Request::json)
        .filter(|m| m["alerts"][0]["kind"] == "rig_offline")
        .collect();
    assert_eq!(offline.len(), 1, "{offline:?}");
    assert_eq!(offline[0]["alerts"].as_array().map(Vec::len), Some(1));
    assert_eq!(offline[0]["alerts"][0]["subject"]["rig"], "l2");
    let site_msgs = hook
        .requests()
        .iter()
        .filter(|r| r.json()["alerts"][0]["kind"] == "site_offline")
        .count();
    assert_eq!(site_msgs, 1);
    hub.stop(Duration::from_secs(10));
}

#[test]
fn bad_receiver_config_is_refused_at_start_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("[[notify.receivers]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"hooks.example.net/x\"\n", "notify.receivers[0].url"),
        ("[[notify.receivers]]\nname = \"tg\"\ntype = \"telegram\"\nchat_id = \"1\"\n", "notify.receivers[0].bot_token"),
        (
            "[[notify.receivers]]\nname = \"m\"\ntype = \"email\"\nsmtp_host = \"smtp.example.net\"\nusername = \"u\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\n",
            "notify.receivers[0].password",
        ),
    ];
    for (text, key) in cases {
        let cfg = write_config(dir.path(), &format!("[notify]\n{text}"));
        let http = format!("127.0.0.1:{}", free_port());
        let mqtt = format!("127.0.0.1:{}", free_port());
        let data = dir.path().join("data");
        let (ok, _, err) = cli(&[
            "hub",
            "serve",
            "--config",
            cfg.to_str().expect("utf8"),
            "--http",
            &http,
            "--mqtt-listen",
            &mqtt,
            "--data-dir",
            data.to_str().expect("utf8"),
        ]);
        assert!(!ok, "started with {text}");
        assert!(err.contains(key), "{key} not named in: {err}");
    }
}
