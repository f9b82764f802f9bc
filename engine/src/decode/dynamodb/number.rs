//! The canonical text of an `N` key value, used only for file names (docs/format/10-dynamodb.md §3):
//! the reduced fraction Go's `big.Rat.SetString(strings.TrimSpace(v)).RatString()` gives,
//! so numerically equal literals (`1.5`, `1.50`, `15e-1`) name the same file.
//!
//! A decimal literal is `D × 10^e` with `D` an integer, so the reduced fraction needs no
//! general GCD: only factors 2 and 5 can cancel. The digits of `D` are handled as text and
//! a small base-10⁹ big integer does the few divisions and powers that remain.
//!
//! Grammar accepted, as Go's for decimal input: `[+-] digits [. digits] [(e|E) [+-] digits]`
//! with at least one mantissa digit, `_` between digits as Go allows it, and Go's limit
//! of 10⁶ on the decimal exponent. Go-only forms that no DynamoDB number can take
//! (`a/b` fractions, `0x`/`0b`/`0o` prefixes, `p` exponents) are not parsed and keep their
//! trimmed text, like any other unparsable literal.

/// Largest |decimal exponent| Go's `Rat.SetString` accepts.
const MAX_EXP5: i64 = 1_000_000;

/// The file-name form of an `N` key literal.
pub fn canonical_number(literal: &str) -> String {
    let t = literal.trim();
    if is_plain_integer(t) {
        // The usual key number: already its own `RatString`.
        return t.to_string();
    }
    exact_rat_string(t)
}

/// [`canonical_number`] the long way: parsed, then rendered as Go's `RatString`.
fn exact_rat_string(t: &str) -> String {
    match parse_decimal(t) {
        Some(d) => d.rat_string(),
        None => t.to_string(),
    }
}

