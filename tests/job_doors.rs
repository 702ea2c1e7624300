//! Every job behind both doors: the command line and a pipeline stage with the same parameters
//! write the same outputs (timings, and the paths the outputs were given, aside). The inputs of
//! each job are the command line's outputs of the jobs before it, for both doors.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tinybert(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tinybert"))
        .current_dir(dir)
        .env("TINYBERT_LOG", "warn")
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "tinybert {args:?} failed:\n{text}");
    text
}

/// One job: its name (the output folder and the stage), its command line (without
/// `--output`), and the same parameters as a stage table (without `kind`, `deps` and `outs`).
struct Job {
    name: &'static str,
    command: &'static [&'static str],
    kind: &'static str,
    table: &'static str,
    deps: &'static [&'static str],
}

const SHAPE_MLM: &str =
    r#"{"layers":2,"hidden":32,"heads":2,"ffn":64,"max_position_embeddings":64}"#;
const SHAPE_STUDENT: &str =
    r#"{"layers":1,"hidden":16,"heads":2,"ffn":32,"max_position_embeddings":64}"#;
const ROWS: &str = r#"[{"label":"teacher","runs":"cli/finetune","teacher":true},{"label":"student","runs":"cli/eval"}]"#;

fn jobs() -> Vec<Job> {
    vec![
        Job {
            name: "demo",
            command: &["data", "demo", "--documents", "30", "--train", "48", "--dev", "16"],
            kind: "demo-data",
            table: "documents = 30\ntrain = 48\ndev = 16",
            deps: &[],
        },
        Job {
            name: "corpus",
            command: &[
                "data", "corpus", "--input", "cli/demo/corpus.txt", "--model", "cli/demo",
                "--max-seq-len", "32", "--sentence-split", "lines",
            ],
            kind: "corpus",
            table: "input = \"cli/demo/corpus.txt\"\nmodel = \"cli/demo\"\nmax_seq_len = 32\nsentence_split = \"lines\"",
            deps: &["cli/demo"],
        },
        Job {
            name: "glue",
            command: &[
                "data", "glue", "--task", "SST-2", "--data-dir", "cli/demo", "--model", "cli/demo",
                "--max-seq-len", "32", "--max-rows", "train=40",
            ],
            kind: "glue",
            table: "task = \"SST-2\"\ndata_dir = \"cli/demo\"\nmodel = \"cli/demo\"\nmax_seq_len = 32\nmax_rows = { train = 40 }",
            deps: &["cli/demo"],
        },
        Job {
            name: "mlm",
            command: &[
                "distill", "mlm-head", "--init", SHAPE_MLM, "--tokenizer", "cli/demo", "--data",
                "cli/corpus", "--train-encoder", "--max-steps", "3", "--batch-size", "8",
                "--dev-instances", "16", "--eval-every", "1", "--patience", "2", "--threads", "1",
            ],
            kind: "mlm-head",
            table: "init = { layers = 2, hidden = 32, heads = 2, ffn = 64, max_position_embeddings = 64 }\ntokenizer = \"cli/demo\"\ndata = \"cli/corpus\"\ntrain_encoder = true\nmax_steps = 3\nbatch_size = 8\ndev_instances = 16\neval_every = 1\npatience = 2\nthreads = 1",
            deps: &["cli/demo", "cli/corpus"],
        },
        Job {
            name: "general",
            command: &[
                "distill", "general", "--teacher", "cli/mlm", "--student", SHAPE_STUDENT, "--data",
                "cli/corpus", "--max-steps", "2", "--batch-size", "8", "--threads", "1",
            ],
            kind: "general-distill",
            table: "teacher = \"cli/mlm\"\nstudent = { layers = 1, hidden = 16, heads = 2, ffn = 32, max_position_embeddings = 64 }\ndata = \"cli/corpus\"\nmax_steps = 2\nbatch_size = 8\nthreads = 1",
            deps: &["cli/mlm", "cli/corpus"],
        },
        Job {
            name: "finetune",
            command: &[
                "finetune", "--model", "cli/mlm", "--data", "cli/glue/train", "--dev",
                "cli/glue/dev", "--label", "teacher", "--max-steps", "3", "--batch-size", "8",
                "--threads", "1",
            ],
            kind: "finetune",
            table: "model = \"cli/mlm\"\ndata = \"cli/glue/train\"\ndev = \"cli/glue/dev\"\nlabel = \"teacher\"\nmax_steps = 3\nbatch_size = 8\nthreads = 1",
            deps: &["cli/mlm", "cli/glue"],
        },
        Job {
            name: "augment",
            command: &[
                "data", "augment", "--teacher", "cli/mlm", "--task", "SST-2", "--data-dir",
                "cli/demo", "--glove", "cli/demo/glove.txt", "--n-aug", "2", "--k", "4",
                "--limit", "12", "--max-seq-len", "32", "--threads", "1",
            ],
            kind: "augment",
            table: "teacher = \"cli/mlm\"\ntask = \"SST-2\"\ndata_dir = \"cli/demo\"\nglove = \"cli/demo/glove.txt\"\nn_aug = 2\nk = 4\nlimit = 12\nmax_seq_len = 32\nthreads = 1",
            deps: &["cli/mlm", "cli/demo"],
        },
        Job {
            name: "td-inter",
            command: &[
                "distill", "task", "--phase", "intermediate", "--teacher", "cli/finetune",
                "--student", "cli/general", "--data", "cli/augment", "--max-steps", "2",
                "--batch-size", "8", "--threads", "1",
            ],
            kind: "task-distill",
            table: "phase = \"intermediate\"\nteacher = \"cli/finetune\"\nstudent = \"cli/general\"\ndata = \"cli/augment\"\nmax_steps = 2\nbatch_size = 8\nthreads = 1",
            deps: &["cli/finetune", "cli/general", "cli/augment"],
        },
        Job {
            name: "td-pred",
            command: &[
                "distill", "task", "--phase", "prediction", "--teacher", "cli/finetune",
                "--student", "cli/td-inter", "--data", "cli/augment", "--dev", "cli/glue/dev",
                "--cache-teacher",
                "--force-weak-teacher", "--max-steps", "2", "--batch-size", "8", "--threads", "1",
            ],
            kind: "task-distill",
            table: "phase = \"prediction\"\nteacher = \"cli/finetune\"\nstudent = \"cli/td-inter\"\ndata = \"cli/augment\"\ndev = \"cli/glue/dev\"\ncache_teacher = true\nforce_weak_teacher = true\nmax_steps = 2\nbatch_size = 8\nthreads = 1",
            deps: &["cli/finetune", "cli/td-inter", "cli/augment", "cli/glue"],
        },
        Job {
            name: "eval",
            command: &[
                "eval", "glue", "--model", "cli/td-pred", "--data", "cli/glue/dev", "--label",
                "student", "--threads", "1",
            ],
            kind: "eval",
            table: "model = \"cli/td-pred\"\ndata = \"cli/glue/dev\"\nlabel = \"student\"\nthreads = 1",
            deps: &["cli/td-pred", "cli/glue"],
        },
        Job {
            name: "predict",
            command: &[
                "predict", "--model", "cli/td-pred", "--input", "cli/demo/SST-2/dev.tsv",
                "--text-column", "sentence", "--format", "jsonl", "--batch-size", "4",
                "--threads", "1",
            ],
            kind: "predict",
            table: "model = \"cli/td-pred\"\ninput = \"cli/demo/SST-2/dev.tsv\"\ntext_column = \"sentence\"\nformat = \"jsonl\"\nbatch_size = 4\nthreads = 1",
            deps: &["cli/td-pred", "cli/demo"],
        },
        Job {
            name: "bench",
            command: &[
                "bench", "inference", "--model", "cli/finetune", "--model", "cli/td-pred",
                "--name", "teacher", "--name", "student", "--batch", "2", "--seq", "16",
                "--warmup", "0", "--iters", "1", "--threads", "1",
            ],
            kind: "bench",
            table: "models = [\"cli/finetune\", \"cli/td-pred\"]\nnames = [\"teacher\", \"student\"]\nbatch = [2]\nseq = 16\nwarmup = 0\niters = 1\nthreads = 1",
            deps: &["cli/finetune", "cli/td-pred"],
        },
        Job {
            name: "report",
            command: &["report", "--rows", ROWS, "--paper", "false", "--charts", "false"],
            kind: "report",
            table: "rows = [\n  { label = \"teacher\", runs = \"cli/finetune\", teacher = true },\n  { label = \"student\", runs = \"cli/eval\" },\n]\npaper = false\ncharts = false",
            deps: &["cli/finetune", "cli/eval"],
        },
    ]
}

