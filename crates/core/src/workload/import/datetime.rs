//! Calendar timestamps as they appear in traces: `2023-11-16 18:17:03.9799600` (Azure 2023),
//! `2024-05-10 00:00:00.009930+00:00` (Azure 2024), ISO 8601 with `T` and `Z`.

/// Nanoseconds since 1970-01-01T00:00:00Z of a timestamp `YYYY-MM-DD[ T]HH:MM:SS[.f…][Z|±HH:MM]`.
/// Without a zone the time is taken as UTC. Up to 9 fractional digits are kept; more are
/// accepted and truncated.
///
/// # Errors
///
/// Returns what is wrong, for a message naming the field.
pub fn parse_datetime_ns(text: &str) -> Result<i64, String> {
    let bad = || format!("\"{text}\" is not a date-time like 2023-11-16 18:17:03.97996");
    let bytes = text.as_bytes();
    if bytes.len() < 19
        || !bytes[..19].is_ascii()
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b' ' | b'T')
    {
        return Err(bad());
    }
    if bytes[13] != b':' || bytes[16] != b':' {
        return Err(bad());
    }
    let digits = |range: std::ops::Range<usize>| -> Result<i64, String> {
        let part = &text[range];
        if part.bytes().all(|b| b.is_ascii_digit()) {
            Ok(part.parse::<i64>().map_err(|_| bad())?)
        } else {
            Err(bad())
        }
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(format!("\"{text}\" is not a calendar date"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!("\"{text}\" is not a time of day"));
    }
    let mut rest = &text[19..];
    let mut nanos = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return Err(bad());
        }
        for (i, byte) in fraction.bytes().take(9).enumerate().take(len) {
            nanos += i64::from(byte - b'0') * 10i64.pow(8 - i as u32);
        }
        rest = &fraction[len..];
    }
    let offset_s = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return Err(bad()),
            };
            let zone = &rest[1..];
            if !zone.is_ascii() {
                return Err(bad());
            }
            let (h, m) = match zone.len() {
                5 if zone.as_bytes()[2] == b':' => (&zone[0..2], &zone[3..5]),
                4 => (&zone[0..2], &zone[2..4]),
                2 => (&zone[0..2], "00"),
                _ => return Err(bad()),
            };
            let number = |part: &str| part.parse::<i64>().ok().filter(|_| part.bytes().all(|b| b.is_ascii_digit()));
            match (number(h), number(m)) {
                (Some(h), Some(m)) if h <= 23 && m <= 59 => sign * (h * 3600 + m * 60),
                _ => return Err(bad()),
            }
        }
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    // Nanoseconds in an i64 reach from 1677 to 2262.
    seconds
        .checked_mul(1_000_000_000)
        .and_then(|whole| whole.checked_add(nanos))
        .ok_or_else(|| format!("\"{text}\" is outside the years 1677 to 2262"))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_convert_exactly() {
        assert_eq!(parse_datetime_ns("1970-01-01 00:00:00"), Ok(0));
        // `date -u -d '2023-11-16 18:17:03' +%s` = 1700158623.
        assert_eq!(parse_datetime_ns("2023-11-16 18:17:03.9799600"), Ok(1_700_158_623_979_960_000));
        assert_eq!(parse_datetime_ns("2024-05-10 00:00:00.009930+00:00"), Ok(1_715_299_200_009_930_000));
        assert_eq!(parse_datetime_ns("2024-05-12 00:00:00+00:00"), Ok(1_715_472_000_000_000_000));
        assert_eq!(parse_datetime_ns("2024-05-12T02:00:00+02:00"), Ok(1_715_472_000_000_000_000));
        assert_eq!(parse_datetime_ns("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000_000_000));
        assert_eq!(parse_datetime_ns("2024-01-01 00:00:00.1234567891"), Ok(1_704_067_200_123_456_789));
        assert_eq!(
            parse_datetime_ns("9999-12-31 23:59:59"),
            Err("\"9999-12-31 23:59:59\" is outside the years 1677 to 2262".into())
        );
        assert!(parse_datetime_ns("1600-01-01 00:00:00").is_err());
        assert_eq!(parse_datetime_ns("1900-01-01 00:00:00"), Ok(-2_208_988_800_000_000_000));
    }

    #[test]
    fn malformed_dates_are_refused_with_the_text() {
        for text in [
            "2023-11-16",
            "2023-13-01 00:00:00",
            "2023-02-29 00:00:00",
            "2023-11-16 24:00:00",
            "x",
            "",
            "2023-11-16 18:17:03.",
            "2023-11-16 18:17:03+5",
            "2023-11-16 18:17:03 PST",
            "2023-1a-16 18:17:03",
            "2023-é1-16 18:17:03",
            "2023-11-16 18:17:03+0é",
        ] {
            assert!(parse_datetime_ns(text).is_err(), "{text}");
        }
        assert_eq!(
            parse_datetime_ns("soon").unwrap_err(),
            "\"soon\" is not a date-time like 2023-11-16 18:17:03.97996"
        );
    }
}
