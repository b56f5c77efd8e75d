//! The compact text forms the workload and engine fields use: `lognormal 1000 0.8 8192` for a
//! length distribution, `gamma 5 2` for an arrival process, `0 600` for a time window,
//! `0.8, 0.6, 0.4` for a list of numbers, `chat=0, batch=5` for class priorities. Each form
//! reads back what it writes.

use std::collections::BTreeMap;

use servesim_core::workload::{Arrivals, Lengths};

/// Parses a whole number for a field.
///
/// # Errors
///
/// Says a whole number was expected.
pub fn whole(text: &str) -> Result<u32, &'static str> {
    text.trim().parse().map_err(|_| "a whole number")
}

/// Parses a finite decimal number for a field.
///
/// # Errors
///
/// Says a number was expected.
pub fn decimal(text: &str) -> Result<f64, &'static str> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or("a number")
}

/// What a length field accepts.
pub const LENGTHS_FORMS: &str = "fixed N, uniform MIN MAX, lognormal MEDIAN SIGMA MAX, or zipf EXPONENT MIN MAX";

/// What an arrivals field accepts.
pub const ARRIVALS_FORMS: &str = "poisson RATE, gamma RATE CV, weibull RATE SHAPE, constant RATE, \
     on_off RATE ON_S OFF_S, diurnal MEAN_RATE PEAK_TO_TROUGH PEAK_HOUR START_HOUR, or closed_loop CLIENTS THINK_S";

/// A length distribution as a field shows it.
pub fn lengths_text(lengths: &Lengths) -> String {
    match *lengths {
        Lengths::Fixed { tokens } => format!("fixed {tokens}"),
        Lengths::Uniform { min, max } => format!("uniform {min} {max}"),
        Lengths::Lognormal { median, sigma, max } => format!("lognormal {median} {sigma} {max}"),
        Lengths::Zipf { exponent, min, max } => format!("zipf {exponent} {min} {max}"),
    }
}

/// Reads a length distribution (see [`lengths_text`]).
///
/// # Errors
///
/// Returns [`LENGTHS_FORMS`] when `text` is none of them.
pub fn parse_lengths(text: &str) -> Result<Lengths, &'static str> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let n = |word: &str| whole(word).map_err(|_| LENGTHS_FORMS);
    let x = |word: &str| decimal(word).map_err(|_| LENGTHS_FORMS);
    match words.as_slice() {
        ["fixed", tokens] => Ok(Lengths::Fixed { tokens: n(tokens)? }),
        ["uniform", min, max] => Ok(Lengths::Uniform { min: n(min)?, max: n(max)? }),
        ["lognormal", median, sigma, max] => {
            Ok(Lengths::Lognormal { median: x(median)?, sigma: x(sigma)?, max: n(max)? })
        }
        ["zipf", exponent, min, max] => Ok(Lengths::Zipf { exponent: x(exponent)?, min: n(min)?, max: n(max)? }),
        _ => Err(LENGTHS_FORMS),
    }
}

/// An arrival process as a field shows it.
pub fn arrivals_text(arrivals: &Arrivals) -> String {
    match *arrivals {
        Arrivals::Poisson { rate_per_s } => format!("poisson {rate_per_s}"),
        Arrivals::Gamma { rate_per_s, cv } => format!("gamma {rate_per_s} {cv}"),
        Arrivals::Weibull { rate_per_s, shape } => format!("weibull {rate_per_s} {shape}"),
        Arrivals::Constant { rate_per_s } => format!("constant {rate_per_s}"),
        Arrivals::OnOff { rate_per_s, on_s, off_s } => format!("on_off {rate_per_s} {on_s} {off_s}"),
        Arrivals::Diurnal { mean_rate_per_s, peak_to_trough, peak_hour, start_hour } => {
            format!("diurnal {mean_rate_per_s} {peak_to_trough} {peak_hour} {start_hour}")
        }
        Arrivals::ClosedLoop { concurrency, think_time_s } => format!("closed_loop {concurrency} {think_time_s}"),
    }
}

/// Reads an arrival process (see [`arrivals_text`]).
///
/// # Errors
///
/// Returns [`ARRIVALS_FORMS`] when `text` is none of them.
pub fn parse_arrivals(text: &str) -> Result<Arrivals, &'static str> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let x = |word: &str| decimal(word).map_err(|_| ARRIVALS_FORMS);
    match words.as_slice() {
        ["poisson", rate] => Ok(Arrivals::Poisson { rate_per_s: x(rate)? }),
        ["gamma", rate, cv] => Ok(Arrivals::Gamma { rate_per_s: x(rate)?, cv: x(cv)? }),
        ["weibull", rate, shape] => Ok(Arrivals::Weibull { rate_per_s: x(rate)?, shape: x(shape)? }),
        ["constant", rate] => Ok(Arrivals::Constant { rate_per_s: x(rate)? }),
        ["on_off", rate, on, off] => Ok(Arrivals::OnOff { rate_per_s: x(rate)?, on_s: x(on)?, off_s: x(off)? }),
        ["diurnal", mean, ratio, peak, start] => Ok(Arrivals::Diurnal {
            mean_rate_per_s: x(mean)?,
            peak_to_trough: x(ratio)?,
            peak_hour: x(peak)?,
            start_hour: x(start)?,
        }),
        ["closed_loop", clients, think] => Ok(Arrivals::ClosedLoop {
            concurrency: whole(clients).map_err(|_| ARRIVALS_FORMS)?,
            think_time_s: x(think)?,
        }),
        _ => Err(ARRIVALS_FORMS),
    }
}

