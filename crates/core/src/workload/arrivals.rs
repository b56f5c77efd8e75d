//! Arrival processes: when each request (or session) of a synthetic workload starts.

use serde::{Deserialize, Serialize};

use crate::rng::RngStream;

/// Seconds in a day, the period of [`Arrivals::Diurnal`].
pub const DAY_S: f64 = 86_400.0;

/// The latest arrival accepted or drawn, in seconds from a workload's zero (about 317 years:
/// Unix time in seconds, milliseconds or nanoseconds fits).
pub const LATEST_ARRIVAL_S: f64 = 1e10;

/// When a unit of a workload (a request, or a session's first turn) starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Start {
    /// At this time, seconds.
    At(f64),
    /// `think_s` after unit `unit` ends (a closed-loop client's previous unit).
    After {
        /// The earlier unit.
        unit: usize,
        /// Seconds between its end and this start.
        think_s: f64,
    },
}

/// The starts of successive units under an arrival process: the generator's and a re-timed
/// trace's one schedule. The first open-loop unit starts at 0; closed-loop client `c` runs
/// units `c`, `c + N`, `c + 2N`, ….
pub struct Schedule<'r> {
    arrivals: Arrivals,
    rng: &'r mut RngStream,
    at_s: f64,
    next_unit: usize,
}

impl<'r> Schedule<'r> {
    /// A schedule drawing its gaps from `rng`. Parameters must be valid.
    pub fn new(arrivals: Arrivals, rng: &'r mut RngStream) -> Schedule<'r> {
        Schedule { arrivals, rng, at_s: 0.0, next_unit: 0 }
    }

    /// The start of the next unit.
    pub fn next_start(&mut self) -> Start {
        let unit = self.next_unit;
        self.next_unit += 1;
        match self.arrivals {
            Arrivals::ClosedLoop { concurrency, think_time_s } => match unit.checked_sub(concurrency as usize) {
                Some(previous) => Start::After { unit: previous, think_s: think_time_s },
                None => Start::At(0.0),
            },
            open => {
                if unit > 0 {
                    let next = open.next_after(self.at_s, self.rng).expect("an open-loop process");
                    self.at_s = next.min(LATEST_ARRIVAL_S);
                }
                Start::At(self.at_s)
            }
        }
    }
}

/// An arrival process. Every open-loop process starts with an arrival at 0.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Arrivals {
    /// Exponential gaps (a Poisson process).
    Poisson {
        /// Mean arrivals per second.
        rate_per_s: f64,
    },
    /// Gamma-distributed gaps with a coefficient of variation `cv` (burstiness): `cv` 1 is
    /// Poisson, above 1 burstier, below 1 more regular. vLLM's `--burstiness b` is `cv = 1/√b`.
    Gamma {
        /// Mean arrivals per second.
        rate_per_s: f64,
        /// Standard deviation of the gaps over their mean.
        cv: f64,
    },
    /// Weibull-distributed gaps with shape `k` (below 1: bursty with long lulls; 1: Poisson).
    Weibull {
        /// Mean arrivals per second.
        rate_per_s: f64,
        /// The Weibull shape parameter.
        shape: f64,
    },
    /// Evenly spaced arrivals.
    Constant {
        /// Arrivals per second.
        rate_per_s: f64,
    },
    /// Poisson bursts: `on_s` seconds at `rate_per_s`, then `off_s` seconds of silence, repeated.
    OnOff {
        /// Arrivals per second while on.
        rate_per_s: f64,
        /// Length of each burst, seconds.
        on_s: f64,
        /// Length of each pause, seconds.
        off_s: f64,
    },
    /// A Poisson process whose rate follows the day: a cosine with its peak at `peak_hour`,
    /// `peak_to_trough` times the rate at the opposite hour, averaging `mean_rate_per_s` over
    /// a day. Simulated time 0 is `start_hour` o'clock.
    Diurnal {
        /// The rate averaged over a day.
        mean_rate_per_s: f64,
        /// Peak rate over trough rate (≥ 1; 1 is a flat Poisson process).
        peak_to_trough: f64,
        /// The hour of the peak, 0 to 24.
        peak_hour: f64,
        /// The hour at simulated time 0, 0 to 24.
        start_hour: f64,
    },
    /// `concurrency` clients, each sending its next request `think_time_s` after its previous
    /// one completes (as vLLM's and SGLang's benchmark clients load a server), until the
    /// workload's requests have all been sent. Arrival times are set by the run.
    ClosedLoop {
        /// Number of clients.
        concurrency: u32,
        /// Seconds between a response and the client's next request.
        think_time_s: f64,
    },
}

