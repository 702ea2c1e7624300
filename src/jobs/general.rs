//! `general-distill` (`tinybert distill general`): general distillation (SPEC §4;
//! [`tinybert_distill::train::general_distill`]): L_attn + L_hidn between a frozen teacher and
//! a student on pre-training instances.
//!
//! ```toml
//! [stages.general]
//! kind = "general-distill"
//! teacher = "models/bert-base-uncased"     # a folder or hub id
//! student = "tinybert-4"                   # a preset (tinybert-4, tinybert-6), a config.json
//!                                          # or model folder (in deps), or a shape:
//! # student = { layers = 3, hidden = 192, heads = 12, ffn = 768 }
//! data = "${stages.corpus.out}"            # pre-training instances
//! max_steps = 20000                        # trainer parameters over the paper's defaults
//! mapping = "uniform"                      # and the loss options (`tinybert kinds general-distill`)
//! outs = ["runs/general"]
//! ```

use super::train::{LossArgs, TrainArgs, Training, TrainingPlan};
use super::values::{model_spec, ModelSpec};
use super::{Ctx, Input, Job};
use anyhow::{Context, Result};
use clap::Args;
use std::path::Path;
use tinybert_distill::train::{general_distill, StudentSpec};
use tinybert_distill::GeneralDistillConfig;
use tinybert_model::BertConfig;

/// General distillation on a corpus (L_attn + L_hidn). Output: the student (a Hugging Face
/// folder) and the run files.
#[derive(Debug, Args)]
pub struct GeneralDistill {
    /// The teacher: a folder or hub id.
    #[arg(long)]
    pub teacher: String,
    /// The student: a preset (tinybert-4, tinybert-6), a config.json, an existing model folder,
    /// or a fresh model's shape `{"layers":4,"hidden":312,"heads":12,"ffn":1200}`.
    #[arg(long, visible_alias = "student-config", value_parser = model_spec)]
    pub student: ModelSpec,
    /// Pre-training instances from `tinybert data corpus`.
    #[arg(long)]
    pub data: String,
    #[command(flatten)]
    pub train: TrainArgs,
    #[command(flatten)]
    pub loss: LossArgs,
}

impl Job for GeneralDistill {
    const KIND: &'static str = "general-distill";
    const RESUMABLE: bool = true;
    const DATA_PARALLEL: bool = true;

    fn inputs(&self) -> Vec<Input<'_>> {
        let mut v = vec![
            Input::Model("teacher", &self.teacher),
            Input::path("data", &self.data),
        ];
        if let Some(s) = self
            .student
            .name()
            .filter(|s| BertConfig::preset(s).is_none())
        {
            v.push(Input::path("student", s));
        }
        v
    }

    fn training(&self, ctx: &Ctx) -> Result<Option<TrainingPlan>> {
        Ok(Some(TrainingPlan {
            config: self.train.config(&GeneralDistillConfig::default().train),
            data: ctx.path(&self.data),
            held_out: 0,
        }))
    }

    fn run(&self, ctx: &Ctx, out: &Path) -> Result<()> {
        let d = GeneralDistillConfig::default();
        let cfg = GeneralDistillConfig {
            train: self.train.config(&d.train),
            loss: self.loss.config(&d.loss),
        };
        let teacher = ctx.model(&self.teacher)?;
        let student = match &self.student {
            ModelSpec::Shape(shape) => StudentSpec::Fresh(shape.config(1)?),
            ModelSpec::Named(name) => match BertConfig::preset(name) {
                Some(c) => StudentSpec::Fresh(c),
                None => {
                    let path = ctx.path(name);
                    if path.join("model.safetensors").exists() {
                        StudentSpec::Dir(path)
                    } else {
                        let file = if path.is_dir() {
                            path.join("config.json")
                        } else {
                            path
                        };
                        StudentSpec::Fresh(
                            BertConfig::from_file(&file).context("student: its config")?,
                        )
                    }
                }
            },
        };
        let label = "general distillation";
        let training = Training::new(ctx, label, out, &self.train)?;
        let r = general_distill(
            &teacher,
            &student,
            &ctx.path(&self.data),
            &cfg,
            &ctx.device,
            &training.options(ctx),
        )?;
        training.finish(ctx, label, &r)
    }
}
