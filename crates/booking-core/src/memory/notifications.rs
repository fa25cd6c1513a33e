//! The in-memory store's notifications: the plan in force and the queue of messages, behind
//! the store's one lock, so a change's messages are queued in the same step as the change.

use std::{
    collections::{BTreeMap, HashMap},
    convert::Infallible,
    time::Duration,
};

use chrono::{DateTime, Utc};

use super::{InMemoryRepository, State};
use crate::{
    appointment::{AppointmentId, Status},
    history::{Entry, Transition},
    notification::{
        ClaimedNotification, Notification, NotificationId, NotificationKind, NotificationState,
        Notifications, Plan, Planned,
    },
    pending::Pending,
    storage::{StorageError, WriteError},
    webhook::{ClaimRequest, Message, MessageId, Settled, Settlement},
};

/// The plan and the queue.
#[derive(Debug, Default)]
pub(super) struct Mail {
    plan: Option<Plan>,
    queued: BTreeMap<NotificationId, Queued>,
    /// Each appointment's latest change (what its reminders are reckoned from), numbered.
    latest: HashMap<AppointmentId, (MessageId, Entry, u32)>,
    /// The last notification numbered.
    numbered: i64,
}

/// One message queued.
#[derive(Debug)]
struct Queued {
    appointment: AppointmentId,
    message: MessageId,
    entry: Entry,
    revision: u32,
    kind: NotificationKind,
    remind_before: Option<Duration>,
    state: NotificationState,
    attempts: u32,
    last_error: Option<String>,
    due_at: DateTime<Utc>,
    next_attempt_at: Option<DateTime<Utc>>,
    leased_until: Option<DateTime<Utc>>,
    settled_at: Option<DateTime<Utc>>,
}

/// Why a reminder was passed over.
const MOOT: &str = "the appointment had started, or changed, before the reminder could go";

impl Mail {
    /// Queues what the change `entry` (numbered `message`, the appointment's `revision` after
    /// it) tells a client whose address is known (`reachable`), under the plan in force.
    pub(super) fn queue(
        &mut self,
        appointment: AppointmentId,
        message: MessageId,
        entry: &Entry,
        revision: u32,
        reachable: bool,
    ) {
        self.latest.insert(appointment, (message, entry.clone(), revision));
        let Some(plan) = self.plan.clone().filter(|_| reachable) else { return };
        let Some(kind) = NotificationKind::of(entry.change) else { return };
        // The reminders of its previous time, but for one being sent right now: that one holds
        // this change's message back until it is settled, and is not sent again.
        self.queued.retain(|_, queued| {
            !(queued.appointment == appointment
                && queued.kind == NotificationKind::Reminder
                && queued.state == NotificationState::Pending
                && queued.leased_until.is_none_or(|until| until <= entry.at))
        });
        self.push(appointment, message, entry, revision, kind, None);
        if entry.change != Transition::Canceled {
            for lead in plan.reminders.leads() {
                self.remind(appointment, message, entry, revision, *lead, entry.at);
            }
        }
    }

    /// Queues the reminder `lead` before the time `entry` gave, if that is after `after`.
    fn remind(
        &mut self,
        appointment: AppointmentId,
        message: MessageId,
        entry: &Entry,
        revision: u32,
        lead: Duration,
        after: DateTime<Utc>,
    ) -> bool {
        let due = chrono::Duration::from_std(lead)
            .ok()
            .and_then(|lead| entry.slot.start().checked_sub_signed(lead));
        match due {
            Some(due) if due > after => {
                let kind = NotificationKind::Reminder;
                let id = self.push(appointment, message, entry, revision, kind, Some(lead));
                if let Some(queued) = self.queued.get_mut(&id) {
                    queued.due_at = due;
                    queued.next_attempt_at = Some(due);
                }
                true
            }
            _ => false,
        }
    }

    fn push(
        &mut self,
        appointment: AppointmentId,
        message: MessageId,
        entry: &Entry,
        revision: u32,
        kind: NotificationKind,
        remind_before: Option<Duration>,
    ) -> NotificationId {
        self.numbered += 1;
        let id = NotificationId(self.numbered);
        self.queued.insert(
            id,
            Queued {
                appointment,
                message,
                entry: entry.clone(),
                revision,
                kind,
                remind_before,
                state: NotificationState::Pending,
                attempts: 0,
                last_error: None,
                due_at: entry.at,
                next_attempt_at: Some(entry.at),
                leased_until: None,
                settled_at: None,
            },
        );
        id
    }

