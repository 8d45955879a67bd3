//! RFC 3339 timestamps, read and written exactly as the `time` crate's `Rfc3339` format did;
//! hand-written because the plugin needs only this and the crate cost ~20 KB of the component.

use crate::prelude::*;

/// An instant, comparable whatever the offset or precision it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant {
    unix_seconds: i64,
    nanosecond: u32,
}

impl Instant {
    /// Whole seconds since the Unix epoch (negative before it).
    pub fn unix_seconds(&self) -> i64 {
        self.unix_seconds
    }
}

/// The years `time` represents (without its `large-dates` feature).
const YEARS: core::ops::RangeInclusive<i64> = -9999..=9999;
const SECONDS_PER_DAY: i64 = 86_400;

/// Parses `YYYY-MM-DD?HH:MM:SS[.f+](Z|±HH:MM)`. As in `time`: the separator is any one byte,
/// `z` may be lower case, digits past the ninth of a fraction are dropped, and second 60 is
/// accepted only as a leap second (23:59:60 UTC on a month's last day).
pub fn parse(text: &str) -> Option<Instant> {
    let mut input = Input(text.as_bytes());
    let year = input.digits(4)?;
    input.literal(b'-')?;
    let month = input.digits(2)?;
    input.literal(b'-')?;
    let day = input.digits(2)?;
    input.byte()?;
    let hour = input.digits(2)?;
    input.literal(b':')?;
    let minute = input.digits(2)?;
    input.literal(b':')?;
    let mut second = input.digits(2)?;
    let mut nanosecond = 0;
    if input.peek() == Some(b'.') {
        input.byte()?;
        let mut weight = 100_000_000;
        let mut digits = 0;
        while let Some(digit) = input.peek().filter(u8::is_ascii_digit) {
            input.byte()?;
            nanosecond += u32::from(digit - b'0') * weight;
            weight /= 10;
            digits += 1;
        }
        if digits == 0 {
            return None;
        }
    }
    let offset_seconds = match input.byte()? {
        b'Z' | b'z' => 0,
        sign @ (b'+' | b'-') => {
            let hours = input.digits(2).filter(|hours| *hours <= 23)?;
            input.literal(b':')?;
            let minutes = input.digits(2).filter(|minutes| *minutes <= 59)?;
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    if !input.0.is_empty() {
        return None;
    }
    let leap_second = second == 60;
    if leap_second {
        second = 59;
        nanosecond = 999_999_999;
    }
    let year = i64::from(year);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let unix_seconds = days_from_civil(year, month, day) * SECONDS_PER_DAY
        + i64::from(hour * 3600 + minute * 60 + second)
        - offset_seconds;
    if leap_second {
        let (year, month, day) = civil_from_days(unix_seconds.div_euclid(SECONDS_PER_DAY));
        let last_second = unix_seconds.rem_euclid(SECONDS_PER_DAY) == SECONDS_PER_DAY - 1;
        if !last_second || day != days_in_month(year, month) || !YEARS.contains(&year) {
            return None;
        }
    }
    Some(Instant {
        unix_seconds,
        nanosecond,
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` for whole seconds since the Unix epoch; `None` past year 9999.
pub fn format_utc(unix_seconds: u64) -> Option<String> {
    let seconds = i64::try_from(unix_seconds).ok()?;
    let (year, month, day) = civil_from_days(seconds / SECONDS_PER_DAY);
    if !YEARS.contains(&year) {
        return None;
    }
    let time = seconds % SECONDS_PER_DAY;
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        time / 3600,
        time / 60 % 60,
        time % 60
    ))
}

/// The bytes left to parse.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }

    fn literal(&mut self, expected: u8) -> Option<()> {
        (self.byte()? == expected).then_some(())
    }

    /// Exactly `count` ASCII digits.
    fn digits(&mut self, count: usize) -> Option<u32> {
        let (digits, rest) = self.0.split_at_checked(count)?;
        self.0 = rest;
        digits.iter().try_fold(0, |value, digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u32::from(digit - b'0'))
        })
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01, the inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31, 1..=12).
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    /// What the `time` crate said of the same text: the instant, or a refusal.
    fn by_time(text: &str) -> Option<(i128, u32)> {
        OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .map(|at| (i128::from(at.unix_timestamp()), at.nanosecond()))
    }

    fn by_us(text: &str) -> Option<(i128, u32)> {
        parse(text).map(|at| (i128::from(at.unix_seconds), at.nanosecond))
    }

    #[test]
    fn parsing_agrees_with_the_time_crate() {
        let fixed = [
            "2026-03-01T00:00:00Z",
            "2026-03-01t00:00:00z",
            "2026-03-01 00:00:00Z",
            "2026-03-01x00:00:00Z",
            "2026-03-01é00:00:00Z",
            "2026-03-0100:00:00Z",
            "2026-01-01T00:00:00+01:00",
            "2026-01-01T00:00:00-23:59",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00+01:60",
            "2026-01-01T00:00:00-00:00",
            "2026-01-01T00:00:00+0100",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00Zjunk",
            "2026-11-18T11:06:40.5Z",
            "2026-11-18T11:06:40.123456789Z",
            "2026-11-18T11:06:40.1234567891234Z",
            "2026-11-18T11:06:40.Z",
            "2026-11-18T11:06:40,5Z",
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5Z",
            "2017-01-01T00:59:60+01:00",
            "2016-12-30T23:59:60Z",
            "2016-06-30T23:59:60Z",
            "2016-12-31T23:58:60Z",
            "2016-12-31T23:59:61Z",
            "2024-02-29T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2000-02-29T12:00:00Z",
            "1900-02-29T12:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-13-10T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T23:60:00Z",
            "0000-01-01T00:00:00Z",
            "0000-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-23:59",
            "9999-12-31T23:59:60Z",
            "9999-12-31T23:59:60-01:00",
            "0000-01-01T00:59:60+01:00",
            "+2026-01-01T00:00:00Z",
            "2026-1-01T00:00:00Z",
            "2026-01-01T00:00:00Z ",
            " 2026-01-01T00:00:00Z",
            "yesterday",
            "",
        ];
        for text in fixed {
            assert_eq!(by_us(text), by_time(text), "{text:?}");
        }
        // Every one-byte change of a valid timestamp, for the edges nobody listed.
        let seed = "2016-12-31T23:59:60.25+00:00";
        for index in 0..seed.len() {
            for byte in [
                b'0', b'1', b'2', b'3', b'5', b'6', b'9', b'-', b'+', b':', b'.', b'Z', b'T', b' ',
            ] {
                let mut bytes = seed.as_bytes().to_vec();
                bytes[index] = byte;
                let text = String::from_utf8(bytes).unwrap_or_default();
                assert_eq!(by_us(&text), by_time(&text), "{text:?}");
            }
        }
    }

    #[test]
    fn formatting_agrees_with_the_time_crate() {
        let mut seconds = vec![0, 1, 59, 86_399, 86_400, 951_782_400, 1_763_463_600];
        seconds.extend([253_402_300_799, 253_402_300_800, u64::MAX, i64::MAX as u64]);
        // A step prime to the day and the year, across all the dates `time` writes.
        seconds.extend((0..20_000u64).map(|step| step * 12_670_037_851 % 253_402_300_800));
        for unix_seconds in seconds {
            let expected = i64::try_from(unix_seconds)
                .ok()
                .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
                .and_then(|at| at.format(&Rfc3339).ok());
            assert_eq!(format_utc(unix_seconds), expected, "{unix_seconds}");
        }
    }

    #[test]
    fn instants_compare_across_offsets_and_precision() {
        assert_eq!(
            parse("2026-11-18T12:06:40+01:00"),
            parse("2026-11-18T11:06:40.000Z")
        );
        assert_ne!(
            parse("2026-11-18T11:06:40.1Z"),
            parse("2026-11-18T11:06:40Z")
        );
    }
}
