//! Measured step times and the step-time model fitted to them.
//!
//! A step profile is a CSV of engine steps timed on real hardware, one step a row:
//!
//! | column | aliases | meaning |
//! | --- | --- | --- |
//! | `new_tokens` | `batch_tokens` | tokens computed: one per decoding sequence plus prefill tokens; ≥ 1 |
//! | `context_tokens` | `kv_tokens` | KV-cache tokens the step's attention reads, over all its sequences |
//! | `step_ms` | `time_ms` | the step's wall time, ms; finite and > 0 |
//!
//! Headers are matched case-insensitively and other columns are ignored, as in the benchmark
//! CSV ([`parse_benchmark`](super::parse_benchmark)).
//!
//! [`StepProfile::fit`] models a step as
//!
//! ```text
//! step = a(new_tokens) + c · context_tokens
//! ```
//!
//! Everything but attention over the KV cache (weight reads, the linear layers' FLOPs, launch
//! overheads) depends on the step's token count alone: that is `a`, free in shape, measured
//! at each distinct `new_tokens` and interpolated linearly between them. Attention reads each
//! context token's K and V once, so its cost is linear in `context_tokens`: that is `c`, one
//! slope for the whole profile, fitted by least squares with a separate intercept for each
//! distinct `new_tokens` (a fixed-effects regression), so steps of every size inform it
//! without their differences in `a` biasing it. Being linear in context, the engine costs a
//! decode step in O(1) from its running KV total.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::benchmark::{csv_lines, number_cell, positive_value, shown, whole_count, BenchmarkError, Column, CsvHeader};

/// One timed engine step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePoint {
    /// Tokens computed in the step (decoding sequences plus prefill tokens), ≥ 1.
    pub new_tokens: u32,
    /// KV-cache tokens the step's attention reads, summed over its sequences (a prefill's own
    /// new tokens included).
    pub context_tokens: u64,
    /// The step's wall time, ms.
    pub step_ms: f64,
}

/// A measured step-time profile: the timed steps, as read (plain data, stored in scenarios).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepProfile {
    /// The timed steps, in file order.
    pub points: Vec<ProfilePoint>,
}

/// The profile CSV columns, in the order [`parse_profile`] reads them.
const PROFILE_COLUMNS: [Column; 3] = [
    Column { name: "new_tokens", aliases: &["batch_tokens"] },
    Column { name: "context_tokens", aliases: &["kv_tokens"] },
    Column { name: "step_ms", aliases: &["time_ms"] },
];

/// The fewest points a profile needs.
const MIN_POINTS: usize = 2;

/// The most context tokens a point may have: 2^53, up to which an `f64` (the fit's
/// arithmetic) holds every whole number.
const MAX_CONTEXT_TOKENS: u64 = 1 << 53;

/// Reads a step profile CSV: a header `new_tokens,context_tokens,step_ms` (or `batch_tokens`,
/// `kv_tokens`, `time_ms`; other columns ignored), then one timed step a row.
///
/// # Errors
///
/// Returns the first problem, with its line where it has one: a missing or repeated column,
/// an empty cell, a value out of range (`new_tokens` < 1, `context_tokens` < 0 or above 2^53,
/// `step_ms` not finite and > 0, or not whole where a count is expected), or fewer than two
/// rows.
pub fn parse_profile(text: &str) -> Result<StepProfile, BenchmarkError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = csv_lines(text);
    let Some((number, header_line)) = lines.next() else {
        return Err(BenchmarkError::in_file(
            "the profile is empty: expected a header `new_tokens,context_tokens,step_ms`",
        ));
    };
    let header = CsvHeader::parse(header_line, number, &PROFILE_COLUMNS)?;
    let [Some(new_tokens), Some(context_tokens), Some(step_ms)] = header.indices else {
        let message = "the header needs `new_tokens`, `context_tokens` and `step_ms` columns (or `batch_tokens`, \
                       `kv_tokens`, `time_ms`)";
        return Err(BenchmarkError::at_line(number, message));
    };
    let points = lines
        .map(|(number, line)| {
            let point = header.fields(line).and_then(|fields| {
                let required = |index: usize, column: &'static str| {
                    number_cell(&fields, Some(index), column)?.ok_or_else(|| format!("`{column}` is empty"))
                };
                Ok(ProfilePoint {
                    new_tokens: whole_count(required(new_tokens, "new_tokens")?, "new_tokens")?,
                    context_tokens: context_count(required(context_tokens, "context_tokens")?)?,
                    step_ms: positive_value(required(step_ms, "step_ms")?, "step_ms")?,
                })
            });
            point.map_err(|message| BenchmarkError::at_line(number, message))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let profile = StepProfile { points };
    profile.check().map_err(BenchmarkError::in_file)?;
    Ok(profile)
}

