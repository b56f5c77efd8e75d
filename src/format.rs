//! Number formatting for the UI (presentation only: no arithmetic on results).

/// `12031` → `"12,031"`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A duration in seconds, in the unit that reads best: `"42.0 s"`, `"58.9 min"`, `"2.5 h"`.
pub fn duration_s(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.1} s")
    } else if seconds < 7200.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(12_031), "12,031");
        assert_eq!(thousands(144_786_411), "144,786,411");
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration_s(3.0), "3.0 s");
        assert_eq!(duration_s(3537.0), "59.0 min");
        assert_eq!(duration_s(9000.0), "2.5 h");
    }
}
