// The operator's dashboard: a live agenda per resource, with cancel and move; closures;
// webhook deliveries. The admin token is typed once and kept in sessionStorage (this tab
// only, never in a URL); every call sends it as a bearer token.

import {
  $, addDays, alertText, announce, call, clockIn, dayName, element, follow, isDate, loadCatalog,
  mondayOf, newKey, problemText, todayIn, withDisabled,
} from './api.js';

const TOKEN = 'booking-admin-token';

const board = {
  zone: 'UTC',
  resources: [],
  services: [],
  stream: null,
  /** The refresh waiting for a burst of changes to end. */
  timer: null,
  /** Counts agenda reads, so that an answer older than the newest is dropped. */
  reads: 0,
  /** Counts sign-ins and sign-outs: work begun before one is dropped when it ends. */
  session: 0,
  /** Where the focus goes after the next drawing of the agenda (an element's id). */
  focus: null,
};

/** Calls the admin API with the token; a token refused mid-session signs the operator out.
 * Answers of a session that has ended are dropped (the promise never settles). */
async function admin(method, path, options = {}) {
  const session = board.session;
  try {
    const answer = await call(method, path, { ...options, token: sessionStorage.getItem(TOKEN) });
    return session === board.session ? answer : new Promise(() => {});
  } catch (problem) {
    if (session !== board.session) return new Promise(() => {});
    if (problem.status === 401 && !$('board').hidden) {
      signOut();
      alertText('The admin token was refused: sign in again.');
      return new Promise(() => {});
    }
    throw problem;
  }
}

async function start() {
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN, $('token').value.trim());
    withDisabled([$('signin-form').querySelector('[type=submit]')], open);
  });
  $('sign-out').addEventListener('click', signOut);
  $('day').addEventListener('change', () => isDate($('day').value) && showAgenda());
  $('span').addEventListener('change', showAgenda);
  $('earlier').addEventListener('click', () => shift(-1));
  $('later').addEventListener('click', () => shift(1));
  $('today').addEventListener('click', () => {
    $('day').value = todayIn(board.zone);
    showAgenda();
  });
  $('closure-form').addEventListener('submit', (event) => {
    event.preventDefault();
    addClosure($('closure-form').querySelector('[type=submit]'));
  });
  const params = new URLSearchParams(location.search);
  if (params.get('view') === 'week') $('span').value = '7';
  board.firstDay = isDate(params.get('date')) ? params.get('date') : null;
  if (sessionStorage.getItem(TOKEN)) {
    await open();
  } else {
    $('signin').hidden = false;
  }
}

/** Forgets the token and everything the board showed. */
function signOut() {
  sessionStorage.removeItem(TOKEN);
  board.session += 1;
  board.stream?.close();
  clearTimeout(board.timer);
  board.reads += 1;
  for (const id of ['resources', 'closure-list', 'webhook-list', 'deliveries']) $(id).replaceChildren();
  announce('');
  alertText('');
  $('board').hidden = true;
  $('sign-out').hidden = true;
  $('signin').hidden = false;
  // A sign-in still loading never finishes now: its button is usable again.
  $('signin-form').querySelector('[type=submit]').disabled = false;
  $('token').value = '';
  $('token').focus();
}

/** Checks the token with a first call, then shows the board. */
async function open() {
  alertText('');
  board.session += 1;
  let closures;
  try {
    Object.assign(board, await loadCatalog());
    closures = (await admin('GET', '/admin/closures')).closures;
  } catch (problem) {
    $('signin').hidden = false;
    if (problem.status === 401 || problem.status === 429) {
      // A wrong token is not tried again on the next visit.
      sessionStorage.removeItem(TOKEN);
      alertText(problem.status === 401
        ? 'That is not the admin token. Type the server\'s BOOKING_ADMIN_TOKEN.'
        : problemText(problem));
    } else {
      alertText(problemText(problem));
    }
    $('token').focus();
    return;
  }
  $('signin').hidden = true;
  $('board').hidden = false;
  $('sign-out').hidden = false;
  $('day').value = board.firstDay ?? todayIn(board.zone);
  $('closure-zone').textContent = `Times are in ${board.zone}.`;
  $('closure-resource').replaceChildren(
    new Option('The whole business', ''),
    ...board.resources.map((resource) => new Option(resource.name, resource.slug)),
  );
  await showAgenda();
  $('agenda-title').focus();
  drawClosures(closures);
  showWebhooks();
}

