//! Tasks as data: the workspace's one task type (SPEC §7).
//!
//! A [`Task`] is a cheap, copyable handle to a [`TaskDef`]: its name, label names in class-id
//! order, whether it is a classification or a regression, whether examples are single sentences
//! or pairs, the metric it reports and its split names. The nine GLUE tasks are built-in
//! definitions ([`Task::GLUE`], [`Task::MNLI`], ...); a task of one's own is registered at run
//! time with [`Task::define`] (from the fields a small TOML file would hold) and is then found
//! by name like a built-in one ([`Task::lookup`], [`str::parse`]). Code that needs a task's facts
//! asks the task ([`Task::labels`], [`Task::metric`], [`Task::is_regression`], ...) and never
//! matches on GLUE names; only GLUE's file layouts ([`crate::glue`]) and the GLUE table columns
//! (the eval crate) know the nine by name.

use crate::error::{Error, Result};
use serde::Deserialize as _;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

/// The metrics a task reports (SPEC §6, §7); the selection score is derived from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Accuracy (SST-2, MNLI, QNLI, RTE, WNLI).
    Accuracy,
    /// F1 of class 1 and accuracy (MRPC, QQP); selection uses accuracy. Two classes only.
    F1Accuracy,
    /// Matthews correlation (CoLA); accuracy is reported too. Two classes only.
    Matthews,
    /// Pearson and Spearman correlation of a regression output (STS-B); selection uses their
    /// mean.
    PearsonSpearman,
}

/// What a model predicts for a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// One of the task's labels (one model output per label).
    Classification,
    /// One real value (one model output).
    Regression,
}

/// What an example holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// One sentence: `[CLS] A [SEP]`.
    Single,
    /// A sentence pair: `[CLS] A [SEP] B [SEP]`.
    Pair,
}

/// The facts of one task.
#[derive(Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TaskDef {
    /// Name, also the folder name of the task's files (`SST-2`).
    pub name: &'static str,
    /// Label strings as they appear in the files; a class id is an index into this list.
    /// Empty for a regression.
    pub labels: &'static [&'static str],
    pub output: Output,
    pub input: Input,
    pub metric: MetricKind,
    /// The task's splits (file stems), training split first.
    pub splits: &'static [&'static str],
}

/// A task: a copyable handle to its [`TaskDef`]. Two tasks are equal when their definitions
/// are (names are unique among the known tasks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Task(&'static TaskDef);

const BINARY: &[&str] = &["0", "1"];
const NLI2: &[&str] = &["entailment", "not_entailment"];
const SPLITS: &[&str] = &["train", "dev", "test"];

/// A built-in GLUE classification task (a macro: the definition must be a constant expression
/// to live in the program image).
macro_rules! glue_task {
    ($name:expr, $labels:expr, $input:expr, $metric:expr) => {
        Task(&TaskDef {
            name: $name,
            labels: $labels,
            output: Output::Classification,
            input: $input,
            metric: $metric,
            splits: SPLITS,
        })
    };
}

impl Task {
    /// CoLA: acceptability of single sentences, Matthews correlation.
    pub const COLA: Task = glue_task!("CoLA", BINARY, Input::Single, MetricKind::Matthews);
    /// SST-2: sentiment of single sentences, accuracy.
    pub const SST2: Task = glue_task!("SST-2", BINARY, Input::Single, MetricKind::Accuracy);
    /// MRPC: paraphrase pairs, F1 and accuracy.
    pub const MRPC: Task = glue_task!("MRPC", BINARY, Input::Pair, MetricKind::F1Accuracy);
    /// STS-B: similarity of pairs as a score in [0, 5], Pearson and Spearman correlation.
    pub const STSB: Task = Task(&TaskDef {
        name: "STS-B",
        labels: &[],
        output: Output::Regression,
        input: Input::Pair,
        metric: MetricKind::PearsonSpearman,
        splits: SPLITS,
    });
    /// QQP: duplicate question pairs, accuracy and F1.
    pub const QQP: Task = glue_task!("QQP", BINARY, Input::Pair, MetricKind::F1Accuracy);
    /// MNLI: entailment of pairs in three classes (the reference code's order: contradiction,
    /// entailment, neutral; recorded in every dataset's metadata), matched and mismatched dev
    /// and test sets.
    pub const MNLI: Task = Task(&TaskDef {
        name: "MNLI",
        labels: &["contradiction", "entailment", "neutral"],
        output: Output::Classification,
        input: Input::Pair,
        metric: MetricKind::Accuracy,
        splits: &[
            "train",
            "dev_matched",
            "dev_mismatched",
            "test_matched",
            "test_mismatched",
        ],
    });
    /// QNLI: question-answer entailment pairs, accuracy.
    pub const QNLI: Task = glue_task!("QNLI", NLI2, Input::Pair, MetricKind::Accuracy);
    /// RTE: entailment pairs, accuracy.
    pub const RTE: Task = glue_task!("RTE", NLI2, Input::Pair, MetricKind::Accuracy);
    /// WNLI: entailment pairs, accuracy.
    pub const WNLI: Task = glue_task!("WNLI", BINARY, Input::Pair, MetricKind::Accuracy);