/// Reads an optional value: empty text is `None`.
///
/// # Errors
///
/// `parse`'s error, for non-empty text it refuses.
pub fn optional<T>(text: &str, parse: impl Fn(&str) -> Result<T, &'static str>) -> Result<Option<T>, &'static str> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        parse(text).map(Some)
    }
}

/// Shows an optional value: `None` is empty text.
pub fn show_optional<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map_or_else(String::new, show)
}

/// Numbers as a field shows them: `0.8, 0.6, 0.4`.
pub fn numbers_text(values: &[f64]) -> String {
    values.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// Reads comma-separated numbers (see [`numbers_text`]); range checks are the scenario's.
///
/// # Errors
///
/// Says comma-separated numbers were expected.
pub fn parse_numbers(text: &str) -> Result<Vec<f64>, &'static str> {
    text.split(',').map(|word| decimal(word).map_err(|_| "comma-separated numbers")).collect()
}

/// Class priorities as a field shows them: `batch=5, chat=0` (in name order).
pub fn priorities_text(priorities: &BTreeMap<String, i32>) -> String {
    priorities.iter().map(|(class, priority)| format!("{class}={priority}")).collect::<Vec<_>>().join(", ")
}

/// What a class-priorities field accepts.
pub const PRIORITIES_FORM: &str = "class=priority pairs separated by commas (whole numbers, lower first)";

/// Reads class priorities (see [`priorities_text`]); empty text is none.
///
/// # Errors
///
/// Returns [`PRIORITIES_FORM`] when a pair has no name or a priority that is not a whole
/// number.
pub fn parse_priorities(text: &str) -> Result<BTreeMap<String, i32>, &'static str> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (class, priority) = pair.split_once('=').ok_or(PRIORITIES_FORM)?;
            let class = class.trim();
            let priority = priority.trim().parse::<i32>().map_err(|_| PRIORITIES_FORM)?;
            if class.is_empty() {
                return Err(PRIORITIES_FORM);
            }
            Ok((class.to_owned(), priority))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_texts_round_trip_and_bad_ones_say_what_is_expected() {
        for lengths in [
            Lengths::Fixed { tokens: 128 },
            Lengths::Uniform { min: 10, max: 20 },
            Lengths::Lognormal { median: 1000.5, sigma: 0.8, max: 8192 },
            Lengths::Zipf { exponent: 1.2, min: 16, max: 4096 },
        ] {
            assert_eq!(parse_lengths(&lengths_text(&lengths)), Ok(lengths));
        }
        assert_eq!(parse_lengths("  uniform   5  9 "), Ok(Lengths::Uniform { min: 5, max: 9 }));
        assert_eq!(parse_lengths("normal 5"), Err(LENGTHS_FORMS));
        assert!(parse_lengths("fixed -3").is_err());
    }

    #[test]
    fn arrival_texts_round_trip_and_bad_ones_say_what_is_expected() {
        for arrivals in [
            Arrivals::Poisson { rate_per_s: 4.5 },
            Arrivals::Gamma { rate_per_s: 5.0, cv: 2.0 },
            Arrivals::Weibull { rate_per_s: 1.0, shape: 0.5 },
            Arrivals::Constant { rate_per_s: 8.0 },
            Arrivals::OnOff { rate_per_s: 10.0, on_s: 2.0, off_s: 3.0 },
            Arrivals::Diurnal { mean_rate_per_s: 2.0, peak_to_trough: 3.0, peak_hour: 14.0, start_hour: 9.0 },
            Arrivals::ClosedLoop { concurrency: 64, think_time_s: 0.5 },
        ] {
            assert_eq!(parse_arrivals(&arrivals_text(&arrivals)), Ok(arrivals));
        }
        assert_eq!(parse_arrivals("poisson"), Err(ARRIVALS_FORMS));
        assert_eq!(parse_arrivals("closed_loop 1.5 0"), Err(ARRIVALS_FORMS));
        assert_eq!(optional("", parse_arrivals), Ok(None));
    }

    #[test]
    fn number_lists_and_class_priorities_round_trip_and_bad_ones_say_what_is_expected() {
        assert_eq!(parse_numbers("0.8, 0.6,0.4"), Ok(vec![0.8, 0.6, 0.4]));
        assert_eq!(parse_numbers(&numbers_text(&[0.8, 1.5])), Ok(vec![0.8, 1.5]));
        assert!(parse_numbers("0.8,,0.4").is_err());
        assert!(parse_numbers("0.8, x").is_err());
        let priorities = BTreeMap::from([("chat".to_owned(), 0), ("batch".to_owned(), 5), ("vip".to_owned(), -2)]);
        assert_eq!(priorities_text(&priorities), "batch=5, chat=0, vip=-2");
        assert_eq!(parse_priorities(&priorities_text(&priorities)), Ok(priorities));
        assert_eq!(parse_priorities(" chat = 1 ,"), Ok(BTreeMap::from([("chat".to_owned(), 1)])));
        assert_eq!(parse_priorities(""), Ok(BTreeMap::new()));
        assert_eq!(parse_priorities("chat"), Err(PRIORITIES_FORM));
        assert_eq!(parse_priorities("=1"), Err(PRIORITIES_FORM));
        assert_eq!(parse_priorities("chat=1.5"), Err(PRIORITIES_FORM));
    }
}
