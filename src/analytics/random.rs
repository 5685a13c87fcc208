//! The random numbers of Monte Carlo: a generator per path, seeded from (seed, path index)
//! alone, and the normal and Poisson draws built on it.
//!
//! Why our own and not a crate: the whole job is SplitMix64 (to mix a seed into a state) and
//! xoshiro256++ (Blackman and Vigna, 2019: 256 bits of state, period 2^256 − 1, passes
//! BigCrush), about thirty lines of integer arithmetic whose output is fixed by their
//! published definitions on every platform, with no dependency to keep in step. Normals use
//! Marsaglia's polar method and Poisson counts Knuth's product of uniforms (intensities are
//! at most 5 a year, so a handful of uniforms); both need only `ln`, `exp` and `sqrt`, which
//! come from `libm` (a pure-Rust port of musl's) so that a seed gives the same path
//! everywhere: the system's maths library may differ in the last bit.
//!
//! Owns the generator and the draws. Must not decide what the numbers mean (`montecarlo`
//! does) and must not touch the clock or the environment: there is no "random" seed.

/// SplitMix64 (Steele, Lea and Flood, 2014): a 64-bit counter through a bijective mix; here
/// it only turns a seed into well-spread starting states.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }
}

/// SplitMix64's output function: a bijection of u64 that spreads every input bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256++ 1.0.
#[derive(Debug, Clone)]
pub struct Xoshiro256 {
    s: [u64; 4],
}

impl Xoshiro256 {
    /// The generator of one path: its state is SplitMix64's first four outputs from a key
    /// that mixes the run's seed and the path's index, so paths are independent streams and
    /// any path can be drawn without drawing the ones before it.
    pub fn for_path(seed: u64, path: u64) -> Self {
        let key = mix(seed ^ mix(path.wrapping_add(0x6A09_E667_F3BC_C909)));
        let mut sm = SplitMix64::new(key);
        let mut s = [0u64; 4];
        for word in &mut s {
            *word = sm.next_u64();
        }
        // An all-zero state would stay zero; SplitMix64 cannot give four zeros in a row, but
        // the guard costs nothing.
        if s == [0; 4] {
            s[0] = 1;
        }
        Xoshiro256 { s }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[0]
            .wrapping_add(self.s[3])
            .rotate_left(23)
            .wrapping_add(self.s[0]);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform on [0, 1): the top 53 bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform on (0, 1]: never 0, so its logarithm is finite.
    pub fn uniform_open_below(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Standard normal draws by Marsaglia's polar method: pairs from points in the unit disc;
/// the second of a pair is kept for the next call.
#[derive(Debug, Clone)]
pub struct Normals {
    rng: Xoshiro256,
    spare: Option<f64>,
}

impl Normals {
    pub fn new(rng: Xoshiro256) -> Self {
        Normals { rng, spare: None }
    }

    pub fn standard(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.rng.uniform() - 1.0;
            let v = 2.0 * self.rng.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let factor = libm::sqrt(-2.0 * libm::log(s) / s);
                self.spare = Some(v * factor);
                return u * factor;
            }
        }
    }

    /// A Poisson count with mean `lambda` (Knuth: multiply uniforms until the product falls
    /// below e^(−λ)); 0 for a mean of 0 or less. Meant for small means (validation keeps
    /// jump intensities at or below 5 a year); counts are capped at 1,000 all the same.
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda.is_nan() || lambda <= 0.0 {
            return 0;
        }
        let limit = libm::exp(-lambda);
        let mut product = self.rng.uniform_open_below();
        let mut k = 0;
        while product > limit && k < 1000 {
            product *= self.rng.uniform_open_below();
            k += 1;
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64 from seed 1234567: the vector common to its ports (recomputed from
    /// splitmix64.c in an independent Python transcription).
    #[test]
    fn splitmix64_matches_its_reference_vector() {
        let mut sm = SplitMix64::new(1234567);
        let got: Vec<u64> = (0..5).map(|_| sm.next_u64()).collect();
        assert_eq!(
            got,
            [
                6457827717110365317,
                3203168211198807973,
                9817491932198370423,
                4593380528125082431,
                16408922859458223821
            ]
        );
    }

    /// xoshiro256++ from the state {1, 2, 3, 4}: the reference implementation's first
    /// outputs (the vector rand_xoshiro tests against; recomputed from xoshiro256plusplus.c
    /// in an independent Python transcription).
    #[test]
    fn xoshiro256pp_matches_the_reference_implementation() {
        let mut x = Xoshiro256 { s: [1, 2, 3, 4] };
        let got: Vec<u64> = (0..3).map(|_| x.next_u64()).collect();
        assert_eq!(got, [41943041, 58720359, 3588806011781223]);
    }

    #[test]
    fn each_path_has_its_own_stream_and_the_same_one_every_time() {
        let a: Vec<u64> = {
            let mut r = Xoshiro256::for_path(42, 7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Xoshiro256::for_path(42, 7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = Xoshiro256::for_path(42, 8);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let d: Vec<u64> = {
            let mut r = Xoshiro256::for_path(43, 7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    /// Moments of 200,000 draws, within a few standard errors.
    #[test]
    fn normals_and_poisson_counts_have_the_right_moments() {
        let mut n = Normals::new(Xoshiro256::for_path(1, 0));
        let count = 200_000;
        let (mut sum, mut sum2, mut sum4) = (0.0, 0.0, 0.0);
        for _ in 0..count {
            let z = n.standard();
            sum += z;
            sum2 += z * z;
            sum4 += z * z * z * z;
        }
        let c = count as f64;
        assert!((sum / c).abs() < 0.01, "mean {}", sum / c);
        assert!((sum2 / c - 1.0).abs() < 0.015, "variance {}", sum2 / c);
        assert!((sum4 / c - 3.0).abs() < 0.1, "kurtosis {}", sum4 / c);
        for lambda in [0.1, 0.5, 2.0] {
            let (mut s, mut s2) = (0.0, 0.0);
            for _ in 0..count {
                let k = n.poisson(lambda) as f64;
                s += k;
                s2 += k * k;
            }
            let mean = s / c;
            let var = s2 / c - mean * mean;
            assert!((mean - lambda).abs() < 0.02, "λ {lambda}: mean {mean}");
            assert!((var - lambda).abs() < 0.04, "λ {lambda}: variance {var}");
        }
        assert_eq!(n.poisson(0.0), 0);
        assert_eq!(n.poisson(-1.0), 0);
    }
}
