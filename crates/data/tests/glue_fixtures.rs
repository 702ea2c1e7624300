//! The GLUE layouts we have no real files for (CoLA, STS-B, QQP, MNLI), read from small
//! fixture files written in the exact official formats.

mod common;

use tinybert_data::glue::glue_file_path;
use tinybert_data::{read_glue_file, Label, RawExample, ReadOptions, Task};

fn read(task: Task, split: &str) -> Vec<RawExample> {
    let path = glue_file_path(&common::fixtures(), task, split).unwrap();
    let f = read_glue_file(task, split, &path, ReadOptions::default()).unwrap();
    assert!(f.bad_rows.is_empty());
    f.examples
}

#[test]
fn cola_train_has_no_header_and_uses_columns_1_and_3() {
    let ex = read(Task::COLA, "train");
    assert_eq!(ex.len(), 5, "the first line is data, not a header");
    assert_eq!(ex[0].label, Label::Class(1));
    assert_eq!(ex[2].label, Label::Class(0));
    assert_eq!(ex[2].text_a, "They drank the pub.");
    assert_eq!(ex[0].guid, "0");
    assert_eq!(ex[0].line, 1);
    assert_eq!(ex[3].text_a, "The more you eat, the \"fatter you get.");
    assert!(ex.iter().all(|e| e.text_b.is_none()));
}

#[test]
fn cola_test_has_an_index_sentence_header_and_no_label() {
    let ex = read(Task::COLA, "test");
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[1].guid, "1");
    assert_eq!(ex[1].text_a, "The car honked its way down the road.");
    assert_eq!(ex[1].label, Label::None);
}

#[test]
fn stsb_unbalanced_quotes_are_plain_characters() {
    let ex = read(Task::STSB, "dev");
    assert_eq!(ex.len(), 4, "a quote must not swallow the following rows");
    assert_eq!(ex[1].text_a, "He said \"no way and left.");
    assert_eq!(ex[1].text_b.as_deref(), Some("The \"quote never closes"));
    assert_eq!(ex[1].label, Label::Score(0.6));
    assert_eq!(ex[3].text_a, "Stocks end lower \"");
    assert_eq!(ex[3].label, Label::Score(2.0));
    assert_eq!(ex[2].guid, "2");
}

#[test]
fn stsb_train_and_test_scores() {
    let train = read(Task::STSB, "train");
    let scores: Vec<Label> = train.iter().map(|e| e.label).collect();
    assert_eq!(
        scores,
        vec![Label::Score(5.0), Label::Score(3.8), Label::Score(1.25)]
    );
    let test = read(Task::STSB, "test");
    assert_eq!(test.len(), 2);
    assert!(test.iter().all(|e| e.label == Label::None));
    assert_eq!(test[1].text_a, "\"Unbalanced start");
}

#[test]
fn qqp_reads_questions_and_is_duplicate_with_the_id_as_guid() {
    let ex = read(Task::QQP, "train");
    assert_eq!(ex.len(), 3);
    assert_eq!(ex[1].guid, "402555");
    assert_eq!(ex[1].text_a, "How do I control my horny emotions?");
    assert_eq!(
        ex[1].text_b.as_deref(),
        Some("How do you control your horniness?")
    );
    assert_eq!(ex[1].label, Label::Class(1));
    let test = read(Task::QQP, "test");
    assert_eq!(test.len(), 2);
    assert_eq!(
        test[0].text_a,
        "Why am I mentally very lonely? How can I solve it?"
    );
    assert_eq!(test[0].label, Label::None);
}

#[test]
fn mnli_string_labels_map_to_the_reference_order() {
    let train = read(Task::MNLI, "train");
    let labels: Vec<Label> = train.iter().map(|e| e.label).collect();
    // contradiction 0, entailment 1, neutral 2
    assert_eq!(
        labels,
        vec![
            Label::Class(2),
            Label::Class(1),
            Label::Class(1),
            Label::Class(1),
            Label::Class(0)
        ]
    );
    assert_eq!(
        train[0].text_a,
        "Conceptually cream skimming has two basic dimensions - product and geography."
    );
    assert_eq!(
        train[0].text_b.as_deref(),
        Some("Product and geography are what make cream skimming work. ")
    );
}

#[test]
fn mnli_dev_takes_gold_label_from_the_last_of_16_columns() {
    let dev = read(Task::MNLI, "dev_matched");
    assert_eq!(dev.len(), 3);
    // label1 differs from gold_label on row 2: the gold label wins.
    assert_eq!(dev[2].label, Label::Class(1));
    assert_eq!(dev[1].label, Label::Class(0));
    assert_eq!(read(Task::MNLI, "dev_mismatched").len(), 2);
}

#[test]
fn mnli_test_splits_have_no_label() {
    let m = read(Task::MNLI, "test_matched");
    let mm = read(Task::MNLI, "test_mismatched");
    assert_eq!((m.len(), mm.len()), (1, 2));
    assert!(m.iter().chain(&mm).all(|e| e.label == Label::None));
    assert_eq!(mm[1].text_a, "Meanwhile, the other side \"has it.");
}
