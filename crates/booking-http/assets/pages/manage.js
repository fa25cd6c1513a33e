// A client's own booking, reached by the link in its confirmation: see it, move it to
// another free time (the week stays live), or cancel it.

import {
  $, alertText, announce, bookedWhat, call, dayName, loadCatalog, mondayOf, newKey, problemText,
  withDisabled,
} from './api.js';
import { Week } from './week.js';

const id = (() => {
  try {
    return decodeURIComponent(location.pathname.split('/').pop());
  } catch {
    return '';
  }
})();

const page = {
  zone: 'UTC',
  appointment: null,
  services: [],
  resources: [],
  /** The move being confirmed, and the cancel's key (one per form, so a retry is one cancel). */
  to: null,
  cancelKey: null,
};

const week = new Week($('week'), {
  onPick: (date, time) => pickMove(date, time),
  onChange: announce,
});

const sections = ['booking', 'moving', 'confirm-move', 'canceling'];

/** Shows one section and moves the focus to its heading. */
function show(section) {
  for (const name of sections) $(name).hidden = name !== section;
  $(`${section}-title`).focus();
}

async function start() {
  try {
    Object.assign(page, await loadCatalog());
    page.appointment = await call('GET', `/appointment/${encodeURIComponent(id)}`);
  } catch (problem) {
    $('what').textContent = problem.status === 404
      ? 'No booking has this link. Check the link in your confirmation.'
      : 'The booking cannot be shown right now.';
    alertText(problemText(problem));
    return;
  }
  $('move').addEventListener('click', startMove);
  $('cancel').addEventListener('click', () => {
    page.cancelKey = newKey();
    show('canceling');
  });
  $('keep').addEventListener('click', () => show('booking'));
  $('keep-time').addEventListener('click', () => {
    week.close();
    show('booking');
  });
  $('move-no').addEventListener('click', () => show('moving'));
  $('move-yes').addEventListener('click', confirmMove);
  $('cancel-form').addEventListener('submit', (event) => {
    event.preventDefault();
    cancel();
  });
  render();
}

/** What the page says of each status. */
const STATES = {
  scheduled: 'This appointment is booked.',
  canceled: 'This appointment is canceled.',
  completed: 'This appointment took place.',
  no_show: 'This appointment was missed.',
};

function render() {
  const appointment = page.appointment;
  const what = bookedWhat(appointment, page.services, page.resources);
  $('booking').dataset.appointmentId = appointment.id;
  $('what').textContent = `${what}, ${dayName(appointment.date)} at ${appointment.time} (${page.zone}), for ${appointment.client_name}.`;
  $('state').textContent = STATES[appointment.status] ?? STATES.scheduled;
  $('ics').href = `/appointment/${appointment.id}/calendar.ics`;
  $('links').hidden = false;
  // Only a booked appointment can still be canceled or moved (the server says whether it may).
  $('actions').hidden = appointment.status !== 'scheduled';
}

/** After a refusal: reads the appointment again, and if it changed (canceled or moved
 * elsewhere), shows it as it is now. Answers whether it did. */
async function reread() {
  try {
    const now = await call('GET', `/appointment/${page.appointment.id}`);
    if (now.status === page.appointment.status && now.start === page.appointment.start) return false;
    page.appointment = now;
  } catch {
    return false;
  }
  week.close();
  render();
  show('booking');
  return true;
}

function startMove() {
  alertText('');
  week.current = `${page.appointment.date}T${page.appointment.time}`;
  week.show(mondayOf(page.appointment.date), page.appointment.resource, page.appointment.service);
  show('moving');
}

function pickMove(date, time) {
  page.to = { date, time, key: newKey() };
  $('move-to').textContent = `From ${dayName(page.appointment.date)} at ${page.appointment.time} to ${dayName(date)} at ${time}.`;
  show('confirm-move');
}

function confirmMove() {
  alertText('');
  const to = page.to;
  return withDisabled([$('move-yes'), $('move-no')], async () => {
    week.taking = `${to.date}T${to.time}`;
    try {
      const moved = await call('POST', `/reschedule/${page.appointment.id}`, {
        key: to.key, body: { date: to.date, time: to.time },
      });
      page.appointment = moved.appointment;
      week.close();
      render();
      show('booking');
      announce(`Moved to ${dayName(to.date)} at ${to.time}.`);
    } catch (problem) {
      alertText(problemText(problem));
      if (!(await reread())) show('moving');
    } finally {
      week.taking = null;
    }
  });
}

function cancel() {
  alertText('');
  const reason = $('reason').value.trim();
  return withDisabled([...$('cancel-form').querySelectorAll('button')], async () => {
    try {
      const canceled = await call('POST', `/cancel/${page.appointment.id}`, {
        key: page.cancelKey, body: reason ? { reason } : {},
      });
      page.appointment = canceled.appointment;
      render();
      show('booking');
      announce('The appointment is canceled.');
    } catch (problem) {
      alertText(problemText(problem));
      await reread();
    }
  });
}

start();