/// `value` as a context size: a whole number from 0 to 2^53.
fn context_count(value: f64) -> Result<u64, String> {
    if (0.0..=MAX_CONTEXT_TOKENS as f64).contains(&value) && value.fract() == 0.0 {
        Ok(value as u64)
    } else {
        Err(format!("`context_tokens` must be a whole number from 0 to 2^53, got {}", shown(value)))
    }
}

/// Checks one point's values (as [`parse_profile`] does while it reads them).
fn check_point(point: &ProfilePoint) -> Result<(), String> {
    if point.new_tokens == 0 {
        return Err("`new_tokens` must be at least 1, got 0".to_owned());
    }
    if point.context_tokens > MAX_CONTEXT_TOKENS {
        return Err(format!("`context_tokens` must be at most 2^53, got {}", point.context_tokens));
    }
    positive_value(point.step_ms, "step_ms").map(|_| ())
}

impl StepProfile {
    /// The step-time model `step = a(new_tokens) + c · context_tokens` fitted to the points:
    /// `c` by pooled least squares within each `new_tokens` group, clamped at ≥ 0 (0 when no
    /// group varies in context), and one intercept per group, `mean(step) − c ·
    /// mean(context)`, which `a` interpolates ([`ProfileFit::fixed_seconds`]).
    ///
    /// # Errors
    ///
    /// The profile (e.g. one edited in a scenario) has fewer than two points, or a point with
    /// `new_tokens` 0, `context_tokens` above 2^53 or a `step_ms` not finite and > 0; the
    /// message names the 1-based point and its field.
    pub fn fit(&self) -> Result<ProfileFit, String> {
        self.check()?;
        let groups: Vec<Group> =
            self.steps_by_new_tokens().into_iter().map(|(new_tokens, steps)| Group::new(new_tokens, &steps)).collect();
        let covariance: f64 = groups.iter().map(|group| group.covariance).sum();
        let variance: f64 = groups.iter().map(|group| group.variance).sum();
        let slope = if variance > 0.0 { covariance / variance } else { 0.0 };
        let seconds_per_context_token = slope.max(0.0);
        let knots = groups
            .iter()
            .map(|group| Knot {
                new_tokens: group.new_tokens,
                seconds: group.mean_seconds - seconds_per_context_token * group.mean_context_tokens,
            })
            .collect();
        Ok(ProfileFit { seconds_per_context_token, knots })
    }

    /// Checks the points' values, then their number.
    fn check(&self) -> Result<(), String> {
        for (index, point) in self.points.iter().enumerate() {
            check_point(point).map_err(|message| format!("point {}: {message}", index + 1))?;
        }
        if self.points.len() < MIN_POINTS {
            return Err(format!("a step profile needs at least {MIN_POINTS} points, got {}", self.points.len()));
        }
        Ok(())
    }

    /// The points as `(context tokens, seconds)` per distinct `new_tokens`, in increasing order.
    fn steps_by_new_tokens(&self) -> BTreeMap<u32, Vec<(f64, f64)>> {
        let mut groups = BTreeMap::<u32, Vec<(f64, f64)>>::new();
        for point in &self.points {
            groups.entry(point.new_tokens).or_default().push((point.context_tokens as f64, point.step_ms / 1e3));
        }
        groups
    }
}

/// The steps of one `new_tokens`: their means and their sums of squares about them.
struct Group {
    new_tokens: f64,
    mean_context_tokens: f64,
    mean_seconds: f64,
    /// Σ (context − mean context) · (seconds − mean seconds), unnormalised.
    covariance: f64,
    /// Σ (context − mean context)², unnormalised.
    variance: f64,
}

