//! Predictions for one's own data (`tinybert predict`): a table file (CSV, TSV, JSON Lines or
//! Parquet, [`tinybert_data::table`]) of texts or text pairs through a model's classifier,
//! written as a table of the same four formats with one row per input row, in input order.
//!
//! | column | when | value |
//! |---|---|---|
//! | the id column's name (`id`, `index`, or `--id-column`) | the input has one | the row's id, as text |
//! | `row` | otherwise | the 0-based data-row number |
//! | `label` | classifier | the arg-max class's name (`config.json` `id2label`; `LABEL_<i>` without one) |
//! | `prob_<name>` | classifier | the softmax probability of each class, in class-id order (they sum to 1) |
//! | `score` | one output (regression) | the model's output |
//!
//! Rows are tokenised in parallel, then run in length-sorted batches padded to their longest
//! row ([`tinybert_data::logits_in_order_reporting`]) and put back in input order. An empty text
//! or id cell is an error naming the file, line and column.

use crate::error::{Error, Result};
use candle_core::Device;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;
use tinybert_data::glue::pad_id;
use tinybert_data::table::{write_table, Column, Format, Table, Values};
use tinybert_data::{
    length_sorted_batches, logits_in_order_reporting, Encoder, Example, Label, Progress, RawExample,
};
use tinybert_model::{load_tokenizer, Model, Precision};

/// Id columns used when the input has one and `id_column` is not given, in this order.
pub const ID_COLUMNS: [&str; 2] = ["id", "index"];

/// The output column of row numbers when the input has no id column.
pub const ROW_COLUMN: &str = "row";

/// Default maximum lengths (special tokens included), as for GLUE tasks: single texts, pairs.
pub const DEFAULT_MAX_SEQ_LEN: (usize, usize) = (64, 128);

/// What [`predict_table`] runs.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    /// Model folder with a classifier.
    pub model: PathBuf,
    /// The table to read.
    pub input: PathBuf,
    /// The column of texts (the first of a pair).
    pub text_column: String,
    /// The column of second texts, for models of sentence pairs.
    pub pair_column: Option<String>,
    /// The id column (default: the first of [`ID_COLUMNS`] the input has, else row numbers).
    pub id_column: Option<String>,
    /// The table to write.
    pub output: PathBuf,
    /// The output's format.
    pub format: Format,
    /// Maximum length, special tokens included (default [`DEFAULT_MAX_SEQ_LEN`], at most the
    /// model's positions).
    pub max_seq_len: Option<usize>,
    pub batch_size: usize,
    pub compute: Precision,
    pub device: Device,
    /// Checked before every batch: once set (Ctrl-C), the run stops and writes nothing.
    pub stop: Option<Arc<AtomicBool>>,
}

/// Wall time of each phase, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Timings {
    pub load_model: f64,
    pub read: f64,
    pub tokenize: f64,
    pub infer: f64,
    pub write: f64,
    /// Everything, from loading the model to the written file.
    pub total: f64,
}

impl Timings {
    /// The data path: reading, tokenising, the model and writing (not loading the model,
    /// which `bench inference` does not time either).
    pub fn data_path(&self) -> f64 {
        self.read + self.tokenize + self.infer + self.write
    }
}

/// What [`predict_table`] did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PredictOutcome {
    pub rows: usize,
    /// Class names in id order; empty for a regression model.
    pub labels: Vec<String>,
    /// The id column read, or `None` for row numbers.
    pub id_column: Option<String>,
    pub output: PathBuf,
    pub max_seq_len: usize,
    /// Rows longer than `max_seq_len`, truncated.
    pub truncated: usize,
    /// Real tokens, special tokens included.
    pub tokens: usize,
    /// Tokens computed, padding included (the sum of batch size x longest row per batch).
    pub padded_tokens: usize,
    pub batches: usize,
    pub params: usize,
    pub timings: Timings,
}

impl PredictOutcome {
    /// Rows per second from reading the input to the written output ([`Timings::data_path`]).
    pub fn rows_per_s(&self) -> f64 {
        self.rows as f64 / self.timings.data_path().max(1e-9)
    }

    /// Rows per second of the forward passes alone.
    pub fn infer_rows_per_s(&self) -> f64 {
        self.rows as f64 / self.timings.infer.max(1e-9)
    }

    /// The mean padded length of a batch row.
    pub fn mean_padded_len(&self) -> f64 {
        self.padded_tokens as f64 / self.rows.max(1) as f64
    }
}

/// What the classifier's outputs mean.
#[derive(Debug, Clone, PartialEq)]
pub enum Outputs {
    /// One output: a score.
    Regression,
    /// Class names, in id order.
    Classes(Vec<String>),
}

