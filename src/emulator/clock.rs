//! Wall-clock time as the API shows it: milliseconds since the epoch in the state, RFC 3339 with
//! milliseconds (`2026-01-01T00:00:00.000Z`) on the wire.

use std::time::{SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// Now, in milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// `2026-01-01T00:00:00.000Z`.
pub(crate) fn format_rfc3339(at: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

/// A state timestamp on the wire.
pub(crate) fn format_ms(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    format_rfc3339(
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH),
    )
}

/// Parses an RFC 3339 timestamp into milliseconds since the epoch.
pub(crate) fn parse_rfc3339_ms(value: &str) -> Option<u64> {
    let at = OffsetDateTime::parse(value, &Rfc3339).ok()?;
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_wire_format() {
        let ms = 1_767_225_600_123;
        assert_eq!(format_ms(ms), "2026-01-01T00:00:00.123Z");
        assert_eq!(parse_rfc3339_ms(&format_ms(ms)), Some(ms));
        assert_eq!(
            parse_rfc3339_ms("2026-01-01T01:00:00+01:00"),
            Some(1_767_225_600_000)
        );
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }
}
