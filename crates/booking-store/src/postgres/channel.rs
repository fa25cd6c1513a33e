//! The notification channel servers share: what a write announces, written as text by the
//! announcer after each commit and read back by every listening server.
//!
//! A payload is the writing server's origin (32 hex digits, from its connections' setting)
//! followed by `*` (anything may have changed) or `resource|again_at|start,start,...` with
//! instants in seconds since the epoch and `again_at` empty when the slots do not change by
//! themselves. It carries a [`Change`], the same value the write returned.

use booking_core::change::Change;
use chrono::{DateTime, Utc};

/// The session setting that holds a connection's channel.
pub(super) const CHANNEL_SETTING: &str = "booking.channel";
/// The session setting that holds a connection's origin.
pub(super) const ORIGIN_SETTING: &str = "booking.origin";
/// The payload, after the origin, of "anything may have changed".
const EVERYTHING: &str = "*";
const ORIGIN_LENGTH: usize = 32;

/// The channel of the servers that share the tables of `schema`: deployments in other
/// schemas of the same database hear nothing of these. Channel names are at most 63 bytes, so
/// a long schema name is replaced by its FNV-1a hash (the same in every build).
pub(super) fn name(schema: &str) -> String {
    const LIMIT: usize = 63;
    let name = format!("booking_changes:{schema}");
    if name.len() <= LIMIT {
        return name;
    }
    let hash = schema.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("booking_changes:#{hash:016x}")
}

/// A new origin for one repository: its connections' writes carry it.
pub(super) fn new_origin() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The payload, after the origin, announcing `change`; `None` when there is nothing to say.
pub(super) fn payload(change: &Change) -> Option<String> {
    match change {
        Change::Slots { resource, starts, again_at } => {
            let again_at = again_at.map(|at| at.timestamp().to_string()).unwrap_or_default();
            let starts: Vec<String> = starts.iter().map(|at| at.timestamp().to_string()).collect();
            Some(format!("{resource}|{again_at}|{}", starts.join(",")))
        }
        Change::Everything => Some(EVERYTHING.to_owned()),
        Change::Nothing => None,
    }
}

/// The origin and the change a payload carries; `None` if it is not one of ours.
pub(super) fn decode(payload: &str) -> Option<(&str, Change)> {
    let origin = payload.get(..ORIGIN_LENGTH)?;
    let body = payload.get(ORIGIN_LENGTH..)?;
    if body == EVERYTHING {
        return Some((origin, Change::Everything));
    }
    let mut parts = body.split('|');
    let resource = parts.next()?.parse().ok()?;
    let again_at = match parts.next()? {
        "" => None,
        seconds => Some(instant(seconds)?),
    };
    let starts = parts.next()?.split(',').map(instant).collect::<Option<Vec<_>>>()?;
    if parts.next().is_some() || starts.is_empty() {
        return None;
    }
    Some((origin, Change::Slots { resource, starts, again_at }))
}

fn instant(seconds: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds.parse().ok()?, 0)
}

#[cfg(test)]
mod tests {
    use booking_core::catalog::Slug;

    use super::*;

    #[test]
    fn payloads_read_back_as_written() {
        let origin = new_origin();
        let resource: Slug = "room-1".parse().unwrap();
        let starts = vec![instant("1893488400").unwrap(), instant("1893490200").unwrap()];
        let again_at = instant("1893488700");
        let change = Change::Slots { resource, starts, again_at };
        let written = format!("{origin}{}", payload(&change).unwrap());
        assert_eq!(decode(&written), Some((origin.as_str(), change)));
        let everything = format!("{origin}{}", payload(&Change::Everything).unwrap());
        assert_eq!(decode(&everything), Some((origin.as_str(), Change::Everything)));
        assert_eq!(payload(&Change::Nothing), None);
    }

    #[test]
    fn channel_names_fit_postgresql_identifiers() {
        assert_eq!(name("public"), "booking_changes:public");
        let long = "s".repeat(63);
        assert!(name(&long).len() <= 63, "{}", name(&long));
        assert_eq!(name(&long), name(&long));
        assert_ne!(name(&long), name(&"t".repeat(63)));
    }

    #[test]
    fn foreign_payloads_are_ignored() {
        let origin = new_origin();
        for body in ["", "hello", "room|x|1", "room||", "Not A Slug||1", "room||1|extra"] {
            assert_eq!(decode(&format!("{origin}{body}")), None, "{body}");
        }
        assert_eq!(decode("short"), None);
    }
}
