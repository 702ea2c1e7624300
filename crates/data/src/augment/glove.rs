//! GloVe nearest neighbours for words that WordPiece splits into several pieces (SPEC §5 step 3).
//!
//! The standard GloVe text format (`word v1 v2 ... vd` per line); only the first `max_words`
//! lines are read, as the reference does. Vectors are normalised to unit length in `f64` (the
//! reference's precision), so a neighbour search is a dot product with every row. Rows that
//! cannot be compared (zero vectors, `<unk>`, earlier duplicates of a word) are never returned;
//! the query word itself is excluded. Ties are broken by file order.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Unit-length GloVe vectors of the first words of a file.
pub struct GloveIndex {
    words: Vec<String>,
    index: HashMap<String, usize>,
    dim: usize,
    /// [rows, dim], row-major, unit length; rows with `usable[i] == false` are zero.
    vectors: Vec<f64>,
    usable: Vec<bool>,
}

impl GloveIndex {
    /// Reads the first `max_words` vectors of the GloVe text file at `path`.
    pub fn load(path: &Path, max_words: usize) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut words = Vec::new();
        let mut vectors: Vec<f64> = Vec::new();
        let mut dim = 0;
        let mut line = String::new();
        let mut no = 0;
        while words.len() < max_words {
            line.clear();
            if reader
                .read_line(&mut line)
                .map_err(|e| Error::io(path, e))?
                == 0
            {
                break;
            }
            no += 1;
            let mut parts = line.split_whitespace();
            let word = parts.next().ok_or_else(|| {
                Error::row(path, no, "empty line (a word and its vector expected)")
            })?;
            let start = vectors.len();
            for p in parts {
                let v: f64 = p
                    .parse()
                    .map_err(|_| Error::row(path, no, format!("`{p}` is not a number")))?;
                vectors.push(v);
            }
            let d = vectors.len() - start;
            if words.is_empty() {
                dim = d;
                if dim == 0 {
                    return Err(Error::row(path, no, "no vector after the word"));
                }
            } else if d != dim {
                return Err(Error::row(
                    path,
                    no,
                    format!("vector of {d} values, the first line has {dim}"),
                ));
            }
            words.push(word.to_string());
        }
        Ok(Self::from_rows(words, vectors, dim))
    }

    /// An index over `words` with their vectors (`vectors`: [words.len(), dim] row-major).
    pub fn from_rows(words: Vec<String>, mut vectors: Vec<f64>, dim: usize) -> Self {
        let mut index = HashMap::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            index.insert(w.clone(), i); // a later duplicate wins, as in the reference
        }
        let mut usable = vec![true; words.len()];
        for (i, w) in words.iter().enumerate() {
            let row = &mut vectors[i * dim..(i + 1) * dim];
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            // The reference zeroes `<unk>` and earlier duplicates: their similarities are NaN,
            // sorted after every real one.
            if w == "<unk>" || index.get(w) != Some(&i) || norm == 0.0 || !norm.is_finite() {
                usable[i] = false;
                row.iter_mut().for_each(|v| *v = 0.0);
            } else {
                row.iter_mut().for_each(|v| *v /= norm);
            }
        }
        Self {
            words,
            index,
            dim,
            vectors,
            usable,
        }
    }

    /// Number of words read.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when no word was read.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The `k` words most cosine-similar to `word`, most similar first, without `word` itself;
    /// `None` when `word` has no usable vector (absent, zero, `<unk>`). A title-case query gets
    /// title-case neighbours, as in the reference.
    pub fn neighbours(&self, word: &str, k: usize) -> Option<Vec<String>> {
        let &row = self.index.get(word)?;
        if !self.usable[row] {
            return None;
        }
        let dim = self.dim;
        let q = &self.vectors[row * dim..(row + 1) * dim];
        // Best k so far, sorted by similarity descending, then row ascending.
        let mut best: Vec<(f64, usize)> = Vec::with_capacity(k + 1);
        if k == 0 {
            return Some(Vec::new());
        }
        for (i, v) in self.vectors.chunks_exact(dim).enumerate() {
            if i == row || !self.usable[i] {
                continue;
            }
            let sim = dot(q, v);
            if best.len() == k && sim <= best[k - 1].0 {
                continue;
            }
            let at = best.partition_point(|&(s, _)| s >= sim);
            best.insert(at, (sim, i));
            best.truncate(k);
        }
        let title = is_title(word);
        Some(
            best.into_iter()
                .map(|(_, i)| {
                    if title {
                        to_title(&self.words[i])
                    } else {
                        self.words[i].clone()
                    }
                })
                .collect(),
        )
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    // Four accumulators let the compiler vectorise without reassociating a single sum.
    let mut acc = [0.0f64; 4];
    let (ca, ra) = (a.chunks_exact(4), a.chunks_exact(4).remainder());
    let rb = b.chunks_exact(4).remainder();
    for (x, y) in ca.zip(b.chunks_exact(4)) {
        for j in 0..4 {
            acc[j] += x[j] * y[j];
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Python's `str.istitle` for one word: some cased letter, upper case only after an uncased
/// character, lower case only after a cased one.
fn is_title(word: &str) -> bool {
    let mut prev_cased = false;
    let mut any = false;
    for c in word.chars() {
        if c.is_uppercase() {
            if prev_cased {
                return false;
            }
            prev_cased = true;
            any = true;
        } else if c.is_lowercase() {
            if !prev_cased {
                return false;
            }
            prev_cased = true;
            any = true;
        } else {
            prev_cased = false;
        }
    }
    any
}

/// Python's `str.title`: upper-case the first letter of each run of letters.
fn to_title(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut prev_cased = false;
    for c in word.chars() {
        if prev_cased {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        prev_cased = c.is_alphabetic();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_case_follows_python() {
        assert!(is_title("Hello"));
        assert!(!is_title("hello"));
        assert!(!is_title("HELLO"));
        assert_eq!(to_title("u.s."), "U.S.");
        assert_eq!(to_title("paris"), "Paris");
    }

    #[test]
    fn unusable_rows_are_skipped() {
        let words = ["a", "<unk>", "b", "zero"].map(String::from).to_vec();
        let v = vec![1.0, 0.0, 1.0, 0.1, 0.9, 0.1, 0.0, 0.0];
        let g = GloveIndex::from_rows(words, v, 2);
        assert_eq!(g.neighbours("a", 5), Some(vec!["b".to_string()]));
        assert_eq!(
            g.neighbours("zero", 5),
            None,
            "a zero vector has no neighbours"
        );
        assert_eq!(g.neighbours("missing", 5), None);
    }
}