/// `0`, or an optional `-`, a digit 1–9 and more digits: a number whose `RatString` is
/// its own text (no sign to drop, no zeros to trim, no fraction or exponent).
fn is_plain_integer(t: &str) -> bool {
    let d = t.strip_prefix('-').unwrap_or(t);
    match d.as_bytes() {
        [b'0'] => t.len() == 1,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// `sign × digits × 10^exp`, `digits` without leading zeros (empty = zero).
struct Decimal {
    negative: bool,
    digits: String,
    exp: i64,
}

/// Scans digits with Go's underscore rule (`_` only between digits); returns the digits,
/// the number of bytes consumed and whether the separators were well placed.
fn scan_digits(s: &[u8], allow_point: bool) -> (String, Option<usize>, usize, bool) {
    let mut digits = String::new();
    let mut point_at = None; // digit count when '.' was seen
    let mut prev = b'.';
    let mut bad_sep = false;
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        match c {
            b'0'..=b'9' => {
                digits.push(c as char);
                prev = b'0';
            }
            b'.' if allow_point && point_at.is_none() => {
                point_at = Some(digits.len());
                prev = b'.';
            }
            b'_' => {
                if prev != b'0' {
                    bad_sep = true;
                }
                prev = b'_';
            }
            _ => break,
        }
        i += 1;
    }
    (digits, point_at, i, !bad_sep && prev != b'_')
}

fn parse_decimal(s: &str) -> Option<Decimal> {
    let b = s.as_bytes();
    let (negative, rest) = match b.first() {
        Some(b'-') => (true, b.get(1..)?),
        Some(b'+') => (false, b.get(1..)?),
        _ => (false, b),
    };
    // Non-decimal prefixes are Go-only syntax we do not interpret.
    if rest.len() >= 2 && rest[0] == b'0' && b"bBoOxX".contains(&rest[1]) {
        return None;
    }
    let (mant, point_at, used, seps_ok) = scan_digits(rest, true);
    if mant.is_empty() || !seps_ok {
        return None;
    }
    let frac_digits = point_at.map_or(0, |p| mant.len() - p) as i64;
    let rest = rest.get(used..)?;
    let exp = match rest.first() {
        None => 0,
        Some(b'e' | b'E') => {
            let r = rest.get(1..)?;
            let (eneg, r) = match r.first() {
                Some(b'-') => (true, r.get(1..)?),
                Some(b'+') => (false, r.get(1..)?),
                _ => (false, r),
            };
            let (ed, _, eused, eseps_ok) = scan_digits(r, false);
            if ed.is_empty() || eused != r.len() || !eseps_ok {
                return None;
            }
            let text = if eneg { format!("-{ed}") } else { ed };
            text.parse::<i64>().ok()?
        }
        Some(_) => return None,
    };
    let digits = mant.trim_start_matches('0').to_string();
    if digits.is_empty() {
        return Some(Decimal {
            negative: false,
            digits,
            exp: 0,
        });
    }
    let exp = exp.checked_sub(frac_digits)?;
    if exp.unsigned_abs() > MAX_EXP5 as u64 {
        return None;
    }
    Some(Decimal {
        negative,
        digits,
        exp,
    })
}

impl Decimal {
    /// Go's `RatString`: `n` for integers, else `n/d`, reduced, sign on the numerator.
    fn rat_string(&self) -> String {
        if self.digits.is_empty() {
            return "0".to_string();
        }
        let sign = if self.negative { "-" } else { "" };
        if self.exp >= 0 {
            let zeros = "0".repeat(self.exp as usize);
            return format!("{sign}{}{zeros}", self.digits);
        }
        // digits / 10^a: cancel decimal zeros first, then the 2s or the 5s.
        let mut a = self.exp.unsigned_abs() as usize;
        let trimmed = self.digits.trim_end_matches('0');
        let cancel = (self.digits.len() - trimmed.len()).min(a);
        let digits = &self.digits[..self.digits.len() - cancel];
        a -= cancel;
        if a == 0 {
            return format!("{sign}{digits}");
        }
        let mut n = Nat::from_decimal(digits);
        // `digits` no longer ends in 0 unless `a` ran out, so at most one of 2 and 5
        // divides it. denominator = 2^a·5^a / (2^i or 5^j).
        let (mut twos, mut fives) = (0usize, 0usize);
        while twos < a && n.is_even() {
            n.div_small(2);
            twos += 1;
        }
        while twos == 0 && fives < a && n.rem_small(5) == 0 {
            n.div_small(5);
            fives += 1;
        }
        // 2^a·5^a / 2^i = 5^i · 10^(a-i); likewise for 5^j.
        let (base, k) = if twos > 0 { (5, twos) } else { (2, fives) };
        let mut den = Nat::one();
        den.mul_pow(base, k);
        let zeros = "0".repeat(a - k);
        format!("{sign}{}/{}{zeros}", n.to_decimal(), den.to_decimal())
    }
}

/// A non-negative integer in base 10⁹, little-endian limbs (no trailing zero limbs).
struct Nat(Vec<u32>);

const LIMB: u64 = 1_000_000_000;

impl Nat {
    fn one() -> Self {
        Nat(vec![1])
    }

    fn from_decimal(d: &str) -> Self {
        let b = d.as_bytes();
        let mut limbs = Vec::with_capacity(b.len() / 9 + 1);
        let mut end = b.len();
        while end > 0 {
            let start = end.saturating_sub(9);
            let mut v: u32 = 0;
            for &c in b.get(start..end).unwrap_or_default() {
                v = v * 10 + u32::from(c - b'0');
            }
            limbs.push(v);
            end = start;
        }
        let mut n = Nat(limbs);
        n.trim();
        n
    }

    fn trim(&mut self) {
        while self.0.len() > 1 && self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_even(&self) -> bool {
        self.0.first().is_none_or(|l| l % 2 == 0)
    }

    /// Remainder by a divisor of 10⁹ (2 or 5): the lowest limb decides.
    fn rem_small(&self, m: u32) -> u32 {
        self.0.first().map_or(0, |l| l % m)
    }

    fn div_small(&mut self, m: u32) {
        let mut rem: u64 = 0;
        for l in self.0.iter_mut().rev() {
            let cur = rem * LIMB + u64::from(*l);
            *l = (cur / u64::from(m)) as u32;
            rem = cur % u64::from(m);
        }
        self.trim();
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry: u64 = 0;
        for l in self.0.iter_mut() {
            let cur = u64::from(*l) * u64::from(m) + carry;
            *l = (cur % LIMB) as u32;
            carry = cur / LIMB;
        }
        while carry > 0 {
            self.0.push((carry % LIMB) as u32);
            carry /= LIMB;
        }
    }

    /// `self *= base^k` for base 2 or 5, in word-sized steps.
    fn mul_pow(&mut self, base: u32, mut k: usize) {
        let (step, step_k) = if base == 2 {
            (1u32 << 31, 31)
        } else {
            (1_220_703_125, 13)
        };
        while k >= step_k {
            self.mul_small(step);
            k -= step_k;
        }
        if k > 0 {
            self.mul_small(base.pow(k as u32));
        }
    }

    fn to_decimal(&self) -> String {
        let mut s = String::with_capacity(self.0.len() * 9);
        let mut it = self.0.iter().rev();
        if let Some(top) = it.next() {
            s.push_str(&top.to_string());
        }
        for l in it {
            s.push_str(&format!("{l:09}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::{canonical_number, exact_rat_string};

    /// The plain-integer shortcut gives what the full parse gives, on integers of every
    /// length with and without sign, and on near misses that must take the long way.
    #[test]
    fn plain_integers_take_the_shortcut_to_the_same_text() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut cases: Vec<String> = vec![
            "0", "-0", "+0", "00", "007", "-007", "+5", "5", "-5", "1_000", "10", "-10", "1e3",
            "1.0", " 42 ", "-", "",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let digits = (seed % 40) as usize + 1;
            let mut s: String = (0..digits)
                .map(|k| char::from(b'0' + ((seed >> (k % 60)) % 10) as u8))
                .collect();
            if seed.is_multiple_of(3) {
                s.insert(0, '-');
            }
            cases.push(s);
        }
        for c in &cases {
            let t = c.trim();
            assert_eq!(canonical_number(c), exact_rat_string(t), "{c:?}");
        }
    }

    use super::canonical_number as c;

    #[test]
    fn spec_examples() {
        assert_eq!(c("1.50"), "3/2");
        assert_eq!(c(" -0.50 "), "-1/2");
        assert_eq!(c("1e3"), "1000");
        assert_eq!(c("-0"), "0");
        assert_eq!(c("42"), "42");
        assert_eq!(c("0.001"), "1/1000");
        assert_eq!(c("-0.5"), "-1/2");
        assert_eq!(c("-5"), "-5");
        assert_eq!(c("100"), "100");
        assert_eq!(c("0"), "0");
    }

    #[test]
    fn reduces_like_big_rat() {
        assert_eq!(c("0.25"), "1/4");
        assert_eq!(c("-0.25"), "-1/4");
        assert_eq!(c("0.2"), "1/5");
        assert_eq!(c("0.125"), "1/8");
        assert_eq!(c("0.3"), "3/10");
        assert_eq!(c("12.5"), "25/2");
        assert_eq!(c("7.5e-1"), "3/4");
        assert_eq!(c("1.0"), "1");
        assert_eq!(c("15e-1"), "3/2");
        assert_eq!(c("1e-130"), format!("1/1{}", "0".repeat(130)));
        assert_eq!(c("9.99e125"), format!("999{}", "0".repeat(123)));
        assert_eq!(c("+.5"), "1/2");
        assert_eq!(c("5."), "5");
        assert_eq!(c("0e99999999999"), "0");
        assert_eq!(c("1_000"), "1000");
        assert_eq!(c("12345678901234567890.5"), "24691357802469135781/2");
        // 2^-40 = 1/1099511627776
        assert_eq!(
            c("0.0000000000009094947017729282379150390625"),
            "1/1099511627776"
        );
        // 5^-20
        assert_eq!(c("0.00000000000000104857600000000000"), "1/953674316406250");
    }

    #[test]
    fn unparsable_keeps_trimmed_text() {
        for s in [
            "",
            " ",
            "abc",
            "1e",
            "1e+",
            ".",
            "-",
            "1..2",
            "1_",
            "_1",
            "1__0",
            "1e1.5",
            "0x10",
            "1/2",
            "NaN",
            "1e9999999",
            "1 2",
        ] {
            assert_eq!(c(s), s.trim(), "{s:?}");
        }
        assert_eq!(c("\u{a0}12x "), "12x");
    }
}
