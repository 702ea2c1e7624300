//! Loading a fine-tuned model for evaluation: its classifier must exist, have one output per
//! class of the task (one for STS-B), and the class order recorded in `config.json`
//! (`id2label`) must be the task's label order (SPEC §7: MNLI orders differ between sources).

use std::path::Path;

use candle_core::Device;
use tinybert_data::Task;
use tinybert_model::{Model, Precision};

use crate::error::{Error, Result};

/// Loads the model folder `dir` with its classifier for `task` (no MLM head, no projections)
/// and checks the classifier against the task ([`check_classes`]); `compute` is the precision of
/// its products (bf16 on AVX-512 BF16 CPUs, else f32).
pub fn load_classifier(
    dir: &Path,
    task: Task,
    compute: Precision,
    device: &Device,
) -> Result<Model> {
    let model = Model::load_frozen(dir, true, compute, device)?;
    let classifier = model
        .classifier
        .as_ref()
        .ok_or_else(|| Error::NoClassifier {
            dir: dir.to_path_buf(),
        })?;
    let outputs = classifier.classifier.bias.dims1()?;
    check_classes(dir, task, outputs, model.config.labels().as_deref())?;
    Ok(model)
}

/// Checks a classifier of `outputs` outputs whose `config.json` records `labels` (in id order)
/// against `task`: the count must match, and recorded names must be the task's labels in the
/// task's order ([`Task::label_names_differ`]). Placeholder names (`LABEL_i`) or none are
/// accepted with a warning.
pub fn check_classes(
    dir: &Path,
    task: Task,
    outputs: usize,
    labels: Option<&[String]>,
) -> Result<()> {
    let mismatch = |message: String| Error::LabelOrder {
        dir: dir.to_path_buf(),
        message,
    };
    if outputs != task.num_labels() {
        return Err(mismatch(format!(
            "the classifier has {outputs} outputs, {task} needs {}",
            task.num_labels()
        )));
    }
    if let Some(message) = task.label_names_differ(labels) {
        return Err(mismatch(message));
    }
    let named = labels.is_some_and(|l| {
        l.iter()
            .map(String::as_str)
            .eq(task.labels().iter().copied())
    });
    if !task.is_regression() && !named {
        tracing::warn!(
            "{}: config.json records no label names; assuming {task}'s order [{}]",
            dir.display(),
            task.labels().join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinybert_testkit::assert_mentions;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_task_order_or_no_names_are_accepted() {
        let dir = Path::new("m");
        let ok = strings(&["contradiction", "entailment", "neutral"]);
        assert!(check_classes(dir, Task::MNLI, 3, Some(&ok)).is_ok());
        assert!(check_classes(dir, Task::MNLI, 3, None).is_ok());
        let generic = strings(&["LABEL_0", "LABEL_1", "LABEL_2"]);
        assert!(check_classes(dir, Task::MNLI, 3, Some(&generic)).is_ok());
        assert!(check_classes(dir, Task::STSB, 1, Some(&strings(&["LABEL_0"]))).is_ok());
    }

    #[test]
    fn another_order_is_an_error_naming_folder_and_both_orders() {
        let hf = strings(&["entailment", "neutral", "contradiction"]);
        let err = check_classes(Path::new("models/mnli"), Task::MNLI, 3, Some(&hf))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("model models/mnli:"), "{err}");
        assert_mentions(
            &err,
            &[
                "[entailment, neutral, contradiction]",
                "[contradiction, entailment, neutral]",
                "another order",
            ],
        );
        let other = strings(&["yes", "no"]);
        assert!(check_classes(Path::new("m"), Task::RTE, 2, Some(&other)).is_err());
    }

    #[test]
    fn a_wrong_number_of_outputs_is_an_error() {
        let err = check_classes(Path::new("m"), Task::RTE, 3, None)
            .unwrap_err()
            .to_string();
        assert_mentions(&err, &["3 outputs, RTE needs 2"]);
    }
}