    /// The nine GLUE tasks, in GLUE order.
    pub const GLUE: [Task; 9] = [
        Task::COLA,
        Task::SST2,
        Task::MRPC,
        Task::STSB,
        Task::QQP,
        Task::MNLI,
        Task::QNLI,
        Task::RTE,
        Task::WNLI,
    ];

    /// The task's definition.
    pub fn def(self) -> &'static TaskDef {
        self.0
    }

    /// The name, also the folder name under a GLUE-style data directory (`SST-2`).
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The label strings as they appear in the files; a class id is an index into this list.
    /// Empty for a regression.
    pub fn labels(self) -> &'static [&'static str] {
        self.0.labels
    }

    /// Number of model outputs: the number of classes, or 1 for a regression.
    pub fn num_labels(self) -> usize {
        self.labels().len().max(1)
    }

    /// True for a regression task (STS-B): one output, float labels.
    pub fn is_regression(self) -> bool {
        self.0.output == Output::Regression
    }

    /// True when examples are sentence pairs.
    pub fn is_pair(self) -> bool {
        self.0.input == Input::Pair
    }

    /// The metrics the task reports.
    pub fn metric(self) -> MetricKind {
        self.0.metric
    }

    /// Maximum sequence length of SPEC §6: 64 for single sentences, 128 for pairs.
    pub fn default_max_seq_len(self) -> usize {
        if self.is_pair() {
            128
        } else {
            64
        }
    }

    /// The splits (file stems) of this task: `train`, `dev`, `test`, or for MNLI `train`,
    /// `dev_matched`, `dev_mismatched`, `test_matched`, `test_mismatched`.
    pub fn splits(self) -> &'static [&'static str] {
        self.0.splits
    }

    /// Checks that `split` is one of [`Task::splits`].
    pub fn check_split(self, split: &str) -> Result<()> {
        if self.splits().contains(&split) {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "{} has no split `{split}` (expected one of: {})",
                self.name(),
                self.splits().join(", ")
            )))
        }
    }

    /// The class id of a label string, if it is one of [`Task::labels`].
    pub fn label_id(self, label: &str) -> Option<u32> {
        self.labels()
            .iter()
            .position(|l| *l == label)
            .map(|i| i as u32)
    }

    /// Compares the label names a model records (`id2label`, in id order) with the task's
    /// labels: `None` when they are the task's in its order, or when the model names none or
    /// only Hugging Face's placeholders `LABEL_0`, `LABEL_1`, ... (which record no order);
    /// else what differs, naming both sides.
    pub fn label_names_differ(self, names: Option<&[String]>) -> Option<String> {
        let names = names?;
        let placeholders = names
            .iter()
            .enumerate()
            .all(|(i, l)| *l == format!("LABEL_{i}"));
        if self.is_regression()
            || placeholders
            || names
                .iter()
                .map(String::as_str)
                .eq(self.labels().iter().copied())
        {
            return None;
        }
        let expected = self.labels();
        let same_set =
            names.len() == expected.len() && expected.iter().all(|e| names.iter().any(|n| n == e));
        Some(format!(
            "config.json id2label is [{}], but {self} expects [{}] in this order{}",
            names.join(", "),
            expected.join(", "),
            if same_set {
                " (the same labels in another order: class ids would be misread)"
            } else {
                ""
            }
        ))
    }

    /// True for the nine built-in GLUE tasks.
    pub fn is_glue(self) -> bool {
        Task::GLUE.contains(&self)
    }

    /// The key under which run summaries record a task of one's own ([`Task::record`]).
    pub const RECORD_KEY: &'static str = "task_def";

    /// A task of one's own's definition as JSON, for the files a run writes (`summary.json`),
    /// so that whoever reads them knows the task ([`Task::from_record`]); `None` for GLUE.
    pub fn record(self) -> Option<serde_json::Value> {
        (!self.is_glue())
            .then(|| serde_json::to_value(TaskSpec::of(self)).expect("a task spec is JSON"))
    }

    /// Defines the task recorded by [`Task::record`] and returns it.
    pub fn from_record(record: &serde_json::Value) -> Result<Task> {
        let spec = TaskSpec::deserialize(record)
            .map_err(|e| Error::Invalid(format!("task definition: {e}")))?;
        Task::define(&spec)
    }

    /// A known task by name (built-in or [defined](Task::define)), ignoring case, `-` and `_`
    /// (`sst2`, `SST-2`, `sts_b`).
    pub fn lookup(name: &str) -> Result<Task> {
        let key = normalise(name);
        let defined = registry().clone();
        Task::GLUE
            .into_iter()
            .chain(defined)
            .find(|t| normalise(t.name()) == key)
            .ok_or_else(|| {
                let known: Vec<&str> = Task::known().iter().map(|t| t.name()).collect();
                Error::Invalid(format!(
                    "unknown task `{name}` (known: {})",
                    known.join(", ")
                ))
            })
    }

    /// Every known task: the GLUE nine, then the defined ones in definition order.
    pub fn known() -> Vec<Task> {
        let mut all = Task::GLUE.to_vec();
        all.extend(registry().iter().copied());
        all
    }

    /// Registers a task of one's own and returns it; defining the same task again returns
    /// the same task. Errors (naming the task and the field): a name that is empty, equal to a
    /// known task's other than the same definition, or to a GLUE task's; a classification with
    /// fewer than two labels, or repeated labels; a regression with labels or a metric other
    /// than `pearson_spearman` (and the reverse); `f1_accuracy` or `matthews` with other than
    /// two labels; no `train` split or a repeated split.
    ///
    /// The definition lives as long as the process (tasks are few and small).
    pub fn define(spec: &TaskSpec) -> Result<Task> {
        spec.check()?;
        let mut known = registry();
        let key = normalise(&spec.name);
        if let Some(t) = Task::GLUE.iter().find(|t| normalise(t.name()) == key) {
            return Err(Error::Invalid(format!(
                "task `{}`: the name is taken by the built-in GLUE task {}",
                spec.name,
                t.name()
            )));
        }
        if let Some(t) = known.iter().find(|t| normalise(t.name()) == key) {
            return if spec.matches(t.def()) {
                Ok(*t)
            } else {
                Err(Error::Invalid(format!(
                    "task `{}` is already defined differently ({:?})",
                    spec.name,
                    t.def()
                )))
            };
        }
        let leak_list = |items: &[String]| -> &'static [&'static str] {
            let strs: Vec<&'static str> = items
                .iter()
                .map(|s| &*Box::leak(s.clone().into_boxed_str()))
                .collect();
            Box::leak(strs.into_boxed_slice())
        };
        let def: &'static TaskDef = Box::leak(Box::new(TaskDef {
            name: Box::leak(spec.name.clone().into_boxed_str()),
            labels: leak_list(&spec.labels),
            output: spec.output,
            input: spec.input,
            metric: spec.metric,
            splits: leak_list(&spec.splits),
        }));
        known.push(Task(def));
        Ok(Task(def))
    }
}

