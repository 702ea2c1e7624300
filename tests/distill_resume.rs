//! Exact resume: a general-distillation run killed with SIGKILL and resumed ends with the same
//! weights and metrics as an uninterrupted run with the same seed (tiny teacher and student), and
//! gradient accumulation over micro-batches ends with the weights of one pass per step.

use std::path::Path;
use std::process::Command;
use tinybert_testkit::{assert_close, Tol};

const WORDS: &[&str] = &[
    "the", "cat", "dog", "sat", "on", "a", "mat", "ran", "to", "house", "big", "small", "red",
    "blue", "tree", "under", "over", "river", "boat", "sun", "moon", "is", "was", "and", "it",
];

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tinybert"))
}

fn ok(cmd: &mut Command) {
    let out = cmd.arg("-q").output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed:\n{}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A vocabulary, a small corpus, a tiny teacher, and its pre-training instances.
fn setup(dir: &Path) {
    let mut vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."]
        .iter()
        .map(|s| s.to_string())
        .collect();
    vocab.extend(WORDS.iter().map(|w| w.to_string()));
    std::fs::create_dir_all(dir.join("vocab")).unwrap();
    std::fs::write(dir.join("vocab/vocab.txt"), vocab.join("\n")).unwrap();
    let mut text = String::new();
    for doc in 0..6 {
        for s in 0..8 {
            let sentence: Vec<&str> = (0..5 + (doc + s) % 6)
                .map(|i| WORDS[(doc * 7 + s * 3 + i * 5) % WORDS.len()])
                .collect();
            text.push_str(&format!("{}.\n", sentence.join(" ")));
        }
        text.push('\n');
    }
    std::fs::write(dir.join("corpus.txt"), text).unwrap();
    let cfg = |layers: usize, hidden: usize| {
        format!(
            r#"{{"vocab_size": {}, "hidden_size": {hidden}, "num_hidden_layers": {layers}, "num_attention_heads": 2, "intermediate_size": {}, "max_position_embeddings": 64}}"#,
            vocab.len(),
            hidden * 2
        )
    };
    std::fs::write(dir.join("teacher.json"), cfg(2, 16)).unwrap();
    std::fs::write(dir.join("student.json"), cfg(1, 8)).unwrap();
    ok(bin()
        .args(["model", "init", "--config"])
        .arg(dir.join("teacher.json"))
        .arg("--tokenizer-from")
        .arg(dir.join("vocab"))
        .arg("--output")
        .arg(dir.join("teacher")));
    ok(bin()
        .args(["data", "corpus", "--max-seq-len", "24", "--input"])
        .arg(dir.join("corpus.txt"))
        .arg("--model")
        .arg(dir.join("teacher"))
        .arg("--output")
        .arg(dir.join("corpus")));
}

fn distill(dir: &Path, out: &str) -> Command {
    let mut c = bin();
    c.args(["distill", "general", "--student-config"])
        .arg(dir.join("student.json"));
    c.arg("--teacher")
        .arg(dir.join("teacher"))
        .arg("--data")
        .arg(dir.join("corpus"));
    c.args([
        "--max-steps",
        "8",
        "--batch-size",
        "4",
        "--micro-batch-size",
        "2",
        "--save-every",
        "2",
        "--log-every",
        "1",
        "--learning-rate",
        "1e-3",
    ]);
    c.arg("--output").arg(dir.join(out));
    c
}

fn metrics(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("examples_per_s");
            v
        })
        .collect()
}

#[test]
fn a_run_killed_with_sigkill_and_resumed_matches_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    ok(&mut distill(dir, "straight"));

    let killed = distill(dir, "resumed")
        .env("TINYBERT_TEST_KILL_AFTER_STEP", "5")
        .arg("-q")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        killed.status.signal(),
        Some(9),
        "the run must die of SIGKILL: {:?}",
        killed.status
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("resumed/checkpoint/trainer_state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        state["step"], 4,
        "the last checkpoint before the kill is step 4"
    );
    ok(distill(dir, "resumed")
        .arg("--resume")
        .arg(dir.join("resumed")));

    let a = candle_core::safetensors::load(
        dir.join("straight/model.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let b = candle_core::safetensors::load(
        dir.join("resumed/model.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert_eq!(a.len(), b.len());
    for (name, ta) in &a {
        assert_close(name, &b[name], ta, Tol::abs(1e-6));
    }
    let fa = candle_core::safetensors::load(
        dir.join("straight/fit_dense.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let fb = candle_core::safetensors::load(
        dir.join("resumed/fit_dense.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert_close(
        "fit_dense.weight",
        &fb["fit_dense.weight"],
        &fa["fit_dense.weight"],
        Tol::abs(1e-6),
    );
    assert_eq!(
        metrics(&dir.join("straight")),
        metrics(&dir.join("resumed"))
    );
    assert_eq!(metrics(&dir.join("straight")).len(), 8);
}

#[test]
fn resuming_with_a_different_config_is_refused_naming_the_changed_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    ok(distill(dir, "run").arg("--keep-checkpoint"));
    let out = distill(dir, "run")
        .args(["--resume"])
        .arg(dir.join("run"))
        .args(["--seed", "7"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config.train.seed") && err.contains("checkpoint"),
        "{err}"
    );
}

#[test]
fn micro_batches_end_with_the_weights_of_one_pass_per_step() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    // `distill` splits each step of 4 into passes of 2; the reference makes one pass of 4.
    ok(&mut distill(dir, "passes"));
    let whole = distill(dir, "whole");
    let args: Vec<String> = whole
        .get_args()
        .map(|a| a.to_string_lossy().to_string())
        .collect();
    let mut one_pass = bin();
    let mut skip = false;
    for a in &args {
        if std::mem::take(&mut skip) {
            continue;
        }
        if a == "--micro-batch-size" {
            skip = true;
            continue;
        }
        one_pass.arg(a);
    }
    ok(&mut one_pass);
    let a = candle_core::safetensors::load(
        dir.join("whole/model.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let b = candle_core::safetensors::load(
        dir.join("passes/model.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    for (name, ta) in &a {
        assert_close(name, &b[name], ta, Tol::abs(1e-5));
    }
    assert_eq!(metrics(&dir.join("whole")).len(), 8);
}