impl Group {
    /// The group of `steps`, `(context tokens, seconds)`, all of `new_tokens` (at least one).
    fn new(new_tokens: u32, steps: &[(f64, f64)]) -> Group {
        let count = steps.len() as f64;
        let mean_context_tokens = steps.iter().map(|&(context, _)| context).sum::<f64>() / count;
        let mean_seconds = steps.iter().map(|&(_, seconds)| seconds).sum::<f64>() / count;
        let deviations =
            steps.iter().map(|&(context, seconds)| (context - mean_context_tokens, seconds - mean_seconds));
        let (covariance, variance) = deviations.fold((0.0, 0.0), |(covariance, variance), (context, seconds)| {
            (covariance + context * seconds, variance + context * context)
        });
        Group { new_tokens: f64::from(new_tokens), mean_context_tokens, mean_seconds, covariance, variance }
    }
}

/// The fixed cost of one measured `new_tokens`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Knot {
    new_tokens: f64,
    seconds: f64,
}

/// A step-time model fitted to a [`StepProfile`]:
/// `step = a(new_tokens) + c · context_tokens`, linear in context.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileFit {
    seconds_per_context_token: f64,
    /// One per distinct `new_tokens`, in increasing order; at least one.
    knots: Vec<Knot>,
}

impl ProfileFit {
    /// A step's time, s: `a(new_tokens) + c · context_tokens`, never below 0.
    pub fn step_seconds(&self, new_tokens: f64, context_tokens: f64) -> f64 {
        (self.fixed_seconds(new_tokens) + self.seconds_per_context_token * context_tokens).max(0.0)
    }

    /// `c`: the seconds each context token adds to a step (≥ 0).
    pub fn seconds_per_context_token(&self) -> f64 {
        self.seconds_per_context_token
    }

    /// `a(new_tokens)`: a step's time without context, s. Linear between the measured
    /// `new_tokens`; beyond them, the line through the two nearest, never below the smallest
    /// measured value below the first nor decreasing after the last. A single measured
    /// `new_tokens` gives a constant.
    pub fn fixed_seconds(&self, new_tokens: f64) -> f64 {
        match self.knots.as_slice() {
            // Never: a fit has a knot per distinct `new_tokens`, and a profile has points.
            [] => 0.0,
            [only] => only.seconds,
            [first, second, ..] if new_tokens < first.new_tokens => {
                line_through(*first, *second, new_tokens).max(self.smallest_fixed_seconds())
            }
            [.., before_last, last] if new_tokens > last.new_tokens => {
                line_through(*before_last, *last, new_tokens).max(last.seconds)
            }
            knots => {
                // The knot segment holding `new_tokens` (the first one for a NaN, giving NaN).
                let above = knots.partition_point(|knot| knot.new_tokens <= new_tokens).clamp(1, knots.len() - 1);
                line_through(knots[above - 1], knots[above], new_tokens)
            }
        }
    }

    /// The smallest fixed cost measured.
    fn smallest_fixed_seconds(&self) -> f64 {
        self.knots.iter().map(|knot| knot.seconds).fold(f64::INFINITY, f64::min)
    }
}