impl Arrivals {
    /// The long-run mean arrival rate, requests per second; `None` for a closed loop, whose
    /// rate the run decides.
    pub fn mean_rate_per_s(&self) -> Option<f64> {
        match *self {
            Arrivals::Poisson { rate_per_s }
            | Arrivals::Gamma { rate_per_s, .. }
            | Arrivals::Weibull { rate_per_s, .. }
            | Arrivals::Constant { rate_per_s } => Some(rate_per_s),
            Arrivals::OnOff { rate_per_s, on_s, off_s } => Some(rate_per_s * on_s / (on_s + off_s)),
            Arrivals::Diurnal { mean_rate_per_s, .. } => Some(mean_rate_per_s),
            Arrivals::ClosedLoop { .. } => None,
        }
    }

    /// The rate at time `at_s`, for the processes whose rate changes over time (the same
    /// everywhere for the others).
    pub fn rate_at(&self, at_s: f64) -> Option<f64> {
        match *self {
            Arrivals::OnOff { rate_per_s, on_s, off_s } => {
                Some(if at_s.rem_euclid(on_s + off_s) < on_s { rate_per_s } else { 0.0 })
            }
            Arrivals::Diurnal { mean_rate_per_s, peak_to_trough, peak_hour, start_hour } => {
                let amplitude = (peak_to_trough - 1.0) / (peak_to_trough + 1.0);
                let since_peak_s = at_s + (start_hour - peak_hour) * 3600.0;
                let phase = 2.0 * std::f64::consts::PI * since_peak_s / DAY_S;
                Some(mean_rate_per_s * (1.0 + amplitude * libm::cos(phase)))
            }
            _ => self.mean_rate_per_s(),
        }
    }

    /// The JSON name of the form.
    pub fn kind(&self) -> &'static str {
        match self {
            Arrivals::Poisson { .. } => "poisson",
            Arrivals::Gamma { .. } => "gamma",
            Arrivals::Weibull { .. } => "weibull",
            Arrivals::Constant { .. } => "constant",
            Arrivals::OnOff { .. } => "on_off",
            Arrivals::Diurnal { .. } => "diurnal",
            Arrivals::ClosedLoop { .. } => "closed_loop",
        }
    }

    /// The next arrival after one at `now_s`, or `None` for a closed loop (whose arrivals
    /// follow completions). Parameters must be valid (see [`Arrivals::problems`]).
    pub fn next_after(&self, now_s: f64, rng: &mut RngStream) -> Option<f64> {
        Some(match *self {
            Arrivals::Poisson { rate_per_s } => now_s + rng.exponential(rate_per_s),
            Arrivals::Gamma { rate_per_s, cv } => {
                let shape = 1.0 / (cv * cv);
                now_s + gamma(shape, rng) / (shape * rate_per_s)
            }
            Arrivals::Weibull { rate_per_s, shape } => {
                let scale = 1.0 / (rate_per_s * libm::tgamma(1.0 + 1.0 / shape));
                now_s + scale * libm::pow(-libm::log(1.0 - rng.next_f64()), 1.0 / shape)
            }
            Arrivals::Constant { rate_per_s } => now_s + 1.0 / rate_per_s,
            Arrivals::OnOff { rate_per_s, on_s, off_s } => {
                // Poisson time is spent only while on: walk the on periods until the gap is used.
                let period = on_s + off_s;
                let mut gap = rng.exponential(rate_per_s);
                let mut at = now_s;
                loop {
                    let into = at.rem_euclid(period);
                    if into >= on_s {
                        at += period - into;
                        continue;
                    }
                    let left = on_s - into;
                    if gap <= left {
                        break at + gap;
                    }
                    // Spend the rest of this burst, then whole bursts at once.
                    gap -= left;
                    at += left + off_s;
                    let whole = libm::floor(gap / on_s);
                    gap -= whole * on_s;
                    at += whole * period;
                }
            }
            Arrivals::Diurnal { mean_rate_per_s, peak_to_trough, .. } => {
                // Thinning (Lewis & Shedler): candidates at the peak rate, each kept with
                // probability rate(t) / peak rate.
                let amplitude = (peak_to_trough - 1.0) / (peak_to_trough + 1.0);
                let peak = mean_rate_per_s * (1.0 + amplitude);
                let mut at = now_s;
                loop {
                    at += rng.exponential(peak);
                    let rate = self.rate_at(at).expect("an open-loop process");
                    if rng.next_f64() * peak < rate {
                        break at;
                    }
                }
            }
            Arrivals::ClosedLoop { .. } => return None,
        })
    }

    /// Problems with the parameters, as `(field, message)` pairs relative to this value.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let kind = self.kind();
        let mut positive = |field: &str, value: f64| {
            if !(value.is_finite() && value > 0.0) {
                problems.push((format!("{kind}.{field}"), format!("must be > 0, got {value}")));
            }
        };
        match *self {
            Arrivals::Poisson { rate_per_s } | Arrivals::Constant { rate_per_s } => positive("rate_per_s", rate_per_s),
            Arrivals::Gamma { rate_per_s, cv } => {
                positive("rate_per_s", rate_per_s);
                if !(cv.is_finite() && (0.05..=20.0).contains(&cv)) {
                    problems.push(("gamma.cv".to_owned(), format!("must be in [0.05, 20], got {cv}")));
                }
            }
            Arrivals::Weibull { rate_per_s, shape } => {
                positive("rate_per_s", rate_per_s);
                if !(shape.is_finite() && (0.1..=20.0).contains(&shape)) {
                    problems.push(("weibull.shape".to_owned(), format!("must be in [0.1, 20], got {shape}")));
                }
            }
            Arrivals::OnOff { rate_per_s, on_s, off_s } => {
                positive("rate_per_s", rate_per_s);
                positive("on_s", on_s);
                if !(off_s.is_finite() && off_s >= 0.0) {
                    problems.push(("on_off.off_s".to_owned(), format!("must be ≥ 0, got {off_s}")));
                }
            }
            Arrivals::Diurnal { mean_rate_per_s, peak_to_trough, peak_hour, start_hour } => {
                positive("mean_rate_per_s", mean_rate_per_s);
                if !(peak_to_trough.is_finite() && (1.0..=1000.0).contains(&peak_to_trough)) {
                    problems.push((
                        "diurnal.peak_to_trough".to_owned(),
                        format!("must be in [1, 1000], got {peak_to_trough}"),
                    ));
                }
                for (field, hour) in [("peak_hour", peak_hour), ("start_hour", start_hour)] {
                    if !(hour.is_finite() && (0.0..=24.0).contains(&hour)) {
                        problems.push((format!("diurnal.{field}"), format!("must be in [0, 24], got {hour}")));
                    }
                }
            }
            Arrivals::ClosedLoop { concurrency, think_time_s } => {
                if concurrency == 0 || concurrency > 100_000 {
                    problems.push((
                        "closed_loop.concurrency".to_owned(),
                        format!("must be in 1..=100000, got {concurrency}"),
                    ));
                }
                if !(think_time_s.is_finite() && (0.0..=1e6).contains(&think_time_s)) {
                    problems.push((
                        "closed_loop.think_time_s".to_owned(),
                        format!("must be in [0, 1e6], got {think_time_s}"),
                    ));
                }
            }
        }
        problems
    }
}

