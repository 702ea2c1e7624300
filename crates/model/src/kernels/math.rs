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
    let shifted = x.mul_add(LOG2_E, ROUND);
    let n = shifted - ROUND;
    let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, x));
    let p = horner(
        r,
        &[
            1.987_569_1e-4,
            1.398_199_9e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            0.166_666_65,
            0.5,
        ],
    );
    let e = p.mul_add(r * r, r) + 1.0;
    // 2^n for n in [-126, 127], built in the exponent bits; n is read from the low mantissa bits
    // of `shifted` (integer operations only, which vectorise, unlike a float-to-int cast).
    let n = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    e * f32::from_bits(n.wrapping_add(127) << 23)
}

/// `erf(x)` to 5e-7 absolute: Abramowitz & Stegun 7.1.26, as PyTorch's vectorised CPU erf (the
/// error is largest near 0, where `1 - ...` cancels in f32).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / 0.327_591_1f32.mul_add(a, 1.0);
    let p = horner(
        t,
        &[
            1.061_405_4,
            -1.453_152_1,
            1.421_413_8,
            -0.284_496_72,
            0.254_829_6,
        ],
    );
    let y = 1.0 - p * t * exp(-a * a);
    y.copysign(x)
}

/// `c[0] x^(k-1) + ... + c[k-1]` by Horner's rule with fused multiply-adds (one instruction
/// each in the kernels' AVX2 + FMA clones; an exact but slow library call on CPUs without FMA).
#[inline(always)]
fn horner(x: f32, c: &[f32]) -> f32 {
    c[1..].iter().fold(c[0], |acc, &ci| acc.mul_add(x, ci))
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
    fn erf_is_within_5e_7_of_libm() {
        let mut x = -6.0f32;
        while x < 6.0 {
            let d = (erf(x) as f64 - libm::erf(x as f64)).abs();
            assert!(d < 5e-7, "erf({x}) off by {d}");
            x += 0.0001;
        }
        assert_eq!(erf(0.0), 0.0);
    }
}
