//! Fast text for floats, in `format!("{}", v)`'s layout.
//!
//! Writers of millions of coordinates spend more time in `Display`'s
//! float formatting (and the `String` each call allocates) than in the
//! rest of the output. `ryu` finds shortest round-tripping digits too; its
//! layout differs (`1.0` for `1`, exponents outside 1e-5..1e16), and those
//! cases are mapped back here. The digits can differ in one case only: a
//! value whose shortest text has 16 or 17 significant digits and lies
//! exactly halfway between two such texts (ryu rounds that tie to even,
//! `Display` up). The box writer only gives it values rounded to a
//! millionth and below 1e7 in magnitude, which need at most 14 digits, so
//! its output is byte for byte what `Display` would write.

/// Appends `v` to `out` in `Display`'s layout: the same text for any value
/// of at most 15 significant digits, and always a text that parses back to
/// `v`.
pub(crate) fn push_decimal(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        out.extend_from_slice(format!("{v}").as_bytes());
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(v).as_bytes();
    if text.contains(&b'e') {
        // Display never writes an exponent; such values are rare.
        out.extend_from_slice(format!("{v}").as_bytes());
    } else if let Some(whole) = text.strip_suffix(b".0") {
        out.extend_from_slice(whole);
    } else {
        out.extend_from_slice(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(v: f64) -> String {
        let mut out = Vec::new();
        push_decimal(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn matches_display_on_edge_values() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            1e-5,
            1e-7,
            123456.789012,
            1e15,
            1e16,
            1e21,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9_999_999.999_999,
            -9_999_999.999_999,
        ] {
            assert_eq!(text(v), format!("{v}"), "{v:e}");
        }
    }

    proptest! {
        #[test]
        fn round_trips_in_display_layout_on_any_bits(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            let (ours, display) = (text(v), format!("{}", v));
            if v.is_finite() {
                prop_assert_eq!(ours.parse::<f64>().unwrap().to_bits(), bits);
                prop_assert!(!ours.contains('e'), "{}", ours);
                prop_assert_eq!(ours.contains('.'), display.contains('.'));
            } else {
                prop_assert_eq!(ours, display);
            }
        }

        #[test]
        fn matches_display_up_to_15_digits(bits in any::<u64>()) {
            // Any double cut to 15 significant digits: no two texts that
            // short round-trip to one double, so there is no tie to round.
            let v: f64 = format!("{:.14e}", f64::from_bits(bits)).parse().unwrap();
            prop_assert_eq!(text(v), format!("{}", v));
        }

        #[test]
        fn matches_display_on_rounded_coordinates(v in -1e7f64..1e7) {
            let v = (v * 1e6).round() / 1e6;
            prop_assert_eq!(text(v), format!("{}", v));
        }
    }
}