/// A Gamma(shape, 1) draw: Marsaglia and Tsang's method, boosted for shapes below 1.
fn gamma(shape: f64, rng: &mut RngStream) -> f64 {
    if shape < 1.0 {
        // Gamma(a) = Gamma(a + 1) · U^(1/a).
        let u = 1.0 - rng.next_f64();
        return gamma(shape + 1.0, rng) * libm::pow(u, 1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / libm::sqrt(9.0 * d);
    loop {
        let x = rng.standard_normal();
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = 1.0 - rng.next_f64();
        if libm::log(u) < 0.5 * x * x + d - d * v + d * libm::log(v) {
            return d * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::StreamId;

    /// Gaps of `n` arrivals from `arrivals`.
    fn gaps(arrivals: Arrivals, n: usize) -> Vec<f64> {
        let mut rng = RngStream::new(11, StreamId::ARRIVALS);
        let mut at = 0.0;
        (0..n)
            .map(|_| {
                let next = arrivals.next_after(at, &mut rng).unwrap();
                let gap = next - at;
                at = next;
                gap
            })
            .collect()
    }

    fn mean_and_cv(values: &[f64]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
        (mean, variance.sqrt() / mean)
    }

    #[test]
    fn renewal_processes_have_their_rate_and_burstiness() {
        // With n = 200,000 gaps the standard error of the mean gap is cv/√n ≈ 0.2 % · cv and
        // that of the cv a few tenths of a percent: 2 % tolerances are many standard errors.
        for (arrivals, cv) in [
            (Arrivals::Poisson { rate_per_s: 4.0 }, 1.0),
            (Arrivals::Gamma { rate_per_s: 4.0, cv: 2.0 }, 2.0),
            (Arrivals::Gamma { rate_per_s: 4.0, cv: 0.5 }, 0.5),
            // Weibull cv = √(Γ(1+2/k) − Γ(1+1/k)²) / Γ(1+1/k): k = 0.5 gives √5 ≈ 2.236.
            (Arrivals::Weibull { rate_per_s: 4.0, shape: 0.5 }, 5f64.sqrt()),
            (Arrivals::Weibull { rate_per_s: 4.0, shape: 1.0 }, 1.0),
        ] {
            let (mean, measured_cv) = mean_and_cv(&gaps(arrivals, 200_000));
            assert!((mean * 4.0 - 1.0).abs() < 0.02, "{arrivals:?}: mean gap {mean}");
            assert!((measured_cv / cv - 1.0).abs() < 0.04, "{arrivals:?}: cv {measured_cv}");
        }
        let constant = gaps(Arrivals::Constant { rate_per_s: 8.0 }, 10);
        assert!(constant.iter().all(|&gap| gap == 0.125));
    }

    #[test]
    fn on_off_bursts_arrive_only_while_on_at_the_duty_cycle_rate() {
        let arrivals = Arrivals::OnOff { rate_per_s: 10.0, on_s: 2.0, off_s: 3.0 };
        let mut rng = RngStream::new(5, StreamId::ARRIVALS);
        let mut at = 0.0;
        let mut times = Vec::new();
        for _ in 0..100_000 {
            at = arrivals.next_after(at, &mut rng).unwrap();
            times.push(at);
        }
        assert!(times.iter().all(|t| t.rem_euclid(5.0) < 2.0), "no arrival while off");
        let rate = times.len() as f64 / at;
        assert!((rate / 4.0 - 1.0).abs() < 0.02, "duty-cycle rate 10 · 2/5 = 4, got {rate}");
        assert_eq!(arrivals.mean_rate_per_s(), Some(4.0));
        // Bursts far shorter than a gap are skipped in one step, not walked one by one.
        let slivers = Arrivals::OnOff { rate_per_s: 1.0, on_s: 1e-9, off_s: 1e-9 };
        let mut rng = RngStream::new(5, StreamId::ARRIVALS);
        let next = slivers.next_after(0.0, &mut rng).unwrap();
        assert!(next.is_finite() && next > 0.0);
    }

    #[test]
    fn a_diurnal_day_peaks_at_its_peak_hour_with_its_peak_to_trough_ratio() {
        let arrivals =
            Arrivals::Diurnal { mean_rate_per_s: 2.0, peak_to_trough: 3.0, peak_hour: 14.0, start_hour: 0.0 };
        let mut rng = RngStream::new(8, StreamId::ARRIVALS);
        let mut per_hour = [0u64; 24];
        let mut at = 0.0;
        let days = 4.0;
        loop {
            at = arrivals.next_after(at, &mut rng).unwrap();
            if at >= days * DAY_S {
                break;
            }
            per_hour[((at / 3600.0) as usize) % 24] += 1;
        }
        let busiest = (0..24).max_by_key(|&h| per_hour[h]).unwrap();
        assert!((13..=15).contains(&busiest), "peak at hour {busiest}: {per_hour:?}");
        // The hour centred on 14:00 and the one on 02:00 (hours 13-14 and 1-2 straddle them;
        // take the hour starting at the peak and the one 12 h later and compare expectations).
        let expected = |hour: usize| {
            (0..60)
                .map(|m| arrivals.rate_at(hour as f64 * 3600.0 + m as f64 * 60.0 + 30.0).unwrap() * 60.0)
                .sum::<f64>()
                * days
        };
        for hour in [2, 8, 14, 20] {
            let measured = per_hour[hour] as f64;
            // Poisson counts: ±4 standard deviations.
            assert!(
                (measured - expected(hour)).abs() < 4.0 * expected(hour).sqrt(),
                "hour {hour}: {measured} vs {}",
                expected(hour)
            );
        }
        let total: u64 = per_hour.iter().sum();
        assert!(
            (total as f64 / (days * DAY_S) / 2.0 - 1.0).abs() < 0.02,
            "mean rate {}",
            total as f64 / (days * DAY_S)
        );
        let ratio = arrivals.rate_at(14.0 * 3600.0).unwrap() / arrivals.rate_at(2.0 * 3600.0).unwrap();
        assert!((ratio - 3.0).abs() < 1e-12, "{ratio}");
    }

    #[test]
    fn parameters_are_checked_with_their_field_names() {
        let problems = Arrivals::Gamma { rate_per_s: 0.0, cv: 50.0 }.problems();
        assert_eq!(
            problems,
            vec![
                ("gamma.rate_per_s".to_owned(), "must be > 0, got 0".to_owned()),
                ("gamma.cv".to_owned(), "must be in [0.05, 20], got 50".to_owned())
            ]
        );
        assert_eq!(Arrivals::ClosedLoop { concurrency: 0, think_time_s: -1.0 }.problems().len(), 2);
        assert!(Arrivals::Diurnal { mean_rate_per_s: 1.0, peak_to_trough: 2.0, peak_hour: 25.0, start_hour: 0.0 }
            .problems()[0]
            .0
            .ends_with("peak_hour"));
    }
}