/// The tasks registered with [`Task::define`].
fn registry() -> std::sync::MutexGuard<'static, Vec<Task>> {
    static DEFINED: Mutex<Vec<Task>> = Mutex::new(Vec::new());
    // A panic while holding the lock cannot leave the list half-updated (one push).
    DEFINED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// A task definition as a user writes it (the owned form of [`TaskDef`], e.g. read from a
/// TOML table); [`Task::define`] checks and registers it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    pub name: String,
    /// Label strings in class-id order; empty for a regression.
    #[serde(default)]
    pub labels: Vec<String>,
    pub output: Output,
    pub input: Input,
    pub metric: MetricKind,
    /// Split names; default `train`, `dev`, `test`.
    #[serde(default = "default_splits")]
    pub splits: Vec<String>,
}

fn default_splits() -> Vec<String> {
    SPLITS.iter().map(|s| s.to_string()).collect()
}

impl TaskSpec {
    /// The definition of `task`, as [`Task::define`] takes it (datasets of a task of one's own
    /// record it, so that any process reading them knows the task).
    pub fn of(task: Task) -> Self {
        let owned = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        let d = task.def();
        TaskSpec {
            name: d.name.to_string(),
            labels: owned(d.labels),
            output: d.output,
            input: d.input,
            metric: d.metric,
            splits: owned(d.splits),
        }
    }

