// What every page shares: calls to the API (problems become errors that say what went wrong
// and what to do), business-local dates, and the live availability stream.

/** A refused or failed call: the API's problem document, or what the page could tell. */
export class Problem extends Error {
  constructor(status, body) {
    super(body?.message ?? `The server answered ${status}.`);
    this.status = status;
    this.detail = body?.detail ?? '';
    this.reason = body?.reason ?? null;
  }

  /** The message and the server's advice, as one sentence for people. */
  get text() {
    return this.detail ? `${this.message} ${capitalized(this.detail)}.` : this.message;
  }
}

/** What to tell people about a failed call (or any other error). */
export function problemText(problem) {
  return problem instanceof Problem ? problem.text : String(problem);
}

/** The element with `id`. */
export const $ = (id) => document.getElementById(id);

/** The business's time zone, services and resources, read once per page. */
export async function loadCatalog() {
  const [welcome, services, resources] = await Promise.all([
    call('GET', '/'), call('GET', '/services'), call('GET', '/resources'),
  ]);
  return { zone: welcome.time_zone, services: services.services, resources: resources.resources };
}

function capitalized(text) {
  const trimmed = text.replace(/\.$/, '');
  return trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
}

/**
 * Calls the API: `body` is sent as JSON; `token` as the bearer token; `key` as the
 * Idempotency-Key, so that a retried write is never done twice. Returns the JSON answer (null
 * for 204) or throws a Problem.
 */
export async function call(method, path, { body, token, key } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  if (key) headers['Idempotency-Key'] = key;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Problem(0, {
      message: 'The server cannot be reached.',
      detail: 'check the connection and try again',
    });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) throw new Problem(response.status, json);
  return json;
}

/** A fresh Idempotency-Key: a random UUID (`crypto.randomUUID` exists only on HTTPS and
 * localhost, `getRandomValues` everywhere). */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// Dates are business-local `YYYY-MM-DD` strings. Arithmetic on them is done at UTC midnight,
// where no day is longer or shorter than another.

/** Today's date in `zone`. */
export function todayIn(zone) {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit',
  }).format(new Date());
}

/** `date` plus `days`. */
export function addDays(date, days) {
  const day = new Date(`${date}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + days);
  return day.toISOString().slice(0, 10);
}

/** The Monday of `date`'s week. */
export function mondayOf(date) {
  const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
  return addDays(date, -((weekday + 6) % 7));
}

/** Whether `text` is a real `YYYY-MM-DD` date. */
export function isDate(text) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text ?? '')) return false;
  const day = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === text;
}

/** "Monday 7 January" for a date (`long`), or "Mon 7 Jan". */
export function dayName(date, long = true) {
  // The pages' sentences are English: so are their dates.
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: 'UTC',
    weekday: long ? 'long' : 'short',
    day: 'numeric',
    month: long ? 'long' : 'short',
  }).format(new Date(`${date}T12:00:00Z`));
}

/** "09:30": an instant's time of day in `zone`. */
export function clockIn(instant, zone) {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).format(new Date(instant));
}

/** The browser's own time zone. */
export function ownZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Query string of the entries of `params` that have a value. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value) search.set(name, value);
  }
  return search.toString();
}

/**
 * Follows the availability stream for `params` (as for GET /availability): `snapshot` gets
 * every slot at once (on open and whenever the server resyncs), `slot` each change. After a
 * cut the browser reconnects by itself, and the server's next snapshot covers what was missed.
 * A browser gives up on an answer that is not a stream (a 503 while the database is busy);
 * then the stream is opened again, a little later each time. A server with too many streams
 * sends a `refused` event instead, and the browser tries again later: meanwhile the slots are
 * read once. Either way the page's live region says that the times may be out of date.
 * Returns what stops it.
 */
export function follow(params, { snapshot, slot }) {
  const url = `/availability/stream?${query(params)}`;
  const listing = `/availability?${query(params)}`;
  let source = null;
  let paused = false;
  let refused = false;
  let closed = false;
  let delay = 1000;
  let timer = null;
  /** Counts snapshots, so that a listing read before the newest one is dropped. */
  let snapshots = 0;
  const pause = (text) => {
    paused = true;
    announce(text);
  };
  /** Reads the slots once, for while the stream is down; `failed` gets a refusal. */
  const readOnce = (failed) => {
    const seen = snapshots;
    call('GET', listing).then((answer) => {
      if (!closed && seen === snapshots) snapshot(answer);
    }, (problem) => failed?.(problem));
  };
  const open = () => {
    source = new EventSource(url);
    source.addEventListener('snapshot', (event) => {
      if (paused) announce('Live updates are back.');
      paused = false;
      refused = false;
      delay = 1000;
      snapshots += 1;
      snapshot(JSON.parse(event.data));
    });
    source.addEventListener('slot', (event) => slot(JSON.parse(event.data)));
    source.addEventListener('refused', () => {
      // The server sheds streams when it has too many; the browser asks again later. Meanwhile
      // the page shows the slots as they are now, once.
      refused = true;
      pause('Live updates are paused: the server is busy, and the times shown may be out of date. Retrying…');
      readOnce();
    });
    source.addEventListener('error', () => {
      if (!refused) pause('Live updates are paused: reconnecting…');
      if (source.readyState !== EventSource.CLOSED || closed) return;
      // The browser gave up. A request it cannot make (a 4xx) is said and not repeated;
      // anything else is tried again, a little later each time.
      readOnce((problem) => {
        if (problem.status >= 400 && problem.status < 500) {
          closed = true;
          clearTimeout(timer);
          source.close();
          alertText(problemText(problem));
        }
      });
      timer = setTimeout(open, delay);
      delay = Math.min(delay * 2, 30000);
    });
  };
  open();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      source.close();
      if (paused) announce('');
    },
  };
}

/**
 * What was booked, in words: "Haircut with Alice", or "Appointment" for a plain slot of a
 * business with one resource.
 */
export function bookedWhat(booked, services, resources) {
  const service = services.find((s) => s.slug === booked.service);
  const resource = resources.find((r) => r.slug === booked.resource);
  const withWhom = resources.length > 1 && resource ? ` with ${resource.name}` : '';
  return `${service ? service.name : 'Appointment'}${withWhom}`;
}

/** Creates an element: `attributes` (a `text` one sets its text), then `children`. */
export function element(name, attributes = {}, ...children) {
  const made = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') made.textContent = value;
    else if (value === true) made.setAttribute(key, '');
    else made.setAttribute(key, value);
  }
  made.append(...children.filter((child) => child !== null && child !== undefined));
  return made;
}

/** Runs `work` with `controls` disabled, so that a second click waits for the first. */
export async function withDisabled(controls, work) {
  for (const control of controls) control.disabled = true;
  try {
    return await work();
  } finally {
    for (const control of controls) control.disabled = false;
  }
}

/** Shows `text` in the page's alert region (empty: nothing to say). The region is always in
 * the page, so that screen readers hear what arrives in it. */
export function alertText(text) {
  $('error').textContent = text ?? '';
}

/** Says `text` in the page's polite live region. */
export function announce(text) {
  $('status').textContent = text;
}