/** The first and last day shown (today's, if the day field was cleared). */
function range() {
  if (!isDate($('day').value)) $('day').value = todayIn(board.zone);
  const days = Number($('span').value);
  const from = days === 7 ? mondayOf($('day').value) : $('day').value;
  return { from, to: addDays(from, days - 1) };
}

function shift(direction) {
  const { from } = range();
  $('day').value = addDays(from, direction * Number($('span').value));
  showAgenda();
}

/** Draws the agenda of the days chosen and follows their availability: any change (a
 * booking, move, cancel or hold, made anywhere) redraws it. */
async function showAgenda() {
  const { from, to } = range();
  $('range').textContent = from === to ? dayName(from) : `${dayName(from)} to ${dayName(to)}`;
  board.stream?.close();
  board.stream = follow({ from, to }, { snapshot: refreshSoon, slot: refreshSoon });
  const shown = await drawAgenda();
  if (shown !== null) announce(`${shown} appointment${shown === 1 ? '' : 's'} booked on ${$('range').textContent}.`);
}

/** Redraws after a burst of changes, unless the operator is typing in one of its forms (its
 * own submit or Back redraws). */
function refreshSoon() {
  clearTimeout(board.timer);
  board.timer = setTimeout(() => {
    if (!document.querySelector('#resources form')) drawAgenda();
  }, 250);
}

/** Reads and draws the agenda; answers how many appointments it shows (null when an error or
 * a newer read took over). `focus` names the element to give the focus to afterwards. */
async function drawAgenda(focus) {
  if (focus) board.focus = focus;
  const read = ++board.reads;
  const { from, to } = range();
  let appointments = [];
  try {
    let next = `/admin/appointments?from=${from}&to=${to}&limit=200`;
    while (next) {
      const page = await admin('GET', next);
      appointments = appointments.concat(page.appointments);
      next = page.next;
    }
  } catch (problem) {
    if (read === board.reads) alertText(problemText(problem));
    return null;
  }
  if (read !== board.reads) return null;
  const wanted = board.focus;
  board.focus = null;
  const focused = wanted ?? document.activeElement?.id;
  let shown = 0;
  $('resources').replaceChildren(...board.resources.map((resource) => {
    const own = appointments.filter((a) => a.resource === resource.slug);
    shown += own.filter((a) => a.status !== 'canceled').length;
    const days = [];
    for (let date = from; date <= to; date = addDays(date, 1)) {
      const today = own.filter((a) => a.date === date);
      days.push(element(
        'div', { class: 'agenda-day' },
        element('h4', { text: dayName(date) }),
        today.length === 0
          ? element('p', { class: 'none', text: 'No appointments' })
          : element('ul', { class: 'rows' }, ...today.map(row)),
      ));
    }
    return element(
      'section', { class: 'resource', 'aria-labelledby': `resource-${resource.slug}` },
      element('h3', { id: `resource-${resource.slug}`, text: resource.name }),
      ...days,
    );
  }));
  if (focused && $(focused)) $(focused).focus();
  else if (wanted) $('agenda-title').focus();
  return shown;
}

/** What a final status is shown as, on its row. */
const FINAL = { canceled: 'canceled', completed: 'completed', no_show: 'no-show' };

/**
 * One appointment of the agenda, with its actions: a scheduled one can be canceled or moved
 * (before it starts) and marked completed or a no-show (once it has; the server says which
 * applies, by the business's clock); a canceled, completed or no-show one has none.
 */
function row(appointment) {
  const service = board.services.find((s) => s.slug === appointment.service);
  const end = clockIn(appointment.end, board.zone);
  const final = FINAL[appointment.status];
  const contact = [appointment.email, appointment.phone].filter(Boolean).join(' · ');
  const item = element(
    'li', { 'data-appointment-id': appointment.id, class: appointment.status === 'canceled' ? 'canceled' : null },
    element('p', { class: 'when', text: `${appointment.time}–${end}` }),
    element('p', { class: 'who' },
      element('strong', { text: appointment.client_name }),
      service ? ` · ${service.name}` : '',
      final ? element('span', { class: 'badge', text: final }) : null),
    contact ? element('p', { class: 'contact', text: contact }) : null,
    appointment.notes ? element('p', { class: 'notes', text: appointment.notes }) : null,
  );
  if (!final) {
    const who = `${appointment.client_name} at ${appointment.time}`;
    const button = (id, text, label, open) => {
      const made = element('button', { type: 'button', id: `${id}-${appointment.id}`, text, 'aria-label': `${label} ${who}` });
      made.addEventListener('click', () => open(item, appointment));
      return made;
    };
    item.append(element('div', { class: 'actions' },
      button('cancel', 'Cancel', 'Cancel', cancelForm),
      button('move', 'Move', 'Move', moveForm),
      button('complete', 'Completed', 'Record completed:', (i, a) => concludeForm(i, a, 'complete')),
      button('no-show', 'No-show', 'Record a no-show:', (i, a) => concludeForm(i, a, 'no-show'))));
  }
  return item;
}

