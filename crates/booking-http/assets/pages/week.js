// A week of slots as buttons, one per start time (`data-slot="YYYY-MM-DDTHH:MM"`, business
// local; `disabled` when it cannot be booked), kept live from the availability stream: a slot
// someone else takes is disabled where it stands, without redrawing the week.

import { addDays, clockIn, dayName, element, follow, ownZone } from './api.js';

/** Why a slot cannot be taken, in words. */
const REASONS = {
  closed: 'closed',
  full: 'taken',
  held: 'being booked by someone else',
  outside_hours: 'too close to closing',
  too_soon: 'too soon to book',
  beyond_horizon: 'too far ahead',
  past: 'past',
};

export class Week {
  /**
   * A week drawn into `root`: buttons to the previous and next weeks, its dates, its time
   * zone and its slots. `onPick(date, time)` is called when a free slot is chosen;
   * `onChange(text)` when a slot changes under the client's eyes (for the page's live region).
   */
  constructor(root, { onPick, onChange }) {
    const previous = element('button', { type: 'button', text: 'Previous week' });
    const next = element('button', { type: 'button', text: 'Next week' });
    this.next = next;
    previous.addEventListener('click', () => this.shift(-7));
    next.addEventListener('click', () => this.shift(7));
    this.title = element('p', { class: 'week-title' });
    this.zones = element('p', { class: 'zones' });
    this.container = element('div', { class: 'week' });
    root.replaceChildren(
      element('nav', { class: 'weeks', 'aria-label': 'Weeks' }, previous, this.title, next),
      this.zones,
      this.container,
    );
    this.onPick = onPick;
    this.onChange = onChange;
    /** The `data-slot` of the client's own appointment, marked as theirs. */
    this.current = null;
    /** The `data-slot` the page itself is taking, if any: changes meanwhile are the client's own. */
    this.taking = null;
    this.slots = new Map();
    this.source = null;
    this.zone = 'UTC';
  }

  /** Follows the week starting on `monday` for `resource` and `service` (either may be empty). */
  show(monday, resource, service) {
    this.source?.close();
    Object.assign(this, { monday, resource, service });
    this.title.textContent = `${dayName(monday)} to ${dayName(addDays(monday, 6))}`;
    this.container.replaceChildren(element('p', { class: 'loading', text: 'Loading times…' }));
    this.container.setAttribute('aria-busy', 'true');
    this.source = follow(
      { from: monday, to: addDays(monday, 6), resource, service },
      {
        snapshot: (listing) => this.snapshot(listing),
        slot: (slot) => this.update(slot),
      },
    );
  }

  /** Follows the week `days` days from this one, with the same choices. */
  shift(days) {
    this.show(addDays(this.monday, days), this.resource, this.service);
  }

  /** Stops following. */
  close() {
    this.source?.close();
    this.source = null;
  }

  snapshot(listing) {
    this.zone = listing.time_zone;
    this.slots = new Map(listing.slots.map((slot) => [key(slot), slot]));
    const own = ownZone();
    this.zones.textContent = own === this.zone
      ? `Times are in ${this.zone}.`
      : `Times are in ${this.zone}, the business's time zone; your own (${own}) is shown under each where it differs.`;
    this.draw();
  }

  update(slot) {
    const known = this.slots.has(key(slot));
    this.slots.set(key(slot), slot);
    if (!known) {
      this.draw();
      return;
    }
    const at = `${slot.date}T${slot.time}`;
    const button = this.button(at);
    if (!button) return;
    const wasFree = !button.disabled;
    const hadFocus = document.activeElement === button;
    this.fill(button, this.group(slot.date, slot.time), ownZone());
    // While the client takes a slot, what changes is theirs (a service's hold or booking makes
    // its neighbours unavailable too): no news to them; nor is a week they are not looking at.
    const watched = !this.taking && !this.container.closest('[hidden]');
    if (wasFree && button.disabled) {
      if (watched) this.onChange?.(`${dayName(slot.date)} at ${slot.time} was just taken.`);
      // A disabled button loses the focus: hand it to the next free slot.
      if (hadFocus) this.focusNextFree(button);
    } else if (!wasFree && !button.disabled && watched) {
      this.onChange?.(`${dayName(slot.date)} at ${slot.time} is free again.`);
    }
  }

  button(at) {
    return this.container.querySelector(`button[data-slot="${at}"]`);
  }

  focusNextFree(from) {
    const buttons = [...this.container.querySelectorAll('button[data-slot]')];
    const after = buttons.slice(buttons.indexOf(from) + 1).concat(buttons);
    // Nothing free this week: the way to the next.
    (after.find((button) => !button.disabled) ?? this.next).focus();
  }

  /** Every resource's slot at one local date and time. */
  group(date, time) {
    return [...this.slots.values()].filter((slot) => slot.date === date && slot.time === time);
  }

  draw() {
    const focused = document.activeElement?.dataset?.slot;
    const own = ownZone();
    const days = [];
    for (let offset = 0; offset < 7; offset += 1) {
      const date = addDays(this.monday, offset);
      const times = [...new Set(
        [...this.slots.values()].filter((slot) => slot.date === date).map((slot) => slot.time),
      )].sort();
      const heading = element('h3', { text: dayName(date, false) });
      const body = times.length === 0
        ? element('p', { class: 'none', text: 'No times' })
        : element('ul', { class: 'slots' }, ...times.map((time) => {
          const button = element('button', { type: 'button', 'data-slot': `${date}T${time}` });
          button.addEventListener('click', () => this.onPick(date, time));
          this.fill(button, this.group(date, time), own);
          return element('li', {}, button);
        }));
      days.push(element('div', { class: 'day' }, heading, body));
    }
    this.container.replaceChildren(...days);
    this.container.removeAttribute('aria-busy');
    if (focused) {
      const button = this.button(focused);
      if (button && !button.disabled) button.focus();
      else if (button) this.focusNextFree(button);
    }
  }

  /** Sets a slot button's text, state and label from its resources' slots. */
  fill(button, group, own) {
    const [first] = group;
    const free = group.some((slot) => slot.available);
    const mine = button.dataset.slot === this.current;
    button.disabled = !free || mine;
    button.classList.toggle('mine', mine);
    const reason = mine ? 'your appointment' : free ? 'free' : describe(group);
    // The client's own clock under the business's, when the two differ.
    const theirs = own === this.zone ? null : clockIn(first.start, own);
    const shown = theirs === first.time ? null : theirs;
    button.replaceChildren(...[
      element('span', { class: 'time', text: first.time }),
      shown ? element('span', { class: 'theirs', text: `${shown} yours` }) : null,
      free && !mine ? null : element('span', { class: 'why', text: reason }),
    ].filter(Boolean));
    const yours = shown ? ` (${shown} yours)` : '';
    button.setAttribute('aria-label', `${dayName(first.date)} ${first.time}${yours}: ${reason}`);
  }
}

/** A slot's key: its resource and instant. */
function key(slot) {
  return `${slot.resource}|${slot.start}`;
}

/** Why none of a time's slots can be taken: the most telling of their reasons. */
function describe(group) {
  const reasons = new Set(group.map((slot) => slot.reason));
  const reason = Object.keys(REASONS).find((known) => reasons.has(known));
  return REASONS[reason] ?? 'unavailable';
}
