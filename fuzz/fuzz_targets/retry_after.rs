//! `Retry-After` (`client::oauth::retry_after_ms`, `parse_imf_fixdate`):
//! delta-seconds or an IMF-fixdate, capped at a day.
//!
//! Input: eight bytes of Unix seconds (formatted here as an IMF-fixdate and
//! read back), then header text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::client::oauth::{parse_imf_fixdate, retry_after_ms};
use mesh_sdk::gateway::api_keys::iso8601;
use mesh_sdk_fuzz::NOW_MS;

const DAY_MS: i64 = 86_400_000;
/// Unix seconds of 0000-01-01 and 10000-01-01.
const YEAR_0: i64 = -62_167_219_200;
const YEAR_10000: i64 = 253_402_300_800;
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `Sun, 06 Nov 1994 08:49:37 GMT` for Unix seconds in years 0..=9999,
/// built from the gateway's own calendar code (`iso8601`): two date
/// implementations of the crate checked against each other.
fn imf_fixdate(secs: i64) -> String {
    let iso = iso8601(secs); // YYYY-MM-DDTHH:MM:SSZ
    let month = MONTHS[iso[5..7].parse::<usize>().unwrap() - 1];
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][secs.div_euclid(86_400).rem_euclid(7) as usize];
    format!("{weekday}, {} {month} {} {} GMT", &iso[8..10], &iso[0..4], &iso[11..19])
}

fuzz_target!(|data: &[u8]| {
    let Some((secs, rest)) = data.split_first_chunk::<8>() else { return };
    // Years 0000..=9999, the four digits the format has.
    let secs = i64::from_le_bytes(*secs).rem_euclid(YEAR_10000 - YEAR_0) + YEAR_0;
    let date = imf_fixdate(secs);
    assert_eq!(parse_imf_fixdate(&date), Some(secs), "{date}");
    assert_eq!(retry_after_ms(&date, NOW_MS), Some((secs * 1000 - NOW_MS).clamp(0, DAY_MS)));

    let Ok(header) = std::str::from_utf8(rest) else { return };
    let got = retry_after_ms(header, NOW_MS);
    if let Some(ms) = got {
        assert!((0..=DAY_MS).contains(&ms), "{ms}");
    }
    let h = header.trim();
    if !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit()) {
        // Delta-seconds: always read, however large.
        let expect = h.parse::<i64>().map_or(DAY_MS, |s| s.saturating_mul(1000).min(DAY_MS));
        assert_eq!(got, Some(expect));
    } else if let Some(t) = parse_imf_fixdate(h) {
        assert_eq!(got, Some((t * 1000 - NOW_MS).clamp(0, DAY_MS)));
        // A real date reads back as itself: formatted again, it is the same
        // text up to the weekday (which the parser does not check).
        let (day, year): (u32, u32) = (h[5..7].parse().unwrap(), h[12..16].parse().unwrap());
        let month = MONTHS.iter().position(|m| *m == &h[8..11]).unwrap() + 1;
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
        if day <= days_in_month && &h[23..25] != "60" {
            assert_eq!(imf_fixdate(t)[5..], h[5..]);
        }
    } else {
        assert_eq!(got, None);
    }
});
