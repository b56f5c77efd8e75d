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

/// A large count with an SI-style suffix and two decimals: `8030261248` → `"8.03 B"`,
/// `1_500_000` → `"1.50 M"`; below a thousand, the number itself.
pub fn abbreviated(value: u64) -> String {
    const SCALES: [(f64, &str); 4] = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")];
    let value = value as f64;
    match SCALES.iter().find(|(scale, _)| value >= *scale) {
        Some((scale, suffix)) => format!("{:.2} {suffix}", value / scale),
        None => format!("{value}"),
    }
}

/// Bytes in decimal gigabytes with one decimal, as GPU memory and the model's messages give
/// them: `16060514304` → `"16.1 GB"`.
pub fn gigabytes(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}

/// Bytes in decimal megabytes with one decimal: `1188857774.0` → `"1188.9 MB"`.
pub fn megabytes(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1e6)
}

/// A small size in binary units, with at most one decimal: `131072` → `"128 KiB"`,
/// `70272` → `"68.6 KiB"`, `512` → `"512 B"`.
pub fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    format!("{} {}", text.trim_end_matches(".0"), UNITS[unit])
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

    #[test]
    fn model_sizes_read_as_people_write_them() {
        assert_eq!(abbreviated(8_030_261_248), "8.03 B");
        assert_eq!(abbreviated(70_553_706_496), "70.55 B");
        assert_eq!(abbreviated(1_500_000), "1.50 M");
        assert_eq!(abbreviated(999), "999");
        assert_eq!(gigabytes(16_060_514_304), "16.1 GB");
        assert_eq!(megabytes(1_188_857_774.0), "1188.9 MB");
        assert_eq!(binary_size(131_072), "128 KiB");
        assert_eq!(binary_size(70_272), "68.6 KiB");
        assert_eq!(binary_size(512), "512 B");
        assert_eq!(binary_size(3 << 20), "3 MiB");
    }
}
