// The booking page: pick a service and resource (when there is a choice), see a week of
// slots that stays live, hold one while typing your details, book it.

import {
  $, alertText, announce, bookedWhat, call, clockIn, dayName, isDate, loadCatalog, mondayOf,
  newKey, problemText, todayIn, withDisabled,
} from './api.js';
import { Week } from './week.js';

const page = {
  zone: 'UTC',
  services: [],
  resources: [],
  /** The hold being filled in: its answer from POST /holds and the booking's key. */
  hold: null,
  /** Whether a hold or a booking is being asked for (a second click waits for it). */
  busy: false,
};

const week = new Week($('week'), {
  onPick: (date, time) => take(date, time),
  onChange: announce,
});

async function start() {
  const params = new URLSearchParams(location.search);
  try {
    Object.assign(page, await loadCatalog());
  } catch (problem) {
    alertText(problemText(problem));
    return;
  }
  fillServices(params.get('service'));
  fillResources(params.get('resource'));
  const date = isDate(params.get('date')) ? params.get('date') : todayIn(page.zone);
  $('service').addEventListener('change', () => {
    fillResources($('resource').value);
    showWeek(week.monday);
  });
  $('resource').addEventListener('change', () => showWeek(week.monday));
  $('booking').addEventListener('submit', (event) => {
    event.preventDefault();
    book();
  });
  $('change').addEventListener('click', release);
  $('again').addEventListener('click', () => {
    $('done').hidden = true;
    $('pick').hidden = false;
    $('booking').reset();
    showWeek(week.monday);
    $('pick-title').focus();
  });
  showWeek(mondayOf(date));
}

function fillServices(wanted) {
  const select = $('service');
  select.replaceChildren(...page.services.map((service) => new Option(
    `${service.name} (${service.minutes} minutes)`, service.slug,
  )));
  if (page.services.some((service) => service.slug === wanted)) select.value = wanted;
  $('service-field').hidden = page.services.length < 2;
}

/** The resources of the chosen service (all without services), "any" first when several. */
function fillResources(wanted) {
  const service = page.services.find((s) => s.slug === $('service').value);
  const offering = service
    ? service.resources.map((slug) => page.resources.find((r) => r.slug === slug)).filter(Boolean)
    : page.resources;
  const select = $('resource');
  const options = offering.map((resource) => new Option(resource.name, resource.slug));
  if (offering.length > 1) options.unshift(new Option('Whoever is free', ''));
  select.replaceChildren(...options);
  if (offering.some((resource) => resource.slug === wanted)) select.value = wanted;
  $('resource-field').hidden = offering.length < 2;
}

function showWeek(monday) {
  alertText('');
  week.show(monday, $('resource').value, $('service').value);
}

/** Holds the slot, then asks for the client's details. */
async function take(date, time) {
  if (page.busy) return;
  page.busy = true;
  alertText('');
  week.taking = `${date}T${time}`;
  let hold;
  try {
    hold = await call('POST', '/holds', {
      body: { date, time, resource: $('resource').value || null, service: $('service').value || null },
    });
  } catch (problem) {
    week.taking = null;
    alertText(problemText(problem));
    return;
  } finally {
    page.busy = false;
  }
  page.hold = { ...hold, key: newKey() };
  const what = bookedWhat(hold, page.services, page.resources);
  const until = clockIn(hold.expires_at, page.zone);
  $('held').textContent = `${what}, ${dayName(date)} at ${time}. This time is kept for you until ${until} (${page.zone}).`;
  $('pick').hidden = true;
  $('details').hidden = false;
  // The name field is described by the held time, so a screen reader says both.
  $('client_name').focus();
}

/** Gives the held slot back and returns to the week. */
async function release() {
  if (page.busy) return;
  const hold = page.hold;
  page.hold = null;
  $('details').hidden = true;
  $('pick').hidden = false;
  $('pick-title').focus();
  if (hold) {
    try {
      await call('DELETE', `/holds/${hold.token}`);
    } catch {
      // An expired hold is already free.
    }
  }
  // The slots the hold frees are the client's own doing: no news either (unless another
  // slot is being taken by then).
  const released = week.taking;
  setTimeout(() => {
    if (week.taking === released) week.taking = null;
  }, 500);
}

async function book() {
  const hold = page.hold;
  if (!hold || page.busy) return;
  page.busy = true;
  alertText('');
  const field = (name) => $(name).value.trim() || null;
  await withDisabled([...$('booking').querySelectorAll('button')], async () => {
    try {
      const booked = await call('POST', '/schedule', {
        key: hold.key,
        body: {
          client_name: $('client_name').value,
          date: hold.date,
          time: hold.time,
          resource: hold.resource,
          service: hold.service,
          hold: hold.token,
          email: field('email'),
          phone: field('phone'),
          notes: field('notes'),
        },
      });
      confirmed(booked.appointment);
    } catch (problem) {
      if (problem.status !== 404) {
        alertText(problemText(problem));
        return;
      }
      // The hold expired: the time may still be free, or not.
      page.hold = null;
      week.taking = null;
      $('details').hidden = true;
      $('pick').hidden = false;
      alertText(`${problemText(problem)} Pick the time again.`);
      $('pick-title').focus();
    } finally {
      page.busy = false;
    }
  });
}

function confirmed(appointment) {
  page.hold = null;
  week.close();
  week.taking = null;
  const what = bookedWhat(appointment, page.services, page.resources);
  $('done').dataset.appointmentId = appointment.id;
  $('done-what').textContent = `${what} on ${dayName(appointment.date)} at ${appointment.time} (${page.zone}), for ${appointment.client_name}.`;
  $('ics').href = `/appointment/${appointment.id}/calendar.ics`;
  $('manage').href = `/book/manage/${appointment.id}`;
  $('details').hidden = true;
  $('done').hidden = false;
  $('done-title').focus();
  announce('Booked.');
}

start();
