//! Seeded random streams, one per consumer.
//!
//! A scenario has one `seed`. Every consumer of randomness (arrivals, lengths, faults, router
//! ties, speculative-decoding acceptance, tenants…) draws from its own [`RngStream`], derived from
//! `(seed, StreamId)`. Streams never share state, so adding a consumer, or drawing more from one,
//! never shifts what another sees. There is no OS entropy and no global generator.
//!
//! The generator is xoshiro256++ (Blackman & Vigna, public domain), seeded through SplitMix64
//! from a mix of the seed and the stream id. Floats are built from the top 53 bits and
//! transcendental functions go through `libm`, so every target produces the same numbers.
//!
//! # Example
//!
//! ```
//! use servesim_core::rng::{RngStream, StreamId};
//!
//! let mut arrivals = RngStream::new(42, StreamId::ARRIVALS);
//! let gap_s = arrivals.exponential(3.4); // mean 1/3.4 s
//! assert!(gap_s > 0.0);
//! // The same (seed, stream) always gives the same sequence.
//! assert_eq!(RngStream::new(42, StreamId::ARRIVALS).next_u64(),
//!            RngStream::new(42, StreamId::ARRIVALS).next_u64());
//! ```

/// Identifies one consumer of randomness. The constants are fixed forever: changing one would
/// change every result that depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(pub u64);

impl StreamId {
    /// Inter-arrival times of generated workloads.
    pub const ARRIVALS: StreamId = StreamId(1);
    /// Prompt and output lengths of generated workloads.
    pub const LENGTHS: StreamId = StreamId(2);
    /// Random faults (MTBF/MTTR).
    pub const FAULTS: StreamId = StreamId(3);
    /// Router tie-breaking and random routing.
    pub const ROUTER: StreamId = StreamId(4);
    /// Speculative-decoding acceptance draws.
    pub const SPEC_DECODE: StreamId = StreamId(5);
    /// Tenant assignment of requests.
    pub const TENANTS: StreamId = StreamId(6);
    /// Session shapes of generated workloads: turns per session, think times.
    pub const SESSIONS: StreamId = StreamId(7);
    /// Workload transforms and resampling: which rows are kept or drawn.
    pub const TRANSFORM: StreamId = StreamId(8);

    /// A sub-stream of this one, e.g. one per replica: `StreamId::FAULTS.child(replica_index)`.
    /// Children of different parents, and different children of one parent, are distinct.
    pub const fn child(self, index: u64) -> StreamId {
        StreamId(splitmix64_mix(self.0 ^ 0x6A09_E667_F3BC_C909).wrapping_add(index))
    }
}

/// The SplitMix64 output function: a bijective 64-bit mixer.
const fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// One independent, reproducible random stream (xoshiro256++).
#[derive(Clone, Debug)]
pub struct RngStream {
    state: [u64; 4],
}

impl RngStream {
    /// The stream `stream` of the scenario seed `seed`.
    pub fn new(seed: u64, stream: StreamId) -> RngStream {
        let mut splitmix = splitmix64_mix(seed) ^ splitmix64_mix(stream.0 ^ 0xD1B5_4A32_D192_ED03);
        let mut next = || {
            splitmix = splitmix.wrapping_add(GOLDEN_GAMMA);
            splitmix64_mix(splitmix)
        };
        let state = [next(), next(), next(), next()];
        RngStream::from_state(state)
    }

    /// A stream with an explicit xoshiro256++ state (for reference-vector tests).
    ///
    /// # Panics
    ///
    /// Panics if the state is all zeros, the one state xoshiro cannot leave.
    pub fn from_state(state: [u64; 4]) -> RngStream {
        assert!(state != [0; 4], "xoshiro256++ state must not be all zeros");
        RngStream { state }
    }

    /// The next 64 uniformly random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `0..n`, without modulo bias (Lemire's method).
    ///
    /// # Panics
    ///
    /// Panics if `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "RngStream::below(0)");
        let threshold = n.wrapping_neg() % n;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(n);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// An exponentially distributed float with rate `rate` (mean `1/rate`).
    pub fn exponential(&mut self, rate: f64) -> f64 {
        // 1 - u is in (0, 1], so the logarithm is finite.
        -libm::log(1.0 - self.next_f64()) / rate
    }

