//! Appointments a schedule no longer describes as they were booked.
//!
//! Occupancy is kept per slot start: each appointment stores the starts of the slots it takes
//! (`Appointment::occupied`), and capacity is counted per start. So a schedule whose grid
//! differs from the one an appointment was booked under (another slot length, opening hours
//! that start elsewhere, a longer service, another time zone) would count that appointment
//! in the wrong slots, or in none, and book over it. A server must not serve a schedule that
//! strands an appointment that has not ended.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt,
};

use chrono::{DateTime, Utc};

use crate::{
    appointment::Appointment,
    catalog::{Resource, Service, Slug},
    schedule::{Schedule, SlotError},
};

/// How a schedule fails an appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strand {
    /// Its resource is not in the schedule.
    ResourceGone(Slug),
    /// Its service is not in the schedule.
    ServiceGone(Slug),
    /// Its resource no longer performs its service.
    NotPerformed {
        /// The resource.
        resource: Slug,
        /// The service.
        service: Slug,
    },
    /// Its start is no longer the start of a slot (outside the hours, off the grid, past
    /// closing, or a local time that does not exist).
    OffTheGrid(SlotError),
    /// It starts on a slot, but the schedule gives it other slots than it takes (another
    /// slot length, or another length or buffers of its service).
    OtherSlots,
    /// One of its slots holds more appointments than the resource's capacity would.
    Overbooked {
        /// The capacity.
        capacity: u32,
        /// How many appointments the slot holds.
        booked: u32,
    },
}

impl fmt::Display for Strand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ResourceGone(slug) => write!(f, "its resource '{slug}' is not configured"),
            Self::ServiceGone(slug) => write!(f, "its service '{slug}' is not configured"),
            Self::NotPerformed { resource, service } => {
                write!(f, "its resource '{resource}' no longer performs '{service}'")
            }
            Self::OffTheGrid(error) => error.fmt(f),
            Self::OtherSlots => f.write_str(
                "it takes other slots than these settings give it (the slot length, its \
                 service's length or buffers, or the time zone's rules changed)",
            ),
            Self::Overbooked { capacity, booked } => write!(
                f,
                "one of its slots holds {booked} appointments, more than a capacity of {capacity}"
            ),
        }
    }
}

/// An appointment that has not ended, and how the schedule fails it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stranded {
    /// The appointment.
    pub appointment: Appointment,
    /// Why the schedule does not describe it.
    pub strand: Strand,
}

impl Schedule {
    /// How this schedule fails `appointment`, if it does: it must place the appointment's
    /// start, on its resource and for its service, on the very slots it takes.
    pub fn strands(&self, appointment: &Appointment) -> Option<Strand> {
        self.describes(appointment).err()
    }

    fn describes(&self, appointment: &Appointment) -> Result<(), Strand> {
        let resource: &Resource = self
            .resource(appointment.resource())
            .map_err(|_| Strand::ResourceGone(appointment.resource().clone()))?;
        let service: Option<&Service> = appointment
            .service()
            .map(|slug| self.service(slug).map_err(|_| Strand::ServiceGone(slug.clone())))
            .transpose()?;
        if let Some(service) = service
            && !service.resources.contains(&resource.slug)
        {
            return Err(Strand::NotPerformed {
                resource: resource.slug.clone(),
                service: service.slug.clone(),
            });
        }
        let local = appointment.slot().start().with_timezone(&self.time_zone()).naive_local();
        let placement = self
            .place(local.date(), local.time(), resource, service)
            .map_err(Strand::OffTheGrid)?;
        if placement.slot != appointment.slot() || placement.occupied != appointment.occupied() {
            return Err(Strand::OtherSlots);
        }
        Ok(())
    }
}

