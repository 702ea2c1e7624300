//! `predict` (`tinybert predict`): a model's classifier over one's own table of texts (CSV,
//! TSV, JSON Lines or Parquet) in length-sorted, dynamically padded batches
//! ([`tinybert_eval::predict_table`]): per input row, in input order, its id (or row number),
//! the predicted label and each class's probability (a regression model: the score).
//!
//! The output is a file or a folder. An `--output` ending in `.csv`, `.tsv`, `.jsonl` or
//! `.parquet` is the predictions file itself (its format from the extension); anything else is
//! a folder that receives `predictions.<format>` (`--format`, default csv) and `summary.json`
//! (rows, rows/s, padding, the time of each phase), like every stage's output folder.
//!
//! ```toml
//! [stages.predict]
//! kind = "predict"
//! model = "${stages.td-pred@SST-2.out}"
//! input = "data/reviews.jsonl"
//! text_column = "review"            # default: text
//! # pair_column = "hypothesis"      # sentence-pair models
//! # id_column = "review_id"         # default: `id` or `index` if the input has one, else row numbers
//! format = "parquet"                # with a folder output; default csv
//! batch_size = 32                   # optional
//! deps = ["data/reviews.jsonl"]
//! outs = ["runs/predict/reviews"]   # or a file: "runs/predict/reviews.parquet"
//! ```

use super::values::positive;
use super::{Ctx, Input, Job};
use crate::progress::DataBar;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use tinybert_data::table::Format;
use tinybert_data::Progress;
use tinybert_eval::{predict_table, PredictOptions, PredictOutcome};
use tinybert_model::Precision;
use tinybert_run::Summary;

/// The predictions file inside a folder output.
pub const PREDICTIONS_STEM: &str = "predictions";

/// A model's predictions for a table of texts (CSV, TSV, JSON Lines or Parquet): id (or row
/// number), predicted label and class probabilities (or score) per row, in input order. The
/// output is the predictions file when it ends in .csv/.tsv/.jsonl/.parquet, else a folder with
/// predictions.<format> and summary.json.
#[derive(Debug, Args)]
pub struct Predict {
    /// Model folder (or hub id) with a classifier; class names from config.json's id2label
    /// (LABEL_<i> without one); a classifier of one output is a regression (a `score` column).
    #[arg(long)]
    pub model: String,
    /// The table to predict: .csv, .tsv, .jsonl or .parquet, with a header (JSON Lines: keys).
    #[arg(long)]
    pub input: String,
    /// The column of texts (the first text of a pair).
    #[arg(long, default_value = "text")]
    pub text_column: String,
    /// The column of second texts, for models of sentence pairs.
    #[arg(long)]
    pub pair_column: Option<String>,
    /// The column of row ids copied to the output (default: `id` or `index` when the input has
    /// one, else a `row` column of 0-based row numbers).
    #[arg(long)]
    pub id_column: Option<String>,
    /// The predictions' format with a folder output: csv, tsv, jsonl or parquet (default csv; a
    /// file output takes its extension's).
    #[arg(long)]
    pub format: Option<Format>,
    /// Maximum length, special tokens included (default 64 for single texts, 128 for pairs, at
    /// most the model's positions); longer rows are truncated, longest first.
    #[arg(long, value_parser = positive)]
    pub max_seq_len: Option<usize>,
    /// Rows per forward pass (rows are sorted by length, so each batch pads little).
    #[arg(long, default_value_t = 32, value_parser = positive)]
    pub batch_size: usize,
    /// Precision of the model's products: f32, or bf16 (AVX-512 BF16 CPUs, f32 elsewhere).
    #[arg(long, default_value = "f32")]
    pub dtype: Precision,
}

/// Where the predictions go: (file, its format, the folder for summary.json if any).
fn destination(out: &Path, format: Option<Format>) -> Result<(PathBuf, Format, Option<PathBuf>)> {
    match Format::of(out) {
        Ok(ext) => {
            if let Some(f) = format.filter(|f| *f != ext) {
                bail!(
                    "--format {} but the output {} is a .{} file: drop --format, or give a folder",
                    f.extension(),
                    out.display(),
                    ext.extension()
                );
            }
            Ok((out.to_path_buf(), ext, None))
        }
        Err(_) => {
            let f = format.unwrap_or(Format::Csv);
            let file = out.join(format!("{PREDICTIONS_STEM}.{}", f.extension()));
            Ok((file, f, Some(out.to_path_buf())))
        }
    }
}

