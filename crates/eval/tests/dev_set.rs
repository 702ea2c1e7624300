//! `DevSet`, the trainers' dev evaluation: the same scores as `eval glue` on the same dataset,
//! the majority-class baseline of its gold labels, and datasets of another task or tokenizer
//! refused with the file named.

mod common;

use std::path::{Path, PathBuf};

use candle_core::Device;
use common::{eval_glue_dir, tiny_model};
use tinybert_data::{build_glue, GlueBuildOptions, GlueDataset, Label, Task};
use tinybert_eval::{evaluate_glue, DevSet, EvalData, EvalOptions};
use tinybert_model::{load_tokenizer, tokenizer_hash, Model, ModelOptions};
use tinybert_run::DevEval;

const RTE_LABELS: [&str; 2] = ["entailment", "not_entailment"];

fn rte_dev(dir: &Path, model: &Path, hash: Option<&str>) -> PathBuf {
    let tok = load_tokenizer(model).unwrap();
    let hash = hash.map_or_else(|| tokenizer_hash(&tok).unwrap(), str::to_string);
    let output = dir.join(format!("rte-dev-{}", &hash[..4]));
    let opts = GlueBuildOptions {
        task: Task::RTE,
        data_dir: eval_glue_dir(),
        split: "dev".into(),
        max_seq_len: Some(40),
        output: output.clone(),
        skip_bad_rows: false,
        shard_size: 4,
    };
    build_glue(&opts, &tok, &hash).unwrap();
    output
}

#[test]
fn dev_scores_equal_eval_glue_and_the_baseline_is_the_majority_class() {
    let tmp = tempfile::tempdir().unwrap();
    let model_dir = tiny_model(tmp.path(), Some(2), Some(&RTE_LABELS));
    let data = rte_dev(tmp.path(), &model_dir, None);
    let mut dev = DevSet::open(&data, Task::RTE, &model_dir, 4, &Device::Cpu).unwrap();
    assert_eq!(dev.task(), Task::RTE);
    assert_eq!(DevEval::task(&dev), "RTE");
    assert!(dev.describe().contains("rte-dev"), "{}", dev.describe());

    let model = Model::load(&model_dir, &ModelOptions::default()).unwrap();
    let scores = dev.evaluate(&model).unwrap();
    let eval = evaluate_glue(&EvalOptions {
        model: model_dir.clone(),
        task: Task::RTE,
        data: EvalData::Parquet {
            path: data.clone(),
            split: None,
        },
        batch_size: 4,
        output: tmp.path().join("eval"),
        device: Device::Cpu,
        compute: Default::default(),
    })
    .unwrap();
    assert_eq!(Some(&scores), eval.splits[0].scores.as_ref());

    // The gold labels, counted here: the baseline predicts the most frequent class.
    let gold = GlueDataset::open(&data).unwrap();
    let ones = gold
        .examples
        .iter()
        .filter(|e| e.label == Label::Class(1))
        .count();
    let n = gold.len();
    let majority = ones.max(n - ones) as f64 / n as f64;
    let baseline = dev.baseline().unwrap();
    assert_eq!(
        (baseline.accuracy, baseline.score),
        (Some(majority), majority)
    );
}

#[test]
fn a_dev_set_of_another_task_or_tokenizer_is_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let model_dir = tiny_model(tmp.path(), Some(2), Some(&RTE_LABELS));
    let data = rte_dev(tmp.path(), &model_dir, None);
    let err = DevSet::open(&data, Task::MNLI, &model_dir, 4, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&data.display().to_string())
            && err.contains("the dataset is RTE, evaluating MNLI"),
        "{err}"
    );
    let foreign = rte_dev(tmp.path(), &model_dir, Some("another-tokenizer"));
    let err = DevSet::open(&foreign, Task::RTE, &model_dir, 4, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tokenizer_hash") && err.contains("another-tokenizer"),
        "{err}"
    );
}