/// Keys whose values are measured times, rates or memory.
fn is_measurement(key: &str) -> bool {
    ["second", "_per_s", "latency", "rss", "time", "speedup"]
        .iter()
        .any(|k| key.contains(k))
}

/// A JSON value with measurements removed, and `root` (absolute) and the output folder `door`
/// taken out of strings.
fn normalised(v: Value, root: &str, door: &str) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| !is_measurement(k))
                .map(|(k, v)| (k, normalised(v, root, door)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| normalised(v, root, door)).collect()),
        Value::String(s) => Value::String(text(&s, root, door)),
        other => other,
    }
}

fn text(s: &str, root: &str, door: &str) -> String {
    s.replace(&format!("{root}/"), "").replace(door, "OUT")
}

fn files(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out
}

/// Asserts that the folders `cli/<name>` and `pipe/<name>` under `root` hold the same files
/// with the same contents (JSON compared without measurements; bench tables skipped, they are
/// all measurements).
fn assert_same_outputs(root: &Path, name: &str) {
    let (a, b) = (root.join("cli").join(name), root.join("pipe").join(name));
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa, fb, "{name}: different files");
    let r = root.display().to_string();
    let (cli, pipe) = (format!("cli/{name}"), format!("pipe/{name}"));
    for f in fa {
        let ext = f.extension().and_then(|e| e.to_str()).unwrap_or_default();
        let (x, y) = (
            std::fs::read(a.join(&f)).unwrap(),
            std::fs::read(b.join(&f)).unwrap(),
        );
        match ext {
            "json" | "jsonl" => {
                let parse = |bytes: &[u8], door: &str| -> Vec<Value> {
                    let t = String::from_utf8_lossy(bytes).into_owned();
                    let docs: Vec<&str> = match ext {
                        "jsonl" => t.lines().filter(|l| !l.trim().is_empty()).collect(),
                        _ => vec![&t],
                    };
                    docs.iter()
                        .map(|d| normalised(serde_json::from_str(d).unwrap(), &r, door))
                        .collect()
                };
                assert_eq!(parse(&x, &cli), parse(&y, &pipe), "{name}/{}", f.display());
            }
            "md" if name == "bench" => {}
            "md" | "tsv" | "txt" | "csv" | "svg" => {
                let t = |bytes: &[u8], door: &str| text(&String::from_utf8_lossy(bytes), &r, door);
                assert_eq!(t(&x, &cli), t(&y, &pipe), "{name}/{}", f.display());
            }
            _ => assert!(x == y, "{name}/{}: contents differ", f.display()),
        }
    }
}