/// The value at `new_tokens` of the line through two knots.
fn line_through(left: Knot, right: Knot, new_tokens: f64) -> f64 {
    let slope = (right.seconds - left.seconds) / (right.new_tokens - left.new_tokens);
    left.seconds + slope * (new_tokens - left.new_tokens)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn point(new_tokens: u32, context_tokens: u64, step_ms: f64) -> ProfilePoint {
        ProfilePoint { new_tokens, context_tokens, step_ms }
    }

    fn profile(points: &[ProfilePoint]) -> StepProfile {
        StepProfile { points: points.to_vec() }
    }

    /// Equal up to rounding: 1e-12 relative, or 1e-16 s absolute (a ten-thousandth of a ps).
    fn assert_close(actual: f64, expected: f64) {
        let tolerance = 1e-12 * expected.abs() + 1e-16;
        assert!((actual - expected).abs() <= tolerance, "{actual} is not {expected}");
    }

    #[test]
    fn parses_columns_aliases_and_ignores_others() {
        let csv = "# H100, Llama-3.1-8B\nstep,Batch Tokens,KV-Tokens,time_ms\n1,1,512,7.25\n\n2,\"64\",32768,9.5\n";
        let profile = parse_profile(csv).unwrap();
        assert_eq!(profile.points, [point(1, 512, 7.25), point(64, 32_768, 9.5)]);
        let reordered = parse_profile("step_ms,context_tokens,new_tokens\n7.25,512,1\n9.5,32768,64\n").unwrap();
        assert_eq!(reordered, profile);
    }

    #[test]
    fn profile_errors_name_line_and_field() {
        let header = "new_tokens,context_tokens,step_ms\n";
        let cases = [
            ("0,100,5", "`new_tokens` must be a whole number from 1 to 4294967295, got 0"),
            ("1.5,100,5", "`new_tokens` must be a whole number from 1 to 4294967295, got 1.5"),
            ("1,-1,5", "`context_tokens` must be a whole number from 0 to 2^53, got -1"),
            ("1,1e300,5", "`context_tokens` must be a whole number from 0 to 2^53, got 1e300"),
            ("1,100,0", "`step_ms` must be a finite number > 0, got 0"),
            ("1,100,-3", "`step_ms` must be a finite number > 0, got -3"),
            ("1,100,NaN", "`step_ms` must be a finite number > 0, got NaN"),
            ("1,100,inf", "`step_ms` must be a finite number > 0, got inf"),
            ("1,100,", "`step_ms` is empty"),
            ("1,100", "`step_ms` is empty"),
            (",100,5", "`new_tokens` is empty"),
            ("1,many,5", "`context_tokens` is not a number: \"many\""),
        ];
        for (row, message) in cases {
            let error = parse_profile(&format!("{header}1,100,5\n{row}\n")).unwrap_err();
            assert_eq!((error.line, error.message.as_str()), (Some(3), message), "{row}");
        }
        let error = parse_profile("new_tokens,step_ms\n1,5\n2,6\n").unwrap_err();
        assert_eq!(error.line, Some(1));
        assert!(error.message.starts_with("the header needs `new_tokens`, `context_tokens` and `step_ms`"));
        let error = parse_profile("new_tokens,batch_tokens,context_tokens,step_ms\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 1: the header has two `new_tokens` columns: `new_tokens` and `batch_tokens`"
        );
        let error = parse_profile(&format!("{header}1,100,5\n")).unwrap_err();
        assert_eq!(error.to_string(), "a step profile needs at least 2 points, got 1");
        assert_eq!(parse_profile("").unwrap_err().line, None);
        assert_eq!(parse_profile("\u{0}\u{1}garbage").unwrap_err().line, Some(1));
    }

    /// The fit of `points`, which must be a valid profile.
    fn fitted(points: &[ProfilePoint]) -> ProfileFit {
        profile(points).fit().unwrap_or_else(|message| panic!("{message}"))
    }

    #[test]
    fn fit_refuses_invalid_profiles_naming_the_point() {
        let fit_error = |points: &[ProfilePoint]| profile(points).fit().unwrap_err();
        assert_eq!(fit_error(&[point(1, 0, 5.0), point(0, 0, 6.0)]), "point 2: `new_tokens` must be at least 1, got 0");
        let expected = format!("point 2: `context_tokens` must be at most 2^53, got {}", u64::MAX);
        assert_eq!(fit_error(&[point(1, 0, 5.0), point(2, u64::MAX, 6.0)]), expected);
        let expected = "point 1: `step_ms` must be a finite number > 0, got NaN";
        assert_eq!(fit_error(&[point(1, 0, f64::NAN), point(2, 0, 6.0)]), expected);
        let expected = "point 2: `step_ms` must be a finite number > 0, got -1";
        assert_eq!(fit_error(&[point(1, 0, 5.0), point(2, 0, -1.0)]), expected);
        assert_eq!(fit_error(&[point(1, 0, 5.0)]), "a step profile needs at least 2 points, got 1");
        assert_eq!(fit_error(&[]), "a step profile needs at least 2 points, got 0");
    }

    #[test]
    fn profile_round_trips_through_json() {
        let original = profile(&[point(1, 512, 7.25), point(64, 32_768, 9.5)]);
        let json = serde_json::to_string(&original).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"points":[{"new_tokens":1,"context_tokens":512,"step_ms":7.25},"#,
                r#"{"new_tokens":64,"context_tokens":32768,"step_ms":9.5}]}"#,
            )
        );
        assert_eq!(serde_json::from_str::<StepProfile>(&json).unwrap(), original);
    }

    /// The fixed costs (s) and per-context-token cost the synthetic profiles are made from.
    const KNOWN_FIXED: [(u32, f64); 4] = [(1, 0.0062), (16, 0.0065), (128, 0.0091), (512, 0.0213)];
    const KNOWN_SLOPE: f64 = 3.1e-8;

    /// Steps timed exactly by the known model, at several contexts per size (the contexts
    /// differ between sizes so that size and context are not confounded).
    fn synthetic_profile() -> StepProfile {
        let mut points = Vec::new();
        for (size_index, &(new_tokens, fixed)) in KNOWN_FIXED.iter().enumerate() {
            for step in 0..5u64 {
                let context_tokens = 1_000 + 20_000 * step + 7_777 * size_index as u64;
                points.push(point(new_tokens, context_tokens, (fixed + KNOWN_SLOPE * context_tokens as f64) * 1e3));
            }
        }
        StepProfile { points }
    }

    #[test]
    fn fit_recovers_known_fixed_costs_and_slope() {
        let fit = fitted(&synthetic_profile().points);
        assert_close(fit.seconds_per_context_token(), KNOWN_SLOPE);
        for (new_tokens, fixed) in KNOWN_FIXED {
            assert_close(fit.fixed_seconds(f64::from(new_tokens)), fixed);
            assert_close(fit.step_seconds(f64::from(new_tokens), 50_000.0), fixed + KNOWN_SLOPE * 50_000.0);
        }
    }

    #[test]
    fn fit_pools_the_slope_over_groups() {
        // Worked by hand. Size 1: contexts 0 and 2 at 1 and 3 ms (means 1, 2 ms; Sxy 2, Sxx 2).
        // Size 8: contexts 0 and 4 at 5 and 7 ms (means 2, 6 ms; Sxy 4, Sxx 8). Pooled slope
        // c = 6 / 10 = 0.6 ms per token, unlike either group's own (1 and 0.5); intercepts
        // 2 − 0.6 · 1 = 1.4 ms and 6 − 0.6 · 2 = 4.8 ms.
        let fit = fitted(&[point(1, 0, 1.0), point(1, 2, 3.0), point(8, 0, 5.0), point(8, 4, 7.0)]);
        assert_close(fit.seconds_per_context_token(), 0.6e-3);
        assert_close(fit.fixed_seconds(1.0), 1.4e-3);
        assert_close(fit.fixed_seconds(8.0), 4.8e-3);
    }

    #[test]
    fn fit_clamps_a_falling_slope_and_handles_constant_context() {
        // Time falling with context: c is clamped to 0 and each size costs its mean.
        let falling = fitted(&[point(4, 100, 9.0), point(4, 300, 5.0), point(16, 100, 12.0), point(16, 300, 10.0)]);
        assert_eq!(falling.seconds_per_context_token(), 0.0);
        assert_close(falling.fixed_seconds(4.0), 7e-3);
        assert_close(falling.fixed_seconds(16.0), 11e-3);
        // One context per size: nothing to fit c from, so 0, and the sizes keep their means.
        let flat = fitted(&[point(1, 100, 4.0), point(1, 100, 6.0), point(2, 9_000, 8.0)]);
        assert_eq!(flat.seconds_per_context_token(), 0.0);
        assert_close(flat.fixed_seconds(1.0), 5e-3);
        assert_close(flat.fixed_seconds(2.0), 8e-3);
    }

    #[test]
    fn fixed_cost_interpolates_between_knots() {
        let fit = fitted(&[point(1, 0, 10.0), point(101, 0, 20.0), point(301, 0, 60.0)]);
        assert_close(fit.fixed_seconds(51.0), 15e-3);
        assert_close(fit.fixed_seconds(101.0), 20e-3);
        assert_close(fit.fixed_seconds(201.0), 40e-3);
        assert_close(fit.fixed_seconds(300.0), 59.8e-3);
    }

    #[test]
    fn fixed_cost_extrapolates_with_clamps() {
        // Rising: beyond the last knot the last segment's slope continues (0.4 ms per token);
        // below the first the line falls under the smallest value and is held at it.
        let rising = fitted(&[point(11, 0, 10.0), point(21, 0, 12.0), point(31, 0, 16.0)]);
        assert_close(rising.fixed_seconds(41.0), 20e-3);
        assert_close(rising.fixed_seconds(131.0), 56e-3);
        assert_close(rising.fixed_seconds(6.0), 10e-3);
        assert_close(rising.fixed_seconds(0.0), 10e-3);
        // A first segment that falls keeps rising to the left; a last one that falls stays flat.
        let dipped = fitted(&[point(10, 0, 12.0), point(20, 0, 10.0), point(30, 0, 14.0), point(40, 0, 13.0)]);
        assert_close(dipped.fixed_seconds(5.0), 13e-3);
        assert_close(dipped.fixed_seconds(100.0), 13e-3);
        // The low-end clamp is the smallest value anywhere, not the first knot's.
        let valley = fitted(&[point(10, 0, 8.0), point(20, 0, 6.0), point(30, 0, 4.0), point(40, 0, 30.0)]);
        assert_close(valley.fixed_seconds(0.0), 10e-3);
        let sloped = fitted(&[point(10, 0, 8.0), point(20, 0, 9.0), point(30, 0, 4.0)]);
        assert_close(sloped.fixed_seconds(0.0), 7e-3);
        assert_close(sloped.fixed_seconds(-100.0), 4e-3);
    }

    #[test]
    fn single_size_is_constant_and_a_nan_size_does_not_panic() {
        let single = fitted(&[point(8, 1_000, 5.0), point(8, 3_000, 7.0)]);
        assert_close(single.seconds_per_context_token(), 1e-6);
        assert_close(single.fixed_seconds(1.0), 4e-3);
        assert_close(single.fixed_seconds(1_000.0), 4e-3);
        assert!(fitted(&[point(1, 0, 1.0), point(2, 0, 2.0)]).fixed_seconds(f64::NAN).is_nan());
    }

    #[test]
    fn step_time_is_linear_in_context_at_every_size() {
        let fit = fitted(&synthetic_profile().points);
        for new_tokens in [0.5, 1.0, 7.0, 16.0, 100.0, 512.0, 4_096.0] {
            let base = fit.step_seconds(new_tokens, 0.0);
            assert_close(base, fit.fixed_seconds(new_tokens));
            for context in [1.0, 1_000.0, 123_456.0, 2e6] {
                assert_close(fit.step_seconds(new_tokens, context) - base, KNOWN_SLOPE * context);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..Default::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "[a-z_,0-9.eE+\\-\n\"]{0,200}") {
            let _ = parse_profile(&format!("new_tokens,context_tokens,step_ms\n{text}"));
            let _ = parse_profile(&text);
        }

        #[test]
        fn any_points_fit_or_refuse_without_panicking(
            points in prop::collection::vec(
                (any::<u32>(), any::<u64>(), any::<f64>()),
                0..12,
            ),
            new_tokens in any::<f64>(),
            context_tokens in any::<f64>(),
        ) {
            let points: Vec<ProfilePoint> =
                points.into_iter().map(|(new_tokens, context, step_ms)| point(new_tokens, context, step_ms)).collect();
            if let Ok(fit) = profile(&points).fit() {
                prop_assert!(fit.seconds_per_context_token() >= 0.0);
                let step = fit.step_seconds(new_tokens, context_tokens);
                prop_assert!(step.is_nan() || step >= 0.0);
            }
        }
    }

    #[test]
    fn step_time_is_never_negative() {
        // Intercepts below 0 (steep context cost measured at large contexts only).
        let fit = fitted(&[point(1, 1_000_000, 2.0), point(1, 2_000_000, 5.0), point(2, 1_000_000, 2.5)]);
        assert_close(fit.fixed_seconds(1.0), -1e-3);
        assert_eq!(fit.step_seconds(1.0, 0.0), 0.0);
    }
}