/**
 * Replaces a row's actions with a small form; `submit` does the work (one call at a time).
 * Afterwards the agenda is drawn again, and the focus goes back to the button that opened the
 * form (or to the agenda's heading, when the appointment has no actions left).
 */
function inlineForm(item, opener, fields, label, submit) {
  // One at a time: another open form is given up (its row gets its buttons back when this
  // one closes and the agenda is drawn again).
  document.querySelector('#resources form.inline')?.remove();
  item.querySelector('.actions')?.remove();
  const back = element('button', { type: 'button', text: 'Back' });
  const send = element('button', { type: 'submit', class: 'primary', text: label });
  const form = element('form', { class: 'inline' }, ...fields,
    element('div', { class: 'actions' }, send, back));
  const close = () => {
    form.remove();
    drawAgenda(opener);
  };
  back.addEventListener('click', close);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    alertText('');
    withDisabled([send, back], async () => {
      try {
        await submit();
        close();
      } catch (problem) {
        alertText(problemText(problem));
      }
    });
  });
  item.append(form);
  form.querySelector('input')?.focus();
}

function labelled(id, text, input) {
  return element('p', {}, element('label', { for: id, text }), input);
}

function cancelForm(item, appointment) {
  const reason = element('input', { id: `reason-${appointment.id}`, maxlength: 500 });
  const key = newKey();
  inlineForm(item, `cancel-${appointment.id}`, [labelled(reason.id, 'Reason (the client is told)', reason)],
    'Cancel the appointment', async () => {
      const body = reason.value.trim() ? { reason: reason.value.trim() } : {};
      await admin('POST', `/admin/appointments/${appointment.id}/cancel`, { key, body });
      announce(`Canceled ${appointment.client_name} at ${appointment.time}.`);
    });
}

/** Records how a started appointment ended: `ending` is `complete` or `no-show`. */
function concludeForm(item, appointment, ending) {
  const remark = element('input', { id: `remark-${appointment.id}`, maxlength: 500 });
  const what = ending === 'complete' ? 'completed' : 'a no-show';
  inlineForm(item, `${ending}-${appointment.id}`, [labelled(remark.id, 'Remark (for the history; the client is not told)', remark)],
    ending === 'complete' ? 'Record completed' : 'Record a no-show', async () => {
      const body = remark.value.trim() ? { reason: remark.value.trim() } : {};
      await admin('POST', `/admin/appointments/${appointment.id}/${ending}`, { body });
      announce(`Recorded ${appointment.client_name} at ${appointment.time} as ${what}.`);
    });
}

/** A select of `options` ([value, text] pairs), `value` chosen. */
function select(id, options, value) {
  const made = element('select', { id }, ...options.map(([v, text]) => new Option(text, v)));
  made.value = value;
  return made;
}

/**
 * Moves an appointment to another day and time, and, when the operator picks them, to another
 * resource or service (the server checks that the resource offers the service and that the
 * service's whole time is free there).
 */
function moveForm(item, appointment) {
  const date = element('input', { id: `date-${appointment.id}`, type: 'date', value: appointment.date, required: true });
  const time = element('input', { id: `time-${appointment.id}`, type: 'time', value: appointment.time, required: true });
  const resource = select(`move-resource-${appointment.id}`,
    board.resources.map((r) => [r.slug, r.name]), appointment.resource);
  const service = element('select', { id: `move-service-${appointment.id}` });
  // The services the chosen resource offers; a plain appointment (no service) stays plain
  // unless one is picked.
  const offered = () => {
    const kept = service.value || appointment.service || '';
    const services = board.services
      .filter((s) => s.resources.includes(resource.value))
      .map((s) => new Option(s.name, s.slug));
    service.replaceChildren(...(appointment.service ? [] : [new Option('No service', '')]), ...services);
    service.value = kept;
    if (service.selectedIndex < 0) service.selectedIndex = 0;
  };
  offered();
  resource.addEventListener('change', offered);
  const key = newKey();
  inlineForm(item, `move-${appointment.id}`,
    [labelled(date.id, `New day (${board.zone})`, date), labelled(time.id, 'New time', time),
      labelled(resource.id, 'Resource', resource), labelled(service.id, 'Service', service)],
    'Move the appointment', async () => {
      const body = { date: date.value, time: time.value };
      if (resource.value !== appointment.resource) body.resource = resource.value;
      if (service.value && service.value !== appointment.service) body.service = service.value;
      await admin('POST', `/admin/appointments/${appointment.id}/move`, { key, body });
      const what = service.value ? `${service.selectedOptions[0].textContent} ` : '';
      const who = resource.selectedOptions[0].textContent;
      announce(`Moved ${appointment.client_name}'s ${what}appointment to ${dayName(date.value)} at ${time.value}, with ${who}.`);
    });
}