impl Job for Predict {
    const KIND: &'static str = "predict";

    fn inputs(&self) -> Vec<Input<'_>> {
        vec![
            Input::Model("model", &self.model),
            Input::path("input", &self.input),
        ]
    }

    fn run(&self, ctx: &Ctx, out: &Path) -> Result<()> {
        let model = ctx.model(&self.model)?;
        let input = ctx.path(&self.input);
        let (file, format, folder) = destination(out, self.format)?;
        let parent = file.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(p) = parent {
            std::fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))?;
        }
        let opts = PredictOptions {
            model: model.clone(),
            input: input.clone(),
            text_column: self.text_column.clone(),
            pair_column: self.pair_column.clone(),
            id_column: self.id_column.clone(),
            output: file.clone(),
            format,
            max_seq_len: self.max_seq_len,
            batch_size: self.batch_size,
            compute: self.dtype,
            device: ctx.device.clone(),
            stop: Some(ctx.stop.clone()),
        };
        let bar = DataBar::examples(&ctx.progress, "predict");
        let result = predict_table(&opts, &bar);
        bar.finish();
        if ctx.stop.load(std::sync::atomic::Ordering::Relaxed) && result.is_err() {
            bail!(
                "predict: interrupted; nothing written ({} is left as it was)",
                file.display()
            );
        }
        let o = result
            .with_context(|| format!("predicting {} with {}", input.display(), model.display()))?;
        if o.truncated > 0 {
            tracing::info!(
                "{} of {} rows truncated to {} tokens",
                o.truncated,
                o.rows,
                o.max_seq_len
            );
        }
        ctx.say(&format!(
            "{} rows in {:.2} s: {:.1} rows/s (the model alone {:.1} rows/s; batch {}, mean padded length {:.1}; model loaded in {:.2} s before); predictions in {}",
            o.rows,
            o.timings.data_path(),
            o.rows_per_s(),
            o.infer_rows_per_s(),
            self.batch_size,
            o.mean_padded_len(),
            o.timings.load_model,
            file.display()
        ));
        if let Some(dir) = folder {
            summary(self, ctx, &model, &o).save(&dir)?;
        }
        Ok(())
    }
}

fn summary(job: &Predict, ctx: &Ctx, model: &Path, o: &PredictOutcome) -> Summary {
    let mut s = Summary::new(Predict::KIND);
    s.model = Some(model.display().to_string());
    s.params = Some(o.params as u64);
    s.examples = Some(o.rows as u64);
    s.examples_per_s = Some(o.rows_per_s());
    let file = o
        .output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    s.insert("predictions", file.unwrap_or_default());
    s.insert("input", job.input.clone());
    s.insert("labels", o.labels.clone());
    s.insert("id_column", o.id_column.clone());
    s.insert("batch_size", job.batch_size);
    s.insert("max_seq_len", o.max_seq_len);
    s.insert("truncated", o.truncated);
    s.insert("tokens", o.tokens);
    s.insert("padded_tokens", o.padded_tokens);
    s.insert("mean_padded_len", o.mean_padded_len());
    s.insert("batches", o.batches);
    s.insert("infer_examples_per_s", o.infer_rows_per_s());
    s.insert("threads", rayon::current_num_threads());
    s.insert("device", ctx.device_name.clone());
    s.insert("dtype", job.dtype.effective(&ctx.device).name());
    s.insert(
        "seconds",
        serde_json::to_value(o.timings).unwrap_or_default(),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_extension_is_the_file_anything_else_a_folder() {
        let (f, fmt, dir) = destination(Path::new("out/p.jsonl"), None).unwrap();
        assert_eq!(
            (f, fmt, dir),
            ("out/p.jsonl".into(), Format::JsonLines, None)
        );
        let (f, fmt, dir) = destination(Path::new("out/run"), Some(Format::Parquet)).unwrap();
        assert_eq!(f, PathBuf::from("out/run/predictions.parquet"));
        assert_eq!((fmt, dir), (Format::Parquet, Some("out/run".into())));
        let (f, _, _) = destination(Path::new("out/run"), None).unwrap();
        assert_eq!(f, PathBuf::from("out/run/predictions.csv"));
        let err = destination(Path::new("p.csv"), Some(Format::Tsv)).unwrap_err();
        assert!(err.to_string().contains("--format tsv"), "{err}");
    }
}
