//! Splits any byte stream into lines in constant memory: a line longer than the cap is cut
//! (the rest of it is skipped), invalid UTF-8 passes through as bytes.

use std::io::{self, BufRead};

/// The longest line kept whole; longer ones are cut to this many bytes.
pub const MAX_LINE: usize = 1 << 20;

pub struct LineSplitter<R> {
    reader: R,
    carry: Vec<u8>,
    max_line: usize,
}

impl<R: BufRead> LineSplitter<R> {
    pub fn new(reader: R) -> Self {
        LineSplitter::with_max_line(reader, MAX_LINE)
    }

    pub fn with_max_line(reader: R, max_line: usize) -> Self {
        LineSplitter {
            reader,
            carry: Vec::new(),
            max_line,
        }
    }

    /// Calls `f` with each line (without its `\n`); a final line without `\n` counts too.
    pub fn for_each_line(mut self, mut f: impl FnMut(&[u8])) -> io::Result<u64> {
        let mut bytes_read = 0u64;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                if !self.carry.is_empty() {
                    f(&self.carry);
                    self.carry.clear();
                }
                return Ok(bytes_read);
            }
            let len = buf.len();
            let mut start = 0;
            while let Some(i) = memchr::memchr(b'\n', &buf[start..]) {
                let end = start + i;
                if self.carry.is_empty() {
                    f(cut(&buf[start..end], self.max_line));
                } else {
                    let room = self.max_line.saturating_sub(self.carry.len());
                    self.carry.extend_from_slice(cut(&buf[start..end], room));
                    f(&self.carry);
                    self.carry.clear();
                }
                start = end + 1;
            }
            if start < len {
                let room = self.max_line.saturating_sub(self.carry.len());
                self.carry.extend_from_slice(cut(&buf[start..], room));
            }
            bytes_read += len as u64;
            self.reader.consume(len);
        }
    }
}

fn cut(line: &[u8], max: usize) -> &[u8] {
    &line[..line.len().min(max)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], cap: usize, buf: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let reader = io::BufReader::with_capacity(buf, input);
        LineSplitter::with_max_line(reader, cap)
            .for_each_line(|l| out.push(l.to_vec()))
            .unwrap();
        out
    }

    #[test]
    fn splits_across_buffer_boundaries() {
        let input = b"first line\nsecond\n\nlast without newline";
        for buf in [1, 3, 7, 64] {
            assert_eq!(
                lines(input, 100, buf),
                vec![
                    b"first line".to_vec(),
                    b"second".to_vec(),
                    b"".to_vec(),
                    b"last without newline".to_vec()
                ],
                "buffer {buf}"
            );
        }
    }

    #[test]
    fn long_lines_are_cut_not_kept() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"\nnext\n");
        for buf in [5, 4096] {
            let got = lines(&input, 16, buf);
            assert_eq!(got.len(), 2);
            assert_eq!(got[0].len(), 16);
            assert_eq!(got[1], b"next");
        }
    }
}
