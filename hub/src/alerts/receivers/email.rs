//! E-mail over SMTP (lettre, rustls with ring): `starttls` (587) upgrades a plain connection and
//! refuses to go on without TLS, `tls` (465) speaks TLS from the first byte, `none` (25) is for
//! a relay on the same host and never carries a password. One message per notification, plain
//! text, the title as the subject.
//!
//! Must never log the password. A server's 5xx is a permanent refusal; 4xx, a refused
//! connection or a timeout is tried again.

use super::{required, SendError};
use crate::alerts::config::{ReceiverConfig, Secret};
use crate::alerts::model::Notification;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    StartTls,
    Tls,
    None,
}

#[derive(Debug, Clone)]
pub struct Email {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub credentials: Option<(String, Secret)>,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    /// PEM of the CA certificates trusted instead of the webpki roots.
    pub ca_pem: Option<Vec<u8>>,
}

impl Email {
    pub(super) fn build(c: &ReceiverConfig) -> Result<Email, (&'static str, String)> {
        let host = required("smtp_host", &c.smtp_host).map_err(|p| ("smtp_host", p))?;
        let security = match c.security.as_deref().unwrap_or("starttls") {
            "starttls" => Security::StartTls,
            "tls" => Security::Tls,
            "none" => Security::None,
            other => return Err(("security", format!("{other:?} is not starttls, tls or none"))),
        };
        let port = c.smtp_port.unwrap_or(match security {
            Security::StartTls => 587,
            Security::Tls => 465,
            Security::None => 25,
        });
        let password = c.password.as_ref().filter(|p| !p.expose().is_empty());
        let credentials = match (&c.username, password) {
            (Some(u), Some(p)) if !u.is_empty() => Some((u.clone(), p.clone())),
            (None, None) => None,
            (_, None) => return Err(("password", "missing (a username needs a password)".into())),
            _ => return Err(("username", "missing (a password needs a username)".into())),
        };
        if credentials.is_some() && security == Security::None {
            return Err((
                "security",
                "\"none\" would send the password in clear text".into(),
            ));
        }
        let from = required("from", &c.from).map_err(|p| ("from", p))?;
        let from: Mailbox = from.parse().map_err(|e| ("from", format!("{from:?}: {e}")))?;
        if c.to.is_empty() {
            return Err(("to", "missing (no recipient)".into()));
        }
        let mut to = Vec::new();
        for t in &c.to {
            to.push(t.parse::<Mailbox>().map_err(|e| ("to", format!("{t:?}: {e}")))?);
        }
        let ca_pem = match &c.ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| ("ca_file", format!("{}: {e}", path.display())))?;
                Certificate::from_pem(&pem).map_err(|e| ("ca_file", format!("{}: {e}", path.display())))?;
                Some(pem)
            }
            None => None,
        };
        Ok(Email {
            host: host.to_string(),
            port,
            security,
            credentials,
            from,
            to,
            ca_pem,
        })
    }

    fn transport(&self, timeout: Duration) -> Result<SmtpTransport, SendError> {
        let tls = |wrap: fn(TlsParameters) -> Tls| -> Result<Tls, SendError> {
            let mut b = TlsParameters::builder(self.host.clone());
            if let Some(pem) = &self.ca_pem {
                let cert =
                    Certificate::from_pem(pem).map_err(|e| SendError::Permanent(format!("ca_file: {e}")))?;
                b = b
                    .certificate_store(lettre::transport::smtp::client::CertificateStore::None)
                    .add_root_certificate(cert);
            }
            let params = b
                .build_rustls()
                .map_err(|e| SendError::Permanent(format!("TLS setup: {e}")))?;
            Ok(wrap(params))
        };
        let tls = match self.security {
            Security::StartTls => tls(Tls::Required)?,
            Security::Tls => tls(Tls::Wrapper)?,
            Security::None => Tls::None,
        };
        let mut b = SmtpTransport::builder_dangerous(self.host.clone())
            .port(self.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some((user, pass)) = &self.credentials {
            b = b.credentials(Credentials::new(user.clone(), pass.expose().to_string()));
        }
        Ok(b.build())
    }

    pub fn send(&self, n: &Notification, timeout: Duration) -> Result<(), SendError> {
        let mut m = Message::builder()
            .from(self.from.clone())
            .subject(n.title.clone());
        for t in &self.to {
            m = m.to(t.clone());
        }
        let message = m
            .header(ContentType::TEXT_PLAIN)
            .body(n.text.clone())
            .map_err(|e| SendError::Permanent(format!("building the message: {e}")))?;
        let secrets: Vec<&Secret> = self.credentials.iter().map(|(_, p)| p).collect();
        match self.transport(timeout)?.send(&message) {
            Ok(_) => Ok(()),
            Err(e) => {
                let why = super::redact(&e.to_string(), &secrets);
                if e.is_permanent() {
                    Err(SendError::Permanent(why))
                } else {
                    Err(SendError::Transient(why))
                }
            }
        }
    }
}
