//! Samples of a stage's input for its miniature (the first bytes of a text corpus, the first
//! rows of GLUE files or of a tokenised dataset), sizes of what exists (rows, bytes, lines), and
//! the linear projection from two measured sizes to the full one.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use tinybert_data::parquet_io::{dataset_files, row_count};

/// Bytes of a file, or of every file under a folder.
pub fn disk_bytes(path: &Path) -> u64 {
    if path.is_file() {
        return path.metadata().map(|m| m.len()).unwrap_or(0);
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| disk_bytes(&e.path()))
        .sum::<u64>()
}

/// Rows of a tokenised dataset (a Parquet file or a folder of `part-*.parquet`).
pub fn dataset_rows(path: &Path) -> Result<usize> {
    let mut n = 0;
    for f in dataset_files(path).with_context(|| format!("dataset {}", path.display()))? {
        n += row_count(&f)?;
    }
    Ok(n)
}

/// Lines of a text file.
pub fn count_lines(path: &Path) -> Result<usize> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut n = 0;
    let mut r = BufReader::new(f);
    let mut buf = Vec::new();
    while r.read_until(b'\n', &mut buf)? > 0 {
        n += 1;
        buf.clear();
    }
    Ok(n)
}

/// Writes the first `n` lines of `src` to `dst`; returns how many it wrote.
pub fn head_lines(src: &Path, dst: &Path, n: usize) -> Result<usize> {
    let f = std::fs::File::open(src).with_context(|| format!("cannot open {}", src.display()))?;
    let mut r = BufReader::new(f);
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(dst).with_context(|| format!("cannot create {}", dst.display()))?,
    );
    let mut buf = Vec::new();
    let mut done = 0;
    while done < n && r.read_until(b'\n', &mut buf)? > 0 {
        w.write_all(&buf)?;
        buf.clear();
        done += 1;
    }
    w.flush()?;
    Ok(done)
}

/// The files of a corpus input list (a file, or a folder's files in name order, recursively).
pub fn input_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        if p.is_file() {
            out.push(p.to_path_buf());
            return Ok(());
        }
        if !p.is_dir() {
            bail!("input `{}` does not exist", p.display());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("cannot read {}", p.display()))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for e in entries {
            walk(&e, out)?;
        }
        Ok(())
    }
    let mut out = Vec::new();
    for i in inputs {
        walk(i, &mut out)?;
    }
    Ok(out)
}

/// A text sample: about `bytes` from the start of `files` (in order), cut after the last
/// document break (blank line), else the last line, within it. Returns the bytes and the
/// words (whitespace-separated) written to `dst`.
pub fn text_sample(files: &[PathBuf], bytes: u64, dst: &Path) -> Result<(u64, u64)> {
    let mut text = Vec::new();
    for f in files {
        let left = bytes.saturating_sub(text.len() as u64);
        if left == 0 {
            break;
        }
        let file =
            std::fs::File::open(f).with_context(|| format!("cannot open {}", f.display()))?;
        file.take(left).read_to_end(&mut text)?;
        if !text.ends_with(b"\n") {
            text.push(b'\n');
        }
    }
    let cut = find_last(&text, b"\n\n")
        .map(|i| i + 2)
        .filter(|&i| i > text.len() / 2)
        .or_else(|| text.iter().rposition(|&b| b == b'\n').map(|i| i + 1))
        .unwrap_or(text.len());
    text.truncate(cut);
    std::fs::write(dst, &text).with_context(|| format!("cannot write {}", dst.display()))?;
    let words = text
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .count();
    Ok((text.len() as u64, words as u64))
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// The time at size `x` on the line through two measurements `(x1, t1)` and `(x2, t2)`
/// (`x1 < x2`): a fixed cost plus a cost per unit, neither negative.
pub fn linear(x: f64, (x1, t1): (f64, f64), (x2, t2): (f64, f64)) -> f64 {
    if x2 <= x1 {
        return if x2 > 0.0 { t2 * x / x2 } else { t2 };
    }
    let per = ((t2 - t1) / (x2 - x1)).max(0.0);
    let fixed = (t2 - per * x2).max(0.0);
    fixed + per * x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_linear_projection_keeps_the_fixed_cost_once() {
        // 1 s fixed + 0.5 s per unit, measured at 2 and 10 units.
        let t = linear(1000.0, (2.0, 2.0), (10.0, 6.0));
        assert!((t - 501.0).abs() < 1e-9, "{t}");
        // Noise making the small probe slower than the large one: no negative cost per unit.
        assert_eq!(linear(100.0, (2.0, 3.0), (10.0, 2.5)), 2.5);
    }

    #[test]
    fn a_text_sample_ends_at_a_document_break() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("c.txt");
        std::fs::write(&src, "a b c\nd e\n\nf g h\ni j\n\nk l m n\n").unwrap();
        let dst = dir.path().join("s.txt");
        let (bytes, words) = text_sample(&[src], 24, &dst).unwrap();
        let text = std::fs::read_to_string(&dst).unwrap();
        assert_eq!(text, "a b c\nd e\n\nf g h\ni j\n\n");
        assert_eq!((bytes, words), (text.len() as u64, 10));
    }
}
