//! General distillation (SPEC §4): L_attn + L_hidn between a frozen teacher and a student on
//! pre-training instances.

use super::common::{
    check_pair, check_tokenizer, forward, lengths, load_frozen, pass_batch, teacher_rngs,
    training_summary, write_summary,
};
use super::engine::{train, Loss, Objective, Pass, RunOptions, RunResult};
use crate::config::{GeneralDistillConfig, LossConfig};
use crate::error::{Error, Result};
use crate::losses::intermediate_loss;
use candle_core::Device;
use std::path::{Path, PathBuf};
use tinybert_data::{Instance, InstanceShards, Sequence};
use tinybert_model::{BertConfig, FitDenseKind, Heads, Model, ModelOptions, Trainable, Want};

/// Where the student comes from.
#[derive(Debug, Clone)]
pub enum StudentSpec {
    /// A fresh student of this shape (N(0, 0.02) weights), vocabulary taken from the teacher.
    Fresh(BertConfig),
    /// An existing model folder (e.g. a released general TinyBERT, or a resumed run's output).
    Dir(PathBuf),
}

/// Builds the trainable student with a `fit_dense` projecting to `fit_size`.
pub fn load_student(
    spec: &StudentSpec,
    fit: FitDenseKind,
    fit_size: usize,
    vocab: usize,
    classifier: Want<usize>,
    seed: u64,
    device: &Device,
) -> Result<Model> {
    let opts = ModelOptions {
        device: device.clone(),
        trainable: Trainable::All,
        seed,
        heads: Heads {
            classifier,
            fit_dense: Want::Always((fit, fit_size)),
            ..Heads::NONE
        },
        ..Default::default()
    };
    Ok(match spec {
        StudentSpec::Fresh(cfg) => {
            let mut cfg = cfg.clone();
            cfg.vocab_size = vocab;
            Model::init(&cfg, &opts)?
        }
        StudentSpec::Dir(dir) => Model::load(dir, &opts)?,
    })
}

/// The intermediate-layer objective on any batchable data (instances or GLUE examples).
pub struct IntermediateObjective<'a, S> {
    pub teacher: &'a Model,
    pub student: &'a Model,
    pub data: &'a [S],
    pub pad_id: u32,
    pub loss: &'a LossConfig,
    pub attention_pairs: Vec<(usize, usize)>,
    pub hidden_pairs: Vec<(usize, usize)>,
    pub device: Device,
}

impl<'a, S: Sequence> IntermediateObjective<'a, S> {
    pub fn new(
        teacher: &'a Model,
        student: &'a Model,
        data: &'a [S],
        pad_id: u32,
        loss: &'a LossConfig,
        device: &Device,
    ) -> Result<Self> {
        let (n, m) = (
            teacher.config.num_hidden_layers,
            student.config.num_hidden_layers,
        );
        check_pair(teacher, student, loss.weights.attention != 0.0)?;
        Ok(Self {
            teacher,
            student,
            data,
            pad_id,
            loss,
            attention_pairs: loss.mapping.attention_pairs(n, m)?,
            hidden_pairs: loss.mapping.hidden_pairs(n, m)?,
            device: device.clone(),
        })
    }
}

impl<S: Sequence> Objective for IntermediateObjective<'_, S> {
    fn loss(&mut self, pass: &Pass) -> Result<Loss> {
        let b = pass_batch(self.data, pass, self.pad_id, &self.device)?;
        let t = forward(self.teacher, &b, self.loss.teacher_dropout)?;
        let s = forward(self.student, &b, true)?;
        let fit = self.student.fit_dense.as_ref().ok_or_else(|| {
            Error::Config(
                "the student has no fit_dense projection (load it with load_student)".into(),
            )
        })?;
        let mask = self.loss.pad_masked.then_some(&b.attention_mask);
        let l = intermediate_loss(
            &s,
            &t,
            fit,
            &self.attention_pairs,
            &self.hidden_pairs,
            &self.loss.weights,
            mask,
        )?;
        // The pass's share of each mean: of the examples, or with pad masking of the real
        // query/key pairs (attention) and of the real tokens (hidden states).
        let (att_share, token_share) = match self.loss.pad_masked {
            false => (pass.share(), pass.share()),
            true => self.real_shares(pass),
        };
        let att = (&l.att * self.loss.weights.attention)?;
        let rest = (&l.total - &att)?;
        Ok(Loss {
            total: ((att * att_share)? + (rest * token_share)?)?,
            terms: vec![(l.att * att_share)?, (l.rep * token_share)?],
        })
    }

    fn terms(&self) -> &'static [&'static str] {
        &["att_loss", "rep_loss"]
    }

    fn lengths(&self) -> Vec<usize> {
        lengths(self.data)
    }
}

impl<S: Sequence> IntermediateObjective<'_, S> {
    /// The pass's shares of the batch's real query/key pairs and of its real tokens.
    fn real_shares(&self, pass: &Pass) -> (f64, f64) {
        let sums = |indices: &[usize]| {
            indices.iter().fold((0.0, 0.0), |(pairs, tokens), &i| {
                let n = self.data[i].input_ids().len() as f64;
                (pairs + n * n, tokens + n)
            })
        };
        let ((p, t), (bp, bt)) = (sums(pass.indices()), sums(pass.batch));
        (p / bp.max(1.0), t / bt.max(1.0))
    }
}

/// Runs general distillation of `student` from the model folder `teacher` on the pre-training
/// instances in `data`; the distilled student (with `fit_dense.safetensors`) is written to
/// `run.output`.
pub fn general_distill(
    teacher_dir: &Path,
    student: &StudentSpec,
    data: &Path,
    cfg: &GeneralDistillConfig,
    device: &Device,
    run: &RunOptions,
) -> Result<RunResult> {
    let shards = InstanceShards::open(data)?;
    check_tokenizer(teacher_dir, &shards.meta, data)?;
    let teacher = load_frozen(teacher_dir, false, cfg.loss.teacher_precision, device)?;
    let t = &teacher.config;
    let student = load_student(
        student,
        cfg.loss.fit_dense,
        t.hidden_size,
        t.vocab_size,
        Want::Never,
        cfg.train.seed,
        device,
    )?;
    run.progress.message(&format!(
        "reading {} shard(s) of {}",
        shards.files.len(),
        data.display()
    ));
    let instances: Vec<Instance> = shards.read_all()?;
    let mut objective = IntermediateObjective::new(
        &teacher,
        &student,
        &instances,
        shards.meta.pad_id,
        &cfg.loss,
        device,
    )?;
    let echo = serde_json::json!({ "stage": "general-distill", "teacher": teacher_dir, "data": data, "student_config": student.config, "config": cfg });
    let result = train(
        &student,
        instances.len(),
        &cfg.train,
        &echo,
        &mut objective,
        None,
        &teacher_rngs(&teacher, cfg.loss.teacher_dropout),
        &run.tokenizer_defaulting_to(teacher_dir),
    )?;
    let mut summary = training_summary("general-distill", &student, &result, instances.len());
    summary.insert("teacher", teacher_dir.display().to_string());
    write_summary(&run.output, &summary)?;
    Ok(result)
}
