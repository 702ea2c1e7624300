//! `eval glue` end to end on CPU with tiny random models: metrics.json agrees with the
//! per-example predictions file, test splits give leaderboard files, and models or datasets
//! that do not fit the task are refused with the folder named.

mod common;

use std::path::{Path, PathBuf};

use candle_core::Device;
use common::{data_glue_dir, eval_glue_dir, tiny_fixture, tiny_model};
use tinybert_data::{build_glue, GlueBuildOptions, Label, ReadOptions, Task};
use tinybert_eval::{
    evaluate_glue, read_prediction_file, read_predictions, Error, EvalData, EvalOptions,
    PredictionColumn, Scores,
};
use tinybert_model::{load_tokenizer, tokenizer_hash};

const RTE_LABELS: [&str; 2] = ["entailment", "not_entailment"];

fn options(model: &Path, task: Task, data: EvalData, output: &Path) -> EvalOptions {
    EvalOptions {
        model: model.to_path_buf(),
        task,
        data,
        batch_size: 4,
        output: output.to_path_buf(),
        device: Device::Cpu,
        compute: Default::default(),
    }
}

fn glue(dir: PathBuf, split: &str) -> EvalData {
    EvalData::Glue {
        data_dir: dir,
        split: split.into(),
        max_seq_len: None,
    }
}

fn read_scores(path: &Path) -> Scores {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn gold_labels(task: Task, dir: &Path, split: &str) -> Vec<Label> {
    let path = tinybert_data::glue::glue_file_path(dir, task, split).unwrap();
    tinybert_data::read_glue_file(task, split, &path, ReadOptions::default())
        .unwrap()
        .examples
        .iter()
        .map(|e| e.label)
        .collect()
}

#[test]
fn dev_metrics_json_equals_the_scores_recomputed_from_the_predictions_file() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path(), Some(2), Some(&RTE_LABELS));
    let out = tmp.path().join("eval");
    let result = evaluate_glue(&options(
        &model,
        Task::RTE,
        glue(eval_glue_dir(), "dev"),
        &out,
    ))
    .unwrap();
    assert_eq!(result.splits.len(), 1);
    assert_eq!(result.splits[0].examples, 6);
    let metrics = read_scores(&out.join("metrics.json"));
    assert_eq!(Some(&metrics), result.splits[0].scores.as_ref());

    let table = read_predictions(&out.join("predictions_dev.parquet")).unwrap();
    assert_eq!((table.task, table.split.as_str()), (Task::RTE, "dev"));
    assert_eq!(table.guids, ["0", "1", "2", "3", "4", "5"]);
    assert_eq!(table.gold, gold_labels(Task::RTE, &eval_glue_dir(), "dev"));
    // The stored prediction is the arg-max of the stored logits.
    let argmax: Vec<u32> = table
        .logits
        .iter()
        .map(|l| if l[1] > l[0] { 1 } else { 0 })
        .collect();
    assert_eq!(table.predictions, PredictionColumn::Classes(argmax));
    let recomputed = table
        .predictions
        .score(Task::RTE, &table.gold, "p")
        .unwrap();
    assert_eq!(recomputed, metrics);
    assert!(metrics.accuracy.is_some() && metrics.f1.is_none());
}

#[test]
fn test_split_writes_the_leaderboard_file_with_label_strings_and_no_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path(), Some(2), Some(&RTE_LABELS));
    let out = tmp.path().join("eval");
    let result = evaluate_glue(&options(
        &model,
        Task::RTE,
        glue(eval_glue_dir(), "test"),
        &out,
    ))
    .unwrap();
    assert_eq!(result.metrics, None);
    assert!(!out.join("metrics.json").exists());
    let tsv = out.join("RTE.tsv");
    assert_eq!(result.splits[0].leaderboard.as_deref(), Some(tsv.as_path()));
    let text = std::fs::read_to_string(&tsv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "index\tprediction");
    assert_eq!(lines.len(), 6);
    let table = read_predictions(&out.join("predictions_test.parquet")).unwrap();
    assert!(table.gold.iter().all(|l| *l == Label::None));
    let PredictionColumn::Classes(classes) = &table.predictions else {
        panic!("RTE predictions are classes");
    };
    assert!(
        classes.contains(&0) && classes.contains(&1),
        "the fixture model should predict both classes: {classes:?}"
    );
    for (i, line) in lines[1..].iter().enumerate() {
        let expected = format!("{i}\t{}", RTE_LABELS[classes[i] as usize]);
        assert_eq!(*line, expected);
    }
    // The file is what the leaderboard takes.
    let parsed = read_prediction_file(&tsv, Task::RTE).unwrap();
    parsed.check_leaderboard_format().unwrap();
}

#[test]
fn mnli_dev_scores_both_dev_sets_and_test_writes_m_and_mm_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("eval");
    // The fixture has a 3-class classifier and no id2label: accepted in the task's order.
    let model = tiny_fixture();
    let dev = evaluate_glue(&options(
        &model,
        Task::MNLI,
        glue(data_glue_dir(), "dev"),
        &out,
    ))
    .unwrap();
    let splits: Vec<&str> = dev.splits.iter().map(|s| s.split.as_str()).collect();
    assert_eq!(splits, ["dev_matched", "dev_mismatched"]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    for s in &dev.splits {
        let stored: Scores = serde_json::from_value(json[&s.split].clone()).unwrap();
        assert_eq!(Some(stored), s.scores);
    }
    let test = evaluate_glue(&options(
        &model,
        Task::MNLI,
        glue(data_glue_dir(), "test"),
        &out,
    ))
    .unwrap();
    assert_eq!(test.splits.len(), 2);
    let m = std::fs::read_to_string(out.join("MNLI-m.tsv")).unwrap();
    let mm = std::fs::read_to_string(out.join("MNLI-mm.tsv")).unwrap();
    assert_eq!(m.lines().count(), 2);
    assert_eq!(mm.lines().count(), 3);
    let labels = ["contradiction", "entailment", "neutral"];
    for line in m
        .lines()
        .chain(mm.lines())
        .filter(|l| !l.starts_with("index"))
    {
        let prediction = line.split('\t').nth(1).unwrap();
        assert!(labels.contains(&prediction), "{line}");
    }
}