async function showClosures() {
  try {
    drawClosures((await admin('GET', '/admin/closures')).closures);
  } catch (problem) {
    alertText(problemText(problem));
  }
}

function drawClosures(closures) {
  const name = (slug) => board.resources.find((r) => r.slug === slug)?.name ?? slug;
  const local = (instant) => instant.replace('T', ' ').slice(0, 16);
  $('closure-list').replaceChildren(...(closures.length === 0
    ? [element('li', { class: 'none', text: 'No closures' })]
    : closures.map((closure) => {
      const what = closure.resource ? name(closure.resource) : 'The whole business';
      const span = `${local(closure.from)} to ${local(closure.to)}`;
      const remove = element('button', { type: 'button', text: 'Remove', 'aria-label': `Remove the closure of ${what}, ${span}` });
      remove.addEventListener('click', () => withDisabled([remove], async () => {
        try {
          await admin('DELETE', `/admin/closures/${closure.id}`);
          announce('Closure removed.');
          await showClosures();
          $('closures-title').focus();
        } catch (problem) {
          alertText(problemText(problem));
        }
      }));
      return element('li', {},
        element('p', { text: `${what}: ${span}${closure.reason ? ` (${closure.reason})` : ''}` }),
        element('div', { class: 'actions' }, remove));
    })));
}

function addClosure(submit) {
  alertText('');
  return withDisabled([submit], async () => {
    try {
      const added = await admin('POST', '/admin/closures', {
        body: {
          resource: $('closure-resource').value || null,
          from: $('closure-from').value,
          to: $('closure-to').value,
          reason: $('closure-reason').value.trim() || null,
        },
      });
      const affected = added.affected_appointments.length;
      announce(affected === 0
        ? 'Closure added.'
        : `Closure added; ${affected} appointment${affected === 1 ? ' is' : 's are'} inside it: move or cancel ${affected === 1 ? 'it' : 'them'}.`);
      $('closure-form').reset();
      await showClosures();
    } catch (problem) {
      alertText(problemText(problem));
    }
  });
}

async function showWebhooks() {
  let webhooks;
  try {
    webhooks = (await admin('GET', '/admin/webhooks')).webhooks;
  } catch (problem) {
    alertText(problemText(problem));
    return;
  }
  $('webhook-list').replaceChildren(...(webhooks.length === 0
    ? [element('li', { class: 'none', text: 'No webhook endpoints (POST /admin/webhooks registers one)' })]
    : webhooks.map((webhook) => {
      const show = element('button', { type: 'button', text: 'Deliveries', 'aria-label': `Deliveries to ${webhook.url}` });
      show.addEventListener('click', () => showDeliveries(webhook));
      return element('li', {},
        element('p', { text: `${webhook.url} (${webhook.all_events ? 'every event' : webhook.events.join(', ')})` }),
        element('div', { class: 'actions' }, show));
    })));
}

async function showDeliveries(webhook) {
  let deliveries;
  try {
    deliveries = (await admin('GET', `/admin/webhooks/${webhook.id}/deliveries`)).deliveries;
  } catch (problem) {
    alertText(problemText(problem));
    return;
  }
  const cells = (tag, values) => element('tr', {}, ...values.map((text) => element(tag, { text: String(text ?? '') })));
  $('deliveries').replaceChildren(
    element('h3', { text: `Deliveries to ${webhook.url}`, tabindex: '-1', id: 'deliveries-title' }),
    deliveries.length === 0
      ? element('p', { class: 'none', text: 'Nothing delivered yet' })
      : element('div', { class: 'scroll' }, element('table', {},
        element('thead', {}, cells('th', ['Event', 'Appointment', 'Status', 'Attempts', 'Last error', 'Next attempt'])),
        element('tbody', {}, ...deliveries.map((d) => cells('td', [
          d.event, d.appointment_id, d.status, d.attempts, d.last_error, d.next_attempt_at,
        ]))))),
  );
  $('deliveries-title').focus();
}

start();
