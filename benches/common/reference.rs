//! What the machine does right now, measured beside a figure so the guard can keep the
//! figure and not the machine's mood. A CPU-bound figure (MB/s of the log parser) moved by
//! 2.3× between two CI runs of the same code on the same machine kind (2,200 → 955 MB/s):
//! a shared runner's neighbours and clock take that much. The same work's floor — reading
//! the same bytes with no parsing — moves with it, so the guard keeps the figure as a ratio
//! to its floor, each the best of runs taken in turn. The floors here are the log parser's
//! and discovery's; the benches that drive Docker and PostgreSQL divide by the by-hand way
//! they already measure beside odoo-ci (a classic build, a dump restore, a `docker run`).

use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

/// One pass of the floor under any log parser over the file at `path`: the same buffered
/// read, every line found with `memchr`, its logger's colon found and its first 24 bytes
/// hashed (what telling a record's header from a continuation line costs at the least).
/// Returns MB/s.
#[allow(dead_code)] // the log bench's floor
pub fn line_scan_mb_s(path: &Path) -> f64 {
    let file = std::fs::File::open(path).expect("open the log");
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let start = Instant::now();
    let (mut bytes, mut hash) = (0u64, 0u64);
    loop {
        let buf = reader.fill_buf().expect("read the log");
        if buf.is_empty() {
            break;
        }
        let mut at = 0;
        while let Some(end) = memchr::memchr(b'\n', &buf[at..]) {
            hash ^= header_hash(&buf[at..at + end]);
            at += end + 1;
        }
        let len = buf.len();
        bytes += len as u64;
        reader.consume(len);
    }
    std::hint::black_box(hash);
    bytes as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn header_hash(line: &[u8]) -> u64 {
    let colon = memchr::memchr(b':', line).unwrap_or(0) as u64;
    let head = &line[..line.len().min(24)];
    head.iter()
        .fold(0xcbf2_9ce4_8422_2325_u64 ^ colon, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// One pass of the floor under discovery over `addons` (a folder of addon folders): list
/// it, read each `__manifest__.py` and look for each `__init__.py`, on one thread, with no
/// parsing. Returns milliseconds.
#[allow(dead_code)] // the discovery bench's floor
pub fn bare_read_ms(addons: &Path) -> f64 {
    let start = Instant::now();
    let mut bytes = 0usize;
    for entry in std::fs::read_dir(addons).expect("list the addons") {
        let dir = entry.expect("an addon folder").path();
        bytes += std::fs::read(dir.join("__manifest__.py"))
            .map(|b| b.len())
            .unwrap_or(0);
        bytes += usize::from(dir.join("__init__.py").is_file());
    }
    std::hint::black_box(bytes);
    start.elapsed().as_secs_f64() * 1000.0
}