    fn check(&self) -> Result<()> {
        let bad = |field: &str, msg: String| {
            Err(Error::Invalid(format!(
                "task `{}`: `{field}`: {msg}",
                self.name
            )))
        };
        if self.name.trim().is_empty() || self.name.contains(['/', '\\']) {
            return bad("name", "must be a non-empty name without `/`".into());
        }
        let regression = self.output == Output::Regression;
        if regression != (self.metric == MetricKind::PearsonSpearman) {
            return bad(
                "metric",
                format!(
                    "{:?} does not fit a {:?} task (pearson_spearman is the regression metric)",
                    self.metric, self.output
                ),
            );
        }
        if regression && !self.labels.is_empty() {
            return bad("labels", "a regression has no labels".into());
        }
        if !regression && self.labels.len() < 2 {
            return bad(
                "labels",
                "a classification needs at least two labels".into(),
            );
        }
        if let Some(l) = repeated(&self.labels) {
            return bad("labels", format!("`{l}` is repeated"));
        }
        if matches!(self.metric, MetricKind::F1Accuracy | MetricKind::Matthews)
            && self.labels.len() != 2
        {
            return bad(
                "metric",
                format!(
                    "{:?} needs exactly two labels, found {}",
                    self.metric,
                    self.labels.len()
                ),
            );
        }
        if !self.splits.iter().any(|s| s == "train") {
            return bad("splits", "must include `train`".into());
        }
        if let Some(s) = repeated(&self.splits) {
            return bad("splits", format!("`{s}` is repeated"));
        }
        Ok(())
    }

    fn matches(&self, def: &TaskDef) -> bool {
        self.name == def.name
            && self
                .labels
                .iter()
                .map(String::as_str)
                .eq(def.labels.iter().copied())
            && self.output == def.output
            && self.input == def.input
            && self.metric == def.metric
            && self
                .splits
                .iter()
                .map(String::as_str)
                .eq(def.splits.iter().copied())
    }
}

fn repeated(items: &[String]) -> Option<&str> {
    items
        .iter()
        .enumerate()
        .find(|(i, x)| items[..*i].contains(x))
        .map(|(_, x)| x.as_str())
}

