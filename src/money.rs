//! Exact money: a decimal number as an integer mantissa and a count of decimals, parsed from the
//! JSON number's own text (never through f64), added and multiplied with overflow checks (never
//! rounded, never saturated) and printed with at least two decimals.
//!
//! It replaced `rust_decimal`, whose results it matches wherever those were exact (a test checks
//! this against it); it holds 38 significant digits where `rust_decimal` held 28, and what it
//! cannot hold exactly is an error, never a rounded or saturated amount.

use crate::prelude::*;

/// `mantissa / 10^scale`; zero by default.
#[derive(Debug, Clone, Copy, Default)]
pub struct Money {
    mantissa: i128,
    scale: u32,
}

/// The most decimals an amount may have: 10^38 still fits in the mantissa.
const MAX_SCALE: u32 = 38;

/// An amount or a sum too large (or too precise) to hold exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

impl Overflow {
    /// A tool's answer when its amounts cannot be computed exactly.
    pub const MESSAGE: &'static str = "Ingrid's amounts here are too large to compute exactly \
                                       (more than 38 significant digits), so no result is given; \
                                       check them in Ingrid's backoffice.";
}

impl Money {
    pub const ZERO: Money = Money {
        mantissa: 0,
        scale: 0,
    };

    /// A decimal number as JSON writes it: `-`, digits, optional `.digits`, optional exponent
    /// (`1.5e2`, `5.06E-6`). Nothing is rounded: what does not fit exactly is an error.
    pub fn parse(text: &str) -> Result<Money, &'static str> {
        const NOT_A_NUMBER: &str = "not a decimal number";
        let bytes = text.as_bytes();
        let (negative, mut i) = match bytes.first() {
            Some(b'-') => (true, 1),
            _ => (false, 0),
        };
        // The first 19 digits are gathered in a u64 (10^19 - 1 fits): i128 arithmetic with
        // overflow checks is a library call per operation in the component.
        let mut small: u64 = 0;
        let mut small_digits = 0u32;
        let mut large: Option<i128> = None;
        let mut int_digits = 0u32;
        let mut decimals = 0u32;
        let mut in_fraction = false;
        while let Some(&byte) = bytes.get(i) {
            match byte {
                b'0'..=b'9' => {
                    let digit = byte - b'0';
                    match large {
                        None if small_digits < 19 => {
                            small = small * 10 + u64::from(digit);
                            small_digits += 1;
                        }
                        _ => {
                            let mantissa = large.unwrap_or(i128::from(small));
                            large = Some(
                                mantissa
                                    .checked_mul(10)
                                    .and_then(|m| m.checked_add(i128::from(digit)))
                                    .ok_or(Overflow::MESSAGE)?,
                            );
                        }
                    }
                    if in_fraction {
                        decimals += 1;
                    } else {
                        int_digits += 1;
                    }
                }
                b'.' if !in_fraction && int_digits > 0 => in_fraction = true,
                b'e' | b'E' => break,
                _ => return Err(NOT_A_NUMBER),
            }
            i += 1;
        }
        if int_digits == 0 || (in_fraction && decimals == 0) {
            return Err(NOT_A_NUMBER);
        }
        // The exponent, if any: `e`, an optional sign, digits.
        let mut exponent: i64 = 0;
        if i < bytes.len() {
            let rest = bytes.get(i + 1..).unwrap_or_default();
            let (exp_negative, digits) = match rest.first() {
                Some(b'-') => (true, &rest[1..]),
                Some(b'+') => (false, &rest[1..]),
                _ => (false, rest),
            };
            if digits.is_empty() {
                return Err(NOT_A_NUMBER);
            }
            for &byte in digits {
                if !byte.is_ascii_digit() {
                    return Err(NOT_A_NUMBER);
                }
                // Beyond 10^6 no exponent can give an amount that fits.
                exponent = (exponent * 10 + i64::from(byte - b'0')).min(1_000_000);
            }
            if exp_negative {
                exponent = -exponent;
            }
        }
        let mut mantissa = large.unwrap_or(i128::from(small));
        let mut scale = i64::from(decimals) - exponent;
        while scale < 0 {
            mantissa = mantissa.checked_mul(10).ok_or(Overflow::MESSAGE)?;
            scale += 1;
        }
        let scale = u32::try_from(scale)
            .ok()
            .filter(|scale| *scale <= MAX_SCALE)
            .ok_or(Overflow::MESSAGE)?;
        Ok(Money {
            mantissa: if negative { -mantissa } else { mantissa },
            scale,
        })
    }

    /// The same amount with `scale` decimals (not fewer than it has).
    fn rescaled(self, scale: u32) -> Result<Money, Overflow> {
        let mut mantissa = self.mantissa;
        for _ in self.scale..scale {
            mantissa = mantissa.checked_mul(10).ok_or(Overflow)?;
        }
        Ok(Money { mantissa, scale })
    }

    /// The exact sum, with the larger number of decimals of the two; as in `rust_decimal`, a
    /// zero term leaves the other as it is (`0.000 + 3.69` is `3.69`).
    pub fn checked_add(self, other: Money) -> Result<Money, Overflow> {
        if self.mantissa == 0 {
            return Ok(other);
        }
        if other.mantissa == 0 {
            return Ok(self);
        }
        let scale = self.scale.max(other.scale);
        let (left, right) = (self.rescaled(scale)?, other.rescaled(scale)?);
        Ok(Money {
            mantissa: left.mantissa.checked_add(right.mantissa).ok_or(Overflow)?,
            scale,
        })
    }

    /// The exact product with a count, with this amount's decimals; as in `rust_decimal`, a zero
    /// product is a plain zero.
    pub fn times(self, count: u32) -> Result<Money, Overflow> {
        if count == 0 || self.mantissa == 0 {
            return Ok(Money::ZERO);
        }
        if let Ok(small) = i32::try_from(self.mantissa) {
            // |small| < 2^31 and count < 2^32: the product fits an i64, no i128 multiply.
            return Ok(Money {
                mantissa: i128::from(i64::from(small) * i64::from(count)),
                scale: self.scale,
            });
        }
        Ok(Money {
            mantissa: self
                .mantissa
                .checked_mul(i128::from(count))
                .ok_or(Overflow)?,
            scale: self.scale,
        })
    }

    /// Compares amounts exactly whatever their decimals; amounts too large to bring to the same
    /// number of decimals compare equal.
    pub fn compare(self, other: Money) -> core::cmp::Ordering {
        let scale = self.scale.max(other.scale);
        match (self.rescaled(scale), other.rescaled(scale)) {
            (Ok(left), Ok(right)) => left.mantissa.cmp(&right.mantissa),
            _ => core::cmp::Ordering::Equal,
        }
    }

    /// Decimal notation with at least two decimals ("499.00", "-0.10", "0.00000506").
    pub fn to_text(self) -> String {
        let scale = self.scale.max(2) as usize;
        // The digits, zero-padded so that at least one stands before the point.
        let magnitude = self.mantissa.unsigned_abs();
        // Through u64 when it fits: u128's formatting divides with library calls.
        let mut digits = match u64::try_from(magnitude) {
            Ok(small) => small.to_string(),
            Err(_) => magnitude.to_string(),
        };
        for _ in self.scale..2 {
            digits.push('0');
        }
        let mut text = String::with_capacity(digits.len() + 3);
        if self.mantissa < 0 {
            text.push('-');
        }
        for _ in digits.len()..=scale {
            text.push('0');
        }
        text.push_str(&digits);
        text.insert(text.len() - scale, '.');
        text
    }
}

/// Equal amounts, whatever their number of decimals (`1.5 == 1.50`).
impl PartialEq for Money {
    fn eq(&self, other: &Money) -> bool {
        let scale = self.scale.max(other.scale);
        match (self.rescaled(scale), other.rescaled(scale)) {
            (Ok(left), Ok(right)) => left.mantissa == right.mantissa,
            _ => false,
        }
    }
}

impl From<u32> for Money {
    fn from(value: u32) -> Money {
        Money {
            mantissa: i128::from(value),
            scale: 0,
        }
    }
}

#[cfg(test)]
mod tests;
