//! How notifications are mailed: the mail server, the sender, the reminders and the link that
//! manages a booking. Checked when the server starts, so a mistake stops it with one line
//! instead of failing every message.

use std::fmt;

use booking_core::{notification::Reminders, webhook::RetrySchedule};
use lettre::{
    AsyncSmtpTransport, Tokio1Executor,
    message::Mailbox,
    transport::smtp::{AsyncSmtpTransportBuilder, authentication::Credentials},
};
use url::Url;

use crate::language::Language;

/// How long the mail server has for each step of a conversation.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Everything the mail worker needs; without it (no `BOOKING_SMTP_URL`) mail is off.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Where mail is handed over.
    pub server: SmtpServer,
    /// Who it is from: `Clinic <bookings@clinic.example>` (the name signs the messages).
    pub from: Mailbox,
    /// When reminders go out.
    pub reminders: Reminders,
    /// The language messages are written in.
    pub language: Language,
    /// Where a client moves or cancels a booking, if the business has such a page.
    pub manage_url: Option<ManageUrl>,
    /// When a message that could not be handed over is tried again.
    pub retries: RetrySchedule,
}

/// A mail server, as `smtp://` (plain, or STARTTLS with `?tls=required`) or `smtps://` (TLS
/// from the start) URL with optional credentials; `Debug` hides the password.
#[derive(Clone)]
pub struct SmtpServer {
    url: Url,
    credentials: Option<(String, String)>,
}

/// A mail server setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailSettingsError {
    /// Not a URL at all.
    #[error(
        "BOOKING_SMTP_URL is not a URL ({0}); write e.g. smtps://user:password@mail.example.com"
    )]
    NotAUrl(String),
    /// A URL lettre cannot connect with.
    #[error(
        "BOOKING_SMTP_URL cannot be used ({0}); write smtp://HOST:PORT, \
         smtp://HOST:PORT?tls=required (STARTTLS) or smtps://HOST:PORT"
    )]
    Unusable(String),
    /// Credentials that would cross the network unencrypted.
    #[error(
        "BOOKING_SMTP_URL sends credentials to {0} without TLS; use smtps:// or add \
         ?tls=required, or a server on 127.0.0.1"
    )]
    CredentialsInTheClear(String),
    /// A user without a password, or a password without a user.
    #[error(
        "only {0} of BOOKING_SMTP_USER and BOOKING_SMTP_PASSWORD is set; set both, or neither \
         (and put the credentials in BOOKING_SMTP_URL)"
    )]
    HalfCredentials(&'static str),
    /// No sender.
    #[error(
        "BOOKING_SMTP_URL is set but BOOKING_MAIL_FROM is not; set it, e.g. \"Clinic <bookings@clinic.example>\""
    )]
    NoSender,
    /// A sender that is not a mailbox.
    #[error(
        "BOOKING_MAIL_FROM {0:?} is not an address; write e.g. \"Clinic <bookings@clinic.example>\""
    )]
    Sender(String),
    /// Mail settings without a server.
    #[error("{0} is set but BOOKING_SMTP_URL is not; set it too, or mail stays off")]
    NoServer(&'static str),
    /// A manage link without the appointment's id.
    #[error(
        "BOOKING_MANAGE_URL {0:?} must be an http or https URL with {{id}} where the \
         appointment's id goes, e.g. https://clinic.example/manage/{{id}}"
    )]
    ManageUrl(String),
}

impl SmtpServer {
    /// The server `url` names, with `user` and `password` instead of the URL's own when given.
    pub fn new(
        url: &str,
        user: Option<String>,
        password: Option<String>,
    ) -> Result<Self, MailSettingsError> {
        let parsed = Url::parse(url).map_err(|e| MailSettingsError::NotAUrl(e.to_string()))?;
        let credentials = match (user, password) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, None) => None,
            (Some(_), None) => return Err(MailSettingsError::HalfCredentials("BOOKING_SMTP_USER")),
            (None, Some(_)) => {
                return Err(MailSettingsError::HalfCredentials("BOOKING_SMTP_PASSWORD"));
            }
        };
        let server = Self { url: parsed, credentials };
        server.builder()?;
        let tls = server.url.scheme() == "smtps"
            || server.url.query_pairs().any(|(k, v)| k == "tls" && v == "required");
        let host = server.url.host_str().unwrap_or_default().to_owned();
        let local = matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]");
        let has_credentials = server.credentials.is_some() || server.url.password().is_some();
        if has_credentials && !tls && !local {
            return Err(MailSettingsError::CredentialsInTheClear(host));
        }
        Ok(server)
    }

    /// A transport to the server: it opens a connection for each message it sends.
    pub fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailSettingsError> {
        Ok(self.builder()?.build())
    }

    fn builder(&self) -> Result<AsyncSmtpTransportBuilder, MailSettingsError> {
        let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(self.url.as_str())
            .map_err(|e| MailSettingsError::Unusable(e.to_string()))?
            .timeout(Some(TIMEOUT));
        Ok(match &self.credentials {
            Some((user, password)) => {
                builder.credentials(Credentials::new(user.clone(), password.clone()))
            }
            None => builder,
        })
    }
}