/// True for test splits, whose files have an `index` column and no label.
pub fn is_test_split(split: &str) -> bool {
    split.starts_with("test")
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Task {
    type Err = Error;

    /// [`Task::lookup`].
    fn from_str(s: &str) -> Result<Self> {
        Task::lookup(s)
    }
}

impl serde::Serialize for Task {
    /// A task is written as its name.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Task {
    /// A known task's name.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Task::lookup(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinybert_testkit::assert_mentions;

    #[test]
    fn task_names_parse_case_insensitively_with_or_without_dash() {
        assert_eq!("sst2".parse::<Task>().unwrap(), Task::SST2);
        assert_eq!("SST-2".parse::<Task>().unwrap(), Task::SST2);
        assert_eq!("sts_b".parse::<Task>().unwrap(), Task::STSB);
        assert_eq!("mnli".parse::<Task>().unwrap(), Task::MNLI);
        let err = "sst3".parse::<Task>().unwrap_err().to_string();
        assert_mentions(&err, &["unknown task `sst3`", "CoLA"]);
    }

    #[test]
    fn single_sentence_tasks_default_to_64_and_pairs_to_128() {
        assert_eq!(Task::COLA.default_max_seq_len(), 64);
        assert_eq!(Task::SST2.default_max_seq_len(), 64);
        assert_eq!(Task::MRPC.default_max_seq_len(), 128);
        assert_eq!(Task::MNLI.default_max_seq_len(), 128);
    }

    #[test]
    fn mnli_uses_the_reference_label_order() {
        assert_eq!(Task::MNLI.label_id("contradiction"), Some(0));
        assert_eq!(Task::MNLI.label_id("entailment"), Some(1));
        assert_eq!(Task::MNLI.label_id("neutral"), Some(2));
        assert_eq!(Task::STSB.num_labels(), 1);
    }

    #[test]
    fn mnli_rejects_plain_dev_split() {
        assert!(Task::MNLI.check_split("dev").is_err());
        assert!(Task::MNLI.check_split("dev_mismatched").is_ok());
        assert!(Task::RTE.check_split("dev").is_ok());
    }

    #[test]
    fn each_glue_task_carries_its_metric_and_kind() {
        let facts: Vec<(&str, MetricKind, bool, bool)> = Task::GLUE
            .iter()
            .map(|t| (t.name(), t.metric(), t.is_regression(), t.is_pair()))
            .collect();
        use MetricKind::*;
        assert_eq!(
            facts,
            [
                ("CoLA", Matthews, false, false),
                ("SST-2", Accuracy, false, false),
                ("MRPC", F1Accuracy, false, true),
                ("STS-B", PearsonSpearman, true, true),
                ("QQP", F1Accuracy, false, true),
                ("MNLI", Accuracy, false, true),
                ("QNLI", Accuracy, false, true),
                ("RTE", Accuracy, false, true),
                ("WNLI", Accuracy, false, true),
            ]
        );
        assert!(Task::GLUE.iter().all(|t| t.is_glue()));
    }

    #[test]
    fn tasks_serialise_as_their_names() {
        let json = serde_json::to_string(&[Task::STSB, Task::MNLI]).unwrap();
        assert_eq!(json, r#"["STS-B","MNLI"]"#);
        let back: Vec<Task> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, [Task::STSB, Task::MNLI]);
        assert!(serde_json::from_str::<Task>("\"nope\"").is_err());
    }

    fn spec(name: &str) -> TaskSpec {
        TaskSpec {
            name: name.into(),
            labels: vec!["neg".into(), "neu".into(), "pos".into()],
            output: Output::Classification,
            input: Input::Single,
            metric: MetricKind::Accuracy,
            splits: default_splits(),
        }
    }

    #[test]
    fn a_defined_task_is_found_by_name_like_a_built_in_one() {
        let t = Task::define(&spec("Tweet-Sentiment")).unwrap();
        assert_eq!(t.labels(), ["neg", "neu", "pos"]);
        assert_eq!(
            (t.num_labels(), t.is_pair(), t.is_glue()),
            (3, false, false)
        );
        assert_eq!("tweet_sentiment".parse::<Task>().unwrap(), t);
        assert!(Task::known().contains(&t));
        // Defining it again is harmless; defining it differently is an error.
        assert_eq!(Task::define(&spec("Tweet-Sentiment")).unwrap(), t);
        let mut other = spec("Tweet-Sentiment");
        other.labels.pop();
        let err = Task::define(&other).unwrap_err().to_string();
        assert_mentions(&err, &["already defined differently"]);
    }

    #[test]
    fn bad_definitions_name_the_task_and_field() {
        let cases: Vec<(TaskSpec, &str)> = vec![
            (spec("rte"), "taken by the built-in GLUE task RTE"),
            (
                TaskSpec {
                    labels: vec!["a".into()],
                    ..spec("one")
                },
                "`labels`: a classification needs at least two labels",
            ),
            (
                TaskSpec {
                    metric: MetricKind::F1Accuracy,
                    ..spec("f1")
                },
                "`metric`: F1Accuracy needs exactly two labels",
            ),
            (
                TaskSpec {
                    output: Output::Regression,
                    ..spec("reg")
                },
                "`metric`",
            ),
            (
                TaskSpec {
                    output: Output::Regression,
                    metric: MetricKind::PearsonSpearman,
                    ..spec("reg2")
                },
                "`labels`: a regression has no labels",
            ),
            (
                TaskSpec {
                    splits: vec!["dev".into()],
                    ..spec("nosplit")
                },
                "`splits`: must include `train`",
            ),
            (
                TaskSpec {
                    labels: vec!["a".into(), "a".into()],
                    ..spec("dup")
                },
                "`a` is repeated",
            ),
        ];
        for (s, want) in cases {
            let err = Task::define(&s).unwrap_err().to_string();
            assert!(err.contains(want) && err.contains(&s.name), "{err}");
        }
    }

    #[test]
    fn a_spec_deserialises_with_default_splits() {
        let s: TaskSpec = spec_from_json(
            r#"{"name": "Toxic", "labels": ["ok", "toxic"], "output": "classification",
                "input": "single", "metric": "f1_accuracy"}"#,
        );
        assert_eq!(s.splits, ["train", "dev", "test"]);
        let t = Task::define(&s).unwrap();
        assert_eq!(t.metric(), MetricKind::F1Accuracy);
    }

    fn spec_from_json(json: &str) -> TaskSpec {
        serde_json::from_str(json).unwrap()
    }
}
