//! Tab-separated lines as GLUE writes them: no quoting (a `"` is an ordinary character), UTF-8,
//! an optional byte-order mark on the first line, `\n` or `\r\n` line ends.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

const BOM: &str = "\u{feff}";

/// The lines of a text file with their 1-based numbers; the BOM and line ends are removed.
pub struct Lines<R> {
    reader: R,
    path: PathBuf,
    line: usize,
    buf: Vec<u8>,
}

impl Lines<BufReader<File>> {
    /// Opens `path` for reading line by line.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(Self::new(BufReader::with_capacity(1 << 16, file), path))
    }
}

impl<R: BufRead> Lines<R> {
    /// Reads lines from `reader`; `path` names it in errors.
    pub fn new(reader: R, path: &Path) -> Self {
        Self {
            reader,
            path: path.to_path_buf(),
            line: 0,
            buf: Vec::new(),
        }
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = Result<(usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.buf.clear();
        match self.reader.read_until(b'\n', &mut self.buf) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => return Some(Err(Error::io(&self.path, e))),
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
        let bytes = std::mem::take(&mut self.buf);
        let mut text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                return Some(Err(Error::row(
                    &self.path,
                    self.line,
                    format!("invalid UTF-8: {}", e.utf8_error()),
                )))
            }
        };
        if self.line == 1 && text.starts_with(BOM) {
            text.drain(..BOM.len());
        }
        Some(Ok((self.line, text)))
    }
}

/// Splits a line on tabs only.
pub fn fields(line: &str) -> Vec<&str> {
    line.split('\t').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8]) -> Vec<(usize, String)> {
        Lines::new(text, Path::new("x.tsv"))
            .collect::<Result<Vec<_>>>()
            .unwrap()
    }

    #[test]
    fn bom_is_stripped_from_the_first_line_only() {
        let got = lines("\u{feff}a\tb\n\u{feff}c\n".as_bytes());
        assert_eq!(got[0], (1, "a\tb".to_string()));
        assert_eq!(got[1], (2, "\u{feff}c".to_string()));
    }

    #[test]
    fn crlf_and_missing_final_newline_are_handled() {
        let got = lines(b"a\r\nb");
        assert_eq!(got, vec![(1, "a".into()), (2, "b".into())]);
    }

    #[test]
    fn quotes_are_ordinary_characters() {
        assert_eq!(fields("say \"hi\tthere"), vec!["say \"hi", "there"]);
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let err = Lines::new(&b"ok\n\xff\n"[..], Path::new("f.tsv"))
            .collect::<Result<Vec<_>>>()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f.tsv:2: invalid UTF-8"), "{err}");
    }
}
