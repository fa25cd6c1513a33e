//! The operator's view of notifications: `GET /admin/notifications` lists the newest, each with
//! its kind, appointment, state, attempts and last error; `?state=failed` shows the dead
//! letters. Recipients are not shown: the appointment has them.

use actix_web::{HttpResponse, web};
use booking_core::notification::{Notification, NotificationState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Bookings, times::InUtc, views::utc};
use crate::error::{ApiError, Problem};

/// Which notifications to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationsQuery {
    /// Only those in this state: `pending`, `sent`, `failed` or `skipped`.
    pub state: Option<String>,
}

/// A notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    /// Its id (also in its `Message-ID`).
    pub id: i64,
    /// `confirmation`, `moved`, `canceled` or `reminder`.
    #[schema(example = "confirmation")]
    pub kind: &'static str,
    /// The appointment it is about.
    #[schema(value_type = String, format = Uuid)]
    pub appointment_id: Uuid,
    /// For a reminder, how many seconds before the appointment it is due.
    pub remind_before_seconds: Option<u64>,
    /// `pending` (waiting for its time or its next attempt), `sent` (the mail server took it),
    /// `failed` (refused for good, or every retry failed) or `skipped` (a reminder that came due
    /// after its appointment started, or whose appointment changed after it was queued).
    #[schema(example = "sent")]
    pub state: &'static str,
    /// Attempts made so far.
    pub attempts: u32,
    /// Why the last attempt failed, or why it was skipped.
    pub last_error: Option<String>,
    /// When it was first due (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    pub due_at: InUtc,
    /// When the next attempt is due, while it is pending (RFC 3339, UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<InUtc>,
}

impl NotificationView {
    fn new(notification: Notification) -> Self {
        Self {
            id: notification.id.0,
            kind: notification.kind.as_str(),
            appointment_id: notification.appointment.as_uuid(),
            remind_before_seconds: notification.remind_before.map(|lead| lead.as_secs()),
            state: notification.state.as_str(),
            attempts: notification.attempts,
            last_error: notification.last_error,
            due_at: utc(notification.due_at),
            next_attempt_at: notification.next_attempt_at.map(utc),
        }
    }
}

/// The newest notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct Notifications {
    /// The newest 100, newest first.
    pub notifications: Vec<NotificationView>,
}

/// The newest notifications to clients, of every state or of one.
#[utoipa::path(
    get, path = "/admin/notifications", tag = "admin",
    params(NotificationsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Notifications),
        (status = 400, description = "Unknown state", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_notifications(
    bookings: web::Data<Bookings>,
    query: web::Query<NotificationsQuery>,
) -> Result<HttpResponse, ApiError> {
    let state = query
        .state
        .as_deref()
        .map(str::parse::<NotificationState>)
        .transpose()
        .map_err(|e| ApiError::invalid_request(e.to_string()))?;
    let found = bookings.run("notifications", move |service| service.notifications(state)).await?;
    Ok(HttpResponse::Ok().json(Notifications {
        notifications: found.into_iter().map(NotificationView::new).collect(),
    }))
}
