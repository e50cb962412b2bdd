//! The e-mail channel: one plain-text mail per message over SMTP — STARTTLS (required, not
//! opportunistic), implicit TLS, or plain for a relay on loopback or a trusted network — with
//! optional authentication. With private targets forbidden, the connection goes to the checked
//! public address while TLS still verifies the server's host name.

use std::time::Duration;

use app::notify::model::SmtpSettings;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub async fn send(smtp: &SmtpSettings, password: Option<&str>, subject: &str, body: &str, block_private: bool, timeout: Duration) -> Result<(), String> {
    let port = smtp.port.unwrap_or(587);
    let connect_to = if block_private { super::send::checked_address(&smtp.host, port).await?.ip().to_string() } else { smtp.host.clone() };
    let tls = || TlsParameters::new(smtp.host.clone()).map_err(|e| format!("TLS: {e}"));
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(connect_to).port(port).timeout(Some(timeout));
    transport = match smtp.security.as_deref().unwrap_or("starttls") {
        "tls" => transport.tls(Tls::Wrapper(tls()?)),
        "plain" => transport.tls(Tls::None),
        _ => transport.tls(Tls::Required(tls()?)),
    };
    if let (Some(user), Some(password)) = (&smtp.username, password) {
        transport = transport.credentials(Credentials::new(user.clone(), password.to_owned()));
    }
    let address = |a: &str| a.parse::<lettre::message::Mailbox>().map_err(|_| format!("not an e-mail address: {a}"));
    let mut mail = Message::builder().from(address(&smtp.from)?).subject(subject).header(ContentType::TEXT_PLAIN);
    for to in &smtp.to {
        mail = mail.to(address(to)?);
    }
    let mail = mail.body(body.to_owned()).map_err(|e| format!("cannot build the mail: {e}"))?;
    transport.build().send(mail).await.map(|_| ()).map_err(|e| format!("SMTP: {e}"))
}