    /// Forgets at most `most` notifications settled at or before `by`, first settled first;
    /// answers how many.
    pub(super) fn forget_settled(&mut self, by: DateTime<Utc>, most: usize) -> u64 {
        let mut settled: Vec<(DateTime<Utc>, NotificationId)> = self
            .queued
            .iter()
            .filter_map(|(id, queued)| queued.settled_at.filter(|at| *at <= by).map(|at| (at, *id)))
            .collect();
        settled.sort_unstable();
        settled.truncate(most);
        for (_, id) in &settled {
            self.queued.remove(id);
        }
        settled.len() as u64
    }

    /// Settles, as skipped, the reminders due by `now` (not leased, and whatever their next
    /// attempt: a failed one must not hold up the change's own message) whose appointment has
    /// started by `now`, or changed since they were queued.
    fn skip_moot(&mut self, now: DateTime<Utc>) {
        let latest = &self.latest;
        for queued in self.queued.values_mut() {
            let changed = latest
                .get(&queued.appointment)
                .is_some_and(|(message, _, _)| *message != queued.message);
            if queued.kind == NotificationKind::Reminder
                && queued.state == NotificationState::Pending
                && queued.due_at <= now
                && queued.leased_until.is_none_or(|until| until <= now)
                && (queued.entry.slot.start() <= now || changed)
            {
                queued.state = NotificationState::Skipped;
                queued.next_attempt_at = None;
                queued.leased_until = None;
                queued.last_error = Some(MOOT.to_owned());
                queued.settled_at = Some(now);
            }
        }
    }

    /// Fails a notification for good at `now`, saying why.
    fn give_up(&mut self, id: NotificationId, now: DateTime<Utc>, error: &str) {
        if let Some(queued) = self.queued.get_mut(&id) {
            queued.state = NotificationState::Failed;
            queued.next_attempt_at = None;
            queued.leased_until = None;
            queued.last_error = Some(error.to_owned());
            queued.settled_at = Some(now);
        }
    }

    /// The oldest pending notification of each appointment among those first due by `now`.
    fn heads(&self, now: DateTime<Utc>) -> Vec<NotificationId> {
        let mut heads = BTreeMap::new();
        for (id, queued) in &self.queued {
            if queued.state == NotificationState::Pending && queued.due_at <= now {
                heads.entry(queued.appointment).or_insert(*id);
            }
        }
        heads.into_values().collect()
    }
}

impl Queued {
    fn claimable(&self, now: DateTime<Utc>) -> bool {
        self.next_attempt_at.is_some_and(|at| at <= now)
            && self.leased_until.is_none_or(|until| until <= now)
    }

    fn shown(&self, id: NotificationId) -> Notification {
        Notification {
            id,
            kind: self.kind,
            appointment: self.appointment,
            remind_before: self.remind_before,
            state: self.state,
            attempts: self.attempts,
            last_error: self.last_error.clone(),
            due_at: self.due_at,
            next_attempt_at: self.next_attempt_at,
        }
    }
}

impl InMemoryRepository {
    fn plan_now(&self, plan: Option<Plan>, now: DateTime<Utc>) -> Result<Planned, StorageError> {
        let mut guard = self.state()?;
        let State { mail, appointments, .. } = &mut *guard;
        let was_on = mail.plan.is_some();
        if mail.plan == plan {
            return Ok(Planned { was_on, ..Planned::default() });
        }
        mail.plan = plan.clone();
        let Some(plan) = plan else {
            return Ok(Planned { was_on, ..Planned::default() });
        };
        let leads = plan.reminders.leads();
        let before = mail.queued.len();
        mail.queued.retain(|_, queued| {
            queued.kind != NotificationKind::Reminder
                || queued.state != NotificationState::Pending
                || queued.remind_before.is_some_and(|lead| leads.contains(&lead))
        });
        let dropped = (before - mail.queued.len()) as u64;
        let mut queued = 0;
        let mut latest: Vec<_> =
            mail.latest.iter().map(|(id, latest)| (*id, latest.clone())).collect();
        latest.sort_by_key(|(_, (message, _, _))| *message);
        for (id, (message, entry, revision)) in latest {
            let Some(appointment) = appointments.get(&id) else { continue };
            if appointment.status() != Status::Scheduled || appointment.contact().email.is_none() {
                continue;
            }
            for lead in leads {
                let known = mail.queued.values().any(|q| {
                    q.message == message
                        && q.kind == NotificationKind::Reminder
                        && q.remind_before == Some(*lead)
                });
                if !known && mail.remind(id, message, &entry, revision, *lead, now) {
                    queued += 1;
                }
            }
        }
        Ok(Planned { was_on, reminders_queued: queued, reminders_dropped: dropped })
    }

