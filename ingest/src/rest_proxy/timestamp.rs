//! REST Proxy timestamps: RFC 3339 date-times in, ms since the Unix epoch to Kafka,
//! and `YYYY-MM-DDTHH:MM:SS.mmmZ` back in the v3 reports. The proleptic Gregorian
//! calendar is Howard Hinnant's `days_from_civil`/`civil_from_days`: a few lines
//! against a date-time crate for the two conversions the API needs.

use std::fmt;
use std::ops::Range;

use crate::Rejection;

/// The earliest record timestamp: 1 ms after the epoch. Kafka stores any non-negative
/// time, but librdkafka cannot send 0, which it reads as "now" (`rd_kafka_msg_new0`
/// sets the current time for 0), and a negative one reaches Kafka as -1, "no
/// timestamp". Refused rather than silently changed.
pub(super) const MIN_MS: i64 = 1;

/// The latest record timestamp: 9999-12-31T23:59:59.999Z, the last instant RFC 3339's
/// four-digit year can write, so every accepted timestamp is reported back in the form
/// it came in.
pub(super) const MAX_MS: i64 = 253_402_300_799_999;

/// A record timestamp from the request (`timestamp`), in ms since the Unix epoch,
/// within [`MIN_MS`]..=[`MAX_MS`] (else 422, saying which bound and why).
pub(super) fn parse_ms(text: &str) -> Result<i64, Rejection> {
    let unprocessable = |why: &str| Rejection::Unprocessable {
        reason: format!("timestamp `{text}` {why}"),
    };
    match parse_rfc3339_ms(text) {
        None => Err(unprocessable("is not an RFC 3339 date-time")),
        Some(0) => Err(unprocessable(
            "is the epoch itself, which the producer cannot send (it reads 0 as now); \
             the earliest is 1970-01-01T00:00:00.001Z",
        )),
        Some(ms) if ms < MIN_MS => Err(unprocessable(
            "is before 1970-01-01T00:00:00.001Z, the earliest Kafka stores",
        )),
        Some(ms) if ms > MAX_MS => Err(unprocessable(
            "is after 9999-12-31T23:59:59.999Z, the latest accepted",
        )),
        Some(ms) => Ok(ms),
    }
}

/// ms since the Unix epoch, written as `YYYY-MM-DDTHH:MM:SS.mmmZ` (into the answer
/// itself, with no `String` per record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rfc3339Ms(pub(super) i64);

impl fmt::Display for Rfc3339Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, ms_of_day) = (self.0.div_euclid(86_400_000), self.0.rem_euclid(86_400_000));
        let (year, month, day) = civil_from_days(days);
        let seconds = ms_of_day / 1000;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60,
            ms_of_day % 1000
        )
    }
}

impl serde::Serialize for Rfc3339Ms {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to ms since the epoch.
fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let number = |range: Range<usize>| -> Option<i64> {
        let digits = bytes.get(range)?;
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, c)| bytes.get(at) != Some(&c))
        || !matches!(bytes.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut at = 19;
    let mut millis = 0;
    if bytes.get(at) == Some(&b'.') {
        let start = at + 1;
        at = start;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
        let digits = &text[start..at.min(start + 3)];
        millis = digits.parse::<i64>().ok()? * 10_i64.pow(3 - digits.len() as u32);
    }
    let offset_minutes = match bytes.get(at) {
        Some(b'Z' | b'z') if at + 1 == bytes.len() => 0,
        Some(&sign @ (b'+' | b'-')) if at + 6 == bytes.len() && bytes[at + 3] == b':' => {
            let (hours, minutes) = (number(at + 1..at + 3)?, number(at + 4..at + 6)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            if sign == b'+' {
                hours * 60 + minutes
            } else {
                -(hours * 60 + minutes)
            }
        }
        _ => return None,
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_outside_what_kafka_stores_as_sent_are_refused_with_why() {
        for (text, why) in [
            ("1970-01-01T00:00:00Z", "reads 0 as now"),
            ("1970-01-01T01:00:00+01:00", "reads 0 as now"),
            ("1969-12-31T23:59:59.999Z", "before"),
            ("0001-01-01T00:00:00Z", "before"),
            ("9999-12-31T23:59:59.999-00:01", "after"),
        ] {
            let error = parse_ms(text).unwrap_err();
            assert_eq!(error.status(), http::StatusCode::UNPROCESSABLE_ENTITY);
            assert!(error.to_string().contains(why), "{text}: {error}");
        }
        assert_eq!(parse_ms("1970-01-01T00:00:00.001Z"), Ok(MIN_MS));
        assert_eq!(parse_ms("9999-12-31T23:59:59.999Z"), Ok(MAX_MS));
        assert_eq!(Rfc3339Ms(MAX_MS).to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(Rfc3339Ms(MIN_MS).to_string(), "1970-01-01T00:00:00.001Z");
    }

    #[test]
    fn timestamps_round_trip() {
        for (text, ms) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2021-02-05T19:14:42Z", 1_612_552_482_000),
            ("2021-02-05T20:14:42.123456+01:00", 1_612_552_482_123),
            ("1969-12-31T23:59:59.9Z", -100),
            ("2024-02-29T12:00:00Z", 1_709_208_000_000),
        ] {
            assert_eq!(parse_rfc3339_ms(text), Some(ms), "{text}");
        }
        assert_eq!(
            Rfc3339Ms(1_612_552_482_123).to_string(),
            "2021-02-05T19:14:42.123Z"
        );
        assert_eq!(Rfc3339Ms(-100).to_string(), "1969-12-31T23:59:59.900Z");
        for bad in [
            "2021-02-05",
            "2021-13-05T19:14:42Z",
            "2021-02-05T19:14:42",
            "2021-02-05T19:14:42+24:00",
            "x",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }
}