impl fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.url.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        f.debug_struct("SmtpServer")
            .field("url", &shown.as_str())
            .field("credentials", &self.credentials.as_ref().map(|(user, _)| (user, "***")))
            .finish()
    }
}

/// The sender `text` names.
pub fn sender(text: &str) -> Result<Mailbox, MailSettingsError> {
    text.parse().map_err(|_| MailSettingsError::Sender(text.to_owned()))
}

/// The address clients reach the server at (`https://book.clinic.example`, perhaps with a
/// path prefix), for links to its pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

/// Why a public address is not one.
#[derive(Debug, thiserror::Error)]
#[error(
    "'{0}' is not the address clients reach the server at: give an http or https URL without \
     query or fragment, e.g. https://book.clinic.example"
)]
pub struct NotAPublicUrl(String);

impl std::str::FromStr for PublicUrl {
    type Err = NotAPublicUrl;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refuse = || NotAPublicUrl(text.to_owned());
        let url = Url::parse(text.trim()).map_err(|_| refuse())?;
        let plain = url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
        if !matches!(url.scheme(), "http" | "https") || !plain || url.host().is_none() {
            return Err(refuse());
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }
}

/// A link to the page where a client manages a booking, with `{id}` for its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManageUrl(String);

impl ManageUrl {
    /// Checks a link template.
    pub fn new(template: &str) -> Result<Self, MailSettingsError> {
        let invalid = || MailSettingsError::ManageUrl(template.to_owned());
        if !template.contains("{id}") {
            return Err(invalid());
        }
        let url = Url::parse(&template.replace("{id}", "id")).map_err(|_| invalid())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid());
        }
        Ok(Self(template.to_owned()))
    }

    /// The server's own page for a booking (`/book/manage/{id}`) under the address clients
    /// reach it at.
    pub fn on(public: &PublicUrl) -> Self {
        Self(format!("{}/book/manage/{{id}}", public.0.trim_end_matches('/')))
    }

    /// The link for the appointment `id`.
    pub fn of(&self, id: impl fmt::Display) -> String {
        self.0.replace("{id}", &id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_address_links_to_the_servers_manage_page() {
        for (public, link) in [
            ("https://book.clinic.example", "https://book.clinic.example/book/manage/42"),
            ("https://clinic.example/booking/", "https://clinic.example/booking/book/manage/42"),
        ] {
            let public: PublicUrl = public.parse().unwrap();
            assert_eq!(ManageUrl::on(&public).of(42), link);
        }
        for wrong in
            ["book.clinic.example", "ftp://clinic.example", "https://clinic.example/?a=1", ""]
        {
            let error = wrong.parse::<PublicUrl>().unwrap_err().to_string();
            assert!(error.contains("e.g. https://book.clinic.example"), "{wrong}: {error}");
        }
    }

    #[test]
    fn credentials_need_tls_unless_the_server_is_local() {
        let clear = SmtpServer::new("smtp://user:secret@mail.example.com:25", None, None);
        assert!(matches!(clear, Err(MailSettingsError::CredentialsInTheClear(_))), "{clear:?}");
        let separate =
            SmtpServer::new("smtp://mail.example.com", Some("user".into()), Some("secret".into()));
        assert!(matches!(separate, Err(MailSettingsError::CredentialsInTheClear(_))));
        for fine in [
            "smtps://user:secret@mail.example.com",
            "smtp://user:secret@mail.example.com:587?tls=required",
            "smtp://user:secret@127.0.0.1:2525",
            "smtp://mail.example.com",
        ] {
            assert!(SmtpServer::new(fine, None, None).is_ok(), "{fine}");
        }
        let unknown = SmtpServer::new("imap://mail.example.com", None, None);
        assert!(matches!(unknown, Err(MailSettingsError::Unusable(_))), "{unknown:?}");
    }

    #[test]
    fn the_password_never_shows_in_debug() {
        let server =
            SmtpServer::new("smtps://user:hunter2@mail.example.com", None, Some("x".into()));
        let shown = format!("{server:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let separate =
            SmtpServer::new("smtps://mail.example.com", Some("u".into()), Some("hunter2".into()));
        assert!(!format!("{separate:?}").contains("hunter2"));
    }

    #[test]
    fn manage_links_need_the_id() {
        let link = ManageUrl::new("https://clinic.example/manage/{id}").map(|l| l.of("abc"));
        assert_eq!(link, Ok("https://clinic.example/manage/abc".to_owned()));
        for bad in ["https://clinic.example/manage", "ftp://x/{id}", "{id}"] {
            assert!(ManageUrl::new(bad).is_err(), "{bad}");
        }
        assert!(sender("Clinic <bookings@clinic.example>").is_ok());
        assert!(sender("not an address").is_err());
    }
}