#[test]
fn stsb_is_scored_by_correlation_and_its_leaderboard_holds_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path(), Some(1), None);
    let out = tmp.path().join("eval");
    let dev = evaluate_glue(&options(
        &model,
        Task::STSB,
        glue(data_glue_dir(), "dev"),
        &out,
    ))
    .unwrap();
    let s = dev.splits[0].scores.clone().unwrap();
    assert!(s.pearson.is_some() && s.spearman.is_some() && s.accuracy.is_none());
    let table = read_predictions(&out.join("predictions_dev.parquet")).unwrap();
    assert_eq!(
        table
            .predictions
            .score(Task::STSB, &table.gold, "p")
            .unwrap(),
        s
    );

    evaluate_glue(&options(
        &model,
        Task::STSB,
        glue(data_glue_dir(), "test"),
        &out,
    ))
    .unwrap();
    let text = std::fs::read_to_string(out.join("STS-B.tsv")).unwrap();
    for line in text.lines().skip(1) {
        let value: f32 = line.split('\t').nth(1).unwrap().parse().unwrap();
        assert!(value.is_finite());
    }
}

#[test]
fn a_tokenised_dataset_gives_the_same_scores_and_a_foreign_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path(), Some(2), Some(&RTE_LABELS));
    let tok = load_tokenizer(&model).unwrap();
    let build = |hash: &str, name: &str| {
        let output = tmp.path().join(name);
        let opts = GlueBuildOptions {
            task: Task::RTE,
            data_dir: eval_glue_dir(),
            split: "dev".into(),
            max_seq_len: Some(40),
            output: output.clone(),
            skip_bad_rows: false,
            shard_size: 4,
        };
        build_glue(&opts, &tok, hash).unwrap();
        output
    };
    let dataset = build(&tokenizer_hash(&tok).unwrap(), "rte-dev");
    let from_parquet = evaluate_glue(&options(
        &model,
        Task::RTE,
        EvalData::Parquet {
            path: dataset.clone(),
            split: Some("dev".into()),
        },
        &tmp.path().join("a"),
    ))
    .unwrap();
    let from_tsv = evaluate_glue(&options(
        &model,
        Task::RTE,
        EvalData::Glue {
            data_dir: eval_glue_dir(),
            split: "dev".into(),
            max_seq_len: Some(40),
        },
        &tmp.path().join("b"),
    ))
    .unwrap();
    assert_eq!(from_parquet.splits[0].scores, from_tsv.splits[0].scores);

    let parquet = |path: PathBuf, split: Option<&str>| EvalData::Parquet {
        path,
        split: split.map(str::to_string),
    };
    let foreign = build("another-tokenizer", "foreign");
    let err = evaluate_glue(&options(
        &model,
        Task::RTE,
        parquet(foreign.clone(), None),
        tmp.path(),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("foreign") && err.contains("another-tokenizer"),
        "{err}"
    );
    let err = evaluate_glue(&options(
        &model,
        Task::RTE,
        parquet(dataset.clone(), Some("test")),
        tmp.path(),
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("the dataset is the dev split"), "{err}");
    let model3 = tiny_fixture();
    let err = evaluate_glue(&options(
        &model3,
        Task::MNLI,
        parquet(dataset, None),
        tmp.path(),
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("the dataset is RTE, evaluating MNLI"), "{err}");
}

#[test]
fn a_model_without_classifier_is_refused_naming_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path(), None, None);
    let err = evaluate_glue(&options(
        &model,
        Task::RTE,
        glue(eval_glue_dir(), "dev"),
        tmp.path(),
    ))
    .unwrap_err();
    assert!(matches!(err, Error::NoClassifier { .. }), "{err}");
    assert!(
        err.to_string().contains(&model.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_model_with_another_label_order_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path(), Some(2), Some(&["not_entailment", "entailment"]));
    let err = evaluate_glue(&options(
        &model,
        Task::RTE,
        glue(eval_glue_dir(), "dev"),
        tmp.path(),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("[not_entailment, entailment]") && err.contains("another order"),
        "{err}"
    );
    let err = evaluate_glue(&options(
        &model,
        Task::MNLI,
        glue(data_glue_dir(), "dev"),
        tmp.path(),
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("2 outputs, MNLI needs 3"), "{err}");
}

#[test]
fn a_length_beyond_the_model_positions_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path(), Some(2), Some(&RTE_LABELS));
    let data = EvalData::Glue {
        data_dir: eval_glue_dir(),
        split: "dev".into(),
        max_seq_len: Some(128),
    };
    let err = evaluate_glue(&options(&model, Task::RTE, data, tmp.path()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("at most 40 tokens, --max-seq-len is 128"),
        "{err}"
    );
}
