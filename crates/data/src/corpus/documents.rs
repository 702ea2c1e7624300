//! Streams a plain-text corpus as documents, grouped into blocks of bounded size.
//!
//! A document is a run of non-blank lines; a blank (or whitespace-only) line or the end of a
//! file ends it, so documents never span files. Each line is a sentence or a paragraph (the
//! sentence splitter decides). Blocks hold whole documents, about `block_bytes` of text and at
//! least two documents where the input has them, so memory stays flat however large the corpus.

use crate::error::{Error, Result};
use crate::tsv::Lines;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// One document's non-blank lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawDocument {
    pub lines: Vec<String>,
}

/// Consecutive documents of the corpus.
#[derive(Debug, Clone, Default)]
pub struct Block {
    /// Corpus-wide index of the block's first document (counting non-empty documents).
    pub first_document: u64,
    pub documents: Vec<RawDocument>,
    /// Input bytes consumed by this block (line ends included).
    pub bytes: u64,
}

/// The input files: each file as given, each folder's files (recursively, hidden ones
/// skipped) in name order.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        collect(input, &mut files)?;
    }
    if files.is_empty() {
        return Err(Error::Invalid("no input text files".into()));
    }
    Ok(files)
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Error::io(path, e))?
        .map(|e| e.map(|e| e.path()).map_err(|err| Error::io(path, err)))
        .collect::<Result<_>>()?;
    entries.sort();
    for entry in entries {
        let hidden = entry
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !hidden {
            collect(&entry, out)?;
        }
    }
    Ok(())
}

/// Reads documents from a list of files, one block at a time.
pub struct DocumentReader {
    files: Vec<PathBuf>,
    next_file: usize,
    lines: Option<Lines<BufReader<File>>>,
    next_document: u64,
}

impl DocumentReader {
    /// Reads `files` in order.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Self {
            files,
            next_file: 0,
            lines: None,
            next_document: 0,
        }
    }

    /// The next non-empty document and the bytes it consumed, or `None` at the end.
    fn next_document(&mut self) -> Result<Option<(RawDocument, u64)>> {
        let mut doc = RawDocument::default();
        let mut bytes = 0u64;
        loop {
            let Some(lines) = self.lines.as_mut() else {
                if !doc.lines.is_empty() {
                    return Ok(Some((doc, bytes)));
                }
                let Some(path) = self.files.get(self.next_file) else {
                    return Ok(None);
                };
                self.lines = Some(Lines::open(path)?);
                self.next_file += 1;
                continue;
            };
            match lines.next() {
                None => self.lines = None,
                Some(line) => {
                    let (_, text) = line?;
                    bytes += text.len() as u64 + 1;
                    if text.trim().is_empty() {
                        if !doc.lines.is_empty() {
                            return Ok(Some((doc, bytes)));
                        }
                    } else {
                        doc.lines.push(text);
                    }
                }
            }
        }
    }

    /// The next block of about `block_bytes` (at least two documents unless the input ends).
    pub fn next_block(&mut self, block_bytes: u64) -> Result<Option<Block>> {
        let mut block = Block {
            first_document: self.next_document,
            ..Block::default()
        };
        loop {
            let Some((doc, bytes)) = self.next_document()? else {
                break;
            };
            block.documents.push(doc);
            block.bytes += bytes;
            self.next_document += 1;
            if block.bytes >= block_bytes && block.documents.len() >= 2 {
                break;
            }
        }
        if block.documents.is_empty() {
            return Ok(None);
        }
        // The corpus's last block may hold a single document: it then has no other document to
        // draw random next segments from, and its instances keep their actual continuation.
        Ok(Some(block))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_and_file_ends_separate_documents() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        let b = dir.path().join("b.txt");
        std::fs::write(&a, "one.\ntwo.\n\n  \n\nthree.\n").unwrap();
        std::fs::write(&b, "four.\n").unwrap();
        let mut r = DocumentReader::new(expand_inputs(&[dir.path().to_path_buf()]).unwrap());
        let block = r.next_block(u64::MAX).unwrap().unwrap();
        let docs: Vec<Vec<String>> = block.documents.into_iter().map(|d| d.lines).collect();
        assert_eq!(
            docs,
            vec![
                vec!["one.".to_string(), "two.".into()],
                vec!["three.".into()],
                vec!["four.".into()],
            ]
        );
        assert!(r.next_block(u64::MAX).unwrap().is_none());
    }

    #[test]
    fn blocks_cut_at_document_boundaries_with_two_documents_at_least() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        std::fs::write(&a, "aaaa\n\nbbbb\n\ncccc\n\ndddd\n\neeee\n").unwrap();
        let mut r = DocumentReader::new(vec![a]);
        let mut sizes = Vec::new();
        let mut firsts = Vec::new();
        while let Some(b) = r.next_block(1).unwrap() {
            sizes.push(b.documents.len());
            firsts.push(b.first_document);
        }
        assert_eq!(sizes, vec![2, 2, 1]);
        assert_eq!(firsts, vec![0, 2, 4]);
    }
}
