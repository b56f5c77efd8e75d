//! Simulated time: instants and durations as integer nanoseconds.
//!
//! The simulator never uses floating-point time inside its logic: a [`SimTime`] is the number of
//! nanoseconds since the start of the simulation and a [`SimDuration`] a number of nanoseconds.
//! Floats appear only at the edges, when a trace is imported (`from_secs_f64`) or a result is
//! reported (`as_secs_f64`, `as_millis_f64`). Conversions from floats round to the nearest
//! nanosecond, which is deterministic on every target because IEEE-754 multiplication and
//! rounding are.
//!
//! # Example
//!
//! ```
//! use servesim_core::time::{SimDuration, SimTime};
//!
//! let arrived_at = SimTime::from_secs_f64(1.5);
//! let first_token_at = arrived_at + SimDuration::from_millis(250);
//! assert_eq!((first_token_at - arrived_at).as_millis_f64(), 250.0);
//! assert_eq!(first_token_at.to_string(), "1.750000000s");
//! ```

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub};

use serde::{Deserialize, Serialize};

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Converts a non-negative finite number of seconds to nanoseconds, rounding to the nearest
/// (halves away from zero, as `round`). Negative values and NaN give 0; values too large for a
/// `u64` saturate.
///
/// Every engine step goes through here, so it rounds without a call: the integer part is exact
/// (`as u64` truncates), and so is the fraction left (`nanos` and its integer part are within
/// one unit of each other, below 2⁶⁴), so the result equals `libm::round`'s on every input and
/// every target (a test compares them).
#[inline]
fn nanos_from_secs(secs: f64) -> u64 {
    let nanos = secs * NANOS_PER_SEC as f64;
    if nanos.is_nan() || nanos <= 0.0 {
        return 0;
    }
    // At and above 2⁶³ every f64 is a whole number; below it the signed conversions are single
    // instructions on x86-64 (the unsigned ones are not).
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if nanos >= TWO_POW_63 {
        return if nanos >= u64::MAX as f64 { u64::MAX } else { nanos as u64 };
    }
    let whole = nanos as i64;
    let fraction = nanos - whole as f64;
    whole as u64 + u64::from(fraction >= 0.5)
}

/// An instant of simulated time: nanoseconds since the simulation started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SimTime(u64);

impl SimTime {
    /// The start of the simulation.
    pub const ZERO: SimTime = SimTime(0);
    /// The largest representable instant (about 584 years).
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// The instant `nanos` nanoseconds after the start.
    pub const fn from_nanos(nanos: u64) -> SimTime {
        SimTime(nanos)
    }

    /// The instant `secs` seconds after the start, rounded to the nearest nanosecond.
    /// Negative or NaN inputs give [`SimTime::ZERO`]; huge ones saturate at [`SimTime::MAX`].
    pub fn from_secs_f64(secs: f64) -> SimTime {
        SimTime(nanos_from_secs(secs))
    }

    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the start, as a float (for reports and charts only).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// The duration from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for SimTime {
    /// Formats as seconds with nanosecond precision, e.g. `12.000000001s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}s", self.0 / NANOS_PER_SEC, self.0 % NANOS_PER_SEC)
    }
}

/// A span of simulated time in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SimDuration(u64);

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A duration of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: u64) -> SimDuration {
        SimDuration(nanos)
    }

    /// A duration of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> SimDuration {
        SimDuration(micros * 1_000)
    }

    /// A duration of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> SimDuration {
        SimDuration(millis * 1_000_000)
    }

    /// A duration of `secs` seconds, rounded to the nearest nanosecond (negative or NaN → zero).
    pub fn from_secs_f64(secs: f64) -> SimDuration {
        SimDuration(nanos_from_secs(secs))
    }

    /// The length in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The length in seconds, as a float (for reports and charts only).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// The length in milliseconds, as a float (for reports and charts only).
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl fmt::Display for SimDuration {
    /// Formats as seconds with nanosecond precision, e.g. `0.250000000s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}s", self.0 / NANOS_PER_SEC, self.0 % NANOS_PER_SEC)
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;

    /// # Panics
    ///
    /// Panics on overflow past [`SimTime::MAX`] (after about 584 simulated years).
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.checked_add(rhs.0).expect("SimTime overflow"))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;

    /// # Panics
    ///
    /// Panics if `rhs` is later than `self`; use [`SimTime::saturating_since`] when that can
    /// happen.
    fn sub(self, rhs: SimTime) -> SimDuration {
        SimDuration(
            self.0.checked_sub(rhs.0).unwrap_or_else(|| panic!("SimTime subtraction went negative: {self} - {rhs}")),
        )
    }
}

