//! `eval`: a fine-tuned model on a GLUE split ([`tinybert_eval::evaluate_glue`], as
//! `tinybert eval glue`): `metrics.json`, per-example predictions, the leaderboard file on a
//! test split, and on a labelled split a `summary.json` ([`tinybert_run::Summary`]) naming the
//! model by `label`, which is what `report` stages read.
//!
//! ```toml
//! [stages.eval-student]
//! kind = "eval"
//! foreach = "${params.tasks}"
//! model = "${stages.td-pred@${item}.out}"
//! label = "TinyBERT-4"                 # the report row this run belongs to
//! data = "${stages.glue@${item}.out}/dev"   # a tokenised split (from `glue`), or:
//! # task = "${item}"                   # with data_dir: tokenise the split here
//! # data_dir = "data/glue"
//! # split = "dev"                      # dev (MNLI: both), test, or a named split
//! # max_seq_len = 128                  # with data_dir only
//! batch_size = 64                      # optional
//! speedup = 9.4                        # optional: recorded in summary.json for Table 1
//! threads = 1                        # optional: CPU threads for the products (0: all cores)
//! outs = ["runs/eval/student/${item}"]
//! ```

use super::common::{at, dataset_task, device, model_param, require_input, say, with_threads};
use crate::pipeline::registry::{KindSpec, StageContext, StageKind};
use crate::pipeline::stage::ResolvedStage;
use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use tinybert_data::Task;
use tinybert_eval::{evaluate_glue, load_classifier, EvalData, EvalOptions};
use tinybert_run::Summary;

/// The `eval` kind.
pub struct Eval;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(rename = "model")]
    _model: String,
    label: String,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    task: Option<String>,
    #[serde(default)]
    data_dir: Option<String>,
    #[serde(default)]
    split: Option<String>,
    #[serde(default)]
    max_seq_len: Option<usize>,
    #[serde(default = "default_batch")]
    batch_size: usize,
    #[serde(default)]
    speedup: Option<f64>,
    #[serde(rename = "threads", default)]
    _threads: Option<usize>,
}

fn default_batch() -> usize {
    64
}

impl Params {
    fn read(stage: &ResolvedStage) -> Result<Self> {
        let p: Params = stage.config()?;
        match (&p.data, &p.data_dir) {
            (Some(_), Some(_)) | (None, None) => bail!(
                "{}: give either `data` (a tokenised split) or `data_dir` with `task` (a GLUE folder)",
                at(stage, "data")
            ),
            (Some(_), None) if p.max_seq_len.is_some() || p.task.is_some() => bail!(
                "{}: `max_seq_len` and `task` go with `data_dir` (a tokenised split has both)",
                at(stage, "data")
            ),
            (None, Some(_)) if p.task.is_none() => {
                bail!("{}: missing (needed with `data_dir`)", at(stage, "task"))
            }
            _ => {}
        }
        if let Some(t) = &p.task {
            t.parse::<Task>()
                .map_err(|e| anyhow!("{}: {e}", at(stage, "task")))?;
        }
        if p.batch_size == 0 {
            bail!("{}: must be at least 1", at(stage, "batch_size"));
        }
        if let Some(s) = p.speedup {
            if !(s.is_finite() && s > 0.0) {
                bail!("{}: {s} is not a positive number", at(stage, "speedup"));
            }
        }
        Ok(p)
    }
}

impl StageKind for Eval {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "eval",
            required: &["model", "label"],
            optional: &[
                "data",
                "task",
                "data_dir",
                "split",
                "max_seq_len",
                "batch_size",
                "speedup",
                "threads",
            ],
            resumable: false,
        }
    }

    fn check(&self, stage: &ResolvedStage) -> Result<()> {
        let p = Params::read(stage)?;
        if let Some(d) = &p.data {
            require_input(stage, "data", d)?;
        }
        if let (Some(dir), Some(task)) = (&p.data_dir, &p.task) {
            let task: Task = task.parse()?;
            let task_dir = format!("{dir}/{}", task.name());
            if require_input(stage, "data_dir", &task_dir).is_err() {
                require_input(stage, "data_dir", dir)?;
            }
        }
        stage.out()?;
        Ok(())
    }

    fn run(&self, stage: &ResolvedStage, ctx: &StageContext) -> Result<()> {
        with_threads(stage.param_or("threads", None)?, || run(stage, ctx))
    }
}

/// The stage's work, on the `threads` it asks for.
fn run(stage: &ResolvedStage, ctx: &StageContext) -> Result<()> {
    let p = Params::read(stage)?;
    let model = model_param(stage, ctx, "model")?;
    let (task, data) = match (&p.data, &p.data_dir, &p.task) {
        (Some(d), _, _) => {
            let path = ctx.path(d);
            let task = dataset_task(&path).with_context(|| at(stage, "data"))?;
            let data = EvalData::Parquet {
                path,
                split: p.split.clone(),
            };
            (task, data)
        }
        (None, Some(dir), Some(task)) => (
            task.parse::<Task>()?,
            EvalData::Glue {
                data_dir: ctx.path(dir),
                split: p.split.clone().unwrap_or_else(|| "dev".into()),
                max_seq_len: p.max_seq_len,
            },
        ),
        _ => bail!("{}: no data", at(stage, "data")),
    };
    let dev = device(ctx)?;
    let out = ctx.path(stage.out()?);
    let opts = EvalOptions {
        model: model.clone(),
        task,
        data,
        batch_size: p.batch_size,
        output: out.clone(),
        device: dev.clone(),
    };
    let result = evaluate_glue(&opts)
        .with_context(|| format!("evaluating {} on {task}", model.display()))?;
    let mut scored = result
        .splits
        .iter()
        .filter_map(|s| s.scores.as_ref().map(|sc| (s.split.as_str(), sc)));
    let Some((first_split, first)) = scored.next() else {
        say(
            ctx,
            &format!(
                "{task}: predictions written to {} (no labels)",
                out.display()
            ),
        );
        return Ok(());
    };
    let params = load_classifier(&model, task, &dev)?.num_params() as u64;
    let mut summary = Summary::scored("eval", task.name(), &p.label, params, first.clone());
    summary.speedup = p.speedup;
    summary
        .extra
        .insert("split".into(), first_split.to_string().into());
    summary
        .extra
        .insert("model_dir".into(), model.display().to_string().into());
    for (split, scores) in scored {
        if split == "dev_mismatched" {
            summary.dev_mismatched = Some(scores.clone());
        }
    }
    summary.save(&out)?;
    say(
        ctx,
        &format!(
            "{task} {first_split}: score {:.4} ({}) -> {}",
            first.score,
            p.label,
            out.display()
        ),
    );
    Ok(())
}