#[test]
fn every_job_writes_the_same_outputs_from_the_command_line_and_from_a_pipeline_stage() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let mut pipeline = String::new();
    for job in jobs() {
        // Inputs as the pipeline's stages see them (absolute), since some outputs record them.
        let r = root.display().to_string();
        let mut args: Vec<String> = job
            .command
            .iter()
            .map(|a| a.replace("\"cli/", &format!("\"{r}/cli/")))
            .map(|a| match a.strip_prefix("cli/") {
                Some(rest) => format!("{r}/cli/{rest}"),
                None => a,
            })
            .collect();
        args.extend(["--output".into(), format!("cli/{}", job.name)]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tinybert(&root, &args);
        let deps: Vec<String> = job.deps.iter().map(|d| format!("{d:?}")).collect();
        pipeline.push_str(&format!(
            "[stages.{}]\nkind = \"{}\"\n{}\ndeps = [{}]\nouts = [\"pipe/{}\"]\n\n",
            job.name,
            job.kind,
            job.table,
            deps.join(", "),
            job.name
        ));
    }
    std::fs::write(root.join("p.toml"), &pipeline).unwrap();
    let summary = tinybert(&root, &["run", "p.toml"]);
    let n = jobs().len();
    assert!(
        summary.contains(&format!("{n} stages: {n} ran")),
        "{summary}"
    );
    for job in jobs() {
        assert_same_outputs(&root, job.name);
    }
    // The MLM head's fit measured masked-token accuracy on its 16 held-out instances.
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("cli/mlm/summary.json")).unwrap())
            .unwrap();
    let acc = summary["dev"]["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc), "{summary}");
}

/// The command line's error for `args`, and a stage's for `table` (kind `kind`).
fn both_errors(args: &[&str], kind: &str, table: &str) -> (String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir_all(d.join("data")).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tinybert"))
            .current_dir(d)
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let cli = run(args);
    std::fs::write(
        d.join("p.toml"),
        format!("[stages.s]\nkind = \"{kind}\"\n{table}\ndeps = [\"data\"]\nouts = [\"out\"]\n"),
    )
    .unwrap();
    (cli, run(&["run", "p.toml", "--dry-run"]))
}

#[test]
fn both_doors_reject_the_same_bad_values_with_the_same_reason() {
    let cases: [(&[&str], &str, &str, &str); 3] = [
        (
            &[
                "finetune",
                "--model",
                "data",
                "--data",
                "data",
                "--batch-size",
                "0",
                "--output",
                "o",
            ],
            "finetune",
            "model = \"data\"\ndata = \"data\"\nbatch_size = 0",
            "must be at least 1",
        ),
        (
            &[
                "distill",
                "mlm-head",
                "--model",
                "data",
                "--data",
                "data",
                "--mask-prob",
                "1.5",
                "--output",
                "o",
            ],
            "mlm-head",
            "model = \"data\"\ndata = \"data\"\nmask_prob = 1.5",
            "must be in (0, 1)",
        ),
        (
            &[
                "data",
                "glue",
                "--task",
                "RTE",
                "--data-dir",
                "data",
                "--model",
                "data",
                "--max-rows",
                "tain=3",
                "--output",
                "o",
            ],
            "glue",
            "task = \"RTE\"\ndata_dir = \"data\"\nmodel = \"data\"\nmax_rows = { tain = 3 }",
            "split `tain` is not among the splits",
        ),
    ];
    for (args, kind, table, why) in cases {
        let (cli, stage) = both_errors(args, kind, table);
        assert!(cli.contains(why), "command line: {cli}");
        assert!(
            stage.contains(why) && stage.contains("stage `s`"),
            "stage: {stage}"
        );
    }
}