impl Add for SimDuration {
    type Output = SimDuration;

    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.checked_add(rhs.0).expect("SimDuration overflow"))
    }
}

impl Mul<u64> for SimDuration {
    type Output = SimDuration;

    fn mul(self, rhs: u64) -> SimDuration {
        SimDuration(self.0.checked_mul(rhs).expect("SimDuration overflow"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_to_nanoseconds_equals_libm_round_everywhere() {
        let reference = |secs: f64| {
            let nanos = libm::round(secs * NANOS_PER_SEC as f64);
            if nanos.is_nan() || nanos <= 0.0 {
                0
            } else if nanos >= u64::MAX as f64 {
                u64::MAX
            } else {
                nanos as u64
            }
        };
        let mut edges = vec![0.0, -1.0, f64::NAN, f64::INFINITY, 1e30, 4.999e-10, 5e-10, 5.000001e-10, 1.5e-9, 2.5e-9];
        for exponent in 0..64 {
            let nanos = 2f64.powi(exponent);
            for delta in [-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0] {
                edges.push((nanos + delta) / 1e9);
                edges.push(f64::from_bits((nanos / 1e9).to_bits() + 1));
                edges.push(f64::from_bits((nanos / 1e9).to_bits().saturating_sub(1)));
            }
        }
        let mut rng = crate::rng::RngStream::new(1, crate::rng::StreamId(77));
        edges.extend((0..200_000).map(|i| rng.next_f64() * 10f64.powi(i % 12 - 3)));
        for secs in edges {
            assert_eq!(nanos_from_secs(secs), reference(secs), "{secs:e} s");
        }
    }

    #[test]
    fn float_seconds_round_to_the_nearest_nanosecond() {
        assert_eq!(SimTime::from_secs_f64(199.96150599999999).as_nanos(), 199_961_506_000);
        assert_eq!(SimTime::from_secs_f64(0.052).as_nanos(), 52_000_000);
        assert_eq!(SimDuration::from_secs_f64(1e-10).as_nanos(), 0);
    }

    #[test]
    fn negative_and_nan_seconds_clamp_to_zero_and_huge_ones_saturate() {
        assert_eq!(SimTime::from_secs_f64(-3.0), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64(f64::NAN), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64(1e30), SimTime::MAX);
    }

    #[test]
    fn instants_and_durations_combine() {
        let t = SimTime::from_nanos(5) + SimDuration::from_micros(2) * 3;
        assert_eq!(t.as_nanos(), 6_005);
        assert_eq!(t - SimTime::from_nanos(5), SimDuration::from_nanos(6_000));
        assert_eq!(SimTime::ZERO.saturating_since(t), SimDuration::ZERO);
    }

    #[test]
    #[should_panic(expected = "went negative")]
    fn subtracting_a_later_instant_panics_with_both_values() {
        let _ = SimTime::from_nanos(1) - SimTime::from_nanos(2);
    }

    #[test]
    fn display_shows_seconds_with_nanosecond_precision() {
        assert_eq!(SimTime::from_nanos(12_000_000_001).to_string(), "12.000000001s");
        assert_eq!(SimDuration::from_millis(250).to_string(), "0.250000000s");
    }
}