/// The meaning of a classifier with `outputs` outputs whose `config.json` records `labels`:
/// one output is a regression; otherwise the recorded names (which must be one per output and
/// distinct), or `LABEL_<i>` when none are recorded.
pub fn outputs_of(dir: &Path, outputs: usize, labels: Option<Vec<String>>) -> Result<Outputs> {
    let bad = |message: String| Error::LabelOrder {
        dir: dir.to_path_buf(),
        message,
    };
    if outputs == 1 {
        return Ok(Outputs::Regression);
    }
    let Some(names) = labels.filter(|l| !l.is_empty()) else {
        return Ok(Outputs::Classes(
            (0..outputs).map(|i| format!("LABEL_{i}")).collect(),
        ));
    };
    if names.len() != outputs {
        return Err(bad(format!(
            "config.json id2label names {} classes, the classifier has {outputs} outputs",
            names.len()
        )));
    }
    if let Some(i) = (1..names.len()).find(|&i| names[..i].contains(&names[i])) {
        return Err(bad(format!(
            "config.json id2label names class `{}` twice",
            names[i]
        )));
    }
    Ok(Outputs::Classes(names))
}

/// Softmax of `logits` in f32, computed stably (the maximum subtracted first).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// The index of the largest value (the first on ties).
fn arg_max(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold(None, |best: Option<(usize, f32)>, (i, &v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((i, v)),
        })
        .map_or(0, |(i, _)| i)
}

/// The id column to read: the one asked for, or the first of [`ID_COLUMNS`] in `header`.
fn id_column(asked: Option<&str>, header: &[String]) -> Option<String> {
    match asked {
        Some(c) => Some(c.to_string()),
        None => ID_COLUMNS
            .iter()
            .find(|c| header.iter().any(|h| h == *c))
            .map(|c| c.to_string()),
    }
}

/// Reads `opts.input`, predicts every row with the model's classifier and writes
/// `opts.output` (see the module documentation); `progress` counts rows through the model.
pub fn predict_table(opts: &PredictOptions, progress: &dyn Progress) -> Result<PredictOutcome> {
    let started = Instant::now();
    let mut timings = Timings::default();
    let input = &opts.input;
    if opts.pair_column.as_deref() == Some(opts.text_column.as_str()) {
        return Err(Error::invalid(
            input,
            "pair_column",
            format!(
                "the pair column is the text column `{}`: name the column of second texts",
                opts.text_column
            ),
        ));
    }

    let model = Model::load_frozen(&opts.model, true, opts.compute, &opts.device)?;
    let classifier = model
        .classifier
        .as_ref()
        .ok_or_else(|| Error::NoClassifier {
            dir: opts.model.clone(),
        })?;
    let outputs = outputs_of(
        &opts.model,
        classifier.classifier.bias.dims1()?,
        model.config.labels(),
    )?;
    if opts.pair_column.is_some() && model.config.type_vocab_size < 2 {
        return Err(Error::invalid(
            &opts.model,
            "type_vocab_size",
            format!(
                "the model has {} segment type: it takes single texts, not pairs (drop the pair column)",
                model.config.type_vocab_size
            ),
        ));
    }
    let limit = model.config.max_position_embeddings;
    let max_seq_len = match opts.max_seq_len {
        Some(n) if n > limit => {
            return Err(Error::invalid(
                &opts.model,
                "max_position_embeddings",
                format!("the model takes at most {limit} tokens, the maximum length is {n}"),
            ))
        }
        Some(n) => n,
        None if opts.pair_column.is_some() => DEFAULT_MAX_SEQ_LEN.1.min(limit),
        None => DEFAULT_MAX_SEQ_LEN.0.min(limit),
    };
    let tok = load_tokenizer(&opts.model)?;
    let encoder = Encoder::new(&tok, max_seq_len)?;
    timings.load_model = started.elapsed().as_secs_f64();

    let t = Instant::now();
    let header = Table::header(input)?;
    let id = id_column(opts.id_column.as_deref(), &header);
    if let Some(name) = id.as_deref() {
        let taken = match &outputs {
            Outputs::Regression => name == "score",
            Outputs::Classes(names) => {
                name == "label" || names.iter().any(|c| format!("prob_{c}") == name)
            }
        };
        if taken {
            return Err(Error::invalid(
                input,
                "id_column",
                format!("the id column `{name}` has the name of an output column: rename it"),
            ));
        }
    }
    let mut columns = vec![opts.text_column.as_str()];
    columns.extend(opts.pair_column.as_deref());
    columns.extend(id.as_deref());
    let table = Table::read(input, &columns)?;
    let raw = raw_examples(&table, opts.pair_column.is_some(), id.is_some())?;
    timings.read = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let encoded = encoder.encode_all(&raw)?;
    timings.tokenize = t.elapsed().as_secs_f64();
    let examples = encoded.examples;

    let t = Instant::now();
    let logits = logits_in_order_reporting(
        &model,
        &examples,
        opts.batch_size,
        pad_id(&tok),
        &opts.device,
        progress,
        opts.stop.as_deref(),
    )?;
    timings.infer = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let ids = match &id {
        Some(name) => Column::new(
            name.clone(),
            Values::Text(raw.into_iter().map(|r| r.guid).collect()),
        ),
        None => Column::new(
            ROW_COLUMN,
            Values::Int((0..examples.len() as i64).collect()),
        ),
    };
    let mut out = vec![ids];
    let labels = match &outputs {
        Outputs::Regression => {
            let scores = logits
                .iter()
                .map(|l| l.first().copied().unwrap_or(f32::NAN))
                .collect();
            out.push(Column::new("score", Values::Float(scores)));
            Vec::new()
        }
        Outputs::Classes(names) => {
            let probs: Vec<Vec<f32>> = logits.iter().map(|l| softmax(l)).collect();
            let predicted = logits.iter().map(|l| names[arg_max(l)].clone()).collect();
            out.push(Column::new("label", Values::Text(predicted)));
            for (c, name) in names.iter().enumerate() {
                let p = probs.iter().map(|p| p[c]).collect();
                out.push(Column::new(format!("prob_{name}"), Values::Float(p)));
            }
            names.clone()
        }
    };
    write_table(&opts.output, opts.format, &out)?;
    timings.write = t.elapsed().as_secs_f64();
    timings.total = started.elapsed().as_secs_f64();

    let (tokens, padded_tokens, batches) = padding(&examples, opts.batch_size);
    Ok(PredictOutcome {
        rows: examples.len(),
        labels,
        id_column: id,
        output: opts.output.clone(),
        max_seq_len,
        truncated: encoded.truncated,
        tokens,
        padded_tokens,
        batches,
        params: model.num_params(),
        timings,
    })
}

