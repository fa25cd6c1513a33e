//! What operators' changes to the calendar run into: resources, services and overrides that
//! exist already or are not there, a catalog that would not hold together, another change
//! that came first, and appointments the change would strand or overbook.

use actix_web::http::StatusCode;
use booking_core::{
    calendar::{CalendarFailure, EditError},
    catalog::CatalogError,
    storage::WriteError,
    stranded::Stranded,
};
use chrono::SecondsFormat;
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::ApiError;

/// The most stranded appointments one problem lists; `stranded_total` counts them all.
pub const MOST_LISTED: usize = 50;

/// An appointment a calendar change would strand or overbook.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StrandedView {
    /// The appointment's id.
    #[schema(value_type = String, format = Uuid, example = "67e55044-10b1-426f-9247-bb680e5fe0c8")]
    pub id: Uuid,
    /// Its start, RFC 3339 with the business's UTC offset.
    #[schema(value_type = String, format = DateTime, example = "2030-01-07T09:30:00+00:00")]
    pub start: String,
    /// Its resource.
    #[schema(example = "alice")]
    pub resource: String,
    /// How the changed calendar would fail it.
    #[schema(example = "one of its slots holds 2 appointments, more than a capacity of 1")]
    pub reason: String,
}

impl StrandedView {
    fn new(stranded: &Stranded, zone: Tz) -> Self {
        let appointment = &stranded.appointment;
        Self {
            id: appointment.id().as_uuid(),
            start: appointment
                .slot()
                .start()
                .with_timezone(&zone)
                .fixed_offset()
                .to_rfc3339_opts(SecondsFormat::Secs, false),
            resource: appointment.resource().to_string(),
            reason: stranded.strand.to_string(),
        }
    }
}

impl ApiError {
    /// 409: the calendar changed while the request was handled, so it was not done.
    pub(super) fn calendar_changed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "calendar-changed",
            "Calendar changed",
            "The calendar changed.",
            detail,
        )
    }

    /// A calendar change the store did not make; the appointments it would strand are shown
    /// in `zone`, the business's time zone.
    pub fn calendar_refused(error: WriteError<CalendarFailure>, zone: Tz) -> Self {
        Self::write(error, |failure| match failure {
            CalendarFailure::Stale { .. } => Self::calendar_changed(format!(
                "{failure}; nothing was changed (GET /admin/resources and GET /admin/services \
                 show it as it is now)"
            )),
            CalendarFailure::Strands(mut stranded) => {
                stranded.sort_by_key(|s| (s.appointment.slot().start(), s.appointment.id()));
                let total = stranded.len();
                let listed = stranded.iter().take(MOST_LISTED).map(|s| StrandedView::new(s, zone));
                let mut error = Self::new(
                    StatusCode::CONFLICT,
                    "appointments-stranded",
                    "Appointments stranded",
                    "The change would strand appointments.",
                    format!(
                        "nothing was changed: the change would leave {total} appointment(s) that \
                         have not ended outside the calendar or over a slot's capacity (listed in \
                         `stranded`); move or cancel them first, or change the calendar so that it \
                         still holds them"
                    ),
                );
                error.0.stranded = Some((listed.collect(), total));
                error
            }
        })
    }
}

