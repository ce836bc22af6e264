//! One Odoo log header line:
//! `%(asctime)s %(pid)s %(levelname)s %(dbname)s %(name)s: %(message)s %(perf_info)s`,
//! parsed on bytes without allocating (the hot path of a gigabyte log).

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    fn from_bytes(b: &[u8]) -> Option<Level> {
        Some(match b {
            b"INFO" => Level::Info,
            b"WARNING" => Level::Warning,
            b"ERROR" => Level::Error,
            b"CRITICAL" => Level::Critical,
            b"DEBUG" => Level::Debug,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

/// A header line's fields, borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// `YYYY-MM-DD HH:MM:SS,mmm` (UTC).
    pub time: &'a [u8],
    pub pid: &'a [u8],
    pub level: Level,
    pub db: &'a [u8],
    pub logger: &'a [u8],
    /// The message, without the trailing space Odoo's format leaves.
    pub message: &'a [u8],
}

const TIME_LEN: usize = 23;

/// Parses a header line, or `None` for a continuation or foreign line. Matches exactly what
/// `^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) (\d+) (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+) ([^\s:]+): (.*?) ?$`
/// matches.
pub fn parse(line: &[u8]) -> Option<Header<'_>> {
    if line.len() < TIME_LEN + 2 || !line[0].is_ascii_digit() {
        return None;
    }
    let t = &line[..TIME_LEN];
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];
    if !digits.iter().all(|&i| t[i].is_ascii_digit())
        || t[4] != b'-'
        || t[7] != b'-'
        || t[10] != b' '
        || t[13] != b':'
        || t[16] != b':'
        || t[19] != b','
        || line[TIME_LEN] != b' '
    {
        return None;
    }
    let rest = &line[TIME_LEN + 1..];
    let (pid, rest) = split_space(rest)?;
    if pid.is_empty() || !pid.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let (level, rest) = split_space(rest)?;
    let level = Level::from_bytes(level)?;
    let (db, rest) = split_space(rest)?;
    if db.is_empty() || db.iter().any(u8::is_ascii_whitespace) {
        return None;
    }
    // The logger runs up to ": " and holds no white space or colon.
    let colon = memchr::memchr(b':', rest)?;
    let logger = &rest[..colon];
    if logger.is_empty()
        || logger.iter().any(u8::is_ascii_whitespace)
        || rest.get(colon + 1) != Some(&b' ')
    {
        return None;
    }
    let mut message = &rest[colon + 2..];
    if let Some(stripped) = message.strip_suffix(b"\r") {
        message = stripped;
    }
    if let Some(stripped) = message.strip_suffix(b" ") {
        message = stripped;
    }
    Some(Header {
        time: t,
        pid,
        level,
        db,
        logger,
        message,
    })
}

/// Splits at the first space. The fields it splits (pid, level, database) are a few bytes
/// long: a plain loop beats a vectorised search's setup there.
fn split_space(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = b.iter().position(|&c| c == b' ')?;
    Some((&b[..i], &b[i + 1..]))
}

/// Milliseconds since 1970-01-01 of a header time, for test durations. Read digit by
/// digit: it runs for every test start and end of a gigabyte log.
pub fn millis(time: &[u8]) -> Option<i64> {
    let n = |a: usize, b: usize| -> Option<i64> {
        let digits = time.get(a..b)?;
        digits.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (n(0, 4)?, n(5, 7)?, n(8, 10)?);
    let (hh, mm, ss, ms) = (n(11, 13)?, n(14, 16)?, n(17, 19)?, n(20, 23)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms)
}

/// Removes ANSI colour sequences (`ESC [ … m`) into `out`.
pub fn strip_ansi(line: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < line.len() {
        if line[i] == 0x1b && line.get(i + 1) == Some(&b'[') {
            let mut j = i + 2;
            while j < line.len() && !line[j].is_ascii_alphabetic() {
                j += 1;
            }
            i = j + 1;
            continue;
        }
        out.push(line[i]);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_real_header() {
        let line = b"2026-11-21 22:42:24,826 5965 ERROR db1 odoo.addons.acc_x.tests.test_x: FAIL: TestX.test_qty ";
        let h = parse(line).expect("header");
        assert_eq!(h.level, Level::Error);
        assert_eq!(h.db, b"db1");
        assert_eq!(h.logger, b"odoo.addons.acc_x.tests.test_x");
        assert_eq!(h.message, b"FAIL: TestX.test_qty");
        assert_eq!(h.pid, b"5965");
    }

    #[test]
    fn rejects_continuations_and_foreign_lines() {
        assert!(parse(b"  File \"/x.py\", line 3, in f").is_none());
        assert!(parse(b"Traceback (most recent call last):").is_none());
        assert!(parse(b"2026-11-21 22:42:24,826 5965 NOTICE db1 x: y").is_none());
        assert!(parse(b"2026-11-21 22:42:24 5965 INFO db1 x: y").is_none());
        assert!(parse(b"2026-11-21 22:42:24,826 5965 INFO db1 a b: y").is_none());
        assert!(parse(b"").is_none());
    }

    #[test]
    fn empty_message_and_question_mark_db() {
        let h = parse(b"2026-11-21 22:42:24,826 1 INFO ? odoo: ").expect("header");
        assert_eq!(h.db, b"?");
        assert_eq!(h.message, b"");
    }

    #[test]
    fn millis_and_ansi() {
        let a = millis(b"2026-11-21 22:42:24,826").unwrap();
        let b = millis(b"2026-11-22 00:00:00,000").unwrap();
        assert_eq!(b - a, ((60 + 17) * 60 + 35) * 1000 + 174);
        assert_eq!(millis(b"1970-01-01 00:00:01,000"), Some(1000));
        let mut out = Vec::new();
        strip_ansi(b"2026 1 \x1b[1;31m\x1b[1;49mERROR\x1b[0m db", &mut out);
        assert_eq!(out, b"2026 1 ERROR db");
    }
}