/// The rows of `table` (columns: text, then the pair's text if `pair`, then the id if `id`) as
/// examples; an empty text or id is an error naming the file, line and column.
fn raw_examples(table: &Table, pair: bool, id: bool) -> Result<Vec<RawExample>> {
    let path = &table.path;
    let cell = |row: &tinybert_data::table::Row, c: usize| -> Result<String> {
        row.cells[c].clone().ok_or_else(|| {
            Error::row(
                path,
                row.line,
                format!("column `{}` is empty", table.columns[c]),
            )
        })
    };
    table
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let text_a = cell(row, 0)?;
            if text_a.trim().is_empty() {
                return Err(Error::row(
                    path,
                    row.line,
                    format!("column `{}` is blank", table.columns[0]),
                ));
            }
            let text_b = if pair { Some(cell(row, 1)?) } else { None };
            if text_b.as_deref().is_some_and(|b| b.trim().is_empty()) {
                return Err(Error::row(
                    path,
                    row.line,
                    format!("column `{}` is blank", table.columns[1]),
                ));
            }
            let guid = if id {
                cell(row, 1 + usize::from(pair))?
            } else {
                i.to_string()
            };
            Ok(RawExample {
                guid,
                text_a,
                text_b,
                label: Label::None,
                line: row.line,
            })
        })
        .collect()
}

/// (real tokens, tokens computed with padding, batches) of running `examples` in
/// length-sorted batches of `batch_size`.
fn padding(examples: &[Example], batch_size: usize) -> (usize, usize, usize) {
    let tokens = examples.iter().map(Example::len).sum();
    let batches = length_sorted_batches(examples, batch_size);
    let padded = batches
        .iter()
        .map(|b| b.len() * b.iter().map(|&i| examples[i].len()).max().unwrap_or(0))
        .sum();
    (tokens, padded, batches.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_is_stable_and_sums_to_one() {
        let p = softmax(&[1000.0, 1000.0, -1000.0]);
        assert_eq!(p, [0.5, 0.5, 0.0]);
        let p = softmax(&[0.3, -1.2, 2.5, 0.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{p:?}");
        assert_eq!(arg_max(&p), 2);
        assert_eq!(arg_max(&[1.0, 1.0]), 0);
    }

    #[test]
    fn outputs_are_a_score_the_recorded_names_or_placeholders() {
        let dir = Path::new("m");
        assert_eq!(outputs_of(dir, 1, None).unwrap(), Outputs::Regression);
        assert_eq!(
            outputs_of(dir, 2, None).unwrap(),
            Outputs::Classes(vec!["LABEL_0".into(), "LABEL_1".into()])
        );
        let names = vec!["neg".to_string(), "pos".to_string()];
        assert_eq!(
            outputs_of(dir, 2, Some(names.clone())).unwrap(),
            Outputs::Classes(names.clone())
        );
        let err = outputs_of(dir, 3, Some(names)).unwrap_err().to_string();
        assert!(
            err.contains("names 2 classes") && err.contains("3 outputs"),
            "{err}"
        );
        let twice = vec!["a".to_string(), "a".to_string()];
        let err = outputs_of(dir, 2, Some(twice)).unwrap_err().to_string();
        assert!(err.contains("`a` twice"), "{err}");
    }

    #[test]
    fn the_id_column_is_the_one_asked_for_or_a_conventional_one() {
        let h = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            id_column(None, &h(&["text", "index"])).as_deref(),
            Some("index")
        );
        assert_eq!(id_column(None, &h(&["index", "id"])).as_deref(), Some("id"));
        assert_eq!(id_column(None, &h(&["text"])), None);
        assert_eq!(id_column(Some("k"), &h(&["text"])).as_deref(), Some("k"));
    }
}