    fn claim_mail_now(
        &self,
        request: ClaimRequest,
    ) -> Result<Vec<ClaimedNotification>, StorageError> {
        let mut guard = self.state()?;
        let State { mail, appointments, .. } = &mut *guard;
        mail.skip_moot(request.now);
        let mut due: Vec<NotificationId> = mail
            .heads(request.now)
            .into_iter()
            .filter(|id| mail.queued.get(id).is_some_and(|q| q.claimable(request.now)))
            .collect();
        due.sort_by_key(|id| (mail.queued.get(id).and_then(|q| q.next_attempt_at), *id));
        due.truncate(request.most);
        let mut claimed = Vec::with_capacity(due.len());
        for id in due {
            let Some(queued) = mail.queued.get(&id) else { continue };
            // As the SQL stores do: what cannot be sent fails, rather than hold up the rest.
            let Some(appointment) = appointments.get(&queued.appointment) else {
                mail.give_up(id, request.now, "the appointment is gone");
                continue;
            };
            let Some(to) = appointment.contact().email.clone() else {
                mail.give_up(id, request.now, "the client's address is gone");
                continue;
            };
            let Some(queued) = mail.queued.get_mut(&id) else { continue };
            queued.attempts += 1;
            queued.leased_until = Some(request.lease_until);
            claimed.push(ClaimedNotification {
                notification: id,
                attempt: queued.attempts,
                kind: queued.kind,
                remind_before: queued.remind_before,
                to,
                message: Message::of(queued.message, &queued.entry, appointment),
                revision: queued.revision,
            });
        }
        Ok(claimed)
    }

    fn settle_mail_now(
        &self,
        settlement: Settlement<NotificationId>,
    ) -> Result<bool, StorageError> {
        let mut state = self.state()?;
        let Some(queued) = state.mail.queued.get_mut(&settlement.delivery) else {
            return Ok(false);
        };
        if queued.state != NotificationState::Pending || queued.attempts != settlement.attempt {
            return Ok(false);
        }
        queued.leased_until = None;
        queued.state = match settlement.settled() {
            Settled::Done => NotificationState::Sent,
            Settled::Retry(_) => NotificationState::Pending,
            Settled::GaveUp => NotificationState::Failed,
        };
        queued.last_error = settlement.error().map(str::to_owned);
        queued.next_attempt_at = settlement.next_attempt_at();
        queued.settled_at = settlement.settled_at();
        Ok(true)
    }
}

/// Every call happens on the caller's thread, under the store's lock.
impl Notifications for InMemoryRepository {
    fn plan_notifications(
        &self,
        plan: Option<Plan>,
        now: DateTime<Utc>,
    ) -> Pending<Planned, Infallible> {
        Pending::ready(self.plan_now(plan, now).map_err(WriteError::Storage))
    }

    fn notifications(
        &self,
        state: Option<NotificationState>,
        most: usize,
    ) -> Result<Vec<Notification>, StorageError> {
        let guard = self.state()?;
        let listed = guard.mail.queued.iter().rev();
        Ok(listed
            .filter(|(_, queued)| state.is_none_or(|state| queued.state == state))
            .take(most)
            .map(|(id, queued)| queued.shown(*id))
            .collect())
    }

    fn claim_notifications(
        &self,
        request: ClaimRequest,
    ) -> Pending<Vec<ClaimedNotification>, Infallible> {
        Pending::ready(self.claim_mail_now(request).map_err(WriteError::Storage))
    }

    fn settle_notification(
        &self,
        settlement: Settlement<NotificationId>,
    ) -> Pending<bool, Infallible> {
        Pending::ready(self.settle_mail_now(settlement).map_err(WriteError::Storage))
    }
}
