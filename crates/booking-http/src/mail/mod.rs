//! Notifications by email: the settings, the messages, and the worker that sends them from the
//! outbox (see docs/notifications.md).

pub mod compose;
pub mod settings;
pub mod worker;

pub use settings::MailSettings;
