//! numpy's legacy `RandomState` (MT19937): the seeded draws crowd-kit's
//! KOS, MACE and M-MSR start from, reproduced so that accord's versions
//! start where crowd-kit's do.

const N: usize = 624;
const M: usize = 397;

/// `numpy.random.RandomState(seed)`.
pub struct NumpyRandom {
    state: [u32; N],
    index: usize,
    /// The second value of the last polar Box-Muller pair.
    cached_gauss: Option<f64>,
}

impl NumpyRandom {
    /// Seeded as numpy seeds from an integer (`init_genrand`).
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            state[i] = 1_812_433_253u32
                .wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        NumpyRandom {
            state,
            index: N,
            cached_gauss: None,
        }
    }

    fn refill(&mut self) {
        for i in 0..N {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % N] & 0x7fff_ffff);
            let mut next = self.state[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= 0x9908_b0df;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.refill();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `random_sample()`: a double in [0, 1) from 53 random bits.
    pub fn random_sample(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `uniform(low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.random_sample()
    }

    /// `normal(loc, scale)`: the legacy polar Box-Muller method, which
    /// draws pairs and keeps the second.
    pub fn normal(&mut self, loc: f64, scale: f64) -> f64 {
        let gauss = match self.cached_gauss.take() {
            Some(g) => g,
            None => loop {
                let x1 = 2.0 * self.random_sample() - 1.0;
                let x2 = 2.0 * self.random_sample() - 1.0;
                let r2 = x1 * x1 + x2 * x2;
                if r2 < 1.0 && r2 != 0.0 {
                    let f = (-2.0 * r2.ln() / r2).sqrt();
                    self.cached_gauss = Some(f * x1);
                    break f * x2;
                }
            },
        };
        loc + scale * gauss
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_equal_numpys() {
        // numpy 2.1: RandomState(0).random_sample(3); seed(0); normal(1, 1, 5).
        let mut r = NumpyRandom::new(0);
        let expected = [0.5488135039273248, 0.7151893663724195, 0.6027633760716439];
        for e in expected {
            assert_eq!(r.random_sample(), e);
        }
        let mut r = NumpyRandom::new(0);
        let normal = [
            2.764052345967664,
            1.4001572083672233,
            1.9787379841057393,
            3.240893199201458,
            2.8675579901499675,
        ];
        for e in normal {
            assert!((r.normal(1.0, 1.0) - e).abs() < 1e-15);
        }
    }
}