/// The appointments of `appointments` that keep their places (all but canceled ones: a
/// completed or no-show appointment keeps its time), still take a slot after `now` (their
/// cleanup buffer included), and that `schedule` strands.
pub fn stranded<'a>(
    schedule: &Schedule,
    appointments: impl IntoIterator<Item = &'a Appointment>,
    now: DateTime<Utc>,
) -> Vec<Stranded> {
    let current: Vec<&Appointment> =
        appointments.into_iter().filter(|a| a.status().occupies() && busy_until(a) > now).collect();
    let mut found = Vec::new();
    // The appointments stranded, by index: the rest are counted per slot below.
    let mut off = HashSet::new();
    for (index, appointment) in current.iter().enumerate() {
        if let Some(strand) = schedule.strands(appointment) {
            off.insert(index);
            found.push(Stranded { appointment: (*appointment).clone(), strand });
        }
    }
    // The rest sit where the schedule puts them: count them per slot against the capacity
    // (by index, so that this stays linear while a calendar change holds its lock).
    let mut per_slot: HashMap<(&Slug, DateTime<Utc>), Vec<usize>> = HashMap::new();
    for (index, appointment) in current.iter().enumerate().filter(|(i, _)| !off.contains(i)) {
        for start in appointment.occupied() {
            per_slot.entry((appointment.resource(), *start)).or_default().push(index);
        }
    }
    let mut overbooked: BTreeMap<usize, Strand> = BTreeMap::new();
    for ((resource, _), held) in per_slot {
        let Ok(resource) = schedule.resource(resource) else { continue };
        let booked = u32::try_from(held.len()).unwrap_or(u32::MAX);
        let capacity = resource.capacity.get();
        if booked > capacity {
            for index in held {
                overbooked.entry(index).or_insert(Strand::Overbooked { capacity, booked });
            }
        }
    }
    // In the order the appointments came.
    let overbooked = overbooked
        .into_iter()
        .map(|(index, strand)| Stranded { appointment: current[index].clone(), strand })
        .collect::<Vec<_>>();
    found.extend(overbooked);
    found
}

/// When the last slot an appointment takes ends, in the slot length it was booked under (the
/// spacing of its slots, or its own length when it takes one).
fn busy_until(appointment: &Appointment) -> DateTime<Utc> {
    let slot = appointment.slot();
    let occupied = appointment.occupied();
    let length = match occupied {
        [first, second, ..] => *second - *first,
        _ => slot.end() - slot.start(),
    };
    occupied.last().map_or(slot.end(), |last| *last + length)
}

#[cfg(test)]
mod tests {
    use std::{num::NonZeroU16, sync::Arc};

    use super::*;
    use crate::{
        appointment::Conclusion,
        catalog::Service,
        client::ClientName,
        clock::ManualClock,
        contact::Contact,
        history::Actor,
        memory::InMemoryRepository,
        repository::{AppointmentQuery, AppointmentRepository, Cancellation, Concluding},
        service::{BookRequest, BookingService, SlotRequest},
        units::{Capacity, SlotLength},
    };

    const DAY: &str = "2030-01-07";

    fn schedule(hours: &str, minutes: u32) -> Schedule {
        Schedule::new(
            chrono_tz::UTC,
            hours.parse().unwrap(),
            SlotLength::from_minutes(minutes).unwrap(),
            Capacity::new(1).unwrap(),
        )
    }

    /// The schedule with a `colouring` service of `slots` slots and `after` slots of cleanup.
    fn with_colouring(schedule: Schedule, slots: u16, after: u16) -> Schedule {
        let resources = schedule.resources().to_vec();
        let colouring = Service {
            slug: "colouring".parse().unwrap(),
            name: "Colouring".to_owned(),
            slots: NonZeroU16::new(slots).unwrap(),
            resources: vec![resources[0].slug.clone()],
            buffer_before: 0,
            buffer_after: after,
            min_notice: None,
            horizon: None,
        };
        schedule.with_catalog(resources, vec![colouring]).unwrap()
    }

    /// A store holding what `booked` books (times on [`DAY`], with or without the service),
    /// with the clock at `now`.
    fn store(
        booked: &Schedule,
        times: &[(&str, bool)],
    ) -> (Arc<InMemoryRepository>, Arc<ManualClock>) {
        let repository = Arc::new(InMemoryRepository::new());
        let clock = Arc::new(ManualClock::new("2030-01-01T08:00:00Z".parse().unwrap()));
        let service = BookingService::new(repository.clone(), clock.clone(), booked.clone());
        for (time, colouring) in times {
            let request = BookRequest {
                client_name: ClientName::parse("Ada").unwrap(),
                notes: None,
                contact: Contact::default(),
                slot: SlotRequest {
                    date: DAY.parse().unwrap(),
                    time: format!("{time}:00").parse().unwrap(),
                    resource: None,
                    service: colouring.then(|| "colouring".parse().unwrap()),
                },
                hold: None,
            };
            service.book(request, None).unwrap().wait().unwrap();
        }
        (repository, clock)
    }

    fn strands(
        (repository, clock): (Arc<InMemoryRepository>, Arc<ManualClock>),
        now: Schedule,
    ) -> Vec<(String, Strand)> {
        let repository: Arc<dyn AppointmentRepository> = repository;
        let service = BookingService::new(repository, clock, now);
        let mut found: Vec<_> = service
            .stranded()
            .unwrap()
            .into_iter()
            .map(|s| (s.appointment.slot().start().format("%H:%M").to_string(), s.strand))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }

