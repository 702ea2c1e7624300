//! Branch-free `exp` and `erf` for the kernels' inner loops: libm's are scalar calls (and `expf`
//! takes a slow path on underflow), these inline into vector instructions.

const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two so that `x - n ln 2` stays exact (Cephes).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Adding and subtracting 1.5·2^23 rounds an f32 below 2^22 to the nearest integer.
const ROUND: f32 = 12_582_912.0;

/// `e^x` to about 2 ulp; inputs below -87.3 give ~1e-38 (not 0), above 88.7 give ~3e38.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.7);
    let shifted = x * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // 2^n for n in [-126, 127], built in the exponent bits; n is read from the low mantissa bits
    // of `shifted` (integer operations only, which vectorise, unlike a float-to-int cast).
    let n = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    e * f32::from_bits(n.wrapping_add(127) << 23)
}

/// `erf(x)` to 3e-7 absolute: `x P(x²)` below 1, `1 - e^(R(|x|) - x²)` above (both fitted by
/// least squares to the double-precision erf by `scripts/kernels/fit_erf.py`).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    // |x| < 1
    let s = a * a;
    let mut p = 7.933_351e-5;
    p = p * s - 8.034_809e-4;
    p = p * s + 5.191_215e-3;
    p = p * s - 2.685_539_8e-2;
    p = p * s + 0.112_836_26;
    p = p * s - 0.376_126_3;
    p = p * s + std::f32::consts::FRAC_2_SQRT_PI; // the fit gives 2/√π to f32 precision
    let small = p * a;
    // 1 <= |x| (erf rounds to 1 from 3.92 on)
    let t = a.min(4.0);
    let u = t - 2.5;
    let mut r = 1.614_049_3e-6;
    r = r * u - 1.330_940_6e-5;
    r = r * u + 7.739_448e-5;
    r = r * u - 4.201_445e-4;
    r = r * u + 2.165_160_1e-3;
    r = r * u - 1.085_851_7e-2;
    r = r * u + 5.610_636e-2;
    r = r * u - 0.352_680_7;
    r = r * u - 1.556_815_3;
    let large = 1.0 - exp(r - t * t);
    let y = if a < 1.0 { small } else { large };
    y.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_a_few_ulp_of_libm_over_the_useful_range() {
        let mut x = -87.0f32;
        while x < 88.0 {
            let (ours, exact) = (exp(x), (x as f64).exp());
            assert!(((ours as f64 - exact) / exact).abs() < 3e-7, "exp({x})");
            x += 0.0137;
        }
        assert!(exp(-1e4) < 2e-38 && exp(-1e4) >= 0.0);
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn erf_is_within_3e_7_of_libm() {
        let mut x = -6.0f32;
        while x < 6.0 {
            let d = (erf(x) as f64 - libm::erf(x as f64)).abs();
            assert!(d < 3e-7, "erf({x}) off by {d}");
            x += 0.001;
        }
        assert_eq!(erf(0.0), 0.0);
    }
}
