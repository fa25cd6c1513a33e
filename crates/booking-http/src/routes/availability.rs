//! Which slots are free.

use actix_web::{HttpResponse, web};
use booking_core::{
    admission::Unavailable,
    availability::{Availability, DateRange, ListingPlan, SlotAvailability},
    catalog::Slug,
    service::BookingService,
    storage::StorageError,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    Bookings, fields,
    times::{LocalDate, LocalTime, Zoned},
    views::SlotTimes,
};
use crate::error::{ApiError, Problem};

/// The days to list: `date` for one day, or `from` and `to` (both included, at most 31 days);
/// optionally one resource and the service to fit.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// Only this resource (default: every resource that performs the service).
    #[param(example = "alice")]
    pub resource: Option<String>,
    /// Whether this service can start at each slot (default: a one-slot appointment).
    #[param(example = "haircut")]
    pub service: Option<String>,
    /// One local date, YYYY-MM-DD.
    #[param(format = Date, example = "2030-01-07")]
    pub date: Option<String>,
    /// First local date, YYYY-MM-DD.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last local date, YYYY-MM-DD (default: `from`).
    #[param(format = Date)]
    pub to: Option<String>,
}

impl AvailabilityQuery {
    /// The listing the query asks for.
    pub fn plan(&self, service: &BookingService) -> Result<ListingPlan, ApiError> {
        let range = DateRange::try_from(self)?;
        let resource = self.resource.as_deref().map(str::parse::<Slug>).transpose()?;
        let wanted = self.service.as_deref().map(str::parse::<Slug>).transpose()?;
        Ok(service.plan_availability(range, resource.as_ref(), wanted.as_ref())?)
    }
}

/// Listings of up to this many slots (a week of a resource is 112 at half-hour slots) are read
/// on the worker; longer ones on the blocking pool.
const SHORT_LISTING: usize = 256;

/// Whether a listing is short enough to read without leaving the worker.
pub fn plan_is_short(plan: &ListingPlan) -> bool {
    plan.slot_count() <= SHORT_LISTING
}

impl TryFrom<&AvailabilityQuery> for DateRange {
    type Error = ApiError;

    fn try_from(query: &AvailabilityQuery) -> Result<Self, ApiError> {
        match (&query.date, &query.from, &query.to) {
            (Some(date), None, None) => Ok(Self::day(fields::date("date", date)?)),
            (None, Some(from), to) => {
                let from = fields::date("from", from)?;
                let to =
                    to.as_deref().map(|to| fields::date("to", to)).transpose()?.unwrap_or(from);
                Ok(Self::new(from, to)?)
            }
            _ => Err(ApiError::invalid_request(
                "give either date=YYYY-MM-DD, or from=YYYY-MM-DD with an optional to=YYYY-MM-DD",
            )),
        }
    }
}

/// The slots of a range of days, borrowed from the listing it shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityView<'a> {
    /// The business's IANA time zone; dates and times are local to it.
    #[schema(example = "Europe/Berlin")]
    pub time_zone: &'static str,
    /// First date listed.
    #[schema(value_type = String, format = Date)]
    pub from: LocalDate,
    /// Last date listed.
    #[schema(value_type = String, format = Date)]
    pub to: LocalDate,
    /// Length of each slot in minutes.
    pub slot_minutes: u16,
    /// Every slot of those days, in time order.
    pub slots: Vec<SlotView<'a>>,
}

/// One slot of one resource.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotView<'a> {
    /// The resource.
    #[schema(example = "alice")]
    pub resource: &'a str,
    /// Local date.
    #[schema(value_type = String, format = Date, example = "2030-01-07")]
    pub date: LocalDate,
    /// Local start time, HH:MM.
    #[schema(value_type = String, example = "09:30")]
    pub time: LocalTime,
    /// Start instant (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub start: Zoned,
    /// End instant (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub end: Zoned,
    /// Appointments the slot holds.
    pub capacity: u32,
    /// Appointments scheduled in it (their cleanup and preparation included).
    pub booked: u32,
    /// Places held by unexpired holds.
    pub held: u32,
    /// Whether POST /schedule (with the service asked for) would take it now.
    pub available: bool,
    /// Why not, when not: past, too_soon, beyond_horizon, outside_hours, closed, held or full.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "full")]
    pub reason: Option<&'static str>,
}

impl<'a> SlotView<'a> {
    /// A slot of a listing, its times shown in the schedule's zone.
    pub fn new(slot: &'a SlotAvailability, service: &BookingService) -> Self {
        let SlotTimes { date, time, start, end } = SlotTimes::of(slot.slot, &service.schedule());
        Self {
            resource: slot.resource.as_str(),
            date,
            time,
            start,
            end,
            capacity: slot.capacity.get(),
            booked: slot.usage.booked,
            held: slot.usage.held,
            available: slot.status.is_ok(),
            reason: slot.status.as_ref().err().map(Unavailable::reason),
        }
    }
}

impl<'a> AvailabilityView<'a> {
    /// A listing, its times shown in the schedule's zone.
    pub fn new(availability: &'a Availability, service: &BookingService) -> Self {
        let schedule = service.schedule();
        Self {
            time_zone: schedule.time_zone().name(),
            from: LocalDate(availability.range.from()),
            to: LocalDate(availability.range.to()),
            slot_minutes: schedule.slot_length().minutes(),
            slots: availability.slots.iter().map(|slot| SlotView::new(slot, service)).collect(),
        }
    }
}

/// List slots with their counts and whether they can be booked now.
#[utoipa::path(
    get, path = "/availability", tag = "availability",
    params(AvailabilityQuery),
    responses(
        (status = 200, description = "Every slot of the days asked for", body = AvailabilityView),
        (status = 400, description = "Bad date format, reversed range or over 31 days; unknown resource or service", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database busy or unreachable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    bookings: web::Data<Bookings>,
    query: web::Query<AvailabilityQuery>,
) -> Result<HttpResponse, ApiError> {
    let plan = query.plan(&bookings)?;
    let short = plan_is_short(&plan);
    let read = move |service: &BookingService| {
        let (usage, closures) = service.read_availability(&plan)?;
        Ok::<_, StorageError>(service.judge(plan, &usage, &closures))
    };
    let availability = match short {
        true => bookings.run("availability", read).await?,
        false => bookings.run_long("availability", read).await?,
    };
    Ok(HttpResponse::Ok().json(AvailabilityView::new(&availability, &bookings)))
}
