//! HTTP dates as `Retry-After` may carry them (RFC 9110 §5.6.7): only the preferred
//! IMF-fixdate form, `Sun, 06 Nov 1994 08:49:37 GMT`, which every current server sends. An
//! obsolete form reads as no date, and the caller falls back to its own backoff.

use crate::prelude::*;

use crate::tools::rfc3339;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Seconds since the Unix epoch of an IMF-fixdate, or `None` for anything else (a date before
/// the epoch included).
pub fn parse_imf_fixdate(value: &str) -> Option<u64> {
    let parts: Vec<&str> = value.split(' ').collect();
    let [weekday, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let weekday = weekday.strip_suffix(',')?;
    if !DAYS.contains(&weekday) || day.len() != 2 || year.len() != 4 || time.len() != 8 {
        return None;
    }
    let month = MONTHS.iter().position(|m| m == month)? + 1;
    // The same instant in RFC 3339, whose parser checks every field's range.
    let instant = rfc3339::parse(&format!("{year}-{month:02}-{day}T{time}Z"))?;
    u64::try_from(instant.unix_seconds()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imf_fixdates_read_and_others_do_not() {
        assert_eq!(
            parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_imf_fixdate("Wed, 02 Dec 2026 14:00:05 GMT"),
            Some(1_796_220_005)
        );
        for bad in [
            "",
            "120",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Thu, 01 Jan 1969 00:00:00 GMT",
        ] {
            assert_eq!(parse_imf_fixdate(bad), None, "{bad:?}");
        }
    }
}
