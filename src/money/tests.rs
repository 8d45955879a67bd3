//! `Money` against `rust_decimal`, which it replaced: on many generated amounts within the
//! range `rust_decimal` holds exactly, parsing, sums, products and the printed text agree.

use super::*;
use core::str::FromStr;
use rust_decimal::Decimal;

/// The replaced code: rust_decimal's parse (plain, else scientific) and print.
fn decimal_parse(text: &str) -> Option<Decimal> {
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()
}

fn decimal_text(amount: Decimal) -> String {
    let mut amount = amount;
    if amount.scale() < 2 {
        amount.rescale(2);
    }
    let text = amount.to_string();
    // rust_decimal keeps the sign of a negative zero ("-0.00"); Money has no such zero.
    match text.strip_prefix('-') {
        Some(unsigned) if amount.is_zero() => unsigned.to_string(),
        _ => text,
    }
}

/// A small deterministic generator (no dependency).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }

    fn digits(&mut self, count: u64, leading_zero_ok: bool) -> String {
        let mut text = String::new();
        for index in 0..count {
            let digit = if index == 0 && !leading_zero_ok {
                1 + self.next(9)
            } else {
                self.next(10)
            };
            text.push(char::from(b'0' + digit as u8));
        }
        text
    }

    /// A JSON number: at most 10 digits before and 10 after the point, an exponent of at
    /// most 3 now and then; within rust_decimal's 28 digits even after ten are added up (it
    /// rounds beyond them, Money does not).
    fn amount(&mut self) -> String {
        let mut text = String::new();
        if self.next(4) == 0 {
            text.push('-');
        }
        match self.next(6) {
            0 => text.push('0'),
            _ => {
                let count = 1 + self.next(10);
                text.push_str(&self.digits(count, false));
            }
        }
        let decimals = self.next(11);
        if decimals > 0 {
            text.push('.');
            text.push_str(&self.digits(decimals, true));
        }
        if self.next(8) == 0 {
            text.push(if self.next(2) == 0 { 'e' } else { 'E' });
            match self.next(3) {
                0 => text.push('-'),
                1 => text.push('+'),
                _ => {}
            }
            text.push_str(&self.next(4).to_string());
        }
        text
    }
}

#[test]
fn parse_sum_product_and_text_agree_with_rust_decimal() {
    let mut generator = Lcg(0x5eed);
    for _ in 0..20_000 {
        let count = 1 + generator.next(10);
        let texts: Vec<String> = (0..count).map(|_| generator.amount()).collect();
        let mut sum = Money::ZERO;
        let mut decimal_sum = Decimal::ZERO;
        for text in &texts {
            let parsed = Money::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
            let decimal = decimal_parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(parsed.to_text(), decimal_text(decimal), "{text}");
            let quantity = [0, 1, 2, 3, 7, 1000, 99_999][generator.next(7) as usize];
            let product = parsed.times(quantity).unwrap_or_else(|_| panic!("{text}"));
            let decimal_product = decimal * Decimal::from(quantity);
            assert_eq!(
                product.to_text(),
                decimal_text(decimal_product),
                "{text} × {quantity}"
            );
            sum = sum
                .checked_add(parsed)
                .unwrap_or_else(|_| panic!("{texts:?}"));
            decimal_sum += decimal;
        }
        assert_eq!(sum.to_text(), decimal_text(decimal_sum), "{texts:?}");
        assert_eq!(
            sum,
            Money::parse(&decimal_sum.to_string()).unwrap_or(Money::ZERO)
        );
    }
}

#[test]
fn text_has_at_least_two_decimals_and_keeps_the_given_ones() {
    let text = |amount: &str| Money::parse(amount).map(Money::to_text);
    assert_eq!(text("0"), Ok("0.00".into()));
    assert_eq!(text("-0.0"), Ok("0.00".into()));
    assert_eq!(text("5"), Ok("5.00".into()));
    assert_eq!(text("-7.1"), Ok("-7.10".into()));
    assert_eq!(text("0.005"), Ok("0.005".into()));
    assert_eq!(text("-0.00000506"), Ok("-0.00000506".into()));
    assert_eq!(text("12.500"), Ok("12.500".into()));
    assert_eq!(text("1.25e1"), Ok("12.50".into()));
    assert_eq!(text("1.2E10"), Ok("12000000000.00".into()));
    assert_eq!(text("1e-38"), Ok(format!("0.{}1", "0".repeat(37))));
    assert_eq!(
        text("-170141183460469231731687303715884105727"),
        Ok("-170141183460469231731687303715884105727.00".into())
    );
}

#[test]
fn what_cannot_be_held_exactly_is_an_error_never_a_panic() {
    for text in [
        "", "-", ".5", "5.", "1e", "1e+", "+1", "1.2.3", "1_000", "--1", "1e5x", "0x10", " 1",
        "1 ", "١",
    ] {
        assert_eq!(Money::parse(text), Err("not a decimal number"), "{text:?}");
    }
    for text in [
        "170141183460469231731687303715884105728",
        "1e39",
        "1e-39",
        "1e99999999999999999999999",
        "0.000000000000000000000000000000000000001",
    ] {
        assert_eq!(Money::parse(text), Err(Overflow::MESSAGE), "{text}");
    }
    let max = Money::parse("170141183460469231731687303715884105727").unwrap_or(Money::ZERO);
    assert_eq!(max.checked_add(Money::from(1)), Err(Overflow));
    assert_eq!(max.times(2), Err(Overflow));
    // Aligning the decimals can overflow too.
    let precise = Money::parse("0.1").unwrap_or(Money::ZERO);
    assert_eq!(max.checked_add(precise), Err(Overflow));
    assert_eq!(Money::from(1), Money::parse("1.000").unwrap_or(Money::ZERO));
}