    /// A standard normal float (Box–Muller; uses two uniforms per call).
    pub fn standard_normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro256plusplus_matches_the_reference_vector() {
        // Reference outputs for state [1, 2, 3, 4] from the authors' C implementation,
        // as published in the rand_xoshiro test suite.
        let mut rng = RngStream::from_state([1, 2, 3, 4]);
        let expected: [u64; 10] = [
            41943041,
            58720359,
            3588806011781223,
            3591011842654386,
            9228616714210784205,
            9973669472204895162,
            14011001112246962877,
            12406186145184390807,
            15849039046786891736,
            10450023813501588000,
        ];
        for value in expected {
            assert_eq!(rng.next_u64(), value);
        }
    }

    #[test]
    fn a_stream_is_unaffected_by_draws_from_other_streams() {
        let alone: Vec<u64> = {
            let mut arrivals = RngStream::new(7, StreamId::ARRIVALS);
            (0..1_000).map(|_| arrivals.next_u64()).collect()
        };
        let interleaved: Vec<u64> = {
            let mut arrivals = RngStream::new(7, StreamId::ARRIVALS);
            let mut lengths = RngStream::new(7, StreamId::LENGTHS);
            let mut faults = RngStream::new(7, StreamId::FAULTS);
            (0..1_000)
                .map(|i| {
                    for _ in 0..(i % 5) {
                        lengths.next_u64();
                        faults.next_f64();
                    }
                    arrivals.next_u64()
                })
                .collect()
        };
        assert_eq!(alone, interleaved);
    }

    #[test]
    fn different_streams_and_seeds_are_uncorrelated() {
        fn uniforms(seed: u64, stream: StreamId) -> Vec<f64> {
            let mut rng = RngStream::new(seed, stream);
            (0..20_000).map(|_| rng.next_f64()).collect()
        }
        fn correlation(a: &[f64], b: &[f64]) -> f64 {
            let n = a.len() as f64;
            let (mean_a, mean_b) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
            let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - mean_a) * (y - mean_b)).sum();
            let var_a: f64 = a.iter().map(|x| (x - mean_a).powi(2)).sum();
            let var_b: f64 = b.iter().map(|y| (y - mean_b).powi(2)).sum();
            cov / (var_a * var_b).sqrt()
        }
        let base = uniforms(42, StreamId::ARRIVALS);
        for other in [
            uniforms(42, StreamId::LENGTHS),
            uniforms(43, StreamId::ARRIVALS),
            uniforms(42, StreamId::ARRIVALS.child(0)),
            uniforms(42, StreamId::ARRIVALS.child(1)),
        ] {
            assert_ne!(base[..8], other[..8]);
            let r = correlation(&base, &other);
            // For independent uniforms the sample correlation has sd 1/sqrt(20000) ≈ 0.007.
            assert!(r.abs() < 0.03, "correlation {r}");
        }
    }

    #[test]
    fn below_is_uniform_and_in_range() {
        let mut rng = RngStream::new(1, StreamId::ROUTER);
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            counts[rng.below(6) as usize] += 1;
        }
        for count in counts {
            assert!((9_500..10_500).contains(&count), "counts {counts:?}");
        }
    }

    #[test]
    fn exponential_has_the_requested_mean() {
        let mut rng = RngStream::new(3, StreamId::ARRIVALS);
        let n = 100_000;
        let mean = (0..n).map(|_| rng.exponential(4.0)).sum::<f64>() / n as f64;
        assert!((mean - 0.25).abs() < 0.005, "mean {mean}");
    }

    #[test]
    fn standard_normal_has_zero_mean_and_unit_variance() {
        let mut rng = RngStream::new(9, StreamId::LENGTHS);
        let draws: Vec<f64> = (0..100_000).map(|_| rng.standard_normal()).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
    }
}
