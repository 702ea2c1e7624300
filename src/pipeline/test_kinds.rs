//! Hidden stage kinds that exercise the runner: `__test-write`, `__test-fail` and the resumable
//! `__test-steps`. They exist only in test builds (the `test-hooks` feature), where the binary
//! registers them when `TINYBERT_TEST_KINDS=1` (the integration tests set it); unit tests
//! register them directly. They are not for pipeline files.

use super::fsutil::write_atomic;
use super::registry::{KindSpec, Registry, StageKind};
use super::stage::ResolvedStage;
use crate::jobs::Ctx;
use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use serde::Deserialize;
use std::time::Duration;

/// Set to `1` to register the test kinds.
pub const ENV: &str = "TINYBERT_TEST_KINDS";

/// The parameter list of a test kind.
fn params(required: &[&str], optional: &[&str]) -> Vec<(String, bool, String)> {
    let p = |r: bool| move |k: &&str| (k.to_string(), r, String::new());
    required
        .iter()
        .map(p(true))
        .chain(optional.iter().map(p(false)))
        .collect()
}

/// Adds the test kinds to `r`.
pub fn register(r: &mut Registry) {
    r.add(WriteKind).add(FailKind).add(StepsKind);
}

/// The text a test stage writes: its `text`, then each input file's content (a folder: its
/// sorted entry names), so outputs change exactly when the text or an input changes.
fn content(stage: &ResolvedStage, ctx: &Ctx, text: &str) -> Result<String> {
    let mut body = format!("{text}\n");
    for d in &stage.deps {
        let p = ctx.path(d);
        if p.is_dir() {
            let mut names: Vec<String> = std::fs::read_dir(&p)?
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<std::io::Result<_>>()?;
            names.sort();
            body.push_str(&names.join(" "));
            body.push('\n');
        } else {
            body.push_str(
                &std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))?,
            );
        }
    }
    Ok(body)
}

/// `__test-write`: writes `text` and its inputs into every output file, then
/// `device=<--device>` when `with_device` is true; `note` only changes the parameters.
struct WriteKind;

impl StageKind for WriteKind {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "__test-write",
            params: params(&["text"], &["note", "with_device"]),
            data_parallel: false,
            resumable: false,
        }
    }

    fn code(&self) -> String {
        "test".into()
    }

    fn run(&self, stage: &ResolvedStage, ctx: &Ctx) -> Result<()> {
        let mut body = content(stage, ctx, &stage.param::<String>("text")?)?;
        if stage.param_or("with_device", false)? {
            body.push_str(&format!("device={}\n", ctx.device_name));
        }
        for o in &stage.outs {
            std::fs::write(ctx.path(o), &body)?;
        }
        Ok(())
    }
}

/// `__test-fail`: writes a partial output, then fails with `message` (or panics with `panic`).
struct FailKind;

impl StageKind for FailKind {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "__test-fail",
            params: params(&[], &["message", "panic"]),
            data_parallel: false,
            resumable: false,
        }
    }

    fn code(&self) -> String {
        "test".into()
    }

    fn run(&self, stage: &ResolvedStage, ctx: &Ctx) -> Result<()> {
        for o in &stage.outs {
            std::fs::write(ctx.path(o), "partial")?;
        }
        let message: String = stage.param_or("message", "failed on purpose".to_string())?;
        if stage.param_or("panic", false)? {
            panic!("{message}");
        }
        bail!("{message}")
    }
}

/// `__test-steps`: a resumable "trainer". Counts `steps` steps of `step_ms` each, writing
/// `<out>/progress` (its checkpoint) after each, stopping with an error at Ctrl-C; resumes from it; finally writes
/// `<out>/result.txt` = `resumed_from=<step>` and the content of its inputs.
struct StepsKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepsConfig {
    steps: u64,
    #[serde(default)]
    step_ms: u64,
}

impl StageKind for StepsKind {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "__test-steps",
            params: params(&["steps"], &["step_ms"]),
            data_parallel: false,
            resumable: true,
        }
    }

    fn check(&self, stage: &ResolvedStage, _workdir: &std::path::Path) -> Result<()> {
        if stage.config::<StepsConfig>()?.steps == 0 {
            bail!("`steps` must be at least 1");
        }
        Ok(())
    }

    fn code(&self) -> String {
        "test".into()
    }

    fn run(&self, stage: &ResolvedStage, ctx: &Ctx) -> Result<()> {
        let cfg: StepsConfig = stage.config()?;
        let dir = ctx.path(stage.out()?);
        std::fs::create_dir_all(&dir)?;
        let checkpoint = dir.join("progress");
        let start: u64 = match std::fs::read_to_string(&checkpoint) {
            Ok(t) => t.trim().parse().context("corrupt checkpoint")?,
            Err(_) => 0,
        };
        let bar = ctx.progress.add(ProgressBar::new(cfg.steps));
        bar.set_position(start);
        for step in start..cfg.steps {
            if ctx.stop.load(std::sync::atomic::Ordering::SeqCst) {
                bail!("interrupted at step {step}");
            }
            std::thread::sleep(Duration::from_millis(cfg.step_ms));
            write_atomic(&checkpoint, (step + 1).to_string().as_bytes())?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        let body = content(stage, ctx, &format!("resumed_from={start}"))?;
        std::fs::write(dir.join("result.txt"), body)?;
        Ok(())
    }
}