    #[test]
    fn the_schedule_they_were_booked_under_strands_nothing() {
        let booked = with_colouring(schedule("09:00-17:00", 30), 3, 1);
        let both = store(&booked, &[("09:00", false), ("09:30", true)]);
        assert_eq!(strands(both, booked), []);
    }

    /// The measured overlap: 30-minute slots, 09:30 booked; with 60-minute slots 09:30 is no
    /// slot, and a booking at 09:00 would have overlapped it.
    #[test]
    fn a_longer_slot_strands_an_appointment_off_its_grid() {
        let booked = store(&schedule("09:00-17:00", 30), &[("09:30", false)]);
        let found = strands(booked, schedule("09:00-17:00", 60));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "09:30");
        assert!(
            matches!(found[0].1, Strand::OffTheGrid(SlotError::OffBoundary { .. })),
            "{found:?}"
        );
        // 09:00 starts a 60-minute slot, but it takes 30 minutes: counted in the wrong slots.
        assert_eq!(
            strands(store_at_nine(30), schedule("09:00-17:00", 60)),
            [("09:00".to_owned(), Strand::OtherSlots)]
        );
    }

    /// Two appointments of a capacity-2 slot: a capacity of 1 would overbook it.
    #[test]
    fn a_lower_capacity_overbooks_a_full_slot() {
        let two = Schedule::new(
            chrono_tz::UTC,
            "09:00-17:00".parse().unwrap(),
            SlotLength::from_minutes(30).unwrap(),
            Capacity::new(2).unwrap(),
        );
        let booked = store(&two, &[("09:00", false), ("09:00", false), ("10:00", false)]);
        let found = strands(booked.clone(), schedule("09:00-17:00", 30));
        let overbooked = ("09:00".to_owned(), Strand::Overbooked { capacity: 1, booked: 2 });
        assert_eq!(found, [overbooked.clone(), overbooked]);
        assert_eq!(strands(booked, two), []);
    }

    fn store_at_nine(minutes: u32) -> (Arc<InMemoryRepository>, Arc<ManualClock>) {
        store(&schedule("09:00-17:00", minutes), &[("09:00", false)])
    }

    /// 60 to 30 minutes: 09:00 is still a start, but the appointment covers 09:30 too, which
    /// the new grid would count as free.
    #[test]
    fn a_shorter_slot_strands_an_appointment_that_covers_two_of_its_slots() {
        assert_eq!(
            strands(store_at_nine(60), schedule("09:00-17:00", 30)),
            [("09:00".to_owned(), Strand::OtherSlots)]
        );
    }

    /// A no-show keeps its places, so a schedule that counts them elsewhere strands it until it
    /// has ended; a canceled appointment holds nothing.
    #[test]
    fn a_concluded_appointment_strands_until_it_ends_and_a_canceled_one_never() {
        let (repository, clock) =
            store(&schedule("09:00-17:00", 60), &[("09:00", false), ("11:00", false)]);
        let everything = AppointmentQuery { limit: 10, ..AppointmentQuery::default() };
        let listed = repository.appointments(&everything).unwrap();
        let (missed, canceled) = (listed[0].id(), listed[1].id());
        let now = |time: &str| format!("{DAY}T{time}:00Z").parse::<DateTime<Utc>>().unwrap();
        let cancellation = Cancellation {
            id: canceled,
            now: now("08:00"),
            by: Actor::Client,
            reason: None,
            notice: chrono::Duration::zero(),
        };
        repository.cancel(cancellation, None).wait().unwrap();
        clock.set(now("09:10"));
        let concluding = Concluding {
            id: missed,
            conclusion: Conclusion::NoShow,
            now: now("09:10"),
            by: Actor::Operator,
            reason: None,
        };
        repository.conclude(concluding).wait().unwrap();
        let store = (repository, clock.clone());
        let thirty = schedule("09:00-17:00", 30);
        assert_eq!(
            strands(store.clone(), thirty.clone()),
            [("09:00".to_owned(), Strand::OtherSlots)]
        );
        clock.set(now("10:00"));
        assert_eq!(strands(store, thirty), [], "it has ended");
    }

    #[test]
    fn new_hours_and_a_longer_service_strand_what_they_no_longer_describe() {
        let found = strands(store_at_nine(30), schedule("10:00-17:00", 30));
        assert!(
            matches!(found[..], [(_, Strand::OffTheGrid(SlotError::Closed { .. }))]),
            "{found:?}"
        );
        // Hours that start at 09:15 put 10:00 off the grid (09:45 and 10:15 start slots).
        let ten = store(&schedule("09:00-17:00", 30), &[("10:00", false)]);
        let found = strands(ten, schedule("09:15-17:00", 30));
        assert!(
            matches!(found[..], [(_, Strand::OffTheGrid(SlotError::OffBoundary { .. }))]),
            "{found:?}"
        );
        let booked = with_colouring(schedule("09:00-17:00", 30), 2, 0);
        let longer = with_colouring(schedule("09:00-17:00", 30), 2, 1);
        assert_eq!(
            strands(store(&booked, &[("09:00", true)]), longer),
            [("09:00".to_owned(), Strand::OtherSlots)]
        );
    }

    #[test]
    fn a_removed_service_or_resource_strands_its_appointments() {
        let booked = with_colouring(schedule("09:00-17:00", 30), 2, 0);
        let found = strands(store(&booked, &[("09:00", true)]), schedule("09:00-17:00", 30));
        assert_eq!(
            found,
            [("09:00".to_owned(), Strand::ServiceGone("colouring".parse().unwrap()))]
        );
        let renamed = {
            let mut resource = schedule("09:00-17:00", 30).resources()[0].clone();
            resource.slug = "alice".parse().unwrap();
            schedule("09:00-17:00", 30).with_catalog(vec![resource], vec![]).unwrap()
        };
        let found = strands(store_at_nine(30), renamed);
        assert_eq!(found, [("09:00".to_owned(), Strand::ResourceGone("default".parse().unwrap()))]);
    }

    /// Another time zone keeps the instants: an appointment that still starts a slot there, on
    /// the same slots, is not stranded; one its hours no longer cover is.
    #[test]
    fn another_time_zone_strands_only_what_falls_outside_its_hours() {
        let booked = store(&schedule("09:00-17:00", 30), &[("09:00", false), ("16:30", false)]);
        let berlin = Schedule::new(
            chrono_tz::Europe::Berlin,
            "09:00-17:00".parse().unwrap(),
            SlotLength::from_minutes(30).unwrap(),
            Capacity::new(1).unwrap(),
        );
        // 09:00 UTC is 10:00 in Berlin in January; 16:30 UTC is 17:30, after closing.
        let found = strands(booked, berlin);
        assert!(
            matches!(found[..], [(ref at, Strand::OffTheGrid(SlotError::Closed { .. }))] if at == "16:30"),
            "{found:?}"
        );
    }

    /// An appointment whose cleanup is under way still takes its slot.
    #[test]
    fn an_appointment_in_its_cleanup_buffer_still_counts() {
        let booked = with_colouring(schedule("09:00-17:00", 30), 2, 1);
        let (repository, clock) = store(&booked, &[("09:00", true)]);
        // The service ends at 10:00; its cleanup takes 10:00-10:30.
        clock.set(format!("{DAY}T10:10:00Z").parse().unwrap());
        let found = strands((repository.clone(), clock.clone()), schedule("09:00-17:00", 30));
        assert_eq!(
            found,
            [("09:00".to_owned(), Strand::ServiceGone("colouring".parse().unwrap()))]
        );
        clock.set(format!("{DAY}T10:30:00Z").parse().unwrap());
        assert_eq!(strands((repository, clock), schedule("09:00-17:00", 30)), []);
    }

    /// Only what is scheduled and has not ended could be counted wrongly from now on.
    #[test]
    fn only_appointments_that_have_not_ended_count() {
        let (repository, clock) = store(
            &schedule("09:00-17:00", 30),
            &[("09:00", false), ("10:00", false), ("11:00", false)],
        );
        // 09:00 is over, 10:00 is under way, 11:00 is canceled.
        clock.set(format!("{DAY}T10:15:00Z").parse().unwrap());
        let eleven = repository
            .appointments(&crate::repository::AppointmentQuery { limit: 10, ..Default::default() })
            .unwrap()
            .into_iter()
            .find(|a| a.slot().start().format("%H:%M").to_string() == "11:00")
            .unwrap();
        BookingService::new(repository.clone(), clock.clone(), schedule("09:00-17:00", 30))
            .cancel(eleven.id(), None, None)
            .wait()
            .unwrap();
        assert_eq!(
            strands((repository, clock), schedule("09:00-17:00", 60))
                .iter()
                .map(|(at, _)| at.as_str())
                .collect::<Vec<_>>(),
            ["10:00"]
        );
    }
}