impl From<EditError> for ApiError {
    fn from(error: EditError) -> Self {
        let detail = error.to_string();
        match error {
            EditError::ResourceExists(_) => Self::new(
                StatusCode::CONFLICT,
                "resource-exists",
                "Resource exists",
                "A resource with this slug exists.",
                detail,
            ),
            EditError::ServiceExists(_) => Self::new(
                StatusCode::CONFLICT,
                "service-exists",
                "Service exists",
                "A service with this slug exists.",
                detail,
            ),
            EditError::NoSuchResource(_) => Self::new(
                StatusCode::NOT_FOUND,
                "resource-not-found",
                "Resource not found",
                "Resource not found.",
                detail,
            ),
            EditError::NoSuchService(_) => Self::new(
                StatusCode::NOT_FOUND,
                "service-not-found",
                "Service not found",
                "Service not found.",
                detail,
            ),
            EditError::NoSuchOverride { .. } => Self::new(
                StatusCode::NOT_FOUND,
                "override-not-found",
                "Override not found",
                "Override not found.",
                format!("{detail}; GET /admin/resources/{{slug}}/overrides lists them"),
            ),
            EditError::StillPerforms { .. } => Self::new(
                StatusCode::CONFLICT,
                "resource-in-use",
                "Resource still performs services",
                "Services still name this resource.",
                detail,
            ),
            EditError::Invalid(error) => Self::from(error),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> Self {
        let next = match &error {
            CatalogError::UnknownResource { .. } => {
                return Self::new(
                    StatusCode::BAD_REQUEST,
                    "unknown-resource",
                    "Unknown resource",
                    "Unknown resource.",
                    format!(
                        "{error}; `resources` names the slugs of existing resources (GET \
                         /admin/resources lists them)"
                    ),
                );
            }
            CatalogError::NoResources => "the last resource cannot be removed; add another first",
            CatalogError::DuplicateSlug(_) => "give it another slug",
            CatalogError::NoPerformer(_) => "give at least one resource slug in `resources`",
            CatalogError::UnknownOverride(_) => "set overrides on existing resources only",
            CatalogError::NoSlot { .. } => "give `hours` at least one range as long as a slot",
            CatalogError::BadName(_) => "give a `name` of 1-100 characters",
        };
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-calendar",
            "Invalid calendar",
            "Invalid calendar.",
            format!("{error}; {next}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use booking_core::{
        admission::Unavailable,
        appointment::{Appointment, AppointmentId},
        client::ClientName,
        contact::Contact,
        repository::BookFailure,
        schedule::Schedule,
        stranded::Strand,
    };
    use chrono::{Days, NaiveDate};

    use super::*;

    /// Appointments at 09:00 on `days` days from 2030-01-07, latest first.
    fn stranded(days: u64) -> Vec<Stranded> {
        let schedule = Schedule::default();
        let resource = &schedule.resources()[0];
        let first = NaiveDate::from_ymd_opt(2030, 1, 7).unwrap();
        (0..days)
            .rev()
            .map(|day| {
                let date = first.checked_add_days(Days::new(day)).unwrap();
                let nine = chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap();
                let placement = schedule.place(date, nine, resource, None).unwrap();
                let appointment = Appointment::schedule(
                    AppointmentId::random(),
                    ClientName::parse("Ada").unwrap(),
                    None,
                    Contact::default(),
                    &placement,
                    "2030-01-01T08:00:00Z".parse().unwrap(),
                );
                Stranded { appointment, strand: Strand::Overbooked { capacity: 1, booked: 2 } }
            })
            .collect()
    }

    #[test]
    fn a_stranding_change_lists_the_first_50_by_start_and_counts_them_all() {
        let refused = WriteError::Refused(CalendarFailure::Strands(stranded(60)));
        let problem = ApiError::calendar_refused(refused, chrono_tz::Europe::Berlin).problem();
        assert_eq!(
            (problem.status, problem.kind.as_str()),
            (409, "/problems/appointments-stranded")
        );
        assert_eq!(problem.stranded_total, Some(60));
        let listed = problem.stranded.unwrap();
        assert_eq!(listed.len(), MOST_LISTED);
        assert_eq!(listed[0].start, "2030-01-07T10:00:00+01:00", "the earliest, in the zone");
        assert_eq!(listed[49].start, "2030-02-25T10:00:00+01:00");
        assert_eq!(listed[0].resource, "default");
        assert_eq!(
            listed[0].reason,
            "one of its slots holds 2 appointments, more than a capacity of 1"
        );
    }

    #[test]
    fn another_change_first_or_meanwhile_is_calendar_changed() {
        let stale = WriteError::Refused(CalendarFailure::Stale { current: 4 });
        let problem = ApiError::calendar_refused(stale, chrono_tz::UTC).problem();
        assert_eq!((problem.status, problem.kind.as_str()), (409, "/problems/calendar-changed"));
        assert!(problem.detail.contains("version 4"), "{}", problem.detail);
        assert!(problem.stranded.is_none() && problem.stranded_total.is_none());

        let placed = ApiError::from(WriteError::Refused(BookFailure::Unavailable(
            Unavailable::CalendarChanged,
        )))
        .problem();
        assert_eq!((placed.status, placed.kind.as_str()), (409, "/problems/calendar-changed"));
        assert_eq!(placed.reason, Some("calendar_changed"));
        assert!(placed.detail.contains("send it again"), "{}", placed.detail);
    }
}
