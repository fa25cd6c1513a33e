-- The business's calendar, kept beside the appointments so that every change to it is checked
-- against them in the transaction that stores it, and every booking against it (the version
-- the booking was placed under must be the stored one). One row of `calendar` once a calendar
-- is stored: its version counts the changes. Lengths and buffers are counted in slots of the
-- stored slot length; hours are written as the settings write them.
CREATE TABLE calendar (
    id           INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    version      INTEGER NOT NULL CHECK (version >= 1),
    time_zone    TEXT    NOT NULL CHECK (length(time_zone) BETWEEN 1 AND 64),
    slot_minutes INTEGER NOT NULL CHECK (slot_minutes BETWEEN 1 AND 1440),
    changed_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE calendar_resources (
    slug     TEXT    PRIMARY KEY NOT NULL CHECK (length(slug) BETWEEN 1 AND 40),
    position INTEGER NOT NULL UNIQUE,
    name     TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 400),
    hours    TEXT    NOT NULL CHECK (length(hours) BETWEEN 1 AND 1000),
    capacity INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 10000)
) STRICT;

CREATE TABLE calendar_services (
    slug               TEXT    PRIMARY KEY NOT NULL CHECK (length(slug) BETWEEN 1 AND 40),
    position           INTEGER NOT NULL UNIQUE,
    name               TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 400),
    slots              INTEGER NOT NULL CHECK (slots BETWEEN 1 AND 65535),
    buffer_before      INTEGER NOT NULL CHECK (buffer_before BETWEEN 0 AND 65535),
    buffer_after       INTEGER NOT NULL CHECK (buffer_after BETWEEN 0 AND 65535),
    min_notice_minutes INTEGER CHECK (min_notice_minutes >= 0),
    horizon_minutes    INTEGER CHECK (horizon_minutes >= 0)
) STRICT;

-- The resources that perform each service, in the order they are chosen from.
CREATE TABLE calendar_performers (
    service  TEXT    NOT NULL REFERENCES calendar_services (slug) ON DELETE CASCADE,
    resource TEXT    NOT NULL REFERENCES calendar_resources (slug),
    position INTEGER NOT NULL,
    PRIMARY KEY (service, resource),
    UNIQUE (service, position)
) STRICT, WITHOUT ROWID;

-- A date whose hours replace its weekday's for one resource ('closed': none that day).
CREATE TABLE calendar_overrides (
    resource TEXT NOT NULL REFERENCES calendar_resources (slug) ON DELETE CASCADE,
    date     TEXT NOT NULL CHECK (date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    hours    TEXT NOT NULL CHECK (length(hours) BETWEEN 1 AND 1000),
    PRIMARY KEY (resource, date)
) STRICT, WITHOUT ROWID;
